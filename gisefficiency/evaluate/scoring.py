"""Comprehensive evaluation (综合评价): score and grade every unit and year by a preset's ``[scoring]``.

``score = Σ weight × value / benchmark (+ bonus − penalty)`` per group (规上 / 规下 / 租赁), then classes
A/B/C/D by percentile bands within (year, group, industry group) or by score cut-offs, then absolute
overrides. Decisions the documents leave open, made here:

- negative ratios (tax refunds) score 0 with ``negative = "clip"`` (default); the metric itself stays.
- ``benchmark = "mean"`` is the plain mean of the indicator over the group's graded units that year;
  ``"aggregate"`` is Σ numerator / Σ denominator (the 'district average' of statistics offices);
  ``"prev_mean"`` is the previous year's mean; each times ``benchmark_factor``. A benchmark that is
  missing or not positive leaves the group's units of that year not graded, with the reason.
- percentile ranks use the best rank among ties (ties share the better class). The shares are turned
  into whole units: each class's cumulative count ``n × share`` is rounded half up, and a unit of rank
  ``r`` takes the first class whose count reaches ``r``. With 20 units and A = 20 % the first 4 are A
  and D = 5 % is the last one; a group of one or two has no D (5 % of one or two units rounds to none),
  where comparing ``rank / n`` with the shares would make the last unit of every group D.
- a unit whose 亩均税收 is at or above its group's benchmark 亩均税收 that year (the preset's benchmark
  rule for ``tax_per_mu``; the group's mean where the preset fixes none) is never D by ranking or
  cut-off: it becomes C, and its reason says so. The preset's own ``overrides`` run first and win.
- ``not_graded`` rules run before scoring (their units are out of the ranking); ``overrides`` run
  after the classes, first matching rule wins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.constants import PER_MU_DECIMALS
from gisefficiency.core.errors import InputError, Problem
from gisefficiency.core.text import (
    Text,
    assemble,
    cat,
    const,
    empty,
    fmt,
    fmt1,
    glue,
    ints,
    join,
    labels,
    pair,
    take_text,
    to_series,
    vocab,
    wanted,
)
from gisefficiency.evaluate.conditions import PanelContext, evaluate_condition, pick2
from gisefficiency.evaluate.contexts import years_of
from gisefficiency.evaluate.policy import Policy, Scoring, ScoringGroup
from gisefficiency.evaluate.ranking import (
    at_years,
    by_year,
    combos,
    ranks,
    tail_pairs,
    tails_text,
    tenant_counts,
    tenants_per_row,
)
from gisefficiency.evaluate.rules import Flag, industry_digits
from gisefficiency.metrics.indicators import METRICS

__all__ = ["GradeText", "grade_units", "grades_and_reasons", "tenant_counts"]

_ORDER = ("A", "B", "C", "D")
#: Position of a one-letter class in _ORDER by its code point ('' and A: 0), as np.searchsorted gives it.
_CLASS_CODE = np.zeros(ord("D") + 1, dtype=np.int64)
_CLASS_CODE[[ord(x) for x in _ORDER]] = np.arange(len(_ORDER))
_MAX_VOCAB = 1 << 16  # largest table of merged text pieces worth writing out
#: Remarks after the score: texts (zh, en), or while no row has an adjustment, each row's form
#: (a code) and the bracketed forms (zh, en), so they can merge with the words after them.
Remarks = tuple[Text, Text] | tuple[np.ndarray, list[str], list[str]]
#: Rows -> the score text and the remarks put before a class reason.
Prefix = Callable[[np.ndarray | None], tuple[pa.Array, Remarks]]
#: Panel row positions -> the grade reasons of those rows (zh, en).
GradeText = Callable[[np.ndarray], tuple[Text, Text]]
#: A text piece and the rows where it is shown.
Piece = tuple[pa.Array, np.ndarray]
#: Rows, prefix, shown rows -> the pieces of one language (0: zh, 1: en) on demand.
ClassText = Callable[[np.ndarray | None, Prefix, np.ndarray], Callable[[int], list[Piece]]]


def _rows(a: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    """``a`` at rows ``idx``; None is every row (the array itself, no copy)."""
    return a if idx is None else a[idx]


def _array(t: Text, n: int) -> pa.Array:
    return const(n, t) if isinstance(t, str) else t


def _labelled(rule: Any, why: tuple[Text, Text], tail_zh: str, tail_en: str) -> tuple[Text, Text]:
    """A rule's label before its reason (a yes/no flag's label alone says it all), then the tail."""
    out = []
    for label, sep, reason, tail in ((rule.zh, "：", why[0], tail_zh), (rule.en, ": ", why[1], tail_en)):
        if not label:
            out.append(cat(reason, tail))
        elif isinstance(rule.when, Flag):
            out.append(label + tail)
        else:
            out.append(cat(label + sep, reason, tail))
    return out[0], out[1]


def _benchmark(panel: pd.DataFrame, ind: str, g: ScoringGroup, x: np.ndarray, rows: np.ndarray,
               years: np.ndarray) -> np.ndarray:
    if g.benchmark == "fixed":
        return np.full(len(x), g.benchmarks[ind])
    if g.benchmark == "aggregate":
        m = METRICS[ind]
        num = pd.to_numeric(panel.get(m.numerator), errors="coerce")
        den = pd.to_numeric(panel.get(m.denominator), errors="coerce")
        if num is None or den is None:
            return np.full(len(x), np.nan)
        num, den = np.asarray(num, float), np.asarray(den, float)
        both = rows & ~np.isnan(num) & (den > 0)
        stat = by_year(num, years, both, "sum") / by_year(den, years, both, "sum")
        keys = years
    else:
        stat = by_year(x, years, rows, "mean")
        keys = years - 1 if g.benchmark == "prev_mean" else years
    b = at_years(stat, keys) * g.benchmark_factor
    return np.where(b > 0, b, np.nan)


def _codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a text column and its distinct values; missing text is ''."""
    codes, uniques = pd.factorize(s.astype("string"))
    names = [str(u) for u in uniques] + [""]
    return np.where(codes < 0, len(names) - 1, codes), names


def _industry_groups(panel: pd.DataFrame, sc: Scoring) -> tuple[np.ndarray, list[str]]:
    """Industry group of each row as a code into the returned names (``'other'`` last; ``['']`` if none)."""
    if not sc.industry_groups:
        return np.zeros(len(panel), dtype=np.int64), [""]
    names = [*sc.industry_groups, "other"]
    if "industry" not in panel:
        return np.full(len(panel), len(names) - 1, dtype=np.int64), names
    codes, values = _codes(industry_digits(panel["industry"]))  # prefixes tested on the few distinct codes
    vals = pd.Series(values, dtype="string")
    group_of = np.full(len(values), len(names) - 1, dtype=np.int64)
    done = np.zeros(len(values), bool)
    for j, prefixes in enumerate(sc.industry_groups.values()):
        hit = vals.str.startswith(tuple(prefixes)).to_numpy(bool) & ~done
        group_of[hit] = j
        done |= hit
    return group_of[codes], names


def _group_keys(panel: pd.DataFrame, sc: Scoring) -> np.ndarray:
    """Scoring group of each row as a position in ``sc.groups`` (-1: none)."""
    gids = list(sc.groups)
    key = np.full(len(panel), -1, dtype=np.int64)
    if "scale" in panel:
        # the group ids looked up straight in the text (Arrow kernel): no factorizing of every row
        at = pc.index_in(take_text(panel["scale"], None), value_set=pa.array(gids, pa.string()))
        key = pc.fill_null(at, -1).to_numpy().astype(np.int64)
    if "tenant" in sc.groups and "group" in panel:
        tenant = panel["group"].astype("string").eq("tenant").fillna(False).to_numpy(bool)
        key = np.where(tenant, gids.index("tenant"), key)
    return key


def grade_units(panel: pd.DataFrame, policy: Policy, *, links: Any = None) -> pd.DataFrame:
    """Score and grade every ``(eval_id, year)`` of ``panel`` by ``policy.scoring``: the grades of
    :func:`grades_and_reasons` (same parameters), without its reason writer.

    Returns
    -------
    pandas.DataFrame
        Index as ``panel``: ``score`` (NaN if not graded), ``grade`` (A/B/C/D/N), ``missing_data_zh``,
        ``missing_data_en``.
    """
    return grades_and_reasons(panel, policy, links=links)[0]


def grades_and_reasons(panel: pd.DataFrame, policy: Policy, *, links: Any = None
                       ) -> tuple[pd.DataFrame, GradeText]:
    """Score and grade every ``(eval_id, year)`` of ``panel``; the reasons are written later, for the rows asked.

    The grades keep what decided each class (rule masks, scores, ranks, the codes of the remarks); the
    returned producer writes the reasons of any rows from them, so a run writes the text only of the
    rows it outputs, never of every unit-year.

    Parameters
    ----------
    panel
        ``metrics.unit_metrics`` output.
    policy
        A loaded preset.
    links
        ``link.Links``: needed when the preset has a ``"tenants"`` adjustment (leasing penalties).

    Returns
    -------
    pandas.DataFrame
        As :func:`grade_units`.
    GradeText
        Panel row positions -> each row's grade reason in Chinese and English, e.g.
        "得分87.5；规上组第3/20名（前15%），A类".

    Raises
    ------
    InputError
        The preset needs ``links`` and none were given.
    """
    n = len(panel)
    grade = np.full(n, "", dtype="<U1")
    score = np.full(n, np.nan)
    sc = policy.scoring
    if sc is None:
        frame = pd.DataFrame({"score": score, "grade": "N", "missing_data_zh": "", "missing_data_en": ""},
                             index=panel.index)
        words = (f"{policy.name}不评分，不参评", f"{policy.name} does not grade: not graded")
        return frame, lambda rows: words
    ctx = PanelContext(panel)
    years = years_of(panel.index)
    key = _group_keys(panel, sc)
    # which producer explains each row (-1: none yet); the texts are written only when asked for
    explained_by = np.full(n, -1, dtype=np.int64)
    producers: list[GradeText] = []

    def settle(mask: np.ndarray, g: str, texts: GradeText) -> None:
        """Give ``mask`` rows grade ``g``; ``texts`` writes their reasons on demand."""
        idx = np.flatnonzero(mask)
        grade[idx] = g
        if len(idx):
            explained_by[idx] = len(producers)
            producers.append(texts)

    settle(key < 0, "N", lambda idx: ("规模未知，不参评", "scale unknown: not graded"))
    for rule in sc.not_graded:
        o = evaluate_condition(rule.when, ctx)
        settle(o.mask & (grade == ""), "N", lambda idx, o=o, rule=rule: _labelled(rule, o.why(idx), "，不参评",
                                                                                   ": not graded"))

    notes: list[tuple[np.ndarray, str, str]] = []   # (rows, zh, en) remarks on missing data
    lacks: list[tuple[np.ndarray, str, str]] = []   # (rows, zh, en) indicators scored without the unit's data
    no_bench: list[tuple[np.ndarray, str, str]] = []
    for j_group, g in enumerate(sc.groups.values()):
        rows = (key == j_group) & (grade == "")
        total = np.zeros(n)
        scored = np.zeros(n, bool)
        for ind, w in g.weights.items():
            m = METRICS[ind]
            x = pd.to_numeric(panel[ind], errors="coerce").to_numpy(float) if ind in panel else np.full(n, np.nan)
            b = _benchmark(panel, ind, g, x, rows, years)
            xs = np.clip(x, 0, None) if sc.negative == "clip" else x
            with np.errstate(invalid="ignore", divide="ignore"):
                item = w * xs / b
            if g.cap is not None:
                item = np.minimum(item, g.cap * w)
            # No benchmark (no unit of the group has the indicator that year, or its mean is not
            # positive): the item scores 0 for the whole group-year, so it does not change the ranking.
            no_b = rows & np.isnan(b)
            scored |= rows & ~no_b
            item = np.where(no_b, 0.0, item)
            no_bench.append((no_b, m.zh, m.en))
            mode = g.missing_by_indicator.get(ind, g.missing)
            lack = rows & np.isnan(x) & ~no_b & (grade == "")
            if mode == "zero":
                item = np.where(lack, 0.0, item)
                notes.append((lack, f"缺{m.zh}数据按0分计", f"no {m.en} data: 0 points"))
                lacks.append((lack, m.zh, m.en))
            elif mode == "group_mean":
                have = rows & ~np.isnan(item)
                avg = at_years(by_year(item, years, have, "mean"), years)
                item = np.where(lack, avg, item)
                notes.append((lack, f"缺{m.zh}数据按组平均得分计", f"no {m.en} data: group average item score"))
                lacks.append((lack, m.zh, m.en))
            else:
                settle(lack, "N", lambda idx, m=m: (cat("缺少", ints(years[idx]), f"年{m.zh}数据，不参评"),
                                                      cat(f"no {m.en} data for ", ints(years[idx]), ": not graded")))
            total += np.nan_to_num(item)
            del x, b, xs, item  # a million-row float each: let go before the next indicator's
        settle(rows & ~scored & (grade == ""), "N", lambda idx, g=g: (
            cat(ints(years[idx]), f"年{g.zh}组各项指标均无基准值（无数据或均值不为正），不参评"),
            cat(f"no benchmark for any indicator of {g.en} in ", ints(years[idx]), ": not graded")))
        graded = rows & (grade == "")
        score[graded] = total[graded]
        del total

    adjust: list[tuple[np.ndarray, Callable[[np.ndarray], tuple[Text, Text]]]] = []
    tenants: np.ndarray | None = None
    for a in sc.adjustments:
        in_groups = np.isin(key, [j for j, gid in enumerate(sc.groups) if gid in a.groups]) & (grade == "")
        if a.type == "tenants":
            if links is None:
                raise InputError(f"preset {policy.name} has a leasing adjustment ({a.zh}) and needs the links",
                                 [Problem("links missing", fix="call evaluate(panel, policy, links=links)",
                                          message_zh="缺少关联结果",
                                          fix_zh="请调用 evaluate(panel, policy, links=links)")],
                                 zh=f"预设 {policy.name} 含租赁调整（{a.zh}），需要企业与地块的关联结果")
            if tenants is None:  # once for all leasing adjustments
                tenants = tenants_per_row(links, panel.index) if isinstance(panel.index, pd.MultiIndex) else \
                    tenant_counts(links).reindex(panel.index.get_level_values(0)).fillna(0).to_numpy(float)
            cnt = tenants
            pts = np.where(cnt >= 1, a.first + a.additional * (cnt - 1), 0.0)
            hit = in_groups & (pts != 0)
            adjust.append((hit, lambda idx, a=a, cnt=cnt, pts=pts: (
                cat(f"{a.zh}（出租给", fmt(cnt[idx]), "家企业）", fmt(pts[idx]), "分"),
                cat(f"{a.en} (", fmt(cnt[idx]), " tenants) ", fmt(pts[idx]), " points"))))
        else:
            assert a.when is not None
            o = evaluate_condition(a.when, ctx)
            hit = in_groups & o.mask
            pts = np.full(n, a.points)
            adjust.append((hit, lambda idx, a=a, o=o: _detail(a, o.why(idx))))
        score = np.where(hit, score + pts, score)

    graded = grade == ""
    class_text = _classes(panel, sc, key, graded, score, years, grade)

    def prefix(idx: np.ndarray | None) -> tuple[pa.Array, Remarks]:
        """The score and its remarks in brackets, after '得分' and before the class text (None: all rows)."""
        # missing scores stay null: they sit on rows whose score is not shown (see ``text``)
        return fmt(_rows(score, idx), missing=None), _remarks(idx, years, no_bench, notes, adjust)

    def base(idx: np.ndarray) -> tuple[Text, Text]:
        parts = class_text(idx, prefix, np.ones(len(idx), bool))
        return pair(lambda: glue(const(len(idx), "得分"), *parts(0)), lambda: glue(const(len(idx), "score "), *parts(1)))

    for rule in sc.overrides:
        o = evaluate_condition(rule.when, ctx)
        hit = o.mask & graded
        graded = graded & ~hit
        settle(hit, rule.grade, lambda idx, o=o, rule=rule: _override(base(idx), rule, o.why(idx)))
    # A unit whose 亩均税收 is at or above its group's benchmark is never D: a small or strong group's
    # last rank is not low efficiency. The preset's own overrides (above) win over this guard.
    tax = pd.to_numeric(panel["tax_per_mu"], errors="coerce").to_numpy(float) if "tax_per_mu" in panel \
        else np.full(n, np.nan)
    bench = np.full(n, np.nan)
    for j_group, g in enumerate(sc.groups.values()):
        rows = graded & (key == j_group)
        if rows.any():
            fixed = g.benchmark == "fixed" and "tax_per_mu" not in g.benchmarks
            gb = dataclasses.replace(g, benchmark="mean") if fixed else g
            bench = np.where(rows, _benchmark(panel, "tax_per_mu", gb, tax, rows, years), bench)
    with np.errstate(invalid="ignore"):
        strong = graded & (grade == "D") & (np.round(tax, PER_MU_DECIMALS) >= np.round(bench, PER_MU_DECIMALS))
    graded = graded & ~strong
    settle(strong, "C", lambda idx: _not_d(base(idx), tax[idx], bench[idx]))
    # the class rows' reasons: the score, its remarks and the class, from the codes kept by ``_classes``
    explained_by[graded] = len(producers)
    producers.append(base)

    def reasons(rows: np.ndarray) -> tuple[Text, Text]:
        """The grade reasons of panel rows ``rows``, each written by the step that settled its class."""
        return pick2(rows, explained_by[rows], producers)

    missing_zh, missing_en = _missing_data(lacks, grade, panel.index)
    frame = pd.DataFrame({"score": score, "grade": to_series(labels(grade, ("A", "B", "C", "D", "N")), panel.index),
                          "missing_data_zh": missing_zh, "missing_data_en": missing_en}, index=panel.index)
    return frame, reasons


def _missing_data(lacks: list[tuple[np.ndarray, str, str]], grade: np.ndarray, index: pd.Index
                  ) -> tuple[pd.Series, pd.Series]:
    """The indicators a class was scored without (the unit had no data), per row: "" where none or not graded.

    A verdict that rests on a class (e.g. 连续两年D类) names them, so a closure is never driven silently
    by indicators the data lacks. Each row's set of lacking indicators is one code of a few bits.
    """
    n = len(grade)
    names: dict[tuple[str, str], int] = {}
    code = np.zeros(n, dtype=np.int64)
    for mask, zh, en in lacks:
        bit = names.setdefault((zh, en), len(names))
        code |= np.where(mask & np.isin(grade, ["A", "B", "C", "D"]), 1 << bit, 0)
    pairs = list(names)
    used, at = np.unique(code, return_inverse=True)
    zh = ["、".join(p[0] for j, p in enumerate(pairs) if u >> j & 1) for u in used]
    en = [", ".join(p[1] for j, p in enumerate(pairs) if u >> j & 1) for u in used]
    return to_series(vocab(at, zh, large=True), index), to_series(vocab(at, en, large=True), index)


def _remarks(idx: np.ndarray | None, years: np.ndarray, no_bench: list[tuple[np.ndarray, str, str]],
             notes: list[tuple[np.ndarray, str, str]],
             adjust: list[tuple[np.ndarray, Callable[[np.ndarray], tuple[Text, Text]]]]) -> Remarks:
    """'（...）' after the score: indicators without a benchmark, missing-data notes, bonuses and penalties.

    Benchmark and data remarks take a handful of forms: each form is written once and taken per row;
    only rows with an adjustment have their remarks joined row by row.
    """
    k = len(years) if idx is None else len(idx)
    y = _rows(years, idx)
    nob = [_rows(m, idx) for m, _, _ in no_bench]
    has_nob = np.logical_or.reduce(nob) if nob else np.zeros(k, bool)
    noted = [_rows(m, idx) for m, _, _ in notes]
    bits = [*nob, *noted]
    if has_nob.any():  # the no-benchmark remark names the year
        bits += [has_nob & (y == v) for v in np.unique(y[has_nob])]
    code, first = combos(bits, k)
    forms_zh, forms_en = [], []
    for r in first:
        names = [(zh, en) for (m, zh, en), b in zip(no_bench, nob, strict=True) if b[r]]
        zh_parts = [f"{y[r]}年无{'、'.join(z for z, _ in names)}基准值，不计分"] if names else []
        en_parts = [f"no benchmark for {', '.join(e for _, e in names)} in {y[r]}: not scored"] if names else []
        zh_parts += [zh for (_, zh, _), b in zip(notes, noted, strict=True) if b[r]]
        en_parts += [en for (_, _, en), b in zip(notes, noted, strict=True) if b[r]]
        forms_zh.append("，".join(p for p in zh_parts if p))
        forms_en.append("; ".join(p for p in en_parts if p))
    hits = [_rows(h, idx) for h, _ in adjust]
    adj = np.logical_or.reduce(hits) if hits else np.zeros(k, bool)
    sub = np.flatnonzero(adj)
    if not len(sub):  # forms only: the caller takes them with the words after them
        return (code, [f"（{f}）" if f else "" for f in forms_zh], [f" ({f})" if f else "" for f in forms_en])
    rows = sub if idx is None else idx[sub]
    details = [pick_rows(rows, h[rows], detail) for h, detail in adjust if h[rows].any()]
    out: list[Text] = []
    for lang, (forms, left, right, sep) in enumerate(((forms_zh, "（", "）", "，"), (forms_en, " (", ")", "; "))):
        if not wanted()[lang]:  # a language not being written
            out.append("")
            continue
        shown = vocab(code, [f"{left}{f}{right}" if f else "" for f in forms])
        parts: list[Text] = [vocab(code[sub], forms), *(d[lang] for d in details)]
        joined = _bracket(join(parts, sep, n=len(sub)), left, right, len(sub))
        rest = np.flatnonzero(~adj)
        out.append(assemble(k, [(sub, joined), (rest, shown.take(pa.array(rest)))]))
    return out[0], out[1]


def _bracket(t: Text, left: str, right: str, n: int) -> Text:
    """``t`` in brackets where it is not empty; only those rows are concatenated."""
    has = ~empty(t, n)
    if not has.any():
        return ""
    if has.all():
        return cat(left, t, right)
    rows = np.flatnonzero(has)
    assert not isinstance(t, str)
    return assemble(n, [(rows, cat(left, t.take(pa.array(rows)), right))])


def pick_rows(idx: np.ndarray, sub: np.ndarray, producer: Callable[[np.ndarray], tuple[Text, Text]]
              ) -> tuple[Text, Text]:
    """Texts of ``producer`` for the ``sub`` rows of ``idx``, empty elsewhere."""
    choice = np.where(sub, 0, -1)
    return pick2(idx, choice, [producer])


def _detail(a: Any, why: tuple[Text, Text]) -> tuple[Text, Text]:
    return (cat(f"{a.zh}（", why[0], f"）{fmt1(a.points)}分"), cat(f"{a.en} (", why[1], f") {fmt1(a.points)} points"))


def _not_d(base: tuple[Text, Text], tax: np.ndarray, bench: np.ndarray) -> tuple[Text, Text]:
    """The class text of a D lifted to C because its 亩均税收 reaches the group's benchmark."""
    return pair(lambda: cat(base[0], "；亩均税收", fmt(tax), "万元/亩不低于组基准", fmt(bench), "万元/亩，不评D类，定为C类"),
                lambda: cat(base[1], "; tax per mu ", fmt(tax), " is not below the group benchmark ", fmt(bench),
                            ": not class D, class C"))


def _override(base: tuple[Text, Text], rule: Any, why: tuple[Text, Text]) -> tuple[Text, Text]:
    zh, en = _labelled(rule, why, f"，定为{rule.grade}类", f": class {rule.grade}")
    return pair(lambda: cat(base[0], "；", zh), lambda: cat(base[1], "; ", en))


def _classes(panel: pd.DataFrame, sc: Scoring, key: np.ndarray, graded: np.ndarray, score: np.ndarray,
             years: np.ndarray, grade: np.ndarray) -> ClassText:
    """Assign A-D to graded rows in place; return the producer of the class reasons' pieces (see ``text``)."""
    n = len(score)
    cls = np.full(n, "", dtype="<U1")
    rank, size = np.zeros(n), np.ones(n)
    method = np.full(n, -1)  # index of the group in sc.groups
    ig, ig_names = _industry_groups(panel, sc)
    groups = list(sc.groups.values())
    # every (group, year, industry group) ranking has a number; its text pieces are written once
    ranking = np.full(n, -1, dtype=np.int64)
    words_zh: list[tuple[str, str]] = []
    words_en: list[str] = []
    y0 = int(years.min()) if n else 0
    for j, g in enumerate(groups):
        rows = graded & (key == j)
        if not rows.any():
            continue
        method[rows] = j
        if g.classes.method == "cutoff":
            cuts = g.classes.cutoffs
            cls[rows] = np.select([score >= cuts["A"], score >= cuts["B"], score >= cuts["C"]], ["A", "B", "C"],
                                  "D")[rows]
            continue
        r = np.flatnonzero(rows)
        within = (years[r] - y0) * len(ig_names) + ig[r]
        if np.isfinite(score[r]).all():
            rank[r], size[r], number = ranks(score[r], within)
        else:  # pandas keeps missing scores unranked
            frame = pd.DataFrame({"s": score[r], "k": within})
            by = frame.groupby("k")["s"]
            rank[r] = by.rank(method="min", ascending=False).to_numpy(float)
            size[r] = by.transform("size").to_numpy(float)
            number = by.ngroup().to_numpy(np.int64)
        ranking[r] = number + len(words_en)
        starts = np.zeros(int(number.max()) + 1, dtype=np.int64)
        starts[number] = r  # a row of each ranking: its industry group and size
        for row in starts:
            name = ig_names[ig[row]]
            lz, le = sc.industry_labels.get(name, ("", "")) if sc.industry_groups else ("", "")
            gz, ge = (f"{g.zh}（{lz}）", f"{g.en} ({le})") if sc.industry_groups else (g.zh, g.en)
            words_zh.append((f"；{gz}组第", f"/{fmt1(size[row])}名（前"))
            words_en.append(f" of {fmt1(size[row])} in {ge} (top ")
        # Shares become whole units: each class's cumulative count is rounded half up, so a group of
        # one or two is B (a share of 5 % of one unit is no unit) and 20 units give 4 A and 1 D.
        cum = np.cumsum([g.classes.shares[c] for c in _ORDER])
        last = np.floor(size[:, None] * cum[None, :3] + 0.5 + 1e-9)
        cls[rows] = np.select([rank <= last[:, 0], rank <= last[:, 1], rank <= last[:, 2]], ["A", "B", "C"],
                              "D")[rows]
    grade[graded] = cls[graded]
    # percent ranks have one decimal in [0, 100]: 1001 texts, each with the 4 classes after it
    pct_txt = fmt(np.arange(1001) / 10).to_pylist()
    pct_zh = [f"{p}%），{c}类" for p in pct_txt for c in _ORDER]
    pct_en = [f"{p}%): class {c}" for p in pct_txt for c in _ORDER]
    # the text after the remarks: a ranking's words (percentile) or the class with its line (cut-off)
    cut_zh: list[str] = []
    cut_en: list[str] = []
    cut_at = np.zeros(len(groups) + 1, dtype=np.int64)  # where each cut-off group's 4 texts start
    for j, g in enumerate(groups):
        if g.classes.method == "cutoff":
            cuts = g.classes.cutoffs
            cut_at[j] = len(words_en) + len(cut_zh)
            cut_zh += [f"；{x}类（{x}类线{fmt1(cuts[x])}分）" for x in "ABC"] + [f"；D类（低于C类线{fmt1(cuts['C'])}分）"]
            cut_en += [f"; class {x} ({x} line {fmt1(cuts[x])})" for x in "ABC"] \
                + [f"; class D (below the C line {fmt1(cuts['C'])})"]
    head_zh = [w[0] for w in words_zh] + cut_zh + [""]
    head_en = ["; rank "] * len(words_en) + cut_en + [""]
    is_cut = np.array([g.classes.method == "cutoff" for g in groups] + [False])[method]  # method -1: last
    ranked = (method >= 0) & ~is_cut

    def text(idx: np.ndarray | None, prefix: Prefix, valid: np.ndarray) -> Callable[[int], list[Piece]]:
        """Pieces after '得分' / 'score ' for rows ``idx`` (None: all), each shown where ``valid`` (and where
        it applies).

        The codes and numbers are worked out once; each language's pieces are made when asked for.
        """
        m = n if idx is None else len(idx)
        c = _CLASS_CODE[np.minimum(_rows(cls, idx).view(np.uint32), len(_CLASS_CODE) - 1)]  # '' and A-D: 0, 0-3
        pct, cut = _rows(ranked, idx) & valid, _rows(is_cut, idx) & valid
        ranking_i = _rows(ranking, idx)
        head = np.select([pct, cut], [ranking_i, cut_at[_rows(method, idx)] + c], len(head_en) - 1)
        at = np.where(pct, ranking_i, len(words_en))
        rank_i = _rows(rank, idx)
        k = np.rint(np.round(rank_i / _rows(size, idx) * 100, 1) * 10).astype(np.int64)
        both = np.where(pct, k * 4 + c, 0)
        del c, k, ranking_i
        r_s = fmt(rank_i)
        del rank_i
        sc_txt, remarks = prefix(idx)
        if sc_txt.null_count and (valid & np.isnan(_rows(score, idx))).any():
            sc_txt = pc.fill_null(sc_txt, "—")  # a shown score is missing: written as fmt writes it
        forms = len(remarks) == 3
        # the remarks and the head words both looked up: one lookup of the pairs
        pair = remarks[0] * len(head_en) + head if forms and len(remarks[1]) * len(head_en) <= _MAX_VOCAB \
            else None
        words = ([w[1] for w in words_zh] + [""], [*words_en, ""])
        tails = tail_pairs(at, both, len(words_en) + 1, len(pct_zh))
        heads, pcts = (head_zh, head_en), (pct_zh, pct_en)

        def pieces(lang: int) -> list[Piece]:
            if pair is not None:
                mid = [(vocab(pair, [f + h for f in remarks[1 + lang] for h in heads[lang]]), valid)]
            else:
                e = vocab(remarks[0], remarks[1 + lang]) if forms else remarks[lang]
                mid = [(_array(e, m), valid), (vocab(head, heads[lang]), valid)]
            return [(sc_txt, valid), *mid, (r_s, pct),
                    *((t, pct) for t in tails_text(at, both, words[lang], pcts[lang], tails))]

        return pieces

    return text

"""Comprehensive evaluation (综合评价): score and grade every unit and year by a preset's ``[scoring]``.

``score = Σ weight × value / benchmark (+ bonus − penalty)`` per group (规上 / 规下 / 租赁), then classes
A/B/C/D by percentile bands within (year, group, industry group) or by score cut-offs, then absolute
overrides. Decisions the documents leave open, made here:

- negative ratios (tax refunds) score 0 with ``negative = "clip"`` (default); the metric itself stays.
- ``benchmark = "mean"`` is the plain mean of the indicator over the group's graded units that year;
  ``"aggregate"`` is Σ numerator / Σ denominator (the 'district average' of statistics offices);
  ``"prev_mean"`` is the previous year's mean; each times ``benchmark_factor``. A benchmark that is
  missing or not positive leaves the group's units of that year not graded, with the reason.
- percentile ranks use the best rank among ties (ties share the better class); rank / n is compared
  with the cumulative shares, so with 20 units and A = 20 % the first 4 are A.
- ``not_graded`` rules run before scoring (their units are out of the ranking); ``overrides`` run
  after the classes, first matching rule wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency._text import (
    Text,
    assemble,
    cat,
    empty,
    fmt,
    fmt1,
    ints,
    join,
    labels,
    select,
    to_series,
    where,
)
from gisefficiency.conditions import PanelContext, evaluate_condition, pick2
from gisefficiency.errors import InputError, Problem
from gisefficiency.metrics import METRICS
from gisefficiency.policy import Policy, Scoring, ScoringGroup
from gisefficiency.rules import Flag

__all__ = ["grade_units", "tenant_counts"]

_ORDER = ("A", "B", "C", "D")
#: Rows -> the text pieces (zh, en) put before a class reason.
Prefix = Callable[[np.ndarray], tuple[list[Text], list[Text]]]


def tenant_counts(links: Any) -> pd.Series:
    """Number of distinct tenants renting from each evaluated unit (index ``eval_id``).

    A leased share counts for the parcel's main owner (largest own share, then smallest USCC), the same
    owner the link stage merges tenants into; a tenant on two parcels of one owner counts once.
    """
    shares = links.shares
    own = shares["kind"].eq("own").to_numpy(bool)
    owners = (shares[own].sort_values(["parcel_id", "land_mu", "uscc"], ascending=[True, False, True])
              .drop_duplicates("parcel_id").set_index("parcel_id")["uscc"].astype("string"))
    leased = shares[~own]
    pairs = pd.DataFrame({"owner": leased["parcel_id"].map(owners).to_numpy(),
                          "tenant": leased["uscc"].astype("string").to_numpy()}).dropna()
    pairs = pairs[pairs["owner"] != pairs["tenant"]].drop_duplicates()
    fl = links.firm_links
    unit = pairs["owner"].map(fl["eval_id"].astype("string")).fillna(pairs["owner"]) if "eval_id" in fl \
        else pairs["owner"]
    return pd.Series(1, index=pairs.index).groupby(unit.to_numpy()).sum().astype("int64")


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


def _by_year(values: np.ndarray, years: np.ndarray, rows: np.ndarray, how: str) -> pd.Series:
    """Mean or sum (NaN if none) of ``values[rows]`` per year; index = every year present."""
    yu, inv = np.unique(years, return_inverse=True)
    ok = rows & ~np.isnan(values)
    cnt = np.bincount(inv[ok], minlength=len(yu))
    tot = np.bincount(inv[ok], weights=values[ok], minlength=len(yu))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = tot / cnt if how == "mean" else np.where(cnt > 0, tot, np.nan)
    return pd.Series(np.where(cnt > 0, out, np.nan), index=yu)


def _at_years(stat: pd.Series, years: np.ndarray) -> np.ndarray:
    """``stat`` (indexed by year) looked up for each row's year, NaN where absent."""
    yu, inv = np.unique(years, return_inverse=True)
    return stat.reindex(yu).to_numpy(dtype=float)[inv]


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
        stat = _by_year(num, years, both, "sum") / _by_year(den, years, both, "sum")
        keys = years
    else:
        stat = _by_year(x, years, rows, "mean")
        keys = years - 1 if g.benchmark == "prev_mean" else years
    b = _at_years(stat, keys) * g.benchmark_factor
    return np.where(b > 0, b, np.nan)


def _industry_groups(panel: pd.DataFrame, sc: Scoring) -> np.ndarray:
    if not sc.industry_groups:
        return np.full(len(panel), "", dtype=object)
    ind = panel["industry"].astype("string").fillna("") if "industry" in panel else pd.Series([""] * len(panel))
    out = np.full(len(panel), "other", dtype=object)
    done = np.zeros(len(panel), bool)
    for name, prefixes in sc.industry_groups.items():
        hit = ind.str.startswith(tuple(prefixes)).to_numpy(bool) & ~done
        out[hit] = name
        done |= hit
    return out


def _group_keys(panel: pd.DataFrame, sc: Scoring) -> np.ndarray:
    scale = panel["scale"].astype("string") if "scale" in panel else pd.Series(pd.NA, index=panel.index,
                                                                                dtype="string")
    key = scale.to_numpy(dtype=object, na_value="")
    if "tenant" in sc.groups and "group" in panel:
        key = np.where(panel["group"].astype("string").eq("tenant").fillna(False).to_numpy(bool), "tenant", key)
    return np.where(np.isin(key, list(sc.groups)), key, "").astype(object)


def grade_units(panel: pd.DataFrame, policy: Policy, *, links: Any = None) -> pd.DataFrame:
    """Score and grade every ``(eval_id, year)`` of ``panel`` by ``policy.scoring``.

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
        Index as ``panel``: ``score`` (NaN if not graded), ``grade`` (A/B/C/D/N), ``grade_reason_zh``,
        ``grade_reason_en``.

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
        return pd.DataFrame({"score": score, "grade": "N", "grade_reason_zh": f"{policy.name}不评分，不参评",
                             "grade_reason_en": f"{policy.name} does not grade: not graded"}, index=panel.index)
    ctx = PanelContext(panel)
    years = panel.index.get_level_values(1).to_numpy(dtype="int64")
    key = _group_keys(panel, sc)
    seg_zh: list[tuple[np.ndarray, Text]] = []
    seg_en: list[tuple[np.ndarray, Text]] = []

    def settle(mask: np.ndarray, g: str, texts: Callable[[np.ndarray], tuple[Text, Text]]) -> None:
        """Give ``mask`` rows grade ``g`` and their reasons now."""
        idx = np.flatnonzero(mask)
        grade[idx] = g
        if len(idx):
            zh, en = texts(idx)
            seg_zh.append((idx, zh))
            seg_en.append((idx, en))

    settle(key == "", "N", lambda idx: ("规模未知，不参评", "scale unknown: not graded"))
    for rule in sc.not_graded:
        o = evaluate_condition(rule.when, ctx)
        settle(o.mask & (grade == ""), "N", lambda idx, o=o, rule=rule: _labelled(rule, o.why(idx), "，不参评",
                                                                                   ": not graded"))

    notes: list[tuple[np.ndarray, str, str]] = []   # (rows, zh, en) remarks on missing data
    no_bench: list[tuple[np.ndarray, str, str]] = []
    for gid, g in sc.groups.items():
        rows = (key == gid) & (grade == "")
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
            elif mode == "group_mean":
                have = rows & ~np.isnan(item)
                avg = _at_years(_by_year(item, years, have, "mean"), years)
                item = np.where(lack, avg, item)
                notes.append((lack, f"缺{m.zh}数据按组平均得分计", f"no {m.en} data: group average item score"))
            else:
                settle(lack, "N", lambda idx, m=m: (cat("缺少", ints(years[idx]), f"年{m.zh}数据，不参评"),
                                                      cat(f"no {m.en} data for ", ints(years[idx]), ": not graded")))
            total += np.nan_to_num(item)
        settle(rows & ~scored & (grade == ""), "N", lambda idx, g=g: (
            cat(ints(years[idx]), f"年{g.zh}组各项指标均无基准值（无数据或均值不为正），不参评"),
            cat(f"no benchmark for any indicator of {g.en} in ", ints(years[idx]), ": not graded")))
        graded = rows & (grade == "")
        score[graded] = total[graded]

    adjust: list[tuple[np.ndarray, Callable[[np.ndarray], tuple[Text, Text]]]] = []
    tenants: np.ndarray | None = None
    for a in sc.adjustments:
        in_groups = np.isin(key, list(a.groups)) & (grade == "")
        if a.type == "tenants":
            if links is None:
                raise InputError(f"preset {policy.name} has a leasing adjustment ({a.zh}) and needs the links",
                                 [Problem("links missing", fix="call evaluate(panel, policy, links=links)")])
            if tenants is None:  # once for all leasing adjustments
                tenants = tenant_counts(links).reindex(panel.index.get_level_values(0)).fillna(0).to_numpy(float)
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

    def prefix(idx: np.ndarray) -> tuple[list[Text], list[Text]]:
        """The score and its remarks, before the class text (one concatenation builds the whole line)."""
        k = len(idx)
        nob_zh = join([where(m[idx], zh, "") for m, zh, _ in no_bench], "、", n=k)
        nob_en = join([where(m[idx], en, "") for m, _, en in no_bench], ", ", n=k)
        has_nob = ~empty(nob_zh, k)
        parts_zh: list[Text] = [""]
        parts_en: list[Text] = [""]
        if has_nob.any():
            ys = ints(years[idx])
            parts_zh = [where(has_nob, cat(ys, "年无", nob_zh, "基准值，不计分"), "")]
            parts_en = [where(has_nob, cat("no benchmark for ", nob_en, " in ", ys, ": not scored"), "")]
        parts_zh += [where(m[idx], zh, "") for m, zh, _ in notes]
        parts_en += [where(m[idx], en, "") for m, _, en in notes]
        for hit, detail in adjust:
            sub = hit[idx]
            if sub.any():
                dz, de = pick_rows(idx, sub, detail)
                parts_zh.append(dz)
                parts_en.append(de)
        extra_zh, extra_en = join(parts_zh, "，", n=k), join(parts_en, "; ", n=k)
        sc_txt = fmt(score[idx])
        return (["得分", sc_txt, _bracket(extra_zh, "（", "）", k), "；"],
                ["score ", sc_txt, _bracket(extra_en, " (", ")", k), "; "])

    def base(idx: np.ndarray) -> tuple[Text, Text]:
        return class_text(idx, prefix)

    for rule in sc.overrides:
        o = evaluate_condition(rule.when, ctx)
        hit = o.mask & graded
        graded = graded & ~hit
        settle(hit, rule.grade, lambda idx, o=o, rule=rule: _override(base(idx), rule, o.why(idx)))
    idx = np.flatnonzero(graded)
    if len(idx):
        zh, en = base(idx)
        seg_zh.append((idx, zh))
        seg_en.append((idx, en))
    return pd.DataFrame({"score": score, "grade": to_series(labels(grade, ("A", "B", "C", "D", "N")), panel.index),
                         "grade_reason_zh": to_series(assemble(n, seg_zh), panel.index),
                         "grade_reason_en": to_series(assemble(n, seg_en), panel.index)}, index=panel.index)


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


def _override(base: tuple[Text, Text], rule: Any, why: tuple[Text, Text]) -> tuple[Text, Text]:
    zh, en = _labelled(rule, why, f"，定为{rule.grade}类", f": class {rule.grade}")
    return cat(base[0], "；", zh), cat(base[1], "; ", en)


def _classes(panel: pd.DataFrame, sc: Scoring, key: np.ndarray, graded: np.ndarray, score: np.ndarray,
             years: np.ndarray, grade: np.ndarray) -> Callable[[np.ndarray, Prefix], tuple[Text, Text]]:
    """Assign A-D to graded rows in place; return the producer of the class reasons (after a prefix)."""
    n = len(score)
    cls = np.full(n, "", dtype="<U1")
    rank, size = np.zeros(n), np.ones(n)
    method = np.full(n, -1)  # index of the group in sc.groups
    ig = _industry_groups(panel, sc)
    groups = list(sc.groups.values())
    for j, g in enumerate(groups):
        rows = graded & (key == g.id)
        if not rows.any():
            continue
        method[rows] = j
        if g.classes.method == "cutoff":
            cuts = g.classes.cutoffs
            cls[rows] = np.select([score >= cuts["A"], score >= cuts["B"], score >= cuts["C"]], ["A", "B", "C"],
                                  "D")[rows]
            continue
        frame = pd.DataFrame({"s": score[rows], "y": years[rows], "ig": ig[rows]})
        by = frame.groupby(["y", "ig"])["s"]
        rank[rows] = by.rank(method="min", ascending=False).to_numpy(float)
        size[rows] = by.transform("size").to_numpy(float)
        cum = np.cumsum([g.classes.shares[c] for c in _ORDER])
        p = rank / size
        cls[rows] = np.select([p <= cum[0] + 1e-9, p <= cum[1] + 1e-9, p <= cum[2] + 1e-9], ["A", "B", "C"],
                              "D")[rows]
    grade[graded] = cls[graded]

    def one(j: int, idx: np.ndarray, prefix: Prefix) -> tuple[Text, Text]:
        g = groups[j]
        c = cls[idx]
        pz, pe = prefix(idx)
        if g.classes.method == "cutoff":
            cuts = g.classes.cutoffs
            conds = [c == x for x in "ABC"]
            return (cat(*pz, select(conds, [f"{x}类（{x}类线{fmt1(cuts[x])}分）" for x in "ABC"],
                                    f"D类（低于C类线{fmt1(cuts['C'])}分）")),
                    cat(*pe, select(conds, [f"class {x} ({x} line {fmt1(cuts[x])})" for x in "ABC"],
                                    f"class D (below the C line {fmt1(cuts['C'])})")))
        ct = labels(c, _ORDER)
        if sc.industry_groups:
            keys = list(sc.industry_labels)
            ig_i = ig[idx]
            nz = labels(ig_i, keys, [sc.industry_labels[k][0] for k in keys])
            ne = labels(ig_i, keys, [sc.industry_labels[k][1] for k in keys])
            grp_zh, grp_en = cat(f"{g.zh}（", nz, "）"), cat(f"{g.en} (", ne, ")")
        else:
            grp_zh, grp_en = g.zh, g.en
        r_s, n_s = fmt(rank[idx]), fmt(size[idx])
        pct = fmt(np.round(rank[idx] / size[idx] * 100, 1))
        return (cat(*pz, grp_zh, "组第", r_s, "/", n_s, "名（前", pct, "%），", ct, "类"),
                cat(*pe, "rank ", r_s, " of ", n_s, " in ", grp_en, " (top ", pct, "%): class ", ct))

    def text(idx: np.ndarray, prefix: Prefix) -> tuple[Text, Text]:
        return pick2(idx, method[idx], [lambda rows, j=j: one(j, rows, prefix) for j in range(len(groups))])

    return text

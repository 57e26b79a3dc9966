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

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency._text import Text, cat, empty, fmt, fmt1, ints, join, select, to_series, where
from gisefficiency.conditions import PanelContext, evaluate_condition
from gisefficiency.errors import InputError, Problem
from gisefficiency.metrics import METRICS
from gisefficiency.policy import Policy, Scoring, ScoringGroup
from gisefficiency.rules import Flag

__all__ = ["grade_units", "tenant_counts"]

_ORDER = ("A", "B", "C", "D")


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


def _labelled(label: str, sep: str, cond: Any, reason: Text) -> Text:
    """A rule's label before its reason; a yes/no flag's label alone says it all."""
    if not label:
        return reason
    return label if isinstance(cond, Flag) else cat(label + sep, reason)


def _by_year(values: np.ndarray, years: np.ndarray, rows: np.ndarray, how: str) -> pd.Series:
    s = pd.Series(values[rows]).groupby(years[rows])
    return s.mean() if how == "mean" else s.sum(min_count=1)


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
        stat = _by_year(x, years, rows & ~np.isnan(x), "mean")
        keys = years - 1 if g.benchmark == "prev_mean" else years
    b = stat.reindex(keys).to_numpy(dtype=float) * g.benchmark_factor
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
    ys = ints(years)
    key = _group_keys(panel, sc)
    none = key == ""
    grade[none] = "N"
    rz: Text = where(none, "规模未知，不参评", "")
    re_: Text = where(none, "scale unknown: not graded", "")
    for rule in sc.not_graded:
        o = evaluate_condition(rule.when, ctx)
        new = o.mask & (grade == "")
        grade[new] = "N"
        rz = where(new, cat(_labelled(rule.zh, "：", rule.when, o.true_zh), "，不参评"), rz)
        re_ = where(new, cat(_labelled(rule.en, ": ", rule.when, o.true_en), ": not graded"), re_)

    notes_zh: Text = ""
    notes_en: Text = ""
    nob_zh: Text = ""
    nob_en: Text = ""
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
            nob_zh = where(no_b, join([nob_zh, m.zh], "、", n=n), nob_zh)
            nob_en = where(no_b, join([nob_en, m.en], ", ", n=n), nob_en)
            mode = g.missing_by_indicator.get(ind, g.missing)
            lack = rows & np.isnan(x) & ~no_b & (grade == "")
            note_zh = note_en = ""
            if mode == "zero":
                item = np.where(lack, 0.0, item)
                note_zh, note_en = f"缺{m.zh}数据按0分计", f"no {m.en} data: 0 points"
            elif mode == "group_mean":
                have = rows & ~np.isnan(item)
                avg = pd.Series(item[have]).groupby(years[have]).mean().reindex(years).to_numpy(float)
                item = np.where(lack, avg, item)
                note_zh, note_en = f"缺{m.zh}数据按组平均得分计", f"no {m.en} data: group average item score"
            else:
                grade[lack] = "N"
                rz = where(lack, cat("缺少", ys, f"年{m.zh}数据，不参评"), rz)
                re_ = where(lack, cat(f"no {m.en} data for ", ys, ": not graded"), re_)
            if note_zh and lack.any():
                notes_zh = where(lack, join([notes_zh, note_zh], "，", n=n), notes_zh)
                notes_en = where(lack, join([notes_en, note_en], "; ", n=n), notes_en)
            total += np.nan_to_num(item)
        blind = rows & ~scored & (grade == "")
        grade[blind] = "N"
        rz = where(blind, cat(ys, f"年{g.zh}组各项指标均无基准值（无数据或均值不为正），不参评"), rz)
        re_ = where(blind, cat(f"no benchmark for any indicator of {g.en} in ", ys, ": not graded"), re_)
        graded = rows & (grade == "")
        score[graded] = total[graded]

    adj_zh: Text = ""
    adj_en: Text = ""
    for a in sc.adjustments:
        in_groups = np.isin(key, list(a.groups)) & (grade == "")
        if a.type == "tenants":
            if links is None:
                raise InputError(f"preset {policy.name} has a leasing adjustment ({a.zh}) and needs the links",
                                 [Problem("links missing", fix="call evaluate(panel, policy, links=links)")])
            cnt = tenant_counts(links).reindex(panel.index.get_level_values(0)).fillna(0).to_numpy(float)
            pts = np.where(cnt >= 1, a.first + a.additional * (cnt - 1), 0.0)
            hit = in_groups & (pts != 0)
            detail_zh = cat(f"{a.zh}（出租给", fmt(cnt), "家企业）", fmt(pts), "分")
            detail_en = cat(f"{a.en} (", fmt(cnt), " tenants) ", fmt(pts), " points")
        else:
            assert a.when is not None
            o = evaluate_condition(a.when, ctx)
            hit = in_groups & o.mask
            pts = np.full(n, a.points)
            detail_zh = cat(f"{a.zh}（", o.true_zh, f"）{fmt1(a.points)}分")
            detail_en = cat(f"{a.en} (", o.true_en, f") {fmt1(a.points)} points")
        score = np.where(hit, score + pts, score)
        adj_zh = where(hit, join([adj_zh, detail_zh], "，", n=n), adj_zh)
        adj_en = where(hit, join([adj_en, detail_en], "; ", n=n), adj_en)

    no_bench = ~empty(nob_zh, n)
    notes_zh = join([where(no_bench, cat(ys, "年无", nob_zh, "基准值，不计分"), ""), notes_zh], "，", n=n)
    notes_en = join([where(no_bench, cat("no benchmark for ", nob_en, " in ", ys, ": not scored"), ""), notes_en],
                    "; ", n=n)
    graded = grade == ""
    cls_zh, cls_en = _classes(panel, sc, key, graded, score, years, grade)
    extra_zh, extra_en = join([notes_zh, adj_zh], "，", n=n), join([notes_en, adj_en], "; ", n=n)
    has_zh, has_en = ~empty(extra_zh, n), ~empty(extra_en, n)
    sc_txt = fmt(score)
    rz = where(graded, cat("得分", sc_txt, where(has_zh, cat("（", extra_zh, "）"), ""), "；", cls_zh), rz)
    re_ = where(graded, cat("score ", sc_txt, where(has_en, cat(" (", extra_en, ")"), ""), "; ", cls_en), re_)
    for rule in sc.overrides:
        o = evaluate_condition(rule.when, ctx)
        hit = o.mask & graded
        graded = graded & ~hit
        grade[hit] = rule.grade
        rz = where(hit, cat(rz, "；", _labelled(rule.zh, "：", rule.when, o.true_zh), f"，定为{rule.grade}类"), rz)
        re_ = where(hit, cat(re_, "; ", _labelled(rule.en, ": ", rule.when, o.true_en), f": class {rule.grade}"), re_)
    return pd.DataFrame({"score": score, "grade": to_series(_grade_text(grade), panel.index),
                         "grade_reason_zh": to_series(rz, panel.index), "grade_reason_en": to_series(re_, panel.index)},
                        index=panel.index)


def _grade_text(grade: np.ndarray) -> Text:
    return pa.array(grade.astype(object), pa.string())


def _classes(panel: pd.DataFrame, sc: Scoring, key: np.ndarray, graded: np.ndarray, score: np.ndarray,
             years: np.ndarray, grade: np.ndarray) -> tuple[Text, Text]:
    """Assign A-D to graded rows in place; return the class reasons."""
    cz: Text = ""
    ce: Text = ""
    ig = _industry_groups(panel, sc)
    for gid, g in sc.groups.items():
        rows = graded & (key == gid)
        if not rows.any():
            continue
        if g.classes.method == "cutoff":
            cuts = g.classes.cutoffs
            cls = np.select([score >= cuts["A"], score >= cuts["B"], score >= cuts["C"]], ["A", "B", "C"], "D")
            grade[rows] = cls[rows]
            conds = [cls == c for c in "ABC"]
            cz = where(rows, select(conds, [f"{c}类（{c}类线{fmt1(cuts[c])}分）" for c in "ABC"],
                                    f"D类（低于C类线{fmt1(cuts['C'])}分）"), cz)
            ce = where(rows, select(conds, [f"class {c} ({c} line {fmt1(cuts[c])})" for c in "ABC"],
                                    f"class D (below the C line {fmt1(cuts['C'])})"), ce)
            continue
        frame = pd.DataFrame({"s": score[rows], "y": years[rows], "ig": ig[rows]})
        by = frame.groupby(["y", "ig"])["s"]
        rank, size = np.zeros(len(score)), np.ones(len(score))
        rank[rows] = by.rank(method="min", ascending=False).to_numpy(float)
        size[rows] = by.transform("size").to_numpy(float)
        p = rank / size
        cum = np.cumsum([g.classes.shares[c] for c in _ORDER])
        cls = np.select([p <= cum[0] + 1e-9, p <= cum[1] + 1e-9, p <= cum[2] + 1e-9], ["A", "B", "C"], "D")
        grade[rows] = cls[rows]
        cls_t = pa.array(cls.astype(object), pa.string())
        if sc.industry_groups:
            names = pa.array(ig.astype(object), pa.string())
            grp_zh, grp_en = cat(f"{g.zh}（", names, "）"), cat(f"{g.en} (", names, ")")
        else:
            grp_zh, grp_en = g.zh, g.en
        r_s, n_s, pct = fmt(rank), fmt(size), fmt(np.round(p * 100, 1))
        cz = where(rows, cat(grp_zh, "组第", r_s, "/", n_s, "名（前", pct, "%），", cls_t, "类"), cz)
        ce = where(rows, cat("rank ", r_s, " of ", n_s, " in ", grp_en, " (top ", pct, "%): class ", cls_t), ce)
    return cz, ce

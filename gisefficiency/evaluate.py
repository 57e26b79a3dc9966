"""Apply a policy preset: grades per unit and year, one verdict per unit, low-efficiency parcels.

Every verdict explains itself in Chinese and English with the numbers it rests on, e.g.
"淘汰关停：亩均税收连续两年低于1万元/亩（2020年0.62、2021年0.81万元/亩）". Rules run as boolean
arrays over all units at once (see :mod:`gisefficiency.rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency._text import Text, cat, fmt, fmt1, join, select, to_series, where
from gisefficiency.conditions import UnitContext, evaluate_condition
from gisefficiency.constants import M2_PER_MU, PER_MU_DECIMALS
from gisefficiency.errors import InputError, Problem
from gisefficiency.policy import Policy
from gisefficiency.rules import Flag
from gisefficiency.scoring import grade_units

__all__ = ["Evaluation", "evaluate", "flag_parcels"]


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    grades
        Index ``(eval_id, year)``: ``score, grade`` (A/B/C/D, N = not graded), ``grade_reason_zh/en``.
    verdicts
        Index ``eval_id``: ``score, grade`` (reference year), ``disposal`` (category id or ""),
        ``disposal_zh, disposal_en, reason_zh, reason_en, in_scope, exempt, low_efficiency``, one
        boolean column per preset flag (e.g. ``two_high``), ``grade_reason_zh/en``.
    year
        The reference year.
    policy
        The preset's name.
    """

    grades: pd.DataFrame
    verdicts: pd.DataFrame
    year: int
    policy: str


def _arrow(s: pd.Series) -> pa.Array:
    return pa.array(s.astype(object).where(s.notna(), "").to_numpy(dtype=object), pa.string())


def _reference_year(panel: pd.DataFrame, policy: Policy, year: int | None) -> int:
    if len(panel) == 0:
        raise InputError("the panel is empty", [Problem("no unit-year rows", fix="check the firm table and links")])
    present = np.unique(panel.index.get_level_values(1).to_numpy(dtype="int64"))
    ref = year if year is not None else policy.reference_year if policy.reference_year is not None \
        else int(present.max())
    if ref not in present:
        raise InputError(
            f"no data for the reference year {ref} (preset {policy.name})",
            [Problem(f"years in the panel: {', '.join(map(str, present))}",
                     fix="pass year=... (config [policy] year) for a year the firm table covers")])
    return int(ref)


def evaluate(panel: pd.DataFrame, policy: Policy, *, year: int | None = None, links: Any = None) -> Evaluation:
    """Grade every unit and year, then judge every unit at the reference year.

    Parameters
    ----------
    panel
        ``metrics.unit_metrics`` output (MultiIndex ``(eval_id, year)``).
    policy
        A preset from ``policy.load_preset``.
    year
        Reference year; default the preset's ``reference_year``, else the latest year of the panel.
    links
        ``link.Links``, needed by presets with leasing penalties (tenants per holder).

    Returns
    -------
    Evaluation

    Raises
    ------
    InputError
        Empty panel, no data for the reference year, or links needed and missing.
    """
    ref = _reference_year(panel, policy, year)
    grades = grade_units(panel, policy, links=links)
    frame = panel.drop(columns=[c for c in ("score", "grade") if c in panel]).join(grades[["score", "grade"]])
    ctx = UnitContext(frame, ref)
    units, n = ctx.units, ctx.n
    at_ref = grades.xs(ref, level=1).reindex(units)
    no_row = at_ref["grade"].isna().to_numpy(bool)
    grade = at_ref["grade"].fillna("N").to_numpy(dtype="<U1")
    g_zh = where(no_row, f"无{ref}年数据，不参评", _arrow(at_ref["grade_reason_zh"]))
    g_en = where(no_row, f"no data for {ref}: not graded", _arrow(at_ref["grade_reason_en"]))

    d = policy.disposal
    cats = policy.categories
    disposal = np.full(n, "", dtype=object)
    if d is None:
        in_scope, exempt = np.ones(n, bool), np.zeros(n, bool)
        rz: Text = g_zh
        re_: Text = g_en
    else:
        scope = evaluate_condition(d.scope, ctx) if d.scope is not None else None
        in_scope = scope.mask if scope is not None else np.ones(n, bool)
        ex_mask = np.zeros(n, bool)
        ex_zh: Text = ""
        ex_en: Text = ""
        for e in d.exempt:
            o = evaluate_condition(e.when, ctx)
            new = o.mask & ~ex_mask
            ex_mask |= new
            if isinstance(e.when, Flag):  # the label says it all
                ex_zh, ex_en = where(new, e.zh, ex_zh), where(new, e.en, ex_en)
            else:
                ex_zh = where(new, cat(f"{e.zh}（", o.true_zh, "）"), ex_zh)
                ex_en = where(new, cat(f"{e.en} (", o.true_en, ")"), ex_en)
        category = np.full(n, "", dtype=object)
        why_zh: Text = ""
        why_en: Text = ""
        no_zh: list[Text] = []
        no_en: list[Text] = []
        for rule in d.rules:  # first matching rule wins
            o = evaluate_condition(rule.when, ctx)
            new = o.mask & (category == "")
            c = cats[rule.category]
            category[new] = rule.category
            why_zh = where(new, cat(f"{c.zh}：", o.true_zh), why_zh)
            why_en = where(new, cat(f"{c.en}: ", o.true_en), why_en)
            no_zh += [pc[0] for pc in o.parts()]
            no_en += [pc[1] for pc in o.parts()]
        exempt = in_scope & ex_mask
        matched = category != ""
        disposal = np.where(in_scope & ~exempt, category, "").astype(object)
        conds = [~in_scope, exempt, disposal != ""]
        rz = select(conds, [
            cat(scope.false_zh if scope is not None else "", f"，不在{d.scope_zh}"),
            cat("豁免：", ex_zh, where(matched, cat("（否则应列为", why_zh, "）"), "")),
            why_zh,
        ], cat("未达处置条件：", join(no_zh, "；", n=n, unique=True)))
        re_ = select(conds, [
            cat(scope.false_en if scope is not None else "", f": outside the {d.scope_en}"),
            cat("exempt: ", ex_en, where(matched, cat(" (otherwise ", why_en, ")"), "")),
            why_en,
        ], cat("no rule met: ", join(no_en, "; ", n=n, unique=True)))

    lookup = pd.Series(disposal, dtype=object)
    low = lookup.map({"": False, **{k: c.low_efficiency for k, c in cats.items()}}).to_numpy(bool)
    flags = {}
    for f in policy.flags:
        o = evaluate_condition(f.when, ctx)
        flags[f.id] = o.mask
        rz = where(o.mask, cat(rz, f"；{f.zh}：", o.true_zh), rz)
        re_ = where(o.mask, cat(re_, f"; {f.en}: ", o.true_en), re_)
    verdicts = pd.DataFrame({
        "score": at_ref["score"].to_numpy(float),
        "grade": to_series(pa.array(grade.astype(object), pa.string()), units),
        "disposal": lookup.astype("string").to_numpy(),
        "disposal_zh": lookup.map({"": "", **{k: c.zh for k, c in cats.items()}}).astype("string").to_numpy(),
        "disposal_en": lookup.map({"": "", **{k: c.en for k, c in cats.items()}}).astype("string").to_numpy(),
        "reason_zh": to_series(rz, units), "reason_en": to_series(re_, units),
        "in_scope": in_scope, "exempt": exempt, "low_efficiency": low & ~exempt, **flags,
        "grade_reason_zh": to_series(g_zh, units), "grade_reason_en": to_series(g_en, units),
    }, index=units)
    verdicts.index.name = "eval_id"
    return Evaluation(grades=grades, verdicts=verdicts, year=ref, policy=policy.name)


def flag_parcels(
    parcels: pd.DataFrame,
    parcel_panel: pd.DataFrame,
    links: Any,
    verdicts: pd.DataFrame,
    policy: Policy,
    *,
    year: int | None = None,
) -> pd.DataFrame:
    """Mark low-efficiency land by the preset's ``[parcel_rule]`` (any enabled test flags the parcel).

    Parameters
    ----------
    parcels
        Prepared parcels (index ``parcel_id``): ``land_mu``, and ``plot_ratio`` or ``floor_area_m2``
        for the plot-ratio test.
    parcel_panel
        ``metrics.parcel_metrics`` output.
    links
        ``link.Links`` (``shares``, ``firm_links``, ``parcel_links``).
    verdicts
        ``Evaluation.verdicts``.
    policy
        The preset.
    year
        Year of the parcel tax test; default the latest year of ``parcel_panel``.

    Returns
    -------
    pandas.DataFrame
        Index as ``parcels``: ``low_efficiency`` (bool), ``low_eff_reason_zh``, ``low_eff_reason_en``.
    """
    rule = policy.parcel_rule
    idx = parcels.index
    n = len(idx)
    hits: list[np.ndarray] = []
    parts_zh: list[Text] = []
    parts_en: list[Text] = []

    def add(hit: np.ndarray, zh: Text, en: Text) -> None:
        hits.append(hit)
        parts_zh.append(where(hit, zh, ""))
        parts_en.append(where(hit, en, ""))

    if rule.any_firm_flagged and len(links.shares):
        fl = links.firm_links
        sh = links.shares
        uscc = sh["uscc"].astype("string")
        unit = uscc.map(fl["eval_id"].astype("string")).fillna(uscc) if "eval_id" in fl else uscc
        low = unit.map(verdicts["low_efficiency"].astype(bool)).fillna(False).to_numpy(bool)
        f = pd.DataFrame({"parcel_id": sh["parcel_id"].to_numpy(), "unit": unit.to_numpy()})[low]
        f = f.drop_duplicates().sort_values(["parcel_id", "unit"])
        first = f.drop_duplicates("parcel_id").set_index("parcel_id")["unit"]
        count = f.groupby("parcel_id").size()
        names = fl["name"].astype("string") if "name" in fl else pd.Series(dtype="string")
        unit_first = first.reindex(idx)
        hit = unit_first.notna().to_numpy(bool)
        who = _arrow(unit_first.map(names).fillna(unit_first))
        dz = _arrow(unit_first.map(verdicts["disposal_zh"]))
        de = _arrow(unit_first.map(verdicts["disposal_en"]))
        k = count.reindex(idx).fillna(0).to_numpy(float)
        more_zh = where(k > 1, cat("等", fmt(k), "家"), "")
        more_en = where(k > 1, cat(" and ", fmt(k - 1), " more"), "")
        add(hit, cat("地块上有低效企业", who, more_zh, "（", dz, "）"),
            cat("low-efficiency firm ", who, more_en, " on the parcel (", de, ")"))
    if rule.tax_per_mu_below is not None and len(parcel_panel):
        yrs = parcel_panel.index.get_level_values(1)
        y = int(year if year is not None else yrs.max())
        t = parcel_panel.loc[yrs == y, "tax_per_mu"].droplevel(1).reindex(idx).to_numpy(float)
        t = np.round(t, PER_MU_DECIMALS)
        thr = rule.tax_per_mu_below
        with np.errstate(invalid="ignore"):
            hit = t < thr
        add(hit, cat(f"{y}年地块亩均税收", fmt(t), f"万元/亩，低于{fmt1(thr)}万元/亩"),
            cat(f"parcel tax per mu {y}: ", fmt(t), f" (10k yuan/mu), below {fmt1(thr)}"))
    if rule.idle:
        idle = links.parcel_links["idle"].reindex(idx).astype("boolean").fillna(False).to_numpy(bool)
        add(idle, "地块无企业使用（闲置）", "no firm uses the parcel (idle)")
    if rule.plot_ratio_below is not None:
        if "plot_ratio" in parcels:
            pr = pd.to_numeric(parcels["plot_ratio"], errors="coerce").to_numpy(float)
        elif "floor_area_m2" in parcels and "land_mu" in parcels:
            land_m2 = pd.to_numeric(parcels["land_mu"], errors="coerce").to_numpy(float) * M2_PER_MU
            floor = pd.to_numeric(parcels["floor_area_m2"], errors="coerce").to_numpy(float)
            pr = np.full(n, np.nan)
            np.divide(floor, land_m2, out=pr, where=land_m2 > 0)
        else:
            pr = np.full(n, np.nan)
        thr = rule.plot_ratio_below
        with np.errstate(invalid="ignore"):
            hit = np.round(pr, 2) < thr  # plot ratios are published to 2 decimals
        add(hit, cat("容积率", fmt(np.round(pr, 2)), f"，低于{fmt1(thr)}"),
            cat("plot ratio ", fmt(np.round(pr, 2)), f", below {fmt1(thr)}"))
    low = np.logical_or.reduce(hits) if hits else np.zeros(n, bool)
    rz = join(parts_zh, "；", n=n) if hits else ""
    re_ = join(parts_en, "; ", n=n) if hits else ""
    return pd.DataFrame({"low_efficiency": low, "low_eff_reason_zh": to_series(rz, idx),
                         "low_eff_reason_en": to_series(re_, idx)}, index=idx)

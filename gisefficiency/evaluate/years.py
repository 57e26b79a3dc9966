"""Several years of one preset: per-year verdicts, low-efficiency land and blocks, trends, and the change
between the first and the last year.

A run answers "who is low-efficiency in the reference year". A bureau follows the same question over
years: :func:`evaluate_years` evaluates the panel of a finished run again for each other year (reading,
linking and metrics are not repeated), flags the parcels of each year and finds each year's blocks;
:func:`trend_table` sums them by street and by industry; :func:`change_classes` says which parcels are
newly low, recovered or still low in the last year against the first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisefficiency.core.errors import InputError, Problem

__all__ = ["CHANGE_CLASSES", "ReferenceYear", "YearRun", "change_classes", "evaluate_years", "reference_year",
           "trend_table"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceYear:
    """The year verdicts are made for, and why that year (for the report and ``Result.meta``).

    Attributes
    ----------
    year
        The year used.
    source
        ``"asked"`` (``year=`` / ``[policy] year`` / a multi-year run, unless it is the document's year),
        ``"preset"`` (the document's year),
        ``"fallback"`` (the document's year is not in the data: the latest year instead) or ``"latest"``
        (the preset fixes no year: the latest year of the data).
    preset_year
        The preset's ``reference_year`` (None when it has none).
    note_zh, note_en
        One sentence saying which year and why.
    """

    year: int
    source: str
    preset_year: int | None
    note_zh: str
    note_en: str


def reference_year(present: Sequence[int], policy: Any, year: int | None = None) -> ReferenceYear:
    """The reference year of a run: the year asked for, else the document's, else the data's latest.

    A year asked for (``year``) must be in the data: the user named it. The document's year
    (``policy.reference_year``, e.g. Zhoushan's 2019) is the default; when the data lack it the run does
    not stop: it uses the latest year of the data, logs a warning and says so in ``note_zh/en``.

    Parameters
    ----------
    present
        The years the panel has data for.
    policy
        The preset (its ``name`` and ``reference_year``).
    year
        The year asked for, or None.

    Returns
    -------
    ReferenceYear

    Raises
    ------
    InputError
        ``year`` given and not in ``present``, or no years at all.
    """
    have = sorted({int(y) for y in present})
    pref = getattr(policy, "reference_year", None)
    name = getattr(policy, "name", "")
    if not have:
        raise InputError("the panel is empty", [Problem("no unit-year rows", fix="check the firm table and links",
                                                        message_zh="没有任何单位-年份行",
                                                        fix_zh="请检查企业表与关联结果")],
                         zh="面板数据为空")
    listed = ", ".join(map(str, have))
    if year is not None:
        if int(year) not in have:
            raise InputError(
                f"no data for the reference year {year} (preset {name})",
                [Problem(f"years in the panel: {listed}",
                         fix="pass year=... (config [policy] year) for a year the firm table covers",
                         message_zh=f"面板中的年份：{listed}",
                         fix_zh="请传入 year=...（配置 [policy] year），选企业表覆盖的年份")],
                zh=f"没有参照年份 {year} 的数据（预设 {name}）")
        if int(year) == pref:  # asked for the document's own year
            return ReferenceYear(pref, "preset", pref, f"评价年度{pref}年（政策文件规定的评价年度）",
                                 f"reference year {pref} (the year the policy document fixes)")
        return ReferenceYear(int(year), "asked", pref, f"评价年度{year}年（按指定）",
                             f"reference year {year} (as asked)")
    latest = have[-1]
    if pref is not None and pref in have:
        return ReferenceYear(pref, "preset", pref, f"评价年度{pref}年（政策文件规定的评价年度）",
                             f"reference year {pref} (the year the policy document fixes)")
    if pref is not None:
        log.warning("preset %s evaluates %d, which the data lack (years: %s): the latest year, %d, is used",
                    name, pref, listed, latest,
                    extra={"zh": f"预设 {name} 评价 {pref} 年度，数据中没有该年度（数据年度：{listed}），"
                                 f"改用最新年度 {latest}"})
        return ReferenceYear(latest, "fallback", pref,
                             f"评价年度{latest}年：政策文件规定评价{pref}年度，数据无该年度（数据年度：{listed}），"
                             "改用数据最新年度",
                             f"reference year {latest}: the policy document evaluates {pref}, which the data lack "
                             f"(years: {listed}), so the latest year of the data is used")
    return ReferenceYear(latest, "latest", None, f"评价年度{latest}年（政策文件未规定评价年度，取数据最新年度）",
                         f"reference year {latest} (the policy document fixes none: the latest year of the data)")


#: Change codes of a parcel, last year against first: (code, zh, en, colour). "recovered" is blue, not
#: green: the grade layer's A and B are green.
CHANGE_CLASSES: tuple[tuple[str, str, str, str], ...] = (
    ("newly_low", "新增低效", "newly low-efficiency", "#e31a1c"),
    ("still_low", "持续低效", "still low-efficiency", "#7f0000"),
    ("recovered", "低效转出", "recovered", "#1f78b4"),
    ("no_data_now", "原低效、现无数据", "was low, no data now", "#969696"),
)


@dataclass
class YearRun:
    """The per-year outputs of :func:`evaluate_years`.

    Attributes
    ----------
    years
        The years evaluated, ascending.
    verdicts
        Index ``(eval_id, year)``: ``grade``, ``disposal``, ``disposal_zh``, ``low_efficiency``, ``reason_zh``.
    parcels
        Index ``(parcel_id, year)``: ``low_efficiency`` and ``block_id`` (Int64, NA outside blocks) of
        each year.
    blocks
        Index ``year``: ``n_blocks``, ``block_mu`` (land of all blocks, 亩), ``freed_mu`` (their flagged
        land, 亩).
    change
        Index ``parcel_id``: ``"newly_low"``, ``"still_low"``, ``"recovered"``, ``"no_data_now"`` or ``""``
        (last year against the first, :func:`change_classes`).
    trends
        :func:`trend_table` output.
    """

    years: tuple[int, ...]
    verdicts: pd.DataFrame
    parcels: pd.DataFrame
    blocks: pd.DataFrame
    change: pd.Series
    trends: pd.DataFrame


def check_years(years: Sequence[int], present: Sequence[int], *, source: str) -> tuple[int, ...]:
    """The requested years sorted, each with data; at least two (a trend needs two points).

    Raises
    ------
    InputError
        Fewer than two years, or a year the firm table has no data for (naming ``source`` and its years).
    """
    wanted = tuple(sorted({int(y) for y in years}))
    have = sorted({int(y) for y in present})
    if len(wanted) < 2:
        raise InputError(f"years {', '.join(map(str, wanted)) or '(none)'}: a multi-year run needs at least two "
                         "years -> give a range such as 2021-2023",
                         zh=(f"年份 {', '.join(map(str, wanted)) or '（无）'}：多年运行至少需要两个年份 "
                             "→ 请给出年份范围，例如 2021-2023"))
    missing = [y for y in wanted if y not in have]
    if missing:
        raise InputError(f"{source}: no data for {', '.join(map(str, missing))}; the table has "
                         f"{', '.join(map(str, have)) or 'no years'} -> choose years among those",
                         zh=(f"{source}：没有 {', '.join(map(str, missing))} 年的数据；表中有 "
                             f"{', '.join(map(str, have)) or '（无年份）'} → 请从中选择年份"))
    return wanted


def change_classes(first: pd.Series, last: pd.Series, *, last_known: pd.Series | None = None) -> pd.Series:
    """Change of each parcel between two years' ``low_efficiency`` flags (missing counts as not low).

    Parameters
    ----------
    first, last
        The flags of the first and the last year (index ``parcel_id``).
    last_known
        Whether the parcel has a figure (tax) in the last year; None: every parcel has. A parcel low in the
        first year that is not low in the last only for want of data has not recovered: a year with no
        data is never a year above a threshold either.

    Returns
    -------
    Series
        Index of ``last``: ``"newly_low"`` (low only in the last year), ``"recovered"`` (low only in the
        first, with data in the last), ``"no_data_now"`` (low in the first, no data in the last),
        ``"still_low"`` (both) or ``""``.
    """
    a = first.reindex(last.index).astype("boolean").fillna(False).to_numpy(dtype=bool)
    b = last.astype("boolean").fillna(False).to_numpy(dtype=bool)
    known = np.ones(len(b), dtype=bool) if last_known is None else \
        last_known.reindex(last.index).astype("boolean").fillna(False).to_numpy(dtype=bool)
    out = np.select([b & ~a, a & ~b & known, a & ~b & ~known, a & b],
                    ["newly_low", "recovered", "no_data_now", "still_low"], "")
    return pd.Series(out, index=last.index, name="change", dtype=object)


def evaluate_years(
    result: Any,
    years: Sequence[int],
    *,
    find_blocks: Callable[[Any], Any] | None = None,
) -> YearRun:
    """Evaluate a finished run's panel for each year, flag parcels and find blocks per year.

    Parameters
    ----------
    result
        A ``Result`` whose reference year is the last of ``years`` (its own evaluation, flags and blocks
        serve for that year).
    years
        The years, each present in the panel.
    find_blocks
        ``parcels -> Blocks`` with the run's ``[blocks]`` options, the flag column being
        ``low_efficiency``; None: no blocks per year (``block_id`` NA, block counts NaN).

    Returns
    -------
    YearRun
    """
    from gisefficiency.evaluate.verdicts import evaluate, flag_parcels

    years = tuple(sorted(years))
    policy, panel, links = result.policy, result.panel, result.links
    parcel_panel = result.meta["parcel_panel"]
    parcels = result.parcels
    verdict_cols = ["grade", "disposal", "disposal_zh", "low_efficiency", "reason_zh"]
    verdicts, flags, block_ids, block_rows = [], [], [], []
    for year in years:  # a handful of years; each step is vectorised over units and parcels
        if year == result.year:
            ev = result.evaluation
            low, members = parcels["low_efficiency"], parcels.get("block_id")
            blocks = result.blocks
        else:
            ev = evaluate(panel, policy, year=year, links=links)
            low = flag_parcels(parcels, parcel_panel, links, ev.verdicts, policy, year=year)["low_efficiency"]
            members, blocks = None, None
            if find_blocks is not None:
                found = find_blocks(parcels.assign(low_efficiency=low.to_numpy()))
                members, blocks = found.membership["block_id"], found.blocks
        v = ev.verdicts.assign(reason_zh=ev.reasons("zh")["reason_zh"])  # each year's reasons, written once
        verdicts.append(v[[c for c in verdict_cols if c in v.columns]].assign(year=year))
        flags.append(low.astype(bool).rename(year))
        ids = members.reindex(parcels.index) if members is not None else pd.Series(pd.NA, index=parcels.index)
        block_ids.append(ids.astype("Int64").rename(year))
        land = pd.to_numeric(parcels["land_mu"], errors="coerce")
        in_block = ids.notna().to_numpy()
        block_rows.append({
            "year": year,
            "n_blocks": float(len(blocks)) if blocks is not None else np.nan,
            "block_mu": float(land[in_block].sum()) if blocks is not None else np.nan,
            "freed_mu": float(blocks["freed_mu"].sum()) if blocks is not None and "freed_mu" in blocks else np.nan,
        })
    by_year = pd.DataFrame({
        "low_efficiency": pd.concat(flags, axis=1).stack(future_stack=True),
        "block_id": pd.concat(block_ids, axis=1).stack(future_stack=True),
    })
    by_year.index = by_year.index.set_names(["parcel_id", "year"])
    all_verdicts = pd.concat(verdicts).set_index("year", append=True)
    all_verdicts.index = all_verdicts.index.set_names(["eval_id", "year"])
    last_tax = parcel_panel.loc[parcel_panel.index.get_level_values(1) == years[-1], "tax_per_mu"]
    last_known = pd.Series(last_tax.notna().to_numpy(), index=last_tax.index.get_level_values(0))
    change = change_classes(flags[0], flags[-1], last_known=last_known[~last_known.index.duplicated()])
    run = YearRun(years=years, verdicts=all_verdicts, parcels=by_year,
                  blocks=pd.DataFrame(block_rows).set_index("year"), change=change, trends=pd.DataFrame())
    run.trends = trend_table(result, run)
    return run


def _division(codes: pd.Series) -> pd.Series:
    """GB/T 4754 two-digit division (``"C3311"`` and ``"3311"`` both give ``"33"``)."""
    return codes.astype("string").str.strip().str.extract(r"^[A-Za-z]?(\d{2})", expand=False)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A numeric column, or all missing when the data has none (value added is optional)."""
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.Series(np.nan, index=frame.index)


def _ratio(num: pd.Series, den: pd.Series, keys: pd.Series, years: pd.Series) -> pd.Series:
    """Σ num / Σ den per (key, year) over rows with both figures and land (> 0): missing stays missing."""
    ok = num.notna() & den.notna() & (den > 0)
    frame = pd.DataFrame({"k": keys.to_numpy(), "y": years.to_numpy(), "n": num.where(ok).to_numpy(),
                          "d": den.where(ok).to_numpy()})
    sums = frame.groupby(["k", "y"], dropna=False).sum(min_count=1)
    return sums["n"] / sums["d"]


def trend_table(result: Any, run: YearRun) -> pd.DataFrame:
    """Per year, by street, by industry and for the county: 亩均税收, 亩均增加值, low-efficiency land, blocks.

    Street figures are the parcels' (tax and value added apportioned to parcels by the link, over the
    parcels' land with figures); industry figures are the evaluated units' (sums over units with figures
    and land), low-efficiency and block land by the industry of the firm holding most of each parcel.

    Returns
    -------
    DataFrame
        Columns ``dimension`` (``"county"``, ``"street"``, ``"industry"``), ``key`` (street name, industry
        division code, or ``""`` for the county; unknown as ``"—"``), ``year``, ``tax_per_mu``,
        ``va_per_mu`` (万元/亩), ``low_mu`` (亩), ``n_blocks``, ``block_mu`` (亩; NaN when the year's blocks
        were not found).
    """
    parcels = result.parcels
    unknown = "—"
    street = (parcels["street"].astype(object) if "street" in parcels.columns
              else pd.Series(np.nan, index=parcels.index, dtype=object))
    street = street.where(street.notna() & (street != ""), unknown)
    firm_industry = _division(result.firms["industry"]) if "industry" in result.firms.columns else \
        pd.Series(pd.NA, index=result.firms.index, dtype="string")
    main = parcels["main_uscc"] if "main_uscc" in parcels.columns else pd.Series(pd.NA, index=parcels.index)
    p_industry = main.map(firm_industry.to_dict()).astype(object)
    p_industry = p_industry.where(p_industry.notna(), unknown)
    keys = {"county": pd.Series("", index=parcels.index, dtype=object), "street": street,
            "industry": p_industry}

    # Land figures per parcel and year.
    by_year = run.parcels
    pid = by_year.index.get_level_values("parcel_id")
    yr = pd.Series(by_year.index.get_level_values("year"))
    land = pd.to_numeric(parcels["land_mu"], errors="coerce").reindex(pid).to_numpy()
    low = by_year["low_efficiency"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    block = by_year["block_id"]

    # Per-mu figures: parcels for the county and streets, evaluated units for industries.
    pp = result.meta["parcel_panel"]
    pp = pp[pp.index.get_level_values("year").isin(run.years)]
    pp_ids = pp.index.get_level_values(0)
    pp_years = pd.Series(pp.index.get_level_values(1))
    panel = result.panel[result.panel.index.get_level_values("year").isin(run.years)]
    unit_industry = _division(panel["industry"]) if "industry" in panel.columns else \
        pd.Series(pd.NA, index=panel.index, dtype="string")
    unit_industry = unit_industry.astype(object).where(unit_industry.notna(), unknown)
    unit_years = pd.Series(panel.index.get_level_values("year"))

    known = run.blocks.index[run.blocks["n_blocks"].notna()]
    parts = []
    for dim, key in keys.items():  # three dimensions, each grouped once
        k = key.reindex(pid)
        frame = pd.DataFrame({"key": k.to_numpy(), "year": yr.to_numpy(), "low_mu": np.where(low, land, 0.0),
                              "block_mu": np.where(block.notna().to_numpy(), land, 0.0),
                              "block_id": block.to_numpy()})
        grouped = frame.groupby(["key", "year"])
        out = pd.DataFrame({
            "low_mu": grouped["low_mu"].sum(),
            "n_blocks": grouped["block_id"].nunique(),
            "block_mu": grouped["block_mu"].sum(),
        })
        # A year whose blocks were not found has no block figures (not 0 blocks).
        out.loc[~out.index.get_level_values("year").isin(known), ["n_blocks", "block_mu"]] = np.nan
        if dim == "industry":
            out["tax_per_mu"] = _ratio(_column(panel, "tax"), _column(panel, "land_mu"), unit_industry, unit_years)
            out["va_per_mu"] = _ratio(_column(panel, "value_added"), _column(panel, "land_mu"), unit_industry,
                                      unit_years)
        else:
            pk = key.reindex(pp_ids)
            out["tax_per_mu"] = _ratio(_column(pp, "tax"), _column(pp, "land_mu"), pk, pp_years)
            out["va_per_mu"] = _ratio(_column(pp, "value_added"), _column(pp, "land_mu"), pk, pp_years)
        parts.append(out.reset_index().assign(dimension=dim))
    table = pd.concat(parts, ignore_index=True)
    cols = ["dimension", "key", "year", "tax_per_mu", "va_per_mu", "low_mu", "n_blocks", "block_mu"]
    order = table["dimension"].map({"county": 0, "street": 1, "industry": 2})
    table = table.assign(_order=order).sort_values(["_order", "key", "year"], kind="stable")
    return table[cols].reset_index(drop=True)

"""Per-mu efficiency metrics (亩均指标) of evaluated units and of parcels, per year.

Units of every output: money 万元, land 亩 (mu), energy tce, electricity 万kWh, emissions t, staff persons.

=====================  ===============================  ==========================
metric                 formula                          unit
=====================  ===============================  ==========================
``tax_per_mu``         tax / land_mu                    万元/亩
``va_per_mu``          value_added / land_mu            万元/亩
``revenue_per_mu``     revenue / land_mu                万元/亩
``va_per_tce``         value_added / energy_tce         万元/tce
``va_per_emission_t``  value_added / emission_t         万元/t
``va_per_staff``       value_added / staff              万元/人
``rd_share``           rd / revenue                     ratio (0.03 = 3 %)
``tax_per_elec``       tax / electricity                万元/万kWh
``revenue_per_elec``   revenue / electricity            万元/万kWh (Wenling 规下)
=====================  ===============================  ==========================

``emission_t`` is the weighted sum of the four capped pollutants (COD, NH3-N, SO2, NOx); the default
weights of 1 sum raw tonnes, a preset may give pollution-equivalent factors instead. A firm's pollutants
that are all missing give a missing ``emission_t``; blanks among reported pollutants count as not emitted.

A denominator that is missing, zero or negative gives NaN (never inf, never 0); a missing numerator
stays missing. Negative tax (refunds) is kept as it is: scoring decides what to do with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.errors import InputError, Problem, format_ids
from gisefficiency.ids import arrow_ids, encode, string_index
from gisefficiency.schema import FLAG_FIRM_COLUMNS, NUMERIC_FIRM_COLUMNS

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "EMISSION_COLUMNS",
    "EXTRA_FLAG_COLUMNS",
    "INPUT_COLUMNS",
    "METRICS",
    "MetricDef",
    "compute_metrics",
    "emission_tonnes",
    "parcel_metrics",
    "unit_metrics",
]


@dataclass(frozen=True)
class MetricDef:
    """One ratio metric: numerator / denominator, with its names and unit in both languages."""

    numerator: str
    denominator: str
    zh: str
    en: str
    unit_zh: str
    unit_en: str

    @property
    def per_mu(self) -> bool:
        """True for per-mu metrics, which compare with thresholds at published precision."""
        return self.denominator == "land_mu"


METRICS: dict[str, MetricDef] = {
    "tax_per_mu": MetricDef("tax", "land_mu", "亩均税收", "tax per mu", "万元/亩", "10k yuan/mu"),
    "va_per_mu": MetricDef("value_added", "land_mu", "亩均增加值", "value added per mu", "万元/亩", "10k yuan/mu"),
    "revenue_per_mu": MetricDef("revenue", "land_mu", "亩均营业收入", "revenue per mu", "万元/亩", "10k yuan/mu"),
    "va_per_tce": MetricDef("value_added", "energy_tce", "单位能耗增加值", "value added per tce",
                            "万元/吨标煤", "10k yuan/tce"),
    "va_per_emission_t": MetricDef("value_added", "emission_t", "单位排放增加值", "value added per t emissions",
                                   "万元/吨", "10k yuan/t"),
    "va_per_staff": MetricDef("value_added", "staff", "全员劳动生产率", "labour productivity",
                              "万元/人", "10k yuan/person"),
    "rd_share": MetricDef("rd", "revenue", "R&D经费占比", "R&D share of revenue", "", ""),
    "tax_per_elec": MetricDef("tax", "electricity", "单位电耗税收", "tax per electricity",
                              "万元/万千瓦时", "10k yuan/10k kWh"),
    "revenue_per_elec": MetricDef("revenue", "electricity", "单位用电营业收入", "revenue per electricity",
                                  "万元/万千瓦时", "10k yuan/10k kWh"),
}

EMISSION_COLUMNS: tuple[str, ...] = ("cod_t", "nh3n_t", "so2_t", "nox_t")

#: Summed inputs of a unit (万元, tce, 万kWh, t, persons).
INPUT_COLUMNS: tuple[str, ...] = (*NUMERIC_FIRM_COLUMNS, "emission_t")

#: Optional yes/no columns some rule sets use (Suichang's 淘汰关停/腾笼换鸟 clauses); carried when present.
EXTRA_FLAG_COLUMNS: tuple[str, ...] = (
    "zombie", "unlicensed", "banned_industry", "non_industrial_tenant", "auction_non_industrial",
)

#: Unit attributes taken from the unit's representative firm (its own row, else the first member's).
ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "name", "scale", "industry", *FLAG_FIRM_COLUMNS, "production_date", "supply_date",
)


def emission_tonnes(frame: pd.DataFrame, weights: Mapping[str, float] | None = None) -> pd.Series:
    """Weighted sum of the pollutant columns present (t); NaN where all of them are missing.

    Parameters
    ----------
    frame
        Rows with any of ``cod_t, nh3n_t, so2_t, nox_t``.
    weights
        Factor per pollutant column; default 1 each (raw tonnes).
    """
    weights = dict.fromkeys(EMISSION_COLUMNS, 1.0) if weights is None else dict(weights)
    cols = [c for c in weights if c in frame.columns]
    if not cols:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    total = np.zeros(len(frame))
    count = np.zeros(len(frame), dtype=np.int64)
    for c in cols:  # missing as 0, added in column order from 0.0 on, as pandas' row sum does
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan) * float(weights[c])
        ok = ~np.isnan(v)
        v[~ok] = 0.0
        total += v
        count += ok
    return pd.Series(np.where(count > 0, total, np.nan), index=frame.index, dtype="float64")


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    n = num.to_numpy(dtype="float64", na_value=np.nan)
    d = den.to_numpy(dtype="float64", na_value=np.nan)
    ok = d > 0  # NaN compares False: missing, zero and negative denominators give NaN
    out = np.full(len(n), np.nan)
    np.divide(n, d, out=out, where=ok)
    return pd.Series(out, index=num.index)


def compute_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with every metric of :data:`METRICS` added from its input columns.

    Inputs that are absent count as missing, so their metrics are NaN.
    """
    nan = pd.Series(np.nan, index=frame.index, dtype="float64")
    cols = {}
    for name, m in METRICS.items():
        cols[name] = _ratio(frame.get(m.numerator, nan),
                            frame.get(m.denominator, nan))
    return frame.assign(**cols)


def _check_columns(firms: pd.DataFrame) -> None:
    missing = [c for c in ("uscc", "year") if c not in firms.columns]
    if missing:
        raise InputError("firm panel lacks required columns",
                         [Problem(f"column {c!r} missing", fix="map the firm table's id and year columns "
                                  "([firms.aliases] in the config)", column=c) for c in missing])


def _check_panel(firms: pd.DataFrame) -> None:
    _check_columns(firms)
    dup = firms.duplicated(["uscc", "year"], keep=False)
    if dup.any():
        rows = firms.loc[dup]
        where = rows.get("src_row", rows.index)
        raise InputError(
            "firm panel has several rows for the same firm and year",
            [Problem(f"{int(dup.sum())} rows: {format_ids(rows['uscc'].astype(str) + '/' + rows['year'].astype(str))}"
                     f" (rows {format_ids(where)})", fix="keep one row per uscc and year (sum them first)",
                     column="uscc")])


def _panel_keys(firms: pd.DataFrame, uscc_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct years (int64) and each row's year code, after checking one row per firm and year."""
    year = pd.to_numeric(firms["year"], errors="coerce")
    if year.isna().any():
        _check_panel(firms)  # duplicates are reported before the missing year
    year = year.astype("int64").to_numpy()
    if len(year) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, hi = int(year.min()), int(year.max())
    if hi - lo < 100_000:  # a plausible span of years: count them instead of sorting or hashing
        present = np.bincount(year - lo, minlength=hi - lo + 1) > 0
        years = np.flatnonzero(present) + lo
        y_codes = (np.cumsum(present) - 1)[year - lo]
    else:
        years, y_codes = np.unique(year, return_inverse=True)
        y_codes = y_codes.reshape(-1)
    # equal text ids and years give equal codes, so no repeated key means no repeated (uscc, year)
    if (uscc_codes < 0).any() or np.bincount(uscc_codes * len(years) + y_codes).max() > 1:
        _check_panel(firms)
    return years, y_codes


def _multi_index(ids: pa.Array, codes: np.ndarray, years: np.ndarray, y_codes: np.ndarray, names: list[str],
                 dtype: Any = "string") -> pd.MultiIndex:
    """MultiIndex ``(id, year)`` straight from integer codes (ids sorted, as ``from_arrays`` would level them)."""
    present = np.zeros(len(ids), dtype=bool)
    present[codes] = True
    new = np.cumsum(present) - 1
    y_present = np.zeros(len(years), dtype=bool)
    y_present[y_codes] = True
    y_new = np.cumsum(y_present) - 1
    level = string_index(ids, np.flatnonzero(present), dtype=dtype)
    return pd.MultiIndex(levels=[level, pd.Index(years[y_present])], codes=[new[codes], y_new[y_codes]],
                         names=names, verify_integrity=False)








def _min_count_sum(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum per key with ``min_count=1`` (a key whose values are all missing stays NaN)."""
    ok = ~np.isnan(values)
    tot = np.bincount(keys[ok], weights=values[ok], minlength=n)
    return np.where(np.bincount(keys[ok], minlength=n) > 0, tot, np.nan)


def _unit_of(fl: pd.DataFrame, fl_codes: np.ndarray, eval_codes: np.ndarray | None, n_ids: int) -> np.ndarray:
    """Unit code of every id code: its ``firm_links`` eval_id, else itself (firms the link stage never saw)."""
    unit = np.arange(n_ids, dtype=np.int64)
    if eval_codes is not None:
        known = eval_codes >= 0
        unit[fl_codes[known]] = eval_codes[known]
    return unit


def _supply_dates(parcels: pd.DataFrame | None, links: Any, sh_codes: np.ndarray, unit: np.ndarray,
                  n_ids: int) -> np.ndarray | None:
    """Earliest supply date (datetime64[ns]) per id code: of the unit's own parcels, else of the parcels it uses.

    None when there are no dates or no shares.
    """
    if parcels is None or "supply_date" not in parcels or len(links.shares) == 0:
        return None
    shares = links.shares
    dates = pd.to_datetime(parcels["supply_date"], errors="coerce").to_numpy(dtype="datetime64[ns]")
    # index_in returns the first match, as keeping the first of duplicated parcel ids does
    at = pc.index_in(arrow_ids(shares["parcel_id"]), value_set=arrow_ids(parcels.index))
    pos = pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    nat = np.iinfo(np.int64).max
    raw = np.where(pos >= 0, dates.view(np.int64)[np.maximum(pos, 0)], nat)
    raw[raw == np.iinfo(np.int64).min] = nat  # NaT never wins a minimum
    named = sh_codes >= 0  # a share without firm id belongs to no unit
    keys = unit[sh_codes[named]]
    raw = raw[named]
    own = shares["kind"].eq("own").to_numpy(dtype=bool, na_value=False)[named]
    earliest_own = np.full(n_ids, nat, dtype=np.int64)
    np.minimum.at(earliest_own, keys[own], raw[own])
    earliest = np.full(n_ids, nat, dtype=np.int64)
    np.minimum.at(earliest, keys, raw)
    best = np.where(earliest_own != nat, earliest_own, earliest)
    best[best == nat] = np.iinfo(np.int64).min
    return best.view("datetime64[ns]")


def unit_metrics(
    firms: pd.DataFrame,
    links: Any,
    *,
    parcels: pd.DataFrame | None = None,
    emission_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Inputs, land, attributes and per-mu metrics of every evaluated unit and year.

    A unit is an ``eval_id`` of ``links.firm_links``: a firm, or a holder with its merged tenants. Its
    inputs are the sum over the member firms reporting that year (``min_count=1``: all missing stays
    missing); its land is the sum of all members' ``land_mu``; its attributes are those of its own firm
    row (``uscc == eval_id``), else of the member with the smallest USCC.

    Parameters
    ----------
    firms
        Firm-year panel (long): ``uscc, year`` and the columns of ``schema.FIRM_COLUMNS`` that exist.
    links
        ``link.Links``: ``firm_links`` (index ``uscc``: ``eval_id, land_mu, tenant``) and ``shares``.
    parcels
        Prepared parcels with ``supply_date``: gives each unit the earliest supply date of its own
        parcels (else of the parcels it uses), unless the firm table has a ``supply_date`` column.
    emission_weights
        Factor per pollutant column for ``emission_t``; default raw tonnes (the preset's
        ``[metrics] emission_weights``).

    Returns
    -------
    pandas.DataFrame
        MultiIndex ``(eval_id, year)``: inputs (``tax`` ... ``emission_t``), ``land_mu``, ``n_firms``,
        attributes (``name, scale, industry, high_tech, tech_sme, public_welfare, in_production,
        production_date, supply_date, tenant, group``), optional flags, and the metrics of
        :data:`METRICS`. ``group`` is ``"tenant"`` for a unit the link stage marks as a tenant, else
        its scale (``"above"``/``"below"``, NA if unknown).

    Raises
    ------
    InputError
        ``uscc`` or ``year`` missing, or several rows for one firm and year.
    """
    _check_columns(firms)
    fl = links.firm_links
    shares = links.shares
    has_eval = "eval_id" in fl
    # One integer code per text id (USCCs of the panel, the links and the units), in sorted id order.
    arrays = [arrow_ids(firms["uscc"]), arrow_ids(fl.index), arrow_ids(shares["uscc"])]
    if has_eval:
        arrays.append(arrow_ids(fl["eval_id"]))
    codes, ids = encode(*arrays)
    uscc_codes, fl_codes, sh_codes = codes[:3]
    fl_eval = codes[3] if has_eval else None
    n_ids = len(ids)
    unit = _unit_of(fl, fl_codes, fl_eval, n_ids)
    years, y_codes = _panel_keys(firms, uscc_codes)
    eval_codes = unit[uscc_codes]
    not_rep = uscc_codes != eval_codes
    # one int64 sort key (unit, year, not own row, uscc): unique, as (uscc, year) is
    ny = len(years)
    unit_year = eval_codes * ny + y_codes
    order = np.argsort((unit_year * 2 + not_rep) * n_ids + uscc_codes)
    uy_sorted = unit_year[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = uy_sorted[1:] != uy_sorted[:-1]
    rep = order[first]  # representative row of each (unit, year): own firm first, then smallest USCC
    group = np.cumsum(first) - 1  # group number of each sorted row
    n_groups = int(first.sum())
    unit_codes = eval_codes[rep]

    index = _multi_index(ids, unit_codes, years, y_codes[rep], ["eval_id", "year"])
    inputs = {c: pd.to_numeric(firms[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
              for c in NUMERIC_FIRM_COLUMNS if c in firms.columns}
    inputs["emission_t"] = emission_tonnes(firms, emission_weights).to_numpy(dtype="float64")
    block = np.full((n_groups, len(INPUT_COLUMNS)), np.nan)  # one float block: no stacking copy
    for i, c in enumerate(INPUT_COLUMNS):
        if c in inputs:
            block[:, i] = _min_count_sum(group, inputs[c][order], n_groups)
    out = pd.DataFrame(block, index=index, columns=list(INPUT_COLUMNS), copy=False)
    out["n_firms"] = np.bincount(group, minlength=n_groups)
    attr_cols = [c for c in (*ATTRIBUTE_COLUMNS, *EXTRA_FLAG_COLUMNS) if c in firms.columns]
    for c in attr_cols:
        out[c] = pd.Series(firms[c].array.take(rep), index=index)

    # Land of a unit: the firm_links rows naming it as eval_id (all firm_links rows without eval_id).
    land = fl["land_mu"].to_numpy(dtype="float64", na_value=np.nan)
    land_keys = fl_eval if fl_eval is not None else fl_codes
    named = land_keys >= 0
    out["land_mu"] = _min_count_sum(land_keys[named], land[named], n_ids)[unit_codes]
    tenant = np.zeros(n_ids, dtype=bool)
    if "tenant" in fl:
        tenant[fl_codes] = fl["tenant"].astype("boolean").to_numpy(dtype=bool, na_value=False)
    out["tenant"] = tenant[unit_codes]

    for c in ("name", "scale", "industry"):
        out[c] = out[c].astype("string") if c in out else pd.Series(pd.NA, index=out.index, dtype="string")
    for c in (*FLAG_FIRM_COLUMNS, *[f for f in EXTRA_FLAG_COLUMNS if f in out]):
        out[c] = out[c].astype("boolean") if c in out else pd.Series(pd.NA, index=out.index, dtype="boolean")
    for c in ("production_date", "supply_date"):
        out[c] = (pd.to_datetime(out[c], errors="coerce") if c in out
                  else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]"))
    supply = _supply_dates(parcels, links, sh_codes, unit, n_ids)
    if supply is not None:
        out["supply_date"] = out["supply_date"].fillna(pd.Series(supply[unit_codes], index=out.index))
    out["group"] = out["scale"].where(~out["tenant"], "tenant").astype("string")
    return compute_metrics(out)  # rows are in (eval_id, year) order already


def parcel_metrics(
    parcels: pd.DataFrame,
    firms: pd.DataFrame,
    links: Any,
    *,
    emission_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Firm figures apportioned to parcels by land share, summed per parcel and year, and their metrics.

    A firm on several parcels contributes ``figure x share_mu / firm land_mu`` to each; a firm whose
    links carry no land (a tenant merged into its holder) is split equally over its parcels.

    Parameters
    ----------
    parcels
        Prepared parcels, index ``parcel_id``, with ``land_mu`` (mu).
    firms
        Firm-year panel (long) with ``uscc, year`` and input columns.
    links
        ``link.Links`` (``shares``: ``uscc, parcel_id, land_mu``).
    emission_weights
        As in :func:`unit_metrics`.

    Returns
    -------
    pandas.DataFrame
        MultiIndex ``(parcel_id, year)`` for every parcel with at least one linked firm-year: apportioned
        inputs, ``n_firms``, the parcel's ``land_mu`` and the metrics of :data:`METRICS`.
    """
    _check_columns(firms)
    shares = links.shares
    (f_codes, sh_codes), _ = encode(arrow_ids(firms["uscc"]), arrow_ids(shares["uscc"]))
    years, y_codes = _panel_keys(firms, f_codes)
    (p_codes,), pids = encode(arrow_ids(shares["parcel_id"]))
    linked = (sh_codes >= 0) & (p_codes >= 0)  # a link without firm or parcel id joins nothing
    sh_codes, p_codes = sh_codes[linked], p_codes[linked]
    n_ids = int(max(f_codes.max(initial=-1), sh_codes.max(initial=-1))) + 1
    mu = shares["land_mu"].to_numpy(dtype="float64", na_value=np.nan)[linked]
    # pandas' grouped sum (compensated) on integer keys: the same totals as grouping on the text ids
    firm_mu = pd.Series(mu).groupby(sh_codes).transform("sum").to_numpy()
    n_links = np.bincount(sh_codes, minlength=n_ids)[sh_codes]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(firm_mu > 0, mu / firm_mu, 1.0 / n_links)

    # Inner join firm-years x links on the firm, in merge order: firm rows in turn, each with its links.
    by_firm = np.argsort(sh_codes, kind="stable")
    counts = np.bincount(sh_codes, minlength=n_ids)
    starts = np.cumsum(counts) - counts
    cnt = np.where(f_codes >= 0, counts[np.maximum(f_codes, 0)], 0) if n_ids else np.zeros(len(f_codes), int)
    left = np.repeat(np.arange(len(f_codes)), cnt)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    right = by_firm[starts[f_codes][left] + offset]

    num_cols = [c for c in NUMERIC_FIRM_COLUMNS if c in firms.columns]
    value_cols = [*num_cols, "emission_t"]
    values = {c: pd.to_numeric(firms[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
              for c in num_cols}
    values["emission_t"] = emission_tonnes(firms, emission_weights).to_numpy(dtype="float64")
    ny = len(years)
    key = p_codes[right] * ny + y_codes[left]  # (parcel, year), numbered in sorted order
    seen = np.zeros(len(pids) * ny, dtype=bool)
    seen[key] = True
    keys = np.flatnonzero(seen)
    group = (np.cumsum(seen) - 1)[key]
    fr = frac[right]
    # one row per column, as pandas stores a float block: the grouped sum then reads memory in order
    block = np.empty((len(value_cols), len(left)))
    for i, c in enumerate(value_cols):
        np.multiply(values[c][left], fr, out=block[i])
    # groups as categorical codes: pandas' compensated grouped sum without hashing the keys again
    cats = pd.Categorical.from_codes(group, categories=pd.RangeIndex(len(keys)))
    out = pd.DataFrame(block.T, columns=value_cols, copy=False).groupby(cats, observed=True).sum(min_count=1)
    out.index = _multi_index(pids, keys // ny, years, keys % ny, ["parcel_id", "year"],
                             dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    # a firm counts once per parcel and year even if it has several links to the parcel
    _, first_pair = np.unique(sh_codes * max(len(pids), 1) + p_codes, return_index=True)
    first_link = np.zeros(len(sh_codes), dtype=bool)
    first_link[first_pair] = True
    out["n_firms"] = np.bincount(group[first_link[right]], minlength=len(keys))
    for c in INPUT_COLUMNS:
        if c not in out:
            out[c] = np.nan
    land = parcels["land_mu"].to_numpy(dtype="float64", na_value=np.nan)
    # index_in returns the first match, as keeping the first of duplicated parcel ids does
    at = pc.index_in(arrow_ids(pids), value_set=arrow_ids(parcels.index))
    pos = pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    land_of = np.where(pos >= 0, land[np.maximum(pos, 0)], np.nan) if len(land) else np.full(len(pos), np.nan)
    out["land_mu"] = land_of[keys // len(years)]
    return compute_metrics(out)

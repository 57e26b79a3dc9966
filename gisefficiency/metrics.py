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

from gisefficiency.errors import InputError, Problem, format_ids
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
    parts = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce").astype("float64") * float(weights[c])
                          for c in cols}, index=frame.index)
    return parts.sum(axis=1, min_count=1)


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


def _check_panel(firms: pd.DataFrame) -> None:
    missing = [c for c in ("uscc", "year") if c not in firms.columns]
    if missing:
        raise InputError("firm panel lacks required columns",
                         [Problem(f"column {c!r} missing", fix="map the firm table's id and year columns "
                                  "([firms.aliases] in the config)", column=c) for c in missing])
    dup = firms.duplicated(["uscc", "year"], keep=False)
    if dup.any():
        rows = firms.loc[dup]
        where = rows.get("src_row", rows.index)
        raise InputError(
            "firm panel has several rows for the same firm and year",
            [Problem(f"{int(dup.sum())} rows: {format_ids(rows['uscc'].astype(str) + '/' + rows['year'].astype(str))}"
                     f" (rows {format_ids(where)})", fix="keep one row per uscc and year (sum them first)",
                     column="uscc")])


def _eval_ids(firms: pd.DataFrame, links: Any) -> pd.Series:
    uscc = firms["uscc"].astype("string")
    fl = links.firm_links
    if "eval_id" in fl:
        ids = uscc.map(fl["eval_id"].astype("string"))
        return ids.fillna(uscc)  # firms the link stage never saw are their own unit
    return uscc


def _supply_dates(parcels: pd.DataFrame | None, links: Any, eval_id_of: pd.Series) -> pd.Series:
    """Earliest supply date of each unit's own parcels, else of the parcels it uses."""
    if parcels is None or "supply_date" not in parcels:
        return pd.Series(dtype="datetime64[ns]")
    shares = links.shares
    dates = pd.to_datetime(parcels["supply_date"], errors="coerce")
    dates = dates[~dates.index.duplicated()]
    s = pd.DataFrame({
        "eval_id": shares["uscc"].astype("string").map(eval_id_of).fillna(shares["uscc"].astype("string")),
        "own": shares["kind"].eq("own").to_numpy(bool),
        "date": shares["parcel_id"].map(dates).to_numpy(),
    })
    own = s[s["own"]].groupby("eval_id")["date"].min()
    anyd = s.groupby("eval_id")["date"].min()
    return own.combine_first(anyd)


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
    _check_panel(firms)
    eval_id = _eval_ids(firms, links)
    year = pd.to_numeric(firms["year"], errors="coerce").astype("int64").to_numpy()
    # Integer keys (unit code, year) instead of grouping on text: one sort, then bincount sums.
    eval_codes, eval_uniques = pd.factorize(eval_id, sort=True)
    uscc = firms["uscc"].astype("string")
    uscc_codes, _ = pd.factorize(uscc, sort=True)
    not_rep = (uscc != eval_id).fillna(True).to_numpy(bool)
    order = np.lexsort((uscc_codes, not_rep, year, eval_codes))
    e_sorted, y_sorted = eval_codes[order], year[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (e_sorted[1:] != e_sorted[:-1]) | (y_sorted[1:] != y_sorted[:-1])
    rep = order[first]  # representative row of each (unit, year): own firm first, then smallest USCC
    group = np.cumsum(first) - 1  # group number of each sorted row
    n_groups = int(first.sum())

    index = pd.MultiIndex.from_arrays([pd.Index(eval_uniques).take(eval_codes[rep]), year[rep]],
                                      names=["eval_id", "year"])
    cols: dict[str, Any] = {}
    inputs = {c: pd.to_numeric(firms[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
              for c in NUMERIC_FIRM_COLUMNS if c in firms.columns}
    inputs["emission_t"] = emission_tonnes(firms, emission_weights).to_numpy(dtype="float64")
    for c in INPUT_COLUMNS:
        if c not in inputs:
            cols[c] = np.full(n_groups, np.nan)
            continue
        v = inputs[c][order]
        ok = ~np.isnan(v)
        tot = np.bincount(group[ok], weights=v[ok], minlength=n_groups)
        cols[c] = np.where(np.bincount(group[ok], minlength=n_groups) > 0, tot, np.nan)  # min_count=1
    cols["n_firms"] = np.bincount(group, minlength=n_groups)
    out = pd.DataFrame({c: cols[c] for c in INPUT_COLUMNS}, index=index)
    out["n_firms"] = cols["n_firms"]
    attr_cols = [c for c in (*ATTRIBUTE_COLUMNS, *EXTRA_FLAG_COLUMNS) if c in firms.columns]
    attrs = firms[attr_cols].iloc[rep]
    for c in attr_cols:
        out[c] = attrs[c].to_numpy()

    fl = links.firm_links
    eval_of_firm = fl["eval_id"].astype("string") if "eval_id" in fl else pd.Series(fl.index, index=fl.index)
    unit_codes = eval_codes[rep]
    unit_land = fl["land_mu"].astype("float64").groupby(eval_of_firm.to_numpy()).sum(min_count=1)
    out["land_mu"] = unit_land.reindex(eval_uniques).to_numpy()[unit_codes]
    tenant = fl["tenant"].astype("boolean") if "tenant" in fl else pd.Series(dtype="boolean")
    out["tenant"] = tenant.reindex(eval_uniques).fillna(False).to_numpy(bool)[unit_codes]

    for c in ("name", "scale", "industry"):
        out[c] = out[c].astype("string") if c in out else pd.Series(pd.NA, index=out.index, dtype="string")
    for c in (*FLAG_FIRM_COLUMNS, *[f for f in EXTRA_FLAG_COLUMNS if f in out]):
        out[c] = out[c].astype("boolean") if c in out else pd.Series(pd.NA, index=out.index, dtype="boolean")
    for c in ("production_date", "supply_date"):
        out[c] = (pd.to_datetime(out[c], errors="coerce") if c in out
                  else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]"))
    supply = _supply_dates(parcels, links, eval_of_firm)
    if len(supply):
        by_unit = supply.reindex(eval_uniques).to_numpy(dtype="datetime64[ns]")[unit_codes]
        out["supply_date"] = out["supply_date"].fillna(pd.Series(by_unit, index=out.index))
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
    _check_panel(firms)
    shares = links.shares
    uscc = shares["uscc"].astype("string")
    mu = shares["land_mu"].astype("float64")
    firm_mu = mu.groupby(uscc.to_numpy()).transform("sum")
    n_links = mu.groupby(uscc.to_numpy()).transform("size")
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(firm_mu.to_numpy() > 0, mu.to_numpy() / firm_mu.to_numpy(), 1.0 / n_links.to_numpy())
    link = pd.DataFrame({"uscc": uscc.to_numpy(), "parcel_id": shares["parcel_id"].to_numpy(), "frac": frac})

    num_cols = [c for c in NUMERIC_FIRM_COLUMNS if c in firms.columns]
    rows = pd.DataFrame({c: pd.to_numeric(firms[c], errors="coerce").astype("float64") for c in num_cols},
                        index=firms.index)
    rows["emission_t"] = emission_tonnes(firms, emission_weights)
    rows["uscc"] = firms["uscc"].astype("string").to_numpy()
    rows["year"] = pd.to_numeric(firms["year"], errors="coerce").astype("int64").to_numpy()
    joined = rows.merge(link, on="uscc", how="inner")
    value_cols = [*num_cols, "emission_t"]
    joined[value_cols] = joined[value_cols].mul(joined["frac"], axis=0)
    grouped = joined.groupby(["parcel_id", "year"])
    out = grouped[value_cols].sum(min_count=1)
    out["n_firms"] = grouped["uscc"].nunique()
    for c in INPUT_COLUMNS:
        if c not in out:
            out[c] = np.nan
    land = parcels["land_mu"].astype("float64")
    land = land[~land.index.duplicated()]
    out["land_mu"] = land.reindex(out.index.get_level_values("parcel_id")).to_numpy()
    return compute_metrics(out).sort_index()

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

from gisefficiency.core.errors import InputError, Problem, format_ids, format_ids_zh
from gisefficiency.core.grouped import (
    apportioned_sums,
    divide,
    floats,
    group_sum,
    min_count_sum,
    multi_index,
    plain_sum,
    sorted_rank,
    sorted_sums,
    take_rows,
    text_sorted,
    unit_of,
)
from gisefficiency.core.ids import arrow_ids, encode, positions, run_heads
from gisefficiency.core.schema import EXTRA_FLAG_COLUMNS, FLAG_FIRM_COLUMNS, NUMERIC_FIRM_COLUMNS
from gisefficiency.io.columns import CERTIFICATE_DATE_COLUMNS
from gisefficiency.link.codes import codes_for

__all__ = [
    "ATTRIBUTE_COLUMNS",
    "EMISSION_COLUMNS",
    "EXTRA_FLAG_COLUMNS",
    "EXTRA_TEXT_COLUMNS",
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

#: Unit attributes taken from the unit's representative firm (its own row, else the first member's).
ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "name", "scale", "industry", *FLAG_FIRM_COLUMNS, "production_date", "supply_date",
)

#: Yearly text columns carried into the panel when the firm table has them: the county's published
#: 综合评价 class of the unit that year (A-D), which class-based rules read before the computed one.
EXTRA_TEXT_COLUMNS: tuple[str, ...] = ("official_grade",)


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
    seen = np.zeros(len(frame), dtype=bool)
    v = np.empty(len(frame))
    ok = np.empty(len(frame), dtype=bool)
    for c in cols:  # missing skipped, added in column order from 0.0 on, as pandas' row sum does
        np.multiply(floats(frame, c), float(weights[c]), out=v)
        np.isnan(v, out=ok)
        np.logical_not(ok, out=ok)
        np.add(total, v, out=total, where=ok)
        seen |= ok
    total[~seen] = np.nan
    return pd.Series(total, index=frame.index, dtype="float64", copy=False)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    out = np.empty(len(num))
    divide(num.to_numpy(dtype="float64", na_value=np.nan), den.to_numpy(dtype="float64", na_value=np.nan), out)
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


def _metric_rows(rows: Mapping[str, np.ndarray], out: np.ndarray) -> None:
    """Every metric of :data:`METRICS` into the rows of ``out`` (one row per metric, in order)."""
    nan = None
    for i, m in enumerate(METRICS.values()):
        num, den = rows.get(m.numerator), rows.get(m.denominator)
        if num is None or den is None:  # an absent input: the metric is missing
            nan = np.full(out.shape[1], np.nan) if nan is None else nan
        divide(nan if num is None else num, nan if den is None else den, out[i])


def _check_columns(firms: pd.DataFrame) -> None:
    missing = [c for c in ("uscc", "year") if c not in firms.columns]
    if missing:
        raise InputError("firm panel lacks required columns",
                         [Problem(f"column {c!r} missing", fix="map the firm table's id and year columns "
                                  "([firms.aliases] in the config)", column=c,
                                  message_zh=f"缺少列 {c!r}",
                                  fix_zh="请映射企业表的代码列和年份列（配置文件中的 [firms.aliases]）") for c in missing],
                         zh="企业面板缺少必需的列")


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
                     column="uscc",
                     message_zh=(f"{int(dup.sum())} 行：{format_ids_zh(rows['uscc'].astype(str) + '/' + rows['year'].astype(str))}"
                         f"（第 {format_ids_zh(where)} 行）"),
                     fix_zh="每个统一社会信用代码每年只保留一行（先合计）")],
            zh="企业面板中同一企业同一年份有多行")


def _panel_keys(firms: pd.DataFrame, uscc_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct years (int64) and each row's year code, after checking one row per firm and year."""
    year = pd.to_numeric(firms["year"], errors="coerce")
    if year.isna().any():
        _check_panel(firms)  # duplicates are reported before the missing year
        rows = firms.loc[year.isna().to_numpy()]
        raise InputError("firm panel has rows without a year", [Problem(
            f"{len(rows)} rows: {format_ids(rows['uscc'].astype(str))} (rows {format_ids(rows.get('src_row', rows.index))})",
            fix="give every row its year (年度) as a number, e.g. 2023", column="year",
            message_zh=f"{len(rows)} 行：{format_ids_zh(rows['uscc'].astype(str))}"
                       f"（第 {format_ids_zh(rows.get('src_row', rows.index))} 行）",
            fix_zh="请为每行填写数字年度，例如 2023")],
            zh="企业面板中有缺少年份的行")
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


def _share_dates(parcels: pd.DataFrame | None, links: Any, ids: pa.Array, unit: np.ndarray,
                 known: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each usable share's unit code, parcel supply date (int64 ns, ``NAT_MAX`` when unknown) and mask of
    the shares kept, or None when there are no dates or no shares.

    ``known``: each share's parcel row and firm code, when the link stage's codes give them.
    """
    if parcels is None or "supply_date" not in parcels or len(links.shares) == 0:
        return None
    shares = links.shares
    dates = pd.to_datetime(parcels["supply_date"], errors="coerce").to_numpy(dtype="datetime64[ns]")
    # index_in returns the first match, as keeping the first of duplicated parcel ids does
    pos = positions(arrow_ids(shares["parcel_id"]), arrow_ids(parcels.index)) if known is None else known[0]
    raw = np.where(pos >= 0, dates.view(np.int64)[np.maximum(pos, 0)], _NAT_MAX)
    raw[raw == np.iinfo(np.int64).min] = _NAT_MAX  # NaT never wins a minimum
    # ids are in code order: a share's position among them is its firm's code (-1: no unit can use it)
    sh_codes = positions(arrow_ids(shares["uscc"]), ids) if known is None else known[1]
    named = sh_codes >= 0
    return unit[sh_codes[named]], raw[named], named


_NAT_MAX = np.iinfo(np.int64).max


def _supply_dates(links: Any, n_ids: int, dated: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Earliest supply date (datetime64[ns]) per id code: of the unit's own parcels, else of the parcels it uses."""
    keys, raw, named = dated
    own = links.shares["kind"].eq("own").to_numpy(dtype=bool, na_value=False)[named]
    earliest_own = np.full(n_ids, _NAT_MAX, dtype=np.int64)
    np.minimum.at(earliest_own, keys[own], raw[own])
    earliest = np.full(n_ids, _NAT_MAX, dtype=np.int64)
    np.minimum.at(earliest, keys, raw)
    best = np.where(earliest_own != _NAT_MAX, earliest_own, earliest)
    best[best == _NAT_MAX] = np.iinfo(np.int64).min
    return best.view("datetime64[ns]")


def _land_by_year(land: np.ndarray, unit_codes: np.ndarray, row_years: np.ndarray, links: Any, n_ids: int,
                  dated: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """A unit's land in each of its years: a parcel counts from the year it was supplied (by 31 December).

    A firm does not hold land before it is supplied, so a year before the supply date has no 亩均 figure
    over it (and breaks "consecutive years"). Rows of units with no later-supplied land keep ``land``
    exactly; the others sum the shares held that year (missing when none is).
    """
    keys, raw, named = dated
    supply_year = np.full(len(raw), np.iinfo(np.int64).min)
    has = raw != _NAT_MAX
    supply_year[has] = raw[has].view("datetime64[ns]").astype("datetime64[Y]").astype(np.int64) + 1970
    first_year = int(row_years.min()) if len(row_years) else 0
    late = supply_year > first_year
    if not late.any():
        return land
    mu = links.shares["land_mu"].to_numpy(dtype="float64", na_value=np.nan)[named]
    touched = np.zeros(n_ids, dtype=bool)
    touched[keys[late]] = True
    rows = np.flatnonzero(touched[unit_codes] & (supply_year[late].max() > row_years))
    out = land.copy()
    for y in np.unique(row_years[rows]):
        held = (supply_year <= y) & ~np.isnan(mu)
        total = np.bincount(keys[held], weights=mu[held], minlength=n_ids)
        count = np.bincount(keys[held], minlength=n_ids)
        at = rows[row_years[rows] == y]
        u = unit_codes[at]
        out[at] = np.where(count[u] > 0, total[u], np.nan)
    return out


def _land_of_land_years(land: np.ndarray, unit_codes: np.ndarray, row_years: np.ndarray, by_year: pd.DataFrame,
                        ids: pa.Array, unit: np.ndarray, parcels: pd.DataFrame | None) -> np.ndarray:
    """A unit's land in each year the land rows cover, from that year's shares (``Links.by_year``).

    Land rows with a year column say what each firm held that year; a unit-year of such a year gets the
    sum of its members' shares that year (missing when it held none), a parcel counting from the year of
    its supply date. Years the land rows do not cover keep ``land`` (the latest holdings).
    """
    f = positions(arrow_ids(by_year["uscc"]), ids)
    mu = by_year["land_mu"].to_numpy(dtype="float64", na_value=np.nan)
    share_year = by_year["year"].to_numpy(dtype=np.int64)
    ok = (f >= 0) & ~np.isnan(mu)
    if parcels is not None and "supply_date" in parcels:
        first = ~parcels.index.duplicated()
        supplied = pd.Series(pd.to_datetime(parcels["supply_date"], errors="coerce").dt.year.to_numpy(
            dtype="float64", na_value=np.nan)[first], index=parcels.index[first])
        with np.errstate(invalid="ignore"):
            ok &= ~(supplied.reindex(pd.Index(by_year["parcel_id"])).to_numpy(dtype="float64") > share_year)
    u = unit[np.maximum(f, 0)]
    out = land.copy()
    for y in np.intersect1d(np.unique(share_year), np.unique(row_years)):  # a handful of years
        held = ok & (share_year == y)
        total = np.bincount(u[held], weights=mu[held], minlength=len(unit))
        count = np.bincount(u[held], minlength=len(unit))
        at = np.flatnonzero(row_years == y)
        out[at] = np.where(count[unit_codes[at]] > 0, total[unit_codes[at]], np.nan)
    return out


#: Land-right holder figures of a unit (see :func:`_holdings`), added to the unit panel after the inputs.
HOLDER_COLUMNS: tuple[str, ...] = ("holder_land_mu", "holder_other_firms", "holder_tax", "holder_tax_per_mu",
                                   "leased_floor_m2")


def _merge_order(left_keys: np.ndarray, right_keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs of the inner join of two key columns (codes in ``0 .. n_keys - 1``), in pandas' merge
    order: left rows in turn, each with its right rows in their order. Sums over the pairs then add in
    the order they did over the merged frame."""
    by_key = np.argsort(right_keys, kind="stable")
    n_right = np.bincount(right_keys, minlength=n_keys)
    starts = np.cumsum(n_right) - n_right
    cnt = n_right[left_keys]
    left = np.repeat(np.arange(len(left_keys)), cnt)
    right = by_key[np.arange(len(left)) - np.repeat(np.cumsum(cnt) - cnt, cnt) + starts[left_keys][left]]
    return left, right


def _other_firms(hp: np.ndarray, hu: np.ndarray, lp: np.ndarray, lf: np.ndarray, lu: np.ndarray, n_p: int,
                 n_ids: int) -> np.ndarray:
    """Per unit (float64): the distinct firms of other units linked to a parcel the unit holds.

    ``hp, hu``: parcel and unit code of each holding (own) link; ``lp, lf, lu``: parcel, firm and unit code
    of every usable link (all codes >= 0). Each holding meets the links of its parcel (a join on the
    parcel by counting, no hashing); a (unit, firm) pair counts once however many parcels it meets on.
    """
    left, right = _merge_order(hp, lp, n_p)
    other = lu[right] != hu[left]
    pairs = np.unique(hu[left][other].astype(np.int64) * max(n_ids, 1) + lf[right][other])
    return np.bincount(pairs // max(n_ids, 1), minlength=n_ids).astype("float64")


def _holdings(firms: pd.DataFrame, links: Any, ids: pa.Array, unit: np.ndarray, uscc_codes: np.ndarray,
              y_codes: np.ndarray, years: np.ndarray, group_unit: np.ndarray, group_year: np.ndarray,
              parcels: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """What a unit holds as land-right holder (国有土地使用权人), per output row ``(group_unit, group_year)``.

    - ``holder_land_mu``: land of the parcels its firms hold (own links), whole parcels, tenants' floor
      included; co-holders of one parcel split it by their own shares (equally when those are all 0).
    - ``holder_other_firms``: firms outside the unit linked on that land (its tenants), 0 for a holder
      alone on its land.
    - ``holder_tax``: tax of every firm on those parcels that year (the holder's own and its tenants'),
      each firm's tax apportioned to its parcels by land share as in :func:`parcel_metrics`; missing
      when a firm reporting on one of them that year has a blank tax (a blank is never 0), and for a
      holder without tenants (whose combined figure is its own 亩均税收).
    - ``holder_tax_per_mu``: the two divided, the Wenzhou ETDZ 年度综合亩均税收 of a land-right holder.
    - ``leased_floor_m2``: floor area its firms lease from others (承租面积), NaN when none is known; a
      merged tenant's floor on its own unit's parcel is not leased from others.

    A parcel counts from the year of its supply date (as the unit's own land does). Units holding no
    parcel have NaN holder figures.
    """
    n_out = len(group_unit)
    nan = np.full(n_out, np.nan)
    out = {"holder_tax": nan.copy(), "holder_land_mu": nan.copy(), "holder_other_firms": nan.copy(),
           "leased_floor_m2": nan.copy()}
    shares = links.shares
    if not len(shares):
        return out
    f = positions(arrow_ids(shares["uscc"]), ids)
    p, pids = pd.factorize(shares["parcel_id"])
    mu = shares["land_mu"].to_numpy(dtype="float64", na_value=np.nan)
    own = shares["kind"].eq("own").to_numpy(dtype=bool, na_value=False)
    floor = pd.to_numeric(shares["floor_area_m2"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan) \
        if "floor_area_m2" in shares else np.full(len(shares), np.nan)
    ok = (f >= 0) & (p >= 0) & ~np.isnan(mu)
    n_ids = len(ids)
    u = np.where(f >= 0, unit[np.maximum(f, 0)], -1)

    # leased floor of a unit: the sum of its known leased floors (a snapshot, like the links); floor a
    # merged tenant leases from its own unit's holder is not leased by the unit
    leased = ok & ~own & ~np.isnan(floor)
    width = np.int64(max(n_ids, 1))
    leased &= ~np.isin(p * width + u, (p * width + u)[ok & own])
    if leased.any():
        total = np.bincount(u[leased], weights=floor[leased], minlength=n_ids)
        has = np.bincount(u[leased], minlength=n_ids) > 0
        out["leased_floor_m2"] = np.where(has, total, np.nan)[group_unit]

    holds = ok & own
    if not holds.any():
        return out
    n_p = len(pids)
    parcel_mu = np.bincount(p[ok], weights=mu[ok], minlength=n_p)
    # co-holders split a parcel by their own shares, equally when those are all 0
    own_mu = np.bincount(p[holds], weights=mu[holds], minlength=n_p)
    n_own = np.bincount(p[holds], minlength=n_p)
    weight = np.where(own_mu[p] > 0, mu / np.where(own_mu[p] > 0, own_mu[p], 1.0), 1.0 / np.maximum(n_own[p], 1))
    supply = np.full(n_p, np.nan)
    if parcels is not None and "supply_date" in parcels:
        dates = pd.to_datetime(parcels["supply_date"], errors="coerce")
        first = ~parcels.index.duplicated()
        by_id = pd.Series(dates.dt.year.to_numpy(dtype="float64", na_value=np.nan)[first], index=parcels.index[first])
        supply = by_id.reindex(pd.Index(pids)).to_numpy(dtype="float64", na_value=np.nan)
    link_year = supply[np.maximum(p, 0)]
    tax = floats(firms, "tax") if "tax" in firms.columns else np.full(len(firms), np.nan)
    hp, hw, hu = p[holds], weight[holds], u[holds]
    # other firms on the land a unit holds (its tenants): the combined figures speak only for such holders
    others = _other_firms(hp, hu, p[ok], f[ok], u[ok], n_p, n_ids)
    is_holder = np.bincount(hu, minlength=n_ids) > 0
    out["holder_other_firms"] = np.where(is_holder, others, np.nan)[group_unit]
    land = np.full(n_out, np.nan)
    tax_out = np.full(n_out, np.nan)
    for yc in np.unique(group_year):  # a handful of years
        # a parcel counts from the year of its supply date; each firm's tax that year goes to the parcels
        # it has then by land share (equally over them when it has no land)
        with np.errstate(invalid="ignore"):
            active = ok & ~(link_year > years[yc])
        # only parcels of holders with tenants need their tax: the others have no combined figure
        held_p = np.zeros(n_p, dtype=bool)
        held_p[p[active & own & (others[np.maximum(u, 0)] > 0)]] = True
        firm_mu = np.bincount(f[active], weights=mu[active], minlength=n_ids)
        n_links = np.bincount(f[active], minlength=n_ids)
        on = active & held_p[np.maximum(p, 0)]
        fo = f[on]
        frac = np.where(firm_mu[fo] > 0, mu[on] / np.where(firm_mu[fo] > 0, firm_mu[fo], 1.0),
                        1.0 / np.maximum(n_links[fo], 1))
        wanted = np.zeros(n_ids, dtype=bool)
        wanted[fo] = True
        this_year = (y_codes == yc) & wanted[np.maximum(uscc_codes, 0)] & (uscc_codes >= 0)
        left, right = _merge_order(uscc_codes[this_year], fo, n_ids)  # the firm's links, firm-year by firm-year
        v = tax[this_year][left] * frac[right]
        jp = p[on][right].astype(np.int64)
        blank_v = np.isnan(v)
        parcel_tax = np.bincount(jp[~blank_v], weights=v[~blank_v], minlength=n_p)
        reported = np.bincount(jp, minlength=n_p) > 0
        parcel_blank = np.bincount(jp[blank_v], minlength=n_p) > 0
        held = active[holds]
        land_u = np.bincount(hu[held], weights=hw[held] * parcel_mu[hp[held]], minlength=n_ids)
        count_u = np.bincount(hu[held], minlength=n_ids)
        # a parcel nobody on it reported for that year adds nothing; a blank tax makes the holder's sum blank
        blank = held & reported[hp] & parcel_blank[hp]
        add = held & reported[hp] & ~parcel_blank[hp]
        tax_u = np.bincount(hu[add], weights=hw[add] * parcel_tax[hp[add]], minlength=n_ids)
        seen_u = np.bincount(hu[add], minlength=n_ids) > 0
        blank_u = np.bincount(hu[blank], minlength=n_ids) > 0
        rows_y = np.flatnonzero(group_year == yc)
        gu = group_unit[rows_y]
        land[rows_y] = np.where(count_u[gu] > 0, land_u[gu], np.nan)
        tax_out[rows_y] = np.where(seen_u[gu] & ~blank_u[gu] & (count_u[gu] > 0), tax_u[gu], np.nan)
    out["holder_land_mu"] = land
    out["holder_tax"] = np.where(out["holder_other_firms"] > 0, tax_out, np.nan)
    return out


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
    has_eval = "eval_id" in fl
    # One integer code per text id (USCCs of the panel and of the units), in sorted id order.
    lc = codes_for(links, firms)
    if lc is not None:  # the link stage numbered the panel's firms (all units are among them): rank them
        fl_codes, ids = sorted_rank(lc.firm_ids)
        uscc_codes, fl_eval = fl_codes[lc.panel_f], fl_codes[lc.eval_f]
    else:  # firm_links is listed next to the panel and eval_id next to firm_links: they usually line up
        arrays = [arrow_ids(firms["uscc"]), arrow_ids(fl.index)]
        if has_eval:
            arrays.append(arrow_ids(fl["eval_id"]))
        codes, ids = encode(*arrays)
        uscc_codes, fl_codes = codes[:2]
        fl_eval = codes[2] if has_eval else None
    n_ids = len(ids)
    unit = unit_of(fl_codes, fl_eval, n_ids)
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
    del uy_sorted, unit_year
    rep = order[first]  # representative row of each (unit, year): own firm first, then smallest USCC
    group = np.cumsum(first) - 1  # group number of each sorted row
    n_groups = len(rep)
    unit_codes = eval_codes[rep]
    index = multi_index(ids, unit_codes, years, y_codes[rep], ["eval_id", "year"])

    # All float columns in one block (one row per column, as pandas stores it): no copy when framed.
    float_cols = [*INPUT_COLUMNS, "land_mu", *METRICS]
    block = np.empty((len(float_cols), n_groups))  # every row is written below: no fill pass
    rows = dict(zip(float_cols, block, strict=True))
    starts = np.flatnonzero(first)
    for c in INPUT_COLUMNS:
        if c in firms.columns or c == "emission_t":
            v = emission_tonnes(firms, emission_weights).to_numpy() if c == "emission_t" else floats(firms, c)
            sorted_sums(v, order, group, starts, rows[c])
        else:
            rows[c].fill(np.nan)
    del order
    # Land of a unit: the firm_links rows naming it as eval_id (all firm_links rows without eval_id).
    land = fl["land_mu"].to_numpy(dtype="float64", na_value=np.nan)
    land_keys = fl_eval if fl_eval is not None else fl_codes
    named = land_keys >= 0
    rows["land_mu"][:] = min_count_sum(land_keys[named], land[named], n_ids)[unit_codes]
    known = None
    if lc is not None and parcels is not None and parcels.index is lc.parcel_index():
        known = (lc.share_p, fl_codes[lc.share_f])
    dated = _share_dates(parcels, links, ids, unit, known)
    if dated is not None:
        rows["land_mu"][:] = _land_by_year(rows["land_mu"], unit_codes, years[y_codes[rep]], links, n_ids, dated)
    if getattr(links, "by_year", None) is not None:
        rows["land_mu"][:] = _land_of_land_years(rows["land_mu"], unit_codes, years[y_codes[rep]], links.by_year,
                                                 ids, unit, parcels)
    _metric_rows(rows, block[len(INPUT_COLUMNS) + 1:])

    out = pd.DataFrame(block.T, index=index, columns=float_cols, copy=False)
    extra = {"n_firms": np.bincount(group, minlength=n_groups)}
    del group
    attr_cols = [c for c in (*ATTRIBUTE_COLUMNS, *EXTRA_FLAG_COLUMNS, *EXTRA_TEXT_COLUMNS, *CERTIFICATE_DATE_COLUMNS)
                 if c in firms.columns]
    for c in attr_cols:
        extra[c] = pd.Series(take_rows(firms[c], rep, few_values=c in ("scale", "industry")), index=index)
    tenant = np.zeros(n_ids, dtype=bool)
    if "tenant" in fl:
        tenant[fl_codes] = fl["tenant"].astype("boolean").to_numpy(dtype=bool, na_value=False)
    n_before_land = len(extra)  # columns inserted before land_mu (it is in the float block already)
    extra["tenant"] = tenant[unit_codes]
    for c in ("name", "scale", "industry"):
        extra[c] = (extra[c].astype("string") if c in extra
                    else pd.Series(pd.NA, index=index, dtype="string"))
    for c in EXTRA_TEXT_COLUMNS:
        if c in extra:
            extra[c] = extra[c].astype("string")
    for c in (*FLAG_FIRM_COLUMNS, *[f for f in EXTRA_FLAG_COLUMNS if f in extra]):
        extra[c] = (extra[c].astype("boolean") if c in extra
                    else pd.Series(pd.NA, index=index, dtype="boolean"))
    for c in ("production_date", "supply_date"):
        extra[c] = (pd.to_datetime(extra[c], errors="coerce") if c in extra
                    else pd.Series(pd.NaT, index=index, dtype="datetime64[ns]"))
    for c in CERTIFICATE_DATE_COLUMNS:  # only where the firm table has them
        if c in extra:
            extra[c] = pd.to_datetime(extra[c], errors="coerce")
    if dated is not None:
        supply = _supply_dates(links, n_ids, dated)
        extra["supply_date"] = extra["supply_date"].fillna(pd.Series(supply[unit_codes], index=index))
    scale = extra["scale"]
    extra["group"] = scale.where(~extra["tenant"], "tenant").astype("string")
    # columns in the order of the contract: inputs, n_firms, attributes, land_mu, tenant, group, metrics
    at = len(INPUT_COLUMNS)
    for i, (c, values) in enumerate(extra.items()):
        at += i == n_before_land  # step over land_mu
        out.insert(at, c, values)
        at += 1
    held = _holdings(firms, links, ids, unit, uscc_codes, y_codes, years, unit_codes, y_codes[rep], parcels)
    ratio = np.empty(n_groups)
    divide(held["holder_tax"], held["holder_land_mu"], ratio)
    held["holder_tax_per_mu"] = ratio
    for c in HOLDER_COLUMNS:  # after the metrics: the contract's columns keep their places
        out[c] = held[c]
    return out  # rows are in (eval_id, year) order already


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
    su = arrow_ids(shares["uscc"])
    lc = codes_for(links, firms, parcels)
    if lc is not None:  # the link stage's codes: firms in first appearance, shares' parcels by layer row
        f_codes, sh_all, n_ids = lc.panel_f, lc.share_f, len(lc.firm_ids)
        land_codes, pids = sorted_rank(arrow_ids(parcels.index))  # link made sure the ids are unique
        p_codes = land_codes[lc.share_p]
    else:
        fu = arrow_ids(firms["uscc"])
        # The join needs equal ids only, not their order: a firm's code is the first run of its rows.
        heads = run_heads(fu)
        fh = fu.filter(pa.array(heads))
        f_codes = positions(fh, fh)[np.cumsum(heads) - 1]
        sh_all = positions(su, fh)  # -1: a firm outside the panel (or none), which no firm-year joins
        n_ids = len(fh)
        # parcel ids coded with the parcels' own, in sorted order: the rows' order, and each one's land
        (land_codes, p_codes), pids = encode(arrow_ids(parcels.index), arrow_ids(shares["parcel_id"]))
    years, y_codes = _panel_keys(firms, f_codes)
    linked = su.is_valid().to_numpy(zero_copy_only=False) & (p_codes >= 0)
    mu = shares["land_mu"].to_numpy(dtype="float64", na_value=np.nan)
    # how pandas would have summed each firm's land over all links with firm and parcel ids
    plain = text_sorted(su.filter(pa.array(linked))) and not np.isnan(mu[linked]).any()
    joins = linked & (sh_all >= 0)
    sh_codes, p_codes, mu = sh_all[joins], p_codes[joins], mu[joins]
    firm_mu = (plain_sum(sh_codes, mu, n_ids, min_count=0) if plain
               else group_sum(sh_codes, mu, n_ids, min_count=0))[sh_codes]
    n_links = np.bincount(sh_codes, minlength=n_ids)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(firm_mu > 0, mu / firm_mu, 1.0 / n_links[sh_codes])

    # Inner join firm-years x links on the firm, in merge order: firm rows in turn, each with its links.
    by_firm = np.argsort(sh_codes, kind="stable")
    starts = np.cumsum(n_links) - n_links
    cnt = np.where(f_codes >= 0, n_links[np.maximum(f_codes, 0)], 0) if n_ids else np.zeros(len(f_codes), int)
    left = np.repeat(np.arange(len(f_codes)), cnt)
    right = np.arange(len(left)) - np.repeat(np.cumsum(cnt) - cnt, cnt)  # offset among the firm's links
    right += starts[f_codes[left]]
    right = by_firm[right]
    del by_firm, cnt

    ny = len(years)
    key = p_codes[right] * ny + y_codes[left]  # (parcel, year), numbered in sorted order
    seen = np.zeros(len(pids) * ny, dtype=bool)
    seen[key] = True
    keys = np.flatnonzero(seen)
    group = (np.cumsum(seen) - 1)[key]
    del key, seen
    n_groups = len(keys)
    num_cols = [c for c in NUMERIC_FIRM_COLUMNS if c in firms.columns]
    value_cols = [*num_cols, "emission_t"]
    float_cols = [*value_cols, *[c for c in INPUT_COLUMNS if c not in value_cols], "land_mu", *METRICS]
    block = np.empty((len(float_cols), n_groups))  # every row is written below: no fill pass
    rows = dict(zip(float_cols, block, strict=True))
    for c in float_cols[len(value_cols):-len(METRICS) - 1]:
        rows[c].fill(np.nan)  # inputs the panel lacks
    values = {c: floats(firms, c) for c in num_cols}
    values["emission_t"] = emission_tonnes(firms, emission_weights).to_numpy()
    apportioned_sums(values, left, frac[right], group, rows)
    del values
    # a firm counts once per parcel and year even if it has several links to the parcel
    _, first_pair = np.unique(sh_codes * max(len(pids), 1) + p_codes, return_index=True)
    first_link = np.zeros(len(sh_codes), dtype=bool)
    first_link[first_pair] = True
    n_firms = np.bincount(group[first_link[right]], minlength=n_groups)
    del left, right, group
    # land of a parcel: the first parcels row with its id, as index_in matches
    land = parcels["land_mu"].to_numpy(dtype="float64", na_value=np.nan)
    first_row = np.full(len(pids), len(land), dtype=np.int64)
    np.minimum.at(first_row, land_codes[land_codes >= 0], np.flatnonzero(land_codes >= 0))
    land_of = np.append(land, np.nan)[first_row]
    rows["land_mu"][:] = land_of[keys // ny]
    if "supply_date" in parcels:
        # a parcel's land counts from the year it was supplied: no per-mu figure before it
        supplied = pd.to_datetime(parcels["supply_date"], errors="coerce").dt.year.to_numpy(dtype="float64",
                                                                                            na_value=np.nan)
        supply_of = np.append(supplied, np.nan)[first_row]
        with np.errstate(invalid="ignore"):
            before = supply_of[keys // ny] > years[keys % ny]
        rows["land_mu"][before] = np.nan
    _metric_rows(rows, block[len(float_cols) - len(METRICS):])
    index = multi_index(pids, keys // ny, years, keys % ny, ["parcel_id", "year"],
                         dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    out = pd.DataFrame(block.T, index=index, columns=float_cols, copy=False)
    out.insert(len(value_cols), "n_firms", n_firms)
    return out

"""Carry the 台账 forward one year: last year's ledger as staff returned it + this year's Result → this year's.

The seeds keep the low-efficiency list as a ledger worked from year to year (动态排摸、分类建档、清单管理、
闭环销号, seeds 002 and 003). :func:`update` is pure: frames in, a new frame out.

Matching a row of last year's ledger to a firm of this year: by USCC first; staff correct or mistype a few
USCCs, so a row whose USCC is not found falls back to its parcel ids (a firm linked to one of them, the one
with the same name when several are) and then to the firm's name (when exactly one firm has it). Every row
says how it matched (``match``); a row that matches nothing is a firm that is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.errors import ConfigError
from gisefficiency.ledger.columns import (
    CHANGED,
    CLOSED,
    CONTINUED,
    EXITED,
    GONE_REASON,
    HEADERS,
    MATCH_NAME,
    MATCH_NEW,
    MATCH_NONE,
    MATCH_PARCEL,
    MATCH_USCC,
    NEW,
    RAISED,
    RELISTED,
    STAFF_COLUMNS,
    STATUSES,
    years_in,
)

__all__ = ["add_deadlines", "update"]

_PARCEL_SEP = "、"


def _firm_facts(result: Any) -> pd.DataFrame:
    """One row per firm of the run: what the ledger shows about it this year (reasons and parcel ids come
    later, from :func:`_add_shown`, for the firms the ledger shows only)."""
    firms = result.firms
    policy = result.policy
    low = [cid for cid, c in policy.categories.items() if c.low_efficiency]
    out = pd.DataFrame(index=pd.Index(firms.index.astype(str), name="uscc"))
    for col in ("name", "street", "land_mu", "tax_per_mu", "energy_tce", "disposal"):
        if col not in firms.columns:
            out[col] = np.nan
        elif col in ("name", "street") and isinstance(firms[col].dtype, pd.StringDtype):
            out[col] = firms[col].array  # Arrow text as it is: the rows the ledger shows become objects later
        else:
            out[col] = firms[col].to_numpy()
    out["disposal"] = out["disposal"].fillna("").astype(str)
    out["listed"] = out["disposal"].isin(low)
    # Gone: no land this year (the firm left its parcels, the land was taken back) or no row at all.
    out["present"] = pd.to_numeric(out["land_mu"], errors="coerce").gt(0).to_numpy()
    return out


def _shares(result: Any) -> pd.DataFrame | None:
    """The run's (firm, parcel) links (``uscc, parcel_id, kind``), or None without any."""
    shares = getattr(getattr(result, "links", None), "shares", None)
    return shares if shares is not None and len(shares) else None


def _joined_parcel_ids(shares: pd.DataFrame | None, usccs: pd.Index) -> np.ndarray:
    """Each of ``usccs``' parcel ids joined by "、" in the links' order (NaN for a firm without any).

    The links of these firms are grouped by their position and joined by Arrow's ``binary_join`` over
    list offsets: a pandas group-by with ``"、".join`` costs a Python call per firm.
    """
    out = np.full(len(usccs), np.nan, dtype=object)
    if shares is None or not len(usccs):
        return out
    at = pc.index_in(_text(shares["uscc"].astype(str)), value_set=_text(usccs))  # null: a firm not asked for
    keep = at.is_valid()
    at = at.filter(keep).to_numpy().astype(np.int64)
    pid = _text(shares["parcel_id"].astype(str)).filter(keep)
    order = np.argsort(at, kind="stable")  # parcels of a firm stay in the links' order
    counts = np.bincount(at, minlength=len(usccs))
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), pid.take(pa.array(order)))
    joined = pc.binary_join(lists, pa.scalar(_PARCEL_SEP, pa.large_string())).to_numpy(zero_copy_only=False)
    out[counts > 0] = joined[counts > 0]
    return out


def _add_shown(facts: pd.DataFrame, result: Any, shares: pd.DataFrame | None, wanted: np.ndarray) -> None:
    """``reason_zh`` (this year's verdict reason) and ``parcel_ids`` of the firms at positions ``wanted``,
    made for them only: for every firm of a county they would cost most of the update."""
    firms = result.firms
    reason = np.full(len(facts), np.nan, dtype=object)
    if hasattr(result, "with_reasons"):
        rows = result.with_reasons(firms.iloc[wanted], lang="zh")
        if "reason_zh" in rows.columns:
            reason[wanted] = rows["reason_zh"].to_numpy(object)
    elif "reason_zh" in firms.columns:
        reason = firms["reason_zh"].to_numpy(object)
    facts["reason_zh"] = reason
    parcel_ids = np.full(len(facts), np.nan, dtype=object)
    parcel_ids[wanted] = _joined_parcel_ids(shares, facts.index[wanted])
    facts["parcel_ids"] = parcel_ids


def _parcel_owners(shares: pd.DataFrame | None, parcel_ids: Iterable[str]) -> dict[str, list[str]]:
    """Parcel id -> the firms linked to it (holder first), for the parcel fallback; only ``parcel_ids``."""
    wanted = pd.Index(list(parcel_ids), dtype=object).unique()
    if shares is None or not len(wanted):
        return {}
    pid = shares["parcel_id"].astype(str)
    some = shares[_isin(pid, wanted)]
    ordered = some.assign(_own=some["kind"].astype(str).ne("own")).sort_values("_own", kind="stable")
    return {str(k): list(map(str, v)) for k, v in ordered.groupby("parcel_id", sort=False)["uscc"]}


def _text(values: Any) -> pa.Array:
    """Text values (a Series, Index or array) as one Arrow array; ArrowTypeError if they are not text."""
    arr = pa.array(getattr(values, "array", values), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_null(arr.type)):
        raise pa.ArrowTypeError(f"not text: {arr.type}")
    return arr.cast(pa.large_string())


def _isin(values: Any, among: Any) -> np.ndarray:
    """``values.isin(among)`` as a boolean array, by Arrow's hash lookup when both are text.

    pandas' ``isin`` on Arrow-backed text goes through Python objects: half a second for 30k USCCs among
    100k firms, where Arrow takes 20 ms. A missing value is in ``among`` when ``among`` has one, as in pandas.
    """
    try:
        return pc.is_in(_text(values), value_set=_text(among)).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.asarray(pd.Index(values).isin(pd.Index(among)), dtype=bool)


def _clean_uscc(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.upper()


def _match(previous: pd.DataFrame, facts: pd.DataFrame, shares: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """This year's USCC for each previous row (NA: not found) and how it was found."""
    uscc = _clean_uscc(previous["uscc"])
    found = uscc.where(_isin(uscc, facts.index))
    how = np.where(found.notna(), MATCH_USCC, MATCH_NONE).astype(object)
    miss = np.flatnonzero(found.isna().to_numpy())
    if not len(miss):
        return found, pd.Series(how, index=previous.index, dtype=object)
    # Only rows whose USCC is not found get here: mistyped codes and firms that are gone, a small part of
    # the ledger, so a loop over them is cheap; the lookups it needs are made for their parcels only.
    old = uscc.to_numpy(object)[miss]
    names_prev = previous["name"].to_numpy(object)[miss]
    pids_prev = previous["parcel_ids"].to_numpy(object)[miss]
    wanted = [[p.strip() for p in str(v).split(_PARCEL_SEP)] if pd.notna(v) else [] for v in pids_prev]
    owners = _parcel_owners(shares, (p for ps in wanted for p in ps))
    names = facts["name"].astype("string").str.strip()
    # The names of the firms on their parcels, and the firms named as one of these rows is (a name on one
    # firm only is a match): looked up for these rows' firms and names only.
    near = pd.Index(list(dict.fromkeys(u for us in owners.values() for u in us)), dtype=object)
    at = pc.index_in(_text(near), value_set=_text(facts.index)).to_numpy(zero_copy_only=False)
    found_at = ~np.isnan(at)
    near_names = names.iloc[at[found_at].astype(np.int64)]
    name_of = dict(zip(near[found_at], near_names.astype(object).where(near_names.notna(), None), strict=True))
    asked = {str(v).strip() for v in names_prev if pd.notna(v)} - {""}
    named = names[_isin(names, pd.Index(list(asked), dtype=object))]
    by_name = named[~named.duplicated(keep=False)].dropna()
    name_to_uscc = pd.Series(by_name.index, index=by_name.to_numpy())
    taken = set(found.dropna())
    picks = found.to_numpy(object, copy=True)
    for k, i in enumerate(miss):
        name = str(names_prev[k]).strip() if pd.notna(names_prev[k]) else ""
        candidates = [u for p in wanted[k] for u in owners.get(p, []) if u not in taken]
        candidates = list(dict.fromkeys(candidates))
        same_name = [u for u in candidates if name and name_of.get(u) == name]
        pick = same_name[0] if same_name else (candidates[0] if len(candidates) == 1 else None)
        if pick is not None:
            how[i] = f"{MATCH_PARCEL}（原代码{old[k]}）"
        elif name and name in name_to_uscc.index and name_to_uscc[name] not in taken:
            pick = str(name_to_uscc[name])
            how[i] = f"{MATCH_NAME}（原代码{old[k]}）"
        if pick is not None:
            picks[i] = pick
            taken.add(pick)
    found = pd.Series(picks, index=previous.index, dtype=found.dtype)
    return found, pd.Series(how, index=previous.index, dtype=object)


def update(previous: pd.DataFrame | None, result: Any, *, year: int | None = None) -> pd.DataFrame:
    """This year's ledger (台账) from last year's and this run.

    Parameters
    ----------
    previous
        Last year's ledger as :func:`gisefficiency.io.ledger.read_ledger` returns it (internal column names,
        staff columns as staff wrote them), or None for the first year.
    result
        This year's run (:class:`gisefficiency.result.Result`): firms with ``disposal`` and the policy's
        categories; a firm is listed when its category is a low-efficiency one.
    year
        The ledger's year (default: ``result.year``).

    Returns
    -------
    DataFrame
        One row per firm listed this year or before: ``uscc, name, parcel_ids, street, category, status``
        (新列入 / 类别变化 / 继续列入 / 重新列入 / 已销号), ``status_reason`` (with the numbers), ``first_year``,
        ``closed_year``, ``closed_kind`` (退出: the firm or its land is gone; 提升: no longer meets the rules),
        ``land_mu``, ``energy_tce``, ``reason`` (this year's verdict), ``match`` (how a carried row was
        found), ``category_id``, the history columns ``category_<year>`` and ``tax_per_mu_<year>``, the
        staff columns (``STAFF_COLUMNS`` and any staff added) carried untouched, and one column per preset
        deadline (:func:`add_deadlines`).

    Raises
    ------
    ConfigError
        ``previous`` already holds a later year than ``year`` (a ledger only moves forward).
    """
    year = int(result.year if year is None else year)
    facts = _firm_facts(result)
    previous = _empty() if previous is None else previous
    prev_years = years_in(list(previous.columns))
    if prev_years and max(prev_years) > year:
        raise ConfigError(f"[ledger] previous holds {max(prev_years)}, later than this run's year {year} -> "
                          "name last year's ledger, or set [policy] year",
                          zh=(f"[ledger] previous 中的年份为 {max(prev_years)}，晚于本次运行的年份 {year} → "
                              "请给出上一年的台账，或设置 [policy] year"))
    prev = previous.reset_index(drop=True).copy()
    for col in ("uscc", "name", "parcel_ids", "status", "category_id", "first_year", "closed_year"):
        if col not in prev.columns:
            prev[col] = pd.NA
    shares = _shares(result)
    found, how = _match(prev, facts, shares)
    # Reasons of the firms the ledger shows: listed this year, or on a row of last year's ledger.
    _add_shown(facts, result, shares, np.flatnonzero(facts["listed"].to_numpy(bool) | _isin(facts.index, found.dropna())))

    cat_labels = {cid: c.zh for cid, c in result.policy.categories.items()}
    was_closed = prev["status"].astype("string").eq(CLOSED).fillna(False).to_numpy()
    hit = found.notna().to_numpy()
    f = facts.reindex(found.fillna("").to_numpy())
    listed_now = hit & f["listed"].fillna(False).to_numpy(bool)
    present_now = hit & f["present"].fillna(False).to_numpy(bool)
    old_cat = _previous_categories(prev, prev_years, cat_labels)
    new_cat = np.where(listed_now, f["disposal"].fillna("").to_numpy(object), old_cat)

    out = prev.copy()
    out["uscc"] = np.where(hit, found.fillna("").to_numpy(object), _clean_uscc(prev["uscc"]).to_numpy(object))
    for col in ("name", "street", "parcel_ids", "land_mu", "energy_tce"):
        # Facts of a firm still here are this year's; a firm that is gone keeps what the ledger knew.
        now = f[col].to_numpy(object)
        keep = prev[col].to_numpy(object) if col in prev.columns else np.full(len(prev), np.nan, object)
        out[col] = np.where(present_now & pd.notna(now), now, keep)
    out["match"] = how.to_numpy(object)
    out["category_id"] = new_cat
    out["reason"] = np.where(hit, f["reason_zh"].fillna("").to_numpy(object), "")

    status = np.full(len(prev), CONTINUED, dtype=object)
    reason = np.full(len(prev), "", dtype=object)
    closed_year = pd.to_numeric(prev["closed_year"], errors="coerce").to_numpy(float)
    closed_kind = (prev["closed_kind"].to_numpy(object, copy=True) if "closed_kind" in prev.columns
                   else np.full(len(prev), pd.NA, object))
    first = pd.to_numeric(prev["first_year"], errors="coerce").to_numpy(float)
    tax_now = pd.to_numeric(f["tax_per_mu"], errors="coerce").to_numpy(float)
    last_tax = _last_tax(prev, prev_years)

    # Already closed in an earlier year: history, unless the firm is listed again.
    relisted = was_closed & listed_now
    status[was_closed] = CLOSED
    reason[was_closed] = prev["status_reason"].to_numpy(object)[was_closed] if "status_reason" in prev else ""
    status[relisted] = RELISTED
    reason[relisted] = _years_text(closed_year[relisted], "年销号后再次列入", missing="销号后再次列入")
    closed_year[relisted] = np.nan
    closed_kind[relisted] = pd.NA

    open_ = ~was_closed
    changed = open_ & listed_now & (old_cat != new_cat) & (old_cat != "")
    status[changed] = CHANGED
    reason[changed] = _labels(old_cat[changed], cat_labels) + "→" + _labels(new_cat[changed], cat_labels)
    cont = open_ & listed_now & ~changed
    reason[cont] = _years_text(first[cont], "年起列入")
    gone = open_ & ~present_now & ~listed_now
    # No 亩均税收 this year (no tax or no land figure): missing is not better, so the row stays listed.
    unmeasured = open_ & present_now & ~listed_now & ~np.isfinite(tax_now)
    reason[unmeasured] = f"{year}年无亩均税收数据，按上年类别保留（待核实）"
    raised = open_ & present_now & ~listed_now & ~unmeasured
    status[gone | raised] = CLOSED
    closed_year[gone | raised] = year
    closed_kind[gone] = EXITED
    closed_kind[raised] = RAISED
    reason[gone] = GONE_REASON
    reason[raised] = _raised_reasons(tax_now[raised], last_tax[raised])

    out["status"] = status
    out["status_reason"] = reason
    out["closed_year"] = pd.array(np.where(np.isfinite(closed_year), closed_year, np.nan)).astype("Int64")
    out["closed_kind"] = closed_kind
    out["first_year"] = pd.array(first).astype("Int64")
    out[f"category_{year}"] = np.where(listed_now, _labels(new_cat, cat_labels), pd.NA)
    out[f"tax_per_mu_{year}"] = np.where(present_now, tax_now, np.nan)

    # Firms listed this year that no row of last year's ledger is.
    new = facts[facts["listed"].to_numpy(bool) & ~_isin(facts.index, out["uscc"][hit])]
    rows = pd.DataFrame({
        "uscc": new.index.to_numpy(object), "name": new["name"].to_numpy(object),
        "parcel_ids": new["parcel_ids"].to_numpy(object), "street": new["street"].to_numpy(object),
        "status": NEW, "status_reason": [f"{year}年首次列入"] * len(new),
        "first_year": pd.array([year] * len(new), dtype="Int64"), "closed_year": pd.array([pd.NA] * len(new),
                                                                                          dtype="Int64"),
        "closed_kind": pd.NA, "land_mu": new["land_mu"].to_numpy(float), "energy_tce": new["energy_tce"].to_numpy(float),
        "reason": new["reason_zh"].fillna("").to_numpy(object), "match": MATCH_NEW,
        "category_id": new["disposal"].to_numpy(object),
        f"category_{year}": _labels(new["disposal"].to_numpy(object), cat_labels),
        f"tax_per_mu_{year}": new["tax_per_mu"].to_numpy(float),
    })
    ledger = pd.concat([out, rows], ignore_index=True) if len(out) else rows
    ledger["category"] = _labels(ledger["category_id"].fillna("").astype(str).to_numpy(object), cat_labels)
    ledger = add_deadlines(ledger, getattr(result.policy, "deadlines", ()))
    return _ordered(ledger, result.policy.categories, years_in(list(ledger.columns)))


def _previous_categories(prev: pd.DataFrame, years: Sequence[int], labels: dict[str, str]) -> np.ndarray:
    """Each row's last category id: 类别代码, or where staff cleared it, its latest 类别 label read back."""
    ids = prev["category_id"].astype("string").str.strip().fillna("").to_numpy(object, copy=True)
    by_label = {v: k for k, v in labels.items()}
    for y in sorted(years, reverse=True):
        col = f"category_{y}"
        blank = ids == ""
        if not blank.any():
            break
        if col in prev.columns:
            back = prev[col].astype("string").str.strip().map(by_label).fillna("").to_numpy(object)
            ids[blank] = back[blank]
    return ids


def _labels(ids: np.ndarray, labels: dict[str, str]) -> np.ndarray:
    """Category ids -> their labels (an id the preset no longer has stays as written)."""
    s = pd.Series(ids, dtype=object)
    return s.map(labels).fillna(s).fillna("").astype(str).to_numpy(object)


def _years_text(years: np.ndarray, suffix: str, *, missing: str = "") -> np.ndarray:
    """``2022`` + suffix per row; ``missing`` where the year is unknown."""
    text = pd.Series(years, dtype=float).astype("Int64").astype("string") + suffix
    return text.fillna(missing).to_numpy(object)


def _numbers_text(values: np.ndarray) -> pd.Series:
    """Per-mu figures as the documents write them: up to 4 decimals, trailing zeros dropped (6.0 -> 6)."""
    text = pd.Series(np.round(values.astype(float), 4)).astype(str)
    return text.str.replace(r"(\.\d*?)0+$", r"\1", regex=True).str.replace(r"\.$", "", regex=True)


def _raised_reasons(tax: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Why a row that is still operating is 销号: the figure that rose, or the figure that no longer counts."""
    now, then = _numbers_text(tax), _numbers_text(before)
    rose = np.isfinite(before) & (tax > before)
    return np.where(rose, "亩均税收升至" + now + "万元/亩（上年" + then + "）",
                    "不再符合认定条件（亩均税收" + now + "万元/亩）").astype(object)


def _last_tax(prev: pd.DataFrame, years: Sequence[int]) -> np.ndarray:
    """Each row's latest 亩均税收 in the previous ledger's history columns (NaN if none)."""
    last = np.full(len(prev), np.nan)
    for y in sorted(years):
        col = f"tax_per_mu_{y}"
        if col in prev.columns:
            v = pd.to_numeric(prev[col], errors="coerce").to_numpy(float)
            last = np.where(np.isfinite(v), v, last)
    return last


def add_deadlines(ledger: pd.DataFrame, deadlines: Iterable[Any]) -> pd.DataFrame:
    """Compute the preset's deadlines (``[[deadlines]]``) from the staff date column they count from.

    A deadline is ``start + days`` (calendar days), or ``days`` Monday-Friday working days after it
    (``numpy.busday_offset``; public holidays and 调休 are not known, so check those by hand). Rows whose
    category is not among the deadline's ``categories``, or whose date is blank or unreadable, get none.
    """
    from gisefficiency.io.values import parse_dates

    out = ledger.copy(deep=False)  # new columns only: the ledger's own stay shared (copy on write)
    for d in deadlines:
        start = out[d.start] if d.start in out.columns else pd.Series(pd.NaT, index=out.index)
        dates, _ = parse_dates(start.astype(object))
        applies = (out["category_id"].isin(d.categories) if d.categories else pd.Series(True, index=out.index))
        applies &= out["status"].ne(CLOSED)
        days = dates.to_numpy("datetime64[D]")
        ok = ~np.isnat(days) & applies.to_numpy(bool)
        due = np.full(len(out), np.datetime64("NaT"), dtype="datetime64[D]")
        if d.working_days:
            due[ok] = np.busday_offset(days[ok], d.days, roll="forward")
        else:
            due[ok] = days[ok] + np.timedelta64(d.days, "D")
        out[d.name] = pd.to_datetime(due)
    return out


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=[*HEADERS, *STAFF_COLUMNS])


def _ordered(ledger: pd.DataFrame, categories: Any, years: list[int]) -> pd.DataFrame:
    """Columns in the sheet's order; rows by status, category (the preset's order), then USCC."""
    history = [f"{k}_{y}" for y in years for k in ("category", "tax_per_mu") if f"{k}_{y}" in ledger.columns]
    staff = list(STAFF_COLUMNS)
    for c in staff:
        if c not in ledger.columns:
            ledger[c] = pd.NA
    rest = [c for c in ledger.columns if c not in HEADERS and c not in history and c not in staff]
    ledger = ledger[[*HEADERS, *history, *staff, *rest]]
    rank_status = ledger["status"].map({s: i for i, s in enumerate(STATUSES)})
    rank_cat = ledger["category_id"].map({c: i for i, c in enumerate(categories)}).fillna(len(categories))
    order = np.lexsort((ledger["uscc"].astype(str).to_numpy(), rank_cat.to_numpy(), rank_status.to_numpy()))
    return ledger.iloc[order].reset_index(drop=True)

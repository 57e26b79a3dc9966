"""Join the stage outputs into the two tables users read: one row per parcel, one row per firm.

Nothing is computed here beyond joins and picking, for each parcel, the firm that holds most of
its land (its grade and disposal are the parcel's).

Every join runs on integer codes of the ids (``gisefficiency.result.rows``), not on pandas' text indexes: the
tables have the index, columns, dtypes and values that ``reindex``/``join`` would give, built in one
go from a dict of columns that reuse the input data where nothing changes.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.ids import arrow_ids, positions
from gisefficiency.result import rows as keys

_PARCEL_FIGURES = ("tax", "value_added", "revenue", "energy_tce", "tax_per_mu", "va_per_mu")
_VERDICT_COLUMNS = ("score", "grade", "disposal", "disposal_zh", "disposal_en", "in_scope", "exempt", "low_efficiency")
#: What a verdict's reason explains (codes into the preset): kept in the evaluation, not in the tables.
_REASON_CODES = ("reason_code", "rule", "exemption")
_OWN_FIGURES = ["tax", "value_added", "energy_tce"]
_UNIT_METRICS = ("tax", "value_added", "energy_tce", "tax_per_mu", "va_per_mu", "group")
#: Rows per unit below which ``reason_columns`` writes the reasons of its rows' units only, not of every unit.
_FEW_ROWS = 8


def add_columns(frame: pd.DataFrame, extra: pd.DataFrame) -> Any:
    """Return ``frame`` with the columns of ``extra`` joined on the index (replacing same-named ones)."""
    if not _text_index(frame.index) or not _text_index(extra.index):
        extra = extra.reindex(frame.index)
        return frame.drop(columns=[c for c in extra.columns if c in frame.columns]).join(extra)
    if not extra.index.is_unique:
        raise ValueError("cannot reindex on an axis with duplicate labels")
    cols = _columns(frame)
    _put(cols, _aligned(extra, frame.index))
    return _frame_like(frame, cols)


def parcels_table(
    parcels: gpd.GeoDataFrame,
    links: Any,
    parcel_panel: pd.DataFrame,
    evaluation: Any,
    flags: pd.DataFrame,
    *,
    year: int,
) -> gpd.GeoDataFrame:
    """One row per parcel: land, firms on it, reference-year figures, verdict of its main firm, flags.

    Parameters
    ----------
    parcels
        Prepared parcels (index ``parcel_id``).
    links
        ``link.Links``.
    parcel_panel
        ``metrics.parcel_metrics`` output, index ``(parcel_id, year)``.
    evaluation
        ``evaluate.Evaluation``.
    flags
        ``evaluate.flag_parcels`` output.
    year
        Reference year.
    """
    index, n = parcels.index, len(parcels)
    shares, fl, verdicts = links.shares, links.firm_links, evaluation.verdicts
    cols = _columns(parcels)
    _put(cols, _aligned(links.parcel_links, index, ["n_firms", "idle"]))

    # Parcel ids of the parcels, of the panel and of the shares, coded together.
    panel_ids, year_row = keys.year_rows(parcel_panel, year)
    ((p_codes, id_codes, s_pcodes), k), (f_codes, eval_codes, verdict_of_code, (s_codes,), n_codes) = keys.parallel(
        lambda: keys.codes(index, panel_ids, shares["parcel_id"]),
        lambda: _uscc_rows(fl, verdicts, shares["uscc"]),
    )
    figure_rows = keys.via(keys.lookup(p_codes, id_codes, k), year_row)
    _put(cols, {c: keys.take(parcel_panel[c], figure_rows, index) for c in _PARCEL_FIGURES if c in parcel_panel})
    parcel_of_share = keys.lookup(s_pcodes, p_codes, k)
    firm_of_share = keys.lookup(s_codes, f_codes, n_codes)

    names = arrow_ids(fl["name"]).take(pa.array(firm_of_share, mask=firm_of_share < 0))
    firm_names, firm_usccs = keys.parallel(
        lambda: keys.joined_text(parcel_of_share, n, names, "、"),
        lambda: keys.joined_text(parcel_of_share, n, shares["uscc"], ","),
    )
    _put(cols, {"firm_names": _object_series(firm_names, index), "firm_usccs": _object_series(firm_usccs, index)})

    main = _main_shares(shares, parcel_of_share, n)
    verdict_rows = keys.via(keys.via(keys.via(main, firm_of_share), eval_codes), verdict_of_code)
    kept = [c for c in _VERDICT_COLUMNS if c in verdicts.columns and c != "low_efficiency"]
    taken = keys.take_all({c: (verdicts[c], verdict_rows) for c in kept} | {"main_uscc": (shares["uscc"], main)}, index)
    main_uscc = taken.pop("main_uscc")
    _put(cols, taken)
    cols["main_uscc"] = main_uscc
    _put(cols, _aligned(flags, index))
    cols["low_efficiency"] = cols["low_efficiency"].fillna(False).astype(bool)
    return _frame_like(parcels, cols)


def firms_table(
    firms: pd.DataFrame,
    links: Any,
    evaluation: Any,
    panel: pd.DataFrame,
    parcels: gpd.GeoDataFrame,
    *,
    year: int,
) -> gpd.GeoDataFrame:
    """One row per firm (index ``uscc``): identity, link, land, reference-year metrics, verdict, geometry.

    Metrics and verdicts are those of the firm's evaluated unit (itself, or its holder when tenants are
    merged), so every firm of a unit shows the unit's figures.
    """
    fl, shares, verdicts = links.firm_links, links.shares, evaluation.verdicts
    index = fl.index.rename("uscc")
    renamed = {"status": "link_status", "method": "link_method"}
    cols = {renamed.get(c, c): keys.take(fl[c], None, index) for c in fl.columns if c != "name"}

    unit_ids, unit_row = keys.year_rows(panel, year)
    # The panel's units are usually the verdicts' ids: then they need no coding of their own.
    same_units = keys.same_ids(unit_ids, verdicts.index)
    years = firms["year"].to_numpy()
    top = years.max() if len(years) else year
    # Only the rows of the latest and of the reference year are coded with the other USCCs (one row
    # per firm and year, not the whole panel).
    picked = np.flatnonzero((years == top) | (years == year))
    usccs = arrow_ids(firms["uscc"])
    (f_codes, eval_codes, verdict_of_code, (s_codes, row_codes, *unit_codes), n_codes), ((p_codes, sp_codes), k) = (
        keys.parallel(
            lambda: _uscc_rows(
                fl, verdicts, shares["uscc"], usccs.take(pa.array(picked)), *([] if same_units else [unit_ids])
            ),
            lambda: keys.codes(parcels.index, shares["parcel_id"]),
        )
    )
    firm_of_share = keys.lookup(s_codes, f_codes, n_codes)
    firm_of_row = keys.lookup(row_codes, f_codes, n_codes)
    latest = _latest_rows(firms["year"], picked, firm_of_row, top, usccs, fl.index)
    attrs = [c for c in ("name", "scale", "industry", "uscc_valid") if c in firms.columns]
    plan = {renamed.get(c, c): (firms[c], latest) for c in attrs}

    # The firm's own figures of the year (duplicate rows summed, as groupby does).
    in_year = (years[picked] == year) & (firm_of_row >= 0)
    year_rows = picked[in_year]
    own = pd.DataFrame({c: firms[c].iloc[year_rows].array for c in _OWN_FIGURES}).groupby(
        firm_of_row[in_year]
    ).sum(min_count=1)
    own_rows = np.full(len(fl), -1, dtype=np.int64)
    own_rows[own.index.to_numpy()] = np.arange(len(own))
    plan |= {f"own_{c}": (own[c], own_rows) for c in _OWN_FIGURES}

    unit_of_code = verdict_of_code if same_units else keys.first_rows(unit_codes[0], n_codes)
    unit_rows = keys.via(keys.via(eval_codes, unit_of_code), unit_row)
    plan |= {c: (panel[c], unit_rows) for c in _UNIT_METRICS if c in panel}
    verdict_rows = keys.via(eval_codes, verdict_of_code)
    plan |= {c: (verdicts[c], verdict_rows) for c in verdicts.columns
             if c not in cols and c not in plan and c not in _REASON_CODES}
    _put(cols, keys.take_all(plan, index))

    # Street and geometry from the firm's parcels.
    parcel_of_share = keys.lookup(sp_codes, p_codes, k)
    # The union results and parcel geometries are shapely objects already: no per-object check needed.
    geometry = _firm_geometry(firm_of_share, len(fl), parcels.geometry.to_numpy(), parcel_of_share)
    cols["geometry"] = gpd.GeoSeries(gpd.array.GeometryArray(geometry, crs=parcels.crs), index=index)
    if "street" in parcels:
        cols["street"] = _firm_street(shares, s_codes, f_codes, n_codes, parcels["street"], parcel_of_share, index)
    return gpd.GeoDataFrame(cols, index=index, copy=False, geometry="geometry", crs=parcels.crs)


def reason_columns(frame: pd.DataFrame, links: Any, evaluation: Any, *, lang: str = "zh") -> dict[str, pd.Series]:
    """The verdict reasons of the rows of a firms or parcels table, written for those rows only.

    A firm row (index ``uscc``) shows its evaluated unit's ``reason_<lang>`` and ``grade_reason_<lang>``;
    a parcel row shows the ``reason_<lang>`` of its main firm's unit (``main_uscc``), as the parcel's
    grade and disposal are that unit's. Each unit's reason is written once however many rows show it
    (for an output's rows, once per language for all outputs: see ``Evaluation.unit_texts``); rows
    without a verdict are missing.

    Parameters
    ----------
    frame
        ``Result.firms`` or ``Result.parcels``, or some of their rows.
    links
        ``link.Links`` (``firm_links``: each firm's evaluated unit).
    evaluation
        ``evaluate.Evaluation``.
    lang
        ``"zh"``, ``"en"`` or ``"both"``.

    Returns
    -------
    dict of str to pandas.Series
        Column name -> text aligned to ``frame``; empty when the frame has no firm ids.
    """
    firm_rows = frame.index.name == "uscc"
    usccs = frame.index if firm_rows else frame.get("main_uscc")
    if usccs is None:
        return {}
    fl = links.firm_links
    firm = positions(usccs, fl.index)
    units = arrow_ids(fl.get("eval_id", fl.index))
    row = positions(units.take(pa.array(np.maximum(firm, 0), mask=firm < 0)), evaluation.verdicts.index)
    if len(row) * _FEW_ROWS < len(evaluation.verdicts):
        # A few rows (a user's pick): their units' reasons are written on their own.
        wanted, at = np.unique(row[row >= 0], return_inverse=True)
        texts = dict(evaluation.reasons(lang, units=wanted).items())
        take = np.full(len(row), -1, dtype=np.int64)
        take[row >= 0] = at
    else:
        # An output's rows: every unit's reasons are written once per language and kept for the next output.
        texts, take = evaluation.unit_texts(lang), row
    return {c: keys.take(t, take, frame.index) for c, t in texts.items() if firm_rows or c.startswith("reason_")}


def mark_scenario(parcels: gpd.GeoDataFrame, scenarios: list[Any]) -> gpd.GeoDataFrame:
    """Add ``in_scenario`` (parcels selected by the first scenario, drawn as freed land on the map)."""
    selected = pd.Index(scenarios[0].parcels) if scenarios else pd.Index([])
    if _text_index(parcels.index) and (selected.empty or pd.api.types.is_string_dtype(selected.dtype)):
        # A lookup into the few selected ids, not a hash of every parcel id by pandas.
        hit = pc.is_in(arrow_ids(parcels.index), value_set=arrow_ids(selected.astype("str")))
        mark = hit.to_numpy(zero_copy_only=False)
    else:
        mark = parcels.index.isin(selected)
    cols = _columns(parcels)
    cols["in_scenario"] = pd.Series(mark, index=parcels.index, copy=False)
    return _frame_like(parcels, cols)


def _text_index(index: pd.Index) -> bool:
    return not isinstance(index, pd.MultiIndex) and pd.api.types.is_string_dtype(index.dtype) and \
        index.dtype != object


def _columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The columns of ``frame`` as Series sharing its data (copy on write)."""
    return {c: frame[c] for c in frame.columns}


def _put(cols: dict[str, pd.Series], extra: dict[str, pd.Series]) -> None:
    """Add ``extra`` at the end, replacing same-named columns (as ``add_columns`` does)."""
    for c in extra:
        cols.pop(c, None)
    cols.update(extra)


def _aligned(extra: pd.DataFrame, index: pd.Index, columns: list[str] | None = None) -> dict[str, pd.Series]:
    """``extra[columns].reindex(index)`` as Series, without a text-index join or a copy of ``extra``."""
    rows = None if keys.same_ids(extra.index, index) else positions(index, extra.index)
    return {c: keys.take(extra[c], rows, index) for c in (extra.columns if columns is None else columns)}


def _frame_like(frame: pd.DataFrame, cols: dict[str, pd.Series]) -> Any:
    # copy=False: the columns are new or shared copy-on-write, and a copy of 1M rows costs seconds.
    if isinstance(frame, gpd.GeoDataFrame):
        return gpd.GeoDataFrame(cols, index=frame.index, copy=False, geometry=frame.geometry.name, crs=frame.crs)
    return pd.DataFrame(cols, index=frame.index, copy=False)


def _object_series(values: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, dtype=object, copy=False)


def _uscc_rows(fl: pd.DataFrame, verdicts: pd.DataFrame, *arrays: Any) -> tuple[Any, ...]:
    """USCCs of the firms, the verdicts, the evaluated units and ``arrays`` coded together.

    Returns
    -------
    tuple
        Codes of ``fl.index``, of each firm's evaluated unit, the verdict row of each code, the codes
        of each of ``arrays``, and the number of codes.
    """
    same_eval = keys.same_ids(fl["eval_id"], fl.index)
    coded, n_codes = keys.codes(fl.index, verdicts.index, *arrays, *([] if same_eval else [fl["eval_id"]]))
    f_codes, v_codes = coded[:2]
    eval_codes = f_codes if same_eval else coded[-1]
    return f_codes, eval_codes, keys.first_rows(v_codes, n_codes), coded[2:2 + len(arrays)], n_codes


def _main_shares(shares: pd.DataFrame, parcel_of_share: np.ndarray, n: int) -> np.ndarray:
    """Per parcel, the share holding most land (ties: the owner, then the first row); -1 if none.

    The order ``sort_values(["parcel_id", "land_mu", "_own"], ascending=[True, False, False])`` gives:
    a stable sort, missing land last. Only parcels shared by several firms need sorting.
    """
    rows = np.flatnonzero(parcel_of_share >= 0)
    count = np.bincount(parcel_of_share[rows], minlength=n)
    main = np.full(n, -1, dtype=np.int64)
    single = rows[count[parcel_of_share[rows]] == 1]
    main[parcel_of_share[single]] = single
    rows = rows[count[parcel_of_share[rows]] > 1]
    land = shares["land_mu"].to_numpy(dtype=float, na_value=np.nan)[rows]
    own = pc.fill_null(pc.equal(arrow_ids(shares["kind"]), "own"), False).to_numpy(zero_copy_only=False)[rows]
    missing = np.isnan(land)
    order = rows[np.lexsort((~own, np.where(missing, 0.0, -land), missing, parcel_of_share[rows]))]
    parcel = parcel_of_share[order]
    first = np.r_[True, parcel[1:] != parcel[:-1]] if len(parcel) else np.zeros(0, dtype=bool)
    main[parcel[first]] = order[first]
    return main


def _firm_geometry(firm_of_share: np.ndarray, n: int, parcel_geoms: np.ndarray, parcel_of_share: np.ndarray) -> np.ndarray:
    """Per firm, the union of its parcels (its one parcel as it is; None without any)."""
    geoms = np.empty(len(parcel_of_share), dtype=object)
    found = parcel_of_share >= 0
    geoms[found] = parcel_geoms[parcel_of_share[found]]
    linked = np.flatnonzero(firm_of_share >= 0)
    count = np.bincount(firm_of_share[linked], minlength=n)
    out = np.full(n, None, dtype=object)
    single = linked[count[firm_of_share[linked]] == 1]
    out[firm_of_share[single]] = geoms[single]
    # Only firms on several parcels need an overlay; their shares keep their row order.
    several = np.flatnonzero(count > 1)
    if len(several):
        label = np.full(n, -1, dtype=np.int64)
        label[several] = np.arange(len(several))
        rows = linked[count[firm_of_share[linked]] > 1]
        out[several] = _grouped_union(label[firm_of_share[rows]], len(several), geoms[rows])
    return out


def _latest_rows(
    year: pd.Series, picked: np.ndarray, firm_of_row: np.ndarray, top: Any, usccs: pa.Array, firm_ids: pd.Index
) -> np.ndarray:
    """Per firm, the row ``firms.sort_values("year").drop_duplicates("uscc", keep="last")`` keeps (-1: none).

    That is the firm's row of its latest year; only when a firm has two rows of that year does the
    order of pandas' (unstable) sort decide, and then that sort is done.
    """
    years = year.to_numpy()
    n = len(firm_ids)
    if years.dtype.kind not in "iu":
        # Years that may be missing sort last in pandas: take the plain route over every row.
        firm_all = positions(usccs, firm_ids)
        return _last_in_sort(year, np.flatnonzero(firm_all >= 0), firm_all[firm_all >= 0], n)
    at_top = (years[picked] == top) & (firm_of_row >= 0)
    rows, firm = picked[at_top], firm_of_row[at_top]
    missing = np.flatnonzero(np.bincount(firm, minlength=n) == 0)
    if len(missing) and (years != top).any():
        # Firms without a row in the latest year: their rows are found against their few ids only.
        at = positions(usccs, firm_ids[missing])
        older = np.flatnonzero(at >= 0)
        newest = np.full(n, np.iinfo(np.int64).min if years.dtype.kind in "iu" else -np.inf, dtype=years.dtype)
        np.maximum.at(newest, missing[at[older]], years[older])
        keep = years[older] == newest[missing[at[older]]]
        rows, firm = np.r_[rows, older[keep]], np.r_[firm, missing[at[older[keep]]]]
    if (np.bincount(firm, minlength=n) <= 1).all():
        last = np.full(n, -1, dtype=np.int64)
        last[firm] = rows
        return last
    # Two rows of a firm in its latest year: the last in pandas' sort order, as drop_duplicates keeps.
    return _last_in_sort(year, rows, firm, n)


def _last_in_sort(year: pd.Series, rows: np.ndarray, firm: np.ndarray, n: int) -> np.ndarray:
    """Per firm, the one of its ``rows`` last in ``sort_values("year")`` order (pandas' own sort)."""
    by_year = pd.DataFrame({"year": year.array}).sort_values("year").index.to_numpy()
    rank = np.empty(len(by_year), dtype=np.int64)
    rank[by_year] = np.arange(len(by_year))
    best = np.full(n, -1, dtype=np.int64)
    np.maximum.at(best, firm, rank[rows])
    return keys.via(best, by_year)


def _firm_street(
    shares: pd.DataFrame, s_codes: np.ndarray, f_codes: np.ndarray, n_codes: int,
    street: pd.Series, parcel_of_share: np.ndarray, index: pd.Index,
) -> pd.Series:
    """Street of each firm's largest share, ordered as ``sort_values("land_mu", ascending=False)``."""
    largest = _largest_shares(shares["land_mu"].to_numpy(dtype=float, na_value=np.nan), s_codes, n_codes)
    if largest is None:
        # Two shares of a firm tie for the most land: pandas' (unstable) sort decides, so do that sort.
        by_land = pd.DataFrame({"land_mu": shares["land_mu"].array}).sort_values("land_mu", ascending=False)
        order = by_land.index.to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        first = np.full(n_codes, len(order), dtype=np.int64)
        has = s_codes >= 0
        np.minimum.at(first, s_codes[has], rank[has])
        largest = np.append(order, -1)[first]
    chosen = keys.via(f_codes, largest)
    if isinstance(street.dtype, pd.StringDtype):
        # The old per-share object array was inferred as "str" when it held any text.
        if street.notna().to_numpy()[parcel_of_share[parcel_of_share >= 0]].any():
            return keys.take(street, keys.via(chosen, parcel_of_share), index).astype("str")
        values = np.full(len(index), np.nan, dtype=object)
        values[chosen >= 0] = pd.NA
        return _object_series(values, index)
    per_share = pd.Series(keys.take(street, parcel_of_share, shares.index).to_numpy())
    return keys.take(per_share, chosen, index)


def _largest_shares(land: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray | None:
    """Per group, its row of most ``land`` (-1: none); None if two rows of a group tie for it.

    Rows without land come after all others, in row order, as pandas' descending sort puts them.
    """
    rows = np.flatnonzero(groups >= 0)
    group, value = groups[rows], land[rows]
    known = ~np.isnan(value)
    most = np.full(n, np.nan)
    np.fmax.at(most, group[known], value[known])
    top = known & (value == most[group])
    if (np.bincount(group[top], minlength=n) > 1).any():
        return None
    out = np.full(n, -1, dtype=np.int64)
    out[group[top]] = rows[top]
    # Groups with no land at all: their first row.
    bare = np.isnan(most)
    first = np.full(n, len(land), dtype=np.int64)
    np.minimum.at(first, group[~known], rows[~known])
    take = bare & (first < len(land))
    out[take] = first[take]
    return out


def _grouped_union(codes: np.ndarray, n: int, geoms: np.ndarray) -> np.ndarray:
    """Union geometries by group code ``0..n-1`` (a firm's parcels); single-member groups as they are."""
    from gisefficiency.blocks.adjacency import union_by_label

    if n == 0:
        return np.empty(0, dtype=object)
    return union_by_label(np.asarray(geoms, dtype=object), np.asarray(codes))

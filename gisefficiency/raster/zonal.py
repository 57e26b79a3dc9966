"""Zonal statistics, building height and plot ratio per parcel.

The parcels are rasterised onto the raster's own grid as runs of cells along rows
(``gisefficiency.raster.grid.centre_spans``: the cells whose centre a parcel holds, plus one cell for a
parcel smaller than a cell). Within a run neighbouring cells often hold the same value (a building's
height over its footprint), so the cells are taken as runs of equal values, each weighted by its number of
cells, and added up per parcel with ``numpy.bincount`` / ``ufunc.at``: no loop per parcel, and no
per-cell scatter.

:func:`zonal_stats` and :func:`plot_ratio` gather every parcel cell of a raster held in memory.
:func:`building_stats`, the pipeline's height and plot-ratio columns, goes through the raster a band of
rows at a time instead (a county's 5 m height raster is 0.6 to 6 GB as float32): each band is rasterised
on its own, only the tiles its parcels touch are read (on a second thread, while the band before is
reduced), and each parcel's runs are added in the same order, so the figures are the same to the bit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import CRSError, InputError, Problem
from gisefficiency.raster.grid import (
    Grid,
    RasterData,
    centre_spans,
    edges_by_band,
    fallback_cells,
    geometry_spans,
    polygon_edges,
    span_cells,
)

#: Statistics ``zonal_stats`` can compute. ``count`` = valid cells, ``cells`` = all cells of the parcel,
#: ``coverage`` = count / cells, ``majority`` = most frequent valid value (ties: the smallest).
ZONAL_STATS: tuple[str, ...] = ("mean", "min", "max", "sum", "count", "majority", "coverage", "cells")

#: Rows of the height raster :func:`building_stats` holds at a time (rounded up to whole tiles of the file).
BAND_ROWS: int = 256

#: Parcels :func:`building_stats` rasterises together (their polygon edges are held at once).
GROUP_PARCELS: int = 200_000


def _geoms_in_raster_crs(parcels: gpd.GeoDataFrame, raster_crs: Any, *, reproject: bool) -> np.ndarray:
    """Parcel geometries in the raster's CRS (reprojected, or an error naming both CRSs)."""
    if parcels.crs is None or raster_crs is None:
        which = "parcels" if parcels.crs is None else "raster"
        raise CRSError(f"the {which} have no CRS, so parcels and raster cannot be matched",
                       [Problem(f"parcels CRS: {parcels.crs}, raster CRS: {raster_crs}",
                                fix=f"set the CRS of the {which} explicitly",
                                message_zh=f"地块坐标系：{parcels.crs}，栅格坐标系：{raster_crs}",
                                fix_zh=f"请明确设置{'地块' if which == 'parcels' else '栅格'}的坐标系")],
                       zh=f"{'地块' if which == 'parcels' else '栅格'}没有坐标系，地块与栅格无法对应")
    pcrs, rcrs = CRS.from_user_input(parcels.crs), CRS.from_user_input(raster_crs)
    if pcrs.equals(rcrs, ignore_axis_order=True):
        return np.asarray(parcels.geometry.values, dtype=object)
    if not reproject:
        raise CRSError(
            f"parcels are in {pcrs.name} ({pcrs.to_string()}) but the raster is in {rcrs.name} "
            f"({rcrs.to_string()})",
            [Problem("CRS mismatch", fix="pass reproject=True, or warp the raster to the parcels' CRS",
                     message_zh="坐标系不一致",
                     fix_zh="请传入 reproject=True，或把栅格重采样到地块的坐标系")],
            zh=(f"地块的坐标系为 {pcrs.name}（{pcrs.to_string()}），而栅格为 {rcrs.name}"
                f"（{rcrs.to_string()}）"),
        )
    return np.asarray(parcels.geometry.to_crs(rcrs).values, dtype=object)


@dataclass(frozen=True)
class _Cells:
    """The raster's cells inside each parcel from one rasterisation, as runs of equal values.

    The parcels are rasterised as runs of cells along rows; within a run neighbouring cells often hold the
    same value (a building's height over its footprint), so those are kept once with their number:
    ``values[r]`` repeats ``count[r]`` times in parcel ``label[r]``, and ``valid[r]`` says whether it is a
    value at all (not nodata, not NaN). Sums, counts and extremes per parcel are then weighted
    ``bincount`` / ``ufunc.at`` calls over the runs, not over every cell.
    """

    values: np.ndarray
    valid: np.ndarray
    count: np.ndarray
    label: np.ndarray
    n: int

    def per_parcel_sum(self, run_values: np.ndarray) -> np.ndarray:
        """Sum over each parcel's cells of a value given per run (float64)."""
        return np.bincount(self.label, weights=run_values * self.count, minlength=self.n)

    def per_parcel_count(self, mask: np.ndarray) -> np.ndarray:
        """Number of cells in each parcel whose run has ``mask`` True (int64)."""
        return np.bincount(self.label, weights=np.where(mask, self.count, 0), minlength=self.n).astype(np.int64)

    def per_parcel_extreme(self, run_values: np.ndarray, *, largest: bool) -> np.ndarray:
        """Largest (or smallest) run value in each parcel; ±inf for parcels without cells."""
        ufunc = np.maximum if largest else np.minimum
        out = np.full(self.n, -np.inf if largest else np.inf)
        ufunc.at(out, self.label, run_values.astype(float))
        return out


def _cells(parcels: gpd.GeoDataFrame, raster: RasterData, *, reproject: bool) -> _Cells:
    """Every parcel's cells on the raster's grid with their values (see :class:`_Cells`)."""
    _check_one_band(raster)
    geoms = _geoms_in_raster_crs(parcels, raster.crs, reproject=reproject)
    grid = Grid.from_transform(raster.transform, raster.array.shape)
    start, length, label = geometry_spans(geoms, grid)
    values = raster.array.reshape(-1).take(span_cells(start, length))
    # A new run of values starts with every span and wherever the value changes (NaN != NaN: NaN cells
    # stay apart, which changes nothing since they are not valid).
    first = np.empty(len(values), dtype=bool)
    if len(values):
        first[0] = True
        np.not_equal(values[1:], values[:-1], out=first[1:])
        first[np.cumsum(length) - length] = True
    starts = np.flatnonzero(first)
    del first
    count = np.diff(np.r_[starts, len(values)])
    run_values = values[starts]
    del values
    # Runs of each span: the spans' first cells are run starts, found in order among the starts.
    runs_per_span = np.diff(np.r_[np.searchsorted(starts, np.cumsum(length) - length), len(starts)])
    return _Cells(run_values, _valid(run_values, raster.nodata), count, np.repeat(label, runs_per_span),
                  len(parcels))


def _check_one_band(raster: RasterData) -> None:
    if raster.array.ndim != 2:
        raise InputError("raster must be one band (2-D)",
                         [Problem(f"array shape {raster.array.shape}", fix="read one band (read_raster(band=...))",
                                  message_zh=f"数组形状为 {raster.array.shape}",
                                  fix_zh="请只读一个波段（read_raster(band=...)）")],
                         zh="栅格必须是单波段（二维）")


def _valid(values: np.ndarray, nodata: float | int | None) -> np.ndarray:
    """True where a cell value is not nodata and not NaN (``RasterData.valid_mask`` for gathered cells)."""
    valid = np.ones(values.shape, dtype=bool)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        valid &= values != nodata
    if np.issubdtype(values.dtype, np.floating):
        valid &= np.isfinite(values)
    return valid


def _majority(labels: np.ndarray, values: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Most frequent value per label (ties: the smallest value); NaN for labels without values.

    ``weights``: how many cells each (label, value) entry stands for (one each by default).
    """
    out = np.full(n, np.nan)
    if labels.size == 0:
        return out
    order = np.lexsort((values, labels))
    lab, val = labels[order], values[order]
    start = np.flatnonzero(np.r_[True, (lab[1:] != lab[:-1]) | (val[1:] != val[:-1])])
    run_count = np.diff(np.r_[start, lab.size]) if weights is None else np.add.reduceat(weights[order], start)
    run_lab, run_val = lab[start], val[start]
    best = np.lexsort((run_val, -run_count, run_lab))
    first = best[np.r_[True, run_lab[best][1:] != run_lab[best][:-1]]]
    out[run_lab[first]] = run_val[first]
    return out


def zonal_stats(
    parcels: gpd.GeoDataFrame,
    raster: RasterData,
    *,
    stats: Sequence[str] = ("mean", "max", "sum", "count", "majority", "coverage"),
    reproject: bool = True,
) -> pd.DataFrame:
    """Statistics of a raster's valid cells inside each parcel.

    A cell belongs to a parcel when the parcel holds the cell's centre; a parcel holding no centre uses
    the one cell holding its ``point_on_surface``. Nodata and NaN cells are skipped (``count``) but stay
    in ``cells``, so ``coverage`` = valid cells / cells in the parcel. Parcels without valid cells get NaN
    (never 0). Overlapping parcels each count a shared cell.

    Parameters
    ----------
    parcels
        Parcels (index ``parcel_id``).
    raster
        One band with transform, CRS and nodata (``io.raster.read_raster``).
    stats
        Any of ``ZONAL_STATS``; columns come in this order.
    reproject
        When the CRSs differ, reproject the parcels to the raster's CRS for the lookup (default); with
        False a ``CRSError`` naming both CRSs is raised instead.

    Returns
    -------
    pandas.DataFrame
        Index ``parcel_id``, one column per statistic.
    """
    unknown = [s for s in stats if s not in ZONAL_STATS]
    if unknown:
        raise InputError("unknown zonal statistics",
                         [Problem(f"got {s!r}", fix=f"use any of {', '.join(ZONAL_STATS)}",
                                  message_zh=f"收到 {s!r}",
                                  fix_zh=f"可使用 {', '.join(ZONAL_STATS)} 中的任意几个") for s in unknown],
                         zh="未知的分区统计量")
    n = len(parcels)
    cells = _cells(parcels, raster, reproject=reproject)
    valid = cells.valid
    n_cells = np.bincount(cells.label, weights=cells.count, minlength=n).astype(np.int64)
    count = cells.per_parcel_count(valid)
    has = count > 0
    total = np.where(has, cells.per_parcel_sum(np.where(valid, cells.values, 0).astype(float)), np.nan)
    out: dict[str, np.ndarray] = {}
    for name in stats:
        if name == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = total / count
        elif name in ("min", "max"):
            largest = name == "max"
            value = np.where(valid, cells.values.astype(float), -np.inf if largest else np.inf)
            out[name] = np.where(has, cells.per_parcel_extreme(value, largest=largest), np.nan)
        elif name == "sum":
            out[name] = total
        elif name == "count":
            out[name] = count
        elif name == "cells":
            out[name] = n_cells
        elif name == "majority":
            out[name] = _majority(cells.label[valid], cells.values[valid].astype(float), n, cells.count[valid])
        else:  # coverage
            with np.errstate(invalid="ignore", divide="ignore"):
                out[name] = np.where(n_cells > 0, count / n_cells, np.nan)
    return pd.DataFrame(out, index=parcels.index.copy())


def storey_equivalent(
    height_m: np.ndarray, *, storey_height_m: float = 3.0, double_over_m: float = 8.0
) -> np.ndarray:
    """Storeys a building of ``height_m`` counts for in the plot ratio (容积率).

    Rule: ``n = max(1, round_half_up(height / storey_height_m))`` storeys; when the storey height this
    implies (``height / n``) exceeds ``double_over_m`` every storey counts twice (the 容积率 rule "a
    storey higher than 8 m counts as two"): ``2 n``. So a single-storey shed over 8 m counts 2 — with the
    default 3 m storeys this never triggers (``height / n`` stays below 6 m); use a shed-like
    ``storey_height_m`` (e.g. 9) for shed-dominated parks. Heights <= 0 count 0; NaN stays NaN.

    Examples: 12 m at 3 m storeys -> 4; 12 m at 9 m storeys -> 1 storey of 12 m > 8 m -> 2.
    """
    if not storey_height_m > 0 or not double_over_m > 0:
        raise InputError("storey_height_m and double_over_m must be positive",
                         [Problem(f"storey_height_m={storey_height_m}, double_over_m={double_over_m}",
                                  fix="use e.g. 3.0 and 8.0 (metres)",
                                  message_zh=f"storey_height_m={storey_height_m}，double_over_m={double_over_m}",
                                  fix_zh="例如 3.0 和 8.0（米）")],
                         zh="storey_height_m 和 double_over_m 必须为正数")
    h = np.asarray(height_m, dtype=float)
    with np.errstate(invalid="ignore"):
        n = np.maximum(1.0, np.floor(h / storey_height_m + 0.5))
        equiv = np.where(h / n > double_over_m, 2.0 * n, n)
        return np.where(np.isnan(h), np.nan, np.where(h > 0, equiv, 0.0))


def land_m2(parcels: gpd.GeoDataFrame) -> pd.Series:
    """Land per parcel in m² for ratios: ``land_mu`` × M2_PER_MU where given, else the drawn area."""
    drawn = parcels.geometry.area.astype(float)
    land = drawn
    if "land_mu" in parcels.columns:
        land = (pd.to_numeric(parcels["land_mu"], errors="coerce") * M2_PER_MU).fillna(drawn)
    return land.where(land > 0)


def plot_ratio(
    parcels: gpd.GeoDataFrame,
    height: RasterData,
    *,
    storey_height_m: float = 3.0,
    double_over_m: float = 8.0,
    reproject: bool = True,
) -> pd.DataFrame:
    """Estimate each parcel's plot ratio (容积率) from a building height raster.

    Per parcel, over its cells (cell centre inside; a parcel smaller than a cell uses the cell at its
    ``point_on_surface``) with a valid height: building cells have height > 0, each counts
    ``storey_equivalent(height)`` storeys. Cell areas are scaled so the parcel's valid cells add up to its
    drawn area (removes the edge effect of centre sampling; equal to Σ cell area × storeys when the cells
    tile the parcel exactly):

    - ``footprint_m2`` = drawn area × building cells / valid cells;
    - ``floor_area_est_m2`` = drawn area × Σ storeys / valid cells;
    - ``plot_ratio_est`` = floor_area_est_m2 / land (land = ``land_mu`` in m² where given, else drawn);
    - ``plot_ratio_recorded`` = recorded ``floor_area_m2`` / land (NaN where not given);
    - ``plot_ratio_diff`` = est − recorded;
    - ``plot_ratio`` = recorded where given, else estimated (``plot_ratio_source`` says which): the
      column the low-efficiency rule "plot ratio < 1.0" reads.

    Parcels with no valid height cell get NaN estimates. ``height_coverage`` = valid / all cells.

    Returns
    -------
    pandas.DataFrame
        Index ``parcel_id``: ``cells, height_coverage, building_cells, mean_height_m, footprint_m2,
        building_coverage, floor_area_est_m2, plot_ratio_est, plot_ratio_recorded, plot_ratio_diff,
        plot_ratio, plot_ratio_source``.
    """
    cells = _cells(parcels, height, reproject=reproject)
    return _plot_ratio(parcels, cells, storey_height_m=storey_height_m, double_over_m=double_over_m)


@dataclass(frozen=True)
class _Totals:
    """Per parcel: ``cells``, ``valid`` and ``building`` cells (int64), Σ height of building cells and
    Σ storey equivalents (float64), tallest valid cell (-inf without one)."""

    cells: np.ndarray
    valid: np.ndarray
    building: np.ndarray
    height_sum: np.ndarray
    storeys: np.ndarray
    tallest: np.ndarray

    @classmethod
    def zeros(cls, n: int) -> _Totals:
        return cls(*(np.zeros(n, dtype=np.int64) for _ in range(3)), np.zeros(n), np.zeros(n), np.full(n, -np.inf))

    @classmethod
    def of_cells(cls, cells: _Cells, *, storey_height_m: float, double_over_m: float) -> _Totals:
        """The totals of the parcels' cells gathered in memory."""
        # Building cells: valid with a height above 0; heights in float64 for the storey rule and the sums.
        h = np.where(cells.valid, cells.values.astype(float), 0.0)
        building = cells.valid & (h > 0)
        storeys = storey_equivalent(h, storey_height_m=storey_height_m, double_over_m=double_over_m)
        return cls(
            cells=np.bincount(cells.label, weights=cells.count, minlength=cells.n).astype(np.int64),
            valid=cells.per_parcel_count(cells.valid),
            building=cells.per_parcel_count(building),
            height_sum=cells.per_parcel_sum(np.where(building, h, 0.0)),
            storeys=cells.per_parcel_sum(storeys),
            tallest=cells.per_parcel_extreme(np.where(cells.valid, cells.values.astype(float), -np.inf),
                                             largest=True),
        )


def _plot_ratio(parcels: gpd.GeoDataFrame, cells: _Cells, *, storey_height_m: float,
                double_over_m: float) -> pd.DataFrame:
    """:func:`plot_ratio` from the parcels' cells."""
    return _ratio_frame(parcels, _Totals.of_cells(cells, storey_height_m=storey_height_m,
                                                  double_over_m=double_over_m))


def _ratio_frame(parcels: gpd.GeoDataFrame, totals: _Totals) -> pd.DataFrame:
    """The columns of :func:`plot_ratio` from the parcels' totals.

    In numpy from end to end: a numpy function handed a pandas object asks it for array attributes, which
    pandas looks up among the index labels (a hash table of every ``parcel_id`` built for nothing).
    """
    n = len(parcels)
    n_cells = totals.cells
    n_valid = totals.valid.astype(float)
    n_build = totals.building
    drawn = parcels.geometry.area.to_numpy(dtype=float)  # once, for the scaling and the land
    land = _land_values(parcels, drawn)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_valid > 0, 1.0 / n_valid, np.nan)
        mean_h = totals.height_sum / n_build
        footprint = drawn * n_build * share
        floor_est = drawn * totals.storeys * share
        est = floor_est / land
        coverage = np.where(n_cells > 0, n_valid / n_cells, np.nan)
    recorded = np.full(n, np.nan)
    if "floor_area_m2" in parcels.columns:
        recorded = _numbers(parcels["floor_area_m2"]) / land
    has_rec = ~np.isnan(recorded)
    source = np.full(n, None, dtype=object)
    source[~np.isnan(est)] = "estimated"
    source[has_rec] = "recorded"
    return pd.DataFrame(
        {
            "cells": n_cells,
            "height_coverage": coverage,
            "building_cells": n_build,
            "mean_height_m": mean_h,
            "footprint_m2": footprint,
            "building_coverage": footprint / land,
            "floor_area_est_m2": floor_est,
            "plot_ratio_est": est,
            "plot_ratio_recorded": recorded,
            "plot_ratio_diff": est - recorded,
            "plot_ratio": np.where(has_rec, recorded, est),
            "plot_ratio_source": pd.array(source, dtype="string"),
        },
        index=parcels.index.copy(),
    )


def _numbers(column: pd.Series) -> np.ndarray:
    """A column as float64 numbers, NaN where missing or not a number."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _land_values(parcels: gpd.GeoDataFrame, drawn: np.ndarray) -> np.ndarray:
    """:func:`land_m2` as an array, from the drawn areas at hand."""
    land = drawn
    if "land_mu" in parcels.columns:
        given = _numbers(parcels["land_mu"]) * M2_PER_MU
        land = np.where(np.isnan(given), drawn, given)
    with np.errstate(invalid="ignore"):
        return np.where(land > 0, land, np.nan)


def building_stats(
    parcels: gpd.GeoDataFrame,
    height: RasterData | str | os.PathLike[str],
    *,
    storey_height_m: float = 3.0,
    double_over_m: float = 8.0,
    reproject: bool = True,
) -> pd.DataFrame:
    """Building height and plot ratio per parcel, going through the height raster a band of rows at a time.

    The same figures as ``zonal_stats(parcels, height, stats=("max", "coverage"))`` joined to
    :func:`plot_ratio`, to the bit, with memory bounded by a band of the raster: a file is read only
    where parcels lie (the tiles their cells touch, ``BAND_ROWS`` rows at a time, the next band read on a
    second thread while one is reduced). A file stored as one strip can only be decoded whole, so it is read
    whole.

    Parameters
    ----------
    parcels
        Parcels (index ``parcel_id``), with ``land_mu`` and ``floor_area_m2`` where known.
    height
        Building height raster in metres: a GeoTIFF's path (read band by band), or one in memory.
    storey_height_m, double_over_m, reproject
        As for :func:`plot_ratio`.

    Returns
    -------
    pandas.DataFrame
        Index ``parcel_id``: ``height_max_m`` (tallest valid cell, NaN without one), ``height_coverage_share``
        (valid cells / cells), then the columns of :func:`plot_ratio`.
    """
    if isinstance(height, RasterData):
        _check_one_band(height)
        source: Any = _ArrayWindows(height)
    else:
        from gisefficiency.io.raster import open_raster_windows

        source = open_raster_windows(height)
    geoms = _geoms_in_raster_crs(parcels, source.crs, reproject=reproject)
    storey_equivalent(np.zeros(0), storey_height_m=storey_height_m, double_over_m=double_over_m)  # checks them
    totals = _band_totals(geoms, source, storey_height_m=storey_height_m, double_over_m=double_over_m)
    ratio = _ratio_frame(parcels, totals)
    ratio.insert(0, "height_coverage_share", ratio["height_coverage"].to_numpy())
    ratio.insert(0, "height_max_m", np.where(totals.valid > 0, totals.tallest, np.nan))
    return ratio


class _ArrayWindows:
    """A raster in memory read like ``io.raster.RasterWindows``: a band of rows is a view of the array."""

    def __init__(self, raster: RasterData) -> None:
        self.array = raster.array
        self.shape = raster.array.shape
        # one "tile" spans a row: a band is read whole, as a view, never copied
        self.block_shape = (1, raster.array.shape[1])
        self.dtype, self.transform, self.crs, self.nodata = (raster.array.dtype, raster.transform, raster.crs,
                                                             raster.nodata)

    def read(self, rows: tuple[int, int], cols: Sequence[tuple[int, int]], *,
             out: np.ndarray | None = None) -> np.ndarray:
        del cols, out  # always the whole width (block_shape)
        return self.array[rows[0]:rows[1]].reshape(-1)


# A band's parcel runs: (first row, row after the last), then start (flat cell), length and label of each run.
_BandRuns = tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]


def _band_totals(geoms: np.ndarray, source: Any, *, storey_height_m: float, double_over_m: float) -> _Totals:
    """Every parcel's totals (:class:`_Totals`) from ``source`` read a band of rows at a time."""
    grid = Grid.from_transform(source.transform, source.shape)
    tile_rows = source.block_shape[0]
    band_rows = tile_rows * max(1, -(-BAND_ROWS // tile_rows))
    totals = _Totals.zeros(len(geoms))
    options = {"nodata": source.nodata, "storey_height_m": storey_height_m, "double_over_m": double_over_m}
    # The parcels go in groups from north to south, so only one group's polygon edges are held at a time
    # (a million parcels have 160 MB of them); a band where two groups meet is read once for each.
    order = np.argsort(-shapely.bounds(geoms)[:, 3], kind="stable")
    for group in np.array_split(order, max(1, -(-len(order) // GROUP_PARCELS))):
        # in their own order within the group: the geometries are read where they lie in memory
        _add_group(geoms, np.sort(group), source, grid, band_rows, totals, **options)
    return totals


def _add_group(geoms: np.ndarray, group: np.ndarray, source: Any, grid: Grid, band_rows: int, totals: _Totals,
               **options: Any) -> None:
    """Add the parcels ``geoms[group]`` to ``totals``, band after band."""
    bands = ((rows, start, length, group[label])
             for rows, edges in edges_by_band(polygon_edges(geoms[group]), grid, band_rows)
             for start, length, label in [centre_spans(edges, grid, rows=rows)])
    _add_bands(bands, source, grid, totals, **options)
    # A parcel holding no cell centre (smaller than a cell, a sliver) reads the cell at its point_on_surface:
    # known only once every band is done, so those cells are read in a second, usually tiny, pass.
    cell = fallback_cells(geoms[group], totals.cells[group] == 0, grid)
    label = np.flatnonzero(cell >= 0)
    if len(label):
        order = np.argsort(cell[label], kind="stable")
        cell, label = cell[label][order], group[label[order]]
        band = cell // grid.width // band_rows
        cut = np.flatnonzero(np.r_[True, band[1:] != band[:-1], True])
        ones = np.ones(len(cell), dtype=np.int64)
        fallback = (((int(band[a]) * band_rows, min((int(band[a]) + 1) * band_rows, grid.height)),
                     cell[a:b], ones[a:b], label[a:b]) for a, b in pairwise(cut))
        _add_bands(fallback, source, grid, totals, **options)


def _add_bands(bands: Iterable[_BandRuns], source: Any, grid: Grid, totals: _Totals, **options: Any) -> None:
    """Add each band's runs to ``totals``, the next band rasterised and read on a thread meanwhile."""
    # Two buffers taken in turn: one is read into while the other is reduced (reused, so their memory
    # is touched once, not once per band).
    buffers = [np.empty(0, dtype=source.dtype), np.empty(0, dtype=source.dtype)]
    pending = iter(bands)

    def load(slot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The next band with runs: its cells read into ``buffers[slot]``, where its runs start there."""
        for rows, start, length, label in pending:
            if len(start):
                cols, pos, size = _band_layout(rows, start, length, grid.width, source.block_shape[1])
                if len(buffers[slot]) < size:
                    buffers[slot] = np.empty(size, dtype=source.dtype)
                return source.read(rows, cols, out=buffers[slot]), pos, length, label
        return None

    with ThreadPoolExecutor(max_workers=1) as reader:
        job, slot = reader.submit(load, 0), 1
        while (band := job.result()) is not None:
            job, slot = reader.submit(load, slot), 1 - slot
            _add_band(*band, totals, **options)


def _band_layout(rows: tuple[int, int], start: np.ndarray, length: np.ndarray, width: int,
                 tile_cols: int) -> tuple[list[tuple[int, int]], np.ndarray, int]:
    """The windows of a band to read and where each run starts in them.

    Only the tile columns some run touches are read: stretches of neighbouring ones as one window each,
    the windows one after another (row by row within each). Returns the windows' column ranges, each run's
    first cell in that layout, and the number of cells read.
    """
    row, col = np.divmod(start, width)
    n_tiles = -(-width // tile_cols)
    # +1 where a stretch of touched tiles may begin, -1 after it: a running sum > 0 marks touched tiles
    touched = np.cumsum(np.bincount(col // tile_cols, minlength=n_tiles + 1)
                        - np.bincount((col + length - 1) // tile_cols + 1, minlength=n_tiles + 1))[:n_tiles] > 0
    edge = np.diff(np.r_[0, touched.astype(np.int8), 0])
    c0 = np.flatnonzero(edge == 1) * tile_cols
    c1 = np.minimum(np.flatnonzero(edge == -1) * tile_cols, width)
    height = rows[1] - rows[0]
    size = height * (c1 - c0)
    offset = np.cumsum(size) - size
    window = np.searchsorted(c0, col, side="right") - 1
    pos = offset[window] + (row - rows[0]) * (c1 - c0)[window] + col - c0[window]
    return list(zip(c0.tolist(), c1.tolist(), strict=True)), pos, int(size.sum())


def _add_band(values: np.ndarray, pos: np.ndarray, length: np.ndarray, label: np.ndarray, totals: _Totals, *,
              nodata: float | int | None, storey_height_m: float, double_over_m: float) -> None:
    """Add a band's runs to ``totals``: ``values`` the cells read, a run ``length`` cells from ``pos``."""
    n = len(values)
    # Runs of equal values (a building's height over its footprint, open ground, nodata): everything below
    # is per run. NaN != NaN keeps NaN cells apart, which changes nothing as they are not valid.
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(values[1:], values[:-1], out=change[1:])
    run_start = np.flatnonzero(change)
    del change
    # each cell's run, counted from 1 (a lookup per parcel run, not a binary search: those miss the cache)
    run_of = np.zeros(n, dtype=np.int32 if n < 2**31 else np.int64)
    run_of[run_start] = 1
    np.cumsum(run_of, out=run_of)
    run_end = np.r_[run_start[1:], n]
    run_value = values[run_start]
    valid = _valid(run_value, nodata)
    h = np.where(valid, run_value.astype(float), 0.0)
    building = valid & (h > 0)
    storeys = storey_equivalent(h, storey_height_m=storey_height_m, double_over_m=double_over_m)
    # Each parcel run as the runs of equal values it crosses, cut to it: (parcel run, value run, cells).
    # They come parcel after parcel, row after row, west to east, and are added in that order with
    # ufunc.at (in order, like bincount): each parcel's sums are then the in-memory ones to the bit.
    end = pos + length
    first = run_of[pos] - 1
    crossed = run_of[end - 1] - first
    del run_of
    run = span_cells(first, crossed)
    span = np.repeat(np.arange(len(pos)), crossed)
    cells = np.minimum(end[span], run_end[run]) - np.maximum(pos[span], run_start[run])
    lab = label[span]
    np.add.at(totals.cells, label, length)
    np.add.at(totals.valid, lab, np.where(valid[run], cells, 0))
    np.add.at(totals.building, lab, np.where(building[run], cells, 0))
    np.add.at(totals.height_sum, lab, np.where(building, h, 0.0)[run] * cells)
    np.add.at(totals.storeys, lab, storeys[run] * cells)
    np.maximum.at(totals.tallest, lab, np.where(valid, h, -np.inf)[run])

"""Zonal statistics, building height and plot ratio per parcel.

The parcels are rasterised once onto the raster's own grid as runs of cells along rows
(``gisefficiency.raster.grid.geometry_spans``: the cells whose centre a parcel holds, plus one cell for a
parcel smaller than a cell). The run's cells are gathered from the raster in one numpy take, each run is
reduced with ``ufunc.reduceat`` (its cells are contiguous) and the runs are added up per parcel with
``numpy.bincount`` / ``ufunc.at``: no loop per parcel, and no per-cell scatter. :func:`building_stats`
gives the pipeline's height and plot-ratio columns from a single rasterisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import CRSError, InputError, Problem
from gisefficiency.raster.grid import Grid, RasterData, geometry_spans, span_cells

#: Statistics ``zonal_stats`` can compute. ``count`` = valid cells, ``cells`` = all cells of the parcel,
#: ``coverage`` = count / cells, ``majority`` = most frequent valid value (ties: the smallest).
ZONAL_STATS: tuple[str, ...] = ("mean", "min", "max", "sum", "count", "majority", "coverage", "cells")


def _geoms_in_raster_crs(parcels: gpd.GeoDataFrame, raster: RasterData, *, reproject: bool) -> np.ndarray:
    """Parcel geometries in the raster's CRS (reprojected, or an error naming both CRSs)."""
    if parcels.crs is None or raster.crs is None:
        which = "parcels" if parcels.crs is None else "raster"
        raise CRSError(f"the {which} have no CRS, so parcels and raster cannot be matched",
                       [Problem(f"parcels CRS: {parcels.crs}, raster CRS: {raster.crs}",
                                fix=f"set the CRS of the {which} explicitly",
                                message_zh=f"地块坐标系：{parcels.crs}，栅格坐标系：{raster.crs}",
                                fix_zh=f"请明确设置{'地块' if which == 'parcels' else '栅格'}的坐标系")],
                       zh=f"{'地块' if which == 'parcels' else '栅格'}没有坐标系，地块与栅格无法对应")
    pcrs, rcrs = CRS.from_user_input(parcels.crs), CRS.from_user_input(raster.crs)
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
    if raster.array.ndim != 2:
        raise InputError("raster must be one band (2-D)",
                         [Problem(f"array shape {raster.array.shape}", fix="read one band (read_raster(band=...))",
                                  message_zh=f"数组形状为 {raster.array.shape}",
                                  fix_zh="请只读一个波段（read_raster(band=...)）")],
                         zh="栅格必须是单波段（二维）")
    geoms = _geoms_in_raster_crs(parcels, raster, reproject=reproject)
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


def _plot_ratio(parcels: gpd.GeoDataFrame, cells: _Cells, *, storey_height_m: float,
                double_over_m: float) -> pd.DataFrame:
    """:func:`plot_ratio` from the parcels' cells."""
    n = cells.n
    # Building cells: valid with a height above 0; heights in float64 for the storey rule and the sums.
    h = np.where(cells.valid, cells.values.astype(float), 0.0)
    building = cells.valid & (h > 0)
    storeys = storey_equivalent(h, storey_height_m=storey_height_m, double_over_m=double_over_m)
    n_cells = np.bincount(cells.label, weights=cells.count, minlength=n).astype(np.int64)
    n_valid = cells.per_parcel_count(cells.valid).astype(float)
    n_build = cells.per_parcel_count(building)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_valid > 0, 1.0 / n_valid, np.nan)
        mean_h = cells.per_parcel_sum(np.where(building, h, 0.0)) / n_build
        drawn = parcels.geometry.area.to_numpy(dtype=float)
        land = land_m2(parcels).to_numpy(dtype=float)
        footprint = drawn * n_build * share
        floor_est = drawn * cells.per_parcel_sum(storeys) * share
        est = floor_est / land
        coverage = np.where(n_cells > 0, n_valid / n_cells, np.nan)
    recorded = np.full(n, np.nan)
    if "floor_area_m2" in parcels.columns:
        recorded = pd.to_numeric(parcels["floor_area_m2"], errors="coerce").to_numpy(dtype=float) / land
    frame = pd.DataFrame(
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
        },
        index=parcels.index.copy(),
    )
    has_rec = frame["plot_ratio_recorded"].notna()
    frame["plot_ratio"] = frame["plot_ratio_recorded"].where(has_rec, frame["plot_ratio_est"])
    source = np.where(has_rec, "recorded", np.where(frame["plot_ratio_est"].notna(), "estimated", None))
    frame["plot_ratio_source"] = pd.Series(source, index=frame.index, dtype="string")
    return frame


def building_stats(
    parcels: gpd.GeoDataFrame,
    height: RasterData,
    *,
    storey_height_m: float = 3.0,
    double_over_m: float = 8.0,
    reproject: bool = True,
) -> pd.DataFrame:
    """Building height and plot ratio per parcel from one rasterisation of the parcels.

    The same figures as ``zonal_stats(parcels, height, stats=("max", "coverage"))`` joined to
    :func:`plot_ratio`, with the parcels rasterised once onto the height raster's grid instead of twice.

    Parameters
    ----------
    parcels
        Parcels (index ``parcel_id``), with ``land_mu`` and ``floor_area_m2`` where known.
    height
        Building height raster in metres.
    storey_height_m, double_over_m, reproject
        As for :func:`plot_ratio`.

    Returns
    -------
    pandas.DataFrame
        Index ``parcel_id``: ``height_max_m`` (tallest valid cell, NaN without one), ``height_coverage_share``
        (valid cells / cells), then the columns of :func:`plot_ratio`.
    """
    cells = _cells(parcels, height, reproject=reproject)
    has = cells.per_parcel_count(cells.valid) > 0
    tallest = cells.per_parcel_extreme(np.where(cells.valid, cells.values.astype(float), -np.inf), largest=True)
    ratio = _plot_ratio(parcels, cells, storey_height_m=storey_height_m, double_over_m=double_over_m)
    ratio.insert(0, "height_coverage_share", ratio["height_coverage"].to_numpy())
    ratio.insert(0, "height_max_m", np.where(has, tallest, np.nan))
    return ratio

"""Rasters of parcels: the parcel-index raster, metric rasters, zonal statistics, plot ratio, density.

Computation only: arrays and affine transforms in, arrays and frames out (files: ``gisefficiency.io.raster``).

The parcel index is rasterized once (``parcel_index_raster``, our own vectorised scanline fill, see
``gisefficiency.raster.grid``); every metric raster is then a numpy gather ``values[index]`` that takes
milliseconds. ``zonal_stats`` and ``plot_ratio`` (in ``gisefficiency.raster.zonal``) and the density surface
and PNG overlay (``gisefficiency.raster.density``) are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS

from gisefficiency.core.errors import CRSError, InputError, Problem, format_ids, format_ids_zh
from gisefficiency.raster.density import density_surface
from gisefficiency.raster.grid import Grid, RasterData, burn_index, fallback_cells
from gisefficiency.raster.zonal import plot_ratio

__all__ = [
    "CELL_AREA_WEIGHTINGS",
    "GRADE_ORDER",
    "IndexRaster",
    "RasterData",
    "RasterLayer",
    "RasterOutputs",
    "encode_categories",
    "metric_raster",
    "parcel_index_raster",
    "raster_outputs",
]

#: ``metric_raster`` options for density metrics: keep each parcel's total (default) or plain gather.
CELL_AREA_WEIGHTINGS: tuple[str, ...] = ("conserve", "none")

#: Category order of evaluation grades (code 0 = A ... 4 = N).
GRADE_ORDER: tuple[str, ...] = ("A", "B", "C", "D", "N")

#: Nodata of integer rasters (parcel positions, category codes).
INT_NODATA: int = -1

#: Largest grid ``parcel_index_raster`` builds (cells): 1M parcels at 20 m are about 0.1 of it.
MAX_CELLS: int = 400_000_000

#: Metric layers ``raster_outputs`` paints at the same time (the gathers run without the GIL).
PAINT_THREADS: int = 2


@dataclass(frozen=True)
class IndexRaster:
    """Which parcel each cell belongs to.

    Attributes
    ----------
    array
        int32, the parcel's position in ``parcel_ids`` whose polygon holds the cell centre; -1 = no parcel.
    transform, crs
        Grid transform and the parcels' CRS.
    parcel_ids
        Position -> parcel id (the parcels' index).
    area_m2
        Drawn polygon area of each parcel (square CRS units, metres).
    cell_count
        Cells the parcel owns in ``array``.
    fallback_cell
        For parcels that own no cell (smaller than a cell, or covered by later overlapping parcels): the flat
        cell index of their ``point_on_surface`` (-1 otherwise or outside the grid). Density metrics put
        such parcels' totals there.
    meta
        ``resolution_m``, ``aligned`` (cell edges on multiples of the resolution), ``all_touched``,
        ``rule`` (what a cell means), ``nodata``.
    """

    array: np.ndarray
    transform: Affine
    crs: CRS | None
    parcel_ids: pd.Index
    area_m2: np.ndarray
    cell_count: np.ndarray
    fallback_cell: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    nodata: int = INT_NODATA

    @property
    def cell_area_m2(self) -> float:
        """Area of one cell (square CRS units)."""
        return abs(self.transform.a * self.transform.e)


@dataclass(frozen=True)
class RasterLayer:
    """A raster ready to be written: ``io.raster.write_cog(path, layer.array, transform=..., ...)``."""

    array: np.ndarray
    transform: Affine
    crs: CRS | None
    nodata: float | int | None
    categories: dict[int, str] | None = None
    unit: str = ""


@dataclass(frozen=True)
class RasterOutputs:
    """What the pipeline's raster stage produces.

    Attributes
    ----------
    index
        The parcel-index raster every layer was gathered from.
    layers
        Metric name -> ``RasterLayer`` (floats with NaN nodata, or int32 category codes with -1 nodata).
    plot_ratio
        ``plot_ratio`` frame per parcel (index ``parcel_id``), or None without a height raster.
    density
        Low-efficiency land density (mu per km²), or None when the parcels have no flag column.
    """

    index: IndexRaster
    layers: dict[str, RasterLayer]
    plot_ratio: pd.DataFrame | None = None
    density: RasterLayer | None = None


def _metric_crs(crs: Any, what: str) -> CRS:
    """The CRS as pyproj, refusing missing or geographic ones (cell sizes are metres)."""
    if crs is None:
        raise CRSError(f"{what} have no CRS",
                       [Problem("cannot place a metre grid", fix="set the CRS (e.g. EPSG:4549) when reading",
                                message_zh="无法放置以米为单位的网格",
                                fix_zh="读取时请设置坐标系（例如 EPSG:4549）")],
                       zh=f"{'地块' if what == 'parcels' else what}没有坐标系")
    crs = CRS.from_user_input(crs)
    if not crs.is_projected:
        raise CRSError(f"{what} are in a geographic CRS ({crs.name})",
                       [Problem("raster cell sizes are in metres",
                                fix="project to the CGCS2000 Gauss-Kruger zone first (e.g. EPSG:4549)",
                                message_zh="栅格的像元大小以米为单位",
                                fix_zh="请先投影到 CGCS2000 高斯-克吕格投影带（例如 EPSG:4549）")],
                       zh=f"{'地块' if what == 'parcels' else what}使用的是地理坐标系（{crs.name}）")
    return crs


def parcel_index_raster(
    parcels: gpd.GeoDataFrame,
    *,
    resolution_m: float = 10.0,
    bounds: tuple[float, float, float, float] | None = None,
    align: bool = True,
    all_touched: bool = False,
) -> IndexRaster:
    """Rasterize the parcels' positions once: the cell -> parcel lookup behind every metric raster.

    Parameters
    ----------
    parcels
        Parcels in a projected CRS (metres); row order gives the positions.
    resolution_m
        Cell size in metres.
    bounds
        ``(minx, miny, maxx, maxy)`` to cover; default the parcels' total bounds.
    align
        Put cell edges on multiples of ``resolution_m`` so rasters of separate runs line up.
    all_touched
        Also give a parcel every cell its boundary passes through (not only cells whose centre it holds).
        Where parcels overlap or share such a cell, the later parcel (higher position) wins, as in GDAL.

    Returns
    -------
    IndexRaster
    """
    if not resolution_m > 0:
        raise InputError("resolution_m must be positive",
                         [Problem(f"resolution_m = {resolution_m}", fix="use e.g. 10 or 20 (metres)",
                                  message_zh=f"resolution_m = {resolution_m}",
                                  fix_zh="例如 10 或 20（米）")],
                         zh="resolution_m 必须为正数")
    crs = _metric_crs(parcels.crs, "parcels")
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    if bounds is None:
        if len(parcels) == 0 or parcels.geometry.is_empty.all():
            raise InputError("no parcel geometry to rasterize",
                             [Problem("all geometries are empty", fix="check the parcel layer",
                                      message_zh="所有几何都为空",
                                      fix_zh="请检查地块图层")],
                             zh="没有可栅格化的地块几何")
        bounds = tuple(parcels.total_bounds)
    grid = Grid.covering(bounds, resolution_m, align=align)
    if grid.width * grid.height > MAX_CELLS:
        raise InputError(
            "the parcel-index raster would be too large",
            [Problem(f"{grid.height} × {grid.width} cells at {resolution_m} m (limit {MAX_CELLS:,})",
                     fix="use a coarser [raster].resolution_m or smaller bounds",
                     message_zh=f"{resolution_m} 米分辨率下为 {grid.height} × {grid.width} 个栅格（上限 {MAX_CELLS:,}）",
                     fix_zh="请用更粗的 [raster].resolution_m 或更小的范围")],
            zh="地块索引栅格会过大",
        )
    array = burn_index(geoms, grid, all_touched=all_touched, fill=INT_NODATA)
    # counted after burning: a parcel fully covered by later ones then gets a fallback cell, like small ones
    counts = np.bincount(array[array >= 0], minlength=len(parcels))
    fallback = fallback_cells(geoms, counts == 0, grid)
    return IndexRaster(
        array=array,
        transform=grid.transform,
        crs=crs,
        parcel_ids=parcels.index.copy(),
        area_m2=np.asarray(parcels.geometry.area, dtype=float),
        cell_count=counts,
        fallback_cell=fallback,
        meta={
            "resolution_m": float(resolution_m),
            "aligned": bool(align),
            "origin": (grid.x0, grid.y0),
            "all_touched": bool(all_touched),
            "rule": ("cell = parcel whose polygon holds the cell centre"
                     + (" or whose boundary crosses the cell" if all_touched else "")
                     + "; later parcel wins on overlap; -1 = none"),
            "nodata": INT_NODATA,
        },
    )


def _aligned_values(index: IndexRaster, values: Any) -> pd.Series:
    """``values`` as a Series in the index raster's parcel order (by parcel id when it has an index)."""
    if isinstance(values, pd.Series):
        unknown = values.index.difference(index.parcel_ids)
        if len(unknown) and len(values.index.intersection(index.parcel_ids)) == 0:
            raise InputError(
                f"values of {values.name!r} are not indexed by parcel_id",
                [Problem(f"none of the index values match the parcels, e.g. {format_ids(unknown)}",
                         fix="pass a Series indexed by parcel_id (or an array in parcel order)",
                         message_zh=f"索引值没有一个与地块对应，例如 {format_ids_zh(unknown)}",
                         fix_zh="请传入以 parcel_id 为索引的 Series（或按地块顺序的数组）")],
                zh=f"{values.name!r} 的值不是按 parcel_id 索引的",
            )
        # reindexing plain int/bool columns would turn them into floats: keep them integer with NA
        if pd.api.types.is_bool_dtype(values.dtype):
            values = values.astype("boolean")
        elif pd.api.types.is_integer_dtype(values.dtype):
            values = values.astype("Int64")
        return values.reindex(index.parcel_ids)
    arr = np.asarray(values)
    if arr.ndim != 1 or len(arr) != len(index.parcel_ids):
        raise InputError(
            "values do not match the parcels",
            [Problem(f"got shape {arr.shape}, expected ({len(index.parcel_ids)},)",
                     fix="pass one value per parcel in parcel order, or a Series indexed by parcel_id",
                     message_zh=f"收到形状 {arr.shape}，应为 ({len(index.parcel_ids)},)",
                     fix_zh="请按地块顺序每个地块传一个值，或传入以 parcel_id 为索引的 Series")],
            zh="数值与地块不对应",
        )
    return pd.Series(arr, index=index.parcel_ids)


def metric_raster(
    index_raster: IndexRaster,
    values: pd.Series | np.ndarray,
    *,
    density: bool = False,
    cell_area_weighting: Literal["conserve", "none"] = "conserve",
) -> np.ndarray:
    """Paint one value per parcel onto the parcel-index raster (a numpy gather).

    Parameters
    ----------
    index_raster
        From ``parcel_index_raster``.
    values
        One value per parcel: a Series indexed by parcel_id, or an array in parcel order. Floats give a
        float32 raster with NaN where no parcel or the value is missing. Integers (category codes from
        ``encode_categories``, block ids) give an int32 raster with -1 as nodata; they must be >= 0.
    density
        The metric is per unit of land (e.g. ``tax_per_mu``): apply ``cell_area_weighting``.
    cell_area_weighting
        ``"conserve"`` (default): every parcel keeps its total ``value × drawn area``. A parcel's total is
        spread evenly over the cells whose centre it holds (so a cell reads ``value × area / (cells ×
        cell area)``: the parcel's value corrected for rasterization), and a parcel too small to hold any
        cell centre adds its total to the cell holding its ``point_on_surface`` (that cell reads the sum of
        its own share and the small parcels' totals over the cell area; missing values add nothing). Then
        ``Σ cell × cell area`` equals ``Σ value × area`` up to float32 rounding (relative 1e-6) for parcels
        inside the grid. ``"none"``: plain gather (small parcels vanish, the total drifts by edge effects).

    Returns
    -------
    numpy.ndarray
        Same shape as ``index_raster.array``.
    """
    if cell_area_weighting not in CELL_AREA_WEIGHTINGS:
        raise InputError("unknown cell_area_weighting",
                         [Problem(f"got {cell_area_weighting!r}", fix=f"use one of {CELL_AREA_WEIGHTINGS}",
                                  message_zh=f"收到 {cell_area_weighting!r}",
                                  fix_zh=f"请使用 {CELL_AREA_WEIGHTINGS} 之一")],
                         zh="未知的 cell_area_weighting")
    series = _aligned_values(index_raster, values)
    idx = index_raster.array
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype):
        codes = series.astype("Int64")
        if (codes.dropna() < 0).any():
            bad = codes.index[codes.fillna(0) < 0]
            raise InputError(f"negative codes in {series.name!r}",
                             [Problem(f"parcels {format_ids(bad)}", fix="codes must be >= 0 (-1 is nodata)",
                                      message_zh=f"地块 {format_ids_zh(bad)}",
                                      fix_zh="代码必须 >= 0（-1 表示无数据）")],
                             zh=f"{series.name!r} 中有负的代码")
        lookup = codes.fillna(INT_NODATA).to_numpy(dtype=np.int32)
        return _gather(lookup, idx, INT_NODATA)
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise InputError(
            f"values of {series.name!r} are not numeric",
            [Problem(f"dtype {series.dtype}", fix="turn text categories into codes with encode_categories()",
                     message_zh=f"数据类型为 {series.dtype}",
                     fix_zh="请用 encode_categories() 把文本类别转换为代码")],
            zh=f"{series.name!r} 的值不是数值",
        )
    value = series.to_numpy(dtype=float, na_value=np.nan)
    if density and cell_area_weighting == "conserve":
        cell_area = index_raster.cell_area_m2
        total = value * index_raster.area_m2  # per unit area × area: the parcel's total
        with np.errstate(divide="ignore", invalid="ignore"):
            per_cell = total / (index_raster.cell_count * cell_area)
        out = _gather(per_cell.astype(np.float32), idx, np.nan)
        small = (index_raster.fallback_cell >= 0) & np.isfinite(total)
        if small.any():
            # Sparse: only the cells that receive small parcels' totals, added in float64 to the
            # cell's own share and then rounded, as if the whole raster were float64 until the end.
            add = np.bincount(index_raster.fallback_cell[small], weights=total[small] / cell_area,
                              minlength=out.size)
            target = np.flatnonzero(add)
            own = np.append(per_cell, np.nan)[idx.reshape(-1)[target]]
            out.reshape(-1)[target] = (np.nan_to_num(own) + add[target]).astype(np.float32)
        return out
    return _gather(value.astype(np.float32), idx, np.nan)


def _gather(lookup: np.ndarray, idx: np.ndarray, nodata: float | int) -> np.ndarray:
    """``lookup[idx]`` with ``nodata`` where ``idx`` is -1, in one pass over the raster.

    ``nodata`` is appended to the lookup, so -1 (Python's last element) picks it: no mask, no second
    array the size of the raster. Casting the per-parcel lookup before the gather gives the same
    values as casting the gathered raster.
    """
    return np.append(lookup, np.array([nodata], dtype=lookup.dtype))[idx]


def encode_categories(
    values: pd.Series, *, order: Sequence[str] | None = None
) -> tuple[pd.Series, dict[int, str]]:
    """Integer codes for a categorical column, and the code -> label table.

    Parameters
    ----------
    values
        Text or boolean categories (grade, disposal, ...); missing stays missing.
    order
        Category order (code 0 first), e.g. ``GRADE_ORDER``; values outside it are appended sorted.
        Default: sorted values (``False`` before ``True`` for flags).

    Returns
    -------
    codes
        ``Int32`` Series on the same index, NA where missing.
    categories
        Code -> label (``str`` of the value).
    """
    present = pd.unique(values.dropna())
    seen = set(present)
    labels = [v for v in (order or []) if v in seen]
    first = set(labels)
    labels += sorted((v for v in present if v not in first), key=str)
    # A hash lookup of every value in the labels (what ``values.map(dict)`` gives, without a Python
    # call per parcel); -1 = missing.
    found = pd.Categorical(values, categories=labels).codes.astype(np.int32) if labels else \
        np.full(len(values), -1, dtype=np.int32)
    codes = pd.Series(pd.arrays.IntegerArray(found, mask=found < 0), index=values.index, name=values.name)
    return codes, {i: str(v) for i, v in enumerate(labels)}


def raster_outputs(
    parcels: gpd.GeoDataFrame,
    *,
    resolution_m: float,
    metrics: Sequence[str],
    height: RasterData | None = None,
    bandwidth_m: float = 500.0,
    density_resolution_m: float = 50.0,
    storey_height_m: float = 3.0,
    double_over_m: float = 8.0,
    progress: Callable[[str], None] | None = None,
) -> RasterOutputs:
    """Every raster the pipeline writes, from one parcel-index rasterization.

    Parameters
    ----------
    parcels
        The result parcels (index ``parcel_id``, projected CRS).
    resolution_m
        Cell size of the metric rasters.
    metrics
        Columns to paint. Float columns whose name ends in ``_per_mu`` are densities (area-conserving,
        see ``metric_raster``); other numeric columns are gathered; integer, text and boolean columns
        (``grade``, ``disposal``, ``block_id``, ``low_efficiency``) become category codes with a table
        (``grade`` in ``GRADE_ORDER``; integer ids keep their own value as code).
    height
        Building height raster (metres): adds the ``plot_ratio`` frame.
    storey_height_m, double_over_m
        Passed to ``plot_ratio`` (industrial parks with 4-5 m storeys need a larger ``storey_height_m``
        than the 3 m default, or the estimate overshoots the recorded floor area).
    bandwidth_m, density_resolution_m
        Kernel radius and cell size of the low-efficiency land density (needs ``low_efficiency`` and
        ``land_mu`` columns; otherwise no density).
    progress
        Called with the name of each finished step (``"index"``, each metric, ``"plot_ratio"``,
        ``"density"``), e.g. to advance a progress bar; 2 + len(metrics) calls at most.

    Returns
    -------
    RasterOutputs
    """
    missing = [m for m in metrics if m not in parcels.columns]
    if missing:
        raise InputError("raster metrics not found in the parcels",
                         [Problem(f"missing columns: {', '.join(missing)}", column=m,
                                  fix="fix [raster].metrics in the config",
                                  message_zh=f"缺少列：{', '.join(missing)}",
                                  fix_zh="请改正配置文件中的 [raster].metrics") for m in missing],
                         zh="地块中找不到栅格指标")
    def done(step: str) -> None:
        if progress is not None:
            progress(step)

    index = parcel_index_raster(parcels, resolution_m=resolution_m)
    done("index")

    def paint(name: str) -> RasterLayer:
        col = parcels[name]
        if pd.api.types.is_integer_dtype(col.dtype):
            arr = metric_raster(index, col)
            cats = {int(v): str(v) for v in pd.unique(col.dropna())}
            return RasterLayer(arr, index.transform, index.crs, INT_NODATA, cats)
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            is_density = name.endswith("_per_mu")
            arr = metric_raster(index, col.astype(float), density=is_density)
            return RasterLayer(arr, index.transform, index.crs, np.nan, unit="万元/亩" if is_density else "")
        codes, cats = encode_categories(col, order=GRADE_ORDER if name == "grade" else None)
        return RasterLayer(metric_raster(index, codes), index.transform, index.crs, INT_NODATA, cats)

    # Each layer is mostly one gather over the whole raster (100M cells at 1M parcels), which numpy
    # does without the GIL: two layers are painted at a time. Finished layers are reported in order.
    layers: dict[str, RasterLayer] = {}
    with ThreadPoolExecutor(max(1, min(PAINT_THREADS, len(metrics)))) as pool:
        painted = [pool.submit(paint, name) for name in metrics]
        for name, future in zip(metrics, painted, strict=True):
            layers[name] = future.result()
            done(name)
    ratio = None
    if height is not None:
        ratio = plot_ratio(parcels, height, storey_height_m=storey_height_m, double_over_m=double_over_m)
        done("plot_ratio")
    dens = None
    if {"low_efficiency", "land_mu"} <= set(parcels.columns):
        arr, transform = density_surface(parcels, bandwidth_m=bandwidth_m, resolution_m=density_resolution_m)
        dens = RasterLayer(arr, transform, index.crs, np.nan, unit="亩/km²")
        done("density")
    return RasterOutputs(index=index, layers=layers, plot_ratio=ratio, density=dens)


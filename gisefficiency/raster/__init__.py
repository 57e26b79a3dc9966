"""Raster: parcels on a grid: the parcel-index raster, metric rasters, zonal statistics, plot ratio, density.

Reads the assembled parcels (and, when configured, a building-height GeoTIFF read by ``io.raster``).
Returns ``RasterOutputs`` (metric and category layers as arrays with their grid) and per-parcel frames
(zonal statistics, ``plot_ratio``). Nothing here writes files: ``io.raster`` does.

Modules: ``grid`` (regular grids and a vectorised polygon rasterizer), ``layers`` (the parcel-index raster
once, then every metric a numpy gather), ``zonal`` (zonal statistics and plot ratio), ``density`` (kernel
density of low-efficiency land and PNG overlays).
"""

from gisefficiency.raster.density import density_surface, to_png_overlay
from gisefficiency.raster.grid import RasterData
from gisefficiency.raster.layers import (
    GRADE_ORDER,
    IndexRaster,
    RasterLayer,
    RasterOutputs,
    encode_categories,
    metric_raster,
    parcel_index_raster,
    raster_outputs,
)
from gisefficiency.raster.zonal import building_stats, plot_ratio, storey_equivalent, zonal_stats

__all__ = [
    "GRADE_ORDER",
    "IndexRaster",
    "RasterData",
    "RasterLayer",
    "RasterOutputs",
    "building_stats",
    "density_surface",
    "encode_categories",
    "metric_raster",
    "parcel_index_raster",
    "plot_ratio",
    "raster_outputs",
    "storey_equivalent",
    "to_png_overlay",
    "zonal_stats",
]

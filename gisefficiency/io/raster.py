"""Read and write rasters: the only place that touches GeoTIFF files.

``write_cog`` writes Cloud-Optimized GeoTIFFs: 512 × 512 tiles, DEFLATE or ZSTD compression with a
predictor, internal overviews, CRS and nodata set. It uses GDAL's COG driver (present in the GDAL that
rasterio bundles, 3.10); on a GDAL without it, a tiled GTiff with overviews is built in memory and copied
with ``COPY_SRC_OVERVIEWS=YES``, which gives the same layout.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.errors import RasterioIOError
from rasterio.io import MemoryFile

from gisefficiency.core.errors import InputError, Problem
from gisefficiency.raster.grid import RasterData

log = logging.getLogger(__name__)

#: Compression codecs ``write_cog`` accepts.
COMPRESSIONS: tuple[str, ...] = ("deflate", "zstd")

#: Tile size of written COGs (cells).
COG_BLOCKSIZE: int = 512

__all__ = ["COMPRESSIONS", "RasterData", "read_raster", "write_cog"]


def read_raster(path: str | Path, *, band: int = 1) -> RasterData:
    """Read one band of a raster file.

    Parameters
    ----------
    path
        GeoTIFF (or any raster GDAL reads).
    band
        1-based band number.

    Returns
    -------
    RasterData
        ``array`` (the band), ``transform``, ``crs`` (``pyproj.CRS`` or None), ``nodata`` (or None);
        ``meta`` holds ``path``, ``driver``, ``dtype``, ``overviews`` and ``blocksize``.
    """
    path = Path(path)
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise InputError(f"cannot read raster {path}",
                         [Problem(str(exc), file=str(path), fix="check the path and that it is a GeoTIFF")]) from exc
    with src:
        if not 1 <= band <= src.count:
            raise InputError(f"{path} has no band {band}",
                             [Problem(f"the file has {src.count} band(s)", file=str(path),
                                      fix=f"choose band between 1 and {src.count}")])
        array = src.read(band)
        crs = CRS.from_wkt(src.crs.to_wkt()) if src.crs else None
        meta = {"path": str(path), "driver": src.driver, "dtype": src.dtypes[band - 1],
                "overviews": src.overviews(band), "blocksize": src.block_shapes[band - 1]}
        return RasterData(array=array, transform=src.transform, crs=crs, nodata=src.nodata, meta=meta)


def _profile(array: np.ndarray, transform: Affine, crs: Any, nodata: float | int | None) -> dict[str, Any]:
    bands = array[None] if array.ndim == 2 else array
    dtype = np.uint8 if bands.dtype == bool else bands.dtype
    return {
        "height": bands.shape[1], "width": bands.shape[2], "count": bands.shape[0], "dtype": dtype,
        "transform": transform, "nodata": nodata,
        "crs": RioCRS.from_wkt(CRS.from_user_input(crs).to_wkt()) if crs is not None else None,
    }


def write_cog(
    path: str | Path,
    array: np.ndarray,
    *,
    transform: Affine,
    crs: Any,
    nodata: float | int | None,
    overviews: bool = True,
    compress: str = "deflate",
    resampling: str | None = None,
) -> Path:
    """Write an array as a Cloud-Optimized GeoTIFF.

    Parameters
    ----------
    path
        Output file (parent directories are created).
    array
        ``(rows, cols)`` or ``(bands, rows, cols)``; booleans are written as uint8.
    transform, crs, nodata
        Georeferencing and the nodata value (NaN for float rasters is fine).
    overviews
        Build internal overviews (halving until the image fits one 512 tile; none for smaller images).
    compress
        ``"deflate"`` or ``"zstd"``, with a predictor.
    resampling
        Overview resampling; default ``"nearest"`` for integer rasters (codes stay codes) and
        ``"average"`` for floats.

    Returns
    -------
    pathlib.Path
    """
    if compress not in COMPRESSIONS:
        raise InputError("unknown compression",
                         [Problem(f"got {compress!r}", fix=f"use one of {', '.join(COMPRESSIONS)}")])
    if array.ndim not in (2, 3):
        raise InputError("write_cog needs a 2-D or 3-D array",
                         [Problem(f"array shape {array.shape}", fix="pass (rows, cols) or (bands, rows, cols)")])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = _profile(array, transform, crs, nodata)
    data = (array[None] if array.ndim == 2 else array).astype(profile["dtype"], copy=False)
    floating = np.issubdtype(profile["dtype"], np.floating)
    resampling = resampling or ("average" if floating else "nearest")
    with rasterio.Env() as env:
        has_cog = "COG" in env.drivers()
    if has_cog:
        with rasterio.open(
            path, "w", driver="COG", **profile, BLOCKSIZE=COG_BLOCKSIZE, COMPRESS=compress.upper(),
            PREDICTOR="YES", OVERVIEWS="AUTO" if overviews else "NONE", RESAMPLING=resampling.upper(),
            BIGTIFF="IF_SAFER",
        ) as dst:
            dst.write(data)
        return path
    log.info("GDAL has no COG driver: writing a tiled GTiff with COPY_SRC_OVERVIEWS")
    return _write_tiled_copy(path, data, profile, overviews=overviews, compress=compress, resampling=resampling)


def _write_tiled_copy(
    path: Path, data: np.ndarray, profile: dict[str, Any], *, overviews: bool, compress: str, resampling: str
) -> Path:
    """COG layout without the COG driver: tiled GTiff + overviews in memory, copied with its overviews."""
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as rio_copy

    floating = np.issubdtype(profile["dtype"], np.floating)
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", **profile, tiled=True, blockxsize=COG_BLOCKSIZE,
                      blockysize=COG_BLOCKSIZE) as tmp:
            tmp.write(data)
            if overviews:
                factors, size = [], max(profile["width"], profile["height"])
                while size > COG_BLOCKSIZE:
                    factors.append(2 ** (len(factors) + 1))
                    size = (size + 1) // 2
                if factors:
                    tmp.build_overviews(factors, Resampling[resampling])
        with mem.open() as tmp:
            rio_copy(tmp, path, driver="GTiff", TILED="YES", BLOCKXSIZE=COG_BLOCKSIZE,
                     BLOCKYSIZE=COG_BLOCKSIZE, COMPRESS=compress.upper(), PREDICTOR=3 if floating else 2,
                     COPY_SRC_OVERVIEWS="YES", BIGTIFF="IF_SAFER")
    return path

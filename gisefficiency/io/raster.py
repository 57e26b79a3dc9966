"""Read and write rasters: the only place that touches GeoTIFF files.

``write_cog`` writes Cloud-Optimized GeoTIFFs: 512 × 512 tiles, DEFLATE or ZSTD compression (with a
predictor unless told not to), internal overviews, CRS and nodata set. It uses GDAL's COG driver (present in the GDAL that
rasterio bundles, 3.10); on a GDAL without it, a tiled GTiff with overviews is built in memory and copied
with ``COPY_SRC_OVERVIEWS=YES``, which gives the same layout.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.crs import CRS as RioCRS
from rasterio.errors import RasterioIOError
from rasterio.io import MemoryFile
from rasterio.windows import Window

from gisefficiency.core.errors import InputError, Problem
from gisefficiency.raster.grid import RasterData

log = logging.getLogger(__name__)

#: Compression codecs ``write_cog`` accepts.
COMPRESSIONS: tuple[str, ...] = ("deflate", "zstd")

#: Tile size of written COGs (cells).
COG_BLOCKSIZE: int = 512

__all__ = ["COMPRESSIONS", "RasterData", "RasterWindows", "open_raster_windows", "read_category_names",
           "read_raster", "write_category_cog", "write_cog"]


def _open(path: Path) -> Any:
    """``rasterio.open(path)``, or an ``InputError`` naming the file."""
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise InputError(f"cannot read raster {path}",
                         [Problem(str(exc), file=str(path), fix="check the path and that it is a GeoTIFF",
                                  message_zh=f"无法读取（{exc}）",
                                  fix_zh="请检查路径，并确认它是 GeoTIFF 文件")],
                         zh=f"无法读取栅格 {path}") from exc


def _check_band(src: Any, path: Path, band: int) -> None:
    if not 1 <= band <= src.count:
        raise InputError(f"{path} has no band {band}",
                         [Problem(f"the file has {src.count} band(s)", file=str(path),
                                  fix=f"choose band between 1 and {src.count}",
                                  message_zh=f"该文件只有 {src.count} 个波段",
                                  fix_zh=f"请选择 1 到 {src.count} 之间的波段")],
                         zh=f"{path} 没有第 {band} 波段")


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
    with _open(path) as src:
        _check_band(src, path, band)
        array = src.read(band)
        crs = CRS.from_wkt(src.crs.to_wkt()) if src.crs else None
        meta = {"path": str(path), "driver": src.driver, "dtype": src.dtypes[band - 1],
                "overviews": src.overviews(band), "blocksize": src.block_shapes[band - 1]}
        return RasterData(array=array, transform=src.transform, crs=crs, nodata=src.nodata, meta=meta)



@dataclass(frozen=True)
class RasterWindows:
    """One band of a raster file, read a window at a time (:func:`open_raster_windows`).

    For rasters too large to hold whole: a county's 5 m building heights are 0.6 to 6 GB as float32,
    while the parcels need only the tiles they lie on, a band of rows after another.

    Attributes
    ----------
    path, band
        The file and its 1-based band.
    shape
        ``(rows, cols)``.
    block_shape
        ``(rows, cols)`` of the file's tiles (or strips): windows aligned to them decode each tile once.
    dtype, transform, crs, nodata
        As ``RasterData`` has them (``crs`` a ``pyproj.CRS`` or None).
    threads
        GDAL's ``NUM_THREADS`` for decoding the tiles of one read (``"ALL_CPUS"`` or a number).
    """

    path: Path
    band: int
    shape: tuple[int, int]
    block_shape: tuple[int, int]
    dtype: np.dtype
    transform: Affine
    crs: Any
    nodata: float | int | None
    threads: str = "ALL_CPUS"

    def read(self, rows: tuple[int, int], cols: Sequence[tuple[int, int]], *,
             out: np.ndarray | None = None) -> np.ndarray:
        """Read windows of rows ``rows[0]:rows[1]``, one per column range, one after another in ``out``.

        Parameters
        ----------
        rows
            First row and the row after the last.
        cols
            ``(first column, column after the last)`` of each window.
        out
            1-D array of the band's dtype with room for every window (a new one when None).

        Returns
        -------
        numpy.ndarray
            1-D: each window's cells row by row, the windows in the order of ``cols``.
        """
        height = rows[1] - rows[0]
        total = sum(height * (c1 - c0) for c0, c1 in cols)
        if out is None or len(out) < total:
            out = np.empty(total, dtype=self.dtype)
        # The file is opened for each read: closing it drops its decoded tiles from GDAL's block cache,
        # which would otherwise keep up to 5 % of the machine's memory of tiles never read again.
        with rasterio.Env(GDAL_NUM_THREADS=self.threads), rasterio.open(self.path) as src:
            at = 0
            for c0, c1 in cols:
                size = height * (c1 - c0)
                src.read(self.band, window=Window(c0, rows[0], c1 - c0, height),
                         out=out[at:at + size].reshape(height, c1 - c0))
                at += size
        return out[:total]


def open_raster_windows(path: str | Path, *, band: int = 1, threads: str = "ALL_CPUS") -> RasterWindows:
    """A raster file's band to read window by window: its size, tiling and georeferencing, no cells yet.

    Parameters
    ----------
    path
        GeoTIFF (or any raster GDAL reads).
    band
        1-based band number.
    threads
        GDAL's ``NUM_THREADS`` for decoding tiles.

    Returns
    -------
    RasterWindows
    """
    path = Path(path)
    with _open(path) as src:
        _check_band(src, path, band)
        return RasterWindows(
            path=path, band=band, shape=(src.height, src.width), block_shape=tuple(src.block_shapes[band - 1]),
            dtype=np.dtype(src.dtypes[band - 1]), transform=src.transform,
            crs=CRS.from_wkt(src.crs.to_wkt()) if src.crs else None, nodata=src.nodata, threads=threads,
        )


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
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    predictor: bool = True,
    level: int | None = None,
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
        ``"deflate"`` or ``"zstd"``.
    resampling
        Overview resampling; default ``"nearest"`` for integer rasters (codes stay codes) and
        ``"average"`` for floats.
    colormap
        Value -> RGBA colour table of band 1 (uint8/uint16 arrays only; category rasters).
    predictor
        Difference neighbouring cells before compressing (GDAL's floating-point predictor for floats,
        horizontal for integers): smaller files for smooth surfaces (a density). Rasters painted from
        parcels are runs of one value per parcel, which DEFLATE packs best as they are: the predictor
        turns them into noise and doubles a float raster's file.
    level
        Compression level (DEFLATE 1-12, ZSTD 1-22); None = GDAL's default (DEFLATE 6, ZSTD 9).
        The values read back are the same at any level.

    Returns
    -------
    pathlib.Path
    """
    if compress not in COMPRESSIONS:
        raise InputError("unknown compression",
                         [Problem(f"got {compress!r}", fix=f"use one of {', '.join(COMPRESSIONS)}",
                                  message_zh=f"收到 {compress!r}",
                                  fix_zh=f"请使用 {', '.join(COMPRESSIONS)} 之一")],
                         zh="无法识别的压缩方式")
    if array.ndim not in (2, 3):
        raise InputError("write_cog needs a 2-D or 3-D array",
                         [Problem(f"array shape {array.shape}", fix="pass (rows, cols) or (bands, rows, cols)",
                                  message_zh=f"数组形状为 {array.shape}",
                                  fix_zh="请传入 (行, 列) 或 (波段, 行, 列) 的数组")],
                         zh="write_cog 需要二维或三维数组")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = _profile(array, transform, crs, nodata)
    data = (array[None] if array.ndim == 2 else array).astype(profile["dtype"], copy=False)
    floating = np.issubdtype(profile["dtype"], np.floating)
    resampling = resampling or ("average" if floating else "nearest")
    with rasterio.Env() as env:
        has_cog = "COG" in env.drivers()
    if has_cog:
        options = {"LEVEL": str(level)} if level is not None else {}
        with rasterio.open(
            path, "w", driver="COG", **profile, BLOCKSIZE=COG_BLOCKSIZE, COMPRESS=compress.upper(),
            PREDICTOR="YES" if predictor else "NO", OVERVIEWS="AUTO" if overviews else "NONE",
            RESAMPLING=resampling.upper(), BIGTIFF="IF_SAFER", **options,
        ) as dst:
            dst.write(data)
            if colormap:
                dst.write_colormap(1, colormap)
        return path
    log.info("GDAL has no COG driver: writing a tiled GTiff with COPY_SRC_OVERVIEWS")
    return _write_tiled_copy(path, data, profile, overviews=overviews, compress=compress, resampling=resampling,
                             colormap=colormap, predictor=predictor, level=level)


def _write_tiled_copy(
    path: Path, data: np.ndarray, profile: dict[str, Any], *, overviews: bool, compress: str, resampling: str,
    colormap: dict[int, tuple[int, int, int, int]] | None = None, predictor: bool = True, level: int | None = None,
) -> Path:
    """COG layout without the COG driver: tiled GTiff + overviews in memory, copied with its overviews."""
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as rio_copy

    floating = np.issubdtype(profile["dtype"], np.floating)
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", **profile, tiled=True, blockxsize=COG_BLOCKSIZE,
                      blockysize=COG_BLOCKSIZE) as tmp:
            tmp.write(data)
            if colormap:
                tmp.write_colormap(1, colormap)
            if overviews:
                factors, size = [], max(profile["width"], profile["height"])
                while size > COG_BLOCKSIZE:
                    factors.append(2 ** (len(factors) + 1))
                    size = (size + 1) // 2
                if factors:
                    tmp.build_overviews(factors, Resampling[resampling])
        options = {("ZLEVEL" if compress == "deflate" else "ZSTD_LEVEL"): str(level)} if level is not None else {}
        with mem.open() as tmp:
            rio_copy(tmp, path, driver="GTiff", TILED="YES", BLOCKXSIZE=COG_BLOCKSIZE,
                     BLOCKYSIZE=COG_BLOCKSIZE, COMPRESS=compress.upper(),
                     PREDICTOR=(3 if floating else 2) if predictor else 1,
                     COPY_SRC_OVERVIEWS="YES", BIGTIFF="IF_SAFER", **options)
    return path


def write_category_cog(
    path: str | Path,
    codes: np.ndarray,
    *,
    transform: Affine,
    crs: Any,
    nodata: int | None,
    legend: dict[int, tuple[str, str, str | None]],
    level: int | None = None,
) -> Path:
    """Write category codes as a COG with a colour table and category names.

    Parameters
    ----------
    path
        Output GeoTIFF; the names go to ``<path>.aux.xml`` (GDAL's sidecar: GeoTIFF cannot hold them).
    codes
        Integer codes >= 0; ``nodata`` (e.g. -1) where no parcel or no value.
    transform, crs
        Georeferencing.
    nodata
        The codes' nodata value; the file uses 255 (uint8) or 65535 (uint16), whichever fits the codes.
    legend
        Code -> (Chinese name, English name, ``#rrggbb`` or None): QGIS and ArcGIS show the Chinese
        name (``CategoryNames``); the attribute table carries both and the code.
    level
        Compression level (see :func:`write_cog`). Codes are written without a predictor: a category
        raster is runs of one code, which differencing only scrambles.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    arr = np.asarray(codes)
    if arr.dtype == bool:
        arr = arr.view(np.uint8)
    missing = arr == nodata if nodata is not None else None
    lo, hi = _code_range(arr, missing)
    top = max([hi if hi is not None else 0, *legend]) if arr.size else max(legend, default=0)
    if lo is not None and lo < 0:
        raise InputError(f"category codes of {path.name} must be >= 0",
                         [Problem(f"smallest code {lo}", file=str(path),
                                  fix="encode categories with raster.layers.encode_categories",
                                  message_zh=f"最小代码为 {lo}",
                                  fix_zh="请用 raster.layers.encode_categories 编码类别")],
                         zh=f"{path.name} 的类别代码必须 >= 0")
    dtype, fill = (np.uint8, 255) if top < 255 else (np.uint16, 65535)
    if top >= 65535:
        raise InputError(f"too many categories for {path.name}",
                         [Problem(f"largest code {top}", file=str(path), fix="write it with write_cog (int32)",
                                  message_zh=f"最大代码为 {top}",
                                  fix_zh="请用 write_cog 写出（int32）")],
                         zh=f"{path.name} 的类别过多")
    data = arr.astype(dtype)  # codes fit (checked above); nodata cells are set just below
    if missing is not None:
        data[missing] = fill
    colours = {code: _rgba(colour) for code, (_zh, _en, colour) in legend.items()}
    write_cog(path, data, transform=transform, crs=crs, nodata=fill, colormap=colours or None, predictor=False,
              level=level)
    _write_category_names(path, legend)
    return path


def _code_range(arr: np.ndarray, missing: np.ndarray | None) -> tuple[int | None, int | None]:
    """Smallest and largest code outside ``missing``; (None, None) when there is none.

    Reductions with ``where=`` over the whole raster: no copy of the codes that are present.
    """
    if arr.size == 0:
        return None, None
    if missing is None:
        return int(arr.min()), int(arr.max())
    present = ~missing
    if not present.any():
        return None, None
    info = np.iinfo(arr.dtype) if np.issubdtype(arr.dtype, np.integer) else None
    low, high = (info.max, info.min) if info is not None else (np.inf, -np.inf)
    return int(arr.min(where=present, initial=low)), int(arr.max(where=present, initial=high))


def _rgba(colour: str | None) -> tuple[int, int, int, int]:
    """``#rrggbb`` as a colour-table entry; None = light grey (GeoTIFF palettes have no transparency)."""
    if not colour:
        return (244, 244, 244, 255)
    c = colour.lstrip("#")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16), 255)


def _write_category_names(path: Path, legend: dict[int, tuple[str, str, str | None]]) -> None:
    """``<path>.aux.xml``: the band's ``CategoryNames`` (index = code) and a thematic attribute table."""
    from xml.sax.saxutils import escape

    top = max(legend, default=-1)
    names = "".join(f"<Category>{escape(legend[c][0]) if c in legend else ''}</Category>" for c in range(top + 1))
    # Field usages (GDALRATFieldUsage): 0 generic, 2 name, 5 min-max (the pixel value), 6-8 red/green/blue.
    fields = [("Value", 0, 5), ("Class", 2, 2), ("Class_en", 2, 0), ("Red", 0, 6), ("Green", 0, 7), ("Blue", 0, 8)]
    defs = "".join(f'<FieldDefn index="{i}"><Name>{n}</Name><Type>{t}</Type><Usage>{u}</Usage></FieldDefn>'
                   for i, (n, t, u) in enumerate(fields))
    rows = []
    for i, (code, (zh, en, colour)) in enumerate(sorted(legend.items())):
        r, g, b, _a = _rgba(colour)
        rows.append(f'<Row index="{i}"><F>{code}</F><F>{escape(zh)}</F><F>{escape(en)}</F>'
                    f"<F>{r}</F><F>{g}</F><F>{b}</F></Row>")
    xml = ('<PAMDataset><PAMRasterBand band="1">'
           f"<CategoryNames>{names}</CategoryNames>"
           f'<GDALRasterAttributeTable tableType="thematic">{defs}{"".join(rows)}</GDALRasterAttributeTable>'
           "</PAMRasterBand></PAMDataset>\n")
    Path(f"{path}.aux.xml").write_text(xml, encoding="utf-8")


def read_category_names(path: str | Path) -> list[str]:
    """The category names GDAL reads for band 1 (from the GeoTIFF and its ``.aux.xml``), index = code.

    rasterio has no call for them, so the file is copied to a VRT (GDAL writes every band property it
    knows there, as ``gdalinfo`` prints them) and the names are read from that.
    """
    import tempfile
    import xml.etree.ElementTree as ET

    from rasterio.shutil import copy as rio_copy

    with tempfile.TemporaryDirectory() as tmp:
        vrt = Path(tmp) / "band.vrt"
        with rasterio.open(path) as src:
            rio_copy(src, vrt, driver="VRT")
        root = ET.parse(vrt).getroot()
    band = root.find("VRTRasterBand")
    names = band.find("CategoryNames") if band is not None else None
    return [c.text or "" for c in names] if names is not None else []

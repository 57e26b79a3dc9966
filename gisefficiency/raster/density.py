"""Kernel density of low-efficiency land and PNG overlays (re-exported by ``gisefficiency.raster.layers``).

The PNG is encoded by ``gisefficiency.core.png`` (``zlib`` only; matplotlib is not a dependency).
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS

from gisefficiency.core.errors import CRSError, InputError, Problem, format_ids, format_ids_zh
from gisefficiency.core.png import encode_png, hex_to_rgb
from gisefficiency.raster.grid import Grid

#: Sequential and diverging colour ramps (ColorBrewer / viridis anchors), low -> high.
COLOUR_RAMPS: dict[str, tuple[str, ...]] = {
    "YlOrRd": ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
               "#800026"),
    "Reds": ("#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15",
             "#67000d"),
    "viridis": ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
                "#b5de2b", "#fde725"),
    "RdYlGn": ("#a50026", "#d73027", "#f46d43", "#fdae61", "#fee08b", "#ffffbf", "#d9ef8b", "#a6d96a",
               "#66bd63", "#1a9850", "#006837"),
}

KERNELS: tuple[str, ...] = ("quartic", "epanechnikov")

#: m² per km².
M2_PER_KM2: float = 1_000_000.0


def density_surface(
    parcels: gpd.GeoDataFrame,
    *,
    weight: str = "land_mu",
    flag: str = "low_efficiency",
    bandwidth_m: float = 500.0,
    resolution_m: float = 50.0,
    kernel: Literal["quartic", "epanechnikov"] = "quartic",
) -> tuple[np.ndarray, Affine]:
    """Kernel density of flagged land, in mu per km².

    Each flagged parcel puts its ``weight`` (mu) at its centroid's cell (``numpy.add.at`` via bincount);
    the grid is convolved (``scipy.signal.fftconvolve``'s computation, see :func:`_fft_convolve_same`) with a kernel of radius ``bandwidth_m``:
    quartic ``(1 - d²/h²)²`` or Epanechnikov ``1 - d²/h²`` for ``d < h``, sampled at cell centres and
    normalised to sum to 1, so no mass is lost to discretisation. The grid covers all parcels plus one
    bandwidth on every side, aligned to multiples of ``resolution_m``; hence Σ density × cell area (km²)
    equals the total flagged weight (up to FFT round-off, relative 1e-9). Parcels with a missing weight
    or a flag that is NA or False add nothing.

    Returns
    -------
    array
        float64, shape (rows, cols), mu per km².
    transform
        Grid transform in the parcels' CRS.
    """
    missing = [c for c in (weight, flag) if c not in parcels.columns]
    if missing:
        raise InputError("density needs columns that the parcels lack",
                         [Problem(f"missing column {c!r}", column=c,
                                  fix="run evaluate/flag_parcels first or choose weight=/flag=",
                                  message_zh=f"缺少列 {c!r}",
                                  fix_zh="请先运行 evaluate/flag_parcels，或选择 weight=/flag=") for c in missing],
                         zh="地块缺少计算密度所需的列")
    if kernel not in KERNELS:
        raise InputError("unknown kernel", [Problem(f"got {kernel!r}", fix=f"use one of {KERNELS}",
                                                    message_zh=f"收到 {kernel!r}", fix_zh=f"请使用 {KERNELS} 之一")],
                         zh="未知的核函数")
    if not (bandwidth_m > 0 and resolution_m > 0):
        raise InputError("bandwidth_m and resolution_m must be positive",
                         [Problem(f"bandwidth_m={bandwidth_m}, resolution_m={resolution_m}",
                                  fix="use e.g. bandwidth_m=500, resolution_m=50",
                                  message_zh=f"bandwidth_m={bandwidth_m}，resolution_m={resolution_m}",
                                  fix_zh="例如 bandwidth_m=500、resolution_m=50")],
                         zh="bandwidth_m 和 resolution_m 必须为正数")
    if parcels.crs is None or not CRS.from_user_input(parcels.crs).is_projected:
        raise CRSError("density needs parcels in a projected CRS (metres)",
                       [Problem(f"parcels CRS: {parcels.crs}", fix="project to e.g. EPSG:4549 first",
                                message_zh=f"地块坐标系：{parcels.crs}",
                                fix_zh="请先投影，例如 EPSG:4549")],
                       zh="计算密度需要投影坐标系（米）下的地块")
    w = pd.to_numeric(parcels[weight], errors="coerce")
    if (w < 0).any():
        raise InputError(f"negative {weight!r}",
                         [Problem(f"parcels {format_ids(w.index[w < 0])}", column=weight,
                                  fix="weights are land areas and must be >= 0",
                                  message_zh=f"地块 {format_ids_zh(w.index[w < 0])}",
                                  fix_zh="权重是用地面积，必须 >= 0")],
                         zh=f"{weight!r} 为负")
    sel = (parcels[flag].astype("boolean").fillna(False).to_numpy(dtype=bool)
           & w.notna().to_numpy() & ~parcels.geometry.is_empty.to_numpy())
    minx, miny, maxx, maxy = parcels.total_bounds
    grid = Grid.covering((minx - bandwidth_m, miny - bandwidth_m, maxx + bandwidth_m, maxy + bandwidth_m),
                         resolution_m, align=True)
    pts = shapely.centroid(np.asarray(parcels.geometry.values, dtype=object)[sel])
    cell = grid.cell_of(shapely.get_x(pts), shapely.get_y(pts))
    mass = np.bincount(cell, weights=w.to_numpy(dtype=float)[sel], minlength=grid.width * grid.height)
    # bincount of no cells is int64 whatever the weights: the surface is float64 either way
    mass = mass.astype(float, copy=False).reshape(grid.shape)
    r = int(np.ceil(bandwidth_m / resolution_m))
    off = np.arange(-r, r + 1) * resolution_m
    u = (off[None, :] ** 2 + off[:, None] ** 2) / bandwidth_m**2
    k = np.where(u < 1, (1 - u) ** (2 if kernel == "quartic" else 1), 0.0)
    k /= k.sum()
    dens = _fft_convolve_same(mass, k) if mass.any() else mass
    # FFT round-off leaves tiny values (negative or ~1e-17) where no mass reaches: clear them
    # (in place: the grid is tens of millions of cells at 1M parcels; NaN cannot occur, but would be cleared too)
    dens[~(dens > 1e-12 * max(float(dens.max()), 1e-300))] = 0.0
    dens /= grid.cell_area
    dens *= M2_PER_KM2
    return dens, grid.transform


def _fft_convolve_same(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``scipy.signal.fftconvolve(image, kernel, mode="same")`` for real 2-D float64 arrays, same values.

    The same steps as SciPy's (real FFTs padded to ``next_fast_len`` of the full size, product, inverse,
    centred crop), through ``scipy.fft`` alone: importing ``scipy.signal`` takes about a second (it
    loads most of SciPy) and is needed for nothing else. The transforms run on two threads; each
    one-dimensional transform is computed as on one thread, so the values do not change.
    """
    from scipy import fft as sp_fft

    full = [a + b - 1 for a, b in zip(image.shape, kernel.shape, strict=True)]
    fshape = [sp_fft.next_fast_len(n, True) for n in full]
    axes = [0, 1]
    with sp_fft.set_workers(2):
        spectrum = sp_fft.rfftn(image, fshape, axes=axes)
        spectrum *= sp_fft.rfftn(kernel, fshape, axes=axes)
        out = sp_fft.irfftn(spectrum, fshape, axes=axes)
    del spectrum
    start = [(f - s) // 2 for f, s in zip(full, image.shape, strict=True)]
    return out[start[0]:start[0] + image.shape[0], start[1]:start[1] + image.shape[1]].copy()


def to_png_overlay(
    array: np.ndarray,
    *,
    transform: Affine,
    cmap: str | dict[int, str] = "YlOrRd",
    vmin: float | None = None,
    vmax: float | None = None,
    nodata: float | None = None,
    opacity: float = 0.75,
    zero_transparent: bool = True,
) -> tuple[bytes, tuple[float, float, float, float]]:
    """Colour a raster into a PNG for a map image overlay.

    Parameters
    ----------
    array
        One band; NaN and ``nodata`` cells (and zeros with ``zero_transparent``) are fully transparent.
    transform
        The raster's (north-up) transform, in the parcels' CRS.
    cmap
        A ramp name from ``COLOUR_RAMPS`` (linear between ``vmin`` and ``vmax``), or a dict of integer
        value -> ``"#rrggbb"`` for category rasters (values not in it are transparent).
    vmin, vmax
        Ramp limits; default the smallest and largest visible value.
    opacity
        Alpha of coloured cells, 0-1.

    Returns
    -------
    png
        PNG bytes (RGBA).
    bounds
        ``(minx, miny, maxx, maxy)`` of the image in the raster's CRS: convert to lon/lat for Leaflet.
    """
    grid = Grid.from_transform(transform, array.shape, source="overlay")
    values = np.asarray(array)
    visible = np.ones(values.shape, dtype=bool)
    if np.issubdtype(values.dtype, np.floating):
        visible &= np.isfinite(values)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        visible &= values != nodata
    if zero_transparent:
        visible &= values != 0
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    alpha = np.uint8(round(255 * min(max(opacity, 0.0), 1.0)))
    if isinstance(cmap, dict):
        for code, colour in cmap.items():  # a handful of categories
            mask = visible & (values == code)
            rgba[mask, :3] = hex_to_rgb(colour)
            rgba[mask, 3] = alpha
    else:
        if cmap not in COLOUR_RAMPS:
            raise InputError("unknown colour ramp",
                             [Problem(f"got {cmap!r}", fix=f"use one of {', '.join(COLOUR_RAMPS)} or a dict",
                                      message_zh=f"收到 {cmap!r}",
                                      fix_zh=f"请使用 {', '.join(COLOUR_RAMPS)} 之一，或传入字典")],
                             zh="未知的色带")
        shown = values[visible].astype(float)
        lo = float(shown.min()) if vmin is None and shown.size else (vmin or 0.0)
        hi = float(shown.max()) if vmax is None and shown.size else (vmax if vmax is not None else 1.0)
        t = np.clip((shown - lo) / (hi - lo), 0, 1) if hi > lo else np.ones_like(shown)
        anchors = np.array([hex_to_rgb(c) for c in COLOUR_RAMPS[cmap]], dtype=float)
        pos = np.linspace(0, 1, len(anchors))
        for ch in range(3):
            rgba[visible, ch] = np.round(np.interp(t, pos, anchors[:, ch])).astype(np.uint8)
        rgba[visible, 3] = alpha
    return encode_png(rgba), grid.bounds

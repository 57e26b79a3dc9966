"""PNG overlays: colour arrays into images (encoded by ``gisefficiency.core.png``) and rasterise parcels for the
aggregated view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from gisefficiency.core.errors import ConfigError
from gisefficiency.core.png import encode_png, hex_to_rgb
from gisefficiency.raster.layers import metric_raster, parcel_index_raster

__all__ = ["RAMP", "as_overlays", "check_bounds", "codes_to_rgba", "encode_png", "hex_to_rgb", "overlay_png",
           "rasterise_codes", "values_to_rgba"]

#: Sequential ramp (ColorBrewer YlOrRd, 7 classes) for single-band overlays such as a density GeoTIFF.
RAMP = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")


def codes_to_rgba(codes: np.ndarray, colours: Sequence[str], *, alpha: int = 200) -> np.ndarray:
    """Colour an integer class grid; codes < 0 (no parcel, no class) are transparent."""
    palette = np.zeros((len(colours) + 1, 4), dtype=np.uint8)
    for i, c in enumerate(colours):  # a handful of classes
        palette[i] = (*hex_to_rgb(c), alpha)
    idx = np.where(codes >= 0, codes, len(colours))
    return palette[idx]


def values_to_rgba(values: np.ndarray, *, ramp: Sequence[str] = RAMP, alpha: int = 200) -> np.ndarray:
    """Colour a single-band float grid by quantile classes of its finite values; NaN and nodata stay clear."""
    v = np.asarray(values, dtype=float)
    finite = np.isfinite(v)
    codes = np.full(v.shape, -1, dtype=np.int64)
    if finite.any():
        edges = np.unique(np.quantile(v[finite], np.linspace(0, 1, len(ramp) + 1)[1:-1]))
        codes[finite] = np.searchsorted(edges, v[finite], side="right")
    return codes_to_rgba(codes, ramp, alpha=alpha)


def overlay_png(image: Any) -> bytes:
    """PNG bytes of an overlay given as PNG bytes, an RGBA/RGB uint8 array or a single-band float array."""
    if isinstance(image, bytes | bytearray):
        if not bytes(image[:8]) == b"\x89PNG\r\n\x1a\n":
            raise ConfigError("overlay image bytes are not a PNG -> pass PNG bytes or a numpy array",
                              zh="叠加图像的字节不是 PNG → 请传入 PNG 字节或 numpy 数组")
        return bytes(image)
    arr = np.asarray(image)
    if arr.ndim == 2:
        return encode_png(values_to_rgba(arr))
    if arr.ndim == 3 and arr.shape[2] in (3, 4) and arr.dtype == np.uint8:
        if arr.shape[2] == 3:
            arr = np.concatenate([arr, np.full((*arr.shape[:2], 1), 255, dtype=np.uint8)], axis=2)
        return encode_png(arr)
    raise ConfigError(
        f"overlay array of shape {arr.shape} and dtype {arr.dtype} is not usable -> pass a 2-D array of values "
        "(coloured with a ramp) or an (h, w, 3|4) uint8 RGB(A) image",
        zh=(f"形状为 {arr.shape}、类型为 {arr.dtype} 的叠加数组无法使用 → 请传入二维数值数组"
            "（按色带着色）或 (h, w, 3|4) 的 uint8 RGB(A) 图像")
    )


def check_bounds(name: str, bounds: Any) -> list[list[float]]:
    """Validate overlay bounds ``((south, west), (north, east))`` in degrees."""
    try:
        (s, w), (n, e) = bounds
        s, w, n, e = float(s), float(w), float(n), float(e)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"overlay {name!r}: bounds {bounds!r} must be ((south, west), (north, east)) in degrees",
            zh=f"叠加层 {name!r}：范围 {bounds!r} 必须是以度为单位的 ((南, 西), (北, 东))"
        ) from exc
    if not (-90 <= s < n <= 90 and -180 <= w < e <= 180):
        raise ConfigError(
            f"overlay {name!r}: bounds {bounds!r} are not lat/lon degrees with south < north and west < east "
            "-> transform the raster's bounds to EPSG:4326 first",
            zh=(f"叠加层 {name!r}：范围 {bounds!r} 不是南 < 北、西 < 东的经纬度 "
                "→ 请先把栅格范围转换到 EPSG:4326")
        )
    return [[s, w], [n, e]]


def rasterise_codes(
    lonlat: np.ndarray, codes: np.ndarray, *, max_px: int = 1600
) -> tuple[np.ndarray, list[list[float]]]:
    """Burn integer class codes of lon/lat polygons into a Web Mercator grid for a Leaflet image overlay.

    The grid is square in Web Mercator, the projection Leaflet stretches an image overlay in, so every pixel
    lands where its parcels are (a lon/lat grid would drift north-south by the Mercator stretch) and covers
    a square on the ground. The parcels go through ``gisefficiency.raster.layers.parcel_index_raster`` (a pixel
    belongs to the parcel holding its centre) and ``metric_raster`` gathers the codes; a parcel too small to
    hold a pixel centre paints the pixel of its ``point_on_surface``, so no classed parcel vanishes.

    Parameters
    ----------
    lonlat
        Polygons in lon/lat degrees (possibly shifted to GCJ-02 for display).
    codes
        Class code per polygon; codes < 0 are not drawn.
    max_px
        Pixels on the long side of the image.

    Returns
    -------
    grid
        int32 ``(rows, cols)``: the code of the parcel in each pixel, -1 where none (the last parcel wins
        where parcels overlap, a sub-pixel parcel wins its one pixel).
    bounds
        ``[[south, west], [north, east]]`` of the grid in degrees, for ``L.imageOverlay``.
    """
    codes = np.asarray(codes, dtype=np.int64)
    # Only parcels with a class are burned, so an unclassed parcel never hides an overlapping classed one;
    # with no classed parcel at all the grid still covers every parcel (a fully transparent image).
    keep = codes >= 0 if (codes >= 0).any() else np.ones(len(codes), dtype=bool)
    merc = gpd.GeoSeries(np.asarray(lonlat, dtype=object)[keep], crs="EPSG:4326").to_crs("EPSG:3857")
    minx, miny, maxx, maxy = merc.total_bounds
    resolution = max(maxx - minx, maxy - miny) / max_px or 1.0
    index = parcel_index_raster(gpd.GeoDataFrame(geometry=merc.values, crs="EPSG:3857"),
                                resolution_m=resolution, align=False)
    values = pd.Series(codes[keep], index=index.parcel_ids, dtype="Int64").where(lambda v: v >= 0)
    grid = metric_raster(index, values)
    # A parcel holding no pixel centre (thinner than a pixel) still shows: it paints the pixel of its
    # point_on_surface. (all_touched would do it too, but walks every edge: 10x slower for 60,000 parcels.)
    small = (index.fallback_cell >= 0) & values.notna().to_numpy()
    grid.reshape(-1)[index.fallback_cell[small]] = values.to_numpy(dtype=np.int64, na_value=-1)[small]
    t = index.transform
    rows, cols = grid.shape
    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, south = to_lonlat.transform(t.c, t.f + rows * t.e)
    east, north = to_lonlat.transform(t.c + cols * t.a, t.f)
    return grid, [[float(south), float(west)], [float(north), float(east)]]


def as_overlays(overlays: Mapping[str, Any] | None) -> dict[str, tuple[bytes, list[list[float]]]]:
    """Normalise ``{name: (png_bytes_or_array, bounds_latlon)}`` to ``{name: (png_bytes, bounds)}``."""
    out: dict[str, tuple[bytes, list[list[float]]]] = {}
    for name, spec in (overlays or {}).items():  # a few named overlays
        try:
            image, bounds = spec
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"overlay {name!r} must be a pair (png_bytes_or_array, ((south, west), (north, east)))",
                zh=f"叠加层 {name!r} 必须是 (png 字节或数组, ((南, 西), (北, 东))) 这样的一对"
            ) from exc
        out[str(name)] = (overlay_png(image), check_bounds(str(name), bounds))
    return out

"""PNG overlays: encode arrays as PNG (no imaging library needed) and rasterise parcels for the aggregated view."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gisefficiency.errors import ConfigError

#: Sequential ramp (ColorBrewer YlOrRd, 7 classes) for single-band overlays such as a density GeoTIFF.
RAMP = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026")


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#1a9850"`` -> ``(26, 152, 80)``."""
    c = colour.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def encode_png(rgba: np.ndarray) -> bytes:
    """Encode an ``(h, w, 4)`` uint8 RGBA array as PNG bytes."""
    arr = np.ascontiguousarray(rgba, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError(f"expected an (h, w, 4) RGBA array, got shape {arr.shape}")
    h, w, _ = arr.shape
    # Filter byte 0 (none) before every scanline.
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), arr.reshape(h, w * 4)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


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
            raise ConfigError("overlay image bytes are not a PNG -> pass PNG bytes or a numpy array")
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
        "(coloured with a ramp) or an (h, w, 3|4) uint8 RGB(A) image"
    )


def check_bounds(name: str, bounds: Any) -> list[list[float]]:
    """Validate overlay bounds ``((south, west), (north, east))`` in degrees."""
    try:
        (s, w), (n, e) = bounds
        s, w, n, e = float(s), float(w), float(n), float(e)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"overlay {name!r}: bounds {bounds!r} must be ((south, west), (north, east)) in degrees"
        ) from exc
    if not (-90 <= s < n <= 90 and -180 <= w < e <= 180):
        raise ConfigError(
            f"overlay {name!r}: bounds {bounds!r} are not lat/lon degrees with south < north and west < east "
            "-> transform the raster's bounds to EPSG:4326 first"
        )
    return [[s, w], [n, e]]


def rasterise_codes(
    geoms: np.ndarray, codes: np.ndarray, bounds: Sequence[float], shape: tuple[int, int]
) -> np.ndarray:
    """Burn integer class codes of polygons into a grid of ``shape`` (rows, cols) covering ``bounds``.

    ``bounds`` is ``(minx, miny, maxx, maxy)`` in the geometries' CRS; cells without a parcel are ``-1``.
    """
    from rasterio.features import rasterize
    from rasterio.transform import from_bounds

    height, width = shape
    transform = from_bounds(*(float(b) for b in bounds), width, height)
    keep = np.asarray(codes) >= 0
    if not keep.any():
        return np.full((height, width), -1, dtype=np.int16)
    return rasterize(
        zip(geoms[keep], np.asarray(codes)[keep].astype(np.int16), strict=True),
        out_shape=(height, width), transform=transform, fill=-1, dtype="int16", all_touched=True,
    )


def as_overlays(overlays: Mapping[str, Any] | None) -> dict[str, tuple[bytes, list[list[float]]]]:
    """Normalise ``{name: (png_bytes_or_array, bounds_latlon)}`` to ``{name: (png_bytes, bounds)}``."""
    out: dict[str, tuple[bytes, list[list[float]]]] = {}
    for name, spec in (overlays or {}).items():  # a few named overlays
        try:
            image, bounds = spec
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"overlay {name!r} must be a pair (png_bytes_or_array, ((south, west), (north, east)))"
            ) from exc
        out[str(name)] = (overlay_png(image), check_bounds(str(name), bounds))
    return out

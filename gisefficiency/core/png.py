"""PNG encoding and hex colours, shared by the raster overlays and the map images.

The PNG is written with ``zlib`` alone (matplotlib and Pillow are not dependencies): RGBA, 8 bits per
channel, one IDAT chunk, filter type 0 on every scanline.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#1a9850"`` (or the short form ``"#1a5"``) -> ``(26, 152, 80)``.

    Parameters
    ----------
    colour
        ``#rrggbb`` or ``#rgb``; the ``#`` is optional.

    Returns
    -------
    tuple
        Red, green, blue, 0-255.

    Raises
    ------
    ValueError
        The text is not 3 or 6 hexadecimal digits.
    """
    c = colour.strip().lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    if len(c) != 6:
        raise ValueError(f"colour {colour!r} is not '#rrggbb' or '#rgb'")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of an ``(rows, cols, 4)`` uint8 RGBA image.

    Raises
    ------
    ValueError
        The array is not ``(rows, cols, 4)``.
    """
    arr = np.ascontiguousarray(rgba, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError(f"expected an (h, w, 4) RGBA array, got shape {arr.shape}")
    rows, cols, _ = arr.shape
    # Filter byte 0 (none) before every scanline.
    raw = np.concatenate([np.zeros((rows, 1), dtype=np.uint8), arr.reshape(rows, cols * 4)], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", cols, rows, 8, 6, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6))
            + _chunk(b"IEND", b""))

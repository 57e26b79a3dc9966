"""Decode the PNGs this package writes (``gisefficiency.core.png``: RGBA, 8 bits, filter 0) for pixel checks."""

from __future__ import annotations

import base64
import re
import struct
import zlib

import numpy as np

DATA_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def decode_png(data: bytes) -> np.ndarray:
    """``(rows, cols, 4)`` uint8 pixels of an 8-bit RGBA PNG whose scanlines all use filter 0."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type = header[:4]
    assert (depth, colour_type) == (8, 6), "only 8-bit RGBA"
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * 4)
    assert (raw[:, 0] == 0).all(), "only filter 0"
    return raw[:, 1:].reshape(height, width, 4)


def png_of_data_uri(text: str) -> np.ndarray:
    """Pixels of the first ``data:image/png;base64,...`` image in ``text``."""
    match = DATA_URI.search(text)
    assert match, "no PNG data URI"
    return decode_png(base64.b64decode(match.group(1)))

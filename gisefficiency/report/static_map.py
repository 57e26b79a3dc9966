"""A static map of grades and blocks for the printed report: one PNG, drawn without a browser or network.

The interactive map needs a browser with scripts and prints as an empty frame; this image is what the paper
report shows. Parcels are rasterised once with the project's vectorised rasterizer
(``gisefficiency.raster.grid``: a pixel belongs to the parcel holding its centre, a parcel too small for any
centre paints the pixel of its ``point_on_surface``), coloured by grade with one numpy gather, block
boundaries are burnt on top as a 3-pixel outline, and the PNG is written by ``gisefficiency.core.png``. The
figure around it is inline SVG (the image as a ``data:`` URI, the legend, a scale bar and a north arrow), so
legend and scale bar scale with the image on screen and on paper.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from markupsafe import Markup, escape

from gisefficiency.core.png import encode_png, hex_to_rgb
from gisefficiency.raster.grid import Grid, geometry_pairs, polygon_edges, touched_pairs

__all__ = ["LegendItem", "StaticMap", "render_static_map", "static_map_svg"]

#: Pixels on the long side: about 200 dpi across the 180 mm of an A4 page, a few hundred kB of PNG.
MAX_PX: int = 1400
#: Colour of parcels without a class (no firm, not graded by the data) and of the block outlines.
NO_CLASS_COLOUR = "#e4e4e4"
BLOCK_COLOUR = "#3f007d"
_BACKGROUND = (255, 255, 255, 255)
#: Scale-bar lengths to choose from (metres): the longest one not over a fifth of the image.
_SCALE_STEPS = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)


@dataclass(frozen=True)
class LegendItem:
    """One legend entry: colour (``#rrggbb``), label, and whether it is an outline (blocks) or a fill."""

    colour: str
    label: str
    outline: bool = False


@dataclass(frozen=True)
class StaticMap:
    """A rendered map image.

    Attributes
    ----------
    png
        The PNG bytes (RGBA).
    width, height
        Image size in pixels.
    metres_per_px
        Ground size of one pixel (the parcels' projected CRS is in metres).
    n_parcels
        Parcels drawn (non-empty geometries).
    """

    png: bytes
    width: int
    height: int
    metres_per_px: float
    n_parcels: int

    @property
    def data_uri(self) -> str:
        """The image as a ``data:image/png;base64,...`` URI."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def render_static_map(
    geometry: Sequence[object] | np.ndarray,
    classes: pd.Series | np.ndarray,
    colours: Sequence[str],
    *,
    blocks: Sequence[object] | np.ndarray | None = None,
    max_px: int = MAX_PX,
) -> StaticMap | None:
    """Rasterise parcels coloured by class, with block boundaries on top, into a PNG.

    Parameters
    ----------
    geometry
        Parcel polygons in a projected CRS in metres (empty and missing geometries are skipped).
    classes
        Class code per parcel: an index into ``colours``; negative or missing codes are drawn in
        ``NO_CLASS_COLOUR`` (a parcel with no class is still land the reader should see).
    colours
        ``#rrggbb`` per class code.
    blocks
        Block polygons (same CRS) whose boundaries are drawn in ``BLOCK_COLOUR``; None or empty: none.
    max_px
        Pixels on the long side of the image.

    Returns
    -------
    StaticMap or None
        None when there is no parcel geometry to draw.
    """
    geoms = np.asarray(geometry, dtype=object)
    codes = pd.to_numeric(pd.Series(np.asarray(classes, dtype=object)), errors="coerce").to_numpy(dtype=float)
    drawn = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, codes = geoms[drawn], codes[drawn]
    if len(geoms) == 0:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    span = max(maxx - minx, maxy - miny) or 1.0
    pad = span * 0.02  # a margin so edge parcels and outlines are not cut by the frame
    resolution = (span + 2 * pad) / max(int(max_px), 16)
    grid = Grid.covering((minx - pad, miny - pad, maxx + pad, maxy + pad), resolution, align=False)
    cells, labels, _ = geometry_pairs(geoms, grid)
    index = np.full(grid.width * grid.height, -1, dtype=np.int64)
    index[cells] = labels  # pairs come ordered by parcel, fallback cells last: the later parcel wins

    # Palette: class colours, then "no class", then background; every pixel is one gather.
    palette = np.array(
        [(*hex_to_rgb(c), 255) for c in colours] + [(*hex_to_rgb(NO_CLASS_COLOUR), 255), _BACKGROUND],
        dtype=np.uint8,
    )
    n_classes = len(colours)
    valid = np.isfinite(codes) & (codes >= 0) & (codes < n_classes)
    parcel_code = np.where(valid, np.nan_to_num(codes, nan=-1), n_classes).astype(np.int64)
    pixel_code = np.where(index >= 0, parcel_code[np.maximum(index, 0)], n_classes + 1)
    rgba = palette[pixel_code].reshape(grid.height, grid.width, 4)

    if blocks is not None and len(blocks):
        block_geoms = np.asarray(blocks, dtype=object)
        block_geoms = block_geoms[~(shapely.is_missing(block_geoms) | shapely.is_empty(block_geoms))]
        if len(block_geoms):
            line, _ = touched_pairs(polygon_edges(block_geoms), grid)
            mask = np.zeros(grid.width * grid.height, dtype=bool)
            mask[line] = True
            mask = _dilate(mask.reshape(grid.height, grid.width))
            rgba[mask] = (*hex_to_rgb(BLOCK_COLOUR), 255)
    return StaticMap(png=encode_png(rgba), width=grid.width, height=grid.height,
                     metres_per_px=float(resolution), n_parcels=len(geoms))


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Grow a boolean mask by one pixel in the 8 directions: a 1-pixel boundary becomes a 3-pixel line."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    grown = out.copy()
    grown[:, 1:] |= out[:, :-1]
    grown[:, :-1] |= out[:, 1:]
    return grown


def scale_bar_metres(width_m: float) -> float:
    """The longest round scale-bar length not over a fifth of the image width (at least the shortest step)."""
    fitting = [s for s in _SCALE_STEPS if s <= width_m / 5]
    return float(fitting[-1] if fitting else _SCALE_STEPS[0])


def _length_text(metres: float, lang: str) -> str:
    if metres >= 1000:
        km = metres / 1000
        return f"{km:g} 千米" if lang == "zh" else f"{km:g} km"
    return f"{metres:g} 米" if lang == "zh" else f"{metres:g} m"


def static_map_svg(
    image: StaticMap,
    legend: Sequence[LegendItem],
    *,
    title: str,
    lang: str = "zh",
    crs_name: str = "",
) -> Markup:
    """The map image inside an inline SVG figure with its legend, scale bar, north arrow and scale note.

    Parameters
    ----------
    image
        From :func:`render_static_map`.
    legend
        Entries in display order (colours are validated ``#rrggbb``; labels are escaped).
    title
        Accessible title of the figure.
    lang
        ``"zh"`` or ``"en"`` for the scale note.
    crs_name
        Shown in the scale note, e.g. ``"EPSG:4549"``.

    Returns
    -------
    Markup
        ``<svg class="map-image">`` markup, safe to insert as is.
    """
    w, h = image.width, image.height
    unit = max(w, 600) / 60  # text and symbol size in image pixels: ~1/60 of the width reads well on A4
    font = round(unit * 1.1, 1)
    row_h = unit * 1.9
    per_row = max(1, int(w // (unit * 16)))
    rows = -(-len(legend) // per_row)
    band = row_h * (rows + 1.4) + unit
    parts = [f'<image x="0" y="0" width="{w}" height="{h}" href="{image.data_uri}"/>',
             f'<rect x="0.5" y="0.5" width="{w - 1}" height="{h - 1}" fill="none" stroke="#888"/>']
    # Scale bar, bottom left on a white plate so it reads over any parcel colour.
    bar_m = scale_bar_metres(w * image.metres_per_px)
    bar_px = bar_m / image.metres_per_px
    x0, y0 = unit * 1.5, h - unit * 1.6
    parts.append(f'<rect x="{x0 - unit * 0.6:.1f}" y="{y0 - unit * 2.2:.1f}" width="{bar_px + unit * 1.2:.1f}" '
                 f'height="{unit * 3.0:.1f}" fill="#fff" fill-opacity="0.85"/>')
    parts.append(f'<rect x="{x0:.1f}" y="{y0 - unit * 0.35:.1f}" width="{bar_px / 2:.1f}" height="{unit * 0.5:.1f}" '
                 f'fill="#222"/><rect x="{x0 + bar_px / 2:.1f}" y="{y0 - unit * 0.35:.1f}" '
                 f'width="{bar_px / 2:.1f}" height="{unit * 0.5:.1f}" fill="#fff" stroke="#222"/>')
    parts.append(f'<text x="{x0:.1f}" y="{y0 - unit * 0.7:.1f}" font-size="{font}">0</text>'
                 f'<text x="{x0 + bar_px:.1f}" y="{y0 - unit * 0.7:.1f}" font-size="{font}" text-anchor="end">'
                 f"{escape(_length_text(bar_m, lang))}</text>")
    # North arrow, top right (the grid is north-up).
    nx, ny = w - unit * 2.5, unit * 1.2
    parts.append(f'<path d="M{nx:.1f},{ny:.1f} l{unit * 0.8:.1f},{unit * 2.2:.1f} l-{unit * 0.8:.1f},-{unit * 0.6:.1f} '
                 f'l-{unit * 0.8:.1f},{unit * 0.6:.1f} z" fill="#222"/>'
                 f'<text x="{nx:.1f}" y="{ny + unit * 3.4:.1f}" font-size="{font}" text-anchor="middle">'
                 f'{"北" if lang == "zh" else "N"}</text>')
    # Legend band under the image.
    col_w = w / per_row
    for i, item in enumerate(legend):
        r, c = divmod(i, per_row)
        x, y = c * col_w + unit * 0.5, h + unit + r * row_h
        colour = item.colour if _is_hex(item.colour) else NO_CLASS_COLOUR
        if item.outline:
            swatch = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{unit * 2:.1f}" height="{unit * 1.2:.1f}" '
                      f'fill="none" stroke="{colour}" stroke-width="{unit * 0.3:.1f}"/>')
        else:
            swatch = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{unit * 2:.1f}" height="{unit * 1.2:.1f}" '
                      f'fill="{colour}" stroke="#888"/>')
        parts.append(swatch + f'<text x="{x + unit * 2.6:.1f}" y="{y + unit * 1.05:.1f}" font-size="{font}">'
                     f"{escape(item.label)}</text>")
    note_y = h + unit + rows * row_h + unit * 0.9
    res = f"{image.metres_per_px:,.0f}" if image.metres_per_px >= 10 else f"{image.metres_per_px:,.1f}"
    note = (f"每像素约 {res} 米；比例尺按图宽计{f'；坐标系 {crs_name}' if crs_name else ''}"
            if lang == "zh" else
            f"one pixel ≈ {res} m; the scale bar scales with the image{f'; CRS {crs_name}' if crs_name else ''}")
    parts.append(f'<text x="{unit * 0.5:.1f}" y="{note_y:.1f}" font-size="{font * 0.9:.1f}" fill="#666">'
                 f"{escape(note)}</text>")
    total_h = h + band
    return Markup(
        f'<svg class="map-image" viewBox="0 0 {w} {total_h:.0f}" role="img" preserveAspectRatio="xMidYMid meet" '
        f'aria-label="{escape(title)}" font-family="inherit"><title>{escape(title)}</title>{"".join(parts)}</svg>'
    )


def _is_hex(colour: str) -> bool:
    c = colour.lstrip("#")
    return colour.startswith("#") and len(c) in (3, 6) and all(ch in "0123456789abcdefABCDEF" for ch in c)

"""Regular grids and a vectorised polygon rasterizer (private to ``gisefficiency.raster.layers``).

Why our own rasterizer: ``rasterio.features.rasterize`` spends about 75 % of its time turning every shapely
geometry into a GeoJSON dict in Python (measured, ``shared/reference/env-perf-research.md``). Here every edge
of every ring is handled at once with numpy:

* ``polygon_edges`` flattens all rings of all polygons into one edge list ``(label, x1, y1, x2, y2)``;
* ``centre_pairs`` intersects every edge with every scanline through cell centres, sorts the crossings per
  (polygon, row) and pairs them (even-odd rule, so holes and multipart polygons need no special case):
  a cell belongs to a polygon when its centre is inside (edges count over ``[ymin, ymax)``, spans over
  ``[x_in, x_out)``: the half-open convention GDAL uses, so a cell on a shared edge goes to one side only);
* ``touched_pairs`` walks every edge through the cells whose interior it crosses (the ``all_touched`` extra).

Both return ``(flat cell index, label)`` pairs instead of burning an array, so zonal statistics can count a
cell for every parcel that contains it and the index raster can burn them (the later parcel wins, as in GDAL).
The crossings are computed for a block of polygons at a time (``centre_spans`` by blocks of edges,
``burn_index`` by blocks of geometries): the same result, with arrays small enough to stay in the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import shapely
from affine import Affine

from gisefficiency.core.errors import InputError, Problem


@dataclass(frozen=True)
class RasterData:
    """One raster band in memory.

    Attributes
    ----------
    array
        The band, shape ``(rows, cols)``.
    transform
        Affine transform from (col, row) to map coordinates (north-up).
    crs
        ``pyproj.CRS`` of the map coordinates, or None if the file has none.
    nodata
        The nodata value (NaN cells of float rasters are always treated as missing too), or None.
    """

    array: np.ndarray
    transform: Affine
    crs: Any
    nodata: float | int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def valid_mask(self) -> np.ndarray:
        """Return True where the cell holds a value (not nodata, not NaN)."""
        valid = np.ones(self.array.shape, dtype=bool)
        if self.nodata is not None and not (isinstance(self.nodata, float) and np.isnan(self.nodata)):
            valid &= self.array != self.nodata
        if np.issubdtype(self.array.dtype, np.floating):
            valid &= np.isfinite(self.array)
        return valid


@dataclass(frozen=True)
class Grid:
    """A north-up regular grid: west edge ``x0``, north edge ``y0``, cell size, shape."""

    x0: float
    y0: float
    xres: float
    yres: float
    width: int
    height: int

    @property
    def transform(self) -> Affine:
        """Affine transform of the grid."""
        return Affine(self.xres, 0.0, self.x0, 0.0, -self.yres, self.y0)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return (self.height, self.width)

    @property
    def cell_area(self) -> float:
        """Area of one cell in squared CRS units."""
        return self.xres * self.yres

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)``."""
        return (self.x0, self.y0 - self.height * self.yres, self.x0 + self.width * self.xres, self.y0)

    @classmethod
    def from_transform(cls, transform: Affine, shape: tuple[int, int], *, source: str = "raster") -> Grid:
        """Build a grid from a raster's transform; rotated or south-up rasters are refused."""
        if transform.b != 0 or transform.d != 0 or transform.a <= 0 or transform.e >= 0:
            raise InputError(
                f"{source}: only north-up rasters without rotation are supported",
                [Problem(f"transform is {tuple(transform)[:6]}",
                         fix="warp the raster to a north-up grid first (gdalwarp)", file=source,
                         message_zh=f"变换参数为 {tuple(transform)[:6]}",
                         fix_zh="请先把栅格重采样为正北朝上的网格（gdalwarp）")],
                zh=f"{source}：只支持正北朝上、无旋转的栅格",
            )
        return cls(transform.c, transform.f, transform.a, -transform.e, int(shape[1]), int(shape[0]))

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], resolution: float, *, align: bool) -> Grid:
        """The smallest grid of square cells covering ``bounds``.

        With ``align`` the cell edges sit on multiples of ``resolution`` (grids of separate runs line up).
        """
        minx, miny, maxx, maxy = bounds
        if align:
            x0 = np.floor(minx / resolution) * resolution
            y0 = np.ceil(maxy / resolution) * resolution
            x1 = np.ceil(maxx / resolution) * resolution
            y1 = np.floor(miny / resolution) * resolution
        else:
            x0, y0, x1, y1 = minx, maxy, maxx, miny
        width = max(1, int(np.ceil(round((x1 - x0) / resolution, 9))))
        height = max(1, int(np.ceil(round((y0 - y1) / resolution, 9))))
        return cls(float(x0), float(y0), float(resolution), float(resolution), width, height)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat index of the cell containing each point, -1 outside the grid."""
        col = np.floor((np.asarray(x) - self.x0) / self.xres)
        row = np.floor((self.y0 - np.asarray(y)) / self.yres)
        inside = (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
        flat = np.where(inside, row * self.width + col, -1)
        return np.nan_to_num(flat, nan=-1).astype(np.int64)


Edges = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def polygon_edges(geoms: np.ndarray) -> Edges:
    """Every ring edge of every (multi)polygon: ``(label, x1, y1, x2, y2)``, label = position in ``geoms``.

    The edges come by label, each ring's in order along the ring.

    Non-polygonal parts (points, lines of a collection) have no area and give no edges.
    """
    geoms = np.asarray(geoms, dtype=object)
    # a polygon without holes is one ring: its coordinates need no ring objects (get_rings is slow)
    simple = (shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON) & (
        shapely.get_num_interior_rings(geoms) == 0)
    if simple.all():
        rings, ring_owner = geoms, np.arange(len(geoms))
    else:
        simple_pos, rest = np.flatnonzero(simple), np.flatnonzero(~simple)
        parts, part_of = shapely.get_parts(geoms[rest], return_index=True)
        rest_rings, ring_of = shapely.get_rings(parts, return_index=True)
        rings = np.concatenate([geoms[simple_pos], rest_rings])
        ring_owner = np.concatenate([simple_pos, rest[part_of[ring_of]]])
        # rings by label (a polygon's in their order): the edges then come by label
        order = np.argsort(ring_owner, kind="stable")
        rings, ring_owner = rings[order], ring_owner[order]
    # counts instead of get_coordinates' return_index: that costs more than the coordinates themselves
    coords = shapely.get_coordinates(rings)
    n_coords = shapely.get_num_coordinates(rings)
    # rings are closed, so each coordinate but a ring's last starts one of the ring's edges
    start = np.ones(len(coords), dtype=bool)
    start[np.cumsum(n_coords)[n_coords > 0] - 1] = False
    start = np.flatnonzero(start)
    x, y = coords[:, 0], coords[:, 1]
    return (np.repeat(ring_owner.astype(np.int64), np.maximum(n_coords - 1, 0)), x[start], y[start],
            x[start + 1], y[start + 1])


def _expand(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(owner, value)`` for runs ``starts[i], starts[i]+1, ... (counts[i] values)``."""
    owner = np.repeat(np.arange(len(counts)), counts)
    offsets = np.cumsum(counts) - counts
    value = np.arange(owner.size, dtype=np.int64) - np.repeat(offsets - starts, counts)
    return owner, value


def _edge_rows(y1: np.ndarray, y2: np.ndarray, grid: Grid, rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """First and last row (within ``rows``, first and past-the-end) whose centre line an edge crosses."""
    ymin = np.minimum(y1, y2)
    ymax = np.maximum(y1, y2)
    # rows whose centre y_r = y0 - (r + 0.5) * yres satisfies ymin <= y_r < ymax
    r_start = np.floor((grid.y0 - ymax) / grid.yres - 0.5).astype(np.int64) + 1
    r_end = np.floor((grid.y0 - ymin) / grid.yres - 0.5).astype(np.int64)
    # a whole (polygon, row) group is dropped or kept together, so crossings stay paired
    return np.maximum(r_start, rows[0]), np.minimum(r_end, rows[1] - 1)


# Edges handled in one go by centre_spans: its arrays (a few per crossing) then stay in the processor's cache
# instead of going through memory about ten times, about twice as fast on a million parcels.
_BLOCK_EDGES = 1 << 14
# Geometries rasterised in one go by burn_index: their coordinates and edges stay small as well.
_BLOCK_GEOMS = 1 << 12


def centre_spans(
    edges: Edges, grid: Grid, *, rows: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of cells whose centre lies inside each polygon (even-odd rule), one per (polygon, row, crossing pair).

    ``rows``: only the rows ``rows[0]`` to ``rows[1] - 1`` (default all); the runs of those rows are the
    same as over the whole grid.

    Returns
    -------
    start, length, label
        Flat index of each run's first cell, its number of cells (>= 1; the cells follow each other along
        the row) and its polygon. Runs come ordered by label, then row, then column.
    """
    rows = (0, grid.height) if rows is None else rows
    parts = [_block_spans(block, grid, rows) for block in _label_blocks(edges)]
    if len(parts) == 1:
        return parts[0]
    start, length, label = (np.concatenate([part[i] for part in parts]) for i in range(3))
    return start, length, label


def _label_blocks(edges: Edges) -> Iterator[Edges]:
    """``edges`` cut into blocks of about ``_BLOCK_EDGES`` edges, each holding every edge of its labels.

    The blocks come in label order and keep the edges' order within a label, so the runs of the blocks put
    one after the other are the runs of all edges at once, in the same order and to the bit.
    """
    label = edges[0]
    if len(label) <= _BLOCK_EDGES:
        yield edges
        return
    if (label[1:] < label[:-1]).any():
        # polygon_edges lists them by label already; other callers' edges are put in that order first
        order = np.argsort(label, kind="stable")
        label, x1, y1, x2, y2 = (column[order] for column in edges)
        edges = (label, x1, y1, x2, y2)
    # each cut moves back to the first edge of the label it falls in
    cut = np.unique(np.searchsorted(label, label[_BLOCK_EDGES::_BLOCK_EDGES]))
    for a, b in pairwise(np.r_[0, cut[cut > 0], len(label)]):
        yield edges[0][a:b], edges[1][a:b], edges[2][a:b], edges[3][a:b], edges[4][a:b]


def _block_spans(edges: Edges, grid: Grid, rows: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`centre_spans` of a block of edges holding every edge of its labels."""
    label, x1, y1, x2, y2 = edges
    r_start, r_end = _edge_rows(y1, y2, grid, rows)
    counts = np.where(y1 != y2, np.maximum(r_end - r_start + 1, 0), 0)
    keep = np.flatnonzero(counts)
    edge, row = _expand(r_start[keep], counts[keep])
    edge = keep[edge]
    yc = grid.y0 - (row + 0.5) * grid.yres
    ex1, ey1 = x1[edge], y1[edge]
    xc = ex1 + (yc - ey1) * (x2[edge] - ex1) / (y2[edge] - ey1)
    key = label[edge] * grid.height + row
    xc, key = _crossings_in_order(xc, key)
    x_in, x_out, key = xc[0::2], xc[1::2], key[0::2]
    # columns whose centre x_c = x0 + (c + 0.5) * xres satisfies x_in <= x_c < x_out
    c_start = np.clip(np.ceil((x_in - grid.x0) / grid.xres - 0.5), 0, grid.width).astype(np.int64)
    c_end = np.clip(np.ceil((x_out - grid.x0) / grid.xres - 0.5), 0, grid.width).astype(np.int64)
    run = np.flatnonzero(c_end > c_start)
    span_label, span_row = np.divmod(key[run], grid.height)
    return span_row * grid.width + c_start[run], c_end[run] - c_start[run], span_label


def edges_by_band(edges: Edges, grid: Grid, band_rows: int) -> Iterator[tuple[tuple[int, int], Edges]]:
    """The edges crossing some row centre of each band of ``band_rows`` rows, band after band from the north.

    Yields ``((first row, row after the last), edges)`` for every band some edge crosses (bands without
    any are skipped), the edges in their order in ``edges``; ``centre_spans(edges, grid, rows=rows)`` then
    gives the band's runs, so a large grid is rasterised one band at a time. An edge crossing several
    bands is listed in each.
    """
    label, x1, y1, x2, y2 = edges
    r_start, r_end = _edge_rows(y1, y2, grid, (0, grid.height))
    keep = np.flatnonzero((y1 != y2) & (r_end >= r_start))
    first = r_start[keep] // band_rows
    edge, band = _expand(first, r_end[keep] // band_rows - first + 1)
    edge = keep[edge]
    del keep, first, r_start, r_end
    # stable: each band keeps the edges in their order (polygon after polygon), as centre_spans expects;
    # band numbers of 16 bits are sorted by a radix sort, in one pass
    order = np.argsort(band.astype(np.uint16) if grid.height // band_rows < 2**16 else band, kind="stable")
    edge, band = edge[order], band[order]
    del order
    if not len(band):
        return
    cut = np.flatnonzero(np.r_[True, band[1:] != band[:-1], True])
    for a, b in pairwise(cut):
        sel = edge[a:b]
        r0 = int(band[a]) * band_rows
        yield (r0, min(r0 + band_rows, grid.height)), (label[sel], x1[sel], y1[sel], x2[sel], y2[sel])


def _crossings_in_order(xc: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crossings sorted by ``key`` (polygon, row), then by ``x``: what ``np.lexsort((xc, key))`` gives.

    The keys come nearly sorted (edges are listed polygon after polygon), which a stable sort handles
    in one fast pass, about 15 times faster than a lexsort on millions of crossings. Most (polygon,
    row) groups then hold one pair of crossings, put in order with a minimum and a maximum; the few
    larger groups (concave rings, holes, multipart polygons) are sorted on their own.
    """
    order = np.argsort(key, kind="stable")
    key, xc = key[order], xc[order]
    del order
    if not len(key):
        return xc, key
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    size = np.diff(np.r_[start, len(key)])
    pair = start[size == 2]
    low, high = np.minimum(xc[pair], xc[pair + 1]), np.maximum(xc[pair], xc[pair + 1])
    xc[pair], xc[pair + 1] = low, high
    larger = np.flatnonzero(np.repeat(size > 2, size))
    if len(larger):
        # keys are equal within a group, so only the x values move
        xc[larger] = xc[larger[np.lexsort((xc[larger], key[larger]))]]
    return xc, key


def centre_pairs(edges: Edges, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cells whose centre lies inside each polygon (even-odd rule): ``(flat cell, label)`` pairs."""
    start, length, label = centre_spans(edges, grid)
    span, cell = _expand(start, length)
    return cell, label[span]


def touched_pairs(edges: Edges, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cells whose interior a polygon's boundary passes through: ``(flat cell, label)`` pairs.

    Each edge is cut where it crosses a grid line; the midpoint of every piece names one cell. Pieces lying
    exactly on a grid line touch two cells only at their border and are skipped.
    """
    label, x1, y1, x2, y2 = edges
    u1, u2 = (x1 - grid.x0) / grid.xres, (x2 - grid.x0) / grid.xres
    v1, v2 = (grid.y0 - y1) / grid.yres, (grid.y0 - y2) / grid.yres
    del x1, y1, x2, y2
    n = len(label)
    ku = np.floor(np.minimum(u1, u2)).astype(np.int64) + 1
    nu = np.maximum(np.ceil(np.maximum(u1, u2)).astype(np.int64) - ku, 0)
    kv = np.floor(np.minimum(v1, v2)).astype(np.int64) + 1
    nv = np.maximum(np.ceil(np.maximum(v1, v2)).astype(np.int64) - kv, 0)
    eu, gu = _expand(ku, nu)
    ev, gv = _expand(kv, nv)
    with np.errstate(divide="ignore", invalid="ignore"):
        tu = (gu - u1[eu]) / (u2[eu] - u1[eu])
        tv = (gv - v1[ev]) / (v2[ev] - v1[ev])
    owner = np.concatenate([np.arange(n), np.arange(n), eu, ev])
    t = np.concatenate([np.zeros(n), np.ones(n), tu, tv])
    order = np.lexsort((t, owner))
    owner, t = owner[order], t[order]
    piece = np.flatnonzero((owner[:-1] == owner[1:]) & (t[1:] > t[:-1]))
    e = owner[piece]
    tm = 0.5 * (t[piece] + t[piece + 1])
    um = u1[e] + tm * (u2[e] - u1[e])
    vm = v1[e] + tm * (v2[e] - v1[e])
    on_line = ((u1[e] == u2[e]) & (um == np.round(um))) | ((v1[e] == v2[e]) & (vm == np.round(vm)))
    col = np.floor(um).astype(np.int64)
    row = np.floor(vm).astype(np.int64)
    ok = ~on_line & (col >= 0) & (col < grid.width) & (row >= 0) & (row < grid.height)
    return row[ok] * grid.width + col[ok], label[e[ok]]


def geometry_pairs(
    geoms: np.ndarray, grid: Grid, *, fallback: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ``(flat cell, label)`` pairs of ``geoms`` on ``grid`` (cell centre inside) and fallback cells.

    A geometry that no cell centre falls into (smaller than a cell, or a sliver) gets, with ``fallback``,
    the cell holding its ``point_on_surface`` as one extra pair, so it never vanishes.

    Returns
    -------
    cells, labels
        Pair arrays (int64), in no particular order; a cell inside two overlapping geometries is paired
        with both.
    fallback_cell
        Per geometry: the flat cell added for it, or -1 (not needed, or outside the grid).
    """
    cells, labels = centre_pairs(polygon_edges(geoms), grid)
    n = len(geoms)
    fallback_cell = np.full(n, -1, dtype=np.int64)
    if fallback and n:
        fallback_cell = fallback_cells(geoms, np.bincount(labels, minlength=n) == 0, grid)
        add = np.flatnonzero(fallback_cell >= 0)
        cells = np.concatenate([cells, fallback_cell[add]])
        labels = np.concatenate([labels, add])
    return cells, labels, fallback_cell


def geometry_spans(geoms: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`geometry_pairs` as runs of cells: ``(start, length, label)`` as :func:`centre_spans` gives them.

    A geometry that no cell centre falls into gets the cell holding its ``point_on_surface`` as a run of one
    cell (appended after the others); one outside the grid gets none.
    """
    start, length, label = centre_spans(polygon_edges(geoms), grid)
    n = len(geoms)
    if n:
        fallback_cell = fallback_cells(geoms, np.bincount(label, minlength=n) == 0, grid)
        add = np.flatnonzero(fallback_cell >= 0)
        start = np.concatenate([start, fallback_cell[add]])
        length = np.concatenate([length, np.ones(len(add), dtype=length.dtype)])
        label = np.concatenate([label, add])
    return start, length, label


def span_cells(start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Flat index of every cell of the runs, run after run (the runs' cells in :func:`geometry_spans` order).

    int32 when the grid allows it: half the memory traffic of int64 for tens of millions of cells.
    """
    total = int(length.sum())
    dtype = np.int32 if (len(start) == 0 or int(start.max()) + int(length.max()) < 2**31) and total < 2**31 \
        else np.int64
    # cell = start of its run + its place in the run = (start - offset of the run) + its place overall
    cells = np.repeat((start - (np.cumsum(length) - length)).astype(dtype), length)
    cells += np.arange(total, dtype=dtype)
    return cells


def burn_index(geoms: np.ndarray, grid: Grid, *, all_touched: bool = False, fill: int = -1) -> np.ndarray:
    """int32 raster of each cell's geometry position; where geometries share a cell the later one wins."""
    geoms = np.asarray(geoms, dtype=object)
    array = np.full(grid.height * grid.width, fill, dtype=np.int32)
    # a block of geometries at a time, blocks in order: each block's writes come after the earlier ones'
    for first in range(0, len(geoms), _BLOCK_GEOMS):
        edges = polygon_edges(geoms[first:first + _BLOCK_GEOMS])
        start, length, label = centre_spans(edges, grid)  # ordered by label
        cells = span_cells(start, length)
        labels = np.repeat((label + first).astype(np.int32), length)
        if all_touched:
            tc, tl = touched_pairs(edges, grid)  # ordered by label too
            cells = np.concatenate([cells, tc.astype(cells.dtype)])
            labels = np.concatenate([labels, (tl + first).astype(np.int32)])
            # merge the two label-ordered lists so the last write to a cell is the highest label (GDAL order)
            order = np.argsort(labels, kind="stable")
            cells, labels = cells[order], labels[order]
        array[cells] = labels  # numpy assigns in order: the last (highest) label wins
    return array.reshape(grid.shape)


def fallback_cells(geoms: np.ndarray, miss: np.ndarray, grid: Grid) -> np.ndarray:
    """Per geometry: the flat cell of its ``point_on_surface`` where ``miss`` is True, else -1."""
    out = np.full(len(geoms), -1, dtype=np.int64)
    pick = np.flatnonzero(miss & ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms))
    if pick.size:
        pts = shapely.point_on_surface(geoms[pick])
        out[pick] = grid.cell_of(shapely.get_x(pts), shapely.get_y(pts))
    return out

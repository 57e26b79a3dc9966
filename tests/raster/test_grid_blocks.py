"""The rasterizer by blocks (``polygon_edges`` from ring counts, ``centre_spans`` by blocks of edges,
``burn_index`` by blocks of geometries): the same edges, runs and index raster, to the bit, as the former
all-at-once implementation kept below as the reference, on random polygons with holes, multipolygons,
overlaps, cell-sized and outside-the-grid parts, vertices on cell centres, and non-polygonal geometries."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

import gisefficiency.raster.grid as grid_module
from gisefficiency.raster.grid import (
    Grid,
    burn_index,
    centre_pairs,
    centre_spans,
    edges_by_band,
    polygon_edges,
    touched_pairs,
)

GRID = Grid(0.0, 60.0, 2.0, 2.0, 31, 30)  # 62 x 60 map units; shapes reach past every side


def reference_edges(geoms):
    """The former polygon_edges: simple polygons' edges first (by label), then the other polygons' rings."""
    geoms = np.asarray(geoms, dtype=object)
    simple = (shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON) & (
        shapely.get_num_interior_rings(geoms) == 0)
    simple_pos = np.flatnonzero(simple)
    coords, coord_of = shapely.get_coordinates(geoms[simple_pos], return_index=True)
    owner = simple_pos[coord_of]
    if not simple.all():
        rest = np.flatnonzero(~simple)
        parts, part_of = shapely.get_parts(geoms[rest], return_index=True)
        rings, ring_of = shapely.get_rings(parts, return_index=True)
        rc, rc_of = shapely.get_coordinates(rings, return_index=True)
        coords = np.concatenate([coords, rc])
        coord_of = np.concatenate([coord_of, len(simple_pos) + rc_of])
        owner = np.concatenate([owner, rest[part_of[ring_of[rc_of]]]])
    start = np.flatnonzero(coord_of[:-1] == coord_of[1:])
    return (owner[start].astype(np.int64), coords[start, 0], coords[start, 1], coords[start + 1, 0],
            coords[start + 1, 1])


def reference_spans(edges, grid, rows=None):
    """The former centre_spans: every crossing at once, sorted by (label, row) then x with one lexsort."""
    rows = (0, grid.height) if rows is None else rows
    label, x1, y1, x2, y2 = edges
    ymin, ymax = np.minimum(y1, y2), np.maximum(y1, y2)
    r_start = np.maximum(np.floor((grid.y0 - ymax) / grid.yres - 0.5).astype(np.int64) + 1, rows[0])
    r_end = np.minimum(np.floor((grid.y0 - ymin) / grid.yres - 0.5).astype(np.int64), rows[1] - 1)
    counts = np.where(y1 != y2, np.maximum(r_end - r_start + 1, 0), 0)
    edge = np.repeat(np.arange(len(label)), counts)
    row = np.concatenate([np.arange(a, a + c) for a, c in zip(r_start, counts, strict=True)] or [np.zeros(0, int)])
    yc = grid.y0 - (row + 0.5) * grid.yres
    xc = x1[edge] + (yc - y1[edge]) * (x2[edge] - x1[edge]) / (y2[edge] - y1[edge])
    key = label[edge] * grid.height + row
    order = np.lexsort((xc, key))
    xc, key = xc[order], key[order]
    x_in, x_out, key = xc[0::2], xc[1::2], key[0::2]
    c_start = np.clip(np.ceil((x_in - grid.x0) / grid.xres - 0.5), 0, grid.width).astype(np.int64)
    c_end = np.clip(np.ceil((x_out - grid.x0) / grid.xres - 0.5), 0, grid.width).astype(np.int64)
    run = np.flatnonzero(c_end > c_start)
    span_label, span_row = np.divmod(key[run], grid.height)
    return span_row * grid.width + c_start[run], c_end[run] - c_start[run], span_label


def reference_burn(geoms, grid, all_touched):
    """The former burn_index: all pairs in label order assigned at once (the last, highest label wins)."""
    edges = reference_edges(geoms)
    start, length, labels = reference_spans(edges, grid)
    cells = np.concatenate([np.arange(s, s + n) for s, n in zip(start, length, strict=True)])
    labels = np.repeat(labels, length)
    if all_touched:
        tc, tl = touched_pairs(edges, grid)
        cells, labels = np.concatenate([cells, tc]), np.concatenate([labels, tl])
        order = np.argsort(labels, kind="stable")
        cells, labels = cells[order], labels[order]
    array = np.full(grid.height * grid.width, -7, dtype=np.int32)
    array[cells] = labels
    return array.reshape(grid.shape)


def star(rng, centre, radius, n):
    """A star-shaped ring (simple, often concave) of ``n`` vertices around ``centre``."""
    angle = np.sort(rng.uniform(0, 2 * np.pi, n))
    r = radius * rng.uniform(0.4, 1.0, n)
    return np.column_stack([centre[0] + r * np.cos(angle), centre[1] + r * np.sin(angle)])


def random_geoms(seed: int, n: int = 300) -> np.ndarray:
    """Random overlapping shapes of every kind the rasterizer meets, in random order."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = rng.integers(0, 10)
        centre = rng.uniform(-10, 72, 2)
        radius = rng.choice([0.3, 1.5, 4.0, 12.0])
        if kind <= 3:
            out.append(shapely.Polygon(star(rng, centre, radius, int(rng.integers(3, 12)))))
        elif kind == 4:  # a hole: a smaller star inside
            hole = star(rng, centre, 0.35 * radius, 6)
            out.append(shapely.Polygon(_circle(centre, radius), [hole]))
        elif kind == 5:
            out.append(shapely.MultiPolygon([shapely.Polygon(star(rng, centre + d, radius / 2, 5))
                                             for d in rng.uniform(-15, 15, (int(rng.integers(1, 4)), 2))]))
        elif kind == 6:  # vertices on cell centres and cell edges: the half-open rules decide
            x, y = np.round(centre) + rng.choice([0.0, 1.0], 2)
            out.append(shapely.box(x, y, x + 2 * rng.integers(1, 5), y + 2 * rng.integers(1, 5)))
        elif kind == 7:  # far outside the grid
            out.append(shapely.box(200 + i, 5, 210 + i, 9))
        elif kind == 8:
            out.append(rng.choice(np.array([None, shapely.Polygon(), shapely.Point(centre),
                                            shapely.LineString([centre, centre + 5])], dtype=object)))
        else:
            out.append(shapely.GeometryCollection([shapely.Polygon(star(rng, centre, radius, 7)),
                                                   shapely.LineString([centre, centre + 3])]))
    return np.array(out, dtype=object)


def _circle(centre, radius):
    angle = np.linspace(0, 2 * np.pi, 17)[:-1]
    return np.column_stack([centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)])


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few edges and geometries, so the random sets are cut into many."""
    monkeypatch.setattr(grid_module, "_BLOCK_EDGES", 40)
    monkeypatch.setattr(grid_module, "_BLOCK_GEOMS", 7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edges_are_the_former_edges_by_label(seed):
    geoms = random_geoms(seed)
    new, old = polygon_edges(geoms), reference_edges(geoms)
    order = np.argsort(old[0], kind="stable")  # each label's edges in their former order
    for got, expected in zip(new, old, strict=True):
        np.testing.assert_array_equal(got, expected[order])
        assert got.dtype == expected.dtype


def test_edges_of_simple_polygons_hand_computed():
    label, x1, y1, x2, y2 = polygon_edges(np.array([shapely.Polygon(), shapely.box(0, 0, 1, 2), None,
                                                    shapely.Polygon([(5, 5), (6, 5), (5, 7)])]))
    assert label.tolist() == [1, 1, 1, 1, 3, 3, 3]
    # shapely.box runs anticlockwise from (1, 0); the triangle is closed back to (5, 5)
    assert list(zip(x1, y1, x2, y2, strict=True))[:4] == [(1, 0, 1, 2), (1, 2, 0, 2), (0, 2, 0, 0), (0, 0, 1, 0)]
    assert list(zip(x1, y1, x2, y2, strict=True))[4:] == [(5, 5, 6, 5), (6, 5, 5, 7), (5, 7, 5, 5)]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_spans_by_blocks_are_the_former_spans(seed, small_blocks):
    geoms = random_geoms(seed)
    edges = polygon_edges(geoms)
    expected = reference_spans(reference_edges(geoms), GRID)
    for got, want in zip(centre_spans(edges, GRID), expected, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
    # edges in any order (here: labels backwards) give the same runs
    backwards = np.argsort(-edges[0], kind="stable")
    for got, want in zip(centre_spans(tuple(e[backwards] for e in edges), GRID), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_spans_of_bands_by_blocks_are_the_former_spans(small_blocks):
    geoms = random_geoms(4)
    edges = polygon_edges(geoms)
    for rows, band in edges_by_band(edges, GRID, 7):
        for got, want in zip(centre_spans(band, GRID, rows=rows), reference_spans(band, GRID, rows), strict=True):
            np.testing.assert_array_equal(got, want)


def test_spans_of_one_large_polygon_are_one_block(small_blocks):
    # 200 edges of one label cannot be cut: one block of them, the same runs
    ring = _circle((30.0, 30.0), 25.0)
    ring = np.concatenate([ring[i:i + 1] + 0.01 * np.arange(13)[:, None] for i in range(16)])
    geoms = np.array([shapely.box(0, 0, 3, 3), shapely.Polygon(ring), shapely.box(40, 40, 50, 45)])
    assert len(polygon_edges(geoms)[0]) > 3 * grid_module._BLOCK_EDGES
    for got, want in zip(centre_spans(polygon_edges(geoms), GRID), reference_spans(reference_edges(geoms), GRID),
                         strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("all_touched", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_burn_by_blocks_is_the_former_burn(seed, all_touched, small_blocks):
    geoms = random_geoms(seed)
    got = burn_index(geoms, GRID, all_touched=all_touched, fill=-7)
    np.testing.assert_array_equal(got, reference_burn(geoms, GRID, all_touched))
    assert got.dtype == np.int32
    # overlaps are common here, so "the later geometry wins" across blocks is really exercised
    cells, _ = centre_pairs(polygon_edges(geoms), GRID)
    assert np.bincount(cells).max() >= 3


def test_burn_later_geometry_wins_across_blocks_hand_computed(small_blocks):
    # geometry 8 (in the second block of 7) covers geometry 2's cells (first block); geometry 9 covers only
    # one of 8's four cells
    geoms = np.array([None] * 10, dtype=object)
    geoms[2] = shapely.box(0, 56, 4, 60)
    geoms[8] = shapely.box(0, 56, 4, 60)
    geoms[9] = shapely.box(2, 56, 4, 58)
    array = burn_index(geoms, GRID)
    assert array[:2, :2].tolist() == [[8, 8], [8, 9]]
    assert (array >= 0).sum() == 4


def test_burn_of_nothing():
    assert (burn_index(np.array([], dtype=object), GRID) == -1).all()
    assert (burn_index(np.array([None, shapely.Point(3, 3)], dtype=object), GRID, all_touched=True) == -1).all()

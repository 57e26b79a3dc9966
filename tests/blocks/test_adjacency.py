"""Tests of gisefficiency.blocks.adjacency: gap adjacency, components and unions by label."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.blocks import adjacency
from gisefficiency.blocks.adjacency import (
    adjacency_distances,
    adjacency_pairs,
    assemble,
    components,
    intersecting,
    union_by_label,
)


def squares(xs, ys, side=10.0):
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    return shapely.box(xs, ys, xs + side, ys + side)


def test_pairs_and_components_hand_computed():
    # 0-1 touch, 1-2 are 5 m apart, 3 is 50 m away from everything.
    geoms = squares([0, 10, 25, 100], [0, 0, 0, 0])
    i, j = adjacency_pairs(geoms, gap_m=0)
    assert list(zip(i, j, strict=True)) == [(0, 1)]
    i, j = adjacency_pairs(geoms, gap_m=5)
    assert list(zip(i, j, strict=True)) == [(0, 1), (1, 2)]
    labels = components(4, i, j)
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_adjacency_distances_hand_computed():
    # 0-1 touch (0 m), 1-2 are 5 m apart, 2-3 are 5.5 m apart: beyond a 5 m gap.
    geoms = squares([0, 10, 25, 40.5], [0, 0, 0, 0])
    i, j, d = adjacency_distances(geoms, gap_m=5)
    assert list(zip(i, j, strict=True)) == [(0, 1), (1, 2)]
    assert d.tolist() == [0.0, 5.0]
    i, j, d = adjacency_distances(geoms[:1], gap_m=5)
    assert len(i) == len(j) == len(d) == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=0, max_size=25), st.sampled_from([1.0, 7.5]))
def test_adjacency_distances_agree_with_pairs_and_touch_test(corners, gap):
    geoms = squares([c[0] for c in corners], [c[1] for c in corners], side=6.0)
    i, j, d = adjacency_distances(geoms, gap_m=gap)
    pi, pj = adjacency_pairs(geoms, gap_m=gap)
    assert np.array_equal(i, pi) and np.array_equal(j, pj)
    assert np.array_equal(d <= 1e-6, intersecting(geoms, i, j, tolerance=1e-6))


def test_intersecting_with_tolerance():
    geoms = squares([0, 10 + 1e-7, 10 + 1e-3], [0, 0, 0])
    i, j = np.array([0, 0]), np.array([1, 2])
    assert list(intersecting(geoms, i, j)) == [False, False]
    assert list(intersecting(geoms, i, j, tolerance=1e-6)) == [True, False]


def test_union_by_label_hand_computed():
    geoms = squares([0, 10, 20, 50, 60], [0, 0, 0, 0, 0])
    out = union_by_label(geoms, np.array([1, 1, 1, 0, 2]))
    assert len(out) == 3
    assert out[1].equals(shapely.box(0, 0, 30, 10))
    assert out[0] is geoms[3] and out[2] is geoms[4]  # single members are taken as they are


def test_assemble_gathers_disjoint_pieces():
    pieces = np.array([shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(5, 0, 6, 1), shapely.box(8, 0, 9, 1)]),
                       shapely.box(20, 0, 21, 1)], dtype=object)
    out = assemble(pieces, np.array([0, 0, 1]), 2)
    assert out[0].geom_type == "MultiPolygon" and shapely.get_num_geometries(out[0]) == 3
    assert out[0].area == pytest.approx(3.0) and out[0].is_valid
    assert out[1].geom_type == "Polygon"


def test_threaded_chunks_keep_order(monkeypatch):
    monkeypatch.setattr(adjacency, "_MIN_CHUNK", 3)
    out = adjacency._threaded(lambda rows: np.arange(rows.start, rows.stop) * 2, 50)
    np.testing.assert_array_equal(out, np.arange(50) * 2)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 3)), min_size=1, max_size=30, unique_by=lambda t: t[0]),
       st.integers(1, 4))
def test_union_by_label_equals_union_all(cells, n_labels):
    xs = np.array([c for c, _ in cells], dtype=float) * 10
    raw = np.array([lab % n_labels for _, lab in cells])
    _, labels = np.unique(raw, return_inverse=True)
    geoms = squares(xs, np.zeros(len(xs)))
    out = union_by_label(geoms, labels)
    for label in range(labels.max() + 1):
        expected = shapely.union_all(geoms[labels == label])
        assert shapely.symmetric_difference(out[label], expected).area == pytest.approx(0, abs=1e-9)


def test_assemble_keeps_part_order_and_passes_single_polygons():
    a, b, c, d = (shapely.box(x, 0, x + 1, 1) for x in (0, 5, 8, 20))
    pieces = np.array([d, shapely.MultiPolygon([b, c]), a], dtype=object)
    out = assemble(pieces, np.array([1, 0, 0]), 2)
    assert out[1] is d  # a lone Polygon is the block polygon as it is
    # Group 0: the parts of piece 1 (in their order), then piece 2.
    assert [p.bounds[0] for p in shapely.get_parts(out[0])] == [5.0, 8.0, 0.0]
    one = assemble(np.array([shapely.MultiPolygon([a, b])], dtype=object), np.array([0]), 1)
    assert one[0].geom_type == "MultiPolygon" and one[0].area == pytest.approx(2.0)


def test_components_numbered_by_smallest_node():
    # 4-2 and 2-0 join {0, 2, 4}; 3-1 joins {1, 3}; 5 is alone. Labels follow the smallest node.
    labels = components(6, np.array([4, 2, 3]), np.array([2, 0, 1]))
    assert list(labels) == [0, 1, 0, 1, 0, 2]
    assert list(components(3, np.array([], dtype=int), np.array([], dtype=int))) == [0, 1, 2]
    assert len(components(0, np.array([], dtype=int), np.array([], dtype=int))) == 0


def test_components_of_a_long_shuffled_path_are_one():
    order = np.random.default_rng(3).permutation(5_000)
    assert set(components(5_000, order[:-1], order[1:])) == {0}


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80))))
def test_components_equal_scipy(case):
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    n, edges = case
    i = np.array([a for a, _ in edges], dtype=np.intp)
    j = np.array([b for _, b in edges], dtype=np.intp)
    graph = coo_array((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    np.testing.assert_array_equal(components(n, i, j), connected_components(graph, directed=False)[1])

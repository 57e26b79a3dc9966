"""Gap-tolerant adjacency between parcels, its connected components, and unions by label.

Shared by ``blocks`` (contiguous low-efficiency blocks) and ``clusters`` (spatial weights).
Adjacency is "touching or within ``gap_m``", tested with ``intersects`` / ``dwithin`` and never
with ``touches``: real cadastral parcels overlap at float level at T-junctions, and ``touches``
misses those pairs (37 % of neighbour pairs on the benchmark data, see
``/work/shared/reference/env-perf-research.md`` section 6).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

#: Worker threads for GEOS array calls: shapely releases the GIL, and the machine has 2 cores.
THREADS: int = 2

#: Rows per chunk handed to a thread: at most ``_CHUNK`` (memory), at least ``_MIN_CHUNK`` (overhead),
#: and otherwise ``4 * THREADS`` chunks so that costly calls (overlays) on a few thousand rows balance.
_CHUNK: int = 50_000
_MIN_CHUNK: int = 1_000


def _threaded(func: Callable[[slice], np.ndarray], n: int, *, axis: int = 0) -> np.ndarray:
    """Run ``func`` over row slices of ``range(n)`` on ``THREADS`` threads and concatenate in order."""
    size = max(_MIN_CHUNK, min(_CHUNK, -(-n // (4 * THREADS))))
    slices = [slice(start, min(start + size, n)) for start in range(0, n, size)]
    if len(slices) <= 1:
        return func(slice(0, n))
    with ThreadPoolExecutor(THREADS) as pool:
        parts = list(pool.map(func, slices))
    return np.concatenate(parts, axis=axis)


def adjacency_pairs(geoms: np.ndarray, *, gap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Unordered pairs of geometries that intersect (``gap_m == 0``) or lie within ``gap_m``.

    A bulk ``STRtree`` query of the envelopes grown by ``gap_m`` gives the candidate pairs; each
    unordered pair is then tested once with ``shapely.dwithin`` (or ``intersects``) in chunks on
    two threads. This is the same relation as ``STRtree.query(predicate="dwithin")`` but does half
    the GEOS distance work, because the tree query would test both (i, j) and (j, i).

    Parameters
    ----------
    geoms
        Array of shapely geometries (projected, metres); no missing or empty ones.
    gap_m
        Largest distance in metres between two adjacent geometries; 0 means they must intersect.

    Returns
    -------
    tuple of ndarray
        Positions ``(i, j)`` with ``i < j``, sorted by ``i`` then ``j``.
    """
    left, right, cand = _candidates(geoms, gap_m)

    def exact(rows: slice) -> np.ndarray:
        if gap_m > 0:
            return shapely.dwithin(left[rows], right[rows], gap_m)
        return shapely.intersects(left[rows], right[rows])

    i, j, _ = _sorted_hits(cand, _threaded(exact, cand.shape[1]))
    return i, j


def adjacency_distances(geoms: np.ndarray, *, gap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`adjacency_pairs` for ``gap_m > 0``, with the distance of each pair.

    One ``shapely.distance`` per candidate pair costs less than ``dwithin`` followed by a second
    test of which pairs touch: the distance answers both (``d <= gap_m``; ``d <= tolerance``).

    Parameters
    ----------
    geoms
        Array of shapely geometries (projected, metres); no missing or empty ones.
    gap_m
        Largest distance in metres between two adjacent geometries (> 0).

    Returns
    -------
    tuple of ndarray
        Positions ``(i, j)`` as :func:`adjacency_pairs` gives them, and their distances in metres.
    """
    left, right, cand = _candidates(geoms, gap_m)
    dist = _threaded(lambda rows: shapely.distance(left[rows], right[rows]), cand.shape[1])
    return _sorted_hits(cand, dist <= gap_m, dist)


def _candidates(geoms: np.ndarray, gap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left and right geometries of the unordered pairs whose envelopes lie within ``gap_m``, and the pairs."""
    n = len(geoms)
    if n < 2:
        empty = np.empty((2, 0), dtype=np.intp)
        return geoms[:0], geoms[:0], empty
    # The tree indexes the envelopes of the geometries; a query without predicate matches envelopes.
    tree = shapely.STRtree(geoms)
    bounds = shapely.bounds(geoms) + np.array([-gap_m, -gap_m, gap_m, gap_m])
    grown = _threaded(lambda rows: shapely.box(*bounds[rows].T), n)

    def query(rows: slice) -> np.ndarray:
        found = tree.query(grown[rows])
        found[0] += rows.start
        return found[:, found[0] < found[1]]

    cand = _threaded(query, n, axis=1)
    return geoms[cand[0]], geoms[cand[1]], cand


def _sorted_hits(cand: np.ndarray, hit: np.ndarray, values: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    i, j = cand[0][hit], cand[1][hit]
    order = np.lexsort((j, i))
    return i[order], j[order], None if values is None else values[hit][order]


def intersecting(geoms: np.ndarray, i: np.ndarray, j: np.ndarray, *, tolerance: float = 0.0) -> np.ndarray:
    """Boolean mask of the pairs ``(geoms[i], geoms[j])`` that intersect (or lie within ``tolerance``)."""
    if tolerance > 0:
        return _threaded(lambda rows: shapely.dwithin(geoms[i[rows]], geoms[j[rows]], tolerance), len(i))
    return _threaded(lambda rows: shapely.intersects(geoms[i[rows]], geoms[j[rows]]), len(i))


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes given undirected edges ``(i, j)``.

    Components are numbered by their smallest node (the node 0 is in component 0), as
    ``scipy.sparse.csgraph.connected_components`` numbers them.

    Notes
    -----
    Hooking and pointer jumping on numpy arrays: every node points to a smaller (or the same)
    node of its component; each round hooks the root of every edge's larger end onto the
    smaller root, then shortcuts the pointers until each node points to its root. The root of a
    component ends as its smallest node. This avoids importing scipy (about 0.3 s) for a graph
    that needs a few numpy passes.
    """
    parent = np.arange(n)
    i, j = np.asarray(i, dtype=np.intp), np.asarray(j, dtype=np.intp)
    while len(i):
        root_i, root_j = parent[i], parent[j]
        apart = root_i != root_j
        if not apart.any():
            break
        root_i, root_j = root_i[apart], root_j[apart]
        # Roots only: parent[root] == root, so the minimum hooks the larger root onto the smaller.
        low = np.minimum(root_i, root_j)
        np.minimum.at(parent, root_i, low)
        np.minimum.at(parent, root_j, low)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        # Edges already inside one component stay settled: only the others are looked at again.
        i, j = i[apart], j[apart]
    return np.unique(parent, return_inverse=True)[1]


def _pairwise_union(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return _threaded(lambda rows: shapely.union(left[rows], right[rows]), len(left))


def union_by_label(geoms: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Union of the geometries sharing each label ``0..k-1`` (every label must occur), in label order.

    A vectorised segmented pairwise reduction: in each round, members 0+1, 2+3, ... of every label
    (sorted along x, so that neighbours are merged first) are unioned by one ``shapely.union``
    array call on two threads, so the number of Python-level steps is ``log2`` of the largest
    label, not the number of labels. A label with one geometry keeps it without an overlay.
    """
    # Only labels with several members are merged, so only their members need a position.
    shared = np.bincount(labels)[labels] > 1
    moving = geoms[shared]
    xs = np.zeros(len(geoms))
    xs[shared] = _threaded(lambda rows: shapely.get_x(shapely.centroid(moving[rows])), len(moving))
    order = np.lexsort((xs, labels))
    geo, lab = geoms[order], labels[order]
    while len(lab) > 1:
        start = np.r_[True, lab[1:] != lab[:-1]]
        if start.all():
            break
        idx = np.arange(len(lab))
        pos = idx - np.maximum.accumulate(np.where(start, idx, 0))
        merge = np.nonzero((pos % 2 == 0) & np.r_[lab[1:] == lab[:-1], False])[0]
        geo = geo.copy()
        geo[merge] = _pairwise_union(geo[merge], geo[merge + 1])
        keep = pos % 2 == 0
        geo, lab = geo[keep], lab[keep]
    out = np.empty(int(labels.max()) + 1 if len(labels) else 0, dtype=object)
    out[lab] = geo
    return out


def assemble(pieces: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """One (Multi)Polygon per group ``0..k-1`` from polygonal pieces that do not intersect each other.

    Disjoint pieces need no overlay: their polygons are gathered into a MultiPolygon, and a group
    made of a single polygon gets that Polygon. Every group must own a piece.
    """
    # A union of polygons is polygonal, so its parts are Polygons. Taking parts copies them: only
    # the MultiPolygon pieces are split, and a Polygon piece is used as it is (geometries are immutable).
    multi = shapely.get_type_id(pieces) == shapely.GeometryType.MULTIPOLYGON
    split, split_of = shapely.get_parts(pieces[multi], return_index=True)
    parts = np.r_[pieces[~multi], split]
    part_of = np.r_[np.nonzero(~multi)[0], np.nonzero(multi)[0][split_of]]
    # Sorted by group, then by piece, the parts of a MultiPolygon piece keeping their order.
    order = np.lexsort((part_of, groups[part_of]))
    parts, part_group = parts[order], groups[part_of][order]
    count = np.bincount(part_group, minlength=k)
    out = np.empty(k, dtype=object)
    # A group of one Polygon is that Polygon; only groups of several are gathered.
    single = count[part_group] == 1
    out[part_group[single]] = parts[single]
    several = np.nonzero(count > 1)[0]
    if len(several):
        _, dense = np.unique(part_group[~single], return_inverse=True)
        out[several] = shapely.multipolygons(parts[~single], indices=dense)
    return out

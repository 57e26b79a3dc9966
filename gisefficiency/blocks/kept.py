"""Which non-flagged parcels a block keeps (留用) without being broken: the enclosure test.

Definitions (used by ``blocks.find_blocks``):

- **hull candidate**: a parcel that is not flagged and lies within the convex hull of the block's
  flagged parcels grown by ``HULL_TOLERANCE_M`` (so edges collinear with the block's outline count).
- **faced share**: the share of the candidate's outer boundary that faces the block. The exterior
  ring of each polygon part is sampled at ``FACE_SAMPLES`` points evenly spaced by arc length. From
  each point a probe goes along the outward normal of its edge; the point faces the block when one
  of the probe points at depths ``FACE_PROBE_M``, ``FACE_PROBE_M + gap/2`` and ``FACE_PROBE_M + gap``
  metres lies in the union of the block's flagged parcels, i.e. the block lies right across the
  boundary (touching, or across a road up to the gap). Each point stands for 1/``FACE_SAMPLES``
  of its part's perimeter. Probing along the normal, rather than measuring plain distance, keeps a
  neighbour on one side from also "covering" the ends of the adjacent sides: a square with block
  parcels on exactly three sides faces 0.75 of its boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import pandas as pd
import shapely

from gisefficiency.blocks.adjacency import THREADS, _threaded

#: Boundary sample points per polygon part for the faced share (16: 4 per side of a square).
FACE_SAMPLES: int = 16

#: First probe depth (m) beyond the boundary: meets touching neighbours despite float-level gaps.
FACE_PROBE_M: float = 0.5

#: Growth of the block hull (m) for the hull test.
HULL_TOLERANCE_M: float = 1.0


def block_hulls(member_geoms: np.ndarray, member_block: np.ndarray, n_blocks: int) -> np.ndarray:
    """Convex hull of each block's flagged parcels, grown by ``HULL_TOLERANCE_M``, by block position.

    Parameters
    ----------
    member_geoms, member_block
        The flagged parcels and their block position ``0..n_blocks-1`` (every block has one).
    n_blocks
        Number of blocks.

    Notes
    -----
    The hull of a set of polygons is the hull of their vertices, so it needs no union of the
    block: it is the hull of the block polygon, whose extreme points are vertices of its members.
    """
    # One coordinate sequence per block (a LineString: unlike a MultiPoint, it needs no geometry
    # per point), whose hull is the hull of its vertices.
    order = np.argsort(member_block, kind="stable")
    coords, idx = shapely.get_coordinates(member_geoms[order], return_index=True)
    line = shapely.linestrings(coords, indices=member_block[order][idx])
    return _threaded(lambda rows: shapely.buffer(shapely.convex_hull(line[rows]), HULL_TOLERANCE_M,
                                                 quad_segs=2), n_blocks)


def hull_candidates(hulls: np.ndarray, other_geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (other parcel position, block position) where the parcel lies in the block's hull.

    Parameters
    ----------
    hulls
        Grown hull of each block's flagged parcels (``block_hulls``), by block position.
    other_geoms
        Non-flagged parcels that may be kept.

    Notes
    -----
    The tree holds the parcels and is queried with the hulls (``contains``, the converse of the
    parcel lying ``within`` the hull): each hull is prepared once, instead of every parcel.
    """
    tree = shapely.STRtree(other_geoms)

    def query(rows: slice) -> np.ndarray:
        found = tree.query(hulls[rows], predicate="contains")
        found[0] += rows.start
        return found

    block, other = _threaded(query, len(hulls), axis=1)
    return other, block


def faced_share(
    cand_geoms: np.ndarray,
    cand_block: np.ndarray,
    member_geoms: np.ndarray,
    member_block: np.ndarray,
    *,
    gap_m: float,
) -> np.ndarray:
    """Share (0..1) of each candidate's outer boundary that faces its block (see module notes).

    Parameters
    ----------
    cand_geoms, cand_block
        One row per (candidate parcel, block position) pair.
    member_geoms, member_block
        The flagged parcels of the blocks and their block position.
    gap_m
        The adjacency gap of the blocks, metres.

    Notes
    -----
    A probe point lies in the union of a block's flagged parcels exactly when it lies in one of
    them, so the probes are tested against the parcels (found by a tree of their envelopes), and
    no block polygon is needed.
    """
    n = len(cand_geoms)
    if n == 0:
        return np.empty(0)
    # Flagged parcels of its block near each candidate (envelopes within the deepest probe): the
    # probes of a candidate are tested against these only, without a point geometry per probe.
    reach = FACE_PROBE_M + gap_m + 1.0
    c_bounds, m_bounds = shapely.bounds(cand_geoms), shapely.bounds(member_geoms)
    grown = c_bounds + np.array([-reach, -reach, reach, reach])
    near_c, near_m = shapely.STRtree(member_geoms).query(shapely.box(*grown.T))
    same = member_block[near_m] == cand_block[near_c]
    near_c, near_m = near_c[same], near_m[same]
    order = np.argsort(cand_block, kind="stable")
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    # A probe at depth d lies in the candidate's envelope grown by d: per depth, only the parcels
    # whose envelope is that close are tested (most probes are met at the first, shallow depth).
    cb, mb = c_bounds[near_c], m_bounds[near_m]
    apart = np.maximum(np.maximum(mb[:, 0] - cb[:, 2], cb[:, 0] - mb[:, 2]),
                       np.maximum(mb[:, 1] - cb[:, 3], cb[:, 1] - mb[:, 3]))
    depths = _depths(gap_m)
    # Neighbour lists in candidate-sorted order, as CSR offsets, so that slices of candidates work.
    by_rank = np.argsort(rank[near_c], kind="stable")
    near_rank, near_m, apart = rank[near_c][by_rank], near_m[by_rank], apart[by_rank]
    lists = []
    for depth in depths:
        close = apart <= depth + 1e-3
        offset = np.r_[0, np.cumsum(np.bincount(near_rank[close], minlength=n))]
        lists.append((offset, near_m[close]))
    geoms = cand_geoms[order]
    share = np.empty(n)
    share[order] = _by_block(
        lambda rows: _faced(geoms[rows], [(o[rows.start:rows.stop + 1], m) for o, m in lists], member_geoms,
                            m_bounds, depths),
        cand_block[order])
    return share


def _depths(gap_m: float) -> list[float]:
    """Probe depths beyond the boundary (m), shallowest first."""
    return sorted({FACE_PROBE_M, FACE_PROBE_M + gap_m / 2, FACE_PROBE_M + gap_m})


def _in_near(x: np.ndarray, y: np.ndarray, cand: np.ndarray, offset: np.ndarray, neigh: np.ndarray,
             member_geoms: np.ndarray, m_bounds: np.ndarray) -> np.ndarray:
    """Whether each point ``(x, y)`` of candidate ``cand`` lies in one of the candidate's neighbours.

    ``neigh[offset[c]:offset[c + 1]]`` are the neighbours of candidate ``c``; boundaries count.
    """
    count = offset[cand + 1] - offset[cand]
    point = np.repeat(np.arange(len(x)), count)
    first = np.repeat(offset[cand] - np.r_[0, np.cumsum(count)[:-1]], count)
    member = neigh[first + np.arange(len(point))]
    px, py, box = x[point], y[point], m_bounds[member]
    inbox = (px >= box[:, 0]) & (px <= box[:, 2]) & (py >= box[:, 1]) & (py <= box[:, 3])
    point, member = point[inbox], member[inbox]
    hit = shapely.intersects_xy(member_geoms[member], x[point], y[point])
    inside = np.zeros(len(x), dtype=bool)
    inside[point[hit]] = True
    return inside


def _faced(cand_geoms: np.ndarray, lists: list[tuple[np.ndarray, np.ndarray]], member_geoms: np.ndarray,
           m_bounds: np.ndarray, depths: list[float]) -> np.ndarray:
    """``faced_share`` of some candidates in the calling thread.

    ``lists`` holds, per depth, the candidates' neighbour lists (``offset``, ``neigh``: ``_in_near``).
    """
    n = len(cand_geoms)
    parts, part_pair = shapely.get_parts(shapely.orient_polygons(cand_geoms), return_index=True)
    coords, ring = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
    # Edges run between consecutive coordinates of the same ring (counter-clockwise).
    same = ring[1:] == ring[:-1]
    start, end, edge_ring = coords[:-1][same], coords[1:][same], ring[:-1][same]
    vec = end - start
    length = np.hypot(vec[:, 0], vec[:, 1])
    cum_end = np.cumsum(length)
    ring_len = np.bincount(edge_ring, weights=length, minlength=len(parts))
    ring_start = np.r_[0.0, np.cumsum(ring_len)[:-1]]
    k = FACE_SAMPLES
    sample_ring = np.repeat(np.arange(len(parts)), k)
    at = ring_start[sample_ring] + np.tile((np.arange(k) + 0.5) / k, len(parts)) * ring_len[sample_ring]
    edge = np.minimum(np.searchsorted(cum_end, at, side="right"), len(length) - 1)
    safe = np.where(length[edge] > 0, length[edge], 1.0)
    t = (at - (cum_end[edge] - length[edge])) / safe
    point = start[edge] + vec[edge] * t[:, None]
    # Outward normal of a counter-clockwise ring: the edge direction turned clockwise.
    outward = np.column_stack([vec[edge, 1], -vec[edge, 0]]) / safe[:, None]
    target = part_pair[sample_ring]
    faced = np.zeros(len(point), dtype=bool)
    for depth, (offset, neigh) in zip(depths, lists, strict=True):
        todo = np.nonzero(~faced)[0]
        probe = point[todo] + outward[todo] * depth
        faced[todo] = _in_near(probe[:, 0], probe[:, 1], target[todo], offset, neigh, member_geoms,
                               m_bounds)
    weight = np.repeat(ring_len / k, k)
    faced_len = np.bincount(part_pair[sample_ring], weights=weight * faced, minlength=n)
    total_len = np.bincount(part_pair, weights=ring_len, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total_len > 0, faced_len / total_len, 0.0)


def _by_block(func: Callable[[slice], np.ndarray], block: np.ndarray) -> np.ndarray:
    """``func`` over row slices of a block-sorted array on ``THREADS`` threads, cut between blocks.

    Small inputs (under 10,000 rows) run in the calling thread, where threads cost more than they save.
    Whole calls of numpy and GEOS work per chunk, rather than a single GEOS call, so that the numpy
    part runs in parallel too.
    """
    n = len(block)
    cuts = np.searchsorted(block, block[np.linspace(0, n, 4 * THREADS + 1, dtype=int)[1:-1]], side="left")
    bounds = np.unique(np.r_[0, cuts, n])
    slices = [slice(lo, hi) for lo, hi in pairwise(bounds)]
    if len(slices) <= 1 or n < 10_000:
        return func(slice(0, n))
    with ThreadPoolExecutor(THREADS) as pool:
        return np.concatenate(list(pool.map(func, slices)))


def choose_kept(
    pairs: pd.DataFrame,
    *,
    keep: str,
    enclosed_share: float,
    max_share: float,
    low_mu: pd.Series,
) -> pd.DataFrame:
    """Apply the keep rule to candidate pairs.

    Parameters
    ----------
    pairs
        Columns ``pos`` (parcel position), ``parcel_id``, ``block`` (block position), ``faced``
        (faced share), ``land_mu``.
    keep
        ``"enclosed"``: every candidate facing the block on at least ``enclosed_share`` of its
        boundary. ``"share"``: candidates facing the block at all, most-faced first (then smaller,
        then by id), kept while the block's kept land stays within ``max_share`` of its whole land.
    enclosed_share, max_share
        Thresholds of the two rules (0..1).
    low_mu
        Flagged land of each block position (index = block position).

    Returns
    -------
    DataFrame
        The kept rows of ``pairs``, each parcel at most once (its most-faced block; ties: lower block).
    """
    pairs = pairs.sort_values(["pos", "faced", "block"], ascending=[True, False, True])
    pairs = pairs.drop_duplicates("pos")
    if keep == "enclosed":
        return pairs[pairs["faced"] >= enclosed_share]
    pairs = pairs[pairs["faced"] > 0]
    pairs = pairs.sort_values(["block", "faced", "land_mu", "parcel_id"], ascending=[True, False, True, True])
    cum = pairs.groupby("block", sort=False)["land_mu"].cumsum()
    # kept / (low + kept) <= s  <=>  kept <= s / (1 - s) * low
    limit = low_mu.reindex(pairs["block"]).to_numpy() * max_share / (1.0 - max_share)
    within = (cum.to_numpy() <= limit + 1e-9).astype(int)
    # Prefix rule: stop at the first parcel that breaks the cap.
    prefix = pd.Series(within, index=pairs.index).groupby(pairs["block"].to_numpy()).cumprod()
    return pairs[prefix.to_numpy() == 1]

"""Geometry of the sample county: industrial parks, road grids, blocks and guillotine-cut parcels.

Everything is numpy on arrays of quadrilaterals ``(n, 4, 2)`` (corners counter-clockwise):
a block is cut in two across its longer side, again and again, until every piece is near the
block's typical parcel size. One cut is one vectorised step over all pieces, so the number of
Python iterations is the depth of the cut tree (about ten), never the number of parcels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gisefficiency.core.constants import M2_PER_MU

#: Parcel size limits of the issue (mu); cuts never make a piece smaller than MIN_CUT_MU.
MIN_PARCEL_MU: float = 3.0
MAX_PARCEL_MU: float = 200.0
MIN_CUT_MU: float = 3.3

#: Road widths between blocks (m).
ROAD_MIN_M: float = 15.0
ROAD_MAX_M: float = 40.0

#: Expected parcels per block at the default block and parcel sizes (used to size batches only).
_PARCELS_PER_BLOCK_GUESS: float = 11.0


@dataclass(frozen=True)
class Layout:
    """Parcels as quadrilaterals in projected metres, with the block and park they belong to.

    Attributes
    ----------
    quads
        ``(n, 4, 2)`` corners of each parcel, counter-clockwise, not rounded.
    block, park, street
        Block number (global, 0-based), park number and street number (0-based) of each parcel.
    block_ij
        ``(n, 2)`` column and row of the parcel's block inside its park's road grid.
    park_quads
        ``(n_parks, 4, 2)`` outline of each park's road grid (the surveyed area).
    n_streets
        Number of streets the parks were spread over.
    """

    quads: np.ndarray
    block: np.ndarray
    park: np.ndarray
    street: np.ndarray
    block_ij: np.ndarray
    park_quads: np.ndarray
    n_streets: int


def quad_area(quads: np.ndarray) -> np.ndarray:
    """Shoelace area (m²) of counter-clockwise quadrilaterals ``(n, 4, 2)``."""
    x, y = quads[..., 0], quads[..., 1]
    return 0.5 * (x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y).sum(axis=-1)


def make_layout(
    n_parcels: int, rng: np.random.Generator, *, origin: tuple[float, float], n_streets: int = 5,
    old_streets: tuple[int, ...] = (0, 1),
) -> Layout:
    """Lay out ``n_parcels`` parcels in parks spread over ``n_streets`` streets.

    Parameters
    ----------
    n_parcels
        Exact number of parcels wanted.
    rng
        Random generator (the only source of randomness).
    origin
        Centre of the county in projected metres.
    n_streets
        Number of streets; park ``p`` belongs to street ``p % n_streets``.
    old_streets
        Streets of the old town, whose parcels are smaller.

    Returns
    -------
    Layout
    """
    # Blocks per park side: about one park more than streets so that every street gets one.
    side = int(np.clip(round(np.sqrt(n_parcels / ((n_streets + 1) * _PARCELS_PER_BLOCK_GUESS))), 1, 10))
    per_park_guess = side * side * _PARCELS_PER_BLOCK_GUESS
    parts: list[tuple[np.ndarray, ...]] = []
    made, first_park = 0, 0
    while made < n_parcels:
        # Batches overshoot a little; a second batch is rare and only tops up.
        n_parks = max(int(np.ceil((n_parcels - made) / per_park_guess * 1.1)), 1)
        quads, block_ij, park, grid = _park_grids(n_parks, side, rng)
        street = (park + first_park) % n_streets
        old = np.isin(street, old_streets)
        # Typical parcel size per block: smaller in the old town, a few blocks of big plots.
        median_mu = np.where(old, 11.0, 18.0)
        grain = np.clip(median_mu * rng.lognormal(0.0, 0.45, park.size), 5.0, 120.0)
        big = rng.random(park.size) < 0.04
        grain[big] = rng.uniform(60.0, 150.0, big.sum())
        pieces, owner = subdivide(quads, grain, rng)
        parts.append((pieces, owner, block_ij, park + first_park, grid))
        made += pieces.shape[0]
        first_park += n_parks
    # Join the batches: blocks are numbered in generation order across batches.
    quads_all, block_all, ij_all, park_all, grids = [], [], [], [], []
    block_offset = 0
    for pieces, owner, block_ij, park, grid in parts:
        quads_all.append(pieces)
        block_all.append(owner + block_offset)
        ij_all.append(block_ij[owner])
        park_all.append(park[owner])
        grids.append(grid)
        block_offset += block_ij.shape[0]
    quads = np.concatenate(quads_all)[:n_parcels]
    block = np.concatenate(block_all)[:n_parcels]
    block_ij = np.concatenate(ij_all)[:n_parcels]
    park = np.concatenate(park_all)[:n_parcels]
    grid = np.concatenate(grids)[: park.max() + 1]
    quads, grid = _place_parks(quads, park, grid, rng, origin=origin, n_streets=n_streets)
    return Layout(
        quads=quads, block=block, park=park, street=park % n_streets, block_ij=block_ij,
        park_quads=grid, n_streets=n_streets,
    )


def _park_grids(
    n_parks: int, side: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Blocks of ``n_parks`` parks of ``side``×``side`` blocks, in park-local metres.

    Returns the block quads ``(n_parks*side*side, 4, 2)``, their (column, row), their park
    number, and each park's outline ``(n_parks, 4, 2)`` centred on the local origin.
    """
    widths = rng.uniform(200.0, 480.0, (n_parks, side))
    heights = rng.uniform(180.0, 420.0, (n_parks, side))
    # One width per road line between two block columns (rows): 15-40 m.
    road_x = rng.uniform(ROAD_MIN_M, ROAD_MAX_M, (n_parks, side))
    road_y = rng.uniform(ROAD_MIN_M, ROAD_MAX_M, (n_parks, side))
    road_x[:, 0] = 0.0
    road_y[:, 0] = 0.0
    x0 = np.cumsum(widths + road_x, axis=1) - widths
    y0 = np.cumsum(heights + road_y, axis=1) - heights
    x1, y1 = x0 + widths, y0 + heights
    # Centre each park on its local origin so that rotation turns it about its middle.
    cx, cy = x1[:, -1:] / 2.0, y1[:, -1:] / 2.0
    x0, x1, y0, y1 = x0 - cx, x1 - cx, y0 - cy, y1 - cy
    # Blocks in park, row, column order.
    bx0 = np.broadcast_to(x0[:, None, :], (n_parks, side, side))
    bx1 = np.broadcast_to(x1[:, None, :], (n_parks, side, side))
    by0 = np.broadcast_to(y0[:, :, None], (n_parks, side, side))
    by1 = np.broadcast_to(y1[:, :, None], (n_parks, side, side))
    quads = np.stack(
        [np.stack([bx0, by0], -1), np.stack([bx1, by0], -1), np.stack([bx1, by1], -1), np.stack([bx0, by1], -1)],
        axis=-2,
    ).reshape(-1, 4, 2)
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    block_ij = np.tile(np.stack([cols.ravel(), rows.ravel()], axis=1), (n_parks, 1))
    park = np.repeat(np.arange(n_parks), side * side)
    gx0, gx1, gy0, gy1 = x0[:, 0], x1[:, -1], y0[:, 0], y1[:, -1]
    grid = np.stack(
        [np.stack([gx0, gy0], -1), np.stack([gx1, gy0], -1), np.stack([gx1, gy1], -1), np.stack([gx0, gy1], -1)],
        axis=1,
    )
    return quads, block_ij, park, grid


def subdivide(
    blocks: np.ndarray, grain_mu: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Cut blocks into parcels by repeated, partly slanted guillotine cuts.

    Parameters
    ----------
    blocks
        ``(m, 4, 2)`` counter-clockwise quadrilaterals.
    grain_mu
        Typical parcel size of each block (mu).
    rng
        Random generator.

    Returns
    -------
    pieces : numpy.ndarray
        ``(n, 4, 2)`` parcels, grouped by block in block order.
    owner : numpy.ndarray
        Index of the block each piece came from.

    Notes
    -----
    A cut joins a point on one side to a point on the opposite side, so both halves stay
    quadrilaterals, and the cut's end is a vertex of the halves only: the neighbour across the
    parent's side has no vertex there (a T-junction, as in real cadastres).
    """
    pieces = blocks.copy()
    owner = np.arange(blocks.shape[0])
    done_q, done_o = [], []
    while pieces.shape[0]:
        area_mu = quad_area(pieces) / M2_PER_MU
        # Split when well above the block's grain; always split anything over the maximum.
        wanted = grain_mu[owner] * rng.uniform(1.3, 2.6, area_mu.size)
        split = (area_mu > MAX_PARCEL_MU * 0.97) | ((area_mu > wanted) & (area_mu >= 2.3 * MIN_CUT_MU))
        done_q.append(pieces[~split])
        done_o.append(owner[~split])
        pieces, owner, area_mu = pieces[split], owner[split], area_mu[split]
        if not pieces.shape[0]:
            break
        first, second = _cut(pieces, area_mu, rng)
        pieces = np.concatenate([first, second])
        owner = np.concatenate([owner, owner])
    quads = np.concatenate(done_q)
    owners = np.concatenate(done_o)
    order = np.argsort(owners, kind="stable")
    return quads[order], owners[order]


def _cut(quads: np.ndarray, area_mu: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Cut each quad in two across its longer side; both halves keep at least MIN_CUT_MU."""
    n = quads.shape[0]
    c0, c1, c2, c3 = quads[:, 0], quads[:, 1], quads[:, 2], quads[:, 3]
    len01 = np.hypot(*(c1 - c0).T)
    len12 = np.hypot(*(c2 - c1).T)
    # Cut across the long direction, with a few cuts the other way on squarish pieces.
    across = (len01 >= len12) ^ ((np.maximum(len01, len12) < 1.5 * np.minimum(len01, len12)) & (rng.random(n) < 0.2))
    lo = np.clip(MIN_CUT_MU * 1.08 / area_mu, 0.25, 0.5)
    mid = rng.uniform(lo, 1.0 - lo)
    # Four cuts in ten are slanted by a few metres to some tens of metres.
    slant = np.where(rng.random(n) < 0.4, rng.uniform(-0.09, 0.09, n), 0.0)
    first, second = _halves(c0, c1, c2, c3, across, mid - slant / 2, mid + slant / 2)
    small = np.minimum(quad_area(first), quad_area(second)) < MIN_CUT_MU * M2_PER_MU
    if small.any():
        # A slanted cut on a tapered piece can leave a sliver: cut that piece straight in half instead.
        half = np.full(n, 0.5)
        f2, s2 = _halves(c0, c1, c2, c3, across, half, half)
        first[small], second[small] = f2[small], s2[small]
    return first, second


def _halves(
    c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, c3: np.ndarray, across: np.ndarray, t1: np.ndarray,
    t2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The two quads on either side of a cut from side (c0,c1)/(c1,c2) at t1 to the opposite side at t2."""
    a, t1, t2 = across[:, None], t1[:, None], t2[:, None]
    # across: cut runs from c0->c1 at t1 to c3->c2 at t2; otherwise from c1->c2 at t1 to c0->c3 at t2.
    p = np.where(a, c0 + t1 * (c1 - c0), c1 + t1 * (c2 - c1))
    q = np.where(a, c3 + t2 * (c2 - c3), c0 + t2 * (c3 - c0))
    a3 = across[:, None, None]
    first = np.where(a3, np.stack([c0, p, q, c3], 1), np.stack([c0, c1, p, q], 1))
    second = np.where(a3, np.stack([p, c1, c2, q], 1), np.stack([q, p, c2, c3], 1))
    return first, second


def _place_parks(
    quads: np.ndarray, park: np.ndarray, grid: np.ndarray, rng: np.random.Generator, *,
    origin: tuple[float, float], n_streets: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate each park about its centre and spread the parks on a coarse grid around ``origin``.

    Parks of one street sit next to each other: park ``p`` is street ``p % n_streets``, so the
    coarse grid is filled street by street.
    """
    n_parks = grid.shape[0]
    radius = np.hypot(*np.abs(grid).max(axis=1).T)
    spacing = 2.0 * radius.max() + 600.0
    cols = int(np.ceil(np.sqrt(n_parks)))
    # Fill the coarse grid street by street so that a street's parks are neighbours.
    slot = np.empty(n_parks, dtype=np.int64)
    slot[np.lexsort((np.arange(n_parks), np.arange(n_parks) % n_streets))] = np.arange(n_parks)
    angle = np.deg2rad(rng.uniform(-25.0, 25.0, n_parks))
    jitter = rng.uniform(-150.0, 150.0, (n_parks, 2))
    cx = (slot % cols - (cols - 1) / 2.0) * spacing + jitter[:, 0] + origin[0]
    cy = ((cols - 1) / 2.0 - slot // cols) * spacing + jitter[:, 1] + origin[1]
    cos, sin = np.cos(angle), np.sin(angle)

    def move(points: np.ndarray, which: np.ndarray) -> np.ndarray:
        x, y = points[..., 0], points[..., 1]
        c, s = cos[which][:, None], sin[which][:, None]
        return np.stack([x * c - y * s + cx[which][:, None], x * s + y * c + cy[which][:, None]], axis=-1)

    return move(quads, park), move(grid, np.arange(n_parks))

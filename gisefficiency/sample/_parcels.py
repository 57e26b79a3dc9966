"""Parcel attributes of the sample county: use, supply date, buildings, certificate area, quirks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.sample._layout import Layout, quad_area

#: Land-use mix of an industrial park (工业 mostly).
LAND_USES: dict[str, float] = {"工业": 0.84, "仓储": 0.08, "商服": 0.05, "公用设施": 0.03}

#: Share of parcels with no firm at all.
IDLE_SHARE: float = 0.05


@dataclass(frozen=True)
class ParcelDraw:
    """Per-parcel attributes drawn for the layout (arrays aligned with ``Layout.quads``).

    ``area_mu`` is the true area of the drawn quadrilateral (before any bow-tie is made),
    ``floor_m2`` the true floor area (counted floors × footprint), ``floor_known`` whether the
    cadastre reports it, ``footprint`` the building outline (a shrunken copy of the parcel).
    """

    area_mu: np.ndarray
    idle: np.ndarray
    vacant: np.ndarray
    low_cluster: np.ndarray
    land_use: np.ndarray
    supply_date: np.ndarray
    cert_area_m2: np.ndarray
    height_m: np.ndarray
    floor_m2: np.ndarray
    floor_known: np.ndarray
    footprint: np.ndarray
    bow_tie: np.ndarray


def draw_parcels(layout: Layout, rng: np.random.Generator, *, old_streets: tuple[int, ...]) -> ParcelDraw:
    """Draw every parcel attribute in one vectorised pass.

    Parameters
    ----------
    layout
        Parcel geometry with block, park and street numbers.
    rng
        Random generator.
    old_streets
        Streets of the old town: earlier supply dates and the contiguous low-efficiency clusters.

    Returns
    -------
    ParcelDraw
    """
    n = layout.quads.shape[0]
    area_m2 = quad_area(layout.quads)
    old = np.isin(layout.street, old_streets)
    low = _low_clusters(layout, old, rng)

    idle = rng.random(n) < IDLE_SHARE
    # Half of the idle parcels were never built on (bought, not developed); the rest stand empty.
    vacant = idle & (rng.random(n) < 0.5)
    land_use = rng.choice(np.array(list(LAND_USES)), n, p=np.array(list(LAND_USES.values())))

    # Parks were supplied block by block: a block date plus a few years of spread. The old town
    # from 1995, the new parks mostly after 2005 with some land supplied after 2021-01-01.
    n_blocks = int(layout.block.max()) + 1
    old_block_year = rng.uniform(1995.0, 2012.0, n_blocks)
    new_block_year = rng.uniform(2003.0, 2021.6, n_blocks)
    year = np.where(old, old_block_year[layout.block], new_block_year[layout.block]) + rng.normal(0.0, 1.5, n)
    year = np.clip(year, 1995.0, 2022.99)
    supply_date = (np.datetime64("1995-01-01") + ((year - 1995.0) * 365.25).astype("timedelta64[D]")).astype(
        "datetime64[D]"
    )

    # Buildings: a footprint covering 30-65 % of the parcel. Single-storey workshops 6-14 m high
    # (counted twice in the floor area when over 8 m, as plot-ratio rules do), or 2-6 storeys of 4-5.5 m.
    coverage = np.where(vacant, 0.0, rng.uniform(0.30, 0.65, n))
    single = rng.random(n) < 0.45
    storeys = np.where(single, 1, rng.integers(2, 7, n))
    storey_h = np.where(single, rng.uniform(6.0, 14.0, n), rng.uniform(4.0, 5.5, n))
    height = np.where(vacant, 0.0, np.round(storeys * storey_h, 1))
    counted = np.where(single & (height > 8.0), 2, storeys)
    floor = np.round(coverage * area_m2 * counted, 0)
    floor_known = rng.random(n) > 0.08
    # Footprint = the parcel shrunk about its vertex mean (inside it, since the quads are convex).
    centre = layout.quads.mean(axis=1, keepdims=True)
    footprint = centre + np.sqrt(coverage)[:, None, None] * (layout.quads - centre)

    # Certificate area: mostly within 3 % of the drawn area, some equal, 1 % off by 5.5-12 %, 1 % missing.
    kind = rng.random(n)
    diff = np.where(kind < 0.3, 0.0, rng.uniform(-0.03, 0.03, n))
    big = kind > 0.99
    diff[big] = rng.choice([-1.0, 1.0], big.sum()) * rng.uniform(0.055, 0.12, big.sum())
    cert = np.round(area_m2 * (1.0 + diff), 2)
    cert[(kind > 0.96) & (kind <= 0.97)] = np.nan

    # A few digitising errors: self-intersecting (bow-tie) rings, outside the low clusters.
    n_bow = max(3, round(n / 800))
    candidates = np.flatnonzero(~low & ~idle)
    if candidates.size < n_bow:
        # A tiny county may lie wholly in an old-town cluster.
        candidates = np.flatnonzero(~idle)
    bow_tie = np.zeros(n, dtype=bool)
    bow_tie[rng.choice(candidates, min(n_bow, candidates.size), replace=False)] = True

    return ParcelDraw(
        area_mu=area_m2 / M2_PER_MU, idle=idle, vacant=vacant, low_cluster=low, land_use=land_use,
        supply_date=supply_date, cert_area_m2=cert, height_m=height, floor_m2=floor, floor_known=floor_known,
        footprint=footprint, bow_tie=bow_tie,
    )


def _low_clusters(layout: Layout, old: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Parcels in a patch of blocks of every old-town park (contiguous low-efficiency areas).

    The patch is 2×2 blocks (about 500 mu) in parks of 5×5 blocks or more, one block in smaller parks.
    """
    n_parks = int(layout.park.max()) + 1
    side = int(layout.block_ij.max()) + 1
    width = 2 if side >= 5 else 1
    c0 = rng.integers(0, side - width + 1, n_parks)
    r0 = rng.integers(0, side - width + 1, n_parks)
    dc = layout.block_ij[:, 0] - c0[layout.park]
    dr = layout.block_ij[:, 1] - r0[layout.park]
    return old & (dc >= 0) & (dc < width) & (dr >= 0) & (dr < width)


def bow_tie_quads(quads: np.ndarray, bow_tie: np.ndarray) -> np.ndarray:
    """Swap the last two corners of the marked quads so that their rings cross themselves."""
    out = quads.copy()
    out[bow_tie, 2], out[bow_tie, 3] = quads[bow_tie, 3], quads[bow_tie, 2]
    return out


def street_sequence(street: np.ndarray) -> np.ndarray:
    """1-based running number of each parcel inside its street, in parcel order."""
    order = np.argsort(street, kind="stable")
    counts = np.bincount(street)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    seq = np.empty(street.size, dtype=np.int64)
    seq[order] = np.arange(street.size) - np.repeat(starts, counts) + 1
    return seq

"""Contiguous low-efficiency blocks (集中连片): adjacency across roads, components, block polygons.

A block is a connected component of flagged parcels, two parcels being adjacent when they touch
or lie within ``gap_m`` of each other (roads are 15-40 m wide, so blocks join across roads).
Non-flagged parcels enclosed by a block may be kept (留用) inside it without breaking it; they are
reported apart and never counted as freed land. See ``docs/contract.md`` (Blocks).

Columns read from ``parcels`` (reference year):

==================  ==========================================================================
``land_mu``         land of the parcel (亩); parcels without it are left out of every block
flag column         ``low_efficiency`` by default: True marks a candidate (NA counts as False)
``tax``             实缴税金, 万元 (optional)
``value_added``     工业增加值, 万元 (optional)
``energy_tce``      综合能耗, tce (optional)
firm ids            ``firm_usccs`` or ``firm_ids`` (comma-joined USCCs) or ``holder_uscc`` (optional)
``n_firms``         firms on the parcel, used only when no firm id column exists (optional)
``street``          街道/乡镇 (optional)
``status``          rows whose status is not ``"ok"`` are left out (optional)
==================  ==========================================================================

Sums are NaN-safe: a block whose parcels all lack a figure gets NaN, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisefficiency.blocks import kept
from gisefficiency.blocks.adjacency import (
    _threaded,
    adjacency_distances,
    adjacency_pairs,
    assemble,
    components,
    intersecting,
    union_by_label,
)
from gisefficiency.blocks.table import BLOCK_COLUMNS, FIRM_ID_COLUMNS, attributes, ranked
from gisefficiency.core.errors import ConfigError, CRSError, InputError, Problem, format_ids, format_ids_zh

__all__ = ["BLOCK_COLUMNS", "FIRM_ID_COLUMNS", "KEEP_RULES", "PRIORITY_WEIGHTS", "TOUCH_TOLERANCE_M", "Blocks", "find_blocks"]

Keep = Literal["enclosed", "share", "none"]

#: Keep rules accepted by ``find_blocks``.
KEEP_RULES: tuple[str, ...] = ("enclosed", "share", "none")

#: Default priority weights; each criterion is min-max normalised over the blocks first.
#: ``freed_mu``: more freed land first; ``low_tax_per_mu``: lower block tax per mu first;
#: ``compactness``: rounder blocks first; ``low_share``: more low-efficiency land first.
PRIORITY_WEIGHTS: dict[str, float] = {
    "freed_mu": 0.4,
    "low_tax_per_mu": 0.3,
    "compactness": 0.2,
    "low_share": 0.1,
}

#: Parcels of a block closer than this (m) are unioned by an overlay; farther ones are only gathered
#: into the block's MultiPolygon. Cadastral neighbours separated by float noise (T-junctions) must be
#: unioned: side by side, their parts can overlap after the overlay and make the MultiPolygon invalid.
TOUCH_TOLERANCE_M: float = 1e-6

@dataclass
class Blocks:
    """Output of ``find_blocks``.

    Attributes
    ----------
    membership
        Index ``parcel_id`` (every input parcel): ``block_id`` (Int64, NA outside blocks) and
        ``block_role`` (``"low"`` flagged member, ``"kept"`` enclosed parcel kept, NA otherwise).
    blocks
        GeoDataFrame, index ``block_id`` (1..n, ordered by the smallest flagged parcel id, so the
        same input gives the same ids whatever its row order), one valid (Multi)Polygon per block.

        - ``area_mu``: land of the whole block (flagged + kept parcels), 亩;
        - ``n_parcels`` / ``freed_mu``: number and land of its flagged parcels; ``n_kept`` /
          ``kept_mu``: the kept ones; ``low_share`` = ``freed_mu / area_mu``;
        - ``n_firms``, ``firm_ids`` (comma-joined, sorted), ``tax``, ``value_added``,
          ``energy_tce``, ``tax_per_mu`` = ``tax / area_mu``, ``streets``: the whole block;
        - ``freed_tce`` and ``tax_lost``: energy and tax of the flagged parcels (what closing them
          frees and loses); ``tax_at_target`` = ``freed_mu × target_tax_per_mu`` (万元);
        - ``compactness``: Polsby-Popper 4πA/P² of the block polygon (1 = disc);
        - ``priority`` (0..1, weighted, see ``PRIORITY_WEIGHTS``) and ``rank`` (1 = first).
    """

    membership: pd.DataFrame
    blocks: gpd.GeoDataFrame


def find_blocks(
    parcels: gpd.GeoDataFrame,
    *,
    flag: str = "low_efficiency",
    gap_m: float = 30.0,
    min_area_mu: float = 50.0,
    min_parcels: int = 2,
    keep: Keep = "enclosed",
    keep_max_share: float = 0.2,
    keep_enclosed_share: float = 0.75,
    close_gaps: bool = False,
    target_tax_per_mu: float | None = None,
    priority_weights: Mapping[str, float] | None = None,
) -> Blocks:
    """Find contiguous blocks of flagged (low-efficiency) parcels.

    Parameters
    ----------
    parcels
        Parcels (index ``parcel_id``, projected CRS in metres) with ``land_mu`` and the flag column;
        the other columns read are listed in the module docstring.
    flag
        Boolean column marking the candidate parcels.
    gap_m
        Two flagged parcels are adjacent when they intersect (``0``) or lie within ``gap_m`` metres.
    min_area_mu
        Smallest freed (flagged) land of a block, 亩; kept parcels do not make a block big enough.
    min_parcels
        Smallest number of flagged parcels in a block.
    keep
        Rule for non-flagged parcels inside a block (see ``gisefficiency.blocks.kept``):
        ``"enclosed"`` keeps every parcel that lies wholly within the block's convex hull (grown by
        ``kept.HULL_TOLERANCE_M``) and whose outer boundary faces the block on at least
        ``keep_enclosed_share`` of its length;
        ``"share"`` keeps hull parcels facing the block at all, most-faced first, while kept land
        stays within ``keep_max_share`` of the block's land; ``"none"`` keeps nothing.
    keep_max_share
        Cap of kept land over the block's whole land for ``keep="share"`` (0 <= s < 1).
    keep_enclosed_share
        Faced-boundary share needed for ``keep="enclosed"`` (0 < s <= 1).
    close_gaps
        Close the road gaps inside each block polygon (buffer +gap/2, union, buffer -gap/2).
    target_tax_per_mu
        Tax per mu expected after redevelopment (万元/亩) for ``tax_at_target``; None gives NaN.
    priority_weights
        Weights of ``freed_mu``, ``low_tax_per_mu``, ``compactness``, ``low_share`` (any subset;
        rescaled to sum to 1). Default ``PRIORITY_WEIGHTS``.

    Returns
    -------
    Blocks
        ``membership`` per parcel and the ``blocks`` table.

    Notes
    -----
    Kept parcels are chosen before any block polygon is built: the hull test uses the hull of the
    flagged parcels' vertices and the faced share probes the flagged parcels themselves, both the
    same as with the union of the block. Block polygons are then built with as few overlays as
    possible: flagged parcels of a block that intersect (or lie within ``TOUCH_TOLERANCE_M``) form
    "touch components", each unioned once (a lone parcel is passed through); a kept parcel is
    unioned only with the components and kept parcels it touches; the pieces of a block are
    gathered into its MultiPolygon without an overlay.
    The touch components are unioned while the kept parcels are chosen (they need only the
    flagged parcels), costly GEOS calls run in chunks on ``adjacency.THREADS`` threads, and the
    block attributes are summed meanwhile, text ids joined on integer codes (``gisefficiency.core.ids``).
    1M parcels, 40 % flagged: see ``benchmarks/bench_blocks.py``.

    Raises
    ------
    ConfigError
        An option is out of range.
    CRSError
        The parcels have no CRS or a geographic one.
    InputError
        A needed column is missing, the flag is not boolean, or parcel ids repeat.
    """
    weights = _check_options(gap_m, min_area_mu, min_parcels, keep, keep_max_share, keep_enclosed_share,
                             target_tax_per_mu, priority_weights)
    _check_parcels(parcels, flag)

    geom_all = np.asarray(parcels.geometry.array, dtype=object)
    usable = ~(shapely.is_missing(geom_all) | shapely.is_empty(geom_all))
    usable &= parcels["land_mu"].notna().to_numpy()
    if "status" in parcels.columns:
        usable &= parcels["status"].astype("string").eq("ok").fillna(False).to_numpy(dtype=bool)
    flagged = parcels[flag].astype("boolean").fillna(False).to_numpy(dtype=bool)

    cand = np.nonzero(usable & flagged)[0]
    geoms = geom_all[cand]
    if gap_m > 0:
        # The distances also tell which pairs touch (the union needs them), without a second test.
        i, j, dist = adjacency_distances(geoms, gap_m=gap_m)
        touching = dist <= TOUCH_TOLERANCE_M
    else:
        i, j = adjacency_pairs(geoms, gap_m=gap_m)
        touching = np.ones(len(i), dtype=bool)
    comp = components(len(cand), i, j)
    land = parcels["land_mu"].to_numpy(dtype=float)[cand]
    comp_land = np.bincount(comp, weights=land, minlength=comp.max() + 1 if len(comp) else 0)
    comp_n = np.bincount(comp, minlength=len(comp_land))
    comp_ok = (comp_n >= min_parcels) & (comp_land >= min_area_mu - 1e-9)
    # Stable block order needs a row-order-free key: the rank of each candidate's parcel id.
    id_rank = np.empty(len(cand), dtype=np.int64)
    id_rank[parcels.index[cand].argsort(kind="stable")] = np.arange(len(cand))
    min_rank = np.full(len(comp_land), np.iinfo(np.int64).max)
    np.minimum.at(min_rank, comp, id_rank)
    ok_comps = np.nonzero(comp_ok)[0]
    block_of_comp = np.full(len(comp_land), -1)
    block_of_comp[ok_comps[np.argsort(min_rank[ok_comps])]] = np.arange(len(ok_comps))
    member_block = block_of_comp[comp]
    in_block = member_block >= 0
    low_pos, low_block = cand[in_block], member_block[in_block]
    n_blocks = len(ok_comps)

    keep_pair = in_block[i] & in_block[j] & touching
    local = np.full(len(cand), -1)
    local[in_block] = np.arange(len(low_pos))
    low_geoms = geom_all[low_pos]
    with ThreadPoolExecutor(2) as pool:
        # The touch components of the flagged parcels are unioned (GEOS, releasing the GIL) while
        # the kept parcels are chosen: neither needs the other, and each has serial stretches.
        pieces = pool.submit(_pieces, low_geoms, local[i[keep_pair]], local[j[keep_pair]])
        # Kept parcels are chosen before any block polygon exists (hull and probes use the flagged
        # parcels themselves), so that each block polygon is assembled once, kept parcels included.
        kept_pos, kept_block = _kept(parcels, geom_all, usable & ~flagged, low_pos, low_block, n_blocks,
                                     keep=keep, gap_m=gap_m, enclosed_share=keep_enclosed_share,
                                     max_share=keep_max_share)
        # The block attributes need the polygons only for the compactness, added afterwards.
        sums = pool.submit(attributes, parcels, np.r_[low_pos, kept_pos], np.r_[low_block, kept_block],
                           len(low_pos), n_blocks, target_tax_per_mu)
        geometry = _polygons(low_geoms, low_block, *pieces.result(), geom_all[kept_pos], kept_block, n_blocks)
        if close_gaps and gap_m > 0 and n_blocks:
            geometry = _close(geometry, gap_m)
        table = ranked(sums.result(), geometry, parcels.crs, weights)
    membership = _membership(parcels.index, low_pos, low_block, kept_pos, kept_block)
    return Blocks(membership=membership, blocks=table)


def _check_options(gap_m, min_area_mu, min_parcels, keep, keep_max_share, keep_enclosed_share,
                   target_tax_per_mu, priority_weights) -> dict[str, float]:
    bad = []
    if not (np.isfinite(gap_m) and gap_m >= 0):
        bad.append(f"gap_m={gap_m!r} must be a distance in metres >= 0 (e.g. 30)")
    if not (np.isfinite(min_area_mu) and min_area_mu >= 0):
        bad.append(f"min_area_mu={min_area_mu!r} must be >= 0 (e.g. 50)")
    if int(min_parcels) != min_parcels or min_parcels < 1:
        bad.append(f"min_parcels={min_parcels!r} must be an integer >= 1")
    if keep not in KEEP_RULES:
        bad.append(f"keep={keep!r} must be one of {', '.join(KEEP_RULES)}")
    if not (0 <= keep_max_share < 1):
        bad.append(f"keep_max_share={keep_max_share!r} must be in [0, 1)")
    if not (0 < keep_enclosed_share <= 1):
        bad.append(f"keep_enclosed_share={keep_enclosed_share!r} must be in (0, 1]")
    if target_tax_per_mu is not None and not (np.isfinite(target_tax_per_mu) and target_tax_per_mu >= 0):
        bad.append(f"target_tax_per_mu={target_tax_per_mu!r} must be >= 0 万元/亩 or None")
    weights = dict(PRIORITY_WEIGHTS if priority_weights is None else priority_weights)
    unknown = sorted(set(weights) - set(PRIORITY_WEIGHTS))
    if unknown:
        bad.append(f"priority_weights has unknown criteria {unknown}; use {sorted(PRIORITY_WEIGHTS)}")
    elif any(not np.isfinite(w) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        bad.append(f"priority_weights={weights!r} must be >= 0 with a positive sum")
    if bad:
        raise ConfigError("find_blocks: " + "; ".join(bad),
                          zh="find_blocks：参数有误：" + "；".join(bad))
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def _check_parcels(parcels: gpd.GeoDataFrame, flag: str) -> None:
    crs = parcels.crs
    if crs is None or not crs.is_projected:
        raise CRSError(
            f"find_blocks: parcels must be in a projected CRS in metres, got {crs!r}",
            [Problem("distances and areas need metres", fix="reproject, e.g. parcels.to_crs('EPSG:4549')",
                     message_zh="计算距离和面积需要以米为单位",
                     fix_zh="请重投影，例如 parcels.to_crs('EPSG:4549')")],
            zh=f"find_blocks：地块必须采用以米为单位的投影坐标系，当前为 {crs!r}",
        )
    problems = [
        Problem(f"column {col!r} is missing", fix=fix, column=col,
                message_zh=f"缺少列 {col!r}", fix_zh=fix_zh)
        for col, fix, fix_zh in ((flag, "run evaluate.flag_parcels or pass flag=<your boolean column>",
                                  "请运行 evaluate.flag_parcels，或传入 flag=<您的布尔列>"),
                                 ("land_mu", "run land.prepare_parcels first", "请先运行 land.prepare_parcels"))
        if col not in parcels.columns
    ]
    if flag in parcels.columns:
        values = parcels[flag]
        if not (pd.api.types.is_bool_dtype(values) or values.dropna().isin([True, False]).all()):
            odd = values[~values.isin([True, False]) & values.notna()]
            problems.append(Problem(
                f"flag column must be boolean; rows {format_ids(odd.index)} hold {format_ids(odd.unique())}",
                fix="use True/False (NA = not flagged)", column=flag,
                message_zh=f"标记列必须是布尔值；第 {format_ids_zh(odd.index)} 行的值为 {format_ids_zh(odd.unique())}",
                fix_zh="请用 True/False（NA 表示未标记）"))
    # ``is_unique`` is cached on the index (earlier stages have usually asked); ``duplicated``
    # hashes every id again, so it only runs to name the repeats.
    dup = parcels.index[parcels.index.duplicated()] if not parcels.index.is_unique else []
    if len(dup):
        problems.append(Problem(f"parcel ids repeat: {format_ids(pd.unique(dup))}",
                                fix="resolve duplicates with land.prepare_parcels", column="parcel_id",
                                message_zh=f"地块编号重复：{format_ids_zh(pd.unique(dup))}",
                                fix_zh="请用 land.prepare_parcels 处理重复编号"))
    if problems:
        raise InputError("find_blocks: parcels cannot be used", problems,
                         zh="find_blocks：地块数据无法使用")


def _kept(parcels, geom_all, eligible, low_pos, low_block, n_blocks, *, keep, gap_m, enclosed_share,
          max_share) -> tuple[np.ndarray, np.ndarray]:
    """Positions and block positions of the kept parcels (rules in ``gisefficiency.blocks.kept``)."""
    empty = np.empty(0, dtype=np.intp)
    others = np.nonzero(eligible)[0]
    if keep == "none" or n_blocks == 0 or len(others) == 0:
        return empty, empty.copy()
    if keep == "share" and max_share == 0:
        return empty, empty.copy()
    member_geoms = geom_all[low_pos]
    hulls = kept.block_hulls(member_geoms, low_block, n_blocks)
    o_idx, b_idx = kept.hull_candidates(hulls, geom_all[others])
    if len(o_idx) == 0:
        return empty, empty.copy()
    pos = others[o_idx]
    faced = kept.faced_share(geom_all[pos], b_idx, member_geoms, low_block, gap_m=gap_m)
    pairs = pd.DataFrame({
        "pos": pos, "parcel_id": parcels.index[pos], "block": b_idx, "faced": faced,
        "land_mu": parcels["land_mu"].to_numpy(dtype=float)[pos],
    })
    low_mu = pd.Series(parcels["land_mu"].to_numpy(dtype=float)[low_pos]).groupby(low_block).sum()
    chosen = kept.choose_kept(pairs, keep=keep, enclosed_share=enclosed_share, max_share=max_share,
                                      low_mu=low_mu)
    return chosen["pos"].to_numpy(dtype=np.intp), chosen["block"].to_numpy(dtype=np.intp)


def _pieces(low_geoms, li, lj) -> tuple[np.ndarray, np.ndarray]:
    """Touch components of the flagged parcels of the blocks, each unioned once.

    Only parcels of a block that intersect (or lie within ``TOUCH_TOLERANCE_M``) need an overlay:
    they form "touch components", each unioned once (a component of one parcel is passed through).

    Parameters
    ----------
    low_geoms
        Flagged parcels of the blocks.
    li, lj
        Pairs of flagged parcels (positions in ``low_geoms``) of the same block that touch.

    Returns
    -------
    tuple of ndarray
        The touch component of each parcel and the union of each component (``_polygons``).
    """
    touch = components(len(low_geoms), li, lj)
    return touch, union_by_label(low_geoms, touch)


def _polygons(low_geoms, low_block, touch, pieces, kept_geoms, kept_block, n_blocks) -> np.ndarray:
    """One valid (Multi)Polygon per block: its flagged and kept parcels.

    A kept parcel is unioned only with the pieces (touch components of flagged parcels, from
    ``_pieces``) and the kept parcels it touches; the pieces of a block are gathered into its
    MultiPolygon without an overlay.

    Parameters
    ----------
    low_geoms, low_block
        Flagged parcels of the blocks and their block position.
    touch, pieces
        Touch component of each flagged parcel, and the union of each component (``_pieces``).
    kept_geoms, kept_block
        Kept parcels and their block position.
    n_blocks
        Number of blocks.
    """
    if n_blocks == 0:
        return np.empty(0, dtype=object)
    n_kept = len(kept_geoms)
    piece_block = np.empty(len(pieces), dtype=np.intp)
    piece_block[touch] = low_block
    if n_kept == 0:
        return assemble(pieces, piece_block, n_blocks)
    # Kept parcels are few: a tree of them, queried by envelope with the flagged parcels of the
    # blocks that keep some and with themselves, then one exact test per pair.
    n_pieces = len(pieces)
    grown = np.zeros(n_blocks, dtype=bool)
    grown[kept_block] = True
    near = np.nonzero(grown[low_block])[0]
    tree = shapely.STRtree(kept_geoms)
    m_hit, m_kept = tree.query(low_geoms[near])
    k_hit, k_kept = tree.query(kept_geoms)
    geoms = np.r_[low_geoms[near], kept_geoms]
    a, b = np.r_[m_kept, k_kept] + len(near), np.r_[m_hit, k_hit + len(near)]
    block_of = np.r_[low_block[near], kept_block]
    pair = (block_of[a] == block_of[b]) & (a != b)
    a, b = a[pair], b[pair]
    hit = intersecting(geoms, a, b, tolerance=TOUCH_TOLERANCE_M)
    # A kept parcel is unioned with the pieces (touch components of flagged parcels) and the
    # other kept parcels it touches. Nodes: the pieces first, then the kept parcels.
    node_of = np.r_[touch[near], n_pieces + np.arange(n_kept)]
    node_block = np.r_[piece_block, kept_block]
    label = components(n_pieces + n_kept, node_of[a[hit]], node_of[b[hit]])
    # Only the blocks that keep parcels are regrouped; the pieces of the others stay as they are.
    node = np.nonzero(grown[node_block])[0]
    _, dense = np.unique(label[node], return_inverse=True)
    merged = union_by_label(np.r_[pieces, kept_geoms][node], dense)
    merged_block = np.empty(len(merged), dtype=np.intp)
    merged_block[dense] = node_block[node]
    rest = ~grown[piece_block]
    return assemble(np.r_[pieces[rest], merged], np.r_[piece_block[rest], merged_block], n_blocks)


def _close(geometry: np.ndarray, gap_m: float) -> np.ndarray:
    half = gap_m / 2.0

    def closing(rows: slice) -> np.ndarray:
        grown = shapely.buffer(geometry[rows], half, join_style="mitre")
        return shapely.buffer(grown, -half, join_style="mitre")

    closed = _threaded(closing, len(geometry))
    bad = ~shapely.is_valid(closed)
    closed[bad] = shapely.make_valid(closed[bad])
    return closed


def _membership(index: pd.Index, low_pos, low_block, kept_pos, kept_block) -> pd.DataFrame:
    block_id = np.full(len(index), -1, dtype=np.int64)
    role = np.full(len(index), None, dtype=object)
    block_id[low_pos], role[low_pos] = low_block + 1, "low"
    block_id[kept_pos], role[kept_pos] = kept_block + 1, "kept"
    out = pd.DataFrame(
        {"block_id": pd.array(block_id, dtype="Int64"), "block_role": pd.array(role, dtype="string")},
        index=index.copy(),
    )
    out.loc[block_id < 0, "block_id"] = pd.NA
    return out

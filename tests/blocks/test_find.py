"""Tests of gisefficiency.blocks.find: contiguous low-efficiency blocks."""

from __future__ import annotations

import math
from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from gisefficiency.blocks.find import PRIORITY_WEIGHTS, find_blocks
from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import ConfigError, CRSError, InputError

CRS = "EPSG:4549"


def grid(nx: int, ny: int, *, side: float = 100.0, col_gaps=None, row_gaps=None, flags=None, **columns):
    """Squares of ``side`` metres (100 m = 15 mu), ``nx`` columns by ``ny`` rows, with optional road gaps.

    Ids are ``r{row}c{col}``; ``flags`` is a set of (row, col) flagged low-efficiency.
    """
    col_gaps = [0.0] * (nx - 1) if col_gaps is None else list(col_gaps)
    row_gaps = [0.0] * (ny - 1) if row_gaps is None else list(row_gaps)
    x0 = np.r_[0.0, np.cumsum(side + np.asarray(col_gaps, dtype=float))]
    y0 = np.r_[0.0, np.cumsum(side + np.asarray(row_gaps, dtype=float))]
    rows, cols = np.divmod(np.arange(nx * ny), nx)
    geoms = shapely.box(500_000 + x0[cols], 3_000_000 + y0[rows], 500_000 + x0[cols] + side,
                        3_000_000 + y0[rows] + side)
    ids = [f"r{r}c{c}" for r, c in zip(rows, cols, strict=True)]
    flags = set(flags or ())
    frame = gpd.GeoDataFrame(
        {
            "land_mu": shapely.area(geoms) / M2_PER_MU,
            "low_efficiency": [(r, c) in flags for r, c in zip(rows, cols, strict=True)],
            **columns,
        },
        geometry=geoms, crs=CRS, index=pd.Index(ids, name="parcel_id"),
    )
    return frame


# ---------------------------------------------------------------- hand-computed cases


def test_one_block_by_touching_and_singleton_dropped():
    parcels = grid(3, 3, flags={(0, 0), (1, 0), (2, 0), (0, 2)})
    out = find_blocks(parcels, gap_m=0, min_area_mu=0, keep="none")
    assert list(out.blocks.index) == [1]
    row = out.blocks.loc[1]
    assert row["n_parcels"] == 3 and row["area_mu"] == pytest.approx(45.0)
    assert row["freed_mu"] == pytest.approx(45.0) and row["low_share"] == pytest.approx(1.0)
    # 100 x 300 m rectangle: 4 pi 30000 / 800^2
    assert row["compactness"] == pytest.approx(4 * math.pi * 30_000 / 800**2)
    assert out.blocks.geometry.iloc[0].geom_type == "Polygon"
    m = out.membership
    assert m.loc["r1c0", "block_id"] == 1 and m.loc["r1c0", "block_role"] == "low"
    assert pd.isna(m.loc["r0c2", "block_id"]) and pd.isna(m.loc["r0c2", "block_role"])
    assert str(m["block_id"].dtype) == "Int64"
    assert len(m) == 9


def test_gap_bridges_a_road_only_when_wide_enough():
    parcels = grid(2, 1, col_gaps=[20.0], flags={(0, 0), (0, 1)})
    assert len(find_blocks(parcels, gap_m=30, min_area_mu=0).blocks) == 1
    assert len(find_blocks(parcels, gap_m=10, min_area_mu=0).blocks) == 0  # each alone < 2 parcels
    joined = find_blocks(parcels, gap_m=30, min_area_mu=0).blocks
    assert joined.geometry.iloc[0].geom_type == "MultiPolygon"
    assert joined.geometry.iloc[0].area == pytest.approx(20_000)


def test_close_gaps_fills_the_road_inside_the_block():
    parcels = grid(2, 1, col_gaps=[20.0], flags={(0, 0), (0, 1)})
    out = find_blocks(parcels, gap_m=30, min_area_mu=0, close_gaps=True).blocks
    geom = out.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "Polygon"
    assert geom.area == pytest.approx(100 * 220)  # the 20 m road between the two is closed
    assert out.loc[1, "area_mu"] == pytest.approx(30.0)  # land is still the parcels' land


def test_min_area_and_min_parcels_filters():
    parcels = grid(3, 1, flags={(0, 0), (0, 1)})  # one component of 30 mu
    assert len(find_blocks(parcels, gap_m=0, min_area_mu=30).blocks) == 1
    assert len(find_blocks(parcels, gap_m=0, min_area_mu=30.01).blocks) == 0
    assert len(find_blocks(parcels, gap_m=0, min_area_mu=0, min_parcels=3).blocks) == 0


def test_enclosed_parcel_is_kept_and_not_freed():
    ring = {(r, c) for r in range(3) for c in range(3)} - {(1, 1)}
    tax = np.full(9, 2.0)
    parcels = grid(3, 3, flags=ring, tax=tax, energy_tce=np.full(9, 10.0))
    out = find_blocks(parcels, gap_m=0, min_area_mu=0, target_tax_per_mu=5.0)
    assert out.membership.loc["r1c1", "block_role"] == "kept"
    row = out.blocks.loc[1]
    assert (row["n_parcels"], row["n_kept"]) == (8, 1)
    assert row["kept_mu"] == pytest.approx(15.0)
    assert row["area_mu"] == pytest.approx(135.0) and row["freed_mu"] == pytest.approx(120.0)
    assert row["low_share"] == pytest.approx(120 / 135)
    assert row["tax"] == pytest.approx(18.0) and row["tax_lost"] == pytest.approx(16.0)
    assert row["tax_per_mu"] == pytest.approx(18.0 / 135)
    assert row["freed_tce"] == pytest.approx(80.0) and row["energy_tce"] == pytest.approx(90.0)
    assert row["tax_at_target"] == pytest.approx(600.0)  # 120 mu x 5 万元/亩
    # The kept parcel fills the hole: one square polygon without interior ring.
    geom = out.blocks.geometry.iloc[0]
    assert geom.geom_type == "Polygon" and len(geom.interiors) == 0 and geom.area == pytest.approx(90_000)


def test_three_sided_parcel_faces_exactly_three_quarters():
    u_shape = {(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)}  # open at the top
    parcels = grid(3, 3, flags=u_shape)
    kept = find_blocks(parcels, gap_m=0, min_area_mu=0, keep_enclosed_share=0.75).membership
    assert kept.loc["r1c1", "block_role"] == "kept"
    assert pd.isna(kept.loc["r2c1", "block_role"])  # top middle lies outside the block's hull
    strict = find_blocks(parcels, gap_m=0, min_area_mu=0, keep_enclosed_share=0.8).membership
    assert pd.isna(strict.loc["r1c1", "block_role"])


def test_enclosed_across_roads_with_gap():
    ring = {(r, c) for r in range(3) for c in range(3)} - {(1, 1)}
    parcels = grid(3, 3, col_gaps=[20, 20], row_gaps=[20, 20], flags=ring)
    out = find_blocks(parcels, gap_m=30, min_area_mu=0)
    assert out.membership.loc["r1c1", "block_role"] == "kept"
    assert find_blocks(parcels, gap_m=30, min_area_mu=0, keep="none").membership["block_role"].eq("kept").sum() == 0


def test_share_rule_caps_kept_land():
    ring = {(r, c) for r in range(3) for c in range(3)} - {(1, 1)}
    parcels = grid(3, 3, flags=ring)
    # kept / whole = 15 / 135 = 0.111
    assert find_blocks(parcels, gap_m=0, min_area_mu=0, keep="share", keep_max_share=0.1).blocks.loc[1, "n_kept"] == 0
    assert find_blocks(parcels, gap_m=0, min_area_mu=0, keep="share", keep_max_share=0.12).blocks.loc[1, "n_kept"] == 1


def test_missing_figures_stay_missing_and_rank_is_na():
    parcels = grid(5, 1, flags={(0, 0), (0, 1), (0, 3), (0, 4)}, tax=[1.0, np.nan, 9.0, np.nan, np.nan])
    out = find_blocks(parcels, gap_m=0, min_area_mu=0, keep="none").blocks
    assert out.loc[1, "tax"] == pytest.approx(1.0)  # NaN skipped when another value exists
    assert np.isnan(out.loc[2, "tax"]) and np.isnan(out.loc[2, "tax_per_mu"])
    assert np.isnan(out.loc[2, "priority"]) and pd.isna(out.loc[2, "rank"])
    assert out.loc[1, "rank"] == 1
    assert np.isnan(out.loc[1, "tax_at_target"])  # no target given


def test_priority_hand_computed():
    # Block 1: 2 squares (30 mu, tax 3/mu); block 2: 3 squares in a row (45 mu, tax 1/mu).
    flags = {(0, 0), (0, 1), (2, 0), (2, 1), (2, 2)}
    tax = np.r_[[45.0, 45.0, 0.0], [0.0] * 3, [15.0, 15.0, 15.0]]
    parcels = grid(3, 3, flags=flags, tax=tax)
    out = find_blocks(parcels, gap_m=0, min_area_mu=0, keep="none").blocks
    c1, c2 = 4 * math.pi * 20_000 / 600**2, 4 * math.pi * 30_000 / 800**2
    assert out.loc[1, "compactness"] == pytest.approx(c1)
    assert out.loc[2, "compactness"] == pytest.approx(c2)
    # normalised: freed 0 / 1, low tax 0 / 1, compactness 1 / 0 (c1 > c2), low_share constant -> 0.5
    w = PRIORITY_WEIGHTS
    assert out.loc[1, "priority"] == pytest.approx(w["compactness"] + 0.5 * w["low_share"])
    assert out.loc[2, "priority"] == pytest.approx(w["freed_mu"] + w["low_tax_per_mu"] + 0.5 * w["low_share"])
    assert list(out["rank"]) == [2, 1]
    custom = find_blocks(parcels, gap_m=0, min_area_mu=0, keep="none", priority_weights={"compactness": 2.0}).blocks
    assert list(custom["priority"]) == [1.0, 0.0]


def test_firms_and_streets_joined():
    parcels = grid(3, 1, flags={(0, 0), (0, 1), (0, 2)},
                   firm_usccs=["B,A", "A", None], street=["东城街道", "西城街道", "东城街道"])
    out = find_blocks(parcels, gap_m=0, min_area_mu=0).blocks
    assert out.loc[1, "firm_ids"] == "A,B" and out.loc[1, "n_firms"] == 2
    assert out.loc[1, "streets"] == "东城街道,西城街道"
    plain = find_blocks(grid(2, 1, flags={(0, 0), (0, 1)}, n_firms=[2, np.nan]), gap_m=0, min_area_mu=0).blocks
    assert plain.loc[1, "n_firms"] == 2 and pd.isna(plain.loc[1, "firm_ids"])


def test_excluded_and_na_flags_are_not_candidates():
    parcels = grid(3, 1, flags={(0, 0), (0, 1), (0, 2)})
    parcels["status"] = ["ok", "excluded: empty geometry", "ok"]
    parcels["low_efficiency"] = pd.array([True, True, pd.NA], dtype="boolean")
    assert len(find_blocks(parcels, gap_m=0, min_area_mu=0).blocks) == 0


def test_input_not_mutated_and_empty_result():
    parcels = grid(2, 2)
    before = parcels.copy()
    out = find_blocks(parcels)
    pd.testing.assert_frame_equal(parcels, before)
    assert len(out.blocks) == 0 and list(out.blocks.columns)[:3] == ["area_mu", "n_parcels", "n_kept"]
    assert out.membership["block_id"].isna().all()


# ---------------------------------------------------------------- errors


def test_errors_name_the_problem():
    parcels = grid(2, 1, flags={(0, 0)})
    with pytest.raises(CRSError, match="projected CRS"):
        find_blocks(parcels.to_crs("EPSG:4326"))
    with pytest.raises(InputError, match="'land_mu' is missing"):
        find_blocks(parcels.drop(columns="land_mu"))
    with pytest.raises(InputError, match="'wrong' is missing"):
        find_blocks(parcels, flag="wrong")
    with pytest.raises(InputError, match=r"must be boolean.*yes"):
        find_blocks(parcels.assign(low_efficiency=["yes", "no"]))
    dup = pd.concat([parcels, parcels.iloc[[0]]])
    with pytest.raises(InputError, match="parcel ids repeat: r0c0"):
        find_blocks(dup)
    with pytest.raises(ConfigError, match="keep='all' must be one of"):
        find_blocks(parcels, keep="all")
    with pytest.raises(ConfigError, match="gap_m=-1"):
        find_blocks(parcels, gap_m=-1)
    with pytest.raises(ConfigError, match="unknown criteria"):
        find_blocks(parcels, priority_weights={"beauty": 1})
    with pytest.raises(ConfigError, match="keep_max_share=1"):
        find_blocks(parcels, keep_max_share=1)


# ---------------------------------------------------------------- real plots: libpysal agreement


def test_components_equal_libpysal_fuzzy_contiguity_on_bubenec_plots():
    momepy = pytest.importorskip("momepy")
    from libpysal.graph import Graph

    plots = gpd.read_file(momepy.datasets.get_path("bubenec"), layer="plots").to_crs("EPSG:32633")
    plots.index = pd.Index([f"plot{i:04d}" for i in range(len(plots))], name="parcel_id")
    plots["land_mu"] = plots.area / M2_PER_MU
    plots["low_efficiency"] = True
    out = find_blocks(plots, gap_m=0, min_area_mu=0, min_parcels=1, keep="none")
    graph = Graph.build_fuzzy_contiguity(plots.geometry, predicate="intersects")
    _, expected = connected_components(graph.sparse, directed=False)
    ours = out.membership["block_id"].to_numpy(dtype=int)
    # Same partition: each of our blocks is exactly one libpysal component and vice versa.
    pairs = pd.DataFrame({"ours": ours, "theirs": expected}).drop_duplicates()
    assert pairs["ours"].is_unique and pairs["theirs"].is_unique
    assert len(out.blocks) == len(np.unique(expected))
    assert out.blocks["area_mu"].sum() == pytest.approx(plots["land_mu"].sum())
    assert out.blocks.geometry.is_valid.all()


# ---------------------------------------------------------------- properties


@st.composite
def random_grids(draw):
    nx, ny = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    gap_choice = st.sampled_from([0.0, 0.0, 10.0, 25.0, 40.0])
    col_gaps = draw(st.lists(gap_choice, min_size=nx - 1, max_size=nx - 1))
    row_gaps = draw(st.lists(gap_choice, min_size=ny - 1, max_size=ny - 1))
    cells = [(r, c) for r in range(ny) for c in range(nx)]
    flags = {cell for cell in cells if draw(st.booleans())}
    gap_m = draw(st.sampled_from([0.0, 15.0, 30.0]))
    seed = draw(st.integers(0, 2**16))
    return grid(nx, ny, col_gaps=col_gaps, row_gaps=row_gaps, flags=flags), gap_m, seed


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_grids())
def test_block_invariants(case):
    parcels, gap_m, seed = case
    out = find_blocks(parcels, gap_m=gap_m, min_area_mu=0, min_parcels=1, keep="none")
    members = out.membership.dropna(subset=["block_id"])
    flagged = parcels.index[parcels["low_efficiency"]]
    # every flagged parcel is in exactly one block, nothing else is
    assert set(members.index) == set(flagged)
    blocks = out.blocks
    # block areas sum to the land of the flagged parcels in them
    by_block = parcels.loc[members.index, "land_mu"].groupby(members["block_id"].to_numpy()).sum()
    np.testing.assert_allclose(blocks["area_mu"].to_numpy(), by_block.reindex(blocks.index).to_numpy())
    # disjoint block polygons: the union's area is the sum of areas
    if len(blocks):
        assert shapely.union_all(blocks.geometry.values).area == pytest.approx(blocks.area.sum())
        assert blocks.geometry.is_valid.all()
    # each block is connected under the rule, and no two blocks are within the gap
    geoms = parcels.geometry
    for block_id, ids in members.groupby("block_id").groups.items():
        g = geoms.loc[ids].to_numpy()
        adj = shapely.dwithin(g[:, None], g[None, :], gap_m) if gap_m else shapely.intersects(g[:, None], g[None, :])
        assert connected_components(adj, directed=False)[0] == 1, block_id
    if len(blocks) > 1:
        b = blocks.geometry.to_numpy()
        near = shapely.dwithin(b[:, None], b[None, :], gap_m) if gap_m else shapely.intersects(b[:, None], b[None, :])
        assert (near.sum(axis=1) == 1).all()
    # ids are stable under row shuffling
    shuffled = parcels.sample(frac=1.0, random_state=seed)
    again = find_blocks(shuffled, gap_m=gap_m, min_area_mu=0, min_parcels=1, keep="none")
    pd.testing.assert_frame_equal(again.membership.loc[out.membership.index], out.membership)
    pd.testing.assert_frame_equal(pd.DataFrame(again.blocks.drop(columns="geometry")),
                                  pd.DataFrame(blocks.drop(columns="geometry")))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_grids())
def test_kept_parcels_invariants(case):
    parcels, gap_m, _ = case
    out = find_blocks(parcels, gap_m=gap_m, min_area_mu=0, min_parcels=1, keep="enclosed")
    kept = out.membership[out.membership["block_role"] == "kept"]
    assert not parcels.loc[kept.index, "low_efficiency"].any()
    blocks = out.blocks
    np.testing.assert_allclose(blocks["area_mu"], blocks["freed_mu"] + blocks["kept_mu"])
    assert (blocks["n_kept"] == kept.groupby("block_id").size().reindex(blocks.index, fill_value=0)).all()
    assert blocks.geometry.is_valid.all()


# ---------------------------------------------------------------- single union pass with kept parcels


def test_kept_parcels_bridge_the_pieces_of_a_block():
    # Left and right columns are flagged; they do not touch but lie within the gap (100 m), so they
    # form one block of two pieces. The middle column faces the block on its left and right sides
    # (share 0.5); keeping all three joins the two pieces into one square polygon.
    flags = {(r, c) for r in range(3) for c in (0, 2)}
    parcels = grid(3, 3, flags=flags)
    out = find_blocks(parcels, gap_m=150, min_area_mu=0, keep="share", keep_max_share=0.5)
    kept = out.membership.index[out.membership["block_role"].eq("kept").fillna(False).to_numpy(dtype=bool)]
    assert sorted(kept) == ["r0c1", "r1c1", "r2c1"]
    geom = out.blocks.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "Polygon" and len(geom.interiors) == 0
    assert geom.area == pytest.approx(90_000)
    assert out.blocks.loc[1, "compactness"] == pytest.approx(math.pi / 4)  # 4 pi 300^2 / 1200^2
    # Without kept parcels the block stays two disjoint 100 x 300 m pieces.
    plain = find_blocks(parcels, gap_m=150, min_area_mu=0, keep="none").blocks.geometry.iloc[0]
    assert plain.geom_type == "MultiPolygon" and plain.area == pytest.approx(60_000)


def test_firm_ids_joined_per_block_without_duplicates_or_blanks():
    flags = {(0, 0), (0, 1), (0, 3), (0, 4)}
    parcels = grid(5, 1, flags=flags, firm_usccs=["C, A", "A,,B", "Z", " ", "Y,X,Y"],
                   street=["乙街道", "甲街道", "丙街道", None, "乙街道"])
    out = find_blocks(parcels, gap_m=0, min_area_mu=0, keep="none").blocks
    assert list(out["firm_ids"]) == ["A,B,C", "X,Y"]
    assert list(out["n_firms"]) == [3, 2]
    assert list(out["streets"]) == ["乙街道,甲街道", "乙街道"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_grids(), st.sampled_from(["enclosed", "share"]))
def test_block_polygon_is_the_union_of_its_parcels(case, keep):
    parcels, gap_m, _ = case
    out = find_blocks(parcels, gap_m=gap_m, min_area_mu=0, min_parcels=1, keep=keep, keep_max_share=0.5)
    members = out.membership.dropna(subset=["block_id"])
    for block_id, ids in members.groupby("block_id").groups.items():
        geom = out.blocks.geometry.loc[block_id]
        expected = shapely.union_all(parcels.geometry.loc[ids].to_numpy())
        assert geom.is_valid
        assert shapely.symmetric_difference(geom, expected).area == pytest.approx(0, abs=1e-6)
        # Disjoint squares: the polygon's area is the block's land.
        assert geom.area == pytest.approx(out.blocks.loc[block_id, "area_mu"] * M2_PER_MU)


def test_hairline_neighbours_are_unioned_so_the_polygon_stays_valid():
    # Three parcels of the benchmark generator: P3 meets P1 at a T-junction that is collinear only up
    # to float rounding. Gathering the union of P1+P2 and P3 side by side (they do not "intersect")
    # gave an invalid, self-intersecting MultiPolygon; within TOUCH_TOLERANCE_M they are unioned.
    wkt = [
        "POLYGON ((404286.65248492354 3033133.572785792, 404445.49447238474 3033138.610281979, "
        "404447.0939912485 3033178.0243641976, 404286.65248492354 3033180.260790201, "
        "404286.65248492354 3033133.572785792))",
        "POLYGON ((404286.65248492354 3033180.2607902004, 404447.0939912485 3033178.024364197, "
        "404448.79606716504 3033219.965576418, 404286.65248492354 3033219.9655764177, "
        "404286.65248492354 3033180.2607902004))",
        "POLYGON ((404658.13334024104 3033100.721778006, 404658.13334024104 3033177.69343025, "
        "404447.06809088413 3033177.386147847, 404443.9541142018 3033100.653990595, "
        "404658.13334024104 3033100.721778006))",
    ]
    geoms = shapely.from_wkt(wkt)
    parcels = gpd.GeoDataFrame({"land_mu": shapely.area(geoms) / M2_PER_MU, "low_efficiency": True},
                               geometry=geoms, crs=CRS, index=pd.Index(["P1", "P2", "P3"], name="parcel_id"))
    out = find_blocks(parcels, gap_m=30, min_area_mu=0, keep="none").blocks
    assert len(out) == 1
    geom = out.geometry.iloc[0]
    assert geom.is_valid
    assert geom.area == pytest.approx(shapely.union_all(geoms).area)


def test_faced_share_threads_split_between_blocks():
    from gisefficiency.blocks.kept import _by_block

    block = np.repeat(np.arange(7), [1, 5000, 3, 9000, 2, 4000, 1])
    seen = []

    def record(rows):
        seen.append((rows.start, rows.stop))
        return block[rows]

    np.testing.assert_array_equal(_by_block(record, block), block)
    bounds = sorted(seen)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(block) and len(bounds) > 1
    for (_, stop), (start, _) in pairwise(bounds):
        assert stop == start and block[start - 1] != block[start]  # never inside one block


def test_block_hulls_are_the_hull_of_the_union():
    from gisefficiency.blocks.kept import HULL_TOLERANCE_M, block_hulls

    geoms = np.array([shapely.box(0, 0, 10, 10), shapely.box(30, 0, 40, 5), shapely.box(0, 20, 5, 30),
                      shapely.box(100, 100, 110, 110)], dtype=object)
    block = np.array([0, 0, 0, 1])
    hulls = block_hulls(geoms, block, 2)
    for k in range(2):
        expected = shapely.convex_hull(shapely.union_all(geoms[block == k])).buffer(HULL_TOLERANCE_M, quad_segs=2)
        assert shapely.equals_exact(shapely.normalize(hulls[k]), shapely.normalize(expected), tolerance=1e-9)
    # Hand-computed: hull of block 0 is the pentagon (0,0) (40,0) (40,5) (5,30) (0,30).
    assert shapely.convex_hull(shapely.union_all(geoms[:3])).area == pytest.approx(40 * 5 + 0.5 * 35 * 25 + 5 * 25)


def test_faced_share_probes_the_flagged_parcels():
    from gisefficiency.blocks.kept import faced_share

    # A 100 m square with flagged parcels west (touching), north (across a 20 m road) and east
    # (touching, in another block), and none south: it faces its block on 2 of its 4 sides.
    cand = shapely.box(0, 0, 100, 100)
    members = np.array([shapely.box(-100, 0, 0, 100), shapely.box(0, 120, 100, 220), shapely.box(100, 0, 200, 100)],
                       dtype=object)
    member_block = np.array([0, 0, 1])
    share = faced_share(np.array([cand, cand], dtype=object), np.array([0, 1]), members, member_block, gap_m=30)
    np.testing.assert_allclose(share, [0.5, 0.25])
    # Beyond the gap the northern parcel no longer counts.
    assert faced_share(np.array([cand], dtype=object), np.array([0]), members, member_block, gap_m=10)[0] == 0.25


# ---------------------------------------------------------------- text joins on integer codes
def test_joined_sorts_dedups_and_leaves_empty_blocks_na():
    from gisefficiency.blocks.table import _joined

    values = pd.Series(["B, A", None, "A,,C", " ", "Z", "b"], dtype="string")
    # Rows 0, 2, 3 in block 0; rows 4, 5 in block 2; block 1 has only the NA row 1.
    text, count = _joined(values, np.array([0, 2, 3, 1, 4, 5]), np.array([0, 0, 0, 1, 2, 2]), 3, split=True)
    assert text.dtype == "string" and list(text.iloc[[0, 2]]) == ["A,B,C", "Z,b"] and pd.isna(text.iloc[1])
    assert count.iloc[0] == 3 and count.iloc[2] == 2 and np.isnan(count.iloc[1])
    whole, _ = _joined(values, np.arange(6), np.zeros(6, dtype=int), 1, split=False)
    assert whole.iloc[0] == "A,,C,B, A,Z,b"  # not split: each value whole, trimmed, in text order


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(st.sampled_from(["A", "B", " C", "甲", ""]), max_size=3)),
                min_size=1, max_size=20))
def test_joined_matches_plain_python(rows):
    from gisefficiency.blocks.table import _joined

    block = np.array([b for b, _ in rows])
    values = pd.Series([",".join(v) if v else None for _, v in rows], dtype="string")
    text, count = _joined(values, np.arange(len(rows)), block, 4, split=True)
    for b in range(4):
        ids = sorted({s.strip() for (k, v) in rows if k == b for s in v if s.strip()})
        assert (pd.isna(text.iloc[b]) and not ids) or text.iloc[b] == ",".join(ids)
        assert (np.isnan(count.iloc[b]) and not ids) or count.iloc[b] == len(ids)

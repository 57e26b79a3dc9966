"""Tests of gisefficiency.blocks.clusters: Local Moran / Gi* clusters with BH correction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.blocks.clusters import bh_adjust, compare_with_blocks, local_clusters
from gisefficiency.core.errors import ConfigError, CRSError, InputError

CRS = "EPSG:4549"


def planted(n: int = 8, low: int = 3, seed: int = 1) -> gpd.GeoDataFrame:
    """n x n squares of 100 m; the low x low corner holds tax_per_mu ~0.2, the rest ~6."""
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(np.arange(n * n), n)
    geoms = shapely.box(cols * 100.0, rows * 100.0, cols * 100.0 + 100, rows * 100.0 + 100)
    value = rng.normal(6.0, 0.5, n * n)
    corner = (rows < low) & (cols < low)
    value[corner] = rng.normal(0.2, 0.05, corner.sum())
    ids = [f"p{r}{c}" for r, c in zip(rows, cols, strict=True)]
    return gpd.GeoDataFrame({"tax_per_mu": value, "corner": corner}, geometry=geoms, crs=CRS,
                            index=pd.Index(ids, name="parcel_id"))


def test_bh_adjust_hand_computed():
    q = bh_adjust(np.array([0.01, 0.04, 0.03, 0.2, np.nan]))
    np.testing.assert_allclose(q[:4], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
    assert np.isnan(q[4])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_bh_adjust_properties(p):
    p = np.array(p)
    q = bh_adjust(p)
    assert (q >= p - 1e-12).all() and (q <= 1).all()
    order = np.argsort(p, kind="stable")
    assert (np.diff(q[order]) >= -1e-12).all()  # monotone in p


def test_planted_low_cluster_found_by_moran():
    parcels = planted()
    out = local_clusters(parcels, gap_m=0, permutations=999, seed=7)
    corner = parcels.index[parcels["corner"]]
    assert (out.loc[corner, "q"] == 3).all()  # every corner parcel is in the low-low quadrant
    inner = ["p00", "p01", "p10", "p11"]  # whose neighbours are all low
    assert (out.loc[inner, "cluster"] == "low-low").all()
    assert not out.loc[~parcels["corner"], "cluster"].eq("low-low").any()
    assert set(out["cluster"]) <= {"low-low", "high-high", "low-high", "high-low", "ns"}
    assert (out["significant"] == (out["p_fdr"] <= 0.05)).all()


def test_planted_cold_spot_found_by_gi_star():
    parcels = planted()
    out = local_clusters(parcels, method="gi", gap_m=0, seed=7)
    assert (out.loc[["p00", "p01", "p10", "p11"], "cluster"] == "cold").all()
    assert set(out["cluster"]) <= {"hot", "cold", "ns"}
    assert out["q"].isna().all()


def test_same_seed_same_result_and_missing_values():
    parcels = planted()
    parcels.loc["p77", "tax_per_mu"] = np.nan
    a = local_clusters(parcels, gap_m=30, seed=3, permutations=199)
    b = local_clusters(parcels.sample(frac=1.0, random_state=2), gap_m=30, seed=3, permutations=199)
    pd.testing.assert_frame_equal(a, local_clusters(parcels, gap_m=30, seed=3, permutations=199))
    assert a.loc["p77", "cluster"] == "missing" and np.isnan(a.loc["p77", "p_sim"])
    assert pd.isna(a.loc["p77", "n_neighbours"])
    assert a.loc["p76", "n_neighbours"] == 4  # p77 is left out of the weights (queen-like at 30 m: 5 - 1)
    # the same parcels are significant whatever the row order (p values may differ slightly)
    assert b.loc[a.index, "q"].equals(a["q"])


def test_isolated_parcel_is_not_tested():
    parcels = planted(4, low=2)
    far = gpd.GeoDataFrame({"tax_per_mu": [1.0], "corner": [False]}, geometry=[shapely.box(9e3, 9e3, 9.1e3, 9.1e3)],
                           crs=CRS, index=pd.Index(["far"], name="parcel_id"))
    out = local_clusters(pd.concat([parcels, far]), gap_m=0, permutations=99)
    assert out.loc["far", "cluster"] == "ns" and np.isnan(out.loc["far", "p_sim"])
    assert out.loc["far", "n_neighbours"] == 0


def test_compare_with_blocks_hand_computed():
    clusters = pd.DataFrame(
        {"cluster": ["low-low", "low-low", "ns", "high-high", "missing", "ns"]},
        index=pd.Index(list("abcdef"), name="parcel_id"),
    )
    membership = pd.DataFrame(
        {"block_id": pd.array([1, 1, 1, pd.NA, 1, pd.NA], dtype="Int64"),
         "block_role": pd.array(["low", "low", "low", pd.NA, "low", pd.NA], dtype="string")},
        index=clusters.index,
    )
    res = compare_with_blocks(clusters, membership)
    # compared: a b c d f; blocks: a b c; low clusters: a b
    assert res["n_parcels"] == 5 and res["n_block_parcels"] == 3 and res["n_low_cluster"] == 2
    assert res["share_blocks_in_low_clusters"] == pytest.approx(2 / 3)
    assert res["share_low_clusters_in_blocks"] == pytest.approx(1.0)
    assert res["jaccard"] == pytest.approx(2 / 3)
    po, pe = 4 / 5, (3 * 2 + 2 * 3) / 25
    assert res["kappa"] == pytest.approx((po - pe) / (1 - pe))


def test_errors():
    parcels = planted(3)
    with pytest.raises(ConfigError, match="method='lisa'"):
        local_clusters(parcels, method="lisa")
    with pytest.raises(ConfigError, match="fdr=0"):
        local_clusters(parcels, fdr=0)
    with pytest.raises(InputError, match="'va_per_mu' is missing"):
        local_clusters(parcels, column="va_per_mu")
    with pytest.raises(CRSError, match="projected CRS"):
        local_clusters(parcels.to_crs("EPSG:4326"))

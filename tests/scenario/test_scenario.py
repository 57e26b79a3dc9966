"""Tests of gisefficiency.scenario.freed: freed land, energy, tax, county per-mu before/after, targets."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisefficiency.core.errors import ConfigError, InputError
from gisefficiency.scenario.freed import Scenario, compare, run_scenario

CRS = "EPSG:4549"


@pytest.fixture
def parcels() -> gpd.GeoDataFrame:
    x = 500_000 + np.arange(5) * 200.0
    geoms = shapely.box(x, 3_000_000, x + 100, 3_000_100)
    return gpd.GeoDataFrame(
        {
            "land_mu": [10.0, 20.0, 30.0, 40.0, 5.0],
            "tax": [5.0, 10.0, 90.0, np.nan, 1.0],
            "value_added": [20.0, 30.0, 300.0, np.nan, 2.0],
            "energy_tce": [100.0, 50.0, 10.0, np.nan, 1.0],
            "street": ["东城街道", "东城街道", "西城街道", "西城街道", "西城街道"],
            "disposal": ["close", "swap", "", "", ""],
            "disposal_zh": ["淘汰关停", "腾笼换鸟", "", "", ""],
            "block_id": pd.array([1, 1, 1, pd.NA, pd.NA], dtype="Int64"),
            "block_role": pd.array(["low", "low", "kept", pd.NA, pd.NA], dtype="string"),
            "firm_usccs": ["X", "Y,W", "Z", pd.NA, "V"],
            "status": ["ok", "ok", "ok", "ok", "excluded: empty geometry"],
        },
        geometry=geoms, crs=CRS, index=pd.Index(list("ABCDE"), name="parcel_id"),
    )


def test_block_scenario_hand_computed(parcels):
    sc = Scenario(name="区块1", blocks=(1,), target_tax_per_mu=5.0, target_tce_per_mu=0.5, target_va_per_mu=10.0)
    res = run_scenario(parcels, sc, targets={"freed_mu": 60, "freed_tce": 300}, year=2021)
    s = res.summary
    assert list(res.parcels) == ["A", "B"]  # the kept parcel C stays
    assert (s["n_parcels"], s["n_blocks"], s["n_firms"]) == (2, 1, 3)
    assert s["freed_mu"] == 30 and s["freed_tce"] == 150 and s["tax_lost"] == 15 and s["va_lost"] == 50
    assert s["tax_expected"] == 150 and s["tce_expected"] == 15 and s["net_tce"] == 135
    # known tax A+B+C = 105 on 60 mu (D has no tax, E is excluded)
    assert s["tax_per_mu_before"] == pytest.approx(105 / 60)
    assert s["tax_per_mu_after"] == pytest.approx((105 - 15 + 150) / 60)
    assert s["va_per_mu_before"] == pytest.approx(350 / 60)
    assert s["va_per_mu_after"] == pytest.approx((350 - 50 + 300) / 60)
    assert res.progress == {"freed_mu": 0.5, "freed_tce": 0.5}
    assert s["progress_freed_mu"] == 0.5 and s["year"] == 2021
    street = res.by_street
    assert list(street.index) == ["东城街道"]
    assert street.loc["东城街道"].tolist() == [2, 30, 150, 15, 150]
    assert list(res.by_disposal.index) == ["淘汰关停", "腾笼换鸟"]
    assert res.by_disposal.loc["腾笼换鸟", "freed_mu"] == 20


def test_unknown_tax_land_joins_the_base_after(parcels):
    x0, y0 = 500_000 + 3 * 200.0, 3_000_000
    inner = gpd.GeoSeries([shapely.box(x0 + 10, y0 + 10, x0 + 90, y0 + 90)], crs=CRS).to_crs("EPSG:4326").iloc[0]
    sc = Scenario(name="polygon", polygon=json.dumps(shapely.geometry.mapping(inner)), target_tax_per_mu=5.0)
    res = run_scenario(parcels, sc)
    assert list(res.parcels) == ["D"]
    s = res.summary
    assert s["freed_mu"] == 40 and np.isnan(s["tax_lost"]) and np.isnan(s["freed_tce"])
    assert s["tax_per_mu_after"] == pytest.approx((105 + 40 * 5) / (60 + 40))
    assert np.isnan(s["va_per_mu_after"])  # no value-added target given
    feature = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(inner)}
    assert list(run_scenario(parcels, Scenario(polygon=feature)).parcels) == ["D"]
    assert list(run_scenario(parcels, Scenario(polygon=inner)).parcels) == ["D"]


def test_union_of_parcels_and_firms_and_excluded_never_selected(parcels):
    res = run_scenario(parcels, Scenario(parcels=("C",), firms=("W", "V")))
    assert list(res.parcels) == ["B", "C"]  # V sits on the excluded parcel E
    assert res.summary["freed_mu"] == 50
    assert np.isnan(res.summary["tax_expected"]) and np.isnan(res.summary["tax_per_mu_after"])


def test_compare_side_by_side(parcels):
    a = run_scenario(parcels, Scenario(name="甲", blocks=(1,), target_tax_per_mu=5.0), targets={"freed_mu": 60})
    b = run_scenario(parcels, Scenario(name="乙", parcels=("D",), target_tax_per_mu=5.0), targets={"freed_mu": 60})
    table = compare([a, b])
    assert list(table.columns) == ["甲", "乙"]
    assert table.loc["腾出用地(亩)", "甲"] == 30 and table.loc["腾出用地(亩)", "乙"] == 40
    assert table.loc["目标完成率·腾出用地(亩)", "乙"] == pytest.approx(40 / 60)
    assert table.index.name == "指标"
    en = a.to_frame(lang="en")
    assert en.loc["Freed land (mu)", "甲"] == 30


def test_errors(parcels):
    with pytest.raises(ConfigError, match="selects nothing"):
        run_scenario(parcels, Scenario(name="空"))
    with pytest.raises(InputError, match="unknown parcel ids Q"):
        run_scenario(parcels, Scenario(parcels=("A", "Q")))
    with pytest.raises(InputError, match="unknown block ids 9"):
        run_scenario(parcels, Scenario(blocks=(9,)))
    firms = pd.DataFrame(index=pd.Index(["X", "Y"], name="uscc"))
    with pytest.raises(InputError, match="unknown firm ids NOPE"):
        run_scenario(parcels, Scenario(firms=("NOPE",)), firms=firms)
    with pytest.raises(InputError, match="block_id' is missing"):
        run_scenario(parcels.drop(columns="block_id"), Scenario(blocks=(1,)))
    with pytest.raises(InputError, match="polygon cannot be read"):
        run_scenario(parcels, Scenario(polygon="{not json"))
    with pytest.raises(ConfigError, match="must be positive numbers"):
        run_scenario(parcels, Scenario(parcels=("A",)), targets={"freed_mu": -5})


def test_input_not_mutated(parcels):
    before = parcels.copy()
    run_scenario(parcels, Scenario(blocks=(1,), target_tax_per_mu=3.0))
    pd.testing.assert_frame_equal(parcels, before)


def _blocks(ids: list[int], ranks: list[int]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"rank": pd.array(ranks, dtype="Int64")}, geometry=gpd.GeoSeries([None] * len(ids), crs=CRS),
                            index=pd.Index(ids, name="block_id"))


def test_top_blocks_selects_the_best_ranked_blocks(parcels):
    # Block 1 is ranked first; block 2 (second) has no parcel left in this frame.
    blocks = _blocks([2, 1], [2, 1])
    one = run_scenario(parcels, Scenario(name="前一", top_blocks=1, target_tax_per_mu=5.0), blocks=blocks)
    assert list(one.parcels) == ["A", "B"]  # the low parcels of block 1; the kept C stays
    assert (one.summary["freed_mu"], one.summary["freed_tce"], one.summary["tax_lost"]) == (30, 150, 15)
    # More blocks asked for than the county has: all of them, no error.
    five = run_scenario(parcels, Scenario(name="前五", top_blocks=5, target_tax_per_mu=5.0), blocks=blocks)
    assert list(five.parcels) == ["A", "B"]
    # With explicit ids the union is taken.
    both = run_scenario(parcels, Scenario(top_blocks=1, parcels=("D",)), blocks=blocks)
    assert list(both.parcels) == ["A", "B", "D"]


def test_top_blocks_without_any_block_is_an_empty_scenario(parcels):
    no_blocks = _blocks([], [])
    res = run_scenario(parcels.assign(block_id=pd.array([pd.NA] * 5, dtype="Int64")),
                       Scenario(name="全部", top_blocks=0, target_tax_per_mu=5.0, target_tce_per_mu=0.5),
                       blocks=no_blocks, targets={"freed_mu": 60})
    s = res.summary
    assert len(res.parcels) == 0
    # Nothing selected frees and loses exactly nothing: 0, not missing.
    assert (s["n_parcels"], s["n_blocks"], s["n_firms"]) == (0, 0, 0)
    assert (s["freed_mu"], s["freed_tce"], s["tax_lost"], s["va_lost"]) == (0, 0, 0, 0)
    assert (s["tax_expected"], s["tce_expected"], s["net_tce"]) == (0, 0, 0)
    assert s["tax_per_mu_before"] == s["tax_per_mu_after"] == pytest.approx(105 / 60)
    assert res.progress == {"freed_mu": 0.0}
    assert len(res.by_street) == 0 and len(res.by_disposal) == 0
    assert run_scenario(parcels, Scenario(top_blocks=5), blocks=no_blocks).summary["n_parcels"] == 0


def test_a_selection_with_missing_energy_keeps_it_missing(parcels):
    res = run_scenario(parcels.assign(energy_tce=np.nan), Scenario(parcels=("A",), target_tce_per_mu=0.5))
    assert res.summary["freed_mu"] == 10 and np.isnan(res.summary["freed_tce"]) and np.isnan(res.summary["net_tce"])


def test_top_blocks_errors(parcels):
    with pytest.raises(ConfigError, match=r"top_blocks = -1 must be a whole number >= 0"):
        run_scenario(parcels, Scenario(top_blocks=-1), blocks=_blocks([1], [1]))
    with pytest.raises(InputError, match="top_blocks needs the blocks table"):
        run_scenario(parcels, Scenario(top_blocks=3))
    # Ids named by the user that do not exist stay an error, even when there are no blocks at all.
    with pytest.raises(InputError, match="unknown block ids 3, 7"):
        run_scenario(parcels, Scenario(blocks=(3, 7)), blocks=_blocks([], []))

"""Wenzhou ETDZ land-right holders (温州经开区 三、适用标准 and 五、（二） 小升规), through link, metrics and verdicts.

Two parcels of 12 and 20 mu. H holds P1 (floor 5,000 m²) and lets all of it to T; S holds P2 and lets
12,000 m² to L. Under the default ``floor_share`` mode a tenant's land is parcel mu x leased floor / total
floor, so T gets all 12 mu and H none; L's 12,000 m² exceed P2's rows' floor, so L takes all 20 mu.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisefficiency.evaluate.policy import load_preset
from gisefficiency.evaluate.verdicts import evaluate
from gisefficiency.link import link_firms
from gisefficiency.metrics.indicators import unit_metrics

RECTIFY = "高耗低效整治（D类或亩税10万以下）："
UPGRADE = "自有用地10亩（承租面积10000平方米）以上须小升规："


def _parcels(mu: list[float], holders: list[str | None], floors: list[float]) -> gpd.GeoDataFrame:
    boxes = [shapely.box(500_000 + i * 200, 3_100_000, 500_100 + i * 200, 3_100_100) for i in range(len(mu))]
    return gpd.GeoDataFrame(
        {"holder_uscc": pd.Series(holders, dtype="string"), "floor_area_m2": floors, "geom_status": "ok",
         "status": "ok", "land_mu": mu, "supply_date": pd.to_datetime(["2015-01-01"] * len(mu))},
        geometry=boxes, index=pd.Index([f"P{i + 1}" for i in range(len(mu))], name="parcel_id"), crs="EPSG:4549")


def _run(tenant_mode: str, tax: dict[str, float] | None = None):
    parcels = _parcels([12.0, 20.0], ["H", "S"], [5000.0, np.nan])
    tax = {"H": 1.0, "T": 100.0, "S": 150.0, "L": 50.0, **(tax or {})}
    firms = pd.DataFrame({"uscc": list(tax), "year": 2021, "tax": list(tax.values()), "name": list(tax),
                          "scale": pd.Series(["below", "above", "below", "below"], dtype="string")})
    land = pd.DataFrame([("H", "P1", "own", np.nan), ("T", "P1", "leased", 5000.0), ("S", "P2", "own", np.nan),
                         ("L", "P2", "leased", 12000.0)], columns=["uscc", "parcel_id", "kind", "floor_area_m2"])
    links = link_firms(parcels, firms, land=land, tenant_mode=tenant_mode)
    panel = unit_metrics(firms, links, parcels=parcels)
    ev = evaluate(panel, load_preset("wenzhou-etdz-2021"), links=links)
    return panel, ev.verdicts.join(ev.reasons("both"))  # the reasons are written on request


def test_holder_figures_under_floor_share():
    panel, _ = _run("floor_share")
    p = panel.xs(2021, level="year")
    # H: own share 0 mu (all floor let), holds 12 mu; combined tax 1 + 100 = 101 -> 101 / 12 = 8.41667
    assert p.loc["H", "land_mu"] == 0.0 and np.isnan(p.loc["H", "tax_per_mu"])
    assert p.loc["H", "holder_land_mu"] == 12.0 and p.loc["H", "holder_other_firms"] == 1
    assert p.loc["H", "holder_tax"] == pytest.approx(101.0)
    assert p.loc["H", "holder_tax_per_mu"] == pytest.approx(101.0 / 12.0)
    # S: 150 + 50 = 200 over 20 mu = exactly 10
    assert p.loc["S", "holder_tax_per_mu"] == pytest.approx(10.0)
    # tenants hold nothing; their leased floor is the land rows'
    assert np.isnan(p.loc["T", "holder_land_mu"]) and np.isnan(p.loc["T", "holder_tax_per_mu"])
    assert p.loc["T", "leased_floor_m2"] == 5000.0 and p.loc["L", "leased_floor_m2"] == 12000.0
    assert np.isnan(p.loc["H", "leased_floor_m2"])


def test_holder_and_tenants_listed_in_one_run():
    _, v = _run("floor_share")
    # the holder: 8.4167 < 10 by the 综合亩均税收 clause, with its numbers (not "tax data missing")
    assert v.loc["H", "disposal"] == "rectify" and v.loc["H", "low_efficiency"]
    assert v.loc["H", "reason_zh"] == (
        RECTIFY + "2021年综合亩均税收8.4167万元/亩，低于10万元/亩（所持土地上企业实缴税金合计101万元，自有用地面积12亩）；"
        + UPGRADE + "规模为规下，2021年自有用地面积12亩，高于10亩")
    assert v.loc["H", "reason_en"].startswith(
        "Rectify: class D or tax below 10 per mu: combined tax per mu of the land held 2021: 8.4167 (10k yuan/mu), "
        "below 10 (tax of all firms on the land held: 101 10k yuan; land held: 12 mu)")
    # the tenant keeps its own verdict on its floor share: 100 / 12 = 8.3333
    assert v.loc["T", "disposal"] == "rectify"
    assert v.loc["T", "reason_zh"] == RECTIFY + "2021年亩均税收8.3333万元/亩，低于10万元/亩"
    # S at exactly 10 is not below 10; its own share is 0 mu, so it is not graded and has no own figure
    assert v.loc["S", "disposal"] == ""
    # its own 亩均税收 is not missing data: it has tax but no land of its own under floor_share
    assert "2021年用地面积为0，无亩均税收" in v.loc["S", "reason_zh"] and "缺少" not in v.loc["S", "reason_zh"]
    assert "no tax per mu in 2021: land 0" in v.loc["S", "reason_en"]
    assert "2021年综合亩均税收10万元/亩，不低于10万元/亩（所持土地上企业实缴税金合计200万元，自有用地面积20亩）" in v.loc["S", "reason_zh"]
    # L: 50 / 20 = 2.5; leases 12,000 m² (>= 10,000) while 规下: must reach 规上
    assert v.loc["L", "disposal"] == "rectify"
    assert v.loc["L", "reason_zh"] == (RECTIFY + "2021年亩均税收2.5万元/亩，低于10万元/亩；" + UPGRADE
                                       + "规模为规下，2021年承租面积12000平方米，高于10000平方米")
    # 规下 holders of 10 mu or more are flagged although floor_share left them no land of their own
    assert v["must_upgrade_scale"].to_dict() == {"H": True, "L": True, "S": True, "T": False}


def test_tenant_counter_reason_leaves_the_holder_clause_out():
    _, v = _run("floor_share", tax={"T": 130.0})
    # T: 130 / 12 = 10.8333, not below 10; it holds no land, so the holder clause says nothing
    assert v.loc["T", "disposal"] != "rectify"
    assert "综合亩均税收" not in v.loc["T", "reason_zh"]
    # H: (1 + 130) / 12 = 10.9167: no longer listed
    assert v.loc["H", "disposal"] == ""
    assert "2021年综合亩均税收10.9167万元/亩，高于10万元/亩（所持土地上企业实缴税金合计131万元，自有用地面积12亩）" in v.loc["H", "reason_zh"]


def test_merge_to_holder_gives_the_same_holder_verdict():
    panel, v = _run("merge_to_holder")
    assert list(v.index) == ["H", "S"]
    # merged, the holder's own figure is the combined one: 101 / 12
    assert v.loc["H", "reason_zh"].startswith(RECTIFY + "2021年亩均税收8.4167万元/亩，低于10万元/亩")
    # the merged tenants' floor is not floor leased from others; the holders hold 12 and 20 mu
    p = panel.xs(2021, level="year")
    assert np.isnan(p["leased_floor_m2"]).all() and p["holder_land_mu"].tolist() == [12.0, 20.0]


def test_a_blank_tax_on_held_land_leaves_the_combined_figure_missing():
    panel, v = _run("floor_share", tax={"T": np.nan})
    assert np.isnan(panel.xs(2021, level="year").loc["H", "holder_tax_per_mu"])
    assert v.loc["H", "disposal"] == "" and "缺少2021年综合亩均税收数据" in v.loc["H", "reason_zh"]

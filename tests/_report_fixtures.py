"""A small hand-made Result for the report tests: 6 parcels, 5 firms, 1 block, 3 years, a policy.

Hand-computed facts (reference year 2021):
- land of firms with tax: F1 10 + F2 20 + F3 5 + F4 15 = 50 mu (F5 has no tax); tax 30 + 10 + 2.5 + 0.6 = 43.1
  -> 亩均税收 43.1 / 50 = 0.862 万元/亩.
- 规上 (F1, F2): tax 40 over 30 mu -> 1.3333; 规下 (F3, F4, F5): tax 3.1 over 20 mu -> 0.155.
- value added: F1 120, F2 40, F4 6 (F3, F5 missing) -> 166 / 45 mu = 3.6889.
- low-efficiency parcels P4 (15 mu) and P5 (8 mu) -> 23 mu; block 1 frees 23 mu and 300 tce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from gisefficiency.evaluate.policy import Category
from gisefficiency.result import Result

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"

USCC = {
    "F1": "91330100000000001A",
    "F2": "91330100000000002B",
    "F3": "91330100000000003C",
    "F4": "91330100000000004D",
    "F5": "91330100000000005E",
}


@dataclass(frozen=True)
class FakePolicy:
    name: str = "suichang-2022"
    title_zh: str = "遂昌县全域低效工业企业整治方案"
    title_en: str = "Suichang county low-efficiency industrial firm plan"
    source: str = "遂昌县全域低效工业企业整治方案(征求意见稿), 2022"
    categories: dict[str, Category] = field(
        default_factory=lambda: {
            "close": Category("close", "淘汰关停", "Close", "#d73027"),
            "swap": Category("swap", "腾笼换鸟", "Swap", "#fc8d59"),
            "upgrade": Category("upgrade", "整治提升", "Upgrade", "#fee08b"),
        }
    )
    tax_thresholds: tuple[float, ...] = (1.0, 3.0, 5.0)
    targets: dict[str, float] = field(default_factory=lambda: {"freed_mu": 800.0, "freed_tce": 4800.0})


@dataclass
class FakeScenario:
    name: str
    summary: pd.Series
    progress: dict[str, Any]


@dataclass
class FakeLinkReport:
    rows: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.rows.copy()


@dataclass
class FakeLinks:
    report: FakeLinkReport
    firm_links: pd.DataFrame


def make_result(*, firm_names: dict[str, str] | None = None) -> Result:
    """The fixture Result; ``firm_names`` overrides names by key F1..F5."""
    names = {"F1": "甲机械有限公司", "F2": XSS_SCRIPT, "F3": "乙纺织有限公司", "F4": XSS_IMG, "F5": "戊塑料制品厂"}
    names.update(firm_names or {})
    keys = list(USCC)
    usccs = [USCC[k] for k in keys]
    firms = gpd.GeoDataFrame(
        {
            "name": [names[k] for k in keys],
            "scale": ["above", "above", "below", "below", "below"],
            "industry": ["3411", "C1711", "2929", "9999", None],
            "street": ["东街道", "东街道", "西镇", "西镇", "<b>北乡</b>"],
            "land_mu": [10.0, 20.0, 5.0, 15.0, np.nan],
            "tax": [30.0, 10.0, 2.5, 0.6, np.nan],
            "value_added": [120.0, 40.0, np.nan, 6.0, np.nan],
            "energy_tce": [500.0, 200.0, 50.0, 300.0, np.nan],
            "tax_per_mu": [3.0, 0.5, 0.5, 0.04, np.nan],
            "va_per_mu": [12.0, 2.0, np.nan, 0.4, np.nan],
            "score": [120.0, 60.0, 55.0, 10.0, np.nan],
            "grade": ["A", "C", "B", "D", "N"],
            "disposal": ["", "swap", "", "close", ""],
            "disposal_zh": ["", "腾笼换鸟", "", "淘汰关停", ""],
            "disposal_en": ["", "Swap", "", "Close", ""],
            "reason_zh": [
                "", f"{names['F2']}：亩均税收连续两年低于3万元 (2020: 0.45, 2021: 0.50 万元/亩)", "",
                f"{names['F4']}（{USCC['F4']}）：D类连续两年 (2020, 2021)", "",
            ],
            "reason_en": [
                "", f"{names['F2']}: tax per mu below 3 two years running (2020: 0.45, 2021: 0.50)", "",
                f"{names['F4']} ({USCC['F4']}): class D two years running (2020, 2021)", "",
            ],
            "low_efficiency": [False, True, False, True, False],
        },
        index=pd.Index(usccs, name="uscc"),
        geometry=[box(i * 100, 0, i * 100 + 80, 80) for i in range(5)],
        crs="EPSG:4549",
    )
    parcels = gpd.GeoDataFrame(
        {
            "street": ["东街道", "东街道", "西镇", "西镇", "西镇", "<b>北乡</b>"],
            "land_use": ["工业"] * 6,
            # P6 is excluded (empty geometry): its land stays missing.
            "land_mu": [10.0, 20.0, 5.0, 15.0, 8.0, np.nan],
            "area_mu": [10.1, 19.8, 5.0, 15.2, 8.0, np.nan],
            "n_firms": [1, 1, 1, 1, 0, 0],
            "idle": [False, False, False, False, True, True],
            "holder_uscc": [USCC["F1"], USCC["F2"], USCC["F3"], USCC["F4"], None, None],
            "tax": [30.0, 10.0, 2.5, 0.6, np.nan, np.nan],
            "value_added": [120.0, 40.0, np.nan, 6.0, np.nan, np.nan],
            "energy_tce": [500.0, 200.0, 50.0, 300.0, np.nan, np.nan],
            "tax_per_mu": [3.0, 0.5, 0.5, 0.04, np.nan, np.nan],
            "va_per_mu": [12.0, 2.0, np.nan, 0.4, np.nan, np.nan],
            "grade": ["A", "C", "B", "D", None, None],
            "disposal": ["", "swap", "", "close", "", ""],
            "disposal_zh": ["", "腾笼换鸟", "", "淘汰关停", "", ""],
            "low_efficiency": [False, False, False, True, True, False],
            "low_eff_reason_zh": ["", "", "", f"{names['F4']} 亩均税收0.04万元/亩", "闲置", ""],
            "block_id": pd.array([pd.NA, pd.NA, pd.NA, 1, 1, pd.NA], dtype="Int64"),
            "block_role": [None, None, None, "low", "low", None],
            "in_scenario": [False, False, False, True, True, False],
            "status": ["ok", "ok", "ok", "ok", "ok", "excluded: empty geometry"],
            "geom_status": ["ok", "repaired", "ok", "ok", "ok", "empty"],
            "area_flag": [False, False, False, False, False, False],
        },
        index=pd.Index([f"P{i}" for i in range(1, 7)], name="parcel_id"),
        geometry=[box(i * 100, 0, i * 100 + 80, 80) for i in range(6)],
        crs="EPSG:4549",
    )
    blocks = gpd.GeoDataFrame(
        {
            "block_id": pd.array([1], dtype="Int64"),
            "area_mu": [23.0],
            "n_parcels": [2],
            "n_firms": [1],
            "firm_ids": [[USCC["F4"]]],
            "tax": [0.6],
            "energy_tce": [300.0],
            "tax_per_mu": [0.6 / 23.0],
            "streets": [["西镇"]],
            "freed_mu": [23.0],
            "freed_tce": [300.0],
            "tax_lost": [0.6],
            "tax_at_target": [69.0],
            "priority": [0.875],
            "rank": [1],
        },
        index=pd.Index([1], name="block_id"),
        geometry=[box(300, 0, 480, 80)],
        crs="EPSG:4549",
    )
    years = [2019, 2020, 2021]
    idx = pd.MultiIndex.from_product([usccs[:4], years], names=["eval_id", "year"])
    panel = pd.DataFrame(
        {
            "name": np.repeat([names[k] for k in keys[:4]], 3),
            "scale": np.repeat(["above", "above", "below", "below"], 3),
            "land_mu": np.repeat([10.0, 20.0, 5.0, 15.0], 3),
            # 2019 totals: tax 20+8+2+1 = 31 / 50 = 0.62; 2021: 43.1 / 50 = 0.862.
            "tax": [20.0, 25.0, 30.0, 8.0, 9.0, 10.0, 2.0, 2.2, 2.5, 1.0, np.nan, 0.6],
            "value_added": [100.0, 110.0, 120.0, 35.0, 38.0, 40.0, np.nan, np.nan, np.nan, 5.0, 5.5, 6.0],
        },
        index=idx,
    )
    panel["tax_per_mu"] = panel["tax"] / panel["land_mu"]
    panel["va_per_mu"] = panel["value_added"] / panel["land_mu"]
    report_rows = pd.DataFrame(
        {
            "item": ["linked_table", "unlinked", "idle_parcels"],
            "count": [4, 1, 2],
            "mu": [50.0, np.nan, 12.0],
            "label_zh": ["按关联表关联", "未关联企业", "闲置地块"],
            "label_en": ["Linked by table", "Unlinked firms", "Idle parcels"],
        }
    )
    firm_links = pd.DataFrame(
        {"name": [names[k] for k in keys], "status": ["linked"] * 4 + ["unlinked: no parcel"],
         "eval_id": usccs},
        index=pd.Index(usccs, name="uscc"),
    )
    scenario = FakeScenario(
        name="全部区块<i>",
        summary=pd.Series({"freed_mu": 23.0, "freed_tce": 300.0, "tax_lost": 0.6, "tax_expected": 69.0}),
        progress={"freed_mu": 23.0 / 800.0, "freed_tce": 300.0 / 4800.0},
    )
    return Result(
        parcels=parcels,
        firms=firms,
        blocks=blocks,
        panel=panel,
        year=2021,
        policy=FakePolicy(),
        links=FakeLinks(report=FakeLinkReport(report_rows), firm_links=firm_links),
        scenarios=[scenario],
        meta={"county": "示例县", "inputs": {"parcels": "layers/sample/parcels.gpkg", "firms": "firms.xlsx"}},
    )


def empty_result() -> Result:
    """A Result with no firms, no blocks, no panel, no policy and no links."""
    parcels = gpd.GeoDataFrame(
        {"land_mu": pd.Series(dtype=float)}, geometry=gpd.GeoSeries([], crs="EPSG:4549"),
        index=pd.Index([], name="parcel_id", dtype=object),
    )
    firms = gpd.GeoDataFrame(
        {"name": pd.Series(dtype=object)}, geometry=gpd.GeoSeries([], crs="EPSG:4549"),
        index=pd.Index([], name="uscc", dtype=object),
    )
    blocks = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4549"))
    return Result(parcels=parcels, firms=firms, blocks=blocks, panel=pd.DataFrame(), year=2021, policy=None)

"""A fake ``Result`` for map tests and benchmarks: a grid of parcels near 120°E 30°N (EPSG:4549)."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.result import Result

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"

CATEGORIES = {
    "close": SimpleNamespace(zh="淘汰关停", en="Close", colour="#b2182b"),
    "swap": SimpleNamespace(zh="腾笼换鸟", en="Swap", colour="#ef8a62"),
    "upgrade": SimpleNamespace(zh="整治提升", en="Upgrade", colour="#fddbc7"),
}


def grid_polygons(n: int, *, cell_w: float = 60.0, cell_h: float = 50.0, densify_m: float | None = 5.0,
                  x0: float = 500_000.0, y0: float = 3_320_000.0) -> np.ndarray:
    """``n`` rectangular parcels in rows of ceil(sqrt(n)), densified like digitised parcels."""
    side = int(np.ceil(np.sqrt(n)))
    k = np.arange(n)
    minx = x0 + (k % side) * cell_w
    miny = y0 + (k // side) * cell_h
    boxes = shapely.box(minx, miny, minx + cell_w, miny + cell_h)
    return shapely.segmentize(boxes, densify_m) if densify_m else boxes


def fake_result(n: int = 100, *, seed: int = 0, xss: bool = True, densify_m: float | None = 5.0) -> Result:
    """A Result with every column the map reads; parcel 0's firm is named like an XSS attack."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"P{i:05d}" for i in range(n)], name="parcel_id")
    geom = grid_polygons(n, densify_m=densify_m)
    area_mu = shapely.area(geom) / M2_PER_MU
    idle = rng.random(n) < 0.1
    idle[[i for i in (0, 2) if i < n]] = False  # the XSS-named firms have land
    tax_per_mu = np.round(rng.lognormal(1.0, 1.0, n), 4)
    tax_per_mu[idle] = np.nan
    tax_per_mu[1:2] = np.nan  # a firm without tax data: stays missing
    grade = pd.Series(rng.choice(list("ABCDN"), n), index=ids, dtype="object")
    grade[idle] = pd.NA
    disposal = pd.Series(rng.choice(["close", "swap", "upgrade", "", ""], n), index=ids, dtype="object")
    disposal[idle] = ""
    low = np.isin(disposal.to_numpy(), ["close", "swap"])
    side = int(np.ceil(np.sqrt(n)))
    streets = np.array(["城东街道", "城西街道", "经济开发区"])[(np.arange(n) % side) * 3 // side]
    uscc = [f"91330100MA{i:07d}X" for i in range(n)]
    names = [f"测试企业{i}有限公司" for i in range(n)]
    if xss:
        names[0] = XSS_SCRIPT
        names[min(2, n - 1)] = XSS_IMG if n > 2 else names[0]
    firm_uscc = pd.Series(uscc, index=ids, dtype="object").where(~idle, None)
    block_id = pd.array(np.where(low, (np.arange(n) // max(1, n // 4)) + 1, -1), dtype="Int64")
    block_id[~low] = pd.NA
    parcels = gpd.GeoDataFrame(
        {
            "street": streets,
            "land_use": "工业用地",
            "land_mu": area_mu,
            "area_mu": area_mu,
            "n_firms": np.where(idle, 0, 1),
            "idle": idle,
            "tax": tax_per_mu * area_mu,
            "tax_per_mu": tax_per_mu,
            "va_per_mu": tax_per_mu * 3,
            "grade": grade,
            "disposal": disposal,
            "disposal_zh": disposal.map({k: c.zh for k, c in CATEGORIES.items()}).fillna(""),
            "low_efficiency": low,
            "low_eff_reason_zh": np.where(low, "亩均税收连续两年低于1万元 (2020: 0.62, 2021: 0.81 万元/亩)", None),
            "low_eff_reason_en": np.where(low, "Tax per mu below 1 two years running (0.62, 0.81)", None),
            "block_id": block_id,
            "block_role": np.where(low, "low", None),
            "firm_names": pd.Series(names, index=ids, dtype="object").where(~idle, None),
            "firm_usccs": firm_uscc,
            "in_scenario": low & (rng.random(n) < 0.5),
            # as pipeline.run_years marks parcels (no random draw: the draws above stay as they were)
            "change": np.where(low, np.where(np.arange(n) % 2 == 0, "still_low", "newly_low"),
                               np.where(np.arange(n) % 7 == 0, "recovered", "")),
        },
        index=ids,
        geometry=geom,
        crs="EPSG:4549",
    )
    if xss and n > 2:
        parcels.loc[ids[2], "street"] = XSS_IMG
    firms = pd.DataFrame(
        {
            "name": names,
            "grade": grade.to_numpy(),
            "disposal": disposal.to_numpy(),
            "disposal_zh": parcels["disposal_zh"].to_numpy(),
            "reason_zh": np.where(low, "亩均税收低于1万元/亩", "") if not xss else
            np.where(np.arange(n) == 0, XSS_IMG, np.where(low, "亩均税收低于1万元/亩", "")),
            "reason_en": np.where(low, "Tax per mu below 1", ""),
            "tax_per_mu": tax_per_mu,
            "land_mu": area_mu,
        },
        index=pd.Index(uscc, name="uscc"),
    )
    firms = firms[~idle]
    blocks_src = parcels[low].dissolve(by="block_id", aggfunc={"land_mu": "sum"})
    blocks = gpd.GeoDataFrame(
        {
            "area_mu": blocks_src["land_mu"].to_numpy(),
            "n_parcels": parcels[low].groupby("block_id").size().to_numpy(),
            "freed_mu": blocks_src["land_mu"].to_numpy() * 0.5,
        },
        index=pd.Index(blocks_src.index.astype("int64"), name="block_id"),
        geometry=blocks_src.geometry.values,
        crs=parcels.crs,
    )
    policy = SimpleNamespace(categories=CATEGORIES, tax_thresholds={"close": 1.0, "swap": 3.0, "upgrade": 5.0})
    return Result(parcels=parcels, firms=firms, blocks=blocks, panel=pd.DataFrame(), year=2021, policy=policy)


def map_page_text(path) -> str:
    """A saved map's HTML with the JSON of its gzip-packed payloads appended, so text checks see the data too."""
    from pathlib import Path

    from gisefficiency.maps.html import rewrite_payloads

    page = Path(path).read_text("utf-8")
    packed: list[str] = []
    rewrite_payloads(page, lambda text: packed.append(text) or text)
    assert packed, "the map has no packed payload"
    return page + "\n".join(packed)

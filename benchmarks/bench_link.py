"""Benchmark of ``link.link_firms``: a square grid of parcels and a long firm-year panel.

Run ``python benchmarks/bench_link.py [n_parcels] [n_firm_years]``. The target for reading plus linking
1M parcels and 1M firm-years is under 10 s on the 2-core reference machine; this times the linking.

The synthetic county: 10-mu squares on a grid with 20 m roads (EPSG:4549 around 120E), every parcel
with a holder or not, and firms (4 years each) reaching their land by every route a bureau uses:
the table's parcel id (40 %), land rows with tenants (20 %), the parcel holder (20 %) and GCJ-02 points
(20 %, a tenth of them on a road), plus 1 % pointing at parcel ids that do not exist.
"""

from __future__ import annotations

import math
import sys
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.crs import wgs84_to_gcj02
from gisefficiency.link import link_firms

SIDE_M = math.sqrt(10 * M2_PER_MU)
ROAD_M = 20.0
CRS = "EPSG:4549"


def make_parcels(n_parcels: int) -> gpd.GeoDataFrame:
    """``n_parcels`` 10-mu squares on a near-square grid, as land.prepare_parcels leaves them."""
    cols = math.ceil(math.sqrt(n_parcels))
    k = np.arange(n_parcels)
    x = 450_000.0 + (k % cols) * (SIDE_M + ROAD_M)
    y = 3_050_000.0 + (k // cols) * (SIDE_M + ROAD_M)
    geometry = shapely.box(x, y, x + SIDE_M, y + SIDE_M)
    ids = pd.Index(pd.array([f"P{i:07d}" for i in k], dtype="string"), name="parcel_id")
    return gpd.GeoDataFrame(
        {
            "holder_uscc": pd.array([pd.NA] * n_parcels, dtype="string"),
            "floor_area_m2": np.where(k % 3 == 0, 6000.0, np.nan),
            "geom_status": "ok",
            "status": "ok",
            "land_mu": 10.0,
        },
        geometry=geometry, index=ids, crs=CRS,
    )


def make_firms(parcels: gpd.GeoDataFrame, n_firm_years: int, *, years: int = 4, seed: int = 0):
    """A firm-year panel and land rows; holders are written into a copy of ``parcels``."""
    rng = np.random.default_rng(seed)
    n_firms = n_firm_years // years
    n_parcels = len(parcels)
    uscc = np.array([f"91330300MA{i:08d}" for i in range(n_firms)], dtype=object)
    route = rng.choice(4, size=n_firms, p=[0.4, 0.2, 0.2, 0.2])
    home = rng.integers(0, n_parcels, size=n_firms)
    ids = parcels.index.to_numpy(dtype=object)

    parcels = parcels.copy()
    holder = parcels["holder_uscc"].to_numpy(dtype=object).copy()
    held = route == 2
    holder[home[held]] = uscc[held]
    parcels["holder_uscc"] = pd.array(holder, dtype="string")

    table_pid = np.where(route == 0, ids[home], None)
    bad = rng.random(n_firms) < 0.01
    table_pid[bad & (route == 0)] = "NOPE"

    land_firms = np.flatnonzero(route == 1)
    land = pd.DataFrame({
        "uscc": uscc[land_firms],
        "parcel_id": ids[home[land_firms]],
        "kind": np.where(rng.random(len(land_firms)) < 0.5, "leased", "own"),
        "floor_area_m2": rng.uniform(200, 3000, len(land_firms)).round(),
    })

    cols = math.ceil(math.sqrt(n_parcels))
    x = 450_000.0 + (home % cols) * (SIDE_M + ROAD_M) + SIDE_M / 2
    y = 3_050_000.0 + (home // cols) * (SIDE_M + ROAD_M) + SIDE_M / 2
    on_road = rng.random(n_firms) < 0.1
    x = np.where(on_road, x + SIDE_M / 2 + 5.0, x)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    glon, glat = wgs84_to_gcj02(lon, lat)
    pointed = route == 3

    firm = pd.DataFrame({
        "uscc": uscc, "name": [f"企业{i}" for i in range(n_firms)],
        "parcel_id": pd.array(table_pid, dtype="string"),
        "lon": np.where(pointed, glon, np.nan), "lat": np.where(pointed, glat, np.nan),
        "coord_sys": np.where(pointed, "gcj02", None),
    })
    panel = firm.loc[np.repeat(np.arange(n_firms), years)].reset_index(drop=True)
    panel["year"] = np.tile(np.arange(2024 - years, 2024), n_firms)
    panel["tax"] = rng.gamma(2.0, 50.0, len(panel))
    return parcels, panel, land


def bench(n_parcels: int = 1_000_000, n_firm_years: int = 1_000_000) -> dict:
    """Build the synthetic county and time ``link_firms`` on it (seconds, and counts as a check)."""
    t0 = time.perf_counter()
    parcels = make_parcels(n_parcels)
    parcels, firms, land = make_firms(parcels, n_firm_years)
    t1 = time.perf_counter()
    links = link_firms(parcels, firms, land=land)
    t2 = time.perf_counter()
    report = links.report
    return {
        "n_parcels": n_parcels,
        "n_firm_years": len(firms),
        "n_firms": report.n_firms,
        "build_s": round(t1 - t0, 2),
        "link_s": round(t2 - t1, 2),
        "linked": {m: n for m, (n, _) in report.by_method.items()},
        "point_nearest": report.n_point_nearest,
        "unlinked": len(report.unlinked),
        "mu_shares": round(report.mu_shares, 3),
        "mu_with_firms": round(report.mu_with_firms, 3),
    }


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(bench(*args))

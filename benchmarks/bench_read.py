"""Benchmark of reading inputs: ``read_parcels`` + ``prepare_parcels`` and ``read_firms``.

Run ``python benchmarks/bench_read.py [n_parcels] [n_firm_years] [firm_format]`` to time a generated
county (GeoPackage parcels with Chinese columns, a firm table as csv, parquet or xlsx), or
``python benchmarks/bench_read.py --parcels p.gpkg --firms f.xlsx`` for real files. The target for
reading plus linking 1M parcels is under 10 s on the 2-core reference machine.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisefficiency.constants import M2_PER_MU
from gisefficiency.io.parcels import read_parcels
from gisefficiency.io.tables import read_firms
from gisefficiency.land import prepare_parcels
from gisefficiency.uscc import check_digits

SIDE_M = math.sqrt(10 * M2_PER_MU)
ROAD_M = 20.0


def bench(parcels_path: str | Path, firms_path: str | Path, **read_options) -> dict[str, float]:
    """Time each reading step once.

    Parameters
    ----------
    parcels_path, firms_path
        Files to read.
    **read_options
        Passed to ``read_parcels`` (e.g. ``crs``, ``layer``).

    Returns
    -------
    dict
        Seconds for ``read_parcels``, ``prepare_parcels``, ``read_firms`` and ``total``, plus the row
        counts ``n_parcels`` and ``n_firm_rows``.
    """
    times: dict[str, float] = {}
    start = time.perf_counter()
    parcels = read_parcels(parcels_path, **read_options)
    times["read_parcels"] = time.perf_counter() - start
    mark = time.perf_counter()
    parcels = prepare_parcels(parcels)
    times["prepare_parcels"] = time.perf_counter() - mark
    mark = time.perf_counter()
    firms = read_firms(firms_path)
    times["read_firms"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - start
    times["n_parcels"] = float(len(parcels))
    times["n_firm_rows"] = float(len(firms))
    return times


def make_inputs(folder: Path, n_parcels: int, n_firm_years: int, *, firm_format: str = "csv",
                seed: int = 0) -> tuple[Path, Path]:
    """Write a synthetic parcel GeoPackage and firm table (4 years per firm) into ``folder``."""
    rng = np.random.default_rng(seed)
    cols = math.ceil(math.sqrt(n_parcels))
    k = np.arange(n_parcels)
    x = 450_000.0 + (k % cols) * (SIDE_M + ROAD_M)
    y = 3_050_000.0 + (k // cols) * (SIDE_M + ROAD_M)
    geoms = shapely.box(x, y, x + SIDE_M, y + SIDE_M)
    bad = rng.random(n_parcels) < 0.001  # a few bow-ties to repair
    geoms[bad] = shapely.polygons(np.stack([np.c_[x[bad], y[bad]], np.c_[x[bad] + SIDE_M, y[bad] + SIDE_M],
                                            np.c_[x[bad] + SIDE_M, y[bad]], np.c_[x[bad], y[bad] + SIDE_M],
                                            np.c_[x[bad], y[bad]]], axis=1))
    parcels = gpd.GeoDataFrame(
        {"宗地号": [f"330302{i:07d}" for i in k],
         "证载面积（平方米）": np.where(rng.random(n_parcels) < 0.8, 10 * M2_PER_MU * rng.normal(1, 0.03, n_parcels),
                                   np.nan),
         "土地用途": "工业用地"},
        geometry=geoms, crs="EPSG:4549",
    )
    parcels_path = folder / "parcels.gpkg"
    parcels.to_file(parcels_path, engine="pyogrio", use_arrow=True)

    n_firms = max(n_firm_years // 4, 1)
    first17 = np.array([f"91330300MA{i:07d}" for i in range(n_firms)])
    codes = np.char.add(first17, check_digits(first17))
    years = np.tile(np.arange(2019, 2023), n_firms)
    firms = pd.DataFrame({
        "统一社会信用代码": np.repeat(codes, 4),
        "企业名称": np.repeat([f"企业{i}" for i in range(n_firms)], 4),
        "年度": years,
        "地块编号": np.repeat([f"330302{i:07d}" for i in rng.integers(0, n_parcels, n_firms)], 4),
        "实缴税金（万元）": np.round(rng.gamma(2, 20, n_firms * 4), 2),
        "工业增加值": np.round(rng.gamma(2, 80, n_firms * 4), 2),
        "综合能耗": np.round(rng.gamma(2, 100, n_firms * 4), 1),
        "是否规上": np.where(rng.random(n_firms * 4) < 0.4, "规上", "规下"),
    })
    firms_path = folder / f"firms.{firm_format}"
    if firm_format == "csv":
        firms.to_csv(firms_path, index=False, encoding="utf-8-sig")
    elif firm_format == "parquet":
        firms.to_parquet(firms_path, index=False)
    else:
        firms.to_excel(firms_path, index=False)
    return parcels_path, firms_path


def main(argv: list[str]) -> None:
    if "--parcels" in argv:
        parcels_path = Path(argv[argv.index("--parcels") + 1])
        firms_path = Path(argv[argv.index("--firms") + 1])
        result = bench(parcels_path, firms_path)
    else:
        n_parcels = int(argv[0]) if argv else 100_000
        n_firm_years = int(argv[1]) if len(argv) > 1 else n_parcels
        firm_format = argv[2] if len(argv) > 2 else "csv"
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            parcels_path, firms_path = make_inputs(Path(tmp), n_parcels, n_firm_years, firm_format=firm_format)
            print(f"generated in {time.perf_counter() - start:.1f} s")
            result = bench(parcels_path, firms_path)
    for key, value in result.items():
        print(f"{key:>16}: {value:,.0f}" if key.startswith("n_") else f"{key:>16}: {value:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:])

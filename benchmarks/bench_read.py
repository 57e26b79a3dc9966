"""Benchmark of reading inputs: ``read_parcels`` + ``prepare_parcels`` and ``read_firms`` (Parquet and CSV).

Run ``python benchmarks/bench_read.py [n_parcels] [n_firm_years] [--cache DIR]`` to time a generated
county (parcels with Chinese columns as GeoPackage and GeoParquet; a firm-year table with Chinese
headers, a title row in the CSV, 是/否 flags, dates and blank cells, written as Parquet and CSV), or
``python benchmarks/bench_read.py --parcels p.gpkg --firms f.xlsx [f.csv ...]`` for real files.
``--cache DIR`` keeps the generated files for the next run. The output also gives the load average
(1 minute) before and after: on a shared 2-core machine the wall times follow it. The target for reading plus linking 1M
parcels and 1M firm-years is under 10 s on the 2-core reference machine, so ``read_firms`` should stay
under about 3 s for Parquet and 6 s for CSV.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.uscc import check_digits
from gisefficiency.io.parcels import read_parcels
from gisefficiency.io.tables import read_firms
from gisefficiency.land import prepare_parcels

SIDE_M = math.sqrt(10 * M2_PER_MU)
ROAD_M = 20.0
YEARS = (2020, 2021, 2022, 2023)


def bench(n_parcels: int = 100_000, n_firm_years: int | None = None, *, cache: str | Path | None = None,
          seed: int = 0) -> dict[str, float]:
    """Generate inputs of the given size (or reuse those in ``cache``) and time reading them.

    Parameters
    ----------
    n_parcels
        Parcels in the GeoPackage.
    n_firm_years
        Rows of the firm table (default: as many as parcels).
    cache
        Folder to keep the generated files in between runs; a temporary folder when None.
    seed
        Random seed of the generated data.

    Returns
    -------
    dict
        Seconds per step (see :func:`bench_files`) plus ``generate``.
    """
    n_firm_years = n_parcels if n_firm_years is None else n_firm_years
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(cache) / f"read_{n_parcels}_{n_firm_years}_{seed}" if cache else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        paths = [folder / "parcels.gpkg", folder / "firms.parquet", folder / "firms.csv"]
        if not all(p.exists() for p in paths):
            paths = make_inputs(folder, n_parcels, n_firm_years, seed=seed)
        parquet = folder / "parcels.parquet"
        if not parquet.exists():  # caches written before the GeoParquet copy existed
            gpd.read_file(paths[0], engine="pyogrio", use_arrow=True).to_parquet(parquet)
        generate = time.perf_counter() - start
        out = bench_files(paths[0], paths[1:])
        read, prepare, _ = time_parcels(parquet)
    return {"generate": generate, **out, "read_parcels_parquet": read, "prepare_parcels_parquet": prepare,
            "total_parquet": read + prepare + out["total"] - out["read_parcels"] - out["prepare_parcels"]}


def time_parcels(path: str | Path, **read_options) -> tuple[float, float, int]:
    """Seconds for ``read_parcels`` and ``prepare_parcels`` of one parcel file, and its parcel count."""
    mark = time.perf_counter()
    parcels = read_parcels(path, **read_options)
    read = time.perf_counter() - mark
    mark = time.perf_counter()
    parcels = prepare_parcels(parcels)
    return read, time.perf_counter() - mark, len(parcels)


def bench_files(parcels_path: str | Path, firms_paths: list[str | Path], **read_options) -> dict[str, float]:
    """Time each reading step once.

    Parameters
    ----------
    parcels_path
        Parcel file.
    firms_paths
        Firm tables; each is read with ``read_firms`` and timed under ``read_firms_<suffix>``.
    **read_options
        Passed to ``read_parcels`` (e.g. ``crs``, ``layer``).

    Returns
    -------
    dict
        Seconds for ``read_parcels``, ``prepare_parcels``, each ``read_firms_<suffix>`` and ``total``
        (parcels plus the first firm table), and the row counts ``n_parcels`` and ``n_firm_rows``.
    """
    times: dict[str, float] = {}
    times["read_parcels"], times["prepare_parcels"], n_parcels = time_parcels(parcels_path, **read_options)
    n_firm_rows = 0
    for path in firms_paths:
        mark = time.perf_counter()
        firms = read_firms(path)
        times[f"read_firms_{Path(path).suffix.lstrip('.')}"] = time.perf_counter() - mark
        n_firm_rows = len(firms)
    firm_times = [v for k, v in times.items() if k.startswith("read_firms_")]
    times["total"] = times["read_parcels"] + times["prepare_parcels"] + (firm_times[0] if firm_times else 0.0)
    times["n_parcels"] = float(n_parcels)
    times["n_firm_rows"] = float(n_firm_rows)
    return times


def make_inputs(folder: Path, n_parcels: int, n_firm_years: int, *, seed: int = 0) -> list[Path]:
    """Write a parcel GeoPackage and a firm-year table (4 years per firm) as Parquet and CSV into ``folder``.

    Returns the paths of ``parcels.gpkg``, ``firms.parquet`` and ``firms.csv``.
    """
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
    ids = np.char.add("330302", np.char.zfill(k.astype(str), 7))
    parcels = gpd.GeoDataFrame(
        {"宗地号": ids,
         "证载面积（平方米）": np.where(rng.random(n_parcels) < 0.8, 10 * M2_PER_MU * rng.normal(1, 0.03, n_parcels),
                                   np.nan),
         "土地用途": "工业用地"},
        geometry=geoms, crs="EPSG:4549",
    )
    parcels_path = folder / "parcels.gpkg"
    parcels.to_file(parcels_path, engine="pyogrio", use_arrow=True)

    firms = _firm_table(rng, n_firm_years, ids)
    parquet_path, csv_path = folder / "firms.parquet", folder / "firms.csv"
    firms.to_parquet(parquet_path, index=False)
    # The CSV as a bureau exports it: a title line above the header, UTF-8 with BOM.
    with csv_path.open("w", encoding="utf-8-sig", newline="") as f:
        f.write("XX县2020-2023年度工业企业亩均效益评价数据\n")
        firms.to_csv(f, index=False)
    return [parcels_path, parquet_path, csv_path]


def _firm_table(rng: np.random.Generator, n_rows: int, parcel_ids: np.ndarray) -> pd.DataFrame:
    n_firms = max(n_rows // len(YEARS), 1)
    n = n_firms * len(YEARS)
    first17 = np.char.add("91330300MA", np.char.zfill(np.arange(n_firms).astype(str), 7))
    codes = np.char.add(first17, check_digits(first17))

    def sometimes_missing(values: np.ndarray, share: float) -> np.ndarray:
        return np.where(rng.random(n) < share, np.nan, values)

    above = np.repeat(rng.random(n_firms) < 0.4, len(YEARS))
    start = pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 8000, n_firms), unit="D")
    return pd.DataFrame({
        "统一社会信用代码": np.repeat(codes, len(YEARS)),
        "企业名称": np.repeat(np.char.add("示例企业", np.arange(n_firms).astype(str)), len(YEARS)),
        "年度": np.tile(YEARS, n_firms),
        "地块编号": np.repeat(parcel_ids[rng.integers(0, len(parcel_ids), n_firms)], len(YEARS)),
        "规模(规上/规下)": np.where(above, "规上", "规下"),
        "行业代码": np.repeat(rng.integers(13, 43, n_firms).astype(str), len(YEARS)),
        "实缴税金(万元)": sometimes_missing(np.round(rng.gamma(2, 20, n), 2), 0.02),
        "工业增加值(万元)": sometimes_missing(np.round(rng.gamma(2, 80, n), 2), 0.05),
        "营业收入(万元)": np.round(rng.gamma(2, 400, n), 2),
        "综合能耗(吨标煤)": np.where(above, np.round(rng.gamma(2, 100, n), 1), np.nan),
        "用电量(万千瓦时)": np.round(rng.gamma(2, 50, n), 2),
        "研发经费(万元)": np.round(rng.gamma(1, 10, n), 2),
        "年平均职工人数": rng.integers(5, 800, n).astype(float),
        "高新技术企业(是/否)": np.repeat(np.where(rng.random(n_firms) < 0.2, "是", "否"), len(YEARS)),
        "是否投产": "是",
        "投产日期": np.repeat(start.strftime("%Y-%m-%d").to_numpy(), len(YEARS)),
    })


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.ERROR)  # warnings about the data are not what is measured
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        return
    load_before = os.getloadavg()[0]
    if "--parcels" in argv:
        parcels_path = Path(argv[argv.index("--parcels") + 1])
        firms_paths = [Path(a) for a in argv[argv.index("--firms") + 1:] if not a.startswith("--")]
        result = bench_files(parcels_path, firms_paths)
    else:
        cache = argv[argv.index("--cache") + 1] if "--cache" in argv else None
        sizes = [int(a) for a in argv if a.isdigit()]
        result = bench(sizes[0] if sizes else 100_000, sizes[1] if len(sizes) > 1 else None, cache=cache)
    result = {**result, "load_before": load_before, "load_after": os.getloadavg()[0]}
    print(json.dumps({k: round(v, 3) if not k.startswith("n_") else int(v) for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])

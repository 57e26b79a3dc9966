"""Benchmark the whole pipeline on generated counties of 10k / 100k / 1M parcels.

    python benchmarks/run.py                      # 10k and 100k, with the baseline
    python benchmarks/run.py --sizes 1000000      # 1M (about 2 minutes to generate the first time)
    python benchmarks/run.py --stages             # also each stage's own benchmark module

Each size runs in its own process so peak memory (ru_maxrss) belongs to that run alone. The
results go to ``benchmarks/results/<date>.json``; the README quotes them. The baseline is the
same job done with plain geopandas + libpysal (``baseline.py``); we report our speed as a ratio.
Targets (2 cores): whole run without the map, 100k ≤ 5 s, 1M ≤ 20 s with ≤ 4 GB peak.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"

CONFIG = """
[parcels]
path = "parcels.parquet"
duplicates = "keep_first"
[firms]
path = "firms.parquet"
[land]
path = "land.parquet"
[policy]
preset = "suichang-2022"
year = 2021
[clusters]
enabled = false
[raster]
enabled = {raster}
resolution_m = 20
[output]
dir = "out"
"""


def ensure_county(n: int) -> tuple[Path, float]:
    """Generate (once) a county of ``n`` parcels as GeoParquet/Parquet; return its folder and seconds taken."""
    folder = DATA / str(n)
    if (folder / "parcels.parquet").exists():
        return folder, float("nan")
    from gisefficiency.sample import generate_county, write_sample

    start = time.perf_counter()
    county = generate_county(n, seed=7, with_raster=False)
    generated = time.perf_counter() - start
    write_sample(county, folder, formats=("parquet",))
    return folder, generated


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_run(n: int, raster: bool) -> dict:
    from gisefficiency import pipeline
    from gisefficiency.config import load_config
    from gisefficiency.io.output import write_results_gpkg

    folder, generate_s = ensure_county(n)
    cfg_path = folder / f"bench_{'raster' if raster else 'plain'}.toml"
    cfg_path.write_text(CONFIG.format(raster=str(raster).lower()), encoding="utf-8")
    config = load_config(cfg_path)
    start = time.perf_counter()
    result = pipeline.run(config)
    run_s = time.perf_counter() - start
    stages = dict(result.meta["timings_s"])
    s = time.perf_counter()
    # As ``pipeline.write_all`` (the CLI) writes it: with Arrow's jemalloc pool.
    with pipeline.arrow_memory_pool():
        write_results_gpkg(result, folder / "out" / "results.gpkg")
    stages["write_gpkg"] = time.perf_counter() - s
    return {
        "parcels": n,
        "firm_years": len(result.panel),
        "blocks": len(result.blocks),
        "generate_s": generate_s,
        "run_s": run_s,
        "stages_s": stages,
        "peak_mb": peak_mb(),
    }


def child_baseline(n: int) -> dict:
    sys.path.insert(0, str(HERE))
    from baseline import run_baseline

    folder, _ = ensure_county(n)
    firms = folder / "firms_canonical.parquet"
    if not firms.exists():
        from gisefficiency.io.tables import read_firms

        read_firms(folder / "firms.parquet").to_parquet(firms)
    # Suichang flags firms below 5万元/亩 (upgrade tier), so the baseline flags parcels below 5 too.
    out = run_baseline(folder / "parcels.parquet", firms, year=2021, threshold=5.0)
    out["peak_mb"] = peak_mb()
    return out


def child_stages(n: int) -> dict:
    """Each stage's own benchmark module, where it exists."""
    sys.path.insert(0, str(HERE))
    import importlib

    out = {}
    for name in ("bench_link", "bench_evaluate", "bench_blocks", "bench_raster"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        out[name] = module.bench(n)
    return out


def spawn(kind: str, n: int, *extra: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, f"--{kind}", str(n), *extra], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--stages", action="store_true")
    parser.add_argument("--maps", action="store_true", help="also the 20k-parcel map size/paint benchmark")
    parser.add_argument("--child", type=int)
    parser.add_argument("--child-raster", type=int)
    parser.add_argument("--baseline", type=int)
    parser.add_argument("--stage-child", type=int)
    args = parser.parse_args()

    if args.child is not None:
        print(json.dumps(child_run(args.child, raster=False)))
        return
    if args.child_raster is not None:
        print(json.dumps(child_run(args.child_raster, raster=True)))
        return
    if args.baseline is not None:
        print(json.dumps(child_baseline(args.baseline)))
        return
    if args.stage_child is not None:
        print(json.dumps(child_stages(args.stage_child)))
        return

    report: dict = {"date": dt.datetime.now().isoformat(timespec="seconds"), "sizes": {}}
    for n in (int(s) for s in args.sizes.split(",")):
        entry = {"pipeline": spawn("child", n), "with_rasters": spawn("child-raster", n)}
        if not args.no_baseline:
            entry["baseline"] = spawn("baseline", n)
            ours = entry["pipeline"].get("stages_s", {})
            base = entry["baseline"]
            if "total" in base and ours:
                same_job = sum(ours.get(k, 0.0) for k in ("read", "land", "link", "metrics", "evaluate", "flags", "parcels", "blocks"))
                entry["speedup_vs_baseline"] = base["total"] / same_job if same_job else None
        if args.stages:
            entry["stages"] = spawn("stage-child", n)
        report["sizes"][str(n)] = entry
        print(json.dumps({str(n): entry}, ensure_ascii=False, indent=1))
    if args.maps:
        sys.path.insert(0, str(HERE))
        from bench_maps import bench as bench_maps

        report["maps_20k"] = bench_maps(20_000)
        print(json.dumps(report["maps_20k"], indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"written {path}")


if __name__ == "__main__":
    main()

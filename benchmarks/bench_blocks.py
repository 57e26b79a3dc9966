"""Benchmark: ``find_blocks`` against a plain libpysal + geopandas run of the same job.

Run ``.venv/bin/python benchmarks/bench_blocks.py 10000 100000 1000000``. The baseline builds
``libpysal.graph.Graph.build_fuzzy_contiguity(buffer=gap/2)`` on the flagged parcels (parcels
within ``gap`` of each other), takes its connected components and dissolves them with
``GeoDataFrame.dissolve`` (default unary union). It is run only up to ``baseline_max`` parcels
(100k by default) because it takes minutes beyond that.

``same_blocks`` compares the baseline's blocks with ours without kept parcels. At 100k (seed 0) the
baseline finds 4,147 blocks and we find 4,146: two of its blocks hold parcels 29.97 m apart, which
``dwithin(30)`` joins but the baseline misses, because a 15 m buffer is a polygon inscribed in the
circle (16 segments per quarter) and two of them fall just short of meeting at a corner.

``--cache DIR`` keeps the generated parcels as GeoParquet in ``DIR`` (generating 1M takes 30-60 s);
``--repeat N`` runs each call N times and reports the median and every run.
Each line reports wall and CPU seconds (CPU counts both worker threads) and the 1-minute load
average: other processes on the 2 cores inflate the wall time, so compare runs at a low load.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisefficiency.blocks.find import find_blocks
from gisefficiency.core.constants import M2_PER_MU


def synthetic_parcels(n: int, *, low_share: float = 0.4, seed: int = 0, crs: str = "EPSG:4549") -> gpd.GeoDataFrame:
    """About ``n`` parcels: a grid of 200-400 m blocks with 15-35 m roads (and 300 m of countryside
    every 12 blocks), each block cut into 2-12 quadrilaterals by one slanted cut and slanted
    cross-cuts (T-junctions collinear only up to float rounding, as in cadastral data), edges
    densified to 40 m, 5 % of parcels vacant, 25 % set back by 1-4 m. ``low_share`` of the
    parcels are flagged low-efficiency at random."""
    rng = np.random.default_rng(seed)
    n_blocks = int(np.ceil(n / 6.2 / 0.92 / 0.95)) + 1
    side = int(np.ceil(np.sqrt(n_blocks)))
    cw = rng.uniform(200, 400, side)
    rw = rng.uniform(15, 35, side)
    rw[::12] += 300  # countryside between parks
    x0s = 400000 + np.concatenate([[0], np.cumsum(cw + rw)[:-1]])
    rh = rng.uniform(200, 400, side)
    rr = rng.uniform(15, 35, side)
    rr[::12] += 300
    y0s = 3000000 + np.concatenate([[0], np.cumsum(rh + rr)[:-1]])
    bi, bj = np.divmod(np.arange(side * side), side)
    keep = rng.random(side * side) > 0.08
    bi, bj = bi[keep], bj[keep]
    bx0, by0, bw, bh = x0s[bj], y0s[bi], cw[bj], rh[bi]
    nb = len(bx0)
    k = rng.integers(2, 13, nb)
    m1 = np.maximum(1, (k * rng.uniform(0.3, 0.7, nb)).round().astype(int))
    m1 = np.minimum(m1, k - 1)
    m2 = k - m1
    va = rng.uniform(0.3, 0.7, nb)
    vb = va + rng.uniform(-0.1, 0.1, nb)
    # strips: 2 per block
    s_block = np.repeat(np.arange(nb), 2)
    s_side = np.tile([0, 1], nb)
    s_m = np.column_stack([m1, m2]).ravel()
    p_strip = np.repeat(np.arange(2 * nb), s_m)
    w = rng.uniform(0.5, 1.5, len(p_strip))
    cs = np.cumsum(w)
    starts = np.concatenate([[0], np.cumsum(s_m)[:-1]])
    tot = np.add.reduceat(w, starts)
    before = cs - w - np.repeat(cs[starts] - w[starts], s_m)
    f_lo = before / np.repeat(tot, s_m)
    f_hi = (before + w) / np.repeat(tot, s_m)
    first = np.zeros(len(p_strip), bool)
    first[starts] = True
    last = np.zeros(len(p_strip), bool)
    last[np.cumsum(s_m) - 1] = True
    slope = rng.uniform(-0.03, 0.03, len(p_strip))
    # outer edge fraction vs cut-line fraction differ by slope except at bottom/top edges
    g_lo = np.where(first, 0.0, np.clip(f_lo + np.concatenate([[0], slope[:-1]]), 0.01, 0.99))
    g_hi = np.where(last, 1.0, np.clip(f_hi + slope, 0.01, 0.99))
    b = s_block[p_strip]
    sd = s_side[p_strip]
    X0, Y0, W, H = bx0[b], by0[b], bw[b], bh[b]
    def cut_x(g):
        return X0 + W * (va[b] + (vb[b] - va[b]) * g)

    outer_x = np.where(sd == 0, X0, X0 + W)
    # polygon ring: outer lo, cut lo, cut hi, outer hi
    xs = np.column_stack([outer_x, cut_x(g_lo), cut_x(g_hi), outer_x, outer_x])
    ys = np.column_stack([Y0 + H * f_lo, Y0 + H * g_lo, Y0 + H * g_hi, Y0 + H * f_hi, Y0 + H * f_lo])
    geom = shapely.polygons(np.stack([xs, ys], axis=-1))
    geom = shapely.orient_polygons(geom)
    geom = shapely.segmentize(geom, 40.0)
    vacant = rng.random(len(geom)) < 0.05
    geom = geom[~vacant]
    b = b[~vacant]
    shrink = rng.random(len(geom)) < 0.25
    geom[shrink] = shapely.buffer(geom[shrink], -rng.uniform(1, 4, shrink.sum()), join_style="mitre")
    geom = geom[:n]
    b = b[:n]
    m = len(geom)
    ids = np.char.add("P", np.char.zfill(np.arange(1, m + 1).astype(str), 7))
    area_mu = shapely.area(geom) / M2_PER_MU
    tax = rng.lognormal(1.0, 1.0, m) * area_mu
    low = rng.random(m) < low_share
    street = np.char.add("街道", (bj[b] // 12 % 20).astype(str))
    gdf = gpd.GeoDataFrame({"land_mu": area_mu, "tax": tax, "value_added": tax * 3.0,
        "energy_tce": rng.lognormal(4, 1, m), "n_firms": np.ones(m, int),
        "holder_uscc": np.char.add("91330300MA", np.char.zfill(rng.integers(0, 10**8, m).astype(str), 8)),
        "street": street, "low_efficiency": low}, geometry=geom, crs=crs, index=pd.Index(ids, name="parcel_id"))
    return gdf


def baseline(parcels: gpd.GeoDataFrame, *, gap_m: float = 30.0, min_area_mu: float = 50.0,
             min_parcels: int = 2) -> gpd.GeoDataFrame:
    """The same blocks (no kept parcels) the plain way: libpysal fuzzy contiguity + dissolve."""
    from libpysal.graph import Graph
    from scipy.sparse.csgraph import connected_components

    flagged = parcels[parcels["low_efficiency"]]
    graph = Graph.build_fuzzy_contiguity(flagged.geometry, buffer=gap_m / 2, predicate="intersects")
    _, comp = connected_components(graph.sparse, directed=False)
    frame = flagged[["land_mu", "geometry"]].assign(comp=comp)
    size = frame.groupby("comp")["land_mu"].agg(["size", "sum"])
    ok = size.index[(size["size"] >= min_parcels) & (size["sum"] >= min_area_mu)]
    return frame[frame["comp"].isin(ok)].dissolve("comp", aggfunc={"land_mu": "sum"})


def bench(n: int, *, keep: str = "enclosed", baseline_max: int = 100_000, seed: int = 0,
          cache: str | Path | None = None, repeat: int = 1) -> dict:
    """Time ``find_blocks`` (and the baseline up to ``baseline_max``) on ``n`` synthetic parcels.

    With ``repeat > 1`` each ``find_blocks`` call runs that many times and the median is reported
    (``ours_s``), with every run in ``ours_runs_s``: the host's speed drifts between runs.
    """
    t0 = time.perf_counter()
    path = Path(cache) / f"synthetic_{n}_{seed}.parquet" if cache is not None else None
    if path is not None and path.exists():
        parcels = gpd.read_parquet(path)
    else:
        parcels = synthetic_parcels(n, seed=seed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            parcels.to_parquet(path)
    generate_s = time.perf_counter() - t0

    def timed(**options) -> tuple[object, float, float, list[float]]:
        runs = []
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            out = find_blocks(parcels, **options)
            runs.append((time.perf_counter() - wall, time.process_time() - cpu))
        walls, cpus = np.array(runs).T
        return out, float(np.median(walls)), float(np.median(cpus)), [round(w, 2) for w in walls]

    ours, ours_s, ours_cpu, ours_runs = timed(keep=keep)
    plain, ours_none_s, none_cpu, none_runs = timed(keep="none")
    result = {
        "n_parcels": len(parcels), "n_flagged": int(parcels["low_efficiency"].sum()), "generate_s": round(generate_s, 2),
        "keep": keep, "ours_s": round(ours_s, 2), "ours_cpu_s": round(ours_cpu, 2), "ours_runs_s": ours_runs,
        "ours_keep_none_s": round(ours_none_s, 2), "ours_keep_none_cpu_s": round(none_cpu, 2),
        "ours_keep_none_runs_s": none_runs,
        "n_blocks": len(ours.blocks), "n_kept": int(ours.blocks["n_kept"].sum()),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    if n <= baseline_max:
        t0 = time.perf_counter()
        base = baseline(parcels)
        base_s = time.perf_counter() - t0
        same_area = np.isclose(base["land_mu"].sum(), plain.blocks["area_mu"].sum())
        union_area = np.isclose(shapely.area(base.geometry.values).sum(), plain.blocks.area.sum())
        result.update({
            "baseline_s": round(base_s, 2), "baseline_blocks": len(base),
            "same_blocks": bool(len(base) == len(plain.blocks) and same_area and union_area),
            "speedup_vs_baseline_keep_none": round(base_s / ours_none_s, 1),
        })
    else:
        result["baseline_s"] = None
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Benchmark gisefficiency.blocks.find.find_blocks.")
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--keep", default="enclosed", choices=["enclosed", "share", "none"])
    parser.add_argument("--cache", default=None, help="directory for the generated parcels (GeoParquet)")
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per find_blocks call; the median is reported")
    args = parser.parse_args()
    for size in args.sizes:
        print(json.dumps(bench(size, keep=args.keep, cache=args.cache, baseline_max=args.baseline_max,
                               repeat=args.repeat)), flush=True)

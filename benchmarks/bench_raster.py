"""Benchmark: parcel-index raster, ours (numpy scanline fill) against plain ``rasterio.features.rasterize``.

Run ``python benchmarks/bench_raster.py 100000 1000000`` (sizes optional). ``bench(n)`` returns a dict of
timings in seconds, the speed ratio and the share of cells on which both rasters agree.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import geopandas as gpd
import numpy as np
import shapely

from gisefficiency.core.constants import SAMPLE_CRS
from gisefficiency.raster.layers import metric_raster, parcel_index_raster


def synthetic_parcels(n: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` slanted, densified quadrilateral parcels (median about 15 mu) in parks with roads between.

    Parcels sit on a jittered 120 m lattice, 40-115 m wide, rotated up to 10 degrees, edges densified to
    40 m (about 12-16 vertices each, like the research generator), in EPSG:4549 around Wenzhou.
    """
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    i = np.arange(n)
    cx = 500_000.0 + (i % side) * 120.0 + (i % side) // 10 * 30.0 + rng.uniform(-5, 5, n)
    cy = 3_000_000.0 + (i // side) * 120.0 + (i // side) // 10 * 30.0 + rng.uniform(-5, 5, n)
    hw = rng.uniform(20, 57, n)
    hh = rng.uniform(20, 57, n)
    ang = np.deg2rad(rng.uniform(-10, 10, n))
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], dtype=float)
    dx = corners[None, :, 0] * hw[:, None] * rng.uniform(0.9, 1.1, (n, 5))
    dy = corners[None, :, 1] * hh[:, None] * rng.uniform(0.9, 1.1, (n, 5))
    dx[:, 4], dy[:, 4] = dx[:, 0], dy[:, 0]
    x = cx[:, None] + dx * np.cos(ang)[:, None] - dy * np.sin(ang)[:, None]
    y = cy[:, None] + dx * np.sin(ang)[:, None] + dy * np.cos(ang)[:, None]
    geoms = shapely.segmentize(shapely.polygons(np.stack([x, y], axis=-1)), 40.0)
    ids = np.char.add("P", np.arange(n).astype(str))
    return gpd.GeoDataFrame(
        {"tax_per_mu": rng.gamma(2.0, 2.0, n)}, geometry=geoms, crs=SAMPLE_CRS, index=ids
    ).rename_axis("parcel_id")


def _plain_rasterio(parcels: gpd.GeoDataFrame, index) -> np.ndarray:
    from rasterio.features import rasterize

    shapes = ((g.__geo_interface__, v) for v, g in enumerate(parcels.geometry.array))
    return rasterize(shapes, out_shape=index.array.shape, transform=index.transform, fill=-1, dtype="int32")


def bench(n: int, *, resolution_m: float = 20.0, seed: int = 0) -> dict:
    """Time the parcel-index raster of ``n`` synthetic parcels, ours and plain rasterio.

    Returns
    -------
    dict
        ``n, resolution_m, shape, gen_s, ours_s, metric_s, rasterio_s, ratio`` (rasterio / ours),
        ``agree_share`` (cells with the same parcel in both rasters) and ``peak_rss_mb`` (process peak so
        far, including the parcels and rasterio's run).
    """
    t = time.perf_counter()
    parcels = synthetic_parcels(n, seed=seed)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    index = parcel_index_raster(parcels, resolution_m=resolution_m)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    metric_raster(index, parcels["tax_per_mu"], density=True)
    metric_s = time.perf_counter() - t
    t = time.perf_counter()
    theirs = _plain_rasterio(parcels, index)
    rasterio_s = time.perf_counter() - t
    return {
        "n": n,
        "resolution_m": resolution_m,
        "shape": list(index.array.shape),
        "gen_s": round(gen_s, 3),
        "ours_s": round(ours_s, 3),
        "metric_s": round(metric_s, 3),
        "rasterio_s": round(rasterio_s, 3),
        "ratio": round(rasterio_s / ours_s, 2),
        "agree_share": float(np.mean(theirs == index.array)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [100_000]:
        print(json.dumps(bench(size)), flush=True)

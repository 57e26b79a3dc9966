"""Map size and speed at city scale: map.html size, build and save time, first paint in headless Chromium.

Run: ``.venv/bin/python benchmarks/bench_maps.py [n_parcels ...]`` (default 100,000). The county is generated
once into ``benchmarks/data/<n>/`` (the folder ``run.py`` uses) and run through the pipeline without rasters or
clusters; the map is made with the defaults (every parcel up to ``max_parcels``) and opened ``--opens`` times.

``paint_ms`` is the ``gise-painted`` performance mark that ``map.js`` sets two animation frames after the
visible layers were added, measured from navigation start, so it includes parsing the HTML and unpacking and
decoding the data. ``marks`` splits the first opening: ``gise-start`` (HTML parsed, scripts compiled),
``gise-unpacked`` (first payload part unpacked), ``gise-decoded`` (geometry decoded), ``gise-layers`` (visible
layers added), ``gise-painted``, ``gise-detailed`` (popup and search columns unpacked: clicks answered).
``interact_ms`` times a zoom to 15 at the map's centre and a pan there, the work of a user inspecting parcels.
``load`` is the 1-minute load average at each opening: on a busy machine the times grow with it, so compare
runs at similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from browser import open_page  # noqa: E402
from run import CONFIG, ensure_county  # noqa: E402

from gisefficiency import pipeline  # noqa: E402
from gisefficiency.config import load_config  # noqa: E402
from gisefficiency.maps import make_map, save_map  # noqa: E402

MARKS = "Object.fromEntries(performance.getEntriesByType('mark').map(e => [e.name, Math.round(e.startTime)]))"
INTERACT = """() => {
    const m = GISE.map, t0 = performance.now(), pane = document.querySelector('.leaflet-overlay-pane canvas');
    m.setView(m.getCenter(), 15, {animate: false}); pane.getContext('2d').getImageData(0, 0, 1, 1);
    const zoom = performance.now() - t0;
    m.panBy([400, 300], {animate: false}); pane.getContext('2d').getImageData(0, 0, 1, 1);
    return {zoom15: Math.round(zoom), pan: Math.round(performance.now() - t0 - zoom)}; }"""


def bench(n_parcels: int = 100_000, *, opens: int = 3, basemap: str = "none") -> dict:
    """Build, save and open the map of a generated county of ``n_parcels`` parcels.

    Returns
    -------
    dict
        ``n_parcels, aggregated, simplify, html_mb, make_s, make_cpu_s (CPU time: less sensitive to load), save_s, paint_ms (per opening), marks (first
        opening), interact_ms, load, js_errors``.
    """
    folder, _ = ensure_county(n_parcels)
    cfg_path = folder / "bench_plain.toml"
    cfg_path.write_text(CONFIG.format(raster="false"), encoding="utf-8")
    result = pipeline.run(load_config(cfg_path))
    t0, c0 = time.perf_counter(), time.process_time()
    m = make_map(result, basemap=basemap)
    t1, c1 = time.perf_counter(), time.process_time()
    path = save_map(m, folder / "out" / "map.html")
    t2 = time.perf_counter()
    paint, loads, marks, interact, errors = [], [], None, None, []
    for k in range(opens):
        loads.append(round(os.getloadavg()[0], 1))
        with open_page(path, wait_for="window.GISE && GISE.ready", timeout_ms=120_000, settle_ms=0,
                       screenshot=folder / "out" / "map.png" if k == 0 else False) as page:
            paint.append(round(page.evaluate("performance.getEntriesByName('gise-painted')[0].startTime")))
            if marks is None:
                marks = page.evaluate(MARKS)
                interact = page.evaluate(INTERACT)
            errors += page.errors
    return {
        "n_parcels": n_parcels,
        "aggregated": m.gise_meta["aggregated"],
        "simplify": m.gise_meta["simplify"],
        "html_mb": round(path.stat().st_size / 1e6, 2),
        "make_s": round(t1 - t0, 2),
        "make_cpu_s": round(c1 - c0, 2),
        "save_s": round(t2 - t1, 2),
        "paint_ms": paint,
        "paint_ms_median": statistics.median(paint),
        "marks": marks,
        "interact_ms": interact,
        "load": loads,
        "js_errors": errors,
        "html": str(path),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_parcels", nargs="*", type=int, default=[100_000])
    parser.add_argument("--opens", type=int, default=3, help="how many times the page is opened")
    args = parser.parse_args()
    for n in args.n_parcels:
        print(json.dumps(bench(n, opens=args.opens), ensure_ascii=False))

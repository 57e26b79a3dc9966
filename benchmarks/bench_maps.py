"""Map size and speed: HTML size, generation time and paint time in headless Chromium.

Run: ``.venv/bin/python benchmarks/bench_maps.py [n_parcels]`` (default 20,000). Paint time is the
``gise-painted`` performance mark that ``map.js`` sets two animation frames after the visible layers were
added, measured from navigation start, so it includes parsing the HTML and decoding the data. ``marks`` splits it:
``gise-init`` (HTML parsed, scripts compiled), ``gise-decoded`` (geometry decoded), ``gise-layers`` (visible layers
added), ``gise-painted``. ``load`` is the 1-minute load average when the page was opened: on a busy machine the
paint time grows with it, so compare runs at similar load.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _maps_fixtures import fake_result  # noqa: E402
from browser import open_page  # noqa: E402

from gisefficiency.maps import make_map, save_map  # noqa: E402


def bench(n_parcels: int = 20_000, *, basemap: str = "none", out_dir: str | Path | None = None) -> dict:
    """Build, save and open a map of ``n_parcels`` synthetic parcels (densified 5 m, like digitised data).

    Returns
    -------
    dict
        ``n_parcels, aggregated, simplify, html_mb, make_s, save_s, paint_ms, marks, load, load_ms, js_errors``.
    """
    result = fake_result(n_parcels, xss=False)
    out = Path(out_dir or tempfile.mkdtemp(prefix="bench-maps-"))
    t0 = time.perf_counter()
    m = make_map(result, basemap=basemap)
    t1 = time.perf_counter()
    path = save_map(m, out / f"map_{n_parcels}.html")
    t2 = time.perf_counter()
    load = os.getloadavg()[0]
    with open_page(path, wait_for="window.GISE && GISE.ready", timeout_ms=120_000,
                   screenshot=out / f"map_{n_parcels}.png") as page:
        paint_ms = page.evaluate("performance.getEntriesByName('gise-painted')[0].startTime")
        marks = page.evaluate("Object.fromEntries(performance.getEntriesByType('mark')"
                              ".map(e => [e.name, Math.round(e.startTime)]))")
        errors = page.errors
        load_ms = page.load_ms
    return {
        "n_parcels": n_parcels,
        "aggregated": m.gise_meta["aggregated"],
        "simplify": m.gise_meta["simplify"],
        "html_mb": round(path.stat().st_size / 1e6, 2),
        "make_s": round(t1 - t0, 2),
        "save_s": round(t2 - t1, 2),
        "paint_ms": round(paint_ms),
        "marks": marks,
        "load": round(load, 2),
        "load_ms": round(load_ms),
        "js_errors": errors,
        "html": str(path),
    }


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [20_000]
    for n in sizes:
        print(json.dumps(bench(n), ensure_ascii=False))

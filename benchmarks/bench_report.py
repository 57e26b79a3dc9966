"""Report size and speed at city scale: report.html size, build time, open time in headless Chromium, PDF pages.

Run: ``.venv/bin/python benchmarks/bench_report.py [n_parcels]`` (default 100,000). The county is generated
once into ``benchmarks/data/county_<n>/`` (``county.py``, the folder ``run.py`` uses), the pipeline runs with
its CSV config (the demo's settings), and the report is built with a stand-in map page of ``--map-mb`` megabytes (default 37, what
``make_map`` writes at 100k) so the linking of a large map is part of the measurement without spending a
minute on the real map. ``open_ms`` runs from navigation to the report's ``window.__reportReady`` (every
long table's payload unpacked); ``load`` is the 1-minute load average when the page was opened.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from browser import open_page  # noqa: E402
from county import ensure_county  # noqa: E402

from gisefficiency import pipeline  # noqa: E402
from gisefficiency.config import load_config  # noqa: E402
from gisefficiency.io.output import write_html, write_report_pdf  # noqa: E402
from gisefficiency.report.build import build_report  # noqa: E402


def bench(n_parcels: int = 100_000, *, map_mb: float = 37.0, opens: int = 3, pdf: bool = True) -> dict:
    """Build the report of a generated county of ``n_parcels``, open it ``opens`` times and print it once."""
    county = ensure_county(n_parcels)
    folder = county["folder"]
    result = pipeline.run(load_config(county["configs"]["csv"]))
    stand_in_map = "<!DOCTYPE html><html><body>" + "x" * int(map_mb * 1e6) + "</body></html>"
    t = time.perf_counter()
    page = build_report(result, map_html=stand_in_map)
    build_s = time.perf_counter() - t
    out = folder / "out"
    path = write_html(page, out / "report.html")
    payloads = {m.group(1): len(m.group(2)) for m in re.finditer(r'<table id="([^"]+)"[^>]*data-rest="([^"]*)"', page)}
    open_ms, loads = [], []
    for _ in range(opens):
        loads.append(round(os.getloadavg()[0], 1))
        with open_page(path, wait_for="window.__reportReady === true", timeout_ms=120_000, screenshot=False,
                       settle_ms=0) as check:
            open_ms.append(round(check.load_ms))
            errors = check.errors
    pages = None
    if pdf:
        t = time.perf_counter()
        pdf_path = write_report_pdf(path)
        pdf_s = time.perf_counter() - t
        if pdf_path is not None:
            pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf_path.read_bytes()))
    low = result.firms["low_efficiency"].astype("boolean").fillna(False)
    flagged = int((low | (result.firms["disposal"].fillna("") != "")).sum())
    return {
        "n_parcels": n_parcels,
        "flagged_firms": flagged,
        "blocks": len(result.blocks),
        "html_mb": round(path.stat().st_size / 1e6, 2),
        "payload_mb": {k: round(v / 1e6, 2) for k, v in payloads.items()},
        "map_embedded": "<iframe" in page,
        "build_s": round(build_s, 2),
        "open_ms": open_ms,
        "load": loads,
        "pdf_pages": pages,
        "pdf_s": round(pdf_s, 1) if pdf else None,
        "js_errors": errors,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_parcels", nargs="?", type=int, default=100_000)
    parser.add_argument("--map-mb", type=float, default=37.0)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args()
    print(json.dumps(bench(args.n_parcels, map_mb=args.map_mb, opens=args.opens, pdf=not args.no_pdf),
                     ensure_ascii=False, indent=1))

"""Print the README's benchmark tables (Markdown) from a results file of ``run.py``.

    python benchmarks/table.py [benchmarks/results/<date>.json]     # default: the newest results file
    python benchmarks/run.py --table [FILE]                         # the same
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import SIDE_BY_SIDE  # noqa: E402

CASE_TITLES = {
    "city_xlsx": "`gisefficiency run`, {parcels:,} parcels, .xlsx firm table ({rows:,} rows)",
    "city_csv": "`gisefficiency run`, {parcels:,} parcels, CSV firm table",
    "province": "`gisefficiency run --no-map`, {parcels:,} parcels, CSV firm table",
    "province_pipeline": "`pipeline.run` alone (nothing written), {parcels:,} parcels",
}
STAGE_TITLES = {
    "raster_zonal": "building heights and plot ratio",
    "clusters": "statistical clusters",
    "read_firms": "read the .xlsx firm table ({rows:,} rows)",
    "write_no_html": "all outputs written (map and report HTML apart)",
}


def newest() -> Path:
    """The newest results file in ``benchmarks/results``."""
    files = sorted((HERE / "results").glob("*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise SystemExit("no results in benchmarks/results -> run `make bench` first")
    return files[-1]


def _s(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.0f} s" if v >= 100 else f"{v:.1f} s" if v >= 1 else f"{v:.2f} s"


def _spread(summary: dict[str, Any], unit: str = "s") -> str:
    fmt = (lambda v: f"{v:.2f} GB") if unit == "GB" else _s
    if len(summary.get("runs", [])) <= 1:
        return fmt(summary["median"])
    return f"{fmt(summary['median'])} ({fmt(summary['min'])}–{fmt(summary['max'])})"


def _mark(value: float, target: float) -> str:
    return "met" if value <= target else f"{value / target:.1f}× over"


def markdown(report: dict[str, Any]) -> str:
    """The targets table, the side-by-side table and the stage seconds of each case, as Markdown."""
    cases = report["cases"]
    out = [f"Measured {report['date']} ({report['runs']} run(s) per case; median (min–max); "
           f"load average before {report['machine']['load_before'][0]:.1f}).", "",
           "| what | measured | target | |", "|---|---:|---:|---|"]
    for name, title in CASE_TITLES.items():
        case = cases.get(name)
        if not case or "error" in case:
            continue
        label = title.format(parcels=case["parcels"], rows=case["firm_rows"])
        target = report["targets"][name]
        if "wall_s" in target:
            out.append(f"| {label}: wall | {_spread(case['wall_s'])} | ≤ {target['wall_s']:.0f} s | "
                       f"{_mark(case['wall_s']['median'], target['wall_s'])} |")
        else:
            out.append(f"| {label}: seconds | {_spread(case['pipeline_s'])} | ≤ {target['pipeline_s']:.0f} s | "
                       f"{_mark(case['pipeline_s']['median'], target['pipeline_s'])} |")
        out.append(f"| {label}: peak memory | {_spread(case['peak_gb'], 'GB')} | ≤ {target['peak_gb']:.0f} GB | "
                   f"{_mark(case['peak_gb']['median'], target['peak_gb'])} |")
    city = cases.get("city_xlsx")
    if city and "error" not in city:
        for key, title in STAGE_TITLES.items():
            value = city["write_no_html_s"]["median"] if key == "write_no_html" else city["stages_s"].get(key)
            if value is None:
                continue
            target = report["stage_targets"][key]
            out.append(f"| stage at {city['parcels']:,}: {title.format(rows=city['firm_rows'])} | {_s(value)} | "
                       f"≤ {target:.0f} s | {_mark(value, target)} |")
    analyst = cases.get("analyst")
    if city and analyst and "error" not in city and "error" not in analyst:
        out += ["", _side_by_side(city, analyst)]
    for name, case in cases.items():
        if name == "analyst" or "error" in case:
            continue
        stages = ", ".join(f"{k} {_s(v)}" for k, v in case["stages_s"].items())
        out += ["", f"Stages of {name} (median seconds; read_firms and parcel_metrics run beside others): {stages}."]
        if case.get("startup_s"):
            out.append(f"Wall {_s(case['wall_s']['median'])}: start-up (interpreter, imports, config) "
                       f"{_s(case['startup_s']['median'])}, pipeline {_s(case['pipeline_s']['median'])}, writing "
                       f"{_s(case['write_s']['median'])}, terminal summary {_s(case['after_write_s']['median'])}.")
        if case.get("writers_s"):
            writers = ", ".join(f"{k} {_s(v)}" for k, v in case["writers_s"].items())
            out.append(f"Writing {_s(case['write_s']['median'])}: {writers}.")
        if case.get("files_mb"):
            files = ", ".join(f"{k} {v:.1f} MB" for k, v in case["files_mb"].items() if v >= 1)
            out.append(f"Files of 1 MB or more: {files}.")
    for name, case in cases.items():
        if "error" in case:
            out += ["", f"{name}: failed ({case['error']}): {' / '.join(case.get('log_tail', []))}"]
    return "\n".join(out)


def _side_by_side(city: dict[str, Any], analyst: dict[str, Any]) -> str:
    ours_all = {**city["stages_s"], **{f"w:{k}": v for k, v in city["writers_s"].items()}}
    theirs_all = analyst["steps_s"]
    rows = [f"The analyst's chain beside ours, {city['parcels']:,} parcels, the .xlsx firm table:", "",
            "| output | ours | the analyst's chain | theirs / ours |", "|---|---:|---:|---:|"]
    for label, ours_keys, their_keys in SIDE_BY_SIDE:
        if not all(k in ours_all for k in ours_keys) or not all(k in theirs_all for k in their_keys):
            continue
        ours = sum(ours_all[k] for k in ours_keys)
        theirs = sum(theirs_all[k] for k in their_keys)
        note = " (capped, extrapolated)" if any(k in analyst.get("notes", {}) for k in their_keys) else ""
        rows.append(f"| {label} | {_s(ours)} | {_s(theirs)}{note} | {theirs / ours:.1f}× |")
    ours_total = city["wall_s"]["median"]
    rows.append(f"| **total** (ours: the whole process, every output; theirs: the steps above) | **{_s(ours_total)}** "
                f"| **{_s(analyst['total_s'])}** | **{analyst['total_s'] / ours_total:.1f}×** |")
    rows.append(f"| peak memory | {city['peak_gb']['median']:.2f} GB | {analyst['peak_gb']:.2f} GB | |")
    for step, note in analyst.get("notes", {}).items():
        if "done" in note:
            rows.append(f"\n{step}: stopped after {note['measured_s']:.0f} s with {note['done']:,} of {note['of']:,} "
                        f"parcels done; {note['method']}.")
        else:
            rows.append(f"\n{step}: stopped after {note['capped_after_s']:.0f} s; {note['s_at_10k']:.1f} s at 10k and "
                        f"{note['s_at_30k']:.1f} s at 30k parcels, {note['method']}.")
    return "\n".join(rows)


def print_table(path: Path | None = None) -> None:
    """Print the tables of a results file (default: the newest)."""
    path = path or newest()
    print(markdown(json.loads(path.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    print_table(Path(sys.argv[1]) if len(sys.argv) > 1 else None)

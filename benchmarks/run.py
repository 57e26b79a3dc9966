"""Benchmark ``gisefficiency run`` as a user runs it, with the analyst's chain beside it.

    make bench                                    # = python benchmarks/run.py: the city comparison at 100k
    python benchmarks/run.py --runs 5             # more runs per case (the median is reported)
    python benchmarks/run.py --province           # also 1M parcels: the run without map and report, the pipeline alone
    python benchmarks/run.py --parcels 10000 --runs 1 --analyst-cap 120    # a quick check of the harness
    python benchmarks/run.py --table [FILE]       # the README's table from a results file (default: the newest)

Cases, each a process of its own, timed from start to exit (``os.wait4``: wall seconds and the process's
peak resident memory):

``city_xlsx`` / ``city_csv``
    ``gisefficiency run`` with the demo's settings (clusters, building heights, rasters, three scenarios, one of
    them a drawn polygon, results.gpkg, the Excel lists, map and report; no PDF unless ``--pdf``) on a generated
    county of ``--parcels`` parcels, its firm table as .xlsx or as CSV.
``province``
    The same at ``--province-parcels`` (1M) from CSV with ``--no-map`` (no map and report HTML; an .xlsx sheet
    cannot hold the 3.7M firm-year rows).
``province_pipeline``
    ``pipeline.run`` alone at 1M: nothing written.
``analyst``
    ``baseline.py``: the same outputs made with geopandas, pandas, libpysal, esda and rasterstats.

The child runs the CLI in its own process through ``gisefficiency.cli.app``, the console script's entry, with
the pipeline's ``run`` and the writers wrapped to record their seconds: the stage times are the run's own
``Result.meta["timings_s"]`` (side-thread stages ``read_firms`` and ``parcel_metrics`` overlap the others) and
the writers' times (they may overlap too). Counties are generated once into ``benchmarks/data`` (git-ignored;
``county.py``). Results go to ``benchmarks/results/<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from county import PERMUTATIONS, ensure_county  # noqa: E402

#: Targets of issue 19 (this 2-core machine): wall seconds and peak GB per case, seconds per stage at 100k.
TARGETS: dict[str, dict[str, float]] = {
    "city_xlsx": {"wall_s": 20.0, "peak_gb": 2.0},
    "city_csv": {"wall_s": 20.0, "peak_gb": 2.0},
    "province": {"wall_s": 120.0, "peak_gb": 6.0},
    "province_pipeline": {"pipeline_s": 25.0, "peak_gb": 4.0},
}
STAGE_TARGETS: dict[str, float] = {"raster_zonal": 1.0, "clusters": 2.0, "read_firms": 5.0, "write_no_html": 5.0}
#: Ours against the analyst's, output by output: our stages (and writers) -> the analyst's steps.
SIDE_BY_SIDE: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("read inputs", ("read", "land"), ("read",)),
    ("per-mu metrics, verdicts, flags", ("link", "metrics", "evaluate", "flags", "parcels", "firms"), ("metrics",)),
    ("blocks", ("blocks",), ("blocks",)),
    ("clusters", ("clusters",), ("clusters",)),
    ("building heights, plot ratio", ("raster_zonal",), ("heights",)),
    ("results.gpkg", ("w:results_gpkg",), ("gpkg",)),
    ("map.html", ("w:map_build", "w:map_save"), ("map",)),
]
#: Writers timed inside the CLI run: (module, function, key). A name another version lacks is skipped.
WRITERS: list[tuple[str, str, str]] = [
    ("gisefficiency.io.output", "write_results_gpkg", "results_gpkg"),
    ("gisefficiency.io.workbook", "write_workbook", "workbook_xlsx"),
    ("gisefficiency.io.output", "write_tables", "csv_tables"),
    ("gisefficiency.io.output", "write_rasters", "rasters_tif"),
    ("gisefficiency.pipeline", "_write_ledger", "ledger_xlsx"),
    ("gisefficiency.pipeline", "_density_overlay", "density_overlay"),
    ("gisefficiency.maps", "make_map", "map_build"),
    ("gisefficiency.maps", "save_map", "map_save"),
    ("gisefficiency.report.build", "build_report", "report_build"),
    ("gisefficiency.io.output", "write_html", "report_save"),
    ("gisefficiency.io.output", "write_report_pdf", "report_pdf"),
]
#: Environment variable with the time (``time.time()``) the parent started a child process.
SPAWN_TIME = "GISEFFICIENCY_BENCH_SPAWNED"
HTML_WRITERS = ("map_build", "map_save", "report_build", "report_save", "report_pdf", "density_overlay")


# ----------------------------------------------------------------------------------------------- children


def _wrap(module: Any, name: str, key: str, sink: dict[str, float], ends: dict[str, float]) -> None:
    """Make ``module.name`` add its seconds to ``sink[key]`` and its last end (``time.time()``) to ``ends[key]``."""
    func = getattr(module, name, None)
    if func is None:
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            sink[key] = sink.get(key, 0.0) + time.perf_counter() - start
            ends[key] = max(ends.get(key, 0.0), time.time())

    setattr(module, name, timed)


def child_cli(config: Path, out: Path, report: Path, *, maps: bool, pdf: bool) -> None:
    """``gisefficiency run CONFIG --out OUT`` in this process, with the stage and writer seconds to REPORT."""
    import importlib

    from gisefficiency import pipeline
    from gisefficiency.cli import app

    writers: dict[str, float] = {}
    ends: dict[str, float] = {}
    captured: dict[str, Any] = {}
    for module_name, name, key in WRITERS:
        _wrap(importlib.import_module(module_name), name, key, writers, ends)
    run, write_all = pipeline.run, pipeline.write_all

    def run_and_keep(*args: Any, **kwargs: Any) -> Any:
        captured["run_start"] = time.time()
        captured["result"] = run(*args, **kwargs)
        captured["pipeline_s"] = time.time() - captured["run_start"]
        return captured["result"]

    def write_and_time(*args: Any, **kwargs: Any) -> Any:
        start = captured["write_start"] = time.time()
        try:
            return write_all(*args, **kwargs)
        finally:
            captured["write_end"] = time.time()
            captured["write_s"] = captured["write_end"] - start

    pipeline.run, pipeline.write_all = run_and_keep, write_and_time
    argv = ["run", str(config), "--out", str(out), *([] if maps else ["--no-map"]), *([] if pdf else ["--no-pdf"])]
    code: Any = 0
    try:
        app(argv, prog_name="gisefficiency")
    except SystemExit as exc:
        code = exc.code
    end = time.time()
    result = captured.get("result")
    # The writers run side by side, so the outputs other than the HTML are written when the last of their
    # writers ends (the HTML builders compete for the cores meanwhile: this is the slower, honest figure).
    plain_ends = [t for k, t in ends.items() if k not in HTML_WRITERS]
    spawned = float(os.environ.get(SPAWN_TIME, "nan"))
    facts = {
        "exit_code": code,
        # From the process's start to the pipeline: the interpreter, imports, the config and its checks.
        "startup_s": captured["run_start"] - spawned if "run_start" in captured else None,
        "pipeline_s": captured.get("pipeline_s"),
        # After the outputs: the link report and the summary printed in the terminal.
        "after_write_s": end - captured["write_end"] if "write_end" in captured else None,
        "write_s": captured.get("write_s"),
        "write_no_html_s": max(plain_ends) - captured["write_start"] if plain_ends and "write_start" in captured
        else None,
        "stages_s": dict(result.meta.get("timings_s", {})) if result is not None else {},
        "writers_s": writers,
        "rows": _rows(result),
        "files_mb": {p.name: round(p.stat().st_size / 1e6, 2) for p in sorted(out.glob("*")) if p.is_file()},
    }
    report.write_text(json.dumps(facts, ensure_ascii=False), encoding="utf-8")


def child_pipeline(config: Path, report: Path) -> None:
    """``pipeline.run`` alone (nothing written), its seconds and stage times to REPORT."""
    from gisefficiency import pipeline
    from gisefficiency.config import load_config

    loaded = load_config(config)
    start = time.perf_counter()
    result = pipeline.run(loaded)
    facts = {"exit_code": 0, "pipeline_s": time.perf_counter() - start,
             "stages_s": dict(result.meta.get("timings_s", {})), "rows": _rows(result)}
    report.write_text(json.dumps(facts), encoding="utf-8")


def _rows(result: Any) -> dict[str, int]:
    if result is None:
        return {}
    return {"parcels": len(result.parcels), "firms": len(result.firms), "blocks": len(result.blocks),
            "unit_years": len(result.panel)}


# ----------------------------------------------------------------------------------------------- parent


def spawn(args: list[str], *, log: Path, lines: Path | None = None, cap_s: float | None = None) -> dict[str, Any]:
    """Run ``python <args>`` as a process of its own; wall seconds, peak memory and exit status.

    With ``lines`` and ``cap_s``, the process is stopped when a step other than ``read`` and ``metrics`` has run
    for ``cap_s`` seconds and a grace of a fifth more (``baseline.py`` writes a line as each step starts and ends, and stops its heights step at
    the cap itself); ``capped`` then names the step.
    """
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        env = {**os.environ, SPAWN_TIME: repr(time.time())}
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, cwd=HERE.parent, env=env)
        capped = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if lines is not None and cap_s is not None and lines.is_file():
                last = [json.loads(x) for x in lines.read_text(encoding="utf-8").splitlines() if x.strip()]
                # Reading and the metrics are never stopped: every later step needs what they make.
                if (last and last[-1].get("start") not in (None, "read", "metrics")
                        and time.time() - last[-1]["t"] > 1.2 * cap_s + 10):
                    capped = last[-1]["start"]
                    proc.send_signal(signal.SIGTERM)
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
            time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: Popen must not wait again
    return {"wall_s": time.perf_counter() - start, "peak_mb": usage.ru_maxrss / 1024,
            "returncode": proc.returncode, "capped": capped, "log": str(log)}


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def _median_dict(dicts: list[dict[str, float]]) -> dict[str, float]:
    keys = list(dict.fromkeys(k for d in dicts for k in d))  # in the order the run met them
    return {k: statistics.median([d[k] for d in dicts if d.get(k) is not None]) for k in keys
            if any(d.get(k) is not None for d in dicts)}


def bench_case(name: str, county: dict[str, Any], *, kind: str, runs: int, mode: str, pdf: bool,
               work: Path) -> dict[str, Any]:
    """``runs`` processes of one case; medians, min and max of wall and peak, median stage times."""
    config = county["configs"][kind]
    out = county["folder"] / f"out_{name}"
    facts: list[dict[str, Any]] = []
    procs: list[dict[str, Any]] = []
    for i in range(runs):
        report = work / f"{name}_{i}.json"
        report.unlink(missing_ok=True)
        if mode == "pipeline":
            args = [__file__, "--child-pipeline", str(config), str(report)]
        else:
            args = [__file__, "--child-cli", str(config), str(out), str(report),
                    *(["--no-map"] if mode == "no_map" else []), *(["--pdf"] if pdf else [])]
        proc = spawn(args, log=work / f"{name}_{i}.log")
        fact = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {"exit_code": "no report"}
        if proc["returncode"] != 0 or fact.get("exit_code") not in (0, None):
            tail = Path(proc["log"]).read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            return {"error": f"exit {proc['returncode']}", "log_tail": tail}
        procs.append(proc)
        facts.append(fact)
        _progress(f"{name} run {i + 1}/{runs}: {proc['wall_s']:.1f} s, {proc['peak_mb'] / 1024:.2f} GB")
    entry: dict[str, Any] = {
        "parcels": county["n_parcels"], "firm_rows": county["n_firm_rows"], "firm_table": kind, "mode": mode,
        "wall_s": _summary([p["wall_s"] for p in procs]),
        "peak_gb": _summary([p["peak_mb"] / 1024 for p in procs]),
        "pipeline_s": _summary([f["pipeline_s"] for f in facts]),
        "stages_s": _median_dict([f["stages_s"] for f in facts]),
        "rows": facts[-1].get("rows", {}),
    }
    if mode != "pipeline":
        entry["startup_s"] = _summary([f["startup_s"] for f in facts])
        entry["after_write_s"] = _summary([f["after_write_s"] for f in facts])
        entry["write_s"] = _summary([f["write_s"] for f in facts])
        entry["write_no_html_s"] = _summary([f["write_no_html_s"] for f in facts])
        entry["writers_s"] = _median_dict([f["writers_s"] for f in facts])
        entry["files_mb"] = facts[-1].get("files_mb", {})
    return entry


def bench_analyst(county: dict[str, Any], *, cap_s: float, work: Path) -> dict[str, Any]:
    """The analyst's chain once; a step stopped at the cap is extrapolated from 10k and 30k parcels."""
    from baseline import STEPS

    folder, out = county["folder"], county["folder"] / "out_analyst"
    steps: dict[str, float] = {}
    notes: dict[str, Any] = {}
    skip: list[str] = []
    peak = 0.0
    while True:
        lines = work / f"analyst_{len(skip)}.jsonl"
        lines.unlink(missing_ok=True)
        proc = spawn([str(HERE / "baseline.py"), str(folder), str(out), str(lines), str(PERMUTATIONS), str(cap_s),
                      ",".join(skip)], log=work / f"analyst_{len(skip)}.log", lines=lines, cap_s=cap_s)
        peak = max(peak, proc["peak_mb"])
        done = [json.loads(x) for x in lines.read_text(encoding="utf-8").splitlines()] if lines.is_file() else []
        for line in done:
            if "step" in line and line["step"] not in steps:
                steps[line["step"]] = line["s"]
                if "capped" in line:
                    notes[line["step"]] = {"capped_after_s": cap_s, **line["capped"]}
        if proc["capped"] is None:
            if proc["returncode"] != 0:
                tail = Path(proc["log"]).read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
                return {"error": f"exit {proc['returncode']}", "log_tail": tail, "steps_s": steps}
            break
        step = proc["capped"]
        _progress(f"analyst: {step} stopped after {cap_s:.0f} s; extrapolating from 10k and 30k parcels")
        steps[step] = _extrapolate(step, county["n_parcels"], cap_s=cap_s, work=work, notes=notes)
        skip.append(step)  # the rerun reads again (the later steps need it) but only the new steps count
    return {"parcels": county["n_parcels"], "firm_table": "xlsx", "steps_s": {s: steps[s] for s in STEPS if s in steps},
            "total_s": sum(steps.values()), "peak_gb": peak / 1024, "notes": notes,
            "files_mb": {p.name: round(p.stat().st_size / 1e6, 2) for p in sorted(out.glob("*")) if p.is_file()}}


def _extrapolate(step: str, n: int, *, cap_s: float, work: Path, notes: dict[str, Any]) -> float:
    """Seconds of ``step`` at ``n`` parcels from a power law t = a n^b through its times at 10k and 30k."""
    from baseline import STEPS

    keep = {"read", "metrics", step}
    times = {}
    for size in (10_000, 30_000):
        county = ensure_county(size)
        lines = work / f"analyst_{step}_{size}.jsonl"
        lines.unlink(missing_ok=True)
        spawn([str(HERE / "baseline.py"), str(county["folder"]), str(county["folder"] / "out_analyst"), str(lines),
               str(PERMUTATIONS), str(cap_s), ",".join(s for s in STEPS if s not in keep)],
              log=work / f"analyst_{step}_{size}.log")
        found = [json.loads(x) for x in lines.read_text(encoding="utf-8").splitlines()]
        times[size] = next(x["s"] for x in found if x.get("step") == step)
    exponent = max(1.0, math.log(times[30_000] / times[10_000]) / math.log(3))
    estimate = times[30_000] * (n / 30_000) ** exponent
    notes[step] = {"capped_after_s": cap_s, "s_at_10k": times[10_000], "s_at_30k": times[30_000],
                   "method": f"power law through 10k and 30k parcels, exponent {exponent:.2f} (at least 1)"}
    return estimate


def _progress(text: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {text}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--parcels", type=int, default=100_000, help="parcels of the city comparison (100000)")
    parser.add_argument("--runs", type=int, default=3, help="processes per case; the median is reported (3)")
    parser.add_argument("--province", action="store_true", help="also the 1M-parcel cases")
    parser.add_argument("--province-parcels", type=int, default=1_000_000)
    parser.add_argument("--no-analyst", action="store_true", help="leave out the analyst's chain")
    parser.add_argument("--no-city", action="store_true", help="leave out the city cases (e.g. with --province)")
    parser.add_argument("--analyst-cap", type=float, default=600.0,
                        help="seconds one analyst step may run before it is stopped and extrapolated (600)")
    parser.add_argument("--pdf", action="store_true", help="also print report.pdf in the city cases")
    parser.add_argument("--out", type=Path, help="results file (default benchmarks/results/<date>.json)")
    parser.add_argument("--table", nargs="?", const="", metavar="FILE",
                        help="print the README table from a results file (default: the newest) and stop")
    parser.add_argument("--child-cli", nargs=3, metavar=("CONFIG", "OUT", "REPORT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-pipeline", nargs=2, metavar=("CONFIG", "REPORT"), help=argparse.SUPPRESS)
    parser.add_argument("--no-map", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_cli:
        config, out, report = (Path(a) for a in args.child_cli)
        child_cli(config, out, report, maps=not args.no_map, pdf=args.pdf)
        return
    if args.child_pipeline:
        child_pipeline(Path(args.child_pipeline[0]), Path(args.child_pipeline[1]))
        return
    if args.table is not None:
        from table import print_table

        print_table(Path(args.table) if args.table else None)
        return

    started = dt.datetime.now(dt.UTC)
    work = RESULTS / "work"
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"), "machine": _machine(), "runs": args.runs,
        "permutations": PERMUTATIONS, "analyst_cap_s": args.analyst_cap, "targets": TARGETS,
        "stage_targets": STAGE_TARGETS, "cases": {},
    }
    if not args.no_city:
        city = ensure_county(args.parcels)
        _progress(f"county of {args.parcels:,} parcels ready ({city['n_firm_rows']:,} firm-year rows)")
        for kind in ("xlsx", "csv"):
            if kind in city["configs"]:
                report["cases"][f"city_{kind}"] = bench_case(f"city_{kind}", city, kind=kind, runs=args.runs,
                                                             mode="full", pdf=args.pdf, work=work)
        if not args.no_analyst and "xlsx" in city["configs"]:
            _progress("analyst's chain")
            report["cases"]["analyst"] = bench_analyst(city, cap_s=args.analyst_cap, work=work)
    if args.province:
        province = ensure_county(args.province_parcels)
        _progress(f"county of {args.province_parcels:,} parcels ready")
        report["cases"]["province"] = bench_case("province", province, kind="csv", runs=args.runs, mode="no_map",
                                                 pdf=False, work=work)
        report["cases"]["province_pipeline"] = bench_case("province_pipeline", province, kind="csv", runs=args.runs,
                                                          mode="pipeline", pdf=False, work=work)
    report["load_after"] = os.getloadavg()
    path = args.out or RESULTS / f"{started:%Y-%m-%d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    from table import print_table

    print_table(path)
    print(f"\nwritten {path}")


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": os.getloadavg(),
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


if __name__ == "__main__":
    main()

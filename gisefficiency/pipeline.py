"""The orchestrator: chains the stages for one configuration. It holds no logic of its own.

Data flows one way: io -> land -> link -> metrics -> evaluate -> raster (zonal, plot ratio)
-> parcel flags -> blocks -> clusters -> scenarios -> assembled Result. Writing files is
``gisefficiency.io.output.write_outputs``.

Stages that need nothing from each other run side by side, one in a side thread: the firm table is
read while the parcels are read and prepared, the parcel panel is computed during the unit panel and
the evaluation. ``meta["timings_s"]`` holds each stage's own seconds: the main thread's stages add
up to the run (a wait for a side stage counts in the stage that waits), and the side stages
(``read_firms``, ``parcel_metrics``) overlap them.

Arrow buffers (text columns, Parquet reads) come from Arrow's jemalloc pool while :func:`run` and
:func:`write_all` work (see :func:`arrow_memory_pool`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gisefficiency.config import Config
from gisefficiency.core.errors import ConfigError, InputError, Problem, format_ids
from gisefficiency.result import Result, assemble

log = logging.getLogger(__name__)

Step = Callable[[str], contextlib.AbstractContextManager[Any]]


@contextlib.contextmanager
def _quiet_step(label: str) -> Iterator[None]:
    yield


_POOL_LOCK = threading.Lock()
_POOL_STATE: dict[str, Any] = {"depth": 0, "saved": None}  # blocks under way, and the pool to restore


@contextlib.contextmanager
def arrow_memory_pool() -> Iterator[None]:
    """Make Arrow's jemalloc pool the default memory pool inside the block, then restore the old one.

    pyarrow's default pool on Linux is mimalloc, which backs big buffers with huge pages. On the
    benchmark VM the first touch of fresh memory is costly, and huge pages make it about four
    times costlier (1 GB: 3.9 s against 0.8 s). With jemalloc a 100k-parcel run spends 1.5 s in the
    kernel instead of 2.8 s, and its peak memory is 0.1 GB lower (README, Benchmarks). Buffers keep
    the pool they came from, so switching back is safe. Blocks may nest or run in several threads:
    the first one in switches and the last one out restores. A pool chosen by the user with the
    ``ARROW_DEFAULT_MEMORY_POOL`` environment variable, or a pyarrow built without jemalloc, is
    left alone.
    """
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") or "jemalloc" not in pa.supported_memory_backends():
        yield
        return
    pool = pa.jemalloc_memory_pool()
    with _POOL_LOCK:
        if _POOL_STATE["depth"] == 0:
            _POOL_STATE["saved"] = pa.default_memory_pool()
            pa.set_memory_pool(pool)
        _POOL_STATE["depth"] += 1
    try:
        yield
    finally:
        with _POOL_LOCK:
            _POOL_STATE["depth"] -= 1
            if _POOL_STATE["depth"] == 0:
                pa.set_memory_pool(_POOL_STATE["saved"])
                _POOL_STATE["saved"] = None


def run(config: Config, *, step: Step | None = None) -> Result:
    """Run every stage on the inputs named in ``config``.

    Parameters
    ----------
    config
        A validated configuration (see :func:`gisefficiency.config.load_config`).
    step
        Optional context-manager factory wrapping each stage (the CLI shows progress with it).

    Returns
    -------
    Result
    """
    with arrow_memory_pool():
        return _run(config, step=step)


def _run(config: Config, *, step: Step | None) -> Result:
    from gisefficiency.blocks.find import find_blocks
    from gisefficiency.evaluate.policy import load_preset
    from gisefficiency.evaluate.verdicts import evaluate, flag_parcels
    from gisefficiency.io.tables import read_firms
    from gisefficiency.metrics.indicators import parcel_metrics, unit_metrics

    step = step or _quiet_step
    timings: dict[str, float] = {}

    @contextlib.contextmanager
    def clock(key: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            timings[key] = time.perf_counter() - start

    @contextlib.contextmanager
    def timed(key: str, label: str) -> Iterator[None]:
        with clock(key), step(label):
            yield

    def beside(key: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func`` in the side thread, timed under ``key`` (its time overlaps the main thread's)."""

        def call() -> Any:
            with clock(key):
                return func(*args, **kwargs)

        return side.submit(call)

    if config.parcels.path is None or config.firms.path is None:
        raise ConfigError("config: [parcels] path and [firms] path are required -> add both to the config")

    with timed("policy", "载入政策 / policy preset"):
        policy = load_preset(config.policy.preset)
        year = config.policy.year or policy.reference_year

    # Stages that do not need each other run side by side on the machine's two cores: their numpy,
    # Arrow and GEOS calls release the GIL. The side thread runs one stage at a time.
    side = ThreadPoolExecutor(max_workers=1)
    try:
        with step("读取数据、地块面积 / reading inputs, land area"):
            start = time.perf_counter()
            firms_job = beside("read_firms", read_firms, config.firms.path, **firm_options(config))
            parcels = read_configured_parcels(config)
            land = read_configured_land(config)
            with clock("land"):
                parcels = prepare_configured_parcels(config, parcels)
            firms = firms_job.result()
            # Reading is the phase less the land preparation done while the firm table was read.
            timings["read"] = time.perf_counter() - start - timings["land"]

        with timed("link", "企业关联地块 / linking firms"):
            links = link_configured(config, parcels, firms, land)

        # The parcel panel is needed only by the parcel flags: it is computed beside the unit panel
        # and the evaluation.
        parcel_job = beside(
            "parcel_metrics", parcel_metrics, parcels, firms, links, emission_weights=policy.emission_weights
        )
        with timed("metrics", "亩均指标 / per-mu metrics"):
            panel = unit_metrics(firms, links, parcels=parcels, emission_weights=policy.emission_weights)

        with timed("evaluate", "综合评价 / evaluation"):
            evaluation = evaluate(panel, policy, year=year, links=links)
            year = evaluation.year  # the data's latest year when neither config nor preset names one

        if config.raster.enabled and config.raster.height is not None:
            with timed("raster_zonal", "建筑高度与容积率 / building height and plot ratio"):
                parcels = assemble.add_columns(parcels, _building_stats(parcels, config))

        with timed("flags", "低效用地 / low-efficiency land"):
            parcel_panel = parcel_job.result()
            flags = flag_parcels(parcels, parcel_panel, links, evaluation.verdicts, policy, year=year)
    finally:
        # On an error the main thread does not wait for the side stage (a missing parcel file is
        # reported before the firm workbook is read to its end); normally every side job is done here.
        side.shutdown(wait=False, cancel_futures=True)

    with timed("parcels", "地块汇总 / parcel table"):
        parcels = assemble.parcels_table(parcels, links, parcel_panel, evaluation, flags, year=year)

    with timed("firms", "企业汇总 / firm table"):
        firms_table = assemble.firms_table(firms, links, evaluation, panel, parcels, year=year)
    del firms  # the raw firm-year table is no longer needed: its memory serves the later stages

    with timed("blocks", "集中连片 / contiguous blocks"):
        blocks = find_blocks(
            parcels,
            gap_m=config.blocks.gap_m,
            min_area_mu=config.blocks.min_area_mu,
            min_parcels=config.blocks.min_parcels,
            keep=config.blocks.keep,
            keep_max_share=config.blocks.keep_max_share,
            close_gaps=config.blocks.close_gaps,
            target_tax_per_mu=config.blocks.target_tax_per_mu or policy.target_tax_per_mu,
        )
        parcels = assemble.add_columns(parcels, blocks.membership)

    clusters = None
    if config.clusters.enabled:
        with timed("clusters", "空间聚类 / statistical clusters"):
            clusters = _clusters(parcels, config)
            parcels = assemble.add_columns(parcels, clusters[["cluster"]])

    raster_out = None
    if config.raster.enabled:
        from gisefficiency.raster.layers import raster_outputs

        with timed("rasters", "栅格图层 / raster layers"):
            raster_out = raster_outputs(
                parcels[parcels["status"] == "ok"],
                resolution_m=config.raster.resolution_m,
                metrics=config.raster.metrics,
                bandwidth_m=config.raster.bandwidth_m,
                density_resolution_m=config.raster.density_resolution_m,
            )

    result = Result(
        parcels=parcels,
        firms=firms_table,
        blocks=blocks.blocks,
        panel=panel,
        year=year,
        policy=policy,
        links=links,
        evaluation=evaluation,
        clusters=clusters,
        meta={
            "county": config.project.name,
            "config": str(config.source) if config.source else None,
            "parcels_path": str(config.parcels.path),
            "firms_path": str(config.firms.path),
            "timings_s": timings,
            "parcel_panel": parcel_panel,
        },
    )

    with timed("scenarios", "情景测算 / scenarios"):
        result.scenarios = run_scenarios(result, config)
        result.parcels = assemble.mark_scenario(result.parcels, result.scenarios)

    result.meta["raster"] = raster_out
    return result


def read_configured_parcels(config: Config) -> Any:
    """Read ``[parcels]`` as the config says (shared by :func:`run` and ``validate``)."""
    from gisefficiency.io.parcels import read_parcels

    return read_parcels(
        config.parcels.path,
        layer=config.parcels.layer,
        id_column=config.parcels.id,
        crs=config.parcels.crs,
        encoding=config.parcels.encoding,
        engine=config.parcels.engine,
        aliases=config.parcels.aliases or None,
    )


def prepare_configured_parcels(config: Config, parcels: Any) -> Any:
    """Repair geometries and compute land in mu as ``[parcels]`` says."""
    from gisefficiency.land import prepare_parcels

    return prepare_parcels(
        parcels,
        area_basis=config.parcels.area_basis,
        area_diff_share=config.parcels.area_diff_share,
        duplicates=config.parcels.duplicates,
    )


def firm_options(config: Config) -> dict[str, Any]:
    """Keyword options of ``read_firms`` / ``check_firms`` from ``[firms]``."""
    return {"sheet": config.firms.sheet, "aliases": config.firms.aliases or None, "units": config.firms.units or None}


def read_configured_land(config: Config) -> Any:
    """Read the optional ``[land]`` rows, or None."""
    from gisefficiency.io.tables import read_land

    return read_land(config.land.path, aliases=config.land.aliases or None) if config.land.path else None


def link_configured(config: Config, parcels: Any, firms: Any, land: Any) -> Any:
    """Link firms to parcels with the ``[link]`` options."""
    from gisefficiency.link import link_firms

    return link_firms(
        parcels,
        firms,
        land=land,
        methods=config.link.methods,
        tenant_mode=config.link.tenant_mode,
        fixed_ratio_m2_per_mu=config.link.fixed_ratio_m2_per_mu,
        nearest_m=config.link.nearest_m,
        point_crs=config.link.point_crs,
        combine=config.link.combine,
        table_years=config.link.table_years,
    )


def run_scenarios(result: Result, config: Config) -> list[Any]:
    """Run every ``[[scenarios]]`` of the config on a result (the top-ranked blocks if none given)."""
    from gisefficiency.scenario.freed import Scenario, run_scenario

    specs = config.scenarios or (_default_scenario(result),)
    scenarios = []
    for spec in specs:
        blocks = spec.blocks
        if spec.top_blocks:
            ranked = result.blocks.sort_values("rank").index[: spec.top_blocks]
            blocks = tuple(int(b) for b in ranked)
        polygon = None
        if spec.polygon is not None:
            from gisefficiency.io.vector import read_selection_polygon

            polygon = read_selection_polygon(spec.polygon)
        scenario = Scenario(
            name=spec.name or "scenario",
            blocks=blocks,
            parcels=spec.parcels,
            firms=spec.firms,
            polygon=polygon,
            target_tax_per_mu=spec.target_tax_per_mu or result.policy.target_tax_per_mu,
            target_tce_per_mu=spec.target_tce_per_mu,
        )
        scenarios.append(
            run_scenario(
                result.parcels,
                scenario,
                blocks=result.blocks,
                firms=result.firms,
                targets=dict(result.policy.targets),
                year=result.year,
            )
        )
    return scenarios


def _default_scenario(result: Result) -> Any:
    from gisefficiency.config import ScenarioSection

    return ScenarioSection(name="全部连片区块 / all blocks", blocks=tuple(int(b) for b in result.blocks.index))


def _building_stats(parcels: Any, config: Config) -> Any:
    """Zonal statistics of the building-height raster and the plot ratio estimate per parcel."""
    from gisefficiency.io.raster import read_raster
    from gisefficiency.raster.layers import plot_ratio, zonal_stats

    height = read_raster(config.raster.height)
    ok = parcels[parcels["status"] == "ok"]
    stats = zonal_stats(ok, height, stats=("max", "coverage")).rename(
        columns={"max": "height_max_m", "coverage": "height_coverage_share"}
    )
    ratio = plot_ratio(ok, height, storey_height_m=config.raster.storey_height_m)
    return stats.join(ratio.drop(columns=[c for c in ratio.columns if c in stats.columns]))


def _clusters(parcels: Any, config: Config) -> Any:
    from gisefficiency.blocks.clusters import local_clusters

    return local_clusters(
        parcels[parcels["status"] == "ok"],
        column=config.clusters.column,
        method=config.clusters.method,
        gap_m=config.blocks.gap_m,
        permutations=config.clusters.permutations,
        fdr=config.clusters.fdr,
        seed=config.clusters.seed,
    )


def write_all(
    result: Result,
    config: Config,
    *,
    out_dir: Any = None,
    lang: str | None = None,
    anonymise: bool | None = None,
    maps: bool = True,
) -> dict[str, Any]:
    """Write every output of a run: results.gpkg, CSV tables, GeoTIFFs, map.html and report.html.

    Parameters
    ----------
    result
        What :func:`run` returned.
    config
        The run's configuration (output folder, map and raster options).
    out_dir
        Overrides ``[output] dir``.
    lang
        ``"zh"`` or ``"en"``; overrides ``[map] lang``.
    anonymise
        Replace firm names and USCCs by codes in the map and report; overrides ``[output] anonymise``.
    maps
        Also write the HTML map and report.
    """
    with arrow_memory_pool():
        return _write_all(result, config, out_dir=out_dir, lang=lang, anonymise=anonymise, maps=maps)


def _write_all(result: Result, config: Config, *, out_dir: Any, lang: str | None, anonymise: bool | None,
               maps: bool) -> dict[str, Any]:
    from pathlib import Path

    from gisefficiency.io.output import write_html, write_outputs

    out = Path(out_dir) if out_dir else Path(config.output.dir)
    lang = lang or config.map.lang
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang = {lang!r}: must be 'zh' or 'en'")
    anonymise = config.output.anonymise if anonymise is None else anonymise
    written = write_outputs(result, out)
    overlays = {}
    raster_out = result.meta.get("raster")
    if raster_out is not None:
        from gisefficiency.io.output import write_rasters

        rasters = write_rasters(raster_out, out)
        written.update(rasters)
        result.rasters = rasters
        overlays = _density_overlay(raster_out, lang)
    if config.ledger.enabled:
        written.update(_write_ledger(result, config, out))
    if maps:
        from gisefficiency.maps import make_map, save_map
        from gisefficiency.report.build import anonymise_result, build_report

        shown = anonymise_result(result) if anonymise else result
        m = make_map(
            shown,
            lang=lang,
            basemap=config.map.basemap,
            offline=config.map.offline,
            tianditu_key=config.map.tianditu_key,
            max_parcels=config.map.max_parcels,
            overlays=overlays,
        )
        map_path = save_map(m, out / "map.html", inline=config.map.offline)
        written["map"] = map_path
        html = build_report(shown, lang=lang, anonymise=anonymise, map_html=Path(map_path).read_text("utf-8"))
        written["report"] = write_html(html, out / "report.html")
    return written


def _write_ledger(result: Result, config: Config, out: Any) -> dict[str, Any]:
    """This year's 台账 from ``[ledger] previous``: 台账.xlsx and the ``ledger`` table in results.gpkg.

    The ledger is kept in ``result.meta["ledger"]`` so the report can show the targets that need it.
    """
    from gisefficiency.io.ledger import read_ledger, write_ledger, write_ledger_table
    from gisefficiency.ledger import update

    previous = read_ledger(config.ledger.previous) if config.ledger.previous is not None else None
    ledger = update(previous, result, year=result.year)
    result.meta["ledger"] = ledger
    written = {"ledger": write_ledger(ledger, out / "台账.xlsx", year=result.year)}
    if (out / "results.gpkg").is_file():
        write_ledger_table(ledger, out / "results.gpkg")
    return written


def _density_overlay(raster_out: Any, lang: str) -> dict[str, Any]:
    """The low-efficiency density surface as a PNG overlay with lon/lat bounds for the map."""
    from pyproj import Transformer

    from gisefficiency.raster.layers import to_png_overlay

    density = raster_out.density
    if density is None:
        return {}
    png, (west, south, east, north) = to_png_overlay(density.array, transform=density.transform)
    to_lonlat = Transformer.from_crs(density.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform([west, east], [south, north])
    name = "低效用地密度（亩/平方公里）" if lang == "zh" else "Low-efficiency land density (mu/km²)"
    return {name: (png, ((lat[0], lon[0]), (lat[1], lon[1]))) }


# --- validate: the reading stages of run, as a check ---------------------------------------------

T = TypeVar("T")


def _attempt(problems: list[Problem], fn: Callable[[], T], where: str | None = None) -> T | None:
    try:
        return fn()
    except InputError as exc:
        problems.extend(exc.problems or [Problem(str(exc), file=where)])
    except ConfigError as exc:
        problems.append(Problem(str(exc), file=where))
    return None


def validate_inputs(config: Config) -> list[Problem]:
    """Read and check every input named in ``config``, without running the evaluation: every problem at once.

    Used by ``gisefficiency validate``: errors make the data unusable (exit 1), warnings are data a
    bureau should look at but the run can go on with (bad USCC check digits, repaired geometries,
    firms that link to no parcel, ...).

    Parameters
    ----------
    config
        A loaded configuration.

    Returns
    -------
    list of Problem
        Errors first, then warnings, each naming the file, row, column and the fix.
    """
    from gisefficiency.evaluate.policy import load_preset
    from gisefficiency.io.tables import inspect_firms

    problems: list[Problem] = []
    if config.parcels.path is None:
        problems.append(Problem("no parcel file", fix="set [parcels] path in the config"))
    if config.firms.path is None:
        problems.append(Problem("no firm table", fix="set [firms] path in the config"))
    _attempt(problems, lambda: load_preset(config.policy.preset), "[policy] preset")
    if config.ledger.enabled and config.ledger.previous is not None:
        from gisefficiency.io.ledger import read_ledger

        _attempt(problems, lambda: read_ledger(config.ledger.previous), "[ledger] previous")

    parcels: Any = None
    if config.parcels.path is not None:
        pfile = str(config.parcels.path)
        parcels = _attempt(problems, lambda: read_configured_parcels(config), pfile)
        if parcels is not None:
            raw = parcels
            parcels = _attempt(problems, lambda: prepare_configured_parcels(config, raw), pfile)
        if parcels is not None:
            problems.extend(_parcel_warnings(parcels, pfile))

    firms: Any = None
    if config.firms.path is not None:
        kwargs = firm_options(config)
        # One read gives both the problems and the panel the link check needs.
        inspected = _attempt(problems, lambda: inspect_firms(config.firms.path, **kwargs), str(config.firms.path))
        if inspected is not None:
            firms, checked = inspected
            problems.extend(checked)

    land = None
    if config.land.path is not None:
        land = _attempt(problems, lambda: read_configured_land(config), str(config.land.path))

    if parcels is not None and firms is not None:
        links = _attempt(problems, lambda: link_configured(config, parcels, firms, land))
        if links is not None:
            fl = links.firm_links
            for uscc, status in fl.loc[fl["status"] != "linked", "status"].items():
                problems.append(
                    Problem(
                        f"firm {uscc} is not linked to any parcel ({status})",
                        fix="add its parcel id to the firm table or a land row, or a point inside its parcel",
                        file=str(config.firms.path),
                        column="uscc",
                        severity="warning",
                    )
                )
    return sorted(problems, key=lambda p: p.severity != "error")


def _parcel_warnings(parcels: Any, file: str) -> list[Problem]:
    out: list[Problem] = []
    repaired = parcels.index[parcels["geom_status"] == "repaired"]
    if len(repaired):
        out.append(
            Problem(
                f"{len(repaired)} invalid polygon(s) repaired with make_valid: {format_ids(repaired)}",
                fix="check their shapes in QGIS (Vector > Geometry Tools > Check Validity)",
                file=file, column="geometry", severity="warning",
            )
        )
    excluded = parcels.loc[parcels["status"] != "ok", "status"]
    for pid, status in excluded.items():
        out.append(Problem(f"parcel {pid} {status}", fix="draw its polygon or remove the row", file=file,
                           row=_row(parcels, pid), column="geometry", severity="warning"))
    if "area_flag" in parcels:
        flagged = parcels[parcels["area_flag"].fillna(False).astype(bool)]
        for pid, share in flagged["area_diff_share"].items():
            out.append(Problem(
                f"parcel {pid}: certificate area differs from the drawn polygon by {share:+.1%}",
                fix="check the certificate area (证载面积) or the polygon",
                file=file, row=_row(parcels, pid), column="cert_area_m2", severity="warning",
            ))
    return out


def _row(parcels: Any, pid: Any) -> int | None:
    if "src_row" not in parcels:
        return None
    value = parcels.at[pid, "src_row"]
    return int(value) if value == value else None

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
:func:`write_all` work (see :func:`arrow_memory_pool`), and the cyclic garbage collector leaves alone the
objects alive when they start (see :func:`collector_for_batch`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, TypeVar

from gisefficiency.config import Config, is_database_url
from gisefficiency.core.collector import collector_for_batch
from gisefficiency.core.errors import (
    ConfigError,
    GisEfficiencyError,
    InputError,
    Problem,
    format_ids,
    format_ids_zh,
)
from gisefficiency.core.progress import Advance, Parts, Step, advance_of, quiet, quiet_step
from gisefficiency.result import Result, assemble

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)

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


def run(
    config: Config,
    *,
    step: Step | None = None,
    parcels: gpd.GeoDataFrame | None = None,
    firms: pd.DataFrame | None = None,
    land: pd.DataFrame | None = None,
) -> Result:
    """Run every stage on the inputs named in ``config``, or on frames already in memory.

    Parameters
    ----------
    config
        A validated configuration (see :func:`gisefficiency.config.load_config`).
    step
        Optional context-manager factory wrapping each stage: ``step(label)``, e.g. to show progress (the
        CLI draws a bar with it). What it yields may be an ``advance(done, total)`` callable, which long
        stages call at chunk boundaries (see :mod:`gisefficiency.core.progress`). Without it the run is silent.
    parcels, firms, land
        Data already in memory, used instead of ``[parcels]``, ``[firms]`` and ``[land]`` path: a
        GeoDataFrame of parcels, the firm table and the land rows as DataFrames (long or wide, with
        the same headers a file may have, e.g. 地块编号, 统一社会信用代码, 实缴税金（元）). They go
        through the same column matching, units, value and CRS checks as files, and the other keys
        of those sections (id, crs, aliases, units) apply. The frames are not modified.

    Returns
    -------
    Result
    """
    with arrow_memory_pool(), collector_for_batch():
        return _run(config, step=step, frames={"parcels": parcels, "firms": firms, "land": land})


def _run(config: Config, *, step: Step | None, frames: dict[str, Any]) -> Result:
    from gisefficiency.evaluate.policy import load_preset
    from gisefficiency.evaluate.pricing import with_pricing
    from gisefficiency.evaluate.verdicts import evaluate, flag_parcels
    from gisefficiency.io.optional import missing_optional, with_optional_columns
    from gisefficiency.metrics.indicators import parcel_metrics, unit_metrics

    step = step or quiet_step
    timings: dict[str, float] = {}

    @contextlib.contextmanager
    def clock(key: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            timings[key] = time.perf_counter() - start

    @contextlib.contextmanager
    def timed(key: str, label: str) -> Iterator[Advance]:
        """The stage under ``step(label)``, timed under ``key``; yields the step's ``advance(done, total)``."""
        with clock(key), step(label) as handle:
            yield advance_of(handle)

    def beside(key: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func`` in the side thread, timed under ``key`` (its time overlaps the main thread's)."""

        def call() -> Any:
            with clock(key):
                return func(*args, **kwargs)

        return side.submit(call)

    missing = [name for name in ("parcels", "firms") if frames[name] is None and getattr(config, name).path is None]
    if missing:
        raise ConfigError(f"config: {' and '.join(f'[{m}] path' for m in missing)} required -> add it to the "
                          f"config, or pass the data as run(config, {'=..., '.join(missing)}=...)",
                          zh=(f"配置文件：缺少 {' 和 '.join(f'[{m}] path' for m in missing)} → 请在配置文件中加上，"
                              f"或以 run(config, {'=..., '.join(missing)}=...) 传入数据"))

    with timed("policy", "载入政策 / policy preset"):
        policy = with_pricing(load_preset(config.policy.preset), config.policy.pricing)
        year = config.policy.year  # None: the preset's year, or the data's latest (evaluate says which)

    # Stages that do not need each other run side by side on the machine's two cores: their numpy,
    # Arrow and GEOS calls release the GIL. The side thread runs one stage at a time.
    side = ThreadPoolExecutor(max_workers=1)
    try:
        with step("读取数据、地块面积 / reading inputs, land area") as handle:
            start = time.perf_counter()
            # One count for the phase, added up from its parts: each counts 0 of 1 until it is done (a
            # reader may report its own rows into its part instead).
            reading = Parts(advance_of(handle))
            firms_read, parcels_read, land_read, land_prepared = (reading.part() for _ in range(4))
            for part in (firms_read, parcels_read, land_read, land_prepared):
                part(0, 1)
            firms_job = beside("read_firms", read_configured_firms, config, frames["firms"])
            # An absent optional column is a column of blanks: every stage and output sees one schema
            # (the report names the absent ones).
            parcels = read_configured_parcels(config, frames["parcels"])
            parcels_read(1, 1)
            absent = {"parcels": missing_optional(parcels, "parcels")}
            parcels = with_optional_columns(parcels, "parcels")
            land = read_configured_land(config, frames["land"])
            land_read(1, 1)
            with clock("land"):
                parcels = prepare_configured_parcels(config, parcels)
            land_prepared(1, 1)
            firms = firms_job.result()
            # The future holds the frame as long as it lives: without this, ``del firms`` below would
            # free nothing (about 1 GB of firm-years at 1M parcels).
            del firms_job
            firms_read(1, 1)
            absent["firms"] = missing_optional(firms, "firms")
            firms = with_optional_columns(firms, "firms")
            # Reading is the phase less the land preparation done while the firm table was read.
            timings["read"] = time.perf_counter() - start - timings["land"]

        with timed("link", "企业关联地块 / linking firms"):
            links = link_configured(config, parcels, firms, land)
        del land  # the land rows are in the links now

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
            del parcel_job  # its result is parcel_panel
    finally:
        # On an error the main thread does not wait for the side stage (a missing parcel file is
        # reported before the firm workbook is read to its end); normally every side job is done here.
        side.shutdown(wait=False, cancel_futures=True)

    with timed("parcels", "地块汇总 / parcel table"):
        parcels = assemble.parcels_table(parcels, links, parcel_panel, evaluation, flags, year=year)
    del flags

    with timed("firms", "企业汇总 / firm table"):
        firms_table = assemble.firms_table(firms, links, evaluation, panel, parcels, year=year)
    del firms  # the raw firm-year table is no longer needed: its memory serves the later stages
    _release_free_memory()

    with timed("blocks", "集中连片 / contiguous blocks"):
        blocks = find_configured_blocks(parcels, config, policy)
        parcels = assemble.add_columns(parcels, blocks.membership)

    clusters = None
    if config.clusters.enabled:
        with timed("clusters", "空间聚类 / statistical clusters") as progress:
            clusters = _clusters(parcels, config, progress=progress)
            parcels = assemble.add_columns(parcels, clusters[["cluster"]])

    raster_out = None
    if config.raster.enabled:
        from gisefficiency.raster.layers import raster_outputs

        _release_free_memory()  # the rasters come on top of everything the run holds: its peak of memory

        with timed("rasters", "栅格图层 / raster layers") as progress:
            # Only the columns painted (and those of the density surface): rows picked from all ~60
            # columns of the parcel table would copy it whole at the run's peak of memory.
            ok = _ok_rows(parcels, [*config.raster.metrics, "low_efficiency", "land_mu"])
            # raster_outputs names each layer it finishes: the index, each metric, the density surface.
            layers = [0, 1 + len(config.raster.metrics) + ({"low_efficiency", "land_mu"} <= set(ok.columns))]

            def layer_done(_: str) -> None:
                layers[0] += 1
                progress(*layers)

            progress(*layers)
            raster_out = raster_outputs(
                ok,
                resolution_m=config.raster.resolution_m,
                metrics=config.raster.metrics,
                bandwidth_m=config.raster.bandwidth_m,
                density_resolution_m=config.raster.density_resolution_m,
                progress=layer_done,
            )
            del ok

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
            "parcels_path": _source_name(config.parcels, frames["parcels"], "parcels"),
            "firms_path": _source_name(config.firms, frames["firms"], "firms"),
            "timings_s": timings,
            "parcel_panel": parcel_panel,
            # which year the verdicts are for, and why (the document's, asked for, or the data's latest)
            "reference_year": evaluation.reference,
            "absent_columns": absent,
            # The block settings, for reports that say which threshold no block reached.
            "blocks": {"gap_m": config.blocks.gap_m, "min_area_mu": config.blocks.min_area_mu},
        },
    )

    with timed("scenarios", "情景测算 / scenarios"):
        result.scenarios = run_scenarios(result, config)
        result.parcels = assemble.mark_scenario(result.parcels, result.scenarios)

    result.meta["raster"] = raster_out
    return result


def run_years(config: Config, years: Iterable[int], *, step: Step | None = None,
              blocks_per_year: bool = True) -> Result:
    """Run the pipeline once and evaluate the same preset for each of ``years``.

    Reading, linking, metrics, rasters, clusters and scenarios happen once, for the last year (the
    result's reference year, whatever ``[policy] year`` says); the evaluation, the low-efficiency parcels
    and the blocks are then found again for each other year from the same panel
    (:func:`gisefficiency.evaluate.years.evaluate_years`).

    Parameters
    ----------
    config
        A validated configuration.
    years
        Two or more years of the firm table, e.g. ``range(2021, 2024)``.
    step
        Optional context-manager factory wrapping each stage, as for :func:`run`.
    blocks_per_year
        Find each year's contiguous blocks (on the sample county's 3,000 parcels about 1-4 s a year);
        False: blocks for the last year only, the other years' block figures missing.

    Returns
    -------
    Result
        The last year's result, with ``parcels["change"]`` (``"newly_low"``, ``"still_low"``,
        ``"recovered"``, ``"no_data_now"`` or ``""``, last year against the first) and ``meta["years"]``, a
        :class:`~gisefficiency.evaluate.years.YearRun` (per-year verdicts, parcels and blocks, trends).

    Raises
    ------
    InputError
        Fewer than two years, or a year the firm table has no data for.
    """
    from gisefficiency.evaluate.years import check_years, evaluate_years

    wanted = tuple(sorted({int(y) for y in years}))
    if len(wanted) < 2:
        check_years(wanted, wanted, source=str(config.firms.path))  # raises: a trend needs two years
    last = dataclasses.replace(config, policy=dataclasses.replace(config.policy, year=wanted[-1]))
    try:
        result = run(last, step=step)
    except InputError as exc:
        # The evaluation stops on a reference year without data and names [policy] year; here the year
        # came from the years asked for, so say that (the firm table is not read twice to check first).
        if not str(exc).startswith(f"no data for the reference year {wanted[-1]} "):
            raise
        have = " ".join(p.message for p in exc.problems)
        have_zh = " ".join(p.message_zh or p.message for p in exc.problems)
        raise InputError(f"{config.firms.path}: no data for {wanted[-1]}, the last of the years asked for ({have}) "
                         "-> choose years among those",
                         zh=(f"{config.firms.path}：没有 {wanted[-1]} 年的数据，这是所要求年份中的最后一年（{have_zh}）"
                             "→ 请从中选择年份")) from None
    present = result.panel.index.get_level_values("year").unique()
    check_years(wanted, present, source=str(config.firms.path))
    find = None
    if blocks_per_year:

        def find(parcels: Any) -> Any:
            return find_configured_blocks(parcels, config, result.policy)

    start = time.perf_counter()
    with (step or quiet_step)("逐年评价 / year by year"), arrow_memory_pool(), collector_for_batch():
        years_run = evaluate_years(result, wanted, find_blocks=find)
    result.meta["timings_s"]["years"] = time.perf_counter() - start
    result.parcels["change"] = years_run.change.reindex(result.parcels.index).fillna("").to_numpy()
    result.parcels.attrs["change_years"] = (wanted[0], wanted[-1])  # the map's change layer names them
    result.meta["years"] = years_run
    return result


def find_configured_blocks(parcels: Any, config: Config, policy: Any) -> Any:
    """Contiguous blocks with the ``[blocks]`` options (the preset's target tax per mu unless one is set)."""
    from gisefficiency.blocks.find import find_blocks

    return find_blocks(
        parcels,
        gap_m=config.blocks.gap_m,
        min_area_mu=config.blocks.min_area_mu,
        min_parcels=config.blocks.min_parcels,
        keep=config.blocks.keep,
        keep_max_share=config.blocks.keep_max_share,
        close_gaps=config.blocks.close_gaps,
        target_tax_per_mu=config.blocks.target_tax_per_mu or policy.target_tax_per_mu,
    )


def read_configured_parcels(config: Config, frame: gpd.GeoDataFrame | None = None) -> Any:
    """Read ``[parcels]`` as the config says: a file, a database table or query, or ``frame`` when given.

    Shared by :func:`run` and ``validate``; a frame or a database's rows go through the same checks
    as a file (``io.parcels.parcels_from_frame``).
    """
    from gisefficiency.io.parcels import parcels_from_frame, read_parcels

    section = config.parcels
    options = {"id_column": section.id, "crs": section.crs, "aliases": section.aliases or None}
    source = _source_name(section, frame, "parcels")
    if frame is None and is_database_url(section.path):
        from gisefficiency.io.database import read_frame

        frame = read_frame(str(section.path), table=section.table, query=section.query, geometry=True)
    if frame is not None:
        parcels = parcels_from_frame(frame, source=source, **options)
    else:
        parcels = read_parcels(section.path, layer=section.layer, encoding=section.encoding, engine=section.engine,
                               **options)
    if len(parcels) == 0:
        # the later stages have nothing to work on, and would otherwise stop on an empty array
        layer = f" layer {section.layer!r}" if section.layer else ""
        raise InputError(f"{source}{layer}: no parcels in the file -> check [parcels] path and layer "
                         "(a GeoPackage may hold several layers)",
                         zh=(f"{source}{layer}：文件中没有地块 → 请检查 [parcels] path 与 layer"
                             "（一个 GeoPackage 可能含多个图层）"))
    return parcels


def read_configured_firms(config: Config, frame: pd.DataFrame | None = None) -> Any:
    """Read ``[firms]``: a file, a database table or query, or ``frame`` when given."""
    from gisefficiency.io.tables import read_firms

    table, source = configured_table(config, "firms", frame)
    return read_firms(table, source=source, **firm_options(config))


def configured_table(config: Config, name: str, frame: pd.DataFrame | None = None) -> tuple[Any, str]:
    """The ``[firms]`` or ``[land]`` table to parse (a path or a frame) and what messages call it.

    A database source is read here (its rows as stored); the table readers then parse a frame or a
    file alike.
    """
    section = getattr(config, name)
    source = _source_name(section, frame, name)
    if frame is None and is_database_url(section.path):
        from gisefficiency.io.database import read_frame

        frame = read_frame(str(section.path), table=section.table, query=section.query)
    return (frame if frame is not None else section.path), source


def _source_name(section: Any, frame: Any, name: str) -> str:
    """What messages and ``meta`` call an input: the frame passed to ``run``, the database table or query,
    or the file."""
    if frame is not None:
        return f"{name} ({type(frame).__name__})"
    if is_database_url(section.path):
        from gisefficiency.io.database import describe

        return describe(str(section.path), table=section.table, query=section.query)
    return str(section.path)


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
    return {"sheet": config.firms.sheet, "header_row": config.firms.header_row,
            "aliases": config.firms.aliases or None, "units": config.firms.units or None}


def read_configured_land(config: Config, frame: pd.DataFrame | None = None) -> Any:
    """Read the optional ``[land]`` rows (a file, a database table or query, or ``frame``), or None."""
    from gisefficiency.io.tables import read_land

    if frame is None and config.land.path is None:
        return None
    table, source = configured_table(config, "land", frame)
    return read_land(table, source=source, aliases=config.land.aliases or None, sheet=config.land.sheet,
                     header_row=config.land.header_row)


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
        sources={k: str(v) for k, v in (("firms", config.firms.path), ("land", config.land.path)) if v is not None},
    )


def run_scenarios(result: Result, config: Config) -> list[Any]:
    """Run every ``[[scenarios]]`` of the config on a result (all blocks, best-ranked first, if none given).

    A ranked selection (``top_blocks``, or the default of all blocks) on a county without blocks is an
    empty scenario, not an error; block, parcel or firm ids that do not exist are a ``ConfigError``
    naming the scenario's config key and the ids.
    """
    from gisefficiency.scenario.freed import Scenario, run_scenario

    specs = config.scenarios or (_default_scenario(result),)
    scenarios = []
    for number, spec in enumerate(specs, start=1):
        polygon = None
        if spec.polygon is not None:
            from gisefficiency.io.vector import read_selection_polygon

            polygon = read_selection_polygon(spec.polygon)
        scenario = Scenario(
            name=spec.name or "scenario",
            blocks=spec.blocks,
            parcels=spec.parcels,
            firms=spec.firms,
            polygon=polygon,
            top_blocks=spec.top_blocks,
            target_tax_per_mu=spec.target_tax_per_mu or result.policy.target_tax_per_mu,
            target_tce_per_mu=spec.target_tce_per_mu,
        )
        try:
            done = run_scenario(
                result.parcels,
                scenario,
                blocks=result.blocks,
                firms=result.firms,
                targets=dict(result.policy.targets),
                year=result.year,
            )
        except InputError as exc:
            if not config.scenarios:
                raise
            raise _scenario_config_error(config, number, spec, exc, n_blocks=len(result.blocks)) from exc
        scenarios.append(done)
    return scenarios


#: Column named by a scenario's selection problem -> the ``[[scenarios]]`` key that gave the ids.
_SCENARIO_KEYS: dict[str, str] = {"block_id": "blocks", "parcel_id": "parcels", "uscc": "firms"}


def _scenario_config_error(config: Config, number: int, spec: Any, exc: InputError, *, n_blocks: int) -> ConfigError:
    """One line naming the config file, the scenario's key, the ids that do not exist and the fix."""
    where = f"{config.source}: " if config.source else ""
    parts, parts_zh = [], []
    for problem in exc.problems or [Problem(str(exc),
                                            message_zh=exc.text("zh"))]:
        key = _SCENARIO_KEYS.get(problem.column or "")
        fix = {
            "blocks": (f"this run found {n_blocks} block(s); use ids of results.gpkg layer blocks, or top_blocks = 5"
                       if n_blocks else "no block reached [blocks] min_area_mu in this run: remove blocks = [...], "
                       "use top_blocks (empty when there is no block), or lower [blocks] min_area_mu"),
            "parcels": "use ids of the parcel layer's id column (results.gpkg layer parcels, parcel_id)",
            "firms": "use USCCs of the firm table (results.gpkg layer firms, uscc)",
        }.get(key or "", problem.fix)
        fix_zh = {
            "blocks": (f"本次运行找到 {n_blocks} 个区块；请使用 results.gpkg 中 blocks 图层的编号，或 top_blocks = 5"
                       if n_blocks else "本次运行没有区块达到 [blocks] min_area_mu：请删去 blocks = [...]，"
                       "改用 top_blocks（没有区块时为空），或调低 [blocks] min_area_mu"),
            "parcels": "请使用地块图层编号列中的编号（results.gpkg 的 parcels 图层，parcel_id）",
            "firms": "请使用企业表中的统一社会信用代码（results.gpkg 的 firms 图层，uscc）",
        }.get(key or "", problem.fix_zh or problem.fix)
        parts.append(f"{key} = [...]: {problem.message} -> {fix}" if key else str(problem))
        parts_zh.append(f"{key} = [...]：{problem.message_zh or problem.message} → {fix_zh}" if key
                        else problem.text("zh"))
    name = f" {spec.name!r}" if spec.name else ""
    return ConfigError(f"{where}[[scenarios]] #{number}{name}: " + "; ".join(parts),
                       zh=f"{where}[[scenarios]] 第 {number} 个情景{name}：" + "；".join(parts_zh))


def _default_scenario(result: Result) -> Any:
    from gisefficiency.config import ScenarioSection

    # Every block, best-ranked first; none (an empty scenario) when no block reached min_area_mu.
    return ScenarioSection(name="全部连片区块 / all blocks", top_blocks=len(result.blocks))


def _building_stats(parcels: Any, config: Config) -> Any:
    """Building height (tallest cell, coverage) and the plot ratio estimate per parcel.

    The height GeoTIFF is read a band of rows at a time, only where parcels lie (it is 0.6 GB as float32 for
    a 100,000-parcel county, 6 GB for 1,000,000); see ``raster.zonal.building_stats``.
    """
    from gisefficiency.raster import building_stats

    # The land and the recorded floor area are the only columns the plot ratio reads.
    ok = _ok_rows(parcels, ["land_mu", "floor_area_m2"])
    return building_stats(ok, config.raster.height, storey_height_m=config.raster.storey_height_m)


def _release_free_memory() -> None:
    """Give the free pages inside the C heap back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    glibc keeps the pages of freed arrays below 32 MB (a 1M-row float column is 8 MB) for later
    allocations, so the memory of frames a stage let go (the firm-year table, the permutation blocks
    of the clusters) still counts in the process until it is reused. Trimming before the rasters, which
    come on top of everything the run holds, lowers the run's peak (about 0.6 GB at 1M parcels); it
    takes a fraction of a second.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        import ctypes
        import ctypes.util

        try:
            _MALLOC_TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # no glibc (macOS, Windows, musl): nothing to trim
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM: Any = None  # glibc's malloc_trim once looked up, False where there is none


def _ok_rows(parcels: Any, columns: Iterable[str]) -> Any:
    """The parcels whose status is ``"ok"``, with the geometry and those of ``columns`` they have (in the
    parcel table's order): a stage that reads a few columns gets no copy of the others."""
    wanted = {*columns, parcels.geometry.name}
    keep = [c for c in parcels.columns if c in wanted]
    return parcels.loc[(parcels["status"] == "ok").to_numpy(), keep]


def _clusters(parcels: Any, config: Config, *, progress: Advance = quiet) -> Any:
    from gisefficiency.blocks.clusters import local_clusters

    return local_clusters(
        _ok_rows(parcels, [config.clusters.column]),
        column=config.clusters.column,
        method=config.clusters.method,
        gap_m=config.blocks.gap_m,
        permutations=config.clusters.permutations,
        fdr=config.clusters.fdr,
        seed=config.clusters.seed,
        progress=progress,
    )


def write_all(
    result: Result,
    config: Config,
    *,
    out_dir: Any = None,
    lang: str | None = None,
    anonymise: bool | None = None,
    maps: bool = True,
    pdf: bool | None = None,
    progress: Advance = quiet,
) -> dict[str, Any]:
    """Write every output of a run: results.gpkg, CSV tables, GeoTIFFs, map.html, report.html and report.pdf,
    and the tables of ``[output] database`` when set.

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
    pdf
        Also print the report to report.pdf (headless Chromium, when installed); overrides ``[output] pdf``.
    progress
        ``progress(done, total)`` after each group of outputs (see :mod:`gisefficiency.core.progress`).
    """
    with arrow_memory_pool(), collector_for_batch():
        return _write_all(result, config, out_dir=out_dir, lang=lang, anonymise=anonymise, maps=maps, pdf=pdf,
                          progress=progress)


def _write_all(result: Result, config: Config, *, out_dir: Any, lang: str | None, anonymise: bool | None,
               maps: bool, pdf: bool | None = None, progress: Advance = quiet) -> dict[str, Any]:
    from pathlib import Path

    from gisefficiency.io.output import WRITE_THREADS, output_jobs, write_html

    out = Path(out_dir) if out_dir else Path(config.output.dir)
    lang = lang or config.map.lang
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang = {lang!r}: must be 'zh' or 'en'",
                          zh=f"lang = {lang!r}：只能是 'zh' 或 'en'")
    anonymise = config.output.anonymise if anonymise is None else anonymise
    raster_out = result.meta.get("raster")
    pdf = config.output.pdf if pdf is None else pdf
    out.mkdir(parents=True, exist_ok=True)

    # Every writer is a job on one pool; a job that needs another's output waits for its future. The jobs
    # are submitted longest chain first, and a job only ever waits for jobs submitted before it: the pool
    # takes jobs in order, so what it waits for has started on another thread, and no wait can block the
    # pool. Writers in GDAL, zlib and Arrow release the GIL, so they overlap the pure-Python builders.
    jobs: dict[str, Callable[[], dict[str, Any]]] = {}
    futures: dict[str, Any] = {}

    def after(*names: str) -> None:
        for name in names:
            if name in futures:
                futures[name].result()

    if maps:
        from gisefficiency.maps import make_map, save_map
        from gisefficiency.report.build import anonymise_result, build_report

        shown: dict[str, Result] = {}  # the result the pages show: anonymised once, for the map and the report

        def write_map() -> dict[str, Any]:
            # Anonymising leaves ``meta`` shared, so the ledger written meanwhile reaches the report too.
            shown["result"] = anonymise_result(result) if anonymise else result
            m = make_map(
                shown["result"],
                lang=lang,
                basemap=config.map.basemap,
                offline=config.map.offline,
                tianditu_key=config.map.tianditu_key,
                max_parcels=config.map.max_parcels,
                overlays=_density_overlay(raster_out, lang) if raster_out is not None else {},
            )
            return {"map": save_map(m, out / "map.html", inline=config.map.offline)}

        jobs["map"] = write_map
    tables = output_jobs(result, out, lang=lang)
    jobs.update(tables)
    if config.ledger.enabled:
        def write_ledger() -> dict[str, Any]:
            after("results")  # the ledger is also a table of results.gpkg
            return _write_ledger(result, config, out)

        jobs["ledger"] = write_ledger
    if raster_out is not None:
        from gisefficiency.io.output import write_rasters

        def rasters() -> dict[str, Any]:
            written = write_rasters(raster_out, out, policy=result.policy)
            result.rasters = written
            return written

        jobs["rasters"] = rasters
    jobs["years_and_prices"] = lambda: _write_years_and_prices(result, out)
    if config.output.database is not None:
        def database() -> dict[str, Any]:
            from gisefficiency.io.database import write_results

            # The four tables replace the previous run's in one transaction (see io/database.py).
            tables = write_results(result, config.output.database, schema=config.output.schema)
            return {f"database:{name}": table for name, table in tables.items()}

        jobs["database"] = database
    if maps:
        def write_report() -> dict[str, Any]:
            after("map", "ledger")  # the report holds the map and the ledger's targets
            html = build_report(shown["result"], lang=lang, anonymise=anonymise,
                                map_html=Path(futures["map"].result()["map"]).read_text("utf-8"))
            return {"report": write_html(html, out / "report.html")}

        jobs["report"] = write_report
    total = len(jobs) + bool(maps and pdf)
    progress(0, total)
    with ThreadPoolExecutor(max(1, min(WRITE_THREADS, len(jobs)))) as pool:
        for name, job in jobs.items():
            futures[name] = pool.submit(job)
        for done, _ in enumerate(as_completed(futures.values()), start=1):
            progress(done, total)
    # The first failure in submission order is the cause: a job that waited for it failed with it.
    parts = {name: futures[name].result() for name in futures}
    # Outputs listed in a fixed order: tables, database, years and prices, rasters, ledger, map, report.
    order = [*tables, "database", "years_and_prices", "rasters", "ledger", "map", "report"]
    written: dict[str, Any] = {}
    for name in order:
        written.update(parts.get(name, {}))
    if maps and pdf:
        from gisefficiency.io.output import write_report_pdf

        pdf_path = write_report_pdf(written["report"])
        if pdf_path is not None:
            written["report_pdf"] = pdf_path
        progress(total, total)
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


def _write_years_and_prices(result: Result, out: Any) -> dict[str, Any]:
    """``prices.csv`` when the preset has ``[pricing]``; ``trends.csv``, ``verdicts_by_year.csv`` and
    ``parcels_by_year.csv`` after :func:`run_years` (UTF-8 with BOM, so Excel shows the Chinese)."""
    written: dict[str, Any] = {}
    if getattr(result.policy, "pricing", None) is not None:
        from gisefficiency.evaluate.pricing import price_table

        written["prices"] = out / "prices.csv"
        price_table(result).to_csv(written["prices"], index=False, encoding="utf-8-sig")
    years = result.meta.get("years")
    if years is not None:
        written["trends"] = out / "trends.csv"
        years.trends.to_csv(written["trends"], index=False, encoding="utf-8-sig")
        written["verdicts_by_year"] = out / "verdicts_by_year.csv"
        years.verdicts.to_csv(written["verdicts_by_year"], encoding="utf-8-sig")
        written["parcels_by_year"] = out / "parcels_by_year.csv"
        years.parcels.assign(change=years.change.reindex(years.parcels.index.get_level_values(0)).to_numpy()) \
            .to_csv(written["parcels_by_year"], encoding="utf-8-sig")
    return written


def _density_overlay(raster_out: Any, lang: str) -> dict[str, Any]:
    """The low-efficiency density surface as a PNG overlay with lon/lat bounds for the map."""
    from pyproj import Transformer

    from gisefficiency.raster import to_png_overlay

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
    def problem(exc: Exception) -> Problem:
        text = str(exc)
        # most messages start with their file already: name it once
        return Problem(text, file=None if where and text.startswith(where) else where,
                       message_zh=exc.text("zh") if isinstance(exc, GisEfficiencyError) else text)

    try:
        return fn()
    except InputError as exc:
        problems.extend(exc.problems or [problem(exc)])
    except ConfigError as exc:
        problems.append(problem(exc))
    return None


def validate_inputs(config: Config) -> list[Problem]:
    """Read and check every input named in ``config``, without running the evaluation: every problem at once.

    Used by ``gisefficiency validate``: errors are what :func:`run` would stop on (exit 1), warnings
    are data a bureau should look at but the run can go on with (bad USCC check digits, repaired
    geometries, firms that link to no parcel, ...). Config values were checked when the config was
    loaded (``config.config_keys``); this pass adds what depends on the data: the inputs read and
    linked as :func:`run` reads them, the reference year present in the firm table, one row per firm
    and year, a non-empty firm table, the building-height raster, the scenarios' polygons, parcel
    and firm ids, and a Tianditu key where the basemap needs one.

    The block ids of a ``[[scenarios]]`` table need the evaluation: they get a warning that says so.

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
    from gisefficiency.evaluate.pricing import with_pricing
    from gisefficiency.io.tables import inspect_firms

    problems: list[Problem] = []
    if config.parcels.path is None:
        problems.append(Problem("no parcel file", fix="set [parcels] path in the config",
                                message_zh="没有地块文件",
                                fix_zh="请在配置文件中设置 [parcels] path"))
    if config.firms.path is None:
        problems.append(Problem("no firm table", fix="set [firms] path in the config",
                                message_zh="没有企业表",
                                fix_zh="请在配置文件中设置 [firms] path"))
    policy = _attempt(problems, lambda: with_pricing(load_preset(config.policy.preset), config.policy.pricing),
                      "[policy] preset, pricing")
    if config.ledger.enabled and config.ledger.previous is not None:
        from gisefficiency.io.ledger import read_ledger

        _attempt(problems, lambda: read_ledger(config.ledger.previous), "[ledger] previous")

    parcels: Any = None
    if config.parcels.path is not None:
        pfile = _source_name(config.parcels, None, "parcels")
        parcels = _attempt(problems, lambda: read_configured_parcels(config), pfile)
        if parcels is not None:
            raw = parcels
            parcels = _attempt(problems, lambda: prepare_configured_parcels(config, raw), pfile)
        if parcels is not None:
            problems.extend(_parcel_warnings(parcels, pfile))

    firms: Any = None
    ffile = _source_name(config.firms, None, "firms")
    if config.firms.path is not None:
        kwargs = firm_options(config)
        # One read gives both the problems and the panel the link check needs.
        table = _attempt(problems, lambda: configured_table(config, "firms"), ffile)
        inspected = None if table is None else _attempt(
            problems, lambda: inspect_firms(table[0], source=table[1], **kwargs), ffile)
        if inspected is not None:
            firms, checked = inspected
            checked, fatal = _firm_year_problems(firms, checked, str(config.firms.path))
            problems.extend(checked)
            if fatal:
                firms = None
        if firms is not None and policy is not None:
            problems.extend(_year_problems(firms, config, policy))

    land = None
    if config.land.path is not None:
        land = _attempt(problems, lambda: read_configured_land(config), _source_name(config.land, None, "land"))

    if parcels is not None and firms is not None and len(firms):
        links = _attempt(problems, lambda: link_configured(config, parcels, firms, land))
        if links is not None:
            fl = links.firm_links
            for uscc, status in fl.loc[fl["status"] != "linked", "status"].items():
                problems.append(
                    Problem(
                        f"firm {uscc} is not linked to any parcel ({status})",
                        fix="add its parcel id to the firm table or a land row, or a point inside its parcel",
                        file=ffile,
                        column="uscc",
                        severity="warning",
                        message_zh=f"企业 {uscc} 没有关联到任何地块（{status}）",
                        fix_zh="请在企业表或用地表中补上其地块编号，或给出位于其地块内的点位",
                    )
                )
    problems.extend(_output_problems(config, parcels, firms))
    return sorted(problems, key=lambda p: p.severity != "error")


# tables.py reports repeated firm-years as a warning (reading can go on); the evaluation cannot.
_REPEATED_FIRM_YEAR = re.compile(r"^firm \S+ has \d+ rows for \d+")


def _firm_year_problems(firms: Any, checked: list[Problem], file: str) -> tuple[list[Problem], bool]:
    """The firm table's problems with what stops the evaluation made errors: no data rows, or a firm
    with several rows in one year. Returns the problems and whether any of those was found."""
    if firms is None:
        return checked, False
    out = [dataclasses.replace(p, severity="error", fix="keep one row per firm and year (sum them first): the "
                               "evaluation needs one figure per firm and year")
           if p.severity == "warning" and _REPEATED_FIRM_YEAR.match(p.message) else p for p in checked]
    fatal = any(p is not q for p, q in zip(out, checked, strict=True))
    if not fatal and {"uscc", "year"} <= set(firms.columns):
        repeated = firms["uscc"].notna() & firms.duplicated(["uscc", "year"], keep=False)
        if repeated.any():  # the reader's own warning was not found: say it here
            rows = firms.loc[repeated, "src_row"].astype(int).tolist()
            out.append(Problem(f"{len(rows)} rows repeat a firm and year: rows {format_ids(rows, limit=10)}",
                               fix="keep one row per firm and year (sum them first)", file=file, column="uscc",
                               message_zh=f"{len(rows)} 行重复了同一企业和年份：第 {format_ids_zh(rows, limit=10)} 行",
                               fix_zh="每家企业每年只保留一行（先合计）"))
            fatal = True
    if len(firms) == 0:
        out.append(Problem("the firm table has a header but no data rows",
                           fix="fill in the table, or point [firms] sheet / header_row at the sheet and row of "
                               "the header", file=file,
                           message_zh="企业表有表头但没有数据行",
                           fix_zh="请填写数据，或把 [firms] sheet / header_row 指向表头所在的工作表和行"))
        fatal = True
    return out, fatal


def _year_problems(firms: Any, config: Config, policy: Any) -> list[Problem]:
    """The reference year must be a year of the firm table (the evaluation stops otherwise)."""
    if "year" not in firms or not len(firms):
        return []
    present = sorted({int(y) for y in firms.loc[firms["uscc"].notna(), "year"].unique()})
    where = str(config.source) if config.source else None
    if config.policy.year is not None:
        ref, source = config.policy.year, "[policy] year"
    elif policy.reference_year is not None and policy.reference_year not in present and present:
        # the run carries on with the data's latest year (evaluate.years.reference_year): a warning
        return [Problem(f"no data for the reference year of preset {policy.name} = {policy.reference_year}: the "
                        f"firm table has {', '.join(map(str, present))}; the run uses {present[-1]}",
                        fix=f"add the {policy.reference_year} figures, or set [policy] year to choose the year",
                        message_zh=(f"预设 {policy.name} 的评价年度为 {policy.reference_year}，企业表只有 "
                                    f"{'、'.join(map(str, present))} 年度的数据；本次运行改用 {present[-1]} 年度"),
                        fix_zh=f"请补充 {policy.reference_year} 年度数据，或在 [policy] year 中指定年度",
                        file=where, severity="warning")]
    else:
        return []  # the preset's year, or the data's latest
    if ref in present:
        return []
    return [Problem(f"no data for {source} = {ref}: the firm table has {', '.join(map(str, present)) or 'no years'}",
                    fix=f"set [policy] year to one of {', '.join(map(str, present))} in the config, or add the "
                        f"{ref} figures to the firm table", file=where,
                    message_zh=f"{source} = {ref} 没有数据：企业表中有 {', '.join(map(str, present)) or '（无年份）'}",
                    fix_zh=(f"请在配置文件中把 [policy] year 设为 {', '.join(map(str, present))} 之一，或在企业表中补上 "
                        f"{ref} 年的数据"))]


def _output_problems(config: Config, parcels: Any, firms: Any) -> list[Problem]:
    """Inputs read after the evaluation (height raster, scenario polygons and ids) and the map's key."""
    import pandas as pd

    out: list[Problem] = []
    where = str(config.source) if config.source else None
    if config.raster.enabled and config.raster.height is not None:
        out.extend(_raster_problems(config.raster.height))
    if config.raster.enabled and parcels is not None:
        out.extend(_raster_size_problems(parcels, config, where))
    for i, spec in enumerate(config.scenarios):
        label = f"[[scenarios]] #{i + 1} ({spec.name or 'no name'})"
        label_zh = f"[[scenarios]] 第 {i + 1} 个（{spec.name or '未命名'}）"
        if spec.polygon is not None:
            from gisefficiency.io.vector import read_selection_polygon

            polygon = spec.polygon
            _attempt(out, lambda p=polygon: read_selection_polygon(p))  # its message names the file
        if spec.blocks:
            out.append(Problem(f"{label} blocks {format_ids(spec.blocks)}: block ids are known only once run has "
                               "found the blocks (they change with the data and with [blocks] gap_m and "
                               "min_area_mu)", fix="check them in the last run's results.gpkg (layer blocks), or "
                               "use top_blocks", file=where, severity="warning",
                               message_zh=(f"{label_zh} 的区块 {format_ids_zh(spec.blocks)}：区块编号要等运行找出区块后才能确定"
                                   "（随数据以及 [blocks] gap_m 和 min_area_mu 变化）"),
                               fix_zh="请在上次运行的 results.gpkg（blocks 图层）中核对，或改用 top_blocks"))
        if parcels is not None and spec.parcels:
            missing = [p for p in spec.parcels if p not in parcels.index]
            if missing:
                out.append(Problem(f"{label} parcels: no parcel {format_ids(missing)} in {config.parcels.path}",
                                   fix="use ids of the parcel file's id column", file=where,
                                   message_zh=f"{label_zh} 的地块：{config.parcels.path} 中没有地块 {format_ids_zh(missing)}",
                                   fix_zh="请使用地块文件编号列中的编号"))
        if firms is not None and "uscc" in firms and spec.firms:
            missing = list(pd.Index(spec.firms).difference(firms["uscc"].dropna().unique()))
            if missing:
                out.append(Problem(f"{label} firms: no firm {format_ids(missing)} in {config.firms.path}",
                                   fix="use USCCs of the firm table", file=where,
                                   message_zh=f"{label_zh} 的企业：{config.firms.path} 中没有企业 {format_ids_zh(missing)}",
                                   fix_zh="请使用企业表中的统一社会信用代码"))
    if config.map.basemap.startswith("tianditu"):
        from gisefficiency.maps.basemaps import tianditu_key

        _attempt(out, lambda: tianditu_key(config.map.tianditu_key), where)
    return out


def _raster_size_problems(parcels: Any, config: Config, where: str | None) -> list[Problem]:
    """The parcel-index raster at ``[raster] resolution_m`` must stay within ``raster.layers.MAX_CELLS``."""
    from gisefficiency.raster.grid import Grid
    from gisefficiency.raster.layers import MAX_CELLS

    ok = parcels[parcels["status"] == "ok"]
    if not len(ok):
        return []
    res = config.raster.resolution_m
    grid = Grid.covering(tuple(ok.total_bounds), res, align=True)  # as raster.parcel_index_raster builds it
    if grid.width * grid.height <= MAX_CELLS:
        return []
    coarser = res * (grid.width * grid.height / MAX_CELLS) ** 0.5
    unit = 10.0 ** (math.floor(math.log10(coarser)) - 1)
    coarser = round(math.ceil(coarser / unit) * unit, 12)  # two significant digits, rounded up
    return [Problem(f"[raster] resolution_m = {res:g} gives {grid.height:,} × {grid.width:,} cells over the parcels "
                    f"(limit {MAX_CELLS:,})", fix=f"set [raster] resolution_m to {coarser:g} or more, or "
                    "[raster] enabled = false", file=where,
                    message_zh=(f"[raster] resolution_m = {res:g} 在地块范围内会产生 {grid.height:,} × {grid.width:,} 个栅格"
                        f"（上限 {MAX_CELLS:,}）"),
                    fix_zh=f"请把 [raster] resolution_m 设为 {coarser:g} 或更大，或设置 [raster] enabled = false")]


def _raster_problems(path: Any) -> list[Problem]:
    """The building-height raster opens and has a CRS (zonal statistics need one); its cells are not read."""
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            has_crs = src.crs is not None
    except RasterioIOError as exc:
        return [Problem(f"cannot read the raster ({exc})", fix="check [raster] height: the path of a GeoTIFF",
                        file=str(path),
                        message_zh=f"无法读取栅格（{exc}）",
                        fix_zh="请检查 [raster] height：应为 GeoTIFF 文件的路径")]
    if has_crs:
        return []
    return [Problem("the raster has no CRS, so parcels and raster cannot be matched",
                    fix="assign its CRS in QGIS (Raster > Projections > Assign Projection) and save it again",
                    file=str(path),
                    message_zh="栅格没有坐标系，地块与栅格无法对应",
                    fix_zh="请在 QGIS 中指定其坐标系（栅格 > 投影 > 指定投影）并重新保存")]


def _parcel_warnings(parcels: Any, file: str) -> list[Problem]:
    out: list[Problem] = []
    repaired = parcels.index[parcels["geom_status"] == "repaired"]
    if len(repaired):
        out.append(
            Problem(
                f"{len(repaired)} invalid polygon(s) repaired with make_valid: {format_ids(repaired)}",
                fix="check their shapes in QGIS (Vector > Geometry Tools > Check Validity)",
                file=file, column="geometry", severity="warning",
                message_zh=f"{len(repaired)} 个无效多边形已用 make_valid 修复：{format_ids_zh(repaired)}",
                fix_zh="请在 QGIS 中检查其形状（矢量 > 几何工具 > 检查有效性）",
            )
        )
    excluded = parcels.loc[parcels["status"] != "ok", "status"]
    for pid, status in excluded.items():
        out.append(Problem(f"parcel {pid} {status}", fix="draw its polygon or remove the row", file=file,
                           row=_row(parcels, pid), column="geometry", severity="warning",
                           message_zh=f"地块 {pid}：{status}",
                           fix_zh="请绘制其多边形，或删除该行"))
    if "area_flag" in parcels:
        flagged = parcels[parcels["area_flag"].fillna(False).astype(bool)]
        for pid, share in flagged["area_diff_share"].items():
            out.append(Problem(
                f"parcel {pid}: certificate area differs from the drawn polygon by {share:+.1%}",
                fix="check the certificate area (证载面积) or the polygon",
                file=file, row=_row(parcels, pid), column="cert_area_m2", severity="warning",
                message_zh=f"地块 {pid}：证载面积与图斑面积相差 {share:+.1%}",
                fix_zh="请核对证载面积或多边形",
            ))
    return out


def _row(parcels: Any, pid: Any) -> int | None:
    if "src_row" not in parcels:
        return None
    value = parcels.at[pid, "src_row"]
    return int(value) if value == value else None

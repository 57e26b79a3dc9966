"""Command line: a thin shell over the same functions the notebooks call.

User mistakes print one clear line per problem and exit 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from gisefficiency.core.errors import ConfigError, GisEfficiencyError, TextLang, record_text
from gisefficiency.core.progress import Advance

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="gisefficiency: 亩均论英雄 per-mu land efficiency for Zhejiang land bureaus.",
)
console = Console(stderr=False)
err = Console(stderr=True)

_DEBUG = False

#: The language of messages, warnings and problems in the terminal: Chinese first with the English
#: beside it unless a command's --lang asks for one.
_LANG: TextLang = "both"

#: The --lang option of every command (run and demo: the pages' language too).
LangOption = Annotated[str | None, typer.Option(
    "--lang", help="zh or en: messages in one language (default: Chinese with English beside).")]


class _TerminalWarnings(logging.Handler):
    """The package's logged warnings, in the terminal's language (their Chinese rides on the record)."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record_text(record, _LANG, labels=("警告：", "warning: "))
        err.print(text, style="yellow", markup=False, highlight=False, soft_wrap=True)


_WARNINGS = _TerminalWarnings(logging.WARNING)


@app.callback()
def _main(ctx: typer.Context,
          debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    global _DEBUG, _LANG
    _DEBUG = debug
    _LANG = "both"
    # The package's warnings print in the terminal's language while a command runs, and only then
    # (the library itself leaves logging to its caller).
    package = logging.getLogger("gisefficiency")
    if _WARNINGS not in package.handlers:
        package.addHandler(_WARNINGS)
        ctx.call_on_close(lambda: package.removeHandler(_WARNINGS))


def _terminal(lang: str | None) -> None:
    """Set the terminal's language from a command's --lang (none: both, Chinese first)."""
    global _LANG
    if lang is not None and lang not in ("zh", "en"):
        raise ConfigError(f"--lang {lang!r}: must be zh or en", zh=f"--lang {lang!r}：只能是 zh 或 en")
    _LANG = lang or "both"


def _say(zh: str, en: str) -> str:
    """A short label in the terminal's language; both as ``zh / en``."""
    return zh if _LANG == "zh" else en if _LANG == "en" else f"{zh} / {en}"


class _CountColumn(ProgressColumn):
    """``done/total`` once a stage has said its total; blank before (a stage that reports nothing)."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed):,}/{int(task.total):,}", style="progress.download")


class _EtaColumn(TimeRemainingColumn):
    """The time left, shown once the stage has a total and some progress to go by."""

    def render(self, task: Task) -> Text:
        if task.total is None or not task.completed:
            return Text("")
        return Text.assemble(("剩余 / ETA ", "dim"), super().render(task))


@contextlib.contextmanager
def _step(label: str) -> Iterator[Advance]:
    """One stage on the terminal: a spinner, then a bar with counts and an ETA once the stage reports its
    progress (``advance(done, total)``, see ``gisefficiency.core.progress``); a tick and its seconds at the end."""
    start = time.perf_counter()
    # transient: the bar is replaced by the one tick line when the stage ends.
    bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), _CountColumn(),
                   TimeElapsedColumn(), _EtaColumn(), console=console, transient=True)
    task = bar.add_task(escape(label), total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=max(total, done))

    with bar:
        yield advance
    console.print(f"[green]✓[/green] {escape(label)} [dim]{time.perf_counter() - start:.2f} s[/dim]")


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except GisEfficiencyError as exc:
        if _DEBUG:
            raise
        # Data text (paths, ids, "[parcels]") must print as it is, never as rich markup.
        err.print(exc.text(_LANG, labels=("错误：", "error: ")), style="red", markup=False, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(2) from None


#: Where ``gisefficiency demo`` writes when no ``--out`` is given (relative to the current folder).
DEMO_OUT = Path("gisefficiency-demo")


def total_line(seconds: float) -> str:
    """The line printed after a run: the whole time, reading to the last output written.

    >>> total_line(83.456)
    '总计 / total 83.5 s (1 min 23 s)'
    """
    text = f"总计 / total {seconds:.1f} s"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        text += f" ({minutes} min {rest} s)"
    return text


def parse_years(text: str) -> tuple[int, ...]:
    """``"2021-2023"`` or ``"2021,2022,2023"`` (or both, ``"2019,2021-2023"``) as sorted years.

    Raises
    ------
    ConfigError
        Anything else, naming the option and the accepted forms.
    """
    from gisefficiency.core.errors import ConfigError

    years: set[int] = set()
    for part in text.replace("，", ",").split(","):
        m = re.fullmatch(r"\s*(\d{4})\s*(?:[-–~]\s*(\d{4})\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise ConfigError(f"--years {text!r}: give a range such as 2021-2023 or a list such as 2021,2023",
                              zh=f"--years {text!r}：请给出年份范围（如 2021-2023）或年份列表（如 2021,2023）")
        years.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return tuple(sorted(years))


def _run_and_write(config_path: Path, out: Path | None, lang: str | None, anonymise: bool, maps: bool,
                   pdf: bool | None = None, *, year: int | None = None, ledger: Path | None = None,
                   years: str | None = None) -> None:
    import dataclasses

    from gisefficiency import pipeline
    from gisefficiency.config import load_config

    config = load_config(config_path)
    if year is not None:
        config = dataclasses.replace(config, policy=dataclasses.replace(config.policy, year=year))
    if ledger is not None:  # relative to where the command is typed, like every path on the command line
        config = dataclasses.replace(config, ledger=dataclasses.replace(config.ledger, previous=ledger.resolve()))
    previous = config.ledger.previous
    if config.ledger.enabled and previous is not None and not previous.is_file():
        # Said before the run, not after it: the ledger is read when the outputs are written.
        raise GisEfficiencyError(f"{previous}: ledger file not found -> check [ledger] previous (a path relative "
                                 "to the config) or --ledger, or leave it out for the first year",
                                 zh=(f"{previous}：找不到台账文件 → 请检查 [ledger] previous（相对于配置文件的路径）或 --ledger，"
                                     "第一年可不填"))
    # The terminal speaks the language of the pages: --lang, else the config's [map] lang.
    words = lang or config.map.lang
    if words not in ("zh", "en"):
        raise ConfigError(f"--lang {words!r}: must be zh or en",
                          zh=f"--lang {words!r}：只能是 zh 或 en")
    start = time.perf_counter()
    if years is not None:
        result = pipeline.run_years(config, parse_years(years), step=_step)
    else:
        result = pipeline.run(config, step=_step)
    with _step("写出结果 / writing outputs") as progress:
        written = pipeline.write_all(result, config, out_dir=out, lang=lang, anonymise=anonymise, maps=maps, pdf=pdf,
                                     progress=progress)
    console.print(total_line(time.perf_counter() - start))
    _print_link_report(result, lang=words)
    _print_summary(result, lang=words)
    table = Table(title="输出文件" if words == "zh" else "outputs", show_header=False)
    table.add_column()
    table.add_column(overflow="fold")
    for name, path in written.items():
        table.add_row(name, str(path))
    console.print(table)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Run configuration (TOML).")],
    # Help texts are rich markup: a literal "[output]" would vanish, hence the escaped bracket.
    out: Annotated[Path | None, typer.Option(help=r"Output folder (default: dir under \[output] in the config).")] = None,
    lang: Annotated[str | None, typer.Option(
        help=r"zh or en for maps, reports, the summary and messages (default: \[map] lang for the pages; "
             "messages in Chinese with English beside).")] = None,
    anonymise: Annotated[bool, typer.Option(help="Replace firm names by codes in maps and reports.")] = False,
    no_map: Annotated[bool, typer.Option("--no-map", help="Skip the HTML map and report.")] = False,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Skip report.pdf (printed with headless Chromium).")] = False,
    year: Annotated[int | None, typer.Option(help=r"Reference year (overrides \[policy] year).")] = None,
    ledger: Annotated[Path | None, typer.Option(
        help=r"Last year's 台账.xlsx as staff returned it (overrides \[ledger] previous).")] = None,
    years: Annotated[str | None, typer.Option(
        help="Evaluate each of these years, e.g. 2021-2023: trends, per-year verdicts and the change layer "
             "(the last year is the reference year).")] = None,
) -> None:
    """Run the whole pipeline on your data."""
    with _user_errors():
        _terminal(lang)
        _run_and_write(config, out, lang, anonymise, not no_map, False if no_pdf else None, year=year,
                       ledger=ledger, years=years)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = DEMO_OUT,
    lang: Annotated[str | None, typer.Option(
        help="zh or en for the pages, the summary and messages (default: messages in Chinese with English beside).")] = None,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Skip report.pdf (printed with headless Chromium).")] = False,
) -> None:
    """Run the pipeline on the bundled sample county (示例县); writes ./gisefficiency-demo/ unless --out."""
    from gisefficiency.sample import demo_config_path

    with _user_errors():
        _terminal(lang)
        _run_and_write(demo_config_path(), out, lang, False, True, False if no_pdf else None)


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="Run configuration (TOML).")],
             lang: LangOption = None) -> None:
    """Check the config and the inputs as run uses them: every problem at once; exit 0 when run will go through.

    Exit 2: the config itself is wrong (one line naming [section] key); exit 1: the data has errors.
    """
    from gisefficiency.config import load_config
    from gisefficiency.pipeline import validate_inputs

    with _user_errors():
        _terminal(lang)
        problems = validate_inputs(load_config(config))
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        labels = ("错误 ", "error ") if p.severity == "error" else ("警告 ", "warning ")
        console.print(p.text(_LANG, indent="  ", labels=labels), style="red" if p.severity == "error" else "yellow",
                      markup=False, highlight=False, soft_wrap=True)
    n_warnings = len(problems) - len(errors)
    console.print(_say(f"{len(errors)} 个错误，{n_warnings} 个警告", f"{len(errors)} error(s), {n_warnings} warning(s)"))
    raise typer.Exit(1 if errors else 0)


@app.command()
def presets(lang: LangOption = None) -> None:
    """List the shipped policy presets and differentiated-price schemes."""
    from gisefficiency.evaluate.policy import list_presets
    from gisefficiency.evaluate.pricing import list_pricing_schemes

    with _user_errors():
        _terminal(lang)
    # One block per preset, each text on its own line and never cut: the terminal wraps long lines itself
    # (a four-column table cut CJK descriptions with "…", which has no spaces to wrap at).
    for info in list_presets():
        console.print(info.name, style="bold", markup=False, highlight=False)
        texts = ([("", info.description_zh)] if _LANG != "en" else []) + \
            ([("", info.description_en)] if _LANG != "zh" else []) + [(_say("来源：", "source: "), info.source)]
        for prefix, text in texts:
            console.print(f"  {prefix}{text}", markup=False, highlight=False, soft_wrap=True)
    schemes = list_pricing_schemes()
    if schemes:
        console.print(_say("差别化价格方案（[policy] pricing）", "Differentiated-price schemes ([policy] pricing)"),
                      style="bold underline", markup=False, highlight=False, soft_wrap=True)
    for scheme in schemes:
        console.print(scheme.name, style="bold", markup=False, highlight=False)
        titles = ([scheme.title_zh] if _LANG != "en" else []) + ([scheme.title_en] if _LANG != "zh" else [])
        for text in [*titles, _say("来源：", "source: ") + scheme.pricing.source]:
            console.print(f"  {text}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def sample(
    parcels: Annotated[int, typer.Option(help="Number of parcels.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20241,
    out: Annotated[Path, typer.Option(help="Output folder (required; must be empty or new unless --force).")] = ...,
    fast: Annotated[bool, typer.Option(help="GeoParquet/Parquet only, no Excel/raster (for 1M benchmarks).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder, replacing files.")] = False,
    lang: LangOption = None,
) -> None:
    """Generate a fictitious sample county (示例县) into --out."""
    from gisefficiency.sample import generate_county, write_sample

    with _user_errors():
        _terminal(lang)
        # Never overwrite a folder by surprise (the bundled sample county among others).
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out}: is a file -> give a folder",
                              zh=f"--out {out}：这是一个文件 → 请给出文件夹")
        if out.is_dir() and any(out.iterdir()) and not force:
            raise ConfigError(f"--out {out}: folder is not empty -> choose a new or empty folder, or add --force "
                              "to replace the sample files in it",
                              zh=f"--out {out}：文件夹不为空 → 请换一个新的或空的文件夹，或加 --force 以替换其中的示例文件")
    with _user_errors(), _step(f"生成示例县 / generating {parcels:,} parcels"):
        county = generate_county(parcels, seed=seed, with_raster=not fast)
        written = write_sample(county, out, formats=("parquet",) if fast else None)
    for name, path in written.items():
        console.print(f"{name}: {path}")


@app.command()
def init(
    parcels: Annotated[Path, typer.Argument(help="Parcel layer: .shp, .gpkg, .geojson, .fgb or GeoParquet.")],
    firms: Annotated[Path, typer.Argument(help="Firm table: .xlsx, .xls, .csv or .parquet.")],
    land: Annotated[Path | None, typer.Argument(help="Optional land rows (自有/租赁).")] = None,
    out: Annotated[Path, typer.Option(help="Config file to write.")] = Path("county.toml"),
    preset: Annotated[str, typer.Option(help="Policy preset (gisefficiency presets) or a preset file.")] = "zhejiang-2019",
    year: Annotated[int | None, typer.Option(help="Reference year (default: the preset's, else the latest).")] = None,
    name: Annotated[str, typer.Option(help="The county's name for maps and reports.")] = "",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing config file.")] = False,
    lang: LangOption = None,
) -> None:
    """Write a commented config for your files: layer, CRS, id, headers, units; lists what it could not map."""
    from gisefficiency.io.inspect import inspect_inputs, write_config

    with _user_errors():
        _terminal(lang)
    with _user_errors(), _step("读取数据 / reading your files"):
        info = inspect_inputs(parcels, firms, land)
    with _user_errors():
        path = write_config(info, out, preset=preset, year=year, name=name, force=force)
    mapped = len(info.parcel_columns) + len(info.firms.columns) + (len(info.land.columns) if info.land else 0)
    years = ", ".join(map(str, info.years)) or "—"
    console.print(_say(f"{info.n_parcels:,} 个地块（编号列 {info.id_column!r}，{info.crs or '无坐标系'}"
                       f"{'，推断' if info.crs_guessed else ''}），年份 {years}，匹配 {mapped} 列",
                       f"{info.n_parcels:,} parcels (id {info.id_column!r}, {info.crs or 'no CRS'}"
                       f"{', guessed' if info.crs_guessed else ''}), years {years}, {mapped} columns matched"),
                  markup=False, highlight=False)
    for note, note_zh in zip(info.notes, info.notes_zh, strict=True):
        text = note_zh if _LANG == "zh" else note if _LANG == "en" else f"{note_zh}\n  {note}"
        console.print(_say("待核对：", "to check:"), style="yellow", end=" ")
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.print(f"{_say('已写出', 'written')}: {path}  ->  gisefficiency validate {path}  ->  gisefficiency run {path}",
                  markup=False, highlight=False)


@app.command()
def scenario(
    config: Annotated[Path, typer.Argument(help="Run configuration (TOML).")],
    blocks: Annotated[str, typer.Option(help="Block ids (block_id in results.gpkg), e.g. 24,8,15.")] = "",
    parcels: Annotated[str, typer.Option(help="Parcel ids, comma-separated.")] = "",
    firms: Annotated[str, typer.Option(help="Firm USCCs, comma-separated.")] = "",
    polygon: Annotated[Path | None, typer.Option(help="GeoJSON polygon drawn on the map or saved from QGIS.")] = None,
    target_tax_per_mu: Annotated[float | None, typer.Option(help="Target 亩均税收 for the new use (万元/亩).")] = None,
    target_tce_per_mu: Annotated[float | None, typer.Option(help="Energy intensity of the new use (tce/亩).")] = None,
    name: Annotated[str, typer.Option(help="Scenario name.")] = "scenario",
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    lang: LangOption = None,
) -> None:
    """Run one redevelopment scenario and print what it frees."""
    import dataclasses

    from gisefficiency import pipeline
    from gisefficiency.config import load_config, scenario_from_dict
    from gisefficiency.scenario.freed import compare

    with _user_errors():
        _terminal(lang)
        cfg = load_config(config)
        # Options are checked before the run, as a [[scenarios]] table is when the config loads.
        spec = scenario_from_dict(
            {"name": name, "blocks": _block_ids(blocks), "parcels": _split_ids(parcels), "firms": _split_ids(firms),
             "polygon": str(polygon) if polygon else None, "target_tax_per_mu": target_tax_per_mu,
             "target_tce_per_mu": target_tce_per_mu},
            labels=_SCENARIO_OPTIONS,
        )
        # The config's own [[scenarios]] run as in `run`; the ids asked for are checked against the
        # blocks, parcels and firms the run found before this scenario is added.
        result = pipeline.run(cfg, step=_step)
        _check_selection(spec, result)
        scenarios = pipeline.run_scenarios(result, dataclasses.replace(cfg, scenarios=(spec,)))
        frame = compare(scenarios)
        out_dir = Path(out) if out else Path(cfg.output.dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"scenario_{name}.csv"
        frame.to_csv(path, encoding="utf-8-sig")
    table = Table("", *map(str, frame.columns), title="情景 / scenario")
    for idx, row in frame.iterrows():
        table.add_row(str(idx), *(_fmt(v) for v in row))
    console.print(table)
    console.print(f"{_say('已写出', 'written')}: {path}")


_SCENARIO_OPTIONS = {"name": "--name", "blocks": "--blocks", "parcels": "--parcels", "firms": "--firms",
                     "polygon": "--polygon", "target_tax_per_mu": "--target-tax-per-mu",
                     "target_tce_per_mu": "--target-tce-per-mu"}

# Separators people type between ids: commas (also full-width) and 、.
_ID_SEPARATORS = re.compile(r"[,，、]")


def _split_ids(text: str) -> list[str]:
    return [part.strip() for part in _ID_SEPARATORS.split(text) if part.strip()]


def _block_ids(text: str) -> list[int]:
    """``--blocks`` as block ids: whole numbers, else one line saying what the option expects."""
    parts = _split_ids(text)
    bad = [p for p in parts if not re.fullmatch(r"[0-9]+", p)]
    if bad:
        from gisefficiency.core.errors import ConfigError

        raise ConfigError(
            f"--blocks {text!r}: {', '.join(map(repr, bad))} is not a block id -> block ids are whole numbers "
            "separated by commas, e.g. --blocks 24,8,15 (column block_id of layer blocks in results.gpkg, or "
            "the report's block table)",
            zh=(f"--blocks {text!r}：{'、'.join(map(repr, bad))} 不是区块编号 → 区块编号是用逗号分隔的整数，例如 "
                "--blocks 24,8,15（results.gpkg 中 blocks 图层的 block_id 列，或报告中的区块表）")
        )
    return [int(p) for p in parts]


def _check_selection(spec, result) -> None:
    """Ids of the options that this run does not have: one line naming the option and the ids it knows."""
    from gisefficiency.core.errors import InputError, format_ids, format_ids_zh

    for option, wanted, known, what in (
        ("--blocks", spec.blocks, result.blocks.index, "block"),
        ("--parcels", spec.parcels, result.parcels.index, "parcel"),
        ("--firms", spec.firms, result.firms.index, "firm"),
    ):
        missing = [w for w in wanted if w not in known]  # an Index: a hashed lookup per id
        if not missing:
            continue
        what_zh = {"block": "区块", "parcel": "地块", "firm": "企业"}[what]
        if what == "block":
            have = f"this run has {len(known)} block(s)" + (f", ids {min(known)}-{max(known)}" if len(known) else "")
            have_zh = f"本次运行有 {len(known)} 个区块" + (f"，编号 {min(known)}-{max(known)}" if len(known) else "")
        else:
            have = f"this run has {len(known):,} {what}s, e.g. {format_ids(list(known[:3]), limit=3)}"
            have_zh = f"本次运行有 {len(known):,} 个{what_zh}，例如 {format_ids_zh(list(known[:3]), limit=3)}"
        raise InputError(f"{option}: no {what} {format_ids(missing)} ({have}) -> use ids from results.gpkg "
                         f"(layer {what}s) or the report",
                         zh=(f"{option}：没有{what_zh} {format_ids_zh(missing)}（{have_zh}）→ 请使用 results.gpkg "
                             f"（{what}s 图层）或报告中的编号"))


def _fmt(v: object) -> str:
    """Numbers as bureaus print them: thousands separators, 2 decimals, missing as a dash (never 0)."""
    if isinstance(v, float):
        if v != v:
            return "—"
        return f"{v:,.0f}" if v.is_integer() and abs(v) < 1e12 else f"{v:,.2f}"
    return str(v)


def _print_link_report(result, *, lang: str = "zh") -> None:
    if result.links is None:
        return
    frame = result.links.report.to_frame()
    zh = lang == "zh"
    table = Table(title="关联报告" if zh else "link report")
    table.add_column("项目" if zh else "item", overflow="fold")
    table.add_column("数量" if zh else "count", justify="right")
    table.add_column("亩" if zh else "mu", justify="right")
    for label, count, mu in zip(frame["label_zh" if zh else "label_en"], frame["count"], frame["mu"], strict=True):
        table.add_row(str(label), f"{int(count):,}", _fmt(float(mu)))
    console.print(table)


#: Row labels of the terminal summary, zh and en.
_SUMMARY_LABELS: dict[str, tuple[str, str]] = {
    "parcels": ("地块", "parcels"),
    "land": ("用地(亩)", "land (mu)"),
    "firms": ("企业", "firms"),
    "grades": ("评价类别", "grades"),
    "disposal": ("处置类别", "disposal"),
    "low": ("低效用地(亩)", "low-efficiency land (mu)"),
    "blocks": ("连片区块", "contiguous blocks"),
}


def summary_rows(result, *, lang: str = "zh") -> list[tuple[str, str]]:
    """The terminal summary of a run as (label, value) rows, in words.

    Parameters
    ----------
    result
        A :class:`gisefficiency.result.Result`.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    list of (str, str)
        Grades as "A类 331" (``core.i18n.GRADE_LABELS``, not graded included) and disposal categories by the
        preset's own names in the preset's order, every category shown (a zero is a finding too).
    """
    from gisefficiency.core.i18n import GRADE_LABELS

    k = 0 if lang == "zh" else 1
    sep = "，" if lang == "zh" else ", "
    p, f = result.parcels, result.firms
    rows = [
        (_SUMMARY_LABELS["parcels"][k], f"{len(p):,}"),
        (_SUMMARY_LABELS["land"][k], f"{p['land_mu'].sum():,.1f}"),
        (_SUMMARY_LABELS["firms"][k], f"{len(f):,}"),
    ]
    if "grade" in f:
        counts = f["grade"].value_counts()
        order = [g for g in GRADE_LABELS if g in counts.index] + sorted(set(counts.index) - set(GRADE_LABELS))
        rows.append((_SUMMARY_LABELS["grades"][k],
                     sep.join(f"{GRADE_LABELS.get(g, (g, g))[k]} {counts[g]:,}" for g in order)))
    if "disposal" in f:
        counts = f.loc[f["disposal"].fillna("") != "", "disposal"].value_counts()
        categories = dict(result.policy.categories) if result.policy is not None else {}
        order = list(categories) + sorted(set(counts.index) - set(categories))
        words = [f"{(getattr(categories[c], 'zh' if k == 0 else 'en') if c in categories else c)} "
                 f"{int(counts.get(c, 0)):,}" for c in order]
        rows.append((_SUMMARY_LABELS["disposal"][k], sep.join(words) or "—"))
    rows.append((_SUMMARY_LABELS["low"][k], f"{p.loc[p['low_efficiency'], 'land_mu'].sum():,.1f}"))
    rows.append((_SUMMARY_LABELS["blocks"][k], f"{len(result.blocks):,}"))
    years = result.meta.get("years") if result.meta else None
    if years is not None:  # a multi-year run: how the low-efficiency land changed
        from gisefficiency.evaluate.years import CHANGE_CLASSES

        changes = years.change.value_counts()
        label = ("变化" if k == 0 else "change") + f" {years.years[0]}→{years.years[-1]}"
        rows.append((label, sep.join(f"{cls[1 + k]} {int(changes.get(cls[0], 0)):,}" for cls in CHANGE_CLASSES)))
    return rows


def _print_summary(result, *, lang: str = "zh") -> None:
    table = Table(title=f"{result.policy.name} · {result.year}", show_header=False)
    table.add_column()
    table.add_column(overflow="fold")
    for name, value in summary_rows(result, lang=lang):
        table.add_row(name, value)
    console.print(table)


def main() -> None:  # pragma: no cover - console entry
    """Entry point for ``python -m gisefficiency``."""
    sys.exit(app())

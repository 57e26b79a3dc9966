"""Command line: a thin shell over the same functions the notebooks call.

User mistakes print one clear line per problem and exit 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gisefficiency.core.errors import GisEfficiencyError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="gisefficiency: 亩均论英雄 per-mu land efficiency for Zhejiang land bureaus.",
)
console = Console(stderr=False)
err = Console(stderr=True)

_DEBUG = False


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    global _DEBUG
    _DEBUG = debug


@contextlib.contextmanager
def _step(label: str) -> Iterator[None]:
    start = time.perf_counter()
    with console.status(f"[bold]{label}[/bold] ..."):
        yield
    console.print(f"[green]✓[/green] {label} [dim]{time.perf_counter() - start:.2f} s[/dim]")


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except GisEfficiencyError as exc:
        if _DEBUG:
            raise
        # Data text (paths, ids, "[parcels]") must print as it is, never as rich markup.
        err.print("错误 / error:", style="bold red", end=" ")
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def demo_config_path() -> Path:
    """Find the bundled sample county's config (``layers/sample/demo.toml``) in the checkout."""
    here = Path(__file__).resolve().parent.parent
    for root in (here, Path.cwd()):
        candidate = root / "layers" / "sample" / "demo.toml"
        if candidate.is_file():
            return candidate
    raise GisEfficiencyError(
        "layers/sample/demo.toml not found -> run the demo from a checkout of the repository"
    )


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
            raise ConfigError(f"--years {text!r}: give a range such as 2021-2023 or a list such as 2021,2023")
        years.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return tuple(sorted(years))


def _run_and_write(config_path: Path, out: Path | None, lang: str | None, anonymise: bool, maps: bool,
                   years: str | None = None) -> None:
    from gisefficiency import pipeline
    from gisefficiency.config import load_config

    config = load_config(config_path)
    if years is not None:
        result = pipeline.run_years(config, parse_years(years), step=_step)
    else:
        result = pipeline.run(config, step=_step)
    with _step("写出结果 / writing outputs"):
        written = pipeline.write_all(result, config, out_dir=out, lang=lang, anonymise=anonymise, maps=maps)
    _print_link_report(result)
    _print_summary(result)
    table = Table(title="输出文件 / outputs", show_header=False)
    for name, path in written.items():
        table.add_row(name, str(path))
    console.print(table)


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Run configuration (TOML).")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default: [output] dir).")] = None,
    lang: Annotated[str | None, typer.Option(help="zh or en for maps and reports.")] = None,
    anonymise: Annotated[bool, typer.Option(help="Replace firm names by codes in maps and reports.")] = False,
    no_map: Annotated[bool, typer.Option("--no-map", help="Skip the HTML map and report.")] = False,
    years: Annotated[str | None, typer.Option(
        help="Evaluate each of these years, e.g. 2021-2023: trends, per-year verdicts and the change layer "
             "(the last year is the reference year).")] = None,
) -> None:
    """Run the whole pipeline on your data."""
    with _user_errors():
        _run_and_write(config, out, lang, anonymise, not no_map, years)


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option(help="Output folder (default: maps/sample).")] = None,
    lang: Annotated[str | None, typer.Option(help="zh or en.")] = None,
) -> None:
    """Run the pipeline on the bundled sample county (示例县) and write maps/sample/."""
    with _user_errors():
        _run_and_write(demo_config_path(), out, lang, False, True)


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="Run configuration (TOML).")]) -> None:
    """Check the config and the inputs as run uses them: every problem at once; exit 0 when run will go through.

    Exit 2: the config itself is wrong (one line naming [section] key); exit 1: the data has errors.
    """
    from gisefficiency.config import load_config
    from gisefficiency.pipeline import validate_inputs

    with _user_errors():
        problems = validate_inputs(load_config(config))
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        console.print(p.severity, style=colour, end=" ")
        console.print(str(p), markup=False, highlight=False, soft_wrap=True)
    console.print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    raise typer.Exit(1 if errors else 0)


@app.command()
def presets() -> None:
    """List the shipped policy presets."""
    from gisefficiency.evaluate.policy import list_presets

    table = Table("name", "说明", "description", "source")
    for info in list_presets():
        table.add_row(info.name, info.description_zh, info.description_en, info.source)
    console.print(table)


@app.command()
def sample(
    parcels: Annotated[int, typer.Option(help="Number of parcels.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20241,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("layers/sample"),
    fast: Annotated[bool, typer.Option(help="GeoParquet/Parquet only, no Excel/raster (for 1M benchmarks).")] = False,
) -> None:
    """Generate a fictitious sample county (示例县)."""
    from gisefficiency.sample import generate_county, write_sample

    with _user_errors(), _step(f"生成示例县 / generating {parcels:,} parcels"):
        county = generate_county(parcels, seed=seed, with_raster=not fast)
        written = write_sample(county, out, formats=("parquet",) if fast else None)
    for name, path in written.items():
        console.print(f"{name}: {path}")


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
) -> None:
    """Run one redevelopment scenario and print what it frees."""
    import dataclasses

    from gisefficiency import pipeline
    from gisefficiency.config import load_config, scenario_from_dict
    from gisefficiency.scenario.freed import compare

    with _user_errors():
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
    console.print(f"written: {path}")


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
            "the report's block table)"
        )
    return [int(p) for p in parts]


def _check_selection(spec, result) -> None:
    """Ids of the options that this run does not have: one line naming the option and the ids it knows."""
    from gisefficiency.core.errors import InputError, format_ids

    for option, wanted, known, what in (
        ("--blocks", spec.blocks, result.blocks.index, "block"),
        ("--parcels", spec.parcels, result.parcels.index, "parcel"),
        ("--firms", spec.firms, result.firms.index, "firm"),
    ):
        missing = [w for w in wanted if w not in known]  # an Index: a hashed lookup per id
        if not missing:
            continue
        if what == "block":
            have = f"this run has {len(known)} block(s)" + (f", ids {min(known)}-{max(known)}" if len(known) else "")
        else:
            have = f"this run has {len(known):,} {what}s, e.g. {format_ids(list(known[:3]), limit=3)}"
        raise InputError(f"{option}: no {what} {format_ids(missing)} ({have}) -> use ids from results.gpkg "
                         f"(layer {what}s) or the report")


def _fmt(v: object) -> str:
    """Numbers as bureaus print them: thousands separators, 2 decimals, missing as a dash (never 0)."""
    if isinstance(v, float):
        if v != v:
            return "—"
        return f"{v:,.0f}" if v.is_integer() and abs(v) < 1e12 else f"{v:,.2f}"
    return str(v)


def _print_link_report(result) -> None:
    if result.links is None:
        return
    frame = result.links.report.to_frame()
    table = Table(title="关联报告 / link report")
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    console.print(table)


def _print_summary(result) -> None:
    p = result.parcels
    f = result.firms
    table = Table(title=f"{result.policy.name} · {result.year}", show_header=False)
    table.add_row("地块 parcels", f"{len(p):,}")
    table.add_row("用地 land (mu)", f"{p['land_mu'].sum():,.1f}")
    table.add_row("企业 firms", f"{len(f):,}")
    if "grade" in f:
        counts = f["grade"].value_counts().sort_index()
        table.add_row("评价 grades", "  ".join(f"{k}:{v}" for k, v in counts.items()))
    if "disposal" in f:
        counts = f.loc[f["disposal"].fillna("") != "", "disposal"].value_counts()
        table.add_row("处置 disposal", "  ".join(f"{k}:{v}" for k, v in counts.items()) or "-")
    table.add_row("低效用地 low-efficiency (mu)", f"{p.loc[p['low_efficiency'], 'land_mu'].sum():,.1f}")
    table.add_row("连片区块 blocks", f"{len(result.blocks):,}")
    years = result.meta.get("years") if result.meta else None
    if years is not None:
        from gisefficiency.evaluate.years import CHANGE_CLASSES

        counts = years.change.value_counts()
        table.add_row(f"变化 change {years.years[0]}→{years.years[-1]}",
                      "  ".join(f"{k}:{int(counts.get(k, 0))}" for k, *_ in CHANGE_CLASSES))
    console.print(table)


def main() -> None:  # pragma: no cover - console entry
    """Entry point for ``python -m gisefficiency``."""
    sys.exit(app())

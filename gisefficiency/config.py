"""The run configuration: a TOML file turned into a frozen, validated ``Config``.

Paths are relative to the config file. Unknown sections or keys are an error that names
them and lists the known ones, so a typo never silently falls back to a default.

Every value is checked once, here, when the config is loaded: its type comes from the section's
dataclass, its allowed range or values from ``RANGES`` and ``CHOICES``. :func:`config_keys` lists
that table (``docs/config.md`` is generated from it), so no stage stops a run late on a value the
config could have refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gisefficiency.core.crs import COORD_SYSTEMS
from gisefficiency.core.errors import ConfigError
from gisefficiency.link.validate import LINK_METHODS

TenantMode = Literal["merge_to_holder", "floor_share", "fixed_ratio", "separate_group"]


@dataclass(frozen=True)
class ProjectSection:
    """Run-wide facts: the county's name shown in maps and reports."""

    name: str = ""


@dataclass(frozen=True)
class ParcelsSection:
    """Where the parcel polygons are and how to read them."""

    path: Path | str | None = None  # a file, or a database URL (str) with table or query
    table: str | None = None
    query: str | None = None
    layer: str | None = None
    id: str = "parcel_id"
    crs: str | None = None
    encoding: str | None = None
    engine: Literal["pyogrio", "fiona"] = "pyogrio"
    area_basis: Literal["cert", "drawn"] = "cert"
    area_diff_share: float = 0.05
    duplicates: Literal["error", "keep_first", "merge"] = "error"
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FirmsSection:
    """The firm-year table (Excel, CSV or Parquet, or a database table or query)."""

    path: Path | str | None = None
    table: str | None = None
    query: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    units: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LandSection:
    """Optional firm-parcel land rows (uscc, parcel_id, kind, floor_area_m2)."""

    path: Path | str | None = None
    table: str | None = None
    query: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LinkSection:
    """How firms are linked to parcels and how tenants share land."""

    methods: tuple[str, ...] = ("table", "land", "holder", "point")
    tenant_mode: TenantMode = "floor_share"
    fixed_ratio_m2_per_mu: float = 2000.0
    nearest_m: float = 30.0
    point_crs: str | None = None
    combine: Literal["union", "first"] = "union"
    table_years: Literal["latest", "all"] = "latest"


@dataclass(frozen=True)
class PolicySection:
    """Which policy preset to apply, the reference year (default: the preset's), and the differentiated
    price scheme in force (a shipped scheme's name or a pricing file; replaces the preset's ``[pricing]``)."""

    preset: str = "zhejiang-2019"
    year: int | None = None
    pricing: str | None = None


@dataclass(frozen=True)
class BlocksSection:
    """Contiguous low-efficiency blocks (集中连片)."""

    gap_m: float = 30.0
    min_area_mu: float = 50.0
    min_parcels: int = 2
    keep: Literal["enclosed", "share", "none"] = "enclosed"
    keep_max_share: float = 0.2
    close_gaps: bool = False
    target_tax_per_mu: float | None = None


@dataclass(frozen=True)
class ClustersSection:
    """Statistical low-efficiency clusters beside the rule-based blocks."""

    enabled: bool = True
    method: Literal["moran", "gi"] = "moran"
    column: str = "tax_per_mu"
    permutations: int = 999
    fdr: float = 0.05
    seed: int = 12345


@dataclass(frozen=True)
class ScenarioSection:
    """One redevelopment scenario: a selection and the assumption for the new use."""

    name: str = ""
    blocks: tuple[int, ...] = ()
    parcels: tuple[str, ...] = ()
    firms: tuple[str, ...] = ()
    polygon: Path | None = None
    top_blocks: int | None = None
    target_tax_per_mu: float | None = None
    target_tce_per_mu: float | None = None


@dataclass(frozen=True)
class RasterSection:
    """GeoTIFF outputs, zonal statistics and plot ratio."""

    enabled: bool = True
    resolution_m: float = 20.0
    metrics: tuple[str, ...] = ("tax_per_mu", "grade", "disposal", "block_id")
    height: Path | None = None
    storey_height_m: float = 3.0
    bandwidth_m: float = 500.0
    density_resolution_m: float = 50.0


@dataclass(frozen=True)
class MapSection:
    """The interactive map."""

    lang: Literal["zh", "en"] = "zh"
    basemap: Literal["osm", "gaode", "gaode_satellite", "tianditu", "tianditu_satellite", "none"] = "osm"
    offline: bool = True
    max_parcels: int = 200_000
    tianditu_key: str | None = None


@dataclass(frozen=True)
class LedgerSection:
    """The 台账: ``previous`` is last year's ``台账.xlsx`` as staff returned it (none: the first year)."""

    enabled: bool = True
    previous: Path | None = None


@dataclass(frozen=True)
class OutputSection:
    """Where results go."""

    dir: Path = Path("output")
    anonymise: bool = False
    #: Also print report.html to report.pdf with headless Chromium when one is installed (a few seconds).
    pdf: bool = True
    database: str | None = None  # a PostgreSQL/PostGIS URL: the layers are also written there
    schema: str = "gisefficiency"


@dataclass(frozen=True)
class Config:
    """A whole run configuration; build it with :func:`load_config` or :func:`config_from_dict`."""

    source: Path | None = None
    project: ProjectSection = field(default_factory=ProjectSection)
    parcels: ParcelsSection = field(default_factory=ParcelsSection)
    firms: FirmsSection = field(default_factory=FirmsSection)
    land: LandSection = field(default_factory=LandSection)
    link: LinkSection = field(default_factory=LinkSection)
    policy: PolicySection = field(default_factory=PolicySection)
    blocks: BlocksSection = field(default_factory=BlocksSection)
    clusters: ClustersSection = field(default_factory=ClustersSection)
    scenarios: tuple[ScenarioSection, ...] = ()
    raster: RasterSection = field(default_factory=RasterSection)
    map: MapSection = field(default_factory=MapSection)
    ledger: LedgerSection = field(default_factory=LedgerSection)
    output: OutputSection = field(default_factory=OutputSection)


_SECTIONS: dict[str, type] = {
    f.name: typing.get_type_hints(Config)[f.name] for f in dataclasses.fields(Config) if f.name != "source"
}
# [[scenarios]] is an array of tables, each a ScenarioSection.
_SECTIONS["scenarios"] = ScenarioSection


@dataclass(frozen=True)
class Range:
    """The allowed interval of a numeric key (of each element, for a list); NaN and infinity never pass.

    Attributes
    ----------
    low, high
        Bounds (None: unbounded on that side).
    low_open, high_open
        True where the bound itself is excluded.
    note
        Unit or meaning shown in messages and in the reference, e.g. ``"metres"``.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    note: str = ""

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def __str__(self) -> str:
        def num(v: float) -> str:
            return str(int(v)) if float(v).is_integer() else f"{v:g}"

        if self.low is not None and self.high is not None:
            text = (f"{'(' if self.low_open else '['}{num(self.low)}, {num(self.high)}"
                    f"{')' if self.high_open else ']'}")
        elif self.low is not None:
            text = f"{'>' if self.low_open else '>='} {num(self.low)}"
        elif self.high is not None:
            text = f"{'<' if self.high_open else '<='} {num(self.high)}"
        else:
            text = "any finite number"
        return f"{text} ({self.note})" if self.note else text


_POSITIVE_M = Range(0, low_open=True, note="metres")
_DISTANCE_M = Range(0, note="metres")

#: Allowed range of every numeric key, by section; "scenarios" applies to each [[scenarios]] table.
#: config_keys() checks that every numeric key of the dataclasses is listed here.
RANGES: dict[str, dict[str, Range]] = {
    "parcels": {"area_diff_share": Range(0, note="share, 0.05 = 5 %")},
    "firms": {"sheet": Range(0, note="0-based sheet position"), "header_row": Range(1, note="1-based row")},
    "land": {"sheet": Range(0, note="0-based sheet position"), "header_row": Range(1, note="1-based row")},
    "link": {"fixed_ratio_m2_per_mu": Range(0, low_open=True, note="m2 of leased floor per mu"),
             "nearest_m": _DISTANCE_M},
    "policy": {"year": Range(1949, 2100, note="calendar year")},
    "blocks": {"gap_m": _DISTANCE_M, "min_area_mu": Range(0, note="mu"), "min_parcels": Range(1),
               "keep_max_share": Range(0, 1, high_open=True, note="share"),
               "target_tax_per_mu": Range(0, note="万元/亩")},
    "clusters": {"permutations": Range(99, note="e.g. 999"), "fdr": Range(0, 1, True, True, note="e.g. 0.05"),
                 "seed": Range(0, 2**32 - 1)},
    "scenarios": {"blocks": Range(1, note="block ids"), "top_blocks": Range(1),
                  "target_tax_per_mu": Range(0, low_open=True, note="万元/亩"),
                  "target_tce_per_mu": Range(0, note="tce/亩")},
    "raster": {"resolution_m": _POSITIVE_M, "storey_height_m": _POSITIVE_M, "bandwidth_m": _POSITIVE_M,
               "density_resolution_m": _POSITIVE_M},
    "map": {"max_parcels": Range(0, note="0: always the aggregated view")},
}

#: Allowed values of text keys (of each element, for a list) whose type is plain text; the choices of
#: ``Literal`` keys come from their type. A mapping lists accepted spellings -> the value they mean.
CHOICES: dict[str, dict[str, tuple[str, ...] | Mapping[str, str]]] = {
    "link": {"methods": LINK_METHODS, "point_crs": COORD_SYSTEMS},
}

#: Lists that may not repeat an element, and lists that may not be empty.
UNIQUE_LISTS: frozenset[tuple[str, str]] = frozenset({("link", "methods"), ("raster", "metrics")})
NON_EMPTY_LISTS: frozenset[tuple[str, str]] = frozenset({("link", "methods")})


@dataclass(frozen=True)
class ConfigKey:
    """One row of the key table: what a config key accepts.

    Attributes
    ----------
    section, key
        ``[section] key`` (section ``scenarios`` is each ``[[scenarios]]`` table).
    type
        The accepted type in words ("number", "whole number", "list of text", ...).
    default
        The default value (None: not set).
    range
        Allowed interval of numbers, or None.
    choices
        Allowed values of text, or (); a mapping: accepted spellings -> the value they mean.
    """

    section: str
    key: str
    type: str
    default: Any
    range: Range | None
    choices: tuple[Any, ...] | Mapping[str, str]

    @property
    def allowed(self) -> str:
        """The range or the choices in words, and the list rules ("" if any value of the type is allowed)."""
        text = _allowed(self.choices) if self.choices else str(self.range) if self.range is not None else ""
        rules = [rule for rule, table in (("at least one", NON_EMPTY_LISTS), ("each once", UNIQUE_LISTS))
                 if (self.section, self.key) in table]
        return "; ".join([text, *rules] if text else rules)


def _allowed(choices: tuple[Any, ...] | Mapping[str, str]) -> str:
    if isinstance(choices, Mapping):
        return (f"one of {', '.join(map(repr, dict.fromkeys(choices.values())))} "
                f"(or a spelling such as {', '.join(map(repr, list(choices)[1:4]))})")
    return "one of " + ", ".join(map(repr, choices))


def config_keys() -> list[ConfigKey]:
    """Every config key with its type, default and allowed range or values, in section order.

    The same table :func:`config_from_dict` checks values against; ``docs/config.md`` is generated
    from it (``python -m gisefficiency.config``).
    """
    out = []
    for section, cls in _SECTIONS.items():
        hints = typing.get_type_hints(cls)
        defaults = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
                             else f.default) for f in dataclasses.fields(cls)}
        for key, hint in hints.items():
            kinds, literal = _kinds(hint)
            bounds = RANGES.get(section, {}).get(key)
            if bounds is None and kinds & {"number", "whole number"}:
                raise AssertionError(f"[{section}] {key}: numeric key without a range in config.RANGES")
            choices = literal or CHOICES.get(section, {}).get(key, ())
            out.append(ConfigKey(section, key, _type_words(hint), defaults[key], bounds, choices))
    return out


def describe_keys() -> str:
    """The key table as Markdown (the body of ``docs/config.md``)."""
    lines = ["| key | type | default | allowed |", "|---|---|---|---|"]
    for k in config_keys():
        name = f"[[scenarios]] {k.key}" if k.section == "scenarios" else f"[{k.section}] {k.key}"
        default = "" if k.default is None or k.default in ((), {}) else _toml(k.default)
        allowed = k.allowed.replace("|", "\\|")
        lines.append(f"| `{name}` | {k.type} | {f'`{default}`' if default else ''} | {allowed} |")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _kinds(hint: Any) -> tuple[set[str], tuple[Any, ...]]:
    """The plain kinds a hint accepts ("number", "whole number", "text", ...) and its Literal choices."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds: set[str] = set()
        choices: tuple[Any, ...] = ()
        for a in args:
            if a is not type(None):
                k, c = _kinds(a)
                kinds |= k
                choices += c
        return kinds, choices
    if origin is Literal:
        return {"text"}, args
    if origin is tuple:
        return _kinds(args[0])
    return {_WORDS.get(hint, "table")}, ()


_WORDS: dict[Any, str] = {float: "number", int: "whole number", bool: "true/false", str: "text", Path: "path"}


def _type_words(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        text = " or ".join(_type_words(a) for a in inner)
        return f"{text} (optional)" if len(inner) < len(args) else text
    if origin is Literal:
        return "text"
    if origin is tuple:
        return f"list of {_type_words(args[0])}"
    if origin is dict:
        return "table of text"
    return _WORDS.get(hint, str(hint))


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML run configuration.

    Parameters
    ----------
    path
        The config file; relative paths inside it are taken relative to its folder.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Missing or unreadable file, unknown section or key, or a value of the wrong type or outside
        its range; the message names the file, ``[section] key`` and what is allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found -> pass the path of a .toml file",
                          zh=f"{path}：找不到配置文件 → 请给出一个 .toml 配置文件的路径")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}) -> fix the syntax at that line",
                          zh=f"{path}：不是有效的 TOML（{exc}）→ 请修正该行的语法") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text -> save the config as UTF-8",
                          zh=f"{path}：不是 UTF-8 文本 → 请把配置文件另存为 UTF-8 编码") from None
    return config_from_dict(data, base=path.parent, source=path)


def config_from_dict(data: dict[str, Any], *, base: Path | None = None, source: Path | None = None) -> Config:
    """Build a ``Config`` from a parsed TOML mapping, checking every value against :func:`config_keys`.

    Parameters
    ----------
    data
        Sections as nested dicts, as ``tomllib`` returns them.
    base
        Folder that relative paths (including a preset given as a ``.toml`` path) are resolved
        against (default: the current folder).
    source
        The file the data came from, for messages.

    Raises
    ------
    ConfigError
        Naming the file, ``[section] key``, the value and what is allowed.
    """
    where = str(source) if source else "config"
    base = base or Path.cwd()
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(f'[{u}]' for u in unknown)}; "
            f"known: {', '.join(f'[{s}]' for s in _SECTIONS)}",
            zh=f"{where}：未知的节 {', '.join(f'[{u}]' for u in unknown)}；可用的节：{', '.join(f'[{s}]' for s in _SECTIONS)}"
        )
    built: dict[str, Any] = {}
    for name, value in data.items():
        if name == "scenarios":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"{where}: 'scenarios' must be an array of tables ([[scenarios]])",
                                  zh=f"{where}：'scenarios' 必须是表数组（[[scenarios]]）")
            built[name] = tuple(
                _build(name, item, f"{where}: [[scenarios]] #{i + 1}", base)
                for i, item in enumerate(value)
            )
        else:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{name}] must be a table of keys",
                                  zh=f"{where}：[{name}] 必须是由键组成的表")
            built[name] = _build(name, value, f"{where}: [{name}]", base)
    _check_databases(built, where)
    config = Config(source=source, **built)
    _check_across(config, where)
    return config


# --- database sources and outputs ------------------------------------------------------------
# ``path`` of [parcels], [firms] and [land] is a file, or a database URL ("postgresql://user@host/db")
# with exactly one of ``table`` or ``query``; [output] database is a URL written to ``schema``.
_DATABASE_URL = re.compile(r"^(postgresql|postgres)(\+\w+)?://", re.IGNORECASE)


def is_database_url(value: object) -> bool:
    """Whether a config value is a PostgreSQL URL (``postgresql://``, ``postgres://``, ``postgresql+psycopg://``)."""
    return isinstance(value, str) and bool(_DATABASE_URL.match(value))


def _check_databases(built: dict[str, Any], where: str) -> None:
    for name in ("parcels", "firms", "land"):
        section = built.get(name)
        if section is None:
            continue
        url = is_database_url(section.path)
        given = [key for key in ("table", "query") if getattr(section, key) is not None]
        if url and len(given) != 1:
            raise ConfigError(
                f"{where}: [{name}] path is a database URL; "
                + ("it needs a table or a query" if not given else "give table or query, not both")
                + f" -> add table = \"schema.{name}\" or query = \"select ...\" under [{name}]",
                zh=(f"{where}：[{name}] path 是数据库地址，"
                    + ("还需要 table 或 query" if not given else "table 与 query 只能给一个")
                    + f" → 在 [{name}] 下加上 table = \"schema.{name}\" 或 query = \"select ...\""),
            )
        if given and not url:
            raise ConfigError(
                f"{where}: [{name}] {given[0]} is set but path is not a database URL -> set "
                f"path = \"postgresql://user@host:5432/dbname\", or remove {given[0]} to read a file",
                zh=(f"{where}：[{name}] 设了 {given[0]}，但 path 不是数据库地址 → 把 path 设为 "
                    f"\"postgresql://user@host:5432/dbname\"，或删去 {given[0]} 以读取文件"),
            )
        if name == "parcels" and url and section.layer is not None:
            raise ConfigError(f"{where}: [parcels] layer is for files; a database reads its table or query "
                              "-> remove layer",
                              zh=f"{where}：[parcels] layer 只用于文件；数据库读取的是 table 或 query → 请删去 layer")
    output = built.get("output")
    if output is not None and output.database is not None:
        if not is_database_url(output.database):
            raise ConfigError(
                f"{where}: [output] database = {output.database!r}: not a PostgreSQL URL "
                "-> write it as \"postgresql://user@host:5432/dbname\" (password in PGPASSWORD or ~/.pgpass)",
                zh=(f"{where}：[output] database = {output.database!r}：不是 PostgreSQL 地址 → 写成 "
                    "\"postgresql://user@host:5432/dbname\"（密码放在 PGPASSWORD 或 ~/.pgpass 中）"),
            )
        if not output.schema or output.schema.startswith("pg_") or output.schema == "information_schema":
            raise ConfigError(f"{where}: [output] schema = {output.schema!r}: not usable "
                              "-> name a schema of your own, e.g. \"gisefficiency\"",
                              zh=f"{where}：[output] schema = {output.schema!r}：不可用 → 请用自己的模式名，例如 \"gisefficiency\"")


def scenario_from_dict(values: dict[str, Any], *, labels: Mapping[str, str] | None = None,
                       base: Path | None = None) -> ScenarioSection:
    """One scenario from keyword values (the CLI's options), checked as a ``[[scenarios]]`` table is.

    Parameters
    ----------
    values
        Keys of :class:`ScenarioSection`; None values are left out.
    labels
        How each key is named in messages (the CLI: ``{"blocks": "--blocks", ...}``).
    base
        Folder a relative polygon path is resolved against (default: the current folder).

    Raises
    ------
    ConfigError
        A value of the wrong type or out of range, or a scenario that selects nothing.
    """
    given = {k: v for k, v in values.items() if v is not None}
    spec = _build("scenarios", given, "scenario", base or Path.cwd(), labels=labels)
    if not (spec.blocks or spec.parcels or spec.firms or spec.polygon is not None or spec.top_blocks):
        names = [(labels or {}).get(k, k) for k in ("blocks", "parcels", "firms", "polygon")]
        raise ConfigError(f"the scenario selects nothing -> give {', '.join(names)}",
                          zh=f"该情景没有选中任何对象 → 请给出 {', '.join(names)} 之一")
    return spec


def _build(section: str, values: dict[str, Any], where: str, base: Path,
           labels: Mapping[str, str] | None = None) -> Any:
    cls = _SECTIONS[section]
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(hints)}",
                          zh=f"{where}：未知的键 {', '.join(unknown)}；可用的键：{', '.join(hints)}")
    kwargs = {}
    for key, value in values.items():
        label = labels[key] if labels and key in labels else f"{where} {key}"
        coerced = _coerce(value, hints[key], label, base)
        _check_allowed(coerced, section, key, label)
        kwargs[key] = coerced
    if section == "policy" and "preset" in kwargs:
        kwargs["preset"] = _preset_path(kwargs["preset"], base)
    if section == "policy" and kwargs.get("pricing"):
        kwargs["pricing"] = _preset_path(kwargs["pricing"], base)
    return cls(**kwargs)


def _check_allowed(value: Any, section: str, key: str, label: str) -> None:
    """Check a coerced value (each element of a list) against ``RANGES``, ``CHOICES`` and the list rules."""
    items = value if isinstance(value, tuple) else (value,)
    bounds = RANGES.get(section, {}).get(key)
    choices = CHOICES.get(section, {}).get(key)
    for item in items:
        if bounds is not None and isinstance(item, int | float) and not isinstance(item, bool) \
                and item not in bounds:
            raise ConfigError(f"{label} = {_shown(value)}: must be {bounds}",
                              zh=f"{label} = {_shown(value)}：必须 {bounds}")
        # spellings are matched as the stage matches them (trimmed, any case); plain choices exactly
        spelled = item.strip().lower() if isinstance(choices, Mapping) and isinstance(item, str) else item
        if choices is not None and isinstance(item, str) and spelled not in choices:
            raise ConfigError(f"{label} = {_shown(value)}: {item!r} is not {_allowed(choices)}",
                              zh=f"{label} = {_shown(value)}：{item!r} 不在可选值之中（{_allowed(choices)}）")
    if (section, key) in UNIQUE_LISTS:
        repeated = sorted({v for v in items if items.count(v) > 1})
        if repeated:
            raise ConfigError(f"{label} = {_shown(value)}: {', '.join(map(repr, repeated))} listed twice "
                              "-> list each once",
                              zh=f"{label} = {_shown(value)}：{', '.join(map(repr, repeated))} 重复列出 → 每项只列一次")
    if (section, key) in NON_EMPTY_LISTS and not items:
        what = _allowed(choices) if choices else "one value"
        raise ConfigError(f"{label} = []: give at least {what}",
                          zh=f"{label} = []：至少给出 {what}")


def _shown(value: Any) -> str:
    return _toml(value) if isinstance(value, tuple) else repr(value)


def _preset_path(preset: str, base: Path) -> str:
    """A preset given as a file (``*.toml`` or a path with a folder) is relative to the config, as every path."""
    if preset.endswith(".toml") or "/" in preset or "\\" in preset:
        path = Path(preset).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())
    return preset


def _check_across(config: Config, where: str) -> None:
    """Rules that involve more than one key."""
    for i, spec in enumerate(config.scenarios):
        if not (spec.blocks or spec.parcels or spec.firms or spec.polygon is not None or spec.top_blocks):
            raise ConfigError(f"{where}: [[scenarios]] #{i + 1} selects nothing -> give blocks, top_blocks, "
                              "parcels, firms or polygon",
                              zh=f"{where}：[[scenarios]] 第 {i + 1} 个情景没有选中任何对象 → 请给出 blocks、top_blocks、parcels、firms 或 polygon")


def _coerce(value: Any, hint: Any, where: str, base: Path) -> Any:
    """Check ``value`` against a type hint and convert paths and tuples."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        # An empty string means "not set" for optional keys, as bureaus often leave them blank.
        if value == "" and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if str in inner and is_database_url(value):
            return value  # a database URL stays as written, not a path (see _check_databases)
        if len(inner) == 1:
            return _coerce(value, inner[0], where, base)
        # Several types (a sheet's name or position): the first that takes the value.
        for option in inner:
            with contextlib.suppress(ConfigError):
                return _coerce(value, option, where, base)
        raise ConfigError(f"{where} = {value!r}: must be {' or '.join(_type_words(a) for a in inner)}",
                          zh=f"{where} = {value!r}：类型应为 {' 或 '.join(_type_words(a) for a in inner)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} = {value!r}: must be one of {', '.join(map(repr, args))}",
                              zh=f"{where} = {value!r}：必须是 {', '.join(map(repr, args))} 之一")
        return value
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} = {value!r}: must be a file or folder path as text",
                              zh=f"{where} = {value!r}：必须是文件或文件夹路径（文本）")
        path = Path(value)
        return path if path.is_absolute() else (base / path).resolve()
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where} = {value!r}: must be a list, e.g. [1, 2]",
                              zh=f"{where} = {value!r}：必须是列表，例如 [1, 2]")
        return tuple(_coerce(v, args[0], where, base) for v in value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: must be a table of text values, e.g. {{ tax = \"元\" }}",
                              zh=f"{where}：必须是文本值的表，例如 {{ tax = \"元\" }}")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} = {value!r}: must be a number",
                              zh=f"{where} = {value!r}：必须是数字")
        if not math.isfinite(value):  # TOML has nan and inf
            raise ConfigError(f"{where} = {value!r}: must be a finite number",
                              zh=f"{where} = {value!r}：必须是有限的数字")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} = {value!r}: must be a whole number",
                              zh=f"{where} = {value!r}：必须是整数")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: must be true or false",
                              zh=f"{where} = {value!r}：必须是 true 或 false")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: must be text in quotes",
                              zh=f"{where} = {value!r}：必须是加引号的文本")
        return value
    return value


if __name__ == "__main__":  # python -m gisefficiency.config > docs/config.md body: the key reference
    print(describe_keys(), end="")

"""The run configuration: a TOML file turned into a frozen, validated ``Config``.

Paths are relative to the config file. Unknown sections or keys are an error that names
them and lists the known ones, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gisefficiency.core.errors import ConfigError

TenantMode = Literal["merge_to_holder", "floor_share", "fixed_ratio", "separate_group"]


@dataclass(frozen=True)
class ProjectSection:
    """Run-wide facts: the county's name shown in maps and reports."""

    name: str = ""


@dataclass(frozen=True)
class ParcelsSection:
    """Where the parcel polygons are and how to read them."""

    path: Path | None = None
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
    """The firm-year table (Excel, CSV or Parquet)."""

    path: Path | None = None
    sheet: str | None = None
    units: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LandSection:
    """Optional firm-parcel land rows (uscc, parcel_id, kind, floor_area_m2)."""

    path: Path | None = None
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
    """Which policy preset to apply, and the reference year (default: the preset's)."""

    preset: str = "zhejiang-2019"
    year: int | None = None


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
    max_parcels: int = 50_000
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


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML run configuration.

    Parameters
    ----------
    path
        The config file; relative paths inside it are taken relative to its folder.

    Returns
    -------
    Config
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found -> pass the path of a .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}) -> fix the syntax at that line") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text -> save the config as UTF-8") from None
    return config_from_dict(data, base=path.parent, source=path)


def config_from_dict(data: dict[str, Any], *, base: Path | None = None, source: Path | None = None) -> Config:
    """Build a ``Config`` from a parsed TOML mapping.

    Parameters
    ----------
    data
        Sections as nested dicts, as ``tomllib`` returns them.
    base
        Folder that relative paths are resolved against (default: the current folder).
    source
        The file the data came from, for messages.
    """
    where = str(source) if source else "config"
    base = base or Path.cwd()
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(f'[{u}]' for u in unknown)}; "
            f"known: {', '.join(f'[{s}]' for s in _SECTIONS)}"
        )
    built: dict[str, Any] = {}
    for name, value in data.items():
        if name == "scenarios":
            if not isinstance(value, list):
                raise ConfigError(f"{where}: 'scenarios' must be an array of tables ([[scenarios]])")
            built[name] = tuple(
                _build(ScenarioSection, item, f"{where}: [[scenarios]] #{i + 1}", base)
                for i, item in enumerate(value)
            )
        else:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{name}] must be a table of keys")
            built[name] = _build(_SECTIONS[name], value, f"{where}: [{name}]", base)
    return Config(source=source, **built)


def _build(cls: type, values: dict[str, Any], where: str, base: Path) -> Any:
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(hints)}")
    kwargs = {key: _coerce(value, hints[key], f"{where} {key}", base) for key, value in values.items()}
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str, base: Path) -> Any:
    """Check ``value`` against a type hint and convert paths and tuples."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        # An empty string means "not set" for optional keys, as bureaus often leave them blank.
        if value == "" and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where, base)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} = {value!r}: must be one of {', '.join(map(repr, args))}")
        return value
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} = {value!r}: must be a file or folder path as text")
        path = Path(value)
        return path if path.is_absolute() else (base / path).resolve()
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where} = {value!r}: must be a list, e.g. [1, 2]")
        return tuple(_coerce(v, args[0], where, base) for v in value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{where}: must be a table of text values, e.g. {{ tax = \"元\" }}")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} = {value!r}: must be a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} = {value!r}: must be a whole number")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: must be true or false")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: must be text in quotes")
        return value
    return value

"""From a bureau's own files to a run configuration: what ``gisefficiency init`` detects and writes.

A county hands over a parcel layer (宗地.shp, a GeoPackage, ...), a firm table (Excel with a title row and
Chinese headers) and perhaps land rows. :func:`inspect_inputs` reads them the way ``run`` will (the same
layer choice, encoding guess, header search and alias tables, ``core/schema.py`` and ``io/columns.py``)
and records what it found: layer, CRS (or its guess from the coordinates), encoding, id column, the
header row, every header matched to a canonical column with its unit, every header it could not match,
duplicated ids, the years of the firm table and, for firm points without a coordinate system, the system
under which most points fall on a parcel. :func:`config_text` writes that as a commented TOML config that
``run`` accepts unchanged; what could not be mapped is listed in it and in :attr:`Inspection.notes`, each
with the key to set.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gisefficiency.core.crs import COORD_SYSTEMS, guess_epsg
from gisefficiency.core.errors import ConfigError, GisEfficiencyError, InputError
from gisefficiency.core.schema import FIRM_COLUMNS, LAND_COLUMNS, PARCEL_COLUMNS
from gisefficiency.io.columns import (
    COLUMN_UNITS,
    alias_lookup,
    find_unit,
    header_unit,
    match_header,
    match_wide_header,
)
from gisefficiency.io.parcels import (
    PARCEL_FORMATS,
    _choose_layer,
    _find_id_header,
    _read,
    read_parcels,
    shapefile_encoding,
)
from gisefficiency.io.sheets import find_header, header_names, read_grid

#: Point coordinate systems tried, in the order preferred on a tie.
POINT_SYSTEMS: tuple[str, ...] = ("gcj02", "wgs84", "bd09")


@dataclass
class TableInfo:
    """What was found in one table file (firms or land rows).

    Attributes
    ----------
    path
        The file.
    header_row
        The header's row number as seen in Excel (1-based), or None for Parquet's stored names.
    columns
        Canonical name -> the header it comes from (wide "2021年实缴税金" columns under ``name@year``).
    units
        Canonical name -> unit read from the header's brackets, where one was given and understood.
    odd_units
        Header -> a bracketed unit the column does not accept (values are then kept as they are).
    unknown
        Headers no alias matched (kept as extra columns by ``run``).
    """

    path: Path
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    odd_units: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


@dataclass
class Inspection:
    """Everything :func:`inspect_inputs` found; :func:`config_text` turns it into a config.

    Attributes
    ----------
    parcels, layer, encoding, crs, crs_guessed, id_column, parcel_columns, parcel_unknown, n_parcels,
    n_duplicate_ids
        The parcel layer: file, layer (None for single-layer files), encoding to write (None: the reader's
        own detection suffices), CRS (None when neither the file nor a guess gives one; ``crs_guessed``
        when it is a guess), the id column's header, matched headers, unmatched headers, features,
        duplicated ids.
    firms, land
        The tables (``land`` None when not given).
    years
        Years of the firm table, sorted.
    point_crs, point_hits
        Firm points without a coordinate system: the system under which most fall on a parcel and the
        share of points each system puts on a parcel (empty when there is nothing to decide).
    notes, notes_zh
        What could not be mapped or decided, each with the key to set, in English and in Chinese (one
        entry each, in the same order; add them with :meth:`note`); shown by the CLI and written into
        the config.
    """

    parcels: Path
    firms: TableInfo
    land: TableInfo | None = None
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    crs_guessed: bool = False
    id_column: str | None = None
    parcel_columns: dict[str, str] = field(default_factory=dict)
    parcel_unknown: list[str] = field(default_factory=list)
    n_parcels: int = 0
    n_duplicate_ids: int = 0
    years: list[int] = field(default_factory=list)
    point_crs: str | None = None
    point_hits: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    notes_zh: list[str] = field(default_factory=list)

    def note(self, en: str, zh: str) -> None:
        """Add a note in English and in Chinese."""
        self.notes.append(en)
        self.notes_zh.append(zh)


def inspect_inputs(parcels: str | Path, firms: str | Path, land: str | Path | None = None) -> Inspection:
    """Read a county's files as ``run`` would and record what they hold.

    Parameters
    ----------
    parcels
        The parcel layer (.shp, .gpkg, .geojson, .fgb, .parquet).
    firms
        The firm table (.xlsx, .xls, .csv, .parquet).
    land
        Optional land rows (uscc, parcel_id, kind, floor area).

    Returns
    -------
    Inspection

    Raises
    ------
    InputError
        A file is missing or unreadable, or a parcel file has several layers none of which is the parcels.
    """
    parcels, firms = Path(parcels), Path(firms)
    info = Inspection(parcels=parcels, firms=TableInfo(firms))
    frame = _inspect_parcels(parcels, info)
    info.firms = _inspect_table(firms, FIRM_COLUMNS, expected=("uscc", "year", "tax"))
    _check_firm_columns(info)
    if land is not None:
        info.land = _inspect_table(Path(land), LAND_COLUMNS, expected=("uscc", "parcel_id", "kind"))
        missing = [c for c in ("uscc", "parcel_id", "kind") if c not in info.land.columns]
        if missing:
            info.note(f"{land}: no column for {', '.join(missing)} -> map yours under [land.aliases], "
                      "e.g. \"<header>\" = \"kind\"",
                      f"{land}：没有 {', '.join(missing)} 列 → 请在 [land.aliases] 下映射您的表头，"
                      "例如 \"<表头>\" = \"kind\"")
    panel = _read_panel(info)
    if panel is not None:
        info.years = sorted(int(y) for y in panel["year"].dropna().unique())
        if frame is not None:
            _detect_point_crs(frame, panel, info)
    return info


def _inspect_parcels(path: Path, info: Inspection) -> pd.DataFrame | None:
    if not path.exists():
        raise InputError(f"{path}: parcel file not found -> check the path",
                         zh=f"{path}：找不到地块文件 → 请检查路径")
    suffix = path.suffix.lower()
    if suffix not in PARCEL_FORMATS:
        raise InputError(f"{path}: unknown parcel format {suffix!r} -> use one of {', '.join(sorted(PARCEL_FORMATS))}",
                         zh=f"{path}：无法识别的地块文件格式 {suffix!r} → 请使用 {', '.join(sorted(PARCEL_FORMATS))} 之一")
    if PARCEL_FORMATS[suffix] != "GeoParquet":
        info.layer = _choose_layer(path, None, "pyogrio")
    if suffix == ".shp":
        # Written out so the config says how the text was read (a .cpg, when present, is honoured anyway).
        info.encoding = shapefile_encoding(path)
    raw, _cut, _misread = _read(path, suffix, layer=info.layer, encoding=info.encoding, engine="pyogrio")
    info.n_parcels = len(raw)
    headers = [str(c) for c in raw.columns if c != raw.geometry.name]
    lookup = alias_lookup()
    info.id_column = _find_id_header(headers, "parcel_id", lookup) or _unique_text_column(raw, headers)
    for header in headers:
        name = match_header(header, lookup)
        if header == info.id_column:
            continue
        if name is not None and name != "parcel_id":
            info.parcel_columns.setdefault(name, header)
        else:
            info.parcel_unknown.append(header)
    if info.id_column is None:
        info.note(f"{path}: no parcel id column found among {', '.join(headers)} -> set [parcels] id to "
                  "the column holding 宗地号/不动产单元号",
                  f"{path}：在 {', '.join(headers)} 中找不到地块编号列 → 请把 [parcels] id 设为存放宗地号/不动产单元号的列")
    else:
        ids = raw[info.id_column].astype("string").str.strip()
        info.n_duplicate_ids = int(ids.duplicated(keep="first").sum())
    if raw.crs is not None:
        info.crs = raw.crs.to_string() if raw.crs.to_epsg() is None else f"EPSG:{raw.crs.to_epsg()}"
    else:
        bounds = np.asarray(raw.total_bounds) if len(raw) else np.full(4, np.nan)
        info.crs = guess_epsg(bounds) if np.isfinite(bounds).all() else None
        info.crs_guessed = info.crs is not None
        if info.crs is None:
            info.note(f"{path}: no CRS and none could be guessed from the coordinates -> set [parcels] crs, "
                      "e.g. \"EPSG:4549\" (CGCS2000 3° GK CM 120°E)",
                      f"{path}：没有坐标系，也无法从坐标推断 → 请设置 [parcels] crs，"
                      "例如 \"EPSG:4549\"（CGCS2000 3° 高斯-克吕格，中央经线 120°E）")
        else:
            info.note(f"{path}: no CRS in the file; {info.crs} guessed from the coordinates -> check it in "
                      "QGIS against a basemap, fix [parcels] crs if the parcels land in the wrong place",
                      f"{path}：文件中没有坐标系；根据坐标推断为 {info.crs} → 请在 QGIS 中对照底图核对，"
                      "若地块位置不对，请改正 [parcels] crs")
    if info.id_column is None:
        return None
    try:
        return read_parcels(path, layer=info.layer, id_column=info.id_column, crs=info.crs if info.crs_guessed else None,
                            encoding=info.encoding)
    except GisEfficiencyError as exc:
        info.note(f"{path}: {exc}", f"{path}：{exc.text('zh')}")
        return None


def _unique_text_column(frame: pd.DataFrame, headers: list[str]) -> str | None:
    """The first column whose values are all present and distinct: the id when no header says so."""
    for header in headers:
        values = frame[header]
        if values.notna().all() and values.is_unique and not pd.api.types.is_float_dtype(values):
            return header
    return None


def _inspect_table(path: Path, columns: dict[str, str], *, expected: tuple[str, ...]) -> TableInfo:
    grid = read_grid(path)
    lookup = alias_lookup()
    pos = find_header(grid, lookup, path=path, expected=expected)
    out = TableInfo(path, header_row=None if pos < 0 else pos + grid.first_row)
    for header in header_names(grid, pos):
        wide = match_wide_header(header, lookup)
        name = f"{wide[0]}@{wide[1]}" if wide else match_header(header, lookup)
        if name is None:
            out.unknown.append(header)
            continue
        out.columns.setdefault(name, header)
        base = name.split("@")[0]
        _, odd = find_unit(base, header)
        unit = header_unit(header)
        if odd is not None:
            out.odd_units[header] = odd
        elif unit is not None and base in COLUMN_UNITS:
            out.units[base] = unit
    return out


def _check_firm_columns(info: Inspection) -> None:
    cols = info.firms.columns
    file = info.firms.path
    measures = {c.split("@")[0] for c in cols}
    if "uscc" not in cols:
        info.note(f"{file}: no USCC column (统一社会信用代码) -> map yours under [firms.aliases], "
                  "e.g. \"<header>\" = \"uscc\"",
                  f"{file}：没有统一社会信用代码列 → 请在 [firms.aliases] 下映射您的表头，例如 \"<表头>\" = \"uscc\"")
    if "year" not in cols and not any("@" in c for c in cols):
        info.note(f"{file}: no year column (年度) and no year in the headers -> map yours under "
                  "[firms.aliases], or write the headers as 2021年实缴税金",
                  f"{file}：没有年度列，表头中也没有年份 → 请在 [firms.aliases] 下映射您的表头，"
                  "或把表头写成 2021年实缴税金 的形式")
    if "tax" not in measures:
        info.note(f"{file}: no tax column (实缴税金) -> map yours under [firms.aliases], e.g. "
                  "\"<header>\" = \"tax\"; without it no 亩均税收 can be computed",
                  f"{file}：没有实缴税金列 → 请在 [firms.aliases] 下映射您的表头，例如 \"<表头>\" = \"tax\"；"
                  "没有它就无法计算亩均税收")
    money = [c for c in ("tax", "value_added", "revenue", "rd") if c in measures and c not in info.firms.units]
    if money:
        info.note(f"{file}: no unit in the headers of {', '.join(money)}: read as 万元 -> if the sheet is in 元, "
                  "set [firms] units = { tax = \"元\" } (and the other columns)",
                  f"{file}：{', '.join(money)} 的表头中没有单位：按万元读取 → 若表中以元计，"
                  "请设置 [firms] units = { tax = \"元\" }（其他列同理）")
    for header, unit in info.firms.odd_units.items():
        info.note(f"{file}: unit {unit!r} of {header!r} is not understood; values kept as they are -> set "
                  "[firms] units for that column",
                  f"{file}：{header!r} 的单位 {unit!r} 无法识别；数值按原样保留 → 请为该列设置 [firms] units")


def _read_panel(info: Inspection) -> pd.DataFrame | None:
    from gisefficiency.io.tables import inspect_firms

    frame, problems = inspect_firms(info.firms.path)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        info.note(f"{info.firms.path}: {len(errors)} problem(s) stop `run`, e.g. {errors[0]} -> "
                  "`gisefficiency validate` lists them all",
                  f"{info.firms.path}：有 {len(errors)} 个问题会使 `run` 停止，例如 {errors[0].text('zh')} → "
                  "`gisefficiency validate` 会全部列出")
    return frame


def _detect_point_crs(parcels: pd.DataFrame, panel: pd.DataFrame, info: Inspection) -> None:
    """For firm points with no coordinate system, the system that puts most of them on a parcel."""
    if "lon" not in panel or "lat" not in panel:
        return
    points = panel[panel["lon"].notna() & panel["lat"].notna()]
    if "coord_sys" in points:
        points = points[points["coord_sys"].isna() | (points["coord_sys"].astype("string").str.strip() == "")]
    points = points.drop_duplicates(["lon", "lat"])
    if points.empty:
        return
    from pyproj import Transformer

    from gisefficiency.core.crs import to_wgs84

    to_xy = Transformer.from_crs("EPSG:4326", parcels.crs, always_xy=True)
    tree = shapely.STRtree(parcels.geometry.values)
    lon, lat = points["lon"].to_numpy(float), points["lat"].to_numpy(float)
    for system in POINT_SYSTEMS:
        x, y = to_xy.transform(*to_wgs84(lon, lat, system))
        hits = np.unique(tree.query(shapely.points(x, y), predicate="intersects")[0])
        info.point_hits[system] = len(hits) / len(points)
    best = max(POINT_SYSTEMS, key=lambda s: info.point_hits[s])  # max keeps the first on a tie
    info.point_crs = best
    if info.point_hits[best] < 0.5:
        info.note(f"{info.firms.path}: firm points fall on parcels for at most "
                  f"{info.point_hits[best]:.0%} of them (best: {best}) -> check the 经度/纬度 columns and set "
                  f"[link] point_crs to one of {', '.join(sorted(set(COORD_SYSTEMS.values())))}",
                  f"{info.firms.path}：企业点位最多只有 {info.point_hits[best]:.0%} 落在地块上（最佳：{best}）"
                  f"→ 请核对经度/纬度列，并把 [link] point_crs 设为 {', '.join(sorted(set(COORD_SYSTEMS.values())))} 之一")


# ------------------------------------------------------------------------------------------ writing


def _q(text: object) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(text), ensure_ascii=False)


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def config_text(info: Inspection, *, config_dir: Path, preset: str = "zhejiang-2019", year: int | None = None,
                name: str = "") -> str:
    """A commented TOML config for the inspected files that ``run`` accepts as it is.

    Parameters
    ----------
    info
        From :func:`inspect_inputs`.
    config_dir
        Folder the config will be written to: paths are written relative to it.
    preset
        Policy preset name or path.
    year
        Reference year; default the preset's, else the latest year of the firm table.
    name
        The county's name for maps and reports.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        An unknown preset.
    """
    from gisefficiency.evaluate.policy import load_preset

    policy = load_preset(preset)
    if year is None:
        year = policy.reference_year if policy.reference_year in info.years or not info.years else info.years[-1]
    # A preset file is found from the current folder when `run` starts: written absolute, it is found from any.
    preset_text = Path(preset).resolve().as_posix() if Path(preset).suffix == ".toml" or Path(preset).is_file() else preset
    lines = [
        "# Written by `gisefficiency init`; paths are relative to this file. Check the lines marked CHECK,",
        "# then: gisefficiency validate <this file>  ->  gisefficiency run <this file>",
        "# Every key with its default: gisefficiency/config.py; the README has a complete example.",
    ]
    if info.notes:
        lines += ["#", "# Not mapped or not decided (set the key named after ->):"]
        lines += [f"#   - {note}" for note in info.notes]
    lines += ["", "[project]", f"name = {_q(name)}", "", "[parcels]", f"path = {_q(_rel(info.parcels, config_dir))}"]
    if info.layer is not None:
        lines.append(f"layer = {_q(info.layer)}")
    lines.append(f"id = {_q(info.id_column or 'parcel_id')}" + ("" if info.id_column else "   # CHECK: no id column found"))
    if info.crs_guessed:
        lines.append(f"crs = {_q(info.crs)}   # CHECK: the file has no CRS; guessed from the coordinates")
    elif info.crs is None:
        lines.append("crs = \"\"   # CHECK: no CRS in the file and none could be guessed, e.g. \"EPSG:4549\"")
    else:
        lines.append(f"# crs: {info.crs} (from the file)")
    if info.encoding is not None:
        lines.append(f"encoding = {_q(info.encoding)}   # no .cpg beside the .shp; detected from the text")
    lines.append("area_basis = \"cert\"" + ("   # certificate area where given (证载面积: "
                                            f"{info.parcel_columns['cert_area_m2']})" if "cert_area_m2" in info.parcel_columns
                                            else "   # no certificate area column: the drawn area is used"))
    if info.n_duplicate_ids:
        lines.append(f"duplicates = \"keep_first\"   # CHECK: {info.n_duplicate_ids} duplicated id(s); or \"merge\", or "
                     "\"error\" to list them")
    lines += _mapped_comment(info.parcel_columns, info.parcel_unknown, "parcels", PARCEL_COLUMNS)
    lines += ["", "[firms]", f"path = {_q(_rel(info.firms.path, config_dir))}"]
    if info.firms.header_row is not None:
        lines.append(f"# header found on row {info.firms.header_row}" +
                     (" (title rows above it are skipped)" if info.firms.header_row > 1 else ""))
    if info.firms.units:
        lines.append("# units from the headers: " + ", ".join(f"{k} {v}" for k, v in info.firms.units.items()) +
                     " (converted to 万元, tce, 万kWh, t)")
    lines += _mapped_comment(info.firms.columns, info.firms.unknown, "firms", FIRM_COLUMNS)
    if info.years:
        lines.append(f"# years in the table: {', '.join(map(str, info.years))}")
    if info.land is not None:
        lines += ["", "[land]", f"path = {_q(_rel(info.land.path, config_dir))}"]
        lines += _mapped_comment(info.land.columns, info.land.unknown, "land", LAND_COLUMNS)
    lines += ["", "[link]", "methods = [\"table\", \"land\", \"holder\", \"point\"]   # priority",
              "tenant_mode = \"floor_share\"   # merge_to_holder | floor_share | fixed_ratio | separate_group"]
    if info.point_crs is not None:
        hits = ", ".join(f"{s} {h:.0%}" for s, h in info.point_hits.items())
        lines.append(f"point_crs = {_q(info.point_crs)}   # points without 坐标系 on a parcel: {hits}")
    lines += ["", "[policy]", f"preset = {_q(preset_text)}   # gisefficiency presets lists them",
              f"year = {year}" if year is not None else "# year = 2023   # default: the latest year of the data",
              "", "[blocks]", "gap_m = 30", "min_area_mu = 50", "",
              "[raster]", "# height = \"建筑高度.tif\"   # optional building heights: zonal statistics and plot ratio",
              "", "[output]", "dir = \"output\"", ""]
    return "\n".join(lines)


def _mapped_comment(columns: dict[str, str], unknown: list[str], section: str,
                    canonical: dict[str, str]) -> list[str]:
    out = []
    if columns:
        out.append("# columns: " + ", ".join(f"{h} -> {c}" for c, h in columns.items()))
    if unknown:
        example = next((c for c in canonical if c not in {k.split('@')[0] for k in columns}), "name")
        out.append(f"# not matched, kept as extra columns: {', '.join(unknown)}")
        out.append(f"# map one with: aliases = {{ {_q(unknown[0])} = {_q(example)} }}   "
                   f"(canonical names: gisefficiency/core/schema.py)")
    return out


def write_config(info: Inspection, out: str | Path, *, preset: str = "zhejiang-2019", year: int | None = None,
                 name: str = "", force: bool = False) -> Path:
    """Write :func:`config_text` to ``out`` and check that it loads.

    Parameters
    ----------
    info
        From :func:`inspect_inputs`.
    out
        The config file to write.
    preset, year, name
        As for :func:`config_text`.
    force
        Replace an existing file.

    Raises
    ------
    ConfigError
        ``out`` exists and ``force`` is not set, or the preset is unknown.
    """
    from gisefficiency.config import load_config

    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out}: already exists -> choose another --out, or add --force to replace it",
                          zh=f"{out}：文件已存在 → 请换一个 --out，或加 --force 覆盖")
    text = config_text(info, config_dir=out.parent, preset=preset, year=year, name=name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    load_config(out)  # what init writes must load as it is
    return out

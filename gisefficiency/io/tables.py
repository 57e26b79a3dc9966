"""Read firm tables (firm-year panels) and firm-parcel land rows from .xlsx, .xls, .csv or .parquet.

Headers are found under title rows and matched to canonical names (``schema.ALIASES`` plus the
user's aliases); wide layouts ("2021年实缴税金", "实缴税金2021") are melted into one row per firm
and year. Every unreadable cell is collected as a :class:`~gisefficiency.core.errors.Problem` and all of
them are raised at once; ``check_firms`` also returns the warnings (bad USCC check digits,
negative tax, missing energy, ...) for ``gisefficiency validate``.
"""

from __future__ import annotations

import html
import logging
import os
import re
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency.core.crs import COORD_SYSTEMS
from gisefficiency.core.errors import ConfigError, InputError, Problem, format_ids, format_ids_zh
from gisefficiency.core.schema import (
    FIRM_COLUMNS,
    KIND_VALUES,
    NUMERIC_FIRM_COLUMNS,
    READ_FLAG_COLUMNS,
    SCALE_VALUES,
)
from gisefficiency.io.columns import (
    CERTIFICATE_DATE_COLUMNS,
    COLUMN_UNITS,
    alias_lookup,
    area_unit_factors,
    dedupe,
    find_unit,
    match_header,
    match_wide_header,
    unit_factor,
    unit_field,
)
from gisefficiency.io.sheets import (
    Grid,
    blank_rows,
    find_header,
    frame_grid,
    header_names,
    locate_table,
    read_grid,
    text_cells,
    typed_cells,
)
from gisefficiency.io.values import (
    as_code,
    as_text,
    code_column,
    date_column,
    industry_codes,
    is_coded_text,
    is_one_of,
    normalize_days,
    number_column,
    parse_choice,
    parse_flags,
    parse_years,
    repeated_code_years,
    valid_codes,
)

log = logging.getLogger(__name__)


#: Row labels of total lines, dropped (with a warning) when the row has no USCC.
TOTAL_WORDS: frozenset[str] = frozenset({"合计", "总计", "小计", "total", "sum"})

_CODES = ("uscc", "holder_uscc")
# Columns are parsed on this many threads for tables of at least this many rows.
_PARSE_THREADS, _PARSE_THREADS_FROM = 2, 200_000
# Column of the frame being read: each row's position among the distinct USCCs (never a header).
_USCC_KEY = "\x00uscc_code"
_TEXT = ("name", "parcel_id", "land_use", "street")
_NUMBERS = (*NUMERIC_FIRM_COLUMNS, "lon", "lat", "cert_area_m2", "floor_area_m2", "building_height_m")
_DATES = ("production_date", "supply_date", *CERTIFICATE_DATE_COLUMNS)
_CHOICES: dict[str, dict[str, str]] = {"scale": SCALE_VALUES, "coord_sys": COORD_SYSTEMS, "kind": KIND_VALUES}
_WHAT = {"number": "a number", "date": "a date such as 2019-05-01", "flag": "是/否 (yes/no)",
         "year": "a year such as 2021"}
_WHAT_ZH = {"number": "数字", "date": "日期（如 2019-05-01）", "flag": "是/否", "year": "年份（如 2021）"}
#: What messages call each table, and the columns named in Chinese messages.
_WHAT_TABLE = {"firm table": "企业表", "land table": "用地表"}
_LABEL_ZH = {"uscc": "统一社会信用代码", "tax": "实缴税金", "energy_tce": "综合能耗", "year": "年度",
             "parcel_id": "地块编号", "kind": "用地类型", "floor_area_m2": "建筑面积"}


def read_firms(
    path: str | Path | pd.DataFrame,
    *,
    sheet: str | int | None = None,
    aliases: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    header_row: int | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Read a firm table into the long firm-year panel of ``docs/contract.md``.

    Parameters
    ----------
    path
        .xlsx, .xls, .csv (UTF-8, UTF-8 with BOM or GBK) or .parquet; or a DataFrame already in
        memory (a notebook's frame, a database table), whose column names are the headers: it goes
        through the same header matching, units and checks as a file.
    sheet
        Sheet name or 0-based position (default: the first sheet with a header of known column names,
        so a 填表说明 cover sheet is skipped).
    aliases
        Extra header -> canonical name mappings (``[firms.aliases]``).
    units
        Canonical column -> unit of the file's values, e.g. ``{"tax": "元", "electricity": "kWh"}``;
        values are converted to the canonical unit (万元, tce, 万kWh, t). Units in header brackets
        ("实缴税金（元）") are applied when a column has none here.
    header_row
        The header's row number as seen in Excel, when the automatic search picks the wrong row.
    source
        What messages call a frame (default ``"firms (DataFrame)"``); files are named by their path.

    Returns
    -------
    pandas.DataFrame
        RangeIndex; canonical columns found, ``year`` (int), numbers float (NaN missing), flags
        ``boolean``, ``scale`` "above"/"below"/NA, dates datetime64, ``uscc_valid`` (bool) and
        ``src_row`` (the row number as seen in the file); other columns kept under their header.

    Raises
    ------
    InputError
        Listing every fatal problem (unreadable cells, missing USCC or year column, ...).
    ConfigError
        An unknown unit or a unit for a column without units.
    """
    table, file = _source(path, source, "firms")
    frame, problems = _load_firms(table, file, sheet=sheet, aliases=aliases, units=units, header_row=header_row)
    return _finish(frame, problems, file, "firm table")


def check_firms(
    path: str | Path | pd.DataFrame,
    *,
    sheet: str | int | None = None,
    aliases: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    header_row: int | None = None,
    source: str | None = None,
) -> list[Problem]:
    """Every problem of a firm table, errors first then warnings, without raising for data problems.

    Parameters are those of :func:`read_firms`.
    """
    return inspect_firms(path, sheet=sheet, aliases=aliases, units=units, header_row=header_row, source=source)[1]


def inspect_firms(
    path: str | Path | pd.DataFrame,
    *,
    sheet: str | int | None = None,
    aliases: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    header_row: int | None = None,
    source: str | None = None,
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a firm table once for checking: the panel (None if any error) and every problem, errors first.

    Parameters are those of :func:`read_firms`. Warnings are returned, not logged.
    """
    table, file = _source(path, source, "firms")
    try:
        frame, problems = _load_firms(table, file, sheet=sheet, aliases=aliases, units=units, header_row=header_row)
    except InputError as exc:
        return None, exc.problems or [Problem(str(exc), file=file,
                                              message_zh=exc.text("zh"))]
    problems = sorted(problems, key=lambda p: p.severity != "error")
    return (None if any(p.severity == "error" for p in problems) else frame), problems


def read_land(
    path: str | Path | pd.DataFrame,
    *,
    aliases: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Read firm-parcel land rows: ``uscc, parcel_id, kind ("own"|"leased"), floor_area_m2, src_row``.

    Parameters
    ----------
    path
        .xlsx, .xls, .csv or .parquet with one row per firm and parcel, or a DataFrame (as in
        :func:`read_firms`).
    aliases, sheet, header_row, source
        As in :func:`read_firms`. Kind is the row's firm's side (``KIND_VALUES``): 自有/自用/own/1, and
        出租/出租方 (it lets its land out, so it owns it) -> "own"; 租赁/承租/租用/leased/0 -> "leased".

    Raises
    ------
    InputError
        Missing columns, missing USCC/parcel/kind values, unreadable cells.
    """
    table, file = _source(path, source, "land")
    frame, problems = _load_land(table, file, aliases=aliases, sheet=sheet, header_row=header_row)
    return _finish(frame, problems, file, "land table")


def check_land(
    path: str | Path | pd.DataFrame,
    *,
    aliases: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
    source: str | None = None,
) -> list[Problem]:
    """Every problem of a land table, errors first then warnings (see :func:`read_land`)."""
    table, file = _source(path, source, "land")
    try:
        _, problems = _load_land(table, file, aliases=aliases, sheet=sheet, header_row=header_row)
    except InputError as exc:
        return exc.problems or [Problem(str(exc), file=file,
                                        message_zh=exc.text("zh"))]
    return sorted(problems, key=lambda p: p.severity != "error")


def _source(path: str | Path | pd.DataFrame, source: str | None, what: str) -> tuple[Path | pd.DataFrame, str]:
    """The table to read (a file path or a frame) and what messages call it."""
    if isinstance(path, pd.DataFrame):
        return path, source or f"{what} (DataFrame)"
    if not isinstance(path, str | os.PathLike):
        raise InputError(f"{source or what}: expected a file path or a pandas DataFrame, not a "
                         f"{type(path).__name__} -> pass the table's path or the frame",
                         zh=(f"{source or what}：需要文件路径或 pandas DataFrame，而不是 "
                             f"{type(path).__name__} → 请传入表格的路径或数据框"))
    return Path(path), source or str(path)


def _finish(frame: pd.DataFrame | None, problems: list[Problem], path: str | Path, what: str) -> pd.DataFrame:
    errors = [p for p in problems if p.severity == "error"]
    if errors or frame is None:
        raise InputError(f"{path}: {len(errors)} problem(s) in the {what}", errors,
                         zh=f"{path}：{_WHAT_TABLE.get(what, what)}中有 {len(errors)} 个问题")
    for problem in problems:
        log.warning("%s", problem,
                    extra={"zh": problem.text("zh")})
    return frame


def _load_firms(
    path: Path | pd.DataFrame, file: str, *, sheet: str | int | None, aliases: Mapping[str, str] | None,
    units: Mapping[str, str] | None, header_row: int | None,
) -> tuple[pd.DataFrame | None, list[Problem]]:
    factors = _unit_factors(units)
    frame, problems, uscc_codes = _load_table(path, file, sheet=sheet, aliases=aliases, factors=factors,
                                              header_row=header_row, expected=("uscc", "year", "tax"),
                                              section="firms")
    info, frame.attrs = frame.attrs, {}  # attrs are deep-copied by every operation on the frame
    for name, header in (("uscc", "统一社会信用代码"), ("year", "年度")):
        if name not in frame:
            fix = (f"add a {header} column, or map yours in [firms.aliases]" if name == "uscc" else
                   "add a 年度 column, or put the year in the headers (2021年实缴税金), or map yours in [firms.aliases]")
            fix_zh = (f"请加上 {header} 列，或在 [firms.aliases] 中映射您的表头" if name == "uscc" else
                      "请加上“年度”列，或把年份写进表头（2021年实缴税金），或在 [firms.aliases] 中映射您的表头")
            problems.append(Problem(f"no {name} column ({header}) among: {', '.join(info['headers'])}",
                                    fix=fix, file=file, column=name,
                                    message_zh=f"缺少 {name} 列（{header}），现有列：{', '.join(info['headers'])}",
                                    fix_zh=fix_zh))
    if "uscc" not in frame or "year" not in frame:
        return None, problems
    year_header = info["source"].get("year", "year")
    unreadable = {p.row for p in problems if p.column == year_header and p.severity == "error"}
    missing_year = frame["year"].isna() & ~frame["src_row"].isin(unreadable)
    problems += [Problem("the year is missing", fix="fill in the year (年度) of this row", file=file,
                         row=int(r), column=year_header,
                         message_zh="缺少年份",
                         fix_zh="请填写该行的年度")
                 for r in frame.loc[missing_year, "src_row"]]
    frame["year"] = frame["year"].astype("Int64")
    problems += _firm_warnings(frame, file, uscc_codes, info["source"])
    if any(p.severity == "error" for p in problems):
        return None, problems
    frame["year"] = frame["year"].astype(int)
    del frame[_USCC_KEY]
    order = [c for c in FIRM_COLUMNS if c in frame] + ["uscc_valid", "src_row"]
    extras = [c for c in frame.columns if c not in order]
    out = frame[order + extras].reset_index(drop=True)
    out.attrs = {}
    return out, problems


def _load_land(
    path: Path | pd.DataFrame, file: str, *, aliases: Mapping[str, str] | None, sheet: str | int | None, header_row: int | None,
) -> tuple[pd.DataFrame | None, list[Problem]]:
    frame, problems, uscc_codes = _load_table(path, file, sheet=sheet, aliases=aliases, factors={},
                                              header_row=header_row, expected=("uscc", "parcel_id", "kind"),
                                              section="land")
    info, frame.attrs = frame.attrs, {}  # attrs are deep-copied by every operation on the frame
    for name, header in (("uscc", "统一社会信用代码"), ("parcel_id", "地块编号"), ("kind", "用地类型 (自有/租赁)")):
        if name not in frame:
            problems.append(Problem(f"no {name} column ({header}) among: {', '.join(info['headers'])}",
                                    fix="add it, or map your header in [land.aliases]", file=file, column=name,
                                    message_zh=f"缺少 {name} 列（{header}），现有列：{', '.join(info['headers'])}",
                                    fix_zh="请加上该列，或在 [land.aliases] 中映射您的表头"))
    if not {"uscc", "parcel_id", "kind"} <= set(frame.columns):
        return None, problems
    for name in ("uscc", "parcel_id", "kind"):
        problems += [Problem(f"{name} is missing", fix="fill it in or delete the row", file=file, row=int(r),
                             column=info["source"].get(name, name),
                             message_zh=f"缺少 {_LABEL_ZH.get(name, name)}",
                             fix_zh="请填写，或删除该行")
                     for r in frame.loc[frame[name].isna(), "src_row"]]
    if "floor_area_m2" not in frame:
        frame["floor_area_m2"] = float("nan")
    negative = frame["floor_area_m2"] < 0
    problems += [Problem("negative floor area", fix="correct the area (m2)", file=file, row=int(r),
                         column=info["source"].get("floor_area_m2"), value=v,
                         message_zh="建筑面积为负",
                         fix_zh="请改正面积（平方米）")
                 for r, v in zip(frame.loc[negative, "src_row"], frame.loc[negative, "floor_area_m2"], strict=True)]
    bad_uscc = frame["uscc"].notna() & ~valid_codes(frame[_USCC_KEY].to_numpy(), uscc_codes)
    problems += [Problem("USCC check digit or format is wrong (kept; it may not match a firm)",
                         fix="check the 18-character code", file=file, row=int(r), column="uscc", value=v,
                         severity="warning",
                         message_zh="统一社会信用代码的校验位或格式有误（已保留；可能无法匹配到企业）",
                         fix_zh="请核对这 18 位代码")
                 for r, v in zip(frame.loc[bad_uscc, "src_row"], frame.loc[bad_uscc, "uscc"], strict=True)]
    if any(p.severity == "error" for p in problems):
        return None, problems
    del frame[_USCC_KEY]
    order = ["uscc", "parcel_id", "kind", "floor_area_m2", "src_row"]
    out = frame[order + [c for c in frame.columns if c not in order]].reset_index(drop=True)
    out.attrs = {}
    return out, problems


def _unit_factors(units: Mapping[str, str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for column, unit in (units or {}).items():
        if column not in COLUMN_UNITS:
            raise ConfigError(
                f"[firms.units]: unknown column {column!r} -> give units for "
                f"{', '.join(c for c in COLUMN_UNITS if c in FIRM_COLUMNS)}",
                zh=(f"[firms.units]：未知的列 {column!r} → 只能为以下列给出单位："
                    f"{', '.join(c for c in COLUMN_UNITS if c in FIRM_COLUMNS)}")
            )
        out[column] = unit_factor(column, unit, source="[firms.units]")
    return out


def _load_table(
    path: Path | pd.DataFrame, file: str, *, sheet: str | int | None, aliases: Mapping[str, str] | None,
    factors: Mapping[str, float], header_row: int | None, expected: tuple[str, ...], section: str,
) -> tuple[pd.DataFrame, list[Problem], pa.Array | None]:
    """Header, column plan, parsing and (for wide tables) melting; the frame carries ``attrs``
    ``headers`` (as read) and ``source`` (canonical -> header) for messages.

    With a USCC column, the frame also holds ``_USCC_KEY`` (each row's position among the distinct
    codes, -1 where missing), returned third, so checks of the codes run once per firm.
    """
    lookup = alias_lookup(aliases)

    scans: dict[int, Future[dict[int, dict[int, str]]]] = {}
    scanner = ThreadPoolExecutor(1)

    def read(path: Path, *, sheet: str | int | None = None) -> Grid:
        # The workbook's error cells are looked for while the sheet is parsed (both without the GIL).
        scan = (scanner.submit(_excel_error_cells, path, sheet) if path.suffix.lower() in (".xlsx", ".xlsm")
                else None)
        grid = read_grid(path, sheet=sheet)
        if scan is not None:
            scans[id(grid)] = scan  # the scan of the sheet the table is found on, for its error cells
        return grid

    grid: Grid
    if isinstance(path, pd.DataFrame):  # a frame in memory is a grid whose header is its column names
        grid = frame_grid(path)
        pos = find_header(grid, lookup, path=file, header_row=header_row, expected=expected, section=section)
        error_cells: dict[int, dict[int, str]] = {}
    else:
        try:
            grid, pos = locate_table(path, lookup, sheet=sheet, header_row=header_row, expected=expected,
                                     section=section, read=read)
            # Error cells of a workbook (#DIV/0!, ...), which the sheet reader gives as empty ones.
            error_cells = scans[id(grid)].result() if id(grid) in scans else {}
        finally:
            scanner.shutdown(wait=True, cancel_futures=True)
    headers = header_names(grid, pos)
    body = grid.cells.iloc[pos + 1:]
    src_row = pd.Series(body.index.to_numpy() + grid.first_row, index=body.index)
    blank = blank_rows(body)
    if blank.any():
        body, src_row = body[~blank], src_row[~blank]

    problems: list[Problem] = []
    static: dict[str, tuple[int, str]] = {}  # canonical or extra name -> (column position, header)
    wide: dict[tuple[str, int], tuple[int, str]] = {}
    unknown: list[tuple[int, str]] = []
    for j, header in enumerate(headers):
        # Year first: "工业增加值（2022年）" is a 2022 column, not the bracket-less "工业增加值".
        wide_key = match_wide_header(header, lookup)
        name = None if wide_key is not None else match_header(header, lookup)
        if wide_key is not None:
            if wide_key in wide:
                problems.append(_clash(file, wide_key[0], [wide[wide_key][1], header]))
            wide[wide_key] = (j, header)
        elif name is not None:
            if name in static:
                problems.append(_clash(file, name, [static[name][1], header]))
            static[name] = (j, header)
        else:
            unknown.append((j, header))
    # Other columns are kept under their header (repeats suffixed .2, .3, ...).
    for name, (j, header) in zip(dedupe(h for _, h in unknown), unknown, strict=True):
        static.setdefault(name, (j, header))
    measures = {m for m, _ in wide}
    for m in sorted(measures & set(static)):
        problems.append(_clash(file, m, [static[m][1], *(h for (mm, _), (_, h) in wide.items() if mm == m)]))
    if wide and "year" in static:
        problems.append(Problem(
            f"the table has a year column ({static['year'][1]!r}) and year-in-header columns "
            f"({', '.join(h for _, h in list(wide.values())[:3])})",
            fix="use one layout: one row per firm and year with a 年度 column, or one row per firm with "
                "2021年实缴税金-style headers", file=file,
            message_zh=(f"表中既有年份列（{static['year'][1]!r}），又有表头含年份的列"
                f"（{', '.join(h for _, h in list(wide.values())[:3])}）"),
            fix_zh=("请只用一种格式：每家企业每年一行并有“年度”列，或每家企业一行、表头形如"
                "“2021年实缴税金”")))

    def parse(name: str, j: int, header: str) -> tuple[tuple[pd.Series, ...], list[Problem]]:
        found: list[Problem] = []  # per column, so that problems keep the column order
        if name == "uscc":
            return code_column(body[j]), found
        raw = body[j]
        column = _parse(name, header, raw, src_row, factors, file, found, errors=error_cells.get(j))
        if j in grid.coded and is_coded_text(column.dtype):  # an extra column, kept as read
            column = text_cells(column)
        elif grid.typed_text and column is raw:  # kept as read from a workbook: its numbers as numbers
            column = typed_cells(column)
        return (column,), found

    # Large tables: columns parsed on two threads (Arrow and NumPy kernels release the GIL).
    workers = min(_PARSE_THREADS, os.cpu_count() or 1) if len(body) >= _PARSE_THREADS_FROM else 1
    with ThreadPoolExecutor(workers) as pool:
        parsed = list(pool.map(lambda item: parse(item[0], *item[1]), static.items()))
    columns: dict[str, pd.Series | np.ndarray] = {}
    uscc_codes = None
    for name, (result, found) in zip(static, parsed, strict=True):
        problems.extend(found)
        if name == "uscc":
            columns[name], columns[_USCC_KEY], uscc_codes = result
        else:
            columns[name] = result[0]
    frame = pd.DataFrame(columns, index=body.index, copy=False)  # no 2-D block copy of 1M-row columns
    frame["src_row"] = src_row
    unit_header = unit_field(headers)
    if unit_header is not None and "cert_area_m2" in frame:
        # ZDMJ in the unit the row's MJDW names (1 平方米, 2 亩, 3 公顷).
        raw_units = body[headers.index(unit_header)]
        factor, unknown = area_unit_factors(raw_units)
        frame["cert_area_m2"] = frame["cert_area_m2"] * factor
        if unknown.any():
            rows = src_row[unknown].astype(int).tolist()
            problems.append(Problem(
                f"area unit(s) {', '.join(sorted(set(map(str, raw_units[unknown]))))} not understood; "
                f"those areas are taken as m2: rows {format_ids(rows, limit=10)}",
                fix=f"write 1 (平方米), 2 (亩) or 3 (公顷) in column {unit_header!r}", file=file,
                column=str(unit_header), severity="warning",
                message_zh=(f"面积单位 {', '.join(sorted(set(map(str, raw_units[unknown]))))} 无法识别；"
                    f"这些面积按平方米处理：第 {format_ids_zh(rows, limit=10)} 行"),
                fix_zh=f"请在列 {unit_header!r} 中填写 1（平方米）、2（亩）或 3（公顷）"))
    if wide:
        frame = _melt(frame, {k: _parse(k[0], h, body[j], src_row, factors, file, problems,
                                        errors=error_cells.get(j))
                              for k, (j, h) in wide.items()})
    source = {name: header for name, (_, header) in static.items()}
    source.update({m: h for (m, _), (_, h) in wide.items()})
    frame = _drop_totals(frame, body, src_row, file, problems)
    frame.attrs = {"headers": headers, "source": source}
    return frame, problems, uscc_codes


def _clash(file: str, name: str, headers: list[str]) -> Problem:
    return Problem(
        f"columns {', '.join(map(repr, headers))} all map to {name!r}",
        fix=f"rename or delete one, or map it to another name in the config's aliases (\"{headers[-1]}\" = "
            f"\"{name}_2\")", file=file, column=headers[-1],
        message_zh=f"列 {', '.join(map(repr, headers))} 都对应到 {name!r}",
        fix_zh=(f"请改名或删去其中一列，或在配置的 aliases 中把它映射到另一个名字（\"{headers[-1]}\" = "
            f"\"{name}_2\"）"))


def _parse(name: str, header: str, raw: pd.Series, src_row: pd.Series, factors: Mapping[str, float],
           file: str, problems: list[Problem], *, errors: Mapping[int, str] | None = None) -> pd.Series:
    """Parse one column by its canonical name, appending a Problem per unreadable cell.

    Numbers and dates also add one warning per column for the cells read as missing (spreadsheet
    errors, infinities) or by a guess (a bare year, ``2020.1``), naming their rows. ``errors`` are the
    column's error cells of a workbook (row as seen in Excel -> ``#DIV/0!``, ...), read as empty
    cells: they are warned about as text error values are.
    """
    parser: Callable[[pd.Series], tuple[pd.Series, ...]] | None = None
    kind = ""
    if name in _CODES:
        return as_code(raw)
    if name in _TEXT:
        return as_text(raw)
    if name == "industry":
        return industry_codes(raw)  # "C3311" and "3311" alike
    if name == "year":
        parser, kind = parse_years, "year"
    elif name in _NUMBERS:
        parser, kind = number_column, "number"
    elif name in READ_FLAG_COLUMNS:
        parser, kind = parse_flags, "flag"
    elif name in _DATES:
        parser, kind = date_column, "date"
    elif name in _CHOICES:
        mapping = _CHOICES[name]

        def parser(s: pd.Series) -> tuple[pd.Series, pd.Series]:
            return parse_choice(s, mapping)

        kind = "one of " + ", ".join(sorted(set(mapping)))
    if parser is None:
        return raw  # extra column: kept as read
    values, bad, *noted = parser(raw)
    if errors:
        at = src_row.isin(errors).to_numpy(bool)
        raw = raw.astype(object).where(~at, src_row.map(errors))  # the error texts, for the message
        if kind == "number":
            noted = [noted[0] | at]
        elif at.any():
            rows = src_row[at].astype(int).tolist()
            problems.append(Problem(
                f"{len(rows)} spreadsheet error value(s) ({', '.join(sorted(set(raw[at])))}) read as missing: "
                f"rows {format_ids(rows, limit=10)}", fix=f"correct the cell(s) in column {header!r}", file=file,
                column=header, severity="warning",
                message_zh=(f"{len(rows)} 个表格错误值（{', '.join(sorted(set(raw[at])))}）按缺失处理："
                    f"第 {format_ids_zh(rows, limit=10)} 行"),
                fix_zh=f"请改正列 {header!r} 中的单元格"))
    what = _WHAT.get(kind, kind)
    problems.extend(
        Problem(f"not {what}", fix=f"correct the cell in column {header!r}", file=file, row=int(r),
                column=header, value=v,
                message_zh=f"不是{_WHAT_ZH.get(kind, kind)}",
                fix_zh=f"请改正列 {header!r} 中的单元格")
        for r, v in zip(src_row[bad], raw[bad], strict=True)
    )
    if noted and noted[0].any():
        rows = src_row[noted[0]].astype(int).tolist()
        shown = sorted(set(map(str, raw[noted[0]])))[:5]
        if kind == "number":
            message, fix = (f"{len(rows)} spreadsheet error value(s) or infinities ({', '.join(shown)}) read as "
                            f"missing: rows {format_ids(rows, limit=10)}",
                            f"enter the figure in column {header!r}, or leave the cell empty if it is not known")
            message_zh, fix_zh = (f"{len(rows)} 个表格错误值或无穷大（{', '.join(shown)}）按缺失处理："
                                  f"第 {format_ids_zh(rows, limit=10)} 行",
                                  f"请在列 {header!r} 中填写数值；若不知道则留空")
        else:
            message, fix = (f"{len(rows)} date(s) read by a guess ({', '.join(shown)}): a bare year as 1 January, "
                            f"2020.1 as January (Excel writes 2020.10 so too): rows {format_ids(rows, limit=10)}",
                            f"write the full date in column {header!r}, e.g. 2020-10-01")
            message_zh, fix_zh = (f"{len(rows)} 个日期是推测读出的（{', '.join(shown)}）：单独的年份按 1 月 1 日，"
                                  f"2020.1 按 1 月（Excel 把 2020.10 也写成这样）：第 {format_ids_zh(rows, limit=10)} 行",
                                  f"请在列 {header!r} 中填写完整日期，例如 2020-10-01")
        problems.append(Problem(message, fix=fix, file=file, column=header, severity="warning",
                                message_zh=message_zh,
                                fix_zh=fix_zh))
    if kind == "number":
        factor = factors.get(name)
        if factor is None:
            factor, unknown = find_unit(name, header)
            if unknown is not None:
                problems.append(Problem(
                    f"unit {unknown!r} in the header is not recognised; values are taken as they are",
                    fix=f"give the unit in the config ([firms.units] {name} = \"...\")", file=file,
                    column=header, severity="warning",
                    message_zh=f"表头中的单位 {unknown!r} 无法识别；数值按原样使用",
                    fix_zh=f"请在配置中给出单位（[firms.units] {name} = \"...\"）"))
        if factor != 1.0:
            values = values * factor
    if kind == "date":
        values = normalize_days(values)  # calendar dates: a time of day stored with them is dropped
    return values


# An error cell's start tag (``<c r="B3" t="e">``, any attribute order, any namespace prefix).
_ERROR_CELL = re.compile(rb'<(?:\w+:)?c\b([^>]*\bt="e"[^>]*)>')
_REF = re.compile(rb'\br="([A-Z]+)([0-9]+)"')
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_CELL_END = re.compile(rb"</(?:\w+:)?c>")


def _excel_error_cells(path: Path, sheet: str | int | None) -> dict[int, dict[int, str]]:
    """Error cells (``t="e"``: #DIV/0!, #N/A, ...) of one sheet of an .xlsx: column position -> {row: text}.

    The sheet reader gives them as empty cells, so without this a formula's #DIV/0! would be missing
    without a word. The sheet's XML is searched for the error type first (a byte search over chunks
    as they are decompressed, so memory stays at one chunk), so a workbook without error cells costs
    one decompression of the sheet part (about 1 s of CPU for 370k rows; ``_load_table`` runs it beside
    the sheet reader), and only the error cells' tags are matched. Unreadable workbooks give {} (the
    sheet reader reports them).
    """
    try:
        with zipfile.ZipFile(path) as book:
            part = _sheet_part(book, sheet)
            data = book.read(part) if part and _has_error_cells(book, part) else b""
    except (OSError, KeyError, zipfile.BadZipFile):
        return {}
    if b't="e"' not in data:
        return {}
    out: dict[int, dict[int, str]] = {}
    for cell in _ERROR_CELL.finditer(data):
        ref = _REF.search(cell.group(1))
        end = _CELL_END.search(data, cell.end())  # a formula may come first: <f>A1/B1</f><v>#DIV/0!</v></c>
        value = _VALUE.search(data, cell.end(), end.start()) if ref and end else None
        if value is None:
            continue
        col = 0
        for ch in ref.group(1):
            col = col * 26 + ch - 64
        out.setdefault(col - 1, {})[int(ref.group(2))] = value.group(1).decode("utf-8", "replace")
    return out


#: Bytes of a sheet's XML decompressed at a time while looking for error cells.
_SCAN_CHUNK = 1 << 24


def _has_error_cells(book: zipfile.ZipFile, part: str) -> bool:
    """Whether the sheet part's XML has ``t="e"`` anywhere (zlib decompresses without the GIL)."""
    mark = b't="e"'
    tail = b""
    with book.open(part) as xml:
        while chunk := xml.read(_SCAN_CHUNK):
            window = tail + chunk  # a mark cut between two chunks is found too
            if mark in window:
                return True
            tail = window[-(len(mark) - 1):]
    return False


def _sheet_part(book: zipfile.ZipFile, sheet: str | int | None) -> str | None:
    """Zip member of a sheet chosen as the sheet reader chooses it (None: the first; a name; a position)."""
    workbook = book.read("xl/workbook.xml").decode("utf-8", "replace")
    sheets = []  # (name, relationship id) in the workbook's order, attributes in any order
    for attrs in re.findall(r"<(?:\w+:)?sheet\b([^>]*)>", workbook):
        name, rid = re.search(r'\bname="([^"]*)"', attrs), re.search(r'\br:id="([^"]*)"', attrs)
        if name and rid:
            sheets.append((html.unescape(name.group(1)), rid.group(1)))
    if not sheets:
        return None
    if sheet is None:
        rid = sheets[0][1]
    elif isinstance(sheet, int):
        rid = sheets[sheet][1] if 0 <= sheet < len(sheets) else ""
    else:
        rid = next((r for n, r in sheets if n == sheet), "")
    rels = book.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    for attrs in re.findall(r"<(?:\w+:)?Relationship\b([^>]*)>", rels):
        if re.search(rf'\bId="{re.escape(rid)}"', attrs):
            target = re.search(r'\bTarget="([^"]*)"', attrs)
            if target:
                t = target.group(1)
                return t.lstrip("/") if t.startswith("/") else "xl/" + t
    return None


def _melt(frame: pd.DataFrame, wide: Mapping[tuple[str, int], pd.Series]) -> pd.DataFrame:
    """One row per source row and year from year-in-header columns (a loop over the few years)."""
    years = sorted({y for _, y in wide})
    measures = list(dict.fromkeys(m for m, _ in sorted(wide, key=lambda k: k[1])))
    dtypes = {m: next(s.dtype for (mm, _), s in wide.items() if mm == m) for m in measures}
    parts = []
    for year in years:
        part = frame.copy()
        part["year"] = year
        for m in measures:
            part[m] = wide.get((m, year), pd.Series(None, index=frame.index, dtype=dtypes[m]))
        parts.append(part)
    out = pd.concat(parts, ignore_index=True).sort_values(["src_row", "year"], kind="stable")
    out["year"] = out["year"].astype("Int64")
    return out


def _drop_totals(frame: pd.DataFrame, body: pd.DataFrame, src_row: pd.Series, file: str,
                 problems: list[Problem]) -> pd.DataFrame:
    """Drop sum lines (合计/总计/小计 in one of the first cells) that have no USCC, with a warning."""
    if "uscc" not in frame or body.empty:
        return frame
    candidates = set(frame.loc[frame["uscc"].isna(), "src_row"])
    rows = src_row.isin(candidates).to_numpy(bool)
    if not rows.any():
        return frame
    labels = pd.concat([is_one_of(body.loc[rows, j], TOTAL_WORDS) for j in body.columns[:4]], axis=1).any(axis=1)
    totals = set(src_row[rows][labels.to_numpy(bool)])
    total = frame["src_row"].isin(totals) & frame["uscc"].isna()
    if total.any():
        dropped = sorted(set(frame.loc[total, "src_row"].astype(int)))
        problems.append(Problem(f"total row(s) skipped: rows {format_ids(dropped)}", file=file,
                                fix="nothing to do if these are sums (合计); give them a USCC if they are firms",
                                severity="warning",
                                message_zh=f"已跳过合计行：第 {format_ids_zh(dropped)} 行",
                                fix_zh="若这些是合计（合计/总计/小计）则无需处理；若是企业，请填写统一社会信用代码"))
    return frame[~total]


def _firm_warnings(frame: pd.DataFrame, file: str, uscc_codes: pa.Array,
                   src: Mapping[str, str]) -> list[Problem]:
    out: list[Problem] = []
    uscc = frame["uscc"]
    positions = frame[_USCC_KEY].to_numpy()
    frame["uscc_valid"] = valid_codes(positions, uscc_codes)
    bad = uscc.notna() & ~frame["uscc_valid"]
    out += [Problem("USCC check digit or format is wrong (the row is kept)", fix="check the 18-character code",
                    file=file, row=int(r), column=src.get("uscc", "uscc"), value=v, severity="warning",
                    message_zh="统一社会信用代码的校验位或格式有误（该行已保留）",
                    fix_zh="请核对这 18 位代码")
            for r, v in zip(frame.loc[bad, "src_row"], uscc[bad], strict=True)]
    out += _missing_summary(frame, uscc.isna(), "uscc", src, file,
                            "the firm cannot be linked by USCC; fill in its 统一社会信用代码",
                            "无法按统一社会信用代码关联该企业；请填写其统一社会信用代码")
    if "tax" in frame:
        negative = frame["tax"] < 0
        out += [Problem("negative tax (kept: refunds can exceed payments)", fix="check the value",
                        file=file, row=int(r), column=src.get("tax", "tax"), value=v, severity="warning",
                        message_zh="税金为负（已保留：退税可能超过缴税）",
                        fix_zh="请核对该值")
                for r, v in zip(frame.loc[negative, "src_row"], frame.loc[negative, "tax"], strict=True)]
        out += _missing_summary(frame, frame["tax"].isna(), "tax", src, file,
                                "fill in 实缴税金 (万元); missing stays missing, it is not taken as 0",
                                "请填写实缴税金（万元）；缺失仍按缺失处理，不当作 0")
    else:
        out.append(Problem("no tax column (实缴税金): per-mu tax cannot be computed", severity="warning",
                           fix="add the column or map its header in [firms.aliases]", file=file,
                           message_zh="没有税金列（实缴税金）：无法计算亩均税收",
                           fix_zh="请加上该列，或在 [firms.aliases] 中映射其表头"))
    above = frame["scale"] == "above" if "scale" in frame else pd.Series(False, index=frame.index)
    above = above.fillna(False).astype(bool)
    if "energy_tce" in frame:
        out += _missing_summary(frame, above & frame["energy_tce"].isna(), "energy_tce", src, file,
                                "fill in 综合能耗 (tce) for 规上 firms: 单位能耗增加值 needs it",
                                "请为规上企业填写综合能耗（吨标煤）：计算单位能耗增加值需要它")
    elif above.any():
        out.append(Problem("no energy column (综合能耗) for 规上 firms: 单位能耗增加值 cannot be computed",
                           fix="add the column or map its header in [firms.aliases]", file=file,
                           severity="warning",
                           message_zh="规上企业没有能耗列（综合能耗）：无法计算单位能耗增加值",
                           fix_zh="请加上该列，或在 [firms.aliases] 中映射其表头"))
    for code, year, rows in repeated_code_years(positions, frame["year"], frame["src_row"], uscc_codes):
        out.append(Problem(f"firm {code} has {len(rows)} rows for {year}: rows {format_ids(rows)}",
                           fix="keep one row per firm and year (or sum them)", file=file, column="uscc",
                           severity="warning",
                           message_zh=f"企业 {code} 在 {year} 年有 {len(rows)} 行：第 {format_ids_zh(rows)} 行",
                           fix_zh="每家企业每年只保留一行（或先合计）"))
    return out


def _missing_summary(frame: pd.DataFrame, mask: pd.Series, name: str, src: Mapping[str, str], file: str,
                     fix: str, fix_zh: str) -> list[Problem]:
    if not mask.any():
        return []
    rows = frame.loc[mask, "src_row"].astype(int).tolist()
    return [Problem(f"{len(rows)} row(s) without {name}: rows {format_ids(rows, limit=10)}", fix=fix,
                    file=file, column=src.get(name, name), severity="warning",
                    message_zh=f"{len(rows)} 行缺少 {_LABEL_ZH.get(name, name)}：第 {format_ids_zh(rows, limit=10)} 行",
                    fix_zh=fix_zh)]



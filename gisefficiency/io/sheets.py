"""Read a spreadsheet-like file (.xlsx, .xls, .csv, .parquet) as a grid of raw cells and find its header.

Bureau workbooks put titles, dates and notes above the header ("XX县2021年度亩均效益评价数据"), so the
header is the row, among the first ``HEADER_SCAN_ROWS``, with the most known column names; and they
often open with a 填表说明 sheet of instructions, so without a named sheet the table is the first
sheet that has such a header (:func:`locate_table`).
Row numbers are kept as a person sees them: Excel row 1 is the first row of the sheet, CSV line 1 the
first line of the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from gisefficiency.core.errors import InputError, Problem
from gisefficiency.io.columns import match_header, match_wide_header
from gisefficiency.io.values import is_coded_text, missing_mask

#: How many rows from the top are searched for the header (instructions above it can be long).
HEADER_SCAN_ROWS: int = 50

#: Known column names a header row needs for its sheet to be taken as the table when no sheet is
#: named: one name alone may be a field list on an instructions sheet (字段 | 说明).
SHEET_MIN_NAMES: int = 2

#: Formats read by ``read_grid``.
TABLE_FORMATS: dict[str, str] = {".xlsx": "Excel", ".xlsm": "Excel", ".xls": "Excel 97-2003", ".csv": "CSV",
                                 ".txt": "CSV", ".parquet": "Parquet"}

#: Parquet text columns whose dictionary page is at most this size (in every row group) are read as codes.
SMALL_DICTIONARY_BYTES: int = 1 << 16

#: Lines at the top of a CSV file used to guess the separator and the number of columns.
CSV_SCAN_LINES: int = 50

# Text cells as pandas' CSV reader gives them (dtype=str): Arrow-backed, NaN for missing.
_TEXT_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
# Line breaks of CSV parsers (str.splitlines knows more).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Grid:
    """Raw cells of one sheet.

    Attributes
    ----------
    cells
        DataFrame with positional columns 0..n-1, one row per source row. Column dtypes are what the
        format gives: text (``str``) for Excel and CSV, the stored types for Parquet.
    first_row
        Row number (as a person sees it) of ``cells``' first row.
    header
        Position in ``cells`` of the header row, when the format has a fixed one (Parquet: -1, the
        column names, which sit in the row above ``cells``).
    names
        The stored column names (Parquet), or None.
    coded
        Positions of text columns read as categories (Parquet columns stored with a small
        dictionary: the parsers use its codes instead of hashing every cell); ``text_cells`` turns
        them back into plain text.
    typed_text
        Whether numbers and dates were written as text by the reader (Excel): columns kept as read
        get them back with ``typed_cells``.
    """

    cells: pd.DataFrame
    first_row: int = 1
    header: int | None = None
    names: tuple[str, ...] | None = None
    coded: frozenset[int] = frozenset()
    typed_text: bool = False

    def row(self, pos: int) -> list[object]:
        """The cells of one row (position -1: the stored column names)."""
        if pos == -1 and self.names is not None:
            return list(self.names)
        return self.cells.iloc[pos].tolist()


def read_grid(path: Path, *, sheet: str | int | None = None) -> Grid:
    """Read every cell of a table file without interpreting any.

    ``sheet`` (name or 0-based position) applies to workbooks; default the first sheet.

    Raises
    ------
    InputError
        Missing file, unknown format, unknown sheet, or an undecodable CSV.
    """
    if not path.exists():
        raise InputError(f"{path}: file not found -> check the path in the config",
                         zh=f"{path}：找不到文件 → 请检查配置文件中的路径")
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise InputError(f"{path}: unknown table format {suffix!r} -> save it as .xlsx, .xls, .csv or .parquet",
                         zh=f"{path}：无法识别的表格格式 {suffix!r} → 请另存为 .xlsx、.xls、.csv 或 .parquet")
    if suffix == ".parquet":
        small = _small_dictionaries(path)
        # One block per column (no 2-D copy of the numbers), Arrow buffers freed as they convert.
        frame = pd.read_parquet(path, read_dictionary=small or None,
                                to_pandas_kwargs={"split_blocks": True, "self_destruct": True})
        coded = frozenset(j for j, name in enumerate(frame.columns) if name in small)
        return _named_grid(frame, coded)
    if suffix in (".csv", ".txt"):
        return Grid(_read_csv(path))
    return Grid(_read_excel(path, sheet), typed_text=True)


def frame_grid(frame: pd.DataFrame) -> Grid:
    """The cells of a table already in memory (a notebook's frame, a database query), read as a Parquet file is.

    The column names are the header (position -1) and rows count from 1 in the frame's order. A
    named index (e.g. ``统一社会信用代码``) holds data and becomes the first column; an unnamed one is
    only positions and is dropped. The caller's frame is not modified.
    """
    named = any(name is not None for name in frame.index.names)
    return _named_grid(frame.reset_index(drop=not named), frozenset())


def _named_grid(frame: pd.DataFrame, coded: frozenset[int]) -> Grid:
    """A grid whose header is the frame's column names (Parquet files and frames in memory)."""
    # Columns keep their stored types (numbers stay numbers); only types the parsers do not
    # know (categoricals, lists, ...) become plain cells.
    body = frame.set_axis(range(frame.shape[1]), axis=1)
    odd = [j for j, dtype in enumerate(body.dtypes) if not _plain(dtype) and j not in coded]
    if odd:
        body = body.astype(dict.fromkeys(odd, object))
    return Grid(body, first_row=1, header=-1, names=tuple(str(c) for c in frame.columns), coded=coded)


def _small_dictionaries(path: Path) -> list[str]:
    """Text columns of a Parquet file stored with a small dictionary (a few distinct values) in every row group.

    Read as dictionaries, these come with their codes: no hashing of every cell to find the few
    distinct values (是/否, 规上/规下, industry codes), and no text materialised for cells that are
    parsed into flags or choices anyway. Dictionaries over ``SMALL_DICTIONARY_BYTES`` (ids, names)
    are read as plain text: joining large per-row-group dictionaries costs more than hashing.
    """
    try:
        meta = pq.ParquetFile(path).metadata
        schema = meta.schema.to_arrow_schema()
    except Exception:  # unreadable here: pandas' reader reports it
        return []
    out = []
    for j, field in enumerate(schema):
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        chunks = [meta.row_group(i).column(j) for i in range(meta.num_row_groups)]
        if chunks and all(c.has_dictionary_page and c.dictionary_page_offset is not None
                          and 0 < c.data_page_offset - c.dictionary_page_offset <= SMALL_DICTIONARY_BYTES
                          for c in chunks):
            out.append(field.name)
    return out if len(set(out)) == len(out) else []


def text_cells(column: pd.Series) -> pd.Series:
    """A coded text column (see ``Grid.coded``) as the plain text cells pandas' Parquet reader gives."""
    cells = pa.array(column.array)  # DictionaryArray: the categories and their codes, no copy
    text = cells.dictionary_decode().cast(pa.large_string())
    return pd.Series(pd.array(text, dtype=_TEXT_DTYPE), index=column.index, name=column.name)


# Numbers and date-times as ``_read_excel`` writes them (never a leading zero, a trailing zero after
# the point, a plus sign or white space, which only text typed by a person has).
_EXCEL_NUMBER = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?$"
_EXCEL_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"


def typed_cells(column: pd.Series) -> pd.Series:
    """A workbook column kept as read, as the numbers (float) or date-times its cells were written from.

    Only when every present cell is one: a column that also holds text (``"001"``, ``"无"``) stays text,
    as do empty columns.
    """
    if not isinstance(column.dtype, pd.StringDtype) or column.dtype.storage != "pyarrow":
        return column
    cells = pa.array(column.array)
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    present = cells.drop_null()
    if len(present) == 0:
        return column
    if pc.all(pc.match_substring_regex(present, _EXCEL_NUMBER)).as_py():
        values = pc.cast(cells, pa.float64()).to_numpy(zero_copy_only=False)
        return pd.Series(values, index=column.index, name=column.name)
    if pc.all(pc.match_substring_regex(present, _EXCEL_DATETIME)).as_py():
        stamps = pc.strptime(cells, format="%Y-%m-%d %H:%M:%S", unit="us")
        return pd.Series(stamps.to_numpy(zero_copy_only=False), index=column.index, name=column.name)
    return column


def _plain(dtype: object) -> bool:
    """Whether the value parsers take a column of this dtype as it is."""
    return (pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.StringDtype)
            or pd.api.types.is_object_dtype(dtype)) and not isinstance(dtype, pd.CategoricalDtype)


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    """Every cell of one sheet as text, laid out from cell A1 (Excel row ``i + 1`` is row ``i``).

    fastexcel (calamine in Rust) parses the sheet and converts every cell to Arrow text without a
    Python object per cell: a 370k-row workbook takes a few seconds where pandas' ``read_excel``
    (which calls a Python function per cell and then its Python parser) took about 30 s of CPU.
    The cells then go through the same parsers as a CSV file's. Numbers are written as Excel shows
    them (``2021``, ``46.76``; up to 9 decimals), dates and times as ``2019-05-01 00:00:00``,
    booleans as ``true``/``false``; text stays as typed (``"001"`` stays ``"001"``). Error cells
    (``#DIV/0!``) come out empty; ``tables`` reads their text from the sheet's XML.
    """
    import fastexcel

    try:
        book = fastexcel.read_excel(path)
        names = [str(n) for n in book.sheet_names]
    except Exception as exc:
        raise InputError(f"{path}: cannot open the workbook ({exc}) -> check the file opens in Excel",
                         zh=f"{path}：无法打开工作簿（{exc}）→ 请确认该文件能在 Excel 中打开") from exc
    _check_sheet(path, sheet, names)
    chosen: str | int = 0 if sheet is None else sheet
    try:
        # No header and skip_rows=0: the range starts at row 1 (blank rows on top are kept, so
        # positions are Excel rows); columns start at the first used one (absolute_index below).
        # Every column as text: the parsers find numbers, dates and flags in text as they do in CSV.
        cells = book.load_sheet(chosen, header_row=None, skip_rows=0, dtypes="string")
        columns = cells.available_columns()
        batch = cells.to_arrow()
    except Exception as exc:
        raise InputError(f"{path}: cannot read sheet {chosen!r} ({exc}) -> check the file opens in Excel",
                         zh=f"{path}：无法读取工作表 {chosen!r}（{exc}）→ 请确认该文件能在 Excel 中打开") from exc
    offset = columns[0].absolute_index if columns else 0
    n = batch.num_rows
    out: dict[int, pd.api.extensions.ExtensionArray] = {}
    for j in range(offset):  # columns left of the first used one (all empty)
        out[j] = pd.array(pa.nulls(n, pa.large_string()), dtype=_TEXT_DTYPE)
    for j, column in enumerate(batch.columns):
        out[offset + j] = pd.array(column.cast(pa.large_string()), dtype=_TEXT_DTYPE)
    return pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)


def _check_sheet(path: Path, sheet: str | int | None, names: list[str], section: str | None = None) -> None:
    """Refuse a sheet name or position the workbook does not have, listing its sheets."""
    if sheet is None or (isinstance(sheet, int) and 0 <= sheet < len(names)) or sheet in names:
        return
    key = f"[{section}] sheet" if section else "sheet ([firms] sheet or [land] sheet)"
    what = f"no sheet {sheet!r}" if isinstance(sheet, str) else f"no sheet at position {sheet}"
    what_zh = f"没有工作表 {sheet!r}" if isinstance(sheet, str) else f"没有序号为 {sheet} 的工作表"
    raise InputError(f"{path}: {what}; sheets are {', '.join(map(repr, names))} -> set {key} to one of "
                     f"those names, or to its position counted from 0",
                     zh=(f"{path}：{what_zh}；工作表有 {', '.join(map(repr, names))} → 请把 {key} 设为其中一个名称，"
                         "或设为从 0 起算的序号"))


def sheet_names(path: Path) -> list[str] | None:
    """The sheet names of a workbook, or None for other formats (or a file that does not open)."""
    if TABLE_FORMATS.get(path.suffix.lower(), "").startswith("Excel") and path.exists():
        import fastexcel

        try:
            return [str(n) for n in fastexcel.read_excel(path).sheet_names]
        except Exception:  # unreadable: read_grid reports it with its reason
            return None
    return None


def locate_table(
    path: Path,
    lookup: Mapping[str, str],
    *,
    sheet: str | int | None = None,
    header_row: int | None = None,
    expected: tuple[str, ...] = (),
    section: str = "firms",
    read: Callable[..., Grid] = read_grid,
) -> tuple[Grid, int]:
    """The grid of the sheet holding the table and the position of its header row.

    Without ``sheet``, a workbook's sheets are looked at in order and the first whose header row
    (``header_row``, else the best row among the first ``HEADER_SCAN_ROWS``) has at least
    ``SHEET_MIN_NAMES`` known column names is the table (a 填表说明 cover sheet is skipped); failing
    that, the first with any known name.

    Parameters
    ----------
    path
        The table file.
    lookup
        Normalised header -> canonical name (``columns.alias_lookup``).
    sheet, header_row
        As given in the config (``[section] sheet``, ``[section] header_row``), or None.
    expected
        Canonical names listed in the message when no header is found.
    section
        The config section the keys are named under in messages ("firms" or "land").
    read
        The grid reader (``read_grid``).

    Raises
    ------
    InputError
        No sheet has a header: names the file, the sheets looked at and the keys to set.
    """
    names = sheet_names(path)
    if names is not None:
        _check_sheet(path, sheet, names, section)
    if names is None or sheet is not None or len(names) < 2:
        grid = read(path, sheet=sheet)
        where = f"sheet {_sheet_label(names, sheet)}" if names else ""
        return grid, find_header(grid, lookup, path=path, header_row=header_row, expected=expected,
                                 section=section, where=where)
    fallback: tuple[Grid, int] | None = None
    for i in range(len(names)):
        grid = read(path, sheet=i)
        pos, score = _best_header(grid, lookup, header_row, path)
        if score >= SHEET_MIN_NAMES:
            return grid, pos
        if score > 0 and fallback is None:
            fallback = grid, pos
    if fallback is not None:
        return fallback
    raise InputError(
        f"{path}: no table found in sheets {', '.join(map(repr, names))}",
        [_no_header(path, expected, section, header_row,
                    f"none of the sheets {', '.join(map(repr, names))} has a known column name "
                    + (f"in row {header_row}" if header_row is not None else
                       f"in its first {HEADER_SCAN_ROWS} rows"),
                    f"工作表 {', '.join(map(repr, names))} "
                    + (f"第 {header_row} 行" if header_row is not None else f"前 {HEADER_SCAN_ROWS} 行")
                    + "中没有可识别的列名")],
        zh=f"{path}：在工作表 {', '.join(map(repr, names))} 中找不到数据表",
    )


def _sheet_label(names: list[str] | None, sheet: str | int | None) -> str:
    if not names:
        return ""
    chosen = names[sheet] if isinstance(sheet, int) else sheet if sheet is not None else names[0]
    return repr(chosen)


def _best_header(grid: Grid, lookup: Mapping[str, str], header_row: int | None, path: Path) -> tuple[int, int]:
    """The header row's position and its number of known column names (the given row, or the best)."""
    if header_row is not None:
        pos = _given_row(grid, header_row, path)
        return pos, _known_names(grid.row(pos), lookup)
    if grid.header is not None:
        return grid.header, _known_names(grid.row(grid.header), lookup)
    scores = [_known_names(grid.cells.iloc[i].tolist(), lookup) for i in range(min(HEADER_SCAN_ROWS, len(grid.cells)))]
    if not scores:
        return 0, 0
    best = int(np.argmax(scores))
    return best, scores[best]


def _known_names(values: list[object], lookup: Mapping[str, str]) -> int:
    return sum(1 for v in values
               if v is not None and v == v and (match_header(v, lookup) or match_wide_header(v, lookup)))


def _given_row(grid: Grid, header_row: int, path: Path) -> int:
    pos = header_row - grid.first_row
    top = -1 if grid.names is not None else 0
    if not top <= pos < len(grid.cells):
        raise InputError(f"{path}: header_row {header_row} is outside the sheet (rows "
                         f"{grid.first_row + top}-{grid.first_row + len(grid.cells) - 1})",
                         zh=(f"{path}：header_row {header_row} 超出了工作表的范围（第 "
                             f"{grid.first_row + top}-{grid.first_row + len(grid.cells) - 1} 行）"))
    return pos


def _no_header(path: Path, expected: tuple[str, ...], section: str, header_row: int | None, message: str,
               message_zh: str) -> Problem:
    sheet_key = f"[{section}] sheet (name or 0-based position), " if sheet_names(path) else ""
    return Problem(
        message,
        fix=f"name the columns with the usual headers ({', '.join(expected)}: e.g. 统一社会信用代码, 年度, 实缴税金), "
            f"map yours in [{section}.aliases], or set {sheet_key}[{section}] header_row (the header's row "
            "number as Excel shows it)",
        file=str(path),
        message_zh=message_zh,
        fix_zh=(f"请使用常用表头命名各列（{', '.join(expected)}：如 统一社会信用代码、年度、实缴税金），"
            f"或在 [{section}.aliases] 中映射您的表头，或设置 {sheet_key}[{section}] header_row（表头所在行号，"
            "按 Excel 显示的行号）"),
    )


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    fast = _read_csv_arrow(data)
    return fast if fast is not None else _read_csv_pandas(data, path)


def _read_csv_pandas(data: bytes, path: Path) -> pd.DataFrame:
    """Every line as a row (blank ones too), short rows padded, every cell text or NaN."""
    text = decode_text(data, path)
    sep, _, width = _layout(_head_lines(text))
    try:
        return pd.read_csv(
            io.StringIO(text), sep=sep, header=None, names=range(width), dtype=str, keep_default_na=False,
            na_values=[""], skip_blank_lines=False, engine="c",
        )
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: cannot split the CSV into columns ({exc}) -> check quoting and separators",
                         zh=f"{path}：无法把 CSV 拆分成列（{exc}）→ 请检查引号和分隔符") from exc


def _layout(lines: list[str]) -> tuple[str, list[list[str]], int]:
    """Separator (the most frequent of , tab ;), the lines split into cells, and the widest row's width."""
    sep = max((",", "\t", ";"), key=lambda s: sum(line.count(s) for line in lines))
    rows = list(csv.reader(lines, delimiter=sep))
    return sep, rows, max((len(row) for row in rows), default=1)


def _head_lines(text: str) -> list[str]:
    """The first ``CSV_SCAN_LINES`` lines, without splitting the whole text."""
    size = 1 << 16
    while size < len(text) and len(text[:size].splitlines()) <= CSV_SCAN_LINES + 1:
        size *= 4
    return text[:size].splitlines()[:CSV_SCAN_LINES]


def _utf8_head(data: bytes, start: int) -> str | None:
    """UTF-8 text of a prefix of ``data[start:]`` holding more than ``CSV_SCAN_LINES`` lines; None if not UTF-8."""
    size = 1 << 16
    while True:
        try:
            head = codecs.getincrementaldecoder("utf-8")().decode(data[start:start + size], final=False)
        except UnicodeDecodeError:
            return None
        if start + size >= len(data) or len(head.splitlines()) > CSV_SCAN_LINES + 1:
            return head
        size *= 4


def _read_csv_arrow(data: bytes) -> pd.DataFrame | None:
    """The cells pandas' reader gives for a UTF-8 file, read by Arrow's multi-threaded parser; None when unsure.

    Rows above the first run of full-width rows (titles, notes) are taken from the scanned lines;
    Arrow reads the rest (a blank line is a row of empty cells, as with pandas) and gives up on
    anything irregular (a short or long row, a line of spaces, bytes that are not UTF-8), in which
    case the caller decodes the text and uses pandas' reader, which pads short rows and tries GBK.
    """
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    head = None if data.startswith((b"\xff\xfe", b"\xfe\xff")) else _utf8_head(data, start)
    if head is None:
        return None
    lines = head.splitlines()[:CSV_SCAN_LINES]
    sep, rows, width = _layout(lines)
    breaks = list(_LINE_BREAK.finditer(head))
    if (width < 2 or len(lines) < CSV_SCAN_LINES or len(rows) != len(lines) or len(breaks) <= CSV_SCAN_LINES
            or _LINE_BREAK.split(head)[:CSV_SCAN_LINES] != lines):
        # Small files, quoted line breaks among the first lines, or line breaks that Arrow does
        # not split on (\v, \f, U+2028, ...).
        return None
    short = [i for i, row in enumerate(rows) if len(row) != width]
    k = short[-1] + 1 if short else 0
    offset = start + len(head[:breaks[k - 1].end()].encode("utf-8")) if k else start
    names = [str(j) for j in range(width)]
    body = _arrow_cells(memoryview(data)[offset:], names, sep)
    if body is None:
        return None
    columns = {}
    for j, name in enumerate(names):
        top = pa.array([row[j] if j < len(row) and row[j] != "" else None for row in rows[:k]], pa.large_string())
        columns[j] = pd.array(pa.chunked_array([top, *body.column(name).chunks], pa.large_string()),
                              dtype=_TEXT_DTYPE)
    return pd.DataFrame(columns, index=pd.RangeIndex(k + body.num_rows), copy=False)


def _arrow_cells(data: memoryview, names: list[str], sep: str) -> pa.Table | None:
    """Every cell as text (None for empty ones), or None when Arrow finds a row it cannot take.

    Arrow splits the file into blocks at line breaks unless told that values may hold them, which
    makes it about three times slower. Its parser follows quotes either way and raises when a block
    boundary fell inside a quoted value (the two halves cannot both have every column), so the fast
    setting is tried first.
    """
    for newlines_in_values in (False, True):
        try:
            return pacsv.read_csv(
                pa.py_buffer(data),
                # A few large blocks: both cores busy, and few chunks for hashing and casting later.
                read_options=pacsv.ReadOptions(column_names=names, block_size=max(1 << 20, len(data) // 8)),
                parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, escape_char=False,
                                                  newlines_in_values=newlines_in_values, ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.large_string()),
                                                     null_values=[""], strings_can_be_null=True,
                                                     quoted_strings_can_be_null=True, check_utf8=True),
            )
        except pa.ArrowException:
            continue  # a quoted line break across blocks; a short row or non-UTF-8 bytes fail twice
    return None


def decode_text(data: bytes, path: Path) -> str:
    """Decode a text file: UTF-8 with or without BOM, UTF-16 with BOM, else GB18030 (GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: the text is neither UTF-8 nor GBK/GB18030 (byte {exc.start}) -> save it as UTF-8 CSV",
            zh=f"{path}：文本既不是 UTF-8 也不是 GBK/GB18030（第 {exc.start} 字节）→ 请另存为 UTF-8 编码的 CSV"
        ) from exc


def find_header(
    grid: Grid,
    lookup: Mapping[str, str],
    *,
    path: str | Path,
    header_row: int | None = None,
    expected: tuple[str, ...] = (),
    section: str = "firms",
    where: str = "",
) -> int:
    """Position in ``grid.cells`` of the header row (-1: the stored column names of a Parquet file).

    Parameters
    ----------
    header_row
        The header's row number as a person sees it (Excel row), overriding the search.
    expected
        Canonical names to list in the message when no header is found.
    section, where
        The config section whose keys the message names, and the sheet looked at ("sheet '数据'").
    """
    if header_row is not None:
        return _given_row(grid, header_row, path)
    if grid.header is not None:
        return grid.header
    pos, score = _best_header(grid, lookup, None, path)
    if score == 0:
        place = f" of {where}" if where else ""
        place_zh = f"（{where}）" if where else ""
        raise InputError(
            f"{path}: no header row found in the first {HEADER_SCAN_ROWS} rows{place}",
            [_no_header(path, expected, section, None,
                        f"none of the first {HEADER_SCAN_ROWS} rows{place} has a known column name",
                        f"前 {HEADER_SCAN_ROWS} 行{place_zh}中没有可识别的列名")],
            zh=f"{path}：前 {HEADER_SCAN_ROWS} 行{place_zh}中找不到表头行",
        )
    return pos


def blank_rows(body: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is missing; each column is looked at only on the rows still blank.

    Typed columns (Parquet numbers, dates) go first: their test is a plain ``isna``, and after one
    of them hardly any row is left for the text columns.
    """
    blank = np.ones(len(body), dtype=bool)
    typed = [j for j in body.columns if not pd.api.types.is_string_dtype(body[j].dtype)
             and not pd.api.types.is_object_dtype(body[j].dtype) and not is_coded_text(body[j].dtype)]
    for j in [*typed, *(j for j in body.columns if j not in typed)]:
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        cells = body[j] if len(rows) == len(body) else body[j].iloc[rows]
        blank[rows] = missing_mask(cells).to_numpy(bool)
    return blank


def header_names(grid: Grid, pos: int) -> list[str]:
    """The header row as text; empty header cells are named after their Excel column letter."""
    values = grid.row(pos)
    return [str(v).strip() if v is not None and v == v and str(v).strip() else f"column {_letters(j)}"
            for j, v in enumerate(values)]


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out

"""Read a spreadsheet-like file (.xlsx, .xls, .csv, .parquet) as a grid of raw cells and find its header.

Bureau workbooks put titles, dates and notes above the header ("XX县2021年度亩均效益评价数据"), so the
header is the row, among the first ``HEADER_SCAN_ROWS``, with the most known column names.
Row numbers are kept as a person sees them: Excel row 1 is the first row of the sheet, CSV line 1 the
first line of the file.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gisefficiency.errors import InputError, Problem
from gisefficiency.io.columns import match_header, match_wide_header

#: How many rows from the top are searched for the header.
HEADER_SCAN_ROWS: int = 10

#: Formats read by ``read_grid``.
TABLE_FORMATS: dict[str, str] = {".xlsx": "Excel", ".xlsm": "Excel", ".xls": "Excel 97-2003", ".csv": "CSV",
                                 ".txt": "CSV", ".parquet": "Parquet"}


@dataclass(frozen=True)
class Grid:
    """Raw cells of one sheet.

    Attributes
    ----------
    cells
        Object DataFrame with positional columns 0..n-1, one row per source row.
    first_row
        Row number (as a person sees it) of ``cells``' first row.
    header
        Position in ``cells`` of the header row, when the format has a fixed one (Parquet).
    """

    cells: pd.DataFrame
    first_row: int = 1
    header: int | None = None


def read_grid(path: Path, *, sheet: str | int | None = None) -> Grid:
    """Read every cell of a table file without interpreting any.

    Raises
    ------
    InputError
        Missing file, unknown format, unknown sheet, or an undecodable CSV.
    """
    if not path.exists():
        raise InputError(f"{path}: file not found -> check the path in the config")
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise InputError(f"{path}: unknown table format {suffix!r} -> save it as .xlsx, .xls, .csv or .parquet")
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
        header = pd.DataFrame([list(frame.columns)], dtype=object)
        body = frame.astype(object).set_axis(range(frame.shape[1]), axis=1)
        return Grid(pd.concat([header, body], ignore_index=True), first_row=0, header=0)
    if suffix in (".csv", ".txt"):
        return Grid(_read_csv(path))
    return Grid(_read_excel(path, suffix, sheet))


def _read_excel(path: Path, suffix: str, sheet: str | int | None) -> pd.DataFrame:
    engine = "xlrd" if suffix == ".xls" else "openpyxl"
    with warnings.catch_warnings():
        # pandas marks the xlrd engine as deprecated; it is still the only reader of .xls files.
        warnings.simplefilter("ignore")
        try:
            book = pd.ExcelFile(path, engine=engine)
        except Exception as exc:
            raise InputError(f"{path}: cannot open the workbook ({exc}) -> check the file opens in Excel") from exc
        with book:
            names = [str(n) for n in book.sheet_names]
            if sheet is None:
                chosen: str | int = 0
            elif isinstance(sheet, int) or sheet in names:
                chosen = sheet
            else:
                raise InputError(
                    f"{path}: no sheet {sheet!r}; sheets are {', '.join(map(repr, names))} "
                    f"-> set sheet = \"...\" under [firms] to one of them"
                )
            # header=None keeps every row, blank ones included, so position + 1 is the Excel row.
            return book.parse(chosen, header=None, dtype=object)


def _read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    text = decode_text(data, path)
    lines = text.splitlines()[: HEADER_SCAN_ROWS * 5]
    sep = max((",", "\t", ";"), key=lambda s: sum(line.count(s) for line in lines))
    import csv

    width = max((len(row) for row in csv.reader(lines, delimiter=sep)), default=1)
    try:
        return pd.read_csv(
            io.StringIO(text), sep=sep, header=None, names=range(width), dtype=str, keep_default_na=False,
            na_values=[""], skip_blank_lines=False, engine="c",
        )
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: cannot split the CSV into columns ({exc}) -> check quoting and separators") from exc


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
            f"{path}: the text is neither UTF-8 nor GBK/GB18030 (byte {exc.start}) -> save it as UTF-8 CSV"
        ) from exc


def find_header(
    grid: Grid,
    lookup: Mapping[str, str],
    *,
    path: Path,
    header_row: int | None = None,
    expected: tuple[str, ...] = (),
) -> int:
    """Position in ``grid.cells`` of the header row.

    Parameters
    ----------
    header_row
        The header's row number as a person sees it (Excel row), overriding the search.
    expected
        Canonical names to list in the message when no header is found.
    """
    cells = grid.cells
    if header_row is not None:
        pos = header_row - grid.first_row
        if not 0 <= pos < len(cells):
            raise InputError(f"{path}: header_row {header_row} is outside the sheet (rows "
                             f"{grid.first_row}-{grid.first_row + len(cells) - 1})")
        return pos
    if grid.header is not None:
        return grid.header
    scores = [
        sum(
            1 for v in cells.iloc[i].tolist()
            if v is not None and v == v and (match_header(v, lookup) or match_wide_header(v, lookup))
        )
        for i in range(min(HEADER_SCAN_ROWS, len(cells)))
    ]
    if not scores or max(scores) == 0:
        raise InputError(
            f"{path}: no header row found in the first {HEADER_SCAN_ROWS} rows",
            [Problem(
                "none of the first rows has a known column name",
                fix=f"name the columns with the usual headers ({', '.join(expected)}: e.g. 统一社会信用代码, "
                    "年度, 实缴税金), map yours in the config's aliases, or give header_row",
                file=str(path),
            )],
        )
    return int(np.argmax(scores))


def header_names(grid: Grid, pos: int) -> list[str]:
    """The header row as text; empty header cells are named after their Excel column letter."""
    values = grid.cells.iloc[pos].tolist()
    return [str(v).strip() if v is not None and v == v and str(v).strip() else f"column {_letters(j)}"
            for j, v in enumerate(values)]


def _letters(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out

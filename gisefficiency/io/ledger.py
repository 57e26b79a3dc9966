"""The 台账 as an Excel workbook staff work in: write it each run, read last year's as staff returned it.

Sheets: ``台账`` (one row per firm; Chinese headers, USCCs as text, header frozen, filters, widths; staff
columns with a yellow header, computed ones grey-blue), ``匹配情况`` (rows of last year's ledger found by
parcel id or name instead of USCC, or not found) and ``说明`` (what the statuses and colours mean).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.errors import InputError, Problem
from gisefficiency.core.text import WHITESPACE_RE2
from gisefficiency.ledger.columns import (
    HEADERS,
    MATCH_NEW,
    MATCH_USCC,
    STAFF_COLUMNS,
    STATUSES,
    from_headers,
    to_headers,
    year_column,
)

__all__ = ["LEDGER_SHEET", "read_ledger", "write_ledger", "write_ledger_table"]

LEDGER_SHEET = "台账"
MATCH_SHEET = "匹配情况"
NOTES_SHEET = "说明"
_STAFF_FILL = "FFF2CC"     # light yellow: staff fill these in
_COMPUTED_FILL = "DDEBF7"  # light blue: the toolkit rewrites these every run
_DEADLINE_FILL = "E2EFDA"  # light green: computed from a staff date
_WIDTHS = {"uscc": 22, "name": 30, "parcel_ids": 26, "status_reason": 34, "reason": 50, "match": 30}

_NOTES = [
    ("新列入", "本年首次列入低效企业清单"),
    ("继续列入", "上年已列入，本年仍列入且类别不变（或本年无亩均税收数据，按上年类别保留）"),
    ("类别变化", "上年已列入，本年类别改变，状态说明写明“原类别→新类别”"),
    ("重新列入", "往年已销号，本年再次列入"),
    ("已销号", "本年不再列入：亩均税收提升（销号类型“提升”，写明数字）或企业已注销、地块已收回（销号类型“退出”）"),
    ("黄色表头", "工作人员填写的列（认定日期、责任单位、整治措施、完成时限、进展、备注及自行增加的列），每年原样带入"),
    ("蓝色表头", "系统每年重新计算的列，请勿修改；统一社会信用代码可更正，更正后按地块编号或企业名称匹配"),
    ("绿色表头", "按政策规定的期限由“认定日期”计算（工作日只计周一至周五，节假日请人工核对）"),
]


def write_ledger(ledger: pd.DataFrame, path: str | Path, *, year: int) -> Path:
    """Write the ledger workbook.

    The sheets, header styles, comments, widths, frozen panes and filters are made by openpyxl in
    write-only mode; the data rows are streamed in as 清单.xlsx's are (:mod:`gisefficiency.io.workbook`):
    computed columns as whole Arrow columns, staff columns (whatever staff typed) cell by cell.

    Parameters
    ----------
    ledger
        :func:`gisefficiency.ledger.update` output (internal column names).
    path
        The ``.xlsx`` file to write (its folder is created; written under a temporary name and renamed).
    year
        The ledger's year, for the sheet title row.

    Returns
    -------
    Path
        The file written.
    """
    from openpyxl import Workbook

    from gisefficiency.io.workbook import save_streamed

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    bodies = {
        "xl/worksheets/sheet1.xml": _ledger_sheet(wb.create_sheet(LEDGER_SHEET), ledger),
        "xl/worksheets/sheet2.xml": _match_sheet(wb.create_sheet(MATCH_SHEET), ledger),
    }
    _notes_sheet(wb.create_sheet(NOTES_SHEET), year)
    return save_streamed(wb, path, bodies)


#: Number formats of the ledger's columns (others: General).
_TEXT_FORMAT, _DATE_FORMAT, _FIGURE_FORMAT = "@", "yyyy-mm-dd", "0.0000"


def _ledger_sheet(ws: Any, ledger: pd.DataFrame) -> list[Any]:
    """Header row, widths, frozen panes and filter of the 台账 sheet; returns its data cells by column."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from gisefficiency.io.workbook import _cells, _format_style_id, _values

    columns = list(ledger.columns)
    text_cols = {"uscc", "parcel_ids", "name"}
    date_like = [c for c in columns if pd.api.types.is_datetime64_any_dtype(ledger[c].dtype)]
    staff = set(STAFF_COLUMNS) | {c for c in columns if c not in HEADERS and year_column(str(c)) is None
                                  and not str(c).startswith(("category_", "tax_per_mu_")) and c not in date_like}
    date_style = _format_style_id(ws, _DATE_FORMAT)
    cells = []
    for j, col in enumerate(columns):
        letter = get_column_letter(j + 1)
        ws.column_dimensions[letter].width = _WIDTHS.get(col, 16 if col in staff else 14)
        values = ledger[col]
        if col in text_cols:  # USCCs and parcel ids are text: Excel must not turn them into numbers
            cells.append(_cells(_values(values, "id", "zh"), letter, "id", _format_style_id(ws, _TEXT_FORMAT)))
        elif col in date_like:
            cells.append(_cells(_values(values, "date", "zh"), letter, "date", date_style))
        elif pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            style = date_style if col == "认定日期" else None
            cells.append(_object_cells(values, letter, style=style, date_style=date_style))
        elif pd.api.types.is_numeric_dtype(values.dtype):
            figure = str(col).startswith(("tax_per_mu_", "land_mu", "energy_tce"))
            kind = "int" if pd.api.types.is_integer_dtype(values.dtype) else "num"
            style = _format_style_id(ws, _FIGURE_FORMAT) if figure else None
            cells.append(_cells(_values(values, kind, "zh"), letter, kind, style))
        else:
            cells.append(_cells(_values(values, "text", "zh"), letter, "text", None))
    ws.freeze_panes = "C2"
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(ledger) + 1}"
    bold = Font(bold=True)
    header = []
    for col, text in zip(columns, to_headers(columns), strict=True):
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        fill = _DEADLINE_FILL if col in date_like and col not in staff else (
            _STAFF_FILL if col in staff else _COMPUTED_FILL)
        cell.fill = PatternFill("solid", start_color=fill, end_color=fill)
        if col in staff:
            cell.comment = Comment("工作人员填写；每年原样带入下一年台账", "gisefficiency")
        header.append(cell)
    ws.append(header)
    return cells


def _match_sheet(ws: Any, ledger: pd.DataFrame) -> list[Any]:
    """The 匹配情况 sheet: rows of last year's ledger found by parcel id or name, or not found."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    from gisefficiency.io.workbook import _cells, _values

    matches = ledger[~ledger["match"].isin([MATCH_USCC, MATCH_NEW])]
    bold = Font(bold=True)
    for j, w in enumerate((22, 30, 26, 40, 10), start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.freeze_panes = "A2"
    header = []
    for text in ("统一社会信用代码", "企业名称", "地块编号", "匹配方式", "状态"):
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    return [_cells(_values(matches[col], "text", "zh"), get_column_letter(j + 1), "text", None)
            for j, col in enumerate(("uscc", "name", "parcel_ids", "match", "status"))]


def _notes_sheet(ws: Any, year: int) -> None:
    """The 说明 sheet: what the statuses and header colours mean."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 90
    title = WriteOnlyCell(ws, value=f"{year}年度低效企业台账")
    title.font = Font(bold=True)
    ws.append([title, ""])
    for k, v in _NOTES:
        ws.append([k, v])


def write_ledger_table(ledger: pd.DataFrame, gpkg: str | Path) -> None:
    """Add the ledger to ``results.gpkg`` as the attribute table ``ledger`` (no geometry; join on ``uscc``).

    Staff columns hold whatever staff typed (text, numbers, dates), so every object column is written as
    text; computed numbers and dates keep their types.
    """
    import pyogrio

    table = ledger.copy()
    for col in table.columns:
        if table[col].dtype == object:
            table[col] = _as_text(table[col])
    # Through Arrow, as results.gpkg's layers are (io.output): the same table and rows, without a Python
    # object per cell on the way to GDAL.
    pyogrio.write_dataframe(table, Path(gpkg), layer="ledger", use_arrow=True)


def _as_text(values: pd.Series) -> pd.Series:
    """An object column as pandas text (NA where missing): text as it is, anything else through ``str``.

    The ledger's computed columns hold text only and go through Arrow in C; ``str`` (and :func:`_cell`)
    runs for the other values staff typed (numbers, dates) only.
    """
    obj = values.to_numpy(object)
    try:
        return pd.Series(pd.array(pa.array(obj, type=pa.string(), from_pandas=True).to_numpy(zero_copy_only=False),
                                  dtype="string"), index=values.index)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    kind = _kinds(obj)
    out = obj.copy()
    floats = kind == _FLOAT
    out[floats] = _float_reprs(obj[floats].astype(float)).to_numpy(zero_copy_only=False)
    other = kind == _OTHER
    first, inverse = _distinct(obj[other])
    texts = np.empty(len(first), dtype=object)
    texts[:] = [None if _cell(v) is None else str(_cell(v)) for v in obj[other][first]]
    out[other] = texts[inverse]
    return pd.Series(out, index=values.index).astype("string")


#: Types whose equal values are written alike (floats compared by their bits: -0.0 is not 0.0).
_SAME_WHEN_EQUAL = (bool, np.bool_, int, np.int64, dt.datetime, dt.date)


def _distinct(obj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One position per distinct value of an object array and each value's index into them.

    Staff type the same few dates and numbers on many rows, so a Python step per distinct value instead
    of per row. Values are alike when of the same type and equal, for the types in ``_SAME_WHEN_EQUAL``
    and floats; any other value counts as distinct.
    """
    codes = np.arange(len(obj), dtype=np.int64)
    if not len(obj):
        return codes, codes
    kinds, types = pd.factorize(np.frompyfunc(type, 1, 1)(obj))
    start = len(obj)  # codes of grouped values follow the positions (unique either way)
    for k, t in enumerate(types):
        at = np.flatnonzero(kinds == k)
        if t in (float, np.float64):
            c, u = pd.factorize(obj[at].astype(float).view(np.int64))
        elif t in _SAME_WHEN_EQUAL:
            c, u = pd.factorize(obj[at])
        else:
            continue
        codes[at] = start + c
        start += len(u)
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


_MISSING, _TEXT, _FLOAT, _OTHER = range(4)


def _kinds(obj: np.ndarray) -> np.ndarray:
    """What each value of an object array is: missing (None, NA, NaN, NaT), text, a float (finite or not)
    or anything else. The type tests run in C (``isinstance`` through a ufunc), no Python step per value."""
    if not len(obj):
        return np.zeros(0, dtype=np.int8)
    kind = np.full(len(obj), _OTHER, dtype=np.int8)
    kind[np.frompyfunc(isinstance, 2, 1)(obj, float).astype(bool)] = _FLOAT
    kind[np.frompyfunc(isinstance, 2, 1)(obj, str).astype(bool)] = _TEXT
    kind[pd.isna(obj)] = _MISSING
    return kind


def _float_reprs(values: np.ndarray) -> pa.Array:
    """Floats as Python's ``repr`` writes them (``12.5``, ``3.0``, ``1e+16``), null where not finite.

    Arrow's cast gives the same shortest digits; it differs from ``repr`` only in the ``.0`` of whole
    numbers (added here) and in where it switches to an exponent: outside ``1e-4 <= |x| < 1e16`` or when
    Arrow wrote one, ``repr`` itself runs (a few figures of a ledger, if any).
    """
    arr = pc.cast(pa.array(values), pa.string())
    size = np.abs(values)
    finite = np.isfinite(values)
    plain = finite & ((values == 0) | ((size >= 1e-4) & (size < 1e16)))
    plain &= ~pc.match_substring(arr, "e").to_numpy(zero_copy_only=False)
    text = pc.if_else(pc.match_substring(arr, "."), arr, pc.binary_join_element_wise(arr, ".0", ""))
    rest = np.flatnonzero(finite & ~plain)
    out = text.to_numpy(zero_copy_only=False).astype(object)
    out[rest] = [repr(float(v)) for v in values[rest]]
    out[~finite] = None
    return pa.array(out, type=pa.string())


#: Every character Python's ``str.isspace`` accepts, as an RE2 class: a text cell starting or ending with one
#: gets ``xml:space="preserve"``, as openpyxl and :func:`gisefficiency.io.workbook._mixed_cells` decide it.
_SPACE = f"[{WHITESPACE_RE2}]"


def _object_cells(values: pd.Series, letter: str, *, style: int | None, date_style: int | None) -> Any:
    """The cells of an object column, as :func:`gisefficiency.io.workbook._mixed_cells` writes them.

    Text (every value of the computed columns, most of the staff's) is escaped and wrapped by Arrow
    kernels in C; the other values staff typed (numbers, dates, flags) go through ``_mixed_cells``.
    """
    from gisefficiency.io.workbook import _ILLEGAL, _mixed_cells

    obj = values.to_numpy(object)
    try:
        text = pa.array(obj, type=pa.string(), from_pandas=True)
        kind = np.where(np.asarray(text.is_null()), _MISSING, _TEXT)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        kind = _kinds(obj)
        text = pa.array(np.where(kind == _TEXT, obj, None), type=pa.string())
    s = f' s="{style}"' if style else ""
    t = pc.replace_substring_regex(text, _ILLEGAL, "")
    for ch, ent in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        t = pc.replace_substring(t, ch, ent)
    spaced = pc.match_substring_regex(t, f"^{_SPACE}|{_SPACE}$")
    opening = pc.if_else(spaced, pa.scalar(f'{s} t="inlineStr"><is><t xml:space="preserve">'),
                         pa.scalar(f'{s} t="inlineStr"><is><t>'))
    body = pc.binary_join_element_wise(opening, t, "</t></is></c>", "")
    floats = np.flatnonzero(kind == _FLOAT)
    other = np.flatnonzero(kind == _OTHER)
    if not len(floats) and not len(other):
        return body, '"', letter
    # Figures carried in object columns (a firm that is gone keeps last year's 用地面积): repr, as a number.
    figures = pc.binary_join_element_wise(f"{s}><v>", _float_reprs(obj[floats].astype(float)), "</v></c>", "")
    # Whole numbers, dates and flags staff typed: each its own cell type, one Python step per distinct value.
    first, inverse = _distinct(obj[other])
    typed, _, _ = _mixed_cells(pd.Series(obj[other][first], dtype=object), letter, style=style,
                               date_style=date_style)
    take = np.arange(len(obj))
    take[floats] = len(obj) + np.arange(len(floats))
    take[other] = len(obj) + len(floats) + np.arange(len(other))
    body = pa.concat_arrays([body, figures.cast(pa.string()), typed.take(pa.array(inverse)).cast(pa.string())])
    return body.take(pa.array(take)), '"', letter


def _cell(v: object) -> object:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_ledger(path: str | Path) -> pd.DataFrame:
    """Read a ledger workbook as staff returned it (rows re-sorted, columns filled, a title row added).

    Parameters
    ----------
    path
        The ``.xlsx`` file (``[ledger] previous``).

    Returns
    -------
    DataFrame
        Internal column names (``gisefficiency.ledger.columns``); staff columns and columns staff added keep
        their headers and values as written; USCCs and parcel ids as text.

    Raises
    ------
    InputError
        Missing file, no ``统一社会信用代码`` header, an unknown status, or a USCC on two rows; the message
        names the file, the sheet and the row.
    """
    from openpyxl import load_workbook

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: ledger file not found -> check [ledger] previous (a path relative to the "
                         "config), or remove it for the first year", [],
                         zh=(f"{path}：找不到台账文件 → 请检查 [ledger] previous（相对于配置文件的路径），"
                             "第一年可删去"))
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a file that is not a workbook
        raise InputError(f"{path}: not an .xlsx workbook ({exc}) -> save the ledger as .xlsx", [],
                         zh=f"{path}：不是 .xlsx 工作簿（{exc}）→ 请把台账另存为 .xlsx") from None
    ws = wb[LEDGER_SHEET] if LEDGER_SHEET in wb.sheetnames else wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    wb.close()
    key = HEADERS["uscc"]
    # Staff sometimes put a title row above the header: take the first row that has the USCC header.
    head = next((i for i, r in enumerate(rows[:20]) if any(str(v).strip() == key for v in r if v is not None)), None)
    if head is None:
        raise InputError(f"{path}: sheet {ws.title!r} has no column {key!r} -> keep the header row the toolkit "
                         "wrote (统一社会信用代码, 企业名称, 地块编号, 状态, ...)", [],
                         zh=(f"{path}：工作表 {ws.title!r} 没有列 {key!r} → 请保留工具写出的表头行"
                             "（统一社会信用代码、企业名称、地块编号、状态……）"))
    headers = [str(v).strip() if v is not None else "" for v in rows[head]]
    keep = [j for j, h in enumerate(headers) if h]
    names = from_headers([headers[j] for j in keep])
    body = [[r[j] if j < len(r) else None for j in keep] for r in rows[head + 1:]]
    frame = pd.DataFrame(body, columns=names, dtype=object)
    frame.index = pd.RangeIndex(head + 2, head + 2 + len(frame))  # 1-based Excel rows, for messages
    frame = frame[frame.notna().any(axis=1)]
    for col in ("uscc", "parcel_ids", "name"):
        if col in frame.columns:
            frame[col] = frame[col].map(_text).astype(object)
    for col in frame.columns:
        if col in ("first_year", "closed_year"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
        elif str(col).startswith("tax_per_mu_") or col in ("land_mu", "energy_tce"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    problems = []
    if "status" in frame.columns:
        bad = frame["status"].notna() & ~frame["status"].isin(STATUSES)
        problems += [Problem(f"unknown status {v!r}", fix=f"use one of {', '.join(STATUSES)}", file=str(path),
                             row=int(i), column=HEADERS["status"], value=v,
                             message_zh=f"未知的状态 {v!r}",
                             fix_zh=f"请使用 {'、'.join(STATUSES)} 之一") for i, v in frame["status"][bad].items()]
    blank = frame["uscc"].isna()
    problems += [Problem("row without a USCC", fix="fill in 统一社会信用代码 (or delete the row)", file=str(path),
                         row=int(i), column=key,
                         message_zh="该行没有统一社会信用代码",
                         fix_zh="请填写统一社会信用代码（或删除该行）") for i in frame.index[blank]]
    dup = frame["uscc"].notna() & frame["uscc"].duplicated(keep=False)
    problems += [Problem("USCC on more than one row", fix="keep one row per firm", file=str(path), row=int(i),
                         column=key, value=v,
                         message_zh="同一统一社会信用代码出现在多行",
                         fix_zh="每家企业只保留一行") for i, v in frame["uscc"][dup].items()]
    if problems:
        raise InputError(f"{path}: {len(problems)} problem(s) in the ledger, first: {problems[0]}", problems,
                         zh=f"{path}：台账中有 {len(problems)} 个问题，第一个：{problems[0].text('zh')}")
    return frame.reset_index(drop=True)


def _text(v: object) -> object:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, float) and v.is_integer():  # a USCC of digits Excel stored as a number
        v = int(v)
    s = str(v).strip()
    return s or None

"""清单.xlsx: the lists a bureau hands on, as an Excel workbook.

Sheets: a summary by disposal category, one sheet of flagged firms per category of the policy (in the
policy's order), the parcel list and the block list. Headers come from ``core.i18n.LABELS`` (Chinese with
units, English with ``lang="en"``); ids and USCCs are text cells with the text format ``@`` (a spreadsheet
never turns 913308272508170051 into 9.13308E+17); figures in 万元, 亩, tce are numbers shown with two
decimals; missing values are empty cells, never 0; the header row is frozen, filtered and sized to its
contents (a CJK character counts as two).

How it is written. openpyxl builds the workbook (styles, sheets, header rows, frozen panes, filters,
column widths) in write-only mode; the data rows are serialised column by column with Arrow string
kernels and streamed into each sheet's XML when the package is zipped. Writing them through openpyxl's
per-cell path costs about 8-50 µs a cell here (no lxml; 2M cells for 100k parcels took 109 s on this
shared machine), while the Arrow path builds the same ``<c>`` elements in C.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from copy import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.i18n import GRADE_LABELS, SCALE_LABELS, Lang, label
from gisefficiency.maps.layers import disposal_labels, policy_categories
from gisefficiency.maps.text import text
from gisefficiency.result import Result

__all__ = ["WORKBOOK_NAME", "Column", "write_workbook"]

#: File name of the workbook (the same in both languages, so scripts and instructions find it).
WORKBOOK_NAME: str = "清单.xlsx"

Kind = Literal["id", "text", "num", "int", "share", "date", "flag"]

#: Excel number format of each column kind (None = General).
_FORMATS: dict[str, str | None] = {
    "id": "@", "text": None, "num": "#,##0.00", "int": "0", "share": "0.0%", "date": "yyyy-mm-dd",
    "flag": None,
}

#: Rows serialised and streamed at a time (bounds the memory of the XML text at 1M parcels).
_CHUNK_ROWS = 50_000

#: Widest column (characters): reasons run to 200 characters; the filter and a wider cell show the rest.
_MAX_WIDTH = 60

#: Excel's day 0 for the 1900 date system (serial 60 is the fictitious 1900-02-29, so 1899-12-30).
_EXCEL_EPOCH = np.datetime64("1899-12-30", "D")


@dataclass(frozen=True)
class Column:
    """One column of a sheet: the sheet frame's column ``key`` under the header ``label(key)``."""

    key: str
    kind: Kind


#: The flagged-firm sheets: who, where, what land, the per-mu figures, the verdict and its reason.
FIRM_COLUMNS: tuple[Column, ...] = (
    Column("uscc", "id"), Column("name", "text"), Column("street", "text"), Column("industry", "id"),
    Column("scale", "text"), Column("n_parcels", "int"), Column("parcel_ids", "id"), Column("land_mu", "num"),
    Column("tax", "num"), Column("value_added", "num"), Column("energy_tce", "num"), Column("tax_per_mu", "num"),
    Column("va_per_mu", "num"), Column("score", "num"), Column("grade", "text"), Column("disposal", "text"),
    Column("reason", "text"),
)

PARCEL_COLUMNS: tuple[Column, ...] = (
    Column("parcel_id", "id"), Column("street", "text"), Column("land_use", "text"),
    Column("supply_date", "date"), Column("holder_uscc", "id"), Column("firm_names", "text"),
    Column("main_uscc", "id"), Column("n_firms", "int"), Column("area_mu", "num"), Column("cert_area_mu", "num"),
    Column("land_mu", "num"), Column("idle", "flag"), Column("tax", "num"), Column("tax_per_mu", "num"),
    Column("va_per_mu", "num"), Column("grade", "text"), Column("disposal", "text"),
    Column("low_efficiency", "flag"), Column("low_eff_reason", "text"), Column("block_id", "id"),
    Column("block_role", "text"), Column("plot_ratio", "num"), Column("in_scenario", "flag"),
)

BLOCK_COLUMNS: tuple[Column, ...] = (
    Column("block_id", "id"), Column("rank", "int"), Column("streets", "text"), Column("area_mu", "num"),
    Column("n_parcels", "int"), Column("n_kept", "int"), Column("kept_mu", "num"), Column("n_firms", "int"),
    Column("low_share", "share"), Column("tax", "num"), Column("energy_tce", "num"), Column("tax_per_mu", "num"),
    Column("compactness", "num"), Column("freed_mu", "num"), Column("freed_tce", "num"),
    Column("tax_lost", "num"), Column("tax_at_target", "num"), Column("priority", "num"),
    Column("firm_ids", "id"),
)

SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("disposal", "text"), Column("n_firms", "int"), Column("n_parcels", "int"), Column("land_mu", "num"),
    Column("tax", "num"), Column("tax_per_mu", "num"),
)


def write_workbook(result: Result, path: str | Path, *, lang: Lang = "zh") -> Path:
    """Write the flagged-firm, parcel and block lists of ``result`` as one Excel workbook.

    Parameters
    ----------
    result
        A run's result.
    path
        The ``.xlsx`` file (written under a temporary name and renamed, so it is never half written).
    lang
        ``"zh"``: Chinese headers, sheet names and labels; ``"en"``: English.

    Returns
    -------
    pathlib.Path
    """
    from openpyxl import Workbook

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheets = _sheets(result, lang)
    wb = Workbook(write_only=True)
    bodies: dict[str, list[_CellColumn]] = {}
    # The disposal sheets are rows of one frame of listed firms: a column's text and cells are made once
    # for all of them and each sheet takes its rows (cells are made value by value, so taking commutes).
    shared: dict[tuple[Any, ...], pa.Array] = {}
    for i, (name, frame, columns, rows) in enumerate(sheets, start=1):
        ws = wb.create_sheet(name)
        cols = [c for c in columns if c.key in frame.columns]  # optional columns may be missing
        taken = None if rows is None else pa.array(rows, type=pa.int64())
        values, whole = [], []
        for c in cols:
            if taken is not None and _row_wise(frame[c.key], c.kind):
                if (id(frame), c.key) not in shared:
                    shared[id(frame), c.key] = _values(frame[c.key], c.kind, lang)
                whole.append(shared[id(frame), c.key])
                values.append(whole[-1].take(taken))
            else:
                whole.append(None)
                values.append(_values(frame[c.key] if rows is None else frame[c.key].iloc[rows], c.kind, lang))
        _header(ws, cols, values, len(frame) if rows is None else len(rows), lang)
        cells = []
        for j, (c, v, w) in enumerate(zip(cols, values, whole, strict=True)):
            style = _style_id(ws, c.kind)  # after the header's styles, which take the first ids
            if w is None:
                cells.append(_cells(v, _letter(j), c.kind, style))
                continue
            if (id(frame), c.key, style) not in shared:
                shared[id(frame), c.key, style] = _cells(w, _letter(j), c.kind, style)[0]
            cells.append((shared[id(frame), c.key, style].take(taken), _open_tail(c.kind, style), _letter(j)))
        bodies[f"xl/worksheets/sheet{i}.xml"] = cells
    return save_streamed(wb, path, bodies)


def _row_wise(values: pd.Series, kind: Kind) -> bool:
    """Whether a column's cell text depends on its own value only: true but for float ids and text,
    which read as integers only when every value of the sheet is whole (see :func:`_values`)."""
    return kind not in ("id", "text") or not pd.api.types.is_float_dtype(values.dtype)


# --- what goes in the sheets -------------------------------------------------------------------------------


#: A sheet: its name, the frame with one column per ``Column.key``, its columns, and the frame's rows it
#: lists (positions; None: all of them).
_Sheet = tuple[str, pd.DataFrame, tuple[Column, ...], np.ndarray | None]


def _sheets(result: Result, lang: Lang) -> list[_Sheet]:
    """Every sheet, in order."""
    cats = policy_categories(result.policy)
    disposal = (result.firms["disposal"].astype("object").to_numpy() if "disposal" in result.firms.columns
                else np.full(len(result.firms), None, dtype=object))
    # Only the firms of a category are listed: their frame is built once for all the disposal sheets.
    listed = np.flatnonzero(pd.Series(disposal).isin([c[0] for c in cats]).to_numpy())
    firms = _firm_frame(result, result.firms.iloc[listed], cats, lang)
    parcels = _parcel_frame(result, cats, lang)
    blocks = pd.DataFrame(result.blocks.drop(columns=result.blocks.geometry.name)).reset_index()
    pick = 0 if lang == "zh" else 1
    out: list[_Sheet] = [(_SHEET_NAMES["summary"][pick], _summary(result, cats, lang), SUMMARY_COLUMNS, None)]
    used = {out[0][0]}
    for cid, zh, en, _colour in cats:
        rows = np.flatnonzero(disposal[listed] == cid)
        out.append((_sheet_name(zh if lang == "zh" else en, used), firms, FIRM_COLUMNS, rows))
    out.append((_sheet_name(_SHEET_NAMES["parcels"][pick], used), parcels, PARCEL_COLUMNS, None))
    out.append((_sheet_name(_SHEET_NAMES["blocks"][pick], used), blocks, BLOCK_COLUMNS, None))
    return out


#: Sheet names and the summary's total line, (Chinese, English).
_SHEET_NAMES: dict[str, tuple[str, str]] = {
    "summary": ("汇总", "Summary"), "total": ("合计", "Total"), "parcels": ("地块清单", "Parcels"),
    "blocks": ("连片区块清单", "Blocks"),
}


def _sheet_name(name: str, used: set[str]) -> str:
    """An Excel-legal, unique sheet name: no ``[]:*?/\\``, at most 31 characters.

    A cut name loses a dangling opening bracket or space ("Foundry and chemical industry (").
    """
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name).strip("'") or "Sheet"
    out, n = _cut(clean, 31), 1
    while out.lower() in {u.lower() for u in used}:
        n += 1
        out = f"{_cut(clean, 31 - len(str(n)) - 1)}~{n}"
    used.add(out)
    return out


def _cut(name: str, size: int) -> str:
    return name if len(name) <= size else name[:size].rstrip(" (（-–、,，")


def _labels(values: pd.Series, table: dict[str, tuple[str, str]], lang: Lang) -> pd.Series:
    """Codes ("above", "A") as their labels; unknown values stay as they are."""
    pick = 0 if lang == "zh" else 1
    names = {k: v[pick] for k, v in table.items()}
    arr = _arrow_strings(values)
    if arr is not None:  # Arrow-backed text: looked up by Arrow, without a Python object per value
        found = pc.index_in(arr, value_set=pa.array(list(names), pa.string()))
        mapped = pc.take(pa.array(list(names.values()), pa.string()), found)
        return pd.Series(pd.arrays.ArrowExtensionArray(pc.coalesce(mapped, arr)), index=values.index)
    obj = values.astype("object")
    return obj.map(names).where(obj.isin(list(names)), obj)


def _arrow_strings(values: pd.Series) -> pa.ChunkedArray | None:
    """The column as Arrow text if it is Arrow-backed text already (pandas' ``str`` dtype), else None."""
    if isinstance(values.dtype, np.dtype) or not len(values):
        return None
    try:
        arr = pa.chunked_array(pa.array(values.array, from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    return arr.cast(pa.string()) if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def _firm_frame(result: Result, firms: pd.DataFrame, cats: list[tuple[str, str, str, str]],
                lang: Lang) -> pd.DataFrame:
    """One row per firm of ``firms`` (rows of ``result.firms``) with the flagged-firm sheet's columns (the
    disposal sheets take their rows)."""
    out = pd.DataFrame(index=pd.RangeIndex(len(firms)))
    out["uscc"] = firms.index.astype("object").to_numpy()
    for key in ("name", "street", "industry", "n_parcels", "land_mu", "tax", "value_added", "energy_tce",
                "tax_per_mu", "va_per_mu", "score"):
        if key in firms.columns:
            out[key] = firms[key].array
    if "scale" in firms.columns:
        out["scale"] = _labels(firms["scale"], SCALE_LABELS, lang).array
    if "grade" in firms.columns:
        out["grade"] = _labels(firms["grade"], GRADE_LABELS, lang).array
    disp = disposal_labels(firms, cats, lang)
    if disp is not None:
        out["disposal"] = disp.to_numpy()
    # the reasons of the firms the disposal sheets list, written for them only
    listed = np.flatnonzero(firms["disposal"].astype("object").fillna("").to_numpy() != "") \
        if "disposal" in firms.columns else np.zeros(0, dtype=np.int64)
    reason = result.with_reasons(firms.iloc[listed], lang=lang).get(f"reason_{lang}")
    if reason is not None:
        values = np.full(len(firms), pd.NA, dtype=object)
        values[listed] = reason.to_numpy()
        out["reason"] = values
    ids = _parcel_ids_of_firms(result.parcels, firms.index)
    if ids is not None:
        out["parcel_ids"] = ids
    return out


def _parcel_ids_of_firms(parcels: pd.DataFrame, usccs: pd.Index) -> np.ndarray | None:
    """Each firm's parcel ids joined by "、", from the parcels' ``firm_usccs`` (None without it).

    The (firm, parcel) pairs are grouped by integer codes and joined by Arrow's ``binary_join`` over
    list offsets: a pandas group-by with ``"、".join`` costs a Python call per firm (7 s at 100k).
    """
    if "firm_usccs" not in parcels.columns:
        return None
    flat = parcels["firm_usccs"].explode()
    text = flat.astype(str).to_numpy()
    keep = flat.notna().to_numpy() & (text != "")
    firm = text[keep]
    pid = flat.index.astype(str).to_numpy()[keep]
    codes, uniques = pd.factorize(firm)
    order = np.argsort(codes, kind="stable")  # parcels of a firm stay in the layer's order
    offsets = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(uniques)))].astype(np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(pid[order], type=pa.large_string()))
    joined = pc.binary_join(lists, pa.scalar("、", pa.large_string()))
    pos = pd.Index(uniques).get_indexer(usccs.astype(str))
    taken = joined.take(pa.array(pos, mask=pos < 0))
    return taken.to_numpy(zero_copy_only=False)


def _parcel_frame(result: Result, cats: list[tuple[str, str, str, str]], lang: Lang) -> pd.DataFrame:
    """One row per parcel with the parcel sheet's columns."""
    parcels = result.parcels
    out = pd.DataFrame(index=pd.RangeIndex(len(parcels)))
    out["parcel_id"] = parcels.index.astype("object").to_numpy()
    for key in ("street", "land_use", "supply_date", "holder_uscc", "main_uscc", "n_firms", "area_mu",
                "cert_area_mu", "land_mu", "idle", "tax", "tax_per_mu", "va_per_mu", "low_efficiency",
                "block_id", "plot_ratio", "in_scenario"):
        if key in parcels.columns:
            out[key] = parcels[key].array
    if "firm_names" in parcels.columns:
        out["firm_names"] = _joined(parcels["firm_names"])
    if "grade" in parcels.columns:
        out["grade"] = _labels(parcels["grade"], GRADE_LABELS, lang).array
    disp = disposal_labels(parcels, cats, lang)
    if disp is not None:
        out["disposal"] = disp.to_numpy()
    reason = parcels.get("low_eff_reason_zh" if lang == "zh" else "low_eff_reason_en")
    if reason is not None:
        out["low_eff_reason"] = reason.to_numpy()
    if "block_role" in parcels.columns:
        roles = {"low": ("低效", "low efficiency"), "kept": ("留用", "kept")}
        out["block_role"] = _labels(parcels["block_role"], roles, lang).array
    return out


def _joined(values: pd.Series) -> np.ndarray:
    """List cells (firm names) as one text joined by "、"; text stays text."""
    obj = values.astype("object")
    # The layer's names are usually joined text already: pandas' C type scan says so without a Python
    # check per parcel (0.25 s at 100k); anything else (lists, mixed) is checked value by value.
    if pd.api.types.infer_dtype(obj, skipna=True) in ("string", "empty"):
        return obj.to_numpy()
    is_list = obj.map(lambda v: isinstance(v, list | tuple | np.ndarray))
    if not is_list.any():
        return obj.to_numpy()
    joined = obj[is_list].map(lambda v: "、".join(str(x) for x in v))
    return obj.where(~is_list, joined).to_numpy()


def _summary(result: Result, cats: list[tuple[str, str, str, str]], lang: Lang) -> pd.DataFrame:
    """Per disposal category: firms, parcels, land (亩), tax (万元) and tax per mu, plus the total."""
    # Without a disposal column (no evaluation), no firm or parcel is in a category.
    fd = (result.firms["disposal"].astype("object") if "disposal" in result.firms
          else pd.Series(None, index=result.firms.index, dtype=object))
    pdisp = (result.parcels["disposal"].astype("object") if "disposal" in result.parcels
             else pd.Series(None, index=result.parcels.index, dtype=object))
    land = pd.to_numeric(result.firms.get("land_mu", pd.Series(np.nan, index=result.firms.index)), errors="coerce")
    tax = pd.to_numeric(result.firms.get("tax", pd.Series(np.nan, index=result.firms.index)), errors="coerce")
    rows = []
    for cid, zh, en, _ in cats:
        rows.append(_summary_row(zh if lang == "zh" else en, fd == cid, pdisp == cid, land, tax))
    rows.append(_summary_row(_SHEET_NAMES["total"][0 if lang == "zh" else 1], fd.isin([c[0] for c in cats]), pdisp.isin([c[0] for c in cats]), land, tax))
    return pd.DataFrame(rows)


def _summary_row(name: str, firm_mask: pd.Series, parcel_mask: pd.Series, land: pd.Series,
                 tax: pd.Series) -> dict[str, Any]:
    """One summary line; tax per mu over the land of firms whose tax is known (missing is not 0)."""
    f = firm_mask.to_numpy(dtype=bool)
    known = f & tax.notna().to_numpy()
    land_known = float(land.to_numpy()[known].sum())
    tax_sum = float(tax.to_numpy()[known].sum()) if known.any() else np.nan
    return {
        "disposal": name, "n_firms": int(f.sum()), "n_parcels": int(parcel_mask.to_numpy(dtype=bool).sum()),
        "land_mu": float(np.nansum(land.to_numpy()[f])) if f.any() else np.nan, "tax": tax_sum,
        "tax_per_mu": tax_sum / land_known if known.any() and land_known > 0 else np.nan,
    }


# --- cells ---------------------------------------------------------------------------------------------------


def _letter(j: int) -> str:
    """Excel column letters of the 0-based column ``j`` (0 -> A, 26 -> AA)."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(j + 1)


def _values(values: pd.Series, kind: Kind, lang: Lang) -> pa.Array:
    """The column as Arrow text ready for a cell (null = empty cell): numbers in shortest round-trip form."""
    if kind in ("num", "share", "int"):
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        ok = np.isfinite(v)
        if kind == "int":
            arr = pa.array(np.where(ok, v, 0).astype(np.int64), mask=~ok)
        else:
            arr = pa.array(v, mask=~ok)
        return pc.cast(arr, pa.string())
    if kind == "date":
        d = pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[ns]")
        ok = ~np.isnat(d)
        days = (d.astype("datetime64[D]") - _EXCEL_EPOCH).astype(np.int64)
        return pc.cast(pa.array(np.where(ok, days, 0), mask=~ok), pa.string())
    if kind == "flag":
        obj = values.astype("object")
        known = obj.notna().to_numpy()
        truth = obj.where(known, False).astype(bool).to_numpy()
        words = np.where(truth, text("yes", lang), text("no", lang)).astype(object)
        return pa.array(words, type=pa.string(), mask=~known)
    if pd.api.types.is_float_dtype(values.dtype):
        v = values.to_numpy(dtype=float, na_value=np.nan)
        if np.all(np.isnan(v) | (v == np.round(v))):  # ids that went through float (1.0) read as 1
            values = values.astype("Int64")
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("string")
    arr = _arrow_text(values)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _arrow_text(values: pd.Series) -> pa.Array:
    """Text as an Arrow string array (null = missing): Arrow-backed columns as they are, object columns
    of text converted in C; anything else (lists, mixed objects) through ``str`` per value."""
    try:
        arr = pa.array(values.array if not isinstance(values.dtype, np.dtype) else values.to_numpy(),
                       from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        arr = None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return arr.cast(pa.string())
    obj = values.astype("object")
    return pa.array(obj.where(obj.notna(), None).map(str, na_action="ignore").to_numpy(), type=pa.string(),
                    from_pandas=True)


_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


#: One column's cells: (the element after its opening tag, or "" for an empty cell; the rest of the
#: opening tag after the row number; the column letter).
_CellColumn = tuple[pa.Array, str, str]


def _cells(values: pa.Array, letter: str, kind: Kind, style: int | None) -> _CellColumn:
    """The ``<c>`` element of every row of one column after its reference (null for an empty cell).

    The reference (letter + row number) goes in with :func:`_rows`. Text is XML-escaped and loses the
    control characters XML 1.0 forbids (openpyxl refuses them too); ``xml:space="preserve"`` only where a
    text starts or ends with white space (elsewhere it changes nothing and costs 20 bytes a cell).
    """
    if kind in ("num", "share", "int", "date"):
        return pc.binary_join_element_wise("<v>", values, "</v></c>", ""), _open_tail(kind, style), letter
    t = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    # Which rewrites the column needs, from one look at its bytes: most columns (ids, names, labels) hold
    # no control character, "&", "<" or ">", and a regex or replace pass over them is wasted.
    found = _byte_flags(t)
    if found & _FLAG_ILLEGAL:
        t = pc.replace_substring_regex(t, _ILLEGAL, "")
    for flag, ch, ent in ((_FLAG_AMP, "&", "&amp;"), (_FLAG_LT, "<", "&lt;"), (_FLAG_GT, ">", "&gt;")):
        if found & flag:
            t = pc.replace_substring(t, ch, ent)
    spaced = _edge_space(t)
    if spaced.any():
        opening = pc.if_else(pa.array(spaced), pa.scalar('<is><t xml:space="preserve">'), pa.scalar("<is><t>"))
    else:
        opening = pa.scalar("<is><t>")
    return pc.binary_join_element_wise(opening, t, "</t></is></c>", ""), _open_tail(kind, style), letter


def _open_tail(kind: Kind, style: int | None) -> str:
    """The rest of a column's ``<c>`` opening tag after its reference: the style, and inline text's type."""
    s = f' s="{style}"' if style else ""
    return f'"{s}>' if kind in ("num", "share", "int", "date") else f'"{s} t="inlineStr">'


#: Bit flags of :func:`_byte_flags`: a byte XML 1.0 forbids, "&", "<", ">".
_FLAG_ILLEGAL, _FLAG_AMP, _FLAG_LT, _FLAG_GT = 1, 2, 4, 8

#: Flag of each byte value (UTF-8 continuation and lead bytes are >= 0x80, so a multi-byte character
#: never looks like one of these ASCII bytes).
_BYTE_FLAGS = np.zeros(256, dtype=np.uint8)
_BYTE_FLAGS[[*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]] = _FLAG_ILLEGAL
_BYTE_FLAGS[[ord("&"), ord("<"), ord(">")]] = [_FLAG_AMP, _FLAG_LT, _FLAG_GT]

#: The bytes of RE2's ``\s`` (``[\t\n\f\r ]``), the class the cells' white-space test used.
_SPACE_BYTES = np.zeros(256, dtype=bool)
_SPACE_BYTES[[0x09, 0x0A, 0x0C, 0x0D, 0x20]] = True


def _text_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string array's offsets (its own slice of them) and its whole data buffer as bytes."""
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=width)[values.offset:values.offset + len(values) + 1]
    data = values.buffers()[2]
    return offsets, (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8))


def _byte_flags(values: pa.Array) -> int:
    """The ``_FLAG_*`` bits of the bytes in the text of ``values`` (null slots may add some: that only
    costs a rewrite that changes nothing)."""
    if len(values) == 0 or values.null_count == len(values):
        return 0
    offsets, data = _text_buffers(values)
    used = data[int(offsets[0]):int(offsets[-1])]
    return int(np.bitwise_or.reduce(_BYTE_FLAGS[used])) if len(used) else 0


def _edge_space(values: pa.Array) -> np.ndarray:
    """Per value: whether the text starts or ends with white space (False for null and empty)."""
    if len(values) == 0 or values.null_count == len(values):
        return np.zeros(len(values), dtype=bool)
    offsets, data = _text_buffers(values)
    start, stop = offsets[:-1], offsets[1:]
    full = stop > start
    if values.null_count:
        full &= values.is_valid().to_numpy(zero_copy_only=False)
    out = np.zeros(len(values), dtype=bool)
    out[full] = _SPACE_BYTES[data[start[full]]] | _SPACE_BYTES[data[stop[full] - 1]]
    return out


def _rows(cells: list[_CellColumn], start: int, stop: int) -> memoryview:
    """The UTF-8 ``<row>`` elements of data rows ``start:stop`` (sheet rows ``start + 2``...).

    Every step is an Arrow kernel over the column; the result is the joined array's own data buffer,
    so no Python string is made per row or cell.
    """
    n = stop - start
    rownum = pc.cast(pa.array(np.arange(start + 2, stop + 2, dtype=np.int64)), pa.string())
    parts: list[Any] = ['<row r="', rownum, '">']
    for body, open_tail, letter in cells:
        part = body.slice(start, n)
        if isinstance(part, pa.ChunkedArray):
            part = part.combine_chunks()
        if part.null_count == 0:
            parts += [f'<c r="{letter}', rownum, open_tail, part]
            continue
        # An empty cell (null body) is left out whole: each piece of the cell is null where the body is,
        # and the one join below skips nulls. The pieces share the row numbers' and a constant's buffers
        # with the body's validity, so the cell's bytes are copied once, into the row.
        valid = pc.is_valid(part)
        parts += [_masked_constant(f'<c r="{letter}', valid), _masked(rownum, valid),
                  _masked_constant(open_tail, valid), part]
    parts.append("</row>")
    line = pc.binary_join_element_wise(*parts, "", null_handling="skip")
    if isinstance(line, pa.ChunkedArray):
        line = line.combine_chunks()
    width = np.int64 if pa.types.is_large_string(line.type) else np.int32
    offsets = np.frombuffer(line.buffers()[1], dtype=width)[line.offset:line.offset + len(line) + 1]
    return memoryview(line.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def _masked(values: pa.Array, valid: pa.Array) -> pa.Array:
    """``values`` (a string array) made null where ``valid`` (a boolean array as long) is false."""
    if values.offset == 0 and valid.offset == 0 and valid.null_count == 0:
        return pa.Array.from_buffers(values.type, len(values), [valid.buffers()[1], *values.buffers()[1:]])
    return pc.if_else(valid, values, pa.scalar(None, values.type))


def _masked_constant(text: str, valid: pa.Array) -> pa.Array:
    """``text`` on every row where ``valid`` is true, null elsewhere."""
    data = text.encode("utf-8")
    offsets = np.arange(len(valid) + 1, dtype=np.int64) * len(data)
    kind = pa.large_string() if offsets[-1] >= 2**31 else pa.string()
    offsets = offsets.astype(np.int64 if kind == pa.large_string() else np.int32)
    same = pa.Array.from_buffers(kind, len(valid), [None, pa.py_buffer(offsets), pa.py_buffer(data * len(valid))])
    return _masked(same, valid)


def _style_id(ws: Any, kind: Kind) -> int | None:
    """openpyxl's cell style id of a column kind's number format (registered in the workbook's styles)."""
    return _format_style_id(ws, _FORMATS[kind])


def _format_style_id(ws: Any, fmt: str | None) -> int | None:
    """openpyxl's cell style id of an Excel number format (None: General, no style)."""
    from openpyxl.cell import WriteOnlyCell

    if fmt is None:
        return None
    cell = WriteOnlyCell(ws)
    cell.number_format = fmt
    return cell.style_id


def _mixed_cells(values: pd.Series, letter: str, *, style: int | None, date_style: int | None) -> _CellColumn:
    """The cells of a column whose values differ in type from row to row (what staff typed: text, numbers,
    dates), one Python step per present value.

    Each cell carries its own type attribute (the column's opening tail only closes the reference):
    text is an inline string, a number a ``<v>``, a date-time its Excel serial with ``date_style``, a flag
    ``t="b"``. Missing values (None, NaN, NaT, infinities) are empty cells.
    """
    s = f' s="{style}"' if style else ""
    d = f' s="{date_style}"' if date_style else s
    out: list[str | None] = []
    for v in values.astype(object).to_numpy():
        if v is None or v is pd.NA or v is pd.NaT:
            out.append(None)
        elif isinstance(v, bool | np.bool_):
            out.append(f'{s} t="b"><v>{int(v)}</v></c>')
        elif isinstance(v, int | np.integer):
            out.append(f"{s}><v>{int(v)}</v></c>")
        elif isinstance(v, float | np.floating):
            out.append(f"{s}><v>{float(v)!r}</v></c>" if np.isfinite(v) else None)
        elif isinstance(v, dt.datetime | dt.date | np.datetime64):
            serial = (pd.Timestamp(v) - pd.Timestamp(_EXCEL_EPOCH)) / pd.Timedelta(days=1)
            out.append(f"{d}><v>{serial!r}</v></c>")
        else:
            text = _xml_text(str(v))
            space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
            out.append(f'{s} t="inlineStr"><is><t{space}>{text}</t></is></c>')
    return pa.array(out, type=pa.string()), '"', letter


def _xml_text(text: str) -> str:
    """Text escaped for an XML element, without the control characters XML 1.0 forbids."""
    text = re.sub(_ILLEGAL, "", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(ws: Any, cols: list[Column], values: list[pa.Array], n: int, lang: Lang) -> None:
    """Header row (bold, wrapped), frozen below it, an auto-filter over the data, widths that fit."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    heads = [label(c.key, lang) for c in cols]
    for j, (head, v, c) in enumerate(zip(heads, values, cols, strict=True)):
        ws.column_dimensions[_letter(j)].width = _width(head, v, c.kind)
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{_letter(len(cols) - 1)}{n + 1}"
    row = [WriteOnlyCell(ws, value=head) for head in heads]
    if row:
        first = row[0]
        first.font, first.fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
        first.alignment = Alignment(vertical="center")
        # The other header cells take the first one's style ids: setting the three styles on each looks
        # every one up in the workbook's style lists again (0.1 s for the workbook's 116 header cells).
        for cell in row[1:]:
            cell._style = copy(first._style)
    ws.append(row)


def _display_width(values: pa.Array) -> pa.Array:
    """Display width of text: a CJK (3-byte UTF-8) character counts two, ASCII one: (bytes + chars) / 2."""
    return pc.divide(pc.add(pc.binary_length(values), pc.utf8_length(values)), 2)


def _width(head: str, values: pa.Array, kind: Kind) -> float:
    """Column width (Excel characters) that fits the header and the longest value, within 6-60."""
    head_w = (len(head.encode("utf-8")) + len(head)) / 2 + 2  # + the filter button
    if kind in ("num", "share"):
        # Shown with two decimals and thousands separators: integer digits + commas + ".00".
        v = pc.max(pc.abs(pc.cast(values, pa.float64()))).as_py() if values.null_count < len(values) else 0.0
        digits = len(f"{v:,.0f}") + 3 + (1 if kind == "share" else 0) + 1
        value_w = digits
    elif kind == "date":
        value_w = 10
    else:
        value_w = pc.max(_display_width(values)).as_py() if values.null_count < len(values) else 0
    return float(min(_MAX_WIDTH, max(6, head_w, (value_w or 0) + 1)))


# --- the package ------------------------------------------------------------------------------------------


def save_streamed(wb: Any, path: Path, bodies: dict[str, list[_CellColumn]]) -> Path:
    """Save ``wb`` (openpyxl, write-only: the sheets' headers, styles and settings) to ``path`` with each
    sheet's data rows streamed in from ``bodies`` (part name -> cell columns); ``path`` appears whole or not
    at all (a reader never sees half a workbook)."""
    skeleton = io.BytesIO()
    wb.save(skeleton)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    try:
        _zip_with_rows(skeleton, tmp, bodies)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def _zip_with_rows(skeleton: io.BytesIO, path: Path, bodies: dict[str, list[_CellColumn]]) -> None:
    """Copy openpyxl's package to ``path``, streaming each sheet's data rows in before ``</sheetData>``.

    DEFLATE level 1 on purpose: the 100k-parcel sheet's 108 MB of XML compress to 20.1 MB in 0.45 s CPU;
    level 6 (zlib's default) gives 16.0 MB in 1.6 s, and storing it uncompressed 108 MB in 0.13 s.
    """
    skeleton.seek(0)
    with zipfile.ZipFile(skeleton) as src, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            cells = bodies.get(info.filename)
            if cells is None:
                dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                continue
            xml = data.decode("utf-8")
            cut = xml.index("</sheetData>")
            n = len(cells[0][0]) if cells else 0
            with dst.open(info.filename, "w", force_zip64=True) as out:
                out.write(xml[:cut].encode("utf-8"))
                for start in range(0, n, _CHUNK_ROWS):
                    out.write(_rows(cells, start, min(n, start + _CHUNK_ROWS)))
                out.write(xml[cut:].encode("utf-8"))

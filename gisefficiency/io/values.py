"""Parse cell values as bureaus write them, column at a time.

Every parser takes a Series of raw cells (numbers, text, datetimes, None) and returns the parsed
Series (same index) and a boolean mask of cells that are present but cannot be understood, so the
caller can report each one with its row. Missing cells ("", "—", "无数据", ...) become NaN/NA,
never 0. ``number_column`` and ``date_column`` also return the cells read in a way the caller should
warn about: spreadsheet errors and infinities taken as missing, dates whose reading is a guess.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.schema import (
    FALSE_VALUES,
    LAND_USE_CODES,
    LAND_USE_WORDS,
    MISSING_VALUES,
    SPREADSHEET_ERRORS,
    TRUE_VALUES,
)
from gisefficiency.core.uscc import is_valid_uscc, valid_bytes

#: Texts that mean "no value" in a numeric column: schema.MISSING_VALUES plus 无 ("none").
NUMERIC_MISSING: frozenset[str] = MISSING_VALUES | {"无", "none", "n/a", "na"}

#: Excel's day zero for serial dates (1900 system, counting the 1900-02-29 that never was).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

# Serial numbers that are plausible dates: 1900-01-01 .. 2173-10-14.
_SERIAL_MIN, _SERIAL_MAX = 1, 100_000
# Nanoseconds per tick of NumPy datetime units.
_NS_PER = {"D": 86_400 * 10**9, "h": 3_600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_MISSING_TEXTS = pa.array(sorted(MISSING_VALUES), type=pa.large_string())
# Texts NFKC leaves as they are: ASCII and CJK unified ideographs only (RE2 syntax, for Arrow).
_NFKC_STABLE = r"^[\x{0}-\x{7f}\x{4e00}-\x{9fff}]*$"
# What text parsers return: pandas ``string`` on Arrow (NA for missing).
_STRING = pd.StringDtype("pyarrow", na_value=pd.NA)


def _unique(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Distinct non-missing cells and each cell's code into them (-1 = missing).

    Parsers work on the distinct values only: bureau columns repeat the same texts (years, 是/否,
    规上/规下, USCCs over several years), so text handling costs per distinct value, not per row.
    Text columns keep their Arrow strings (hashing those is fast); other cells come back as objects.
    """
    s = pd.Series(values, copy=False)
    if is_coded_text(s.dtype):  # already coded (Parquet dictionary): nothing to hash
        return (pd.Series(s.cat.categories.array, copy=False).astype("string[pyarrow]"),
                s.cat.codes.to_numpy().astype(np.intp))
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if _is_arrow_text(s.dtype):
        return pd.Series(uniques, copy=False).astype("string[pyarrow]"), codes
    return pd.Series(np.asarray(uniques, dtype=object), dtype=object), codes


def _is_arrow_text(dtype: object) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def is_coded_text(dtype: object) -> bool:
    """Whether cells of this dtype are text kept as codes into distinct values (categories of Arrow strings)."""
    return isinstance(dtype, pd.CategoricalDtype) and _is_arrow_text(dtype.categories.dtype)


def _spread(parsed: pd.Series, bad: pd.Series, codes: np.ndarray, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """Parsed distinct values back onto every cell (missing cells: NA, not bad)."""
    values = parsed.array.take(codes, allow_fill=True)  # an all-missing column takes nothing: all NA
    flags = np.where(codes >= 0, bad.to_numpy(bool)[np.maximum(codes, 0)] if len(bad) else False, False)
    return pd.Series(values, index=index), pd.Series(flags, index=index, dtype=bool)


def _fold(uniques: pd.Series) -> pd.Series:
    """Distinct cells as NFKC-folded, stripped strings; integral numbers without ``.0``."""
    if _is_arrow_text(uniques.dtype):
        text = uniques.astype("string[pyarrow]")
    else:
        values = uniques.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) != "string":
            # Mixed cells (Excel): numbers that are whole print without ".0" (ids and codes stored as floats).
            number = np.fromiter(
                (isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in values),
                dtype=bool, count=len(values),
            )
            numeric = pd.to_numeric(pd.Series(np.where(number, values, np.nan)), errors="coerce").to_numpy(float)
            whole = number & np.isfinite(numeric) & (numeric == np.floor(numeric)) & (np.abs(numeric) < 2**53)
            values = values.astype(str).astype(object)
            values[whole] = numeric[whole].astype(np.int64).astype(str)
        text = pd.Series(pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string())), index=uniques.index)
    cells = _nfkc(_one_chunk(pa.array(text.array)))
    return pd.Series(pd.array(pc.utf8_trim_whitespace(cells), dtype="string[pyarrow]"), index=uniques.index)


def _nfkc(cells: pa.Array) -> pa.Array:
    """NFKC as Python's ``unicodedata`` does it, which runs per string: Arrow finds the few that change.

    Texts of ASCII and CJK unified ideographs only (nearly every id, code and firm name) have
    nothing to normalise. Normalisation of an assigned character never changes between Unicode
    versions, so of the rest, a text that Arrow (utf8proc, newer Unicode) leaves alone is left alone
    by Python too; those Arrow changes get Python's result.
    """
    maybe = pc.invert(pc.match_substring_regex(cells, _NFKC_STABLE)).to_numpy(zero_copy_only=False)
    if not maybe.any():
        return cells
    rows = np.flatnonzero(maybe)
    some = cells.take(pa.array(rows))
    changed = pc.not_equal(pc.utf8_normalize(some, "NFKC"), some).to_numpy(zero_copy_only=False)
    if not changed.any():
        return cells
    rows = rows[changed]
    folded = [unicodedata.normalize("NFKC", text) for text in cells.take(pa.array(rows)).to_pylist()]
    mask = np.zeros(len(cells), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(cells, pa.array(mask), pa.array(folded, type=cells.type))


def as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped, NFKC-folded pandas strings; NA for missing.

    Integral numbers lose their ``.0`` (Excel stores ids and codes as floats).
    """
    s = pd.Series(values, copy=False)
    if _is_arrow_text(s.dtype) and _plain_ascii(pa.array(s.array)):
        return _as_string(s)
    uniques, codes = _unique(s)
    text = _fold(uniques)
    text = text.mask(text.isin(MISSING_VALUES))
    return _spread_text(s, uniques, text, codes)


def _plain_ascii(cells: pa.Array | pa.ChunkedArray) -> bool:
    """Whether ``as_text`` would leave every cell as it is: ASCII (NFKC changes nothing), no white space
    to strip (the Arrow trim ``_fold`` uses) and no missing-value text.

    Three Arrow passes over the column instead of hashing it: worth it for columns of distinct ids,
    which would otherwise cost a hash and a fold per row.
    """
    return (pc.all(pc.string_is_ascii(cells)).as_py() is not False
            and pc.all(pc.equal(pc.utf8_trim_whitespace(cells), cells)).as_py() is not False
            and pc.any(pc.is_in(cells, value_set=_MISSING_TEXTS)).as_py() is not True)


def _as_string(raw: pd.Series) -> pd.Series:
    """Arrow text cells as pandas ``string`` in one chunk, without copying them when already one chunk."""
    # One chunk, as a take gives it: later kernels need no concatenation.
    cells = _one_chunk(pa.array(raw.array)).cast(pa.large_string())
    return pd.Series(pd.array(cells, dtype=_STRING), index=raw.index)


def as_code(values: pd.Series) -> pd.Series:
    """Codes (USCC, ids) as upper-case strings without any white space; NA for missing."""
    s = pd.Series(values, copy=False)
    if _is_arrow_text(s.dtype):
        # Codes already of upper-case letters and digits only (and no missing-value text such as
        # "NULL") are kept as they are: one regex pass instead of hashing and folding the column.
        cells = pa.array(s.array)
        if (pc.all(pc.match_substring_regex(cells, r"^[0-9A-Z]*$")).as_py() is not False
                and pc.any(pc.is_in(cells, value_set=_MISSING_TEXTS)).as_py() is not True):
            return _as_string(s)
    return code_column(s)[0]


def code_column(values: pd.Series) -> tuple[pd.Series, np.ndarray, pa.Array]:
    """``as_code`` of a column, with each cell's position among the distinct codes.

    Returns
    -------
    tuple
        The codes (as ``as_code`` gives them), each cell's position in the distinct codes (-1 where
        missing) and the distinct codes (Arrow strings), so that callers checking or grouping the
        codes work per distinct code without hashing the column again.
    """
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques).str.upper()
    # Python's regex only for codes with anything but letters and digits (white space is Unicode's).
    odd = ~text.str.fullmatch(r"[0-9A-Z]*").fillna(True).to_numpy(bool)
    if odd.any():
        text[odd] = text[odd].str.replace(r"\s+", "", regex=True)
    text = text.mask(text.isin(MISSING_VALUES))
    if _unchanged(s, uniques, text):  # the usual case: the distinct cells are the distinct codes
        return _as_string(s), codes.astype(np.int64), _one_chunk(pa.array(uniques.array))
    # Distinct cells may fold to the same code (" ab" and "AB"): number the codes themselves.
    enc = pc.dictionary_encode(_one_chunk(pa.array(text.array)))
    merged = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    positions = np.where(codes >= 0, merged[np.maximum(codes, 0)] if len(merged) else -1, -1)
    return _spread(text, pd.Series(False, index=text.index), codes, s.index)[0], positions, enc.dictionary


def _one_chunk(cells: pa.Array | pa.ChunkedArray) -> pa.Array:
    return cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells


def _spread_text(raw: pd.Series, uniques: pd.Series, text: pd.Series, codes: np.ndarray) -> pd.Series:
    """``_spread`` of folded texts; the raw column itself (as ``string``) when folding changed no cell.

    Most columns need no folding at all; reusing the raw Arrow strings then saves the per-cell
    take and a second copy of the column's text.
    """
    if _unchanged(raw, uniques, text):
        return _as_string(raw)
    return _spread(text, pd.Series(False, index=text.index), codes, raw.index)[0]


def _unchanged(raw: pd.Series, uniques: pd.Series, text: pd.Series) -> bool:
    """Whether an Arrow text column's folded distinct values are its distinct cells, none turned missing."""
    if not _is_arrow_text(raw.dtype) or text.hasnans or len(text) != len(uniques):
        return False
    return pc.all(pc.equal(pa.array(text.array), pa.array(uniques.array))).as_py() is not False


def is_one_of(values: pd.Series, words: frozenset[str]) -> pd.Series:
    """True where a cell, folded (NFKC, no spaces/``_-:*``, lower case), is one of ``words``."""
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    key = _fold(uniques).str.replace(r"[\s_\-:*]+", "", regex=True).str.lower()
    hit = key.isin(words).fillna(False).to_numpy(bool)
    return pd.Series(np.where(codes >= 0, hit[np.maximum(codes, 0)] if len(hit) else False, False), index=s.index)


def missing_mask(values: pd.Series, extra: frozenset[str] = frozenset()) -> pd.Series:
    """True where a cell is empty or one of the missing-value texts."""
    s = pd.Series(values, copy=False)
    if not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)
            or is_coded_text(s.dtype)):
        return s.isna().astype(bool)  # numbers, flags and dates are never missing-value texts
    uniques, codes = _unique(s)
    empty = uniques.astype(str).str.strip().isin(MISSING_VALUES | extra).to_numpy(bool)
    return pd.Series((codes < 0) | np.where(codes >= 0, empty[np.maximum(codes, 0)] if len(empty) else False,
                                            False), index=s.index)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers written as ``1234.5``, ``"1,234.5"``, ``"１２３"``, ``"(12)"`` (negative).

    Spreadsheet errors (``#DIV/0!``, ``#N/A``, ...) and infinities are missing; :func:`number_column`
    also says which cells they were.

    Returns
    -------
    tuple of Series
        float values (NaN where missing or unreadable) and the mask of unreadable cells.
    """
    number, bad, _ = number_column(values)
    return number, bad


def number_column(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """:func:`parse_numbers` and the mask of cells taken as missing that the caller should warn about.

    A tax of ``inf`` (a division by zero exported from a formula) or ``#DIV/0!`` is no figure: it is
    missing in every format (a CSV's text, an .xlsx cell stored as text, a Parquet float), never a
    number or an unreadable cell, and the third mask names those cells so the reader can list their rows.

    Returns
    -------
    tuple of Series
        float values (NaN where missing, unreadable, an error value or infinite), the mask of
        unreadable cells and the mask of error values and infinities.
    """
    s = pd.Series(values, copy=False)
    if pd.api.types.is_numeric_dtype(s.dtype):
        number = s.astype(float)
        infinite = np.isinf(number.to_numpy())
        none = pd.Series(False, index=s.index)
        if infinite.any():
            return number.mask(infinite), none, pd.Series(infinite, index=s.index)
        return number, none, none
    if _is_arrow_text(s.dtype):
        fast = _arrow_numbers(s)
        if fast is not None:
            none = pd.Series(False, index=s.index)
            return fast, none, none
    uniques, codes = _unique(s)
    number = pd.to_numeric(uniques.astype(object), errors="coerce").astype(float)
    dropped = pd.Series(np.isinf(number.to_numpy()), index=uniques.index)
    slow = number.isna()
    bad = pd.Series(False, index=uniques.index)
    if slow.any():
        # Only texts the C parser refused: thousands separators, full-width digits, (12), 无, #DIV/0!, ...
        text = _fold(uniques[slow])
        error = text.str.upper().isin(SPREADSHEET_ERRORS).fillna(False)
        missing = text.isin(NUMERIC_MISSING).fillna(True) | error
        clean = text.str.replace(r"[,\s]", "", regex=True)
        negative = clean.str.fullmatch(r"\(.*\)").fillna(False)
        clean = clean.where(~negative, "-" + clean.str.slice(1, -1))
        clean = clean.str.replace(r"^([+-]?)∞$", r"\1inf", regex=True)
        number[slow] = pd.to_numeric(clean.mask(missing).astype(object), errors="coerce").astype(float)
        bad[slow] = (~missing & number[slow].isna()).to_numpy(bool)
        dropped[slow] = (error | np.isinf(number[slow])).to_numpy(bool)
    number = number.mask(dropped.to_numpy(bool))
    out, flags = _spread(number, bad, codes, s.index)
    gone = _spread(number, dropped, codes, s.index)[1]
    return out.astype(float), flags, gone


def _arrow_numbers(text: pd.Series) -> pd.Series | None:
    """A whole text column read by Arrow's number parser, when every cell is a plain finite number.

    Plain ASCII numbers, with thousands separators or spaces removed, parse to the same floats as
    the general path (both round correctly); anything else (a missing-value text, "(12)", "nan",
    full-width digits) returns None and the caller takes the general path.
    """
    cells = pa.array(text.array)
    try:
        number = pc.cast(cells, pa.float64())
    except pa.ArrowInvalid:
        if pc.all(pc.string_is_ascii(cells)).as_py() is False:
            return None
        try:  # "1,234.5", "1 234.5"
            number = pc.cast(pc.replace_substring_regex(cells, r"[,\s]", ""), pa.float64())
        except pa.ArrowInvalid:
            return None
    out = number.to_numpy(zero_copy_only=False)
    if np.isfinite(out).sum() != len(out) - number.null_count:
        return None  # "nan", "inf": the general path decides
    return pd.Series(out, index=text.index, dtype=float)


def parse_years(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Years written as ``2021``, ``2021.0``, ``"2021年"`` or ``"2021年度"`` -> Int64 (1900-2100)."""
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques).str.replace(r"\s*(年度|年)$", "", regex=True)
    text = text.mask(text.isin(MISSING_VALUES))
    year = pd.to_numeric(text.where(text.str.fullmatch(r"\d{4}").fillna(False)).astype(object), errors="coerce")
    year = year.where((year >= 1900) & (year <= 2100)).astype("Int64")
    bad = (text.notna() & year.isna()).astype(bool)
    out, flags = _spread(year, bad, codes, s.index)
    return out.astype("Int64"), flags


def parse_flags(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/no cells (是/否, 1/0, True/False, Y/N, √/×, 有/无, 有效/无效) -> pandas ``boolean``; empty cells -> NA.

    The one parser of every yes/no column (``schema.READ_FLAG_COLUMNS``); spellings are
    ``schema.TRUE_VALUES`` and ``schema.FALSE_VALUES``, compared NFKC-folded in lower case.

    An empty cell means "not known", not "no" (missing stays missing), although
    ``schema.FALSE_VALUES`` lists ``""``.
    """
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    # "1.0"/"0.0": a CSV written from a float column (a 0/1 column with blanks becomes one).
    text = _fold(uniques).str.lower().str.replace(r"^([01])\.0+$", r"\1", regex=True)
    missing = text.isin(MISSING_VALUES).fillna(True).to_numpy(bool)
    true = text.isin(TRUE_VALUES).fillna(False).to_numpy(bool)
    false = text.isin(FALSE_VALUES - {""}).fillna(False).to_numpy(bool) & ~true
    flag = pd.Series(pd.NA, index=uniques.index, dtype="boolean")
    flag[true] = True
    flag[false & ~missing] = False
    bad = pd.Series(~missing & ~true & ~false, index=uniques.index)
    out, flags = _spread(flag, bad, codes, s.index)
    return out.astype("boolean"), flags


def industry_codes(values: pd.Series) -> pd.Series:
    """GB/T 4754 industry codes without their section letter: ``"C3311"``, ``"c 3311"``, ``3311`` -> ``"3311"``.

    Prefix tests of presets (``industry = ["17", "18"]``) and the report's divisions then see one
    spelling. Text that is no code is kept as written (folded as :func:`as_text` folds it).
    """
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques)
    text = text.mask(text.isin(MISSING_VALUES))
    text = text.str.replace(r"^[A-Ta-t]\s*[-_]?\s*(?=\d{2,6}$)", "", regex=True)
    out, _ = _spread(text.astype("string[pyarrow]"), pd.Series(False, index=text.index), codes, s.index)
    return out.astype(_STRING)


def land_use_class(values: pd.Series) -> pd.Series:
    """Land use (a code or a name) -> ``"industrial"``, ``"storage"``, ``"mining"``, ``"other"``; NA if missing.

    Codes: ``schema.LAND_USE_CODES`` (GB/T 21010-2017 ``0601``, the 2023 用地用海分类 ``1001`` and its
    ``100101``-``100103``, GB/T 21010-2007 ``061``, GB 50137 ``M``/``M2``/``W1``); an Excel number cell
    that lost its leading zero (``601``) is read as ``0601``. Names: the words of
    ``schema.LAND_USE_WORDS`` (工业用地, 二类工业用地, 物流仓储用地, ...). Computed per distinct value.
    """
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques).str.upper().str.replace(r"\s+", "", regex=True)
    text = text.mask(text.isin(MISSING_VALUES))
    key = text.str.replace(r"^(\d{4})\d{2}$", r"\1", regex=True)              # 100101 -> 1001
    key = key.str.replace(r"^([1-9]\d{2})$", r"0\1", regex=True)               # 601 -> 0601
    key = key.str.replace(r"^([MW])\d*$", r"\1", regex=True)                   # M2 -> M
    out = key.map(LAND_USE_CODES, na_action="ignore").astype(object)
    for word, cls in LAND_USE_WORDS.items():
        out[out.isna() & text.str.contains(word, regex=False).fillna(False)] = cls
    out = out.where(text.isna(), out.fillna("other"))  # missing stays missing
    result, _ = _spread(out.astype("string[pyarrow]"), pd.Series(False, index=text.index), codes, s.index)
    return result.astype(_STRING)


def parse_choice(values: pd.Series, mapping: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map texts through ``mapping`` (keys compared in lower case) -> pandas strings; NA for missing."""
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques).str.lower().str.replace(r"\s+", "", regex=True)
    text = text.mask(text.isin(MISSING_VALUES))
    out = text.map(lowered, na_action="ignore").astype("string")
    bad = (text.notna() & out.isna()).astype(bool)
    choice, flags = _spread(out, bad, codes, s.index)
    return choice.astype("string"), flags


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates as bureaus write them (see :func:`date_column`).

    Returns
    -------
    tuple of Series
        ``datetime64[ns]`` values (NaT where missing or unreadable) and the mask of unreadable cells.
    """
    dates, bad, _ = date_column(values)
    return dates, bad


def date_column(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Dates from date cells, Excel serial numbers and texts, a column at a time; and the guessed ones.

    Read: date cells; Excel serial numbers (1900 system) in numeric cells or as bare digits;
    ``2020-6-15``, ``2020/6/15``, ``2020.6.15``, ``2020年6月15日`` (a time after the date is dropped),
    ``20200615``; months ``2020.06``, ``2020-06``, ``2020/6``, ``2020年6月``, ``202006``, which are read
    as the first day of the month (the day a month-only record starts, the usual reading in bureau
    台账; for a supply date or a production start it errs towards the earlier date).

    Guessed (returned in the third mask so the reader warns): a bare year (``2020``, ``2020年``: read as
    1 January, never as the Excel serial 2020, which is 1905-07-12); and ``2020.1``, which Excel
    makes of both January (2020.01) and October (2020.10) in a number cell: read as January.

    Returns
    -------
    tuple of Series
        ``datetime64[ns]`` values (NaT where missing or unreadable), the mask of unreadable cells and
        the mask of cells read by a guess.
    """
    s = pd.Series(values, copy=False)
    none = pd.Series(False, index=s.index)
    if isinstance(s.dtype, pd.ArrowDtype) and pa.types.is_date(s.dtype.pyarrow_dtype):  # GeoParquet dates
        ticks = pc.cast(pa.array(s.array), pa.timestamp("ms")).to_numpy(zero_copy_only=False)
        return (*_datetimes_ns(pd.Series(ticks, index=s.index)), none)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s if s.dt.tz is None else s.dt.tz_localize(None)
        return (*_datetimes_ns(out), none)
    uniques, codes = _unique(s)
    text = _fold(uniques)
    text = text.mask(text.isin(MISSING_VALUES))
    missing = text.isna()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")

    # Calendar forms first: a year-month or year-month-day in any of the spellings above.
    ymd = text.str.replace(r"[年月/.]", "-", regex=True).str.replace(r"[日号]", "", regex=True)
    parts = ymd.str.extract(r"^((?:19|20)\d{2})-(\d{1,2})(?:-(\d{1,2}))?-?"
                            r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
    compact = text.str.extract(r"^((?:19|20)\d{2})(0[1-9]|1[0-2])(\d{2})?$")
    parts = parts.where(parts[0].notna(), compact.set_axis(parts.columns, axis=1))
    year_only = text.str.extract(r"^((?:19|20)\d{2})(?:\.0+)?年?$")[0]
    # "2020.1" may be January or October (Excel drops the 0 of 2020.10 in a number cell).
    guessed = (text.str.fullmatch(r"(?:19|20)\d{2}\.1").fillna(False) | year_only.notna()).astype(bool)
    parts[0] = parts[0].fillna(year_only)
    parts[1] = parts[1].where(year_only.isna(), "1")
    parts[2] = parts[2].fillna("1")
    has = parts[0].notna()
    if has.any():
        frame = parts[has].astype(int).set_axis(["year", "month", "day"], axis=1)
        out[has] = pd.to_datetime(frame, errors="coerce")

    # Excel serial numbers: the other plain numbers (a calendar form above never is one).
    number = pd.to_numeric(text.where(text.str.fullmatch(r"\d+(\.\d+)?").fillna(False) & ~has).astype(object),
                           errors="coerce")
    serial = number.notna() & (number >= _SERIAL_MIN) & (number < _SERIAL_MAX)
    if serial.any():
        days = np.floor(number[serial].to_numpy(float))
        out[serial] = EXCEL_EPOCH + pd.to_timedelta(days, unit="D")
    bad = (~missing & out.isna()).astype(bool)
    guessed = guessed & out.notna()
    dates, flags = _spread(out, bad, codes, s.index)
    return dates.astype("datetime64[ns]"), flags, _spread(out, guessed, codes, s.index)[1]


def _datetimes_ns(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Naive datetimes as ``datetime64[ns]``; those outside its range (1677-2262) NaT and flagged.

    Parquet stores dates at ms or s resolution, where years outside that range fit. The range is
    checked on the integer ticks (two passes over NumPy instead of pandas' Timestamp comparisons).
    """
    ticks = values.to_numpy()
    unit, count = np.datetime_data(ticks.dtype)
    per = _NS_PER.get(unit, 0) * count
    if per == 0:  # an unusual unit: pandas compares and converts it
        fits = values.isna() | ((values >= pd.Timestamp.min) & (values <= pd.Timestamp.max))
        return values.where(fits).astype("datetime64[ns]"), ~fits.astype(bool)
    raw = ticks.view(np.int64)
    nat = np.isnat(ticks)
    fits = nat | ((raw >= -(-pd.Timestamp.min.value // per)) & (raw <= pd.Timestamp.max.value // per))
    ns = np.where(fits & ~nat, raw * per, np.iinfo(np.int64).min).view("datetime64[ns]")
    return pd.Series(ns, index=values.index), pd.Series(~fits, index=values.index)


def normalize_days(values: pd.Series) -> pd.Series:
    """``datetime64[ns]`` values floored to midnight (``Series.dt.normalize``), NaT kept, on the ticks."""
    ticks = values.to_numpy(dtype="datetime64[ns]")
    raw = ticks.view(np.int64)
    day = _NS_PER["D"]
    return pd.Series(np.where(np.isnat(ticks), raw, raw - raw % day).view("datetime64[ns]"), index=values.index)


def valid_codes(positions: np.ndarray, distinct: pa.Array) -> np.ndarray:
    """``is_valid_uscc`` of each row of a :func:`code_column`, from its position among the distinct codes.

    Checked once per distinct code (firms repeat over years). Codes of 18 ASCII letters and digits,
    nearly all of them, go to ``is_valid_uscc`` as one fixed-width array cut straight from the Arrow
    buffer instead of a million Python strings.
    """
    distinct = distinct.cast(pa.large_string())
    valid = np.zeros(len(distinct), dtype=bool)
    plain = pc.and_(pc.equal(pc.binary_length(distinct), 18), pc.string_is_ascii(distinct))
    plain = pc.fill_null(plain, False).to_numpy(zero_copy_only=False)
    if plain.any():
        codes = distinct.filter(pa.array(plain))
        offsets = np.frombuffer(codes.buffers()[1], dtype=np.int64)[codes.offset:codes.offset + len(codes) + 1]
        data = np.frombuffer(codes.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        valid[plain] = valid_bytes(data.reshape(-1, 18))
    if (~plain).any():
        valid[~plain] = is_valid_uscc(np.asarray(distinct.filter(pa.array(~plain)).to_pylist(), dtype=object))
    return np.where(positions >= 0, valid[np.maximum(positions, 0)] if len(valid) else False, False)


def repeated_code_years(positions: np.ndarray, year: pd.Series, src_row: pd.Series,
                         distinct: pa.Array) -> list[tuple[str, int, list[int]]]:
    """Code-years (e.g. firm-years) with more than one row: ``(code, year, source rows)``, sorted by code then year.

    Rows are keyed by integers (position among the distinct codes x year) instead of hashing the
    code texts again; rows without a code or a year are left out.
    """
    keyed = (positions >= 0) & year.notna().to_numpy(bool)
    years = year.to_numpy(dtype=np.int64, na_value=0)
    if not keyed.any():
        return []
    low = years[keyed].min()
    key = positions[keyed].astype(np.int64) * (years[keyed].max() - low + 1) + (years[keyed] - low)
    if key.max() <= 8 * len(key):  # a few years per code: count by key directly, no sort
        inverse, counts = key, np.bincount(key)
    else:
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    repeated = counts[inverse] > 1
    if not repeated.any():
        return []
    rows = np.flatnonzero(keyed)[repeated]
    order = np.argsort(inverse[repeated], kind="stable")  # groups, rows in frame order within each
    rows = rows[order]
    bounds = np.flatnonzero(np.diff(inverse[repeated][order])) + 1
    codes = distinct.take(pa.array(positions[rows])).to_pylist()
    src = src_row.to_numpy()[rows].tolist()
    groups = [(codes[g[0]], int(years[rows[g[0]]]), [src[i] for i in g])
              for g in np.split(np.arange(len(rows)), bounds)]
    return sorted(groups, key=lambda g: (g[0], g[1]))

"""Parse cell values as bureaus write them, column at a time.

Every parser takes a Series of raw cells (numbers, text, datetimes, None) and returns the parsed
Series (same index) and a boolean mask of cells that are present but cannot be understood, so the
caller can report each one with its row. Missing cells ("", "—", "无数据", ...) become NaN/NA,
never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.schema import FALSE_VALUES, MISSING_VALUES, TRUE_VALUES

#: Texts that mean "no value" in a numeric column: schema.MISSING_VALUES plus 无 ("none").
NUMERIC_MISSING: frozenset[str] = MISSING_VALUES | {"无", "none", "n/a", "na"}

#: Excel's day zero for serial dates (1900 system, counting the 1900-02-29 that never was).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

# Serial numbers that are plausible dates: 1900-01-01 .. 2173-10-14.
_SERIAL_MIN, _SERIAL_MAX = 1, 100_000


def _unique(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Distinct non-missing cells and each cell's code into them (-1 = missing).

    Parsers work on the distinct values only: bureau columns repeat the same texts (years, 是/否,
    规上/规下, USCCs over several years), so text handling costs per distinct value, not per row.
    Text columns keep their Arrow strings (hashing those is fast); other cells come back as objects.
    """
    s = pd.Series(values, copy=False)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if _is_arrow_text(s.dtype):
        return pd.Series(uniques, copy=False).astype("string[pyarrow]"), codes
    return pd.Series(np.asarray(uniques, dtype=object), dtype=object), codes


def _is_arrow_text(dtype: object) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


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
    wide = ~text.str.isascii().fillna(True).to_numpy(bool)
    if wide.any():  # full-width digits, letters and brackets: only non-ASCII texts need folding
        text[wide] = _nfkc(text[wide])
    return text.str.strip()


def _nfkc(text: pd.Series) -> pd.Series:
    """NFKC as Python's ``unicodedata`` does it, which runs per string: Arrow finds the few that change.

    Normalisation of an assigned character never changes between Unicode versions, so a text that
    Arrow (utf8proc, newer Unicode) leaves alone is left alone by Python too; those Arrow changes
    get Python's result.
    """
    cells = pa.array(text.array)
    changed = pc.not_equal(pc.utf8_normalize(cells, "NFKC"), cells).to_numpy(zero_copy_only=False)
    out = text.copy()
    if changed.any():
        out[changed] = text[changed].str.normalize("NFKC")
    return out


def as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped, NFKC-folded pandas strings; NA for missing.

    Integral numbers lose their ``.0`` (Excel stores ids and codes as floats).
    """
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques)
    text = text.mask(text.isin(MISSING_VALUES))
    return _spread(text, pd.Series(False, index=text.index), codes, s.index)[0]


def as_code(values: pd.Series) -> pd.Series:
    """Codes (USCC, ids) as upper-case strings without any white space; NA for missing."""
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques).str.upper()
    # Python's regex only for codes with anything but letters and digits (white space is Unicode's).
    odd = ~text.str.fullmatch(r"[0-9A-Z]*").fillna(True).to_numpy(bool)
    if odd.any():
        text[odd] = text[odd].str.replace(r"\s+", "", regex=True)
    text = text.mask(text.isin(MISSING_VALUES))
    return _spread(text, pd.Series(False, index=text.index), codes, s.index)[0]


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
    if not (pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)):
        return s.isna().astype(bool)  # numbers, flags and dates are never missing-value texts
    uniques, codes = _unique(s)
    empty = uniques.astype(str).str.strip().isin(MISSING_VALUES | extra).to_numpy(bool)
    return pd.Series((codes < 0) | np.where(codes >= 0, empty[np.maximum(codes, 0)] if len(empty) else False,
                                            False), index=s.index)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers written as ``1234.5``, ``"1,234.5"``, ``"１２３"``, ``"(12)"`` (negative).

    Returns
    -------
    tuple of Series
        float values (NaN where missing or unreadable) and the mask of unreadable cells.
    """
    s = pd.Series(values, copy=False)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype(float), pd.Series(False, index=s.index)
    if _is_arrow_text(s.dtype):
        fast = _arrow_numbers(s)
        if fast is not None:
            return fast, pd.Series(False, index=s.index)
    uniques, codes = _unique(s)
    number = pd.to_numeric(uniques.astype(object), errors="coerce").astype(float)
    slow = number.isna()
    if slow.any():
        # Only texts the C parser refused: thousands separators, full-width digits, (12), 无, ...
        text = _fold(uniques[slow])
        missing = text.isin(NUMERIC_MISSING).fillna(True)
        clean = text.str.replace(r"[,\s]", "", regex=True)
        negative = clean.str.fullmatch(r"\(.*\)").fillna(False)
        clean = clean.where(~negative, "-" + clean.str.slice(1, -1))
        number[slow] = pd.to_numeric(clean.mask(missing).astype(object), errors="coerce").astype(float)
        bad = pd.Series(False, index=uniques.index)
        bad[slow] = (~missing & number[slow].isna()).to_numpy(bool)
    else:
        bad = pd.Series(False, index=uniques.index)
    out, flags = _spread(number, bad, codes, s.index)
    return out.astype(float), flags


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
    """Yes/no cells (是/否, 1/0, true/false, √, 有效/无效) -> pandas ``boolean``; empty cells -> NA.

    An empty cell means "not known", not "no" (missing stays missing), although
    ``schema.FALSE_VALUES`` lists ``""``.
    """
    s = pd.Series(values, copy=False)
    uniques, codes = _unique(s)
    text = _fold(uniques).str.lower()
    missing = text.isin(MISSING_VALUES).fillna(True).to_numpy(bool)
    true = text.isin(TRUE_VALUES).fillna(False).to_numpy(bool)
    false = text.isin(FALSE_VALUES - {""}).fillna(False).to_numpy(bool) & ~true
    flag = pd.Series(pd.NA, index=uniques.index, dtype="boolean")
    flag[true] = True
    flag[false & ~missing] = False
    bad = pd.Series(~missing & ~true & ~false, index=uniques.index)
    out, flags = _spread(flag, bad, codes, s.index)
    return out.astype("boolean"), flags


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
    """Dates as Excel cells or serial numbers, "2019-05-01", "2019/5/1", "2019.5.1", "2019年5月1日", "20190501".

    Returns
    -------
    tuple of Series
        ``datetime64[ns]`` values (NaT where missing or unreadable) and the mask of unreadable cells.
    """
    s = pd.Series(values, copy=False)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s if s.dt.tz is None else s.dt.tz_localize(None)
        # Stored at ms or s resolution (Parquet), years outside 1677-2262 do not fit nanoseconds.
        fits = out.isna() | ((out >= pd.Timestamp.min) & (out <= pd.Timestamp.max))
        return out.where(fits).astype("datetime64[ns]"), ~fits.astype(bool)
    uniques, codes = _unique(s)
    text = _fold(uniques)
    text = text.mask(text.isin(MISSING_VALUES))
    missing = text.isna()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")

    number = pd.to_numeric(text.where(text.str.fullmatch(r"\d+(\.\d+)?").fillna(False)).astype(object),
                           errors="coerce")
    compact = text.str.fullmatch(r"(19|20)\d{6}").fillna(False)
    serial = number.notna() & ~compact & (number >= _SERIAL_MIN) & (number < _SERIAL_MAX)
    if serial.any():
        days = np.floor(number[serial].to_numpy(float))
        out[serial] = EXCEL_EPOCH + pd.to_timedelta(days, unit="D")

    ymd = text.str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "", regex=False)
    parts = ymd.str.extract(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
    from_compact = text.str.extract(r"^(\d{4})(\d{2})(\d{2})$")
    parts = parts.where(parts[0].notna(), from_compact.where(compact))
    has = parts[0].notna() & ~serial
    if has.any():
        frame = parts[has].astype(int).set_axis(["year", "month", "day"], axis=1)
        out[has] = pd.to_datetime(frame, errors="coerce")
    bad = (~missing & out.isna()).astype(bool)
    dates, flags = _spread(out, bad, codes, s.index)
    return dates.astype("datetime64[ns]"), flags

"""Parse cell values as bureaus write them, column at a time.

Every parser takes a Series of raw cells (numbers, text, datetimes, None) and returns the parsed
Series (same index) and a boolean mask of cells that are present but cannot be understood, so the
caller can report each one with its row. Missing cells ("", "—", "无数据", ...) become NaN/NA,
never 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gisefficiency.schema import FALSE_VALUES, MISSING_VALUES, TRUE_VALUES

#: Texts that mean "no value" in a numeric column: schema.MISSING_VALUES plus 无 ("none").
NUMERIC_MISSING: frozenset[str] = MISSING_VALUES | {"无", "none", "n/a", "na"}

#: Excel's day zero for serial dates (1900 system, counting the 1900-02-29 that never was).
EXCEL_EPOCH = pd.Timestamp("1899-12-30")

# Serial numbers that are plausible dates: 1900-01-01 .. 2173-10-14.
_SERIAL_MIN, _SERIAL_MAX = 1, 100_000


def as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped, NFKC-folded pandas strings; NA for missing.

    Integral floats lose their ``.0`` (Excel stores ids and codes as floats).
    """
    s = pd.Series(values, copy=False)
    if pd.api.types.is_float_dtype(s.dtype):
        integral = s.notna() & np.isfinite(s) & (s == np.floor(s))
        text = s.astype(object).where(~integral, s.where(integral).astype("Int64").astype(object))
        s = text
    text = s.astype("string").str.normalize("NFKC").str.strip()
    text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    return text.mask(text.isin(MISSING_VALUES))


def missing_mask(values: pd.Series, extra: frozenset[str] = frozenset()) -> pd.Series:
    """True where a cell is empty or one of the missing-value texts."""
    s = pd.Series(values, copy=False)
    text = s.astype("string").str.strip()
    return (s.isna() | text.isin(MISSING_VALUES | extra)).fillna(True).astype(bool)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers written as ``1234.5``, ``"1,234.5"``, ``"１２３"``, ``"(12)"`` (negative).

    Returns
    -------
    tuple of Series
        float values (NaN where missing or unreadable) and the mask of unreadable cells.
    """
    s = pd.Series(values, copy=False)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype(float), pd.Series(False, index=s.index)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype(float), pd.Series(False, index=s.index)
    text = s.astype("string").str.normalize("NFKC").str.strip()
    missing = s.isna() | text.isna() | text.isin(NUMERIC_MISSING)
    clean = text.str.replace(r"[,\s]", "", regex=True).str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    number = pd.to_numeric(clean.mask(missing), errors="coerce").astype(float)
    bad = (~missing & number.isna()).fillna(False).astype(bool)
    return number, bad


def parse_years(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Years written as ``2021``, ``2021.0``, ``"2021年"`` or ``"2021年度"`` -> Int64 (1900-2100)."""
    text = as_text(values).str.replace(r"\s*(年度|年)$", "", regex=True)
    missing = text.isna()
    year = pd.to_numeric(text.where(text.str.fullmatch(r"\d{4}").fillna(False)), errors="coerce")
    year = year.where((year >= 1900) & (year <= 2100))
    bad = (~missing & year.isna()).astype(bool)
    return year.astype("Int64"), bad


def parse_flags(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/no cells (是/否, 1/0, true/false, √, 有效/无效) -> pandas ``boolean``; empty cells -> NA.

    An empty cell means "not known", not "no" (missing stays missing), although
    ``schema.FALSE_VALUES`` lists ``""``.
    """
    text = as_text(values).str.lower()
    true = text.isin(TRUE_VALUES).fillna(False)
    false = text.isin(FALSE_VALUES - {""}).fillna(False)
    missing = text.isna()
    out = pd.Series(pd.NA, index=text.index, dtype="boolean")
    out[true.to_numpy(bool)] = True
    out[false.to_numpy(bool)] = False
    bad = (~missing & ~true & ~false).astype(bool)
    return out, bad


def parse_choice(values: pd.Series, mapping: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map texts through ``mapping`` (keys compared in lower case) -> pandas strings; NA for missing."""
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    text = as_text(values).str.lower().str.replace(r"\s+", "", regex=True)
    out = text.map(lowered, na_action="ignore").astype("string")
    bad = (text.notna() & out.isna()).astype(bool)
    return out, bad


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
        return out.astype("datetime64[ns]"), pd.Series(False, index=s.index)
    text = as_text(s)
    missing = text.isna()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")

    number = pd.to_numeric(text.where(text.str.fullmatch(r"\d+(\.\d+)?").fillna(False)), errors="coerce")
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
    return out, bad

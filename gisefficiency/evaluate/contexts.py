"""What conditions read: the values of a panel aligned to the rows being judged.

:class:`PanelContext` has one row per (unit, year) (grading: ``k`` years back is the same unit's
earlier row); :class:`UnitContext` one row per unit at a reference year (verdicts: yearly values by
year, static facts as last known up to that year; a certificate flag only within its term,
``rules.CERTIFICATE_YEARS``, or by its dates where the firm table gives them).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency.core.text import const, take_text
from gisefficiency.evaluate.rules import CERTIFICATE_YEARS

__all__ = ["Context", "PanelContext", "UnitContext", "years_of"]


class Context(Protocol):
    """Values seen by conditions, positionally aligned to the rows being judged."""

    n: int

    def years(self, k: int = 0) -> np.ndarray: ...

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray: ...

    def attr(self, col: str) -> pd.Series: ...

    def text(self, col: str, k: int) -> pa.Array: ...


def _take(a: np.ndarray, pos: np.ndarray, numeric: bool) -> np.ndarray:
    ok = pos >= 0
    out = np.full(len(pos), np.nan) if numeric else np.full(len(pos), "", dtype=object)
    out[ok] = a[pos[ok]]
    return out


def _array(s: pd.Series, numeric: bool) -> np.ndarray:
    if numeric:
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return s.astype("string").fillna("").to_numpy(dtype=object)


def years_of(index: pd.Index) -> np.ndarray:
    """The second level (years) of a panel index as int64, read through the level's codes."""
    if isinstance(index, pd.MultiIndex) and len(index) and index.codes[1].min() >= 0:
        return index.levels[1].to_numpy(dtype="int64")[index.codes[1]]
    return index.get_level_values(1).to_numpy(dtype="int64")


def _unit_codes(index: pd.MultiIndex) -> tuple[np.ndarray, pd.Index]:
    """Codes of the first level (0..k-1 in sorted id order) and the sorted ids present.

    The MultiIndex's own codes serve when its level is sorted (the usual case): hashing a million
    text ids again costs a second.
    """
    if isinstance(index, pd.MultiIndex):
        level, codes = index.levels[0], index.codes[0]
        if len(codes) and codes.min() >= 0 and level.is_monotonic_increasing:
            used = np.bincount(codes, minlength=len(level)) > 0
            units = level if used.all() else level[used]
            if not used.all():
                codes = (np.cumsum(used) - 1)[codes]
            return np.asarray(codes), pd.Index(units, name=index.names[0])
    codes, uniques = pd.factorize(index.get_level_values(0), sort=True)
    return codes, pd.Index(uniques, name=index.names[0])


def _by_unit_year(codes: np.ndarray, year: np.ndarray) -> np.ndarray:
    """Row order by unit, then year (stable, as ``np.lexsort``); no sort when already in that order."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    y0 = int(year.min())
    key = codes.astype(np.int64) * (int(year.max()) - y0 + 1) + (year - y0)
    if (key[1:] >= key[:-1]).all():
        return np.arange(len(key))
    return np.argsort(key, kind="stable")


class PanelContext:
    """One row per ``(eval_id, year)`` of a panel; ``k`` years back is the same unit's earlier row."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.n = len(frame)
        self._year = years_of(frame.index)
        self._year.setflags(write=False)  # handed out as it is by years(0)
        self._pos: dict[int, np.ndarray] = {}

    def years(self, k: int = 0) -> np.ndarray:
        return self._year if k == 0 else self._year - k

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray:
        if col not in self.frame:
            return np.full(self.n, np.nan) if numeric else np.full(self.n, "", dtype=object)
        a = _array(self.frame[col], numeric)
        return a if k == 0 else _take(a, self._back(k), numeric)

    def _back(self, k: int) -> np.ndarray:
        """Row of the same unit ``k`` years earlier (-1: none)."""
        if k not in self._pos:
            # the ids are read only here (years back): a million text ids cost a copy
            target = pd.MultiIndex.from_arrays([self.frame.index.get_level_values(0), self._year - k])
            self._pos[k] = self.frame.index.get_indexer(target)
        return self._pos[k]

    def text(self, col: str, k: int) -> pa.Array:
        """Like ``values(col, k, numeric=False)``, as Arrow text."""
        if col not in self.frame:
            return const(self.n)
        return take_text(self.frame[col], None if k == 0 else self._back(k))

    def attr(self, col: str) -> pd.Series:
        if col not in self.frame:
            return pd.Series([pd.NA] * self.n, dtype=object)
        return self.frame[col].reset_index(drop=True)


class UnitContext:
    """One row per unit, judged at a reference year: yearly values by year, attributes as last known."""

    def __init__(self, frame: pd.DataFrame, year: int) -> None:
        self.frame = frame
        self.year = int(year)
        codes, units = _unit_codes(frame.index)
        self.units = units
        self.n = len(self.units)
        self._codes = codes
        self._year = years_of(frame.index)
        self._order = _by_unit_year(codes, self._year)
        self._rows: dict[int, np.ndarray] = {}
        self._attrs: dict[str, pd.Series] = {}

    def years(self, k: int = 0) -> np.ndarray:
        # one year for every unit: a read-only view of one number, not a million copies
        return np.broadcast_to(np.int64(self.year - k), (self.n,))

    def rows(self, k: int = 0) -> np.ndarray:
        """Panel row of each unit ``k`` years before the reference year (-1: none)."""
        y = self.year - k
        if y not in self._rows:
            self._rows[y] = np.flatnonzero(self._year == y)
        pos = np.full(self.n, -1)
        pos[self._codes[self._rows[y]]] = self._rows[y]
        return pos

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray:
        out = np.full(self.n, np.nan) if numeric else np.full(self.n, "", dtype=object)
        if col not in self.frame:
            return out
        rows = self._year_rows(k)
        out[self._codes[rows]] = _array(self.frame[col].iloc[rows], numeric)
        return out

    def _year_rows(self, k: int) -> np.ndarray:
        """Panel rows of the year ``k`` years before the reference year."""
        y = self.year - k
        if y not in self._rows:
            self._rows[y] = np.flatnonzero(self._year == y)
        return self._rows[y]

    def text(self, col: str, k: int) -> pa.Array:
        """Like ``values(col, k, numeric=False)``, as Arrow text."""
        if col not in self.frame:
            return const(self.n)
        rows = self._year_rows(k)
        pos = np.full(self.n, -1)
        pos[self._codes[rows]] = rows  # a unit's row that year (the last one, as ``values`` keeps)
        return take_text(self.frame[col], pos)

    def attr(self, col: str) -> pd.Series:
        if col not in self._attrs:
            if col not in self.frame:
                self._attrs[col] = pd.Series([pd.NA] * self.n, dtype=object)
            else:
                # Static facts (dates, flags, scale) as last known up to the reference year.
                s = self.frame[col]
                o = self._order
                o = o[(self._year[o] <= self.year) & s.notna().to_numpy(bool)[o]]
                c = self._codes[o]
                last = np.ones(len(o), bool)
                last[:-1] = c[1:] != c[:-1]
                pos = np.full(self.n, -1)
                pos[c[last]] = o[last]
                known = pos >= 0
                if col in CERTIFICATE_YEARS:
                    # A certificate's 是 holds for its term only: a 2018 是 for 高新技术企业 (3 years) says
                    # nothing about 2021 when the later years are blank.
                    age = self.year - self._year[np.where(known, pos, 0)]
                    known &= age < CERTIFICATE_YEARS[col]
                taken = s.iloc[np.where(known, pos, 0)].reset_index(drop=True)
                self._attrs[col] = taken.where(pd.Series(known), pd.NA) if not known.all() else taken
                if col in CERTIFICATE_YEARS:
                    self._attrs[col] = self._certificate_dates(col, self._attrs[col])
        return self._attrs[col]

    def _certificate_dates(self, col: str, flag: pd.Series) -> pd.Series:
        """``flag`` where the unit has no certificate date, else whether the certificate is in force on 31
        December of the reference year (``<col>_date`` to ``<col>_until``; without an end date, the date
        plus the term of ``CERTIFICATE_YEARS`` less a day). Dates are those last known up to the year."""
        start_col, until_col = f"{col}_date", f"{col}_until"
        if start_col not in self.frame and until_col not in self.frame:
            return flag
        start = pd.to_datetime(self.attr(start_col), errors="coerce").to_numpy(dtype="datetime64[ns]")
        until = pd.to_datetime(self.attr(until_col), errors="coerce").to_numpy(dtype="datetime64[ns]")
        term = (pd.DatetimeIndex(start) + pd.DateOffset(years=CERTIFICATE_YEARS[col]) - pd.Timedelta(days=1))
        until = np.where(np.isnat(until), term.to_numpy(dtype="datetime64[ns]"), until)
        dated = ~np.isnat(start) | ~np.isnat(until)
        if not dated.any():
            return flag
        end = np.datetime64(f"{self.year:04d}-12-31", "ns")
        valid = (np.isnat(start) | (start <= end)) & ~np.isnat(until) & (until >= end)
        out = flag.astype("boolean").copy()
        out[dated] = valid[dated]
        return out

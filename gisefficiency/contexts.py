"""What conditions read: the values of a panel aligned to the rows being judged.

:class:`PanelContext` has one row per (unit, year) (grading: ``k`` years back is the same unit's
earlier row); :class:`UnitContext` one row per unit at a reference year (verdicts: yearly values by
year, static facts as last known up to that year).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

__all__ = ["Context", "PanelContext", "UnitContext"]


class Context(Protocol):
    """Values seen by conditions, positionally aligned to the rows being judged."""

    n: int

    def years(self, k: int = 0) -> np.ndarray: ...

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray: ...

    def attr(self, col: str) -> pd.Series: ...


def _take(a: np.ndarray, pos: np.ndarray, numeric: bool) -> np.ndarray:
    ok = pos >= 0
    out = np.full(len(pos), np.nan) if numeric else np.full(len(pos), "", dtype=object)
    out[ok] = a[pos[ok]]
    return out


def _array(s: pd.Series, numeric: bool) -> np.ndarray:
    if numeric:
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return s.astype("string").fillna("").to_numpy(dtype=object)


class PanelContext:
    """One row per ``(eval_id, year)`` of a panel; ``k`` years back is the same unit's earlier row."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.n = len(frame)
        self._ids = frame.index.get_level_values(0)
        self._year = frame.index.get_level_values(1).to_numpy(dtype="int64")
        self._pos: dict[int, np.ndarray] = {}

    def years(self, k: int = 0) -> np.ndarray:
        return self._year - k

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray:
        if col not in self.frame:
            return np.full(self.n, np.nan) if numeric else np.full(self.n, "", dtype=object)
        a = _array(self.frame[col], numeric)
        if k == 0:
            return a
        if k not in self._pos:
            target = pd.MultiIndex.from_arrays([self._ids, self._year - k])
            self._pos[k] = self.frame.index.get_indexer(target)
        return _take(a, self._pos[k], numeric)

    def attr(self, col: str) -> pd.Series:
        if col not in self.frame:
            return pd.Series([pd.NA] * self.n, dtype=object)
        return self.frame[col].reset_index(drop=True)


class UnitContext:
    """One row per unit, judged at a reference year: yearly values by year, attributes as last known."""

    def __init__(self, frame: pd.DataFrame, year: int) -> None:
        self.frame = frame
        self.year = int(year)
        codes, uniques = pd.factorize(frame.index.get_level_values(0), sort=True)
        self.units = pd.Index(uniques, name=frame.index.names[0])
        self.n = len(self.units)
        self._codes = codes
        self._year = frame.index.get_level_values(1).to_numpy(dtype="int64")
        self._order = np.lexsort((self._year, codes))  # by unit, then year
        self._rows: dict[int, np.ndarray] = {}
        self._attrs: dict[str, pd.Series] = {}

    def years(self, k: int = 0) -> np.ndarray:
        return np.full(self.n, self.year - k, dtype="int64")

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
        y = self.year - k
        if y not in self._rows:
            self._rows[y] = np.flatnonzero(self._year == y)
        rows = self._rows[y]
        out[self._codes[rows]] = _array(self.frame[col].iloc[rows], numeric)
        return out

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
                taken = s.iloc[np.where(pos >= 0, pos, 0)].reset_index(drop=True)
                self._attrs[col] = taken.where(pd.Series(pos >= 0), pd.NA) if (pos < 0).any() else taken
        return self._attrs[col]

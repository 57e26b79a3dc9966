"""Row lookups and text joins for ``assemble`` on integer codes instead of pandas joins on text ids.

pandas 3 keeps ids in Arrow-backed arrays, and every ``reindex``/``join``/``merge`` on them turns a
million ids into Python objects and hashes them again (about 1 s at 1M ids). Here the ids of one kind
(parcel ids, USCCs) from every frame are coded together once (``ids.first_codes``), and each lookup
becomes a numpy take. Taking with position -1 gives the missing value exactly as ``reindex`` does
(bool and int columns become object and float only when something is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.ids import arrow_ids, first_codes

#: Worker threads: pyarrow kernels (dictionary_encode, take) release the GIL, and the machine has 2 cores.
THREADS: int = 2


def codes(*arrays: Any) -> tuple[list[np.ndarray], int]:
    """Integer codes of text ids shared by several arrays (equal ids, equal codes; -1: missing).

    Parameters
    ----------
    *arrays
        pandas Index/Series or pyarrow arrays of ids.

    Returns
    -------
    list of numpy.ndarray, int
        One int64 code array per input, and the number of distinct ids.
    """
    dictionary, out = first_codes([arrow_ids(a) for a in arrays])
    return out, len(dictionary)


def first_rows(key_codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Row of the first occurrence of each code ``0..n_codes-1`` in ``key_codes`` (-1 if none)."""
    found = np.flatnonzero(key_codes >= 0)
    rows = np.full(n_codes, len(key_codes), dtype=np.int64)
    # The smallest row of a repeated code: reindex takes the first match.
    np.minimum.at(rows, key_codes[found], found)
    rows[rows == len(key_codes)] = -1
    return rows


def lookup(value_codes: np.ndarray, key_codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Row in the keys of each value (first match), -1 where absent or missing."""
    rows = np.append(first_rows(key_codes, n_codes), -1)
    return rows[np.where(value_codes >= 0, value_codes, n_codes)]


def via(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[rows]`` where ``rows >= 0``, else -1 (chains lookups through missing links)."""
    if len(table) == 0:
        return np.full(len(rows), -1, dtype=np.int64)
    return np.where(rows >= 0, table[np.maximum(rows, 0)], -1)


def same_ids(a: Any, b: Any) -> bool:
    """Whether two id arrays hold the same ids in the same order (a byte comparison, no hashing)."""
    return len(a) == len(b) and arrow_ids(a).equals(arrow_ids(b))


def take(column: pd.Series, rows: np.ndarray | None, index: pd.Index) -> pd.Series:
    """``column`` at positions ``rows`` (-1: missing, as ``reindex`` fills) as a Series on ``index``.

    ``rows=None`` means the column is already aligned with ``index``: its data are reused, and pandas'
    copy on write keeps the input safe from edits of the output.
    """
    if rows is None:
        return column.set_axis(index)
    values = pd.api.extensions.take(column.array, rows, allow_fill=True)
    return pd.Series(values, index=index, name=column.name, copy=False)


def take_all(columns: dict[str, tuple[pd.Series, np.ndarray | None]], index: pd.Index) -> dict[str, pd.Series]:
    """:func:`take` of several ``{name: (column, rows)}`` on ``THREADS`` threads, in the given order.

    Taking a text column writes a new string buffer of up to hundreds of MB at 1M rows; two columns
    at a time use both cores.
    """
    if THREADS <= 1:
        return {name: take(column, rows, index) for name, (column, rows) in columns.items()}
    with ThreadPoolExecutor(THREADS) as pool:
        done = {name: pool.submit(take, column, rows, index) for name, (column, rows) in columns.items()}
    return {name: future.result() for name, future in done.items()}


def parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Results of independent ``calls`` run on ``THREADS`` threads (for GIL-releasing pyarrow kernels)."""
    if THREADS <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


def year_rows(panel: pd.DataFrame, year: int) -> tuple[pd.Index, np.ndarray]:
    """Ids of a ``(id, year)`` panel and, per id, the row holding ``year`` (-1 if none).

    The same rows as ``panel.xs(year, level="year")``, found on the MultiIndex codes without
    touching the text ids.
    """
    index = panel.index
    if panel.empty or not isinstance(index, pd.MultiIndex):
        return pd.Index([], dtype=object), np.zeros(0, dtype=np.int64)
    level = index.names.index("year")
    id_level = 1 - level if index.nlevels == 2 else 0
    ids = index.levels[id_level]
    at = index.levels[level].get_indexer([year])[0]
    rows = np.flatnonzero(np.asarray(index.codes[level]) == at) if at >= 0 else np.zeros(0, np.int64)
    if len(rows) == 0:
        return ids, np.full(len(ids), -1, dtype=np.int64)
    at_row = first_rows(np.asarray(index.codes[id_level], dtype=np.int64)[rows], len(ids))
    return ids, np.where(at_row >= 0, rows[at_row], -1)


def joined_text(groups: np.ndarray, n: int, values: Any, sep: str) -> np.ndarray:
    """Text of ``values`` joined with ``sep`` per group ``0..n-1``, in row order; missing values left out.

    One stable sort by group, a pyarrow list array and ``binary_join``: no Python string per row.

    Returns
    -------
    numpy.ndarray
        Object array of ``str``, NaN for groups without any value.
    """
    text = values.cast(pa.large_string()) if isinstance(values, pa.Array) else arrow_ids(values)
    keep = np.flatnonzero((groups >= 0) & text.is_valid().to_numpy(zero_copy_only=False))
    order = keep[np.argsort(groups[keep], kind="stable")]
    counts = np.bincount(groups[order], minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), text.take(pa.array(order)))
    out = pc.binary_join(lists, pa.scalar(sep, pa.large_string())).to_numpy(zero_copy_only=False)
    out[counts == 0] = np.nan
    return out

"""Vectorised reason text: pyarrow string arrays built by C++ kernels, never a Python loop per row.

A text is a ``pyarrow.StringArray`` without nulls (empty means ""), or a plain ``str`` broadcast to
every row. Numbers print at published precision (4 decimals, trailing zeros dropped), dates as
``YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.constants import PER_MU_DECIMALS

Text = pa.Array | str

__all__ = ["Text", "assemble", "cat", "const", "days", "empty", "fmt", "fmt1", "ints", "join", "labels", "pick",
           "select", "to_series", "where"]


def const(n: int, s: str = "") -> pa.Array:
    """``n`` copies of ``s``."""
    return pa.array([s], pa.string()).take(pa.array(np.zeros(n, dtype=np.int32)))


def labels(values: np.ndarray, names: Sequence[str], shown: Sequence[str] | None = None) -> pa.Array:
    """Text of a small-vocabulary array: ``values`` equal to ``names[i]`` show ``shown[i]`` (others '')."""
    codes = np.full(len(values), len(names), dtype=np.int32)
    for i, name in enumerate(names):
        codes[values == name] = i
    vocab = pa.array([*(shown if shown is not None else names), ""], pa.string())
    return vocab.take(pa.array(codes))


def cat(*parts: Text) -> Text:
    """Concatenate texts row by row."""
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)  # type: ignore[arg-type]
    return pc.binary_join_element_wise(*parts, "")


def where(mask: np.ndarray, a: Text, b: Text) -> Text:
    """``a`` where ``mask`` else ``b`` (no copy when the mask is all false or all true)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return b  # type: ignore[return-value]
    if m.all():
        return a  # type: ignore[return-value]
    return pc.if_else(pa.array(m), a, b)


def select(conds: Sequence[np.ndarray], choices: Sequence[Text], default: Text) -> Text:
    """The choice of the first true condition, else ``default`` (like ``numpy.select``)."""
    out = default
    for c, ch in reversed(list(zip(conds, choices, strict=True))):
        out = where(c, ch, out)
    return out


def empty(t: Text, n: int) -> np.ndarray:
    """Rows where the text is empty."""
    if isinstance(t, str):
        return np.full(n, t == "")
    return pc.equal(t, "").to_numpy(zero_copy_only=False)


def join(parts: Sequence[Text], sep: str, *, n: int, unique: bool = False) -> Text:
    """Join texts row by row with ``sep``, skipping empty pieces (and repeated ones with ``unique``)."""
    out = parts[0]
    for i, p in enumerate(parts[1:], start=1):
        if isinstance(p, str) and p == "":
            continue
        if isinstance(out, str) and out == "" and not unique:
            out = p
            continue
        if unique and not isinstance(p, str):
            seen = np.zeros(n, bool)
            for q in parts[:i]:
                seen |= pc.equal(p, q).to_numpy(zero_copy_only=False)
            p = where(seen, "", p)
        e_out, e_p = empty(out, n), empty(p, n)
        out = where(e_out, p, where(e_p, out, cat(out, sep, p)))
    return out


def fmt(values: np.ndarray) -> pa.Array:
    """Numbers at published precision: 0.62, 3, 24.097; missing as '—'."""
    v = np.round(np.asarray(values, dtype="float64"), PER_MU_DECIMALS) + 0.0  # + 0.0 drops -0.0
    return pc.fill_null(pc.cast(pa.array(v, from_pandas=True), pa.string()), "—")


def fmt1(x: float) -> str:
    """One number as :func:`fmt` prints it."""
    return str(fmt(np.array([x]))[0].as_py())


def ints(values: np.ndarray) -> pa.Array:
    """Whole numbers (years) as text."""
    return pc.cast(pa.array(np.asarray(values, dtype="int64")), pa.string())


def days(values: np.ndarray) -> pa.Array:
    """Dates as ``YYYY-MM-DD`` ('' where missing)."""
    d = pa.array(np.asarray(values, dtype="datetime64[ns]").astype("datetime64[D]"), from_pandas=True)
    return pc.fill_null(pc.cast(d, pa.string()), "")


def to_series(t: Text, index: pd.Index) -> pd.Series:
    """A pandas ``string`` column of the text."""
    arr = const(len(index), t) if isinstance(t, str) else t
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def assemble(n: int, segments: Sequence[tuple[np.ndarray, Text]]) -> pa.Array:
    """One text of length ``n`` from pieces for row positions (rows no piece covers are empty).

    Pieces are concatenated and put in row order with one ``take``, so each row's text is built once.
    """
    live = [(pos, t) for pos, t in segments if len(pos)]
    if len(live) == 1 and len(live[0][0]) == n and (n < 2 or (np.diff(live[0][0]) > 0).all()):
        t = live[0][1]  # one piece already in row order: nothing to move
        return const(n, t) if isinstance(t, str) else t
    covered = np.zeros(n, bool)
    arrays, positions = [], []
    for pos, t in segments:
        if len(pos) == 0:
            continue
        covered[pos] = True
        positions.append(pos)
        arrays.append(const(len(pos), t) if isinstance(t, str) else t)
    rest = np.flatnonzero(~covered)
    if len(rest):
        positions.append(rest)
        arrays.append(const(len(rest)))
    if not arrays:
        return const(0)
    where_from = np.concatenate(positions)
    if len(where_from) == n:  # disjoint pieces cover every row once: invert the permutation, no sort
        order = np.empty(n, dtype=np.int64)
        order[where_from] = np.arange(n)
    else:
        order = np.argsort(where_from, kind="stable")
    strings = [a if a.type == pa.string() else a.cast(pa.string()) for a in arrays]
    return pa.concat_arrays(strings).take(pa.array(order))


def pick(idx: np.ndarray, choice: np.ndarray, producers: Sequence[Callable[[np.ndarray], Text]]) -> pa.Array:
    """Per row of ``idx``, the text of producer ``choice`` (-1: empty); each producer sees only its rows."""
    local = np.arange(len(idx))
    return assemble(len(idx), [(local[choice == j], f(idx[choice == j])) for j, f in enumerate(producers)])

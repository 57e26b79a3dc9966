"""Vectorised reason text: pyarrow string arrays built by C++ kernels, never a Python loop per row.

A text is a ``pyarrow.StringArray`` without nulls (empty means ""), or a plain ``str`` broadcast to
every row. Numbers print at published precision (4 decimals, trailing zeros dropped), dates as
``YYYY-MM-DD``.

Speed notes (a million rows of ~100-byte texts is 100+ MB per temporary, and fresh memory is slow):
each row's text should be written by as few ``binary_join_element_wise`` passes as possible, so
adjacent constant pieces are merged first, pieces with a handful of distinct values are taken from
a small vocabulary, and :func:`join` skips empty pieces in the same pass by marking them null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.constants import PER_MU_DECIMALS

#: The characters Python's regex ``\s`` (and ``str.isspace``) take for white space, as the body of an RE2
#: character class: Arrow's regex kernels are RE2, whose ``\s`` knows ASCII only, and a bureau's text holds the
#: full-width space U+3000 and no-break spaces.
WHITESPACE_RE2 = (r"\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
                  r"\x{205f}\x{3000}")

Text = pa.Array | str
_T = TypeVar("_T")

__all__ = ["Text", "assemble", "cat", "const", "days", "empty", "few_days", "fmt", "fmt1", "glue", "ints", "join",
           "labels", "pair", "pick",
           "select", "to_series", "vocab", "wanted", "where",
           "with_valid", "writing"]

#: The languages of the reasons being written (zh, en): see :func:`writing`. A context variable, so each
#: thread (outputs are written on two) has its own.
_WANTED: ContextVar[tuple[bool, bool]] = ContextVar("gisefficiency_reason_langs", default=(True, True))

# Arrow prints whole numbers below 1e10 without an exponent; casting int64 is ~4x faster than float64.
_INT_FAST = 1e9


def const(n: int, s: str = "") -> pa.Array:
    """``n`` copies of ``s``."""
    return pa.array([s], pa.string()).take(pa.array(np.zeros(n, dtype=np.int32)))


@contextmanager
def writing(langs: Sequence[str]) -> Iterator[None]:
    """Within the block, reasons are written in ``langs`` (``"zh"``, ``"en"``) only.

    The producers of reasons give a ``(zh, en)`` pair; a language not asked comes back empty (``""``, or a
    constant the caller drops unread), so a one-language output never pays for the other language's texts.
    """
    token = _WANTED.set(("zh" in langs, "en" in langs))
    try:
        yield
    finally:
        _WANTED.reset(token)


def wanted() -> tuple[bool, bool]:
    """Whether Chinese and English reasons are being written (see :func:`writing`)."""
    return _WANTED.get()


def pair(zh: Callable[[], _T], en: Callable[[], _T]) -> tuple[_T | str, _T | str]:
    """``(zh(), en())``, with ``""`` in place of a language not being written (see :func:`writing`)."""
    want_zh, want_en = _WANTED.get()
    return (zh() if want_zh else ""), (en() if want_en else "")


def take_text(s: pd.Series, pos: np.ndarray | None, *, absent: str = "") -> pa.Array:
    """A text column (missing as '') at row positions ``pos`` (-1: ``absent``; None: every row), in Arrow.

    The values stay in Arrow (no Python string per row) and in pandas' layout (no cast of a long column).
    """
    arr = pa.array(s.array) if isinstance(s.dtype, pd.StringDtype) else pa.array(s.astype("string").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    if pos is None:
        return arr
    out = arr.take(pa.array(np.maximum(pos, 0), mask=pos < 0))
    return pc.fill_null(out, absent) if out.null_count else out


def vocab(codes: np.ndarray, strings: Sequence[str], *, large: bool = False) -> pa.Array:
    """Row ``i`` shows ``strings[codes[i]]`` (one ``take`` from a small dictionary).

    ``large``: 64-bit offsets, the layout a pandas text column keeps (no cast when it becomes one).
    """
    kind = pa.large_string() if large else pa.string()
    return pa.array(list(strings), kind).take(pa.array(np.asarray(codes, dtype=np.int32)))


def labels(values: np.ndarray, names: Sequence[str], shown: Sequence[str] | None = None) -> pa.Array:
    """Text of a small-vocabulary array: ``values`` equal to ``names[i]`` show ``shown[i]`` (others '').

    The result is a ``large_string`` array, ready to be a pandas column.
    """
    values = np.asarray(values)
    if values.dtype == np.dtype("<U1") and all(len(x) == 1 for x in names):
        # one-letter codes (grades): the letters' code points index a small table
        lut = np.full(max(ord(x) for x in names) + 2, len(names), dtype=np.int32)
        for i, name in enumerate(names):
            lut[ord(name)] = i
        codes = lut[np.minimum(values.view(np.uint32), len(lut) - 1)]
        return vocab(codes, [*(shown if shown is not None else names), ""], large=True)
    codes = np.full(len(values), len(names), dtype=np.int32)
    for i, name in enumerate(names):
        codes[values == name] = i
    return vocab(codes, [*(shown if shown is not None else names), ""], large=True)


def _merged(parts: Sequence[Text]) -> list[Text]:
    """``parts`` with adjacent constants merged and empty constants dropped (fewer pieces to join)."""
    out: list[Text] = []
    for p in parts:
        if isinstance(p, str):
            if p == "":
                continue
            if out and isinstance(out[-1], str):
                out[-1] = out[-1] + p
                continue
        out.append(p)
    return out


def cat(*parts: Text) -> Text:
    """Concatenate texts row by row."""
    merged = _merged(parts)
    if not merged:
        return ""
    if len(merged) == 1:
        return merged[0]
    return pc.binary_join_element_wise(*merged, "")


def where(mask: np.ndarray, a: Text, b: Text) -> Text:
    """``a`` where ``mask`` else ``b`` (no copy when the mask is all false or all true)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return b  # type: ignore[return-value]
    if m.all():
        return a  # type: ignore[return-value]
    if isinstance(a, str) and isinstance(b, str):
        return vocab(m.view(np.int8), [b, a])
    return pc.if_else(pa.array(m), a, b)


def select(conds: Sequence[np.ndarray], choices: Sequence[Text], default: Text) -> Text:
    """The choice of the first true condition, else ``default`` (like ``numpy.select``)."""
    if all(isinstance(c, str) for c in choices) and isinstance(default, str) and len(conds):
        codes = np.select([np.asarray(c, bool) for c in conds], list(range(len(conds))), len(conds))
        if (codes == codes[0]).all() if len(codes) else True:
            return ([*choices, default][int(codes[0])] if len(codes) else default)  # type: ignore[return-value]
        return vocab(codes, [*choices, default])  # type: ignore[list-item]
    out = default
    for c, ch in reversed(list(zip(conds, choices, strict=True))):
        out = where(c, ch, out)
    return out


def _lengths(t: pa.Array) -> np.ndarray:
    """Byte length of each string (from the offsets, no kernel call)."""
    off = np.frombuffer(t.buffers()[1], dtype=np.int32, count=len(t) + 1, offset=4 * t.offset)
    return np.diff(off)


def empty(t: Text, n: int) -> np.ndarray:
    """Rows where the text is empty (or null)."""
    if isinstance(t, str):
        return np.full(n, t == "")
    if t.type == pa.string() and t.null_count == 0:
        return _lengths(t) == 0
    if t.type == pa.string():
        return (_lengths(t) == 0) | ~t.is_valid().to_numpy(zero_copy_only=False)
    return pc.equal(t, "").to_numpy(zero_copy_only=False)


def with_valid(t: pa.Array, valid: np.ndarray) -> pa.Array:
    """``t`` with rows outside ``valid`` marked null (the string data is shared, not copied)."""
    if t.type != pa.string():  # the buffers are rebuilt as 32-bit offsets below
        t = t.cast(pa.string())
    bits = np.packbits(np.concatenate([np.zeros(t.offset, bool), valid]), bitorder="little")
    return pa.Array.from_buffers(pa.string(), len(t), [pa.py_buffer(bits), *t.buffers()[1:]], offset=t.offset)


def join(parts: Sequence[Text], sep: str, *, n: int, unique: bool = False, head: str = "", tail: str = "") -> Text:
    """``head``, then texts joined row by row with ``sep``, skipping empty pieces (and repeated ones with
    ``unique``), then ``tail``.

    One ``binary_join_element_wise`` pass: empty (or repeated) pieces are marked null and skipped. The
    head and tail go onto the first and last pieces when those show on every row, so the long joined
    text is not copied again to add them.
    """
    live = [p for p in parts if not (isinstance(p, str) and p == "")]
    if unique:  # equal constants: the first one stands for all
        seen_s: set[str] = set()
        kept: list[Text] = []
        for p in live:
            if isinstance(p, str):
                if p in seen_s:
                    continue
                seen_s.add(p)
            kept.append(p)
        live = kept
    if not live:
        return head + tail
    if len(live) == 1:
        only = live[0]
        return cat(head, pc.fill_null(only, "") if not isinstance(only, str) and only.null_count else only, tail)
    arrays = [const(n, p) if isinstance(p, str) else p for p in live]
    valid = [~empty(a, n) for a in arrays]
    if unique:
        for i in range(1, len(arrays)):
            for j in range(i):
                both = valid[i] & valid[j]
                if both.any():
                    same = pc.fill_null(pc.equal(arrays[i], arrays[j]), False).to_numpy(zero_copy_only=False)
                    valid[i] = valid[i] & ~(both & same)
    head_done = tail_done = False
    if head and valid[0].all():
        arrays[0], head_done = cat(head, arrays[0]), True  # type: ignore[assignment]
    if tail and valid[-1].all():
        arrays[-1], tail_done = cat(arrays[-1], tail), True  # type: ignore[assignment]
    anything = np.logical_or.reduce(valid)
    pieces = [a if v.all() else with_valid(a, v) for a, v in zip(arrays, valid, strict=True)]
    if not anything.all():
        # Arrow drops rows whose pieces are all null (pyarrow 26): an empty, non-null piece keeps them.
        pieces.append(with_valid(const(n), ~anything))
    out = pc.binary_join_element_wise(*pieces, sep, null_handling="skip")
    if len(out) != n or out.null_count:  # the guard above failed: never hand back misaligned reasons
        raise RuntimeError(f"pyarrow joined {len(out)} of {n} rows ({out.null_count} null)")
    return cat("" if head_done else head, out, "" if tail_done else tail)


def glue(first: pa.Array, *rest: pa.Array | tuple[pa.Array, np.ndarray]) -> pa.Array:
    """Concatenate texts row by row in one pass; a ``(text, valid)`` piece is left out where not ``valid``.

    ``first`` is shown on every row (so no row has only left-out pieces, which Arrow would drop).
    """
    pieces = [first] + [p if not isinstance(p, tuple) else p[0] if p[1].all() else with_valid(*p) for p in rest]
    if len(pieces) == 1:
        return first
    return pc.binary_join_element_wise(*pieces, "", null_handling="skip")


def few_days(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Dates with few distinct values (thresholds) as codes into their ``YYYY-MM-DD`` texts."""
    v = np.asarray(values, dtype="datetime64[ns]")
    if len(v) and (v == v[0]).all():  # one threshold for every row (the usual case): no sort
        return np.zeros(len(v), dtype=np.int64), days(v[:1]).to_pylist()
    uniq, codes = np.unique(v, return_inverse=True)
    return codes.reshape(-1), days(uniq).to_pylist()


def fmt(values: np.ndarray, *, missing: str | None = "—") -> pa.Array:
    """Numbers at published precision: 0.62, 3, 24.097; missing as ``missing`` (None: left null)."""
    v = np.round(np.asarray(values, dtype="float64"), PER_MU_DECIMALS) + 0.0  # + 0.0 drops -0.0
    with np.errstate(invalid="ignore"):
        whole = bool(len(v)) and bool(np.all(np.isnan(v) | ((v == np.trunc(v)) & (np.abs(v) < _INT_FAST))))
    if whole:
        nan = np.isnan(v)
        arr = pa.array(np.where(nan, 0, v).astype(np.int64), mask=nan if nan.any() else None)
    else:
        arr = pa.array(v, from_pandas=True)
    out = pc.cast(arr, pa.string())
    return pc.fill_null(out, missing) if missing is not None and out.null_count else out


def fmt1(x: float) -> str:
    """One number as :func:`fmt` prints it."""
    return str(fmt(np.array([x]))[0].as_py())


def ints(values: np.ndarray) -> Text:
    """Whole numbers (years) as text; a single value for every row comes back as one ``str``."""
    v = np.asarray(values, dtype="int64")
    if len(v) == 0:
        return const(0)
    lo, hi = int(v.min()), int(v.max())
    if lo == hi:
        return str(lo)
    if hi - lo < 4096:  # years: a small vocabulary
        return vocab(v - lo, [str(y) for y in range(lo, hi + 1)])
    return pc.cast(pa.array(v), pa.string())


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

    Pieces must not share rows (a ``ValueError`` says so). Pieces are concatenated and put in row order with one ``take``, so each row's text is built once;
    a constant piece is stored once and taken by all its rows.
    """
    live = [(pos, t) for pos, t in segments if len(pos)]
    if len(live) == 1 and len(live[0][0]) == n and (n < 2 or (np.diff(live[0][0]) > 0).all()):
        t = live[0][1]  # one piece already in row order: nothing to move
        return const(n, t) if isinstance(t, str) else t
    if not live:
        return const(n)
    covered = np.zeros(n, bool)
    for pos, _ in live:
        covered[pos] = True
    if sum(len(pos) for pos, _ in live) != int(covered.sum()):
        raise ValueError("assemble: text pieces share rows; each row takes its text from one piece")
    order = np.empty(n, dtype=np.int64)
    arrays: list[pa.Array] = []
    base = 0
    for pos, t in live:
        if isinstance(t, str):
            arrays.append(pa.array([t], pa.string()))
            order[pos] = base
            base += 1
        else:
            arrays.append(t if t.type == pa.string() else t.cast(pa.string()))
            order[pos] = np.arange(base, base + len(pos))
            base += len(pos)
    if not covered.all():
        arrays.append(pa.array([""], pa.string()))
        order[~covered] = base
    return pa.concat_arrays(arrays).take(pa.array(order))


def pick(idx: np.ndarray, choice: np.ndarray, producers: Sequence[Callable[[np.ndarray], Text]]) -> pa.Array:
    """Per row of ``idx``, the text of producer ``choice`` (-1: empty); each producer sees only its rows."""
    local = np.arange(len(idx))
    return assemble(len(idx), [(local[choice == j], f(idx[choice == j])) for j, f in enumerate(producers)])

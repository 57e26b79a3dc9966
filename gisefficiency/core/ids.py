"""Text ids (parcel ids, USCCs) as integer codes, so joins run on int64 with numpy.

pandas 3 keeps text in Arrow-backed arrays; every ``reindex``/``join`` on such an index turns a
million ids into Python objects and hashes them again (about 1 s at 1M ids). The stages instead
code the ids once with pyarrow kernels and index numpy arrays by the codes.

Ids that all have one byte length (USCCs are 18 characters; cadastral codes usually share a length)
take a faster path: they are read in place from the Arrow buffer as fixed-width bytes, hashed to
64-bit integers and numbered by an integer hash table (2-3x faster than hashing text). Every id is
then compared byte by byte with the first id of its number, so a hash collision is never trusted:
the text path runs instead, and the codes are always exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["arrow_ids", "encode", "first_codes", "fixed_width", "fixed_width_codes", "hash64", "positions",
           "run_heads", "string_index"]


def arrow_ids(values: Any) -> pa.Array:
    """Ids as one pyarrow ``large_string`` array (nulls kept), without Python objects on the way."""
    arr = pa.array(values.array if isinstance(values, (pd.Series, pd.Index)) else values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def encode(*arrays: pa.Array) -> tuple[list[np.ndarray], pa.Array]:
    """Integer codes of text ids over several arrays at once, numbered in sorted id order (-1: missing).

    Codes ordered like the ids let every join, group and sort run on int64 with numpy and still give
    the rows in the order a sort on the text would. Each run of repeated ids is hashed once (a firm
    panel repeats each USCC once per year), an array that lines up with the previous one row by row
    costs one comparison (so list likely aligned arrays next to each other), and ids of one byte
    length are sorted with numpy instead of an Arrow text sort.

    Returns
    -------
    list of numpy.ndarray, pyarrow.Array
        One int64 code array per input, and the distinct ids in code order.
    """
    if not arrays:
        return [], pa.array([], pa.large_string())
    # Hash each run once: the rows of a run share the code of its first row.
    runs, heads_of = [], []
    for arr in arrays:
        heads = run_heads(arr)
        many = heads.sum() < 0.8 * len(arr)
        runs.append(np.cumsum(heads) - 1 if many else None)
        heads_of.append(arr.filter(pa.array(heads)) if many else arr)
    base = heads_of[0]
    base_codes = np.full(len(base), -1, dtype=np.int64)
    valid = pc.is_valid(base).to_numpy(zero_copy_only=False)
    base_codes[valid], ids = _distinct_sorted(base.filter(pa.array(valid)) if base.null_count else base)
    head_codes, unknown = [base_codes], [np.zeros(len(base), dtype=bool)]
    prev, prev_codes = base, base_codes
    for arr in heads_of[1:]:
        codes = np.full(len(arr), -1, dtype=np.int64)
        if len(arr) and len(arr) == len(prev):  # aligned rows copy the previous array's codes
            same = pc.fill_null(pc.equal(arr, prev), False).to_numpy(zero_copy_only=False)
            codes[same] = prev_codes[same]
        look = (codes < 0) & pc.is_valid(arr).to_numpy(zero_copy_only=False)
        if look.any():  # positions in the sorted distinct ids are the codes
            codes[look] = positions(arr.filter(pa.array(look)) if not look.all() else arr, ids)
        head_codes.append(codes)
        unknown.append(look & (codes < 0))
        prev, prev_codes = arr, codes
    if any(u.any() for u in unknown):
        # Ids absent from the first array: sort all distinct ids again and renumber.
        n_old = len(ids)
        union = pa.concat_arrays([ids, *[a.filter(pa.array(u)) for a, u in zip(heads_of, unknown, strict=True)
                                         if u.any()]])
        new_codes, ids = _distinct_sorted(union)
        remap = new_codes[:n_old]
        for arr, codes, u in zip(heads_of, head_codes, unknown, strict=True):
            known = codes >= 0
            codes[known] = remap[codes[known]]
            if u.any():
                codes[u] = positions(arr.filter(pa.array(u)), ids)
    out = [c if r is None else c[r] for c, r in zip(head_codes, runs, strict=True)]
    return out, ids


def run_heads(arr: pa.Array) -> np.ndarray:
    """True where a row starts a run of equal ids (a missing id always starts its own run)."""
    heads = np.ones(len(arr), dtype=bool)
    if len(arr) > 1:
        diff = pc.fill_null(pc.not_equal(arr.slice(1), arr.slice(0, len(arr) - 1)), True)
        heads[1:] = diff.to_numpy(zero_copy_only=False)
    return heads


def _distinct_sorted(arr: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Code of every row of ``arr`` (no nulls) in sorted order of the distinct ids, and those ids."""
    view = fixed_width(arr)
    if view is not None:
        # Equal-length byte strings compare in numpy as Arrow compares text: byte by byte.
        order = np.argsort(view)
        ranked = view[order]
        new = np.ones(len(order), dtype=bool)
        new[1:] = ranked[1:] != ranked[:-1]
        codes = np.empty(len(order), dtype=np.int64)
        codes[order] = np.cumsum(new) - 1
        distinct = np.ascontiguousarray(ranked[new])
        offsets = np.arange(len(distinct) + 1, dtype=np.int64) * view.dtype.itemsize
        ids = pa.Array.from_buffers(pa.large_string(), len(distinct), [None, pa.py_buffer(offsets),
                                                                         pa.py_buffer(distinct)])
        return codes, ids  # the sorted bytes are the ids: no take of the text
    enc = pc.dictionary_encode(arr)
    uniques = enc.dictionary
    order = pc.sort_indices(uniques).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)], uniques.take(pa.array(order))


def positions(values: Any, keys: Any) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (the first, if a key repeats); -1 where absent or missing."""
    values, keys = arrow_ids(values), arrow_ids(keys)
    kv, vv = fixed_width(keys), fixed_width(values)
    if kv is not None and vv is not None:
        if kv.dtype != vv.dtype:  # ids of different lengths never match
            return np.full(len(values), -1, dtype=np.int64)
        table = pd.Index(hash64(kv))
        if table.is_unique:
            pos = table.get_indexer(hash64(vv)).astype(np.int64, copy=False)
        else:
            codes, uniques = pd.factorize(table)
            first = np.full(len(uniques), len(codes), dtype=np.int64)
            np.minimum.at(first, codes, np.arange(len(codes), dtype=np.int64))
            at = pd.Index(uniques).get_indexer(hash64(vv))
            pos = np.where(at >= 0, first[at], -1)
        hit = pos >= 0
        if _same_bytes(kv[pos[hit]], vv[hit]):
            return pos
    at = pc.index_in(values, value_set=keys, skip_nulls=True)  # a missing id matches nothing
    return pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def first_codes(parts: list[pa.Array]) -> tuple[pa.Array, list[np.ndarray]]:
    """Codes of the ids of several ``large_string`` arrays in first-appearance order (as ``pandas.factorize``).

    Equal ids share a code across the arrays; missing ids are -1.

    Returns
    -------
    pyarrow.Array, list of numpy.ndarray
        The distinct ids in code order, and one int64 code array per input.
    """
    return _fixed_first_codes(parts) or _hashed_first_codes(parts)


def _hashed_first_codes(heads: list[pa.Array]) -> tuple[pa.Array, list[np.ndarray]]:
    """First-appearance codes of the ids of several arrays by Arrow's hash kernel."""
    # A chunked array is encoded against one dictionary: no copy of the ids into one array.
    enc = pc.dictionary_encode(pa.chunked_array(heads, type=pa.large_string()))
    raw = np.concatenate([np.zeros(0, dtype=np.int64)] + [
        pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) for chunk in enc.chunks])
    dictionary = enc.chunks[-1].dictionary if enc.num_chunks else pa.array([], pa.large_string())
    return dictionary, np.split(raw, np.cumsum([len(h) for h in heads])[:-1])


def _fixed_first_codes(heads: list[pa.Array]) -> tuple[pa.Array, list[np.ndarray]] | None:
    """:func:`_hashed_first_codes` for ids that all have one byte length (USCCs, most parcel ids), else None.

    The numbering is :func:`fixed_width_codes` (first appearance, every match checked byte by byte);
    missing ids stay -1.
    """
    valid = [h.drop_null() if h.null_count else h for h in heads]
    fast = fixed_width_codes(valid)
    if fast is None:
        return None
    codes, first = fast
    dictionary = pa.chunked_array(valid, type=pa.large_string()).take(pa.array(first)).combine_chunks()
    bounds = np.cumsum([0] + [len(v) for v in valid])
    out = []
    for i, h in enumerate(heads):
        own = codes[bounds[i]:bounds[i + 1]]
        if h.null_count:
            full = np.full(len(h), -1, dtype=np.int64)
            full[h.is_valid().to_numpy(zero_copy_only=False)] = own
            own = full
        out.append(own)
    return dictionary, out


def fixed_width(arr: pa.Array) -> np.ndarray | None:
    """The ids as a numpy ``S<width>`` view without a copy, if all have one byte length and none is missing."""
    if arr.null_count or len(arr) == 0 or not pa.types.is_large_string(arr.type):
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=len(arr) + 1, offset=8 * arr.offset)
    width = int(offsets[1] - offsets[0])
    if width == 0 or int(offsets[-1] - offsets[0]) != width * len(arr) or (np.diff(offsets) != width).any():
        return None
    return np.frombuffer(arr.buffers()[2], dtype=f"S{width}", count=len(arr), offset=int(offsets[0]))


def hash64(view: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each fixed-width id (equal ids, equal hashes; callers check every match)."""
    width = view.dtype.itemsize
    n_words = -(-width // 8)
    buf = np.zeros((len(view), n_words * 8), dtype=np.uint8)
    buf[:, :width] = view.view(np.uint8).reshape(len(view), width)
    words = buf.view(np.uint64)
    h = np.full(len(view), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for j in range(n_words):  # splitmix64-style mixing, word by word
        h ^= words[:, j]
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


def fixed_width_codes(parts: list[pa.Array]) -> tuple[np.ndarray, np.ndarray] | None:
    """First-appearance codes of the ids of ``parts`` taken together (as ``pandas.factorize``), or None.

    None when the fast path does not apply: a missing id, ids of different byte lengths, or a hash
    collision (then the caller hashes the text).

    Returns
    -------
    numpy.ndarray, numpy.ndarray
        One int64 code per id (all parts concatenated; equal ids, equal codes), and the row of the
        first id of each code.
    """
    views = [fixed_width(arrow_ids(p)) for p in parts if len(p)]
    if not views or any(v is None for v in views) or len({v.dtype for v in views}) != 1:  # type: ignore[union-attr]
        return None
    ids = np.concatenate(views)  # type: ignore[arg-type]
    codes, _ = pd.factorize(hash64(ids).view(np.int64))
    codes = codes.astype(np.int64, copy=False)
    # Codes follow first appearance, so an id is the first of its code where the running maximum grows.
    top = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.r_[True, top[1:] > top[:-1]])
    if not _same_bytes(ids, ids[first[codes]]):
        return None
    return codes, first


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two fixed-width byte arrays are equal byte for byte (numpy's ``S`` comparison ignores
    trailing NUL bytes)."""
    width = a.dtype.itemsize
    return bool(np.array_equal(a.view(np.uint8).reshape(-1, width), b.view(np.uint8).reshape(-1, width)))


def string_index(ids: pa.Array, codes: np.ndarray, *, dtype: Any = "string") -> pd.Index:
    """The text ids of ``codes`` as a pandas string Index."""
    return pd.Index(pd.array(ids.take(pa.array(codes)).cast(pa.string()), dtype=dtype))

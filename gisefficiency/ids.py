"""Text ids (parcel ids, USCCs) as integer codes, so joins run on int64 with numpy.

pandas 3 keeps text in Arrow-backed arrays; every ``reindex``/``join`` on such an index turns a
million ids into Python objects and hashes them again (about 1 s at 1M ids). The stages instead
code the ids once with pyarrow kernels and index numpy arrays by the codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["arrow_ids", "encode", "positions", "string_index"]


def arrow_ids(values: Any) -> pa.Array:
    """Ids as one pyarrow ``large_string`` array (nulls kept), without Python objects on the way."""
    arr = pa.array(values.array if isinstance(values, (pd.Series, pd.Index)) else values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def encode(*arrays: pa.Array) -> tuple[list[np.ndarray], pa.Array]:
    """Integer codes of text ids over several arrays at once, numbered in sorted id order (-1: missing).

    Codes ordered like the ids let every join, group and sort run on int64 with numpy and still give
    the rows in the order a sort on the text would.

    Returns
    -------
    list of numpy.ndarray, pyarrow.Array
        One int64 code array per input, and the distinct ids in code order.
    """
    enc = pc.dictionary_encode(pa.concat_arrays(list(arrays)))
    uniques = enc.dictionary
    order = pc.sort_indices(uniques).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    raw = enc.indices
    codes = rank[pc.fill_null(raw, 0).to_numpy(zero_copy_only=False).astype(np.int64)] if len(raw) else \
        np.zeros(0, np.int64)
    if raw.null_count:
        codes[raw.is_null().to_numpy(zero_copy_only=False)] = -1
    out, at = [], 0
    for a in arrays:
        out.append(codes[at:at + len(a)])
        at += len(a)
    return out, uniques.take(pa.array(order))


def positions(values: Any, keys: Any) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (the first, if a key repeats); -1 where absent."""
    at = pc.index_in(arrow_ids(values), value_set=arrow_ids(keys))
    return pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def string_index(ids: pa.Array, codes: np.ndarray, *, dtype: Any = "string") -> pd.Index:
    """The text ids of ``codes`` as a pandas string Index."""
    return pd.Index(pd.array(ids.take(pa.array(codes)).cast(pa.string()), dtype=dtype))

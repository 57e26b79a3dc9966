"""Fast kernels of the metrics stage: grouped sums on integer codes, and frame helpers.

They reproduce pandas exactly (bit for bit), so the stage's outputs do not change:

- :func:`group_sum` gives pandas' ``groupby(...).sum(min_count=1)`` (a compensated sum per group, in row
  order) from ``np.bincount``, recomputing only the groups of three or more values with the compensation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.ids import fixed_width, string_index

__all__ = [
    "apportioned_sums", "floats", "group_sum", "min_count_sum", "multi_index", "needs_kahan", "pandas_sum", "plain_sum",
    "sorted_rank", "sorted_sums", "take_rows", "text_sorted",
]


def group_sum(keys: np.ndarray, values: np.ndarray, n: int, *, min_count: int = 1) -> np.ndarray:
    """Sum of ``values`` per key, bit for bit as pandas' grouped ``sum(min_count=...)`` (its Cython kernel).

    pandas 3.1 takes that kernel unless the keys are sorted and the whole float block has no NaN
    (then it uses ``np.add.reduceat``, see :func:`plain_sum`). It adds a group's values in row order from 0.0 with Kahan compensation; the compensation
    only changes the third and later additions, so ``np.bincount`` (plain sums in row order) is exact
    for groups of up to two values, and only larger groups are summed again with the compensation.

    Parameters
    ----------
    keys
        Group (0 .. n-1) of each row.
    values
        Float values of each row (NaN: missing, skipped).
    n
        Number of groups.
    min_count
        Groups with fewer values are NaN (pandas' ``min_count``; 0 gives 0.0 for them).
    """
    ok = ~np.isnan(values)
    counts = np.bincount(keys, weights=ok, minlength=n)
    # NaN as 0.0 adds nothing: a sum from +0.0 is never -0.0, and x + 0.0 == x otherwise
    plain = np.where(ok, values, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.bincount(keys, weights=plain, minlength=n)
    del plain
    big = np.flatnonzero(counts > 2)
    if len(big):
        total[big] = _kahan(keys, values, ok, big, n)
    if min_count > 0:
        total[counts < min_count] = np.nan
    return total


def plain_sum(keys: np.ndarray, block: np.ndarray, n: int, *, min_count: int = 1) -> np.ndarray:
    """pandas' grouped sum of values (or a float block, columns x rows) with sorted keys and no NaN.

    pandas 3.1 then sums with ``np.add.reduceat`` (plain sums, the first value without adding it to 0.0).
    """
    out = np.zeros((*block.shape[:-1], n))
    if len(keys):
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        with np.errstate(invalid="ignore", over="ignore"):
            out[..., keys[starts]] = np.add.reduceat(block, starts, axis=-1)
    if min_count > 0:
        out[..., np.bincount(keys, minlength=n) < min_count] = np.nan
    return out


def needs_kahan(keys: np.ndarray, has_nan: bool) -> bool:
    """True when pandas sums groups with its compensated kernel: unsorted keys or some NaN in the block."""
    return has_nan or bool(len(keys) and (keys[1:] < keys[:-1]).any())


def pandas_sum(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """``pd.Series(values).groupby(keys).sum(min_count=1)`` per key ``0..n-1``, bit for bit.

    pandas picks its kernel from the whole column, so one NaN in any group makes every group's sum
    compensated: :func:`plain_sum` or :func:`group_sum` is chosen here the same way.
    """
    if needs_kahan(keys, bool(np.isnan(values).any())):
        return group_sum(keys, values, n)
    return plain_sum(keys, values, n)


def _kahan(keys: np.ndarray, values: np.ndarray, ok: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """pandas' compensated sum of the non-missing values of ``groups``, in row order within each group."""
    member = np.zeros(n, dtype=bool)
    member[groups] = True
    rows = np.flatnonzero(member[keys] & ok)
    rows = rows[np.argsort(keys[rows], kind="stable")]  # by group, row order kept within a group
    k = keys[rows]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return _kahan_runs(values[rows], starts, np.diff(np.r_[starts, len(rows)]))


def take_rows(col: pd.Series, rows: np.ndarray, *, few_values: bool = False) -> Any:
    """``col.array.take(rows)``, faster for Arrow text: no copy of the whole column on the way.

    ``few_values``: the column holds a handful of distinct texts (scale, industry code); taking their
    codes and then the texts reads a small dictionary instead of the whole column at random.
    """
    arr = col.array
    if isinstance(arr, pd.arrays.BooleanArray):  # its values and mask, taken by numpy without checks
        return pd.arrays.BooleanArray(arr._data[rows], arr._mask[rows])
    chunked = getattr(arr, "_pa_array", None)
    if not isinstance(col.dtype, pd.StringDtype) or not isinstance(chunked, pa.ChunkedArray) \
            or chunked.num_chunks != 1:
        return arr.take(rows)
    values = chunked.chunk(0)
    if few_values:
        enc = pc.dictionary_encode(values)
        if len(enc.dictionary) * 8 < len(values):
            codes = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy(zero_copy_only=False)
            texts = pa.concat_arrays([enc.dictionary, pa.nulls(1, enc.dictionary.type)])
            return col.dtype.__from_arrow__(texts.take(pa.array(codes[rows])))
    return col.dtype.__from_arrow__(values.take(pa.array(rows)))


def floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 (NaN missing); a float64 column is read without a copy."""
    col = frame[column]
    if col.dtype == np.float64:
        return col.to_numpy()
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def multi_index(ids: pa.Array, codes: np.ndarray, years: np.ndarray, y_codes: np.ndarray, names: list[str],
                 dtype: Any = "string") -> pd.MultiIndex:
    """MultiIndex ``(id, year)`` straight from integer codes (ids sorted, as ``from_arrays`` would level them)."""
    present = np.zeros(len(ids), dtype=bool)
    present[codes] = True
    new = np.cumsum(present) - 1
    y_present = np.zeros(len(years), dtype=bool)
    y_present[y_codes] = True
    y_new = np.cumsum(y_present) - 1
    if present.all():  # every id has rows (each firm its own unit): no take of the text
        level = pd.Index(pd.array(ids.cast(pa.string()), dtype=dtype))
    else:
        level = string_index(ids, np.flatnonzero(present), dtype=dtype)
    return pd.MultiIndex(levels=[level, pd.Index(years[y_present])], codes=[new[codes], y_new[y_codes]],
                         names=names, verify_integrity=False)


def min_count_sum(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Plain sum per key in row order with ``min_count=1`` (a key whose values are all missing stays NaN)."""
    ok = ~np.isnan(values)
    # NaN as 0.0 adds nothing: a sum from +0.0 is never -0.0, and x + 0.0 == x otherwise
    # astype: numpy gives int64 for an empty bincount even with float weights
    tot = np.bincount(keys, weights=np.where(ok, values, 0.0), minlength=n).astype(np.float64, copy=False)
    tot[np.bincount(keys, minlength=n, weights=ok) == 0] = np.nan
    return tot


def sorted_sums(values: np.ndarray, order: np.ndarray, group: np.ndarray, starts: np.ndarray,
                 out: np.ndarray) -> None:
    """:func:`min_count_sum` of ``values[order]`` by ``group`` (sorted, starting at ``starts``) into ``out``."""
    if len(starts) == len(order):  # one row per group: its sum is 0.0 + the value (NaN stays NaN)
        np.take(values, order, out=out)
        out += 0.0  # turns -0.0 into 0.0 as the sum from 0.0 does
        return
    v = values[order]
    nan = np.isnan(v)
    v[nan] = 0.0
    out[:] = np.bincount(group, weights=v, minlength=len(out))
    if len(starts):
        out[np.logical_and.reduceat(nan, starts)] = np.nan


def sorted_rank(ids: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Rank of each of the distinct ``ids`` (``large_string``, none missing) in sorted order, and the ids
    in that order: the codes and ids ``ids.encode`` gives, without hashing them again.

    Text sorts byte by byte (as Arrow and numpy compare it). Ids of one byte length are read as
    big-endian 64-bit words, which compare as their bytes do: one integer sort of the first word that
    differs between ids usually orders them (USCCs share their region prefix), else all words decide.
    """
    view = fixed_width(ids)
    if view is None:
        order = pc.sort_indices(ids).to_numpy(zero_copy_only=False)
    else:
        width = view.dtype.itemsize
        n_words = -(-width // 8)
        buf = np.zeros((len(view), n_words * 8), dtype=np.uint8)
        buf[:, :width] = view.view(np.uint8).reshape(len(view), width)
        words = buf.view(">u8")
        del buf
        lead = next((j for j in range(n_words) if (words[:, j] != words[0, j]).any()), n_words - 1)
        order = np.argsort(words[:, lead].astype(np.uint64))
        ranked = words[order, lead]
        if (ranked[1:] == ranked[:-1]).any():  # ties in that word: sort by all the words that follow
            order = np.lexsort([words[:, j].astype(np.uint64) for j in range(n_words - 1, lead - 1, -1)])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank, ids.take(pa.array(order))


def text_sorted(ids: pa.Array) -> bool:
    """True when the ids never decrease (pandas then sums a grouped column plainly; nulls excluded)."""
    return len(ids) < 2 or bool(pc.all(pc.less_equal(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py())


def apportioned_sums(values: dict[str, np.ndarray], left: np.ndarray, frac: np.ndarray, group: np.ndarray,
                     rows: dict[str, np.ndarray]) -> None:
    """Per group, the sum of ``values[c][left] * frac`` for each column ``c``, into ``rows[c]``.

    Bit for bit as pandas' grouped ``sum(min_count=1)`` of the joined rows held as one float block.
    """
    n = len(rows["land_mu"])
    if not needs_kahan(group, False):  # pandas sums plainly only if no value of the whole block is NaN
        block = np.empty((len(values), len(left)))
        for b, v in zip(block, values.values(), strict=True):
            np.multiply(v[left], frac, out=b)
        if not np.isnan(block).any():
            for c, r in zip(values, plain_sum(group, block, n), strict=True):
                rows[c][:] = r
            return
        for c, b in zip(values, block, strict=True):
            rows[c][:] = group_sum(group, b, n)
        return
    # The join is the same for every column: split it once into groups of one row (most parcels and
    # years have one firm), whose sum from 0.0 is the value itself, and the rest, summed as pandas does.
    size = np.bincount(group, minlength=n)
    alone = size[group] == 1
    one = np.flatnonzero(alone)
    one_group, one_left, one_frac = group[one], left[one], frac[one]
    del one
    many = np.flatnonzero(~alone)
    del alone
    many = many[np.argsort(group[many], kind="stable")]  # by group, row order kept within a group
    many_group = group[many]
    starts = np.flatnonzero(np.r_[True, many_group[1:] != many_group[:-1]]) if len(many) else many
    many_left, many_frac, many_group = left[many], frac[many], many_group[starts]
    many_size = size[many_group]
    del many, size
    for c, v in values.items():
        out = rows[c]
        x = np.take(v, one_left)
        x *= one_frac
        x += 0.0  # turns -0.0 into 0.0 as the sum from 0.0 does; NaN (no value) stays NaN
        out[one_group] = x
        del x
        if len(starts):
            out[many_group] = _kahan_runs(v[many_left] * many_frac, starts, many_size)


def _kahan_runs(x: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """pandas' compensated ``sum(min_count=1)`` of each run ``x[start:start + size]``, skipping NaN.

    For runs with up to two values it equals the plain sum from 0.0 (the compensation only changes the
    third and later additions), so :func:`group_sum` and this agree bit for bit.
    """
    total = np.zeros(len(starts))
    comp = np.zeros(len(starts))
    seen = np.zeros(len(starts), dtype=bool)
    active = np.arange(len(starts))
    step = 0
    with np.errstate(invalid="ignore", over="ignore"):
        while len(active):  # one pass per position within a run: as many passes as the longest run
            v = x[starts[active] + step]
            ok = ~np.isnan(v)
            at, v = active[ok], v[ok]
            s = total[at]
            y = v - comp[at]
            t = s + y
            c = (t - s) - y
            c[~np.isfinite(c)] = 0.0  # pandas resets a non-finite compensation (sums reaching inf)
            total[at] = t
            comp[at] = c
            seen[at] = True
            step += 1
            active = active[sizes[active] > step]
    total[~seen] = np.nan
    return total


def divide(n: np.ndarray, d: np.ndarray, out: np.ndarray) -> None:
    """``n / d`` into ``out``; NaN where ``d`` is missing, zero or negative (NaN compares False)."""
    out.fill(np.nan)
    np.divide(n, d, out=out, where=d > 0)


def unit_of(fl_codes: np.ndarray, eval_codes: np.ndarray | None, n_ids: int) -> np.ndarray:
    """Unit code of every id code: its ``firm_links`` eval_id, else itself (firms the link stage never saw)."""
    unit = np.arange(n_ids, dtype=np.int64)
    if eval_codes is not None:
        known = eval_codes >= 0
        unit[fl_codes[known]] = eval_codes[known]
    return unit

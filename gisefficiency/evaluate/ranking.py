"""Numeric kernels of the scoring stage: tenants per unit, yearly group statistics, ranks within groups,
and the integer codes the reason texts are looked up by (combinations of remarks, pairs of pieces).

All run on integer codes with numpy; :mod:`gisefficiency.evaluate.scoring` turns their results into grades and
reasons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency.core.ids import arrow_ids, encode
from gisefficiency.core.text import vocab

__all__ = ["at_years", "by_year", "combos", "ranks", "renumber", "tail_pairs", "tenant_counts", "tenants_per_row"]

_MAX_PAIRS = 1 << 20  # largest table of (ranking, percent and class) pairs worth counting
_MAX_COMBOS = 1 << 20  # largest table of remark combinations before they are renumbered


def tenant_counts(links: Any) -> pd.Series:
    """Number of distinct tenants renting from each evaluated unit (index ``eval_id``).

    A leased share counts for the parcel's main owner (largest own share, then smallest USCC), the same
    owner the link stage merges tenants into; a tenant on two parcels of one owner counts once.
    """
    shares = links.shares
    own = shares["kind"].eq("own").to_numpy(bool)
    owners = (shares[own].sort_values(["parcel_id", "land_mu", "uscc"], ascending=[True, False, True])
              .drop_duplicates("parcel_id").set_index("parcel_id")["uscc"].astype("string"))
    leased = shares[~own]
    pairs = pd.DataFrame({"owner": leased["parcel_id"].map(owners).to_numpy(),
                          "tenant": leased["uscc"].astype("string").to_numpy()}).dropna()
    pairs = pairs[pairs["owner"] != pairs["tenant"]].drop_duplicates()
    fl = links.firm_links
    unit = pairs["owner"].map(fl["eval_id"].astype("string")).fillna(pairs["owner"]) if "eval_id" in fl \
        else pairs["owner"]
    return pd.Series(1, index=pairs.index).groupby(unit.to_numpy()).sum().astype("int64")


def tenants_per_row(links: Any, index: pd.MultiIndex) -> np.ndarray:
    """:func:`tenant_counts` of each row's unit (0 without tenants), on integer codes of the ids.

    Codes follow the sorted ids, so the main owner's tie on area goes to the smallest USCC, as in
    :func:`tenant_counts`; the panel's units are coded once per distinct unit, not per row.
    """
    sh, fl = links.shares, links.firm_links
    has_eval = "eval_id" in fl
    arrays = [arrow_ids(sh["uscc"]), arrow_ids(index.levels[0])]
    if has_eval:
        arrays += [arrow_ids(fl.index), arrow_ids(fl["eval_id"])]
    codes, ids = encode(*arrays)
    u, k = codes[0], len(ids) + 1
    (p,), parcels = encode(arrow_ids(sh["parcel_id"]))
    own = sh["kind"].eq("own").to_numpy(bool) & (p >= 0)
    land = pd.to_numeric(sh["land_mu"], errors="coerce").to_numpy(float)
    o = np.flatnonzero(own)
    # main owner: largest own share (missing area last), then smallest USCC (missing last)
    o = o[np.lexsort((np.where(u[o] < 0, k, u[o]), -land[o], p[o]))]
    first = np.r_[True, p[o][1:] != p[o][:-1]] if len(o) else np.zeros(0, bool)
    owner_of = np.full(len(parcels) + 1, -1)
    owner_of[p[o][first]] = u[o][first]
    leased = np.flatnonzero(~own & (p >= 0))
    owner, tenant = owner_of[p[leased]], u[leased]
    keep = (owner >= 0) & (tenant >= 0) & (owner != tenant)
    pair_owner = np.unique(owner[keep] * k + tenant[keep]) // k  # distinct (owner, tenant) pairs
    unit_of = np.arange(len(ids))
    if has_eval:
        known = codes[3] >= 0
        unit_of[codes[2][known]] = codes[3][known]  # firms without a unit are their own
    counts = np.bincount(unit_of[pair_owner], minlength=len(ids))
    return counts[codes[1]][index.codes[0]].astype(float)


def by_year(values: np.ndarray, years: np.ndarray, rows: np.ndarray, how: str) -> pd.Series:
    """Mean or sum (NaN if none) of ``values[rows]`` per year; index = every year from first to last."""
    y0 = int(years.min()) if len(years) else 0
    code = years - y0  # years are a short range of whole numbers: they are their own group codes
    span = int(code.max()) + 1 if len(years) else 0
    ok = rows & ~np.isnan(values)
    # weights of 0 leave the rows out without compacting them first (bincount sums from 0.0, so a
    # left-out row changes no total)
    cnt = np.bincount(code, weights=ok, minlength=span)
    tot = np.bincount(code, weights=np.where(ok, values, 0.0), minlength=span)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = tot / cnt if how == "mean" else np.where(cnt > 0, tot, np.nan)
    return pd.Series(np.where(cnt > 0, out, np.nan), index=np.arange(y0, y0 + span))


def at_years(stat: pd.Series, years: np.ndarray) -> np.ndarray:
    """``stat`` (indexed by consecutive years, as :func:`by_year` gives) for each row's year, NaN where absent."""
    if len(stat) == 0 or len(years) == 0:
        return np.full(len(years), np.nan)
    s0, lo, hi = int(stat.index[0]), int(years.min()), int(years.max())
    # a table over the rows' years (NaN outside ``stat``): one lookup per row, no masks
    table = np.full(hi - lo + 1, np.nan)
    a, b = max(lo, s0), min(hi, s0 + len(stat) - 1)
    if a <= b:
        table[a - lo:b - lo + 1] = stat.to_numpy(dtype=float)[a - s0:b - s0 + 1]
    return table[years - lo]


def ranks(score: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank within ``group`` by descending score (ties share the best rank), group sizes, group number.

    The same as pandas ``groupby(...).rank(method="min", ascending=False)`` for finite scores, on
    integer group codes with one sort.
    """
    m = len(score)
    # = np.lexsort((-score, group)) in two cheaper sorts: by score, then a stable (radix) sort of the
    # small group codes; the order among equal scores does not change ranks.
    order = np.argsort(-score)
    by_group = group[order]
    if m and by_group.min() >= 0 and by_group.max() < np.iinfo(np.int16).max:
        by_group = by_group.astype(np.int16)
    order = order[np.argsort(by_group, kind="stable")]
    g, s = group[order], score[order]
    pos = np.arange(m)
    new_group = np.r_[True, g[1:] != g[:-1]] if m else np.zeros(0, bool)
    new_run = new_group | np.r_[True, s[1:] != s[:-1]] if m else new_group
    start = np.maximum.accumulate(np.where(new_group, pos, 0))
    run = np.maximum.accumulate(np.where(new_run, pos, 0))
    number = np.cumsum(new_group) - 1
    sizes = np.bincount(number)
    rank, size, gnum = np.empty(m), np.empty(m), np.empty(m, dtype=np.int64)
    rank[order] = run - start + 1
    size[order] = sizes[number]
    gnum[order] = number
    return rank, size, gnum


def combos(bits: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Code of each row's combination of ``bits`` (0..k-1) and one row showing each combination."""
    code = np.zeros(n, dtype=np.int64)
    span = 1  # codes are below this
    for b in bits:
        np.multiply(code, 2, out=code)  # in place: one array for all the bits
        np.add(code, b, out=code)
        span *= 2
        if span > _MAX_COMBOS:
            code, span = renumber(code, span)
    code, span = renumber(code, span)
    first = np.full(span, -1)
    first[code[::-1]] = np.arange(n)[::-1]
    return code, first


def renumber(code: np.ndarray, span: int) -> tuple[np.ndarray, int]:
    """Codes below ``span`` renumbered 0..k-1 over the values that occur (a lookup table, no hashing)."""
    used = np.flatnonzero(np.bincount(code, minlength=span))
    lut = np.zeros(span, dtype=np.int64)
    lut[used] = np.arange(len(used))
    return lut[code], len(used)


def tail_pairs(at: np.ndarray, both: np.ndarray, n_words: int, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The (ranking words ``at``, percent and class ``both``) pairs that occur: each row's pair code and
    the pairs' two parts; None when the table of pairs would be too large (two lookups then)."""
    if n_words * k > _MAX_PAIRS:
        return None
    pair = at * k + both
    used = np.flatnonzero(np.bincount(pair, minlength=n_words * k))
    lut = np.zeros(n_words * k, dtype=np.int32)
    lut[used] = np.arange(len(used), dtype=np.int32)
    a, b = np.divmod(used, k)
    return lut[pair], a, b


def tails_text(at: np.ndarray, both: np.ndarray, words: list[str], pct: list[str],
               pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> list[pa.Array]:
    """The ranking's words and the percent with the class, in one language, as pieces.

    Usually one lookup of the pairs that occur (one piece, so the row's text is written in one pass
    less); two lookups when there are too many pairs.
    """
    if pairs is None:
        return [vocab(at, words), vocab(both, pct)]
    code, a, b = pairs
    return [vocab(code, [words[i] + pct[j] for i, j in zip(a, b, strict=True)])]

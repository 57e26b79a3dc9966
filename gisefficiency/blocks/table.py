"""The block table: sums, joined ids and streets per block, then compactness, priority and rank.

Split from :mod:`gisefficiency.blocks.find`, which finds the blocks; this module only describes them.
Sums are NaN-safe: a block whose parcels all lack a figure gets NaN, never 0.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from gisefficiency.core.ids import arrow_ids, encode

__all__ = ["BLOCK_COLUMNS", "FIRM_ID_COLUMNS", "attributes", "ranked"]

#: Firm id columns looked for, in this order (comma-joined USCCs, or a single holder USCC).
FIRM_ID_COLUMNS: tuple[str, ...] = ("firm_usccs", "firm_ids", "holder_uscc")

BLOCK_COLUMNS: tuple[str, ...] = (
    "area_mu", "n_parcels", "n_kept", "kept_mu", "n_firms", "firm_ids", "low_share", "tax",
    "value_added", "energy_tce", "tax_per_mu", "compactness", "streets", "freed_mu", "freed_tce",
    "tax_lost", "tax_at_target", "priority", "rank",
)


def _minmax(values: pd.Series) -> pd.Series:
    low, high = values.min(), values.max()
    if not np.isfinite(high - low) or high == low:
        # A constant criterion cannot order the blocks: every block gets the neutral 0.5.
        return values.where(values.isna(), 0.5)
    return (values - low) / (high - low)


def _sum(values: np.ndarray | None, by: np.ndarray, n: int) -> pd.Series:
    """NaN-safe sum of ``values`` per block ``0..n-1`` (NaN where a block has no figure)."""
    if values is None:
        return pd.Series(np.nan, index=range(n))
    return pd.Series(values).groupby(by).sum(min_count=1).reindex(range(n))


def _figures(parcels: pd.DataFrame, column: str, pos: np.ndarray) -> np.ndarray | None:
    """Column ``column`` of the rows ``pos`` as floats (non-numbers as NaN), or None if absent."""
    if column not in parcels.columns:
        return None
    values = parcels[column]
    if not pd.api.types.is_float_dtype(values.dtype):
        values = pd.to_numeric(values, errors="coerce")
    return values.to_numpy(dtype=float, na_value=np.nan)[pos]


def _joined(values: pd.Series, pos: np.ndarray, by: np.ndarray, n: int, *,
            split: bool) -> tuple[pd.Series, pd.Series]:
    """Sorted distinct comma-joined values of the rows ``pos`` per block ``by``, and their count.

    Text stays in Arrow: the values are split, trimmed and coded once (codes follow the sorted
    text), so that deduplication and ordering run on integers and the join is one Arrow kernel.
    """
    text = arrow_ids(values).take(pa.array(pos))
    row = np.arange(len(text))
    if split:
        lists = pc.split_pattern(text, ",")
        row = pc.list_parent_indices(lists).to_numpy()
        text = pc.list_flatten(lists)
    text = pc.utf8_trim_whitespace(text)
    ok = pc.fill_null(pc.greater(pc.utf8_length(text), 0), False)
    (codes,), uniques = encode(text.filter(ok))
    block = by[row[ok.to_numpy(zero_copy_only=False)]]
    # Distinct (block, value) pairs, ordered by block then by value (codes follow the text order).
    width = max(len(uniques), 1)
    key = np.sort(block.astype(np.int64) * width + codes)
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    block, codes = key // width, key % width
    count = np.bincount(block, minlength=n)
    offsets = np.r_[0, np.cumsum(count)].astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), uniques.take(pa.array(codes)))
    joined = pc.binary_join(lists, pa.scalar(",", pa.large_string()))
    # Blocks without any value get NA (not ""), and a NaN count.
    joined = pc.if_else(pa.array(count > 0), joined, pa.scalar(None, joined.type))
    out = pd.Series(pd.array(joined.cast(pa.string()), dtype="string"), index=range(n))
    return out, pd.Series(np.where(count > 0, count, np.nan), index=range(n))


def attributes(parcels, pos, block, n_low, n_blocks, target) -> pd.DataFrame:
    """The block table from the parcel figures, without the polygon-based columns (``_ranked``)."""
    role_low = np.arange(len(pos)) < n_low
    idx = range(n_blocks)
    land = parcels["land_mu"].to_numpy(dtype=float)[pos]
    out = pd.DataFrame(index=idx)
    out["area_mu"] = pd.Series(land).groupby(block).sum().reindex(idx)
    out["n_parcels"] = np.bincount(block[role_low], minlength=n_blocks)
    out["n_kept"] = np.bincount(block[~role_low], minlength=n_blocks)
    # float even without blocks (bincount of no rows gives int zeros): the blocks layer keeps its schema
    out["kept_mu"] = np.bincount(block[~role_low], weights=land[~role_low], minlength=n_blocks).astype(float)
    firm_col = next((c for c in FIRM_ID_COLUMNS if c in parcels.columns), None)
    if firm_col is not None:
        out["firm_ids"], count = _joined(parcels[firm_col], pos, block, n_blocks, split=firm_col != "holder_uscc")
        out["n_firms"] = count.fillna(0).astype("Int64")
    else:
        out["firm_ids"] = pd.Series(pd.NA, index=idx, dtype="string")
        n_firms = _sum(_figures(parcels, "n_firms", pos), block, n_blocks)
        out["n_firms"] = n_firms.round().astype("Int64")
    freed = pd.Series(land[role_low]).groupby(block[role_low]).sum().reindex(idx)
    out["low_share"] = freed / out["area_mu"]
    figures = {col: _figures(parcels, col, pos) for col in ("tax", "value_added", "energy_tce")}
    for col, values in figures.items():
        out[col] = _sum(values, block, n_blocks)
    out["tax_per_mu"] = out["tax"] / out["area_mu"]
    if "street" in parcels.columns:
        out["streets"] = _joined(parcels["street"], pos, block, n_blocks, split=False)[0]
    else:
        out["streets"] = pd.Series(pd.NA, index=idx, dtype="string")
    low = {col: None if values is None else values[role_low] for col, values in figures.items()}
    out["freed_mu"] = freed
    out["freed_tce"] = _sum(low["energy_tce"], block[role_low], n_blocks)
    out["tax_lost"] = _sum(low["tax"], block[role_low], n_blocks)
    out["tax_at_target"] = freed * (np.nan if target is None else float(target))
    return out


def ranked(out: pd.DataFrame, geometry: np.ndarray, crs, weights: dict[str, float]) -> gpd.GeoDataFrame:
    """The block table completed with its polygons: compactness, priority and rank."""
    n_blocks = len(out)
    idx = out.index
    area = shapely.area(geometry)
    perimeter = shapely.length(geometry)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["compactness"] = np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, np.nan)
    out["priority"] = _priority(out, weights)
    order = out["priority"].sort_values(ascending=False, kind="stable", na_position="last").index
    rank = pd.Series(np.arange(1, n_blocks + 1), index=order).reindex(idx)
    out["rank"] = rank.where(out["priority"].notna()).astype("Int64")
    out.index = pd.Index(np.arange(1, n_blocks + 1, dtype=np.int64), name="block_id")
    out = out[list(BLOCK_COLUMNS)]
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, index=out.index, crs=crs), crs=crs)


def _priority(table: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    criteria = {
        "freed_mu": _minmax(table["freed_mu"]),
        "low_tax_per_mu": 1.0 - _minmax(table["tax_per_mu"]),
        "compactness": _minmax(table["compactness"]),
        "low_share": _minmax(table["low_share"]),
    }
    score = pd.Series(0.0, index=table.index)
    for name, weight in weights.items():
        if weight > 0:
            # Missing input stays missing: a block with an unknown criterion has no priority.
            score = score + weight * criteria[name]
    return score


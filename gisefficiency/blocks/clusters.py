"""Statistical clusters of low (or high) per-mu efficiency beside the rule-based blocks.

Local Moran's I (``method="moran"``) labels each parcel ``"high-high"``, ``"low-low"``,
``"low-high"`` or ``"high-low"`` when significant; Getis-Ord Gi* (``method="gi"``) labels
``"hot"`` or ``"cold"``. Significance uses conditional permutations (``p_sim``, esda) corrected
for multiple testing with the Benjamini-Hochberg false discovery rate. Neighbours are the same
gap-tolerant adjacency as the blocks (``gisefficiency.blocks.adjacency``), row-standardised.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_array

from gisefficiency.blocks.adjacency import adjacency_pairs
from gisefficiency.core.errors import ConfigError, CRSError, InputError, Problem
from gisefficiency.core.progress import Advance, quiet

METHODS: tuple[str, ...] = ("moran", "gi")

#: esda quadrant code -> label (1 HH, 2 LH, 3 LL, 4 HL).
MORAN_LABELS: dict[int, str] = {1: "high-high", 2: "low-high", 3: "low-low", 4: "high-low"}

#: Labels that mean "a cluster of low values" per method (used to compare with blocks).
LOW_LABELS: dict[str, str] = {"moran": "low-low", "gi": "cold"}

#: zh labels of the cluster categories (maps and reports read them from here).
CLUSTER_LABELS_ZH: dict[str, str] = {
    "high-high": "高-高聚集", "low-low": "低-低聚集", "low-high": "低-高异常", "high-low": "高-低异常",
    "hot": "热点", "cold": "冷点", "ns": "不显著", "missing": "缺少数据",
}


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN and is not counted.

    ``q_(i) = min_{j >= i} p_(j) * m / j`` over the ``m`` finite p-values sorted ascending, capped at 1.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.nonzero(np.isfinite(p))[0]
    m = len(finite)
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return out


def local_clusters(
    parcels: gpd.GeoDataFrame,
    *,
    column: str = "tax_per_mu",
    method: Literal["moran", "gi"] = "moran",
    gap_m: float = 30.0,
    permutations: int = 999,
    fdr: float = 0.05,
    seed: int = 12345,
    progress: Advance = quiet,
) -> pd.DataFrame:
    """Local spatial clusters of a per-parcel value.

    Parameters
    ----------
    parcels
        Parcels (index ``parcel_id``, projected CRS in metres) with ``column``.
    column
        Value to test, e.g. ``tax_per_mu`` (万元/亩).
    method
        ``"moran"`` (Local Moran's I) or ``"gi"`` (Getis-Ord Gi*, the parcel counted in its own
        neighbourhood).
    gap_m
        Neighbours touch or lie within ``gap_m`` metres.
    permutations
        Conditional permutations for ``p_sim``.
    fdr
        False discovery rate for the Benjamini-Hochberg correction.
    seed
        Random seed: the same seed gives the same result.
    progress
        ``progress(done, total)``: parcels tested so far (see :mod:`gisefficiency.core.progress`).

    Returns
    -------
    DataFrame
        Index ``parcel_id`` (every input row): ``value``, ``stat`` (local I or Gi* z-score),
        ``p_sim``, ``q`` (Moran quadrant 1 HH, 2 LH, 3 LL, 4 HL; NA for Gi*), ``p_fdr``
        (BH-adjusted), ``significant`` (``p_fdr <= fdr``), ``n_neighbours`` and ``cluster``:
        a label of ``MORAN_LABELS`` / ``"hot"`` / ``"cold"``, ``"ns"`` (not significant or no
        neighbour) or ``"missing"`` (no value or geometry: left out of the weights).
    """
    import esda
    from libpysal.graph import Graph

    _check(parcels, column, method, gap_m, permutations, fdr)
    values = pd.to_numeric(parcels[column], errors="coerce").astype(float).to_numpy()
    geom = np.asarray(parcels.geometry.array, dtype=object)
    ok = np.isfinite(values) & ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    pos = np.nonzero(ok)[0]
    n = len(pos)

    out = pd.DataFrame(
        {
            "value": values,
            "stat": np.nan,
            "p_sim": np.nan,
            "q": pd.array([pd.NA] * len(values), dtype="Int64"),
            "p_fdr": np.nan,
            "significant": False,
            "n_neighbours": pd.array([pd.NA] * len(values), dtype="Int64"),
            "cluster": pd.array(np.where(ok, "ns", "missing"), dtype="string"),
        },
        index=parcels.index.copy(),
    )
    if n < 3:
        return out

    i, j = adjacency_pairs(geom[pos], gap_m=gap_m)
    degree = np.bincount(np.r_[i, j], minlength=n)
    # Binary symmetric weights with ids 0..n-1 in row order; esda row-standardises them itself
    # (and adds the parcel's own weight for Gi*). Isolates become zero-weight self-loops.
    adjacency = coo_array((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    graph = Graph.from_sparse(adjacency, ids=np.arange(n))
    y = values[pos]
    with warnings.catch_warnings():
        # esda announces a future change of its default alternative; the current one is used here.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="esda")
        progress(0, n)
        local = _local(esda, method, y, graph, permutations, seed)
        progress(n, n)
    if method == "moran":
        stat, quad = np.asarray(local.Is, dtype=float), np.asarray(local.q, dtype=int)
    else:
        stat, quad = np.asarray(local.Zs, dtype=float), None
    p_sim = np.asarray(local.p_sim, dtype=float).copy()
    p_sim[degree == 0] = np.nan  # no neighbourhood, no test
    p_fdr = bh_adjust(p_sim)
    significant = p_fdr <= fdr
    if method == "moran":
        label = np.where(significant, pd.Series(quad).map(MORAN_LABELS).to_numpy(), "ns")
        out.iloc[pos, out.columns.get_loc("q")] = quad
    else:
        label = np.where(significant, np.where(stat > 0, "hot", "cold"), "ns")
    out.iloc[pos, out.columns.get_loc("stat")] = stat
    out.iloc[pos, out.columns.get_loc("p_sim")] = p_sim
    out.iloc[pos, out.columns.get_loc("p_fdr")] = p_fdr
    out.iloc[pos, out.columns.get_loc("significant")] = significant
    out.iloc[pos, out.columns.get_loc("n_neighbours")] = degree
    out.iloc[pos, out.columns.get_loc("cluster")] = label
    return out


def _local(esda: Any, method: str, y: np.ndarray, graph: Any, permutations: int, seed: int) -> Any:
    if method == "moran":
        return esda.Moran_Local(y, graph, transformation="r", permutations=permutations, seed=seed,
                                n_jobs=1, keep_simulations=False)
    return esda.G_Local(y, graph, transform="R", permutations=permutations, star=1.0, seed=seed,
                        n_jobs=1, keep_simulations=False)


def _check(parcels, column, method, gap_m, permutations, fdr) -> None:
    bad = []
    if method not in METHODS:
        bad.append(f"method={method!r} must be one of {', '.join(METHODS)}")
    if not (np.isfinite(gap_m) and gap_m >= 0):
        bad.append(f"gap_m={gap_m!r} must be >= 0 metres")
    if int(permutations) != permutations or permutations < 99:
        bad.append(f"permutations={permutations!r} must be an integer >= 99 (e.g. 999)")
    if not (0 < fdr < 1):
        bad.append(f"fdr={fdr!r} must be in (0, 1), e.g. 0.05")
    if bad:
        raise ConfigError("local_clusters: " + "; ".join(bad))
    if parcels.crs is None or not parcels.crs.is_projected:
        raise CRSError(f"local_clusters: parcels must be in a projected CRS in metres, got {parcels.crs!r}",
                       [Problem("neighbour gaps need metres", fix="reproject, e.g. parcels.to_crs('EPSG:4549')")])
    if column not in parcels.columns:
        raise InputError("local_clusters: parcels cannot be used", [
            Problem(f"column {column!r} is missing", column=column,
                    fix="run metrics/assemble first or pass column=<a numeric column>")])
    if parcels.index.has_duplicates:
        raise InputError("local_clusters: parcel ids repeat", [
            Problem("duplicated parcel ids", column="parcel_id", fix="resolve duplicates with land.prepare_parcels")])


def compare_with_blocks(clusters: pd.DataFrame, membership: pd.DataFrame) -> dict[str, Any]:
    """Agreement between statistical low clusters and rule-based blocks.

    Parameters
    ----------
    clusters
        ``local_clusters`` output.
    membership
        ``Blocks.membership`` (index ``parcel_id``); block parcels are those with role ``"low"``.

    Returns
    -------
    dict
        ``n_parcels`` compared (parcels in both frames with a cluster label other than
        ``"missing"``), ``n_block_parcels``, ``n_low_cluster``, ``n_both``,
        ``share_blocks_in_low_clusters`` (block parcels labelled low-low / cold),
        ``share_low_clusters_in_blocks``, ``jaccard`` (|A∩B| / |A∪B|) and ``kappa`` (Cohen's
        kappa of the two yes/no classifications). Undefined ratios are NaN.
    """
    labels = clusters["cluster"].astype("string")
    low_label = "cold" if labels.isin(["hot", "cold"]).any() else "low-low"
    common = clusters.index[labels.ne("missing").fillna(False).to_numpy()].intersection(membership.index)
    in_block = membership.loc[common, "block_role"].astype("string").eq("low").fillna(False).to_numpy(dtype=bool)
    in_low = labels.loc[common].eq(low_label).fillna(False).to_numpy(dtype=bool)
    n = len(common)
    both = int((in_block & in_low).sum())
    either = int((in_block | in_low).sum())

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b else float("nan")

    observed = ratio(int((in_block == in_low).sum()), n)
    expected = ratio(in_block.sum() * in_low.sum() + (~in_block).sum() * (~in_low).sum(), n * n)
    kappa = ratio(observed - expected, 1.0 - expected) if n and expected != 1.0 else float("nan")
    return {
        "n_parcels": n,
        "n_block_parcels": int(in_block.sum()),
        "n_low_cluster": int(in_low.sum()),
        "n_both": both,
        "low_label": low_label,
        "share_blocks_in_low_clusters": ratio(both, int(in_block.sum())),
        "share_low_clusters_in_blocks": ratio(both, int(in_low.sum())),
        "jaccard": ratio(both, either),
        "kappa": kappa,
    }


def cluster_label(label: str, lang: str = "zh", labels: Mapping[str, str] = CLUSTER_LABELS_ZH) -> str:
    """Display label of a cluster category (zh by default; en returns the category itself)."""
    return labels.get(label, label) if lang == "zh" else label

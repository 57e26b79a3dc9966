"""Statistical clusters of low (or high) per-mu efficiency beside the rule-based blocks.

Local Moran's I (``method="moran"``) labels each parcel ``"high-high"``, ``"low-low"``,
``"low-high"`` or ``"high-low"`` when significant; Getis-Ord Gi* (``method="gi"``) labels
``"hot"`` or ``"cold"``. The statistics are esda's (``Moran_Local``, ``G_Local(star=True)``);
significance uses esda's conditional permutations (``p_sim``), computed here for all parcels at once
in numpy (:func:`_permutation_p`, about ten times less work than esda without numba at 100k parcels),
corrected for multiple testing with the Benjamini-Hochberg false discovery rate. Neighbours are the
same gap-tolerant adjacency as the blocks (``gisefficiency.blocks.adjacency``), row-standardised.

A pseudo p-value cannot go below ``1 / (permutations + 1)``: with few permutations and thousands of
parcels the FDR cut-off may sit right at that floor, and the number of significant parcels then jumps
with the seed (esda's own labels too). More permutations move the floor away from the cut-off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

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
    # Binary symmetric neighbours with ids 0..n-1 in row order, row-standardised below.
    neighbours = coo_array((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    neighbours.sum_duplicates()
    degree = np.diff(neighbours.indptr)
    y = values[pos]
    if method == "moran":
        stat, quad, random_stat = _moran(y, neighbours, degree)
    else:
        stat, quad, random_stat = _gi_star(y, neighbours, degree)
    p_sim = _permutation_p(random_stat, degree, permutations=permutations, seed=seed, progress=progress)
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


class _RandomStat(NamedTuple):
    """A local statistic under conditional permutation, as a function of the random neighbours' sum.

    Site ``i`` with random neighbour values summing to ``S`` (from ``values``, the site itself left out)
    gets the statistic ``scale[i] * S + shift[i]``, compared with ``observed[i]``.
    """

    values: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    observed: np.ndarray


def _moran(y: np.ndarray, neighbours: Any, degree: np.ndarray) -> tuple[np.ndarray, np.ndarray, _RandomStat]:
    """Local Moran's I as esda's ``Moran_Local(transformation="r")``: ``Is``, quadrants and the permutation form.

    ``z`` is ``y`` standardised (population standard deviation), the lag the row-standardised mean of
    the neighbours' ``z``, ``I_i = (n - 1) z_i lag_i / Σ z²``.
    """
    n = len(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (y - y.mean()) / y.std()
        weight = np.where(degree > 0, 1.0 / degree, 0.0)
        lag = (neighbours @ z) * weight
        den = (z * z).sum()
        stat = (n - 1) * z * lag / den
        scale = z * weight * ((n - 1) / den)
    zp, lp = z > 0, lag > 0
    quad = np.select([zp & lp, ~zp & lp, ~zp & ~lp], [1, 2, 3], 4)
    return stat, quad, _RandomStat(z, scale, np.zeros(n), stat)


def _gi_star(y: np.ndarray, neighbours: Any, degree: np.ndarray) -> tuple[np.ndarray, None, _RandomStat]:
    """Getis-Ord Gi* as esda's ``G_Local(transform="R", star=1.0)``: the z-score and the permutation form.

    The parcel counts in its own neighbourhood: row-standardised weights ``1 / (k + 1)`` over itself and
    its ``k`` neighbours, ``G_i = Σ w_ij y_j / Σ y``; the z-score uses the analytical mean ``1 / n`` and
    variance of esda.
    """
    n = len(y)
    total = y.sum()
    weight = 1.0 / (degree + 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = ((neighbours @ y) + y) * weight / total
        mean = total / n
        variance = (y**2).sum() / n - mean**2
        # Row sums of row-standardised weights are 1: expected value 1/n and variance (1/n²) var/mean².
        expected_variance = variance / (n * mean) ** 2
        z_score = (g - 1.0 / n) / np.sqrt(expected_variance)
    return z_score, None, _RandomStat(y, weight / total, y * weight / total, g)


def random_ids(n: int, k: int, *, permutations: int, seed: int) -> np.ndarray:
    """The table of random neighbour ids: ``permutations`` rows of ``k`` distinct ids in ``0 .. n - 2``.

    numpy's ``Generator`` (PCG64) draws the same table for the same seed on every machine.
    """
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(n - 1, size=k, replace=False) for _ in range(permutations)])


#: Permutations handled per numpy pass: bounds the memory of the (permutations × parcels) sums.
_PERMUTATION_BLOCK: int = 32


def _permutation_p(
    form: _RandomStat, degree: np.ndarray, *, permutations: int, seed: int, progress: Advance = quiet
) -> np.ndarray:
    """Pseudo p-values of conditional permutations, esda's scheme vectorised over every parcel at once.

    As in ``esda.crand``: one table of random ids (``permutations`` rows of ``max(degree)`` distinct ids
    among the ``n - 1`` other parcels) serves every parcel: parcel ``i`` with ``k`` neighbours takes the
    first ``k`` ids of each row, counted over the values with ``i`` left out (id ``a`` is parcel ``a`` when
    ``a < i``, else ``a + 1``). ``p = (m + 1) / (permutations + 1)`` where ``m`` counts the random statistics
    at least the observed one, or those below it when fewer (esda's "directed" alternative).

    Instead of gathering ``k`` values per parcel and permutation, parcels of the same ``k`` share the
    random sums: per permutation the ``k`` ids are placed among those parcels' positions (one
    ``searchsorted``), so each parcel's sum is the sum of ``values[a + 1]`` over the row plus a cumulative
    sum of the corrections ``values[a] - values[a + 1]`` of the ids below it. Work and memory grow with
    permutations × parcels, not × neighbours. The sums differ from esda's in the last bits, so a random
    statistic exactly equal to the observed one (tied values) may count differently: the labels agree
    with esda's for all but a few parcels (tests/blocks/test_clusters.py).
    """
    n = len(form.values)
    larger = np.zeros(n, dtype=np.int64)
    max_card = int(degree.max()) if n else 0
    if max_card == 0:
        return np.full(n, np.nan)
    ids = random_ids(n, max_card, permutations=permutations, seed=seed)
    values = form.values
    lower, upper = values[ids], values[ids + 1]  # the value at id a for parcels after it, and before it
    groups = [(k, np.flatnonzero(degree == k)) for k in np.unique(degree[degree > 0])]
    progress(0, permutations)
    for start in range(0, permutations, _PERMUTATION_BLOCK):
        rows = slice(start, min(start + _PERMUTATION_BLOCK, permutations))
        for k, sites in groups:
            # Sites are sorted: parcel sites[j] sees id a shifted (a + 1) unless a < sites[j], i.e. j >= place.
            place = np.searchsorted(sites, ids[rows, :k], side="right")
            sums = _site_sums(place, lower[rows, :k] - upper[rows, :k], upper[rows, :k].sum(axis=1), len(sites))
            np.multiply(sums, form.scale[sites], out=sums)  # in place: the random statistic of each site
            np.add(sums, form.shift[sites], out=sums)
            larger[sites] += np.count_nonzero(sums >= form.observed[sites], axis=0)
        progress(rows.stop, permutations)
    larger = np.where(permutations - larger < larger, permutations - larger, larger)
    return (larger + 1.0) / (permutations + 1.0)


def _site_sums(place: np.ndarray, correction: np.ndarray, base: np.ndarray, n_sites: int) -> np.ndarray:
    """Each permutation's random sum at each site: ``base`` plus the corrections of the ids placed at or
    before the site, as a running sum over the sites.

    ``place`` and ``correction`` have one row per permutation and one column per random id; the result has
    one row per permutation and ``n_sites`` columns. The running sum changes only at the (at most ``k``)
    places of a row's ids, so it is a step function: its steps are summed over the ids alone and spread
    over the sites by ``np.repeat``, one pass over the (permutations x sites) result. The additions are
    those of a running sum over every site, in the same order (corrections of ids at the same place
    first, in id order, then place after place; the sites between add 0.0), so every sum is the same
    float.
    """
    n_rows, k = place.shape
    order = np.argsort(place, axis=1, kind="stable")  # stable: ids at one place keep their order
    place = np.take_along_axis(place, order, axis=1)
    correction = np.take_along_axis(correction, order, axis=1)
    # Runs of one place within a row: their corrections summed left to right, as bincount adds them.
    new_run = np.ones((n_rows, k), dtype=bool)
    new_run[:, 1:] = place[:, 1:] != place[:, :-1]
    starts = np.flatnonzero(new_run)
    totals = np.add.reduceat(correction.ravel(), starts)
    run_row = starts // k
    run_col = np.cumsum(new_run, axis=1).ravel()[starts] - 1  # the run's number within its row
    steps = np.zeros((n_rows, k + 1))  # step 0: before the first place (the running sum is 0.0 there)
    steps[run_row, run_col + 1] = totals
    steps[:, 1:] = np.cumsum(steps[:, 1:], axis=1)
    steps += base[:, None]
    # Site j takes the step of the last run at or before it: the runs' places bound the steps' widths.
    bounds = np.full((n_rows, k + 2), n_sites, dtype=np.int64)
    bounds[:, 0] = 0
    bounds[run_row, run_col + 1] = place.ravel()[starts]
    widths = np.diff(np.minimum(bounds, n_sites), axis=1)
    return np.repeat(steps.ravel(), widths.ravel()).reshape(n_rows, n_sites)


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
        raise ConfigError("local_clusters: " + "; ".join(bad),
                          zh="local_clusters：参数有误：" + "；".join(bad))
    if parcels.crs is None or not parcels.crs.is_projected:
        raise CRSError(f"local_clusters: parcels must be in a projected CRS in metres, got {parcels.crs!r}",
                       [Problem("neighbour gaps need metres", fix="reproject, e.g. parcels.to_crs('EPSG:4549')",
                                message_zh="计算相邻间距需要以米为单位",
                                fix_zh="请重投影，例如 parcels.to_crs('EPSG:4549')")],
                       zh=f"local_clusters：地块必须采用以米为单位的投影坐标系，当前为 {parcels.crs!r}")
    if column not in parcels.columns:
        raise InputError("local_clusters: parcels cannot be used", [
            Problem(f"column {column!r} is missing", column=column,
                    fix="run metrics/assemble first or pass column=<a numeric column>",
                    message_zh=f"缺少列 {column!r}",
                    fix_zh="请先运行 metrics/assemble，或传入 column=<某个数值列>")],
                         zh="local_clusters：地块数据无法使用")
    if parcels.index.has_duplicates:
        raise InputError("local_clusters: parcel ids repeat", [
            Problem("duplicated parcel ids", column="parcel_id", fix="resolve duplicates with land.prepare_parcels",
                    message_zh="地块编号重复",
                    fix_zh="请用 land.prepare_parcels 处理重复编号")],
                         zh="local_clusters：地块编号重复")


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

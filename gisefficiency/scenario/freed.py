"""Redevelopment scenarios: what closing or redeveloping a selection of land frees and yields.

Definitions (万元, 亩, tce; parcels carry the reference year's figures, see ``docs/contract.md``):

- selection: the union of the parcels of the given blocks (role ``"low"`` only: kept parcels stay),
  of the ``top_blocks`` best-ranked blocks (fewer when the county has fewer: none when it has none),
  the given parcel ids, the parcels of the given firms (``firm_usccs`` / ``holder_uscc``), and the
  parcels whose representative point lies in the given polygon (EPSG:4326, transformed to the
  parcels' CRS). Excluded parcels (``status`` not ``"ok"``) are never selected.
- ``freed_mu``, ``freed_tce``, ``tax_lost``, ``va_lost``: sums over the selection (NaN-safe).
- ``tax_expected`` = ``freed_mu × target_tax_per_mu``; ``tce_expected`` = ``freed_mu ×
  target_tce_per_mu`` (energy of the new use); ``net_tce`` = ``freed_tce − tce_expected``.
- county 亩均税收 before = T / L, with T the tax of the usable parcels whose tax is known and L
  their land. After = (T − tax_lost + tax_expected) / (L − L_known_freed + freed_mu): the freed land
  is redeveloped at the target, so all of it joins the base. When every parcel's tax is known this
  is (total tax − tax lost + tax expected) / total land. 亩均增加值 likewise with
  ``target_va_per_mu``. No target gives NaN after.
- progress toward a plan's targets, e.g. ``{"freed_mu": 800, "freed_tce": 4800}``: achieved / target.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from gisefficiency.core.errors import ConfigError, CRSError, InputError, Problem, format_ids, format_ids_zh

#: Measures of a scenario summary and their labels (zh, en), in display order.
MEASURES: dict[str, tuple[str, str]] = {
    "n_parcels": ("地块数", "Parcels"),
    "n_blocks": ("连片区块数", "Blocks"),
    "n_firms": ("涉及企业数", "Firms"),
    "freed_mu": ("腾出用地(亩)", "Freed land (mu)"),
    "freed_tce": ("腾出用能(吨标煤)", "Freed energy (tce)"),
    "tax_lost": ("减少税收(万元)", "Tax lost (10k yuan)"),
    "va_lost": ("减少增加值(万元)", "Value added lost (10k yuan)"),
    "tax_expected": ("预期税收(万元)", "Tax expected (10k yuan)"),
    "tce_expected": ("新增用能(吨标煤)", "Energy of new use (tce)"),
    "net_tce": ("净腾出用能(吨标煤)", "Net freed energy (tce)"),
    "tax_per_mu_before": ("全域亩均税收·前(万元/亩)", "County tax per mu, before (10k yuan/mu)"),
    "tax_per_mu_after": ("全域亩均税收·后(万元/亩)", "County tax per mu, after (10k yuan/mu)"),
    "va_per_mu_before": ("全域亩均增加值·前(万元/亩)", "County value added per mu, before (10k yuan/mu)"),
    "va_per_mu_after": ("全域亩均增加值·后(万元/亩)", "County value added per mu, after (10k yuan/mu)"),
}

_BREAKDOWN = ("n_parcels", "freed_mu", "freed_tce", "tax_lost", "tax_expected")


@dataclass(frozen=True)
class Scenario:
    """A selection of land and the assumption for its new use.

    Attributes
    ----------
    name
        Display name.
    blocks, parcels, firms
        Block ids, parcel ids and firm USCCs to select (their union is taken). Ids that do not
        exist are an error.
    top_blocks
        Also select the blocks ranked 1..``top_blocks`` (by ``rank`` of ``run_scenario``'s ``blocks``):
        every block when the county has fewer, and nothing, without an error, when it has none (a
        county where no block reaches ``min_area_mu`` is a normal result).
    polygon
        Area to select, in EPSG:4326: a shapely geometry, a GeoJSON geometry / Feature /
        FeatureCollection dict, or the same as JSON text.
    target_tax_per_mu, target_tce_per_mu, target_va_per_mu
        Tax (万元/亩), energy (tce/亩) and value added (万元/亩) per mu of the new use.
    """

    name: str = "scenario"
    blocks: tuple[int, ...] = ()
    parcels: tuple[str, ...] = ()
    firms: tuple[str, ...] = ()
    polygon: Any = None
    top_blocks: int | None = None
    target_tax_per_mu: float | None = None
    target_tce_per_mu: float | None = None
    target_va_per_mu: float | None = None


@dataclass
class ScenarioResult:
    """What a scenario frees and yields.

    Attributes
    ----------
    name
        The scenario's name.
    summary
        Series of ``MEASURES`` plus ``progress_<target>`` shares and the reference ``year``.
    by_street, by_disposal
        The same sums per street and per disposal category (index: the label).
    parcels
        Selected parcel ids.
    progress
        Target name -> achieved / target (e.g. ``{"freed_mu": 0.62}``).
    targets
        The targets used.
    scenario
        The input scenario.
    """

    name: str
    summary: pd.Series
    by_street: pd.DataFrame
    by_disposal: pd.DataFrame
    parcels: pd.Index
    progress: dict[str, float] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)
    scenario: Scenario | None = None

    def to_frame(self, lang: str = "zh") -> pd.DataFrame:
        """Summary as a one-column table with labelled rows (``zh`` or ``en``)."""
        return compare([self], lang=lang)


def run_scenario(
    parcels: gpd.GeoDataFrame,
    scenario: Scenario,
    *,
    blocks: gpd.GeoDataFrame | None = None,
    firms: pd.DataFrame | None = None,
    targets: Mapping[str, float] | None = None,
    year: int | None = None,
) -> ScenarioResult:
    """Evaluate one scenario on the parcels.

    Parameters
    ----------
    parcels
        Parcels (index ``parcel_id``) with ``land_mu`` and, where known, ``tax``, ``value_added``,
        ``energy_tce``, ``street``, ``disposal``/``disposal_zh``, ``block_id``/``block_role``,
        ``firm_usccs`` or ``holder_uscc``.
    scenario
        The selection and the new-use assumption.
    blocks
        ``Blocks.blocks``: block ids are checked against it when given.
    firms
        Firms (index ``uscc``): firm ids are checked against it when given.
    targets
        Plan targets, e.g. ``{"freed_mu": 800, "freed_tce": 4800}``.
    year
        Reference year, recorded in the summary.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    ConfigError
        Nothing selected, or a target is not a positive number.
    InputError
        Unknown ids, or columns needed by the selection are missing.
    """
    targets = dict(targets or {})
    bad = [k for k, v in targets.items() if not isinstance(v, int | float) or not np.isfinite(v) or v <= 0]
    if bad:
        raise ConfigError(f"scenario {scenario.name!r}: targets {bad} must be positive numbers, e.g. freed_mu = 800",
                          zh=f"情景 {scenario.name!r}：目标 {bad} 必须为正数，例如 freed_mu = 800")
    if "land_mu" not in parcels.columns:
        raise InputError(f"scenario {scenario.name!r}: parcels cannot be used",
                         [Problem("column 'land_mu' is missing", column="land_mu", fix="run land.prepare_parcels first",
                                  message_zh="缺少列 'land_mu'",
                                  fix_zh="请先运行 land.prepare_parcels")],
                         zh=f"情景 {scenario.name!r}：地块数据无法使用")
    usable = parcels["land_mu"].notna()
    if "status" in parcels.columns:
        usable &= parcels["status"].astype("string").eq("ok").fillna(False)
    selected = _select(parcels, scenario, blocks, firms) & usable.to_numpy(dtype=bool)
    # Only the columns summed below: a boolean filter of the whole parcel table (geometry and
    # reason texts) would copy hundreds of MB at a million parcels.
    light = pd.DataFrame({c: parcels[c] for c in _USED if c in parcels.columns}, index=parcels.index)
    chosen = light[selected]

    sums = _sums(chosen, scenario)
    summary: dict[str, float] = {
        "n_parcels": float(selected.sum()),
        "n_blocks": float(chosen["block_id"].nunique()) if "block_id" in chosen.columns else np.nan,
        "n_firms": _n_firms(chosen),
    }
    for key in ("freed_mu", "freed_tce", "tax_lost", "va_lost", "tax_expected", "tce_expected", "net_tce"):
        summary[key] = float(sums[key])
    base = light[usable.to_numpy(dtype=bool)]
    for money, target, before, after in (
        ("tax", scenario.target_tax_per_mu, "tax_per_mu_before", "tax_per_mu_after"),
        ("value_added", scenario.target_va_per_mu, "va_per_mu_before", "va_per_mu_after"),
    ):
        summary[before], summary[after] = _county(base, chosen, money, sums["freed_mu"], target)
    progress = {k: float(summary[k] / v) if k in summary and pd.notna(summary[k]) else np.nan
                for k, v in targets.items()}
    for key, share in progress.items():
        summary[f"progress_{key}"] = share
    summary["year"] = float(year) if year is not None else np.nan
    return ScenarioResult(
        name=scenario.name,
        summary=pd.Series(summary, dtype=float),
        by_street=_breakdown(chosen, scenario, "street", None, "未填街道"),
        by_disposal=_breakdown(chosen, scenario, "disposal", "disposal_zh", "无处置类别"),
        parcels=chosen.index.copy(),
        progress=progress,
        targets=targets,
        scenario=scenario,
    )


def compare(results: list[ScenarioResult], *, lang: str = "zh") -> pd.DataFrame:
    """Side-by-side table: rows = measures (labelled in ``lang``), columns = scenario names."""
    columns = {}
    for res in results:
        name = res.name
        while name in columns:
            name += "'"
        columns[name] = res.summary
    frame = pd.DataFrame(columns)
    keys = [k for k in MEASURES if k in frame.index] + [k for k in frame.index if k.startswith("progress_")]
    frame = frame.reindex(keys)
    pick = 0 if lang == "zh" else 1
    labels = []
    for key in keys:
        if key.startswith("progress_"):
            measure = MEASURES.get(key.removeprefix("progress_"), (key, key))[pick]
            labels.append(f"目标完成率·{measure}" if pick == 0 else f"Progress: {measure}")
        else:
            labels.append(MEASURES[key][pick])
    frame.index = pd.Index(labels, name="指标" if pick == 0 else "measure")
    return frame


#: Parcel columns a scenario's sums and breakdowns read.
_USED = ("land_mu", "tax", "value_added", "energy_tce", "street", "disposal", "disposal_zh", "block_id",
         "firm_usccs", "firm_ids", "holder_uscc", "n_firms")


def _select(parcels, scenario, blocks, firms) -> np.ndarray:
    mask = np.zeros(len(parcels), dtype=bool)
    problems: list[Problem] = []
    wanted_blocks = list(scenario.blocks) + _top_blocks(scenario, blocks, problems)
    if wanted_blocks:
        if "block_id" not in parcels.columns:
            problems.append(Problem("column 'block_id' is missing", column="block_id",
                                    fix="join Blocks.membership to the parcels first",
                                    message_zh="缺少列 'block_id'",
                                    fix_zh="请先把 Blocks.membership 合并到地块"))
        else:
            wanted = pd.Index(wanted_blocks)
            known = pd.Index(blocks.index) if blocks is not None else pd.Index(parcels["block_id"].dropna().unique())
            unknown = wanted.difference(known)
            if len(unknown):
                problems.append(Problem(f"unknown block ids {format_ids(unknown)}", column="block_id",
                                        fix="use ids from Blocks.blocks.index",
                                        message_zh=f"未知的区块编号 {format_ids_zh(unknown)}",
                                        fix_zh="请使用 Blocks.blocks.index 中的编号"))
            role = parcels["block_role"].astype("string") if "block_role" in parcels.columns else None
            hit = parcels["block_id"].isin(wanted).fillna(False).to_numpy(dtype=bool)
            if role is not None:  # kept parcels stay: they are not freed
                hit &= role.eq("low").fillna(False).to_numpy(dtype=bool)
            mask |= hit
    if scenario.parcels:
        wanted = pd.Index(scenario.parcels)
        unknown = wanted.difference(parcels.index)
        if len(unknown):
            problems.append(Problem(f"unknown parcel ids {format_ids(unknown)}", column="parcel_id",
                                    fix="use ids from the parcels' index",
                                    message_zh=f"未知的地块编号 {format_ids_zh(unknown)}",
                                    fix_zh="请使用地块索引中的编号"))
        mask |= parcels.index.isin(wanted)
    if scenario.firms:
        mask |= _firm_mask(parcels, scenario, firms, problems)
    if scenario.polygon is not None:
        mask |= _polygon_mask(parcels, scenario)
    if problems:
        raise InputError(f"scenario {scenario.name!r}: the selection cannot be made", problems,
                         zh=f"情景 {scenario.name!r}：无法确定选区")
    if not (scenario.blocks or scenario.parcels or scenario.firms or scenario.polygon is not None
            or scenario.top_blocks is not None):
        raise ConfigError(f"scenario {scenario.name!r} selects nothing: "
                          "give blocks, top_blocks, parcels, firms or a polygon",
                          zh=f"情景 {scenario.name!r} 没有选中任何对象：请给出 blocks、top_blocks、parcels、firms 或 polygon")
    return mask


def _top_blocks(scenario, blocks, problems) -> list[int]:
    """Ids of the ``top_blocks`` best-ranked blocks (all of them when there are fewer; none without any)."""
    n = scenario.top_blocks
    if n is None:
        return []
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ConfigError(f"scenario {scenario.name!r}: top_blocks = {n!r} must be a whole number >= 0, e.g. 5",
                          zh=f"情景 {scenario.name!r}：top_blocks = {n!r} 必须是 >= 0 的整数，例如 5")
    if blocks is None:
        problems.append(Problem("top_blocks needs the blocks table", column="rank",
                                fix="pass blocks=Blocks.blocks to run_scenario",
                                message_zh="top_blocks 需要区块表",
                                fix_zh="请把 blocks=Blocks.blocks 传给 run_scenario"))
        return []
    ranked = blocks.sort_values("rank", kind="stable") if "rank" in blocks.columns else blocks
    return [int(b) for b in ranked.index[:n]]


def _firm_mask(parcels, scenario, firms, problems) -> np.ndarray:
    column = next((c for c in ("firm_usccs", "firm_ids", "holder_uscc") if c in parcels.columns), None)
    if column is None:
        problems.append(Problem("no firm id column (firm_usccs, firm_ids or holder_uscc)", column="firm_usccs",
                                fix="join the link stage's firm ids to the parcels first",
                                message_zh="没有企业代码列（firm_usccs、firm_ids 或 holder_uscc）",
                                fix_zh="请先把关联阶段的企业代码合并到地块"))
        return np.zeros(len(parcels), dtype=bool)
    wanted = pd.Index(scenario.firms)
    ids = parcels[column].astype("string").str.split(",").explode().str.strip()
    if firms is not None:
        unknown = wanted.difference(firms.index)
        if len(unknown):
            problems.append(Problem(f"unknown firm ids {format_ids(unknown)}", column="uscc",
                                    fix="use USCCs from the firms table",
                                    message_zh=f"未知的企业代码 {format_ids_zh(unknown)}",
                                    fix_zh="请使用企业表中的统一社会信用代码"))
    hit_ids = ids[ids.isin(wanted).fillna(False).to_numpy(dtype=bool)].index.unique()
    return parcels.index.isin(hit_ids)


def _polygon_mask(parcels, scenario) -> np.ndarray:
    polygon = scenario.polygon
    try:
        if isinstance(polygon, str):
            polygon = json.loads(polygon)
        if isinstance(polygon, Mapping):
            if polygon.get("type") == "FeatureCollection":
                polygon = shapely.union_all([shape(f["geometry"]) for f in polygon["features"]])
            elif polygon.get("type") == "Feature":
                polygon = shape(polygon["geometry"])
            else:
                polygon = shape(polygon)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"scenario {scenario.name!r}: the selection polygon cannot be read", [
            Problem(f"not a GeoJSON geometry: {exc}", fix="give a Polygon/MultiPolygon in EPSG:4326 lon/lat",
                    message_zh=f"不是 GeoJSON 几何：{exc}",
                    fix_zh="请给出 EPSG:4326 经纬度的 Polygon/MultiPolygon")],
                         zh=f"情景 {scenario.name!r}：无法读取选区多边形") from exc
    if not isinstance(polygon, shapely.Geometry) or shapely.get_type_id(polygon) not in (3, 6, 7):
        raise InputError(f"scenario {scenario.name!r}: the selection polygon cannot be read", [
            Problem(f"got {type(polygon).__name__}", fix="give a Polygon/MultiPolygon in EPSG:4326 lon/lat",
                    message_zh=f"收到 {type(polygon).__name__}",
                    fix_zh="请给出 EPSG:4326 经纬度的 Polygon/MultiPolygon")],
                         zh=f"情景 {scenario.name!r}：无法读取选区多边形")
    if parcels.crs is None:
        raise CRSError(f"scenario {scenario.name!r}: parcels have no CRS, the polygon cannot be placed",
                       [Problem("parcels.crs is None", fix="set the parcels' CRS (e.g. EPSG:4549)",
                                message_zh="parcels.crs 为 None",
                                fix_zh="请设置地块的坐标系（例如 EPSG:4549）")],
                       zh=f"情景 {scenario.name!r}：地块没有坐标系，无法放置多边形")
    area = gpd.GeoSeries([polygon], crs="EPSG:4326").to_crs(parcels.crs).iloc[0]
    points = shapely.point_on_surface(np.asarray(parcels.geometry.array, dtype=object))
    shapely.prepare(area)
    return shapely.contains(area, points) & ~shapely.is_missing(points)


def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _sums(chosen: pd.DataFrame, scenario: Scenario) -> dict[str, float]:
    # An empty selection frees and loses exactly nothing: 0, not missing. Otherwise a sum of
    # missing figures (no energy data at all) stays missing.
    empty = len(chosen) == 0

    def total(column: str) -> float:
        return 0.0 if empty else _num(chosen, column).sum(min_count=1)

    freed_mu, freed_tce = total("land_mu"), total("energy_tce")
    tce_expected = _times(freed_mu, scenario.target_tce_per_mu)
    return {
        "freed_mu": freed_mu,
        "freed_tce": freed_tce,
        "tax_lost": total("tax"),
        "va_lost": total("value_added"),
        "tax_expected": _times(freed_mu, scenario.target_tax_per_mu),
        "tce_expected": tce_expected,
        "net_tce": freed_tce - tce_expected,
    }


def _times(mu: float, per_mu: float | None) -> float:
    return float(mu * per_mu) if per_mu is not None else np.nan


def _county(base, chosen, money, freed_mu, target) -> tuple[float, float]:
    value = _num(base, money)
    known = value.notna()
    total, land = value[known].sum(), _num(base, "land_mu")[known].sum()
    before = total / land if land > 0 else np.nan
    if target is None:
        return before, np.nan
    chosen_value = _num(chosen, money)
    lost = chosen_value.sum()  # NaN-free: unknown values were never in the total
    freed_known = _num(chosen, "land_mu")[chosen_value.notna()].sum()
    after_land = land - freed_known + freed_mu
    after = (total - lost + freed_mu * target) / after_land if after_land > 0 else np.nan
    return before, after


def _n_firms(chosen: pd.DataFrame) -> float:
    column = next((c for c in ("firm_usccs", "firm_ids", "holder_uscc") if c in chosen.columns), None)
    if column is None:
        return _num(chosen, "n_firms").sum(min_count=1) if len(chosen) else 0.0
    ids = chosen[column].astype("string").str.split(",").explode().str.strip()
    return float(ids[ids.notna() & ids.ne("")].nunique())


def _breakdown(chosen, scenario, column, label_column, missing_label) -> pd.DataFrame:
    cols = list(_BREAKDOWN)
    if column not in chosen.columns:
        return pd.DataFrame(columns=cols, dtype=float)
    key = chosen[label_column] if label_column and label_column in chosen.columns else chosen[column]
    key = key.astype("string").replace("", pd.NA).fillna(missing_label)
    frame = pd.DataFrame({
        "key": key.to_numpy(),
        "n_parcels": 1,
        "freed_mu": _num(chosen, "land_mu").to_numpy(),
        "freed_tce": _num(chosen, "energy_tce").to_numpy(),
        "tax_lost": _num(chosen, "tax").to_numpy(),
    })
    out = frame.groupby("key", sort=True).sum(min_count=1)
    out["tax_expected"] = out["freed_mu"] * (np.nan if scenario.target_tax_per_mu is None
                                             else scenario.target_tax_per_mu)
    out.index.name = column
    return out[cols]

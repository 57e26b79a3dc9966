"""Short calls for planners in notebooks: re-cut blocks, run and export scenarios, compare policies.

Each function only chains stage functions; no rule lives here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gisefficiency.config import Config
from gisefficiency.result import Result


def reblock(
    result: Result,
    *,
    gap_m: float = 30.0,
    min_area_mu: float = 50.0,
    min_parcels: int = 2,
    keep: str = "enclosed",
    close_gaps: bool = False,
) -> Result:
    """Return a copy of ``result`` whose blocks are found again with other settings.

    Parameters
    ----------
    result
        A pipeline result.
    gap_m, min_area_mu, min_parcels, keep, close_gaps
        As in :func:`gisefficiency.blocks.find.find_blocks`.
    """
    from gisefficiency.blocks.find import find_blocks
    from gisefficiency.result.assemble import add_columns

    parcels = result.parcels.drop(columns=["block_id", "block_role"], errors="ignore")
    blocks = find_blocks(
        parcels,
        gap_m=gap_m,
        min_area_mu=min_area_mu,
        min_parcels=min_parcels,
        keep=keep,
        close_gaps=close_gaps,
        target_tax_per_mu=result.policy.target_tax_per_mu,
    )
    return dataclasses.replace(result, parcels=add_columns(parcels, blocks.membership), blocks=blocks.blocks)


def block_options(result: Result, settings: list[tuple[float, float]]) -> pd.DataFrame:
    """Blocks found under several ``(gap_m, min_area_mu)`` settings, side by side.

    Returns
    -------
    DataFrame
        One row per setting: number of blocks, their land (mu), parcels and the largest block (mu).
    """
    rows = []
    for gap_m, min_area_mu in settings:
        b = reblock(result, gap_m=gap_m, min_area_mu=min_area_mu).blocks
        rows.append(
            {
                "gap_m": gap_m,
                "min_area_mu": min_area_mu,
                "blocks": len(b),
                "area_mu": float(b["area_mu"].sum()),
                "parcels": int(b["n_parcels"].sum()),
                "largest_mu": float(b["area_mu"].max()) if len(b) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def block_firms(result: Result, block_id: int) -> pd.DataFrame:
    """The firms on one block's parcels with their figures, grade, disposal and reason."""
    parcels = result.parcels.index[result.parcels["block_id"] == block_id]
    usccs = result.links.shares.loc[result.links.shares["parcel_id"].isin(parcels), "uscc"].unique()
    firms = result.with_reasons(result.firms.loc[result.firms.index.isin(usccs)], lang="zh")
    cols = [c for c in ("name", "scale", "land_mu", "tax_per_mu", "va_per_mu", "grade", "disposal_zh", "reason_zh")
            if c in firms.columns]
    return pd.DataFrame(firms[cols]).sort_values("tax_per_mu")


def redevelop(
    result: Result,
    *,
    name: str,
    blocks: tuple[int, ...] | list[int] = (),
    parcels: tuple[str, ...] | list[str] = (),
    firms: tuple[str, ...] | list[str] = (),
    polygon: Any = None,
    top_blocks: int | None = None,
    target_tax_per_mu: float | None = None,
    target_tce_per_mu: float | None = None,
) -> Any:
    """Run one redevelopment scenario on a result (see :func:`gisefficiency.scenario.freed.run_scenario`).

    ``polygon`` may be a shapely geometry in lon/lat, a GeoJSON mapping, or the path of a GeoJSON file
    exported by the map's draw tool. ``top_blocks`` adds the best-ranked blocks (none when the county
    has no block).
    """
    from gisefficiency.scenario.freed import Scenario, run_scenario

    if isinstance(polygon, str | Path):
        from gisefficiency.io.vector import read_selection_polygon

        polygon = read_selection_polygon(Path(polygon))
    spec = Scenario(
        name=name,
        blocks=tuple(int(b) for b in blocks),
        parcels=tuple(parcels),
        firms=tuple(firms),
        polygon=polygon,
        top_blocks=top_blocks,
        target_tax_per_mu=target_tax_per_mu if target_tax_per_mu is not None else result.policy.target_tax_per_mu,
        target_tce_per_mu=target_tce_per_mu,
    )
    return run_scenario(
        result.parcels, spec, blocks=result.blocks, firms=result.firms, targets=dict(result.policy.targets),
        year=result.year,
    )


def with_scenario(result: Result, chosen: Any) -> Result:
    """A copy of ``result`` whose freed-land layer shows ``chosen`` (``parcels.in_scenario``)."""
    from gisefficiency.result.assemble import mark_scenario

    return dataclasses.replace(result, parcels=mark_scenario(result.parcels, [chosen]), scenarios=[chosen])


def scenario_map(result: Result, chosen: Any, *, lang: str = "zh") -> Any:
    """The interactive map with ``chosen``'s parcels drawn as freed land."""
    return with_scenario(result, chosen).explore(lang=lang)


def export_scenario(result: Result, chosen: Any, out_dir: str | Path, *, lang: str = "zh") -> dict[str, Path]:
    """Write a chosen scenario's parcels as GeoPackage and an offline HTML map marking its freed land."""
    from gisefficiency.io.output import gpkg_ready
    from gisefficiency.maps import make_map, save_map

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shown = with_scenario(result, chosen)
    selected = shown.parcels[shown.parcels["in_scenario"]]
    gpkg = out / "scenario.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    gpkg_ready(selected).to_file(gpkg, layer="parcels", driver="GPKG")
    outline = gpd.GeoDataFrame(
        [{"name": chosen.name, **chosen.summary.to_dict()}], geometry=[selected.union_all()], crs=selected.crs
    )
    gpkg_ready(outline).to_file(gpkg, layer="scenario", driver="GPKG")
    map_path = save_map(make_map(shown, lang=lang), out / "scenario_map.html")
    return {"gpkg": gpkg, "map": Path(map_path)}


def run_policies(config: Config, presets: list[str]) -> dict[str, Result]:
    """Run the same county under several policy presets (names or preset file paths).

    Rasters and statistical clusters do not depend on the preset's verdicts being compared here, so they
    are skipped to keep the comparison quick; each preset uses its own reference year.
    """
    from gisefficiency import pipeline

    out = {}
    light = dataclasses.replace(
        config,
        raster=dataclasses.replace(config.raster, enabled=False),
        clusters=dataclasses.replace(config.clusters, enabled=False),
    )
    for preset in presets:
        cfg = dataclasses.replace(light, policy=dataclasses.replace(config.policy, preset=str(preset), year=None))
        out[Path(preset).stem if str(preset).endswith(".toml") else preset] = pipeline.run(cfg)
    return out


def policy_matrix(results: dict[str, Result], *, lang: str = "zh") -> pd.DataFrame:
    """Who is flagged by which preset, and why: one row per firm, a disposal and a reason column per preset."""
    reason = "reason_zh" if lang == "zh" else "reason_en"
    label = "disposal_zh" if lang == "zh" else "disposal_en"
    parts = []
    for name, res in results.items():
        f = res.with_reasons(res.firms, lang="zh" if lang == "zh" else "en")
        parts.append(
            pd.DataFrame(
                {
                    (name, "grade"): f["grade"],
                    (name, "disposal"): f[label].fillna(""),
                    (name, "reason"): f[reason],
                }
            )
        )
    first = next(iter(results.values())).firms
    matrix = pd.concat(parts, axis=1)
    matrix.insert(0, ("", "name"), first["name"])
    matrix.columns = pd.MultiIndex.from_tuples(matrix.columns)
    return matrix


def flagged_counts(results: dict[str, Result], *, lang: str = "zh") -> pd.DataFrame:
    """Number of firms and land (mu) in each disposal category under each preset."""
    label = "disposal_zh" if lang == "zh" else "disposal_en"
    rows = []
    for name, res in results.items():
        f = res.firms[res.firms["disposal"].fillna("") != ""]
        grouped = f.groupby(label).agg(firms=("land_mu", "size"), land_mu=("land_mu", "sum"))
        rows.append(grouped.assign(preset=name).reset_index())
    return pd.concat(rows, ignore_index=True).set_index(["preset", label]) if rows else pd.DataFrame()

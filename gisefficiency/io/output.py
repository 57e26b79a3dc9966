"""Write a run's results: results.gpkg (parcels, firms, blocks), tables, GeoTIFFs, map and report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gisefficiency.result import Result

log = logging.getLogger(__name__)

#: Layer name -> Result attribute written to results.gpkg.
GPKG_LAYERS: dict[str, str] = {"parcels": "parcels", "firms": "firms", "blocks": "blocks"}


def gpkg_ready(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return a copy whose columns every GeoPackage reader (QGIS, ArcGIS) opens as ordinary fields.

    Nullable booleans become integers 1/0 with NULL, lists and other objects become text, and the
    index becomes a column, because GeoPackage has no index or list fields.
    """
    out = frame.reset_index()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
            out[col] = s.astype("Int8")
        elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):
            out[col] = s.astype("string")
        elif isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(str)
    return out


def write_results_gpkg(result: Result, path: Path) -> Path:
    """Write the parcels, firms and blocks layers of ``result`` to one GeoPackage."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    for layer, attr in GPKG_LAYERS.items():
        frame = getattr(result, attr)
        gpkg_ready(frame).to_file(path, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=True)
    return path


def write_tables(result: Result, out_dir: Path) -> dict[str, Path]:
    """Write CSV tables (UTF-8 with BOM so Excel shows Chinese): link report, firms, scenarios."""
    written: dict[str, Path] = {}
    if result.links is not None:
        p = out_dir / "link_report.csv"
        result.links.report.to_frame().to_csv(p, index=False, encoding="utf-8-sig")
        written["link_report"] = p
    p = out_dir / "firms.csv"
    pd.DataFrame(result.firms.drop(columns=result.firms.geometry.name)).to_csv(p, encoding="utf-8-sig")
    written["firms_csv"] = p
    if result.scenarios:
        from gisefficiency.scenario import compare

        p = out_dir / "scenarios.csv"
        compare(result.scenarios).to_csv(p, encoding="utf-8-sig")
        written["scenarios"] = p
    if result.clusters is not None:
        p = out_dir / "clusters.csv"
        result.clusters.to_csv(p, encoding="utf-8-sig")
        written["clusters"] = p
    return written


def write_html(text: str, path: Path) -> Path:
    """Write an HTML page as UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_outputs(result: Result, out_dir: str | Path, *, extras: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the GeoPackage and the tables of ``result`` under ``out_dir``; return name -> path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"results": write_results_gpkg(result, out_dir / "results.gpkg")}
    written.update(write_tables(result, out_dir))
    written.update(extras or {})
    return written


def write_rasters(raster_out: Any, out_dir: Path) -> dict[str, Path]:
    """Write every metric layer and the density surface as Cloud-Optimized GeoTIFFs.

    Category layers (grade, disposal, block id) also get ``<name>_categories.csv`` (code, label) so
    QGIS users can style the codes.
    """
    from gisefficiency.io.raster import write_cog

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    layers = dict(raster_out.layers)
    if raster_out.density is not None:
        layers["low_efficiency_density"] = raster_out.density
    for name, layer in layers.items():
        path = out_dir / f"{name}.tif"
        write_cog(path, layer.array, transform=layer.transform, crs=layer.crs, nodata=layer.nodata)
        written[f"raster_{name}"] = path
        if layer.categories:
            table = pd.DataFrame({"code": list(layer.categories), "label": list(layer.categories.values())})
            table.to_csv(out_dir / f"{name}_categories.csv", index=False, encoding="utf-8-sig")
    return written

"""Generated counties for the benchmarks: the sample county (示例县) at any size, with the demo's files.

``ensure_county(n)`` writes, once, into ``benchmarks/data/county_<n>/`` (git-ignored) what the bundled demo
county holds, drawn by ``gisefficiency.sample`` at ``n`` parcels: ``parcels.gpkg`` (layers ``parcels`` and
``streets``), ``firms.xlsx`` (title row, Chinese headers; only while the firm-year rows fit one sheet, so not
at 1M parcels), the same firm table as ``firms.csv`` (UTF-8 with BOM), ``land.csv``, ``building_height.tif``
(5 m), a scenario polygon ``scenario.geojson`` (an area of the old town, lon/lat) and one run config
per firm table (``run_xlsx.toml``, ``run_csv.toml``): the demo's ``demo.toml`` with its firm path changed and
the polygon scenario added.

Memory: the 5 m height raster is drawn in memory, about 0.6 GB at 100k parcels and 6 GB at 1M.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SEED = 7
#: Conditional permutations of the clusters, ours and the analyst's alike (the config's default; the demo's
#: own demo.toml asks for 499 to stay quick on 3,000 parcels).
PERMUTATIONS = 999
#: One sheet holds 1,048,576 rows: the title row and the header take two.
XLSX_MAX_ROWS = 1_048_574
#: Bump when the files written change, so stale caches are drawn again.
VERSION = "2"


def ensure_county(n: int, *, data: Path = DATA) -> dict[str, Any]:
    """Draw (once) and write a sample county of ``n`` parcels; return its folder, files and facts.

    Parameters
    ----------
    n
        Parcels.
    data
        Folder of the cached counties.

    Returns
    -------
    dict
        ``folder``, ``configs`` (firm-table kind -> run config path), ``n_parcels``, ``n_firm_rows`` and
        ``generate_s`` (NaN when the county was already there).
    """
    folder = data / f"county_{n}"
    stamp = folder / "county.json"
    if stamp.is_file():
        facts = json.loads(stamp.read_text(encoding="utf-8"))
        if facts.get("version") == VERSION:
            return _facts(folder, facts, float("nan"))
    start = time.perf_counter()
    # write_sample writes README.md last: with it there, the sample's files are whole (a run stopped later on
    # goes on from here instead of drawing the county again).
    if not (folder / "README.md").is_file():
        from gisefficiency.sample import generate_county, write_sample

        county = generate_county(n, seed=SEED, with_raster=True)
        formats = ["gpkg", "csv", "tif", "parquet"] + (["xlsx"] if len(county.firms) <= XLSX_MAX_ROWS else [])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "firms.xlsx").unlink(missing_ok=True)
        write_sample(county, folder, formats=formats)
        del county
    import pyarrow.parquet as pq

    n_rows = pq.read_metadata(folder / "firms.parquet").num_rows
    _firms_csv(folder / "firms.parquet", folder / "firms.csv")
    _scenario_polygon(folder / "parcels.parquet", folder / "scenario.geojson")
    kinds = ["csv"] + (["xlsx"] if (folder / "firms.xlsx").is_file() else [])
    for kind in kinds:
        _write_config(folder / f"run_{kind}.toml", firms=f"firms.{kind}")
    facts = {"version": VERSION, "n_parcels": n, "n_firm_rows": n_rows, "kinds": kinds, "seed": SEED}
    stamp.write_text(json.dumps(facts), encoding="utf-8")
    return _facts(folder, facts, time.perf_counter() - start)


def _facts(folder: Path, facts: dict[str, Any], generate_s: float) -> dict[str, Any]:
    return {"folder": folder, "configs": {k: folder / f"run_{k}.toml" for k in facts["kinds"]},
            "n_parcels": facts["n_parcels"], "n_firm_rows": facts["n_firm_rows"], "generate_s": generate_s}


def _firms_csv(parquet: Path, path: Path) -> None:
    """The firm table of the workbook (same Chinese headers and values) as a bureau's CSV export."""
    import pandas as pd

    pd.read_parquet(parquet).to_csv(path, index=False, encoding="utf-8-sig")


def _scenario_polygon(parcels_path: Path, path: Path, *, radius_m: float = 800.0) -> None:
    """A drawn area in the old town: the hull of the parcels within ``radius_m`` of 龙溪街道's middle, lon/lat."""
    import geopandas as gpd
    import numpy as np
    import shapely

    parcels = gpd.read_parquet(parcels_path, columns=["街道", "geometry"])
    old = parcels[parcels["街道"] == "龙溪街道"]
    old = old if len(old) else parcels
    points = shapely.centroid(old.geometry.to_numpy())
    # Medians: the sample holds broken parcels far off (a mean lands in no park).
    middle = shapely.Point(np.median(shapely.get_x(points)), np.median(shapely.get_y(points)))
    nearest = points[shapely.distance(points, middle).argmin()]
    inside = old.geometry.to_numpy()[shapely.distance(points, nearest) <= radius_m]
    # The hull of the parcels as a collection: no union, which the sample's bow-tie parcels would upset.
    hull = shapely.convex_hull(shapely.geometrycollections(inside))
    polygon = gpd.GeoSeries([hull], crs=parcels.crs).to_crs("EPSG:4326").iloc[0]
    feature = {"type": "Feature", "properties": {"name": "老城片区"}, "geometry": shapely.geometry.mapping(polygon)}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")


def _write_config(path: Path, *, firms: str) -> None:
    """The demo's ``demo.toml`` with this county's firm table and the polygon scenario added."""
    from gisefficiency.config import load_config
    from gisefficiency.sample import demo_config_path

    config = tomllib.loads(demo_config_path().read_text(encoding="utf-8"))
    config["project"]["name"] = f"示例县 ({path.parent.name})"
    config["firms"]["path"] = firms
    config.setdefault("clusters", {})["permutations"] = PERMUTATIONS
    config.setdefault("scenarios", []).append(
        {"name": "老城片区（画定范围）", "polygon": "scenario.geojson", "target_tax_per_mu": 20})
    config.setdefault("output", {})["dir"] = "out"
    path.write_text(_toml(config), encoding="utf-8")
    load_config(path)  # fails here, not in the middle of a benchmark, if the demo's keys changed


def _toml(config: dict[str, Any]) -> str:
    """TOML text of a config: tables of scalars and lists, and arrays of tables (all a run config has)."""
    lines: list[str] = []
    for name, value in config.items():
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            lines.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            lines.extend(f"{key} = {_value(v)}" for key, v in row.items())
            lines.append("")
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)) and not (isinstance(v, float) and not math.isfinite(v)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(str(v), ensure_ascii=False)

"""The aggregated view for more parcels than a browser can draw one by one.

Above ``max_parcels`` the page would take tens of seconds to paint (50k canvas polygons measured ~3-4 s with
JS styling, 1M would hang), so instead it shows: streets/towns as a 亩均税收 choropleth (total tax over total
land), the parcels burned into PNG images (grade and tax classes, about 1600 px on the long side), the
low-efficiency blocks as vectors, and a search that finds firms and low-efficiency parcels as points.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gisefficiency.core.i18n import Lang
from gisefficiency.core.png import encode_png
from gisefficiency.maps.assets import data_uri
from gisefficiency.maps.encode import encode_polygons, integers, numbers, split_ids, strings
from gisefficiency.maps.image import codes_to_rgba, rasterise_codes
from gisefficiency.maps.layers import as_flag, col, grade_classes, tax_classes, tax_thresholds
from gisefficiency.maps.text import text

STREET_SIMPLIFY_M = 5.0


def street_table(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per street/town: its land (mu), parcel count, 亩均税收 and outline (projected CRS).

    亩均税收 is total tax over the land of the parcels whose tax is known (missing tax is not read as 0);
    without a ``tax`` column the parcels' tax is ``tax_per_mu × land``.
    """
    land_col = "land_mu" if "land_mu" in parcels.columns else "area_mu"
    land = pd.to_numeric(parcels[land_col], errors="coerce") if land_col in parcels.columns else None
    frame = pd.DataFrame({"street": parcels["street"].astype("object").fillna("—")}, index=parcels.index)
    frame["land_mu"] = land if land is not None else np.nan
    if "tax" in parcels.columns:
        frame["tax"] = pd.to_numeric(parcels["tax"], errors="coerce")
    elif "tax_per_mu" in parcels.columns:
        frame["tax"] = pd.to_numeric(parcels["tax_per_mu"], errors="coerce") * frame["land_mu"]
    else:
        frame["tax"] = np.nan
    frame["taxed_land"] = frame["land_mu"].where(frame["tax"].notna())
    g = frame.groupby("street", sort=True)
    table = pd.DataFrame({
        "land_mu": g["land_mu"].sum(min_count=1),
        "n_parcels": g.size(),
        "tax": g["tax"].sum(min_count=1),
        "taxed_land": g["taxed_land"].sum(min_count=1),
    })
    table["tax_per_mu"] = table["tax"] / table["taxed_land"].where(table["taxed_land"] > 0)
    outline = gpd.GeoDataFrame(geometry=street_outlines(frame["street"], parcels.geometry.values),
                               crs=parcels.crs)
    return gpd.GeoDataFrame(table.join(outline), geometry="geometry", crs=parcels.crs)


def street_outlines(street: pd.Series, geoms: Any) -> gpd.GeoSeries:
    """Each street's parcels merged (``disjoint_subset`` union) and simplified with ``STREET_SIMPLIFY_M``,
    keeping topology, indexed by street in sorted order: what ``dissolve(by="street",
    method="disjoint_subset")`` and ``simplify`` give, one street per thread.

    A street of a county is thousands of separate parts with thousands of holes; GEOS merges and simplifies
    without the interpreter lock, so the streets share the cores.
    """
    codes, names = pd.factorize(street, sort=True)
    arr = np.asarray(geoms, dtype=object)
    order = np.argsort(codes, kind="stable")  # each street's parcels in their own order, as groupby has them
    groups = np.split(arr[order], np.cumsum(np.bincount(codes, minlength=len(names)))[:-1])

    def outline(parts: np.ndarray) -> Any:
        return simplify_apart(shapely.disjoint_subset_union_all(parts), STREET_SIMPLIFY_M)

    # the biggest streets first, so that no core is left with a long one at the end
    big_first = np.argsort([-len(g) for g in groups], kind="stable")
    with ThreadPoolExecutor(max_workers=max(1, min(len(groups), os.cpu_count() or 1))) as pool:
        done = dict(zip(big_first.tolist(), pool.map(outline, [groups[i] for i in big_first]), strict=True))
    return gpd.GeoSeries([done[i] for i in range(len(groups))], index=pd.Index(names, name="street"))


def simplify_apart(geom: Any, tolerance: float) -> Any:
    """``shapely.simplify(geom, tolerance, preserve_topology=True)``, the same coordinates, in far less time.

    The topology-preserving simplification of a multipolygon checks each candidate segment against the
    segments of every part, and its time grows faster than the parts (9 s for the 5 streets of 100k parcels,
    minutes at 300k). A candidate segment joins two vertices of one ring, so it stays inside that part's
    bounding box and can only meet a part whose box meets that box: the parts are simplified in groups of
    parts with touching boxes (transitively) and put back in their order, which gives what the whole did.
    """
    if shapely.get_type_id(geom) != shapely.GeometryType.MULTIPOLYGON or shapely.get_num_geometries(geom) < 2:
        return shapely.simplify(geom, tolerance, preserve_topology=True)
    parts = shapely.get_parts(geom)
    boxes = shapely.box(*shapely.bounds(parts).T)
    left, right = shapely.STRtree(boxes).query(boxes, predicate="intersects")
    _, group = connected_components(
        coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(len(parts), len(parts))),
        directed=False)
    order = np.argsort(group, kind="stable")
    simplified = shapely.get_parts(shapely.simplify(
        shapely.multipolygons(parts[order], indices=group[order]), tolerance, preserve_topology=True))
    if len(simplified) != len(parts):  # a part dropped (never seen): the whole geometry, as before
        return shapely.simplify(geom, tolerance, preserve_topology=True)
    back = np.empty(len(parts), dtype=object)
    back[order] = simplified
    return shapely.multipolygons(back)


def street_layer(streets: gpd.GeoDataFrame, lonlat: np.ndarray, policy: Any, lang: Lang, *,
                 parcel_values: pd.Series | None = None) -> dict:
    """The street choropleth layer spec for ``map.js`` (kind ``areas``).

    The classes are the parcels' classes (the policy's thresholds, else natural breaks over
    ``parcel_values``), so a street reads on the same scale as its parcels.
    """
    classes = tax_classes(streets["tax_per_mu"], tax_thresholds(policy), lang, breaks_from=parcel_values)
    classes["codes"] = integers(classes["codes"])
    return {
        "key": "streets", "kind": "areas", "name": text("layer_streets", lang), "show": True,
        "geom": encode_polygons(lonlat), **classes,
        "attrs": {
            "name": strings(streets.index.astype(str)), "tax_per_mu": numbers(streets["tax_per_mu"]),
            "land_mu": numbers(streets["land_mu"], decimals=2), "n_parcels": numbers(streets["n_parcels"], decimals=0),
        },
    }


def raster_layer(key: str, name: str, lonlat: np.ndarray, classes: dict, *, show: bool,
                 max_px: int = 1600) -> dict:
    """Parcels burned into a PNG (Web Mercator grid, pixels square on the ground), as an image layer."""
    grid, bounds = rasterise_codes(lonlat, np.asarray(classes["codes"]), max_px=max_px)
    png = encode_png(codes_to_rgba(grid, classes["colours"]))
    return {
        "key": key, "kind": "image", "name": name, "show": show, "url": data_uri(png, "image/png"),
        "bounds": bounds, "opacity": 0.85,
        "colours": classes["colours"], "labels": classes["labels"], "title": classes["title"],
    }


def search_points(parcels: gpd.GeoDataFrame, lonlat: np.ndarray, firm_ids: pd.Index) -> dict:
    """Search targets without parcel geometries: one point per firm (a point on its first parcel) and the
    low-efficiency parcels, as lat/lon columns (``null`` where a firm has no parcel)."""
    xy = shapely.get_coordinates(shapely.point_on_surface(lonlat))
    latlon = pd.DataFrame({"lat": xy[:, 1], "lon": xy[:, 0]}, index=parcels.index)
    out: dict[str, Any] = {}
    if "firm_usccs" in parcels.columns and len(firm_ids):
        pairs = split_ids(parcels["firm_usccs"]).drop_duplicates("target")
        where = latlon.reindex(pairs["owner"].to_numpy()).set_axis(pairs["target"].to_numpy()).reindex(firm_ids)
        out["firm_lat"], out["firm_lon"] = numbers(where["lat"], decimals=6), numbers(where["lon"], decimals=6)
    low = as_flag(col(parcels, "low_efficiency"), parcels.index)
    out["parcel_ids"] = strings(parcels.index[low].astype(str))
    out["parcel_lat"] = numbers(latlon["lat"][low], decimals=6)
    out["parcel_lon"] = numbers(latlon["lon"][low], decimals=6)
    return out


def aggregated_layers(parcels: gpd.GeoDataFrame, lonlat: np.ndarray, streets: gpd.GeoDataFrame | None,
                      streets_lonlat: np.ndarray | None, policy: Any, wanted: tuple[str, ...],
                      lang: Lang) -> list[dict]:
    """Layer specs of the aggregated view: the street choropleth and the grade and tax rasters."""
    layers: list[dict] = []
    if streets is not None and streets_lonlat is not None:
        layers.append(street_layer(streets, streets_lonlat, policy, lang, parcel_values=col(parcels, "tax_per_mu")))
    if "grade" in wanted:
        classes = grade_classes(col(parcels, "grade"), parcels.index, lang)
        layers.append(raster_layer("grade", text("layer_raster_grade", lang), lonlat, classes,
                                   show=streets is None))
    if "tax" in wanted and "tax_per_mu" in parcels.columns:
        classes = tax_classes(parcels["tax_per_mu"], tax_thresholds(policy), lang)
        layers.append(raster_layer("tax", f"{text('layer_tax', lang)} ({text('raster', lang)})", lonlat,
                                   classes, show=False))
    return layers

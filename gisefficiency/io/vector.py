"""Read a selection polygon drawn on the map (the draw tool's GeoJSON export) for scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from gisefficiency.core.errors import InputError


def read_selection_polygon(path: str | Path) -> shapely.Geometry:
    """Read a GeoJSON file of drawn polygons and return their union in WGS-84 lon/lat.

    The map's draw tool exports lon/lat; over a Gaode basemap it exports GCJ-02 and says so in a
    top-level ``"coordinate_system": "GCJ-02"`` member, which is converted back to WGS-84 here.

    Parameters
    ----------
    path
        A GeoJSON FeatureCollection, Feature or bare geometry.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: selection polygon file not found -> export it from the map's draw tool") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a GeoJSON text file ({exc}) -> export the polygon again") from None
    features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
    geoms = [shape(f["geometry"] if f.get("type") == "Feature" else f) for f in features or []]
    polygons = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise InputError(f"{path}: no polygon in the file -> draw a polygon or rectangle, not a line or point")
    union = shapely.union_all(polygons)
    if str(data.get("coordinate_system", "")).upper().replace("-", "") == "GCJ02":
        from gisefficiency.core.crs import gcj02_to_wgs84

        def to_wgs(coords: np.ndarray) -> np.ndarray:
            lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        union = shapely.transform(union, to_wgs)
    minx, miny, maxx, maxy = union.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError(f"{path}: coordinates are not lon/lat degrees -> export the drawing from the map (EPSG:4326)")
    return union

"""Read a selection polygon for scenarios: the map's draw-tool export, or a polygon saved from QGIS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError
from shapely.geometry import shape

from gisefficiency.core.errors import InputError

WGS84 = "EPSG:4326"


def read_selection_polygon(path: str | Path, *, to_crs: Any = None) -> shapely.Geometry:
    """Read a GeoJSON file of polygons and return their union, in WGS-84 lon/lat unless ``to_crs`` is given.

    GeoJSON is lon/lat WGS-84 (RFC 7946) unless the file says otherwise:

    - a top-level ``crs`` member, as QGIS and GDAL write for any CRS other than WGS-84
      (``{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}``, or the older
      ``{"type": "EPSG", "properties": {"code": 4549}}``): coordinates are in that CRS (x = easting);
    - ``"coordinate_system": "GCJ-02"``, which the map's draw tool writes over a Gaode basemap: the
      lon/lat are shifted back to WGS-84.

    Parameters
    ----------
    path
        A GeoJSON FeatureCollection, Feature or bare geometry.
    to_crs
        The CRS to return the polygon in (e.g. the parcels' ``parcels.crs``); default WGS-84 lon/lat,
        which ``scenario.Scenario.polygon`` takes.

    Raises
    ------
    InputError
        Missing or unreadable file, no polygon, an unknown ``crs`` member, or coordinates that do not
        fit the CRS the file declares.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: selection polygon file not found -> export it from the map's draw tool",
                         zh=f"{path}：找不到选区多边形文件 → 请用地图的绘制工具导出") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a GeoJSON text file ({exc}) -> export the polygon again",
                         zh=f"{path}：不是 GeoJSON 文本文件（{exc}）→ 请重新导出该多边形") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a GeoJSON object -> export the polygon again",
                         zh=f"{path}：不是 GeoJSON 对象 → 请重新导出该多边形")
    features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
    try:
        geoms = [shape(f["geometry"] if f.get("type") == "Feature" else f) for f in features or [] if f]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InputError(f"{path}: a feature has no readable geometry ({exc}) -> export the polygon again",
                         zh=f"{path}：有要素的几何无法读取（{exc}）→ 请重新导出该多边形") from None
    polygons = [g for g in geoms if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise InputError(f"{path}: no polygon in the file -> draw a polygon or rectangle, not a line or point",
                         zh=f"{path}：文件中没有多边形 → 请画多边形或矩形，而不是线或点")
    union = shapely.union_all(polygons)
    source = _declared_crs(data, path)
    gcj = str(data.get("coordinate_system", "")).upper().replace("-", "") == "GCJ02"
    if gcj and (source is None or source.is_geographic):
        from gisefficiency.core.crs import gcj02_to_wgs84

        def to_wgs(coords: np.ndarray) -> np.ndarray:
            lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        union = shapely.transform(union, to_wgs)
    if source is not None and not source.equals(CRS.from_user_input(WGS84), ignore_axis_order=True):
        union = _transform(union, source, CRS.from_user_input(WGS84))
    minx, miny, maxx, maxy = union.bounds
    if not (np.isfinite([minx, miny, maxx, maxy]).all() and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        if source is None:
            raise InputError(f"{path}: coordinates are not lon/lat degrees and the file names no CRS -> export "
                             "the drawing from the map (EPSG:4326), or save it from QGIS with its CRS",
                             zh=(f"{path}：坐标不是经纬度，且文件未声明坐标系 → 请从地图导出绘制的图形（EPSG:4326），"
                                 "或在 QGIS 中连同坐标系一起保存"))
        raise InputError(f"{path}: the coordinates do not fit the CRS the file names ({source.to_string()}) "
                         "-> save the layer again from QGIS with its own CRS",
                         zh=(f"{path}：坐标与文件声明的坐标系（{source.to_string()}）不符 "
                             "→ 请在 QGIS 中按图层自身的坐标系重新保存"))
    if to_crs is not None:
        target = CRS.from_user_input(to_crs)
        if not target.equals(CRS.from_user_input(WGS84), ignore_axis_order=True):
            union = _transform(union, CRS.from_user_input(WGS84), target)
    return union


def _declared_crs(data: dict[str, Any], path: Path) -> CRS | None:
    """The CRS of a GeoJSON ``crs`` member (GeoJSON 2008, as QGIS/GDAL write it), or None."""
    member = data.get("crs")
    if member is None:
        return None
    props = member.get("properties") if isinstance(member, dict) else None
    kind = str(member.get("type", "")).lower() if isinstance(member, dict) else ""
    if kind == "name" and isinstance(props, dict) and props.get("name"):
        text = str(props["name"])
    elif kind == "epsg" and isinstance(props, dict) and props.get("code") is not None:
        text = f"EPSG:{props['code']}"
    else:
        raise InputError(f"{path}: the 'crs' member {json.dumps(member, ensure_ascii=False)} is not a named CRS "
                         "-> save the layer from QGIS as GeoJSON (it writes the CRS by name), or in EPSG:4326",
                         zh=(f"{path}：'crs' 成员 {json.dumps(member, ensure_ascii=False)} 不是具名坐标系 "
                             "→ 请在 QGIS 中另存为 GeoJSON（会按名称写出坐标系），或保存为 EPSG:4326"))
    try:
        return CRS.from_user_input(text)
    except ProjCRSError:
        raise InputError(f"{path}: unknown CRS {text!r} in the 'crs' member -> save the layer in EPSG:4326 or "
                         "a CRS with an EPSG code, e.g. EPSG:4549",
                         zh=(f"{path}：'crs' 成员中的坐标系 {text!r} 无法识别 → 请保存为 EPSG:4326，"
                             "或带 EPSG 代码的坐标系，例如 EPSG:4549")) from None


def _transform(geom: shapely.Geometry, source: CRS, target: CRS) -> shapely.Geometry:
    # x = easting / longitude whatever the CRS's axis order, as GeoJSON and QGIS write coordinates
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, move)

"""Coordinate reference systems: guess one from coordinates, pick a CGCS2000 Gauss-Krüger zone, and
convert points between WGS-84, GCJ-02 (Gaode/Amap, Tencent) and BD-09 (Baidu).

Areas and distances are only ever computed in a projected CRS in metres: lon/lat layers are
projected to the CGCS2000 3° Gauss-Krüger zone of their median longitude. A parcel's area is its plane
area in the 3° zone that contains it (``land.prepare_parcels``), as cadastral surveys compute 宗地面积:
within a zone the area scale error stays below about 0.06 % (1.5° from the central meridian at
Zhejiang's latitudes), while a parcel 2.45° from the layer's meridian would be 0.14 % too large.

GCJ-02 is the obfuscated datum every map service licensed in China must use. Its forward formula is
public knowledge; the inverse has no closed form and is solved here by fixed-point iteration.
Outside China's bounding box, GCJ-02 equals WGS-84.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pyproj import CRS

from gisefficiency.core.constants import (
    CGCS2000_GK3_BY_CM,
    CGCS2000_GK3_PREFIXED_BY_ZONE,
    SAMPLE_CRS,
)
from gisefficiency.core.errors import CRSError, InputError, Problem

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0

#: Spellings of point coordinate systems -> canonical name.
COORD_SYSTEMS: dict[str, str] = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "wgs 84": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84", "gps": "wgs84",
    "cgcs2000": "cgcs2000", "epsg:4490": "cgcs2000", "4490": "cgcs2000", "国家2000": "cgcs2000",
    "2000": "cgcs2000", "天地图": "cgcs2000", "tianditu": "cgcs2000",
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "火星坐标": "gcj02", "高德": "gcj02", "amap": "gcj02",
    "gaode": "gcj02", "腾讯": "gcj02", "tencent": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "bd09ll": "bd09", "百度": "bd09", "baidu": "bd09",
}

#: Central meridians (degrees E) of the CGCS2000 6° zones with zone prefix 13..23 (EPSG:4491..4501).
_GK6_PREFIXED_EPSG: dict[int, int] = {13 + i: 4491 + i for i in range(11)}


def gk3_zone_crs(lon: float) -> CRS:
    """The CGCS2000 3° Gauss-Krüger CRS (no zone prefix) whose zone contains ``lon``.

    Parameters
    ----------
    lon
        Longitude in degrees east.

    Returns
    -------
    pyproj.CRS
        e.g. EPSG:4549 (CM 120°E) for 118.5 <= lon < 121.5.

    Raises
    ------
    CRSError
        If ``lon`` is not finite or outside China's zones (CM 75°E..135°E).

    Examples
    --------
    >>> gk3_zone_crs(120.7).to_epsg()
    4549
    >>> gk3_zone_crs(118.2).to_epsg()
    4548
    """
    if not np.isfinite(lon):
        raise CRSError(f"cannot choose a Gauss-Krüger zone for longitude {lon!r}",
                       zh=f"无法为经度 {lon!r} 选择高斯-克吕格投影带")
    cm = 3 * math.floor(lon / 3 + 0.5)
    epsg = CGCS2000_GK3_BY_CM.get(cm)
    if epsg is None:
        raise CRSError(
            f"longitude {lon:.3f}°E is outside China's CGCS2000 3° Gauss-Krüger zones (CM 75°E-135°E) "
            f"-> give a projected CRS in metres for this layer",
            zh=(f"经度 {lon:.3f}°E 超出中国 CGCS2000 3° 高斯-克吕格投影带的范围（中央经线 75°E-135°E）"
                "→ 请为该图层指定以米为单位的投影坐标系")
        )
    return CRS.from_epsg(epsg)


def gk3_central_meridians(lon: ArrayLike) -> np.ndarray:
    """Central meridian (degrees E) of the 3° Gauss-Krüger zone of each longitude (NaN stays NaN).

    Zones are [CM - 1.5°, CM + 1.5°), as ``gk3_zone_crs`` chooses them.

    Examples
    --------
    >>> gk3_central_meridians([118.2, 120.0, 121.5, 122.45]).tolist()
    [117.0, 120.0, 123.0, 123.0]
    """
    return 3 * np.floor(np.asarray(lon, dtype=float) / 3 + 0.5)


def gk3_central_meridian(crs: CRS) -> int | None:
    """The central meridian when ``crs`` is the plane of a CGCS2000 3° Gauss-Krüger zone, else None.

    Zone-prefixed eastings (EPSG:4528 for CM 120°E) and CGCS2000 6° zones whose meridian is a 3° zone's
    (CM 117°E, 123°E) are the same plane; UTM (scale 0.9996), Xi'an 1980 or Beijing 1954 (other
    ellipsoids) and local grids are not.
    """
    operation = crs.coordinate_operation if crs.is_projected else None
    if operation is None or "transverse mercator" not in (operation.method_name or "").lower():
        return None
    params = {p.name.lower(): p.value for p in operation.params}
    ellipsoid = crs.ellipsoid
    cgcs = ellipsoid is not None and ellipsoid.semi_major_metre == 6378137.0 and abs(
        ellipsoid.inverse_flattening - 298.257222101) < 1e-6  # CGCS2000 (GRS 80 differs in the 10th digit)
    cm = params.get("longitude of natural origin")
    if not cgcs or params.get("scale factor at natural origin") != 1.0 or params.get(
            "latitude of natural origin", 0.0) != 0.0 or cm is None or cm % 3:
        return None
    return int(cm)


@functools.lru_cache(maxsize=8)
def _to_lonlat(wkt: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(CRS.from_wkt(wkt), "EPSG:4490", always_xy=True)


def to_lonlat(crs: CRS, x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in ``crs`` -> CGCS2000 lon/lat degrees (the transformer is kept between calls)."""
    lon, lat = _to_lonlat(crs.to_wkt()).transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def lon_range(crs: CRS, bounds: ArrayLike) -> tuple[float, float]:
    """Least and greatest longitude of the rectangle ``bounds`` (minx, miny, maxx, maxy) in ``crs``.

    Longitude has no extremum inside a rectangle of a projected plane, so the densified edges give it.
    """
    left, bottom, right, top = (float(v) for v in bounds)
    west, _, east, _ = _to_lonlat(crs.to_wkt()).transform_bounds(left, bottom, right, top, densify_pts=51)
    return float(west), float(east)


def guess_crs(bounds: ArrayLike) -> str:
    """Describe what coordinates look like and which CRS they probably are, for an error message.

    Parameters
    ----------
    bounds
        ``(minx, miny, maxx, maxy)`` of the layer.

    Returns
    -------
    str
        One sentence naming the likely EPSG code(s), e.g. "eastings 40,512,300-40,598,700 (zone
        prefix 40): CGCS2000 3° Gauss-Krüger zone 40 with zone prefix, EPSG:4528?".
    """
    return _guess(np.asarray(bounds, dtype=float))[1]


def guess_epsg(bounds: ArrayLike) -> str | None:
    """The most likely CRS (e.g. ``"EPSG:4528"``) for ``bounds``, or None when nothing fits."""
    return _guess(np.asarray(bounds, dtype=float))[0]


def _guess(bounds: np.ndarray) -> tuple[str | None, str]:
    minx, miny, maxx, maxy = bounds
    if not np.all(np.isfinite(bounds)):
        return None, "the layer has no coordinates"
    span = f"x {minx:,.0f}-{maxx:,.0f}, y {miny:,.0f}-{maxy:,.0f}"
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return "EPSG:4490", (
            f"looks like lon/lat degrees (lon {minx:.4f}-{maxx:.4f}, lat {miny:.4f}-{maxy:.4f}): "
            "EPSG:4490 (CGCS2000) or EPSG:4326 (WGS-84)?"
        )
    northing_ok = miny >= 0 and maxy <= 6_500_000
    zone_lo, zone_hi = int(minx // 1_000_000), int(maxx // 1_000_000)
    if northing_ok and zone_lo == zone_hi and zone_lo in CGCS2000_GK3_PREFIXED_BY_ZONE:
        epsg = CGCS2000_GK3_PREFIXED_BY_ZONE[zone_lo]
        cm = 75 + 3 * (zone_lo - 25)
        return f"EPSG:{epsg}", (
            f"eastings {minx:,.0f}-{maxx:,.0f} carry zone prefix {zone_lo}: CGCS2000 3° Gauss-Krüger "
            f"zone {zone_lo} (CM {cm}°E) with zone prefix, EPSG:{epsg}?"
        )
    gk6 = _GK6_PREFIXED_EPSG.get(zone_lo) if northing_ok and zone_lo == zone_hi else None
    if northing_ok and 8_000_000 <= minx <= maxx <= 15_300_000:
        # China's Web Mercator eastings overlap the 6° prefixed zones 13-15 (far west); Web Mercator
        # (web-map exports) is the likelier of the two for eastern China.
        lon = minx / 20037508.342789244 * 180
        other = f" (or CGCS2000 6° Gauss-Krüger zone {zone_lo} with zone prefix, EPSG:{gk6})" if gk6 else ""
        return "EPSG:3857", f"{span}: Web Mercator EPSG:3857 at about {lon:.1f}°E?{other}"
    if gk6 is not None:
        return f"EPSG:{gk6}", (
            f"eastings {minx:,.0f}-{maxx:,.0f} carry zone prefix {zone_lo}: CGCS2000 6° Gauss-Krüger zone "
            f"{zone_lo} with zone prefix, EPSG:{gk6}?"
        )
    if northing_ok and 100_000 <= minx <= maxx <= 900_000:
        return SAMPLE_CRS, (
            f"eastings {minx:,.0f}-{maxx:,.0f} without zone prefix: CGCS2000 3° Gauss-Krüger, e.g. EPSG:4549 "
            "for CM 120°E (most of Zhejiang; EPSG:4548 west of 118.5°E, EPSG:4550 east of 121.5°E)"
        )
    return None, f"{span}: does not look like lon/lat or a CGCS2000 Gauss-Krüger projection"


def _wgs84_to_gcj02_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """True where a point lies in the rough China box in which GCJ-02 differs from WGS-84."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat -> GCJ-02 (Gaode/Amap, Tencent), degrees; unchanged outside China.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(120.15, 30.28)
    >>> round(float(lon - 120.15), 4), round(float(lat - 30.28), 4)
    (0.0047, -0.0024)
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _wgs84_to_gcj02_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat -> WGS-84 by fixed-point iteration (error far below 0.5 m; about 1e-5 m).

    Parameters
    ----------
    lon, lat
        GCJ-02 coordinates in degrees.
    tol_deg
        Stop when the forward transform of the estimate is within this many degrees of the input.
    max_iter
        Upper bound on iterations (the offset is a contraction: 3-5 iterations usually suffice).
    """
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(~np.isfinite(elon) | (np.abs(elon) < tol_deg)) and np.all(
            ~np.isfinite(elat) | (np.abs(elat) < tol_deg)
        ):
            break
    return wlon, wlat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 -> BD-09 (Baidu) lon/lat, degrees."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 (Baidu) -> GCJ-02 lon/lat, degrees (Baidu's own inverse; round trip within ~1 m)."""
    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coord_sys: ArrayLike | str) -> tuple[np.ndarray, np.ndarray]:
    """Convert points in any of wgs84 / cgcs2000 / gcj02 / bd09 to WGS-84 lon/lat.

    Parameters
    ----------
    lon, lat
        Degrees.
    coord_sys
        One name for all points or one per point (spellings in ``COORD_SYSTEMS``; missing = wgs84).
        CGCS2000 and WGS-84 differ by centimetres and are treated as the same.

    Raises
    ------
    InputError
        If a coordinate system name is not known.
    """
    lon, lat = np.asarray(lon, dtype=float).copy(), np.asarray(lat, dtype=float).copy()
    systems = pd.Series(np.broadcast_to(np.asarray(coord_sys, dtype=object), lon.shape).ravel())
    names = systems.astype("string").str.strip().str.lower().map(COORD_SYSTEMS, na_action="ignore")
    unknown = systems.notna().to_numpy() & names.isna().to_numpy()
    if unknown.any():
        bad = sorted(set(systems[unknown].astype(str)))
        raise InputError(
            "unknown coordinate system",
            [Problem(f"unknown coordinate system {b!r}", fix="use one of wgs84, cgcs2000, gcj02, bd09",
                     column="coord_sys", value=b,
                     message_zh=f"未知的坐标系 {b!r}",
                     fix_zh="请使用 wgs84、cgcs2000、gcj02、bd09 之一") for b in bad],
            zh="未知的坐标系",
        )
    names = names.fillna("wgs84").to_numpy().reshape(lon.shape)
    bd = names == "bd09"
    if bd.any():
        lon[bd], lat[bd] = bd09_to_gcj02(lon[bd], lat[bd])
    gcj = bd | (names == "gcj02")
    if gcj.any():
        lon[gcj], lat[gcj] = gcj02_to_wgs84(lon[gcj], lat[gcj])
    return lon, lat


def is_metric_projected(crs: CRS) -> bool:
    """True for a projected CRS whose axes are in metres."""
    return bool(crs.is_projected) and all(
        (axis.unit_name or "").lower() in {"metre", "meter", "m"} for axis in crs.axis_info[:2]
    )


def distorts_area(crs: CRS) -> bool:
    """True for projections whose area scale is far from 1 over a county (the Mercator family)."""
    operation = crs.coordinate_operation
    method = (operation.method_name if operation is not None else "").lower()
    return "mercator" in method and "transverse" not in method

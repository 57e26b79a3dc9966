"""Land: repair parcel geometry, resolve duplicated ids and decide each parcel's area in mu.

``prepare_parcels`` adds the land columns of ``docs/contract.md`` to the frame ``read_parcels``
returns; ``summarise_land`` totals them for the link report. 1 mu is exactly 10000/15 m².

A parcel's drawn area is its plane area in the CGCS2000 3° Gauss-Krüger zone that contains it, as
cadastral surveys compute 宗地面积. Parcels inside the zone of the layer's CRS (every parcel of a
county, as a rule) are measured as drawn; parcels in another zone (a lon/lat layer spanning several
zones, EPSG:4549 data at 122.4°E) or layers in another projection (UTM, Xi'an 1980) are projected to
their own zone for the area only, while the geometry stays in the layer's CRS for adjacency. The area
is then within 0.06 % of the ellipsoidal area anywhere in Zhejiang (118°E-123°E); left in EPSG:4549, a
parcel at 122.45°E would be 0.14 % too large. Checked against ``pyproj.Geod`` in ``tests/test_land.py``.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from gisefficiency.core.constants import CGCS2000_GK3_BY_CM, M2_PER_MU
from gisefficiency.core.crs import (
    distorts_area,
    gk3_central_meridian,
    gk3_central_meridians,
    is_metric_projected,
    lon_range,
    to_lonlat,
)
from gisefficiency.core.errors import ConfigError, CRSError, InputError, Problem, format_ids, format_ids_zh
from gisefficiency.core.ids import arrow_ids

log = logging.getLogger(__name__)

#: Where ``land_mu`` comes from: the certificate area when given (``"cert"``) or always the polygon.
AREA_BASES: tuple[str, ...] = ("cert", "drawn")

#: What to do with parcel ids that occur more than once.
#: ``"error"`` stops with the ids; ``"keep_first"`` keeps the first row of each id (later rows are
#: dropped, ``n_src_rows`` counts them); ``"merge"`` unions the geometries into one parcel, sums the
#: certificate and floor areas (missing only when all are missing) and keeps the first non-missing
#: value of every other column.
DUPLICATE_RULES: tuple[str, ...] = ("error", "keep_first", "merge")

_POLYGON, _MULTIPOLYGON = 3, 6
#: ``geom_status`` values by code.
_STATUS_NAMES: tuple[str, ...] = ("ok", "repaired", "empty")
_OK, _REPAIRED, _EMPTY = 0, 1, 2
#: Threads for the validity check: at most this many, each with at least ``_MIN_PER_THREAD`` geometries.
_MAX_THREADS, _MIN_PER_THREAD = 4, 50_000
#: Convexity fast path: rings with a point count shared by at least this many polygons, in chunks of this size.
_CONVEX_MIN_GROUP, _CONVEX_CHUNK = 1000, 8192
#: pandas' default text dtype (``str``, NaN for missing) and ``string`` (NA for missing).
_STR, _STRING = pd.StringDtype(na_value=np.nan), pd.StringDtype()
_COLLECTIONS = (4, 5, 6, 7)  # multi-point, multi-line, multi-polygon, geometry collection
_SUMMED = ("cert_area_m2", "floor_area_m2")
#: Units a certificate area is found written in, by the ratio of the value to the drawn area in m²:
#: (name, m² per unit of the value, label). A ratio within ``_UNIT_BAND`` of 1 / (m² per unit) says
#: the unit: the bands of 亩 (1/666.67) and 公顷 (1/10000) are a factor 15 apart, so they never overlap.
_CERT_UNITS: tuple[tuple[str, float, str], ...] = (("m2", 1.0, "m²"), ("mu", M2_PER_MU, "亩"),
                                                   ("ha", 10_000.0, "公顷"))
_UNIT_BAND = 1.5
#: A certificate area below this share of the drawn area and in none of the units' bands is no area
#: of this polygon in any unit: the drawn area is used.
_IMPLAUSIBLE_SHARE = 0.02
#: Longitudes within this many degrees of a zone edge count as inside (rounding of the edge).
_ZONE_EDGE_DEG = 1e-9
_STATUS_RANK = {"ok": 0, "repaired": 1, "empty": 2}


def prepare_parcels(
    parcels: gpd.GeoDataFrame,
    *,
    area_basis: str = "cert",
    area_diff_share: float = 0.05,
    duplicates: str = "error",
) -> gpd.GeoDataFrame:
    """Repair geometries and compute every parcel's area in mu.

    Parameters
    ----------
    parcels
        Parcels as returned by ``io.read_parcels`` (index ``parcel_id``, projected CRS in metres).
    area_basis
        ``"cert"``: ``land_mu`` is the certificate area when given, else the drawn area;
        ``"drawn"``: always the drawn polygon's area.
    area_diff_share
        ``area_flag`` is True where ``|cert - drawn| / drawn`` exceeds this share.
    duplicates
        One of ``DUPLICATE_RULES``: ``"error"`` (default), ``"keep_first"`` or ``"merge"``.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame, one row per parcel id, with ``geom_status`` ("ok", "repaired", "empty"),
        ``status`` ("ok" or "excluded: <reason>"), ``area_m2``, ``area_mu``, ``cert_area_mu``,
        ``land_mu`` (NaN when excluded), ``land_source`` ("cert"/"drawn"), ``area_diff_share``,
        ``area_flag``, ``cert_unit`` (the unit the certificate area was found in: "m2", "mu" or "ha",
        converted to m², or "unknown": not used; NA without a certificate area) and ``n_src_rows``
        (source rows folded into the parcel). ``area_m2`` is the plane area in the parcel's own
        CGCS2000 3° zone (see the module's docstring).

    Raises
    ------
    ConfigError
        Unknown ``area_basis`` or ``duplicates``, or a negative ``area_diff_share``.
    CRSError
        If the frame is not in a projected CRS in metres.
    InputError
        Duplicated parcel ids with ``duplicates="error"``, or a layer without any polygon.
    """
    _check_options(area_basis, area_diff_share, duplicates)
    _check_crs(parcels)
    out = parcels.copy(deep=False)  # copy-on-write: the caller's frame is never changed, no data copied
    if out.index.name != "parcel_id":
        out.index = out.index.rename("parcel_id")
    geometry, code, reason = _repair(out.geometry.to_numpy())
    empty = code == _EMPTY
    if len(out) and empty.all() and (reason != "empty geometry").any():
        raise InputError(
            "the parcel layer holds no polygons (found "
            f"{', '.join(sorted(set(reason[reason != 'empty geometry'])))}) -> give a polygon layer",
            zh=("地块图层中没有多边形（发现的是 "
                f"{', '.join(sorted(set(reason[reason != 'empty geometry'])))}）→ 请提供多边形图层")
        )
    out = out.set_geometry(gpd.GeoSeries(geometry, index=out.index, crs=out.crs), crs=out.crs)
    out["geom_status"] = _labels(code, _STATUS_NAMES)
    # Status texts of the (few) empty rows only; every other row is "ok".
    reasons, reason_code = np.unique(reason.astype(str), return_inverse=True)
    status_code = np.zeros(len(out), dtype=np.int32)
    status_code[empty] = reason_code.reshape(-1) + 1
    out["status"] = _labels(status_code, ("ok", *("excluded: " + r for r in reasons.tolist())))
    out["n_src_rows"] = np.ones(len(out), dtype=np.int64)
    out = _resolve_duplicates(out, duplicates)

    # Plain arrays from here on: pandas alignment on a million string ids costs more than the sums.
    geom_empty = _equals(out["geom_status"], "empty")
    included = _equals(out["status"], "ok")
    geoms = out.geometry.to_numpy()
    area_m2 = shapely.area(geoms)
    area_m2[geom_empty] = np.nan
    area_m2 = own_zone_areas(geoms, area_m2, out.crs)
    area_mu = area_m2 / M2_PER_MU
    if "cert_area_m2" in out:
        cert_m2 = pd.to_numeric(out["cert_area_m2"], errors="coerce").astype(float).to_numpy(dtype=float)
        # A zero or negative certificate area means "no certificate", not an empty parcel.
        cert_m2 = np.where(cert_m2 > 0, cert_m2, np.nan)
        cert_m2, unit = cert_units(cert_m2, area_m2)
        _warn_units(unit, out)
        cert_mu = cert_m2 / M2_PER_MU
    else:
        cert_mu = np.full(len(out), np.nan)
        unit = np.full(len(out), -1, dtype=np.int8)
    use_cert = ~np.isnan(cert_mu) & (area_basis == "cert")
    land_mu = np.where(use_cert, cert_mu, area_mu)
    land_mu[~included] = np.nan
    drawn = np.where(area_mu > 0, area_mu, np.nan)
    diff_share = (cert_mu - drawn) / drawn
    out["area_m2"] = area_m2
    out["area_mu"] = area_mu
    out["cert_area_mu"] = cert_mu
    out["land_mu"] = land_mu
    out["land_source"] = _labels(np.where(use_cert, 0, 1), ("cert", "drawn"), valid=included, dtype=_STRING)
    out["area_diff_share"] = diff_share
    out["cert_unit"] = _labels(np.maximum(unit, 0), (*(u for u, _, _ in _CERT_UNITS), "unknown"), valid=unit >= 0,
                               dtype=_STRING)
    with np.errstate(invalid="ignore"):
        out["area_flag"] = np.abs(diff_share) > area_diff_share  # NaN compares False: no flag
    return out


def own_zone_areas(geoms: np.ndarray, area_m2: np.ndarray, crs: object) -> np.ndarray:
    """Areas in m² of ``geoms`` in each one's own CGCS2000 3° Gauss-Krüger zone.

    Parameters
    ----------
    geoms
        Geometries in the projected ``crs``.
    area_m2
        Their plane areas in ``crs`` (NaN for empty ones, which stay NaN).
    crs
        The geometries' CRS.

    Returns
    -------
    numpy.ndarray
        ``area_m2`` itself when every parcel lies in the zone of ``crs`` (decided from the layer's extent,
        without looking at each parcel), else a copy with the other parcels' areas measured in their zone;
        parcels outside China's zones (CM 75°E-135°E) keep their plane area.
    """
    from pyproj import CRS

    crs = CRS.from_user_input(crs)
    present = ~np.isnan(area_m2)
    if not present.any():
        return area_m2
    own = gk3_central_meridian(crs)
    if own is not None:
        # total_bounds skips None and empty geometries: the same set as ``present`` (0.1 s a million).
        west, east = lon_range(crs, shapely.total_bounds(geoms))
        if own - 1.5 - _ZONE_EDGE_DEG <= west and east < own + 1.5 + _ZONE_EDGE_DEG:
            return area_m2  # the common case: one county in its own zone
    at = np.flatnonzero(present)
    b = shapely.bounds(geoms[at])
    lon, _ = to_lonlat(crs, (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
    cm = gk3_central_meridians(lon)
    out = area_m2.copy()
    moved = cm != own
    for zone in np.unique(cm[moved & np.isfinite(cm)]):  # one pass per zone (a handful at most)
        epsg = CGCS2000_GK3_BY_CM.get(int(zone))
        if epsg is None:
            continue
        rows = at[moved & (cm == zone)]
        projected = gpd.GeoSeries(geoms[rows], crs=crs).to_crs(epsg).to_numpy()
        out[rows] = shapely.area(projected)
        change = out[rows] / area_m2[rows] - 1
        log.info("%d parcel(s) lie in the 3° zone of CM %d°E (EPSG:%d), outside the layer's %s: their plane "
                 "areas there differ by %+.3f %% to %+.3f %%, so they are measured in their own zone",
                 len(rows), zone, epsg, crs.name, 100 * change.min(), 100 * change.max())
    return out


def cert_units(cert_m2: np.ndarray, area_m2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Certificate areas written in 亩 or 公顷 under a m² header, found by their ratio to the drawn area.

    Parameters
    ----------
    cert_m2
        Certificate areas as read (meant to be m²; NaN: none).
    area_m2
        Drawn areas in m² (NaN: none, then the value is taken as m²).

    Returns
    -------
    tuple of numpy.ndarray
        The certificate areas in m² (values in 亩 or 公顷 converted; NaN where the value fits no unit
        and is below 2 % of the drawn area, so the drawn area is used) and the unit code of each row:
        an index into ``_CERT_UNITS`` ("m2", "mu", "ha"), 3 for "unknown" (dropped), -1 without a value.

    Examples
    --------
    A 8,333 m² polygon with 12.5 written under 证载面积(平方米) holds 12.5 亩:

    >>> import numpy as np
    >>> m2, unit = cert_units(np.array([12.5, 8000.0, 0.8, 3.0]), np.array([8333.3, 8333.3, 8333.3, 8333.3]))
    >>> m2.round(2).tolist(), unit.tolist()
    ([8333.33, 8000.0, 8000.0, nan], [1, 0, 2, 3])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = cert_m2 / np.where(area_m2 > 0, area_m2, np.nan)
    unit = np.where(np.isnan(cert_m2), -1, 0).astype(np.int8)
    factor = np.ones(len(cert_m2))
    with np.errstate(invalid="ignore"):
        for code, (_, m2_per_unit, _) in enumerate(_CERT_UNITS[1:], start=1):
            fits = (ratio * m2_per_unit > 1 / _UNIT_BAND) & (ratio * m2_per_unit < _UNIT_BAND)
            unit[fits] = code
            factor[fits] = m2_per_unit
        unknown = (unit == 0) & (ratio < _IMPLAUSIBLE_SHARE)
    unit[unknown] = len(_CERT_UNITS)
    out = cert_m2 * factor
    out[unknown] = np.nan
    return out, unit


def _warn_units(unit: np.ndarray, parcels: gpd.GeoDataFrame) -> None:
    """Log one warning per unit the certificate areas were found in other than m², naming the rows."""
    rows = parcels["src_row"].to_numpy() if "src_row" in parcels else None
    for code in range(1, len(_CERT_UNITS) + 1):
        at = np.flatnonzero(unit == code)
        if not len(at):
            continue
        where = (f"rows {format_ids(rows[at].tolist())}, " if rows is not None else "") + \
            f"parcel id(s) {format_ids(parcels.index[at].tolist())}"
        where_zh = (f"第 {format_ids_zh(rows[at].tolist())} 行，" if rows is not None else "") + \
            f"地块编号 {format_ids_zh(parcels.index[at].tolist())}"
        if code < len(_CERT_UNITS):
            _, m2_per_unit, label = _CERT_UNITS[code]
            message = (f"{len(at)} certificate area(s) are in {label}, not m² (about 1/{m2_per_unit:,.2f} of the "
                       f"drawn polygon): {where}; converted to m² (x {m2_per_unit:,.2f})")
            message_zh = (f"{len(at)} 个证载面积的单位是{label}而不是平方米（约为图斑面积的 1/{m2_per_unit:,.2f}）："
                          f"{where_zh}；已换算为平方米（× {m2_per_unit:,.2f}）")
        else:
            message = (f"{len(at)} certificate area(s) are below {_IMPLAUSIBLE_SHARE:.0%} of the drawn polygon "
                       f"and fit no unit (m², 亩, 公顷): {where}; the drawn area is used")
            message_zh = (f"{len(at)} 个证载面积不到图斑面积的 {_IMPLAUSIBLE_SHARE:.0%}，且不符合任何单位"
                          f"（平方米、亩、公顷）：{where_zh}；改用图斑面积")
        problem = Problem(message, column="cert_area_m2", severity="warning",
                          fix="write 证载面积 in m², or name its unit in the header, e.g. 证载面积(亩)",
                          message_zh=message_zh, fix_zh="请以平方米填写证载面积，或在表头中注明单位，例如 证载面积(亩)")
        log.warning("%s", problem, extra={"zh": problem.text("zh")})


def repair_geometries(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the polygonal part of every geometry, repairing invalid ones with ``make_valid``.

    Parameters
    ----------
    geoms
        Array of shapely geometries (None allowed).

    Returns
    -------
    tuple of numpy.ndarray
        The geometries (Polygon/MultiPolygon, None where nothing polygonal is left), the status
        ("ok", "repaired", "empty") and the reason of empty ones ("" otherwise).
    """
    out, code, reason = _repair(geoms)
    full_reason = np.full(len(code), "", dtype=object)
    full_reason[code == _EMPTY] = reason
    return out, np.asarray(_STATUS_NAMES, dtype=object)[code].astype(str), full_reason.astype(str)


def _repair(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``repair_geometries`` with the status as codes into ``_STATUS_NAMES`` and the reasons of empty rows only.

    Validity is checked once per polygon (the costly step, spread over the CPUs); ``make_valid``
    and the part extraction run only on the invalid and non-polygonal rows.
    """
    geoms = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), (_POLYGON, _MULTIPOLYGON)) & ~missing
    valid = np.zeros(len(geoms), dtype=bool)
    valid[polygonal] = _is_valid(geoms[polygonal])
    pending = ~missing & ~valid
    out = geoms.copy()
    out[missing] = None
    code = np.where(missing, _EMPTY, _OK).astype(np.int8)
    reason = np.full(len(geoms), "", dtype=object)
    reason[missing] = "empty geometry"
    if pending.any():
        fixed = _polygonal_parts(shapely.make_valid(geoms[pending]))
        idx = np.flatnonzero(pending)
        out[idx] = fixed
        lost = shapely.is_missing(fixed)
        code[idx] = np.where(lost, _EMPTY, _REPAIRED)
        reason[idx[lost]] = _type_reason(geoms[idx[lost]])
    return out, code, reason[code == _EMPTY]


def _is_valid(geoms: np.ndarray) -> np.ndarray:
    """``shapely.is_valid`` of polygons, on large arrays split over threads (GEOS and NumPy release the GIL)."""
    n_threads = min(_cpus(), _MAX_THREADS, len(geoms) // _MIN_PER_THREAD)
    if n_threads < 2:
        return _valid_part(geoms)
    with ThreadPoolExecutor(n_threads) as pool:
        return np.concatenate(list(pool.map(_valid_part, np.array_split(geoms, n_threads))))


def _valid_part(geoms: np.ndarray) -> np.ndarray:
    """``shapely.is_valid``: strictly convex rings are valid without asking GEOS, the rest go to it."""
    valid = strictly_convex(geoms)
    rest = ~valid
    if rest.any():
        valid[rest] = shapely.is_valid(geoms[rest])
    return valid


def strictly_convex(geoms: np.ndarray) -> np.ndarray:
    """True for polygons without holes whose ring is closed, strictly convex and turns once around.

    Such a ring cannot touch or cross itself, so the polygon is valid; the test is plain NumPy on
    the coordinates and about twice as fast as GEOS' validity check (most parcels are drawn as
    convex quadrilaterals). Every turn must be clearly left or clearly right (the sine of the angle
    above 1e-9), so rounding cannot flip a sign that GEOS' exact predicates would see differently;
    collinear or repeated points, spikes and bow-ties are left to GEOS (False here).

    Parameters
    ----------
    geoms
        Array of shapely geometries (None allowed).

    Returns
    -------
    numpy.ndarray
        Boolean per geometry; False says nothing about validity.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms), dtype=bool)
    plain = (shapely.get_type_id(geoms) == _POLYGON) & (shapely.get_num_interior_rings(geoms) == 0)
    n_coords = np.where(plain, shapely.get_num_coordinates(geoms), 0)
    sizes, counts = np.unique(n_coords[n_coords >= 4], return_counts=True)
    # Rings grouped by their number of points (a loop over the few common counts; rare counts go to
    # GEOS), in chunks small enough for the temporaries to reuse memory instead of fresh pages.
    for size in sizes[counts >= _CONVEX_MIN_GROUP]:
        rows = np.flatnonzero(n_coords == size)
        for at in range(0, len(rows), _CONVEX_CHUNK):
            part = rows[at:at + _CONVEX_CHUNK]
            out[part] = _convex_rings(shapely.get_coordinates(geoms[part]).reshape(len(part), size, 2))
    return out


def _convex_rings(points: np.ndarray) -> np.ndarray:
    """``strictly_convex`` of closed rings given as an (n, points, 2) array."""
    x, y = points[..., 0], points[..., 1]
    ex, ey = np.diff(x, axis=1), np.diff(y, axis=1)
    fx, fy = np.roll(ex, -1, axis=1), np.roll(ey, -1, axis=1)  # the edge after each (the last: the first)
    cross = ex * fy - ey * fx
    squared = ex * ex + ey * ey
    # |sin| of every turn above 1e-9 (compared squared: no square roots); NaN coordinates fail here.
    clear = (cross * cross > 1e-18 * squared * np.roll(squared, -1, axis=1)).all(axis=1)
    one_way = (cross > 0).all(axis=1) | (cross < 0).all(axis=1)
    # Turning one way by less than pi each time, the edges point east (dx >= 0) and west in exactly
    # two runs per full turn: two switches for a simple ring, four for a pentagram (which turns twice).
    east = ex >= 0
    once = (east != np.roll(east, -1, axis=1)).sum(axis=1) == 2
    closed = (x[:, 0] == x[:, -1]) & (y[:, 0] == y[:, -1])
    return clear & one_way & once & closed


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _labels(codes: np.ndarray, names: tuple[str, ...], *, valid: np.ndarray | None = None,
            dtype: pd.StringDtype = _STR) -> pd.api.extensions.ExtensionArray:
    """Text column ``names[codes]`` built in Arrow (a million Python strings would cost more).

    ``valid`` False gives a missing cell. The default dtype is pandas' ``str``, the one a column
    assigned from a NumPy text array gets; ``_STRING`` gives ``string``.
    """
    indices = pa.array(np.asarray(codes, dtype=np.int32), mask=None if valid is None else ~valid)
    return pd.array(pc.take(pa.array(list(names), type=pa.large_string()), indices), dtype=dtype)


def _equals(column: pd.Series, value: str) -> np.ndarray:
    """``column == value`` as a bool array, missing cells False (compared in Arrow for Arrow strings)."""
    return (column == value).fillna(False).to_numpy(dtype=bool)


def _type_reason(geoms: np.ndarray) -> np.ndarray:
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                      "MultiPolygon", "GeometryCollection"], dtype=object)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, (_POLYGON, _MULTIPOLYGON))
    label = "not a polygon (" + names[np.clip(types, 0, 7)] + ")"
    return np.where(polygonal, "no area left after repair", label)


def _polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Polygons of each geometry (nested collections flattened); None where there are none."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    while True:
        nested = np.isin(shapely.get_type_id(parts), _COLLECTIONS)
        if not nested.any():
            break
        sub, sub_index = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], sub])
        index = np.concatenate([index[~nested], index[nested][sub_index]])
    keep = (shapely.get_type_id(parts) == _POLYGON) & (shapely.area(parts) > 0)
    parts, index = parts[keep], index[keep]
    order = np.argsort(index, kind="stable")
    parts, index = parts[order], index[order]
    out = np.full(len(geoms), None, dtype=object)
    if len(parts):
        shapely.multipolygons(parts, indices=index, out=out)
        single = np.bincount(index, minlength=len(geoms)) == 1
        out[single] = shapely.get_geometry(out[single], 0)
    return out


def _resolve_duplicates(frame: gpd.GeoDataFrame, rule: str) -> gpd.GeoDataFrame:
    # Integer codes of the ids, numbered by first appearance (one Arrow hash of the ids instead of
    # pandas' duplicated, value_counts and reindex, each hashing a million strings again).
    encoded = pc.dictionary_encode(arrow_ids(frame.index), null_encoding="encode")
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)
    counts = np.bincount(codes, minlength=len(encoded.dictionary))
    dup = counts[codes] > 1
    if not dup.any():
        return frame
    if rule == "error":
        ids = encoded.dictionary.filter(pa.array(counts > 1)).to_pylist()
        raise InputError(
            f"{len(ids)} parcel id(s) occur more than once: {format_ids(ids)} -> fix the ids, or set "
            f"duplicates = \"keep_first\" (keep the first row) or \"merge\" (union the polygons, sum the "
            f"certificate areas) under [parcels]",
            zh=(f"{len(ids)} 个地块编号重复出现：{format_ids_zh(ids)} → 请改正编号，或在 [parcels] 下设置 "
                "duplicates = \"keep_first\"（保留第一行）或 \"merge\"（合并多边形，证载面积相加）")
        )
    if rule == "keep_first":
        # Codes follow first appearance: a row is an id's first exactly when its code is new.
        seen = np.maximum.accumulate(codes)
        first = np.empty(len(codes), dtype=bool)
        first[:1] = True
        first[1:] = codes[1:] > seen[:-1]
        out = frame[first]
        out["n_src_rows"] = counts[codes[first]]
        return out
    return _merge_duplicates(frame, dup, frame.index.value_counts())


def _merge_duplicates(frame: gpd.GeoDataFrame, dup: np.ndarray, counts: pd.Series) -> gpd.GeoDataFrame:
    geom_name = frame.geometry.name
    order = pd.Series(np.arange(len(frame)), index=frame.index).groupby(level=0, sort=False).min()
    rows = frame[dup]
    attrs = rows.drop(columns=[geom_name]).groupby(level=0, sort=False).first()
    for name in _SUMMED:
        if name in rows:
            attrs[name] = pd.to_numeric(rows[name], errors="coerce").groupby(level=0, sort=False).sum(min_count=1)
    rank = rows["geom_status"].map(_STATUS_RANK)
    codes, uniques = pd.factorize(rows.index)
    geoms = rows.geometry.to_numpy()
    sort = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[sort])) + 1
    # One union per duplicated id: only the (few) duplicated ids are looped over.
    merged = np.array([shapely.union_all(group) for group in np.split(geoms[sort], bounds)], dtype=object)
    merged = _polygonal_parts(merged)
    merged_status = np.where(
        shapely.is_missing(merged), "empty",
        np.where(rank.groupby(codes).max().to_numpy() >= _STATUS_RANK["repaired"], "repaired", "ok"),
    )
    attrs = attrs.reindex(uniques).rename_axis(frame.index.name)  # factorize's uniques carry no name
    attrs["geom_status"] = merged_status
    attrs["status"] = np.where(merged_status == "empty", "excluded: empty geometry", "ok")
    attrs["n_src_rows"] = counts.reindex(uniques).to_numpy()
    merged_frame = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(merged, index=attrs.index, crs=frame.crs))
    merged_frame = merged_frame.rename_geometry(geom_name) if geom_name != "geometry" else merged_frame
    out = pd.concat([frame[~dup], merged_frame[frame.columns]])
    out = out.iloc[np.argsort(order.reindex(out.index).to_numpy(), kind="stable")]
    return gpd.GeoDataFrame(out, geometry=geom_name, crs=frame.crs)


def summarise_land(parcels: gpd.GeoDataFrame) -> dict[str, float]:
    """Counts and area totals of prepared parcels, for the link report.

    Parameters
    ----------
    parcels
        Output of :func:`prepare_parcels`.

    Returns
    -------
    dict
        ``n_parcels``, ``n_ok``, ``n_repaired``, ``n_empty``, ``n_excluded``, ``n_duplicate_rows``
        (source rows folded into another row), ``n_cert`` (parcels with a certificate area),
        ``n_land_from_cert``, ``n_area_flag``; ``drawn_mu`` (drawn area of usable parcels),
        ``cert_mu`` (certificate areas), ``repaired_mu`` (drawn area of repaired parcels),
        ``area_mu_before`` (every row's land as given, the certificate area of excluded rows included),
        ``area_mu_after`` (= the sum of ``land_mu``) and ``excluded_mu`` (their difference).
    """
    status = parcels["status"]
    ok = status == "ok"
    land = parcels["land_mu"].astype(float)
    before = land.fillna(parcels["cert_area_mu"].astype(float))
    after = float(land.sum(min_count=1)) if land.notna().any() else 0.0
    total_before = float(before.sum()) if before.notna().any() else 0.0
    n_src = parcels["n_src_rows"] if "n_src_rows" in parcels else pd.Series(1, index=parcels.index)
    return {
        "n_parcels": len(parcels),
        "n_ok": int(ok.sum()),
        "n_repaired": int((parcels["geom_status"] == "repaired").sum()),
        "n_empty": int((parcels["geom_status"] == "empty").sum()),
        "n_excluded": int((~ok).sum()),
        "n_duplicate_rows": int((n_src - 1).sum()),
        "n_cert": int(parcels["cert_area_mu"].notna().sum()),
        "n_land_from_cert": int((parcels.get("land_source") == "cert").fillna(False).sum())
        if "land_source" in parcels else 0,
        "n_area_flag": int(parcels["area_flag"].sum()),
        "drawn_mu": float(parcels.loc[ok, "area_mu"].sum()),
        "cert_mu": float(parcels["cert_area_mu"].sum()),
        "repaired_mu": float(parcels.loc[parcels["geom_status"] == "repaired", "area_mu"].sum()),
        "area_mu_before": total_before,
        "area_mu_after": after,
        "excluded_mu": total_before - after,
    }


def _check_options(area_basis: str, area_diff_share: float, duplicates: str) -> None:
    if area_basis not in AREA_BASES:
        raise ConfigError(f"unknown area_basis {area_basis!r} -> use one of {', '.join(AREA_BASES)}",
                          zh=f"未知的 area_basis {area_basis!r} → 请使用 {', '.join(AREA_BASES)} 之一")
    if duplicates not in DUPLICATE_RULES:
        raise ConfigError(f"unknown duplicates rule {duplicates!r} -> use one of {', '.join(DUPLICATE_RULES)}",
                          zh=f"未知的重复处理规则 duplicates {duplicates!r} → 请使用 {', '.join(DUPLICATE_RULES)} 之一")
    if isinstance(area_diff_share, bool) or not isinstance(area_diff_share, int | float) or not (
        math.isfinite(area_diff_share) and area_diff_share >= 0
    ):
        raise ConfigError(
            f"area_diff_share must be a share >= 0 (0.05 = 5 %), got {area_diff_share!r}",
            zh=f"area_diff_share 必须是 >= 0 的比例（0.05 = 5%），当前为 {area_diff_share!r}"
        )


def _check_crs(parcels: gpd.GeoDataFrame) -> None:
    crs = parcels.crs
    if crs is None or not is_metric_projected(crs) or distorts_area(crs):
        name = "none" if crs is None else crs.name
        raise CRSError(
            f"parcel areas need a projected CRS in metres that keeps areas, got {name} -> read the layer "
            f"with io.read_parcels (it projects lon/lat to its CGCS2000 3° Gauss-Krüger zone) or to_crs(4549)",
            zh=(f"计算地块面积需要以米为单位、保持面积的投影坐标系，当前为 {name} → 请用 io.read_parcels 读取图层"
                "（它会把经纬度投影到所在的 CGCS2000 3° 高斯-克吕格投影带），或 to_crs(4549)")
        )

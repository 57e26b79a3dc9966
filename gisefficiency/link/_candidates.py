"""Candidate firm-parcel links from each source a bureau has: firm table, parcel holder, land rows, points.

Firms and parcels are carried as integer codes (positions in the firm index and in the parcel layer)
so that every join is an array lookup: ``f`` is the firm code, ``p`` the parcel code (-1 when the id is
not in the layer) and ``label`` the parcel id as the source wrote it. Each function returns candidates
``f, p, label, method`` (plus ``kind`` and ``floor_area_m2`` from land rows, ``via`` and ``dist_m`` for
points); point matching also returns issues (points off every parcel, coordinates that are not lon/lat).
Whether a candidate's parcel is usable is decided in one place (``_shares.classify``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gisefficiency.errors import CRSError, InputError, Problem, format_ids
from gisefficiency.link._validate import canonical_coord_sys, known

_CANDIDATE_DTYPES = {
    "f": "int64", "p": "int64", "label": object, "method": object, "kind": object,
    "floor_area_m2": "float64", "via": object, "dist_m": "float64",
}
_ISSUE_DTYPES = {
    "f": "int64", "p": "int64", "label": object, "method": object, "issue": object,
    "value": "float64", "detail": object,
}


def candidates(**columns: object) -> pd.DataFrame:
    """A candidate frame from columns (missing ones filled with NA)."""
    return _typed(columns, _CANDIDATE_DTYPES)


def issues_frame(**columns: object) -> pd.DataFrame:
    """An issue frame from columns (missing ones filled with NA)."""
    return _typed(columns, _ISSUE_DTYPES)


def _typed(columns: dict[str, object], dtypes: dict[str, object]) -> pd.DataFrame:
    n = max((len(v) for v in columns.values() if np.ndim(v)), default=0)
    data = {}
    for name, dtype in dtypes.items():
        value = columns.get(name, {"float64": np.nan, "int64": -1}.get(dtype))  # type: ignore[call-overload]
        if dtype is object:
            # Explicit object Series: pandas 3 would infer its Arrow-backed str, slow for these lookups.
            data[name] = pd.Series(np.broadcast_to(np.asarray(value, dtype=object), (n,)).copy(), dtype=object)
        else:
            data[name] = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
    return pd.DataFrame(data)


def latest_rows(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Rows of each ``key``'s latest year among ``rows`` (all rows if there is no ``year``)."""
    if "year" not in rows.columns or rows.empty:
        return rows
    year = pd.to_numeric(rows["year"], errors="coerce").to_numpy(dtype="float64")
    last = pd.Series(year).groupby(rows[key].to_numpy()).transform("max").to_numpy()
    return rows[(year == last) | (np.isnan(year) & np.isnan(last))]


def _dedupe(frame: pd.DataFrame) -> pd.DataFrame:
    """One candidate per firm and parcel (unknown parcels: per firm and written id)."""
    known = frame[frame["p"].to_numpy() >= 0].drop_duplicates(["f", "p"])
    unknown = frame[frame["p"].to_numpy() < 0].drop_duplicates(["f", "label"])
    return pd.concat([known, unknown], ignore_index=True)


def table_candidates(panel: pd.DataFrame, *, table_years: str) -> pd.DataFrame:
    """Parcel ids written in the firm table: the latest year that has one, or all years (``table_years``)."""
    if "parcel_id" not in panel.columns:
        return candidates()
    rows = panel.loc[panel["parcel_id"].notna().to_numpy(), [c for c in ("f", "p", "parcel_id", "year") if c in panel]]
    if table_years == "latest":
        rows = latest_rows(rows, "f")
    p = rows["p"].to_numpy()
    frame = candidates(f=rows["f"].to_numpy(), p=p, method="table")
    # Written ids are kept only where the layer lacks them: they are needed for the reason alone.
    frame.loc[p < 0, "label"] = rows["parcel_id"].to_numpy(dtype=object)[p < 0]
    return _dedupe(frame)


def holder_candidates(holder_f: np.ndarray) -> pd.DataFrame:
    """Parcels whose holder is a firm of the panel (``holder_f``: firm code of each parcel's holder or -1)."""
    held = np.flatnonzero(holder_f >= 0)
    return candidates(f=holder_f[held], p=held, method="holder")


def aggregate_land(land: pd.DataFrame, n_firms: int, n_parcels: int) -> pd.DataFrame:
    """One land row per firm and parcel: the latest year if rows carry one, floors summed.

    ``land`` carries raw codes ``_f``, ``_p`` from ``encode``; the result has ``f``, ``p`` (-1 for a firm
    not in the panel or a parcel not in the layer). Raises ``InputError`` if one firm is written both as
    owner and as tenant of one parcel.
    """
    land = latest_rows(land, "_f")
    grouped = land.groupby([land["_f"].to_numpy(), land["_p"].to_numpy()], sort=False)
    out = pd.DataFrame({
        "uscc": grouped["uscc"].first(),
        "parcel_id": grouped["parcel_id"].first(),
        "kind": grouped["kind"].first(),
        "n_kinds": grouped["kind"].nunique(),
        "floor_area_m2": grouped["floor_area_m2"].sum(min_count=1),
    })
    conflict = out[out["n_kinds"] > 1]
    if len(conflict):
        pairs = (conflict["uscc"].astype(str) + "@" + conflict["parcel_id"].astype(str)).tolist()
        raise InputError(
            f"{len(conflict)} firm-parcel pair(s) are both own and leased in the land rows: {format_ids(pairs)}",
            [Problem("kind differs between rows of the same firm and parcel",
                     fix="keep one row per firm and parcel, or make the kinds agree", column="kind")],
        )
    out["f"] = known(out.index.get_level_values(0).to_numpy(), n_firms)
    out["p"] = known(out.index.get_level_values(1).to_numpy(), n_parcels)
    return out.drop(columns="n_kinds").reset_index(drop=True)


def land_candidates(land: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates from aggregated land rows, and the rows of firms that are not in the panel."""
    known = land["f"].to_numpy() >= 0
    rows = land[known]
    p = rows["p"].to_numpy()
    frame = candidates(f=rows["f"].to_numpy(), p=p, method="land", kind=rows["kind"].to_numpy(dtype=object),
                       floor_area_m2=rows["floor_area_m2"].to_numpy())
    frame.loc[p < 0, "label"] = rows["parcel_id"].to_numpy(dtype=object)[p < 0]
    return frame, land.loc[~known, ["uscc", "parcel_id", "kind", "floor_area_m2"]].reset_index(drop=True)


def point_candidates(
    panel: pd.DataFrame,
    geometry: gpd.GeoSeries,
    usable: np.ndarray,
    *,
    point_crs: str | None,
    nearest_m: float | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parcels under each firm's latest point; points on a road take the nearest parcel within ``nearest_m``.

    Points are converted to WGS-84 (CGCS2000 is taken as equal to it: they differ by centimetres), then
    projected to the parcels' CRS. A point inside an excluded parcel links to it (and is then reported
    as excluded); the nearest-parcel search only looks at usable parcels. ``geometry`` is in parcel-code
    order; ``usable`` flags parcels that can take firms.
    """
    if not {"lon", "lat"} <= set(panel.columns):
        return candidates(), issues_frame()
    has_point = (panel["lon"].notna() & panel["lat"].notna()).to_numpy()
    cols = [c for c in ("f", "year", "lon", "lat", "coord_sys", "src_row") if c in panel.columns]
    pts = latest_rows(panel.loc[has_point, cols], "f")
    if pts.empty:
        return candidates(), issues_frame()
    crs = geometry.crs
    if crs is None or not crs.is_projected:
        raise CRSError(
            f"parcels must be in a projected CRS in metres to place firm points, got {crs}",
            [Problem("parcel CRS is not projected", fix="read parcels with gisefficiency.io.read_parcels(crs=...)")],
        )
    table = pd.DataFrame({"f": pts["f"].to_numpy(), "lon": pts["lon"].to_numpy(dtype="float64"),
                          "lat": pts["lat"].to_numpy(dtype="float64"), "sys": _coord_systems(pts, point_crs)})
    table = table.drop_duplicates(ignore_index=True)
    bad = ~(table["lon"].between(-180, 180) & table["lat"].between(-90, 90)).to_numpy()
    found_issues = [issues_frame(
        f=table["f"].to_numpy()[bad], p=-1, method="point", issue="bad_point",
        detail=(table["lon"].astype(str) + ", " + table["lat"].astype(str)).to_numpy(dtype=object)[bad],
    )]
    table = table[~bad].reset_index(drop=True)
    points = _project(table, crs)

    # The layer's own STRtree (positions = parcel codes; empty geometries are not in it).
    pt, p = geometry.sindex.query(points, predicate="within")
    # Overlapping parcels: a usable parcel wins over an excluded one, then the first in the layer.
    order = np.lexsort((p, ~usable[p], pt))
    pt, p = pt[order], p[order]
    first = np.r_[True, pt[1:] != pt[:-1]] if len(pt) else np.zeros(0, dtype=bool)
    hit_pt, hit_p = [pt[first]], [p[first]]
    hit_via, hit_dist = [np.full(int(first.sum()), "within", dtype=object)], [np.zeros(int(first.sum()))]

    on = np.zeros(len(table), dtype=bool)
    on[pt] = True
    off = np.flatnonzero(~on)
    if len(off) and usable.any():
        near_pt, near_p, dist = _nearest_usable(points[off], geometry, usable)
        near_pt = off[near_pt]
        limit = -1.0 if nearest_m is None else float(nearest_m)
        close = dist <= limit
        hit_pt.append(near_pt[close])
        hit_p.append(near_p[close])
        hit_via.append(np.full(int(close.sum()), "nearest", dtype=object))
        hit_dist.append(dist[close])
        found_issues.append(issues_frame(f=table["f"].to_numpy()[near_pt[~close]], p=near_p[~close],
                                         method="point", issue="point_far", value=dist[~close]))
    elif len(off):
        found_issues.append(issues_frame(f=table["f"].to_numpy()[off], p=-1, method="point",
                                         issue="point_far", value=np.inf))
    pt = np.concatenate(hit_pt).astype("int64")
    frame = candidates(f=table["f"].to_numpy()[pt], p=np.concatenate(hit_p), method="point",
                       via=np.concatenate(hit_via), dist_m=np.concatenate(hit_dist))
    return _dedupe(frame), pd.concat(found_issues, ignore_index=True)


def _nearest_usable(
    points: np.ndarray, geometry: gpd.GeoSeries, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point: its position, the nearest usable parcel's code and the distance (ties: first parcel)."""
    import shapely

    if usable[~(geometry.isna() | geometry.is_empty).to_numpy()].all():
        (pt, p), dist = geometry.sindex.nearest(points, return_all=True, return_distance=True)
    else:
        codes = np.flatnonzero(usable)
        tree = shapely.STRtree(geometry.to_numpy()[codes])
        (pt, q), dist = tree.query_nearest(points, return_distance=True, all_matches=True)
        p = codes[q]
    order = np.lexsort((p, pt))
    pt, p, dist = pt[order], p[order], dist[order]
    first = np.r_[True, pt[1:] != pt[:-1]]
    return pt[first], p[first], dist[first]


def _coord_systems(pts: pd.DataFrame, point_crs: str | None) -> np.ndarray:
    """Canonical coordinate-system name of each point row (``coord_sys``, else ``point_crs``)."""
    from gisefficiency.crs import COORD_SYSTEMS

    valid = "wgs84, cgcs2000, gcj02 or bd09"
    default = None if point_crs is None else canonical_coord_sys(point_crs)
    if "coord_sys" in pts.columns:
        raw = pts["coord_sys"].astype("string").str.strip().replace("", pd.NA)
    else:
        raw = pd.Series(pd.NA, index=pts.index, dtype="string")
    rows = pts["src_row"] if "src_row" in pts.columns else pd.Series(pts.index + 1, index=pts.index)
    if default is None and raw.isna().any():
        missing = raw.isna()
        raise CRSError(
            f"{int(missing.sum())} firm point(s) have lon/lat but no coordinate system",
            [Problem("coord_sys is empty and point_crs is not set",
                     fix=f"fill coord_sys ({valid}) or pass point_crs=...", row=int(r), column="coord_sys")
             for r in rows[missing].head(20)],
        )
    names = raw.str.lower().map(COORD_SYSTEMS)
    unknown = raw.notna() & names.isna()
    if unknown.any():
        raise CRSError(
            f"{int(unknown.sum())} firm point(s) use an unknown coordinate system",
            [Problem("unknown coordinate system", fix=f"use {valid}", row=int(r), column="coord_sys", value=v)
             for r, v in zip(rows[unknown].head(20), raw[unknown].head(20), strict=True)],
        )
    return names.fillna(default).to_numpy(dtype=object)


def _project(table: pd.DataFrame, crs: object) -> np.ndarray:
    """Project lon/lat of any supported system to ``crs`` via WGS-84."""
    from pyproj import Transformer

    from gisefficiency.crs import to_wgs84

    lon84, lat84 = to_wgs84(table["lon"].to_numpy(), table["lat"].to_numpy(), table["sys"].to_numpy())
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon84, lat84)
    import shapely

    return shapely.points(x, y)

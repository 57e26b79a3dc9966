"""Candidate firm-parcel links from each source a bureau has: firm table, parcel holder, land rows, points.

Every function returns a frame of candidates ``uscc, parcel_id, method`` (plus what the source knows:
``kind`` and ``floor_area_m2`` from land rows, ``via`` and ``dist_m`` for points) and, where a source
itself can fail (points off every parcel), a frame of issues ``uscc, parcel_id, method, issue, value``.
Whether a candidate's parcel exists and is usable is decided later, in one place (``classify``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gisefficiency.errors import CRSError, InputError, Problem, format_ids

ISSUE_COLUMNS: list[str] = ["uscc", "parcel_id", "method", "issue", "value", "detail"]


def empty_candidates() -> pd.DataFrame:
    """A candidate frame with no rows."""
    return pd.DataFrame({
        "uscc": pd.Series(dtype="string"), "parcel_id": pd.Series(dtype="string"),
        "method": pd.Series(dtype="string"), "kind": pd.Series(dtype="string"),
        "floor_area_m2": pd.Series(dtype="float64"), "via": pd.Series(dtype="string"),
        "dist_m": pd.Series(dtype="float64"),
    })


def empty_issues() -> pd.DataFrame:
    """An issue frame with no rows."""
    return pd.DataFrame({
        "uscc": pd.Series(dtype="string"), "parcel_id": pd.Series(dtype="string"),
        "method": pd.Series(dtype="string"), "issue": pd.Series(dtype="string"),
        "value": pd.Series(dtype="float64"), "detail": pd.Series(dtype="string"),
    })


def _frame(df: pd.DataFrame, method: str) -> pd.DataFrame:
    out = empty_candidates()
    df = df.reset_index(drop=True)
    return pd.concat([out, df.assign(method=method)], ignore_index=True)[out.columns].astype(out.dtypes)


def _latest_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of each firm's latest year among ``rows`` (all rows if there is no ``year``)."""
    if "year" not in rows.columns or rows.empty:
        return rows
    last = rows.groupby("uscc", sort=False)["year"].transform("max")
    return rows[rows["year"].eq(last) | rows["year"].isna() & last.isna()]


def table_candidates(firms: pd.DataFrame, *, table_years: str) -> pd.DataFrame:
    """Parcel ids written in the firm table: the latest year that has one, or all years (``table_years``)."""
    if "parcel_id" not in firms.columns:
        return empty_candidates()
    rows = firms.loc[firms["parcel_id"].notna(), [c for c in ("uscc", "parcel_id", "year") if c in firms]]
    if table_years == "latest":
        rows = _latest_rows(rows)
    return _frame(rows[["uscc", "parcel_id"]].drop_duplicates(), "table")


def holder_candidates(parcels: pd.DataFrame, firm_ids: pd.Index) -> pd.DataFrame:
    """Parcels whose holder_uscc is a firm of the panel."""
    if "holder_uscc" not in parcels.columns:
        return empty_candidates()
    holders = parcels["holder_uscc"]
    held = holders[holders.isin(firm_ids)]
    return _frame(pd.DataFrame({"uscc": held.to_numpy(), "parcel_id": held.index.to_numpy()}), "holder")


def aggregate_land(land: pd.DataFrame) -> pd.DataFrame:
    """One land row per (uscc, parcel_id): the latest year if rows carry one, floors summed.

    Raises ``InputError`` if one firm is written both as owner and as tenant of one parcel.
    """
    land = _latest_rows(land)
    grouped = land.groupby(["uscc", "parcel_id"], sort=False)
    kinds = grouped["kind"].nunique()
    conflict = kinds[kinds > 1]
    if len(conflict):
        pairs = [f"{u}@{p}" for u, p in conflict.index[:5]]
        raise InputError(
            f"{len(conflict)} firm-parcel pair(s) are both own and leased in the land rows: {format_ids(pairs)}",
            [Problem("kind differs between rows of the same firm and parcel",
                     fix="keep one row per firm and parcel, or make the kinds agree", column="kind")],
        )
    out = pd.DataFrame({
        "kind": grouped["kind"].first(),
        "floor_area_m2": grouped["floor_area_m2"].sum(min_count=1),
    })
    return out.reset_index()


def land_candidates(land: pd.DataFrame, firm_ids: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates from aggregated land rows, and the rows of firms that are not in the panel."""
    known = land["uscc"].isin(firm_ids)
    return _frame(land[known], "land"), land[~known]


def point_candidates(
    firms: pd.DataFrame,
    parcels: gpd.GeoDataFrame,
    *,
    point_crs: str | None,
    nearest_m: float | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parcels under each firm's latest point; points on a road take the nearest parcel within ``nearest_m``.

    Points are converted to WGS-84 (CGCS2000 is taken as equal to it, the two differ by centimetres),
    then projected to the parcels' CRS. A point inside an excluded parcel links to it (and is then
    reported as excluded); the nearest-parcel search only looks at usable parcels.
    """
    if not {"lon", "lat"} <= set(firms.columns):
        return empty_candidates(), empty_issues()
    has_point = firms["lon"].notna() & firms["lat"].notna()
    cols = [c for c in ("uscc", "year", "lon", "lat", "coord_sys", "src_row") if c in firms.columns]
    pts = _latest_rows(firms.loc[has_point, cols])
    if pts.empty:
        return empty_candidates(), empty_issues()
    if parcels.crs is None or not parcels.crs.is_projected:
        raise CRSError(
            f"parcels must be in a projected CRS in metres to place firm points, got {parcels.crs}",
            [Problem("parcel CRS is not projected", fix="read parcels with gisefficiency.io.read_parcels(crs=...)")],
        )
    systems = _coord_systems(pts, point_crs)
    lon = pts["lon"].to_numpy(dtype="float64")
    lat = pts["lat"].to_numpy(dtype="float64")
    table = pd.DataFrame({"uscc": pts["uscc"].to_numpy(), "lon": lon, "lat": lat, "sys": systems})
    table = table.drop_duplicates(ignore_index=True)
    bad = ~(table["lon"].between(-180, 180) & table["lat"].between(-90, 90))
    issues = [pd.DataFrame({
        "uscc": table.loc[bad, "uscc"], "parcel_id": pd.NA, "method": "point", "issue": "bad_point",
        "value": np.nan, "detail": table.loc[bad, "lon"].astype(str) + ", " + table.loc[bad, "lat"].astype(str),
    })]
    table = table[~bad].reset_index(drop=True)
    geoms = _project(table, parcels.crs)

    target = parcels.loc[~(parcels.geometry.isna() | parcels.geometry.is_empty), ["geometry"]]
    target = gpd.GeoDataFrame(
        {"_pid": target.index.to_numpy(), "_usable": target.index.isin(parcels.index[parcels["_usable"]])},
        geometry=target.geometry.to_numpy(), crs=parcels.crs,
    )
    points = gpd.GeoDataFrame({"_pt": np.arange(len(table))}, geometry=geoms, crs=parcels.crs)
    within = gpd.sjoin(points, target, how="inner", predicate="within")
    # Overlapping parcels: a usable parcel wins over an excluded one, then the first id.
    within = within.sort_values(["_pt", "_usable", "_pid"], ascending=[True, False, True])
    within = within.drop_duplicates("_pt")
    hits = pd.DataFrame({"_pt": within["_pt"].to_numpy(), "parcel_id": within["_pid"].to_numpy(),
                         "via": "within", "dist_m": 0.0})

    off = points[~points["_pt"].isin(within["_pt"])]
    usable = target[target["_usable"]]
    if len(off) and len(usable):
        near = gpd.sjoin_nearest(off, usable, how="inner", distance_col="dist_m")
        near = near.sort_values(["_pt", "dist_m", "_pid"]).drop_duplicates("_pt")
        limit = -1.0 if nearest_m is None else float(nearest_m)
        ok = near["dist_m"].to_numpy() <= limit
        hits = pd.concat([hits, pd.DataFrame({
            "_pt": near["_pt"].to_numpy()[ok], "parcel_id": near["_pid"].to_numpy()[ok], "via": "nearest",
            "dist_m": near["dist_m"].to_numpy()[ok],
        })], ignore_index=True)
        far = near[~ok]
        issues.append(pd.DataFrame({
            "uscc": table["uscc"].to_numpy()[far["_pt"].to_numpy()], "parcel_id": far["_pid"].to_numpy(),
            "method": "point", "issue": "point_far", "value": far["dist_m"].to_numpy(), "detail": pd.NA,
        }))
    elif len(off):
        issues.append(pd.DataFrame({
            "uscc": table["uscc"].to_numpy()[off["_pt"].to_numpy()], "parcel_id": pd.NA, "method": "point",
            "issue": "point_far", "value": np.inf, "detail": pd.NA,
        }))
    hits["uscc"] = table["uscc"].to_numpy()[hits["_pt"].to_numpy()]
    found = hits.drop(columns="_pt").drop_duplicates(["uscc", "parcel_id"])
    issue_frame = pd.concat([empty_issues(), *[i for i in issues if len(i)]], ignore_index=True)
    return _frame(found, "point"), issue_frame.astype(empty_issues().dtypes)


def _coord_systems(pts: pd.DataFrame, point_crs: str | None) -> np.ndarray:
    """Canonical coordinate-system name of each point row (``coord_sys``, else ``point_crs``)."""
    from gisefficiency.crs import normalise_coord_sys

    default = None if point_crs is None else normalise_coord_sys(point_crs)
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
                     fix="fill coord_sys (wgs84, cgcs2000, gcj02 or bd09) or pass point_crs=...",
                     row=int(r), column="coord_sys") for r in rows[missing].head(20)],
        )
    names = raw.dropna().unique()
    canon = {}
    problems = []
    for name in names:  # a handful of distinct spellings, not one per firm
        try:
            canon[name] = normalise_coord_sys(name)
        except (ValueError, InputError):
            bad_rows = rows[raw.eq(name).fillna(False)]
            problems.append(Problem(
                f"unknown coordinate system in {len(bad_rows)} row(s)", fix="use wgs84, cgcs2000, gcj02 or bd09",
                row=int(bad_rows.iloc[0]), column="coord_sys", value=name,
            ))
    if problems:
        raise CRSError("firm points use unknown coordinate systems", problems)
    return raw.map(canon).fillna(default).to_numpy(dtype=object)


def _project(table: pd.DataFrame, crs: object) -> gpd.array.GeometryArray:
    """Project lon/lat of any supported system to ``crs`` via WGS-84."""
    from pyproj import Transformer

    from gisefficiency.crs import to_wgs84

    lon84, lat84 = to_wgs84(table["lon"].to_numpy(), table["lat"].to_numpy(), table["sys"].to_numpy())
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon84, lat84)
    return gpd.points_from_xy(x, y, crs=crs)

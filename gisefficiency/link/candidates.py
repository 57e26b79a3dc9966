"""Candidate firm-parcel links from each source a bureau has: firm table, parcel holder, land rows, points.

Firms and parcels are carried as integer codes so that every join is an array lookup, and the text
ids are only looked at for the few rows that need a label. A candidate set is a dict of equal-length
numpy arrays (``candidates``): ``f`` firm code, ``p`` parcel code (its position in the layer, -1 when
the id is not in the layer), ``q`` the code of the id as the source wrote it (equal to ``p`` for
known parcels; -1 when empty), ``method``/``kind``/``via`` small codes into ``LINK_METHODS``,
``KINDS`` and ``VIAS``, ``floor`` leased floor from land rows, ``dist`` metres for points. Issues
(``issues``) carry ``f, p, q, method``, an ``issue`` code into ``ISSUES``, ``value`` and ``detail``.
Whether a candidate's parcel is usable is decided in one place (``_shares.classify``).
"""

from __future__ import annotations

import functools
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency.core.errors import CRSError, InputError, Problem, format_ids, format_ids_zh
from gisefficiency.core.grouped import pandas_sum
from gisefficiency.link.validate import LINK_METHODS, canonical_coord_sys, known

#: Link kinds, issue codes and how a point found its parcel, in code order.
KINDS: tuple[str, ...] = ("own", "leased")
ISSUES: tuple[str, ...] = ("unknown_parcel", "excluded_parcel", "point_far", "bad_point")
VIAS: tuple[str, ...] = ("within", "nearest")
METHOD = {name: code for code, name in enumerate(LINK_METHODS)}

Arrays = dict[str, np.ndarray]

_CANDIDATE_FILL = {"f": -1, "p": -1, "q": -1, "method": -1, "kind": -1, "floor": np.nan, "via": -1,
                   "dist": np.nan}
_ISSUE_FILL = {"f": -1, "p": -1, "q": -1, "method": -1, "issue": -1, "value": np.nan, "detail": None}
_DTYPES = {"f": np.int64, "p": np.int64, "q": np.int64, "method": np.int8, "kind": np.int8,
           "floor": np.float64, "via": np.int8, "dist": np.float64, "issue": np.int8, "value": np.float64,
           "detail": object}


def candidates(**columns: object) -> Arrays:
    """A candidate set from columns (scalars broadcast, missing columns filled with -1 or NaN)."""
    return _filled(columns, _CANDIDATE_FILL)


def issues(**columns: object) -> Arrays:
    """An issue set from columns (scalars broadcast, missing columns filled with -1, NaN or None)."""
    return _filled(columns, _ISSUE_FILL)


def _filled(columns: dict[str, object], fill: dict[str, object]) -> Arrays:
    n = max((len(v) for v in columns.values() if np.ndim(v)), default=0)  # type: ignore[arg-type]
    out = {}
    for name, default in fill.items():
        value = np.asarray(columns.get(name, default), dtype=_DTYPES[name])
        out[name] = value if value.ndim else np.full(n, value, dtype=_DTYPES[name])
    return out


def take(rows: Arrays, at: np.ndarray) -> Arrays:
    """The rows ``at`` (positions or a boolean mask) of a candidate or issue set."""
    return {name: col[at] for name, col in rows.items()}


def concat(parts: list[Arrays]) -> Arrays:
    """Candidate or issue sets one after the other."""
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def first_of(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of the first row of each distinct pair of codes (>= -1) ``a``, ``b`` (one int64 key, hashed)."""
    if not len(a):
        return np.zeros(0, dtype=bool)
    key = (a + 1) * (int(b.max()) + 2) + (b + 1)
    return ~pd.Series(key, copy=False).duplicated().to_numpy()


def latest(key: np.ndarray, year: np.ndarray | None) -> np.ndarray:
    """Mask of the rows of each ``key``'s latest year (rows without a year where the key has none)."""
    if year is None or not len(key):
        return np.ones(len(key), dtype=bool)
    k = key - key.min()
    last = np.full(int(k.max()) + 1, np.nan)
    np.fmax.at(last, k, year)  # fmax skips missing years, like groupby max
    last = last[k]
    return (year == last) | (np.isnan(year) & np.isnan(last))


def _dedupe(rows: Arrays) -> Arrays:
    """One candidate per firm and parcel (unknown parcels: per firm and written id), known ones first."""
    keep = first_of(rows["f"], rows["q"])  # q identifies the parcel for known and unknown ids alike
    known_p = rows["p"] >= 0
    return take(rows, np.r_[np.flatnonzero(keep & known_p), np.flatnonzero(keep & ~known_p)])


def table_candidates(f: np.ndarray, p: np.ndarray, q: np.ndarray, year: np.ndarray | None, *,
                     table_years: str) -> Arrays:
    """Parcel ids written in the firm table: the latest year that has one, or all years (``table_years``).

    ``f, p, q, year`` are the panel's columns (``q`` -1 where no parcel id is written).
    """
    rows = np.flatnonzero(q >= 0)
    if table_years == "latest":
        rows = rows[latest(f[rows], None if year is None else year[rows])]
    return _dedupe(candidates(f=f[rows], p=p[rows], q=q[rows], method=METHOD["table"]))


def holder_candidates(holder_f: np.ndarray) -> Arrays:
    """Parcels whose holder is a firm of the panel (``holder_f``: firm code of each parcel's holder or -1)."""
    held = np.flatnonzero(holder_f >= 0)
    return candidates(f=holder_f[held], p=held, q=held, method=METHOD["holder"])


def aggregate_land(
    rows: pd.DataFrame, f_raw: np.ndarray, p_raw: np.ndarray, firm_ids: pa.Array, parcel_ids: pa.Array,
    n_firms: int, n_parcels: int,
) -> Arrays:
    """One land row per firm and parcel: the latest year if rows carry one, floors summed.

    ``f_raw``, ``p_raw`` are the codes of the rows' ids from ``encode`` (``firm_ids``, ``parcel_ids``
    hold the ids in code order). The result has ``f``, ``p`` (-1 for a firm not in the panel or a
    parcel not in the layer), the raw codes ``fq``, ``q``, ``kind`` and ``floor``, one row per pair
    in order of first appearance. Raises ``InputError`` if one firm is written both as owner and as
    tenant of one parcel.
    """
    year = pd.to_numeric(rows["year"], errors="coerce").to_numpy(dtype="float64") if "year" in rows else None
    keep = np.flatnonzero(latest(f_raw, year))
    fq, q = f_raw[keep], p_raw[keep]
    kind = rows["kind"].eq("leased").to_numpy(dtype=bool)[keep].astype(np.int8)
    floor = rows["floor_area_m2"].to_numpy(dtype="float64")[keep]
    # Group number = order of the pair's first row, as a groupby(sort=False) numbers them.
    key = (fq + 1) * (int(q.max(initial=-1)) + 2) + (q + 1)
    uniq, first, group = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    group = rank[group]
    head = np.sort(first)
    n = len(head)
    mixed = np.bincount(group, weights=kind, minlength=n)
    conflict = (mixed > 0) & (mixed < np.bincount(group, minlength=n))
    if conflict.any():
        at = head[conflict]
        pairs = [f"{u}@{p}" for u, p in zip(_labels(firm_ids, fq[at]), _labels(parcel_ids, q[at]), strict=True)]
        raise InputError(
            f"{len(pairs)} firm-parcel pair(s) are both own and leased in the land rows: {format_ids(pairs)}",
            [Problem("kind differs between rows of the same firm and parcel",
                     fix="keep one row per firm and parcel, or make the kinds agree", column="kind",
                     message_zh="同一企业与地块的各行用地类型不一致",
                     fix_zh="每个企业与地块只保留一行，或使各行的类型一致")],
            zh=f"{len(pairs)} 个企业-地块组合在用地表中既是自有又是租赁：{format_ids_zh(pairs)}",
        )
    return {"f": known(fq[head], n_firms), "p": known(q[head], n_parcels), "fq": fq[head], "q": q[head],
            "kind": kind[head], "floor": pandas_sum(group, floor, n)}


def _labels(ids: pa.Array, codes: np.ndarray) -> list[str]:
    """Ids of ``codes`` as text for messages ("nan" for a missing id, as pandas writes it)."""
    return ["nan" if v is None else v for v in ids.take(pa.array(codes, mask=codes < 0)).to_pylist()]


def land_candidates(land: Arrays) -> Arrays:
    """Candidates from aggregated land rows of firms in the panel."""
    rows = take(land, land["f"] >= 0)
    return candidates(f=rows["f"], p=rows["p"], q=rows["q"], method=METHOD["land"], kind=rows["kind"],
                      floor=rows["floor"])


def point_candidates(
    pts: pd.DataFrame,
    geometry: gpd.GeoSeries,
    usable: np.ndarray,
    *,
    point_crs: str | None,
    nearest_m: float | None,
    file: str | None = None,
) -> tuple[Arrays, Arrays]:
    """Parcels under each firm's latest point; points on a road take the nearest parcel within ``nearest_m``.

    ``pts`` holds the panel rows with a point of the firms still to place (``f, lon, lat`` and where
    known ``year, coord_sys, src_row``; index: panel row). Points are converted to WGS-84 (CGCS2000 is
    taken as equal to it: they differ by centimetres), then projected to the parcels' CRS. A point
    inside an excluded parcel links to it (and is then reported as excluded); the nearest-parcel search
    only looks at usable parcels. ``geometry`` is in parcel-code order; ``usable`` flags parcels that
    can take firms. ``file`` is the firm table's file, named in messages. Returns candidates and issues
    (points off every parcel, coordinates that are not lon/lat).
    """
    year = pd.to_numeric(pts["year"], errors="coerce").to_numpy(dtype="float64") if "year" in pts else None
    pts = pts[latest(pts["f"].to_numpy(), year)]
    if pts.empty:
        return candidates(), issues()
    crs = geometry.crs
    if crs is None or not crs.is_projected:
        raise CRSError(
            f"parcels must be in a projected CRS in metres to place firm points, got {crs}",
            [Problem("parcel CRS is not projected", fix="read parcels with gisefficiency.io.read_parcels(crs=...)",
                     message_zh="地块的坐标系不是投影坐标系",
                     fix_zh="请用 gisefficiency.io.read_parcels(crs=...) 读取地块")],
            zh=f"放置企业点位需要以米为单位的投影坐标系的地块，当前为 {crs}",
        )
    table = pd.DataFrame({"f": pts["f"].to_numpy(), "lon": pts["lon"].to_numpy(dtype="float64"),
                          "lat": pts["lat"].to_numpy(dtype="float64"), "sys": _coord_systems(pts, point_crs, file)})
    table = table.drop_duplicates(ignore_index=True)
    bad = ~(table["lon"].between(-180, 180) & table["lat"].between(-90, 90)).to_numpy()
    found_issues = [issues(
        f=table["f"].to_numpy()[bad], method=METHOD["point"], issue=ISSUES.index("bad_point"),
        detail=(table["lon"][bad].astype(str) + ", " + table["lat"][bad].astype(str)).to_numpy(dtype=object),
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
    hit_via, hit_dist = [np.full(int(first.sum()), VIAS.index("within"))], [np.zeros(int(first.sum()))]

    on = np.zeros(len(table), dtype=bool)
    on[pt] = True
    off = np.flatnonzero(~on)
    far = ISSUES.index("point_far")
    if len(off) and usable.any():
        near_pt, near_p, dist = _nearest_usable(points[off], geometry, usable)
        near_pt = off[near_pt]
        limit = -1.0 if nearest_m is None else float(nearest_m)
        close = dist <= limit
        hit_pt.append(near_pt[close])
        hit_p.append(near_p[close])
        hit_via.append(np.full(int(close.sum()), VIAS.index("nearest")))
        hit_dist.append(dist[close])
        found_issues.append(issues(f=table["f"].to_numpy()[near_pt[~close]], p=near_p[~close], q=near_p[~close],
                                   method=METHOD["point"], issue=far, value=dist[~close]))
    elif len(off):
        found_issues.append(issues(f=table["f"].to_numpy()[off], method=METHOD["point"], issue=far, value=np.inf))
    pt = np.concatenate(hit_pt).astype("int64")
    p = np.concatenate(hit_p)
    frame = candidates(f=table["f"].to_numpy()[pt], p=p, q=p, method=METHOD["point"],
                       via=np.concatenate(hit_via), dist=np.concatenate(hit_dist))
    return _dedupe(frame), concat(found_issues)


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


def _coord_systems(pts: pd.DataFrame, point_crs: str | None, file: str | None = None) -> np.ndarray:
    """Canonical coordinate-system name of each point row (``coord_sys``, else ``point_crs``).

    Messages name the config key (``[link] point_crs``) and the firm table's column (坐标系), which is
    what a user edits; ``file`` is the firm table's file where known.
    """
    from gisefficiency.core.crs import COORD_SYSTEMS

    valid = "wgs84, cgcs2000, gcj02 or bd09"
    default = None if point_crs is None else canonical_coord_sys(point_crs)
    if "coord_sys" in pts.columns:
        raw = pts["coord_sys"].astype("string").str.strip().replace("", pd.NA)
    else:
        raw = pd.Series(pd.NA, index=pts.index, dtype="string")
    rows = pts["src_row"] if "src_row" in pts.columns else pd.Series(pts.index + 1, index=pts.index)
    where = f"{file}: " if file else ""
    if default is None and raw.isna().any():
        missing = raw.isna()
        column = "coord_sys (坐标系)"
        what = ("the firm table has no 坐标系 column" if "coord_sys" not in pts.columns
                else f"{int(missing.sum())} of them have an empty 坐标系")
        what_zh = ("企业表没有“坐标系”列" if "coord_sys" not in pts.columns
                   else f"其中 {int(missing.sum())} 个的“坐标系”为空")
        raise CRSError(
            f"{where}{int(missing.sum())} firm point(s) have lon/lat but no coordinate system ({what}) -> set "
            f"point_crs = \"gcj02\" (or wgs84, cgcs2000, bd09: the system the points were geocoded in) under "
            "[link] in the config, or fill a 坐标系 column",
            [Problem("no coordinate system for this point and [link] point_crs is not set",
                     fix=f"set point_crs under [link] ({valid}), or write the system in the 坐标系 column",
                     file=file, row=int(r), column=column,
                     message_zh="该点位没有坐标系，且未设置 [link] point_crs",
                     fix_zh=f"请在 [link] 下设置 point_crs（{valid}），或在“坐标系”列中填写")
             for r in rows[missing].head(20)],
            zh=(f"{where}{int(missing.sum())} 个企业点位有经纬度但没有坐标系（{what_zh}）→ 请在配置文件的 [link] 下"
                "设置 point_crs = \"gcj02\"（或 wgs84、cgcs2000、bd09：点位地理编码时所用的坐标系），或填写“坐标系”列"),
        )
    names = raw.str.lower().map(COORD_SYSTEMS)
    unknown = raw.notna() & names.isna()
    if unknown.any():
        raise CRSError(
            f"{where}{int(unknown.sum())} firm point(s) use an unknown coordinate system",
            [Problem("unknown coordinate system", fix=f"write {valid} in the 坐标系 column", file=file, row=int(r),
                     column="coord_sys (坐标系)", value=v,
                     message_zh="无法识别的坐标系",
                     fix_zh=f"请在“坐标系”列中填写 {valid}")
             for r, v in zip(rows[unknown].head(20), raw[unknown].head(20), strict=True)],
            zh=f"{where}{int(unknown.sum())} 个企业点位使用了无法识别的坐标系",
        )
    return names.fillna(default).to_numpy(dtype=object)


def _project(table: pd.DataFrame, crs: Any) -> np.ndarray:
    """Project lon/lat of any supported system to ``crs`` via WGS-84."""
    import shapely

    from gisefficiency.core.crs import to_wgs84

    lon84, lat84 = to_wgs84(table["lon"].to_numpy(), table["lat"].to_numpy(), table["sys"].to_numpy())
    x, y = _from_wgs84(crs.srs or crs.to_wkt()).transform(lon84, lat84)
    return shapely.points(x, y)


@functools.lru_cache(maxsize=8)
def _from_wgs84(srs: str) -> Any:
    """The WGS-84 -> ``srs`` transformer; kept, as PROJ takes a tenth of a second to choose it."""
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", srs, always_xy=True)

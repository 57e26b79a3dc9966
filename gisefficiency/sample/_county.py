"""Assemble the sample county: geometry, parcel table, firm panel, land rows, points and raster."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisefficiency.core.constants import CGCS2000_GEOGRAPHIC, SAMPLE_CRS
from gisefficiency.core.crs import wgs84_to_gcj02
from gisefficiency.core.errors import ConfigError
from gisefficiency.core.schema import PARCEL_COLUMNS
from gisefficiency.sample._firms import ROAD_POINT_SHARE, draw_firms
from gisefficiency.sample._layout import make_layout
from gisefficiency.sample._names import COUNTY_CODE, OLD_STREETS, STREETS
from gisefficiency.sample._parcels import bow_tie_quads, draw_parcels, street_sequence

#: Centre of the county (lon, lat, CGCS2000): inside the 3° zone of CM 120°E (118.5-121.5°E).
CENTRE_LONLAT: tuple[float, float] = (119.3, 28.6)
#: Cell size (m) and no-data value of the building-height raster.
HEIGHT_RESOLUTION_M: float = 5.0
HEIGHT_NODATA: float = -9999.0


@dataclass(frozen=True)
class HeightRaster:
    """Building heights on a grid.

    Attributes
    ----------
    values
        ``(rows, cols)`` float32 heights in metres: building height over footprints, 0 on open
        ground inside the surveyed parks, ``nodata`` outside them.
    transform
        Affine transform of the grid (``affine.Affine``), upper-left origin.
    crs
        CRS of the grid (``"EPSG:4549"``).
    nodata
        No-data value.
    """

    values: np.ndarray
    transform: object
    crs: str
    nodata: float


@dataclass(frozen=True)
class SampleCounty:
    """A generated sample county (示例县), with canonical English column names.

    Attributes
    ----------
    parcels
        GeoDataFrame, RangeIndex, columns of ``schema.PARCEL_COLUMNS`` in order, EPSG:4549.
        Contains the deliberate quirks (bow-ties, one duplicated ``parcel_id``).
    firms
        Long firm-year panel 2020-2023, columns of ``schema.FIRM_COLUMNS`` in order.
    land
        Land rows ``uscc, parcel_id, kind ("own"|"leased"), floor_area_m2``.
    height
        Building-height raster, or None when generated without it.
    streets
        GeoDataFrame of the streets/towns (``street``, ``code``, geometry).
    truth_parcels
        What was built in, per parcel row: ``block, park, idle, vacant, low_cluster, bow_tie, point_firm``.
    truth_firms
        Per firm (index ``uscc``): ``kind`` (holder/point/tenant), ``parcel`` (row of its main parcel),
        ``land_mu``, ``tax_per_mu`` (base, 万元/亩), ``low_cluster``, ``in_production``, ``n_parcels``,
        ``road_point``.
    seed
        The seed it was generated from.
    """

    parcels: gpd.GeoDataFrame
    firms: pd.DataFrame
    land: pd.DataFrame
    height: HeightRaster | None
    streets: gpd.GeoDataFrame
    truth_parcels: pd.DataFrame
    truth_firms: pd.DataFrame
    seed: int


def generate_county(n_parcels: int = 3000, *, seed: int = 20241, with_raster: bool = True) -> SampleCounty:
    """Generate a fictitious industrial county, the same for the same seed.

    Parameters
    ----------
    n_parcels
        Number of parcel rows (at least 20).
    seed
        Random seed.
    with_raster
        Also draw the 5 m building-height raster (seconds per 100k parcels; skip it for big runs).

    Returns
    -------
    SampleCounty

    Raises
    ------
    ConfigError
        If ``n_parcels`` is below 20.

    Notes
    -----
    Parks with road grids (roads 15-40 m) are spread over five streets around 119.3°E 28.6°N
    in EPSG:4549. Blocks are cut into 3-200 mu parcels by partly slanted guillotine cuts. The old
    town (龙溪街道, 云峰街道) holds contiguous low-efficiency patches. See ``gisefficiency/sample/data/README.md``.
    """
    if int(n_parcels) < 20:
        raise ConfigError(f"n_parcels={n_parcels!r} is too small -> ask for at least 20 parcels",
                          zh=f"n_parcels={n_parcels!r} 太小 → 至少需要 20 个地块")
    n_parcels = int(n_parcels)
    rng = np.random.default_rng(seed)
    layout = make_layout(n_parcels, rng, origin=_origin(), n_streets=len(STREETS), old_streets=OLD_STREETS)
    draw = draw_parcels(layout, rng, old_streets=OLD_STREETS)

    seq = street_sequence(layout.street)
    width = max(4, len(str(int(seq.max()))))
    street_code = np.char.zfill((layout.street + 1).astype("U3"), 3)
    ids = np.char.add(np.char.add(f"{COUNTY_CODE}-", street_code), np.char.add("-", np.char.zfill(seq.astype("U12"), width)))
    # One duplicated id (a copy-typed record): a parcel takes its block neighbour's id.
    twin = np.flatnonzero((layout.block[1:] == layout.block[:-1]) & ~draw.bow_tie[1:] & ~draw.idle[1:]) + 1
    dup = int(rng.choice(twin))
    ids[dup] = ids[dup - 1]

    firms = draw_firms(layout, draw, ids, rng, old_streets=OLD_STREETS)
    quads = np.round(bow_tie_quads(layout.quads, draw.bow_tie), 2)
    geometry = shapely.polygons(quads)
    panel, truth_firms = _attach_points(firms.firms, firms.truth, layout.quads, geometry, rng)

    parcels = gpd.GeoDataFrame({
        "parcel_id": pd.array(ids, dtype="string"),
        "holder_uscc": pd.array(np.where(firms.holder_uscc == "", None, firms.holder_uscc), dtype="string"),
        "land_use": pd.array(draw.land_use, dtype="string"),
        "supply_date": draw.supply_date.astype("datetime64[s]"),
        "cert_area_m2": draw.cert_area_m2,
        "floor_area_m2": np.where(draw.floor_known, draw.floor_m2, np.nan),
        "building_height_m": draw.height_m,
        "street": pd.array(np.array(STREETS)[layout.street], dtype="string"),
    }, geometry=geometry, crs=SAMPLE_CRS)
    parcels = parcels[[*PARCEL_COLUMNS, "geometry"]]

    point_parcel = np.zeros(n_parcels, dtype=bool)
    point_parcel[truth_firms.loc[truth_firms["kind"] == "point", "parcel"].to_numpy()] = True
    truth_parcels = pd.DataFrame({
        "block": layout.block, "park": layout.park, "idle": draw.idle, "vacant": draw.vacant,
        "low_cluster": draw.low_cluster, "bow_tie": draw.bow_tie, "point_firm": point_parcel,
    })
    streets = _streets(layout.park_quads)
    height = _height_raster(layout.park_quads, draw.footprint, draw.height_m) if with_raster else None
    return SampleCounty(
        parcels=parcels, firms=panel.drop(columns="_firm"), land=firms.land, height=height, streets=streets,
        truth_parcels=truth_parcels, truth_firms=truth_firms, seed=seed,
    )


@lru_cache(maxsize=1)
def _origin() -> tuple[float, float]:
    from pyproj import Transformer

    to_xy = Transformer.from_crs(CGCS2000_GEOGRAPHIC, SAMPLE_CRS, always_xy=True)
    x, y = to_xy.transform(*CENTRE_LONLAT)
    return float(x), float(y)


def _attach_points(
    panel: pd.DataFrame, truth: pd.DataFrame, quads: np.ndarray, geometry: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give point-only firms a GCJ-02 lon/lat: inside their parcel, or for a few on the road beside it."""
    from pyproj import Transformer

    panel, truth = panel.copy(), truth.copy()
    firm_rows = np.flatnonzero(truth["kind"].to_numpy() == "point")
    parcel = truth["parcel"].to_numpy()[firm_rows]
    q = quads[parcel]
    k = firm_rows.size
    # Inside: a random convex combination of the corners pulled towards their mean.
    w = rng.dirichlet(np.ones(4), k)
    centre = q.mean(axis=1)
    xy = centre + 0.4 * (np.einsum("nk,nkd->nd", w, q) - centre)

    # On the road: an edge midpoint pushed 4-12 m outwards (roads are at least 15 m wide);
    # only edges facing a road qualify, i.e. the pushed point lies in no parcel.
    a, b = q, np.roll(q, -1, axis=1)
    d = b - a
    normal = np.stack([d[..., 1], -d[..., 0]], axis=-1) / np.hypot(d[..., 0], d[..., 1])[..., None]
    push = rng.uniform(4.0, 12.0, (k, 1, 1))
    cand = ((a + b) / 2.0 + push * normal).reshape(-1, 2)
    hit = np.zeros(cand.shape[0], dtype=bool)
    hit[shapely.STRtree(geometry).query(shapely.points(cand), predicate="intersects")[0]] = True
    free = ~hit.reshape(k, 4)
    can = np.flatnonzero(free.any(axis=1))
    n_road = min(max(2, round(ROAD_POINT_SHARE * k)), can.size)
    road = rng.choice(can, n_road, replace=False)
    edge = free[road].argmax(axis=1)
    xy[road] = cand.reshape(k, 4, 2)[road, edge]

    to_lonlat = Transformer.from_crs(SAMPLE_CRS, CGCS2000_GEOGRAPHIC, always_xy=True)
    lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
    # CGCS2000 and WGS-84 agree to centimetres, so the GCJ-02 shift applies directly.
    glon, glat = wgs84_to_gcj02(np.asarray(lon), np.asarray(lat))
    at = pd.Series(np.arange(k), index=firm_rows)
    rows = panel["_firm"].isin(firm_rows).to_numpy()
    which = at.reindex(panel["_firm"].to_numpy()[rows]).to_numpy()
    panel.loc[rows, "lon"] = np.round(glon[which], 6)
    panel.loc[rows, "lat"] = np.round(glat[which], 6)
    panel.loc[rows, "coord_sys"] = "gcj02"
    road_flag = np.zeros(len(truth), dtype=bool)
    road_flag[firm_rows[road]] = True
    truth["road_point"] = road_flag
    return panel, truth


def _streets(park_quads: np.ndarray) -> gpd.GeoDataFrame:
    """Street/town zones: the union of their parks' outlines, buffered by 250 m."""
    park = np.arange(park_quads.shape[0])
    frame = gpd.GeoDataFrame(
        {"street": np.array(STREETS)[park % len(STREETS)]},
        geometry=shapely.buffer(shapely.polygons(park_quads), 250.0, join_style="mitre"), crs=SAMPLE_CRS,
    )
    zones = frame.dissolve("street", sort=False).reset_index()
    zones["code"] = [f"{COUNTY_CODE}{STREETS.index(s) + 1:03d}" for s in zones["street"]]
    return zones[["street", "code", "geometry"]]


def _height_raster(park_quads: np.ndarray, footprint: np.ndarray, height_m: np.ndarray) -> HeightRaster:
    """Rasterise building footprints (with their heights) over open ground inside the parks."""
    from affine import Affine
    from rasterio import features

    res = HEIGHT_RESOLUTION_M
    lo = np.floor((park_quads.min(axis=(0, 1)) - 4 * res) / res) * res
    hi = np.ceil((park_quads.max(axis=(0, 1)) + 4 * res) / res) * res
    cols, rows = ((hi - lo) / res).astype(int)
    transform = Affine(res, 0.0, lo[0], 0.0, -res, hi[1])
    values = np.full((rows, cols), HEIGHT_NODATA, dtype=np.float32)
    features.rasterize(zip(shapely.polygons(park_quads), repeat(0.0)), out=values, transform=transform)
    built = height_m > 0
    features.rasterize(
        zip(shapely.polygons(np.round(footprint[built], 2)), height_m[built].astype(float), strict=True), out=values,
        transform=transform,
    )
    return HeightRaster(values=values, transform=transform, crs=SAMPLE_CRS, nodata=HEIGHT_NODATA)

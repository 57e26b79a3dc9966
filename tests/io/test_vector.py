"""Reading a polygon drawn on the map for a scenario selection."""

from __future__ import annotations

import json

import pytest
import shapely

from gisefficiency.core.crs import wgs84_to_gcj02
from gisefficiency.core.errors import InputError
from gisefficiency.io.vector import read_selection_polygon

SQUARE = [[119.30, 28.60], [119.31, 28.60], [119.31, 28.61], [119.30, 28.61], [119.30, 28.60]]


def write(tmp_path, data):
    path = tmp_path / "drawn.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def feature(coords):
    return {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [coords]}}


def test_feature_collection_of_two_polygons_is_their_union(tmp_path):
    other = [[x + 0.02, y] for x, y in SQUARE]
    geom = read_selection_polygon(write(tmp_path, {"type": "FeatureCollection", "features": [feature(SQUARE), feature(other)]}))
    assert geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(2 * 0.01 * 0.01)


def test_bare_geometry_and_single_feature(tmp_path):
    assert read_selection_polygon(write(tmp_path, feature(SQUARE))).bounds == (119.30, 28.60, 119.31, 28.61)
    bare = {"type": "Polygon", "coordinates": [SQUARE]}
    assert read_selection_polygon(write(tmp_path, bare)).bounds == (119.30, 28.60, 119.31, 28.61)


def test_gcj02_export_is_shifted_back_to_wgs84(tmp_path):
    lon, lat = wgs84_to_gcj02([c[0] for c in SQUARE], [c[1] for c in SQUARE])
    shifted = [[float(x), float(y)] for x, y in zip(lon, lat, strict=True)]
    data = {"type": "FeatureCollection", "coordinate_system": "GCJ-02", "features": [feature(shifted)]}
    geom = read_selection_polygon(write(tmp_path, data))
    # GCJ-02 moves Zhejiang by ~0.5 km; back in WGS-84 the corners are within ~1 mm (1e-8 degrees).
    assert shapely.equals_exact(geom.exterior, shapely.Polygon(SQUARE).exterior, tolerance=1e-7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [119.3, 28.6]}}, "no polygon in the file"),
        (feature([[425000, 3159000], [426000, 3159000], [426000, 3160000], [425000, 3159000]]), "not lon/lat degrees"),
    ],
)
def test_bad_drawings_are_explained(tmp_path, data, message):
    with pytest.raises(InputError, match=message):
        read_selection_polygon(write(tmp_path, data))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="selection polygon file not found"):
        read_selection_polygon(tmp_path / "none.geojson")


# A square of 1 km in EPSG:4549 (CGCS2000 3° GK CM 120°E) near the sample county, as QGIS writes it.
GK = [[425000.0, 3159000.0], [426000.0, 3159000.0], [426000.0, 3160000.0], [425000.0, 3160000.0], [425000.0, 3159000.0]]
QGIS_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}}


def test_qgis_export_in_epsg_4549_is_read_with_its_crs(tmp_path):
    from pyproj import Transformer

    data = {"type": "FeatureCollection", "name": "drawn", "crs": QGIS_CRS, "features": [feature(GK)]}
    geom = read_selection_polygon(write(tmp_path, data))
    lon, lat = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True).transform(425000.0, 3159000.0)
    corners = shapely.get_coordinates(geom.exterior)
    assert any(x == pytest.approx(lon, abs=1e-9) and y == pytest.approx(lat, abs=1e-9) for x, y in corners)
    assert 119.2 < lon < 119.3 and 28.5 < lat < 28.6  # the sample county's area
    # in the parcels' CRS it is the square as drawn: corners back within 1 mm, area 1 km² = 1,500 mu
    back = read_selection_polygon(write(tmp_path, data), to_crs="EPSG:4549")
    assert shapely.equals_exact(back.exterior, shapely.Polygon(GK).exterior, tolerance=1e-3)
    assert back.area == pytest.approx(1_000_000.0, rel=1e-9)


def test_old_epsg_crs_member_and_crs84(tmp_path):
    old = {"type": "Feature", "crs": {"type": "EPSG", "properties": {"code": 4549}}, "properties": {},
           "geometry": {"type": "Polygon", "coordinates": [GK]}}
    assert read_selection_polygon(write(tmp_path, old), to_crs="EPSG:4549").area == pytest.approx(1e6, rel=1e-9)
    crs84 = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
             "features": [feature(SQUARE)]}
    assert read_selection_polygon(write(tmp_path, crs84)).bounds == (119.30, 28.60, 119.31, 28.61)


def test_geojson_without_crs_stays_wgs84(tmp_path):
    geom = read_selection_polygon(write(tmp_path, feature(SQUARE)), to_crs="EPSG:4549")
    assert 400_000 < geom.bounds[0] < 450_000 and 3_100_000 < geom.bounds[1] < 3_200_000
    # projected numbers without a crs member are refused, not taken as degrees
    with pytest.raises(InputError, match=r"not lon/lat degrees and the file names no CRS"):
        read_selection_polygon(write(tmp_path, feature(GK)))


@pytest.mark.parametrize(("crs", "message"), [
    ({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}}, r"unknown CRS 'urn:ogc:def:crs:EPSG::999999'"),
    ({"type": "link", "properties": {"href": "x.prj"}}, r"the 'crs' member .* is not a named CRS"),
    ({"type": "name", "properties": {"name": "EPSG:4326"}}, r"do not fit the CRS the file names"),
])
def test_bad_crs_members_are_explained(tmp_path, crs, message):
    data = {"type": "FeatureCollection", "crs": crs, "features": [feature(GK)]}
    with pytest.raises(InputError, match=message):
        read_selection_polygon(write(tmp_path, data))

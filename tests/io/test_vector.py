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

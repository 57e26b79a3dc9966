"""CRS guessing, Gauss-Krüger zones and WGS-84 / GCJ-02 / BD-09 conversions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod

from gisefficiency.core.crs import (
    bd09_to_gcj02,
    distorts_area,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    gk3_zone_crs,
    guess_crs,
    guess_epsg,
    in_china,
    is_metric_projected,
    to_wgs84,
    wgs84_to_gcj02,
)
from gisefficiency.core.errors import CRSError, InputError

GEOD = Geod(ellps="WGS84")


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize(
    ("lon", "epsg"),
    [(118.2, 4548), (118.49, 4548), (118.5, 4549), (120.7, 4549), (121.49, 4549), (122.3, 4550), (75.0, 4534)],
)
def test_gk3_zone_by_longitude(lon, epsg):
    assert gk3_zone_crs(lon).to_epsg() == epsg


def test_gk3_zone_outside_china():
    with pytest.raises(CRSError, match="outside China's CGCS2000"):
        gk3_zone_crs(10.0)
    with pytest.raises(CRSError, match="cannot choose a Gauss-Krüger zone"):
        gk3_zone_crs(float("nan"))


def test_guess_lonlat():
    text = guess_crs((120.1, 28.0, 120.3, 28.2))
    assert "lon/lat degrees" in text and "EPSG:4490" in text
    assert guess_epsg((120.1, 28.0, 120.3, 28.2)) == "EPSG:4490"


def test_guess_prefixed_zone_40():
    text = guess_crs((40_512_300, 3_098_000, 40_598_700, 3_120_000))
    assert "40,512,300" in text and "zone 40" in text and "EPSG:4528" in text
    assert guess_epsg((40_512_300, 3_098_000, 40_598_700, 3_120_000)) == "EPSG:4528"


def test_guess_unprefixed_gk():
    text = guess_crs((512_300, 3_098_000, 598_700, 3_120_000))
    assert "without zone prefix" in text and "EPSG:4549" in text


def test_guess_web_mercator_and_nonsense():
    assert guess_epsg((13_400_000, 3_200_000, 13_410_000, 3_210_000)) == "EPSG:3857"
    assert guess_epsg((-5e7, -5e7, 5e7, 5e7)) is None
    assert "no coordinates" in guess_crs((np.nan,) * 4)


def test_every_prefixed_zone_code_is_the_named_zone():
    for zone in (25, 39, 40, 41, 45):
        epsg = guess_epsg((zone * 1e6 + 400_000, 3e6, zone * 1e6 + 600_000, 3.1e6))
        assert f"zone {zone}" in CRS.from_user_input(epsg).name


def test_metric_and_area_distortion():
    assert is_metric_projected(CRS.from_epsg(4549))
    assert not is_metric_projected(CRS.from_epsg(4490))
    assert distorts_area(CRS.from_epsg(3857))
    assert not distorts_area(CRS.from_epsg(4549))


def test_gcj02_offset_in_zhejiang_is_about_half_a_kilometre():
    # West Lake, Hangzhou: GCJ-02 shifts points about 0.5 km (east-south-east).
    lon, lat = 120.1551, 30.2741
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon - lon == pytest.approx(0.00466, abs=2e-4)
    assert glat - lat == pytest.approx(-0.00243, abs=2e-4)
    assert 400 < _metres(lon, lat, glon, glat) < 650


def test_gcj02_is_identity_outside_china():
    lon, lat = wgs84_to_gcj02([2.35, -70.0], [48.85, 40.0])
    np.testing.assert_array_equal(lon, [2.35, -70.0])
    np.testing.assert_array_equal(lat, [48.85, 40.0])
    assert not in_china(2.35, 48.85) and in_china(120.0, 30.0)


@settings(max_examples=200, deadline=None)
@given(st.floats(73.0, 135.0), st.floats(18.0, 53.0))
def test_gcj02_round_trip_below_half_a_metre(lon, lat):
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, back_lon, back_lat) < 0.5
    assert _metres(lon, lat, back_lon, back_lat) < 1e-3  # in fact far better


def test_gcj02_inverse_vectorised():
    lon = np.linspace(118.0, 123.0, 1000)
    lat = np.linspace(27.0, 31.0, 1000)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.01


def test_bd09_round_trip_and_offset():
    glon, glat = 120.16, 30.27
    blon, blat = gcj02_to_bd09(glon, glat)
    assert 500 < _metres(glon, glat, blon, blat) < 1000  # Baidu adds roughly another 0.6-0.7 km
    back = bd09_to_gcj02(blon, blat)
    assert _metres(glon, glat, *back) < 1.0


def test_to_wgs84_mixed_systems():
    wlon, wlat = np.array([120.1, 120.2, 120.3, 120.4]), np.array([28.0, 28.1, 28.2, 28.3])
    glon, glat = wgs84_to_gcj02(wlon, wlat)
    blon, blat = gcj02_to_bd09(glon, glat)
    lon = np.array([wlon[0], wlon[1], glon[2], blon[3]])
    lat = np.array([wlat[0], wlat[1], glat[2], blat[3]])
    out_lon, out_lat = to_wgs84(lon, lat, ["WGS84", "cgcs2000", "GCJ-02", "百度"])
    assert _metres(wlon, wlat, out_lon, out_lat).max() < 1.0
    # One system for all points, and missing means WGS-84.
    same = to_wgs84(glon, glat, "gcj02")
    assert _metres(wlon, wlat, *same).max() < 0.01
    none = to_wgs84(wlon, wlat, [None, None, None, None])
    np.testing.assert_array_equal(none[0], wlon)


def test_to_wgs84_unknown_system():
    with pytest.raises(InputError, match="unknown coordinate system 'mars'"):
        to_wgs84([120.0], [30.0], ["mars"])


def test_guess_six_degree_prefixed_zone():
    assert guess_epsg((20_400_000, 3e6, 20_600_000, 3.1e6)) == "EPSG:4498"
    assert "6° Gauss-Krüger zone 20" in guess_crs((20_400_000, 3e6, 20_600_000, 3.1e6))

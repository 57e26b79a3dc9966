"""Geometry repair, duplicated ids and parcel areas in mu."""

from __future__ import annotations

import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Polygon, box

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import ConfigError, CRSError, InputError
from gisefficiency.land import prepare_parcels, repair_geometries, summarise_land

SIDE_10_MU = math.sqrt(10 * M2_PER_MU)  # 81.6497 m: a square of exactly 10 mu
X0, Y0 = 560_000.0, 3_100_000.0


def cert_as_read(cert: float | None, drawn_m2: float) -> tuple[float, str | None]:
    """The certificate area in m² and its unit, row by row, as the module docstring defines them.

    The value's ratio to the drawn area within a factor 1.5 of 1/666.67 is 亩, of 1/10000 is 公顷; else
    below 2 % of the drawn area it fits no unit (not used); else it is m².
    """
    if cert is None or not cert > 0:
        return np.nan, None
    if not drawn_m2 > 0:
        return cert, "m2"
    ratio = cert / drawn_m2
    if 1 / 1.5 < ratio * M2_PER_MU < 1.5:
        return cert * M2_PER_MU, "mu"
    if 1 / 1.5 < ratio * 10_000 < 1.5:
        return cert * 10_000, "ha"
    if ratio < 0.02:
        return np.nan, "unknown"
    return cert, "m2"


def grid_3x3(**columns) -> gpd.GeoDataFrame:
    """Nine 10-mu squares in EPSG:4549, ids P1..P9."""
    geoms = [box(X0 + i * SIDE_10_MU, Y0 + j * SIDE_10_MU, X0 + (i + 1) * SIDE_10_MU, Y0 + (j + 1) * SIDE_10_MU)
             for j in range(3) for i in range(3)]
    ids = pd.Index([f"P{k + 1}" for k in range(9)], name="parcel_id")
    frame = gpd.GeoDataFrame({"src_row": np.arange(1, 10), **columns}, geometry=geoms, index=ids, crs="EPSG:4549")
    return frame


def test_ten_mu_squares():
    out = prepare_parcels(grid_3x3())
    np.testing.assert_allclose(out["area_mu"], 10.0, rtol=1e-12)
    np.testing.assert_allclose(out["area_m2"], 10 * 10_000 / 15, rtol=1e-12)
    np.testing.assert_array_equal(out["area_mu"].to_numpy(), out["area_m2"].to_numpy() / M2_PER_MU)
    assert (out["geom_status"] == "ok").all() and (out["status"] == "ok").all()
    assert out["cert_area_mu"].isna().all()
    np.testing.assert_allclose(out["land_mu"], 10.0)
    assert (out["land_source"] == "drawn").all()
    assert not out["area_flag"].any()
    assert out.index.tolist() == [f"P{k}" for k in range(1, 10)]


def test_input_not_mutated():
    frame = grid_3x3(cert_area_m2=[6000.0] * 9)
    before = frame.copy()
    prepare_parcels(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_certificate_basis_and_difference_flag():
    cert = [10 * M2_PER_MU, 11 * M2_PER_MU, np.nan, 0.0, 10.4 * M2_PER_MU, 9.0 * M2_PER_MU, np.nan, np.nan, np.nan]
    out = prepare_parcels(grid_3x3(cert_area_m2=cert), area_diff_share=0.05)
    assert out.loc["P2", "cert_area_mu"] == pytest.approx(11.0)
    assert out.loc["P2", "land_mu"] == pytest.approx(11.0)
    assert out.loc["P2", "area_diff_share"] == pytest.approx(0.1)
    assert out.loc["P2", "area_flag"]
    assert out.loc["P5", "area_diff_share"] == pytest.approx(0.04) and not out.loc["P5", "area_flag"]
    assert out.loc["P6", "area_diff_share"] == pytest.approx(-0.1) and out.loc["P6", "area_flag"]
    # No certificate (missing, or 0 which means "not filled in"): the drawn area is used.
    assert math.isnan(out.loc["P3", "cert_area_mu"]) and out.loc["P3", "land_mu"] == pytest.approx(10.0)
    assert math.isnan(out.loc["P4", "cert_area_mu"]) and out.loc["P4", "land_source"] == "drawn"
    assert out["area_flag"].dtype == bool
    drawn = prepare_parcels(grid_3x3(cert_area_m2=cert), area_basis="drawn")
    np.testing.assert_allclose(drawn["land_mu"], 10.0)
    assert drawn.loc["P2", "area_flag"]  # the flag does not depend on the basis


def test_bowtie_is_repaired_into_two_triangles():
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    frame = grid_3x3()
    frame.loc["P1", "geometry"] = bowtie
    out = prepare_parcels(frame)
    assert out.loc["P1", "geom_status"] == "repaired" and out.loc["P1", "status"] == "ok"
    assert out.loc["P1", "geometry"].geom_type == "MultiPolygon"
    assert out.loc["P1", "area_m2"] == pytest.approx(5000.0)  # two triangles of 50 x 100 / 2
    assert out.loc["P1", "land_mu"] == pytest.approx(5000.0 / M2_PER_MU)
    assert shapely.is_valid(out.geometry.to_numpy()).all()


def test_null_empty_and_non_polygons_are_excluded_not_dropped():
    frame = grid_3x3(cert_area_m2=[6000.0] * 9)
    frame.loc["P2", "geometry"] = None
    frame.loc["P3", "geometry"] = Polygon()
    frame.loc["P4", "geometry"] = LineString([(X0, Y0), (X0 + 5, Y0 + 5)])
    frame.loc["P5", "geometry"] = GeometryCollection([box(X0, Y0, X0 + 10, Y0 + 10), LineString([(0, 0), (1, 1)])])
    out = prepare_parcels(frame)
    assert len(out) == 9
    for pid in ("P2", "P3"):
        assert out.loc[pid, "geom_status"] == "empty"
        assert out.loc[pid, "status"] == "excluded: empty geometry"
        assert math.isnan(out.loc[pid, "land_mu"]) and math.isnan(out.loc[pid, "area_mu"])
    assert out.loc["P4", "status"] == "excluded: not a polygon (LineString)"
    assert out.loc["P5", "geom_status"] == "repaired" and out.loc["P5", "area_m2"] == pytest.approx(100.0)
    assert out.loc["P5", "geometry"].geom_type == "Polygon"
    assert pd.isna(out.loc["P2", "land_source"])


def test_layer_without_polygons():
    frame = grid_3x3()
    frame["geometry"] = [LineString([(0, 0), (1, k + 1)]) for k in range(9)]
    with pytest.raises(InputError, match=r"holds no polygons \(found not a polygon \(LineString\)\)"):
        prepare_parcels(frame)


def test_repair_geometries_nested_collection():
    nested = GeometryCollection([MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)]), LineString([(0, 0), (5, 5)])])
    geoms, status, reason = repair_geometries(np.array([nested, None, box(0, 0, 2, 2)], dtype=object))
    assert geoms[0].geom_type == "MultiPolygon" and geoms[0].area == pytest.approx(2.0)
    assert status.tolist() == ["repaired", "empty", "ok"]
    assert reason.tolist() == ["", "empty geometry", ""]


def test_duplicates_error_lists_ids():
    frame = grid_3x3()
    frame.index = pd.Index(["A", "A", "B", "B", "C", "C", "D", "D", "F"], name="parcel_id")
    frame = pd.concat([frame, grid_3x3().iloc[:3].set_axis(pd.Index(["F", "G", "G"], name="parcel_id"))])
    with pytest.raises(InputError, match=r"6 parcel id\(s\) occur more than once: A, B, C, D, F \(and 1 more\)"):
        prepare_parcels(frame)
    with pytest.raises(InputError, match='duplicates = "keep_first"'):
        prepare_parcels(frame)


def test_duplicates_keep_first():
    frame = grid_3x3(cert_area_m2=[1000.0 * (k + 1) for k in range(9)])
    frame.index = pd.Index(["A", "A", "B", "C", "C", "C", "D", "E", "F"], name="parcel_id")
    out = prepare_parcels(frame, duplicates="keep_first")
    assert out.index.tolist() == ["A", "B", "C", "D", "E", "F"]
    assert out.loc["A", "src_row"] == 1 and out.loc["C", "src_row"] == 4
    assert out.loc["C", "n_src_rows"] == 3
    assert summarise_land(out)["n_duplicate_rows"] == 3


def test_duplicates_merge_unions_and_sums():
    frame = grid_3x3(cert_area_m2=[6000.0, 7000.0, np.nan, np.nan, np.nan, np.nan, 1.0, 2.0, 3.0],
                     street=["x", "y", "z", None, "w", "v", "u", "t", "s"])
    frame.index = pd.Index(["A", "A", "B", "B", "C", "D", "E", "F", "G"], name="parcel_id")
    out = prepare_parcels(frame, duplicates="merge")
    assert out.index.tolist() == ["A", "B", "C", "D", "E", "F", "G"]
    assert out.loc["A", "area_mu"] == pytest.approx(20.0)  # two adjacent 10-mu squares
    assert out.loc["A", "geometry"].geom_type == "Polygon"
    assert out.loc["A", "cert_area_mu"] == pytest.approx(13000.0 / M2_PER_MU)
    assert math.isnan(out.loc["B", "cert_area_mu"])  # all missing stays missing
    assert out.loc["A", "street"] == "x" and out.loc["B", "street"] == "z"
    assert out.loc["A", "src_row"] == 1 and out.loc["A", "n_src_rows"] == 2
    assert out.crs == frame.crs
    assert out.index.name == "parcel_id"  # results.gpkg names the id column after it (not "index")


def test_bad_options():
    with pytest.raises(ConfigError, match="unknown area_basis 'polygon'"):
        prepare_parcels(grid_3x3(), area_basis="polygon")
    with pytest.raises(ConfigError, match="unknown duplicates rule 'drop'"):
        prepare_parcels(grid_3x3(), duplicates="drop")
    with pytest.raises(ConfigError, match="area_diff_share must be a share >= 0"):
        prepare_parcels(grid_3x3(), area_diff_share=-0.1)


def test_needs_metric_crs():
    with pytest.raises(CRSError, match="projected CRS in metres"):
        prepare_parcels(grid_3x3().to_crs(4490))
    with pytest.raises(CRSError, match="got none"):
        prepare_parcels(grid_3x3().set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match="Pseudo-Mercator"):
        prepare_parcels(grid_3x3().to_crs(3857))


def test_summarise_land_totals():
    frame = grid_3x3(cert_area_m2=[12 * M2_PER_MU] + [np.nan] * 8)
    frame.loc["P9", "geometry"] = None
    frame.loc["P9", "cert_area_m2"] = 5 * M2_PER_MU
    frame.loc["P8", "geometry"] = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    summary = summarise_land(prepare_parcels(frame))
    assert summary["n_parcels"] == 9 and summary["n_ok"] == 8 and summary["n_excluded"] == 1
    assert summary["n_repaired"] == 1 and summary["n_empty"] == 1
    assert summary["n_cert"] == 2 and summary["n_land_from_cert"] == 1
    assert summary["area_mu_after"] == pytest.approx(12 + 6 * 10 + 5000 / M2_PER_MU)
    assert summary["area_mu_before"] == pytest.approx(summary["area_mu_after"] + 5)
    assert summary["excluded_mu"] == pytest.approx(5.0)
    assert summary["repaired_mu"] == pytest.approx(5000 / M2_PER_MU)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1, 500), st.floats(1, 500), st.one_of(st.none(), st.floats(1, 1e6))),
             min_size=1, max_size=30),
    st.sampled_from(["cert", "drawn"]),
)
def test_land_mu_is_cert_or_drawn(rects, basis):
    geoms = [box(X0 + 1000 * k, Y0, X0 + 1000 * k + w, Y0 + h) for k, (w, h, _) in enumerate(rects)]
    cert = [np.nan if c is None else c for _, _, c in rects]
    frame = gpd.GeoDataFrame({"cert_area_m2": cert}, geometry=geoms, crs="EPSG:4549",
                             index=pd.Index([str(k) for k in range(len(rects))], name="parcel_id"))
    out = prepare_parcels(frame, area_basis=basis)
    assert len(out) == len(frame) and out.index.equals(frame.index)
    drawn = np.array([w * h for w, h, _ in rects]) / M2_PER_MU
    np.testing.assert_allclose(out["area_mu"], drawn, rtol=1e-9)
    cert = np.array([cert_as_read(c, w * h)[0] for w, h, c in rects]) / M2_PER_MU
    np.testing.assert_allclose(out["cert_area_mu"], cert, rtol=1e-9)
    expected = np.where(np.isnan(cert) | (basis == "drawn"), drawn, cert)
    np.testing.assert_allclose(out["land_mu"], expected, rtol=1e-9)
    assert summarise_land(out)["area_mu_after"] == pytest.approx(expected.sum())


# Geometry kinds for the property test below: how each one ends up (status, reason).
_KINDS = {
    "box": ("ok", ""),
    "bowtie": ("repaired", ""),
    "overlapping_multi": ("repaired", ""),
    "none": ("empty", "empty geometry"),
    "empty": ("empty", "empty geometry"),
    "line": ("empty", "not a polygon (LineString)"),
    "point": ("empty", "not a polygon (Point)"),
    "flat": ("empty", "no area left after repair"),
}


def _geometry(kind: str, k: int, side: float):
    x = X0 + 1000 * k
    return {
        "box": box(x, Y0, x + side, Y0 + side),
        "bowtie": Polygon([(x, Y0), (x + side, Y0 + side), (x + side, Y0), (x, Y0 + side)]),
        "overlapping_multi": MultiPolygon([box(x, Y0, x + side, Y0 + side), box(x + side / 2, Y0, x + side * 1.5, Y0 + side)]),
        "none": None,
        "empty": Polygon(),
        "line": LineString([(x, Y0), (x + side, Y0)]),
        "point": shapely.Point(x, Y0),
        "flat": Polygon([(x, Y0), (x + side, Y0), (x + 2 * side, Y0)]),
    }[kind]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(sorted(_KINDS)), st.floats(1, 300),
                       st.one_of(st.none(), st.just(0.0), st.floats(-100, 1e6))), min_size=1, max_size=25),
    st.sampled_from(["cert", "drawn"]),
    st.floats(0, 0.5),
)
def test_columns_follow_their_definitions(rows, basis, share):
    """Every land column, cell by cell, as docs/contract.md defines it (computed here row by row)."""
    frame = gpd.GeoDataFrame(
        {"src_row": np.arange(1, len(rows) + 1), "cert_area_m2": [np.nan if c is None else c for _, _, c in rows]},
        geometry=[_geometry(kind, k, side) for k, (kind, side, _) in enumerate(rows)], crs="EPSG:4549",
        index=pd.Index([f"Q{k}" for k in range(len(rows))], name="parcel_id"))
    if all(_KINDS[kind][0] == "empty" for kind, _, _ in rows) and any(
            _KINDS[kind][1] != "empty geometry" for kind, _, _ in rows):
        with pytest.raises(InputError, match="holds no polygons"):
            prepare_parcels(frame, area_basis=basis, area_diff_share=share)
        return
    out = prepare_parcels(frame, area_basis=basis, area_diff_share=share)
    assert out.index.equals(frame.index) and out.crs == frame.crs
    assert str(out["geom_status"].dtype) == "str" and str(out["status"].dtype) == "str"
    assert out["land_source"].dtype == pd.StringDtype() and out["area_flag"].dtype == bool
    assert out["n_src_rows"].dtype == np.int64 and (out["n_src_rows"] == 1).all()
    for k, (kind, side, cert) in enumerate(rows):
        row = out.iloc[k]
        status, reason = _KINDS[kind]
        assert row["geom_status"] == status
        assert row["status"] == ("ok" if status != "empty" else f"excluded: {reason}")
        expected_m2 = {"box": side**2, "bowtie": side**2 / 2, "overlapping_multi": 1.5 * side**2}.get(kind, np.nan)
        if status == "empty":
            assert math.isnan(row["area_m2"]) and math.isnan(row["land_mu"]) and pd.isna(row["land_source"])
        else:
            assert row["area_m2"] == pytest.approx(expected_m2, rel=1e-9)
        assert row["area_mu"] == row["area_m2"] / M2_PER_MU or math.isnan(row["area_mu"])
        cert_m2, unit = cert_as_read(cert, expected_m2)
        cert_mu = cert_m2 / M2_PER_MU
        np.testing.assert_allclose(row["cert_area_mu"], cert_mu, rtol=1e-12)
        assert (pd.isna(row["cert_unit"]) and unit is None) or row["cert_unit"] == unit
        if status != "empty":
            from_cert = basis == "cert" and not math.isnan(cert_mu)
            assert row["land_mu"] == (cert_mu if from_cert else row["area_mu"])
            assert row["land_source"] == ("cert" if from_cert else "drawn")
        diff = (row["cert_area_mu"] - row["area_mu"]) / row["area_mu"]
        np.testing.assert_equal(row["area_diff_share"], diff)
        assert row["area_flag"] == bool(abs(diff) > share)


def test_validity_check_over_threads_gives_the_same_frame(monkeypatch):
    import gisefficiency.land as land_module

    kinds = ["box", "bowtie", "none", "box", "line", "overlapping_multi", "box", "empty", "bowtie", "box"] * 3
    frame = gpd.GeoDataFrame(
        {"cert_area_m2": [6000.0, np.nan] * 15},
        geometry=[_geometry(kind, k, 50.0) for k, kind in enumerate(kinds)], crs="EPSG:4549",
        index=pd.Index([f"T{k}" for k in range(len(kinds))], name="parcel_id"))
    monkeypatch.setattr(land_module, "_MAX_THREADS", 1)
    single = prepare_parcels(frame)
    monkeypatch.setattr(land_module, "_MAX_THREADS", 4)
    monkeypatch.setattr(land_module, "_MIN_PER_THREAD", 4)
    monkeypatch.setattr(land_module, "_cpus", lambda: 3)
    geoms = frame.geometry.to_numpy()
    np.testing.assert_array_equal(land_module._is_valid(geoms), shapely.is_valid(geoms))
    threaded = prepare_parcels(frame)
    pd.testing.assert_frame_equal(threaded, single, check_exact=True)
    assert single["geom_status"].value_counts().to_dict() == {"ok": 12, "repaired": 9, "empty": 9}


def test_strictly_convex_hand_cases():
    from gisefficiency.land import strictly_convex

    geoms = np.array([
        box(0, 0, 2, 1),                                              # rectangle: convex
        Polygon([(0, 0), (2, 0), (2, 2), (1, 1), (0, 2)]),            # dented: valid, not convex
        Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]),                    # bow-tie: invalid
        Polygon([(0, 0), (1, 0), (2, 0), (2, 1), (0, 1)]),            # collinear point: left to GEOS
        Polygon([(0, 0), (1, 0), (1, 0), (1, 1), (0, 1)]),            # repeated point: left to GEOS
        Polygon([(0, 0), (3, 0), (3, 3), (0, 3)], [[(1, 1), (2, 1), (2, 2), (1, 2)]]),  # hole
        Polygon([(1, 0), (1.5878, 1.809), (0.0489, 0.691), (1.9511, 0.691), (0.4122, 1.809)]),  # pentagram
        MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)]),
        None,
        Polygon(),
    ], dtype=object)
    import gisefficiency.land as land

    old = land._CONVEX_MIN_GROUP
    land._CONVEX_MIN_GROUP = 1  # every point count takes the fast path here
    try:
        got = strictly_convex(geoms)
    finally:
        land._CONVEX_MIN_GROUP = old
    assert got.tolist() == [True, False, False, False, False, False, False, False, False, False]
    assert not strictly_convex(geoms).any()  # groups under 1000 rings are left to GEOS


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=3, max_size=6),
                min_size=1, max_size=30),
       st.floats(1e-9, 1e3), st.sampled_from([0.0, 560_000.0]))
def test_strictly_convex_implies_valid(rings, scale, offset):
    """Whatever the fast path calls convex GEOS calls valid; the parcels' validity never changes."""
    import gisefficiency.land as land

    geoms = np.array([Polygon([(offset + x * scale, offset + y * scale) for x, y in ring]) for ring in rings],
                     dtype=object)
    old = land._CONVEX_MIN_GROUP
    land._CONVEX_MIN_GROUP = 1
    try:
        convex = land.strictly_convex(geoms)
        valid = land._valid_part(geoms)
    finally:
        land._CONVEX_MIN_GROUP = old
    expected = shapely.is_valid(geoms)
    assert not (convex & ~expected).any()
    np.testing.assert_array_equal(valid, expected)


def test_convex_fast_path_on_many_parcels_matches_geos():
    rng = np.random.default_rng(3)
    n = 3000
    corners = rng.normal(0, 30, (n, 4, 2)) + np.array([[0, 0], [80, 0], [80, 80], [0, 80]])
    geoms = shapely.polygons(np.concatenate([corners, corners[:, :1]], axis=1) + X0)
    from gisefficiency.land import _valid_part, strictly_convex

    convex = strictly_convex(geoms)
    assert 0 < convex.sum() < n
    np.testing.assert_array_equal(_valid_part(geoms), shapely.is_valid(geoms))


# --- areas anywhere in Zhejiang (issue 15, item 12) ---

def _lonlat_squares(lons: list[float], lat: float = 29.5, side_deg: float = 0.002) -> gpd.GeoDataFrame:
    """Squares of about 190 x 220 m at the given longitudes, in CGCS2000 lon/lat."""
    geoms = [box(lon, lat, lon + side_deg, lat + side_deg) for lon in lons]
    ids = pd.Index([f"L{k + 1}" for k in range(len(lons))], name="parcel_id")
    return gpd.GeoDataFrame({"src_row": np.arange(1, len(lons) + 1)}, geometry=geoms, index=ids, crs="EPSG:4490")


def _geodesic_m2(frame: gpd.GeoDataFrame) -> np.ndarray:
    from pyproj import Geod

    geod = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid to 0.1 mm
    lonlat = frame.to_crs(4490).geometry
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in lonlat])


LONS = [118.2, 120.0, 121.6, 122.45]


def test_lonlat_layer_over_three_zones_gives_geodesic_areas(tmp_path):
    from gisefficiency.io.parcels import read_parcels

    path = tmp_path / "zj.geojson"
    _lonlat_squares(LONS).to_file(path, driver="GeoJSON")
    parcels = read_parcels(path)
    assert parcels.crs.to_epsg() == 4549  # one CRS for adjacency: the zone of the median longitude
    out = prepare_parcels(parcels)
    geodesic = _geodesic_m2(_lonlat_squares(LONS))
    error = out["area_m2"].to_numpy() / geodesic - 1
    assert np.abs(error).max() < 0.001
    assert np.abs(error).max() < 0.0006  # in its own zone a parcel is at most 1.5° from the meridian
    # Measured in the layer's zone, the parcel at 122.45°E would be 0.14 % too large.
    plane = shapely.area(parcels.geometry.to_numpy()) / geodesic - 1
    assert plane[3] == pytest.approx(0.0014, abs=0.0002)
    assert out.crs == parcels.crs and out.geometry.geom_equals(parcels.geometry).all()


def test_projected_layer_far_from_its_meridian():
    """EPSG:4549 (CM 120°E) data at 122.4°E: the plane is 0.13 % off; the area is taken in zone CM 123°E."""
    lonlat = _lonlat_squares([122.4, 119.6])
    frame = lonlat.to_crs(4549)
    geodesic = _geodesic_m2(lonlat)
    plane_error = shapely.area(frame.geometry.to_numpy()) / geodesic - 1
    assert plane_error[0] == pytest.approx(0.0013, abs=0.0001)
    out = prepare_parcels(frame)
    np.testing.assert_allclose(out["area_m2"], geodesic, rtol=0.0006)
    # The parcel inside CM 120°E's zone keeps its plane area exactly.
    assert out["area_m2"].iloc[1] == shapely.area(frame.geometry.iloc[1])


@pytest.mark.parametrize("epsg", [32651, 4550, 4528])
def test_areas_do_not_depend_on_the_projection(epsg):
    """UTM (scale 0.9996), a neighbouring zone and the zone-prefixed CRS all give the own-zone area."""
    lonlat = _lonlat_squares(LONS)
    expected = prepare_parcels(lonlat.to_crs(4549))["area_m2"].to_numpy()
    out = prepare_parcels(lonlat.to_crs(epsg))
    np.testing.assert_allclose(out["area_m2"], expected, rtol=1e-7)
    np.testing.assert_allclose(out["area_m2"], _geodesic_m2(lonlat), rtol=0.0006)


# --- certificate areas in the wrong unit (issue 15, item 13) ---

def _one_parcel(cert: float, side: float = 100.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"src_row": [4], "cert_area_m2": [cert]}, geometry=[box(X0, Y0, X0 + side, Y0 + side)],
                            index=pd.Index(["Q4"], name="parcel_id"), crs="EPSG:4549")


def test_cert_area_in_mu_under_a_m2_header(caplog):
    # 12.5 under 证载面积(平方米) for a 8,333.33 m² polygon: 12.5 亩 (= 8,333.33 m²), not 12.5 m²,
    # which gave 13,333 万元/亩 on a tax of 25 万元.
    frame = _one_parcel(12.5, side=math.sqrt(12.5 * M2_PER_MU))
    with caplog.at_level("WARNING", logger="gisefficiency.land"):
        out = prepare_parcels(frame)
    row = out.loc["Q4"]
    assert row["cert_unit"] == "mu" and row["land_source"] == "cert"
    assert row["cert_area_mu"] == pytest.approx(12.5, rel=1e-12) and row["land_mu"] == pytest.approx(12.5)
    assert 25 / row["land_mu"] == pytest.approx(2.0)
    assert abs(row["area_diff_share"]) < 1e-9 and not row["area_flag"]
    assert re.search(r"1 certificate area\(s\) are in 亩, not m² .*rows 4, parcel id\(s\) Q4; converted to m² "
                     r"\(x 666\.67\)", caplog.text)
    assert "证载面积(亩)" in caplog.text


def test_cert_area_in_hectares_and_in_m2():
    ha = prepare_parcels(_one_parcel(0.95))  # 0.95 公顷 for a 10,000 m² polygon
    assert ha.loc["Q4", "cert_unit"] == "ha" and ha.loc["Q4", "cert_area_mu"] == pytest.approx(9500 / M2_PER_MU)
    assert ha.loc["Q4", "area_diff_share"] == pytest.approx(-0.05)
    m2 = prepare_parcels(_one_parcel(9000.0))
    assert m2.loc["Q4", "cert_unit"] == "m2" and m2.loc["Q4", "cert_area_mu"] == pytest.approx(9000 / M2_PER_MU)
    assert m2.loc["Q4", "area_flag"]  # 10 % off: reported, used as given
    none = prepare_parcels(_one_parcel(np.nan))
    assert pd.isna(none.loc["Q4", "cert_unit"]) and none.loc["Q4", "land_source"] == "drawn"


def test_cert_area_that_fits_no_unit_falls_back_to_the_drawn_area(caplog):
    with caplog.at_level("WARNING", logger="gisefficiency.land"):
        out = prepare_parcels(_one_parcel(50.0))  # 50 for 10,000 m²: 0.5 %, neither m², 亩 (15) nor 公顷 (1)
    assert out.loc["Q4", "cert_unit"] == "unknown" and math.isnan(out.loc["Q4", "cert_area_mu"])
    assert out.loc["Q4", "land_source"] == "drawn" and out.loc["Q4", "land_mu"] == pytest.approx(15.0)
    assert "below 2% of the drawn polygon and fit no unit" in caplog.text and "rows 4" in caplog.text


def test_mixed_file_most_rows_m2_a_few_in_mu(caplog):
    # Nine 10-mu squares (6,666.67 m²): rows 3 and 7 were typed in 亩 (10.2 and 9.8), the rest in m².
    cert = [6600.0, 6700.0, 10.2, 6666.0, 7000.0, 6500.0, 9.8, 6650.0, np.nan]
    with caplog.at_level("WARNING", logger="gisefficiency.land"):
        out = prepare_parcels(grid_3x3(cert_area_m2=cert))
    expected_mu = [6600 / M2_PER_MU, 6700 / M2_PER_MU, 10.2, 6666 / M2_PER_MU, 7000 / M2_PER_MU, 6500 / M2_PER_MU,
                   9.8, 6650 / M2_PER_MU, 10.0]
    np.testing.assert_allclose(out["land_mu"], expected_mu, rtol=1e-12)
    assert out["cert_unit"].tolist()[:8] == ["m2", "m2", "mu", "m2", "m2", "m2", "mu", "m2"]
    assert pd.isna(out["cert_unit"].iloc[8])
    assert out.loc["P3", "area_diff_share"] == pytest.approx(0.02)
    assert "2 certificate area(s) are in 亩" in caplog.text and "rows 3, 7, parcel id(s) P3, P7" in caplog.text
    assert caplog.text.count("certificate area(s)") == 1  # one warning for the unit, not one per row


@given(st.floats(50, 2e6), st.floats(1 / 1.45, 1.45), st.sampled_from([(1.0, "m2"), (M2_PER_MU, "mu"), (10_000.0, "ha")]))
def test_cert_written_in_any_unit_comes_back_in_m2(drawn_m2, share, unit):
    """A certificate within a factor 1.45 of the drawn area, written in m², 亩 or 公顷, is read as its m²."""
    from gisefficiency.land import cert_units

    true_m2 = drawn_m2 * share
    m2_per_unit, name = unit
    out, code = cert_units(np.array([true_m2 / m2_per_unit]), np.array([drawn_m2]))
    assert out[0] == pytest.approx(true_m2, rel=1e-12)
    assert ("m2", "mu", "ha")[code[0]] == name

"""Tests of gisefficiency.raster.layers and gisefficiency.io.raster against hand-computed rasters."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.features import rasterize

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import CRSError, InputError
from gisefficiency.io.raster import _profile, _write_tiled_copy, read_raster, write_cog
from gisefficiency.raster import (
    GRADE_ORDER,
    RasterData,
    density_surface,
    encode_categories,
    metric_raster,
    parcel_index_raster,
    plot_ratio,
    raster_outputs,
    storey_equivalent,
    to_png_overlay,
    zonal_stats,
)

X0, Y0 = 500_000.0, 3_000_000.0
SAMPLE_HEIGHT = Path(__file__).resolve().parents[2] / "layers" / "sample" / "building_height.tif"
CRS = "EPSG:4549"


def grid_3x3(side: float = 30.0) -> gpd.GeoDataFrame:
    """3 × 3 squares of ``side`` metres; position = 3 * row_from_south + column, ids P0..P8."""
    geoms = [shapely.box(X0 + side * i, Y0 + side * j, X0 + side * (i + 1), Y0 + side * (j + 1))
             for j in range(3) for i in range(3)]
    ids = pd.Index([f"P{k}" for k in range(9)], name="parcel_id")
    return gpd.GeoDataFrame({"value": np.arange(9, dtype=float)}, geometry=geoms, crs=CRS, index=ids)


def random_parcels(seed: int, n: int = 25) -> gpd.GeoDataFrame:
    """Random blobs, one ring with a hole and one multipolygon, for comparisons with rasterio."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 200, (n, 2))
    geoms = [shapely.Point(p).buffer(rng.uniform(1, 30), quad_segs=3) for p in pts]
    geoms[0] = shapely.Point(100, 100).buffer(50).difference(shapely.Point(100, 100).buffer(20))
    geoms[1] = shapely.MultiPolygon([shapely.box(0, 0, 6.3, 5.1), shapely.box(20.3, 20.3, 41.7, 33.1)])
    frame = gpd.GeoDataFrame({"v": rng.uniform(0, 10, n)}, geometry=geoms, crs=CRS,
                             index=pd.Index([f"R{k}" for k in range(n)], name="parcel_id"))
    return frame.set_geometry(frame.translate(X0, Y0))


# ---------------------------------------------------------------- parcel index


def test_index_of_3x3_grid_is_exact():
    idx = parcel_index_raster(grid_3x3(), resolution_m=10.0)
    rows, cols = np.indices((9, 9))
    expected = (2 - rows // 3) * 3 + cols // 3
    np.testing.assert_array_equal(idx.array, expected)
    assert idx.array.dtype == np.int32
    assert idx.transform == Affine(10.0, 0, X0, 0, -10.0, Y0 + 90)
    assert idx.meta["aligned"] is True and idx.meta["resolution_m"] == 10.0
    np.testing.assert_array_equal(idx.cell_count, np.full(9, 9))
    assert list(idx.parcel_ids) == [f"P{k}" for k in range(9)]
    # boundaries on grid lines touch neighbours only at their border: all_touched changes nothing
    touched = parcel_index_raster(grid_3x3(), resolution_m=10.0, all_touched=True)
    np.testing.assert_array_equal(touched.array, expected)


def test_grid_is_aligned_to_resolution_or_to_bounds():
    shifted = grid_3x3().set_geometry(grid_3x3().translate(3.0, 4.0))
    aligned = parcel_index_raster(shifted, resolution_m=10.0)
    assert (aligned.transform.c, aligned.transform.f) == (X0, Y0 + 100)  # floor / ceil to 10 m
    assert aligned.array.shape == (10, 10)
    free = parcel_index_raster(shifted, resolution_m=10.0, align=False)
    assert (free.transform.c, free.transform.f) == (X0 + 3, Y0 + 94)
    assert free.array.shape == (9, 9)
    assert free.array[0, 0] == 6 and free.array[8, 8] == 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), res=st.sampled_from([1.7, 5.0, 9.3]), touched=st.booleans())
def test_index_equals_rasterio(seed, res, touched):
    parcels = random_parcels(seed)
    idx = parcel_index_raster(parcels, resolution_m=res, all_touched=touched)
    theirs = rasterize(((g.__geo_interface__, v) for v, g in enumerate(parcels.geometry)),
                       out_shape=idx.array.shape, transform=idx.transform, fill=-1, dtype="int32",
                       all_touched=touched)
    np.testing.assert_array_equal(idx.array, theirs)


@pytest.mark.parametrize("touched", [False, True])
def test_later_parcel_wins_on_overlap_like_gdal(touched):
    # parcel 0's boundary crosses cells inside parcel 1, which comes later: parcel 1 owns them all
    geoms = [shapely.box(X0 + 12, Y0 + 12, X0 + 27, Y0 + 27), shapely.box(X0, Y0, X0 + 40, Y0 + 40)]
    parcels = gpd.GeoDataFrame(geometry=geoms, crs=CRS, index=["inner", "outer"])
    idx = parcel_index_raster(parcels, resolution_m=10.0, all_touched=touched)
    assert (idx.array == 1).all()
    assert idx.cell_count.tolist() == [0, 16] and idx.fallback_cell[0] >= 0
    # the covered parcel's total is kept at its fallback cell
    dens = metric_raster(idx, pd.Series([10.0, 1.0], index=parcels.index), density=True)
    assert dens.sum(dtype=float) * 100 == pytest.approx(10.0 * 225 + 1.0 * 1600)


def test_index_refuses_geographic_and_missing_crs():
    with pytest.raises(CRSError, match="geographic CRS"):
        parcel_index_raster(grid_3x3().to_crs("EPSG:4490"))
    with pytest.raises(CRSError, match="have no CRS"):
        parcel_index_raster(grid_3x3().set_crs(None, allow_override=True))
    with pytest.raises(InputError, match="resolution_m must be positive"):
        parcel_index_raster(grid_3x3(), resolution_m=0)
    with pytest.raises(InputError, match=r"too large(.|\n)*coarser \[raster\].resolution_m"):
        parcel_index_raster(grid_3x3(), resolution_m=0.001)


# ---------------------------------------------------------------- metric rasters


def small_and_big() -> gpd.GeoDataFrame:
    """A 20 × 20 m parcel and a 4 × 4 m parcel inside one 10 m cell, off its centre."""
    geoms = [shapely.box(X0, Y0, X0 + 20, Y0 + 20), shapely.box(X0 + 21, Y0 + 1, X0 + 25, Y0 + 5)]
    return gpd.GeoDataFrame({"tax_per_mu": [3.0, 50.0]}, geometry=geoms, crs=CRS,
                            index=pd.Index(["big", "small"], name="parcel_id"))


def test_small_parcel_keeps_its_total():
    parcels = small_and_big()
    idx = parcel_index_raster(parcels, resolution_m=10.0)
    assert idx.cell_count.tolist() == [4, 0]
    dens = metric_raster(idx, parcels["tax_per_mu"], density=True)
    cell_mu = 100 / M2_PER_MU
    total = 3.0 * 400 / M2_PER_MU + 50.0 * 16 / M2_PER_MU
    assert np.nansum(dens) * cell_mu == pytest.approx(total, rel=1e-6)
    # the small parcel's cell (row 2 from top... grid rows: y 3000020..3000000) holds 50 × 16 m² / 100 m²
    assert dens[1, 2] == pytest.approx(50.0 * 0.16, rel=1e-6)
    np.testing.assert_allclose(dens[:, :2], 3.0)
    plain = metric_raster(idx, parcels["tax_per_mu"], density=True, cell_area_weighting="none")
    assert np.nansum(plain) * cell_mu == pytest.approx(3.0 * 400 / M2_PER_MU)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), res=st.sampled_from([2.0, 7.5, 20.0]))
def test_density_raster_total_matches_parcels(seed, res):
    parcels = random_parcels(seed)
    idx = parcel_index_raster(parcels, resolution_m=res)
    dens = metric_raster(idx, parcels["v"], density=True)
    expected = float((parcels["v"] * parcels.area).sum())
    assert np.nansum(dens, dtype=float) * res * res == pytest.approx(expected, rel=1e-5)


def test_metric_gather_by_parcel_id_and_missing_stays_missing():
    parcels = grid_3x3()
    idx = parcel_index_raster(parcels, resolution_m=10.0)
    values = pd.Series({"P4": 7.5, "P0": np.nan, "P8": 1.0})  # other parcels: not given
    out = metric_raster(idx, values)
    assert out.dtype == np.float32
    assert out[4, 4] == 7.5 and out[0, 8] == 1.0
    assert np.isnan(out[8, 0]) and np.isnan(out[0, 0])
    with pytest.raises(InputError, match="not indexed by parcel_id"):
        metric_raster(idx, pd.Series([1.0, 2.0], index=["x", "y"]))
    with pytest.raises(InputError, match="do not match the parcels"):
        metric_raster(idx, np.ones(3))
    with pytest.raises(InputError, match="not numeric"):
        metric_raster(idx, pd.Series(list("ABCDABCDA"), index=parcels.index))
    with pytest.raises(InputError, match="unknown cell_area_weighting"):
        metric_raster(idx, parcels["value"], cell_area_weighting="exact")


def test_categories_as_codes_with_table():
    parcels = grid_3x3()
    grades = pd.Series(["B", "A", None, "D", "N", "A", "C", "B", "A"], index=parcels.index)
    codes, table = encode_categories(grades, order=GRADE_ORDER)
    assert table == {0: "A", 1: "B", 2: "C", 3: "D", 4: "N"}
    assert codes.isna().tolist() == [False, False, True] + [False] * 6
    idx = parcel_index_raster(parcels, resolution_m=10.0)
    out = metric_raster(idx, codes)
    assert out.dtype == np.int32
    assert out[8, 0] == 1 and out[8, 3] == 0 and out[8, 6] == -1 and out[5, 0] == 3
    block = pd.Series([5, 5, pd.NA, 7, 7, 7, pd.NA, pd.NA, 9], index=parcels.index, dtype="Int64")
    assert metric_raster(idx, block)[0, 8] == 9
    partial = metric_raster(idx, pd.Series([3, 4], index=["P0", "P8"]))  # plain int64, other parcels NA
    assert partial.dtype == np.int32 and partial[8, 0] == 3 and partial[0, 8] == 4 and partial[4, 4] == -1
    flags = metric_raster(idx, pd.Series([True, False], index=["P0", "P8"]))
    assert flags[8, 0] == 1 and flags[0, 8] == 0 and flags[4, 4] == -1
    with pytest.raises(InputError, match="negative codes"):
        metric_raster(idx, pd.Series(np.arange(9) - 1, index=parcels.index))


# ---------------------------------------------------------------- zonal statistics


def tiny_raster(crs: str = CRS) -> RasterData:
    """3 × 3 cells of 10 m over the west part of ``grid_3x3(side=10)``; -9999 = nodata."""
    arr = np.array([[1, 1, 3], [4, -9999, 6], [1, 8, 9]], dtype=np.int32)
    return RasterData(arr, Affine(10.0, 0, X0, 0, -10.0, Y0 + 30), crs, -9999)


def zonal_parcels() -> gpd.GeoDataFrame:
    geoms = [shapely.box(X0, Y0, X0 + 20, Y0 + 30),              # left two columns
             shapely.box(X0 + 20, Y0, X0 + 30, Y0 + 30),         # right column
             shapely.box(X0 + 12, Y0 + 12, X0 + 14, Y0 + 14),    # tiny, in the nodata cell
             shapely.box(X0 + 100, Y0, X0 + 110, Y0 + 10)]       # off the raster
    return gpd.GeoDataFrame(geometry=geoms, crs=CRS, index=pd.Index(list("ABCD"), name="parcel_id"))


def test_zonal_stats_tiny_raster_with_nodata():
    out = zonal_stats(zonal_parcels(), tiny_raster(), stats=("mean", "min", "max", "sum", "count",
                                                               "majority", "coverage", "cells"))
    a, b, c, d = (out.loc[k] for k in "ABCD")
    # A: 1, 1, 4, nodata, 1, 8
    assert (a["count"], a["cells"], a["sum"], a["max"], a["min"]) == (5, 6, 15, 8, 1)
    assert a["mean"] == pytest.approx(3.0) and a["majority"] == 1 and a["coverage"] == pytest.approx(5 / 6)
    assert (b["count"], b["sum"], b["mean"], b["majority"], b["coverage"]) == (3, 18, 6, 3, 1.0)
    # C holds no cell centre: it reads the cell at its point_on_surface, which is nodata
    assert (c["cells"], c["count"], c["coverage"]) == (1, 0, 0.0)
    assert np.isnan(c["mean"]) and np.isnan(c["sum"]) and np.isnan(c["majority"])
    assert d["cells"] == 0 and np.isnan(d["coverage"]) and np.isnan(d["max"])
    with pytest.raises(InputError, match="unknown zonal statistics"):
        zonal_stats(zonal_parcels(), tiny_raster(), stats=("median",))


def test_zonal_stats_float_nan_and_majority_tie():
    arr = np.array([[2.0, 1.0, np.nan]], dtype=np.float32)
    raster = RasterData(arr, Affine(10.0, 0, X0, 0, -10.0, Y0 + 10), CRS, None)
    parcels = gpd.GeoDataFrame(geometry=[shapely.box(X0, Y0, X0 + 30, Y0 + 10)], crs=CRS, index=["A"])
    out = zonal_stats(parcels, raster)
    assert out.loc["A", "majority"] == 1.0  # tie 1 vs 2: the smallest
    assert out.loc["A", "count"] == 2 and out.loc["A", "coverage"] == pytest.approx(2 / 3)


def test_zonal_stats_other_crs_is_reprojected_or_refused():
    parcels = zonal_parcels().to_crs("EPSG:4550")  # neighbouring Gauss-Kruger zone
    out = zonal_stats(parcels, tiny_raster(), stats=("sum", "count"))
    assert out.loc["A", "sum"] == 15 and out.loc["B", "sum"] == 18
    with pytest.raises(CRSError, match=r"CM 123E \(EPSG:4550\) but the raster is in .*CM 120E \(EPSG:4549\)"):
        zonal_stats(parcels, tiny_raster(), reproject=False)
    with pytest.raises(CRSError, match="the raster have no CRS"):
        zonal_stats(zonal_parcels(), tiny_raster(crs=None))


# ---------------------------------------------------------------- plot ratio


def test_storey_equivalent_rule():
    h = np.array([12.0, 1.0, 4.4, 4.6, 0.0, -2.0, np.nan, 30.0])
    out = storey_equivalent(h)
    np.testing.assert_array_equal(out[:6], [4, 1, 1, 2, 0, 0])
    assert np.isnan(out[6]) and out[7] == 10
    # a shed: one storey of 12 m > 8 m counts twice; 8 m exactly does not
    np.testing.assert_array_equal(storey_equivalent(np.array([12.0, 8.0, 20.0]), storey_height_m=9.0),
                                  [2, 1, 4])
    with pytest.raises(InputError, match="must be positive"):
        storey_equivalent(h, storey_height_m=0)


@settings(max_examples=50, deadline=None)
@given(h=st.floats(0.01, 300), s=st.floats(2.5, 12))
def test_storey_equivalent_at_least_rounded_storeys(h, s):
    n = storey_equivalent(np.array([h]), storey_height_m=s)[0]
    assert n >= max(1, np.floor(h / s + 0.5))
    assert n in (max(1, np.floor(h / s + 0.5)), 2 * max(1, np.floor(h / s + 0.5)))


def test_plot_ratio_hand_computed():
    geoms = [shapely.box(X0, Y0, X0 + 20, Y0 + 20), shapely.box(X0 + 20, Y0, X0 + 40, Y0 + 20),
             shapely.box(X0 + 40, Y0, X0 + 60, Y0 + 20)]
    parcels = gpd.GeoDataFrame({"floor_area_m2": [600.0, np.nan, np.nan]}, geometry=geoms, crs=CRS,
                               index=pd.Index(["half", "shed", "unknown"], name="parcel_id"))
    # cells: 'half' = 2 cells of 12 m + 2 empty; 'shed' = 4 cells of 12 m; 'unknown' all nodata
    heights = np.array([[12, 0, 12, 12, -1, -1], [12, 0, 12, 12, -1, -1]], dtype=np.float32)
    raster = RasterData(heights, Affine(10.0, 0, X0, 0, -10.0, Y0 + 20), CRS, -1.0)
    out = plot_ratio(parcels, raster)
    half = out.loc["half"]
    # 50 % footprint × 4 storeys (12 m / 3 m) = 2.0; recorded 600 / 400 = 1.5
    assert half["footprint_m2"] == pytest.approx(200) and half["floor_area_est_m2"] == pytest.approx(800)
    assert half["plot_ratio_est"] == pytest.approx(2.0) and half["plot_ratio_recorded"] == pytest.approx(1.5)
    assert half["plot_ratio_diff"] == pytest.approx(0.5)
    assert half["plot_ratio"] == pytest.approx(1.5) and half["plot_ratio_source"] == "recorded"
    assert out.loc["shed", "plot_ratio"] == pytest.approx(4.0)
    assert out.loc["shed", "plot_ratio_source"] == "estimated"
    assert np.isnan(out.loc["unknown", "plot_ratio"]) and pd.isna(out.loc["unknown", "plot_ratio_source"])
    assert out.loc["unknown", "height_coverage"] == 0
    # a shed-like storey height: one 12 m storey > 8 m counts twice -> plot ratio 2 on full cover
    sheds = plot_ratio(parcels, raster, storey_height_m=9.0)
    assert sheds.loc["shed", "plot_ratio_est"] == pytest.approx(2.0)
    # land_mu (certificate area) is the denominator where given
    with_land = parcels.assign(land_mu=[800 / M2_PER_MU, np.nan, np.nan])
    assert plot_ratio(with_land, raster).loc["half", "plot_ratio_est"] == pytest.approx(1.0)


def test_plot_ratio_on_generated_county_tracks_recorded():
    from gisefficiency.sample import generate_county

    county = generate_county(300, seed=7)
    h = county.height
    height = RasterData(h.values, h.transform, h.crs, h.nodata)
    parcels = county.parcels.assign(land_mu=county.parcels["cert_area_m2"] / M2_PER_MU)
    # the sample's storeys are 4-5.5 m (sheds 6-14 m): 5 m storeys recover the recorded ratio
    out = plot_ratio(parcels, height, storey_height_m=5.0)
    assert out[["plot_ratio_est", "plot_ratio_recorded"]].corr().iloc[0, 1] > 0.9
    assert out["plot_ratio_diff"].abs().median() < 0.1
    assert (out["plot_ratio_source"] == "recorded").sum() == parcels["floor_area_m2"].notna().sum()


@pytest.mark.skipif(not (SAMPLE_HEIGHT).exists(), reason="sample height GeoTIFF not generated yet")
def test_plot_ratio_on_sample_height_geotiff():
    from gisefficiency.io.parcels import read_parcels

    height = read_raster(SAMPLE_HEIGHT)
    assert height.crs is not None and height.nodata is not None
    raw = read_parcels(SAMPLE_HEIGHT.parent / "parcels.gpkg")
    # as land.prepare_parcels leaves them: bow-ties repaired, land = certificate area
    parcels = raw.set_geometry(shapely.make_valid(raw.geometry.values)).assign(
        land_mu=raw["cert_area_m2"] / M2_PER_MU)
    out = plot_ratio(parcels, height, storey_height_m=5.0)
    assert (out["height_coverage"] > 0.9).mean() > 0.9
    assert out[["plot_ratio_est", "plot_ratio_recorded"]].corr().iloc[0, 1] > 0.9
    assert out["plot_ratio_diff"].abs().median() < 0.1


# ---------------------------------------------------------------- density and overlay


def flagged() -> gpd.GeoDataFrame:
    parcels = grid_3x3(side=100.0)
    return parcels.assign(land_mu=parcels.area / M2_PER_MU,
                          low_efficiency=pd.array([True, False, True, None, True, True, False, True, True],
                                                  dtype="boolean"))


@pytest.mark.parametrize("kernel", ["quartic", "epanechnikov"])
def test_density_integrates_to_total_weight(kernel):
    parcels = flagged()
    dens, transform = density_surface(parcels, bandwidth_m=220, resolution_m=25, kernel=kernel)
    cell_km2 = transform.a * -transform.e / 1e6
    expected = parcels.loc[parcels["low_efficiency"].fillna(False).astype(bool), "land_mu"].sum()
    assert dens.sum() * cell_km2 == pytest.approx(expected, rel=1e-9)
    assert (dens >= 0).all() and transform.c % 25 == 0
    assert dens.shape[1] * 25 >= 300 + 2 * 220


def test_density_single_parcel_peak_and_errors():
    one = flagged().iloc[[4]]
    dens, transform = density_surface(one, bandwidth_m=100, resolution_m=50)
    # kernel on a 5 × 5 window: quartic weights (1 - d²/h²)² at d = 0, 50, 70.7 m; centre normalised
    d2 = np.array([0, 1, 1, 1, 1, 2, 2, 2, 2]) * 50**2 / 100**2
    k_sum = ((1 - d2) ** 2).sum()
    peak = one["land_mu"].iloc[0] / k_sum / (50 * 50) * 1e6
    assert dens.max() == pytest.approx(peak) and transform.a == 50
    with pytest.raises(InputError, match="lack"):
        density_surface(one.drop(columns="land_mu"))
    with pytest.raises(InputError, match="negative 'land_mu'"):
        density_surface(one.assign(land_mu=-1.0))


def _decode_png(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + data)
        if kind == b"IHDR":
            size = struct.unpack(">II", data[:8])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    cols, rows = size
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(rows, 1 + cols * 4)
    return raw[:, 1:].reshape(rows, cols, 4)


def test_png_overlay_colours_and_bounds():
    arr = np.array([[0.0, 1.0], [np.nan, 2.0]])
    png, bounds = to_png_overlay(arr, transform=Affine(10.0, 0, X0, 0, -10.0, Y0 + 20), opacity=1.0)
    img = _decode_png(png)
    assert bounds == (X0, Y0, X0 + 20, Y0 + 20)
    assert img[0, 0, 3] == 0 and img[1, 0, 3] == 0  # zero and NaN transparent
    assert tuple(img[0, 1]) == (0xFF, 0xFF, 0xCC, 255) and tuple(img[1, 1]) == (0x80, 0x00, 0x26, 255)
    codes = np.array([[0, 1], [-1, 3]], dtype=np.int32)
    png, _ = to_png_overlay(codes, transform=Affine(10.0, 0, X0, 0, -10.0, Y0 + 20),
                            cmap={0: "#1a9850", 3: "#d73027"}, nodata=-1, zero_transparent=False)
    img = _decode_png(png)
    assert tuple(img[0, 0, :3]) == (0x1A, 0x98, 0x50) and img[0, 1, 3] == 0 and img[1, 0, 3] == 0
    with pytest.raises(InputError, match="unknown colour ramp"):
        to_png_overlay(arr, transform=Affine(10.0, 0, X0, 0, -10.0, Y0 + 20), cmap="jet")


# ---------------------------------------------------------------- files


def test_write_cog_is_a_valid_cog(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.uniform(0, 10, (1100, 1000)).astype(np.float32)
    arr[:5, :5] = np.nan
    transform = Affine(20.0, 0, X0, 0, -20.0, Y0)
    path = write_cog(tmp_path / "sub" / "tax.tif", arr, transform=transform, crs=CRS, nodata=np.nan)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.block_shapes == [(512, 512)] and src.profile["tiled"]
        assert src.overviews(1) == [2, 4]
        assert src.crs.to_epsg() == 4549 and np.isnan(src.nodata)
        assert src.compression.name.lower() == "deflate"
    back = read_raster(path)
    np.testing.assert_array_equal(back.array, arr)
    assert back.transform == transform and back.crs.to_epsg() == 4549 and back.meta["overviews"] == [2, 4]
    codes = write_cog(tmp_path / "codes.tif", np.nan_to_num(arr).astype(np.int32), transform=transform, crs=CRS, nodata=-1,
                      compress="zstd", overviews=False)
    with rasterio.open(codes) as src:
        assert src.nodata == -1 and src.overviews(1) == [] and src.compression.name.lower() == "zstd"


def test_tiled_copy_fallback_has_cog_layout(tmp_path):
    arr = np.arange(1100 * 600, dtype=np.int32).reshape(1100, 600)
    transform = Affine(10.0, 0, X0, 0, -10.0, Y0)
    path = _write_tiled_copy(tmp_path / "t.tif", arr[None], _profile(arr, transform, CRS, -1),
                             overviews=True, compress="deflate", resampling="nearest")
    with rasterio.open(path) as src:
        assert src.block_shapes == [(512, 512)] and src.overviews(1) == [2, 4]
        assert src.crs.to_epsg() == 4549 and src.nodata == -1
        np.testing.assert_array_equal(src.read(1), arr)


def test_read_and_write_errors(tmp_path):
    with pytest.raises(InputError, match="cannot read raster"):
        read_raster(tmp_path / "missing.tif")
    path = write_cog(tmp_path / "a.tif", np.zeros((3, 3), np.uint8), transform=Affine(1, 0, 0, 0, -1, 3),
                     crs=CRS, nodata=None)
    with pytest.raises(InputError, match="has no band 2"):
        read_raster(path, band=2)
    with pytest.raises(InputError, match="unknown compression"):
        write_cog(path, np.zeros((3, 3)), transform=Affine.identity(), crs=CRS, nodata=None, compress="lzw")


# ---------------------------------------------------------------- pipeline entry


def test_raster_outputs_bundle():
    parcels = flagged().assign(
        tax_per_mu=np.linspace(0.5, 4.5, 9), grade=["A", "B", "C", "D", "N", "A", "B", "C", "D"],
        block_id=pd.array([1, 1, None, 2, 2, 2, None, None, 3], dtype="Int64"),
        floor_area_m2=np.nan,
    )
    heights = np.full((30, 30), 6.0, dtype=np.float32)
    height = RasterData(heights, Affine(10.0, 0, X0, 0, -10.0, Y0 + 300), CRS, -1.0)
    steps: list[str] = []
    out = raster_outputs(parcels, resolution_m=20.0,
                         metrics=["tax_per_mu", "grade", "block_id", "low_efficiency"], height=height,
                         bandwidth_m=200, progress=steps.append)
    assert steps == ["index", "tax_per_mu", "grade", "block_id", "low_efficiency", "plot_ratio", "density"]
    assert set(out.layers) == {"tax_per_mu", "grade", "block_id", "low_efficiency"}
    assert out.layers["grade"].categories == {0: "A", 1: "B", 2: "C", 3: "D", 4: "N"}
    assert out.layers["low_efficiency"].categories == {0: "False", 1: "True"}
    assert out.layers["tax_per_mu"].unit == "万元/亩"
    assert np.nansum(out.layers["tax_per_mu"].array) * 400 / M2_PER_MU == pytest.approx(
        (parcels["tax_per_mu"] * parcels["land_mu"]).sum(), rel=1e-6)
    np.testing.assert_allclose(out.plot_ratio["plot_ratio"], 2.0)
    assert out.density is not None and out.density.unit == "亩/km²"
    with pytest.raises(InputError, match="raster metrics not found"):
        raster_outputs(parcels, resolution_m=20.0, metrics=["va_per_mu"])

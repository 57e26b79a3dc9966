"""building_stats: building height and plot ratio from one rasterisation, against hand-computed values
and against the per-cell path (every (cell, parcel) pair, then bincount) the pipeline used before."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine

from gisefficiency.raster import RasterData, building_stats, plot_ratio, storey_equivalent, zonal_stats
from gisefficiency.raster.grid import (
    Grid,
    centre_pairs,
    centre_spans,
    geometry_pairs,
    polygon_edges,
    span_cells,
)

X0, Y0 = 500_000.0, 3_000_000.0
CRS = "EPSG:4549"


def small_county() -> tuple[gpd.GeoDataFrame, RasterData]:
    """Four parcels on 10 m cells (rows from the north):

    ``half``   20 × 20 m, west column under a 12 m building, east column open ground (0 m);
    ``patchy`` 20 × 20 m, one 6 m cell, one 0 m cell, two nodata cells;
    ``tiny``   4 × 4 m inside a 30 m cell: reads that one cell;
    ``off``    outside the raster.
    """
    heights = np.array([[12, 0, 6, -1, 30],
                        [12, 0, 0, -1, 0]], dtype=np.float32)
    raster = RasterData(heights, Affine(10.0, 0, X0, 0, -10.0, Y0 + 20), CRS, -1.0)
    geoms = [shapely.box(X0, Y0, X0 + 20, Y0 + 20), shapely.box(X0 + 20, Y0, X0 + 40, Y0 + 20),
             shapely.box(X0 + 43, Y0 + 13, X0 + 47, Y0 + 17), shapely.box(X0 + 100, Y0, X0 + 110, Y0 + 10)]
    parcels = gpd.GeoDataFrame({"floor_area_m2": [np.nan, 100.0, np.nan, np.nan]}, geometry=geoms, crs=CRS,
                               index=pd.Index(["half", "patchy", "tiny", "off"], name="parcel_id"))
    return parcels, raster


def test_half_covered_parcel_hand_computed():
    parcels, raster = small_county()
    out = building_stats(parcels, raster)
    half = out.loc["half"]
    # 4 cells, all valid; the tallest is the 12 m building, which covers half the parcel
    assert half["height_max_m"] == 12.0 and half["height_coverage_share"] == 1.0
    assert (half["cells"], half["building_cells"]) == (4, 2)
    assert half["building_coverage"] == pytest.approx(0.5) and half["mean_height_m"] == 12.0
    # 400 m² × (2 cells × 4 storeys) / 4 valid cells = 800 m² of floor: plot ratio 2.0
    assert half["floor_area_est_m2"] == pytest.approx(800.0) and half["plot_ratio"] == pytest.approx(2.0)
    assert half["plot_ratio_source"] == "estimated"


def test_nodata_small_and_outside_parcels_hand_computed():
    parcels, raster = small_county()
    out = building_stats(parcels, raster)
    patchy, tiny, off = out.loc["patchy"], out.loc["tiny"], out.loc["off"]
    # two of four cells valid (6 m and 0 m): coverage 1/2, footprint 400 × 1/2 valid cells = 200 m²
    assert patchy["height_max_m"] == 6.0 and patchy["height_coverage_share"] == 0.5
    assert patchy["footprint_m2"] == pytest.approx(200.0)
    # 6 m = 2 storeys on half the valid cells: 400 × 2 / 2 = 400 m²; recorded 100 m² wins for plot_ratio
    assert patchy["floor_area_est_m2"] == pytest.approx(400.0)
    assert patchy["plot_ratio"] == pytest.approx(100.0 / 400.0) and patchy["plot_ratio_source"] == "recorded"
    # no cell centre inside: the one cell at its point_on_surface (30 m, 10 storeys)
    assert (tiny["cells"], tiny["height_max_m"]) == (1, 30.0)
    assert tiny["plot_ratio_est"] == pytest.approx(10.0)
    # off the raster: nothing is known, nothing is zero
    assert off["cells"] == 0
    assert np.isnan(off["height_max_m"]) and np.isnan(off["height_coverage_share"]) and np.isnan(off["plot_ratio"])


def test_same_as_zonal_stats_joined_to_plot_ratio():
    parcels, raster = small_county()
    stats = zonal_stats(parcels, raster, stats=("max", "coverage")).rename(
        columns={"max": "height_max_m", "coverage": "height_coverage_share"})
    expected = stats.join(plot_ratio(parcels, raster, storey_height_m=4.0))
    pd.testing.assert_frame_equal(building_stats(parcels, raster, storey_height_m=4.0), expected)


def _per_cell_reference(parcels: gpd.GeoDataFrame, raster: RasterData, storey_height_m: float) -> pd.DataFrame:
    """The per-cell path: every (cell, parcel) pair, values gathered, bincount per parcel."""
    n = len(parcels)
    grid = Grid.from_transform(raster.transform, raster.array.shape)
    cells, labels, _ = geometry_pairs(np.asarray(parcels.geometry.values), grid)
    values = raster.array.reshape(-1)[cells]
    valid = raster.valid_mask().reshape(-1)[cells]
    lab, h = labels[valid], values[valid].astype(float)
    count = np.bincount(lab, minlength=n)
    tallest = np.full(n, -np.inf)
    np.maximum.at(tallest, lab, h)
    building = h > 0
    n_build = np.bincount(lab[building], minlength=n)
    storeys = np.bincount(lab, weights=storey_equivalent(h, storey_height_m=storey_height_m), minlength=n)
    drawn = parcels.geometry.area.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "height_max_m": np.where(count > 0, tallest, np.nan),
            "cells": np.bincount(labels, minlength=n),
            "building_cells": n_build,
            "mean_height_m": np.bincount(lab[building], weights=h[building], minlength=n) / n_build,
            "floor_area_est_m2": drawn * storeys / np.where(count > 0, count, np.nan),
        }, index=parcels.index)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_as_the_per_cell_path_on_random_overlapping_parcels(seed):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 300, (60, 2))
    geoms = [shapely.Point(c).buffer(r, quad_segs=4) for c, r in zip(centres, rng.uniform(0.5, 40, 60), strict=True)]
    geoms[0] = shapely.Point(150, 150).buffer(60).difference(shapely.Point(150, 150).buffer(25))  # a hole
    geoms[1] = shapely.MultiPolygon([shapely.box(0, 0, 23, 17), shapely.box(200, 10, 260, 44)])
    parcels = gpd.GeoDataFrame(geometry=geoms, crs=CRS, index=pd.Index([f"R{k}" for k in range(60)],
                                                                        name="parcel_id"))
    parcels = parcels.set_geometry(parcels.translate(X0, Y0))
    heights = rng.choice([0.0, 0.0, 3.0, 4.4, 4.6, 12.0, 25.5, np.nan, -9999.0], size=(70, 65)).astype(np.float32)
    raster = RasterData(heights, Affine(5.0, 0, X0 - 10, 0, -5.0, Y0 + 320), CRS, -9999.0)
    out = building_stats(parcels, raster, storey_height_m=3.5)
    expected = _per_cell_reference(parcels, raster, 3.5)
    for column in expected.columns:
        np.testing.assert_allclose(out[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-12,
                                   err_msg=column)


def test_spans_hold_the_same_cells_as_pairs():
    rng = np.random.default_rng(5)
    geoms = np.array([shapely.Point(p).buffer(r) for p, r in zip(rng.uniform(0, 100, (30, 2)),
                                                                  rng.uniform(1, 20, 30), strict=True)])
    grid = Grid(0.0, 100.0, 3.0, 3.0, 34, 34)
    edges = polygon_edges(geoms)
    start, length, label = centre_spans(edges, grid)
    assert (length >= 1).all()
    cells, labels = centre_pairs(edges, grid)
    np.testing.assert_array_equal(span_cells(start, length), cells)
    np.testing.assert_array_equal(np.repeat(label, length), labels)


def test_crossings_in_order_equal_a_lexsort():
    from gisefficiency.raster.grid import _crossings_in_order

    rng = np.random.default_rng(8)
    # nearly sorted keys in groups of 1 to 6, as edges listed polygon after polygon give them
    key = np.repeat(np.arange(400) * 3, rng.integers(1, 7, 400))
    key[rng.integers(0, len(key), 30)] = rng.integers(0, 1200, 30)
    xc = rng.choice(np.arange(50.0), len(key))  # repeated x values too
    order = np.lexsort((xc, key))
    got_x, got_key = _crossings_in_order(xc.copy(), key.copy())
    np.testing.assert_array_equal(got_key, key[order])
    np.testing.assert_array_equal(got_x, xc[order])

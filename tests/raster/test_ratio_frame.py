"""The plot-ratio frame built in numpy: the same frame, to the bit, as the former pandas construction (kept
below as the reference), with land and floor areas given as numbers, text, nullable numbers or not at all."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisefficiency.raster.zonal import _ratio_frame, _Totals, land_m2


def reference_frame(parcels, totals):
    """The former _ratio_frame: pandas columns, land from land_m2 (the drawn area computed twice)."""
    n = len(parcels)
    n_cells, n_valid, n_build = totals.cells, totals.valid.astype(float), totals.building
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_valid > 0, 1.0 / n_valid, np.nan)
        mean_h = totals.height_sum / n_build
        drawn = parcels.geometry.area.to_numpy(dtype=float)
        land = land_m2(parcels).to_numpy(dtype=float)
        footprint = drawn * n_build * share
        floor_est = drawn * totals.storeys * share
        est = floor_est / land
        coverage = np.where(n_cells > 0, n_valid / n_cells, np.nan)
    recorded = np.full(n, np.nan)
    if "floor_area_m2" in parcels.columns:
        recorded = pd.to_numeric(parcels["floor_area_m2"], errors="coerce").to_numpy(dtype=float) / land
    frame = pd.DataFrame({"cells": n_cells, "height_coverage": coverage, "building_cells": n_build,
                          "mean_height_m": mean_h, "footprint_m2": footprint, "building_coverage": footprint / land,
                          "floor_area_est_m2": floor_est, "plot_ratio_est": est, "plot_ratio_recorded": recorded,
                          "plot_ratio_diff": est - recorded}, index=parcels.index.copy())
    has_rec = frame["plot_ratio_recorded"].notna()
    frame["plot_ratio"] = frame["plot_ratio_recorded"].where(has_rec, frame["plot_ratio_est"])
    source = np.where(has_rec, "recorded", np.where(frame["plot_ratio_est"].notna(), "estimated", None))
    frame["plot_ratio_source"] = pd.Series(source, index=frame.index, dtype="string")
    return frame


def random_case(seed: int, n: int = 400):
    """Parcels (boxes, some empty) with land in mu and floor areas, NaN, zero and negative; random totals."""
    rng = np.random.default_rng(seed)
    side = rng.choice([0.0, 0.5, 7.0, 40.0, 130.0], n)
    geoms = [shapely.box(0, 0, s, 1.3 * s) if s else shapely.Polygon() for s in side]
    land_mu = rng.choice([np.nan, 0.0, -1.0, 0.3, 2.25, 17.0], n)
    floor = rng.choice([np.nan, 0.0, 55.5, 1200.0, 9000.0], n)
    parcels = gpd.GeoDataFrame({"land_mu": land_mu, "floor_area_m2": floor}, geometry=geoms, crs="EPSG:4549",
                               index=pd.Index([f"p{i}" for i in range(n)], name="parcel_id"))
    cells = rng.integers(0, 12, n)
    valid = np.minimum(cells, rng.integers(0, 12, n))
    building = np.minimum(valid, rng.integers(0, 12, n))
    totals = _Totals(cells=cells, valid=valid, building=building, height_sum=building * rng.uniform(0, 40, n),
                     storeys=building * rng.uniform(0, 9, n), tallest=np.full(n, -np.inf))
    return parcels, totals


def assert_same(got, expected):
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    for column in got.columns.drop("plot_ratio_source"):
        np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy(), err_msg=column)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ratio_frame_is_the_former_frame(seed):
    parcels, totals = random_case(seed)
    assert_same(_ratio_frame(parcels, totals), reference_frame(parcels, totals))


@pytest.mark.parametrize("form", ["text", "nullable", "missing"])
def test_ratio_frame_with_other_column_forms(form):
    parcels, totals = random_case(3)
    if form == "text":  # numbers as text with some words: the words count as not given
        for column in ("land_mu", "floor_area_m2"):
            parcels[column] = parcels[column].map(lambda v: "n/a" if np.isnan(v) else f"{v}").astype(object)
    elif form == "nullable":
        parcels["land_mu"] = pd.array(parcels["land_mu"].to_numpy(), dtype="Float64")
        parcels["floor_area_m2"] = pd.array(np.where(np.isnan(parcels["floor_area_m2"]), None,
                                                     parcels["floor_area_m2"].round()), dtype="Int64")
    else:
        parcels = parcels.drop(columns=["land_mu", "floor_area_m2"])
    assert_same(_ratio_frame(parcels, totals), reference_frame(parcels, totals))


def test_ratio_frame_hand_computed():
    # 20 x 20 m (400 m²), land 0.3 mu = 200 m², 4 valid cells of 4, 2 building cells with 6 storeys in all,
    # 100 m² recorded: footprint 400 × 2/4 = 200 m², floor 400 × 6/4 = 600 m², plot ratio est 600/200 = 3
    parcels = gpd.GeoDataFrame({"land_mu": [0.3, np.nan], "floor_area_m2": [100.0, np.nan]},
                               geometry=[shapely.box(0, 0, 20, 20), shapely.box(0, 0, 10, 10)], crs="EPSG:4549",
                               index=pd.Index(["a", "b"], name="parcel_id"))
    totals = _Totals(cells=np.array([4, 3]), valid=np.array([4, 0]), building=np.array([2, 0]),
                     height_sum=np.array([24.0, 0.0]), storeys=np.array([6.0, 0.0]), tallest=np.full(2, -np.inf))
    out = _ratio_frame(parcels, totals)
    land = 0.3 * 10000 / 15
    a, b = out.loc["a"], out.loc["b"]
    assert (a["footprint_m2"], a["floor_area_est_m2"], a["mean_height_m"]) == (200.0, 600.0, 12.0)
    assert a["plot_ratio_est"] == pytest.approx(600.0 / land) and a["plot_ratio"] == pytest.approx(100.0 / land)
    assert a["plot_ratio_source"] == "recorded"
    # no valid cell: nothing estimated, nothing recorded
    assert b["height_coverage"] == 0.0 and np.isnan(b["plot_ratio"]) and pd.isna(b["plot_ratio_source"])

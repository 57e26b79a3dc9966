"""The one-pass gathers of metric_raster, encode_categories' lookup and the density's FFT, on hand-made data."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisefficiency.raster import encode_categories, metric_raster, parcel_index_raster
from gisefficiency.raster.density import _fft_convolve_same

X0, Y0 = 500_000.0, 3_000_000.0
CRS = "EPSG:4549"


def covered_small_parcel() -> gpd.GeoDataFrame:
    """A 4 × 4 m parcel under a later 20 × 20 m parcel: the big one owns all four 10 m cells."""
    geoms = [shapely.box(X0 + 1, Y0 + 1, X0 + 5, Y0 + 5), shapely.box(X0, Y0, X0 + 20, Y0 + 20)]
    return gpd.GeoDataFrame({"tax_per_mu": [50.0, 3.0]}, geometry=geoms, crs=CRS,
                            index=pd.Index(["small", "big"], name="parcel_id"))


def test_small_parcel_total_is_added_to_the_share_of_the_cell_it_falls_in():
    parcels = covered_small_parcel()
    idx = parcel_index_raster(parcels, resolution_m=10.0)
    assert idx.cell_count.tolist() == [0, 4]
    dens = metric_raster(idx, parcels["tax_per_mu"], density=True)
    assert dens.dtype == np.float32
    # big: 3 × 400 m² over 4 cells of 100 m² = 3.0 a cell; small: 50 × 16 m² / 100 m² = 8.0 more in its cell
    # (the lower-left cell, row 1 of the 2 × 2 grid)
    assert dens.tolist() == [[3.0, 3.0], [11.0, 3.0]]
    missing = metric_raster(idx, pd.Series([np.nan, 3.0], index=parcels.index), density=True)
    assert missing.tolist() == [[3.0, 3.0], [3.0, 3.0]]  # a missing value adds nothing


def test_gather_puts_nodata_where_no_parcel():
    parcels = gpd.GeoDataFrame({"v": [2.5, 7.0]}, crs=CRS, index=pd.Index(["a", "b"], name="parcel_id"),
                               geometry=[shapely.box(X0, Y0, X0 + 10, Y0 + 10),
                                         shapely.box(X0 + 20, Y0, X0 + 30, Y0 + 10)])
    idx = parcel_index_raster(parcels, resolution_m=10.0)
    assert idx.array.tolist() == [[0, -1, 1]]
    plain = metric_raster(idx, parcels["v"])
    assert plain.dtype == np.float32 and plain[0, 0] == 2.5 and np.isnan(plain[0, 1]) and plain[0, 2] == 7.0
    codes = metric_raster(idx, pd.Series([4, pd.NA], index=parcels.index, dtype="Int64"))
    assert codes.dtype == np.int32 and codes.tolist() == [[4, -1, -1]]


@pytest.mark.parametrize("dtype", ["string", "str", object])
def test_encode_categories_codes_text(dtype):
    values = pd.Series(["N", "B", None, "A", "B", ""], dtype=dtype, name="grade", index=list("uvwxyz"))
    codes, table = encode_categories(values, order=("A", "B", "C", "D", "N"))
    assert table == {0: "A", 1: "B", 2: "N", 3: ""}
    assert codes.dtype == "Int32" and codes.name == "grade" and list(codes.index) == list("uvwxyz")
    assert codes.tolist() == [2, 1, pd.NA, 0, 1, 3]


def test_encode_categories_flags_and_all_missing():
    flags = pd.Series([True, None, False, True], dtype=object)
    codes, table = encode_categories(flags)
    assert table == {0: "False", 1: "True"} and codes.tolist() == [1, pd.NA, 0, 1]
    codes, table = encode_categories(pd.Series([None, None], dtype="string"))
    assert table == {} and codes.tolist() == [pd.NA, pd.NA] and codes.dtype == "Int32"


def test_fft_convolution_gives_scipy_signal_values():
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(7)
    image = np.where(rng.random((83, 120)) < 0.05, rng.random((83, 120)) * 30, 0.0)
    for size in (3, 11, 201):  # a kernel larger than the image too
        kernel = rng.random((size, size))
        assert np.array_equal(_fft_convolve_same(image, kernel), fftconvolve(image, kernel, mode="same"))
    point = np.zeros((5, 5))
    point[2, 2] = 1.0
    box = np.full((3, 3), 1 / 9)
    np.testing.assert_allclose(_fft_convolve_same(point, box)[1:4, 1:4], box, atol=1e-15)

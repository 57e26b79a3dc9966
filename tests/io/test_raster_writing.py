"""GeoTIFF writing options: predictor and level change the bytes, never the values read back."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from gisefficiency.core.errors import InputError
from gisefficiency.io.raster import _code_range, _profile, _write_tiled_copy, write_category_cog, write_cog

T = Affine(20, 0, 400000, 0, -20, 3100000)
LEGEND = {0: ("A类", "Class A", "#1a9850"), 3: ("D类", "Class D", "#d73027")}


def parcel_like(rows: int = 700, cols: int = 600) -> np.ndarray:
    """Runs of one value per 'parcel' (20 × 30 cell blocks), with NaN gaps: what metric rasters look like."""
    values = np.arange((rows // 20 + 1) * (cols // 30 + 1), dtype=np.float32) * 0.37
    grid = np.repeat(np.repeat(values.reshape(rows // 20 + 1, cols // 30 + 1), 20, axis=0), 30, axis=1)
    out = grid[:rows, :cols].copy()
    out[::7] = np.nan
    return out


@pytest.mark.parametrize(("predictor", "level", "tag"), [(True, None, "3"), (False, 3, None), (False, 1, None)])
def test_predictor_and_level_keep_the_values(tmp_path, predictor, level, tag):
    arr = parcel_like()
    path = write_cog(tmp_path / "m.tif", arr, transform=T, crs="EPSG:4549", nodata=np.nan, predictor=predictor,
                     level=level)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == tag
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and src.overviews(1) == [2]
        np.testing.assert_array_equal(src.read(1), arr)


def test_tiled_copy_takes_predictor_and_level(tmp_path):
    arr = np.arange(600 * 550, dtype=np.int32).reshape(600, 550) // 40
    path = _write_tiled_copy(tmp_path / "t.tif", arr[None], _profile(arr, T, "EPSG:4549", -1), overviews=True,
                             compress="deflate", resampling="nearest", predictor=False, level=1)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") is None
        np.testing.assert_array_equal(src.read(1), arr)


def test_category_codes_are_written_without_predictor(tmp_path):
    codes = np.array([[0, 3, -1], [3, -1, 0]], dtype=np.int32)
    path = write_category_cog(tmp_path / "g.tif", codes, transform=T, crs="EPSG:4549", nodata=-1, legend=LEGEND,
                              level=3)
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") is None
        assert src.dtypes == ("uint8",) and src.nodata == 255
        np.testing.assert_array_equal(src.read(1), [[0, 3, 255], [3, 255, 0]])


def test_code_range_leaves_out_the_missing_cells():
    arr = np.array([[-1, 4, 2], [7, -1, 0]], dtype=np.int32)
    assert _code_range(arr, arr == -1) == (0, 7)
    assert _code_range(arr, None) == (-1, 7)
    assert _code_range(arr, np.ones(arr.shape, dtype=bool)) == (None, None)
    assert _code_range(np.zeros((0, 3), dtype=np.int32), None) == (None, None)
    assert _code_range(np.array([[1.0, 5.0]]), np.array([[False, True]])) == (1, 1)


def test_all_missing_and_bool_codes(tmp_path):
    empty = write_category_cog(tmp_path / "e.tif", np.full((2, 2), -1, dtype=np.int32), transform=T,
                               crs="EPSG:4549", nodata=-1, legend=LEGEND)
    with rasterio.open(empty) as src:
        assert (src.read(1) == 255).all()
    flags = write_category_cog(tmp_path / "f.tif", np.array([[True, False]]), transform=T, crs="EPSG:4549",
                               nodata=None, legend={0: ("否", "no", None), 1: ("是", "yes", None)})
    with rasterio.open(flags) as src:
        np.testing.assert_array_equal(src.read(1), [[1, 0]])
    with pytest.raises(InputError, match=r"category codes of n\.tif must be >= 0"):
        write_category_cog(tmp_path / "n.tif", np.array([[-3, -1]]), transform=T, crs="EPSG:4549", nodata=-1,
                           legend=LEGEND)

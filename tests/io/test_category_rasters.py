"""Category GeoTIFFs: uint8 codes with a colour table and category names GDAL reads back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

from gisefficiency.core.errors import InputError
from gisefficiency.io.raster import read_category_names, write_category_cog

T = Affine(20, 0, 400000, 0, -20, 3100000)
LEGEND = {0: ("A类", "Class A", "#1a9850"), 1: ("B类", "Class B", "#91cf60"), 2: ("未列入处置", "none", None)}


def test_codes_colour_table_and_names_read_back(tmp_path):
    codes = np.array([[0, 1, -1], [2, 1, 0]], dtype=np.int32)
    path = write_category_cog(tmp_path / "grade.tif", codes, transform=T, crs="EPSG:4549", nodata=-1,
                              legend=LEGEND)
    with rasterio.open(path) as src:
        assert src.dtypes == ("uint8",) and src.nodata == 255
        np.testing.assert_array_equal(src.read(1), [[0, 1, 255], [2, 1, 0]])
        cmap = src.colormap(1)
        assert cmap[0] == (26, 152, 80, 255) and cmap[1] == (145, 207, 96, 255)
        assert cmap[2] == (244, 244, 244, 255)  # no colour: light grey (TIFF palettes have no alpha)
        assert src.colorinterp[0].name == "palette"
    assert read_category_names(path) == ["A类", "B类", "未列入处置"]
    aux = (tmp_path / "grade.tif.aux.xml").read_text("utf-8")
    assert "<GDALRasterAttributeTable" in aux and "<F>Class B</F>" in aux


def test_many_codes_take_uint16(tmp_path):
    legend = {i: (f"类{i}", f"c{i}", None) for i in range(300)}
    codes = np.arange(300, dtype=np.int32).reshape(15, 20)
    path = write_category_cog(tmp_path / "x.tif", codes, transform=T, crs="EPSG:4549", nodata=-1, legend=legend)
    with rasterio.open(path) as src:
        assert src.dtypes == ("uint16",) and src.nodata == 65535
        assert int(src.read(1).max()) == 299
    assert read_category_names(path)[299] == "类299"


def test_negative_codes_are_an_error(tmp_path):
    with pytest.raises(InputError, match=r"category codes of x\.tif must be >= 0"):
        write_category_cog(tmp_path / "x.tif", np.array([[-2, 0]]), transform=T, crs="EPSG:4549", nodata=-1,
                           legend=LEGEND)


def test_demo_grade_and_disposal_rasters(demo_outputs, demo_result):
    out = demo_outputs["results"].parent
    for name in ("grade", "disposal"):
        with rasterio.open(out / f"{name}.tif") as src:
            assert src.dtypes == ("uint8",)
            assert len(src.colormap(1)) >= 5
        table = pd.read_csv(out / f"{name}_categories.csv", keep_default_na=False)
        assert list(table.columns) == ["code", "label", "name_zh", "name_en", "colour"]
        assert read_category_names(out / f"{name}.tif") == table["name_zh"].tolist()
    grades = pd.read_csv(out / "grade_categories.csv", keep_default_na=False)
    assert grades["name_zh"].tolist() == ["A类", "B类", "C类", "D类", "不参评"]
    disposal = pd.read_csv(out / "disposal_categories.csv", keep_default_na=False)
    names = dict(zip(disposal["label"], disposal["name_zh"], strict=True))
    assert names["close"] == "淘汰关停类" and names["swap"] == "腾笼换鸟类"
    with rasterio.open(out / "block_id.tif") as src:
        assert src.dtypes == ("int32",)  # thousands of ids: codes, no palette

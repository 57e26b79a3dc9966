"""Frames in: a DataFrame or GeoDataFrame already in memory goes through the file readers' checks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisefficiency.core.errors import CRSError, InputError
from gisefficiency.io.parcels import parcels_from_frame, read_parcels
from gisefficiency.io.tables import inspect_firms, read_firms, read_land

USCC = ["91330000000000001N", "91330000000000002L"]  # placeholders; check digits are only warned about


def _firms() -> pd.DataFrame:
    return pd.DataFrame({"统一社会信用代码": USCC * 2, "企业名称": ["甲厂", "乙厂"] * 2, "年度": [2020, 2020, 2021, 2021],
                         "实缴税金（元）": [120_000, 3_500, None, 80_000], "地块编号": ["P1", "P2", "P1", "P2"],
                         "规模": ["规上", "规下", "规上", "规下"]})


def test_firm_frame_with_chinese_headers_is_read_as_its_parquet_file(tmp_path):
    frame = _firms()
    before = frame.copy()
    got = read_firms(frame, units={"tax": "元"})
    frame.to_parquet(tmp_path / "firms.parquet")
    want = read_firms(tmp_path / "firms.parquet", units={"tax": "元"})
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is left alone
    assert got["tax"].tolist()[:2] == pytest.approx([12.0, 0.35], rel=1e-12)  # 元 -> 万元
    assert np.isnan(got["tax"].iloc[2])  # a blank tax stays missing, never 0
    assert got["scale"].tolist() == ["above", "below"] * 2


def test_bad_cells_in_a_frame_get_the_files_messages_with_the_frames_name(tmp_path):
    frame = _firms()
    frame["实缴税金（元）"] = ["120000", "三千", None, "80000"]  # text cells, as a database or CSV gives
    with pytest.raises(InputError, match=r"企业表: 1 problem\(s\) in the firm table\n  - 企业表, row 2, column "
                                         r"'实缴税金（元）', value '三千': not a number"):
        read_firms(frame, source="企业表")
    frame.to_parquet(tmp_path / "firms.parquet")
    from_file = inspect_firms(tmp_path / "firms.parquet")[1]
    from_frame = inspect_firms(frame)[1]
    assert [(p.message, p.row, p.column, p.value) for p in from_frame] == [
        (p.message, p.row, p.column, p.value) for p in from_file]
    assert {p.file for p in from_frame} == {"firms (DataFrame)"}


def test_a_named_index_is_a_column_and_other_inputs_are_refused():
    frame = _firms().set_index("统一社会信用代码")
    assert read_firms(frame)["uscc"].tolist() == USCC * 2
    with pytest.raises(InputError, match=r"firms: expected a file path or a pandas DataFrame, not a list"):
        read_firms([1, 2])


def test_land_frame():
    land = pd.DataFrame({"统一社会信用代码": USCC, "地块编号": ["P1", "P1"], "用地类型": ["自有", "租赁"],
                         "使用面积(平方米)": [None, 400.0]})
    got = read_land(land)
    assert got["kind"].tolist() == ["own", "leased"]
    assert np.isnan(got["floor_area_m2"].iloc[0]) and got["floor_area_m2"].iloc[1] == 400.0
    with pytest.raises(InputError, match=r"land \(DataFrame\), row 1, column '地块编号': parcel_id is missing"):
        read_land(land.assign(地块编号=[None, "P1"]))


def _square(x: float, y: float, size: float = 100.0) -> shapely.Polygon:
    return shapely.box(x, y, x + size, y + size)


def test_parcel_frame_is_read_as_its_file(tmp_path, sample_dir):
    raw = gpd.read_file(sample_dir / "parcels.gpkg", layer="parcels")
    got = parcels_from_frame(raw)
    want = read_parcels(sample_dir / "parcels.gpkg", layer="parcels")
    pd.testing.assert_index_equal(got.index, want.index)
    assert got.columns.tolist() == want.columns.tolist()
    assert got.crs == want.crs
    assert shapely.equals_exact(got.geometry.to_numpy(), want.geometry.to_numpy(), tolerance=0).all()
    pd.testing.assert_series_equal(got["cert_area_m2"], want["cert_area_m2"])
    assert "parcel_id" not in raw  # the caller's frame keeps its Chinese headers


def test_parcel_frame_crs_checks_name_the_frame():
    frame = gpd.GeoDataFrame({"宗地号": ["A", "B"]}, geometry=[_square(40_500_000, 3_170_000),
                                                               _square(40_500_200, 3_170_000)])
    with pytest.raises(CRSError, match=r"parcels \(GeoDataFrame\): the layer has no CRS.*set crs = \"EPSG:4528\""):
        parcels_from_frame(frame)
    got = parcels_from_frame(frame, crs="EPSG:4528")
    assert got.index.tolist() == ["A", "B"] and got.crs.to_epsg() == 4528
    lonlat = gpd.GeoDataFrame({"地块编号": ["A"]}, geometry=[_square(119.3, 28.6, 0.001)], crs="EPSG:4326")
    assert parcels_from_frame(lonlat).crs.to_epsg() == 4549  # projected to its 3° zone, as a file is
    indexed = frame.set_index("宗地号").set_crs("EPSG:4528")
    assert parcels_from_frame(indexed).index.tolist() == ["A", "B"]


def test_parcels_must_be_a_geodataframe():
    with pytest.raises(InputError, match=r"parcels \(GeoDataFrame\): parcels must be a GeoDataFrame with a "
                                         r"geometry column, not a DataFrame"):
        parcels_from_frame(pd.DataFrame({"地块编号": ["A"]}))


def test_read_parcels_takes_a_geodataframe_too(sample_dir):
    raw = gpd.read_file(sample_dir / "parcels.gpkg", layer="parcels")
    pd.testing.assert_frame_equal(read_parcels(raw), parcels_from_frame(raw))
    with pytest.raises(InputError, match=r"parcels \(GeoDataFrame\): parcels must be a GeoDataFrame"):
        read_parcels(pd.DataFrame(raw.drop(columns="geometry")))

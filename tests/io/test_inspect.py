"""gisefficiency init: from a county's raw files to a config that `run` accepts unchanged."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gisefficiency import pipeline
from gisefficiency.config import load_config
from gisefficiency.core.errors import ConfigError, InputError
from gisefficiency.io.inspect import config_text, inspect_inputs, write_config

RAW = ("parcels_gbk.shp", "parcels_gbk.shx", "parcels_gbk.dbf", "parcels_gbk.prj", "firms.xlsx", "land.csv")


@pytest.fixture(scope="module")
def raw_county(sample_dir, tmp_path_factory):
    """The sample county's raw files as a bureau hands them over (GBK shapefile without .cpg, Excel
    with a title row, land rows), in a folder of their own."""
    folder = tmp_path_factory.mktemp("raw")
    for name in RAW:
        shutil.copy(sample_dir / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def inspected(raw_county):
    return inspect_inputs(raw_county / "parcels_gbk.shp", raw_county / "firms.xlsx", raw_county / "land.csv")


def test_inspection_of_the_sample_files(inspected):
    assert inspected.id_column == "地块编号"
    assert inspected.crs == "EPSG:4549" and not inspected.crs_guessed
    assert inspected.encoding == "gb18030"  # no .cpg, GBK text
    assert inspected.n_parcels == 3000 and inspected.n_duplicate_ids == 1
    assert inspected.firms.header_row == 2  # row 1 is the title
    assert inspected.firms.columns["tax"] == "实缴税金(万元)" and inspected.firms.units["tax"] == "万元"
    assert inspected.firms.columns["uscc"] == "统一社会信用代码"
    assert inspected.parcel_columns["cert_area_m2"] == "证载面积"
    assert inspected.land.columns["kind"] == "用地类型(自有/租赁)"
    assert inspected.years == [2020, 2021, 2022, 2023]
    assert inspected.notes == []


def test_init_config_runs_unchanged_with_the_demo_grades(inspected, raw_county, demo_result):
    path = write_config(inspected, raw_county / "county.toml", preset="suichang-2022", name="示例县")
    cfg = load_config(path)
    assert cfg.parcels.duplicates == "keep_first" and cfg.policy.year == 2021
    res = pipeline.run(cfg)
    pd.testing.assert_series_equal(res.firms["grade"].sort_index(), demo_result.firms["grade"].sort_index())
    pd.testing.assert_series_equal(res.firms["disposal"].sort_index(), demo_result.firms["disposal"].sort_index())
    assert len(res.blocks) == len(demo_result.blocks)


def test_init_refuses_to_overwrite(inspected, raw_county):
    (raw_county / "taken.toml").write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"taken.toml: already exists -> .*--force"):
        write_config(inspected, raw_county / "taken.toml")
    write_config(inspected, raw_county / "taken.toml", force=True)
    assert "[parcels]" in (raw_county / "taken.toml").read_text(encoding="utf-8")


def test_paths_are_relative_to_the_config(inspected, raw_county):
    text = config_text(inspected, config_dir=raw_county / "configs", preset="zhejiang-2019")
    data = tomllib.loads(text)
    assert data["parcels"]["path"] == "../parcels_gbk.shp"
    assert data["firms"]["path"] == "../firms.xlsx"
    assert data["policy"] == {"preset": "zhejiang-2019", "year": 2023}  # no reference year: the latest


def test_unknown_preset_is_a_config_error(inspected, raw_county):
    with pytest.raises(ConfigError, match="no-such-preset"):
        config_text(inspected, config_dir=raw_county, preset="no-such-preset")


def _county(tmp_path, *, crs, headers):
    """Three parcels and a firm table with the given headers (uscc, year, tax order)."""
    x0, y0 = 40_500_000.0, 3_170_000.0  # zone-prefixed eastings of CGCS2000 3° zone 40
    parcels = gpd.GeoDataFrame(
        {"ZDDM": ["A1", "A2", "A3"], "备注": ["x", "y", "z"]},
        geometry=[shapely.box(x0 + 100 * i, y0, x0 + 100 * i + 80, y0 + 80) for i in range(3)], crs=crs)
    parcels.to_file(tmp_path / "zd.gpkg", layer="zd", engine="pyogrio")
    firms = pd.DataFrame({headers[0]: ["91330100MA2AAAAA0X"] * 2, headers[1]: [2022, 2023], headers[2]: [10.0, 12.0],
                          "负责人": ["张", "张"]})
    firms.to_csv(tmp_path / "qy.csv", index=False, encoding="utf-8")
    return tmp_path / "zd.gpkg", tmp_path / "qy.csv"


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_no_crs_is_guessed_and_unmatched_headers_are_listed(tmp_path):
    parcels, firms = _county(tmp_path, crs=None, headers=("统一社会信用代码", "年度", "纳税额"))
    info = inspect_inputs(parcels, firms)
    assert info.crs == "EPSG:4528" and info.crs_guessed
    assert info.id_column == "ZDDM"  # no id header known: the first column of distinct values
    assert info.firms.unknown == ["纳税额", "负责人"]
    assert any("EPSG:4528 guessed" in n for n in info.notes)
    assert any("no tax column" in n and "[firms.aliases]" in n for n in info.notes)
    # the same notes in Chinese, in the same order, for the terminal
    assert len(info.notes_zh) == len(info.notes)
    assert any("根据坐标推断为 EPSG:4528" in n for n in info.notes_zh)
    assert any("没有实缴税金列" in n and "[firms.aliases]" in n for n in info.notes_zh)
    text = config_text(info, config_dir=tmp_path)
    assert 'crs = "EPSG:4528"   # CHECK' in text
    assert '# map one with: aliases = { "纳税额" = ' in text
    load_config(write_config(info, tmp_path / "c.toml"))


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match=r"nope.shp: parcel file not found"):
        inspect_inputs(tmp_path / "nope.shp", tmp_path / "qy.csv")


def test_firm_points_without_a_system_are_read_as_the_one_that_hits_parcels(tmp_path):
    from gisefficiency.core.crs import wgs84_to_gcj02

    parcels, _ = _county(tmp_path, crs="EPSG:4528", headers=("统一社会信用代码", "年度", "实缴税金"))
    centres = gpd.read_file(parcels).geometry.centroid.to_crs(4326)
    lon, lat = wgs84_to_gcj02(centres.x.to_numpy(), centres.y.to_numpy())  # as Gaode geocodes them
    codes = ["91330100MA2AAAAA0X", "91330100MA2AAAAB0X", "91330100MA2AAAAC0X"]
    pd.DataFrame({"统一社会信用代码": codes, "年度": 2023, "实缴税金": 1.0, "经度": lon, "纬度": lat}).to_csv(
        tmp_path / "pts.csv", index=False)
    info = inspect_inputs(parcels, tmp_path / "pts.csv")
    assert info.point_crs == "gcj02"
    assert info.point_hits["gcj02"] == 1.0 and info.point_hits["wgs84"] == 0.0
    assert tomllib.loads(config_text(info, config_dir=tmp_path))["link"]["point_crs"] == "gcj02"


def test_a_preset_file_is_written_so_run_finds_it_from_any_folder(inspected, raw_county, monkeypatch):
    import gisefficiency.evaluate as evaluate

    shutil.copy(Path(evaluate.__file__).parent / "presets" / "suichang-2022.toml", raw_county / "my_county.toml")
    monkeypatch.chdir(raw_county)
    data = tomllib.loads(config_text(inspected, config_dir=raw_county / "sub", preset="my_county.toml"))
    assert data["policy"]["preset"] == (raw_county / "my_county.toml").resolve().as_posix()
    assert data["policy"]["year"] == 2021  # the preset's reference year, present in the data

"""ge.run(config, parcels=..., firms=..., land=...): the sample county from frames gives the file run."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import pandas as pd
import pytest

import gisefficiency as ge
from gisefficiency.core.errors import ConfigError


def _without_paths(config):
    """The demo config with no input paths: only the frames can feed the run."""
    return dataclasses.replace(
        config,
        parcels=dataclasses.replace(config.parcels, path=None, layer=None),
        firms=dataclasses.replace(config.firms, path=None),
        land=dataclasses.replace(config.land, path=None),
    )


@pytest.mark.slow
def test_frames_with_chinese_headers_give_the_file_runs_result(demo_config, demo_result, sample_dir):
    parcels = gpd.read_file(sample_dir / "parcels.gpkg", layer="parcels")  # 地块编号, 证载面积(平方米), ...
    firms = pd.read_excel(sample_dir / "firms.xlsx", header=1, engine="calamine")  # 实缴税金(万元), 年度, ...
    land = pd.read_csv(sample_dir / "land.csv")
    assert "地块编号" in parcels and "实缴税金(万元)" in firms and "用地类型(自有/租赁)" in land
    kept = parcels.copy()
    res = ge.run(_without_paths(demo_config), parcels=parcels, firms=firms, land=land)
    for name in ("parcels", "firms", "blocks"):
        got, want = getattr(res, name), getattr(demo_result, name)
        # src_row is the row in the source: the workbook has a title row above the header, the frame not.
        pd.testing.assert_frame_equal(pd.DataFrame(got).drop(columns="src_row", errors="ignore"),
                                      pd.DataFrame(want).drop(columns="src_row", errors="ignore"))
    assert res.meta["parcels_path"] == "parcels (GeoDataFrame)" and res.meta["firms_path"] == "firms (DataFrame)"
    pd.testing.assert_frame_equal(parcels, kept)  # the caller's frame is not changed


def test_run_without_a_source_names_what_is_missing(demo_config):
    with pytest.raises(ConfigError, match=r"\[parcels\] path and \[firms\] path required -> add it to the "
                                          r"config, or pass the data as run\(config, parcels=\.\.\., firms=\.\.\.\)"):
        ge.run(_without_paths(demo_config))


def test_a_frame_of_the_wrong_kind_is_an_input_error(demo_config, sample_dir):
    firms = pd.read_excel(sample_dir / "firms.xlsx", header=1, engine="calamine")
    with pytest.raises(ge.InputError,
                       match=r"parcels \(DataFrame\): parcels must be a GeoDataFrame with a geometry column"):
        ge.run(_without_paths(demo_config), parcels=pd.DataFrame({"地块编号": ["A"]}), firms=firms)

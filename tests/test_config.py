"""The TOML run configuration: defaults, paths relative to the file, every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gisefficiency.config import Config, config_from_dict, load_config
from gisefficiency.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_paths_are_relative_to_the_config_file(tmp_path):
    cfg = load_config(write(tmp_path, '[parcels]\npath = "data/p.gpkg"\n[output]\ndir = "out"\n'))
    assert cfg.parcels.path == (tmp_path / "data" / "p.gpkg").resolve()
    assert cfg.output.dir == (tmp_path / "out").resolve()


def test_defaults_match_the_documents():
    cfg = Config()
    assert cfg.blocks.gap_m == 30.0
    assert cfg.blocks.min_area_mu == 50.0
    assert cfg.link.tenant_mode == "floor_share"
    assert cfg.link.fixed_ratio_m2_per_mu == 2000.0
    assert cfg.map.lang == "zh"
    assert cfg.map.offline is True


def test_empty_string_means_not_set():
    cfg = config_from_dict({"parcels": {"crs": "", "layer": ""}})
    assert cfg.parcels.crs is None
    assert cfg.parcels.layer is None


def test_unknown_section_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \[parcel\].*known: \[project\]"):
        load_config(write(tmp_path, "[parcel]\npath = 'x'\n"))


def test_unknown_key_is_named_with_the_known_ones():
    with pytest.raises(ConfigError, match=r"\[blocks\]: unknown key\(s\) gap; known: gap_m"):
        config_from_dict({"blocks": {"gap": 20}})


def test_bad_choice_lists_the_choices():
    with pytest.raises(ConfigError, match=r"tenant_mode = 'share': must be one of 'merge_to_holder'"):
        config_from_dict({"link": {"tenant_mode": "share"}})


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ({"blocks": {"gap_m": "30"}}, None, r"gap_m = '30': must be a number"),
        ({"blocks": {"min_parcels": 2.5}}, None, r"min_parcels = 2.5: must be a whole number"),
        ({"map": {"offline": "yes"}}, None, r"offline = 'yes': must be true or false"),
        ({"link": {"methods": "table"}}, None, r"methods = 'table': must be a list"),
        ({"firms": {"units": {"tax": 1}}}, None, r"units: must be a table of text values"),
    ],
)
def test_wrong_types_are_explained(section, value, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(section)


def test_scenarios_are_an_array_of_tables():
    cfg = config_from_dict({"scenarios": [{"name": "a", "blocks": [3, 7]}, {"name": "b", "top_blocks": 2}]})
    assert [s.name for s in cfg.scenarios] == ["a", "b"]
    assert cfg.scenarios[0].blocks == (3, 7)
    with pytest.raises(ConfigError, match=r"\[\[scenarios\]\] #1: unknown key\(s\) block"):
        config_from_dict({"scenarios": [{"block": [1]}]})


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[parcels\n"))


def test_demo_config_loads(demo_config):
    assert demo_config.policy.preset == "suichang-2022"
    assert demo_config.parcels.path.name == "parcels.gpkg"
    # the sample county ships inside the package: gisefficiency/sample/data/
    assert demo_config.parcels.path.parent.parts[-3:] == ("gisefficiency", "sample", "data")

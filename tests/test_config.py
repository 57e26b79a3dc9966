"""The TOML run configuration: defaults, paths relative to the file, every mistake named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.config import Config, config_from_dict, config_keys, describe_keys, load_config
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


def _toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value) if not isinstance(value, str) else f'"{value}"'


def _out_of_range(key) -> object:
    """A value just outside the key's range, of the key's own number type."""
    whole = "whole number" in key.type
    r = key.range
    if r.low is not None:
        value = r.low if r.low_open else r.low - (1 if whole else 0.5)
    else:
        value = r.high if r.high_open else r.high + (1 if whole else 0.5)
    value = int(value) if whole else float(value)
    return [value] if key.type.startswith("list") else value


RANGED = [k for k in config_keys() if k.range is not None]


def test_every_numeric_key_has_a_range():
    numeric = [k for k in config_keys() if "number" in k.type]
    assert numeric and all(k.range is not None for k in numeric)
    # the keys of the issue are all in the table
    names = {(k.section, k.key) for k in RANGED}
    assert {("blocks", "gap_m"), ("blocks", "min_area_mu"), ("raster", "resolution_m"),
            ("clusters", "permutations"), ("clusters", "fdr"), ("policy", "year")} <= names


@pytest.mark.parametrize("key", RANGED, ids=[f"{k.section}.{k.key}" for k in RANGED])
def test_every_out_of_range_value_names_file_section_and_key(tmp_path, key):
    bad = _out_of_range(key)
    if key.section == "scenarios":
        select = "" if key.key in ("blocks", "top_blocks") else "top_blocks = 1\n"
        text, label = f"[[scenarios]]\nname = 'x'\n{select}{key.key} = {_toml_value(bad)}\n", \
            rf"\[\[scenarios\]\] #1 {key.key}"
    else:
        text, label = f"[{key.section}]\n{key.key} = {_toml_value(bad)}\n", rf"\[{key.section}\] {key.key}"
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: {label} = .*: must be {re.escape(str(key.range))}"):
        load_config(path)


@pytest.mark.parametrize(("text", "message"), [
    ("[blocks]\ngap_m = -5", r"run\.toml: \[blocks\] gap_m = -5\.0: must be >= 0 \(metres\)"),
    ("[blocks]\nmin_area_mu = -1", r"\[blocks\] min_area_mu = -1\.0: must be >= 0 \(mu\)"),
    ("[raster]\nresolution_m = 0", r"\[raster\] resolution_m = 0\.0: must be > 0 \(metres\)"),
    ("[clusters]\npermutations = 0", r"\[clusters\] permutations = 0: must be >= 99"),
    ("[clusters]\nfdr = 2", r"\[clusters\] fdr = 2\.0: must be \(0, 1\)"),
    ("[blocks]\ngap_m = nan", r"\[blocks\] gap_m = nan: must be a finite number"),
    ("[raster]\nbandwidth_m = inf", r"\[raster\] bandwidth_m = inf: must be a finite number"),
    ("[link]\nmethods = ['table', 'table']", r"\[link\] methods = \[\"table\", \"table\"\]: 'table' listed twice"),
    ("[link]\nmethods = []", r"\[link\] methods = \[\]: give at least one of 'table'"),
    ("[link]\nmethods = ['tabel']", r"\[link\] methods = .*'tabel' is not one of 'table', 'land'"),
    ("[link]\nmethods = ['Table']", r"\[link\] methods = .*'Table' is not one of 'table', 'land'"),
    ("[link]\npoint_crs = 'gcj2'", r"\[link\] point_crs = 'gcj2': 'gcj2' is not one of 'wgs84'"),
    ("[firms]\nsheet = 1.5", r"\[firms\] sheet = 1\.5: must be text or whole number"),
    ("[firms]\nheader_row = 0", r"\[firms\] header_row = 0: must be >= 1"),
    ("[land]\nsheet = -1", r"\[land\] sheet = -1: must be >= 0"),
    ("[[scenarios]]\nname = 'a'\ntarget_tax_per_mu = 30", r"\[\[scenarios\]\] #1 selects nothing"),
])
def test_late_checks_now_fail_at_load(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text + "\n"))


def test_good_values_pass_and_keep_their_types(tmp_path):
    cfg = load_config(write(tmp_path, "[firms]\nsheet = 2\nheader_row = 12\n[land]\nsheet = '用地'\n"
                                      "[link]\npoint_crs = 'GCJ-02'\n[clusters]\nfdr = 0.1\n"))
    assert (cfg.firms.sheet, cfg.firms.header_row, cfg.land.sheet) == (2, 12, "用地")
    assert cfg.link.point_crs == "GCJ-02" and cfg.clusters.fdr == 0.1


def test_a_preset_file_is_relative_to_the_config(tmp_path, monkeypatch):
    sub = tmp_path / "county"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)  # the current folder is not the config's
    cfg = load_config(write(sub, "[policy]\npreset = 'my_county.toml'\n"))
    assert cfg.policy.preset == str((sub / "my_county.toml").resolve())
    cfg = load_config(write(sub, "[policy]\npreset = 'presets/mine.toml'\n"))
    assert cfg.policy.preset == str((sub / "presets" / "mine.toml").resolve())
    assert load_config(write(sub, "[policy]\npreset = 'suichang-2022'\n")).policy.preset == "suichang-2022"


def test_docs_config_reference_is_the_key_table():
    text = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text(encoding="utf-8")
    assert describe_keys() in text, "regenerate the table: python -m gisefficiency.config"


def test_readme_config_block_loads():
    import tomllib

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    cfg = config_from_dict(tomllib.loads(block))
    assert cfg.firms.sheet is None and cfg.firms.header_row is None  # "" = found automatically
    assert cfg.blocks.gap_m == 30.0 and cfg.scenarios[0].blocks == (15, 29, 8)


SCALARS = [k for k in RANGED if not k.type.startswith("list") and " or " not in k.type and k.section != "scenarios"]


@settings(max_examples=60)
@given(data=st.data())
def test_a_value_is_accepted_exactly_when_it_is_in_its_range(data):
    key = data.draw(st.sampled_from(SCALARS))
    r = key.range
    edges = [b for b in (r.low, r.high) if b is not None]
    if "whole number" in key.type:
        value = data.draw(st.one_of(st.sampled_from([int(e) + d for e in edges for d in (-1, 0, 1)]),
                                    st.integers(-10**6, 10**6)))
    else:
        value = data.draw(st.one_of(st.sampled_from([float(e) + d for e in edges for d in (-1e-9, 0.0, 1e-9)]),
                                    st.floats(-1e6, 1e6, allow_nan=False)))
    inside = (r.low is None or (value > r.low if r.low_open else value >= r.low)) and \
             (r.high is None or (value < r.high if r.high_open else value <= r.high))
    try:
        cfg = config_from_dict({key.section: {key.key: value}})
    except ConfigError as exc:
        assert not inside, exc
        assert f"[{key.section}] {key.key} = " in str(exc)
    else:
        assert inside
        assert getattr(getattr(cfg, key.section), key.key) == value

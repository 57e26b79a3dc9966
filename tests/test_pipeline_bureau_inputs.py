"""Whole runs on small bureau-shaped counties: optional columns absent, no contiguous block, merged ids.

Each case writes a generated county as bureaus hand it over (Chinese headers), drops columns from it,
runs ``ge.run`` and ``ge.write_all`` (every output) and reads the results back.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gisefficiency as ge
from gisefficiency.blocks.table import BLOCK_COLUMNS
from gisefficiency.config import config_from_dict
from gisefficiency.core.errors import ConfigError
from gisefficiency.core.schema import FIRM_COLUMNS, NUMERIC_FIRM_COLUMNS, PARCEL_COLUMNS
from gisefficiency.io.optional import optional_columns
from gisefficiency.sample import FIRM_HEADERS, PARCEL_HEADERS, generate_county, write_sample

#: Firm columns every table must have (the ids, year and tax); every other one may be absent.
REQUIRED_FIRM = ("uscc", "year", "tax")
#: Where a firm is on the map: lon and lat without coord_sys are an error by design (which system?),
#: so the three are dropped together.
POINT = ("lon", "lat", "coord_sys")
#: Figures computed from an input figure: missing with it.
DERIVED = {
    "value_added": ("va_per_mu", "own_value_added", "va_per_tce", "va_per_emission_t", "va_per_staff"),
    "energy_tce": ("freed_tce", "own_energy_tce", "va_per_tce"),
    "revenue": ("revenue_per_mu", "rd_share"),
    "rd": ("rd_share",),
    "staff": ("va_per_staff",),
    "electricity": ("tax_per_elec",),
}

FIRM_OPTIONAL = [c for c in FIRM_COLUMNS if c not in REQUIRED_FIRM and c not in POINT]
PARCEL_OPTIONAL = [c for c in PARCEL_COLUMNS if c != "parcel_id"]
CASES = (
    [pytest.param((c,), (), id=f"firms-{c}") for c in FIRM_OPTIONAL]
    + [pytest.param(POINT, (), id="firms-point")]
    + [pytest.param((), (c,), id=f"parcels-{c}") for c in PARCEL_OPTIONAL]
    + [
        pytest.param(tuple(c for c in NUMERIC_FIRM_COLUMNS if c != "tax"), (), id="firms-every-figure-but-tax"),
        pytest.param(
            tuple(c for c in FIRM_COLUMNS if c not in (*REQUIRED_FIRM, "parcel_id")), tuple(PARCEL_OPTIONAL),
            id="every-optional-column",
        ),
    ]
)


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """A 60-parcel county as bureaus write it (Chinese headers), read back as plain frames."""
    base = tmp_path_factory.mktemp("county")
    written = write_sample(generate_county(60, seed=3, with_raster=False), base, raster=False, formats=("parquet",))
    return pd.read_parquet(written["firms_parquet"]), gpd.read_parquet(written["parcels_parquet"])


def _config(base: Path, **sections) -> ge.Config:
    data = {
        "parcels": {"path": "parcels.parquet", "id": "地块编号", "duplicates": "keep_first"},
        "firms": {"path": "firms.parquet"},
        "policy": {"preset": "suichang-2022", "year": 2021},
        "blocks": {"min_area_mu": 20},
        "clusters": {"enabled": False},
        "raster": {"resolution_m": 50, "density_resolution_m": 100, "bandwidth_m": 300},
        "output": {"dir": "out"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values} if isinstance(values, dict) else values
    return config_from_dict(data, base=base, source=base / "county.toml")


def _write(base: Path, firms: pd.DataFrame, parcels: gpd.GeoDataFrame, drop_firms=(), drop_parcels=()) -> None:
    base.mkdir(parents=True, exist_ok=True)
    firms.drop(columns=[FIRM_HEADERS[c] for c in drop_firms]).to_parquet(base / "firms.parquet", index=False)
    parcels.drop(columns=[PARCEL_HEADERS[c] for c in drop_parcels]).to_parquet(base / "parcels.parquet", index=False)


def _all_missing(frame: pd.DataFrame, column: str) -> bool:
    return bool(frame[column].isna().all())


@pytest.mark.parametrize(("drop_firms", "drop_parcels"), CASES)
def test_any_optional_column_may_be_absent(county, tmp_path, drop_firms, drop_parcels):
    firms_in, parcels_in = county
    _write(tmp_path, firms_in, parcels_in, drop_firms, drop_parcels)
    config = _config(tmp_path)
    result = ge.run(config)
    written = ge.write_all(result, config)

    # Every output is written.
    out = tmp_path / "out"
    for name in ("results.gpkg", "map.html", "report.html", "firms.csv", "link_report.csv", "scenarios.csv",
                 "tax_per_mu.tif", "grade.tif", "disposal.tif", "block_id.tif", "low_efficiency_density.tif"):
        assert (out / name).is_file(), name
    assert Path(written["map"]).stat().st_size > 0
    # The report names the absent optional columns (link keys are not among them: they only place firms).
    absent = {table: [c for c in optional_columns(table) if c in dropped]
              for table, dropped in (("parcels", drop_parcels), ("firms", drop_firms))}
    assert result.meta["absent_columns"] == absent
    assert ("输入数据缺少以下可选列" in Path(written["report"]).read_text("utf-8")) == any(absent.values())

    # Each input parcel and firm appears once, with a status.
    layers = {name: pyogrio.read_dataframe(out / "results.gpkg", layer=name) for name in ("parcels", "firms", "blocks")}
    parcel_ids = set(parcels_in[PARCEL_HEADERS["parcel_id"]].astype(str))
    usccs = set(firms_in[FIRM_HEADERS["uscc"]].astype(str))
    for frame, ids in ((result.parcels, parcel_ids), (result.firms, usccs)):
        assert frame.index.is_unique and set(frame.index) == ids
    assert layers["parcels"]["parcel_id"].is_unique and set(layers["parcels"]["parcel_id"]) == parcel_ids
    assert layers["firms"]["uscc"].is_unique and set(layers["firms"]["uscc"]) == usccs
    assert result.parcels["status"].notna().all() and result.firms["link_status"].notna().all()
    assert list(layers["blocks"].columns) == ["block_id", *BLOCK_COLUMNS, "geometry"]

    # Missing stays missing: an absent column, and every figure made from it, is missing everywhere, never 0.
    for column in (*drop_firms, *drop_parcels):
        if column in ("parcel_id", "holder_uscc", *POINT):
            continue  # ids and link keys: no output column holds them as a figure
        names = (column, f"own_{column}", *DERIVED.get(column, ()))
        frames = (result.panel, result.parcels, result.firms, result.blocks, *layers.values())
        checked = [(frame, c) for frame in frames for c in names if c in frame.columns]
        assert checked, column
        for frame, c in checked:
            assert _all_missing(frame, c), (column, c)
    if "energy_tce" in drop_firms and result.scenarios[0].summary["n_parcels"] > 0:
        assert np.isnan(result.scenarios[0].summary["freed_tce"])
    if "value_added" in drop_firms:
        if result.scenarios[0].summary["n_parcels"] > 0:
            assert np.isnan(result.scenarios[0].summary["va_lost"])
        assert "—" in (out / "report.html").read_text("utf-8")  # per-mu value added shown as missing


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.sampled_from(FIRM_OPTIONAL)), st.sets(st.sampled_from(PARCEL_OPTIONAL)))
def test_any_combination_of_absent_columns_runs_to_the_end(county, tmp_path_factory, drop_firms, drop_parcels):
    firms_in, parcels_in = county
    base = tmp_path_factory.mktemp("combination")
    _write(base, firms_in, parcels_in, sorted(drop_firms), sorted(drop_parcels))
    config = _config(base)
    result = ge.run(config)
    written = ge.write_all(result, config)
    assert {"results", "map", "report", "firms_csv", "scenarios", "raster_tax_per_mu"} <= set(written)
    assert len(result.parcels) == parcels_in[PARCEL_HEADERS["parcel_id"]].nunique()
    assert result.firms.index.is_unique and result.firms["link_status"].notna().all()
    for column in drop_firms & set(NUMERIC_FIRM_COLUMNS):
        assert result.panel[column].isna().all()


def test_an_absent_column_reads_as_a_column_of_blanks(county, tmp_path):
    """Dropping 工业增加值 and 综合能耗 gives the same firm table as leaving them blank."""
    firms_in, parcels_in = county
    _write(tmp_path / "absent", firms_in, parcels_in, ("value_added", "energy_tce"))
    blank = firms_in.copy()
    blank[[FIRM_HEADERS["value_added"], FIRM_HEADERS["energy_tce"]]] = np.nan
    _write(tmp_path / "blank", blank, parcels_in)
    absent = ge.run(_config(tmp_path / "absent", raster={"enabled": False}))
    blanks = ge.run(_config(tmp_path / "blank", raster={"enabled": False}))
    pd.testing.assert_frame_equal(pd.DataFrame(absent.firms), pd.DataFrame(blanks.firms), check_like=False)
    pd.testing.assert_frame_equal(pd.DataFrame(absent.parcels), pd.DataFrame(blanks.parcels))


def test_wide_layout_with_tax_only_runs_to_the_end(county, tmp_path):
    """A wide table ("2021年实缴税金" columns) with only the firm's id, name and parcel besides tax."""
    firms_in, parcels_in = county
    keys = [FIRM_HEADERS[c] for c in ("uscc", "name", "parcel_id")]
    wide = firms_in.pivot_table(index=keys, columns=FIRM_HEADERS["year"], values=FIRM_HEADERS["tax"], aggfunc="first")
    wide.columns = [f"{year}年实缴税金" for year in wide.columns]
    _write(tmp_path, firms_in, parcels_in)
    wide.reset_index().to_csv(tmp_path / "wide.csv", index=False)
    config = _config(tmp_path, firms={"path": "wide.csv"})
    result = ge.run(config)
    ge.write_all(result, config)
    assert set(result.firms.index) == set(wide.index.get_level_values(0))
    assert result.firms["industry"].isna().all() and result.firms["va_per_mu"].isna().all()
    report = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert "行业未知" in report  # the by-industry table has one row for firms without a code


@pytest.fixture(scope="module")
def no_block_run(county, tmp_path_factory):
    """The county with a block threshold no block reaches, default scenario, every output written."""
    base = tmp_path_factory.mktemp("no_block")
    _write(base, *county)
    config = _config(base, blocks={"min_area_mu": 100_000})
    result = ge.run(config)
    return result, ge.write_all(result, config)


def test_no_contiguous_block_is_a_normal_result(no_block_run):
    result, written = no_block_run
    assert len(result.blocks) == 0 and result.parcels["block_id"].isna().all()
    # The default scenario (all blocks) is empty: it frees exactly nothing.
    (empty,) = result.scenarios
    assert empty.summary["n_parcels"] == 0 and empty.summary["freed_mu"] == 0 and empty.summary["freed_tce"] == 0
    assert not result.parcels["in_scenario"].any()
    # An empty blocks layer with its schema.
    info = pyogrio.read_info(written["results"], layer="blocks")
    assert info["features"] == 0 and info["geometry_type"] == "MultiPolygon"
    assert list(info["fields"]) == ["block_id", *BLOCK_COLUMNS]
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["kept_mu"] == "float64"
    report = Path(written["report"]).read_text("utf-8")
    assert "没有低效连片区块达到最小面积（100,000亩，相邻间距30米）" in report
    assert "全部连片区块 / all blocks（空：未选中任何地块）" in report
    for name in ("map", "scenarios", "raster_block_id"):
        assert Path(written[name]).is_file()


def test_top_blocks_without_blocks_is_empty(county, tmp_path):
    _write(tmp_path, *county)
    config = _config(tmp_path, blocks={"min_area_mu": 100_000},
                     scenarios=[{"name": "前五", "top_blocks": 5, "target_tax_per_mu": 30}])
    (scenario,) = ge.run(config).scenarios
    assert scenario.name == "前五"
    assert scenario.summary["n_parcels"] == 0 and scenario.summary["tax_expected"] == 0


def test_explicit_block_ids_that_do_not_exist_name_the_config_key(county, tmp_path):
    _write(tmp_path, *county)
    config = _config(tmp_path, blocks={"min_area_mu": 100_000}, scenarios=[{"name": "一期", "blocks": [3, 7]}])
    with pytest.raises(ConfigError, match=r"county\.toml: \[\[scenarios\]\] #1 '一期': blocks = \[\.\.\.\]: "
                                          r"unknown block ids 3, 7 -> no block reached \[blocks\] min_area_mu"):
        ge.run(config)
    config = _config(tmp_path, scenarios=[{"name": "甲", "top_blocks": 2},
                                          {"name": "乙", "parcels": ["NOPE-1"], "firms": ["913300000000000000"]}])
    with pytest.raises(ConfigError, match=r"\[\[scenarios\]\] #2 '乙': parcels = \[\.\.\.\]: unknown parcel ids "
                                          r"NOPE-1 -> use ids of the parcel layer's id column .*; firms = \[\.\.\.\]: "
                                          r"unknown firm ids 913300000000000000 -> use USCCs of the firm table"):
        ge.run(config)


def test_cli_run_on_unknown_block_ids_is_one_line_exit_2(county, tmp_path):
    from typer.testing import CliRunner

    from gisefficiency.cli import app

    _write(tmp_path, *county)
    toml = tmp_path / "county.toml"
    toml.write_text(
        '[parcels]\npath = "parcels.parquet"\nid = "地块编号"\nduplicates = "keep_first"\n'
        '[firms]\npath = "firms.parquet"\n[policy]\npreset = "suichang-2022"\nyear = 2021\n'
        '[clusters]\nenabled = false\n[raster]\nenabled = false\n'
        '[[scenarios]]\nname = "一期"\nblocks = [999]\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(toml), "--no-map", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    assert "[[scenarios]] #1 '一期': blocks = [...]: unknown block ids 999" in res.output
    assert "Traceback" not in res.output


def test_merged_duplicates_keep_the_parcel_id_column_in_the_geopackage(county, tmp_path):
    firms_in, parcels_in = county
    ids = parcels_in[PARCEL_HEADERS["parcel_id"]]
    assert ids.duplicated().any()  # the generator writes one duplicated id
    _write(tmp_path, firms_in, parcels_in)
    config = _config(tmp_path, parcels={"duplicates": "merge"}, raster={"enabled": False})
    result = ge.run(config)
    assert result.parcels.index.name == "parcel_id"
    written = ge.write_all(result, config, maps=False)
    layer = pyogrio.read_dataframe(written["results"], layer="parcels", read_geometry=False)
    assert "index" not in layer.columns
    assert list(layer.columns[:1]) == ["parcel_id"]
    assert layer["parcel_id"].is_unique and set(layer["parcel_id"]) == set(ids)
    merged = layer.set_index("parcel_id").loc[ids[ids.duplicated()].iloc[0]]
    assert merged["n_src_rows"] == 2


def test_no_block_anonymised_english_outputs(no_block_run, county, tmp_path):
    result, _ = no_block_run
    config = _config(tmp_path, blocks={"min_area_mu": 100_000})
    written = ge.write_all(result, config, out_dir=tmp_path / "anon", anonymise=True, lang="en")
    report = Path(written["report"]).read_text("utf-8")
    assert "No contiguous low-efficiency block reached the minimum area (100,000 mu, neighbours within 30 m)" in report
    names = county[0][FIRM_HEADERS["name"]].dropna().unique()
    assert not any(name in report for name in names)  # anonymised even without blocks

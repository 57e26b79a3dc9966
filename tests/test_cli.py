"""The command line: one clear line for user mistakes, the same functions underneath."""

from __future__ import annotations

from typer.testing import CliRunner

from gisefficiency.cli import app

runner = CliRunner()


def test_presets_lists_every_seed_preset():
    res = runner.invoke(app, ["presets"], terminal_width=200)
    assert res.exit_code == 0, res.output
    for name in ("zhejiang-2019", "zhoushan-2020", "wenzhou-etdz-2021", "suichang-2022", "huangyan-2022", "wenling-2022"):
        assert name in res.output


def test_bad_config_is_one_line_without_traceback(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[parcel]\npath = 'x.gpkg'\n", encoding="utf-8")
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2
    assert "unknown section(s) [parcel]" in res.output
    assert "Traceback" not in res.output


def test_missing_input_file_names_it(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[parcels]\npath = 'nope.gpkg'\n[firms]\npath = 'nope.xlsx'\n", encoding="utf-8")
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2
    assert "nope.gpkg" in res.output
    assert "Traceback" not in res.output


def test_validate_sample_is_usable_and_reports_warnings(sample_dir):
    res = runner.invoke(app, ["validate", str(sample_dir / "demo.toml")], terminal_width=250)
    assert res.exit_code == 0, res.output
    assert "0 error(s)" in res.output
    assert "warning" in res.output  # the sample's repaired polygons and bad rows are reported


def test_validate_fails_on_duplicate_ids_when_not_resolved(tmp_path, sample_dir):
    text = (sample_dir / "demo.toml").read_text(encoding="utf-8").replace('duplicates = "keep_first"', 'duplicates = "error"')
    text = text.replace('path = "', f'path = "{sample_dir}/')
    cfg = tmp_path / "dup.toml"
    cfg.write_text(text, encoding="utf-8")
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=250)
    assert res.exit_code == 1
    assert "duplicate" in res.output.lower()


# --- validate agrees with run --------------------------------------------------------------------

import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import openpyxl  # noqa: E402
import pytest  # noqa: E402

COUNTY_TOML = """[project]
name = "小县"
[parcels]
path = "parcels.gpkg"
duplicates = "keep_first"
[firms]
path = "firms.xlsx"
[land]
path = "land.csv"
[policy]
preset = "suichang-2022"
[raster]
enabled = false
[clusters]
enabled = false
[output]
dir = "out"
"""


@pytest.fixture(scope="module")
def small_county(tmp_path_factory) -> Path:
    """A 200-parcel sample county (firm-years 2020-2023), written once for this module."""
    from gisefficiency.sample import generate_county, write_sample

    folder = tmp_path_factory.mktemp("small_county")
    write_sample(generate_county(200, seed=3, with_raster=False), folder, raster=False)
    return folder


def _sheet_rows(path: Path) -> list[list[object]]:
    return [list(r) for r in openpyxl.load_workbook(path).active.iter_rows(values_only=True)]


def _write_book(path: Path, sheets: list[tuple[str, list[list[object]]]]) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)


def _edit_firms(edit):
    def apply(folder: Path) -> None:
        rows = _sheet_rows(folder / "firms.xlsx")  # row 1: title, row 2: header, then data
        _write_book(folder / "firms.xlsx", edit(rows))
    return apply


def _qgis_polygon(folder: Path) -> None:
    """A square around the first parcels, saved as QGIS does: EPSG:4549 with a crs member."""
    import geopandas as gpd

    parcels = gpd.read_file(folder / "parcels.gpkg", layer="parcels")
    x0, y0, x1, y1 = parcels.geometry.iloc[:5].total_bounds
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    data = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
            "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    (folder / "drawn.geojson").write_text(json.dumps(data), encoding="utf-8")


def _my_preset(folder: Path) -> None:
    from gisefficiency.evaluate import policy

    shutil.copy(policy._preset_dir() / "suichang-2022.toml", folder / "my_county.toml")


NOTES = [["填表说明"], ["1. 统一社会信用代码填写18位代码"], ["2. 金额单位为万元"]]

def _no_parcels(folder: Path) -> None:
    import geopandas as gpd

    parcels = gpd.read_file(folder / "parcels.gpkg", layer="parcels")
    parcels.iloc[:0].to_file(folder / "parcels.gpkg", layer="parcels", driver="GPKG")


# name -> (config lines appended or replaced, change to the county's files)
GOOD = {
    "as generated": ("", None),
    "header on row 14 after a cover sheet": (
        "", _edit_firms(lambda rows: [("填表说明", NOTES), ("数据", [*[["注"]] * 12, *rows])])),
    "sheet and header_row named": (
        "[firms]\nsheet = 1\nheader_row = 14\n",
        _edit_firms(lambda rows: [("填表说明", NOTES), ("数据", [*[["注"]] * 12, *rows])])),
    "preset file beside the config": ('[policy]\npreset = "my_county.toml"\n', _my_preset),
    "QGIS polygon in EPSG:4549": ('[[scenarios]]\nname = "圈选"\npolygon = "drawn.geojson"\ntarget_tax_per_mu = 30\n',
                                  _qgis_polygon),
}
BAD = {
    "blocks gap_m < 0": ("[blocks]\ngap_m = -1\n", None),
    "blocks min_area_mu < 0": ("[blocks]\nmin_area_mu = -5\n", None),
    "raster resolution_m = 0": ("[raster]\nenabled = true\nresolution_m = 0\n", None),
    "raster too fine for the county": ("[raster]\nenabled = true\nresolution_m = 0.05\n", None),
    "clusters permutations = 0": ("[clusters]\nenabled = true\npermutations = 0\n", None),
    "clusters fdr = 2": ("[clusters]\nenabled = true\nfdr = 2\n", None),
    "year without data": ("[policy]\npreset = \"suichang-2022\"\nyear = 2030\n", None),
    "empty firm table": ("", _edit_firms(lambda rows: [("数据", rows[:2])])),
    "repeated firm-year": ("", _edit_firms(lambda rows: [("数据", [*rows, rows[2]])])),
    "unknown sheet": ("[firms]\nsheet = \"2022年\"\n", None),
    "no table in any sheet": ("", _edit_firms(lambda rows: [("填表说明", NOTES), ("Sheet2", [["a"], [1]])])),
    "scenario polygon missing": ('[[scenarios]]\nname = "a"\npolygon = "nope.geojson"\n', None),
    "scenario firm unknown": ('[[scenarios]]\nname = "a"\nfirms = ["91330000000000000X"]\n', None),
    "parcel layer without parcels": ("", _no_parcels),
    "scenario selects nothing": ('[[scenarios]]\nname = "a"\ntarget_tax_per_mu = 30\n', None),
}


def _county(small_county: Path, tmp_path: Path, lines: str, change) -> Path:
    folder = tmp_path / "county"
    shutil.copytree(small_county, folder)
    if change is not None:
        change(folder)
    text = COUNTY_TOML
    # a section given again replaces the base's one (TOML has no repeated tables)
    for section in ("[firms]", "[policy]", "[raster]", "[clusters]"):
        if section in lines:
            start = text.index(section)
            end = text.find("\n[", start + 1)
            kept = [ln for ln in text[start:end].splitlines()[1:] if ln.split(" =")[0] not in lines]
            text = text[:start] + text[end + 1:] if end != -1 else text[:start]
            lines = lines.replace(section + "\n", section + "\n" + "".join(k + "\n" for k in kept), 1)
    path = folder / "county.toml"
    path.write_text(text + lines, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(GOOD))
def test_validate_and_run_both_succeed_on_good_inputs(small_county, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # paths (and the preset file) are the config's, not the current folder's
    cfg = _county(small_county, tmp_path, *GOOD[name])
    checked = runner.invoke(app, ["validate", str(cfg)], terminal_width=250)
    assert checked.exit_code == 0, checked.output
    done = runner.invoke(app, ["run", str(cfg), "--no-map"], terminal_width=250)
    assert done.exit_code == 0, done.output
    if "polygon" in name:
        # the square lands where it was drawn: the parcels whose inner point lies in it (6 here)
        import geopandas as gpd
        import pandas as pd
        import shapely

        parcels = gpd.read_file(cfg.parent / "parcels.gpkg", layer="parcels")
        square = shapely.box(*parcels.geometry.iloc[:5].total_bounds)
        inside = parcels.loc[parcels.geometry.representative_point().within(square), "地块编号"].nunique()
        table = pd.read_csv(cfg.parent / "out" / "scenarios.csv", encoding="utf-8-sig", index_col=0)
        assert inside >= 5 and table.loc["地块数", "圈选"] == inside


@pytest.mark.parametrize("name", list(BAD))
def test_validate_fails_exactly_where_run_stops(small_county, tmp_path, name):
    cfg = _county(small_county, tmp_path, *BAD[name])
    checked = runner.invoke(app, ["validate", str(cfg)], terminal_width=250)
    assert checked.exit_code != 0, checked.output
    assert "Traceback" not in checked.output
    done = runner.invoke(app, ["run", str(cfg), "--no-map"], terminal_width=250)
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output
    # no message names an internal function
    assert "find_blocks:" not in done.output + checked.output and "local_clusters:" not in done.output


def test_config_errors_name_the_file_section_key_and_range(small_county, tmp_path):
    cfg = _county(small_county, tmp_path, "[blocks]\ngap_m = -1\n", None)
    for command in (["validate", str(cfg)], ["run", str(cfg)]):
        res = runner.invoke(app, command, terminal_width=250)
        assert res.exit_code == 2
        assert f"{cfg}: [blocks] gap_m = -1.0: must be >= 0 (metres)" in res.output.replace("\n", "")


def test_validate_names_the_year_and_the_years_there_are(small_county, tmp_path):
    cfg = _county(small_county, tmp_path, "[policy]\npreset = \"suichang-2022\"\nyear = 2030\n", None)
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=300)
    assert res.exit_code == 1
    assert "no data for [policy] year = 2030: the firm table has 2020, 2021, 2022, 2023" in res.output


def test_a_preset_year_without_data_falls_back_to_the_latest_with_a_warning(small_county, tmp_path):
    # Suichang evaluates 2021; without 2021 rows the run evaluates the data's latest year and says so
    cfg = _county(small_county, tmp_path, "", _edit_firms(lambda rows: [("数据", [r for r in rows if r[2] != 2021])]))
    checked = runner.invoke(app, ["validate", str(cfg)], terminal_width=300)
    assert checked.exit_code == 0, checked.output
    assert "no data for the reference year of preset suichang-2022 = 2021" in checked.output.replace("\n", "")
    done = runner.invoke(app, ["run", str(cfg), "--no-map"], terminal_width=250)
    assert done.exit_code == 0, done.output


def test_validate_warns_that_scenario_block_ids_wait_for_the_run(small_county, tmp_path):
    cfg = _county(small_county, tmp_path, '[[scenarios]]\nname = "一期"\nblocks = [2, 5]\n', None)
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=300)
    assert res.exit_code == 0
    assert "warning" in res.output and "[[scenarios]] #1 (一期) blocks 2, 5: block ids are known only once run" in res.output


def test_validate_says_how_coarse_the_raster_must_be(small_county, tmp_path):
    from gisefficiency.raster.grid import Grid

    cfg = _county(small_county, tmp_path, "[raster]\nenabled = true\nresolution_m = 0.05\n", None)
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=300)
    assert res.exit_code == 1
    suggested = float(re.search(r"set \[raster\] resolution_m to ([0-9.]+) or more", res.output).group(1))
    import gisefficiency.raster.layers as layers
    from gisefficiency.config import load_config
    from gisefficiency.pipeline import prepare_configured_parcels, read_configured_parcels

    config = load_config(cfg)
    parcels = prepare_configured_parcels(config, read_configured_parcels(config))
    bounds = tuple(parcels[parcels["status"] == "ok"].total_bounds)
    fits = Grid.covering(bounds, suggested, align=True)
    assert fits.width * fits.height <= layers.MAX_CELLS  # the suggestion is enough
    assert Grid.covering(bounds, 0.05, align=True).width * Grid.covering(bounds, 0.05, align=True).height \
        > layers.MAX_CELLS


def test_validate_makes_repeated_firm_years_an_error(small_county, tmp_path):
    cfg = _county(small_county, tmp_path, "", _edit_firms(lambda rows: [("数据", [*rows, rows[2]])]))
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=300)
    assert res.exit_code == 1
    n = len(_sheet_rows(cfg.parent / "firms.xlsx"))
    assert f"has 2 rows for {_sheet_rows(cfg.parent / 'firms.xlsx')[2][2]}: rows 3, {n}" in res.output
    assert "1 error(s)" in res.output


# --- scenario: block ids -------------------------------------------------------------------------

@pytest.mark.parametrize(("blocks", "message"), [
    ("一期", "--blocks '一期': '一期' is not a block id -> block ids are whole numbers separated by commas"),
    ("3,x", "--blocks '3,x': 'x' is not a block id"),
    ("-1", "--blocks '-1': '-1' is not a block id"),
    ("0", "--blocks = [0]: must be >= 1 (block ids)"),
])
def test_scenario_bad_block_ids_are_one_line(small_county, tmp_path, blocks, message):
    cfg = _county(small_county, tmp_path, "", None)
    res = runner.invoke(app, ["scenario", str(cfg), "--blocks", blocks], terminal_width=400)
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) <= 2


def test_scenario_unknown_ids_name_the_option(small_county, tmp_path):
    cfg = _county(small_county, tmp_path, "", None)
    res = runner.invoke(app, ["scenario", str(cfg), "--blocks", "1,999"], terminal_width=400)
    assert res.exit_code == 2
    assert "--blocks: no block 999 (this run has" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["scenario", str(cfg), "--parcels", "NOPE-1"], terminal_width=400)
    assert res.exit_code == 2 and "--parcels: no parcel NOPE-1" in res.output
    res = runner.invoke(app, ["scenario", str(cfg), "--target-tax-per-mu", "-3", "--blocks", "1"], terminal_width=400)
    assert res.exit_code == 2 and "--target-tax-per-mu = -3.0: must be > 0" in res.output

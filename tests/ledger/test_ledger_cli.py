"""The ledger from the command line: --year and --ledger on run, [ledger] previous checked by validate."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from gisefficiency.cli import app

runner = CliRunner()


def _config(tmp_path, sample_dir, extra=""):
    text = (sample_dir / "demo.toml").read_text("utf-8")
    for name in ("parcels.gpkg", "firms.xlsx", "land.csv", "building_height.tif"):
        text = text.replace(f'"{name}"', f'"{(sample_dir / name).as_posix()}"')
    text = text.replace("[clusters]\n", "[clusters]\nenabled = false\n").replace("[raster]\n", "[raster]\nenabled = false\n")
    cfg = tmp_path / "county.toml"
    cfg.write_text(text + extra, "utf-8")
    return cfg


def test_validate_names_a_missing_previous_ledger(tmp_path, sample_dir):
    cfg = _config(tmp_path, sample_dir, '\n[ledger]\nprevious = "台账_2022.xlsx"\n')
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=250)
    assert res.exit_code == 1
    assert "台账_2022.xlsx: ledger file not found -> check [ledger] previous" in res.output


def test_unknown_ledger_key_is_a_config_error(tmp_path, sample_dir):
    cfg = _config(tmp_path, sample_dir, '\n[ledger]\nprevius = "台账_2022.xlsx"\n')
    res = runner.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 2
    assert "[ledger]: unknown key(s) previus; known: enabled, previous" in res.output


def test_run_stops_before_the_run_on_a_missing_ledger(tmp_path, sample_dir):
    cfg = _config(tmp_path, sample_dir)
    res = runner.invoke(app, ["run", str(cfg), "--year", "2023", "--no-map", "--out", str(tmp_path / "x"),
                              "--ledger", str(tmp_path / "nope.xlsx")], terminal_width=250)
    assert res.exit_code == 2
    assert "nope.xlsx: ledger file not found -> check [ledger] previous" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_run_two_years_from_the_command_line(tmp_path, sample_dir):
    cfg = _config(tmp_path, sample_dir)
    first = runner.invoke(app, ["run", str(cfg), "--year", "2022", "--no-map", "--out", str(tmp_path / "2022")])
    assert first.exit_code == 0, first.output
    ws = load_workbook(tmp_path / "2022" / "台账.xlsx")["台账"]
    assert ws.cell(row=2, column=1).value and ws.max_row > 100
    res = runner.invoke(app, ["run", str(cfg), "--year", "2023", "--no-map", "--out", str(tmp_path / "2023"),
                              "--ledger", str(tmp_path / "2022" / "台账.xlsx")])
    assert res.exit_code == 0, res.output
    statuses = {r[5] for r in load_workbook(tmp_path / "2023" / "台账.xlsx")["台账"].iter_rows(min_row=2, values_only=True)}
    assert {"新列入", "继续列入", "类别变化", "已销号"} <= statuses

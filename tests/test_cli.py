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

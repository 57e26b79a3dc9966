"""The terminal speaks Chinese first with the English beside it, or one language with --lang."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from gisefficiency.cli import app

runner = CliRunner()


def _bad_config(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[parcel]\npath = 'x.gpkg'\n", encoding="utf-8")
    return cfg


def _missing_data(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[parcels]\npath = 'nope.gpkg'\n[firms]\npath = 'nope.xlsx'\n", encoding="utf-8")
    return cfg


def test_config_error_prints_chinese_then_english_by_default(tmp_path):
    cfg = _bad_config(tmp_path)
    res = runner.invoke(app, ["run", str(cfg)], terminal_width=400)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert lines == [
        f"错误：{cfg}：未知的节 [parcel]；可用的节：{lines[0].split('可用的节：')[1]}",
        f"error: {cfg}: unknown section(s) [parcel]; known: {lines[1].split('known: ')[1]}",
    ]
    assert "[project], [parcels], [firms]" in lines[0] and "[project], [parcels], [firms]" in lines[1]


@pytest.mark.parametrize(("lang", "present", "absent"), [
    ("en", "error: {cfg}: unknown section(s) [parcel]", "未知的节"),
    ("zh", "错误：{cfg}：未知的节 [parcel]", "unknown section"),
])
def test_config_error_in_one_language_with_lang(tmp_path, lang, present, absent):
    cfg = _bad_config(tmp_path)
    res = runner.invoke(app, ["run", str(cfg), "--lang", lang], terminal_width=400)
    assert res.exit_code == 2
    assert present.format(cfg=cfg) in res.output
    assert absent not in res.output and len(res.output.strip().splitlines()) == 1


def test_data_error_prints_chinese_then_english(tmp_path):
    cfg = _missing_data(tmp_path)
    res = runner.invoke(app, ["run", str(cfg)], terminal_width=400)
    assert res.exit_code == 2
    zh = f"错误：{tmp_path / 'nope.gpkg'}：找不到地块文件 → 请检查配置文件中的 [parcels] path"
    en = f"error: {tmp_path / 'nope.gpkg'}: parcel file not found -> check [parcels] path in the config"
    assert zh in res.output and en in res.output
    assert res.output.index(zh) < res.output.index(en)
    res = runner.invoke(app, ["run", str(cfg), "--lang", "en"], terminal_width=400)
    assert en in res.output and "找不到" not in res.output and "错误" not in res.output


def test_validate_lists_problems_in_both_languages_and_counts_them(tmp_path):
    cfg = _missing_data(tmp_path)
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=400)
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    at = lines.index(f"错误 {tmp_path / 'nope.gpkg'}：找不到地块文件 → 请检查配置文件中的 [parcels] path")
    assert lines[at + 1] == f"  error {tmp_path / 'nope.gpkg'}: parcel file not found -> check [parcels] path in the config"
    assert lines[-1] == "2 个错误，0 个警告 / 2 error(s), 0 warning(s)"
    res = runner.invoke(app, ["validate", str(cfg), "--lang", "en"], terminal_width=400)
    assert res.output.strip().splitlines()[-1] == "2 error(s), 0 warning(s)"
    assert "找不到" not in res.output


def test_validate_warnings_of_the_sample_are_chinese_first(sample_dir):
    res = runner.invoke(app, ["validate", str(sample_dir / "demo.toml")], terminal_width=400)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    warned = [i for i, line in enumerate(lines) if line.startswith("警告 ")]
    assert warned and all(lines[i + 1].startswith("  warning ") for i in warned)
    assert "无效多边形已用 make_valid 修复" in res.output and "invalid polygon(s) repaired with make_valid" in res.output


def test_logged_warnings_reach_the_terminal_in_the_chosen_language(tmp_path, monkeypatch):
    # Any warning the package logs with its Chinese (extra={"zh": ...}) is printed by the command line.
    import gisefficiency.pipeline as pipeline

    def warn_and_pass(config):
        logging.getLogger("gisefficiency.io.parcels").warning(
            "%s: file CRS %s replaced by the configured %s", "p.gpkg", "EPSG:4326", "EPSG:4549",
            extra={"zh": "p.gpkg：文件的坐标系 EPSG:4326 已替换为配置的 EPSG:4549"})
        return []

    monkeypatch.setattr(pipeline, "validate_inputs", warn_and_pass)
    cfg = tmp_path / "ok.toml"
    cfg.write_text("", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(cfg)], terminal_width=400)
    assert res.exit_code == 0, res.output
    zh = "警告：p.gpkg：文件的坐标系 EPSG:4326 已替换为配置的 EPSG:4549"
    en = "warning: p.gpkg: file CRS EPSG:4326 replaced by the configured EPSG:4549"
    assert zh in res.output and en in res.output and res.output.index(zh) < res.output.index(en)
    res = runner.invoke(app, ["validate", str(cfg), "--lang", "en"], terminal_width=400)
    assert en in res.output and "警告" not in res.output
    res = runner.invoke(app, ["validate", str(cfg), "--lang", "zh"], terminal_width=400)
    assert zh in res.output and "warning:" not in res.output


def test_lang_is_checked_for_every_command(tmp_path):
    for command in (["validate", str(_bad_config(tmp_path))], ["presets"], ["sample", "--out", str(tmp_path / "s")]):
        res = runner.invoke(app, [*command, "--lang", "fr"], terminal_width=400)
        assert res.exit_code == 2, (command, res.output)
        assert "错误：--lang 'fr'：只能是 zh 或 en" in res.output and "error: --lang 'fr': must be zh or en" in res.output


def test_presets_in_one_language():
    res = runner.invoke(app, ["presets", "--lang", "en"], terminal_width=400)
    assert res.exit_code == 0
    assert "source: " in res.output and "来源" not in res.output
    res = runner.invoke(app, ["presets", "--lang", "zh"], terminal_width=400)
    assert "来源：" in res.output and "source:" not in res.output

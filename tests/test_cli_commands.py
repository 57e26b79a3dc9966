"""demo, sample and init from the terminal; the summary in words; help texts shown whole."""

from __future__ import annotations

import shutil

import pytest
from _maps_fixtures import map_page_text
from typer.testing import CliRunner

from gisefficiency.cli import app, summary_rows
from gisefficiency.evaluate.policy import list_presets

runner = CliRunner()


def test_summary_names_grades_and_categories_in_words(demo_result):
    zh = dict(summary_rows(demo_result))
    assert zh["评价类别"] == "A类 331，B类 1,731，C类 466，D类 133，不参评 212"
    assert zh["处置类别"] == "淘汰关停类 174，腾笼换鸟类 433，整治提升类 262，铸造、化工行业（整治标准另行制定） 144"
    assert zh["地块"] == "2,999" and zh["连片区块"] == "68"
    en = dict(summary_rows(demo_result, lang="en"))
    assert en["grades"] == "Class A 331, Class B 1,731, Class C 466, Class D 133, Not graded 212"
    assert en["disposal"] == "Close (eliminate) 174, Swap (腾笼换鸟) 433, Upgrade 262, Foundry and chemical industry (own standard to follow) 144"


def test_presets_are_shown_in_full():
    res = runner.invoke(app, ["presets"], terminal_width=120)
    assert res.exit_code == 0, res.output
    assert "…" not in res.output
    for info in list_presets():
        assert info.description_zh in res.output and info.description_en in res.output and info.source in res.output
    # and the differentiated-price schemes a config can put in force, with their documents
    assert "差别化价格方案（[policy] pricing） / Differentiated-price schemes ([policy] pricing)" in res.output
    assert "linhai-2022\n  临海市差别化水价" in res.output and "临政办发〔2019〕75号" in res.output


def test_run_help_shows_the_output_section():
    res = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert "(default:  dir)" not in res.output
    assert "[output]" in res.output and "[map]" in res.output  # the escaped brackets survive


def test_sample_needs_out():
    res = runner.invoke(app, ["sample", "--parcels", "50"])
    assert res.exit_code == 2
    assert "--out" in res.output


def test_sample_refuses_a_non_empty_folder_unless_forced(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    res = runner.invoke(app, ["sample", "--parcels", "60", "--fast", "--out", str(tmp_path)], terminal_width=300)
    assert res.exit_code == 2
    assert "folder is not empty" in res.output and "--force" in res.output and "Traceback" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    res = runner.invoke(app, ["sample", "--parcels", "60", "--fast", "--out", str(tmp_path), "--force"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "parcels.parquet").is_file() and (tmp_path / "mine.txt").is_file()


@pytest.mark.slow
def test_demo_writes_to_gisefficiency_demo_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["demo", "--lang", "en"], terminal_width=200)
    assert res.exit_code == 0, res.output
    out = tmp_path / "gisefficiency-demo"
    assert {"results.gpkg", "map.html", "report.html"} <= {p.name for p in out.iterdir()}
    assert "Class A 331" in res.output and "Firms linked" in res.output  # the terminal in English too
    page = map_page_text(out / "map.html")  # the layer names also ride in the map's packed payload
    assert "Parcel" in page and "地块评价类别" not in page  # and the pages


def test_init_writes_a_config_and_refuses_to_overwrite_it(sample_dir, tmp_path):
    for name in ("parcels.gpkg", "firms.xlsx"):
        shutil.copy(sample_dir / name, tmp_path / name)
    args = ["init", str(tmp_path / "parcels.gpkg"), str(tmp_path / "firms.xlsx"), "--out", str(tmp_path / "c.toml")]
    res = runner.invoke(app, args, terminal_width=300)
    assert res.exit_code == 0, res.output
    text = (tmp_path / "c.toml").read_text(encoding="utf-8")
    assert 'layer = "parcels"' in text and 'path = "firms.xlsx"' in text
    res = runner.invoke(app, args, terminal_width=300)
    assert res.exit_code == 2
    assert "already exists" in res.output and "Traceback" not in res.output

"""The report's targets-by-year section: rows from target_progress, labels in both languages."""

from __future__ import annotations

import copy
import dataclasses

import pandas as pd
from _ledger_fixtures import fake_result

from gisefficiency.evaluate.policy import parse_preset
from gisefficiency.ledger import update
from gisefficiency.report.build import build_report
from gisefficiency.report.yearly import yearly_targets_section

PRESET = {"title_zh": "t", "title_en": "t", "source": "t",
          "categories": [{"id": "close", "zh": "淘汰关停类", "en": "close", "colour": "#d73027"}],
          "targets": {"yearly": [
              {"year": 2021, "measure": "tax_per_mu", "group": "above", "value": 30, "zh": "规上亩均税收",
               "en": "tax per mu", "source": "规上工业亩均税收达到30万元以上"},
              {"year": 2021, "measure": "share_tax_per_mu_at_least", "group": "below", "threshold": 2,
               "value": 0.8, "zh": "规下达标比例", "source": "规下企业80%以上达到亩均税收2万元以上"},
              {"year": 2023, "measure": "freed_mu", "value": 800, "zh": "腾出工业用地", "source": "腾出工业用地800亩以上"},
          ]}}
PANEL = pd.DataFrame({"eval_id": ["a", "b", "c"], "year": [2021] * 3, "scale": ["above", "below", "below"],
                      "tax": [150.0, 3.0, 1.0], "value_added": [1.0] * 3, "land_mu": [10.0, 1.0, 1.0]}
                     ).set_index(["eval_id", "year"])
PANEL["tax_per_mu"] = PANEL["tax"] / PANEL["land_mu"]


def test_section_rows_zh_and_en():
    r = fake_result(2021, {}, policy=parse_preset(copy.deepcopy(PRESET), where="t", name="t"), panel=PANEL)
    r.meta = {}
    zh = yearly_targets_section(r, "zh")
    assert zh["t"]["title"] == "年度目标"
    # 150 / 10 = 15 of 30: 50 %; below: b 3.0 >= 2, c 1.0 < 2: 50 % of 80 %.
    assert [(x["achieved"], x["goal"], x["share_text"], x["note"]) for x in zh["rows"]] == [
        ("15.00", "30.00", "50.0%", "未达成"), ("50.0%", "80.0%", "62.5%", "未达成"), ("—", "800.00", "—", "需台账")]
    assert [x["by"] for x in zh["rows"]] == ["本次数据", "本次数据", "台账"]
    en = yearly_targets_section(r, "en")
    assert [x["note"] for x in en["rows"]] == ["not met", "not met", "needs the ledger"]
    assert en["rows"][0]["group"] == "above size"


def test_section_absent_without_yearly_targets():
    data = copy.deepcopy(PRESET)
    del data["targets"]["yearly"]
    r = fake_result(2021, {}, policy=parse_preset(data, where="t", name="t"), panel=PANEL)
    assert yearly_targets_section(r, "zh") is None


def test_demo_report_shows_the_section(demo_result):
    shown = dataclasses.replace(demo_result, meta={**demo_result.meta, "ledger": update(None, demo_result)})
    html = build_report(shown, lang="zh")
    assert '<section id="yearly-targets">' in html and "腾出工业用地800亩以上" in html
    assert "截至2021年，未达成" in html  # the Suichang targets fall in 2023; the ledger starts in 2021


def test_block_targets_leave_out_land_that_stays_with_its_firm():
    """Block 1 frees P4 (15 mu, 300 tce) and P5 (8 mu, idle): 23 mu. With P4's firm in 整治提升类, whose land
    stays (frees_land = false), all blocks free 23 - 15 = 8 mu and 300 - 300 = 0 tce."""
    from _report_fixtures import FakePolicy, make_result

    from gisefficiency.evaluate.policy import Category
    from gisefficiency.report.build import _targets, _targets_note

    r = make_result()
    r.parcels.loc["P4", "disposal"] = "upgrade"
    assert [row["achieved"] for row in _targets(r, "zh") if row["basis"] == "全部连片区块"] == ["23.00", "300.00"]
    assert _targets_note(r, "zh") == ""
    cats = dict(FakePolicy().categories)
    cats["upgrade"] = Category("upgrade", "整治提升", "Upgrade", "#fee08b", frees_land=False)
    r = dataclasses.replace(r, policy=dataclasses.replace(FakePolicy(), categories=cats))
    assert [row["achieved"] for row in _targets(r, "zh") if row["basis"] == "全部连片区块"] == ["8.00", "0.00"]
    # a scenario is an area redeveloped whole: its rows count every parcel it selects, and the note says so
    assert _targets_note(r, "zh") == ("全部区块的腾出用地、用能计入区块内的低效地块，不计整治提升地块（用地留在原企业，不腾出）"
                                      "；各情景按整片腾退计，计入情景选定的全部地块。")
    assert _targets_note(dataclasses.replace(r, scenarios=[]), "zh") == (
        "全部区块的腾出用地、用能计入区块内的低效地块，不计整治提升地块（用地留在原企业，不腾出）。")
    assert _targets_note(r, "en").startswith("Land and energy freed by all blocks count their low-efficiency parcels, "
                                             "not those of Upgrade firms")


def test_demo_report_says_the_reference_year_and_what_targets_count(demo_result):
    html = build_report(demo_result, lang="zh")
    # Suichang fixes 2021 (“2021年度亩均税收”); the demo asks for 2021 too
    assert "评价年度2021年（政策文件规定的评价年度）" in html
    assert demo_result.meta["reference_year"].source == "preset"
    assert "2022—2023年累计台账退出企业的用地（淘汰关停类、腾笼换鸟类）；不计整治提升类（用地留在原企业）" in html
    assert "不计整治提升类地块（用地留在原企业，不腾出）" in html

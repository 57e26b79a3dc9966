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

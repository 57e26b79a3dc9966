"""Reasons as structure: the evaluation keeps codes and numbers; texts are written on request, for the rows asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _evaluate_fixtures import simple_panel

from gisefficiency.evaluate.policy import load_preset
from gisefficiency.evaluate.verdicts import evaluate, reason_langs

OLD = "2010-01-01"
W = {"public_welfare": True, "supply_date": OLD}  # no scale: not graded, suichang's tax rules only

S1_ZH = "淘汰关停类：亩均税收连续两年低于1万元/亩（2020年0.62、2021年0.81万元/亩）"
S1_EN = "Close (eliminate): tax per mu below 1 (10k yuan/mu) in 2 consecutive years (2020: 0.62, 2021: 0.81)"
S3_ZH = ("腾笼换鸟类：亩均税收连续两年高于1万元/亩（2020年1.05、2021年2.99万元/亩），"
         "亩均税收连续两年低于3万元/亩（2020年1.05、2021年2.99万元/亩）")
O1_ZH = "供地日期2021-03-05晚于2021-01-01，不在整治范围"


@pytest.fixture(scope="module")
def suichang():
    panel, links, _ = simple_panel({
        "S1": {"land_mu": 10, "tax": {2020: 6.2, 2021: 8.1}, **W},     # 0.62, 0.81: close (rule 0)
        "S3": {"land_mu": 10, "tax": {2020: 10.5, 2021: 29.9}, **W},   # 1.05, 2.99: swap
        "S4": {"land_mu": 10, "tax": {2020: 30.0, 2021: 20.0}, **W},   # 3.0 then 2.0: no rule
        "O1": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}, "public_welfare": True,
               "supply_date": "2021-03-05"},                            # supplied after the scope's date
        "G1": {"land_mu": 10, "tax": {2021: 8.1}, **W},                 # no 2020 row: no rule
    })
    return evaluate(panel, load_preset("suichang-2022"), links=links)


def test_the_frames_keep_codes_not_texts(suichang):
    v = suichang.verdicts
    assert not [c for c in v.columns if "reason_" in c and c != "reason_code"]
    assert not [c for c in suichang.grades.columns if "reason" in c]
    assert v["reason_code"].to_dict() == {"G1": "no_rule", "O1": "out_of_scope", "S1": "rule", "S3": "rule",
                                          "S4": "no_rule"}
    rules = load_preset("suichang-2022").disposal.rules
    # the rule met is a position in the preset's rules, its category the disposal
    assert rules[v.loc["S1", "rule"]].category == "close" and rules[v.loc["S3", "rule"]].category == "swap"
    assert v.loc[["S4", "O1", "G1"], "rule"].tolist() == [-1, -1, -1]
    assert (v["exemption"] == -1).all()
    assert str(v["reason_code"].dtype) == "category" and v["rule"].dtype == np.int16


def test_reasons_in_the_language_asked(suichang):
    zh = suichang.reasons("zh")
    assert list(zh.columns) == ["reason_zh", "grade_reason_zh"]
    assert zh.loc["S1", "reason_zh"] == S1_ZH
    assert zh.loc["S3", "reason_zh"] == S3_ZH
    assert zh.loc["O1", "reason_zh"] == O1_ZH
    assert zh.loc["S1", "grade_reason_zh"] == "规模未知，不参评"  # no scale: settled first
    en = suichang.reasons("en")
    assert list(en.columns) == ["reason_en", "grade_reason_en"]
    assert en.loc["S1", "reason_en"] == S1_EN
    both = suichang.reasons("both")
    assert list(both.columns) == ["reason_zh", "reason_en", "grade_reason_zh", "grade_reason_en"]
    assert both.loc["S1", "reason_en"] == S1_EN


def test_a_subset_reads_as_the_whole(suichang):
    whole = suichang.reasons("both")
    # units asked in any order, some twice: each reads as in the full set
    units = np.array([3, 0, 3, 4])
    part = suichang.reasons("both", units=units)
    assert list(part.index) == [suichang.verdicts.index[i] for i in units]
    assert part.equals(whole.iloc[units])
    assert part.loc["S3", "reason_zh"].tolist() == [S3_ZH, S3_ZH]
    assert len(suichang.reasons("zh", units=np.zeros(0, dtype=np.int64))) == 0


def test_grade_reasons_of_the_years_asked(suichang):
    all_years = suichang.grade_reasons("zh")
    assert len(all_years) == len(suichang.grades)
    y2020 = suichang.grade_reasons("en", years=[2020])
    assert set(y2020.index.get_level_values(1)) == {2020}
    assert sorted(y2020.index.get_level_values(0)) == ["O1", "S1", "S3", "S4"]  # G1 has no 2020 row
    assert y2020.loc[("S1", 2020), "grade_reason_en"] == "scale unknown: not graded"
    # a unit without a row in the reference year says so in its verdict's grade reason
    assert "G1" in all_years.index.get_level_values(0)
    assert suichang.reasons("zh").loc["G1", "grade_reason_zh"] == "规模未知，不参评"


def test_an_exemption_is_a_code_and_its_reason_names_what_it_spares():
    panel, links, _ = simple_panel({"X": {"land_mu": 10, "tax": {2019: 1.0, 2020: 1.0, 2021: 1.0},
                                          "public_welfare": True}})
    ev = evaluate(panel, load_preset("zhejiang-2019"), links=links)
    v = ev.verdicts
    assert v.loc["X", "reason_code"] == "exempt" and v.loc["X", "exempt"]
    exemptions = load_preset("zhejiang-2019").disposal.exempt
    assert exemptions[v.loc["X", "exemption"]].zh == "社会公益类企业"
    assert ev.reasons("zh").loc["X", "reason_zh"] == ("豁免：社会公益类企业（否则应列为低效企业：亩均税收近三年均低于1万元/亩"
                                                     "（2019年0.1、2020年0.1、2021年0.1万元/亩））")


def test_a_language_outside_the_three_is_refused(suichang):
    assert reason_langs("both") == ("zh", "en")
    with pytest.raises(ValueError, match=r"lang = 'fr': reasons are written in 'zh', 'en' or 'both'"):
        suichang.reasons("fr")
    with pytest.raises(ValueError, match="reasons are written in"):
        suichang.grade_reasons("zh-CN")


def test_every_units_texts_are_written_once_for_all_outputs():
    from concurrent.futures import ThreadPoolExecutor

    panel, links, _ = simple_panel({
        "S1": {"land_mu": 10, "tax": {2020: 6.2, 2021: 8.1}, **W},
        "S4": {"land_mu": 10, "tax": {2020: 30.0, 2021: 20.0}, **W},
    })
    ev = evaluate(panel, load_preset("suichang-2022"), links=links)
    few = ev.reasons("both", units=np.array([1, 0]))  # a few units before any output: written on their own
    asked = []
    written = ev.verdict_text

    def counted(idx):
        asked.append(len(idx))
        return written(idx)

    ev.verdict_text = counted
    # two outputs written at the same time: one writes every unit's texts, the other waits for them
    with ThreadPoolExecutor(2) as pool:
        zh, zh_again = pool.map(lambda _: ev.unit_texts("zh"), range(2))
    assert asked == [2]
    assert list(zh) == ["reason_zh", "grade_reason_zh"] and zh["reason_zh"].to_dict() == zh_again["reason_zh"].to_dict()
    assert zh["reason_zh"]["S1"] == S1_ZH
    # the other language is written when first asked for; then any units are read from the kept texts
    assert ev.unit_texts("en")["reason_en"]["S1"] == S1_EN
    assert asked == [2, 2]
    assert ev.reasons("both", units=np.array([1, 0])).equals(few)
    assert ev.reasons("zh").equals(pd.DataFrame(zh))
    assert asked == [2, 2]


def test_a_reason_asked_in_one_language_is_written_in_that_language_only(suichang):
    from gisefficiency.core.text import writing

    idx = np.arange(len(suichang.verdicts))
    with writing(["zh"]):
        zh, en = suichang.verdict_text(idx)
        gz, ge = suichang.unit_grade_text(idx)
    # the English pieces were never put together (a constant for every unit costs nothing)
    assert en == "" and isinstance(ge, str) and gz == "规模未知，不参评"
    assert zh.to_pylist()[list(suichang.verdicts.index).index("S1")] == S1_ZH
    with writing(["en"]):
        zh, en = suichang.verdict_text(idx)
    assert zh == "" and en.to_pylist()[list(suichang.verdicts.index).index("S1")] == S1_EN
    # outside ``writing`` both languages are written, as before
    both = suichang.verdict_text(idx)
    assert both[0].to_pylist() == suichang.reasons("zh")["reason_zh"].tolist()


def test_the_kept_texts_hold_the_languages_asked_only():
    panel, links, _ = simple_panel({"S1": {"land_mu": 10, "tax": {2020: 6.2, 2021: 8.1}, **W}})
    ev = evaluate(panel, load_preset("suichang-2022"), links=links)
    assert ev.unit_texts("en")["reason_en"]["S1"] == S1_EN
    assert set(ev._texts) == {"en"}
    assert ev.reasons("both").loc["S1", "reason_zh"] == S1_ZH
    assert set(ev._texts) == {"zh", "en"}


def test_a_copy_has_its_own_lock_and_kept_texts(suichang):
    import copy

    suichang.unit_texts("zh")
    twin = copy.copy(suichang)
    assert twin._lock is not suichang._lock and twin._texts is not suichang._texts
    assert twin.reasons("zh").equals(suichang.reasons("zh"))

"""Classes of small and large groups, and the guard that a unit at its group's benchmark is never D."""

from __future__ import annotations

import pytest
from _evaluate_fixtures import simple_panel

from gisefficiency.evaluate import evaluate, load_preset


def _above(taxes: list[float], **extra):
    """规上 manufacturing firms F001.. on 10 mu each, with the given 2022 tax (万元)."""
    return {f"F{i:03d}": {"land_mu": 10, "tax": {2022: t}, "scale": "above", "industry": "3311", **extra}
            for i, t in enumerate(taxes, start=1)}


def _grades(spec, preset="wenling-2022"):
    panel, links, _ = simple_panel(spec)
    ev = evaluate(panel, load_preset(preset), links=links)
    return ev.grades.join(ev.grade_reasons("both")).xs(2022, level=1)


# 规上 shares in the Zhejiang template (Wenling 2022): A 20 %, B 60 %, C 15 %, D 5 %. Cumulative counts
# n × (0.20, 0.80, 0.95) rounded half up, worked by hand:
#   n=1: 0.2, 0.8, 0.95 -> 0, 1, 1      -> B
#   n=2: 0.4, 1.6, 1.9  -> 0, 2, 2      -> B B
#   n=5: 1, 4, 4.75     -> 1, 4, 5      -> A BBB C
#   n=19: 3.8, 15.2, 18.05 -> 4, 15, 18 -> 4 A, 11 B, 3 C, 1 D
#   n=20: 4, 16, 19     -> 4 A, 12 B, 3 C, 1 D
#   n=21: 4.2, 16.8, 19.95 -> 4, 17, 20 -> 4 A, 13 B, 3 C, 1 D
#   n=100: 20, 80, 95   -> 20 A, 60 B, 15 C, 5 D
@pytest.mark.parametrize(("n", "expected"), [
    (1, "B"),
    (2, "BB"),
    (5, "ABBBC"),
    (19, "A" * 4 + "B" * 11 + "C" * 3 + "D"),
    (20, "A" * 4 + "B" * 12 + "C" * 3 + "D"),
    (21, "A" * 4 + "B" * 13 + "C" * 3 + "D"),
    (100, "A" * 20 + "B" * 60 + "C" * 15 + "D" * 5),
])
def test_class_counts_are_shares_rounded_to_whole_units(n, expected):
    # taxes descending, all distinct; the last ranks are far below the group's mean, so the guard
    # below never lifts them
    g = _grades(_above([float(2 ** 20 * (n - i)) if i < n - max(1, n // 20) else 1.0 for i in range(n)]))
    assert "".join(g.sort_index()["grade"]) == expected


def test_a_lone_firm_at_the_top_of_the_county_is_not_d():
    g = _grades(_above([800.0]))  # 80 万元/亩, the only 规上 firm
    assert g.loc["F001", "grade"] == "B"
    # only 亩均税收 has data: 30 points of the 规上 weights, and the missing benchmarks are named
    assert g.loc["F001", "grade_reason_zh"] == (
        "得分30（2022年无亩均增加值、单位能耗增加值、单位排放增加值、全员劳动生产率、R&D经费占比基准值，不计分）；"
        "规上（金属及金属制品）组第1/1名（前100%），B类")


def test_of_two_firms_neither_is_closed():
    g = _grades(_above([400.0, 300.0]))  # 40 and 30 万元/亩
    assert list(g["grade"]) == ["B", "B"]


def test_a_unit_at_or_above_the_group_benchmark_tax_per_mu_is_never_d():
    # 20 firms with the same 亩均税收 (10 万元/亩 = the group's mean) ranked by value added: the last
    # is D by rank, but its 亩均税收 equals the group's benchmark, so it is C and says why.
    spec = {f"F{i:03d}": {"land_mu": 10, "years": {2022: {"tax": 100.0, "value_added": 100.0 * (21 - i)}},
                          "scale": "above", "industry": "3311"} for i in range(1, 21)}
    g = _grades(spec)
    assert g.loc["F020", "grade"] == "C"
    assert g.loc["F020", "grade_reason_zh"].endswith(
        "组第20/20名（前100%），D类；亩均税收10万元/亩不低于组基准10万元/亩，不评D类，定为C类")
    assert g.loc["F020", "grade_reason_en"].endswith(
        "; tax per mu 10 is not below the group benchmark 10: not class D, class C")
    assert (g["grade"] == "D").sum() == 0


def test_the_guard_leaves_a_d_below_the_benchmark():
    spec = {f"F{i:03d}": {"land_mu": 10, "years": {2022: {"tax": 100.0 if i < 20 else 99.0,
                                                           "value_added": 100.0 * (21 - i)}},
                          "scale": "above", "industry": "3311"} for i in range(1, 21)}
    g = _grades(spec)  # F020: 9.90 万元/亩 < the mean 9.995
    assert g.loc["F020", "grade"] == "D"


def test_a_class_verdict_names_the_indicators_scored_without_data():
    # 20 规上 firms with tax and value added in 2020 and 2021; F020 has no value added, so its 亩均增加值
    # item scores 0 (suichang-2022: missing = "zero") and it is D both years: the closure says so.
    def years(i):
        va = {} if i == 20 else {"value_added": 400.0 * (21 - i)}
        return {y: {"tax": 100.0 * (21 - i) / 20, **va} for y in (2020, 2021)}

    spec = {f"F{i:03d}": {"land_mu": 10, "years": years(i), "scale": "above", "industry": "3311",
                          "supply_date": "2010-01-01"} for i in range(1, 21)}
    panel, links, _ = simple_panel(spec)
    ev = evaluate(panel, load_preset("suichang-2022"), links=links)
    g = ev.grades.xs(2021, level=1)
    assert g.loc["F020", "missing_data_zh"] == "亩均增加值"
    assert g.loc["F001", "missing_data_zh"] == ""
    v = ev.verdicts.join(ev.reasons("both")).loc["F020"]
    assert v["disposal"] == "close"
    assert v["reason_zh"] == ("淘汰关停类：连续两年评价为D类（2020年D、2021年D）；2020年评分缺亩均增加值数据；"
                              "2021年评分缺亩均增加值数据")
    assert v["reason_en"].endswith("; scored without the unit's data on value added per mu in 2020; "
                                   "scored without the unit's data on value added per mu in 2021")


def test_a_preset_without_scoring_grades_nothing_and_still_decides():
    import dataclasses

    policy = dataclasses.replace(load_preset("zhejiang-2019"), scoring=None)
    panel, links, _ = simple_panel(_above([5.0]))
    ev = evaluate(panel, policy, links=links)
    assert list(ev.grades["grade"]) == ["N"]
    assert list(ev.grades["missing_data_zh"]) == [""]
    assert ev.verdicts.loc["F001", "grade"] == "N"

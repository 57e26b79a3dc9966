"""Every rule of every shipped preset on hand-computed cases, with the reasons' numbers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from _evaluate_fixtures import firm_rows, frame, make_links, simple_panel
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import InputError
from gisefficiency.evaluate.policy import ParcelRule, load_preset
from gisefficiency.evaluate.ranking import tenants_per_row as _tenants_per_row
from gisefficiency.evaluate.scoring import tenant_counts
from gisefficiency.evaluate.verdicts import evaluate, flag_parcels
from gisefficiency.metrics.indicators import parcel_metrics, unit_metrics

CONTRACT = ["score", "grade", "disposal", "disposal_zh", "disposal_en", "in_scope", "exempt", "low_efficiency"]


def peers(years=(2020, 2021), **extra):
    """20 规上 units with 11..30 万元/亩 tax: ranks 1-4 A, 5-16 B, 17-19 C (14, 13, 12), 20 D (11)."""
    return {f"P{i:02d}": {"land_mu": 10.0, "tax": dict.fromkeys(years, 10.0 * (10 + i)), "scale": "above", **extra}
            for i in range(1, 21)}


def explained(ev):
    """The verdicts with their reasons in both languages (written on request)."""
    return ev.verdicts.join(ev.reasons("both"))


def graded(ev):
    """The grades with their reasons in both languages (written on request)."""
    return ev.grades.join(ev.grade_reasons("both"))


def verdicts(spec, preset, **kw):
    panel, links, _ = simple_panel(spec)
    return explained(evaluate(panel, load_preset(preset), links=links, **kw))


# ---- zhejiang-2019 ----------------------------------------------------------------------------


def test_zhejiang_low_in_each_of_last_three_years():
    v = verdicts({
        "A": {"land_mu": 10, "tax": {2019: 5.0, 2020: 6.0, 2021: 8.0}},
        "B": {"land_mu": 10, "tax": {2020: 6.2, 2021: 8.1}},                  # 2019 missing
        "C": {"land_mu": 10, "tax": {2019: 9.0, 2020: 10.0, 2021: 9.0}},      # exactly 1 in 2020
        "D": {"land_mu": 10, "tax": {2019: 9.0, 2020: 9.99999, 2021: 9.0}},   # 0.999999 -> 1.0000 published
        "E": {"land_mu": 10, "tax": {2019: 9.0, 2020: 9.999, 2021: 9.0}},     # 0.9999 < 1
        "F": {"land_mu": 9.9999999, "tax": {2019: 9.0, 2020: 9.0, 2021: 9.99999999}},
    }, "zhejiang-2019")
    assert v.loc["A", "disposal"] == "low_efficiency" and v.loc["A", "low_efficiency"]
    assert v.loc["A", "reason_zh"] == "低效企业：亩均税收近三年均低于1万元/亩（2019年0.5、2020年0.6、2021年0.8万元/亩）"
    assert v.loc["A", "reason_en"] == ("Low-efficiency firm: tax per mu below 1 (10k yuan/mu) in each of the last "
                                       "3 years (2019: 0.5, 2020: 0.6, 2021: 0.8)")
    assert v.loc["B", "disposal"] == "" and v.loc["B", "reason_zh"] == "未达处置条件：缺少2019年亩均税收数据"
    assert v.loc["C", "disposal"] == "" and v.loc["C", "reason_zh"] == "未达处置条件：2020年亩均税收1万元/亩，不低于1万元/亩"
    assert v.loc["D", "disposal"] == ""
    assert v.loc["E", "disposal"] == "low_efficiency"
    assert v.loc["F", "disposal"] == ""  # 9.99999999 万元 on 9.9999999 mu is 1.0000 at published precision
    assert v["low_efficiency"].dtype == np.dtype(bool)


@pytest.mark.parametrize(("flag", "label"), [("high_tech", "有效期内的高新技术企业"), ("tech_sme", "科技型中小企业"),
                                             ("public_welfare", "社会公益类企业")])
def test_zhejiang_exemptions(flag, label):
    v = verdicts({"X": {"land_mu": 10, "tax": {2019: 1.0, 2020: 1.0, 2021: 1.0}, flag: True}}, "zhejiang-2019")
    assert v.loc["X", "exempt"] and not v.loc["X", "low_efficiency"] and v.loc["X", "disposal"] == ""
    assert v.loc["X", "reason_zh"] == (f"豁免：{label}（否则应列为低效企业：亩均税收近三年均低于1万元/亩"
                                       "（2019年0.1、2020年0.1、2021年0.1万元/亩））")


def test_zhejiang_scope_is_manufacturing_unknown_kept():
    v = verdicts({"S": {"land_mu": 10, "tax": {2019: 1.0, 2020: 1.0, 2021: 1.0}, "industry": "5211"},
                  "M": {"land_mu": 10, "tax": {2019: 1.0, 2020: 1.0, 2021: 1.0}, "industry": "3311"},
                  "U": {"land_mu": 10, "tax": {2019: 1.0, 2020: 1.0, 2021: 1.0}}}, "zhejiang-2019")
    assert not v.loc["S", "in_scope"] and v.loc["S", "disposal"] == ""
    assert v.loc["S", "reason_zh"] == "行业代码为5211，不在制造业领域（行业代码13-43）"
    assert v.loc[["M", "U"], "disposal"].tolist() == ["low_efficiency", "low_efficiency"]


# ---- zhoushan-2020 ----------------------------------------------------------------------------


def test_zhoushan_threshold_and_protected_new_land():
    v = verdicts({
        "A": {"land_mu": 10, "tax": {2021: 19.9}},
        "B": {"land_mu": 10, "tax": {2021: 20.0}},
        "N1": {"land_mu": 10, "tax": {2021: 1.0}, "supply_date": "2019-01-01"},   # protected to 2022-01-01
        "N2": {"land_mu": 10, "tax": {2021: 1.0}, "supply_date": "2018-12-31"},   # period ended 2021-12-31
        "W": {"land_mu": 10, "tax": {2021: 1.0}, "public_welfare": True},
    }, "zhoushan-2020")
    assert v.loc["A", "reason_zh"] == "低效企业（亩均税收2万元以下）：2021年亩均税收1.99万元/亩，低于2万元/亩"
    assert v.loc["B", "disposal"] == ""
    assert v.loc["N1", "exempt"] and v.loc["N1", "reason_zh"].startswith(
        "豁免：保护期内新供地企业（供地日期2019-01-01，至2021年末未满3年）")
    assert v.loc["N2", "disposal"] == "low_efficiency" and not v.loc["N2", "exempt"]
    assert v.loc["W", "exempt"]


def test_zhoushan_reference_year_is_the_documents_2019_and_configurable():
    # “全面梳理全市2019年度亩均税收低于2万元工业企业名单”: 2019 (1.0 万元/亩) is judged, not the later 2020 (3.0)
    spec = {"A": {"land_mu": 10, "tax": {2019: 10.0, 2020: 30.0}}}
    assert verdicts(spec, "zhoushan-2020").loc["A", "disposal"] == "low_efficiency"
    assert verdicts(spec, "zhoushan-2020", year=2020).loc["A", "disposal"] == ""


# ---- wenzhou-etdz-2021 ------------------------------------------------------------------------


def test_wenzhou_class_d_tax_below_10_and_class_c():
    spec = peers(years=(2021,))
    spec.update({  # not graded (public welfare), so the ranking stays the peers'
        "X1": {"land_mu": 10, "tax": {2021: 99.99}, "public_welfare": True},
        "X2": {"land_mu": 10, "tax": {2021: 100.0}, "public_welfare": True},
        "X3": {"land_mu": 10, "tax": {2021: 99.9999999}, "public_welfare": True},
    })
    v = verdicts(spec, "wenzhou-etdz-2021")
    assert v.loc["P01", "grade"] == "D" and v.loc["P01", "disposal"] == "rectify"
    assert v.loc["P01", "reason_zh"] == "高耗低效整治（D类或亩税10万以下）：2021年评价为D类"
    assert v.loc[["P02", "P03", "P04"], "disposal"].tolist() == ["rectify_c"] * 3
    assert not v.loc["P02", "low_efficiency"] and v.loc["P01", "low_efficiency"]
    assert v.loc["P05", "disposal"] == "" and v.loc["P05", "grade"] == "B"
    assert v.loc["X1", "reason_zh"] == "高耗低效整治（D类或亩税10万以下）：2021年亩均税收9.999万元/亩，低于10万元/亩"
    assert v.loc["X2", "disposal"] == "" and v.loc["X3", "disposal"] == ""
    assert v.loc["X2", "reason_zh"] == "未达处置条件：2021年不参评；2021年亩均税收10万元/亩，不低于10万元/亩"


def test_wenzhou_two_high_flag():
    base = {"land_mu": 10, "tax": {2021: 500.0}, "scale": "above"}
    v = verdicts({
        "A": {**base, "years": {2021: {"energy_tce": 1000.0}}, "production_date": "2018-01-01"},
        "B": {**base, "years": {2021: {"energy_tce": 999.0}}, "production_date": "2019-05-01"},
        "C": {**base, "years": {2021: {"energy_tce": 4999.0}}, "production_date": "2017-12-31"},
        "D": {**base, "years": {2021: {"energy_tce": 5000.0}}, "production_date": "2017-12-31"},
        "E": {**base, "years": {2021: {"energy_tce": 1200.0}}},                        # no date known
        "F": {**base, "years": {2021: {"energy_tce": 1200.0}}, "supply_date": "2019-03-01"},
    }, "wenzhou-etdz-2021")
    assert v["two_high"].to_dict() == {"A": True, "B": False, "C": False, "D": True, "E": False, "F": True}
    assert v.loc["A", "reason_zh"].endswith(
        "；“两高”项目：2021年综合能耗1000吨标煤，不低于1000吨标煤，投产日期2018-01-01不早于2018-01-01")
    assert v.loc["F", "reason_zh"].endswith("供地日期2019-03-01晚于2018-01-01")


def test_wenzhou_small_to_above_flag():
    v = verdicts({"A": {"land_mu": 10, "tax": {2021: 500.0}, "scale": "below"},
                  "B": {"land_mu": 9.99, "tax": {2021: 500.0}, "scale": "below"},
                  "C": {"land_mu": 20, "tax": {2021: 500.0}, "scale": "above"}}, "wenzhou-etdz-2021")
    assert v["must_upgrade_scale"].to_dict() == {"A": True, "B": False, "C": False}


# ---- suichang-2022 ----------------------------------------------------------------------------

OLD = "2010-01-01"


def suichang(spec):
    full = peers(supply_date=OLD)
    full.update(spec)
    return verdicts(full, "suichang-2022")


def test_suichang_close_swap_by_consecutive_classes():
    v = suichang({})
    assert v.loc["P01", "disposal"] == "close"
    assert v.loc["P01", "reason_zh"] == "淘汰关停类：连续两年评价为D类（2020年D、2021年D）"
    assert v.loc["P02", "disposal"] == "swap"
    assert v.loc["P02", "reason_zh"] == "腾笼换鸟类：连续两年评价为C类（2020年C、2021年C）"
    assert v.loc["P05", "disposal"] == ""


def test_suichang_tax_rules_with_edges():
    w = {"public_welfare": True, "supply_date": OLD}  # not graded: tax rules only
    v = suichang({
        "S1": {"land_mu": 10, "tax": {2020: 6.2, 2021: 8.1}, **w},
        "S2": {"land_mu": 10, "tax": {2021: 8.1}, **w},                       # 2020 missing
        "S3": {"land_mu": 10, "tax": {2020: 10.5, 2021: 29.9}, **w},          # (1, 3) both years
        "S3x": {"land_mu": 10, "tax": {2020: 10.0, 2021: 29.9}, **w},         # exactly 1.0 is not 高于1万
        "S4": {"land_mu": 10, "tax": {2020: 30.0, 2021: 20.0}, **w},          # 3.0 is not < 3
        "S5": {"land_mu": 10, "tax": {2020: 30.0, 2021: 30.0}, **w},          # 2021 in [3, 5)
        "S6": {"land_mu": 10, "tax": {2021: 49.999}, **w},                    # 4.9999
        "S7": {"land_mu": 15, "tax": {2021: 75.0}, "scale": "below", **w},    # 5.0, 15 mu, 规下
        "S8": {"land_mu": 14.9, "tax": {2021: 74.5}, "scale": "below", **w},  # 5.0, 14.9 mu
        "S9": {"land_mu": 15, "tax": {2021: 75.0}, "scale": "above", **w},    # 规上
    })
    assert v.loc["S1", "disposal"] == "close"
    assert v.loc["S1", "reason_zh"] == "淘汰关停类：亩均税收连续两年低于1万元/亩（2020年0.62、2021年0.81万元/亩）"
    assert v.loc["S1", "reason_en"] == ("Close (eliminate): tax per mu below 1 (10k yuan/mu) in 2 consecutive years "
                                        "(2020: 0.62, 2021: 0.81)")
    assert v.loc["S2", "disposal"] == "" and "缺少2020年亩均税收数据" in v.loc["S2", "reason_zh"]
    assert v.loc["S3", "disposal"] == "swap"
    assert v.loc["S3", "reason_zh"] == ("腾笼换鸟类：亩均税收连续两年高于1万元/亩（2020年1.05、2021年2.99万元/亩），"
                                        "亩均税收连续两年低于3万元/亩（2020年1.05、2021年2.99万元/亩）")
    # 低于1万 closes and 高于1万元低于3万元 swaps: exactly 1.0 in 2020 is in neither, as the text says
    assert v.loc["S3x", "disposal"] == ""
    assert "2020年亩均税收1万元/亩，不高于1万元/亩" in v.loc["S3x", "reason_zh"]
    assert v.loc["S4", "disposal"] == ""
    assert v.loc["S5", "reason_zh"] == "整治提升类：2021年亩均税收3万元/亩，不低于3且低于5万元/亩"
    assert v.loc["S6", "disposal"] == "upgrade"
    assert v.loc["S7", "disposal"] == "upgrade"
    assert v.loc["S7", "reason_zh"] == ("整治提升类：2021年亩均税收5万元/亩，不低于5万元/亩，2021年用地面积15亩，"
                                        "不低于15亩，规模为规下")
    assert v.loc["S8", "disposal"] == "" and v.loc["S9", "disposal"] == ""


def test_suichang_not_producing_land_and_rule_order():
    v = suichang({
        "N1": {"land_mu": 10, "tax": {2021: 40.0}, "supply_date": "2017-05-01", "in_production": False},
        "N2": {"land_mu": 10, "tax": {2021: 40.0}, "supply_date": "2018-01-01", "production_date": "2022-03-01"},
        "N3": {"land_mu": 10, "tax": {2021: 40.0}, "supply_date": "2018-01-02", "in_production": False},
        "N4": {"land_mu": 10, "tax": {2021: 40.0}, "supply_date": "2017-01-01", "production_date": "2021-06-01"},
        "N5": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": "2017-01-01", "in_production": False},
    })
    assert v.loc["N1", "disposal"] == "swap"
    assert v.loc["N1", "reason_zh"] == "腾笼换鸟类：供地日期2017-05-01早于2018-01-01，至2021-12-31未投产"
    assert v.loc["N2", "reason_zh"] == ("腾笼换鸟类：供地日期2018-01-01不晚于2018-01-01，至2021-12-31未投产"
                                        "（投产日期2022-03-01）")
    # supplied after 2018-01-01 and not producing: not 已投产, and not the 腾笼换鸟 1 case: outside the scope
    assert v.loc["N3", "disposal"] == "" and not v.loc["N3", "in_scope"]
    assert v.loc["N3", "reason_zh"] == "至2021-12-31未投产；供地日期2018-01-02晚于2018-01-01，不在整治范围"
    assert v.loc["N4", "disposal"] == "upgrade"
    assert v.loc["N5", "disposal"] == "close"  # close comes first


def test_suichang_scope():
    v = suichang({
        "O1": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": "2021-03-05"},
        "O2": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": "2021-01-01"},
        "O3": {"land_mu": 2.9999, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": OLD},
        "I1": {"land_mu": 3.0, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": OLD},
        "O4": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}},
    })
    assert v.loc["O1", "reason_zh"] == "供地日期2021-03-05晚于2021-01-01，不在整治范围"
    assert v.loc["O1", "reason_en"] == "supply date 2021-03-05 after 2021-01-01: outside the rectification scope"
    assert v.loc["O2", "reason_zh"] == "供地日期2021-01-01不早于2021-01-01，不在整治范围"
    assert v.loc["O3", "reason_zh"] == "2021年用地面积2.9999亩，低于3亩，不在整治范围"
    assert v.loc["O4", "reason_zh"] == "供地日期缺失，不在整治范围"
    assert not v.loc[["O1", "O2", "O3", "O4"], "in_scope"].any()
    assert v.loc[["O1", "O2", "O3", "O4"], "disposal"].eq("").all()
    assert v.loc["I1", "in_scope"] and v.loc["I1", "disposal"] == "close"


def test_suichang_tenant_merged_into_holder():
    rows = (firm_rows("H", {2020: {"tax": 5.0}, 2021: {"tax": 5.0}}, scale="below", public_welfare=True)
            + firm_rows("T", {2020: {"tax": 1.0}, 2021: {"tax": 4.0}}, scale="below"))
    links = make_links([("H", "P1", "own", 10.0), ("T", "P1", "leased", 0.0)], ["H", "T"], eval_ids={"T": "H"})
    parcels = pd.DataFrame({"land_mu": [10.0], "supply_date": pd.to_datetime(["2015-01-01"])},
                           index=pd.Index(["P1"], name="parcel_id"))
    panel = unit_metrics(frame(rows), links, parcels=parcels)
    v = explained(evaluate(panel, load_preset("suichang-2022"), links=links))
    assert list(v.index) == ["H"]
    assert v.loc["H", "disposal"] == "close"  # 0.6 and 0.9: below 1 in both years
    assert v.loc["H", "reason_zh"] == "淘汰关停类：亩均税收连续两年低于1万元/亩（2020年0.6、2021年0.9万元/亩）"


# ---- scoring presets --------------------------------------------------------------------------


def test_huangyan_score_hand_computed():
    # Firm 1 (10 mu): tax/mu 1.5 x b1, va/mu = b2, va/tce = 2 x b3, no emission data, va/staff = b5,
    # R&D share 0.5 x b6. Firm 2 has emission data at exactly b4 (item 10), so firm 1 gets 10 too.
    va = 1361.6
    f1 = {"tax": 361.455, "value_added": va, "energy_tce": va / (2 * 2.694), "staff": va / 18.14,
          "revenue": 1000.0, "rd": 0.0151 * 1000.0}
    f2 = {"tax": 240.97, "value_added": va, "energy_tce": va / 2.694, "cod_t": va / 4929.81, "staff": va / 18.14,
          "revenue": 1000.0, "rd": 30.2}
    panel, links, _ = simple_panel({"F1": {"land_mu": 10, "years": {2022: f1}, "scale": "above"},
                                    "F2": {"land_mu": 10, "years": {2022: f2}, "scale": "above"}})
    g = graded(evaluate(panel, load_preset("huangyan-2022"), links=links))
    assert g.loc[("F1", 2022), "score"] == pytest.approx(30 * 1.5 + 20 + 20 * 2 + 10 + 10 + 10 * 0.5)
    assert g.loc[("F2", 2022), "score"] == pytest.approx(30 + 20 + 20 + 10 + 10 + 10)
    assert "缺单位排放增加值数据按组平均得分计" in g.loc[("F1", 2022), "grade_reason_zh"]


def test_huangyan_below_size_negative_tax_and_missing_tax():
    panel, links, _ = simple_panel({
        "B1": {"land_mu": 10, "years": {2022: {"tax": 115.932, "electricity": 115.932 / 0.2352 / 2}},
               "scale": "below"},
        "B2": {"land_mu": 10, "years": {2022: {"tax": -5.0, "electricity": 10.0}}, "scale": "below"},
        "B3": {"land_mu": 10, "years": {2022: {"electricity": 10.0}}, "scale": "below"},
    })
    g = graded(evaluate(panel, load_preset("huangyan-2022"), links=links))
    assert g.loc[("B1", 2022), "score"] == pytest.approx(50 + 100)
    assert g.loc[("B2", 2022), "score"] == 0.0  # negative ratios score 0
    assert g.loc[("B3", 2022), "grade"] == "N"
    assert g.loc[("B3", 2022), "grade_reason_zh"] == "缺少2022年亩均税收数据，不参评"


def _wenling(n_above, n_below, industry="3311"):
    spec = {f"A{i:02d}": {"land_mu": 10, "tax": {2022: 10.0 * (n_above - i + 1)}, "scale": "above",
                          "industry": industry} for i in range(1, n_above + 1)}
    spec.update({f"B{i:02d}": {"land_mu": 10, "years": {2022: {"tax": 10.0 * (n_below - i + 1), "revenue": 100.0,
                                                                 "electricity": 10.0}},
                               "scale": "below", "industry": industry} for i in range(1, n_below + 1)})
    return spec


def test_wenling_percentile_classes_on_small_groups():
    panel, links, _ = simple_panel(_wenling(10, 20))
    g = graded(evaluate(panel, load_preset("wenling-2022"), links=links)).xs(2022, level=1)["grade"]
    # 10 units, 规上 shares 20/60/15/5 %: cumulative counts 2, 8, 9.5 -> 10 (half up): no unit is D
    assert "".join(g[[f"A{i:02d}" for i in range(1, 11)]]) == "AABBBBBBCC"
    assert "".join(g[[f"B{i:02d}" for i in range(1, 21)]]) == "A" + "B" * 14 + "C" * 4 + "D"


def test_wenling_ranks_within_industry_groups_and_ties_share_the_better_class():
    spec = _wenling(5, 0, industry="1711")  # textiles
    spec.update({f"M{i}": {"land_mu": 10, "tax": {2022: 100.0}, "scale": "above", "industry": "3311"}
                 for i in range(5)})  # five metal firms, all tied
    panel, links, _ = simple_panel(spec)
    ev = evaluate(panel, load_preset("wenling-2022"), links=links)
    g = graded(ev).xs(2022, level=1)
    # 5 units, 20/60/15/5 %: cumulative counts 1, 4, 4.75 -> 5: the fifth is C, not D
    assert "".join(g.loc[[f"A{i:02d}" for i in range(1, 6)], "grade"]) == "ABBBC"
    assert set(g.loc[[f"M{i}" for i in range(5)], "grade"]) == {"A"}
    assert g.loc["A01", "grade_reason_zh"].endswith("规上（纺织鞋帽橡塑）组第1/5名（前20%），A类")
    assert g.loc["M0", "grade_reason_en"].endswith("rank 1 of 5 in above size (metals and metal products) (top 20%): "
                                                   "class A")


def test_wenling_leasing_penalties():
    rows = (firm_rows("H1", {2022: {"tax": 100.0}}, scale="above") + firm_rows("H2", {2022: {"tax": 100.0}},
                                                                                 scale="above")
            + firm_rows("L1", {2022: {"tax": 100.0, "revenue": 50.0, "electricity": 5.0}}, scale="below")
            + firm_rows("L2", {2022: {"tax": 100.0, "revenue": 50.0, "electricity": 5.0}}, scale="below"))
    tenants = [f"T{i}" for i in range(6)]
    rows += [r for t in tenants for r in firm_rows(t, {2022: {"tax": 1.0, "revenue": 5.0, "electricity": 1.0}},
                                                  scale="below")]
    shares = [("H1", "P1", "own", 9.0), ("T0", "P1", "leased", 1.0),                         # 1 tenant: 0
              ("H2", "P2", "own", 7.0), ("T1", "P2", "leased", 1.0), ("T2", "P2", "leased", 1.0),
              ("T3", "P2", "leased", 1.0),                                                  # 3 tenants: -10
              ("L1", "P3", "own", 9.0), ("T4", "P3", "leased", 1.0),                         # 1 tenant: -10
              ("L2", "P4", "own", 8.0), ("T5", "P4", "leased", 1.0), ("T5", "P5", "leased", 1.0),
              ("L2", "P5", "own", 9.0), ("T0", "P4", "leased", 1.0)]                         # 2 tenants: -15
    links = make_links(shares, ["H1", "H2", "L1", "L2", *tenants])
    assert tenant_counts(links).to_dict() == {"H1": 1, "H2": 3, "L1": 1, "L2": 2}
    panel = unit_metrics(frame(rows), links)
    # the integer-coded count per panel row agrees with the text-keyed one
    expected = tenant_counts(links).reindex(panel.index.get_level_values(0)).fillna(0).to_numpy(float)
    np.testing.assert_array_equal(_tenants_per_row(links, panel.index), expected)
    ev = evaluate(panel, load_preset("wenling-2022"), links=links)
    g = graded(ev).xs(2022, level=1)
    # Same tax per mu (10/mu) for H1 and H2: only the penalty separates them.
    assert g.loc["H1", "score"] - g.loc["H2", "score"] == pytest.approx(
        30 * 100 / 9 / ((100 / 9 + 100 / 7) / 2) - 30 * 100 / 7 / ((100 / 9 + 100 / 7) / 2) + 10)
    assert "出租厂房减分（出租给3家企业）-10分" in g.loc["H2", "grade_reason_zh"]
    assert "减分" not in g.loc["H1", "grade_reason_zh"]
    assert "出租厂房减分（出租给1家企业）-10分" in g.loc["L1", "grade_reason_zh"]
    assert "出租厂房减分（出租给2家企业）-15分" in g.loc["L2", "grade_reason_zh"]
    with pytest.raises(InputError, match=r"wenling-2022 has a leasing adjustment.*needs the links"):
        evaluate(panel, load_preset("wenling-2022"))


def test_huaian_benchmark_is_twice_last_years_mean():
    spec = {f"U{i}": {"land_mu": 10, "years": {2023: {"tax": 10.0 * i, "revenue": 10.0, "electricity": 1.0},
                                                   2024: {"tax": 20.0 * i, "revenue": 10.0, "electricity": 1.0}},
                      "scale": "above"} for i in (1, 2, 3)}
    panel, links, _ = simple_panel(spec)
    g = graded(evaluate(panel, load_preset("huaian-2024"), links=links))
    # 2024 tax/mu of U1 = 2; 2023 mean tax/mu = 2 -> benchmark 4; revenue/mu 1 vs 2 x 1; tax/kWh 20 vs 2 x 20.
    assert g.loc[("U1", 2024), "score"] == pytest.approx(45 * 2 / 4 + 35 * 1 / 2 + 20 * 20 / 40)
    assert g.loc[("U1", 2023), "grade"] == "N"  # no 2022 data: no benchmark for 2023
    assert g.loc[("U1", 2023), "grade_reason_zh"] == "2023年规上组各项指标均无基准值（无数据或均值不为正），不参评"


# ---- common behaviour -------------------------------------------------------------------------


def test_verdict_columns_and_no_data_in_reference_year():
    panel, links, _ = simple_panel({"A": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}},
                                    "B": {"land_mu": 10, "tax": {2020: 1.0}}})
    ev = evaluate(panel, load_preset("wenzhou-etdz-2021"), links=links)
    assert ev.year == 2021 and ev.policy == "wenzhou-etdz-2021"
    assert list(ev.verdicts.columns[:8]) == CONTRACT
    assert list(ev.verdicts.columns[-3:]) == ["reason_code", "rule", "exemption"]
    assert ev.verdicts.loc["B", "grade"] == "N"
    assert ev.reasons("zh").loc["B", "grade_reason_zh"] == "无2021年数据，不参评"
    assert list(ev.grades.columns) == ["score", "grade", "missing_data_zh", "missing_data_en"]
    with pytest.raises(InputError, match=r"no data for the reference year 2019[\s\S]*years in the panel: 2020, 2021"):
        evaluate(panel, load_preset("zhoushan-2020"), year=2019)


def test_not_graded_rules():
    panel, links, _ = simple_panel({
        "W": {"land_mu": 10, "tax": {2021: 10.0}, "scale": "above", "public_welfare": True},
        "N": {"land_mu": 10, "tax": {2021: 10.0}, "scale": "above", "production_date": "2020-03-01"},
        "O": {"land_mu": 10, "tax": {2021: 10.0}, "scale": "above", "production_date": "2019-12-31"},
        "S": {"land_mu": 10, "tax": {2021: 10.0}},
    })
    g = graded(evaluate(panel, load_preset("zhejiang-2019"), links=links)).xs(2021, level=1)
    assert g.loc["W", "grade_reason_zh"] == "公益类企业，不参评"
    assert g.loc["N", "grade_reason_zh"] == "投产未满2年：投产日期2020-03-01，至2021年末未满2年，不参评"
    assert g.loc["O", "grade"] != "N"
    assert g.loc["S", "grade_reason_zh"] == "规模未知，不参评"


def test_override_and_cutoff_classes(tmp_path):
    text = """title_zh = "t"\ntitle_en = "t"\nsource = "s"
[scoring.groups.above]
weights = { tax_per_mu = 100 }
benchmark = "fixed"
benchmarks = { tax_per_mu = 5 }
classes = { method = "cutoff", A = 120, B = 90, C = 60 }
[[scoring.overrides]]
zh = "亩均税收过低"
en = "tax per mu too low"
grade = "D"
when = { metric = "tax_per_mu", op = "<", value = 4 }
"""
    path = tmp_path / "cut.toml"
    path.write_text(text, encoding="utf-8")
    # score = 100 x tax per mu / 5 = 20 x tax per mu
    taxes = {"A": 60.0, "A2": 59.999, "B": 45.0, "C": 40.0, "X": 39.999, "D": 20.0}
    spec = {k: {"land_mu": 10, "tax": {2021: t}, "scale": "above"} for k, t in taxes.items()}
    panel, links, _ = simple_panel(spec)
    v = explained(evaluate(panel, load_preset(path), links=links))
    assert v["grade"].to_dict() == {"A": "A", "A2": "B", "B": "B", "C": "C", "X": "D", "D": "D"}
    assert v.loc["A", "grade_reason_zh"] == "得分120；A类（A类线120分）"
    assert v.loc["D", "grade_reason_zh"] == ("得分40；D类（低于C类线60分）；亩均税收过低：2021年亩均税收2万元/亩，"
                                             "低于4万元/亩，定为D类")
    assert v.loc["X", "grade_reason_zh"] == ("得分79.998；C类（C类线60分）；亩均税收过低：2021年亩均税收3.9999万元/亩，"
                                             "低于4万元/亩，定为D类")
    assert v.loc["A", "reason_zh"] == v.loc["A", "grade_reason_zh"]  # no disposal section


def test_evaluate_does_not_mutate_panel():
    panel, links, _ = simple_panel(peers())
    before = panel.copy()
    evaluate(panel, load_preset("suichang-2022"), links=links)
    pd.testing.assert_frame_equal(panel, before)


ORDER = {"A": 0, "B": 1, "C": 2, "D": 3}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.5, 500.0), min_size=2, max_size=25), st.data())
def test_grade_never_improves_when_tax_falls(taxes, data):
    """Lower one unit's tax, all else equal: its class never gets better."""
    i = data.draw(st.integers(0, len(taxes) - 1))
    factor = data.draw(st.floats(0.0, 1.0))
    preset = load_preset(data.draw(st.sampled_from(["wenzhou-etdz-2021", "wenling-2022", "huangyan-2022"])))
    scale = data.draw(st.sampled_from(["above", "below"]))

    def grade_of(tax_list):
        spec = {f"U{k:02d}": {"land_mu": 10, "years": {2022: {"tax": t, "electricity": 10.0, "revenue": 50.0}},
                              "scale": scale} for k, t in enumerate(tax_list)}
        panel, links, _ = simple_panel(spec)
        return evaluate(panel, preset, links=links).verdicts.loc[f"U{i:02d}", "grade"]

    lowered = list(taxes)
    lowered[i] = taxes[i] * factor
    assert ORDER[grade_of(lowered)] >= ORDER[grade_of(taxes)]


# ---- parcels ----------------------------------------------------------------------------------


def test_flag_parcels_by_each_rule():
    rows = (firm_rows("L", {2021: {"tax": 1.0}}, name="低效厂") + firm_rows("G", {2021: {"tax": 500.0}})
            + firm_rows("K", {2021: {"tax": 9.0}}))
    links = make_links([("L", "P1", "own", 5.0), ("G", "P1", "leased", 5.0), ("G", "P2", "own", 10.0),
                        ("K", "P3", "own", 10.0)], ["L", "G", "K"], parcels=["P1", "P2", "P3", "P4"])
    parcels = pd.DataFrame({"land_mu": [10.0, 10.0, 10.0, 3.0], "floor_area_m2": [10000.0, 6000.0, np.nan, 0.0]},
                           index=pd.Index(["P1", "P2", "P3", "P4"], name="parcel_id"))
    firms = frame(rows)
    panel = unit_metrics(firms, links, parcels=parcels)
    pp = parcel_metrics(parcels, firms, links)
    policy = load_preset("zhoushan-2020")
    ev = evaluate(panel, policy, links=links)
    flags = flag_parcels(parcels, pp, links, ev.verdicts, policy, year=2021)
    assert flags["low_efficiency"].tolist() == [True, False, True, False]
    assert flags.loc["P1", "low_eff_reason_zh"] == "地块上有低效企业企业L（低效企业（亩均税收2万元以下））"
    everything = dataclasses.replace(policy, parcel_rule=ParcelRule(any_firm_flagged=False, tax_per_mu_below=1.0,
                                                                    idle=True, plot_ratio_below=1.0))
    flags = flag_parcels(parcels, pp, links, ev.verdicts, everything, year=2021)
    # P1: (1 + 500 x 5/15) / 10 = 16.77/mu, plot ratio 1.5; P2: 33.3/mu, 0.9; P3: 0.9/mu; P4: idle, 0.
    assert flags["low_efficiency"].tolist() == [False, True, True, True]
    assert flags.loc["P2", "low_eff_reason_zh"] == "容积率0.9，低于1"
    assert flags.loc["P3", "low_eff_reason_zh"] == "2021年地块亩均税收0.9万元/亩，低于1万元/亩"
    assert flags.loc["P4", "low_eff_reason_zh"] == "地块无企业使用（闲置）；容积率0，低于1"


def test_suichang_foundry_and_chemical_firms_are_listed_apart():
    # “铸造行业、化工行业整治标准另行制定”: listed under their own heading, not closed by this document
    v = suichang({
        "C1": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": OLD, "industry": "C2614"},
        "C2": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": OLD, "industry": "3391"},
        "M1": {"land_mu": 10, "tax": {2020: 1.0, 2021: 1.0}, "supply_date": OLD, "industry": "3311"},
    })
    assert list(v.loc[["C1", "C2"], "disposal"]) == ["separate", "separate"]
    assert v.loc["C1", "reason_zh"] == "铸造、化工行业（整治标准另行制定）：行业代码为C2614"
    assert not v.loc[["C1", "C2"], "low_efficiency"].any()
    assert v.loc["M1", "disposal"] == "close"


def test_zhoushan_lists_industrial_firms_only():
    v = verdicts({
        "W1": {"land_mu": 10, "tax": {2019: 5.0}, "industry": "5191", "scale": "above"},   # wholesale
        "M1": {"land_mu": 10, "tax": {2019: 5.0}, "industry": "C3311", "scale": "above"},  # manufacturing
        "U1": {"land_mu": 10, "tax": {2019: 5.0}, "scale": "above"},                       # no code: kept in
    }, "zhoushan-2020")
    assert v.loc["W1", "disposal"] == "" and not v.loc["W1", "in_scope"]
    assert v.loc["W1", "reason_zh"] == "行业代码为5191，不在工业企业（行业代码06-46）"
    assert list(v.loc[["M1", "U1"], "disposal"]) == ["low_efficiency", "low_efficiency"]



def test_suichang_reads_the_county_s_official_grades_before_its_own():
    # P01 is computed D both years (the peers' lowest); the county's published list says B in 2021, so
    # the two-year D rule does not hold. P20 (computed A) is published D both years ("D类", "d"): closed.
    v_comp = suichang({})
    assert v_comp.loc["P01", "disposal"] == "close"
    spec = peers(supply_date=OLD)
    spec["P01"] = {**spec["P01"], "years": {2020: {"official_grade": "D"}, 2021: {"official_grade": "B档"}}}
    spec["P20"] = {**spec["P20"], "years": {2020: {"official_grade": "D类"}, 2021: {"official_grade": "d"}}}
    spec["P10"] = {**spec["P10"], "years": {2021: {"official_grade": "不参评"}}}  # not a class: computed used
    panel, links, _ = simple_panel(spec)
    ev = evaluate(panel, load_preset("suichang-2022"), links=links)
    v = explained(ev)
    assert v.loc["P01", "disposal"] != "close"
    assert v.loc["P20", "disposal"] == "close"
    assert v.loc["P20", "reason_zh"] == "淘汰关停类：连续两年评价为D类（2020年D、2021年D）"
    # both columns side by side, for the report's comparison
    assert v.loc["P20", "grade"] == "A" and v.loc["P20", "official_grade"] == "D"
    assert v.loc["P01", "official_grade"] == "B"
    assert pd.isna(v.loc["P10", "official_grade"])
    assert ev.grades.loc[("P20", 2020), "official_grade"] == "D"

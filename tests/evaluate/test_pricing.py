"""Differentiated prices: the [pricing] loader's errors and hand-computed amounts with their unit conversions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import ConfigError
from gisefficiency.evaluate.policy import load_preset, parse_preset
from gisefficiency.evaluate.pricing import price_table, price_totals

BASE = {
    "title_zh": "测试", "title_en": "test", "source": "test",
    "categories": [{"id": "close", "zh": "淘汰关停", "en": "close", "colour": "#e31a1c"},
                   {"id": "swap", "zh": "腾笼换鸟", "en": "swap", "colour": "#ff7f00"}],
    "disposal": {"rules": [{"category": "close", "when": {"metric": "tax_per_mu", "op": "<", "value": 1.0}}]},
}
PRICING = {
    "source": "某县差别化政策（测试）",
    "items": [
        {"id": "elec", "resource": "electricity", "by": "grade", "rates": {"C": 0.1, "D": 0.3}},
        # 城镇土地使用税 halved for class A at a base of 6 元/m² a year: -3 元/m².
        {"id": "land_a", "resource": "land", "by": "grade", "shares": {"A": -0.5}, "base": 6.0,
         "source": "某县土地使用税减免（测试）"},
        {"id": "land_swap", "resource": "land", "by": "category", "rates": {"swap": 2.0}},
    ],
}


def _policy(pricing=PRICING):
    return parse_preset({**BASE, "pricing": pricing}, where="test.toml", name="test")


def _result(policy, year=2023):
    ids = ["F1", "F2", "F3", "F4", "F5"]
    index = pd.MultiIndex.from_product([ids, [2022, 2023]], names=["eval_id", "year"])
    panel = pd.DataFrame({
        "name": np.repeat(["甲", "乙", "丙", "丁", "戊"], 2),
        # 2022 figures differ so a test would see the wrong year being priced.
        "electricity": [1.0, 120.0, 1.0, 50.5, 1.0, 200.0, 1.0, np.nan, 1.0, 80.0],
        "land_mu": [1.0, 30.0, 1.0, 15.0, 1.0, 45.0, 1.0, 9.0, 1.0, 12.0],
    }, index=index)
    grades = pd.DataFrame({"grade": ["B", "C", "B", "D", "B", "A", "B", "D", "B", "B"]}, index=index)
    verdicts = pd.DataFrame({"disposal": ["swap", "close", "", "close", ""]}, index=pd.Index(ids, name="eval_id"))
    firms = pd.DataFrame({"eval_id": ids, "street": ["东街", "东街", "西街", "西街", "西街"],
                          "industry": ["C13", "C13", "C33", "C33", "C33"]}, index=pd.Index(ids, name="uscc"))
    return SimpleNamespace(policy=policy, panel=panel, year=year, firms=firms,
                           evaluation=SimpleNamespace(grades=grades, verdicts=verdicts))


def test_amounts_are_hand_computed_with_the_unit_conversions():
    prices = price_table(_result(_policy())).set_index(["eval_id", "item"])
    # F1, class C, 120 万kWh = 1,200,000 kWh at +0.1 元/kWh = 120,000 元 = 12 万元.
    assert prices.loc[("F1", "elec"), "amount_wan"] == pytest.approx(12.0)
    # F2, class D, 50.5 万kWh = 505,000 kWh at +0.3 元/kWh = 151,500 元 = 15.15 万元.
    assert prices.loc[("F2", "elec"), "amount_wan"] == pytest.approx(15.15)
    # F3, class A, 45 亩 = 30,000 m² at -0.5 × 6 = -3 元/m² = -90,000 元 = -9 万元.
    assert prices.loc[("F3", "land_a"), "rate"] == pytest.approx(-3.0)
    assert prices.loc[("F3", "land_a"), "amount_wan"] == pytest.approx(-9.0)
    # F1 is in category swap: 30 亩 = 20,000 m² at 2 元/m² = 40,000 元 = 4 万元.
    assert prices.loc[("F1", "land_swap"), "amount_wan"] == pytest.approx(4.0)
    # F4, class D without an electricity figure: missing, never 0.
    assert np.isnan(prices.loc[("F4", "elec"), "amount_wan"])
    # F5, class B, has no rate: no row.
    assert "F5" not in prices.index.get_level_values("eval_id")
    assert prices.loc[("F3", "land_a"), "source"] == "某县土地使用税减免（测试）"
    assert prices.loc[("F1", "elec"), "source"] == "某县差别化政策（测试）"
    assert prices.loc[("F1", "elec"), "street"] == "东街"


def test_totals_by_street_and_category_keep_missing_missing():
    prices = price_table(_result(_policy()))
    street = price_totals(prices, by="street")
    assert street.loc["东街", "elec"] == pytest.approx(27.15)
    assert street.loc["东街", "total"] == pytest.approx(31.15)
    assert street.loc["东街", "n_units"] == 2
    assert np.isnan(street.loc["西街", "elec"])  # F4's only electricity row has no figure
    assert street.loc["西街", "total"] == pytest.approx(-9.0)
    category = price_totals(prices, by="disposal")
    assert category.loc["close", "elec"] == pytest.approx(15.15)
    assert category.loc["swap", "total"] == pytest.approx(16.0)


def test_official_grade_is_priced_where_the_county_published_one():
    result = _result(_policy())
    result.evaluation.grades["official_grade"] = pd.Series(pd.NA, index=result.panel.index, dtype="object")
    result.evaluation.grades.loc[("F5", 2023), "official_grade"] = "D"
    prices = price_table(result).set_index(["eval_id", "item"])
    assert prices.loc[("F5", "elec"), "amount_wan"] == pytest.approx(24.0)  # 80 万kWh × 0.3


def test_another_year_prices_that_years_quantities():
    prices = price_table(_result(_policy()), year=2022)
    assert prices.empty or "elec" not in set(prices["item"])  # every unit was class B in 2022


def test_no_pricing_section_gives_an_empty_frame():
    assert price_table(_result(parse_preset(BASE, where="t.toml", name="t"))).empty
    assert load_preset("suichang-2022").pricing is None


@pytest.mark.parametrize(("item", "match"), [
    ({"resource": "steam", "rates": {"D": 1.0}}, r"test\.toml: \[pricing\.items\[0\]\] 'resource' = 'steam': use one of "
                                                 r"electricity, land, energy_tce, water, gas"),
    ({"resource": "electricity", "rates": {"E": 1.0}}, r"grade 'E' is not one of A, B, C, D, N"),
    ({"resource": "electricity", "by": "category", "rates": {"upgrade": 1.0}}, r"category 'upgrade' is not one of close, swap"),
    ({"resource": "electricity", "rates": {"D": "0.3"}}, r"rate for 'D' must be a number"),
    ({"resource": "electricity", "rates": {"D": 0.3}, "shares": {"A": -1}}, r"either 'rates'"),
    ({"resource": "land", "shares": {"A": -1}}, r"'shares' need 'base'"),
    ({"resource": "land", "rates": {"A": -1}, "base": 6}, r"'base' goes with 'shares'"),
    ({"resource": "electricity", "by": "score", "rates": {"D": 1}}, r"'by' = 'score'"),
    ({"resource": "electricity", "rates": {"D": 1}, "per": "kWh"}, r"unknown key\(s\) 'per'"),
])
def test_bad_items_name_the_file_and_key(item, match):
    with pytest.raises(ConfigError, match=match):
        _policy({"source": "doc", "items": [item]})


def test_a_source_is_required_and_ids_are_unique():
    with pytest.raises(ConfigError, match=r"name the document the rates come from"):
        _policy({"items": [{"resource": "electricity", "rates": {"D": 0.3}}]})
    with pytest.raises(ConfigError, match=r"'id' 'electricity_grade' must be a new"):
        _policy({"source": "d", "items": [{"resource": "electricity", "rates": {"D": 0.3}},
                                          {"resource": "electricity", "rates": {"C": 0.1}}]})
    with pytest.raises(ConfigError, match=r"at least one \[\[pricing.items\]\]"):
        _policy({"source": "d"})


def test_items_on_one_resource_get_distinct_labels():
    labels = [(i.zh, i.en) for i in _policy().pricing.items]
    assert labels[0] == ("用电", "electricity")
    assert labels[1:] == [("用地（城镇土地使用税） (land_a)", "land (land-use tax) (land_a)"),
                          ("用地（城镇土地使用税） (land_swap)", "land (land-use tax) (land_swap)")]


def test_policy_with_pricing_stays_hashable():
    assert hash(_policy()) == hash(_policy())


@settings(max_examples=50, deadline=None)
@given(rate=st.floats(-2, 2, allow_nan=False), elec=st.floats(0, 1e6, allow_nan=False),
       mu=st.floats(0, 1e4, allow_nan=False))
def test_amounts_scale_with_rate_and_quantity(rate, elec, mu):
    policy = _policy({"source": "d", "items": [
        {"id": "e", "resource": "electricity", "rates": {"C": rate}},
        {"id": "l", "resource": "land", "rates": {"C": rate}}]})
    result = _result(policy)
    result.panel.loc[("F1", 2023), ["electricity", "land_mu"]] = [elec, mu]
    prices = price_table(result).set_index(["eval_id", "item"])
    # 元/kWh × 万kWh × 10,000 kWh / 10,000 元 = 万元; 元/m² × 亩 × 10000/15 m² / 10,000 = 万元.
    assert prices.loc[("F1", "e"), "amount_wan"] == pytest.approx(rate * elec, abs=1e-9)
    assert prices.loc[("F1", "l"), "amount_wan"] == pytest.approx(rate * mu / 15, abs=1e-9)

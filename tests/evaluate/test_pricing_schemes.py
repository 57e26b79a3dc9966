"""Shipped pricing schemes (Linhai's differentiated water price), water and gas in the firm table, and the
scheme in force from a preset or a config: hand-computed amounts, one firm per class."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gisefficiency.config import load_config
from gisefficiency.core.errors import ConfigError
from gisefficiency.evaluate.policy import load_preset, parse_preset
from gisefficiency.evaluate.pricing import (
    list_pricing_schemes,
    load_pricing,
    price_table,
    price_totals,
    with_pricing,
)
from gisefficiency.io.optional import with_optional_columns
from gisefficiency.io.tables import read_firms

BASE = {
    "title_zh": "测试", "title_en": "test", "source": "test",
    "categories": [{"id": "close", "zh": "淘汰关停", "en": "close", "colour": "#e31a1c"}],
    "disposal": {"rules": [{"category": "close", "when": {"metric": "tax_per_mu", "op": "<", "value": 1.0}}]},
}


def _policy(pricing):
    return parse_preset({**BASE, "pricing": pricing}, where="test.toml", name="test")


def _result(policy, *, grades, water, gas=None, streets=None):
    """One unit per grade (2023), with its water (and gas) figures; 2022 rows differ to catch the wrong year."""
    ids = [f"F{i + 1}" for i in range(len(grades))]
    index = pd.MultiIndex.from_product([ids, [2022, 2023]], names=["eval_id", "year"])
    n = len(ids)
    panel = pd.DataFrame({
        "name": np.repeat([f"企业{i}" for i in ids], 2),
        "water_m3": np.ravel(np.column_stack([np.full(n, 1.0), water])),
        "gas_m3": np.ravel(np.column_stack([np.full(n, 1.0), gas if gas is not None else np.full(n, np.nan)])),
        "land_mu": 10.0,
    }, index=index)
    g = pd.DataFrame({"grade": np.ravel(np.column_stack([np.full(n, "B"), grades]))}, index=index)
    verdicts = pd.DataFrame({"disposal": [""] * n}, index=pd.Index(ids, name="eval_id"))
    firms = pd.DataFrame({"eval_id": ids, "street": streets or ["东街"] * n}, index=pd.Index(ids, name="uscc"))
    return SimpleNamespace(policy=policy, panel=panel, year=2023, firms=firms,
                           evaluation=SimpleNamespace(grades=g, verdicts=verdicts))


def test_linhai_scheme_quotes_its_document():
    schemes = {s.name: s for s in list_pricing_schemes()}
    assert "linhai-2022" in schemes
    linhai = schemes["linhai-2022"]
    assert linhai.title_zh.startswith("临海市差别化水价")
    (item,) = linhai.pricing.items
    assert (item.id, item.resource, item.by, dict(item.rates)) == ("water", "water", "grade", {"C": 0.1, "D": 0.3})
    # The clause as the notice words it, the document it amends, the date and the day it takes effect.
    for text in ("临政办发〔2019〕75号", "综合评价为C类企业，供水价格每立方米加价0.1元",
                 "综合评价为D类企业，供水价格每立方米加价0.3元", "2022年1月28日", "2022年3月1日起施行"):
        assert text in item.source
    assert load_pricing("linhai-2022") == linhai.pricing


def test_linhai_water_one_firm_per_class_by_hand():
    policy = _policy({"scheme": "linhai-2022"})
    result = _result(policy, grades=["A", "B", "C", "D", "D", "N"],
                     water=[10_000.0, 20_000.0, 12_345.0, 8_000.0, np.nan, 5_000.0])
    prices = price_table(result).set_index("eval_id")
    # A, B and N have no rate in the notice: no row.
    assert list(prices.index) == ["F3", "F4", "F5"]
    # F3, class C: 12,345 m³ × 0.1 元/m³ = 1,234.5 元 = 0.12345 万元.
    assert prices.loc["F3", "rate"] == pytest.approx(0.1)
    assert prices.loc["F3", "amount_wan"] == pytest.approx(0.12345)
    # F4, class D: 8,000 m³ × 0.3 元/m³ = 2,400 元 = 0.24 万元.
    assert prices.loc["F4", "amount_wan"] == pytest.approx(0.24)
    assert prices.loc["F4", "quantity_unit"] == "m³" and prices.loc["F4", "rate_unit"] == "元/m³"
    # F5, class D without a water figure: no amount, marked, never 0.
    assert np.isnan(prices.loc["F5", "amount_wan"])
    assert prices["quantity_missing"].tolist() == [False, False, True]
    totals = price_totals(prices.reset_index(), by="grade")
    assert totals.loc["D", "water"] == pytest.approx(0.24)  # the missing one adds nothing
    assert totals.loc["D", "n_units"] == 2


def test_gas_and_water_items_side_by_side():
    policy = _policy({"source": "某县差别化用气（测试）", "items": [
        {"id": "gas_d", "resource": "gas", "rates": {"D": 1.0}},
        {"id": "water_cd", "resource": "water", "rates": {"C": 0.5, "D": 1.0}}]})
    result = _result(policy, grades=["C", "D"], water=[4_000.0, 3_000.0], gas=[np.nan, 52_000.0])
    prices = price_table(result).set_index(["eval_id", "item"])
    # F2, class D: 52,000 m³ gas × 1 元/m³ = 5.2 万元; 3,000 m³ water × 1 元/m³ = 0.3 万元.
    assert prices.loc[("F2", "gas_d"), "amount_wan"] == pytest.approx(5.2)
    assert prices.loc[("F2", "water_cd"), "amount_wan"] == pytest.approx(0.3)
    # F1, class C: no gas rate for C; 4,000 m³ water × 0.5 = 0.2 万元.
    assert ("F1", "gas_d") not in prices.index
    assert prices.loc[("F1", "water_cd"), "amount_wan"] == pytest.approx(0.2)
    assert prices.loc[("F2", "gas_d"), "item_zh"] == "用气（天然气）"


def test_a_preset_adds_its_own_items_to_a_scheme():
    policy = _policy({"scheme": "linhai-2022", "items": [
        {"id": "gas_d", "resource": "gas", "rates": {"D": 1.0}, "source": "某县用气（测试）"}]})
    assert [i.id for i in policy.pricing.items] == ["water", "gas_d"]
    assert policy.pricing.source.startswith("临海市人民政府办公室")
    with pytest.raises(ConfigError, match=r"\[pricing\.items\[0\]\] 'id' 'water' must be a new"):
        _policy({"scheme": "linhai-2022", "items": [{"id": "water", "resource": "water", "rates": {"D": 1}}]})


def test_bad_schemes_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(ConfigError, match=r"test\.toml: \[pricing\] 'scheme' = 'nowhere-2020': unknown pricing "
                                          r"scheme 'nowhere-2020' -> use one of linhai-2022"):
        _policy({"scheme": "nowhere-2020"})
    with pytest.raises(ConfigError, match=r"'scheme' must name a pricing scheme or file, got 3"):
        _policy({"scheme": 3})
    nested = tmp_path / "nested.toml"
    nested.write_text('[pricing]\nscheme = "linhai-2022"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"nested\.toml: \[pricing\] a pricing file cannot take another scheme"):
        load_pricing(nested)
    by_category = tmp_path / "cat.toml"
    by_category.write_text('[pricing]\nsource = "d"\n[[pricing.items]]\nresource = "water"\nby = "category"\n'
                           'rates = { close = 1.0 }\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"category 'close' is not one of none"):
        load_pricing(by_category)
    with pytest.raises(ConfigError, match=r"pricing file .*absent\.toml not found"):
        load_pricing(tmp_path / "absent.toml")
    extra = tmp_path / "extra.toml"
    extra.write_text('county = "x"\n[pricing]\nsource = "d"\n[[pricing.items]]\nresource = "water"\n'
                     'rates = { D = 1.0 }\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"extra\.toml: unknown key\(s\) 'county'"):
        load_pricing(extra)


def test_a_pricing_file_of_the_county_loads_by_path(tmp_path):
    mine = tmp_path / "my_prices.toml"
    mine.write_text('title_zh = "某县"\n[pricing]\nsource = "某县文件（测试）"\n[[pricing.items]]\nid = "gas"\n'
                    'resource = "gas"\nrates = { C = 0.5, D = 1.5 }\n', encoding="utf-8")
    pricing = load_pricing(mine)
    assert [(i.id, dict(i.rates)) for i in pricing.items] == [("gas", {"C": 0.5, "D": 1.5})]
    # Named from a preset file, the pricing file is found next to the preset, wherever the run starts.
    preset = tmp_path / "my_county.toml"
    body = (Path(__file__).resolve().parents[2] / "gisefficiency" / "evaluate" / "presets" / "suichang-2022.toml")
    preset.write_text(body.read_text(encoding="utf-8") + '\n[pricing]\nscheme = "my_prices.toml"\n', encoding="utf-8")
    assert load_preset(preset).pricing == pricing


def test_config_pricing_puts_the_scheme_in_force(tmp_path):
    preset = load_preset("suichang-2022")
    assert with_pricing(preset, None) is preset and with_pricing(preset, " ") is preset
    linhai = with_pricing(preset, "linhai-2022")
    assert linhai.pricing == load_pricing("linhai-2022") and linhai.disposal == preset.disposal
    (tmp_path / "county").mkdir()
    config = tmp_path / "county" / "county.toml"
    config.write_text('[policy]\npreset = "suichang-2022"\npricing = "prices/mine.toml"\n', encoding="utf-8")
    assert load_config(config).policy.pricing == str((tmp_path / "county" / "prices" / "mine.toml").resolve())
    config.write_text('[policy]\npreset = "suichang-2022"\npricing = "linhai-2022"\n', encoding="utf-8")
    assert load_config(config).policy.pricing == "linhai-2022"


def test_water_and_gas_headers_and_units_are_read(tmp_path):
    frame = pd.DataFrame({
        "统一社会信用代码": ["91330000MA2XXXXX0A", "91330000MA2XXXXX1B", "91330000MA2XXXXX2C"],
        "年度": [2023, 2023, 2023], "实缴税金（万元）": [10.0, 20.0, 30.0],
        "年用水量（万吨）": [1.25, None, 0.5], "天然气用量(立方米)": [52_000.0, 0.0, None],
    })
    firms = read_firms(frame)
    # 1.25 万吨 = 12,500 m³; a blank cell stays missing; 0 m³ of gas is a real 0.
    assert firms["water_m3"].tolist()[0] == pytest.approx(12_500.0)
    assert np.isnan(firms["water_m3"].iloc[1]) and firms["water_m3"].iloc[2] == pytest.approx(5_000.0)
    assert firms["gas_m3"].iloc[:2].tolist() == [52_000.0, 0.0] and np.isnan(firms["gas_m3"].iloc[2])
    for water, gas in (("用水量", "用气量"), ("用水总量（吨）", "年用气量（立方米）"), ("总用水量", "天然气消费量")):
        renamed = read_firms(frame.rename(columns={"年用水量（万吨）": water, "天然气用量(立方米)": gas}))
        assert {"water_m3", "gas_m3"} <= set(renamed.columns) and water not in renamed.columns
    # A table without them gets them all missing, as every optional figure.
    bare = with_optional_columns(read_firms(frame.drop(columns=["年用水量（万吨）", "天然气用量(立方米)"])), "firms")
    assert bare["water_m3"].isna().all() and bare["gas_m3"].isna().all()
    assert str(bare["water_m3"].dtype) == "float64"


def test_sample_county_run_prices_water_under_linhai(demo_result):
    result = dataclasses.replace(demo_result, policy=with_pricing(demo_result.policy, "linhai-2022"))
    prices = price_table(result)
    year = result.year
    panel = result.panel.xs(year, level="year")
    grades = result.evaluation.grades.xs(year, level="year")
    grade = grades["grade"].astype(object)
    if "official_grade" in grades:
        grade = grades["official_grade"].astype(object).where(grades["official_grade"].notna(), grade)
    grade = grade.reindex(panel.index)
    # Every class C and D unit has a row; its amount is its own water × the notice's rate.
    expected = panel.loc[grade.isin(["C", "D"]).to_numpy(), "water_m3"]
    assert sorted(prices["eval_id"]) == sorted(expected.index)
    rate = grade.reindex(expected.index).map({"C": 0.1, "D": 0.3})
    by_unit = prices.set_index("eval_id")["amount_wan"]
    np.testing.assert_allclose(by_unit.reindex(expected.index), expected * rate / 10_000)
    assert prices["quantity_missing"].sum() == expected.isna().sum() > 0

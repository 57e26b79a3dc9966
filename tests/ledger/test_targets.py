"""target_progress: levels, compliance shares and ledger counts, hand-computed on tiny frames."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from _ledger_fixtures import fake_result

from gisefficiency.core.errors import ConfigError
from gisefficiency.evaluate.policy import parse_preset
from gisefficiency.ledger import target_progress

CATS = [{"id": c, "zh": z, "en": c, "colour": "#d73027"} for c, z in
        (("close", "淘汰关停类"), ("swap", "腾笼换鸟类"), ("upgrade", "整治提升类"))]
BASE = {"title_zh": "t", "title_en": "t", "source": "t", "categories": CATS,
        "disposal": {"rules": [{"category": "close", "when": {"metric": "tax_per_mu", "op": "<", "value": 1}}]}}


def _policy(*targets):
    data = copy.deepcopy(BASE)
    data["targets"] = {"yearly": [{"zh": "x", "source": "s", **t} for t in targets]}
    return parse_preset(data, where="t.toml", name="t")


# Units, year 2021: above-size u1 (tax 300 on 10 mu), u2 (tax 100 on 10 mu), u3 (tax missing on 50 mu);
# below-size u4 (1.99995 per mu on 1 mu: 2.0000 at 4 decimals), u5 (1 per mu), u6 (0.5 per mu, exempt).
PANEL = pd.DataFrame({
    "eval_id": ["u1", "u2", "u3", "u4", "u5", "u6", "u1"],
    "year": [2021, 2021, 2021, 2021, 2021, 2021, 2022],
    "scale": ["above", "above", "above", "below", "below", "below", "above"],
    "tax": [300.0, 100.0, np.nan, 1.99995, 2.0, 1.0, 500.0],
    "value_added": [1000.0, np.nan, 800.0, 5.0, 6.0, 1.0, 2000.0],
    "land_mu": [10.0, 10.0, 50.0, 1.0, 2.0, 2.0, 10.0],
}).set_index(["eval_id", "year"])
PANEL["tax_per_mu"] = PANEL["tax"] / PANEL["land_mu"]
VERDICTS = pd.DataFrame({"in_scope": [True] * 6, "exempt": [False] * 5 + [True]},
                        index=pd.Index(["u1", "u2", "u3", "u4", "u5", "u6"], name="eval_id"))


def _result(policy):
    return fake_result(2021, {}, policy=policy, panel=PANEL, verdicts=VERDICTS)


def test_levels_from_the_panel():
    p = _policy({"year": 2021, "measure": "tax_per_mu", "group": "above", "value": 30},
                {"year": 2021, "measure": "va_per_mu", "group": "above", "value": 150},
                {"year": 2023, "measure": "tax_per_mu", "group": "above", "value": 42})
    out = target_progress(_result(p))
    # tax: (300 + 100) / (10 + 10) = 20 (u3's blank tax is not 0 over its 50 mu); va: (1000 + 800) / 60 = 30.
    assert out["achieved"].iloc[:2].tolist() == pytest.approx([20.0, 30.0])
    assert out["progress"].iloc[:2].tolist() == pytest.approx([20 / 30, 30 / 150])
    assert out["met"].iloc[:2].tolist() == [False, False]
    assert np.isnan(out.loc[2, "achieved"]) and out.loc[2, "note_zh"] == "数据无该年度"
    assert pd.isna(out.loc[2, "met"])
    assert set(out["measured_by"]) == {"data"}


def test_compliance_share_excludes_exempt_and_rounds_like_the_rules():
    p = _policy({"year": 2021, "measure": "share_tax_per_mu_at_least", "group": "below", "threshold": 2,
                 "value": 0.8},
                {"year": 2021, "measure": "share_tax_per_mu_at_least", "group": "above", "threshold": 2,
                 "value": 1.0})
    out = target_progress(_result(p))
    # below: u4 at 2.0000 counts, u5 (1.0) does not, u6 exempt: 1 of 2. above: u1 30, u2 10 of 2 known: 1.0.
    assert out["achieved"].tolist() == pytest.approx([0.5, 1.0])
    assert out["met"].tolist() == [False, True] and out["note_zh"].tolist() == ["未达成", "达成"]


LEDGER = pd.DataFrame({
    "uscc": ["a", "b", "c", "d", "e", "f"],
    "status": ["已销号", "已销号", "已销号", "已销号", "继续列入", "已销号"],
    "closed_year": pd.array([2022, 2023, 2023, 2023, pd.NA, 2021], dtype="Int64"),
    "closed_kind": ["退出", "退出", "提升", "退出", None, "退出"],
    "category_id": ["close", "close", "swap", "upgrade", "close", "close"],
    "land_mu": [12.0, 30.5, 8.0, 20.0, 50.0, 99.0],
    "energy_tce": [100.0, np.nan, 10.0, 40.0, 5.0, 1.0],
    "category_2023": [None, None, None, None, "淘汰关停类", None],
})


def test_ledger_counts_windows_and_categories():
    p = _policy(
        {"year": 2023, "measure": "firms_exited", "value": 3, "cumulative": True, "since": 2022},
        {"year": 2023, "measure": "firms_delisted", "value": 1, "categories": ["swap", "upgrade"]},
        {"year": 2023, "measure": "freed_mu", "value": 800, "cumulative": True, "since": 2022},
        {"year": 2023, "measure": "freed_tce", "value": 100},
        {"year": 2023, "measure": "firms_raised", "value": 1, "cumulative": True},
        {"year": 2024, "measure": "firms_delisted", "value": 10, "cumulative": True},
    )
    out = target_progress(_result(p), ledger=LEDGER)
    # exited 2022-2023: a, b, d = 3 (f closed 2021 is before 'since'); swap/upgrade delisted in 2023: c, d = 2;
    # land of exits 2022-2023: 12 + 30.5 + 20 = 62.5; energy of 2023 exits: b (blank) + d 40 = 40;
    # raised, all years: c = 1; delisted to 2024: a, b, c, d, f = 5, as of the ledger's 2023.
    assert out["achieved"].tolist() == pytest.approx([3, 2, 62.5, 40, 1, 5])
    assert out["met"].tolist() == [True, True, False, False, True, False]
    assert out.loc[5, "note_zh"] == "截至2023年，未达成"
    assert set(out["measured_by"]) == {"ledger"}


def test_ledger_targets_without_a_ledger_say_so():
    p = _policy({"year": 2023, "measure": "freed_mu", "value": 800})
    out = target_progress(_result(p))
    assert np.isnan(out.loc[0, "achieved"]) and out.loc[0, "note_zh"] == "需台账"


def test_freed_land_counts_what_leaves_its_firm():
    """Suichang: 腾出工业用地800亩 counts exits of 淘汰关停类 and 腾笼换鸟类; 整治提升类 land stays with its firm."""
    data = copy.deepcopy(BASE)
    data["categories"][2]["frees_land"] = False
    data["targets"] = {"yearly": [
        {"year": 2023, "measure": "freed_mu", "value": 800, "cumulative": True, "since": 2022,
         "categories": ["close", "swap"], "zh": "腾出工业用地（亩）", "source": "腾出工业用地800亩以上"},
        {"year": 2023, "measure": "freed_mu", "value": 800, "cumulative": True, "since": 2022, "zh": "x",
         "source": "s"}]}
    p = parse_preset(data, where="t.toml", name="t")
    assert not p.categories["upgrade"].frees_land and p.categories["swap"].frees_land
    out = target_progress(_result(p), ledger=LEDGER)
    # exits 2022-2023 of close/swap: a 12 + b 30.5 = 42.5 (c was raised, not exited; d is 整治提升: 20 not
    # counted); without categories every exit counts: 12 + 30.5 + 20 = 62.5
    assert out["achieved"].tolist() == pytest.approx([42.5, 62.5])
    assert out.loc[0, "counts_zh"] == ("2022—2023年累计台账退出企业的用地（淘汰关停类、腾笼换鸟类）；"
                                       "不计整治提升类（用地留在原企业）")
    assert out.loc[0, "counts_en"] == ("land of the firms that exited (close, swap), 2022-2023, cumulative; "
                                       "not upgrade (their land stays with the firm)")
    assert out.loc[1, "counts_zh"] == "2022—2023年累计台账退出企业的用地"


def test_counts_text_of_levels_and_shares():
    p = _policy({"year": 2021, "measure": "tax_per_mu", "group": "above", "value": 30},
                {"year": 2020, "measure": "share_tax_per_mu_at_least", "group": "below", "threshold": 2,
                 "value": 0.8})
    out = target_progress(_result(p))
    assert out["counts_zh"].tolist() == ["2021年规上企业实缴税金合计÷用地合计（缺数据的企业不计）",
                                         "2020年纳入范围、非豁免、有数据的规下企业中亩均税收不低于2万元/亩的比例"]


def test_frees_land_must_be_true_or_false():
    data = copy.deepcopy(BASE)
    data["categories"][2]["frees_land"] = "no"
    with pytest.raises(ConfigError, match=r"\[categories\[2\]\] 'frees_land' must be true or false, got 'no'"):
        parse_preset(data, where="t.toml", name="t")

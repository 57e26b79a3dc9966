"""ledger.update: statuses, reasons, matching fallbacks, staff columns and deadlines, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _ledger_fixtures import fake_result
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import ConfigError
from gisefficiency.ledger import update
from gisefficiency.ledger.columns import GONE_REASON, STAFF_COLUMNS

FIRMS_2022 = {
    "A": {"name": "甲厂", "parcels": ["P1"], "disposal": "close", "tax_per_mu": 0.5, "land_mu": 12.0},
    "B": {"name": "乙厂", "parcels": ["P2"], "disposal": "swap", "tax_per_mu": 2.0},
    "C": {"name": "丙厂", "parcels": ["P3"], "disposal": "upgrade", "tax_per_mu": 3.5},
    "D": {"name": "丁厂", "parcels": ["P4"], "disposal": "close", "tax_per_mu": 0.2, "land_mu": 20.0,
          "energy_tce": 150.0},
    "G": {"name": "戊厂", "parcels": ["P5", "P6"], "disposal": "swap", "tax_per_mu": 1.5},
    "H": {"name": "己厂", "parcels": ["P7"], "disposal": "upgrade", "tax_per_mu": 4.0},
    "F": {"name": "庚厂", "parcels": ["P8"], "disposal": "upgrade", "tax_per_mu": 4.2},
    "S": {"name": "铸造厂", "parcels": ["P9"], "disposal": "separate", "tax_per_mu": 0.3},
    "OK": {"name": "好厂", "parcels": ["P10"], "disposal": "", "tax_per_mu": 30.0},
}
FIRMS_2023 = {
    "A": {"name": "甲厂", "parcels": ["P1"], "disposal": "close", "tax_per_mu": 0.6, "land_mu": 12.0},
    "B": {"name": "乙厂", "parcels": ["P2"], "disposal": "close", "tax_per_mu": 0.9},
    "C": {"name": "丙厂", "parcels": ["P3"], "disposal": "", "tax_per_mu": 6.0},
    # D is gone: deregistered, its land taken back.
    "G": {"name": "戊厂", "parcels": ["P5", "P6"], "disposal": "swap", "tax_per_mu": 1.7},
    "H": {"name": "己厂", "parcels": ["P7"], "disposal": "upgrade", "tax_per_mu": 4.1},
    "F": {"name": "庚厂", "parcels": ["P8"], "disposal": "", "tax_per_mu": np.nan},
    "S": {"name": "铸造厂", "parcels": ["P9"], "disposal": "separate", "tax_per_mu": 0.3},
    "OK": {"name": "好厂", "parcels": ["P10"], "disposal": "", "tax_per_mu": 31.0},
    "E": {"name": "新厂", "parcels": ["P11"], "disposal": "upgrade", "tax_per_mu": 3.2},
}


def _by(ledger: pd.DataFrame) -> pd.DataFrame:
    return ledger.set_index("uscc")


def test_first_year_lists_low_efficiency_categories_only():
    led = _by(update(None, fake_result(2022, FIRMS_2022)))
    assert sorted(led.index) == ["A", "B", "C", "D", "F", "G", "H"]  # not S (separate) nor OK
    assert set(led["status"]) == {"新列入"}
    assert set(led["status_reason"]) == {"2022年首次列入"}
    assert (led["first_year"] == 2022).all()
    assert led.loc["B", "category_2022"] == "腾笼换鸟类"
    assert led.loc["D", "tax_per_mu_2022"] == pytest.approx(0.2)
    assert led.loc["G", "parcel_ids"] == "P5、P6"
    assert all(c in led.columns for c in STAFF_COLUMNS)


@pytest.fixture
def carried():
    prev = update(None, fake_result(2022, FIRMS_2022))
    # Staff work on it: their columns, a column of their own, rows re-sorted, two USCCs mistyped.
    prev["责任单位"] = "经济商务局"
    prev.loc[prev["uscc"] == "A", "整治措施"] = "关停"
    prev.loc[prev["uscc"] == "B", "备注"] = "已约谈"
    prev["联系人"] = ["张三"] * len(prev)
    prev.loc[prev["uscc"] == "G", "uscc"] = "G0"  # typo; the parcel id still finds it
    prev.loc[prev["uscc"] == "H", ["uscc", "parcel_ids"]] = ["H0", None]  # typo and no parcel: by name
    prev = prev.iloc[::-1].reset_index(drop=True)
    return update(prev, fake_result(2023, FIRMS_2023))


def test_statuses_and_reasons_by_hand(carried):
    led = _by(carried)
    assert led.loc["A", "status"] == "继续列入" and led.loc["A", "status_reason"] == "2022年起列入"
    assert led.loc["B", "status"] == "类别变化" and led.loc["B", "status_reason"] == "腾笼换鸟类→淘汰关停类"
    assert led.loc["B", "category"] == "淘汰关停类" and led.loc["B", "category_2022"] == "腾笼换鸟类"
    assert led.loc["C", "status"] == "已销号" and led.loc["C", "closed_kind"] == "提升"
    assert led.loc["C", "status_reason"] == "亩均税收升至6万元/亩（上年3.5）"
    assert led.loc["C", "closed_year"] == 2023 and led.loc["C", "category"] == "整治提升类"
    assert pd.isna(led.loc["C", "category_2023"]) and led.loc["C", "tax_per_mu_2023"] == pytest.approx(6.0)
    assert led.loc["D", "status"] == "已销号" and led.loc["D", "closed_kind"] == "退出"
    assert led.loc["D", "status_reason"] == GONE_REASON and led.loc["D", "match"] == "未找到"
    assert led.loc["D", "land_mu"] == pytest.approx(20.0) and led.loc["D", "energy_tce"] == pytest.approx(150.0)
    assert led.loc["E", "status"] == "新列入" and led.loc["E", "first_year"] == 2023
    assert led.loc["E", "match"] == "本年新增"
    # No figure this year: missing is not "better", the row stays on the list.
    assert led.loc["F", "status"] == "继续列入"
    assert led.loc["F", "status_reason"] == "2023年无亩均税收数据，按上年类别保留（待核实）"
    assert "S" not in led.index and "OK" not in led.index
    assert len(led) == 8


def test_fallback_matches_are_reported(carried):
    led = _by(carried)
    assert led.loc["G", "match"] == "地块编号（原代码G0）" and led.loc["G", "status"] == "继续列入"
    assert led.loc["H", "match"] == "企业名称（原代码H0）" and led.loc["H", "parcel_ids"] == "P7"
    assert led.loc["A", "match"] == "统一社会信用代码"
    assert "G0" not in led.index and "H0" not in led.index


def test_staff_columns_carried_untouched(carried):
    led = _by(carried)
    assert (led.drop(index="E")["责任单位"] == "经济商务局").all()
    assert pd.isna(led.loc["E", "责任单位"])
    assert led.loc["A", "整治措施"] == "关停" and led.loc["B", "备注"] == "已约谈"
    assert led.loc["G", "联系人"] == "张三"


def test_relisted_after_closing():
    l22 = update(None, fake_result(2022, FIRMS_2022))
    l23 = update(l22, fake_result(2023, FIRMS_2023))
    again = {**FIRMS_2023, "C": {**FIRMS_2023["C"], "disposal": "upgrade", "tax_per_mu": 4.0}}
    led = _by(update(l23, fake_result(2024, again)))
    assert led.loc["C", "status"] == "重新列入" and led.loc["C", "status_reason"] == "2023年销号后再次列入"
    assert pd.isna(led.loc["C", "closed_year"]) and led.loc["C", "first_year"] == 2022
    assert led.loc["D", "status"] == "已销号" and led.loc["D", "closed_year"] == 2023  # history stays
    assert led.loc["D", "status_reason"] == GONE_REASON


def test_deadlines_from_staff_date():
    prev = update(None, fake_result(2022, FIRMS_2022))
    # 2022-05-06 is a Friday.
    prev["认定日期"] = "2022-05-06"
    prev.loc[prev["uscc"] == "G", "认定日期"] = "2022年5月6日"
    prev.loc[prev["uscc"] == "H", "认定日期"] = None
    led = _by(update(prev, fake_result(2023, FIRMS_2023)))
    # A: close -> 45 calendar days to move out; no plan deadline.
    assert led.loc["A", "设备搬离期限"] == pd.Timestamp("2022-06-20")
    assert pd.isna(led.loc["A", "整治方案提交期限"])
    # G: swap -> a plan within 30 days; objections within 5 working days (Fri + 5 = next Fri).
    assert led.loc["G", "整治方案提交期限"] == pd.Timestamp("2022-06-05")
    assert led.loc["G", "异议申请期限"] == pd.Timestamp("2022-05-13")
    assert pd.isna(led.loc["G", "设备搬离期限"])
    assert pd.isna(led.loc["H", "整治方案提交期限"])  # no date entered
    assert pd.isna(led.loc["C", "异议申请期限"])  # closed rows carry no deadline


def test_a_ledger_moves_forward_only():
    l23 = update(None, fake_result(2023, FIRMS_2023))
    with pytest.raises(ConfigError, match=r"previous holds 2023, later than this run's year 2022"):
        update(l23, fake_result(2022, FIRMS_2022))


_CATS = st.sampled_from(["", "close", "swap", "upgrade", "separate"])


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(_CATS, _CATS, st.booleans()), min_size=1, max_size=12))
def test_property_every_listed_firm_once_and_statuses_follow_the_sets(spec):
    """Row set = firms listed in either year; each status follows from the two years' lists."""
    low = {"close", "swap", "upgrade"}
    y1 = {f"F{i}": {"name": f"厂{i}", "parcels": [f"P{i}"], "disposal": a, "tax_per_mu": 2.0}
          for i, (a, _, _) in enumerate(spec)}
    y2 = {f"F{i}": {"name": f"厂{i}", "parcels": [f"P{i}"], "disposal": b, "tax_per_mu": 3.0}
          for i, (_, b, here) in enumerate(spec) if here}
    led = _by(update(update(None, fake_result(2022, y1)), fake_result(2023, y2)))
    assert led.index.is_unique
    listed1 = {k for k, v in y1.items() if v["disposal"] in low}
    listed2 = {k for k, v in y2.items() if v["disposal"] in low}
    assert set(led.index) == listed1 | listed2
    for k in led.index:
        a, b = y1[k]["disposal"], y2.get(k, {}).get("disposal")
        expected = ("新列入" if k not in listed1 else "已销号" if k not in listed2
                    else "继续列入" if a == b else "类别变化")
        assert led.loc[k, "status"] == expected
        if expected == "已销号":
            assert led.loc[k, "closed_kind"] == ("提升" if k in y2 else "退出")


def test_category_read_back_from_its_label_when_the_code_column_is_cleared():
    prev = update(None, fake_result(2022, FIRMS_2022)).drop(columns="category_id")
    led = _by(update(prev, fake_result(2023, FIRMS_2023)))
    assert led.loc["B", "status"] == "类别变化" and led.loc["B", "status_reason"] == "腾笼换鸟类→淘汰关停类"
    assert led.loc["C", "category_id"] == "upgrade" and led.loc["A", "status"] == "继续列入"


def test_parcel_ids_joined_in_link_order():
    from gisefficiency.ledger.update import _joined_parcel_ids

    shares = pd.DataFrame({"uscc": ["B", "A", "B", "C"], "parcel_id": ["P9", "P1", "P2", "P3"],
                           "kind": ["own", "own", "leased", "own"]})
    out = _joined_parcel_ids(shares, pd.Index(["A", "B", "Z"]))
    assert out[:2].tolist() == ["P1", "P9、P2"]
    assert np.isnan(out[2])  # a firm without parcels
    assert np.isnan(_joined_parcel_ids(None, pd.Index(["A"]))[0])


def test_parcel_owners_holder_first_for_the_asked_parcels_only():
    from gisefficiency.ledger.update import _parcel_owners

    shares = pd.DataFrame({"uscc": ["T", "H", "X"], "parcel_id": ["P1", "P1", "P2"], "kind": ["leased", "own", "own"]})
    assert _parcel_owners(shares, ["P1", "P1", "P7"]) == {"P1": ["H", "T"]}
    assert _parcel_owners(shares, []) == {}


def test_isin_text_and_otherwise():
    from gisefficiency.ledger.update import _isin

    among = pd.Index(["A", "B"]).astype(str)
    assert _isin(pd.Series(["A", None, "C"], dtype="string"), among).tolist() == [True, False, False]
    assert _isin(np.array(["B", "A"], dtype=object), among).tolist() == [True, True]
    assert _isin(pd.Index([1, 2]), [2]).tolist() == [False, True]  # not text: pandas' isin

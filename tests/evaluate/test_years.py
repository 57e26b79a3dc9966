"""change_classes: every parcel low in either year is in exactly one class, and the classes add up."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from gisefficiency.evaluate.years import change_classes

flags = st.lists(st.tuples(st.sampled_from([True, False, None]), st.sampled_from([True, False, None]),
                           st.booleans()), min_size=0, max_size=40)


@given(flags)
def test_change_classes_partition_the_low_parcels(rows):
    index = pd.Index([f"p{i}" for i in range(len(rows))], name="parcel_id")
    first = pd.Series([r[0] for r in rows], index=index, dtype="boolean")
    last = pd.Series([r[1] for r in rows], index=index, dtype="boolean")
    known = pd.Series([r[2] for r in rows], index=index)
    change = change_classes(first, last, last_known=known)
    a, b = first.fillna(False).to_numpy(bool), last.fillna(False).to_numpy(bool)
    counts = change.value_counts()
    assert counts.get("newly_low", 0) + counts.get("still_low", 0) == b.sum()
    assert counts.get("still_low", 0) + counts.get("recovered", 0) + counts.get("no_data_now", 0) == a.sum()
    assert (change == "").sum() == (~a & ~b).sum()  # missing flags count as not low, never as low
    # "recovered" needs a figure in the last year
    assert not (change.eq("recovered") & ~known).any()


def test_change_classes_hand_checked():
    idx = pd.Index(["a", "b", "c", "d", "e"])
    first = pd.Series([True, False, True, True, False], index=idx)
    last = pd.Series([True, True, False, False, False], index=idx)
    known = pd.Series([True, True, True, False, False], index=idx)
    assert change_classes(first, last, last_known=known).tolist() == \
        ["still_low", "newly_low", "recovered", "no_data_now", ""]


# ---- the reference year -------------------------------------------------------------------------


def _zhoushan_panel(years):
    from _evaluate_fixtures import simple_panel

    return simple_panel({"A": {"land_mu": 10, "tax": dict.fromkeys(years, 15.0)}})


def test_the_documents_year_is_used_when_the_data_have_it():
    from gisefficiency.evaluate.policy import load_preset
    from gisefficiency.evaluate.verdicts import evaluate

    panel, links, _ = _zhoushan_panel((2019, 2020, 2021))
    ev = evaluate(panel, load_preset("zhoushan-2020"), links=links)
    assert ev.year == 2019 and ev.reference.source == "preset" and ev.reference.preset_year == 2019
    assert ev.reference.note_zh == "评价年度2019年（政策文件规定的评价年度）"
    # 15 万元 over 10 mu = 1.5 < 2 in 2019
    assert ev.reasons("zh").loc["A", "reason_zh"] == "低效企业（亩均税收2万元以下）：2019年亩均税收1.5万元/亩，低于2万元/亩"


def test_data_without_the_documents_year_fall_back_to_their_latest(caplog):
    from gisefficiency.evaluate.policy import load_preset
    from gisefficiency.evaluate.verdicts import evaluate

    panel, links, _ = _zhoushan_panel((2020, 2021))
    with caplog.at_level("WARNING", logger="gisefficiency.evaluate.years"):
        ev = evaluate(panel, load_preset("zhoushan-2020"), links=links)
    assert ev.year == 2021 and ev.reference.source == "fallback"
    assert ev.reference.note_zh == ("评价年度2021年：政策文件规定评价2019年度，数据无该年度（数据年度：2020, 2021），"
                                    "改用数据最新年度")
    assert ev.reference.note_en == ("reference year 2021: the policy document evaluates 2019, which the data lack "
                                    "(years: 2020, 2021), so the latest year of the data is used")
    assert "preset zhoushan-2020 evaluates 2019, which the data lack" in caplog.text
    assert ev.verdicts.loc["A", "disposal"] == "low_efficiency"  # 1.5 in 2021


def test_a_year_asked_for_must_be_in_the_data_and_no_year_means_the_latest():
    import pytest

    from gisefficiency.core.errors import InputError
    from gisefficiency.evaluate.policy import load_preset
    from gisefficiency.evaluate.years import reference_year

    wenzhou = load_preset("wenzhou-etdz-2021")  # the plan fixes no evaluation year
    assert reference_year([2020, 2021], wenzhou) == reference_year([2021, 2020], wenzhou)
    latest = reference_year([2020, 2021], wenzhou)
    assert (latest.year, latest.source, latest.preset_year) == (2021, "latest", None)
    assert latest.note_zh == "评价年度2021年（政策文件未规定评价年度，取数据最新年度）"
    asked = reference_year([2020, 2021], wenzhou, 2020)
    assert (asked.year, asked.source, asked.note_zh) == (2020, "asked", "评价年度2020年（按指定）")
    with pytest.raises(InputError, match=r"no data for the reference year 2019 \(preset wenzhou-etdz-2021\)"):
        reference_year([2020, 2021], wenzhou, 2019)
    with pytest.raises(InputError, match="the panel is empty"):
        reference_year([], wenzhou)


def test_validate_warns_when_the_data_lack_the_documents_year():
    from types import SimpleNamespace

    from gisefficiency.evaluate.policy import load_preset
    from gisefficiency.pipeline import _year_problems

    firms = pd.DataFrame({"uscc": ["A", "A"], "year": [2020, 2021]})
    config = SimpleNamespace(policy=SimpleNamespace(year=None), source=None)
    [problem] = _year_problems(firms, config, load_preset("zhoushan-2020"))
    assert problem.severity == "warning"
    assert problem.message == ("no data for the reference year of preset zhoushan-2020 = 2019: the firm table has "
                               "2020, 2021; the run uses 2021")
    assert _year_problems(firms, config, load_preset("wenzhou-etdz-2021")) == []
    config.policy.year = 2019  # asked for: an error, as before
    [asked] = _year_problems(firms, config, load_preset("wenzhou-etdz-2021"))
    assert asked.severity == "error" and asked.message.startswith("no data for [policy] year = 2019")

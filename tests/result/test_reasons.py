"""Result.reasons and Result.with_reasons: the verdicts' reasons written for the rows an output shows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

FIRM = "91330827720679779N"  # a 规上 firm of the sample county closed for two D years
FIRM_ZH = "淘汰关停类：连续两年评价为D类（2020年D、2021年D）"
FIRM_EN = "Close (eliminate): class D in 2 consecutive years (2020: D, 2021: D)"
FIRM_GRADE_ZH = "得分40.5918；规上组第1269/1320名（前96.1%），D类"


def test_the_tables_hold_no_reason_texts(demo_result):
    for frame in (demo_result.firms, demo_result.parcels):
        assert not [c for c in frame.columns if c.startswith(("reason", "grade_reason"))]


def test_firm_rows_get_their_units_reasons_in_the_language_asked(demo_result):
    firms = demo_result.firms
    rows = firms.iloc[[firms.index.get_loc(FIRM), 0]]
    zh = demo_result.with_reasons(rows)
    assert list(zh.columns[-2:]) == ["reason_zh", "grade_reason_zh"]
    assert zh.loc[FIRM, "reason_zh"] == FIRM_ZH
    assert zh.loc[FIRM, "grade_reason_zh"] == FIRM_GRADE_ZH
    en = demo_result.with_reasons(rows, lang="en")
    assert en.loc[FIRM, "reason_en"] == FIRM_EN and "reason_zh" not in en
    both = demo_result.with_reasons(rows, lang="both")
    assert list(both.columns[-4:]) == ["reason_zh", "reason_en", "grade_reason_zh", "grade_reason_en"]
    assert len(both) == 2 and both.index.equals(rows.index)


def test_parcel_rows_get_their_main_firms_reason_and_idle_parcels_none(demo_result):
    parcels = demo_result.parcels
    out = demo_result.with_reasons(parcels, lang="both")
    assert [c for c in out.columns if "reason" in c and not c.startswith("low_eff")] == ["reason_zh", "reason_en"]
    # a parcel whose main firm is the closed one shows that firm's reason
    mine = np.flatnonzero(parcels["main_uscc"].astype(object).to_numpy() == FIRM)
    assert len(mine) and (out["reason_zh"].iloc[mine] == FIRM_ZH).all()
    # no firm on the parcel: no verdict, so no reason (missing, not "")
    none = parcels["main_uscc"].isna().to_numpy()
    assert none.any() and out["reason_zh"][none].isna().all() and out["reason_zh"][~none].notna().all()


def test_reasons_at_the_reference_year_and_of_every_year(demo_result):
    ref = demo_result.reasons()
    ev = demo_result.evaluation
    assert ref.index.equals(ev.verdicts.index)
    assert ref.loc[FIRM, "reason_zh"] == FIRM_ZH and ref.loc[FIRM, "grade_reason_zh"] == FIRM_GRADE_ZH
    every = demo_result.reasons("en", years="all")
    assert every.index.equals(ev.grades.index)
    years = every.index.get_level_values(1)
    assert every["reason_en"][years == demo_result.year].notna().all()
    assert every["reason_en"][years != demo_result.year].isna().all()  # verdicts are of the reference year
    assert every.loc[(FIRM, demo_result.year), "reason_en"] == FIRM_EN
    y2020 = demo_result.reasons("zh", years=[2020])
    assert set(y2020.index.get_level_values(1)) == {2020}
    assert y2020.loc[(FIRM, 2020), "grade_reason_zh"].endswith("D类")


def test_an_anonymised_result_still_finds_each_rows_reason(demo_result):
    from gisefficiency.report.build import anonymise_result

    anon = anonymise_result(demo_result)
    masked = anon.firms.index[demo_result.firms.index.get_loc(FIRM)]
    assert masked != FIRM
    assert anon.with_reasons(anon.firms.loc[[masked]]).loc[masked, "reason_zh"] == FIRM_ZH


def test_without_an_evaluation_the_frame_is_unchanged(demo_result):
    bare = dataclasses.replace(demo_result, evaluation=None)
    assert bare.with_reasons(bare.firms) is bare.firms
    with pytest.raises(ValueError, match="has no evaluation, so no reasons"):
        bare.reasons()
    assert isinstance(demo_result.reasons("both"), pd.DataFrame)

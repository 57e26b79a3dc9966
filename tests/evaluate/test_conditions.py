"""Areas in mu compare at the precision the reasons print (4 decimals), like per-mu figures."""

from __future__ import annotations

import pandas as pd
import pytest
from _evaluate_fixtures import simple_panel

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.evaluate import evaluate, load_preset


def _scope(land_mu: float) -> tuple[bool, str]:
    spec = {"F1": {"land_mu": land_mu, "tax": {2020: 5.0, 2021: 5.0}, "scale": "above", "industry": "3311",
                   "supply_date": "2015-01-01"}}
    panel, links, _ = simple_panel(spec)
    ev = evaluate(panel, load_preset("suichang-2022"), links=links)
    return bool(ev.verdicts.loc["F1", "in_scope"]), str(ev.reasons("zh").loc["F1", "reason_zh"])


@pytest.mark.parametrize("land_mu", [3 - 1e-12, 2000 / M2_PER_MU, 2000.00001 / M2_PER_MU, 3.00004])
def test_a_drawn_parcel_of_3_mu_is_3_mu(land_mu):
    # a 2,000 m² polygon can come out 2.999999999999 mu after projection and area: "3亩以上" holds
    in_scope, reason = _scope(land_mu)
    assert in_scope
    assert "不在整治范围" not in reason


@pytest.mark.parametrize(("land_mu", "shown"), [(2.9999, "2.9999"), (1999.9 / M2_PER_MU, "2.9999")])
def test_below_3_mu_at_4_decimals_is_out_of_scope_and_the_reason_agrees(land_mu, shown):
    # 1,999.9 m² = 2.99985 mu (2.9998500000000003 in floats): 2.9999 at 4 decimals, below 3; the reason prints the
    # number it compared
    in_scope, reason = _scope(land_mu)
    assert not in_scope
    assert reason == f"2021年用地面积{shown}亩，低于3亩，不在整治范围"


@pytest.mark.parametrize("code", ["3311", "C3311", "c3311", " C3311 "])
def test_industry_codes_with_the_section_letter_are_manufacturing(code):
    # 舟山/温州 scopes name manufacturing as GB/T 4754 divisions 13-43; "C3311" is division 33 too
    spec = {"F1": {"land_mu": 10, "tax": {2019: 5.0}, "scale": "above", "industry": code}}
    panel, links, _ = simple_panel(spec)
    v = evaluate(panel, load_preset("wenzhou-etdz-2021"), year=2019, links=links).verdicts.loc["F1"]
    assert bool(v["in_scope"])
    assert bool(v["low_efficiency"])  # 0.5 万元/亩 < 10


def test_a_wholesale_code_with_its_letter_is_not_manufacturing():
    spec = {"F1": {"land_mu": 10, "tax": {2019: 5.0}, "scale": "above", "industry": "F5191"}}
    panel, links, _ = simple_panel(spec)
    v = evaluate(panel, load_preset("wenzhou-etdz-2021"), year=2019, links=links).verdicts.loc["F1"]
    assert not bool(v["in_scope"])
    assert not bool(v["low_efficiency"])


def _zhejiang(high_tech_years: dict[int, bool]):
    tax = {2018: 2.0, 2019: 5.0, 2020: 5.0, 2021: 5.0}  # 0.5 万元/亩 from 2019 on 10 mu
    years = {y: {"tax": t, **({"high_tech": high_tech_years[y]} if y in high_tech_years else {})}
             for y, t in tax.items()}
    panel, links, _ = simple_panel({"H1": {"land_mu": 10, "years": years, "scale": "above", "industry": "3311"}})
    return evaluate(panel, load_preset("zhejiang-2019"), year=2021, links=links).verdicts.loc["H1"]


@pytest.mark.parametrize(("flags", "exempt"), [
    ({2018: True}, False),               # certificate of 2018: 2018-2020, expired in 2021
    ({2019: True}, True),                # 2019-2021: valid in 2021
    ({2019: True, 2020: False}, False),  # a later 否 replaces it
    ({2021: True}, True),
])
def test_a_high_tech_certificate_exempts_for_its_three_years_only(flags, exempt):
    v = _zhejiang(flags)
    assert bool(v["exempt"]) is exempt
    assert bool(v["low_efficiency"]) is (not exempt)


def _zhejiang_dated(**static):
    """H1 at 0.5 万元/亩 in 2019-2021 (low in each of the 3 years unless exempt); F1 has only a 2021 是."""
    tax = {2018: 2.0, 2019: 5.0, 2020: 5.0, 2021: 5.0}
    spec = {"H1": {"land_mu": 10, "tax": tax, "scale": "above", "industry": "3311", **static},
            "F1": {"land_mu": 10, "tax": tax, "scale": "above", "industry": "3311",
                   "years": {2021: {"high_tech": True}}}}
    panel, links, _ = simple_panel(spec)
    return evaluate(panel, load_preset("zhejiang-2019"), year=2021, links=links).verdicts


@pytest.mark.parametrize(("static", "exempt"), [
    ({"high_tech_date": "2018-11-30"}, False),   # 3 years: to 2021-11-29, expired by 2021-12-31
    ({"high_tech_date": "2019-01-15"}, True),    # to 2022-01-14: in force on 2021-12-31
    ({"high_tech_date": "2018-11-30", "high_tech_until": "2021-12-31"}, True),  # the certificate's own end
    ({"high_tech_until": "2021-06-30"}, False),  # ended in the year
    ({"high_tech_date": "2022-03-01"}, False),   # not yet certified in 2021
    ({"tech_sme_date": "2021-04-01"}, True),     # registered for 2021 (1 year: to 2022-03-31)
    ({"tech_sme_date": "2020-04-01"}, False),    # to 2021-03-31
])
def test_certificate_dates_decide_whether_it_is_in_force(static, exempt):
    v = _zhejiang_dated(**static)
    assert bool(v.loc["H1", "exempt"]) is exempt
    assert bool(v.loc["H1", "low_efficiency"]) is (not exempt)
    # a unit without dates keeps the yearly 是/否 (its 2021 是 holds in 2021)
    assert bool(v.loc["F1", "exempt"])


def test_certificate_dates_win_over_the_yearly_flag():
    tax = {2019: 5.0, 2020: 5.0, 2021: 5.0}
    years = {y: {"tax": t, "high_tech": True} for y, t in tax.items()}
    spec = {"H1": {"land_mu": 10, "years": years, "scale": "above", "industry": "3311",
                   "high_tech_date": "2017-06-01"}}  # ran to 2020-05-31 although the rows say 是
    panel, links, _ = simple_panel(spec)
    v = evaluate(panel, load_preset("zhejiang-2019"), year=2021, links=links).verdicts.loc["H1"]
    assert not bool(v["exempt"]) and v["disposal"] == "low_efficiency"


def test_certificate_headers_are_read_as_dates(tmp_path):
    from gisefficiency.io.tables import read_firms

    path = tmp_path / "firms.csv"
    path.write_text("统一社会信用代码,年度,实缴税金（万元）,高新技术企业认定日期,证书有效期至,科技型中小企业入库日期\n"
                    "91330000000000001X,2021,5,2019/01/15,2022-01-14,2021-04-01\n", encoding="utf-8")
    firms = read_firms(path)
    assert firms.loc[0, "high_tech_date"] == pd.Timestamp("2019-01-15")
    assert firms.loc[0, "high_tech_until"] == pd.Timestamp("2022-01-14")
    assert firms.loc[0, "tech_sme_date"] == pd.Timestamp("2021-04-01")

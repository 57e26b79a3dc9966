"""Presets' [[targets.yearly]] and [[deadlines]]: the shipped figures, and one error per mistake."""

from __future__ import annotations

import copy

import pytest

from gisefficiency.core.errors import ConfigError
from gisefficiency.evaluate.policy import load_preset, parse_preset

BASE = {
    "title_zh": "测试", "title_en": "test", "source": "test",
    "categories": [{"id": "close", "zh": "淘汰关停类", "en": "close", "colour": "#d73027"}],
    "disposal": {"rules": [{"category": "close", "when": {"metric": "tax_per_mu", "op": "<", "value": 1}}]},
    "targets": {"freed_mu": 800},
}
TARGET = {"year": 2023, "measure": "tax_per_mu", "group": "above", "value": 42, "zh": "规上亩均税收",
          "source": "规上工业亩均税收达到42万元"}
DEADLINE = {"name": "设备搬离期限", "days": 45, "from": "认定日期", "categories": ["close"]}


def _with(target=None, deadline=None):
    data = copy.deepcopy(BASE)
    if target is not None:
        data["targets"]["yearly"] = [target]
    if deadline is not None:
        data["deadlines"] = [deadline]
    return parse_preset(data, where="x.toml", name="x")


def test_plain_targets_keep_working_beside_yearly():
    p = _with(TARGET, DEADLINE)
    assert dict(p.targets) == {"freed_mu": 800.0}
    (t,) = p.yearly_targets
    assert (t.year, t.measure, t.group, t.value, t.cumulative, t.since) == (2023, "tax_per_mu", "above", 42.0, False,
                                                                          None)
    (d,) = p.deadlines
    assert (d.name, d.days, d.start, d.working_days, d.categories) == ("设备搬离期限", 45, "认定日期", False, ("close",))


def test_shipped_seed_targets():
    wz = {(t.year, t.measure): t for t in load_preset("wenzhou-etdz-2021").yearly_targets}
    assert wz[(2021, "tax_per_mu")].value == 30 and wz[(2023, "tax_per_mu")].value == 42
    assert wz[(2021, "freed_mu")].value == 500 and not wz[(2021, "freed_mu")].cumulative
    assert wz[(2023, "freed_mu")].value == 2500 and wz[(2023, "freed_mu")].cumulative
    assert wz[(2023, "freed_mu")].since == 2021 and wz[(2021, "freed_tce")].value == 4800
    zs = {t.group: t for t in load_preset("zhoushan-2020").yearly_targets if t.measure == "share_tax_per_mu_at_least"}
    assert (zs["above"].value, zs["above"].threshold) == (1.0, 2.0)
    assert (zs["below"].value, zs["below"].threshold) == (0.8, 2.0)
    zj = {(t.year, t.measure): t.value for t in load_preset("zhejiang-2019").yearly_targets}
    assert zj == {(2019, "firms_delisted"): 5000, (2019, "tax_per_mu"): 30, (2019, "va_per_mu"): 112,
                  (2020, "tax_per_mu"): 32, (2020, "va_per_mu"): 120}
    sc = load_preset("suichang-2022")
    assert [(t.measure, t.categories, t.value) for t in sc.yearly_targets] == [
        ("firms_delisted", ("close",), 30), ("firms_delisted", ("swap", "upgrade"), 50),
        ("freed_mu", ("close", "swap"), 800)]  # 腾出: land that leaves its firm, not 整治提升 land
    assert [(d.name, d.days, d.working_days) for d in sc.deadlines] == [
        ("整治方案提交期限", 30, False), ("设备搬离期限", 45, False), ("异议申请期限", 5, True)]


@pytest.mark.parametrize(("change", "message"), [
    ({"measure": "jobs"}, r"x.toml: \[targets.yearly\[0\]\] unknown measure 'jobs'"),
    ({"group": "big"}, r"'group' must be 'all', 'above' \(规上\) or 'below' \(规下\)"),
    ({"year": 20}, r"\[targets.yearly\[0\].year\] expected a year like 2021"),
    ({"value": -1}, r"\[targets.yearly\[0\].value\] expected a positive number"),
    ({"measure": "share_tax_per_mu_at_least"}, r"needs 'threshold'"),
    ({"measure": "share_tax_per_mu_at_least", "threshold": 2, "value": 80}, r"a share target is a fraction of 1"),
    ({"threshold": 2}, r"'threshold' is only read by share_tax_per_mu_at_least"),
    ({"cumulative": True}, r"'cumulative' adds up ledger counts; 'tax_per_mu' is a level"),
    ({"measure": "freed_mu", "since": 2021}, r"'since' \(2021\) needs cumulative = true"),
    ({"measure": "firms_exited", "categories": ["swap"]}, r"unknown categor\(ies\) 'swap'"),
    ({"colour": "red"}, r"unknown key\(s\) 'colour'"),
])
def test_yearly_target_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        _with({**TARGET, **change})


@pytest.mark.parametrize(("change", "message"), [
    ({"from": "告知日期"}, r"\[deadlines\[0\]\] 'from' must be a staff date column of the ledger: 认定日期"),
    ({"days": 0}, r"'days' must be a positive whole number"),
    ({"working_days": "yes"}, r"'working_days' must be true or false"),
    ({"categories": ["upgrade"]}, r"unknown categor\(ies\) 'upgrade'"),
])
def test_deadline_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        _with(deadline={**DEADLINE, **change})


def test_deadline_names_unique():
    data = copy.deepcopy(BASE)
    data["deadlines"] = [DEADLINE, DEADLINE]
    with pytest.raises(ConfigError, match=r"\[deadlines\[1\]\] 'name' '设备搬离期限' must be a new"):
        parse_preset(data, where="x.toml", name="x")

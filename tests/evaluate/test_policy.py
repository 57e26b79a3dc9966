"""Policy presets: the shipped files say what the documents say; bad files fail with the key path."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from gisefficiency.core.errors import ConfigError
from gisefficiency.evaluate.policy import FrozenDict, list_presets, load_preset
from gisefficiency.evaluate.rules import AnyOf, DateCmp, Grade, Metric, NotProducingBy, Within

SHIPPED = ("zhejiang-2019", "zhoushan-2020", "wenzhou-etdz-2021", "suichang-2022", "huangyan-2022", "wenling-2022",
           "huaian-2024")
PRESET_DIR = Path(__file__).resolve().parents[2] / "gisefficiency" / "evaluate" / "presets"


def test_list_presets_names_descriptions_sources():
    infos = {p.name: p for p in list_presets()}
    assert set(SHIPPED) <= set(infos)
    for info in infos.values():
        assert info.description_zh and info.description_en and info.source
        assert info.path == f"presets/{info.name}.toml"


def test_zhejiang_2019_rule_is_the_documents():
    p = load_preset("zhejiang-2019")
    (rule,) = p.disposal.rules
    assert rule.category == "low_efficiency"
    assert rule.when == Metric("tax_per_mu", "<", 1.0, None, 3, "each")
    assert [e.when.column for e in p.disposal.exempt] == ["high_tech", "tech_sme", "public_welfare"]
    assert p.reference_year is None
    assert p.categories["low_efficiency"].low_efficiency


def test_zhoushan_2020_threshold_and_protection_period():
    p = load_preset("zhoushan-2020")
    assert p.disposal.rules[0].when == Metric("tax_per_mu", "<", 2.0, None, 1)
    assert p.disposal.exempt[1].when == Within(("supply_date",), 3)
    assert p.tax_thresholds == (2.0,)


def test_wenzhou_2021_rules_flags_targets():
    p = load_preset("wenzhou-etdz-2021")
    assert [r.category for r in p.disposal.rules] == ["rectify", "rectify_c"]
    # 亩税10万以下 (own figure) and, for land-right holders, the 综合亩均税收 of the land they hold
    assert p.disposal.rules[0].when == AnyOf((Grade(("D",)), Metric("tax_per_mu", "<", 10.0),
                                              Metric("holder_tax_per_mu", "<", 10.0)))
    assert not p.categories["rectify_c"].low_efficiency
    assert [f.id for f in p.flags] == ["two_high", "must_upgrade_scale"]
    assert dict(p.targets) == {"freed_mu": 500.0, "freed_tce": 4800.0}


def test_suichang_2022_order_and_dates():
    p = load_preset("suichang-2022")
    assert p.reference_year == 2021
    # 铸造、化工 first (their standard is 另行制定), then the document's order
    assert [r.category for r in p.disposal.rules] == ["separate", "close", "swap", "upgrade"]
    assert [c for c in p.categories] == ["close", "swap", "upgrade", "separate"]
    swap = p.disposal.rules[2].when
    assert swap.parts[0].parts == (DateCmp(("supply_date",), "<=", "{year-3}-01-01"), NotProducingBy("{year}-12-31"))
    # 高于1万元低于3万元: both bounds strict, both years
    assert swap.parts[2].parts == (Metric("tax_per_mu", ">", 1.0, None, 2), Metric("tax_per_mu", "<", 3.0, None, 2))
    assert p.tax_thresholds == (1.0, 3.0, 5.0)
    assert p.target_tax_per_mu == 5.0 and p.targets["freed_mu"] == 800.0


def test_huangyan_2022_weights_and_published_benchmarks():
    s = load_preset("huangyan-2022").scoring
    above, below = s.groups["above"], s.groups["below"]
    assert dict(above.weights) == {"tax_per_mu": 30, "va_per_mu": 20, "va_per_tce": 20, "va_per_emission_t": 10,
                                   "va_per_staff": 10, "rd_share": 10}
    assert dict(above.benchmarks) == {"tax_per_mu": 24.097, "va_per_mu": 136.16, "va_per_tce": 2.694,
                                      "va_per_emission_t": 4929.81, "va_per_staff": 18.14, "rd_share": 0.0302}
    assert dict(below.weights) == {"tax_per_mu": 50, "tax_per_elec": 50}
    assert dict(below.benchmarks) == {"tax_per_mu": 11.5932, "tax_per_elec": 0.2352}
    assert above.missing_by_indicator["va_per_emission_t"] == "group_mean"
    assert above.cap is None


def test_wenling_2022_shares_and_leasing_penalties():
    s = load_preset("wenling-2022").scoring
    assert dict(s.groups["above"].classes.shares) == {"A": 0.20, "B": 0.60, "C": 0.15, "D": 0.05}
    assert dict(s.groups["below"].classes.shares) == {"A": 0.05, "B": 0.70, "C": 0.20, "D": 0.05}
    pen = {a.groups: (a.first, a.additional) for a in s.adjustments}
    assert pen == {("above",): (0.0, -5.0), ("below",): (-10.0, -5.0)}
    assert len(s.industry_groups) == 4  # plus "other"


def test_policy_is_frozen_and_picklable():
    p = load_preset("suichang-2022")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.reference_year = 2022  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        p.targets["freed_mu"] = 1
    assert pickle.loads(pickle.dumps(p)) == p
    assert isinstance(p.categories, FrozenDict)


def _write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BASE = 'title_zh = "测试"\ntitle_en = "test"\nsource = "none"\n'
GROUP = """
[scoring.groups.above]
weights = {{ {weights} }}
classes = {{ method = "percentile", A = 0.2, B = 0.6, C = 0.15, D = 0.05 }}
"""


def test_user_preset_file_works_without_code_change(tmp_path):
    text = (PRESET_DIR / "zhoushan-2020.toml").read_text(encoding="utf-8")
    text = text.replace('value = 2, years = 1', 'value = 1.5, years = 2').replace('name = "zhoushan-2020"',
                                                                                'name = "my-county"')
    p = load_preset(_write(tmp_path, text, "mine.toml"))
    assert p.name == "my-county" and p.path.endswith("mine.toml")
    assert p.disposal.rules[0].when == Metric("tax_per_mu", "<", 1.5, None, 2)
    assert p.tax_thresholds == (1.5, 2.0)  # the rule's threshold joins the listed one


@pytest.mark.parametrize(("body", "match"), [
    (BASE + "[scoring]\n" + GROUP.format(weights="tax_per_m = 30"),
     r"x\.toml: \[scoring\.groups\.above\.weights\] unknown indicator 'tax_per_m'; known: tax_per_mu, va_per_mu"),
    (BASE + "colour = 1\n", r"\[top level\] unknown key\(s\) 'colour'; known: "),
    ('title_zh = "x"\n', r"\[top level\] missing key 'title_en'"),
    (BASE + "[scoring]\n" + GROUP.format(weights="tax_per_mu = 30").replace("D = 0.05", "D = 0.1"),
     r"\[scoring\.groups\.above\.classes\] percentile shares A/B/C/D must be >= 0 and sum to 1"),
    (BASE + "[scoring]\n" + GROUP.format(weights="tax_per_mu = -1"),
     r"\[scoring\.groups\.above\.weights\.tax_per_mu\] expected a positive number, got -1"),
    (BASE + "[scoring]\n" + GROUP.format(weights="tax_per_mu = 30") + 'benchmark = "fixed"\n',
     r"\[scoring\.groups\.above\.benchmarks\] fixed benchmarks missing for tax_per_mu"),
    (BASE + "[scoring]\n" + GROUP.format(weights="tax_per_mu = 30").replace("[scoring.groups.above]",
                                                                          "[scoring.groups.big]"),
     r"\[scoring\.groups\] unknown key\(s\) 'big'; known: above, below, tenant"),
    (BASE + '[disposal]\n[[disposal.rules]]\ncategory = "close"\nwhen = { metric = "tax_per_mu", op = "<", value = 1 }\n',
     r"\[disposal\.rules\[0\]\] unknown category 'close'; defined in \[\[categories\]\]: none"),
    (BASE + '[[categories]]\nid = "c"\nzh = "c"\nen = "c"\ncolour = "#d73027"\n[disposal]\n[[disposal.rules]]\n'
     'category = "c"\nwhen = { metric = "tax_per_mu", op = "=<", value = 1 }\n',
     r"\[disposal\.rules\[0\]\.when\] 'op' must be one of <, <=, >, >=, ==, got '=<'"),
    (BASE + '[[categories]]\nid = "c"\nzh = "c"\nen = "c"\ncolour = "#d73027"\n[disposal]\n[[disposal.rules]]\n'
     'category = "c"\nwhen = { any = [{ grade = "D", years = 2 }, { flag = "hightech" }] }\n',
     r"\[disposal\.rules\[0\]\.when\.any\[1\]\] unknown flag 'hightech'; known flags: "),
    (BASE + '[[categories]]\nid = "c"\nzh = "c"\nen = "c"\ncolour = "#d73027"\n[disposal]\n[[disposal.rules]]\n'
     'category = "c"\nwhen = { grade = "D", years = 2 }\n',
     r"\[scoring\] the rules test grades but the preset has no \[scoring\] section"),
    (BASE + '[[categories]]\nid = "c"\nzh = "c"\nen = "c"\ncolour = "#d73027"\n[disposal]\n[[disposal.rules]]\n'
     'category = "c"\nwhen = { date = "supply_date", op = "<", value = "2021/01/01" }\n',
     r"\[disposal\.rules\[0\]\.when\.value\] date '2021/01/01' must be 'YYYY-MM-DD'"),
    (BASE + '[[categories]]\nid = "c"\nzh = "c"\nen = "c"\ncolour = "#d73027"\n[disposal]\n[[disposal.rules]]\n'
     'category = "c"\nwhen = { metric = "tax_per_mu", between = [3, 1] }\n',
     r"'between' low 3 must be below high 1"),
    (BASE + '[[categories]]\nid = "c"\nzh = "c"\nen = "c"\ncolour = "red"\n',
     r"\[categories\[0\]\] 'colour' must be '#rrggbb', got 'red'"),
    (BASE + 'reference_year = "2021"\n', r"'reference_year' must be a year like 2021, got '2021'"),
    (BASE + "[scoring.industry_groups]\nmetal = 31\n" + GROUP.format(weights="tax_per_mu = 30"),
     r"\[scoring\.industry_groups\.metal\] must be a list of industry code prefixes"),
])
def test_invalid_presets_name_file_and_key_path(tmp_path, body, match):
    with pytest.raises(ConfigError, match=match):
        load_preset(_write(tmp_path, body))


def test_unknown_name_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown preset 'zhejiang-2018' -> use one of huaian-2024, "):
        load_preset("zhejiang-2018")
    with pytest.raises(ConfigError, match=r"preset file .*nope\.toml not found"):
        load_preset(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid UTF-8 TOML \(.*line 1"):
        load_preset(_write(tmp_path, "title_zh = \n", "bad.toml"))


def test_documented_example_preset_loads_and_runs(tmp_path):
    """The complete example in docs/presets.md is a valid preset."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "presets.md").read_text(encoding="utf-8")
    block = doc.split("## Complete example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    p = load_preset(_write(tmp_path, block, "example.toml"))
    assert p.name == "example-county-2023" and p.reference_year == 2022
    assert [r.category for r in p.disposal.rules] == ["close", "upgrade"]
    assert p.tax_thresholds == (0.5, 1.5, 6.0)
    assert p.parcel_rule.plot_ratio_below == 1.0

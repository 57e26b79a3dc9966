"""Policy presets: the frozen objects a preset loads into, and the loader that validates TOML into them.

Format: ``docs/presets.md``.

The shipped presets live in ``gisefficiency/evaluate/presets/``; a user's own preset file works the same way:
``load_preset("zhejiang-2019")`` or ``load_preset("my_county.toml")``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

from gisefficiency.core.errors import ConfigError
from gisefficiency.evaluate.pricing import parse_pricing
from gisefficiency.evaluate.rules import Condition, Grade, Metric, PolicyFormatError, parse_condition, walk
from gisefficiency.metrics.indicators import EMISSION_COLUMNS, METRICS

__all__ = [
    "TARGET_MEASURES", "Adjustment", "Category", "ClassBands", "Deadline", "Disposal", "Exemption", "FlagRule",
    "FrozenDict", "GradeRule", "ParcelRule", "Policy", "PresetInfo", "Rule", "Scoring", "ScoringGroup",
    "YearlyTarget", "list_presets", "load_preset",
]

class FrozenDict(dict):  # type: ignore[type-arg]
    """A read-only dict: preset values cannot be changed after loading (copy with ``dict(x)``)."""

    def _readonly(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("policy values are read-only; build a new preset instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda kv: str(kv[0]))))


@dataclass(frozen=True)
class Category:
    """A disposal category: ``id`` as stored in verdicts, labels, map colour, whether it is low efficiency,
    and whether its land leaves the firm (``frees_land``: counted as freed land by the targets; default
    as ``low_efficiency``; Suichang's 整治提升 land stays with its firm)."""

    id: str
    zh: str
    en: str
    colour: str
    low_efficiency: bool = True
    frees_land: bool = True


@dataclass(frozen=True)
class ClassBands:
    """A/B/C/D assignment: ``"percentile"`` shares of the ranked group, or ``"cutoff"`` minimum scores."""

    method: str
    shares: FrozenDict = field(default_factory=FrozenDict)
    cutoffs: FrozenDict = field(default_factory=FrozenDict)


@dataclass(frozen=True)
class ScoringGroup:
    """Weights, benchmarks, missing-data handling and class bands of one group (规上 / 规下 / 租赁)."""

    id: str
    zh: str
    en: str
    weights: FrozenDict
    benchmark: str = "mean"
    benchmarks: FrozenDict = field(default_factory=FrozenDict)
    benchmark_factor: float = 1.0
    missing: str = "zero"
    missing_by_indicator: FrozenDict = field(default_factory=FrozenDict)
    cap: float | None = None
    classes: ClassBands = field(default_factory=lambda: ClassBands("percentile"))


@dataclass(frozen=True)
class Adjustment:
    """A bonus (+) or penalty (-): ``"tenants"`` (first / each additional tenant) or ``"condition"``."""

    type: str
    zh: str
    en: str
    groups: tuple[str, ...] = ()
    first: float = 0.0
    additional: float = 0.0
    points: float = 0.0
    when: Condition | None = None


@dataclass(frozen=True)
class GradeRule:
    """Force a grade (``"N"``: not graded) where ``when`` holds; ``zh``/``en`` name the rule in reasons."""

    when: Condition
    grade: str
    zh: str = ""
    en: str = ""


@dataclass(frozen=True)
class Scoring:
    """How units are scored and graded A/B/C/D/N."""

    groups: FrozenDict
    industry_groups: FrozenDict = field(default_factory=FrozenDict)
    #: Industry group name -> (zh, en) label used in reasons (the name itself when not given).
    industry_labels: FrozenDict = field(default_factory=FrozenDict)
    negative: str = "clip"
    adjustments: tuple[Adjustment, ...] = ()
    not_graded: tuple[GradeRule, ...] = ()
    overrides: tuple[GradeRule, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A disposal rule: units where ``when`` holds get ``category`` (first matching rule wins)."""

    category: str
    when: Condition


@dataclass(frozen=True)
class Exemption:
    """Units where ``when`` holds are exempt from disposal; ``zh``/``en`` say why."""

    when: Condition
    zh: str
    en: str


@dataclass(frozen=True)
class Disposal:
    """Scope, exemptions and ordered rules of a low-efficiency rule set."""

    rules: tuple[Rule, ...]
    scope: Condition | None = None
    scope_zh: str = "认定范围"
    scope_en: str = "scope"
    exempt: tuple[Exemption, ...] = ()


@dataclass(frozen=True)
class FlagRule:
    """An extra yes/no column of the verdicts (e.g. ``two_high``)."""

    id: str
    zh: str
    en: str
    when: Condition


@dataclass(frozen=True)
class ParcelRule:
    """How parcels get ``low_efficiency``: any of the enabled tests."""

    any_firm_flagged: bool = True
    tax_per_mu_below: float | None = None
    idle: bool = False
    plot_ratio_below: float | None = None


@dataclass(frozen=True)
class YearlyTarget:
    """A document's target for one year (``[[targets.yearly]]``), e.g. 规上亩均税收 30 万元/亩 in 2021.

    ``measure`` is one of :data:`TARGET_MEASURES`; ``group`` the firms it counts ("all", "above" 规上,
    "below" 规下); ``threshold`` the line a compliance share tests; ``categories`` the disposal categories a
    ledger count takes; ``cumulative`` counts from ``since`` to ``year`` (else ``year`` alone); ``source`` the
    document's phrase.
    """

    year: int
    measure: str
    value: float
    zh: str
    en: str
    source: str
    group: str = "all"
    threshold: float | None = None
    categories: tuple[str, ...] = ()
    cumulative: bool = False
    since: int | None = None


@dataclass(frozen=True)
class Deadline:
    """A time limit the document fixes (``[[deadlines]]``): ``days`` after the staff date column ``start``.

    ``working_days`` counts Monday-Friday (public holidays and 调休 are not known to the toolkit);
    ``categories`` limits it to firms listed in those disposal categories (empty: every listed firm).
    """

    name: str
    en: str
    days: int
    start: str
    working_days: bool = False
    categories: tuple[str, ...] = ()
    source: str = ""


#: What a yearly target can measure -> (where it is measured, needs a threshold). "data": the run's panel;
#: "ledger": the 台账 (firms delisted or exited, land and energy they freed).
TARGET_MEASURES: dict[str, tuple[str, bool]] = {
    "tax_per_mu": ("data", False),             # 亩均税收 of the group: sum of tax / sum of land (万元/亩)
    "va_per_mu": ("data", False),              # 亩均增加值 of the group (万元/亩)
    "share_tax_per_mu_at_least": ("data", True),  # share of the group's units with 亩均税收 >= threshold
    "firms_delisted": ("ledger", False),       # 销号: raised above the line or exited
    "firms_exited": ("ledger", False),         # 销号 because the firm or its land is gone (关停退出)
    "firms_raised": ("ledger", False),         # 销号 while still operating: no longer meets the rules
    "freed_mu": ("ledger", False),             # land of the firms that exited (亩)
    "freed_tce": ("ledger", False),            # energy use of the firms that exited (tce)
}

#: Staff date columns of the 台账 a deadline may count from.
DEADLINE_STARTS = ("认定日期",)


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy preset (see ``docs/presets.md``)."""

    name: str
    title_zh: str
    title_en: str
    source: str
    path: str
    reference_year: int | None
    categories: FrozenDict
    emission_weights: FrozenDict
    scoring: Scoring | None
    disposal: Disposal | None
    flags: tuple[FlagRule, ...]
    targets: FrozenDict
    target_tax_per_mu: float | None
    tax_thresholds: tuple[float, ...]
    parcel_rule: ParcelRule
    yearly_targets: tuple[YearlyTarget, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    #: Differentiated prices by grade or category (``[pricing]``, see ``evaluate/pricing.py``), or None.
    pricing: Any = None

    @property
    def description_zh(self) -> str:
        return self.title_zh

    @property
    def description_en(self) -> str:
        return self.title_en


@dataclass(frozen=True)
class PresetInfo:
    """One line of :func:`list_presets`."""

    name: str
    description_zh: str
    description_en: str
    source: str
    path: str


GROUP_IDS = ("above", "below", "tenant")
BENCHMARKS = ("mean", "aggregate", "prev_mean", "fixed")
MISSING = ("zero", "group_mean", "not_graded")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


# ----------------------------------------------------------------------------------------------
# Loading


class _Reader:
    """Reads tables with key-path error messages: ``presets/x.toml: [scoring.groups.above] ...``."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, message: str, *, zh: str = "") -> NoReturn:
        raise ConfigError(f"{self.where}: [{path}] {message}", zh=f"{self.where}：[{path}] {zh or message}")

    def table(self, d: Any, path: str, known: set[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(d, dict):
            self.fail(path, f"expected a table, got {d!r}",
                      zh=f"应为表，实际为 {d!r}")
        unknown = sorted(set(d) - known)
        if unknown:
            self.fail(path, f"unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}",
                      zh=f"未知的键 {', '.join(map(repr, unknown))}；可用的键：{', '.join(sorted(known))}")
        for key in required:
            if key not in d:
                self.fail(path, f"missing key {key!r}",
                          zh=f"缺少键 {key!r}")
        return d

    def text(self, d: dict[str, Any], key: str, path: str, default: str | None = None) -> str:
        v = d.get(key, default)
        if not isinstance(v, str):
            self.fail(path, f"{key!r} must be text, got {v!r}",
                      zh=f"{key!r} 必须是文本，实际为 {v!r}")
        return v

    def number(self, v: Any, path: str, *, positive: bool = False, allow_none: bool = False) -> Any:
        if v is None and allow_none:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or (positive and v <= 0):
            self.fail(path, f"expected a {'positive ' if positive else ''}number, got {v!r}",
                      zh=f"应为{'正' if positive else ''}数，实际为 {v!r}")
        return float(v)

    def cond(self, d: Any, path: str) -> Condition:
        try:
            return parse_condition(d, path)
        except PolicyFormatError as e:
            raise ConfigError(f"{self.where}: {e}",
                              zh=f"{self.where}：{e.text_zh}") from None

    def items(self, d: Any, path: str) -> Iterator[tuple[int, dict[str, Any], str]]:
        if d is None:
            return
        if not isinstance(d, list):
            self.fail(path, f"expected a list of tables ([[{path}]]), got {d!r}",
                      zh=f"应为表数组（[[{path}]]），实际为 {d!r}")
        for i, item in enumerate(d):
            yield i, item, f"{path}[{i}]"


def _indicator_map(r: _Reader, d: Any, path: str, *, positive: bool) -> FrozenDict:
    r.table(d, path, set(d) if isinstance(d, dict) else set())
    out = {}
    for k, v in d.items():
        if k not in METRICS:
            r.fail(path, f"unknown indicator {k!r}; known: {', '.join(METRICS)}",
                   zh=f"未知的指标 {k!r}；可用的指标：{', '.join(METRICS)}")
        out[k] = r.number(v, f"{path}.{k}", positive=positive)
    return FrozenDict(out)


def _classes(r: _Reader, d: Any, path: str) -> ClassBands:
    d = r.table(d, path, {"method", "A", "B", "C", "D"}, ("method",))
    if d["method"] == "percentile":
        shares = {g: r.number(d.get(g), f"{path}.{g}") for g in "ABCD"}
        if any(v < 0 for v in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-9:
            r.fail(path, f"percentile shares A/B/C/D must be >= 0 and sum to 1, got {shares}",
                   zh=f"A/B/C/D 类比例必须 >= 0 且合计为 1，实际为 {shares}")
        return ClassBands("percentile", shares=FrozenDict(shares))
    if d["method"] == "cutoff":
        if "D" in d:
            r.fail(path, "cutoff classes take minimum scores for A, B and C; D is everything below C",
                   zh="按分数线分类时给出 A、B、C 类的最低分；低于 C 类分数线的都是 D 类")
        cuts = {g: r.number(d.get(g), f"{path}.{g}") for g in "ABC"}
        if not cuts["A"] > cuts["B"] > cuts["C"]:
            r.fail(path, f"cutoffs must fall from A to C, got {cuts}",
                   zh=f"分数线必须从 A 到 C 递减，实际为 {cuts}")
        return ClassBands("cutoff", cutoffs=FrozenDict(cuts))
    r.fail(path, f"'method' must be 'percentile' or 'cutoff', got {d['method']!r}",
           zh=f"'method' 只能是 'percentile'（按比例）或 'cutoff'（按分数线），实际为 {d['method']!r}")


def _group(r: _Reader, gid: str, d: Any, path: str) -> ScoringGroup:
    if gid not in GROUP_IDS:
        r.fail(path, f"unknown group {gid!r}; known: {', '.join(GROUP_IDS)}",
               zh=f"未知的评价组 {gid!r}；可用的组：{', '.join(GROUP_IDS)}")
    d = r.table(d, path, {"zh", "en", "weights", "benchmark", "benchmarks", "benchmark_factor", "missing",
                          "missing_by_indicator", "cap", "classes"}, ("weights", "classes"))
    weights = _indicator_map(r, d["weights"], f"{path}.weights", positive=True)
    if not weights:
        r.fail(f"{path}.weights", "needs at least one indicator",
               zh="至少需要一个指标")
    benchmark = d.get("benchmark", "mean")
    if benchmark not in BENCHMARKS:
        r.fail(path, f"'benchmark' must be one of {', '.join(BENCHMARKS)}, got {benchmark!r}",
               zh=f"'benchmark' 必须是 {', '.join(BENCHMARKS)} 之一，实际为 {benchmark!r}")
    benchmarks = _indicator_map(r, d.get("benchmarks", {}), f"{path}.benchmarks", positive=True)
    if benchmark == "fixed":
        lacking = [k for k in weights if k not in benchmarks]
        if lacking:
            r.fail(f"{path}.benchmarks", f"fixed benchmarks missing for {', '.join(lacking)}",
                   zh=f"缺少以下指标的固定基准值：{', '.join(lacking)}")
    elif benchmarks:
        r.fail(path, f"'benchmarks' numbers need benchmark = \"fixed\" (got {benchmark!r})",
               zh=f"'benchmarks' 数值需要 benchmark = \"fixed\"（实际为 {benchmark!r}）")
    extra = [k for k in benchmarks if k not in weights]
    if extra:
        r.fail(f"{path}.benchmarks", f"benchmark for unweighted indicator(s) {', '.join(extra)}",
               zh=f"为未加权的指标给出了基准值：{', '.join(extra)}")
    missing = d.get("missing", "zero")
    if missing not in MISSING:
        r.fail(path, f"'missing' must be one of {', '.join(MISSING)}, got {missing!r}",
               zh=f"'missing' 必须是 {', '.join(MISSING)} 之一，实际为 {missing!r}")
    by_ind = r.table(d.get("missing_by_indicator", {}), f"{path}.missing_by_indicator", set(weights))
    for k, v in by_ind.items():
        if v not in MISSING:
            r.fail(f"{path}.missing_by_indicator.{k}", f"must be one of {', '.join(MISSING)}, got {v!r}",
                   zh=f"必须是 {', '.join(MISSING)} 之一，实际为 {v!r}")
    return ScoringGroup(
        id=gid, zh=r.text(d, "zh", path, {"above": "规上", "below": "规下", "tenant": "租赁企业"}[gid]),
        en=r.text(d, "en", path, {"above": "above size", "below": "below size", "tenant": "tenants"}[gid]),
        weights=weights, benchmark=benchmark, benchmarks=benchmarks,
        benchmark_factor=r.number(d.get("benchmark_factor", 1.0), f"{path}.benchmark_factor", positive=True),
        missing=missing, missing_by_indicator=FrozenDict(by_ind),
        cap=r.number(d.get("cap"), f"{path}.cap", positive=True, allow_none=True),
        classes=_classes(r, d["classes"], f"{path}.classes"),
    )


def _grade_rules(r: _Reader, d: Any, path: str, *, allow_n: bool) -> tuple[GradeRule, ...]:
    out = []
    for _, item, p in r.items(d, path):
        item = r.table(item, p, {"when", "grade", "zh", "en"}, ("when",))
        grade = item.get("grade", "N" if allow_n else None)
        if grade not in (("N",) if allow_n else ("A", "B", "C", "D")):
            r.fail(p, f"'grade' must be {'N' if allow_n else 'one of A, B, C, D'}, got {grade!r}",
                   zh=f"'grade' 必须是 {'N' if allow_n else 'A、B、C、D 之一'}，实际为 {grade!r}")
        out.append(GradeRule(r.cond(item["when"], f"{p}.when"), grade, r.text(item, "zh", p, ""),
                             r.text(item, "en", p, "")))
    return tuple(out)


def _scoring(r: _Reader, d: Any) -> Scoring:
    d = r.table(d, "scoring", {"groups", "industry_groups", "negative", "adjustments", "not_graded", "overrides"},
                ("groups",))
    groups_d = r.table(d["groups"], "scoring.groups", set(GROUP_IDS))
    groups = FrozenDict({g: _group(r, g, v, f"scoring.groups.{g}") for g, v in groups_d.items()})
    ind = r.table(d.get("industry_groups", {}), "scoring.industry_groups", set(d.get("industry_groups", {})))
    prefixes, labels = {}, {}
    for k, v in ind.items():
        p = f"scoring.industry_groups.{k}"
        if isinstance(v, dict):
            v = r.table(v, p, {"zh", "en", "prefixes"}, ("prefixes",))
            labels[k] = (r.text(v, "zh", p, k), r.text(v, "en", p, k))
            v = v["prefixes"]
        else:
            labels[k] = (k, k)
        if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
            r.fail(p, "must be a list of industry code prefixes like [\"17\", \"18\"] "
                      "(or a table {zh, en, prefixes})",
                   zh="必须是行业代码前缀的列表，如 [\"17\", \"18\"]（或表 {zh, en, prefixes}）")
        prefixes[k] = tuple(v)
    negative = d.get("negative", "clip")
    if negative not in ("clip", "keep"):
        r.fail("scoring", f"'negative' must be 'clip' or 'keep', got {negative!r}",
               zh=f"'negative' 只能是 'clip' 或 'keep'，实际为 {negative!r}")
    adjustments = []
    for _, item, p in r.items(d.get("adjustments"), "scoring.adjustments"):
        item = r.table(item, p, {"type", "zh", "en", "groups", "first", "additional", "points", "when"},
                       ("type", "zh", "en"))
        groups_used = tuple(item.get("groups", list(groups)))
        bad = [g for g in groups_used if g not in groups]
        if bad:
            r.fail(p, f"unknown group(s) {', '.join(bad)}; defined: {', '.join(groups)}",
                   zh=f"未知的评价组 {', '.join(bad)}；已定义：{', '.join(groups)}")
        if item["type"] == "tenants":
            adjustments.append(Adjustment("tenants", item["zh"], item["en"], groups_used,
                                          first=r.number(item.get("first", 0), f"{p}.first"),
                                          additional=r.number(item.get("additional", 0), f"{p}.additional")))
        elif item["type"] == "condition":
            if "when" not in item or "points" not in item:
                r.fail(p, "a 'condition' adjustment needs 'when' and 'points'",
                       zh="'condition' 类调整需要 'when' 和 'points'")
            adjustments.append(Adjustment("condition", item["zh"], item["en"], groups_used,
                                          points=r.number(item["points"], f"{p}.points"),
                                          when=r.cond(item["when"], f"{p}.when")))
        else:
            r.fail(p, f"'type' must be 'tenants' or 'condition', got {item['type']!r}",
                   zh=f"'type' 只能是 'tenants' 或 'condition'，实际为 {item['type']!r}")
    return Scoring(groups=groups, industry_groups=FrozenDict(prefixes),
                   industry_labels=FrozenDict({**labels, "other": ("其他", "other")}),
                   negative=negative, adjustments=tuple(adjustments),
                   not_graded=_grade_rules(r, d.get("not_graded"), "scoring.not_graded", allow_n=True),
                   overrides=_grade_rules(r, d.get("overrides"), "scoring.overrides", allow_n=False))


def _categories(r: _Reader, d: Any) -> FrozenDict:
    out: dict[str, Category] = {}
    for _, item, p in r.items(d, "categories"):
        item = r.table(item, p, {"id", "zh", "en", "colour", "low_efficiency", "frees_land"},
                       ("id", "zh", "en", "colour"))
        cid = r.text(item, "id", p)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", cid) or cid in out:
            r.fail(p, f"category id {cid!r} must be a new lower_snake_case name",
                   zh=f"处置类别编号 {cid!r} 必须是新的 lower_snake_case 名称")
        if not _COLOUR.match(str(item["colour"])):
            r.fail(p, f"'colour' must be '#rrggbb', got {item['colour']!r}",
                   zh=f"'colour' 必须写成 '#rrggbb'，实际为 {item['colour']!r}")
        low = item.get("low_efficiency", True)
        frees = item.get("frees_land", low)
        for key, value in (("low_efficiency", low), ("frees_land", frees)):
            if not isinstance(value, bool):
                r.fail(p, f"'{key}' must be true or false, got {value!r}",
                       zh=f"'{key}' 必须是 true 或 false，实际为 {value!r}")
        out[cid] = Category(cid, r.text(item, "zh", p), r.text(item, "en", p), item["colour"], low, frees)
    return FrozenDict(out)


def _disposal(r: _Reader, d: Any, categories: Mapping[str, Category]) -> Disposal:
    d = r.table(d, "disposal", {"scope", "scope_zh", "scope_en", "exempt", "rules"}, ("rules",))
    rules = []
    for _, item, p in r.items(d["rules"], "disposal.rules"):
        item = r.table(item, p, {"category", "when"}, ("category", "when"))
        if item["category"] not in categories:
            r.fail(p, f"unknown category {item['category']!r}; defined in [[categories]]: "
                      f"{', '.join(categories) or 'none'}",
                   zh=(f"未知的处置类别 {item['category']!r}；[[categories]] 中定义的有："
                       f"{', '.join(categories) or '（无）'}"))
        rules.append(Rule(item["category"], r.cond(item["when"], f"{p}.when")))
    if not rules:
        r.fail("disposal.rules", "needs at least one rule",
               zh="至少需要一条规则")
    exempt = []
    for _, item, p in r.items(d.get("exempt"), "disposal.exempt"):
        item = r.table(item, p, {"when", "zh", "en"}, ("when", "zh", "en"))
        exempt.append(Exemption(r.cond(item["when"], f"{p}.when"), item["zh"], item["en"]))
    scope = r.cond(d["scope"], "disposal.scope") if "scope" in d else None
    return Disposal(tuple(rules), scope, r.text(d, "scope_zh", "disposal", "认定范围"),
                    r.text(d, "scope_en", "disposal", "scope"), tuple(exempt))


def _year(r: _Reader, v: Any, path: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1990 <= v <= 2100:
        r.fail(path, f"expected a year like 2021, got {v!r}",
               zh=f"应为年份（如 2021），实际为 {v!r}")
    return v


def _category_list(r: _Reader, d: dict[str, Any], path: str, categories: Mapping[str, Category]) -> tuple[str, ...]:
    cats = d.get("categories", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        r.fail(path, f"'categories' must be a list of category ids, got {cats!r}",
               zh=f"'categories' 必须是处置类别编号的列表，实际为 {cats!r}")
    bad = [c for c in cats if c not in categories]
    if bad:
        r.fail(path, f"unknown categor(ies) {', '.join(map(repr, bad))}; defined in [[categories]]: "
                     f"{', '.join(categories) or 'none'}",
               zh=(f"未知的处置类别 {', '.join(map(repr, bad))}；[[categories]] 中定义的有："
                   f"{', '.join(categories) or '（无）'}"))
    return tuple(cats)


def _yearly_targets(r: _Reader, d: Any, categories: Mapping[str, Category]) -> tuple[YearlyTarget, ...]:
    out = []
    for _, item, p in r.items(d, "targets.yearly"):
        item = r.table(item, p, {"year", "measure", "value", "zh", "en", "source", "group", "threshold",
                                 "categories", "cumulative", "since"}, ("year", "measure", "value", "zh", "source"))
        measure = item["measure"]
        if measure not in TARGET_MEASURES:
            r.fail(p, f"unknown measure {measure!r}; known: {', '.join(TARGET_MEASURES)}",
                   zh=f"未知的目标口径 {measure!r}；可用的有：{', '.join(TARGET_MEASURES)}")
        group = item.get("group", "all")
        if group not in ("all", "above", "below"):
            r.fail(p, f"'group' must be 'all', 'above' (规上) or 'below' (规下), got {group!r}",
                   zh=f"'group' 只能是 'all'、'above'（规上）或 'below'（规下），实际为 {group!r}")
        needs_threshold = TARGET_MEASURES[measure][1]
        threshold = r.number(item.get("threshold"), f"{p}.threshold", allow_none=True)
        if needs_threshold and threshold is None:
            r.fail(p, f"measure {measure!r} needs 'threshold' (the line in 万元/亩, e.g. threshold = 2)",
                   zh=f"口径 {measure!r} 需要 'threshold'（以万元/亩计的标准线，例如 threshold = 2）")
        if not needs_threshold and threshold is not None:
            r.fail(p, f"'threshold' is only read by share_tax_per_mu_at_least, not by {measure!r}",
                   zh=f"'threshold' 只用于 share_tax_per_mu_at_least，不用于 {measure!r}")
        value = r.number(item["value"], f"{p}.value", positive=True)
        if measure.startswith("share_") and value > 1:
            r.fail(p, f"a share target is a fraction of 1 (80 % -> 0.8), got {value!r}",
                   zh=f"比例目标是 1 以内的小数（80% → 0.8），实际为 {value!r}")
        year = _year(r, item["year"], f"{p}.year")
        cumulative = item.get("cumulative", False)
        if not isinstance(cumulative, bool):
            r.fail(p, f"'cumulative' must be true or false, got {cumulative!r}",
                   zh=f"'cumulative' 只能是 true 或 false，实际为 {cumulative!r}")
        if cumulative and TARGET_MEASURES[measure][0] != "ledger":
            r.fail(p, f"'cumulative' adds up ledger counts; {measure!r} is a level of one year",
                   zh=f"'cumulative' 累加台账中的数目；{measure!r} 是单一年份的水平")
        since = _year(r, item["since"], f"{p}.since") if "since" in item else None
        if since is not None and (not cumulative or since > year):
            r.fail(p, f"'since' ({since}) needs cumulative = true and a year not after 'year' ({year})",
                   zh=f"'since'（{since}）需要 cumulative = true，且年份不晚于 'year'（{year}）")
        out.append(YearlyTarget(
            year=year, measure=measure, value=value, zh=r.text(item, "zh", p), en=r.text(item, "en", p, item["zh"]),
            source=r.text(item, "source", p), group=group, threshold=threshold,
            categories=_category_list(r, item, p, categories), cumulative=cumulative,
            since=since,
        ))
    return tuple(out)


def _deadlines(r: _Reader, d: Any, categories: Mapping[str, Category]) -> tuple[Deadline, ...]:
    out: list[Deadline] = []
    for _, item, p in r.items(d, "deadlines"):
        item = r.table(item, p, {"name", "en", "days", "from", "working_days", "categories", "source"},
                       ("name", "days", "from"))
        name = r.text(item, "name", p)
        if not name or name in {x.name for x in out}:
            r.fail(p, f"'name' {name!r} must be a new, non-empty column header",
                   zh=f"'name' {name!r} 必须是新的、非空的列标题")
        days = item["days"]
        if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
            r.fail(p, f"'days' must be a positive whole number, got {days!r}",
                   zh=f"'days' 必须是正整数，实际为 {days!r}")
        start = item["from"]
        if start not in DEADLINE_STARTS:
            r.fail(p, f"'from' must be a staff date column of the ledger: {', '.join(DEADLINE_STARTS)}; got {start!r}",
                   zh=f"'from' 必须是台账中由工作人员填写的日期列：{', '.join(DEADLINE_STARTS)}；实际为 {start!r}")
        working = item.get("working_days", False)
        if not isinstance(working, bool):
            r.fail(p, f"'working_days' must be true or false, got {working!r}",
                   zh=f"'working_days' 只能是 true 或 false，实际为 {working!r}")
        out.append(Deadline(name, r.text(item, "en", p, name), days, start, working,
                            _category_list(r, item, p, categories), r.text(item, "source", p, "")))
    return tuple(out)


def _all_conditions(p: Policy) -> Iterator[Condition]:
    if p.scoring:
        for g in (*p.scoring.not_graded, *p.scoring.overrides):
            yield g.when
        for a in p.scoring.adjustments:
            if a.when is not None:
                yield a.when
    if p.disposal:
        if p.disposal.scope is not None:
            yield p.disposal.scope
        yield from (e.when for e in p.disposal.exempt)
        yield from (rule.when for rule in p.disposal.rules)
    yield from (f.when for f in p.flags)


def parse_preset(data: Mapping[str, Any], *, where: str, name: str) -> Policy:
    """Validate a preset already read from TOML (``where`` names it in error messages)."""
    r = _Reader(where)
    top = {"name", "title_zh", "title_en", "source", "reference_year", "metrics", "scoring", "categories",
           "disposal", "flags", "targets", "target_tax_per_mu", "tax_thresholds", "parcel_rule", "deadlines", "pricing"}
    d = r.table(dict(data), "top level", top, ("title_zh", "title_en", "source"))
    ref = d.get("reference_year")
    if ref is not None and (isinstance(ref, bool) or not isinstance(ref, int) or not 1990 <= ref <= 2100):
        r.fail("top level", f"'reference_year' must be a year like 2021, got {ref!r}",
               zh=f"'reference_year' 必须是年份（如 2021），实际为 {ref!r}")
    metrics = r.table(d.get("metrics", {}), "metrics", {"emission_weights"})
    ew = r.table(metrics.get("emission_weights", dict.fromkeys(EMISSION_COLUMNS, 1.0)),
                 "metrics.emission_weights", set(EMISSION_COLUMNS))
    emission_weights = FrozenDict({k: r.number(v, f"metrics.emission_weights.{k}") for k, v in ew.items()})
    categories = _categories(r, d.get("categories"))
    flags = []
    for _, item, p in r.items(d.get("flags"), "flags"):
        item = r.table(item, p, {"id", "zh", "en", "when"}, ("id", "zh", "en", "when"))
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(item["id"])):
            r.fail(p, f"flag id {item['id']!r} must be lower_snake_case",
                   zh=f"标记编号 {item['id']!r} 必须是 lower_snake_case")
        flags.append(FlagRule(item["id"], item["zh"], item["en"], r.cond(item["when"], f"{p}.when")))
    targets = dict(r.table(d.get("targets", {}), "targets", set(d.get("targets", {}))))
    yearly = targets.pop("yearly", None)  # [[targets.yearly]]: the rest of [targets] are plain numbers
    pr = r.table(d.get("parcel_rule", {}), "parcel_rule",
                 {"any_firm_flagged", "tax_per_mu_below", "idle", "plot_ratio_below"})
    parcel_rule = ParcelRule(
        any_firm_flagged=bool(pr.get("any_firm_flagged", True)),
        tax_per_mu_below=r.number(pr.get("tax_per_mu_below"), "parcel_rule.tax_per_mu_below", allow_none=True),
        idle=bool(pr.get("idle", False)),
        plot_ratio_below=r.number(pr.get("plot_ratio_below"), "parcel_rule.plot_ratio_below", positive=True,
                                  allow_none=True),
    )
    extra = d.get("tax_thresholds", [])
    if not isinstance(extra, list):
        r.fail("top level", f"'tax_thresholds' must be a list of numbers (万元/亩), got {extra!r}",
               zh=f"'tax_thresholds' 必须是数字列表（万元/亩），实际为 {extra!r}")
    policy = Policy(
        name=r.text(d, "name", "top level", name), title_zh=d["title_zh"], title_en=d["title_en"],
        source=d["source"], path=where, reference_year=ref, categories=categories,
        emission_weights=emission_weights,
        scoring=_scoring(r, d["scoring"]) if "scoring" in d else None,
        disposal=_disposal(r, d["disposal"], categories) if "disposal" in d else None,
        flags=tuple(flags),
        targets=FrozenDict({k: r.number(v, f"targets.{k}") for k, v in targets.items()}),
        target_tax_per_mu=r.number(d.get("target_tax_per_mu"), "top level.target_tax_per_mu", positive=True,
                                   allow_none=True),
        tax_thresholds=(), parcel_rule=parcel_rule,
        yearly_targets=_yearly_targets(r, yearly, categories), deadlines=_deadlines(r, d.get("deadlines"), categories),
        pricing=parse_pricing(d["pricing"], where=where, categories=categories) if "pricing" in d else None,
    )
    thresholds = {r.number(v, "top level.tax_thresholds") for v in extra}
    if parcel_rule.tax_per_mu_below is not None:
        thresholds.add(parcel_rule.tax_per_mu_below)
    for cond in _all_conditions(policy):
        for node in walk(cond):
            if isinstance(node, Grade) and policy.scoring is None:
                r.fail("scoring", "the rules test grades but the preset has no [scoring] section",
                       zh="规则检查了评价类别，但预设中没有 [scoring] 节")
            if isinstance(node, Metric) and node.column == "tax_per_mu":
                thresholds.add(node.value)
                if node.upper is not None:
                    thresholds.add(node.upper)
    return _replace(policy, tax_thresholds=tuple(sorted(thresholds)))


def _replace(p: Policy, **changes: Any) -> Policy:
    import dataclasses

    return dataclasses.replace(p, **changes)


def _preset_dir() -> Any:
    return resources.files("gisefficiency.evaluate") / "presets"


def _preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str | Path) -> Policy:
    """Load a shipped preset by name (``"suichang-2022"``) or any preset file by path.

    Parameters
    ----------
    name_or_path
        A name from :func:`list_presets`, or the path of a ``.toml`` preset file.

    Returns
    -------
    Policy

    Raises
    ------
    ConfigError
        Unknown name, unreadable file, TOML syntax error, or an invalid preset; the message names the
        file and the key path, e.g. ``presets/x.toml: [scoring.groups.above.weights] unknown indicator``.
    """
    text_name = str(name_or_path)
    path = Path(text_name).expanduser()
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise ConfigError(f"preset file {path} not found -> check the path, or use a shipped preset: "
                              f"{', '.join(_preset_names())}",
                              zh=(f"找不到预设文件 {path} → 请检查路径，或使用内置预设："
                                  f"{'、'.join(_preset_names())}"))
        raw, where, stem = path.read_bytes(), str(path), path.stem
    else:
        res = _preset_dir() / f"{text_name}.toml"
        if not res.is_file():
            raise ConfigError(f"unknown preset {text_name!r} -> use one of {', '.join(_preset_names())} "
                              "or the path of a .toml preset file",
                              zh=(f"未知的预设 {text_name!r} → 请使用 {'、'.join(_preset_names())} 之一，"
                                  "或给出 .toml 预设文件的路径"))
        raw, where, stem = res.read_bytes(), f"presets/{text_name}.toml", text_name
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{where}: not valid UTF-8 TOML ({e}) -> fix the syntax at that line",
                          zh=f"{where}：不是有效的 UTF-8 TOML（{e}）→ 请修正该行的语法") from None
    return parse_preset(data, where=where, name=stem)


def list_presets() -> list[PresetInfo]:
    """The shipped presets: name, one-line description (zh, en) and source document."""
    out = []
    for name in _preset_names():
        p = load_preset(name)
        out.append(PresetInfo(p.name, p.title_zh, p.title_en, p.source, p.path))
    return out

"""The condition language of policy presets: the condition tree and its parser (evaluation: ``conditions``).

A condition is a TOML table with exactly one of these keys (see ``docs/presets.md``)::

    {metric = "tax_per_mu", op = "<", value = 1, years = 3, wording = "each"}
    {metric = "tax_per_mu", between = [1, 3], years = 2}        # 1 <= x < 3
    {grade = ["D"], years = 2}
    {flag = "public_welfare"}                                  # value = false for "not"
    {attr = "scale", in = ["below"]}  /  {attr = "industry", prefix = ["13", "14"]}
    {date = "supply_date", op = "<", value = "{year}-01-01"}   # {year} = the evaluated year
    {date = ["production_date", "supply_date"], op = ">=", value = "2018-01-01"}   # first known date
    {date = "supply_date", within_years = 3}                   # date + 3 years after the year's end
    {not_producing_by = "{year}-12-31"}
    {all = [...]}, {any = [...]}, {not = {...}}

``years = N`` means the comparison holds in each of the N years ending at the evaluated year; a year
without data is not a year below the threshold, so the condition fails. Per-mu metrics compare after
rounding to ``constants.PER_MU_DECIMALS``. Every outcome carries texts in Chinese and English saying
why it holds and why it does not, with the numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisefficiency.core.schema import FLAG_FIRM_COLUMNS
from gisefficiency.metrics.indicators import EXTRA_FLAG_COLUMNS, INPUT_COLUMNS, METRICS

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
}
#: Columns a ``metric`` condition may test, with (zh, en, unit zh, unit en).
NUMBER_COLUMNS: dict[str, tuple[str, str, str, str]] = {
    **{k: (m.zh, m.en, m.unit_zh, m.unit_en) for k, m in METRICS.items()},
    "land_mu": ("用地面积", "land", "亩", "mu"),
    "tax": ("实缴税金", "tax", "万元", "10k yuan"),
    "value_added": ("工业增加值", "value added", "万元", "10k yuan"),
    "revenue": ("营业收入", "revenue", "万元", "10k yuan"),
    "energy_tce": ("综合能耗", "energy use", "吨标煤", "tce"),
    "electricity": ("用电量", "electricity", "万千瓦时", "10k kWh"),
    "emission_t": ("主要污染物排放量", "emissions", "吨", "t"),
    "cod_t": ("COD排放量", "COD", "吨", "t"), "nh3n_t": ("氨氮排放量", "NH3-N", "吨", "t"),
    "so2_t": ("二氧化硫排放量", "SO2", "吨", "t"), "nox_t": ("氮氧化物排放量", "NOx", "吨", "t"),
    "rd": ("研发经费", "R&D spending", "万元", "10k yuan"),
    "staff": ("年平均职工人数", "staff", "人", "persons"),
    "water_m3": ("用水量", "water use", "立方米", "m³"), "gas_m3": ("天然气用量", "natural gas use", "立方米", "m³"),
    "score": ("综合得分", "score", "分", "points"),
    # A land-right holder's figures (metrics.indicators._holdings): the land it holds, whole parcels, and
    # the tax of every firm on it, its tenants' included (温州经开区: 年度综合亩均税收 of 国有土地使用权人).
    "holder_tax_per_mu": ("综合亩均税收", "combined tax per mu of the land held", "万元/亩", "10k yuan/mu"),
    "holder_tax": ("所持土地上企业实缴税金合计", "tax of all firms on the land held", "万元", "10k yuan"),
    "holder_land_mu": ("自有用地面积", "land held", "亩", "mu"),
    "holder_other_firms": ("自有用地上其他企业数", "other firms on the land held", "家", "firms"),
    "leased_floor_m2": ("承租面积", "leased floor area", "平方米", "m²"),
}
#: Ratio columns whose reasons also give the figures they divide: (numerator, denominator, applies)
#: columns. Where ``applies`` is missing or 0 (a unit holding no land, or none other firms use) the
#: ratio does not apply: the condition is false and its counter-reason is empty (left out of joins).
EXPLAINED_RATIOS: dict[str, tuple[str, str, str]] = {
    "holder_tax_per_mu": ("holder_tax", "holder_land_mu", "holder_other_firms"),
}
assert set(INPUT_COLUMNS) <= set(NUMBER_COLUMNS)
_SECTION_LETTER = r"^[A-Ta-t](?=\d)"


def industry_digits(codes: pd.Series) -> pd.Series:
    """GB/T 4754 industry codes as digits: "C3311" and " 3311 " are both "3311" (the section letter is
    implied by the division: 13-43 are section C, manufacturing), so presets' prefixes match either way."""
    return codes.astype("string").str.strip().str.replace(_SECTION_LETTER, "", regex=True)


FLAG_COLUMNS: dict[str, tuple[str, str]] = {
    "high_tech": ("有效期内高新技术企业", "valid high-tech enterprise"),
    "tech_sme": ("科技型中小企业", "tech-based SME"),
    "public_welfare": ("公益类企业", "public-welfare firm"),
    "in_production": ("在产企业", "firm in production"),
    "tenant": ("租赁企业", "tenant firm"),
    "zombie": ("连续停产半年以上的僵尸企业", "zombie firm (halted over half a year)"),
    "unlicensed": ("无证无照等“四无”企业", "unlicensed ('four-nos') firm"),
    "banned_industry": ("属禁止类产业项目", "banned industry"),
    "non_industrial_tenant": ("租赁工业厂房但不从事工业生产", "tenant of industrial premises not doing industry"),
    "auction_non_industrial": ("通过司法拍卖等途径获得工业用地但不从事工业生产",
                               "industrial land won at auction but not used for industry"),
}
assert set(FLAG_FIRM_COLUMNS) | set(EXTRA_FLAG_COLUMNS) <= set(FLAG_COLUMNS)
#: Flags that certify for a term, in years counted from the year of the row that says 是 (that year
#: included): a 高新技术企业 certificate runs 3 years (《高新技术企业认定管理办法》第十一条: 有效期为三年);
#: 科技型中小企业 are registered (入库) year by year. A later row that says 否 or 是 replaces it.
CERTIFICATE_YEARS: dict[str, int] = {"high_tech": 3, "tech_sme": 1}
ATTR_COLUMNS: dict[str, tuple[str, str]] = {
    "scale": ("规模", "scale"), "group": ("评价组", "group"), "industry": ("行业代码", "industry code"),
}
DATE_COLUMNS: dict[str, tuple[str, str]] = {
    "supply_date": ("供地日期", "supply date"), "production_date": ("投产日期", "production date"),
}
GRADES = ("A", "B", "C", "D", "N")
DATE_TEMPLATE = re.compile(r"^(?:(\d{4})|\{year(?:([+-])(\d+))?\})-(\d{2})-(\d{2})$")
class PolicyFormatError(ValueError):
    """A condition table is malformed; ``path`` is its key path inside the preset."""

    def __init__(self, path: str, message: str, *, zh: str = "") -> None:
        super().__init__(f"[{path}] {message}")
        self.path, self.message = path, message
        self.text_zh = f"[{path}] {zh or message}"


# ----------------------------------------------------------------------------------------------
# Condition tree


@dataclass(frozen=True)
class Metric:
    column: str
    op: str
    value: float
    upper: float | None = None  # with op "between": value <= x < upper
    years: int = 1
    wording: str = "consecutive"
    if_missing: bool = False


@dataclass(frozen=True)
class Grade:
    grades: tuple[str, ...]
    years: int = 1
    wording: str = "consecutive"


@dataclass(frozen=True)
class Flag:
    column: str
    value: bool = True


@dataclass(frozen=True)
class Attr:
    column: str
    values: tuple[str, ...]
    prefix: bool = False
    if_missing: bool = False


@dataclass(frozen=True)
class DateCmp:
    columns: tuple[str, ...]
    op: str
    value: str


@dataclass(frozen=True)
class Within:
    columns: tuple[str, ...]
    years: int


@dataclass(frozen=True)
class NotProducingBy:
    value: str


@dataclass(frozen=True)
class All:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


Condition = Metric | Grade | Flag | Attr | DateCmp | Within | NotProducingBy | All | AnyOf | Not
_KINDS = ("all", "any", "not", "metric", "grade", "flag", "attr", "date", "not_producing_by")
_ALLOWED = {
    "all": {"all"}, "any": {"any"}, "not": {"not"},
    "metric": {"metric", "op", "value", "between", "years", "wording", "if_missing"},
    "grade": {"grade", "years", "wording"}, "flag": {"flag", "value"},
    "attr": {"attr", "in", "prefix", "if_missing"},
    "date": {"date", "op", "value", "within_years"}, "not_producing_by": {"not_producing_by"},
}


def _known(kind: str, names: Any) -> str:
    return f"known {kind}: " + ", ".join(sorted(names))


def _number(v: Any, path: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PolicyFormatError(path, f"expected a number, got {v!r}",
                                zh=f"应为数字，实际为 {v!r}")
    return float(v)


def _years(d: dict[str, Any], path: str) -> tuple[int, str]:
    years = d.get("years", 1)
    if isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise PolicyFormatError(path, f"'years' must be a whole number >= 1, got {years!r}",
                                zh=f"'years' 必须是 >= 1 的整数，实际为 {years!r}")
    wording = d.get("wording", "consecutive")
    if wording not in ("consecutive", "each"):
        raise PolicyFormatError(path, f"'wording' must be 'consecutive' or 'each', got {wording!r}",
                                zh=f"'wording' 只能是 'consecutive'（连续）或 'each'（每年），实际为 {wording!r}")
    return years, wording


def _date_value(v: Any, path: str) -> str:
    if not isinstance(v, str) or not DATE_TEMPLATE.match(v):
        raise PolicyFormatError(path, f"date {v!r} must be 'YYYY-MM-DD' or '{{year}}-MM-DD' / '{{year-3}}-MM-DD'",
                                zh=f"日期 {v!r} 必须写成 'YYYY-MM-DD' 或 '{{year}}-MM-DD' / '{{year-3}}-MM-DD'")
    return v


def parse_condition(d: Any, path: str) -> Condition:
    """Parse one condition table; raise :class:`PolicyFormatError` naming the key path of any mistake."""
    if not isinstance(d, dict):
        raise PolicyFormatError(path, f"a condition is a table like {{metric = \"tax_per_mu\", op = \"<\", "
                                      f"value = 1}}, got {d!r}",
                                zh=f"条件是这样的表：{{metric = \"tax_per_mu\", op = \"<\", value = 1}}，实际为 {d!r}")
    kinds = [k for k in _KINDS if k in d]
    if len(kinds) != 1:
        raise PolicyFormatError(path, f"a condition needs exactly one of {', '.join(_KINDS)}; got keys "
                                      f"{', '.join(sorted(d)) or 'none'}",
                                zh=f"条件必须恰好含 {', '.join(_KINDS)} 之一；实际的键：{', '.join(sorted(d)) or '（无）'}")
    kind = kinds[0]
    unknown = set(d) - _ALLOWED[kind]
    if unknown:
        raise PolicyFormatError(path, f"unknown key(s) {', '.join(sorted(unknown))} in a '{kind}' condition; "
                                      f"{_known('keys', _ALLOWED[kind])}",
                                zh=(f"'{kind}' 条件中有未知的键 {', '.join(sorted(unknown))}；"
                                    f"可用的键：{', '.join(sorted(_ALLOWED[kind]))}"))
    if kind in ("all", "any"):
        parts = d[kind]
        if not isinstance(parts, list) or not parts:
            raise PolicyFormatError(path, f"'{kind}' needs a non-empty list of conditions",
                                    zh=f"'{kind}' 需要非空的条件列表")
        parsed = tuple(parse_condition(p, f"{path}.{kind}[{i}]") for i, p in enumerate(parts))
        return All(parsed) if kind == "all" else AnyOf(parsed)
    if kind == "not":
        return Not(parse_condition(d["not"], f"{path}.not"))
    if kind == "metric":
        col = d["metric"]
        if col not in NUMBER_COLUMNS:
            raise PolicyFormatError(path, f"unknown metric {col!r}; {_known('metrics', NUMBER_COLUMNS)}",
                                    zh=f"未知的指标 {col!r}；可用的指标：{', '.join(sorted(NUMBER_COLUMNS))}")
        years, wording = _years(d, path)
        if "between" in d:
            b = d["between"]
            if "op" in d or "value" in d or not isinstance(b, list) or len(b) != 2:
                raise PolicyFormatError(path, "'between' takes [low, high] (low <= x < high) instead of op/value",
                                        zh="'between' 取 [下限, 上限]（下限 <= x < 上限），不与 op/value 同用")
            lo, hi = _number(b[0], path), _number(b[1], path)
            if not lo < hi:
                raise PolicyFormatError(path, f"'between' low {lo:g} must be below high {hi:g}",
                                        zh=f"'between' 的下限 {lo:g} 必须小于上限 {hi:g}")
            return Metric(col, "between", lo, hi, years, wording, bool(d.get("if_missing", False)))
        if d.get("op") not in OPS:
            raise PolicyFormatError(path, f"'op' must be one of {', '.join(OPS)}, got {d.get('op')!r}",
                                    zh=f"'op' 必须是 {', '.join(OPS)} 之一，实际为 {d.get('op')!r}")
        return Metric(col, d["op"], _number(d.get("value"), f"{path}.value"), None, years, wording,
                      bool(d.get("if_missing", False)))
    if kind == "grade":
        g = d["grade"]
        grades = (g,) if isinstance(g, str) else tuple(g) if isinstance(g, list) else ()
        if not grades or any(x not in GRADES for x in grades):
            raise PolicyFormatError(path, f"'grade' takes grades among {', '.join(GRADES)}, got {g!r}",
                                    zh=f"'grade' 只能取 {', '.join(GRADES)} 中的类别，实际为 {g!r}")
        years, wording = _years(d, path)
        return Grade(grades, years, wording)
    if kind == "flag":
        if d["flag"] not in FLAG_COLUMNS:
            raise PolicyFormatError(path, f"unknown flag {d['flag']!r}; {_known('flags', FLAG_COLUMNS)}",
                                    zh=f"未知的标记 {d['flag']!r}；可用的标记：{', '.join(sorted(FLAG_COLUMNS))}")
        if not isinstance(d.get("value", True), bool):
            raise PolicyFormatError(path, "'value' of a flag condition is true or false",
                                    zh="标记条件的 'value' 只能是 true 或 false")
        return Flag(d["flag"], d.get("value", True))
    if kind == "attr":
        col = d["attr"]
        if col not in ATTR_COLUMNS:
            raise PolicyFormatError(path, f"unknown attribute {col!r}; {_known('attributes', ATTR_COLUMNS)}",
                                    zh=f"未知的属性 {col!r}；可用的属性：{', '.join(sorted(ATTR_COLUMNS))}")
        if ("in" in d) == ("prefix" in d):
            raise PolicyFormatError(path, "an 'attr' condition takes either 'in' or 'prefix' (a list of text)",
                                    zh="'attr' 条件取 'in' 或 'prefix'（文本列表）之一")
        vals = d.get("in", d.get("prefix"))
        if not isinstance(vals, list) or not vals or not all(isinstance(v, str) for v in vals):
            raise PolicyFormatError(path, "'in'/'prefix' must be a non-empty list of text values",
                                    zh="'in'/'prefix' 必须是非空的文本列表")
        return Attr(col, tuple(vals), "prefix" in d, bool(d.get("if_missing", False)))
    if kind == "date":
        cols = (d["date"],) if isinstance(d["date"], str) else tuple(d["date"]) if isinstance(d["date"], list) else ()
        if not cols or any(c not in DATE_COLUMNS for c in cols):
            raise PolicyFormatError(path, f"unknown date column(s) {d['date']!r}; {_known('dates', DATE_COLUMNS)}",
                                    zh=f"未知的日期列 {d['date']!r}；可用的日期列：{', '.join(sorted(DATE_COLUMNS))}")
        if "within_years" in d:
            n = d["within_years"]
            if "op" in d or "value" in d or isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise PolicyFormatError(path, "'within_years' takes a whole number of years >= 1, without op/value",
                                        zh="'within_years' 取 >= 1 的整数年数，不与 op/value 同用")
            return Within(cols, n)
        if d.get("op") not in OPS:
            raise PolicyFormatError(path, f"'op' must be one of {', '.join(OPS)}, got {d.get('op')!r}",
                                    zh=f"'op' 必须是 {', '.join(OPS)} 之一，实际为 {d.get('op')!r}")
        return DateCmp(cols, d["op"], _date_value(d.get("value"), f"{path}.value"))
    return NotProducingBy(_date_value(d["not_producing_by"], f"{path}.not_producing_by"))


def walk(cond: Condition) -> Iterator[Condition]:
    """Every node of a condition tree, depth first."""
    yield cond
    if isinstance(cond, All | AnyOf):
        for p in cond.parts:
            yield from walk(p)
    elif isinstance(cond, Not):
        yield from walk(cond.part)

"""Differentiated prices (差别化价格): surcharges and discounts by grade or disposal category.

A preset's ``[pricing]`` section (``docs/presets.md``) lists items such as "electricity +0.1 元/kWh for
class C, +0.3 元/kWh for class D" or "城镇土地使用税 reduced by half for class A". Each item names the
resource it is charged on, the verdict column it keys on (``grade`` or ``category``), a rate in 元 per unit
of the resource per class (or a share of a base price), and the document it comes from.

Published schemes ship as pricing files (``presets/pricing/<name>.toml``, :func:`list_pricing_schemes`):
a ``[pricing]`` table of their own with the document's figures and clauses. A preset takes one with
``[pricing] scheme = "linhai-2022"`` (its own items, if any, are added), a run config with
``[policy] pricing = "linhai-2022"`` (:func:`with_pricing`: the scheme replaces the preset's section).

Units. The firm table holds electricity in 万kWh, land in 亩, energy in tce, emissions in t, water and
natural gas in m³; rates are quoted in 元/kWh, 元/m² per year, 元/tce, 元/t and 元/m³. So:

- electricity: 元/kWh × (万kWh × 10,000 kWh) / 10,000 元 per 万元 = rate × 万kWh 万元;
- land: 元/m² × (亩 × 10000/15 m²) / 10,000 = rate × 亩 / 15 万元;
- water, gas: 元/m³ × m³ / 10,000 万元.

An amount is missing (NaN, ``quantity_missing`` true) where the unit's quantity is missing: no water
figure is never 0 m³.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from gisefficiency.core.constants import M2_PER_MU, YUAN_PER_WAN
from gisefficiency.core.errors import ConfigError

__all__ = [
    "RESOURCES", "PriceItem", "Pricing", "PricingScheme", "list_pricing_schemes", "load_pricing", "parse_pricing",
    "price_table", "price_totals", "with_pricing",
]


@dataclass(frozen=True)
class Resource:
    """What a price is charged on: the panel column, the unit a rate is quoted per, the factor that
    turns the column's unit into that unit (e.g. 万kWh -> kWh: 10,000), and the column's own unit."""

    column: str
    unit_zh: str
    unit_en: str
    per_data_unit: float
    zh: str
    en: str
    data_unit: str = "t"


#: Resources a ``[pricing]`` item can be charged on (each a summed input column of the panel).
RESOURCES: dict[str, Resource] = {
    "electricity": Resource("electricity", "元/kWh", "yuan/kWh", 10_000.0, "用电", "electricity", "万kWh"),
    "land": Resource("land_mu", "元/m²·年", "yuan/m² per year", M2_PER_MU, "用地（城镇土地使用税）",
                     "land (land-use tax)", "亩"),
    "energy_tce": Resource("energy_tce", "元/tce", "yuan/tce", 1.0, "综合能耗", "energy", "tce"),
    "water": Resource("water_m3", "元/m³", "yuan/m³", 1.0, "用水", "water", "m³"),
    "gas": Resource("gas_m3", "元/m³", "yuan/m³", 1.0, "用气（天然气）", "natural gas", "m³"),
    "cod_t": Resource("cod_t", "元/t", "yuan/t", 1.0, "化学需氧量排放", "COD emission"),
    "nh3n_t": Resource("nh3n_t", "元/t", "yuan/t", 1.0, "氨氮排放", "NH3-N emission"),
    "so2_t": Resource("so2_t", "元/t", "yuan/t", 1.0, "二氧化硫排放", "SO2 emission"),
    "nox_t": Resource("nox_t", "元/t", "yuan/t", 1.0, "氮氧化物排放", "NOx emission"),
}
BY = ("grade", "category")
GRADE_KEYS = ("A", "B", "C", "D", "N")


@dataclass(frozen=True)
class PriceItem:
    """One differentiated price: ``rates`` ``(grade or category, 元 per resource unit)`` pairs (negative:
    a discount); pairs rather than a dict keep the frozen policy hashable."""

    id: str
    resource: str
    by: str
    rates: tuple[tuple[str, float], ...]
    zh: str
    en: str
    source: str


@dataclass(frozen=True)
class Pricing:
    """A preset's ``[pricing]`` section: its items and the default source document."""

    items: tuple[PriceItem, ...]
    source: str = ""


@dataclass(frozen=True)
class PricingScheme:
    """A shipped pricing file (``presets/pricing/<name>.toml``): a published scheme with its titles."""

    name: str
    title_zh: str
    title_en: str
    pricing: Pricing


def _fail(where: str, path: str, message: str, *, zh: str = "") -> NoReturn:
    raise ConfigError(f"{where}: [{path}] {message}", zh=f"{where}：[{path}] {zh or message}")


def _scheme_dir() -> Any:
    return resources.files("gisefficiency.evaluate") / "presets" / "pricing"


def _scheme_names() -> list[str]:
    return sorted(p.name[:-5] for p in _scheme_dir().iterdir() if p.name.endswith(".toml"))


def _read_scheme(name_or_path: str | Path) -> tuple[dict[str, Any], str, str]:
    """The TOML of a shipped scheme (by name) or of a pricing file (by path), where it came from, its name."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise ConfigError(f"pricing file {path} not found -> check the path, or use a shipped scheme: "
                              f"{', '.join(_scheme_names())}",
                              zh=f"找不到价格方案文件 {path} → 请检查路径，或使用内置方案：{', '.join(_scheme_names())}")
        raw, where, stem = path.read_bytes(), str(path), path.stem
    else:
        res = _scheme_dir() / f"{text}.toml"
        if not res.is_file():
            raise ConfigError(f"unknown pricing scheme {text!r} -> use one of {', '.join(_scheme_names())} "
                              "or the path of a .toml pricing file",
                              zh=f"未知的价格方案 {text!r} → 请使用 {', '.join(_scheme_names())} 之一，"
                                 "或一个 .toml 价格方案文件的路径")
        raw, where, stem = res.read_bytes(), f"presets/pricing/{text}.toml", text
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{where}: not valid UTF-8 TOML ({e}) -> fix the syntax at that line",
                          zh=f"{where}：不是有效的 UTF-8 TOML（{e}）→ 请修正该行的语法") from None
    return data, where, stem


def _scheme(name_or_path: str | Path) -> PricingScheme:
    data, where, stem = _read_scheme(name_or_path)
    unknown = sorted(set(data) - {"title_zh", "title_en", "pricing"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; known: title_zh, "
                          "title_en, pricing",
                          zh=f"{where}：未知的键 {', '.join(map(repr, unknown))}；可用的键：title_zh、title_en、pricing")
    table = data.get("pricing")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: needs a [pricing] table (a pricing file holds one scheme)",
                          zh=f"{where}：需要一个 [pricing] 表（一个价格方案文件只含一个方案）")
    if "scheme" in table:
        _fail(where, "pricing", "a pricing file cannot take another scheme: copy its items instead",
              zh="价格方案文件不能再引用其他方案：请直接复制其条目")
    # No [[categories]] here: a scheme keys on the province-wide classes, never on a preset's categories.
    pricing = parse_pricing(table, where=where, categories={})
    return PricingScheme(stem, str(data.get("title_zh", stem)), str(data.get("title_en", stem)), pricing)


def load_pricing(name_or_path: str | Path) -> Pricing:
    """A shipped pricing scheme by name (``"linhai-2022"``) or a pricing file by path.

    Parameters
    ----------
    name_or_path
        A name from :func:`list_pricing_schemes`, or the path of a ``.toml`` file holding one
        ``[pricing]`` table (items keyed on ``grade``) and optional ``title_zh`` / ``title_en``.

    Returns
    -------
    Pricing
        To put on a policy: ``dataclasses.replace(policy, pricing=load_pricing("linhai-2022"))``.

    Raises
    ------
    ConfigError
        Unknown name, missing or unreadable file, or an invalid table (the message names the file and key).

    Examples
    --------
    >>> [item.id for item in load_pricing("linhai-2022").items]
    ['water']
    """
    return _scheme(name_or_path).pricing


def with_pricing(policy: Any, scheme: str | Path | None) -> Any:
    """``policy`` with the differentiated prices of ``scheme`` in force (``[policy] pricing`` in a config).

    Parameters
    ----------
    policy
        A loaded preset (``evaluate.policy.Policy``).
    scheme
        A shipped scheme's name or a pricing file's path (:func:`load_pricing`); None or empty keeps the
        preset's own ``[pricing]``.

    Returns
    -------
    Policy
        A copy whose ``pricing`` is the scheme's (it replaces the preset's section, which prices by the
        preset's own document), or ``policy`` itself when no scheme is given.
    """
    if scheme is None or not str(scheme).strip():
        return policy
    return dataclasses.replace(policy, pricing=load_pricing(str(scheme).strip()))


def list_pricing_schemes() -> list[PricingScheme]:
    """The shipped pricing schemes (``presets/pricing/*.toml``), by name."""
    return [_scheme(name) for name in _scheme_names()]


def parse_pricing(d: Any, *, where: str, categories: Mapping[str, Any]) -> Pricing:
    """Validate a ``[pricing]`` table (``where`` names the preset file in messages).

    Parameters
    ----------
    d
        The TOML table: ``source``, ``[[pricing.items]]`` and/or ``scheme`` (a shipped scheme's name or a
        pricing file's path, whose items come first).
    where
        The preset file, for error messages.
    categories
        The preset's disposal categories (an item keyed on ``category`` may only name these).

    Raises
    ------
    ConfigError
        Naming the file and the ``[pricing.items[i]]`` key, e.g. an unknown resource or grade, a rate that
        is not a number, both or neither of ``rates`` and ``shares``, ``shares`` without ``base``, an
        unknown ``scheme``.
    """
    if not isinstance(d, dict):
        _fail(where, "pricing", f"expected a table, got {d!r}",
              zh=f"应为表，实际为 {d!r}")
    unknown = sorted(set(d) - {"source", "items", "scheme"})
    if unknown:
        _fail(where, "pricing", f"unknown key(s) {', '.join(map(repr, unknown))}; known: items, scheme, source",
              zh=f"未知的键 {', '.join(map(repr, unknown))}；可用的键：items、scheme、source")
    default_source = d.get("source", "")
    if not isinstance(default_source, str):
        _fail(where, "pricing", f"'source' must be text, got {default_source!r}",
              zh=f"'source' 必须是文本，实际为 {default_source!r}")
    items: list[PriceItem] = []
    scheme = d.get("scheme")
    if scheme is not None:
        if not isinstance(scheme, str) or not scheme.strip():
            _fail(where, "pricing", f"'scheme' must name a pricing scheme or file, got {scheme!r}",
                  zh=f"'scheme' 须为价格方案名或文件路径，实际为 {scheme!r}")
        target: str | Path = scheme.strip()
        path = Path(target).expanduser()
        # A pricing file named by a preset file is relative to that file, as paths in a config are.
        if (path.suffix == ".toml" or len(path.parts) > 1) and not path.is_absolute() and Path(where).is_file():
            target = Path(where).resolve().parent / path
        try:
            taken = load_pricing(target)
        except ConfigError as e:
            _fail(where, "pricing", f"'scheme' = {scheme!r}: {e}", zh=f"'scheme' = {scheme!r}：{e.text('zh')}")
        items.extend(taken.items)
        default_source = default_source or taken.source
    raw_items = d.get("items", [])
    if not isinstance(raw_items, list) or (not raw_items and scheme is None):
        _fail(where, "pricing", "needs at least one [[pricing.items]] table (or a 'scheme')",
              zh="至少需要一个 [[pricing.items]] 表（或 'scheme'）")
    known = {"id", "resource", "by", "rates", "shares", "base", "zh", "en", "source"}
    for i, item in enumerate(raw_items):
        path = f"pricing.items[{i}]"
        if not isinstance(item, dict):
            _fail(where, path, f"expected a table, got {item!r}",
                  zh=f"应为表，实际为 {item!r}")
        bad = sorted(set(item) - known)
        if bad:
            _fail(where, path, f"unknown key(s) {', '.join(map(repr, bad))}; known: {', '.join(sorted(known))}",
                  zh=f"未知的键 {', '.join(map(repr, bad))}；可用的键：{', '.join(sorted(known))}")
        resource = item.get("resource")
        if resource not in RESOURCES:
            _fail(where, path, f"'resource' = {resource!r}: use one of {', '.join(RESOURCES)}",
                  zh=f"'resource' = {resource!r}：请使用 {', '.join(RESOURCES)} 之一")
        by = item.get("by", "grade")
        if by not in BY:
            _fail(where, path, f"'by' = {by!r}: use 'grade' or 'category'",
                  zh=f"'by' = {by!r}：请使用 'grade' 或 'category'")
        allowed = GRADE_KEYS if by == "grade" else tuple(categories)
        if ("rates" in item) == ("shares" in item):
            _fail(where, path, "give either 'rates' (元 per unit) or 'shares' with 'base' (share of a base price)",
                  zh="请给出 'rates'（每单位的元数），或 'shares' 加 'base'（基准价格的比例）")
        table = item.get("rates", item.get("shares"))
        if not isinstance(table, dict) or not table:
            _fail(where, path, f"'rates'/'shares' must be a table like {{ D = 0.3 }}, got {table!r}",
                  zh=f"'rates'/'shares' 必须是形如 {{ D = 0.3 }} 的表，实际为 {table!r}")
        for key, value in table.items():
            if key not in allowed:
                _fail(where, path, f"{by} {key!r} is not one of {', '.join(allowed) or 'none (no [[categories]])'}",
                      zh=f"{by} {key!r} 不在 {', '.join(allowed) or '（无，没有 [[categories]]）'} 之中")
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
                _fail(where, path, f"rate for {key!r} must be a number, got {value!r}",
                      zh=f"{key!r} 的价格必须是数字，实际为 {value!r}")
        if "shares" in item:
            base = item.get("base")
            if isinstance(base, bool) or not isinstance(base, int | float) or base <= 0:
                _fail(where, path, f"'shares' need 'base', the full price in {RESOURCES[resource].unit_en} "
                                   f"(a positive number), got {base!r}",
                      zh=(f"'shares' 需要 'base'，即以 {RESOURCES[resource].unit_en} 计的全价"
                          f"（正数），实际为 {base!r}"))
            rates = {k: float(v) * float(base) for k, v in table.items()}
        else:
            if "base" in item:
                _fail(where, path, "'base' goes with 'shares', not with 'rates'",
                      zh="'base' 与 'shares' 同用，不与 'rates' 同用")
            rates = {k: float(v) for k, v in table.items()}
        item_id = item.get("id", f"{resource}_{by}")
        if not isinstance(item_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", item_id) or \
                item_id in {x.id for x in items}:
            _fail(where, path, f"'id' {item_id!r} must be a new lower_snake_case name (two items on one "
                               "resource need their own ids)",
                  zh=(f"'id' {item_id!r} 必须是新的 lower_snake_case 名称（同一资源的两项"
                      "需要各自的编号）"))
        source = item.get("source", default_source)
        if not isinstance(source, str) or not source.strip():
            _fail(where, path, "name the document the rates come from: 'source' here or in [pricing]",
                  zh="请注明价格出自哪份文件：在此处或 [pricing] 中给出 'source'")
        res = RESOURCES[resource]
        items.append(PriceItem(item_id, resource, by, tuple(rates.items()), str(item.get("zh", res.zh)),
                               str(item.get("en", res.en)), source))
    # Two items on one resource without their own labels would head two columns alike: name the id.
    for lang in ("zh", "en"):
        labels = [getattr(i, lang) for i in items]
        items = [dataclasses.replace(i, **{lang: f"{getattr(i, lang)} ({i.id})"})
                 if labels.count(getattr(i, lang)) > 1 else i for i in items]
    return Pricing(tuple(items), default_source)


def _unit_attributes(result: Any) -> pd.DataFrame:
    """Street and industry of each evaluated unit, from the firm table (the unit's own row, else its first
    member's)."""
    firms = result.firms
    keep = [c for c in ("street", "industry") if c in firms.columns]
    if "eval_id" not in firms.columns or not keep:
        return pd.DataFrame(index=pd.Index([], name="eval_id"))
    frame = pd.DataFrame({c: firms[c].astype(object) for c in keep}, index=firms.index)
    frame["eval_id"] = firms["eval_id"].astype(object).to_numpy()
    own = frame.index.astype(object) == frame["eval_id"].to_numpy()
    # Put each unit's own row first, then keep one row per unit.
    frame = frame.assign(_own=~own).sort_values("_own", kind="stable")
    return frame.drop_duplicates("eval_id").set_index("eval_id")[keep]


def price_table(result: Any, *, year: int | None = None) -> pd.DataFrame:
    """Per evaluated unit and price item: quantity, rate and amount (万元) under the preset's ``[pricing]``.

    Parameters
    ----------
    result
        A run's ``Result`` (its policy, panel and evaluation are read).
    year
        The year whose quantities and grades are priced; default the result's year. Categories are the
        verdicts' (the reference year's).

    Returns
    -------
    DataFrame
        One row per unit and item where the unit's grade or category has a rate: ``eval_id, name, street,
        industry, grade, disposal, item, item_zh, item_en, resource, quantity`` (the data's unit: 万kWh, 亩,
        tce, t or m³), ``quantity_unit``, ``quantity_missing`` (true: the unit has a rate but no quantity,
        so no amount), ``rate`` (元 per ``rate_unit``), ``rate_unit``, ``amount_wan`` (万元, NaN where the
        quantity is missing; negative = a discount) and ``source``. Empty (with these columns) when the
        preset has no ``[pricing]``.
    """
    columns = ["eval_id", "name", "street", "industry", "grade", "disposal", "item", "item_zh", "item_en",
               "resource", "quantity", "quantity_unit", "quantity_missing", "rate", "rate_unit", "amount_wan",
               "source"]
    pricing = getattr(result.policy, "pricing", None)
    if pricing is None:
        return pd.DataFrame(columns=columns)
    year = result.year if year is None else year
    panel = result.panel
    years = panel.index.get_level_values("year")
    rows = panel[years == year].droplevel("year")
    grades = result.evaluation.grades
    g = grades[grades.index.get_level_values("year") == year].droplevel("year")
    grade = g["grade"].astype(object)
    if "official_grade" in g.columns:  # the county's published class where it has one, as the rules read it
        grade = g["official_grade"].astype(object).where(g["official_grade"].notna(), grade)
    grade = grade.reindex(rows.index)
    verdicts = result.evaluation.verdicts
    disposal = verdicts["disposal"].astype(object).reindex(rows.index) if "disposal" in verdicts else \
        pd.Series(np.nan, index=rows.index, dtype=object)
    attrs = _unit_attributes(result).reindex(rows.index)
    name = rows["name"].astype(object) if "name" in rows.columns else pd.Series(np.nan, index=rows.index)
    parts = []
    for item in pricing.items:  # a handful of items, each vectorised over the units
        res = RESOURCES[item.resource]
        key = grade if item.by == "grade" else disposal
        rate = key.map(dict(item.rates)).astype(float)
        hit = rate.notna()
        if not hit.any():
            continue
        qty = pd.to_numeric(rows[res.column], errors="coerce").astype(float) if res.column in rows.columns \
            else pd.Series(np.nan, index=rows.index)
        amount = rate * qty * res.per_data_unit / YUAN_PER_WAN
        parts.append(pd.DataFrame({
            "eval_id": rows.index[hit].astype(object), "name": name[hit].to_numpy(),
            "street": attrs.get("street", pd.Series(np.nan, index=rows.index))[hit].to_numpy(),
            "industry": attrs.get("industry", pd.Series(np.nan, index=rows.index))[hit].to_numpy(),
            "grade": grade[hit].to_numpy(), "disposal": disposal[hit].to_numpy(), "item": item.id,
            "item_zh": item.zh, "item_en": item.en, "resource": item.resource, "quantity": qty[hit].to_numpy(),
            "quantity_unit": res.data_unit, "quantity_missing": qty[hit].isna().to_numpy(),
            "rate": rate[hit].to_numpy(),
            "rate_unit": res.unit_zh, "amount_wan": amount[hit].to_numpy(), "source": item.source,
        }))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def price_totals(prices: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Amounts (万元) summed by ``by`` (``"street"``, ``"disposal"``, ``"grade"``, ``"industry"``) per item.

    Returns
    -------
    DataFrame
        Index = the ``by`` values (missing ones as ``""``), one column per item id plus ``total``;
        ``n_units`` counts the units with any priced item. Sums keep missing as missing (``min_count=1``).
    """
    if prices.empty:
        return pd.DataFrame(columns=["n_units", "total"])
    keys = prices[by].astype(object).where(prices[by].notna(), "")
    frame = prices.assign(_key=keys)
    table = frame.pivot_table(index="_key", columns="item", values="amount_wan", aggfunc=lambda s: s.sum(min_count=1),
                              dropna=False, sort=False)
    order = list(dict.fromkeys(prices["item"]))
    table = table.reindex(columns=order)
    table["total"] = table.sum(axis=1, min_count=1)
    table.insert(0, "n_units", frame.groupby("_key")["eval_id"].nunique())
    table.index.name = by
    table.columns.name = None
    return table.sort_index()

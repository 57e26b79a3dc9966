"""Two optional report sections: trends of a multi-year run, and differentiated prices.

Each function takes the run's ``Result`` and returns the template context of its section (tables, charts,
labels), or None when the run has nothing for it: ``trend_section`` needs ``pipeline.run_years``
(``result.meta["years"]``), ``pricing_section`` a preset with ``[pricing]``. The template renders a
section only when its context is not None.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gisefficiency.core.i18n import Lang, label
from gisefficiency.evaluate.years import CHANGE_CLASSES
from gisefficiency.report import charts
from gisefficiency.report.labels import INDUSTRY_DIVISIONS
from gisefficiency.report.tables import Column, fmt_number, make_table

__all__ = ["pricing_section", "trend_section"]

#: Section texts (zh, en).
_TEXT: dict[str, tuple[str, str]] = {
    "sec_trends": ("逐年趋势", "Trends by year"),
    "trends_note": ("同一政策逐年评价；连片区块逐年重新识别。街道的亩均数为地块口径，行业的为评价单位口径。",
                    "The same preset evaluated for each year; blocks found again each year. Street per-mu "
                    "figures are the parcels', industry figures the evaluated units'."),
    "change": ("低效用地变化", "Change of low-efficiency land"),
    "change_class": ("变化", "change"),
    "n_parcels": ("地块数", "parcels"),
    "land_mu": ("面积（亩）", "land (mu)"),
    "county": ("全县", "county"),
    "dimension": ("维度", "by"),
    "street": ("街道/乡镇", "street"),
    "industry": ("行业", "industry"),
    "year": ("年度", "year"),
    "low_mu": ("低效用地（亩）", "low-efficiency land (mu)"),
    "n_blocks": ("连片区块数", "blocks"),
    "block_mu": ("区块面积（亩）", "block land (mu)"),
    "chart_tax_street": ("各街道亩均税收（万元/亩）", "Tax per mu by street (10k yuan/mu)"),
    "chart_low_street": ("各街道低效用地（亩）", "Low-efficiency land by street (mu)"),
    "chart_county": ("全县低效用地与区块面积（亩）", "County low-efficiency and block land (mu)"),
    "mu": ("亩", "mu"),
    "sec_pricing": ("差别化价格", "Differentiated prices"),
    "pricing_note": ("金额 = 差别化单价 × 评价年度用量（1万千瓦时 = 10,000 千瓦时；1亩 = 666.67 平方米），万元；负数为减免。"
                     "用量缺失的企业金额记为缺失。",
                     "Amount = rate × the year's quantity (1 万kWh = 10,000 kWh; 1 mu = 666.67 m²), 10k yuan; "
                     "negative = a reduction. Units without the quantity have no amount."),
    "item": ("项目", "item"),
    "rates": ("标准", "rates"),
    "source": ("依据", "source"),
    "n_units": ("企业数", "firms"),
    "total": ("合计（万元）", "total (10k yuan)"),
    "by_street": ("按街道/乡镇", "By street"),
    "by_category": ("按处置类别", "By disposal category"),
    "by_grade": ("按评价等级", "By grade"),
    "category": ("处置类别", "category"),
    "grade": ("等级", "grade"),
    "none": ("（无）", "(none)"),
}
#: Line colours (ColorBrewer Dark2 + Set1), cycled over streets.
_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
            "#e41a1c", "#377eb8")
_MAX_LINES = 10


def _t(key: str, lang: Lang) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en


def _lines(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """Years × keys of ``value``; the keys with the most land first, at most ``_MAX_LINES`` lines."""
    wide = frame.pivot_table(index="year", columns="key", values=value, aggfunc="first", dropna=False)
    order = frame.groupby("key")["low_mu"].sum().sort_values(ascending=False).index[:_MAX_LINES]
    return wide.reindex(columns=[k for k in order if k in wide.columns])


def _industry_name(code: object, lang: Lang) -> str:
    if isinstance(code, str) and code in INDUSTRY_DIVISIONS:
        zh, en = INDUSTRY_DIVISIONS[code]
        return f"{code} {zh if lang == 'zh' else en}"
    return str(code)


def trend_section(result: Any, lang: Lang = "zh") -> dict[str, Any] | None:
    """Context of the trend section: change counts, trend table, line charts; None without ``run_years``."""
    years = (result.meta or {}).get("years")
    if years is None:
        return None
    trends = years.trends.copy()
    names = {"county": _t("county", lang), "street": _t("street", lang), "industry": _t("industry", lang)}
    trends["dimension_label"] = trends["dimension"].map(names)
    is_ind = trends["dimension"] == "industry"
    trends.loc[is_ind, "key"] = trends.loc[is_ind, "key"].map(lambda c: _industry_name(c, lang))
    trends.loc[trends["dimension"] == "county", "key"] = _t("county", lang)
    table = make_table(trends, [
        Column("dimension_label", _t("dimension", lang)), Column("key", _t("street", lang) + " / "
                                                                  + _t("industry", lang)),
        Column("year", _t("year", lang)), Column("tax_per_mu", label("tax_per_mu", lang), "per_mu"),
        Column("va_per_mu", label("va_per_mu", lang), "per_mu"), Column("low_mu", _t("low_mu", lang), "mu"),
        Column("n_blocks", _t("n_blocks", lang), "int"), Column("block_mu", _t("block_mu", lang), "mu"),
    ], id="t-trends", searchable=True)

    land = pd.to_numeric(result.parcels["land_mu"], errors="coerce")
    change = years.change.reindex(result.parcels.index).fillna("")
    change_rows = pd.DataFrame([
        {"change": zh if lang == "zh" else en, "n": int((change == code).sum()),
         "mu": land[(change == code).to_numpy()].sum(min_count=1)}
        for code, zh, en, _ in CHANGE_CLASSES
    ])
    change_table = make_table(change_rows, [
        Column("change", _t("change_class", lang)), Column("n", _t("n_parcels", lang), "int"),
        Column("mu", _t("land_mu", lang), "mu"),
    ], id="t-change")

    street = trends[trends["dimension"] == "street"]
    county = trends[trends["dimension"] == "county"].set_index("year")[["low_mu", "block_mu"]]

    def palette(columns: pd.Index) -> dict[Any, str]:
        return {c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(columns)}

    tax_lines = _lines(street, "tax_per_mu") if len(street) else pd.DataFrame()
    low_lines = _lines(street, "low_mu") if len(street) else pd.DataFrame()
    chart_list = [
        (_t("chart_tax_street", lang), charts.line_chart_svg(
            tax_lines, colours=palette(tax_lines.columns), labels={c: str(c) for c in tax_lines.columns},
            title=_t("chart_tax_street", lang), y_label=label("tax_per_mu", lang))),
        (_t("chart_low_street", lang), charts.line_chart_svg(
            low_lines, colours=palette(low_lines.columns), labels={c: str(c) for c in low_lines.columns},
            title=_t("chart_low_street", lang), y_label=_t("mu", lang))),
        (_t("chart_county", lang), charts.line_chart_svg(
            county, colours={"low_mu": "#d73027", "block_mu": "#4a7fb5"},
            labels={"low_mu": _t("low_mu", lang), "block_mu": _t("block_mu", lang)},
            title=_t("chart_county", lang), y_label=_t("mu", lang))),
    ]
    span = f"{years.years[0]}–{years.years[-1]}"
    return {
        "title": f"{_t('sec_trends', lang)} {span}", "toc": _t("sec_trends", lang), "note": _t("trends_note", lang),
        "change_title": f"{_t('change', lang)} {years.years[0]}→{years.years[-1]}", "change": change_table,
        "table": table, "charts": chart_list,
    }


def _rates_text(item: Any, unit: str) -> str:
    return "；".join(f"{k}: {v:+g}" for k, v in item.rates) + f" {unit}"


def pricing_section(result: Any, lang: Lang = "zh") -> dict[str, Any] | None:
    """Context of the pricing section: the items with their sources, totals by street, category and grade;
    None when the preset has no ``[pricing]``."""
    from gisefficiency.evaluate.pricing import RESOURCES, price_table, price_totals

    pricing = getattr(result.policy, "pricing", None)
    if pricing is None:
        return None
    prices = price_table(result)
    by_item = prices.groupby("item", sort=False).agg(
        n_units=("eval_id", "nunique"), total=("amount_wan", lambda s: s.sum(min_count=1)))
    items = pd.DataFrame([{
        "item": item.zh if lang == "zh" else item.en,
        "rates": _rates_text(item, RESOURCES[item.resource].unit_zh if lang == "zh"
                             else RESOURCES[item.resource].unit_en),
        "source": item.source,
        "n_units": by_item["n_units"].get(item.id, 0), "total": by_item["total"].get(item.id, np.nan),
    } for item in pricing.items])
    item_table = make_table(items, [
        Column("item", _t("item", lang)), Column("rates", _t("rates", lang)),
        Column("source", _t("source", lang), css="wrap"), Column("n_units", _t("n_units", lang), "int"),
        Column("total", _t("total", lang), "money"),
    ], id="t-pricing-items")
    item_cols = [Column(i.id, i.zh if lang == "zh" else i.en, "money") for i in pricing.items]
    cats = getattr(result.policy, "categories", {}) or {}
    totals = []
    for by, key, first in (("street", "by_street", "street"), ("disposal", "by_category", "category"),
                           ("grade", "by_grade", "grade")):
        frame = price_totals(prices, by=by).reset_index()
        if by == "disposal" and len(frame):
            frame["disposal"] = frame["disposal"].map(
                lambda c: (getattr(cats.get(c), lang if lang == "zh" else "en", c) if c else _t("none", lang)))
        elif len(frame):
            frame[by] = frame[by].replace("", _t("none", lang))
        totals.append((_t(key, lang), make_table(frame, [
            Column(by, _t(first, lang)), Column("n_units", _t("n_units", lang), "int"),
            *[c for c in item_cols if c.key in frame.columns], Column("total", _t("total", lang), "money"),
        ], id=f"t-pricing-{by}", searchable=by == "street")))
    grand = prices["amount_wan"].sum(min_count=1) if len(prices) else np.nan
    return {"title": _t("sec_pricing", lang), "note": _t("pricing_note", lang), "item_table": item_table,
            "totals": totals, "grand_total": fmt_number(grand, 2), "total_label": _t("total", lang)}

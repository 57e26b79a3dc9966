"""Progress to the policy's yearly targets (``[[targets.yearly]]``), from the run's panel and the 台账.

Levels (规上亩均税收, 亩均增加值) and compliance shares are measured from the panel of the year the target
names. Counts of firms closed or raised, and the land and energy they freed, can only come from the
ledger: a single year's data cannot tell a firm that exited from one that was never there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gisefficiency.evaluate.policy import TARGET_MEASURES, YearlyTarget
from gisefficiency.ledger.columns import CLOSED, EXITED, RAISED, years_in

__all__ = ["counts_text", "target_progress"]

_GROUP_ZH = {"all": "全部", "above": "规上", "below": "规下"}


def _group_rows(panel: pd.DataFrame, group: str, year: int) -> pd.DataFrame:
    years = panel.index.get_level_values("year")
    rows = panel[years == year]
    if group != "all":
        rows = rows[rows["scale"].astype("string").eq(group).fillna(False).to_numpy(bool)]
    return rows


def _level(rows: pd.DataFrame, column: str) -> float:
    """Sum of ``column`` over sum of land, over units with both known (a blank tax is not 0)."""
    value = pd.to_numeric(rows[column], errors="coerce")
    land = pd.to_numeric(rows["land_mu"], errors="coerce")
    both = value.notna() & land.gt(0)
    total_land = land[both].sum()
    return float(value[both].sum() / total_land) if total_land > 0 else np.nan


def _share(rows: pd.DataFrame, verdicts: pd.DataFrame | None, threshold: float) -> float:
    """Share of the group's units at or above ``threshold``, among units in scope, not exempt, with a figure."""
    per_mu = pd.to_numeric(rows["tax_per_mu"], errors="coerce")
    keep = per_mu.notna()
    if verdicts is not None and len(verdicts):
        ids = rows.index.get_level_values("eval_id")
        v = verdicts.reindex(ids)
        in_scope = v["in_scope"].astype("boolean").fillna(True).to_numpy(bool) if "in_scope" in v else True
        exempt = v["exempt"].astype("boolean").fillna(False).to_numpy(bool) if "exempt" in v else False
        keep &= in_scope & ~exempt
    if not keep.any():
        return np.nan
    # Per-mu figures compare at the published precision (4 decimals), as the rules do.
    return float((per_mu[keep].round(4) >= threshold).mean())


def _ledger_value(t: YearlyTarget, ledger: pd.DataFrame) -> float:
    closed = ledger[ledger["status"].eq(CLOSED)]
    year = pd.to_numeric(closed["closed_year"], errors="coerce")
    window = year.le(t.year) & (year.ge(t.since) if t.since is not None else True) if t.cumulative else year.eq(t.year)
    rows = closed[window.fillna(False).to_numpy(bool)]
    if t.categories:
        rows = rows[rows["category_id"].isin(t.categories).to_numpy(bool)]
    kind = rows["closed_kind"].astype("string")
    if t.measure == "firms_delisted":
        return float(len(rows))
    if t.measure == "firms_exited":
        return float(kind.eq(EXITED).sum())
    if t.measure == "firms_raised":
        return float(kind.eq(RAISED).sum())
    exited = rows[kind.eq(EXITED).fillna(False).to_numpy(bool)]
    column = {"freed_mu": "land_mu", "freed_tce": "energy_tce"}[t.measure]
    return float(pd.to_numeric(exited[column], errors="coerce").sum(min_count=1)) if len(exited) else 0.0


def _names(ids: Any, categories: Any, lang: int) -> str:
    sep = "、" if lang == 0 else ", "
    return sep.join((categories[c].zh, categories[c].en)[lang] if c in categories else str(c) for c in ids)


def counts_text(t: YearlyTarget, categories: Any) -> tuple[str, str]:
    """What a target's figure counts, in Chinese and English (the target table's 计量口径).

    A land or energy target names the categories whose exits it counts and the low-efficiency categories
    it leaves out because their land stays with the firm (``frees_land = false``), e.g. Suichang's
    整治提升类.
    """
    group_zh = {"all": "", "above": "规上", "below": "规下"}[t.group]
    group_en = {"all": "", "above": "above-size ", "below": "below-size "}[t.group]
    cats = dict(categories or {})
    if t.measure in ("tax_per_mu", "va_per_mu"):
        what_zh, what_en = ("实缴税金", "tax") if t.measure == "tax_per_mu" else ("工业增加值", "value added")
        return (f"{t.year}年{group_zh}企业{what_zh}合计÷用地合计（缺数据的企业不计）",
                f"{t.year}: sum of {group_en}firms' {what_en} over their land (firms without the figure left out)")
    if t.measure == "share_tax_per_mu_at_least":
        thr = f"{t.threshold:g}"
        return (f"{t.year}年纳入范围、非豁免、有数据的{group_zh}企业中亩均税收不低于{thr}万元/亩的比例",
                f"{t.year}: share of {group_en}firms in scope, not exempt, with a figure, at {thr} or more per mu")
    span_zh = f"{t.since}—{t.year}年累计" if t.cumulative and t.since else "累计" if t.cumulative else f"{t.year}年"
    span_en = (f"{t.since}-{t.year}, cumulative" if t.cumulative and t.since else "cumulative" if t.cumulative
               else str(t.year))
    which_zh = f"（{_names(t.categories, cats, 0)}）" if t.categories else ""
    which_en = f" ({_names(t.categories, cats, 1)})" if t.categories else ""
    row_zh = {"firms_delisted": "台账销号企业数", "firms_exited": "台账退出销号企业数",
              "firms_raised": "台账提升销号企业数", "freed_mu": "台账退出企业的用地",
              "freed_tce": "台账退出企业的用能"}[t.measure]
    row_en = {"firms_delisted": "firms delisted in the ledger", "firms_exited": "firms delisted as exited",
              "firms_raised": "firms delisted as raised", "freed_mu": "land of the firms that exited",
              "freed_tce": "energy use of the firms that exited"}[t.measure]
    zh, en = f"{span_zh}{row_zh}{which_zh}", f"{row_en}{which_en}, {span_en}"
    if t.measure in ("freed_mu", "freed_tce") and t.categories:
        stays = [c for c, cat in cats.items() if c not in t.categories and cat.low_efficiency and not cat.frees_land]
        if stays:
            zh += f"；不计{_names(stays, cats, 0)}（用地留在原企业）"
            en += f"; not {_names(stays, cats, 1)} (their land stays with the firm)"
    return zh, en


def target_progress(result: Any, *, ledger: pd.DataFrame | None = None) -> pd.DataFrame:
    """What the data and the ledger say about each of the preset's yearly targets.

    Parameters
    ----------
    result
        A run's :class:`~gisefficiency.result.Result` (its ``policy.yearly_targets``, ``panel`` and the
        evaluation's verdicts, for the scope of compliance shares).
    ledger
        This year's 台账 (:func:`gisefficiency.ledger.update`); without it the counts of firms delisted or
        exited and the land and energy freed are reported as needing the ledger.

    Returns
    -------
    DataFrame
        One row per target: ``year, measure, group, zh, en, source, goal, achieved, progress``
        (achieved / goal), ``met`` (boolean, NA when not measured), ``measured_by`` ("data" / "ledger") and
        ``note_zh`` (达成 / 未达成 / 需台账 / 数据无该年度 / 截至<year>年 for a later target year), and
        ``counts_zh/en``: what the figure counts (:func:`counts_text`).
    """
    targets = tuple(getattr(result.policy, "yearly_targets", ()) or ())
    panel = result.panel
    evaluation = getattr(result, "evaluation", None)
    verdicts = getattr(evaluation, "verdicts", None)
    panel_years = set(panel.index.get_level_values("year")) if len(panel) else set()
    ledger_year = max(years_in(list(ledger.columns)), default=None) if ledger is not None else None
    records = []
    for t in targets:
        by = TARGET_MEASURES[t.measure][0]
        note = ""
        if by == "data":
            if t.year not in panel_years:
                achieved, note = np.nan, "数据无该年度"
            else:
                rows = _group_rows(panel, t.group, t.year)
                if t.measure == "share_tax_per_mu_at_least":
                    achieved = _share(rows, verdicts, float(t.threshold or 0.0))
                else:
                    achieved = _level(rows, {"tax_per_mu": "tax", "va_per_mu": "value_added"}[t.measure])
        elif ledger is None:
            achieved, note = np.nan, "需台账"
        else:
            achieved = _ledger_value(t, ledger)
            if ledger_year is not None and ledger_year < t.year:
                note = f"截至{ledger_year}年"
        measured = np.isfinite(achieved)
        met: Any = bool(achieved >= t.value) if measured else pd.NA
        if measured and not note:
            note = "达成" if met else "未达成"
        elif measured and not met:
            note += "，未达成"
        records.append({
            "year": t.year, "measure": t.measure, "group": t.group, "group_zh": _GROUP_ZH[t.group],
            "zh": t.zh, "en": t.en, "source": t.source, "goal": t.value, "achieved": achieved,
            "progress": achieved / t.value if measured else np.nan, "met": met, "measured_by": by,
            "note_zh": note,
            **dict(zip(("counts_zh", "counts_en"), counts_text(t, getattr(result.policy, "categories", {})),
                       strict=True)),
        })
    columns = ["year", "measure", "group", "group_zh", "zh", "en", "source", "goal", "achieved", "progress", "met",
               "measured_by", "note_zh", "counts_zh", "counts_en"]
    out = pd.DataFrame.from_records(records, columns=columns)
    out["met"] = out["met"].astype("boolean")
    return out

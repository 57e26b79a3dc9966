"""Evaluate preset conditions over all rows at once, with reasons in Chinese and English.

A :class:`Context` gives the values a condition reads, aligned to the rows being judged:
:class:`PanelContext` for one row per (unit, year) (grading), :class:`UnitContext` for one row per
unit at a reference year (verdicts). Every :class:`Outcome` carries, per row, why the condition
holds (``true_*``) and why it does not (``false_*``), with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency._text import Text, cat, const, days, fmt, fmt1, ints, join, select, where
from gisefficiency.constants import PER_MU_DECIMALS
from gisefficiency.i18n import SCALE_LABELS
from gisefficiency.metrics import METRICS
from gisefficiency.rules import (
    ATTR_COLUMNS,
    DATE_COLUMNS,
    DATE_TEMPLATE,
    FLAG_COLUMNS,
    NUMBER_COLUMNS,
    OPS,
    All,
    AnyOf,
    Attr,
    Condition,
    DateCmp,
    Flag,
    Grade,
    Metric,
    Not,
    NotProducingBy,
    Within,
)

__all__ = ["Context", "Outcome", "PanelContext", "UnitContext", "evaluate_condition", "resolve_date"]

_ZH_NUM = dict(enumerate(("零", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十")))
# The value's relation to the threshold when they are equal depends on the operator.
_EQ_ZH = {"<": "不低于", "<=": "不高于", ">": "不高于", ">=": "不低于", "==": "等于"}
_EQ_EN = {"<": "not below", "<=": "not above", ">": "not above", ">=": "not below", "==": "equal to"}
_TRUE_ZH = {"<": "低于", "<=": "不高于", ">": "高于", ">=": "不低于", "==": "等于"}
_TRUE_EN = {"<": "below", "<=": "at most", ">": "above", ">=": "at least", "==": "equal to"}
_DEQ_ZH = {"<": "不早于", "<=": "不晚于", ">": "不晚于", ">=": "不早于", "==": "即"}
_DEQ_EN = {"<": "not before", "<=": "not after", ">": "not after", ">=": "not before", "==": "on"}


class Context(Protocol):
    """Values seen by conditions, positionally aligned to the rows being judged."""

    n: int

    def years(self, k: int = 0) -> np.ndarray: ...

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray: ...

    def attr(self, col: str) -> pd.Series: ...


def _take(a: np.ndarray, pos: np.ndarray, numeric: bool) -> np.ndarray:
    ok = pos >= 0
    out = np.full(len(pos), np.nan) if numeric else np.full(len(pos), "", dtype=object)
    out[ok] = a[pos[ok]]
    return out


def _array(s: pd.Series, numeric: bool) -> np.ndarray:
    if numeric:
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return s.astype("string").fillna("").to_numpy(dtype=object)


class PanelContext:
    """One row per ``(eval_id, year)`` of a panel; ``k`` years back is the same unit's earlier row."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.n = len(frame)
        self._ids = frame.index.get_level_values(0)
        self._year = frame.index.get_level_values(1).to_numpy(dtype="int64")
        self._pos: dict[int, np.ndarray] = {}

    def years(self, k: int = 0) -> np.ndarray:
        return self._year - k

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray:
        if col not in self.frame:
            return np.full(self.n, np.nan) if numeric else np.full(self.n, "", dtype=object)
        a = _array(self.frame[col], numeric)
        if k == 0:
            return a
        if k not in self._pos:
            target = pd.MultiIndex.from_arrays([self._ids, self._year - k])
            self._pos[k] = self.frame.index.get_indexer(target)
        return _take(a, self._pos[k], numeric)

    def attr(self, col: str) -> pd.Series:
        if col not in self.frame:
            return pd.Series([pd.NA] * self.n, dtype=object)
        return self.frame[col].reset_index(drop=True)


class UnitContext:
    """One row per unit, judged at a reference year: yearly values by year, attributes as last known."""

    def __init__(self, frame: pd.DataFrame, year: int) -> None:
        self.frame = frame
        self.year = int(year)
        self.units = frame.index.get_level_values(0).unique().sort_values()
        self.n = len(self.units)
        self._codes = self.units.get_indexer(frame.index.get_level_values(0))
        self._year = frame.index.get_level_values(1).to_numpy(dtype="int64")
        self._rows: dict[int, np.ndarray] = {}
        self._attrs: dict[str, pd.Series] = {}

    def years(self, k: int = 0) -> np.ndarray:
        return np.full(self.n, self.year - k, dtype="int64")

    def values(self, col: str, k: int, *, numeric: bool = True) -> np.ndarray:
        out = np.full(self.n, np.nan) if numeric else np.full(self.n, "", dtype=object)
        if col not in self.frame:
            return out
        y = self.year - k
        if y not in self._rows:
            self._rows[y] = np.flatnonzero(self._year == y)
        rows = self._rows[y]
        out[self._codes[rows]] = _array(self.frame[col].iloc[rows], numeric)
        return out

    def attr(self, col: str) -> pd.Series:
        if col not in self._attrs:
            if col not in self.frame:
                self._attrs[col] = pd.Series([pd.NA] * self.n, dtype=object)
            else:
                # Static facts (dates, flags, scale) as last known up to the reference year.
                s = self.frame.loc[self._year <= self.year, col]
                last = s.groupby(level=0, sort=False).last()
                self._attrs[col] = last.reindex(self.units).reset_index(drop=True)
        return self._attrs[col]


@dataclass
class Outcome:
    """Where a condition holds, and per row the reason it holds (true_*) or does not (false_*)."""

    mask: np.ndarray
    true_zh: Text
    true_en: Text
    false_zh: Text
    false_en: Text
    #: The counter-reasons of an ``any`` as separate pieces (so callers can drop repeats).
    false_parts: list[tuple[Text, Text]] | None = None

    def parts(self) -> list[tuple[Text, Text]]:
        """Counter-reason pieces ``(zh, en)``."""
        return self.false_parts if self.false_parts is not None else [(self.false_zh, self.false_en)]


def resolve_date(template: str, years: np.ndarray) -> np.ndarray:
    """Dates of a ``YYYY-MM-DD`` or ``{year±k}-MM-DD`` template for each row's evaluated year."""
    m = DATE_TEMPLATE.match(template)
    assert m is not None  # validated on load
    fixed, sign, k, month, day = m.groups()
    if fixed:
        y = np.full(len(years), int(fixed))
    else:
        y = years + (int(k) if sign == "+" else -int(k) if sign == "-" else 0)
    uniq, inv = np.unique(y, return_inverse=True)  # a handful of years: parse each once
    stamps = np.array([np.datetime64(f"{u:04d}-{month}-{day}", "ns") for u in uniq])
    return stamps[inv] if len(y) else np.array([], dtype="datetime64[ns]")


def _dates(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s, errors="coerce").to_numpy(dtype="datetime64[ns]")


def _relation(v: np.ndarray, lo: float, op: str, hi: float | None, zh: bool) -> Text:
    s = "" if zh else " "
    if op == "between":
        assert hi is not None
        w = ("低于", "不低于", "不低于", "且低于") if zh else ("below", "not below", "at least", "and below")
        return select([v < lo, v >= hi], [f"{w[0]}{s}{fmt1(lo)}", f"{w[1]}{s}{fmt1(hi)}"],
                      f"{w[2]}{s}{fmt1(lo)}{s}{w[3]}{s}{fmt1(hi)}")
    thr = fmt1(lo)
    less, more, eq = ("低于", "高于", _EQ_ZH[op]) if zh else ("below", "above", _EQ_EN[op])
    return select([v < lo, v > lo], [f"{less}{s}{thr}", f"{more}{s}{thr}"], f"{eq}{s}{thr}")


def _span(years: int, wording: str, zh: bool) -> str:
    if zh:
        n = _ZH_NUM.get(years, str(years))
        return f"连续{n}年" if wording == "consecutive" else f"近{n}年均"
    return f"in {years} consecutive years" if wording == "consecutive" else f"in each of the last {years} years"


def _metric(c: Metric, ctx: Context) -> Outcome:
    zh_name, en_name, uzh, uen = NUMBER_COLUMNS[c.column]
    per_mu = c.column in METRICS and METRICS[c.column].per_mu
    uen_p = f" ({uen})" if uen else ""
    n = ctx.n
    oks, fails, tz, te, vz, ve = [], [], [], [], [], []
    for k in range(c.years - 1, -1, -1):  # oldest year first
        v = ctx.values(c.column, k)
        if per_mu:
            v = np.round(v, PER_MU_DECIMALS)  # thresholds compare at published precision
        missing = np.isnan(v)
        with np.errstate(invalid="ignore"):
            ok = (v >= c.value) & (v < c.upper) if c.op == "between" else OPS[c.op](v, c.value)
        ok = (ok & ~missing) | (missing & c.if_missing)
        y, vs = ints(ctx.years(k)), fmt(v)
        miss_zh = cat("缺少", y, f"年{zh_name}数据" + ("，视为满足" if c.if_missing else ""))
        miss_en = cat(f"no {en_name} data for ", y, " (taken as met)" if c.if_missing else "")
        one_zh = cat(y, f"年{zh_name}", vs, f"{uzh}，", _relation(v, c.value, c.op, c.upper, True), uzh)
        one_en = cat(f"{en_name} ", y, ": ", vs, uen_p, ", ", _relation(v, c.value, c.op, c.upper, False))
        tz.append(where(missing, miss_zh, one_zh))
        te.append(where(missing, miss_en, one_en))
        vz.append(where(missing, cat(y, "年无数据"), cat(y, "年", vs)))
        ve.append(where(missing, cat(y, ": no data"), cat(y, ": ", vs)))
        oks.append(ok)
        fails.append(~ok)
    mask = np.logical_and.reduce(oks)
    if c.years == 1:
        return Outcome(mask, tz[0], te[0], tz[0], te[0])
    if c.op == "between":
        rel_zh = f"不低于{fmt1(c.value)}且低于{fmt1(c.upper)}{uzh}"  # type: ignore[arg-type]
        rel_en = f"at least {fmt1(c.value)} and below {fmt1(c.upper)}{uen_p}"  # type: ignore[arg-type]
    else:
        rel_zh = f"{_TRUE_ZH[c.op]}{fmt1(c.value)}{uzh}"
        rel_en = f"{_TRUE_EN[c.op]} {fmt1(c.value)}{uen_p}"
    true_zh = cat(f"{zh_name}{_span(c.years, c.wording, True)}{rel_zh}（", join(vz, "、", n=n), f"{uzh}）")
    true_en = cat(f"{en_name} {rel_en} {_span(c.years, c.wording, False)} (", join(ve, ", ", n=n), ")")
    return Outcome(mask, true_zh, true_en, select(fails, tz, ""), select(fails, te, ""))


def _grade(c: Grade, ctx: Context) -> Outcome:
    label_zh, label_en = "/".join(c.grades) + "类", "class " + "/".join(c.grades)
    n = ctx.n
    oks, fails, tz, te, vz, ve = [], [], [], [], [], []
    for k in range(c.years - 1, -1, -1):
        g = ctx.values("grade", k, numeric=False)
        known, ungraded = g != "", g == "N"
        gs = pa.array(g, pa.string())
        ok = np.isin(g, c.grades) & known
        y = ints(ctx.years(k))
        tz.append(select([~known, ungraded], [cat(y, "年无评价结果"), cat(y, "年不参评")], cat(y, "年评价为", gs, "类")))
        te.append(select([~known, ungraded], [cat("no grade for ", y), cat("not graded in ", y)],
                         cat("class ", gs, " in ", y)))
        vz.append(where(known, cat(y, "年", gs), cat(y, "年无")))
        ve.append(where(known, cat(y, ": ", gs), cat(y, ": none")))
        oks.append(ok)
        fails.append(~ok)
    mask = np.logical_and.reduce(oks)
    if c.years == 1:
        return Outcome(mask, tz[0], te[0], tz[0], te[0])
    true_zh = cat(f"{_span(c.years, c.wording, True)}评价为{label_zh}（", join(vz, "、", n=n), "）")
    true_en = cat(f"{label_en} {_span(c.years, c.wording, False)} (", join(ve, ", ", n=n), ")")
    return Outcome(mask, true_zh, true_en, select(fails, tz, ""), select(fails, te, ""))


def _flag(c: Flag, ctx: Context) -> Outcome:
    s = ctx.attr(c.column).astype("boolean")
    known = s.notna().to_numpy(bool)
    v = s.fillna(False).to_numpy(bool)
    zh, en = FLAG_COLUMNS[c.column]
    yes_zh, no_zh, yes_en, no_en = zh, "非" + zh, en, "not a " + en
    t_zh, f_zh = (yes_zh, no_zh) if c.value else (no_zh, yes_zh)
    t_en, f_en = (yes_en, no_en) if c.value else (no_en, yes_en)
    n = ctx.n
    # An unknown flag explains nothing either way: its text stays empty.
    return Outcome(known & (v == c.value), const(n, t_zh), const(n, t_en), where(known, f_zh, ""),
                   where(known, f_en, ""))


def _attr(c: Attr, ctx: Context) -> Outcome:
    s = ctx.attr(c.column).astype("string")
    missing = s.isna().to_numpy(bool)
    vals = s.fillna("")
    ok = (vals.str.startswith(c.values) if c.prefix else vals.isin(c.values)).to_numpy(bool)
    ok = (ok & ~missing) | (missing & c.if_missing)
    zh, en = ATTR_COLUMNS[c.column]
    if c.column in ("scale", "group"):
        disp_zh = vals.map({k: p[0] for k, p in SCALE_LABELS.items()}).fillna(vals)
        disp_en = vals.map({k: p[1] for k, p in SCALE_LABELS.items()}).fillna(vals)
    else:
        disp_zh = disp_en = vals
    dz = pa.array(disp_zh.to_numpy(dtype=object), pa.string())
    de = pa.array(disp_en.to_numpy(dtype=object), pa.string())
    tail_zh, tail_en = ("，视为满足", " (taken as met)") if c.if_missing else ("", "")
    t_zh = where(missing, f"{zh}缺失{tail_zh}", cat(f"{zh}为", dz))
    t_en = where(missing, f"{en} unknown{tail_en}", cat(f"{en} ", de))
    return Outcome(ok, t_zh, t_en, t_zh, t_en)


def _coalesce_dates(cols: tuple[str, ...], ctx: Context) -> tuple[np.ndarray, Text, Text]:
    d = np.full(ctx.n, np.datetime64("NaT"), dtype="datetime64[ns]")
    lz: Text = DATE_COLUMNS[cols[0]][0]
    le: Text = DATE_COLUMNS[cols[0]][1]
    for col in cols:
        v = _dates(ctx.attr(col))
        take = np.isnat(d) & ~np.isnat(v)
        d = np.where(take, v, d)
        lz, le = where(take, DATE_COLUMNS[col][0], lz), where(take, DATE_COLUMNS[col][1], le)
    if len(cols) > 1:  # name every candidate where none is known
        lz = where(np.isnat(d), "/".join(DATE_COLUMNS[c][0] for c in cols), lz)
        le = where(np.isnat(d), "/".join(DATE_COLUMNS[c][1] for c in cols), le)
    return d, lz, le


def _date(c: DateCmp, ctx: Context) -> Outcome:
    d, lz, le = _coalesce_dates(c.columns, ctx)
    thr = resolve_date(c.value, ctx.years(0))
    missing = np.isnat(d)
    ok = OPS[c.op](d, thr) & ~missing
    ds, ts = days(d), days(thr)
    rel_zh = select([d < thr, d > thr], ["早于", "晚于"], _DEQ_ZH[c.op])
    rel_en = select([d < thr, d > thr], ["before", "after"], _DEQ_EN[c.op])
    t_zh = where(missing, cat(lz, "缺失"), cat(lz, ds, rel_zh, ts))
    t_en = where(missing, cat(le, " unknown"), cat(le, " ", ds, " ", rel_en, " ", ts))
    return Outcome(ok, t_zh, t_en, t_zh, t_en)


def _within(c: Within, ctx: Context) -> Outcome:
    d, lz, le = _coalesce_dates(c.columns, ctx)
    y = ctx.years(0)
    cutoff = resolve_date(f"{{year-{c.years}}}-12-31", y)
    missing = np.isnat(d)
    ok = (d > cutoff) & ~missing
    ds, ys = days(d), ints(y)
    t_zh = where(missing, cat(lz, "缺失"), cat(lz, ds, "，至", ys, f"年末未满{c.years}年"))
    t_en = where(missing, cat(le, " unknown"), cat(le, " ", ds, f": under {c.years} years by the end of ", ys))
    f_zh = where(missing, cat(lz, "缺失"), cat(lz, ds, "，至", ys, f"年末已满{c.years}年"))
    f_en = where(missing, cat(le, " unknown"), cat(le, " ", ds, f": {c.years} years or more by the end of ", ys))
    return Outcome(ok, t_zh, t_en, f_zh, f_en)


def _not_producing(c: NotProducingBy, ctx: Context) -> Outcome:
    pdate = _dates(ctx.attr("production_date"))
    s = ctx.attr("in_production").astype("boolean")
    ip_known, ip = s.notna().to_numpy(bool), s.fillna(False).to_numpy(bool)
    by = resolve_date(c.value, ctx.years(0))
    known = ~np.isnat(pdate)
    ok = (known & (pdate > by)) | (~known & ip_known & ~ip)
    ps, bs = days(pdate), days(by)
    t_zh = where(known, cat("至", bs, "未投产（投产日期", ps, "）"), cat("至", bs, "未投产"))
    t_en = where(known, cat("not producing by ", bs, " (production from ", ps, ")"), cat("not producing by ", bs))
    f_zh = where(known, cat("投产日期", ps, "，不晚于", bs), where(ip_known, "已投产", "投产情况不明"))
    f_en = where(known, cat("production from ", ps, ", not after ", bs),
                 where(ip_known, "in production", "production status unknown"))
    return Outcome(ok, where(ok, t_zh, f_zh), where(ok, t_en, f_en), f_zh, f_en)


def evaluate_condition(cond: Condition, ctx: Context) -> Outcome:
    """Evaluate ``cond`` for every row of ``ctx`` at once."""
    n = ctx.n
    if isinstance(cond, All | AnyOf):
        outs = [evaluate_condition(p, ctx) for p in cond.parts]
        masks = [o.mask for o in outs]
        if isinstance(cond, All):
            fails = [~m for m in masks]
            return Outcome(np.logical_and.reduce(masks), join([o.true_zh for o in outs], "，", n=n),
                           join([o.true_en for o in outs], "; ", n=n),
                           select(fails, [o.false_zh for o in outs], ""), select(fails, [o.false_en for o in outs], ""))
        pieces = [pc for o in outs for pc in o.parts()]
        return Outcome(np.logical_or.reduce(masks), select(masks, [o.true_zh for o in outs], ""),
                       select(masks, [o.true_en for o in outs], ""),
                       join([pc[0] for pc in pieces], "；", n=n, unique=True),
                       join([pc[1] for pc in pieces], "; ", n=n, unique=True), pieces)
    if isinstance(cond, Not):
        o = evaluate_condition(cond.part, ctx)
        return Outcome(~o.mask, o.false_zh, o.false_en, o.true_zh, o.true_en)
    handler = {Metric: _metric, Grade: _grade, Flag: _flag, Attr: _attr, DateCmp: _date, Within: _within,
               NotProducingBy: _not_producing}[type(cond)]
    return handler(cond, ctx)  # type: ignore[operator]

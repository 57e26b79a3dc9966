"""Evaluate preset conditions over all rows at once, with reasons in Chinese and English.

A :class:`Context` gives the values a condition reads, aligned to the rows being judged:
:class:`PanelContext` for one row per (unit, year) (grading), :class:`UnitContext` for one row per
unit at a reference year (verdicts). Every :class:`Outcome` carries, per row, why the condition
holds (``true_*``) and why it does not (``false_*``), with the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.constants import PER_MU_DECIMALS
from gisefficiency.core.i18n import SCALE_LABELS
from gisefficiency.core.text import (
    Text,
    assemble,
    cat,
    const,
    days,
    empty,
    few_days,
    fmt,
    fmt1,
    glue,
    ints,
    join,
    pair,
    vocab,
    wanted,
    where,
    with_valid,
)
from gisefficiency.evaluate.contexts import Context, PanelContext, UnitContext
from gisefficiency.evaluate.rules import (
    ATTR_COLUMNS,
    DATE_COLUMNS,
    DATE_TEMPLATE,
    EXPLAINED_RATIOS,
    FLAG_COLUMNS,
    GRADES,
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
    industry_digits,
)
from gisefficiency.metrics.indicators import METRICS

__all__ = ["Context", "Outcome", "PanelContext", "Producer", "UnitContext", "evaluate_condition", "first_true", "pick2",
           "pick_segments", "resolve_date"]

_ZH_NUM = dict(enumerate(("零", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十")))
# The value's relation to the threshold when they are equal depends on the operator.
_EQ_ZH = {"<": "不低于", "<=": "不高于", ">": "不高于", ">=": "不低于", "==": "等于"}
_EQ_EN = {"<": "not below", "<=": "not above", ">": "not above", ">=": "not below", "==": "equal to"}
_TRUE_ZH = {"<": "低于", "<=": "不高于", ">": "高于", ">=": "不低于", "==": "等于"}
_TRUE_EN = {"<": "below", "<=": "at most", ">": "above", ">=": "at least", "==": "equal to"}
_DEQ_ZH = {"<": "不早于", "<=": "不晚于", ">": "不晚于", ">=": "不早于", "==": "即"}
_DEQ_EN = {"<": "not before", "<=": "not after", ">": "not after", ">=": "not before", "==": "on"}


Producer = Callable[[np.ndarray], tuple[Text, Text]]


@dataclass
class Outcome:
    """Where a condition holds, and how to say why (or why not) for any rows, in Chinese and English.

    ``why(rows)`` / ``why_not(rows)`` build the texts only for the given row positions, so a caller
    asks for each row's reason once (reasons are the costly part at a million rows).
    """

    mask: np.ndarray
    why: Producer
    why_not: Producer
    #: The counter-reasons of an ``any`` as separate pieces (so callers can drop repeats).
    parts: list[Producer] | None = None

    def why_not_parts(self) -> list[Producer]:
        """Counter-reason producers, one per leaf of an ``any``."""
        return self.parts if self.parts is not None else [self.why_not]


Segments = list[tuple[np.ndarray, Text]]


def pick_segments(idx: np.ndarray, choice: np.ndarray, producers: Sequence[Producer]) -> tuple[Segments, Segments]:
    """:func:`pick2` before the pieces are put in row order: ``(positions in idx, text)`` per producer.

    A caller that assembles a longer text from these pieces moves each row's text once, not twice.
    """
    zh: Segments = []
    en: Segments = []
    for j, f in enumerate(producers):
        sel = np.flatnonzero(choice == j)
        if len(sel):
            z, e = f(idx[sel])
            zh.append((sel, z))
            en.append((sel, e))
    return zh, en


def pick2(idx: np.ndarray, choice: np.ndarray, producers: Sequence[Producer]) -> tuple[Text, Text]:
    """Per row of ``idx``, the texts of producer ``choice`` (-1: empty); each producer sees only its rows."""
    if len(producers) and len(choice) and (choice == choice[0]).all() and choice[0] >= 0:
        return producers[int(choice[0])](idx)  # every row from one producer: no reordering
    zh, en = pick_segments(idx, choice, producers)
    return pair(lambda: assemble(len(idx), zh), lambda: assemble(len(idx), en))


def first_true(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Index of the first true mask per row, -1 if none."""
    return np.select(list(masks), list(range(len(masks))), -1) if masks else np.zeros(0, int)


def resolve_date(template: str, years: np.ndarray) -> np.ndarray:
    """Dates of a ``YYYY-MM-DD`` or ``{year±k}-MM-DD`` template for each row's evaluated year."""
    m = DATE_TEMPLATE.match(template)
    assert m is not None  # validated on load
    fixed, sign, k, month, day = m.groups()
    if fixed:
        y = np.full(len(years), int(fixed))
    else:
        y = years + (int(k) if sign == "+" else -int(k) if sign == "-" else 0)
    if not len(y):
        return np.array([], dtype="datetime64[ns]")
    lo, hi = int(y.min()), int(y.max())
    if hi - lo > 4096:  # not a short range of years: parse each distinct year once
        uniq, inv = np.unique(y, return_inverse=True)
        stamps = np.array([np.datetime64(f"{u:04d}-{month}-{day}", "ns") for u in uniq], dtype="datetime64[ns]")
        return stamps[inv]
    # a handful of years: each year present is parsed once and looked up by its offset (no sort)
    present = np.flatnonzero(np.bincount(y - lo, minlength=hi - lo + 1))
    table = np.full(hi - lo + 1, np.datetime64("NaT"), dtype="datetime64[ns]")
    table[present] = [np.datetime64(f"{u + lo:04d}-{month}-{day}", "ns") for u in present]
    return table[y - lo]


def _dates(s: pd.Series) -> np.ndarray:
    return pd.to_datetime(s, errors="coerce").to_numpy(dtype="datetime64[ns]")


def _relation_words(lo: float, op: str, hi: float | None, zh: bool) -> list[str]:
    """The value's relation to the threshold: below, above, in between/equal (see :func:`_relation_code`)."""
    s = "" if zh else " "
    if op == "between":
        assert hi is not None
        w = ("低于", "不低于", "不低于", "且低于") if zh else ("below", "not below", "at least", "and below")
        return [f"{w[0]}{s}{fmt1(lo)}", f"{w[1]}{s}{fmt1(hi)}", f"{w[2]}{s}{fmt1(lo)}{s}{w[3]}{s}{fmt1(hi)}"]
    thr = fmt1(lo)
    less, more, eq = ("低于", "高于", _EQ_ZH[op]) if zh else ("below", "above", _EQ_EN[op])
    return [f"{less}{s}{thr}", f"{more}{s}{thr}", f"{eq}{s}{thr}"]


def _relation_code(v: np.ndarray, lo: float, op: str, hi: float | None) -> np.ndarray:
    """0 below ``lo``, 1 above (``hi`` for between), 2 otherwise."""
    with np.errstate(invalid="ignore"):
        upper = v >= hi if op == "between" else v > lo
        return np.where(v < lo, 0, np.where(upper, 1, 2))


def _pick_years(arrays: list[np.ndarray], at: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``arrays[at[i]][rows[i]]`` for each ``i``: only the rows asked for are stacked (never all units)."""
    return np.stack([a[rows] for a in arrays])[at, np.arange(len(rows))] if len(arrays) > 1 else arrays[0][rows]


def _codes_of_years(y: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Years as codes 0..k-1 into the returned consecutive years."""
    y0 = int(y.min()) if len(y) else 0
    return y - y0, list(range(y0, (int(y.max()) if len(y) else -1) + 1))


def _span(years: int, wording: str, zh: bool) -> str:
    if zh:
        n = _ZH_NUM.get(years, str(years))
        return f"连续{n}年" if wording == "consecutive" else f"近{n}年均"
    return f"in {years} consecutive years" if wording == "consecutive" else f"in each of the last {years} years"


def _metric(c: Metric, ctx: Context) -> Outcome:
    zh_name, en_name, uzh, uen = NUMBER_COLUMNS[c.column]
    # Per-mu figures and areas in mu compare at the precision the documents publish and the reasons
    # print (4 decimals): a drawn 2,000 m² parcel is 3 mu, not 2.9999999999999996, and "3亩以上" holds.
    per_mu = (c.column in METRICS and METRICS[c.column].per_mu) or uzh in ("亩", "万元/亩")
    uen_p = f" ({uen})" if uen else ""
    # a ratio that names its parts (a holder's 综合亩均税收): the reason gives the two figures too
    explained = EXPLAINED_RATIOS.get(c.column)
    vals, misses, oks, years, parts, no_land = [], [], [], [], [], []
    # a per-mu figure of a unit with tax but 0 mu (a holder whose floor is all let under floor_share) is
    # not missing data: it has no land of its own to divide by, and its reason says so
    ratio = METRICS.get(c.column) if c.column in METRICS and METRICS[c.column].per_mu else None
    den_zh, den_en = NUMBER_COLUMNS[ratio.denominator][:2] if ratio is not None else ("", "")
    for k in range(c.years - 1, -1, -1):  # oldest year first
        if explained is not None:
            applies = ctx.values(explained[2], k) > 0
            parts.append((ctx.values(explained[0], k), np.where(applies, ctx.values(explained[1], k), np.nan)))
        v = ctx.values(c.column, k)
        if per_mu:
            v = np.round(v, PER_MU_DECIMALS)
        missing = np.isnan(v)
        with np.errstate(invalid="ignore"):
            ok = (v >= c.value) & (v < c.upper) if c.op == "between" else OPS[c.op](v, c.value)
        if ratio is not None:
            no_land.append(missing & ~np.isnan(ctx.values(ratio.numerator, k)) & (ctx.values(ratio.denominator, k) == 0))
        vals.append(v)
        misses.append(missing)
        oks.append((ok & ~missing) | (missing & c.if_missing))
        years.append(ctx.years(k))

    tail_zh, tail_en = ("，视为满足", " (taken as met)") if c.if_missing else ("", "")
    tails_zh = [f"{uzh}，{w}{uzh}" for w in _relation_words(c.value, c.op, c.upper, True)] + [""]
    tails_en = [f"{uen_p}, {w}" for w in _relation_words(c.value, c.op, c.upper, False)] + [""]

    def text_at(v: np.ndarray, miss: np.ndarray, y: np.ndarray,
                num_den: tuple[np.ndarray, np.ndarray] | None = None,
                zero: np.ndarray | None = None) -> tuple[Text, Text]:
        """The value against the threshold (or that it is missing), one join of three pieces per language."""
        yc, ys = _codes_of_years(y)
        head = yc * 3 + miss + (zero if zero is not None else 0)
        head_zh = [t for yr in ys for t in (f"{yr}年{zh_name}", f"缺少{yr}年{zh_name}数据{tail_zh}",
                                            f"{yr}年{den_zh}为0，无{zh_name}{tail_zh}")]
        head_en = [t for yr in ys for t in (f"{en_name} {yr}: ", f"no {en_name} data for {yr}{tail_en}",
                                            f"no {en_name} in {yr}: {den_en} 0{tail_en}")]
        rel = np.where(miss, 3, _relation_code(v, c.value, c.op, c.upper))
        vs = with_valid(fmt(v), ~miss) if miss.any() else fmt(v)  # missing values are left out
        if num_den is None or explained is None:
            return pair(lambda: pc.binary_join_element_wise(vocab(head, head_zh), vs, vocab(rel, tails_zh), "",
                                                            null_handling="skip"),
                        lambda: pc.binary_join_element_wise(vocab(head, head_en), vs, vocab(rel, tails_en), "",
                                                            null_handling="skip"))
        num, den = num_den
        applies = ~np.isnan(den)
        shown = ~miss & ~np.isnan(num) & applies
        (nz, ne, nu, nue), (dz, de, du, due) = NUMBER_COLUMNS[explained[0]], NUMBER_COLUMNS[explained[1]]
        ns, ds = fmt(num), fmt(np.round(den, PER_MU_DECIMALS))

        def explain(heads: list[str], tails: list[str], figures: Text) -> Text:
            t = glue(pc.binary_join_element_wise(vocab(head, heads), vs, vocab(rel, tails), "", null_handling="skip"),
                     (figures, shown))
            # the ratio does not apply (no land held, or no other firm on it): nothing to say (an empty text,
            # which the joins of reasons leave out)
            return t if applies.all() else where(applies, t, "")

        return pair(lambda: explain(head_zh, tails_zh, cat(f"（{nz}", ns, f"{nu}，{dz}", ds, f"{du}）")),
                    lambda: explain(head_en, tails_en, cat(f" ({ne}: ", ns, f" {nue}; {de}: ", ds, f" {due})")))

    def one(j: int, idx: np.ndarray) -> tuple[Text, Text]:
        return text_at(vals[j][idx], misses[j][idx], years[j][idx],
                       (parts[j][0][idx], parts[j][1][idx]) if parts else None,
                       no_land[j][idx] if no_land else None)

    def first_failing(idx: np.ndarray) -> tuple[Text, Text]:
        """The first year that fails, read straight from the stacked years (no per-year pieces)."""
        choice = first_true([~ok[idx] for ok in oks])
        has = np.flatnonzero(choice >= 0)
        at, rows = choice[has], idx[has]
        num_den = None if not parts else (_pick_years([q[0] for q in parts], at, rows),
                                          _pick_years([q[1] for q in parts], at, rows))
        zh, en = text_at(_pick_years(vals, at, rows), _pick_years(misses, at, rows), _pick_years(years, at, rows),
                         num_den, _pick_years(no_land, at, rows) if no_land else None)
        if len(has) == len(idx):
            return zh, en
        return pair(lambda: assemble(len(idx), [(has, zh)]), lambda: assemble(len(idx), [(has, en)]))

    if c.years == 1:
        return Outcome(oks[0], lambda idx: one(0, idx), lambda idx: one(0, idx))
    if c.op == "between":
        rel_zh = f"不低于{fmt1(c.value)}且低于{fmt1(c.upper)}{uzh}"  # type: ignore[arg-type]
        rel_en = f"at least {fmt1(c.value)} and below {fmt1(c.upper)}{uen_p}"  # type: ignore[arg-type]
    else:
        rel_zh = f"{_TRUE_ZH[c.op]}{fmt1(c.value)}{uzh}"
        rel_en = f"{_TRUE_EN[c.op]} {fmt1(c.value)}{uen_p}"

    def why(idx: np.ndarray) -> tuple[Text, Text]:
        per_year = [(misses[j][idx], ints(years[j][idx]), fmt(vals[j][idx])) for j in range(len(vals))]
        n = len(idx)
        return pair(
            lambda: join([where(miss, cat(y, "年无数据"), cat(y, "年", vs)) for miss, y, vs in per_year], "、", n=n,
                         head=f"{zh_name}{_span(c.years, c.wording, True)}{rel_zh}（", tail=f"{uzh}）"),
            lambda: join([where(miss, cat(y, ": no data"), cat(y, ": ", vs)) for miss, y, vs in per_year], ", ", n=n,
                         head=f"{en_name} {rel_en} {_span(c.years, c.wording, False)} (", tail=")"))

    return Outcome(np.logical_and.reduce(oks), why, first_failing)


def _grade(c: Grade, ctx: Context) -> Outcome:
    label_zh, label_en = "/".join(c.grades) + "类", "class " + "/".join(c.grades)
    codes, oks, years = [], [], []
    for k in range(c.years - 1, -1, -1):
        # the first letter of each grade (as a one-letter class reads), looked up in Arrow: no Python strings
        g = pc.utf8_slice_codeunits(ctx.text("grade", k), 0, 1)
        at = pc.index_in(g, value_set=pa.array(list(GRADES), pa.string()))
        # A-D and N at their place in GRADES, then no grade (''), then anything else (shown as '')
        code = np.where(empty(g, len(g)), len(GRADES), len(GRADES) + 1)
        known = at.is_valid().to_numpy(zero_copy_only=False)
        code[known] = at.drop_null().to_numpy()
        codes.append(code)
        oks.append(pc.is_in(g, value_set=pa.array(list(c.grades), pa.string())).to_numpy(zero_copy_only=False))
        years.append(ctx.years(k))
    shown = [*GRADES, ""]  # what each code prints as a class (no grade is never printed)

    def state(y: np.ndarray, code: np.ndarray) -> tuple[Text, Text]:
        """'2020年评价为D类' and the like: one lookup in a table of every year and grade state."""
        yc, ys = _codes_of_years(y)
        at = yc * (len(GRADES) + 2) + code
        zh, en = [], []
        for v in ys:
            for i in range(len(GRADES) + 2):
                if i == len(GRADES):
                    zh.append(f"{v}年无评价结果")
                    en.append(f"no grade for {v}")
                elif i < len(GRADES) and GRADES[i] == "N":
                    zh.append(f"{v}年不参评")
                    en.append(f"not graded in {v}")
                else:
                    zh.append(f"{v}年评价为{shown[min(i, len(GRADES))]}类")
                    en.append(f"class {shown[min(i, len(GRADES))]} in {v}")
        return pair(lambda: vocab(at, zh), lambda: vocab(at, en))

    def one(j: int, idx: np.ndarray) -> tuple[Text, Text]:
        return state(years[j][idx], codes[j][idx])

    def lacking(idx: np.ndarray) -> tuple[list[Text], list[Text]]:
        """'2021年评分缺单位能耗增加值数据' for each year whose class was scored without some of the unit's
        data (``missing_data_zh/en`` of the grades), null elsewhere: a class verdict says what it lacked."""
        out_zh: list[Text] = []
        out_en: list[Text] = []
        want_zh, want_en = wanted()
        for k, j in zip(range(c.years - 1, -1, -1), range(c.years), strict=True):
            # the two languages name the same indicators: either tells which rows lack any
            mz = ctx.text("missing_data_zh", k).take(idx).cast(pa.string()) if want_zh else None
            me = ctx.text("missing_data_en", k).take(idx).cast(pa.string()) if want_en or not want_zh else None
            has = pc.greater(pc.utf8_length(mz if mz is not None else me), 0).to_numpy(zero_copy_only=False)
            if not has.any():
                continue
            yc, ys = _codes_of_years(years[j][idx])
            out_zh.append(with_valid(glue(vocab(yc, [f"{v}年评分缺" for v in ys]), mz, const(len(idx), "数据")), has)
                          if mz is not None else "")
            out_en.append(with_valid(glue(vocab(yc, ["scored without the unit's data on "] * len(ys)), me,
                                          vocab(yc, [f" in {v}" for v in ys])), has) if want_en else "")
        return out_zh, out_en

    def noted(idx: np.ndarray, zh: Text, en: Text) -> tuple[Text, Text]:
        lz, le = lacking(idx)
        if not lz:
            return zh, en
        n = len(idx)
        return pair(lambda: join([zh, *lz], "；", n=n), lambda: join([en, *le], "; ", n=n))

    if c.years == 1:
        return Outcome(oks[0], lambda idx: noted(idx, *one(0, idx)), lambda idx: one(0, idx))

    def first_failing(idx: np.ndarray) -> tuple[Text, Text]:
        """The first year that fails, read straight from the stacked years (no per-year pieces)."""
        choice = first_true([~ok[idx] for ok in oks])
        has = np.flatnonzero(choice >= 0)
        at, rows = choice[has], idx[has]
        zh, en = state(_pick_years(years, at, rows), _pick_years(codes, at, rows))
        if len(has) == len(idx):
            return zh, en
        return pair(lambda: assemble(len(idx), [(has, zh)]), lambda: assemble(len(idx), [(has, en)]))

    def why(idx: np.ndarray) -> tuple[Text, Text]:
        per_year = []
        for j in range(len(codes)):
            yc, ys = _codes_of_years(years[j][idx])
            per_year.append((yc * (len(GRADES) + 2) + codes[j][idx], ys))
        n = len(idx)
        zh, en = pair(
            lambda: join([vocab(at, [f"{v}年{g}" if i != len(GRADES) else f"{v}年无" for v in ys
                                     for i, g in enumerate([*shown, ""])]) for at, ys in per_year],
                         "、", n=n, head=f"{_span(c.years, c.wording, True)}评价为{label_zh}（", tail="）"),
            lambda: join([vocab(at, [f"{v}: {g}" if i != len(GRADES) else f"{v}: none" for v in ys
                                     for i, g in enumerate([*shown, ""])]) for at, ys in per_year],
                         ", ", n=n, head=f"{label_en} {_span(c.years, c.wording, False)} (", tail=")"))
        return noted(idx, zh, en)

    return Outcome(np.logical_and.reduce(oks), why, first_failing)


def _flag(c: Flag, ctx: Context) -> Outcome:
    s = ctx.attr(c.column).astype("boolean")
    known = s.notna().to_numpy(bool)
    v = s.fillna(False).to_numpy(bool)
    zh, en = FLAG_COLUMNS[c.column]
    yes, no = (zh, en), ("非" + zh, "not a " + en)
    t, f = (yes, no) if c.value else (no, yes)
    # An unknown flag explains nothing either way: its text stays empty.
    return Outcome(known & (v == c.value), lambda idx: t,
                   lambda idx: (where(known[idx], f[0], ""), where(known[idx], f[1], "")))


def _attr(c: Attr, ctx: Context) -> Outcome:
    s = ctx.attr(c.column).astype("string")
    missing = s.isna().to_numpy(bool)
    # attributes take few distinct values: test and word each once, then look them up per row
    codes, uniq = pd.factorize(s.fillna(""))
    vals = pd.Series(uniq, dtype="string")
    test = industry_digits(vals) if c.column == "industry" else vals
    ok_u = (test.str.startswith(c.values) if c.prefix else test.isin(c.values)).to_numpy(bool)
    ok = (ok_u[codes] & ~missing) | (missing & c.if_missing)
    zh, en = ATTR_COLUMNS[c.column]
    shown = [str(v) for v in uniq]
    shown_zh = [SCALE_LABELS[v][0] if v in SCALE_LABELS else v for v in shown] \
        if c.column in ("scale", "group") else shown
    shown_en = [SCALE_LABELS[v][1] if v in SCALE_LABELS else v for v in shown] \
        if c.column in ("scale", "group") else shown
    tail_zh, tail_en = ("，视为满足", " (taken as met)") if c.if_missing else ("", "")
    table_zh = [f"{zh}为{v}" for v in shown_zh] + [f"{zh}缺失{tail_zh}"]
    table_en = [f"{en} {v}" for v in shown_en] + [f"{en} unknown{tail_en}"]
    at = np.where(missing, len(shown), codes)

    def text(idx: np.ndarray) -> tuple[Text, Text]:
        return pair(lambda: vocab(at[idx], table_zh), lambda: vocab(at[idx], table_en))

    return Outcome(ok, text, text)


def _coalesce_dates(cols: tuple[str, ...], ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """The first known date among ``cols`` and which column gave it (-1: none)."""
    # The first column's dates as they are; later columns fill only its gaps.
    d = _dates(ctx.attr(cols[0]))
    src = np.where(np.isnat(d), -1, 0)
    for j, col in enumerate(cols[1:], start=1):
        v = _dates(ctx.attr(col))
        take = np.isnat(d) & ~np.isnat(v)
        d = np.where(take, v, d)
        src[take] = j
    return d, src


def _labels(cols: tuple[str, ...], src: np.ndarray, miss_zh: str, miss_en: str) -> tuple[pa.Array, pa.Array]:
    """The name of the date column each row read (``src``), or of all of them and ``miss_*`` where none did."""
    names = [DATE_COLUMNS[c] for c in cols]
    none = ("/".join(n[0] for n in names), "/".join(n[1] for n in names))
    code = np.where(src < 0, len(cols), src)
    return (vocab(code, [*(n[0] for n in names), none[0] + miss_zh]),
            vocab(code, [*(n[1] + " " for n in names), none[1] + miss_en]))


def _date(c: DateCmp, ctx: Context) -> Outcome:
    d, src = _coalesce_dates(c.columns, ctx)
    thr = resolve_date(c.value, ctx.years(0))
    missing = np.isnat(d)
    words_zh = ["早于", "晚于", _DEQ_ZH[c.op]]
    words_en = [f" {w} " for w in ("before", "after", _DEQ_EN[c.op])]

    def text(idx: np.ndarray) -> tuple[Text, Text]:
        di, miss = d[idx], missing[idx]
        lz, le = _labels(c.columns, src[idx], "缺失", " unknown")
        tc, ts = few_days(thr[idx])  # thresholds: a date or two, each written once with the relation
        ti = thr[idx]
        code = np.select([di < ti, di > ti], [0, 1], 2) * len(ts) + tc
        ds, ok = days(di), ~miss
        return pair(lambda: glue(lz, (ds, ok), (vocab(code, [w + t for w in words_zh for t in ts]), ok)),
                    lambda: glue(le, (ds, ok), (vocab(code, [w + t for w in words_en for t in ts]), ok)))

    return Outcome(OPS[c.op](d, thr) & ~missing, text, text)


def _within(c: Within, ctx: Context) -> Outcome:
    d, src = _coalesce_dates(c.columns, ctx)
    y = ctx.years(0)
    missing = np.isnat(d)
    ok = (d > resolve_date(f"{{year-{c.years}}}-12-31", y)) & ~missing

    def text(idx: np.ndarray, under: bool) -> tuple[Text, Text]:
        lz, le = _labels(c.columns, src[idx], "缺失", " unknown")
        yc, ys = _codes_of_years(y[idx])
        zh_tail = f"年末未满{c.years}年" if under else f"年末已满{c.years}年"
        en_tail = f": under {c.years} years by the end of " if under else f": {c.years} years or more by the end of "
        known = ~missing[idx]
        ds = days(d[idx])
        return pair(lambda: glue(lz, (ds, known), (vocab(yc, [f"，至{v}{zh_tail}" for v in ys]), known)),
                    lambda: glue(le, (ds, known), (vocab(yc, [f"{en_tail}{v}" for v in ys]), known)))

    return Outcome(ok, lambda idx: text(idx, True), lambda idx: text(idx, False))


def _not_producing(c: NotProducingBy, ctx: Context) -> Outcome:
    pdate = _dates(ctx.attr("production_date"))
    s = ctx.attr("in_production").astype("boolean")
    ip_known, ip = s.notna().to_numpy(bool), s.fillna(False).to_numpy(bool)
    by = resolve_date(c.value, ctx.years(0))
    known = ~np.isnat(pdate)
    ok = (known & (pdate > by)) | (~known & ip_known & ~ip)

    def text(idx: np.ndarray, met: np.ndarray) -> tuple[Text, Text]:
        """Each row's case and deadline as one code: the words around the production date are looked up."""
        kn = known[idx]
        case = np.select([met & kn, met, kn, ip_known[idx]], [0, 1, 2, 3], 4)
        bc, bs = few_days(by[idx])
        code = case * len(bs) + bc
        head_zh = [f"至{b}未投产（投产日期" for b in bs] + [f"至{b}未投产" for b in bs] + ["投产日期"] * len(bs) \
            + ["已投产"] * len(bs) + ["投产情况不明"] * len(bs)
        tail_zh = ["）"] * len(bs) + [""] * len(bs) + [f"，不晚于{b}" for b in bs] + [""] * 2 * len(bs)
        head_en = [f"not producing by {b} (production from " for b in bs] + [f"not producing by {b}" for b in bs] \
            + ["production from "] * len(bs) + ["in production"] * len(bs) + ["production status unknown"] * len(bs)
        tail_en = [")"] * len(bs) + [""] * len(bs) + [f", not after {b}" for b in bs] + [""] * 2 * len(bs)
        ps = days(pdate[idx])
        return pair(lambda: glue(vocab(code, head_zh), (ps, kn), vocab(code, tail_zh)),
                    lambda: glue(vocab(code, head_en), (ps, kn), vocab(code, tail_en)))

    return Outcome(ok, lambda idx: text(idx, ok[idx]), lambda idx: text(idx, np.zeros(len(idx), bool)))


def _all(outs: list[Outcome]) -> Outcome:
    masks = [o.mask for o in outs]

    def why(idx: np.ndarray) -> tuple[Text, Text]:
        texts = [o.why(idx) for o in outs]
        return pair(lambda: join([t[0] for t in texts], "，", n=len(idx)),
                    lambda: join([t[1] for t in texts], "; ", n=len(idx)))

    def why_not(idx: np.ndarray) -> tuple[Text, Text]:
        return pick2(idx, first_true([~m[idx] for m in masks]), [o.why_not for o in outs])

    return Outcome(np.logical_and.reduce(masks), why, why_not)


def _any(outs: list[Outcome]) -> Outcome:
    masks = [o.mask for o in outs]
    pieces = [p for o in outs for p in o.why_not_parts()]

    def why(idx: np.ndarray) -> tuple[Text, Text]:
        return pick2(idx, first_true([m[idx] for m in masks]), [o.why for o in outs])

    def why_not(idx: np.ndarray) -> tuple[Text, Text]:
        texts = [p(idx) for p in pieces]
        n = len(idx)
        return pair(lambda: join([t[0] for t in texts], "；", n=n, unique=True),
                    lambda: join([t[1] for t in texts], "; ", n=n, unique=True))

    return Outcome(np.logical_or.reduce(masks), why, why_not, pieces)


def evaluate_condition(cond: Condition, ctx: Context) -> Outcome:
    """Evaluate ``cond`` for every row of ``ctx`` at once (texts are built later, on demand)."""
    if isinstance(cond, All):
        return _all([evaluate_condition(p, ctx) for p in cond.parts])
    if isinstance(cond, AnyOf):
        return _any([evaluate_condition(p, ctx) for p in cond.parts])
    if isinstance(cond, Not):
        o = evaluate_condition(cond.part, ctx)
        return Outcome(~o.mask, o.why_not, o.why)
    handler = {Metric: _metric, Grade: _grade, Flag: _flag, Attr: _attr, DateCmp: _date, Within: _within,
               NotProducingBy: _not_producing}[type(cond)]
    return handler(cond, ctx)  # type: ignore[operator]

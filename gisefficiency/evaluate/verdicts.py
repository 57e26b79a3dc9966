"""Apply a policy preset: grades per unit and year, one verdict per unit, low-efficiency parcels.

Every verdict explains itself in Chinese and English with the numbers it rests on, e.g.
"淘汰关停：亩均税收连续两年低于1万元/亩（2020年0.62、2021年0.81万元/亩）". Rules run as boolean
arrays over all units at once (see :mod:`gisefficiency.evaluate.rules`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.constants import M2_PER_MU, PER_MU_DECIMALS
from gisefficiency.core.grouped import unit_of
from gisefficiency.core.ids import arrow_ids, first_codes, positions
from gisefficiency.core.text import (
    Text,
    assemble,
    cat,
    const,
    fmt,
    fmt1,
    join,
    pair,
    take_text,
    to_series,
    vocab,
    wanted,
    where,
    with_valid,
    writing,
)
from gisefficiency.evaluate.conditions import (
    Producer,
    Segments,
    UnitContext,
    evaluate_condition,
    pick2,
    pick_segments,
)
from gisefficiency.evaluate.contexts import years_of
from gisefficiency.evaluate.policy import Policy
from gisefficiency.evaluate.rules import Flag
from gisefficiency.evaluate.scoring import GradeText, grades_and_reasons
from gisefficiency.evaluate.years import ReferenceYear, reference_year

__all__ = ["Evaluation", "ReasonLang", "evaluate", "flag_parcels", "reason_langs"]


#: What each verdict's reason explains (the ``reason_code`` column): out of the rules' scope, exempt, a
#: disposal rule met, no rule met; ``graded`` when the preset has no disposal rules (the class is the verdict).
_CASES = ("out_of_scope", "exempt", "rule", "no_rule", "graded")
#: Which reasons ``Evaluation.reasons`` writes: one language, or both.
ReasonLang = Literal["zh", "en", "both"]


def reason_langs(lang: str) -> tuple[str, ...]:
    """The languages of ``lang`` (``"both"``: zh then en); a ``ValueError`` names the choices."""
    if lang not in ("zh", "en", "both"):
        raise ValueError(f"lang = {lang!r}: reasons are written in 'zh', 'en' or 'both'")
    return ("zh", "en") if lang == "both" else (lang,)


def _text(t: Text, n: int) -> pa.Array:
    return const(n, t) if isinstance(t, str) else t


def _columns(texts: tuple[Text, Text], name: str, langs: tuple[str, ...], index: pd.Index) -> dict[str, pd.Series]:
    return {f"{name}_{lang}": to_series(texts[("zh", "en").index(lang)], index) for lang in langs}


def _take(s: pd.Series, rows: np.ndarray, index: pd.Index) -> pd.Series:
    """Rows ``rows`` of a kept text column, on ``index``."""
    return pd.Series(s.array.take(rows), index=index, name=s.name, copy=False)


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    The frames keep codes and numbers only: the reasons, in words with the numbers they rest on, are
    written by :meth:`reasons` and :meth:`grade_reasons` for the rows asked, in the language asked.

    Attributes
    ----------
    grades
        Index ``(eval_id, year)``: ``score, grade`` (A/B/C/D, N = not graded), ``missing_data_zh/en``
        (indicators a class was scored without).
    verdicts
        Index ``eval_id``: ``score, grade`` (reference year), ``disposal`` (category id or ""),
        ``disposal_zh, disposal_en, in_scope, exempt, low_efficiency``, one boolean column per preset flag
        (e.g. ``two_high``), then what the reason explains: ``reason_code`` (categorical: ``out_of_scope``,
        ``exempt``, ``rule``, ``no_rule``, or ``graded`` for presets without disposal rules), ``rule``
        (the position of the rule met in the preset, -1: none) and ``exemption`` (position of the
        exemption that spared the unit, -1: none).
    year
        The reference year.
    policy
        The preset's name.
    grade_text, verdict_text, unit_grade_text
        Producers of the reasons (row positions -> zh and en texts) of the grades' rows, of the verdicts'
        rows, and of the reference year's grade reason of the verdicts' rows; see :meth:`reasons`.
    """

    grades: pd.DataFrame
    verdicts: pd.DataFrame
    year: int
    policy: str
    grade_text: GradeText | None = field(default=None, repr=False)
    verdict_text: Producer | None = field(default=None, repr=False)
    unit_grade_text: Producer | None = field(default=None, repr=False)
    #: Which year was used and why (:class:`~gisefficiency.evaluate.years.ReferenceYear`).
    reference: ReferenceYear | None = None
    #: Every unit's texts by language, written once by :meth:`unit_texts` (each output asks for them again).
    _texts: dict[str, tuple[Text, Text]] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: Outputs are written on two threads: the first to ask writes the texts, the other waits for them.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def reasons(self, lang: ReasonLang = "zh", *, units: np.ndarray | None = None) -> pd.DataFrame:
        """The verdicts' reasons at the reference year, written for the units asked.

        Parameters
        ----------
        lang
            ``"zh"`` (default), ``"en"`` or ``"both"``.
        units
            Row positions in ``verdicts`` (default every unit).

        Returns
        -------
        pandas.DataFrame
            Index the units' ``eval_id``: ``reason_<lang>`` (the verdict with its numbers, e.g.
            "淘汰关停类：亩均税收连续两年低于1万元/亩（2020年0.62、2021年0.81万元/亩）") and
            ``grade_reason_<lang>`` (the reference year's class), for each language asked.

        Raises
        ------
        ValueError
            ``lang`` is not one of the three, or the evaluation was not made by :func:`evaluate`.

        Notes
        -----
        Every unit's texts are written once per language and kept (see :meth:`unit_texts`); a few units
        asked before that are written on their own.
        """
        langs = reason_langs(lang)
        self._check()
        idx = None if units is None else np.asarray(units, dtype=np.int64)
        index = self.verdicts.index if idx is None else self.verdicts.index[idx]
        if idx is None or all(x in self._texts for x in langs):
            kept = self.unit_texts(lang)
            return pd.DataFrame({c: t if idx is None else _take(t, idx, index) for c, t in kept.items()}, index=index)
        with writing(langs):
            verdict, grade = self.verdict_text(idx), self.unit_grade_text(idx)  # type: ignore[misc]
        return pd.DataFrame({**_columns(verdict, "reason", langs, index), **_columns(grade, "grade_reason", langs, index)},
                            index=index)

    def unit_texts(self, lang: ReasonLang = "zh") -> dict[str, pd.Series]:
        """Every unit's ``reason_<lang>`` and ``grade_reason_<lang>`` (index ``eval_id``), written once.

        The texts of a language are written on its first request and kept, so the outputs that each show
        the reasons ask for them once in all; concurrent first requests wait for one writing.

        Raises
        ------
        ValueError
            As :meth:`reasons`.
        """
        langs = reason_langs(lang)
        self._check()
        if not all(x in self._texts for x in langs):
            with self._lock:
                missing = tuple(x for x in langs if x not in self._texts)
                if missing:
                    self._write_texts(missing)
        index = self.verdicts.index
        return {f"{name}_{x}": to_series(self._texts[x][k], index).rename(f"{name}_{x}")
                for k, name in enumerate(("reason", "grade_reason")) for x in langs}

    def _write_texts(self, langs: tuple[str, ...]) -> None:
        """Write every unit's reasons in ``langs`` (only those) into ``_texts``."""
        idx = np.arange(len(self.verdicts))
        with writing(langs):
            verdict, grade = self.verdict_text(idx), self.unit_grade_text(idx)  # type: ignore[misc]
        for x in langs:
            k = ("zh", "en").index(x)
            self._texts[x] = (verdict[k], grade[k])

    def __getstate__(self) -> dict[str, Any]:
        # A lock does not pickle: a copy gets its own (the kept texts go with it).
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _texts=dict(state.get("_texts", {})), _lock=threading.Lock())

    def _check(self) -> None:
        if self.verdict_text is None or self.unit_grade_text is None:
            raise ValueError("this evaluation keeps no reasons (made without evaluate)")

    def grade_reasons(self, lang: ReasonLang = "zh", *, years: Iterable[int] | None = None) -> pd.DataFrame:
        """The grade reasons of every unit in ``years`` (default every year), written on request.

        Returns
        -------
        pandas.DataFrame
            Index ``(eval_id, year)`` as ``grades`` (its rows of those years): ``grade_reason_<lang>``.

        Raises
        ------
        ValueError
            As :meth:`reasons`.
        """
        langs = reason_langs(lang)
        if self.grade_text is None:
            raise ValueError("this evaluation keeps no reasons (made without evaluate)")
        rows = np.arange(len(self.grades))
        if years is not None:
            rows = rows[np.isin(years_of(self.grades.index), np.asarray(list(years), dtype=np.int64))]
        index = self.grades.index[rows]
        with writing(langs):
            texts = self.grade_text(rows)
        return pd.DataFrame(_columns(texts, "grade_reason", langs, index), index=index)


def _arrow_nulls(s: pd.Series) -> pa.Array:
    """A text column as a pyarrow array, nulls kept."""
    arr = pa.array(s.astype("string").array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _positions(pos: np.ndarray) -> pa.Array:
    """Row positions for ``take``; -1 gives null."""
    return pa.array(np.maximum(pos, 0), mask=pos < 0)


def _lookup(values: np.ndarray, keys: pd.Index, idx: pd.Index) -> np.ndarray:
    """``values`` (float, one per text key) at the ids of ``idx``; NaN where absent (first of repeated keys)."""
    pos = positions(idx, keys)
    out = np.full(len(pos), np.nan)
    out[pos >= 0] = values[pos[pos >= 0]]
    return out


def _plain(t: pa.Array, index: pd.Index) -> pd.Series:
    """A text column in pandas' default ``str`` dtype (the disposal columns' dtype)."""
    return to_series(t, index).astype("str")


def _dispose(d: Any, cats: Any, ctx: UnitContext
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, Producer]:
    """Scope, exemptions and first-matching rules: the masks, each unit's case (0 out of scope, 1 exempt,
    2 a rule met, 3 none), the exemption that spared it (-1: none) and the producer of the reasons of
    any units, each unit's reason written once, for its case."""
    n = ctx.n
    scope = evaluate_condition(d.scope, ctx) if d.scope is not None else None
    in_scope = scope.mask if scope is not None else np.ones(n, bool)
    ex_choice = np.full(n, -1)
    ex_outs = []
    for j, e in enumerate(d.exempt):
        o = evaluate_condition(e.when, ctx)
        ex_choice[(ex_choice < 0) & o.mask] = j
        ex_outs.append(o)
    rule_choice = np.full(n, -1)
    outs = []
    for j, rule in enumerate(d.rules):  # first matching rule wins
        o = evaluate_condition(rule.when, ctx)
        rule_choice[(rule_choice < 0) & o.mask] = j
        outs.append(o)
    exempt = in_scope & (ex_choice >= 0)
    matched = rule_choice >= 0
    # the disposal as a code: the rule's position, -1 for none (out of scope, exempt or no rule met)
    disposal = np.where(in_scope & ~exempt, rule_choice, -1)

    def matched_parts(idx: np.ndarray) -> tuple[Segments, Segments]:
        def one(j: int, rows: np.ndarray) -> tuple[Text, Text]:
            c = cats[d.rules[j].category]
            zh, en = outs[j].why(rows)
            return pair(lambda: cat(f"{c.zh}：", zh), lambda: cat(f"{c.en}: ", en))
        return pick_segments(idx, rule_choice[idx], [lambda rows, j=j: one(j, rows) for j in range(len(outs))])

    def matched_why(idx: np.ndarray) -> tuple[Text, Text]:
        zh, en = matched_parts(idx)
        return pair(lambda: assemble(len(idx), zh), lambda: assemble(len(idx), en))

    def exempt_why(idx: np.ndarray) -> tuple[Text, Text]:
        def one(j: int, rows: np.ndarray) -> tuple[Text, Text]:
            e = d.exempt[j]
            if isinstance(e.when, Flag):  # the label says it all
                return e.zh, e.en
            zh, en = ex_outs[j].why(rows)
            return cat(f"{e.zh}（", zh, "）"), cat(f"{e.en} (", en, ")")
        ez, ee = pick2(idx, ex_choice[idx], [lambda rows, j=j: one(j, rows) for j in range(len(ex_outs))])
        wz, we = matched_why(idx)  # what the exemption spares the unit from
        m = matched[idx]
        return pair(lambda: cat("豁免：", ez, where(m, cat("（否则应列为", wz, "）"), "")),
                    lambda: cat("exempt: ", ee, where(m, cat(" (otherwise ", we, ")"), "")))

    def none_why(idx: np.ndarray) -> tuple[Text, Text]:
        texts = [p(idx) for o in outs for p in o.why_not_parts()]
        k = len(idx)
        zh = join([t[0] for t in texts], "；", n=k, unique=True, head="未达处置条件：") if wanted()[0] else ""
        en_parts = [t[1] for t in texts]
        del texts  # the Chinese pieces are let go before the English text is written
        return zh, join(en_parts, "; ", n=k, unique=True, head="no rule met: ") if wanted()[1] else ""

    def out_why(idx: np.ndarray) -> tuple[Text, Text]:
        zh, en = scope.why_not(idx) if scope is not None else ("", "")
        return pair(lambda: cat(zh, f"，不在{d.scope_zh}"), lambda: cat(en, f": outside the {d.scope_en}"))

    case = np.select([~in_scope, exempt, disposal >= 0], [0, 1, 2], 3)

    def reasons(idx: np.ndarray) -> tuple[Text, Text]:
        """The reasons of units ``idx``: each put in place once, the matched rules' pieces as they are."""
        at = case[idx]
        seg_zh, seg_en = pick_segments(idx, np.where(at == 2, -1, at), [out_why, exempt_why, matched_why, none_why])
        rows = np.flatnonzero(at == 2)
        if len(rows):
            mz, me = matched_parts(idx[rows])
            seg_zh += [(rows[pos], t) for pos, t in mz]
            seg_en += [(rows[pos], t) for pos, t in me]
        rz = assemble(len(idx), seg_zh) if wanted()[0] else ""
        seg_zh.clear()  # the pieces are let go before the English text is put in place
        return rz, assemble(len(idx), seg_en) if wanted()[1] else ""

    return in_scope, exempt, disposal, case, np.where(exempt, ex_choice, -1), reasons


def _reference_year(panel: pd.DataFrame, policy: Policy, year: int | None) -> ReferenceYear:
    idx = panel.index
    if len(idx) and isinstance(idx, pd.MultiIndex) and idx.codes[1].min() >= 0:  # years present, from the codes
        used = np.bincount(idx.codes[1], minlength=len(idx.levels[1])) > 0
        present = np.unique(idx.levels[1].to_numpy(dtype="int64")[used])
    else:
        present = np.unique(years_of(idx))
    return reference_year(present.tolist(), policy, year)


_OFFICIAL = re.compile(r"^\s*([A-Da-d])\s*(?:类|档|级|等)?\s*$")


def official_grades(panel: pd.DataFrame) -> pd.Series | None:
    """The county's published 综合评价 class per unit-year (A-D), read from ``official_grade``.

    "A", "a", "A类", "A档", "A级" are read as A; anything else (blank, "不参评", "优秀") is missing, so the
    computed class is used for that unit-year. None when the panel has no such column.
    """
    if "official_grade" not in panel:
        return None
    text = panel["official_grade"].astype("string")
    return text.str.extract(_OFFICIAL, expand=False).str.upper().astype("string")


def evaluate(panel: pd.DataFrame, policy: Policy, *, year: int | None = None, links: Any = None) -> Evaluation:
    """Grade every unit and year, then judge every unit at the reference year.

    Parameters
    ----------
    panel
        ``metrics.unit_metrics`` output (MultiIndex ``(eval_id, year)``).
    policy
        A preset from ``policy.load_preset``.
    year
        Reference year (must be in the panel); default the preset's ``reference_year``, or the latest year of
        the panel when the preset has none or the panel lacks it (``Evaluation.reference`` says which).
    links
        ``link.Links``, needed by presets with leasing penalties (tenants per holder).

    Returns
    -------
    Evaluation

    Raises
    ------
    InputError
        Empty panel, no data for the reference year, or links needed and missing.
    """
    reference = _reference_year(panel, policy, year)
    ref = reference.year
    grades, grade_text = grades_and_reasons(panel, policy, links=links)
    official = official_grades(panel)
    if official is not None:
        grades = grades.assign(official_grade=official)
    # grades share the panel's index: the columns are put side by side, no join on the text ids. Class
    # rules read the county's published class where it has one, else the computed class.
    used = grades["grade"] if official is None else official.fillna(grades["grade"])
    frame = panel.drop(columns=[c for c in ("score", "grade") if c in panel]).assign(
        score=grades["score"], grade=used, missing_data_zh=grades["missing_data_zh"],
        missing_data_en=grades["missing_data_en"])
    if official is not None:  # a published class rests on the county's data, not on ours
        frame.loc[official.notna().to_numpy(), ["missing_data_zh", "missing_data_en"]] = ""
    ctx = UnitContext(frame, ref)
    units, n = ctx.units, ctx.n
    pos = ctx.rows(0)  # each unit's row in the reference year (-1: no data that year)
    no_row = pos < 0
    has = np.flatnonzero(~no_row)
    score = np.full(n, np.nan)
    score[has] = grades["score"].to_numpy(dtype=float)[pos[has]]
    grade = take_text(grades["grade"], pos, absent="N")  # A-D/N from grade_units
    absent = (f"无{ref}年数据，不参评", f"no data for {ref}: not graded")

    def grade_why(idx: np.ndarray) -> tuple[Text, Text]:
        """The reference year's grade reasons of units ``idx`` (units without a row that year say so)."""
        rows = pos[idx]
        found = np.flatnonzero(rows >= 0)
        if len(found) == len(idx):
            return grade_text(rows)
        gz, ge = grade_text(rows[found]) if len(found) else ("", "")
        lost = np.flatnonzero(rows < 0)
        return pair(lambda: assemble(len(idx), [(found, gz), (lost, absent[0])]),
                    lambda: assemble(len(idx), [(found, ge), (lost, absent[1])]))

    d = policy.disposal
    cats = policy.categories
    disposal = np.full(n, -1)
    if d is None:
        in_scope, exempt = np.ones(n, bool), np.zeros(n, bool)
        case, exemption = np.full(n, len(_CASES) - 1), np.full(n, -1)
        why: Producer = grade_why
    else:
        in_scope, exempt, disposal, case, exemption, why = _dispose(d, cats, ctx)

    # per rule (then none, at code -1): its category, shown through small vocabularies
    rule_cats = [cats[r.category] for r in d.rules] if d is not None else []
    ids = [r.category for r in d.rules] if d is not None else []
    shown = np.where(disposal < 0, len(rule_cats), disposal)
    low = np.array([c.low_efficiency for c in rule_cats] + [False], dtype=bool)[shown]
    flags = {}
    flag_outs = []
    for f in policy.flags:
        o = evaluate_condition(f.when, ctx)
        flags[f.id] = o.mask
        flag_outs.append((f, o))

    def reasons(idx: np.ndarray) -> tuple[Text, Text]:
        """The verdict reasons of units ``idx``: the case's reason, then the words of each flag that holds."""
        rz, re_ = why(idx)
        if d is None:  # the flags' words are appended in the 32-bit layout
            rz, re_ = pair(lambda: _text(rz, len(idx)).cast(pa.string()), lambda: _text(re_, len(idx)).cast(pa.string()))
        for f, o in flag_outs:
            sub = np.flatnonzero(o.mask[idx])
            if len(sub):
                fz, fe = o.why(idx[sub])
                # the flag's words for its rows (empty elsewhere) appended in one pass over the units asked
                want_zh, want_en = wanted()
                if want_zh:
                    rz = cat(rz, assemble(len(idx), [(sub, cat(f"；{f.zh}：", fz))]))
                if want_en:
                    re_ = cat(re_, assemble(len(idx), [(sub, cat(f"; {f.en}: ", fe))]))
        return rz, re_

    verdicts = pd.DataFrame({
        "score": score,
        "grade": to_series(grade, units),
        "disposal": _plain(vocab(shown, [*ids, ""]), units),
        "disposal_zh": _plain(vocab(shown, [*(c.zh for c in rule_cats), ""]), units),
        "disposal_en": _plain(vocab(shown, [*(c.en for c in rule_cats), ""]), units),
        "in_scope": in_scope, "exempt": exempt, "low_efficiency": low & ~exempt, **flags,
        "reason_code": pd.Categorical.from_codes(case, categories=list(_CASES)),
        "rule": np.where(case == _CASES.index("rule"), disposal, -1).astype(np.int16),
        "exemption": exemption.astype(np.int16),
    }, index=units)
    if official is not None:
        verdicts.insert(2, "official_grade", to_series(take_text(grades["official_grade"].fillna(""), pos), units)
                        .replace("", pd.NA))
    verdicts.index.name = "eval_id"
    return Evaluation(grades=grades, verdicts=verdicts, year=ref, policy=policy.name, grade_text=grade_text,
                      verdict_text=reasons, unit_grade_text=grade_why, reference=reference)


def flag_parcels(
    parcels: pd.DataFrame,
    parcel_panel: pd.DataFrame,
    links: Any,
    verdicts: pd.DataFrame,
    policy: Policy,
    *,
    year: int | None = None,
) -> pd.DataFrame:
    """Mark low-efficiency land by the preset's ``[parcel_rule]`` (any enabled test flags the parcel).

    Parameters
    ----------
    parcels
        Prepared parcels (index ``parcel_id``): ``land_mu``, and ``plot_ratio`` or ``floor_area_m2``
        for the plot-ratio test.
    parcel_panel
        ``metrics.parcel_metrics`` output.
    links
        ``link.Links`` (``shares``, ``firm_links``, ``parcel_links``).
    verdicts
        ``Evaluation.verdicts``.
    policy
        The preset.
    year
        Year of the parcel tax test; default the latest year of ``parcel_panel``.

    Returns
    -------
    pandas.DataFrame
        Index as ``parcels``: ``low_efficiency`` (bool), ``low_eff_reason_zh``, ``low_eff_reason_en``.
    """
    rule = policy.parcel_rule
    idx = parcels.index
    n = len(idx)
    hits: list[np.ndarray] = []
    parts_zh: list[Text] = []
    parts_en: list[Text] = []

    def add(hit: np.ndarray, zh: Text, en: Text) -> None:
        hits.append(hit)
        # rows outside ``hit`` are marked null (no copy); ``join`` leaves null pieces out
        parts_zh.append(where(hit, zh, "") if isinstance(zh, str) else with_valid(zh, hit))
        parts_en.append(where(hit, en, "") if isinstance(en, str) else with_valid(en, hit))

    if rule.any_firm_flagged and len(links.shares):
        fl = links.firm_links
        sh = links.shares
        has_eval = "eval_id" in fl
        # integer codes of the text ids, so every lookup below is numpy indexing
        texts = [arrow_ids(sh["uscc"]), arrow_ids(fl.index), arrow_ids(verdicts.index)]
        if has_eval:
            texts.append(arrow_ids(fl["eval_id"]))
        ids, codes = first_codes(texts)
        sh_codes, fl_codes, v_codes = codes[:3]
        # firms the link stage never saw are their own unit
        unit_code = unit_of(fl_codes, codes[3] if has_eval else None, len(ids))
        low_of = np.zeros(len(ids), dtype=bool)
        low_of[v_codes] = verdicts["low_efficiency"].astype(bool).to_numpy(dtype=bool)
        _, (p_codes, idx_codes) = first_codes([arrow_ids(sh["parcel_id"]), arrow_ids(idx)])
        ok = (sh_codes >= 0) & (p_codes >= 0)
        unit = np.where(ok, unit_code[sh_codes], -1)
        low = ok & low_of[np.maximum(unit, 0)]
        # the low units in id order (only they are sorted, by the same kernel as a text sort)
        low_units = np.flatnonzero(low_of)
        low_units = low_units[pc.sort_indices(ids.take(pa.array(low_units))).to_numpy()]
        rank = np.zeros(len(ids), dtype=np.int64)
        rank[low_units] = np.arange(len(low_units))
        m = max(len(low_units), 1)
        n_p = max(int(p_codes.max(initial=-1)), int(idx_codes.max(initial=-1))) + 1
        pairs = np.unique(p_codes[low] * m + rank[unit[low]])  # distinct (parcel, low unit), sorted
        pair_parcel = pairs // m
        count_of = np.bincount(pair_parcel, minlength=n_p)
        first_of = np.full(n_p, -1)
        starts = np.flatnonzero(np.r_[True, pair_parcel[1:] != pair_parcel[:-1]]) if len(pairs) else []
        first_of[pair_parcel[starts]] = low_units[(pairs % m)[starts]]  # smallest unit id of the parcel
        first = np.where(idx_codes >= 0, first_of[np.maximum(idx_codes, 0)], -1)
        hit = first >= 0
        fl_pos = np.full(len(ids), -1)
        fl_pos[fl_codes] = np.arange(len(fl_codes))
        v_pos = np.full(len(ids), -1)
        v_pos[v_codes] = np.arange(len(v_codes))
        # the words are written for the flagged parcels only, then put in place with one take
        h = np.flatnonzero(hit)
        f = first[h]
        unit_text = ids.take(pa.array(f))
        name = _arrow_nulls(fl["name"]).take(_positions(fl_pos[f])) if "name" in fl \
            else pa.nulls(len(h), pa.string())
        who = pc.fill_null(pc.coalesce(name.cast(pa.string()), unit_text.cast(pa.string())), "")
        dz = take_text(verdicts["disposal_zh"], v_pos[f]).cast(pa.string())
        de = take_text(verdicts["disposal_en"], v_pos[f]).cast(pa.string())
        k = count_of[idx_codes[h]].astype(float)
        more_zh = where(k > 1, cat("等", fmt(k), "家"), "")
        more_en = where(k > 1, cat(" and ", fmt(k - 1), " more"), "")
        # never empty on flagged rows and empty elsewhere: ``join`` needs no null marks
        hits.append(hit)
        parts_zh.append(assemble(n, [(h, cat("地块上有低效企业", who, more_zh, "（", dz, "）"))]))
        parts_en.append(assemble(n, [(h, cat("low-efficiency firm ", who, more_en, " on the parcel (", de, ")"))]))
    if rule.tax_per_mu_below is not None and len(parcel_panel):
        yrs = parcel_panel.index.get_level_values(1)
        y = int(year if year is not None else yrs.max())
        sub = parcel_panel.loc[yrs == y, "tax_per_mu"]
        t = _lookup(sub.to_numpy(dtype=float, na_value=np.nan), sub.index.get_level_values(0), idx)
        t = np.round(t, PER_MU_DECIMALS)
        thr = rule.tax_per_mu_below
        with np.errstate(invalid="ignore"):
            hit = t < thr
        add(hit, cat(f"{y}年地块亩均税收", fmt(t), f"万元/亩，低于{fmt1(thr)}万元/亩"),
            cat(f"parcel tax per mu {y}: ", fmt(t), f" (10k yuan/mu), below {fmt1(thr)}"))
    if rule.idle:
        idle = links.parcel_links["idle"].reindex(idx).astype("boolean").fillna(False).to_numpy(bool)
        add(idle, "地块无企业使用（闲置）", "no firm uses the parcel (idle)")
    if rule.plot_ratio_below is not None:
        if "plot_ratio" in parcels:
            pr = pd.to_numeric(parcels["plot_ratio"], errors="coerce").to_numpy(float)
        elif "floor_area_m2" in parcels and "land_mu" in parcels:
            land_m2 = pd.to_numeric(parcels["land_mu"], errors="coerce").to_numpy(float) * M2_PER_MU
            floor = pd.to_numeric(parcels["floor_area_m2"], errors="coerce").to_numpy(float)
            pr = np.full(n, np.nan)
            np.divide(floor, land_m2, out=pr, where=land_m2 > 0)
        else:
            pr = np.full(n, np.nan)
        thr = rule.plot_ratio_below
        with np.errstate(invalid="ignore"):
            hit = np.round(pr, 2) < thr  # plot ratios are published to 2 decimals
        add(hit, cat("容积率", fmt(np.round(pr, 2)), f"，低于{fmt1(thr)}"),
            cat("plot ratio ", fmt(np.round(pr, 2)), f", below {fmt1(thr)}"))
    low = np.logical_or.reduce(hits) if hits else np.zeros(n, bool)
    rz = join(parts_zh, "；", n=n) if hits else ""
    re_ = join(parts_en, "; ", n=n) if hits else ""
    return pd.DataFrame({"low_efficiency": low, "low_eff_reason_zh": to_series(rz, idx),
                         "low_eff_reason_en": to_series(re_, idx)}, index=idx)

"""Tests of the shortcuts that keep ``evaluate`` fast at a million units: each one gives what the plain
computation gives (hand-computed cases, and property tests against the straightforward way)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import InputError
from gisefficiency.core.text import assemble, cat, few_days, fmt, join, labels, take_text, vocab
from gisefficiency.evaluate.conditions import evaluate_condition, resolve_date
from gisefficiency.evaluate.contexts import PanelContext, UnitContext, _by_unit_year, _unit_codes, years_of
from gisefficiency.evaluate.policy import load_preset
from gisefficiency.evaluate.ranking import at_years, by_year, tails_text
from gisefficiency.evaluate.ranking import tail_pairs as _tail_pairs
from gisefficiency.evaluate.rules import Grade
from gisefficiency.evaluate.verdicts import _reference_year


def _arr(xs: list[str]) -> pa.Array:
    return pa.array(xs, pa.string())


def test_assemble_puts_constants_and_arrays_in_row_order() -> None:
    out = assemble(5, [(np.array([3, 0]), "c"), (np.array([1, 4]), _arr(["x", "y"]))])
    assert out.to_pylist() == ["c", "x", "", "c", "y"]  # row 2 is covered by no piece: empty
    assert out.type == pa.string()


def test_assemble_refuses_pieces_that_share_rows() -> None:
    with pytest.raises(ValueError, match="share rows"):
        assemble(3, [(np.array([0, 1]), "a"), (np.array([1]), _arr(["b"]))])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-1, 3), min_size=0, max_size=40), st.booleans())
def test_assemble_matches_a_row_by_row_build(owner: list[int], constants: bool) -> None:
    n = len(owner)
    own = np.array(owner, dtype=np.int64)
    segments = []
    expected = [""] * n
    for j in range(4):
        pos = np.flatnonzero(own == j)
        if constants and j % 2 == 0:
            segments.append((pos, f"k{j}"))
            for p in pos:
                expected[p] = f"k{j}"
        else:
            texts = [f"r{j}-{p}" for p in pos]
            segments.append((pos, _arr(texts)))
            for p, t in zip(pos, texts, strict=True):
                expected[p] = t
    assert assemble(n, segments).to_pylist() == expected


def test_join_puts_head_and_tail_on_the_end_pieces() -> None:
    parts = [_arr(["a", "b"]), _arr(["", "c"])]
    assert join(parts, "、", n=2, head="<", tail=">").to_pylist() == ["<a>", "<b、c>"]
    assert join([_arr(["", "x"]), _arr(["y", ""])], ";", n=2, head="H:").to_pylist() == ["H:y", "H:x"]
    assert join(["", ""], ";", n=2, head="H", tail="T") == "HT"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["", "a", "b", "ab"]), min_size=3, max_size=3), min_size=1, max_size=12),
       st.booleans(), st.sampled_from(["", "H:"]), st.sampled_from(["", "!"]))
def test_join_with_head_and_tail_equals_cat_around_join(rows: list[list[str]], unique: bool, head: str,
                                                        tail: str) -> None:
    n = len(rows)
    parts = [_arr([r[i] for r in rows]) for i in range(3)]
    got = join(parts, ";", n=n, unique=unique, head=head, tail=tail)
    want = cat(head, join(parts, ";", n=n, unique=unique), tail)
    def as_list(t: str | pa.Array) -> list[str]:
        return [t] * n if isinstance(t, str) else t.to_pylist()

    assert as_list(got) == as_list(want)


def test_fmt_can_leave_missing_values_null() -> None:
    assert fmt(np.array([1.5, np.nan]), missing=None).to_pylist() == ["1.5", None]
    assert fmt(np.array([1.5, np.nan])).to_pylist() == ["1.5", "—"]


def test_vocab_and_labels_in_the_pandas_layout() -> None:
    assert vocab(np.array([1, 0]), ["a", "b"], large=True).type == pa.large_string()
    g = labels(np.array(["B", "", "N"], dtype="<U1"), ("A", "B", "C", "D", "N"))
    assert g.type == pa.large_string() and g.to_pylist() == ["B", "", "N"]


def test_few_days_with_one_threshold_needs_no_sort() -> None:
    codes, texts = few_days(np.array(["2021-12-31"] * 3, dtype="datetime64[ns]"))
    assert codes.tolist() == [0, 0, 0] and texts == ["2021-12-31"]


def test_resolve_date_per_row_year() -> None:
    got = resolve_date("{year-3}-01-01", np.array([2021, 2023, 2021]))
    assert got.tolist() == np.array(["2018-01-01", "2020-01-01", "2018-01-01"], dtype="datetime64[ns]").tolist()
    assert resolve_date("2021-12-31", np.array([2020, 2022])).astype(str).tolist() == ["2021-12-31T00:00:00.000000000"] * 2
    # only the years present are parsed: 29 February of a leap year, with a non-leap year in between unused
    leap = resolve_date("{year}-02-29", np.array([2020, 2024]))
    assert leap.tolist() == np.array(["2020-02-29", "2024-02-29"], dtype="datetime64[ns]").tolist()
    assert len(resolve_date("{year}-01-01", np.array([], dtype=np.int64))) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(2018, 2023), st.one_of(st.none(), st.floats(-50, 50)), st.booleans()),
                min_size=1, max_size=40))
def test_by_year_and_at_years_match_pandas(rows: list[tuple[int, float | None, bool]]) -> None:
    years = np.array([r[0] for r in rows], dtype=np.int64)
    values = np.array([np.nan if r[1] is None else r[1] for r in rows])
    use = np.array([r[2] for r in rows])
    frame = pd.DataFrame({"y": years[use], "v": values[use]}).dropna()
    for how in ("mean", "sum"):
        got = by_year(values, years, use, how)
        want = frame.groupby("y")["v"].agg(how)
        assert got.dropna().index.tolist() == want.index.tolist()
        np.testing.assert_allclose(got.dropna().to_numpy(), want.to_numpy(), rtol=1e-12)
        back = at_years(got, years + 1)  # a year after the last has no value
        expected = np.array([got.get(y + 1, np.nan) for y in years])
        np.testing.assert_array_equal(back, expected)


def test_at_years_hand_computed() -> None:
    stat = pd.Series([1.0, 2.0], index=[2020, 2021])
    assert at_years(stat, np.array([2019, 2020, 2021, 2022])).tolist()[1:3] == [1.0, 2.0]
    assert np.isnan(at_years(stat, np.array([2019, 2022]))).all()
    assert len(at_years(pd.Series([], dtype=float), np.array([2020]))) == 1


def test_unit_codes_and_order_match_factorize_and_lexsort() -> None:
    ids = ["b", "a", "c", "a", "b"]
    years = np.array([2021, 2021, 2020, 2020, 2020])
    index = pd.MultiIndex.from_arrays([pd.Index(ids, dtype="string"), years], names=["eval_id", "year"])
    codes, units = _unit_codes(index)
    want_codes, want_units = pd.factorize(index.get_level_values(0), sort=True)
    assert codes.tolist() == want_codes.tolist() and units.tolist() == list(want_units)
    assert units.name == "eval_id"
    assert _by_unit_year(codes, years).tolist() == np.lexsort((years, codes)).tolist()
    # unused and unsorted levels
    sub = index[[0, 2]]
    codes, units = _unit_codes(sub)
    assert units.tolist() == ["b", "c"] and codes.tolist() == [0, 1]
    unsorted = pd.MultiIndex(levels=[pd.Index(["z", "a"], dtype="string"), [2020]], codes=[[0, 1], [0, 0]])
    codes, units = _unit_codes(unsorted)
    assert units.tolist() == ["a", "z"] and codes.tolist() == [1, 0]


def test_unit_context_units_are_the_sorted_ids() -> None:
    index = pd.MultiIndex.from_arrays([pd.Index(["u2", "u1", "u1"], dtype="string"), [2021, 2021, 2020]],
                                      names=["eval_id", "year"])
    ctx = UnitContext(pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=index), 2021)
    assert ctx.units.tolist() == ["u1", "u2"] and ctx.n == 2
    assert ctx.values("x", 0).tolist() == [2.0, 1.0] and ctx.values("x", 1).tolist()[0] == 3.0


def test_tails_equal_the_two_lookups() -> None:
    at = np.array([0, 1, 2, 0])
    both = np.array([3, 0, 1, 3])
    words_zh, words_en = ["/5名（前", "/9名（前", ""], [" of 5 (top ", " of 9 (top ", ""]
    pct_zh, pct_en = ["10%），A类", "20%），B类", "30%），C类", "40%），D类"], ["10%): A", "20%): B", "30%): C", "40%): D"]
    pairs = _tail_pairs(at, both, len(words_zh), len(pct_zh))
    zh = tails_text(at, both, words_zh, pct_zh, pairs)
    en = tails_text(at, both, words_en, pct_en, pairs)
    assert len(zh) == 1 and len(en) == 1
    assert zh[0].to_pylist() == ["/5名（前40%），D类", "/9名（前10%），A类", "20%），B类", "/5名（前40%），D类"]
    assert en[0].to_pylist() == [words_en[a] + pct_en[b] for a, b in zip(at, both, strict=True)]
    two = tails_text(at, both, words_en, pct_en, None)  # too many pairs: the two lookups themselves
    assert [a + b for a, b in zip(two[0].to_pylist(), two[1].to_pylist(), strict=True)] == en[0].to_pylist()


def test_take_text_takes_rows_and_fills_the_absent() -> None:
    s = pd.Series(["x", None, "z"], dtype="string")
    out = take_text(s, np.array([2, -1, 1, 0]), absent="none")
    assert out.to_pylist() == ["z", "none", "", "x"]  # a missing text reads as ''


def test_years_and_reference_year_read_the_level_codes() -> None:
    full = pd.MultiIndex.from_arrays([pd.Index(["a", "b", "a"], dtype="string"), [2021, 2022, 2023]])
    sub = full[:2]  # 2023 stays in the level, unused
    assert years_of(sub).tolist() == [2021, 2022]
    assert years_of(pd.Index([("a", 2020)])).tolist() == [2020]
    policy = load_preset("suichang-2022")
    panel = pd.DataFrame({"x": [1.0, 2.0]}, index=sub)
    assert _reference_year(panel, policy, 2022).year == 2022
    with pytest.raises(InputError, match="no data for the reference year 2023"):
        _reference_year(panel, policy, 2023)
    # the preset's 2021 is in the level's codes: it is the reference year without being asked
    assert _reference_year(panel, policy, None).year == 2021


def test_context_text_reads_columns_in_arrow() -> None:
    index = pd.MultiIndex.from_arrays([pd.Index(["u1", "u1", "u2"], dtype="string"), [2020, 2021, 2021]],
                                      names=["eval_id", "year"])
    frame = pd.DataFrame({"grade": pd.array(["C", "B", None], dtype="string")}, index=index)
    unit = UnitContext(frame, 2021)
    assert unit.text("grade", 0).to_pylist() == ["B", ""]
    assert unit.text("grade", 1).to_pylist() == ["C", ""]
    assert unit.text("nothing", 0).to_pylist() == ["", ""]
    panel = PanelContext(frame)
    assert panel.text("grade", 0).to_pylist() == ["C", "B", ""]
    assert panel.text("grade", 1).to_pylist() == ["", "C", ""]  # the same unit one year earlier
    assert panel.text("grade", 1).to_pylist() == list(panel.values("grade", 1, numeric=False))


def test_grade_condition_reads_the_first_letter() -> None:
    index = pd.MultiIndex.from_arrays([pd.Index(["u1", "u2", "u3", "u4"], dtype="string"), [2021] * 4],
                                      names=["eval_id", "year"])
    frame = pd.DataFrame({"grade": pd.array(["D", "Dx", None, "Q"], dtype="string")}, index=index)
    out = evaluate_condition(Grade(grades=("D",), years=1), UnitContext(frame, 2021))
    assert out.mask.tolist() == [True, True, False, False]  # 'Dx' reads as D, as a one-letter class does
    zh, _ = out.why(np.arange(4))
    assert zh.to_pylist() == ["2021年评价为D类", "2021年评价为D类", "2021年无评价结果", "2021年评价为类"]

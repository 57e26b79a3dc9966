"""Tests of the reason-text helpers behind ``evaluate`` (``_text``) and the integer ranking of ``scoring``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.text import (
    cat,
    empty,
    few_days,
    fmt,
    glue,
    ints,
    join,
    labels,
    select,
    vocab,
    where,
    with_valid,
)
from gisefficiency.evaluate.conditions import pick2, pick_segments
from gisefficiency.evaluate.ranking import combos as _combos
from gisefficiency.evaluate.ranking import ranks as _ranks


def _arr(xs: list[str]) -> pa.Array:
    return pa.array(xs, pa.string())


def test_vocab_and_constant_pieces() -> None:
    assert vocab(np.array([1, 0, 1]), ["a", "b"]).to_pylist() == ["b", "a", "b"]
    assert where(np.array([True, False]), "x", "y").to_pylist() == ["x", "y"]
    assert select([np.array([True, False, False]), np.array([True, True, False])], ["p", "q"], "r").to_pylist() \
        == ["p", "q", "r"]
    assert cat("a", "", "b") == "ab"  # constants merge without a kernel call
    assert cat("年", _arr(["1", "2"]), "份").to_pylist() == ["年1份", "年2份"]


def test_ints_small_and_single_value() -> None:
    assert ints(np.array([2021, 2021])) == "2021"
    assert ints(np.array([2020, 2022])).to_pylist() == ["2020", "2022"]


def test_join_skips_empty_and_repeated_pieces() -> None:
    a, b, c = _arr(["x", "", "y", ""]), _arr(["", "", "z", "w"]), _arr(["x", "", "y", "w"])
    assert join([a, b, c], "；", n=4).to_pylist() == ["x；x", "", "y；z；y", "w；w"]
    assert join([a, b, c], "；", n=4, unique=True).to_pylist() == ["x", "", "y；z", "w"]
    assert join(["", a], "、", n=4) is a


def test_join_of_large_string_pieces() -> None:
    # pandas 3 text goes to Arrow as large_string (64-bit offsets); join must not misread it.
    a = pa.array(["ab", "", "cd"], pa.large_string())
    assert join([a, _arr(["x", "y", ""])], ";", n=3).to_pylist() == ["ab;x", "y", "cd"]


def test_with_valid_on_a_slice_shares_the_data() -> None:
    t = _arr(["aa", "bb", "cc", "dd"]).slice(1, 3)
    out = with_valid(t, np.array([True, False, True]))
    assert out.to_pylist() == ["bb", None, "dd"]
    assert pc.binary_join_element_wise(_arr(["<", "<", "<"]), out, ">", "", null_handling="skip").to_pylist() \
        == ["<bb>", "<>", "<dd>"]


def test_join_treats_null_pieces_as_empty() -> None:
    a = with_valid(_arr(["x", "y", "z"]), np.array([True, False, True]))
    assert empty(a, 3).tolist() == [False, True, False]
    assert join([a], "；", n=3).to_pylist() == ["x", "", "z"]  # one piece: nulls come back as ''
    assert join([a, _arr(["p", "", ""])], "；", n=3).to_pylist() == ["x；p", "", "z"]


def test_labels_of_one_letter_codes_match_the_general_path() -> None:
    v = np.array(["A", "N", "", "B", "Z", "D", "E"], dtype="<U1")
    names = ("A", "B", "C", "D", "N")
    assert labels(v, names).to_pylist() == ["A", "N", "", "B", "", "D", ""]
    assert labels(v.astype(object), names).to_pylist() == labels(v, names).to_pylist()
    assert labels(v, ("A", "N"), ("甲", "无")).to_pylist() == ["甲", "无", "", "", "", "", ""]


def test_glue_leaves_out_invalid_pieces() -> None:
    out = glue(_arr(["a", "b"]), (_arr(["1", "2"]), np.array([True, False])), _arr(["!", "?"]))
    assert out.to_pylist() == ["a1!", "b?"]
    assert glue(_arr(["a"])).to_pylist() == ["a"]


def test_few_days_codes_and_texts() -> None:
    d = np.array(["2021-12-31", "2020-01-01", "2021-12-31"], dtype="datetime64[ns]")
    codes, texts = few_days(d)
    assert codes.tolist() == [1, 0, 1]
    assert texts == ["2020-01-01", "2021-12-31"]


def test_pick_segments_and_pick2_put_each_row_in_place() -> None:
    idx = np.array([10, 11, 12, 13])
    choice = np.array([1, 0, -1, 1])
    producers = [lambda rows, p=p: (_arr([f"{p}{r}" for r in rows]), _arr([f"{p.upper()}{r}" for r in rows]))
                 for p in "ab"]
    zh, _ = pick_segments(idx, choice, producers)
    assert [(pos.tolist(), t.to_pylist()) for pos, t in zh] == [([1], ["a11"]), ([0, 3], ["b10", "b13"])]
    assert [t.to_pylist() for t in pick2(idx, choice, producers)] == [["b10", "a11", "", "b13"],
                                                                        ["B10", "A11", "", "B13"]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(-10**9, 10**9).map(float),
                          st.floats(-1e12, 1e12), st.just(np.nan)), min_size=1, max_size=30))
def test_fmt_whole_numbers_print_as_float_cast(values: list[float]) -> None:
    v = np.array(values)
    r = np.round(v, 4) + 0.0
    expected = pc.fill_null(pc.cast(pa.array(r, from_pandas=True), pa.string()), "—").to_pylist()
    assert fmt(v).to_pylist() == expected


def test_ranks_hand_computed() -> None:
    score = np.array([5.0, 7.0, 7.0, 1.0, 3.0])
    group = np.array([0, 0, 0, 0, 1])
    rank, size, number = _ranks(score, group)
    assert rank.tolist() == [3.0, 1.0, 1.0, 4.0, 1.0]
    assert size.tolist() == [4.0, 4.0, 4.0, 4.0, 1.0]
    assert number.tolist() == [0, 0, 0, 0, 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-5, 5)), min_size=1, max_size=60))
def test_ranks_match_pandas_min_rank(rows: list[tuple[int, int]]) -> None:
    group = np.array([g for g, _ in rows])
    score = np.array([s / 2 for _, s in rows], dtype=float)
    rank, size, _ = _ranks(score, group)
    by = pd.DataFrame({"s": score, "g": group}).groupby("g")["s"]
    assert rank.tolist() == by.rank(method="min", ascending=False).tolist()
    assert size.tolist() == by.transform("size").astype(float).tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=35, max_size=35), min_size=1, max_size=20))
def test_combos_number_each_distinct_combination(rows: list[list[bool]]) -> None:
    bits = [np.array([r[i] for r in rows]) for i in range(35)]  # more than 30 bits: renumbered on the way
    code, first = _combos(bits, len(rows))
    keys = [tuple(r) for r in rows]
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (code[i] == code[j]) == (keys[i] == keys[j])
    assert [keys[f] for f in first] == [keys[np.flatnonzero(code == c)[0]] for c in range(len(first))]

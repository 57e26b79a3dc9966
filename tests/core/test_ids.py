"""Integer codes of text ids (gisefficiency.core.ids): the fast fixed-width path equals the text path."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core import ids


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two code arrays group the same rows together (codes may be numbered differently)."""
    return len({*zip(a.tolist(), b.tolist(), strict=True)}) == len(set(a.tolist())) == len(set(b.tolist()))


def test_encode_codes_follow_sorted_ids():
    (a, b), uniques = ids.encode(pa.array(["P3", "P1", None]), pa.array(["P1", "P2"]))
    assert uniques.to_pylist() == ["P1", "P2", "P3"]
    assert a.tolist() == [2, 0, -1] and b.tolist() == [0, 1]


def test_positions_first_match_and_absent():
    keys = pa.array(["P2", "P1", "P2", "P3"])
    assert ids.positions(pa.array(["P2", "P9", "P3", "P1"]), keys).tolist() == [0, -1, 3, 1]
    assert ids.positions(pa.array(["P2", None]), keys).tolist() == [0, -1]  # missing ids match nothing
    assert ids.positions(pa.array(["P22"]), keys).tolist() == [-1]  # other widths never match


def test_fixed_width_codes_first_appearance():
    codes, first = ids.fixed_width_codes([pa.array(["B1", "A1"]), pa.array(["A1", "C1", "B1"])])
    assert codes.tolist() == [0, 1, 1, 2, 0] and first.tolist() == [0, 1, 3]


def test_fixed_width_codes_detects_a_hash_collision(monkeypatch):
    parts = [pa.array(["A1234567890", "B1234567890", "A1234567890"], pa.large_string())]
    assert ids.fixed_width_codes(parts)[0].tolist() == [0, 1, 0]
    # Every id hashed alike: the byte check must reject the codes, and positions must fall back to text.
    monkeypatch.setattr(ids, "hash64", lambda view: np.zeros(len(view), dtype=np.uint64))
    assert ids.fixed_width_codes(parts) is None
    assert ids.positions(pa.array(["B1234567890"]), parts[0]).tolist() == [1]


def test_fixed_width_codes_declines_mixed_widths_and_nulls():
    assert ids.fixed_width_codes([pa.array(["ab", "abc"], pa.large_string())]) is None
    assert ids.fixed_width_codes([pa.array(["ab", None], pa.large_string())]) is None
    assert ids.fixed_width_codes([pa.array(["ab"]), pa.array(["abc"])]) is None
    sliced = pa.array(["xx", "ab", "cd", "ab"], pa.large_string()).slice(1)
    codes, first = ids.fixed_width_codes([sliced])
    assert codes.tolist() == [0, 1, 0] and first.tolist() == [0, 1]


def test_trailing_nul_bytes_are_not_equal():
    # numpy's S comparison ignores trailing NUL bytes; ids must not.
    codes, _ = ids.fixed_width_codes([pa.array(["ab\x00", "ab\x00", "abc"])])
    assert codes.tolist() == [0, 0, 1]
    assert ids.positions(pa.array(["ab\x00"]), pa.array(["abc", "ab\x00"])).tolist() == [1]


@settings(max_examples=60, deadline=None)
@given(
    width=st.sampled_from([1, 8, 9, 16, 18]),
    picks=st.lists(st.lists(st.integers(0, 5), max_size=15), min_size=1, max_size=3),
)
def test_fixed_width_codes_group_equal_ids(width, picks):
    # Ids of one width that differ in the first, a middle or the last byte.
    pool = ["a" * width, "b" + "a" * (width - 1), "a" * (width - 1) + "z", ("a" * (width // 2) + "q").ljust(width, "a"),
            "9" * width, "Z" * width]
    pool = [p[:width] for p in pool]
    arrays = [pa.array([pool[i] for i in p], pa.large_string()) for p in picks]
    if not any(len(a) for a in arrays):
        return
    fast = ids.fixed_width_codes(arrays)
    assert fast is not None
    expected = pa.concat_arrays(arrays).dictionary_encode().indices.to_numpy(zero_copy_only=False)
    assert _same_partition(fast[0], expected.astype(np.int64))


@settings(max_examples=80, deadline=None)
@given(keys=st.lists(st.text(alphabet="ab地9", min_size=1, max_size=4), max_size=12),
       values=st.lists(st.text(alphabet="ab地9", min_size=1, max_size=4), max_size=12))
def test_positions_equal_index_in(keys, values):
    k, v = pa.array(keys, pa.large_string()), pa.array(values, pa.large_string())
    expected = pc.fill_null(pc.index_in(v, value_set=k), -1).to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(ids.positions(v, k), expected)


def test_every_id_missing_codes_minus_one():
    (codes,), uniques = ids.encode(pa.array([None, None], pa.large_string()))
    assert codes.tolist() == [-1, -1] and len(uniques) == 0


def test_a_missing_id_never_matches_a_missing_key():
    assert ids.positions(pa.array(["a", None]), pa.array([None, "a"])).tolist() == [1, -1]


def test_first_codes_number_equal_ids_alike_across_arrays():
    ids_, (a, b) = ids.first_codes([pa.array(["x", None, "y"], pa.large_string()), pa.array(["y", "z"], pa.large_string())])
    assert a.tolist() == [0, -1, 1] and b.tolist() == [1, 2]
    assert ids_.to_pylist() == ["x", "y", "z"]

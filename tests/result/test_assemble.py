"""Joining stage outputs into the per-parcel and per-firm tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.result import rows as keys
from gisefficiency.result.assemble import _firm_geometry, _grouped_union, _main_shares, add_columns


def test_joined_text_keeps_row_order_within_a_group_and_skips_missing():
    groups = np.array([1, 0, 1, 2, 1, -1])
    names = pd.Series(["甲厂", "乙厂", None, "丙厂", "丁厂", "戊厂"], dtype="str")
    out = keys.joined_text(groups, 4, names, "、")
    assert out[:3].tolist() == ["乙厂", "甲厂、丁厂", "丙厂"]
    assert out.dtype == object and isinstance(out[3], float) and np.isnan(out[3])  # group 3: nothing


def test_joined_text_of_nothing_is_all_missing():
    out = keys.joined_text(np.zeros(0, dtype=np.int64), 2, pa.array([], pa.large_string()), ",")
    assert len(out) == 2 and pd.isna(out).all()


def test_add_columns_replaces_and_aligns_on_the_index():
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=pd.Index(["x", "y"], dtype="str"))
    extra = pd.DataFrame({"b": [40], "c": [50]}, index=pd.Index(["y"], dtype="str"))
    out = add_columns(frame, extra)
    assert list(out.columns) == ["a", "b", "c"]
    assert out.loc["y", "b"] == 40 and np.isnan(out.loc["x", "b"]) and out.loc["y", "c"] == 50
    assert frame["b"].tolist() == [3, 4]  # input untouched
    out.loc["x", "a"] = 99
    assert frame.loc["x", "a"] == 1  # shared data are copied on write
    aligned = pd.DataFrame({"c": [7, 8]}, index=frame.index)
    joined = add_columns(frame, aligned)
    joined.loc["x", "c"] = 70
    assert aligned["c"].tolist() == [7, 8]  # an aligned extra column is shared, then copied on write


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.sampled_from(["p1", "p2", "p3", "p4", "p5"]), min_size=0, max_size=5, unique=True),
    extra_ids=st.lists(st.sampled_from(["p1", "p2", "p3", "p6"]), min_size=0, max_size=4, unique=True),
)
def test_add_columns_equals_reindex_and_join(ids, extra_ids):
    frame = pd.DataFrame({"a": np.arange(len(ids)), "s": pd.array(ids, dtype="str")},
                         index=pd.Index(ids, dtype="str", name="parcel_id"))
    n = len(extra_ids)
    extra = pd.DataFrame(
        {"s": pd.array([f"v{i}" for i in range(n)], dtype="string"), "n": np.arange(n, dtype=np.int64),
         "flag": np.ones(n, dtype=bool), "x": np.linspace(0, 1, n)},
        index=pd.Index(extra_ids, dtype="str"),
    )
    expected = frame.drop(columns=["s"]).join(extra.reindex(frame.index))
    pd.testing.assert_frame_equal(add_columns(frame, extra), expected)


def test_codes_and_lookup_first_match_and_missing():
    (a, b), n = keys.codes(pd.Index(["x", "y", "x"], dtype="str"), pd.Series(["y", None, "z", "x"], dtype="str"))
    assert n == 3 and a[0] == a[2] and b[1] == -1
    assert keys.lookup(b, a, n).tolist() == [1, -1, -1, 0]
    assert keys.via(np.array([2, -1, 0]), np.array([10, 11, 12])).tolist() == [12, -1, 10]


def test_year_rows_match_xs():
    index = pd.MultiIndex.from_arrays([["b", "a", "a", "c"], [2021, 2020, 2021, 2020]], names=["parcel_id", "year"])
    panel = pd.DataFrame({"tax": [1.0, 2.0, 3.0, 4.0]}, index=index)
    ids, rows = keys.year_rows(panel, 2021)
    got = dict(zip(ids, rows, strict=True))
    assert got == {"a": 2, "b": 0, "c": -1}
    _, none = keys.year_rows(panel, 1999)
    assert (none == -1).all()


def test_main_share_is_the_largest_then_the_owner_then_the_first_row():
    shares = pd.DataFrame({
        "kind": pd.array(["leased", "own", "leased", "own", "own", "leased", "leased", "own"], dtype="str"),
        "land_mu": [2.0, 2.0, 5.0, np.nan, 1.0, 1.0, 0.5, 3.0],
    })
    parcel = np.array([0, 0, 1, 1, 2, 2, 3, -1])
    # parcel 0: tie on land, the owner wins; parcel 1: missing land sorts last; parcel 2: owner first row;
    # parcel 3: its only share; parcel 4: none (the last share is on no known parcel).
    assert _main_shares(shares, parcel, 5).tolist() == [1, 2, 4, 6, -1]


def test_grouped_union_merges_only_multi_parcel_firms():
    squares = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)], dtype=object)
    out = _grouped_union(np.array([0, 0, 1]), 2, squares)
    assert out[0].area == 2.0 and out[0].geom_type == "Polygon"
    assert out[1] is squares[2]


def test_firm_geometry_single_parcels_kept_as_they_are_and_none_without_land():
    parcels = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)], dtype=object)
    firm_of_share = np.array([0, 2, 0, -1])
    parcel_of_share = np.array([0, 2, 1, 0])
    out = _firm_geometry(firm_of_share, 3, parcels, parcel_of_share)
    assert out[0].area == 2.0 and out[1] is None and out[2] is parcels[2]


def test_mark_scenario_marks_the_first_scenarios_parcels_without_touching_the_input():
    import geopandas as gpd

    from gisefficiency.result.assemble import mark_scenario

    class _Scenario:
        parcels = ("p2", "p9")

    parcels = gpd.GeoDataFrame(
        {"land_mu": [1.0, 2.0, 3.0]},
        geometry=[shapely.box(0, 0, 1, 1)] * 3,
        index=pd.Index(["p1", "p2", "p3"], dtype="str", name="parcel_id"),
        crs=3857,
    )
    out = mark_scenario(parcels, [_Scenario()])
    assert out["in_scenario"].tolist() == [False, True, False] and out["in_scenario"].dtype == bool
    assert list(out.columns) == ["land_mu", "geometry", "in_scenario"] and out.crs == parcels.crs
    assert "in_scenario" not in parcels
    assert not mark_scenario(parcels, [])["in_scenario"].any()
    out.loc["p1", "land_mu"] = 9.0
    assert parcels.loc["p1", "land_mu"] == 1.0


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two code arrays group the same rows together (codes may be numbered differently)."""
    return len({*zip(a.tolist(), b.tolist(), strict=True)}) == len(set(a.tolist())) == len(set(b.tolist()))


@settings(max_examples=80, deadline=None)
@given(
    parts=st.lists(
        st.lists(st.text(alphabet="ab地9", min_size=0, max_size=11), max_size=12), min_size=1, max_size=3
    )
)
def test_codes_group_equal_ids_like_dictionary_encode(parts):
    arrays = [pa.array(p, pa.large_string()) for p in parts]
    coded, n = keys.codes(*arrays)
    flat = np.concatenate(coded) if coded else np.zeros(0, np.int64)
    expected = pa.concat_arrays(arrays).dictionary_encode().indices.to_numpy(zero_copy_only=False)
    assert _same_partition(flat, expected.astype(np.int64))
    assert n >= len(set(flat.tolist()))


@settings(max_examples=80, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from([np.nan, 0.0, -0.0, 1.0, 2.5, 7.0])), max_size=12
    )
)
def test_largest_shares_agree_with_pandas_sort_and_drop_duplicates(data):
    from gisefficiency.result.assemble import _largest_shares

    groups = np.array([g for g, _ in data], dtype=np.int64)
    land = np.array([x for _, x in data], dtype=float)
    got = _largest_shares(land, groups, 4)
    if got is None:  # a tie: the caller falls back to pandas' own sort
        top = pd.Series(land).groupby(groups).transform("max")
        assert ((land == top) & ~np.isnan(land)).sum() > pd.Series(groups[~np.isnan(land)]).nunique()
        return
    kept = pd.DataFrame({"g": groups, "land": land}).sort_values("land", ascending=False).drop_duplicates("g")
    expected = np.full(4, -1)
    expected[kept["g"].to_numpy()] = kept.index.to_numpy()
    assert got.tolist() == expected.tolist()


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(["F1", "F2", "F3", "F9"]), st.integers(2019, 2022)), max_size=14),
    ref=st.integers(2019, 2022),
)
def test_latest_rows_agree_with_pandas_sort_and_drop_duplicates(rows, ref):
    from gisefficiency.core.ids import arrow_ids, positions
    from gisefficiency.result.assemble import _latest_rows

    firms = pd.DataFrame({"uscc": pd.array([u for u, _ in rows], dtype="str"),
                          "year": np.array([y for _, y in rows], dtype=np.int64)})
    firm_ids = pd.Index(["F3", "F1", "F2", "F4"], dtype="str")
    years = firms["year"].to_numpy()
    top = years.max() if len(years) else ref
    picked = np.flatnonzero((years == top) | (years == ref))
    firm_of_row = positions(firms["uscc"].iloc[picked], firm_ids)
    got = _latest_rows(firms["year"], picked, firm_of_row, top, arrow_ids(firms["uscc"]), firm_ids)
    order = firms.sort_values("year")
    last = order[~order.duplicated("uscc", keep="last")]
    expected = [int(last.index[last["uscc"] == f][0]) if f in set(last["uscc"]) else -1 for f in firm_ids]
    assert got.tolist() == expected

"""Per-mu metrics of units and parcels: hand-computed values, missing stays missing, sums conserved."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from _evaluate_fixtures import firm_rows, frame, make_links
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import InputError
from gisefficiency.core.grouped import (
    apportioned_sums,
    group_sum,
    needs_kahan,
    plain_sum,
    sorted_rank,
    take_rows,
)
from gisefficiency.core.ids import encode, fixed_width, positions, run_heads
from gisefficiency.metrics.indicators import METRICS, emission_tonnes, parcel_metrics, unit_metrics

FULL = {"tax": 30.0, "value_added": 100.0, "revenue": 500.0, "energy_tce": 50.0, "electricity": 20.0,
        "cod_t": 1.0, "nh3n_t": 0.5, "so2_t": 2.0, "nox_t": 1.5, "rd": 10.0, "staff": 20.0}


def test_every_metric_hand_computed():
    firms = frame(firm_rows("F1", {2021: FULL}, scale="above", name="甲厂"))
    links = make_links([("F1", "P1", "own", 10.0)], ["F1"])
    row = unit_metrics(firms, links).loc[("F1", 2021)]
    assert row["land_mu"] == 10.0
    assert row["emission_t"] == pytest.approx(5.0)  # raw tonnes 1 + 0.5 + 2 + 1.5
    expected = {"tax_per_mu": 3.0, "va_per_mu": 10.0, "revenue_per_mu": 50.0, "va_per_tce": 2.0,
                "va_per_emission_t": 20.0, "va_per_staff": 5.0, "rd_share": 0.02, "tax_per_elec": 1.5,
                "revenue_per_elec": 25.0}
    assert set(expected) == set(METRICS)
    for name, value in expected.items():
        assert row[name] == pytest.approx(value), name
    assert row["group"] == "above" and row["name"] == "甲厂" and row["n_firms"] == 1


def test_division_by_zero_and_missing_give_nan_never_inf_or_zero():
    vals = {**FULL, "staff": 0.0, "energy_tce": np.nan, "electricity": -1.0, "revenue": np.nan}
    firms = frame(firm_rows("F1", {2021: vals}) + firm_rows("F2", {2021: {"tax": 5.0}}))
    links = make_links([("F1", "P1", "own", 10.0)], ["F1", "F2"])  # F2 unlinked: no land
    panel = unit_metrics(firms, links)
    f1, f2 = panel.loc[("F1", 2021)], panel.loc[("F2", 2021)]
    for name in ("va_per_staff", "va_per_tce", "tax_per_elec", "revenue_per_mu", "rd_share"):
        assert np.isnan(f1[name]), name
    assert np.isnan(f2["land_mu"]) and np.isnan(f2["tax_per_mu"])
    assert np.isnan(f2["value_added"])  # a column absent for the firm stays missing, not 0
    assert np.isfinite(panel.select_dtypes("number").to_numpy(float)[~np.isnan(
        panel.select_dtypes("number").to_numpy(float))]).all()


def test_merged_unit_sums_members_with_min_count_and_takes_holder_attributes():
    rows = (firm_rows("H", {2020: {"tax": 10.0}, 2021: {"tax": 12.0, "value_added": np.nan}},
                      scale="above", name="业主", industry="3311")
            + firm_rows("T", {2020: {"tax": 2.0}, 2021: {"tax": np.nan}}, scale="below", name="租户"))
    firms = frame(rows)
    links = make_links([("H", "P1", "own", 10.0), ("T", "P1", "leased", 0.0)], ["H", "T"], eval_ids={"T": "H"})
    panel = unit_metrics(firms, links)
    assert list(panel.index) == [("H", 2020), ("H", 2021)]
    assert panel.loc[("H", 2020), "tax"] == 12.0
    assert panel.loc[("H", 2021), "tax"] == 12.0  # the tenant's missing tax adds nothing
    assert np.isnan(panel.loc[("H", 2021), "value_added"])  # all members missing: stays missing
    assert panel.loc[("H", 2020), "tax_per_mu"] == pytest.approx(1.2)
    assert panel.loc[("H", 2021), "n_firms"] == 2
    assert panel.loc[("H", 2020), "scale"] == "above" and panel.loc[("H", 2020), "name"] == "业主"


def test_firm_on_two_parcels_counts_both_and_tenant_group():
    firms = frame(firm_rows("F", {2021: {"tax": 30.0}}, scale="below")
                  + firm_rows("T", {2021: {"tax": 4.0}}, scale="below"))
    links = make_links([("F", "P1", "own", 6.0), ("F", "P2", "own", 4.0), ("T", "P2", "leased", 2.0)],
                       ["F", "T"], tenants=("T",))
    panel = unit_metrics(firms, links)
    assert panel.loc[("F", 2021), "land_mu"] == 10.0
    assert panel.loc[("F", 2021), "tax_per_mu"] == 3.0
    assert panel.loc[("T", 2021), "group"] == "tenant"
    assert panel.loc[("T", 2021), "tax_per_mu"] == 2.0


def test_supply_date_is_earliest_own_parcel():
    firms = frame(firm_rows("F", {2021: {"tax": 1.0}}) + firm_rows("T", {2021: {"tax": 1.0}}))
    links = make_links([("F", "P1", "own", 5.0), ("F", "P2", "own", 5.0), ("T", "P3", "leased", 1.0),
                        ("F", "P3", "own", 4.0)], ["F", "T"])
    parcels = pd.DataFrame({"land_mu": [5.0, 5.0, 5.0],
                            "supply_date": pd.to_datetime(["2015-03-01", "2012-07-01", "2010-01-01"])},
                           index=pd.Index(["P1", "P2", "P3"], name="parcel_id"))
    panel = unit_metrics(firms, links, parcels=parcels)
    assert panel.loc[("F", 2021), "supply_date"] == pd.Timestamp("2010-01-01")
    assert panel.loc[("T", 2021), "supply_date"] == pd.Timestamp("2010-01-01")  # leased parcel as fallback
    plain = unit_metrics(firms, links)
    assert plain["supply_date"].isna().all()


def test_land_counts_from_the_year_it_was_supplied():
    # F holds P1 (10 mu, 2015) and P2 (5 mu, supplied 2020-06-01); N holds only P3 (4 mu, 2020-12-31)
    firms = frame(firm_rows("F", {2019: {"tax": 30.0}, 2020: {"tax": 45.0}})
                  + firm_rows("N", {2019: {"tax": 8.0}, 2020: {"tax": 8.0}}))
    links = make_links([("F", "P1", "own", 10.0), ("F", "P2", "own", 5.0), ("N", "P3", "own", 4.0)], ["F", "N"])
    parcels = pd.DataFrame({"land_mu": [10.0, 5.0, 4.0],
                            "supply_date": pd.to_datetime(["2015-03-01", "2020-06-01", "2020-12-31"])},
                           index=pd.Index(["P1", "P2", "P3"], name="parcel_id"))
    panel = unit_metrics(firms, links, parcels=parcels)
    assert panel.loc[("F", 2019), "land_mu"] == 10.0 and panel.loc[("F", 2019), "tax_per_mu"] == 3.0
    assert panel.loc[("F", 2020), "land_mu"] == 15.0 and panel.loc[("F", 2020), "tax_per_mu"] == 3.0
    # no land held in 2019: no per-mu figure (missing, never a figure over land it did not hold)
    assert np.isnan(panel.loc[("N", 2019), "land_mu"]) and np.isnan(panel.loc[("N", 2019), "tax_per_mu"])
    assert panel.loc[("N", 2020), "tax_per_mu"] == 2.0
    by_parcel = parcel_metrics(parcels, firms, links)
    assert np.isnan(by_parcel.loc[("P2", 2019), "tax_per_mu"])
    assert np.isnan(by_parcel.loc[("P3", 2019), "land_mu"])
    assert by_parcel.loc[("P1", 2019), "tax_per_mu"] == pytest.approx(30.0 * 10 / 15 / 10)


def test_emission_weights_and_partial_pollutants():
    f = pd.DataFrame({"cod_t": [1.0, np.nan, np.nan], "nh3n_t": [2.0, 3.0, np.nan], "so2_t": [np.nan] * 3})
    assert emission_tonnes(f).tolist()[:2] == [3.0, 3.0]
    assert np.isnan(emission_tonnes(f).iloc[2])
    weighted = emission_tonnes(f, {"cod_t": 1.0, "nh3n_t": 0.5})
    assert weighted.tolist()[:2] == [2.0, 1.5]
    firms = frame(firm_rows("F", {2021: {"value_added": 10.0, "cod_t": 1.0, "nh3n_t": 2.0}}))
    links = make_links([("F", "P", "own", 1.0)], ["F"])
    panel = unit_metrics(firms, links, emission_weights={"cod_t": 1.0, "nh3n_t": 0.5})
    assert panel.loc[("F", 2021), "va_per_emission_t"] == pytest.approx(5.0)


def test_inputs_are_not_mutated():
    firms = frame(firm_rows("F", {2021: FULL}))
    links = make_links([("F", "P", "own", 2.0)], ["F"])
    before_f, before_s = firms.copy(), links.shares.copy()
    unit_metrics(firms, links)
    parcel_metrics(pd.DataFrame({"land_mu": [2.0]}, index=pd.Index(["P"], name="parcel_id")), firms, links)
    pd.testing.assert_frame_equal(firms, before_f)
    pd.testing.assert_frame_equal(links.shares, before_s)


def test_bad_panels_are_reported():
    links = make_links([], [])
    with pytest.raises(InputError, match="column 'year' missing"):
        unit_metrics(pd.DataFrame({"uscc": ["A"]}), links)
    dup = frame(firm_rows("A", {2021: {"tax": 1.0}}) * 2)
    with pytest.raises(InputError, match=r"several rows for the same firm and year[\s\S]*A/2021.*rows 1, 2"):
        unit_metrics(dup, links)
    no_year = frame(firm_rows("A", {2021: {"tax": 1.0}}) + firm_rows("B", {2021: {"tax": 2.0}}))
    no_year["year"] = pd.array([2021, None], dtype="Int64")
    with pytest.raises(InputError, match=r"rows without a year[\s\S]*1 rows: B"):
        unit_metrics(no_year, links)


def test_an_empty_panel_gives_an_empty_table():
    empty = frame(firm_rows("A", {2021: {"tax": 1.0}})).iloc[:0]
    out = unit_metrics(empty, make_links([], []))
    assert out.empty and "tax_per_mu" in out.columns


def test_parcel_metrics_apportion_by_land_share():
    # F holds 6 mu of P1 and 4 mu of P2; T rents 2 mu of P2 (P2 is 6 mu in all).
    firms = frame(firm_rows("F", {2021: {"tax": 100.0, "energy_tce": 50.0}})
                  + firm_rows("T", {2021: {"tax": 12.0}}))
    links = make_links([("F", "P1", "own", 6.0), ("F", "P2", "own", 4.0), ("T", "P2", "leased", 2.0)], ["F", "T"])
    parcels = pd.DataFrame({"land_mu": [6.0, 6.0, 3.0]}, index=pd.Index(["P1", "P2", "P3"], name="parcel_id"))
    pm = parcel_metrics(parcels, firms, links)
    assert list(pm.index) == [("P1", 2021), ("P2", 2021)]  # P3 has no firm
    assert pm.loc[("P1", 2021), "tax"] == pytest.approx(60.0)
    assert pm.loc[("P2", 2021), "tax"] == pytest.approx(40.0 + 12.0)
    assert pm.loc[("P2", 2021), "tax_per_mu"] == pytest.approx(52.0 / 6.0)
    assert pm.loc[("P2", 2021), "energy_tce"] == pytest.approx(20.0)  # T's missing energy adds nothing
    assert pm.loc[("P2", 2021), "n_firms"] == 2


def test_parcel_metrics_split_firm_without_land_equally():
    firms = frame(firm_rows("T", {2021: {"tax": 10.0}}))
    links = make_links([("T", "P1", "leased", 0.0), ("T", "P2", "leased", 0.0)], ["T"])
    parcels = pd.DataFrame({"land_mu": [1.0, 4.0]}, index=pd.Index(["P1", "P2"], name="parcel_id"))
    pm = parcel_metrics(parcels, firms, links)
    assert pm["tax"].tolist() == [5.0, 5.0]
    assert pm["tax_per_mu"].tolist() == [5.0, 1.25]


def test_one_mu_constant():
    assert M2_PER_MU == 10000 / 15


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e4, allow_nan=False), st.floats(0.5, 50), st.floats(0.5, 50)),
                min_size=1, max_size=8))
def test_parcel_sums_conserve_firm_tax(items):
    """Every linked firm's tax ends up on its parcels, nothing more, nothing less."""
    rows, shares = [], []
    for i, (tax, a, b) in enumerate(items):
        rows += firm_rows(f"F{i}", {2021: {"tax": tax}})
        shares += [(f"F{i}", f"P{i}", "own", a), (f"F{i}", f"P{i + 1}", "own", b)]
    firms = frame(rows)
    links = make_links(shares, [f"F{i}" for i in range(len(items))])
    land = links.shares.groupby("parcel_id")["land_mu"].sum()
    pm = parcel_metrics(pd.DataFrame({"land_mu": land}), firms, links)
    assert pm["tax"].sum() == pytest.approx(sum(t for t, _, _ in items), rel=1e-9, abs=1e-6)
    panel = unit_metrics(firms, links)
    assert panel["tax"].sum() == pytest.approx(sum(t for t, _, _ in items), rel=1e-9, abs=1e-6)


# --- kernels of the stage (ids, gisefficiency.core.grouped): exact stand-ins for slower references ---

ID_TEXT = st.text(alphabet="ab9Zé中", max_size=3)


def _plain_encode(*arrays):
    """The reference: one dictionary_encode of all ids, codes ranked by an Arrow sort of the distinct ids."""
    enc = pc.dictionary_encode(pa.concat_arrays(list(arrays)))
    order = pc.sort_indices(enc.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    flat = np.full(len(enc.indices), -1, dtype=np.int64)
    valid = enc.indices.is_valid().to_numpy(zero_copy_only=False)
    flat[valid] = rank[enc.indices.to_numpy(zero_copy_only=False)[valid].astype(np.int64)]
    bounds = np.cumsum([0] + [len(a) for a in arrays])
    return [flat[a:b] for a, b in pairwise(bounds)], enc.dictionary.take(pa.array(order))


def _id_arrays(draw_lists):
    return [pa.array(v, pa.large_string()) for v in draw_lists]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.none() | ID_TEXT, max_size=12), min_size=1, max_size=4), st.booleans())
def test_encode_matches_a_plain_sort_of_the_ids(lists, runs):
    """Same codes and ids as dictionary_encode + a text sort, for repeated runs, aligned arrays, nulls and mixed widths."""
    if runs:  # repeated runs, and the next array aligned with the previous one
        lists = [[v for v in lst for _ in range(2)] for lst in lists]
        lists.append(list(lists[-1]))
    arrays = _id_arrays(lists)
    exp_codes, exp_ids = _plain_encode(*arrays)
    codes, ids = encode(*arrays)
    assert ids.equals(exp_ids)
    for got, exp in zip(codes, exp_codes, strict=True):
        np.testing.assert_array_equal(got, exp)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="AB12é", min_size=2, max_size=2), min_size=1, max_size=15),
       st.lists(st.text(alphabet="AB12é", min_size=2, max_size=2), max_size=15))
def test_fixed_width_sort_and_positions_match_arrow(keys, values):
    """One-width ids sort with numpy as Arrow sorts text (bytes), and are found as pc.index_in finds them."""
    k = pa.array(keys, pa.large_string())
    v = pa.array(values, pa.large_string())
    (codes,), ids = encode(k)
    assert ids.to_pylist() == sorted(set(keys), key=lambda t: t.encode())
    assert [ids[int(c)].as_py() for c in codes] == keys
    exp = pc.fill_null(pc.index_in(v, value_set=k), -1).to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(positions(v, k), exp)


def test_positions_hand_computed():
    keys = pa.array(["P2", "P1", "P2", "P3"], pa.large_string())
    vals = pa.array(["P2", "P9", "P3", "P1", "P22"], pa.large_string())
    assert positions(vals, keys).tolist() == [0, -1, 3, 1, -1]  # first match; other widths never match
    assert fixed_width(keys).tolist() == [b"P2", b"P1", b"P2", b"P3"]
    assert fixed_width(vals) is None  # two byte lengths
    assert run_heads(keys).tolist() == [True, True, True, True]
    assert run_heads(pa.array(["a", "a", None, None, "b"])).tolist() == [True, False, True, True, True]


FLOATS = st.sampled_from([1e16, 1.0, -1e16, 3.3, 0.1, np.nan, -0.0, 0.0, np.inf, 1e-300, 7e15 + 1, -2.5])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), FLOATS, FLOATS), max_size=25), st.booleans(), st.sampled_from([0, 1]))
def test_grouped_sums_are_bit_identical_to_pandas(rows, sort, min_count):
    """group_sum / plain_sum give pandas' grouped sum bit for bit (Kahan, reduceat, NaN, inf, -0.0)."""
    if sort:
        rows = sorted(rows, key=lambda r: r[0])
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    _, keys = np.unique(keys, return_inverse=True)
    keys = keys.reshape(-1).astype(np.int64)
    n = int(keys.max()) + 1 if len(keys) else 0
    block = np.array([[r[1] for r in rows], [r[2] for r in rows]]).reshape(2, len(rows))
    cats = pd.Categorical.from_codes(keys, categories=pd.RangeIndex(n))
    with np.errstate(all="ignore"):
        exp = pd.DataFrame(block.T, copy=False).groupby(cats, observed=True).sum(min_count=min_count).to_numpy().T
        if needs_kahan(keys, bool(np.isnan(block).any())):
            got = np.vstack([group_sum(keys, b, n, min_count=min_count) for b in block])
        else:
            got = plain_sum(keys, block, n, min_count=min_count)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(exp))
    np.testing.assert_array_equal(np.nan_to_num(got).view(np.int64), np.nan_to_num(exp).view(np.int64))


def test_group_sum_hand_computed():
    keys = np.array([1, 0, 1, 1, 2])
    vals = np.array([1e16, 5.0, 1.0, 1.0, np.nan])
    got = group_sum(keys, vals, 3)
    assert got[0] == 5.0 and np.isnan(got[2])  # all missing stays missing
    assert got[1] == 1e16 + 2.0  # compensated: plain adding would lose both 1.0s
    assert group_sum(keys, vals, 3, min_count=0)[2] == 0.0


def test_take_rows_keeps_text_and_missing():
    col = pd.Series(["above", None, "below", "above"] * 10, dtype="string")
    rows = np.array([3, 1, 2, 0, 1])
    for few in (True, False):
        got = pd.Series(take_rows(col, rows, few_values=few))
        pd.testing.assert_series_equal(got, pd.Series(col.array.take(rows)))
    flags = pd.Series([True, None, False], dtype="boolean")
    pd.testing.assert_series_equal(pd.Series(take_rows(flags, np.array([2, 1]))),
                                   pd.Series(pd.array([False, None], dtype="boolean")))


def test_merged_unit_members_summed_in_usccs_order_and_ties_with_own_row():
    """Three members in one year: inputs summed, attributes from the holder's own row, ids sorted."""
    rows = (firm_rows("Z9", {2021: {"tax": 1.0}}, scale="below", name="丙")
            + firm_rows("H1", {2021: {"tax": 2.0}}, scale="above", name="业主")
            + firm_rows("A5", {2021: {"tax": 4.0}, 2020: {"tax": 8.0}}, scale="below", name="甲"))
    links = make_links([("H1", "P1", "own", 3.0), ("Z9", "P1", "leased", 0.0), ("A5", "P2", "leased", 0.0)],
                       ["Z9", "H1", "A5"], eval_ids={"Z9": "H1", "A5": "H1"})
    panel = unit_metrics(frame(rows), links)
    assert list(panel.index) == [("H1", 2020), ("H1", 2021)]
    assert panel.loc[("H1", 2021), "tax"] == 7.0 and panel.loc[("H1", 2021), "n_firms"] == 3
    assert panel.loc[("H1", 2021), "name"] == "业主"
    assert panel.loc[("H1", 2020), "name"] == "甲"  # no own row that year: the smallest member USCC
    assert panel.loc[("H1", 2021), "tax_per_mu"] == pytest.approx(7.0 / 3.0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6), FLOATS, FLOATS, st.sampled_from([1.0, 0.5, 1 / 3])),
                min_size=1, max_size=30))
def test_apportioned_sums_are_group_sums_of_the_joined_rows(rows):
    """Split into one-row groups and the rest, the sums are still group_sum's (pandas') bit for bit."""
    group = np.array([r[0] for r in rows], dtype=np.int64)
    _, group = np.unique(group, return_inverse=True)
    group = group.reshape(-1).astype(np.int64)
    assume(needs_kahan(group, False))  # sorted groups take pandas' plain path, which is unchanged
    n = int(group.max()) + 1
    left = np.array([r[1] for r in rows], dtype=np.int64)
    frac = np.array([r[4] for r in rows])
    values = {"tax": np.zeros(7), "revenue": np.zeros(7)}
    for r in rows:  # the panel value of row r[1] (the last one drawn wins)
        values["tax"][r[1]], values["revenue"][r[1]] = r[2], r[3]
    out = {c: np.full(n, -1.0) for c in ("tax", "revenue", "land_mu")}
    with np.errstate(all="ignore"):
        apportioned_sums(values, left, frac, group, out)
        for c in values:
            exp = group_sum(group, values[c][left] * frac, n)
            np.testing.assert_array_equal(np.isnan(out[c]), np.isnan(exp))
            np.testing.assert_array_equal(np.nan_to_num(out[c]).view(np.int64), np.nan_to_num(exp).view(np.int64))


def test_apportioned_sums_hand_computed():
    values = {"tax": np.array([1e16, 1.0, np.nan, -0.0])}
    left = np.array([0, 1, 1, 2, 3])
    group = np.array([1, 1, 1, 0, 2])  # unsorted: the compensated path
    out = {"tax": np.empty(3), "land_mu": np.empty(3)}
    apportioned_sums(values, left, np.ones(5), group, out)
    assert np.isnan(out["tax"][0])  # only a missing value: missing
    assert out["tax"][1] == 1e16 + 2.0  # three values, compensated as pandas sums them
    assert out["tax"][2] == 0.0 and not np.signbit(out["tax"][2])  # 0.0 + -0.0


@settings(max_examples=60, deadline=None)
@given(st.sets(st.text(alphabet="AB9é", min_size=1, max_size=3) | st.text(alphabet="0Z", min_size=17, max_size=17),
               max_size=20), st.randoms())
def test_sorted_rank_matches_encode(ids, random):
    """Ranks and sorted ids of distinct ids are those encode gives (fixed and mixed widths, long shared prefixes)."""
    ids = list(ids)
    random.shuffle(ids)
    arr = pa.array(ids, pa.large_string())
    rank, got = sorted_rank(arr)
    (codes,), exp = encode(arr)
    np.testing.assert_array_equal(rank, codes)
    assert got.to_pylist() == exp.to_pylist()


def test_sorted_rank_hand_computed():
    arr = pa.array(["913311000000000001", "913308270000000002", "913308270000000001"], pa.large_string())
    rank, ids = sorted_rank(arr)
    assert rank.tolist() == [2, 1, 0]
    assert ids.to_pylist() == ["913308270000000001", "913308270000000002", "913311000000000001"]


def test_holder_figures_co_holders_and_supply_year():
    """A holds 6 and B 4 of P1 (10 mu, supplied 2015) with tenant C on it; A also holds P2 (5 mu, supplied
    2022). 2021: P1's tax is A 6 (all its 2021 land is P1) + B 4 + C 10 = 20 over 10 mu; co-holders split
    it by their shares: A 0.6 -> 12 over 6 mu, B 0.4 -> 8 over 4 mu, both 2.0. 2022: A's 22 goes to P1 and
    P2 by land share (6/11, 5/11): P1 = 12 + 4 + 10 = 26 -> A 15.6 + P2 10 = 25.6 over 6 + 5 = 11 mu."""
    rows = (firm_rows("A", {2021: {"tax": 6.0}, 2022: {"tax": 22.0}})
            + firm_rows("B", {2021: {"tax": 4.0}, 2022: {"tax": 4.0}})
            + firm_rows("C", {2021: {"tax": 10.0}, 2022: {"tax": 10.0}}))
    links = make_links([("A", "P1", "own", 6.0), ("B", "P1", "own", 4.0), ("C", "P1", "leased", 0.0),
                        ("A", "P2", "own", 5.0)], ["A", "B", "C"])
    parcels = pd.DataFrame({"land_mu": [10.0, 5.0], "supply_date": pd.to_datetime(["2015-01-01", "2022-03-01"])},
                           index=pd.Index(["P1", "P2"], name="parcel_id"))
    p = unit_metrics(frame(rows), links, parcels=parcels)
    assert p.loc[("A", 2021), "holder_land_mu"] == pytest.approx(6.0)
    assert p.loc[("A", 2021), "holder_tax"] == pytest.approx(12.0)
    assert p.loc[("B", 2021), "holder_tax_per_mu"] == pytest.approx(2.0)
    assert p.loc[("A", 2022), "holder_land_mu"] == pytest.approx(11.0)
    assert p.loc[("A", 2022), "holder_tax"] == pytest.approx(25.6)
    assert p.loc[("A", 2022), "holder_tax_per_mu"] == pytest.approx(25.6 / 11)
    # B and the tenant C are other firms on A's land; A and C on B's
    assert p.loc[("A", 2021), "holder_other_firms"] == 2 and p.loc[("B", 2021), "holder_other_firms"] == 2
    assert np.isnan(p.loc[("C", 2021), "holder_land_mu"]) and np.isnan(p.loc[("C", 2021), "leased_floor_m2"])


def test_other_firms_counts_each_firm_of_another_unit_once():
    from gisefficiency.metrics.indicators import _other_firms

    # Unit 0 (firm 0) holds parcels 0 and 1. On parcel 0: firm 1 (unit 1) and firm 2, merged into unit 0
    # (not another unit's); on parcel 1: firm 1 again (counted once) and firm 3 (unit 2).
    lp, lf, lu = np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 2, 0, 1, 3]), np.array([0, 1, 0, 0, 1, 2])
    others = _other_firms(np.array([0, 1]), np.array([0, 0]), lp, lf, lu, 2, 4)
    np.testing.assert_array_equal(others, [2.0, 0.0, 0.0, 0.0])

"""change_classes: every parcel low in either year is in exactly one class, and the classes add up."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from gisefficiency.evaluate.years import change_classes

flags = st.lists(st.tuples(st.sampled_from([True, False, None]), st.sampled_from([True, False, None]),
                           st.booleans()), min_size=0, max_size=40)


@given(flags)
def test_change_classes_partition_the_low_parcels(rows):
    index = pd.Index([f"p{i}" for i in range(len(rows))], name="parcel_id")
    first = pd.Series([r[0] for r in rows], index=index, dtype="boolean")
    last = pd.Series([r[1] for r in rows], index=index, dtype="boolean")
    known = pd.Series([r[2] for r in rows], index=index)
    change = change_classes(first, last, last_known=known)
    a, b = first.fillna(False).to_numpy(bool), last.fillna(False).to_numpy(bool)
    counts = change.value_counts()
    assert counts.get("newly_low", 0) + counts.get("still_low", 0) == b.sum()
    assert counts.get("still_low", 0) + counts.get("recovered", 0) + counts.get("no_data_now", 0) == a.sum()
    assert (change == "").sum() == (~a & ~b).sum()  # missing flags count as not low, never as low
    # "recovered" needs a figure in the last year
    assert not (change.eq("recovered") & ~known).any()


def test_change_classes_hand_checked():
    idx = pd.Index(["a", "b", "c", "d", "e"])
    first = pd.Series([True, False, True, True, False], index=idx)
    last = pd.Series([True, True, False, False, False], index=idx)
    known = pd.Series([True, True, True, False, False], index=idx)
    assert change_classes(first, last, last_known=known).tolist() == \
        ["still_low", "newly_low", "recovered", "no_data_now", ""]

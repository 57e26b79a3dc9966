"""Joining stage outputs into the per-parcel and per-firm tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gisefficiency.assemble import _grouped_union, _joined, add_columns


def test_joined_keeps_row_order_within_a_key_and_skips_missing():
    keys = pd.Series(["P2", "P1", "P2", "P3", "P2"])
    names = pd.Series(["甲厂", "乙厂", None, "丙厂", "丁厂"])
    out = _joined(keys, names, "、")
    assert out.to_dict() == {"P1": "乙厂", "P2": "甲厂、丁厂", "P3": "丙厂"}


def test_joined_of_nothing_is_empty():
    assert _joined(pd.Series([], dtype=object), pd.Series([], dtype=object), ",").empty


def test_add_columns_replaces_and_aligns_on_the_index():
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]}, index=["x", "y"])
    extra = pd.DataFrame({"b": [40], "c": [50]}, index=["y"])
    out = add_columns(frame, extra)
    assert out.loc["y", "b"] == 40 and np.isnan(out.loc["x", "b"]) and out.loc["y", "c"] == 50
    assert frame["b"].tolist() == [3, 4]  # input untouched


def test_grouped_union_merges_only_multi_parcel_firms():
    import shapely

    squares = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(5, 5, 6, 6)], dtype=object)
    out = _grouped_union(np.array([0, 0, 1]), 2, squares)
    assert out[0].area == 2.0 and out[0].geom_type == "Polygon"
    assert out[1] is squares[2]

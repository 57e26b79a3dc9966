"""The map payload's column encoders: the Arrow paths give the JSON the pandas/Python paths gave."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from gisefficiency.core.text import WHITESPACE_RE2
from gisefficiency.maps.aggregate import STREET_SIMPLIFY_M, simplify_apart, street_outlines
from gisefficiency.maps.encode import (
    _ragged,
    categories,
    dumps,
    integers,
    pack,
    pack_json,
    ragged_links,
    simplify_parcels,
    split_ids,
    strings,
    unpack,
)
from gisefficiency.maps.layers import _id_text

TEXT_DTYPES = ["str", "string", "string[pyarrow]", object]


def test_integers_are_a_compact_json_array():
    assert integers(np.array([3, -1, 0, 12345678901])) == "[3,-1,0,12345678901]"
    assert integers([]) == "[]"
    assert json.loads(integers([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_strings_keep_text_and_missing_values(dtype):
    values = pd.Series(["甲纺织", None, "a b", ""], dtype=dtype)
    assert json.loads(strings(values)) == ["甲纺织", None, "a b", ""]


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_strings_escape_quotes_backslashes_and_control_characters(dtype):
    values = pd.Series(['say "hi"', "C:\\dir", "tab\there", "line\nbreak"], dtype=dtype)
    assert json.loads(strings(values)) == ['say "hi"', "C:\\dir", "tab\there", "line\nbreak"]


def test_strings_of_an_index_and_of_non_text_objects():
    assert json.loads(strings(pd.Index(["p1", "p2"]))) == ["p1", "p2"]
    # numbers in an object column stay JSON numbers, as pandas writes them
    assert json.loads(strings(pd.Series([1, None, "x"], dtype=object))) == [1, None, "x"]
    assert strings(pd.Series([], dtype="str")) == "[]"


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_categories_in_order_of_first_appearance(dtype):
    codes, cats = categories(pd.Series(["东城", None, "西城", "东城", "南城"], dtype=dtype))
    assert json.loads(codes) == [0, -1, 1, 0, 2]
    assert cats == ["东城", "西城", "南城"]


def test_categories_with_a_given_order():
    codes, cats = categories(pd.Series(["B", "A", None, "Z"], dtype="str"), order=["A", "B"])
    assert (json.loads(codes), cats) == ([1, 0, -1, -1], ["A", "B"])


def test_space_class_for_arrow_is_pythons_whitespace():
    python = {chr(i) for i in range(0x110000) if re.fullmatch(r"\s", chr(i))}
    ranges = re.findall(r"\\x\{([0-9a-f]+)\}-\\x\{([0-9a-f]+)\}|\\x\{([0-9a-f]+)\}", WHITESPACE_RE2)
    listed = {chr(int(c, 16)) for a, b, c in ranges if c}
    listed |= {chr(i) for a, b, _ in ranges if a for i in range(int(a, 16), int(b, 16) + 1)}
    listed |= set("\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f")
    assert listed == python


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_split_ids_separates_on_every_kind_of_space(dtype):
    spaces = [chr(i) for i in range(0x110000) if chr(i).isspace()]
    values = pd.Series([f"a{s}b" for s in spaces] + [";c,,d、e|", None], dtype=dtype,
                       index=[f"p{i}" for i in range(len(spaces) + 2)])
    pairs = split_ids(values)
    expected = [(f"p{i}", t) for i in range(len(spaces)) for t in ("a", "b")]
    expected += [(f"p{len(spaces)}", t) for t in ("c", "d", "e")]
    assert list(zip(pairs["owner"], pairs["target"], strict=True)) == expected


def test_split_ids_with_lists_and_text_mixed_keeps_the_general_path():
    pairs = split_ids(pd.Series(["a b", ["c", " d "]], index=["p1", "p2"], dtype=object))
    assert list(zip(pairs["owner"], pairs["target"], strict=True)) == [
        ("p1", "a"), ("p1", "b"), ("p2", "c"), ("p2", "d")]


def _square(x: float, y: float, s: float = 1.0) -> Polygon:
    return box(x, y, x + s, y + s)


HOLED = Polygon(_square(0, 0, 10).exterior.coords, [_square(1, 1).exterior.coords, _square(5, 5, 2).exterior.coords])


@pytest.mark.parametrize("geoms", [
    [_square(0, 0), _square(2, 2)],
    [_square(0, 0), MultiPolygon([_square(30, 30), HOLED]), HOLED, _square(9, 9)],
    [MultiPolygon([_square(3, 3), _square(5, 5)]), Polygon(), _square(1, 1), MultiPolygon()],
    [Polygon(), _square(0, 0)],
])
def test_ragged_offsets_are_shapelys(geoms):
    arr = np.array(geoms, dtype=object)
    kind, coords, offsets = shapely.to_ragged_array(arr)
    if kind == shapely.GeometryType.POLYGON:  # one polygon per geometry
        offsets = (*offsets, np.arange(len(offsets[1])))
    mine = _ragged(arr)
    np.testing.assert_array_equal(mine[0], coords)
    for got, want in zip(mine[1:], offsets, strict=True):
        np.testing.assert_array_equal(got, want)


def test_pack_json_is_pack_of_dumps():
    obj = {"name": "</script><script>alert(1)</script>", "n": integers([1, 2]), "s": strings(["a&b", None]),
           "v": float("nan"), "nested": [{"甲": 1.5}, None, True]}
    assert unpack(pack_json(obj)) == dumps(obj) == unpack(pack(dumps(obj)))
    assert "<" not in dumps(obj) and "&" not in dumps(obj)
    assert json.loads(dumps(obj)) == {"name": "</script><script>alert(1)</script>", "n": [1, 2],
                                      "s": ["a&b", None], "v": None, "nested": [{"甲": 1.5}, None, True]}


def test_simplify_parcels_drops_collinear_vertices_and_keeps_the_rest():
    dense = Polygon([(0, 0), (5, 0.01), (10, 0), (10, 10), (0, 10)])  # (5, 0.01) is 1 cm off the edge
    plain = _square(20, 20, 10)
    out = simplify_parcels(np.array([dense, plain], dtype=object), tolerance_m=0.1).geometry
    assert shapely.get_num_coordinates(out).tolist() == [5, 5]
    assert shapely.equals_identical(out[1], plain)


def test_street_outlines_are_dissolve_then_simplify():
    # two streets of a 6x4 grid of 30 m parcels, one with a hole where a parcel is missing
    cells = [(i, j) for i in range(6) for j in range(4) if (i, j) != (1, 1)]
    geoms = np.array([_square(30.0 * i, 30.0 * j, 30.0) for i, j in cells], dtype=object)
    street = pd.Series(["西" if i >= 3 else "东" for i, _ in cells], dtype=object)
    frame = gpd.GeoDataFrame({"street": street}, geometry=geoms)
    want = frame.dissolve(by="street", method="disjoint_subset").geometry.simplify(STREET_SIMPLIFY_M)
    got = street_outlines(street, geoms)
    assert list(got.index) == ["东", "西"] == list(want.index)
    assert shapely.equals_identical(got.values, want.values).all()
    assert shapely.get_num_interior_rings(got.values).tolist() == [1, 0]


@pytest.mark.parametrize("dtype", TEXT_DTYPES)
def test_ragged_links_find_text_ids_as_get_indexer(dtype):
    parcels = pd.Index(["p1", "p2", "p3"], dtype=dtype)
    firms = pd.Index(["f1", "f2"], dtype=dtype)
    pairs = pd.DataFrame({"owner": ["p3", "p1", "p9", "p1", "p3"], "target": ["f2", "f2", "f1", "f1", "f2"]},
                         dtype=object)
    counts, index = ragged_links(parcels, pairs, firms)
    assert (json.loads(counts), json.loads(index)) == ([2, 0, 1], [0, 1, 1])


def test_ragged_links_with_repeated_ids_refuse_as_pandas_does():
    with pytest.raises(pd.errors.InvalidIndexError, match="uniquely valued"):
        ragged_links(pd.Index(["p1", "p1"]), pd.DataFrame({"owner": ["p1"], "target": ["f1"]}), pd.Index(["f1"]))


@pytest.mark.parametrize(("ids", "expected"), [
    (pd.Series([1, None, 30], dtype="Int64"), ["1", None, "30"]),
    (pd.Series([7, -5], dtype="int64"), ["7", "-5"]),
    (pd.Series([1.0, np.nan]), ["1.0", None]),  # float ids keep Python's spelling
])
def test_block_ids_as_text(ids, expected):
    assert json.loads(strings(_id_text(ids))) == expected


def test_simplify_apart_is_the_whole_topology_preserving_simplification():
    rng = np.random.default_rng(3)
    # wobbly discs close together (their simplified edges would cross without the topology check), a ring
    # with a disc inside its hole, and far-away ones: groups of every kind
    centres = np.r_[rng.uniform(0, 60, (25, 2)), rng.uniform(500, 520, (5, 2))]
    angle = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    radius = rng.uniform(2, 6, (len(centres), 1)) * (1 + 0.15 * rng.standard_normal((len(centres), 64)))
    ring = centres[:, None, :] + radius[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    wobble = shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))
    merged = shapely.union_all(np.r_[shapely.make_valid(wobble), shapely.box(100, 100, 140, 140).difference(
        shapely.box(105, 105, 135, 135)), shapely.box(110, 110, 130, 130)])
    assert shapely.get_num_geometries(merged) > 5
    for tolerance in (0.5, 2.0, 5.0):
        want = shapely.simplify(merged, tolerance, preserve_topology=True)
        assert shapely.equals_identical(simplify_apart(merged, tolerance), want)
    one = _square(0, 0, 10)  # a single polygon is simplified as it is
    assert shapely.equals_identical(simplify_apart(one, 1.0), shapely.simplify(one, 1.0, preserve_topology=True))


def test_pack_json_in_runs_is_one_gzip_stream(monkeypatch):
    from gisefficiency.maps import encode

    monkeypatch.setattr(encode, "PACK_RUN_BYTES", 1000)
    monkeypatch.setattr(encode.os, "cpu_count", lambda: 3)
    obj = {"reason": strings([f"亩均税收低于{i % 7}万元" for i in range(2000)]), "n": integers(range(3000))}
    assert len(dumps(obj).encode()) > 3 * 1000
    assert unpack(pack_json(obj)) == dumps(obj)


def test_ragged_counts_a_missing_geometry_as_no_polygon_and_refuses_other_types():
    import shapely

    from gisefficiency.core.errors import InputError
    from gisefficiency.maps.encode import _ragged

    square = shapely.box(0, 0, 1, 1)
    arr = np.array([None, square, None], dtype=object)
    coords, ring_off, poly_off, geom_off = _ragged(arr)
    # Nothing for the missing ones: one polygon of one 5-vertex ring, owned by the middle geometry.
    assert geom_off.tolist() == [0, 0, 1, 1]
    assert poly_off.tolist() == [0, 1]
    assert ring_off.tolist() == [0, 5]
    assert len(coords) == 5
    with pytest.raises(InputError, match="only polygons and multipolygons"):
        _ragged(np.array([square, shapely.Point(0, 0)], dtype=object))

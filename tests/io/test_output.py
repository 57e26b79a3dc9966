"""results.gpkg: the fast writer gives QGIS exactly what ``GeoDataFrame.to_file`` of gpkg_ready frames gave."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gisefficiency.io import output
from gisefficiency.io.output import GPKG_LAYERS, _layer_wkb, gpkg_ready, write_results_gpkg
from gisefficiency.result import Result

CRS = "EPSG:4549"


def _square(x: float, y: float, size: float = 10.0) -> Polygon:
    return box(x, y, x + size, y + size)


def _parcels() -> gpd.GeoDataFrame:
    """Every column kind the parcels layer has: text with NA, bool, nullable bool and int, objects, dates."""
    geoms = [
        _square(400000, 3100000),
        MultiPolygon([_square(400100, 3100000), _square(400130, 3100000)]),
        _square(400200, 3100000),
        Polygon(),  # a parcel whose geometry could not be repaired stays, empty
    ]
    frame = gpd.GeoDataFrame(
        {
            "land_use": pd.array(["工业", "仓储", None, "工业"], dtype="str"),
            "supply_date": pd.to_datetime(["1995-01-01", "2003-06-30", None, "2010-12-31"]),
            "area_mu": [1.5, 2.25, np.nan, 0.0],
            "n_firms": np.array([1, 2, 0, 0], dtype="int64"),
            "idle": np.array([False, True, False, True]),
            "low_flag": pd.array([True, None, False, None], dtype="boolean"),
            "block_id": pd.array([3, None, 3, None], dtype="Int64"),
            "firm_names": np.array(["浙江新顺机械有限公司", "甲厂、乙公司", np.nan, np.nan], dtype=object),
            "in_scope": np.array([True, False, np.nan, True], dtype=object),
            "reason_zh": pd.array(["亩均税收11.87万元/亩，高于1万元/亩", "未达处置条件", None, ""], dtype="string"),
            "grade": pd.Categorical(["A", "B", None, "D"]),
        },
        geometry=geoms,
        crs=CRS,
        index=pd.Index(["330827-001-00001", "330827-001-00002", "330827-001-00003", "330827-001-00004"],
                       dtype="str", name="parcel_id"),
    )
    return frame


def _firms() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": pd.array(["浙江新顺机械有限公司", "甲厂"], dtype="str"),
            "tax": [104.86, np.nan],
            "tenant": [False, True],
        },
        geometry=[MultiPolygon([_square(400000, 3100000)]), _square(400100, 3100000)],
        crs=CRS,
        index=pd.Index(["913308275449522029", "91330827238821538K"], dtype="str", name="uscc"),
    )


def _blocks() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"area_mu": [12.5], "n_firms": pd.array([2], dtype="Int64"), "streets": ["龙溪街道"]},
        geometry=[MultiPolygon([_square(400000, 3100000), _square(400200, 3100000)])],
        crs=CRS,
        index=pd.Index([1], dtype="int64", name="block_id"),
    )


def _result(parcels=None, firms=None, blocks=None) -> Result:
    return Result(
        parcels=_parcels() if parcels is None else parcels,
        firms=_firms() if firms is None else firms,
        blocks=_blocks() if blocks is None else blocks,
        panel=pd.DataFrame(),
        year=2020,
        policy=None,
    )


def _write_reference(result: Result, path: Path) -> Path:
    """What write_results_gpkg wrote before it was made fast: the yardstick."""
    for layer, attr in GPKG_LAYERS.items():
        gpkg_ready(getattr(result, attr), arrow_dates=True).to_file(path, layer=layer, driver="GPKG", engine="pyogrio",
                                                   use_arrow=True)
    return path


def _catalogue(path: Path) -> dict[str, list]:
    """Everything a GeoPackage reader looks at, except timestamps and SQLite page layout."""
    with sqlite3.connect(path) as con:
        out: dict[str, list] = {
            "contents": con.execute(
                "SELECT table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id "
                "FROM gpkg_contents ORDER BY table_name").fetchall(),
            "geometry_columns": con.execute("SELECT * FROM gpkg_geometry_columns ORDER BY table_name").fetchall(),
            "extensions": con.execute("SELECT * FROM gpkg_extensions ORDER BY table_name").fetchall(),
            "ogr_contents": con.execute("SELECT * FROM gpkg_ogr_contents ORDER BY table_name").fetchall(),
            "srs": con.execute("SELECT srs_id, organization, organization_coordsys_id "
                               "FROM gpkg_spatial_ref_sys ORDER BY srs_id").fetchall(),
            "objects": con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                   "WHERE name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name").fetchall(),
            "application_id": con.execute("PRAGMA application_id").fetchall(),
            "user_version": con.execute("PRAGMA user_version").fetchall(),
        }
        for layer in GPKG_LAYERS:
            out[f"fields_{layer}"] = con.execute(f"PRAGMA table_info({layer})").fetchall()
            out[f"rows_{layer}"] = con.execute(f"SELECT * FROM {layer} ORDER BY fid").fetchall()
            out[f"rtree_{layer}"] = con.execute(f"SELECT * FROM rtree_{layer}_geom ORDER BY id").fetchall()
    return out


def test_same_geopackage_as_the_reference_writer(tmp_path):
    result = _result()
    fast = _catalogue(write_results_gpkg(result, tmp_path / "out" / "results.gpkg"))
    reference = _catalogue(_write_reference(result, tmp_path / "reference.gpkg"))
    assert fast.keys() == reference.keys()
    for key in fast:
        assert fast[key] == reference[key], key  # same fields, types, values, geometry blobs, R-tree boxes


def test_layers_read_back_as_the_frames(tmp_path):
    result = _result()
    path = write_results_gpkg(result, tmp_path / "results.gpkg")
    assert [name for name, _ in pyogrio.list_layers(path)] == ["parcels", "firms", "blocks"]
    for layer, attr in GPKG_LAYERS.items():
        expected = gpkg_ready(getattr(result, attr), arrow_dates=True)
        back = pyogrio.read_dataframe(path, layer=layer)
        assert list(back.columns) == list(expected.columns)
        assert back.crs.to_epsg() == 4549
        assert len(back) == len(expected)
        # Single parts come back as the one-part multi parts GeoPackage asks for, with the same shape.
        same_shape = shapely.equals(back.geometry.array, expected.geometry.array) | (
            shapely.is_empty(back.geometry.array) & shapely.is_empty(expected.geometry.array))
        assert same_shape.all()
    parcels = pyogrio.read_dataframe(path, layer="parcels")
    assert parcels["parcel_id"].tolist() == ["330827-001-00001", "330827-001-00002",
                                             "330827-001-00003", "330827-001-00004"]
    assert parcels["land_use"].tolist()[:2] == ["工业", "仓储"] and pd.isna(parcels["land_use"][2])
    assert parcels["reason_zh"][0] == "亩均税收11.87万元/亩，高于1万元/亩"
    assert parcels["idle"].tolist() == [0, 1, 0, 1]
    assert parcels["low_flag"].isna().tolist() == [False, True, False, True]
    assert parcels["block_id"].isna().tolist() == [False, True, False, True]
    # Object columns of True/False/missing are booleans like every other flag (they were "True" text).
    flags = pyogrio.read_dataframe(path, layer="parcels", columns=["in_scope", "idle"], use_arrow=True)
    assert flags["in_scope"].tolist() == [True, False, None, True]
    assert flags["idle"].tolist() == [False, True, False, True]
    np.testing.assert_array_equal(parcels["area_mu"], [1.5, 2.25, np.nan, 0.0])
    assert parcels.geometry.geom_type.tolist() == ["MultiPolygon"] * 4


def test_every_layer_has_a_filled_spatial_index(tmp_path):
    path = write_results_gpkg(_result(), tmp_path / "results.gpkg")
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        contents = dict(con.execute("SELECT table_name, srs_id FROM gpkg_contents"))
        geom_types = dict(con.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"))
        for layer in GPKG_LAYERS:
            assert f"rtree_{layer}_geom" in tables
            assert contents[layer] == 4549
            assert geom_types[layer] == "MULTIPOLYGON"
            # The R-tree holds one box per non-empty geometry, with the geometry's bounds.
            boxes = con.execute(f"SELECT id, minx, maxx, miny, maxy FROM rtree_{layer}_geom ORDER BY id").fetchall()
            n_nonempty = con.execute(f"SELECT count(*) FROM {layer}").fetchone()[0] - (layer == "parcels")
            assert len(boxes) == n_nonempty
        first = con.execute("SELECT minx, maxx, miny, maxy FROM rtree_parcels_geom WHERE id = 1").fetchone()
    # R-tree boxes are float32, rounded outward from the exact bounds 400000..400010, 3100000..3100010.
    assert first[0] <= 400000 <= 400010 <= first[1] and first[2] <= 3100000 <= 3100010 <= first[3]
    assert first[1] - first[0] == pytest.approx(10, abs=0.1)


def test_existing_file_is_replaced_and_no_temporary_file_is_left(tmp_path):
    path = tmp_path / "results.gpkg"
    path.write_bytes(b"an old run")
    write_results_gpkg(_result(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.gpkg"]
    assert len(pyogrio.read_dataframe(path, layer="blocks")) == 1


def test_failure_keeps_old_file_removes_partial_file_and_restores_gdal_config(tmp_path, monkeypatch):
    path = tmp_path / "results.gpkg"
    path.write_bytes(b"an old run")
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "NORMAL"})
    real_write = output._write_layer

    def failing_write(frame, tmp, *, layer):
        if layer == "firms":
            raise OSError("disk full while writing layer firms")
        real_write(frame, tmp, layer=layer)

    monkeypatch.setattr(output, "_write_layer", failing_write)
    try:
        with pytest.raises(OSError, match="disk full while writing layer firms"):
            write_results_gpkg(_result(), path)
        assert path.read_bytes() == b"an old run"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["results.gpkg"]
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") == "NORMAL"
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_PRAGMA") is None
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": None})


def test_3d_geometries_take_pyogrio_path_and_match_reference(tmp_path):
    z = gpd.GeoDataFrame(
        {"area_mu": [1.0, 2.0]},
        geometry=[Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 2), (0, 0, 1)]),
                  MultiPolygon([Polygon([(5, 5, 0), (6, 5, 0), (6, 6, 0), (5, 5, 0)])])],
        crs=CRS,
        index=pd.Index([1, 2], name="block_id"),
    )
    result = _result(blocks=z)
    fast = _catalogue(write_results_gpkg(result, tmp_path / "fast.gpkg"))
    reference = _catalogue(_write_reference(result, tmp_path / "reference.gpkg"))
    assert fast["rows_blocks"] == reference["rows_blocks"]
    assert fast["geometry_columns"] == reference["geometry_columns"]
    assert ("blocks", "geom", "MULTIPOLYGON", 4549, 1, 0) in fast["geometry_columns"]


def test_local_time_zone_dates_take_pyogrio_path_and_match_reference(tmp_path):
    firms = _firms()
    firms["checked_at"] = pd.to_datetime(["2020-01-05 08:00", "2020-07-05 08:00"]).tz_localize("Asia/Shanghai")
    result = _result(firms=firms)
    fast = _catalogue(write_results_gpkg(result, tmp_path / "fast.gpkg"))
    reference = _catalogue(_write_reference(result, tmp_path / "reference.gpkg"))
    assert fast["rows_firms"] == reference["rows_firms"]
    assert fast["fields_firms"] == reference["fields_firms"]
    assert "2020-01-05T08:00:00" in str(fast["rows_firms"][0])


# --- the layer geometry type and WKB (hand-made cases) ---------------------------------------------------


def test_polygon_with_multipolygon_becomes_multipolygon_with_exact_wkb():
    square = _square(0, 0, 1)
    values = np.array([square, MultiPolygon([_square(5, 5, 1), _square(8, 8, 1)]), None], dtype=object)
    geometry_type, wkb = _layer_wkb(values)
    assert geometry_type == "MultiPolygon"
    blobs = wkb.to_pylist()
    # 01 = little endian, 06000000 = MultiPolygon, 01000000 = one part, then the polygon's own WKB.
    assert blobs[0] == bytes.fromhex("01" "06000000" "01000000") + shapely.to_wkb(square)
    assert blobs[0] == shapely.to_wkb(MultiPolygon([square]))
    assert blobs[1] == shapely.to_wkb(values[1])
    assert blobs[2] is None


@pytest.mark.parametrize(
    ("geoms", "expected_type", "promoted"),
    [
        ([_square(0, 0)], "Polygon", False),
        ([Point(0, 0), Point(1, 1)], "Point", False),
        ([Point(0, 0), shapely.multipoints([(1, 1), (2, 2)])], "MultiPoint", True),
        ([shapely.linestrings([(0, 0), (1, 1)]), shapely.multilinestrings([[(0, 0), (1, 1)]])],
         "MultiLineString", True),
        ([Point(0, 0), _square(0, 0)], "Unknown", False),
        ([None, None], "Unknown", False),
    ],
)
def test_layer_geometry_type_follows_pyogrio(geoms, expected_type, promoted):
    values = np.array(geoms, dtype=object)
    geometry_type, wkb = _layer_wkb(values)
    assert geometry_type == expected_type
    blobs = wkb.to_pylist()
    if promoted:
        assert shapely.get_type_id(shapely.from_wkb(blobs[0])) == shapely.get_type_id(values[1])
    else:
        assert blobs == list(shapely.to_wkb(values))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(-1e6, 1e6), st.floats(-1e6, 1e6),
                          st.floats(0.1, 500)), min_size=1, max_size=20))
def test_promoted_wkb_is_byte_identical_to_shapely_multipolygons(parts):
    """Property: every row's WKB is what pyogrio's shapely promotion would have written."""
    geoms = []
    for kind, x, y, size in parts:
        if kind == 0:
            geoms.append(_square(x, y, size))
        elif kind == 1:
            geoms.append(MultiPolygon([_square(x, y, size), _square(x + 2 * size, y, size)]))
        else:
            geoms.append(None)
    values = np.array([*geoms, MultiPolygon([_square(0, 0)]), _square(0, 0)], dtype=object)
    geometry_type, wkb = _layer_wkb(values)
    assert geometry_type == "MultiPolygon"
    is_polygon = shapely.get_type_id(values) == 3
    expected = values.copy()
    expected[is_polygon] = shapely.multipolygons(np.atleast_2d(values[is_polygon]), axis=0)
    assert wkb.to_pylist() == list(shapely.to_wkb(expected))


# --- object columns to text ---------------------------------------------------------------------------------

_OBJECT_VALUES = st.one_of(
    st.text(max_size=8), st.booleans(), st.none(), st.just(np.nan), st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.lists(st.text(max_size=2), max_size=2),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_OBJECT_VALUES, max_size=12), st.sampled_from(["text", "flags", "mixed"]))
def test_object_to_string_equals_pandas_astype_string(values, kind):
    """Property: the Arrow fast path gives exactly ``astype("string")``: values, missing values, dtype, index."""
    if kind == "text":
        values = [v if isinstance(v, str) or v is None else np.nan for v in values]
    elif kind == "flags":
        values = [v if isinstance(v, bool) or v is None else np.nan for v in values]
    cells = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # element by element so lists stay list cells
        cells[i] = v
    s = pd.Series(cells, index=np.arange(len(values)) * 2, name="in_scope")
    pd.testing.assert_series_equal(output._object_to_string(s), s.astype("string"))


def test_object_to_string_hand_cases():
    s = pd.Series(np.array([True, np.nan, False, None], dtype=object), name="exempt")
    assert output._object_to_string(s).tolist() == ["True", pd.NA, "False", pd.NA]
    names = pd.Series(np.array(["浙江新顺机械有限公司", np.nan], dtype=object))
    assert output._object_to_string(names).tolist() == ["浙江新顺机械有限公司", pd.NA]


def test_gpkg_ready_columns():
    ready = gpkg_ready(_parcels())
    assert ready.columns[0] == "parcel_id" and ready.geometry.name == "geometry"
    assert ready["idle"].dtype == "boolean" and ready["low_flag"].tolist()[:3] == [True, pd.NA, False]
    assert ready["in_scope"].dtype == "boolean"
    assert ready["in_scope"].tolist() == [True, False, pd.NA, True]
    assert ready["supply_date"].dtype.kind == "M"  # date-times unless arrow_dates
    assert str(gpkg_ready(_parcels(), arrow_dates=True)["supply_date"].dtype) == "date32[day][pyarrow]"
    assert ready["firm_names"].tolist() == ["浙江新顺机械有限公司", "甲厂、乙公司", pd.NA, pd.NA]
    assert ready["land_use"].dtype == "string" and ready["grade"].tolist()[:2] == ["A", "B"]
    assert ready["block_id"].dtype == "Int64"


# --- the language of text columns, the CSV writer, the writers side by side --------------------------------


def _bilingual_firms() -> gpd.GeoDataFrame:
    firms = _firms()
    firms["reason_zh"] = ["亩均税收低于1万元/亩", None]
    firms["reason_en"] = ["tax per mu below 1", None]
    firms["label_en"] = ["kept: no Chinese twin", "x"]
    return firms


def test_other_language_columns_are_only_translations():
    firms = _bilingual_firms()
    assert output.other_language_columns(firms, "zh") == ["reason_en"]
    assert output.other_language_columns(firms, "en") == ["reason_zh"]
    assert output.other_language_columns(firms, None) == [] and output.other_language_columns(firms, "both") == []


def test_geopackage_and_firms_csv_keep_the_text_of_the_language_asked(tmp_path):
    result = _result(firms=_bilingual_firms())
    path = write_results_gpkg(result, tmp_path / "results.gpkg", lang="zh")
    firms = pyogrio.read_dataframe(path, layer="firms", read_geometry=False)
    assert "reason_zh" in firms and "reason_en" not in firms and "label_en" in firms
    assert firms["reason_zh"].tolist()[0] == "亩均税收低于1万元/亩"
    assert "reason_en" in pyogrio.read_dataframe(write_results_gpkg(result, tmp_path / "all.gpkg"), layer="firms")
    csv = pd.read_csv(output.write_tables(result, tmp_path, lang="en")["firms_csv"], encoding="utf-8-sig")
    assert list(csv.columns) == ["uscc", "name", "tax", "tenant", "reason_en", "label_en"]


def test_write_csv_reads_back_as_pandas_wrote_it(tmp_path):
    frame = pd.DataFrame(
        {
            "tax": [104.86, np.nan, 2021.0],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "plain": [True, False, True],
            "objects": np.array([True, np.nan, False], dtype=object),
            "day": pd.to_datetime(["2019-05-01", None, "2020-01-02"]),
            "moment": pd.to_datetime(["2019-05-01 08:30", None, "2020-01-02 00:00"]),
            "text": pd.array(['甲,"厂"', None, ""], dtype="str"),
            "lists": [["a", "b"], None, []],
            "grade": pd.Categorical(["A", None, "D"]),
        },
        index=pd.Index(["913308275449522029", "91330827238821538K", "x"], name="uscc"),
    )
    path = output.write_csv(frame, tmp_path / "t.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw[3:].decode("utf-8").splitlines()
    assert lines[0] == '"uscc","tax","n","flag","plain","objects","day","moment","text","lists","grade"'
    assert lines[1] == ('"913308275449522029",104.86,1,"True","True","True",2019-05-01,"2019-05-01 08:30:00",'
                        '"甲,""厂""","[\'a\', \'b\']","A"')
    assert lines[2] == '"91330827238821538K",,,,"False",,,,,,'
    assert lines[3].startswith('"x",2021,3,"False","True","False",2020-01-02,"2020-01-02 00:00:00","",')
    ours = pd.read_csv(path, encoding="utf-8-sig", dtype={"uscc": str})
    frame.to_csv(tmp_path / "pandas.csv", encoding="utf-8-sig")
    theirs = pd.read_csv(tmp_path / "pandas.csv", encoding="utf-8-sig", dtype={"uscc": str})
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    assert not list(tmp_path.glob(".*part*"))


def test_write_outputs_reports_each_writer_done(tmp_path):
    calls = []
    written = output.write_outputs(_result(), tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert {"results", "workbook", "firms_csv"} <= set(written)
    assert all(Path(p).is_file() for p in written.values())


def test_a_time_of_day_keeps_a_column_date_time():
    """Arrow's cast to date32 drops a time of day silently: the check is on the values."""
    frame = gpd.GeoDataFrame({"at": pd.to_datetime(["2019-05-01 08:30", None]),
                              "day": pd.to_datetime(["2019-05-01", None])}, geometry=[Point(0, 0)] * 2, crs=CRS)
    ready = gpkg_ready(frame, arrow_dates=True)
    assert ready["at"].dtype == frame["at"].dtype and ready["at"].iloc[0] == pd.Timestamp("2019-05-01 08:30")
    assert str(ready["day"].dtype) == "date32[day][pyarrow]"

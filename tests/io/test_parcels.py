"""Reading parcel layers: formats, layers, encodings, column aliases and CRS handling."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import box

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import CRSError, InputError
from gisefficiency.io.parcels import _id_text, read_parcels, shapefile_encoding
from gisefficiency.io.values import as_text
from gisefficiency.land import prepare_parcels

ENGINES = ("pyogrio", "fiona")

# Writing a layer without a CRS on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
X0, Y0 = 560_000.0, 3_100_000.0
NAMES = ["温州市龙湾区某某机械有限公司", "浙江省瑞安市测试汽配厂", "乐清市电气股份有限公司"]


def parcels_4549(n: int = 3, **columns) -> gpd.GeoDataFrame:
    geoms = [box(X0 + 100 * k, Y0, X0 + 100 * k + 60, Y0 + 50) for k in range(n)]
    data = {"宗地号": [f"330302{k:03d}" for k in range(n)], **columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4549")


@pytest.mark.parametrize("engine", ENGINES)
def test_geopackage_aliases_and_ids(tmp_path, engine):
    path = tmp_path / "p.gpkg"
    parcels_4549(**{"证载面积（平方米）": [3000.0, None, 2900.5], "权利人名称": NAMES, "土地用途": ["工业"] * 3,
                    "供地日期": ["2017-03-01", "2018/1/1", None]}).to_file(path, engine="pyogrio")
    out = read_parcels(path, engine=engine)
    assert out.index.name == "parcel_id"
    assert out.index.tolist() == ["330302000", "330302001", "330302002"]
    assert out["src_row"].tolist() == [1, 2, 3]
    assert out["cert_area_m2"].tolist()[0] == 3000.0 and math.isnan(out["cert_area_m2"].iloc[1])
    assert out["land_use"].tolist() == ["工业"] * 3
    assert out["权利人名称"].tolist() == NAMES  # extra columns kept
    assert out["supply_date"].tolist()[:2] == [pd.Timestamp("2017-03-01"), pd.Timestamp("2018-01-01")]
    assert out.crs.to_epsg() == 4549


def test_numeric_ids_are_text_and_user_aliases(tmp_path):
    path = tmp_path / "p.gpkg"
    frame = parcels_4549()
    frame["DKBH"] = [1001, 1002, 1003]
    frame["MJ_MU"] = [4.5, 4.5, 4.5]
    frame.drop(columns="宗地号").to_file(path)
    out = read_parcels(path, id_column="DKBH", aliases={"MJ_MU": "cert_area_mu_given"})
    assert out.index.tolist() == ["1001", "1002", "1003"]
    assert "cert_area_mu_given" in out


def test_bracketed_unit_mu_is_converted_to_m2(tmp_path):
    path = tmp_path / "p.gpkg"
    parcels_4549(**{"证载面积(亩)": [4.5, 3.0, None]}).to_file(path)
    out = read_parcels(path)
    assert out["cert_area_m2"].iloc[0] == pytest.approx(4.5 * M2_PER_MU)
    assert out["cert_area_m2"].iloc[1] == pytest.approx(2000.0)


def test_text_numbers_and_bad_values(tmp_path):
    path = tmp_path / "p.gpkg"
    parcels_4549(**{"证载面积": ["1,234.5", "—", "约3000"]}).to_file(path)
    with pytest.raises(InputError, match=r"row 3, column '证载面积', value '约3000': not a number"):
        read_parcels(path)


def test_missing_id_column_names_the_columns(tmp_path):
    path = tmp_path / "p.gpkg"
    parcels_4549(权利人=NAMES).rename(columns={"宗地号": "编号X"}).to_file(path)
    with pytest.raises(InputError, match=r"no parcel id column 'parcel_id'; columns found: 编号X, 权利人"):
        read_parcels(path)


def test_missing_id_values(tmp_path):
    path = tmp_path / "p.gpkg"
    frame = parcels_4549()
    frame.loc[1, "宗地号"] = None
    frame.to_file(path)
    with pytest.raises(InputError, match=r"1 parcel\(s\) without an id in column '宗地号', rows 2"):
        read_parcels(path)


def test_two_columns_for_one_meaning(tmp_path):
    path = tmp_path / "p.gpkg"
    parcels_4549(用途=["工业"] * 3, 地类=["仓储"] * 3).to_file(path)
    with pytest.raises(InputError, match=r"columns '用途', '地类' all map to 'land_use'"):
        read_parcels(path)


@pytest.mark.parametrize("engine", ENGINES)
def test_layers(tmp_path, engine):
    path = tmp_path / "two.gpkg"
    parcels_4549().to_file(path, layer="宗地1")
    parcels_4549(2).to_file(path, layer="roads", mode="a")
    with pytest.raises(InputError, match=r"2 layers \('宗地1', 'roads'\).*set layer = \"宗地1\""):
        read_parcels(path, engine=engine)
    with pytest.raises(InputError, match=r"no layer 'parcels'; layers are '宗地1', 'roads'"):
        read_parcels(path, layer="parcels", engine=engine)
    assert len(read_parcels(path, layer="roads", engine=engine)) == 2
    # Exactly one layer named like parcels: taken without asking.
    parcels_4549(4).to_file(path, layer="parcels", mode="a")
    assert len(read_parcels(path, engine=engine)) == 4


@pytest.mark.parametrize("suffix", [".geojson", ".fgb", ".parquet"])
def test_other_formats(tmp_path, suffix):
    path = tmp_path / f"p{suffix}"
    frame = parcels_4549(权利人=NAMES)
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    out = read_parcels(path).sort_index()  # FlatGeobuf stores features in its spatial index's order
    assert out.index.tolist() == ["330302000", "330302001", "330302002"]
    assert out["权利人"].tolist() == NAMES
    assert sorted(out["src_row"]) == [1, 2, 3]
    assert out.crs.to_epsg() == 4549


def _gbk_shapefile(tmp_path, encoding="gbk"):
    path = tmp_path / "gbk.shp"
    parcels_4549(权利人=NAMES, 地类=["工业用地", "仓储用地", "工业用地"]).to_file(path, encoding=encoding,
                                                                            engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    return path


@pytest.mark.parametrize("engine", ENGINES)
def test_gbk_shapefile_without_cpg_reads_chinese(tmp_path, engine):
    path = _gbk_shapefile(tmp_path)
    assert not path.with_suffix(".cpg").exists()
    assert shapefile_encoding(path) == "gb18030"
    out = read_parcels(path, engine=engine)
    assert out["权利人"].tolist() == NAMES
    assert out["land_use"].tolist() == ["工业用地", "仓储用地", "工业用地"]
    assert out.index.tolist() == ["330302000", "330302001", "330302002"]


@pytest.mark.parametrize("engine", ENGINES)
def test_utf8_shapefile_without_cpg(tmp_path, engine):
    path = _gbk_shapefile(tmp_path, encoding="utf-8")
    assert shapefile_encoding(path) == "utf-8"
    assert read_parcels(path, engine=engine)["权利人"].tolist() == NAMES


@pytest.mark.parametrize("engine", ENGINES)
def test_explicit_encoding_wins(tmp_path, monkeypatch, engine):
    path = _gbk_shapefile(tmp_path)

    def no_detection(path):
        raise AssertionError("detection must not run when encoding is given")

    monkeypatch.setattr("gisefficiency.io.parcels.shapefile_encoding", no_detection)
    assert read_parcels(path, encoding="gbk", engine=engine)["权利人"].tolist() == NAMES


def test_encoding_of_missing_dbf(tmp_path):
    assert shapefile_encoding(tmp_path / "missing.shp") is None


def test_cpg_is_honoured(tmp_path):
    path = tmp_path / "cpg.shp"
    parcels_4549(权利人=NAMES).to_file(path, encoding="gbk", engine="pyogrio")
    assert path.with_suffix(".cpg").exists() and shapefile_encoding(path) is None
    assert read_parcels(path)["权利人"].tolist() == NAMES


@pytest.mark.parametrize(
    ("shift", "match"),
    [
        (40_000_000, r'zone prefix 40.*EPSG:4528\?.*crs = "EPSG:4528" under \[parcels\]'),
        (0, r'without zone prefix.*EPSG:4549 for CM 120°E.*crs = "EPSG:4549" under \[parcels\]'),
    ],
)
def test_no_crs_explains_the_coordinates(tmp_path, shift, match):
    path = tmp_path / "nocrs.gpkg"
    frame = parcels_4549()
    frame.geometry = frame.geometry.translate(shift)
    frame.set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(CRSError, match=match):
        read_parcels(path)
    assert read_parcels(path, crs="EPSG:4528" if shift else "EPSG:4549").crs.to_epsg() in (4528, 4549)


def test_no_crs_lonlat(tmp_path):
    path = tmp_path / "nocrs.geojson"
    parcels_4549().to_crs(4490).set_crs(None, allow_override=True).to_file(path, driver="GeoJSON")
    # GeoJSON without a crs member is WGS-84 by specification; write a FlatGeobuf to really drop it.
    fgb = tmp_path / "nocrs.fgb"
    parcels_4549().to_crs(4490).set_crs(None, allow_override=True).to_file(fgb)
    with pytest.raises(CRSError, match=r'looks like lon/lat degrees.*crs = "EPSG:4490"'):
        read_parcels(fgb)
    assert read_parcels(fgb, crs="EPSG:4490").crs.to_epsg() == 4549


def test_crs_contradicting_coordinates(tmp_path):
    path = tmp_path / "wrong.gpkg"
    parcels_4549().to_crs(4490).set_crs(4549, allow_override=True).to_file(path)
    with pytest.raises(CRSError, match=r"says CGCS2000 / 3-degree Gauss-Kruger CM 120E \(metres\) but .* lon/lat"):
        read_parcels(path)
    with pytest.raises(CRSError, match=r"cannot understand crs 'EPSG:99999'"):
        read_parcels(path, crs="EPSG:99999")


def test_web_mercator_is_reprojected(tmp_path):
    path = tmp_path / "merc.gpkg"
    parcels_4549().to_crs(3857).to_file(path)
    out = read_parcels(path)
    assert out.crs.to_epsg() == 4549
    np.testing.assert_allclose(out.area, 3000.0, rtol=1e-6)


def _geodesic_m2(geoms_lonlat) -> np.ndarray:
    geod = Geod(ellps="GRS80")  # CGCS2000's ellipsoid (differs from GRS80 by 0.1 mm)
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms_lonlat])


@pytest.mark.parametrize("lon", [118.2, 120.1, 122.3])
@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4326"])
def test_lonlat_area_within_a_thousandth_of_geodesic(tmp_path, lon, crs):
    lats = np.linspace(27.2, 31.0, 5)
    # Parcels of about 100 x 150 m, and one of about 1 x 1 km, across Zhejiang's latitudes.
    geoms = [box(lon + 0.01 * k, lat, lon + 0.01 * k + 0.001, lat + 0.0014) for k, lat in enumerate(lats)]
    geoms.append(box(lon, 29.0, lon + 0.01, 29.009))
    frame = gpd.GeoDataFrame({"parcel_id": [f"L{k}" for k in range(len(geoms))]}, geometry=geoms, crs=crs)
    path = tmp_path / "lonlat.gpkg"
    frame.to_file(path)
    out = prepare_parcels(read_parcels(path))
    assert out.crs.is_projected and out.crs.to_epsg() in (4548, 4549, 4550)
    expected_mu = _geodesic_m2(geoms) / M2_PER_MU
    np.testing.assert_allclose(out["area_mu"].to_numpy(), expected_mu, rtol=1e-3)


def test_lonlat_zone_from_median_longitude(tmp_path):
    geoms = [box(lon, 28.0, lon + 0.001, 28.001) for lon in (120.6, 120.7, 122.4)]
    path = tmp_path / "mixed.gpkg"
    gpd.GeoDataFrame({"parcel_id": ["a", "b", "c"]}, geometry=geoms, crs=4490).to_file(path)
    out = prepare_parcels(read_parcels(path))
    assert out.crs.to_epsg() == 4549
    # Even 2.4° from the central meridian the area stays within 0.2 %.
    np.testing.assert_allclose(out["area_mu"], _geodesic_m2(geoms) / M2_PER_MU, rtol=2e-3)


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match=r"parcel file not found -> check \[parcels\] path"):
        read_parcels(tmp_path / "nope.gpkg")
    bad = tmp_path / "p.dwg"
    bad.write_bytes(b"x")
    with pytest.raises(InputError, match=r"unknown parcel format '.dwg'"):
        read_parcels(bad)
    with pytest.raises(InputError, match=r"unknown engine 'gdal'"):
        read_parcels(bad, engine="gdal")
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"not a geopackage")
    with pytest.raises(InputError, match=r"cannot open the parcel file"):
        read_parcels(broken)


def test_does_not_reorder_or_drop_rows(tmp_path):
    path = tmp_path / "p.gpkg"
    frame = parcels_4549(5)
    frame.loc[2, "geometry"] = None
    frame.to_file(path)
    out = read_parcels(path)
    assert out["src_row"].tolist() == [1, 2, 3, 4, 5]
    assert shapely.is_missing(out.geometry.to_numpy()).sum() == 1


def test_reads_the_sample_county(tmp_path):
    """The generator's files (GBK shapefile without .cpg, title-row workbook) read as the GeoPackage does."""
    from gisefficiency.io.tables import read_firms, read_land
    from gisefficiency.sample import generate_county, write_sample

    written = write_sample(generate_county(300, with_raster=False), tmp_path, raster=False,
                           formats=("gpkg", "shp", "xlsx", "csv"))
    gpkg = read_parcels(written["parcels"])  # two layers, one named "parcels"
    for engine in ENGINES:
        shp = read_parcels(written["parcels_gbk"], engine=engine)
        assert shp.index.equals(gpkg.index)
        assert shp["street"].equals(gpkg["street"]) and shp["street"].str.contains("街道|镇|乡").any()
    firms = read_firms(written["firms"])
    assert firms["src_row"].min() >= 3 and firms["uscc"].notna().all()
    land = read_land(written["land"])
    assert set(land["kind"]) <= {"own", "leased"}


# Ids as files hold them: plain codes, padded, full-width, missing-value texts, Chinese, empty cells.
_ID_CELLS = st.one_of(
    st.none(), st.sampled_from(["", " ", "—", "nan", "NULL", "-", "Ａ１", "宗地1", "  330302001 ", "\t7\n", "1.0"]),
    st.text(alphabet="0123456789ABCDEFGHJKXYZ-_ ", max_size=12),
    st.text(max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_ID_CELLS, max_size=30), st.sampled_from(["str", "string", "object"]))
def test_id_text_is_as_text(cells, dtype):
    """The shortcut for plain ids gives exactly what as_text gives, for every kind of cell."""
    values = pd.Series(cells, dtype=dtype, index=pd.RangeIndex(3, 3 + len(cells)), name="parcel_id")
    pd.testing.assert_series_equal(_id_text(values), as_text(values), check_exact=True)


def test_plain_ids_skip_the_per_id_work(monkeypatch):
    """ASCII ids without spaces or missing-value texts are taken as they are, not hashed and folded."""
    import gisefficiency.io.values as values_module

    calls = []
    unique = values_module._unique
    monkeypatch.setattr(values_module, "_unique", lambda v: calls.append(len(v)) or unique(v))
    plain = pd.Series(["330302001", "330302002", None], dtype="str")
    assert _id_text(plain).tolist() == ["330302001", "330302002", pd.NA] and calls == []
    padded = pd.Series([" 330302001", "Ａ2"], dtype="str")
    assert _id_text(padded).tolist() == ["330302001", "A2"] and calls == [2]
    missing_text = pd.Series(["330302001", "--"], dtype="str")
    assert _id_text(missing_text).tolist() == ["330302001", pd.NA] and calls == [2, 2]
    assert _id_text(plain).tolist() == as_text(plain.astype(object)).tolist()


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet"])
def test_ids_are_folded_in_both_readers(tmp_path, suffix):
    path = tmp_path / f"p{suffix}"
    frame = parcels_4549(4)
    frame["宗地号"] = [" 330302001", "３３０３０２００２", "330302003\t", "330302004"]
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_file(path)
    out = read_parcels(path)
    assert out.index.tolist() == ["330302001", "330302002", "330302003", "330302004"]
    assert out.index.dtype == pd.StringDtype()


def test_binary_attribute_field_stays_bytes(tmp_path):
    """The WKB column is kept in Arrow on the way to shapely; a binary attribute field still reads as bytes."""
    import pyarrow as pa
    import pyogrio

    path = tmp_path / "p.gpkg"
    frame = parcels_4549(3)
    table = pa.table({"宗地号": frame["宗地号"].tolist(),
                      "附件": pa.array([b"\x00\x01", None, "图".encode()], pa.binary()),
                      "geometry": pa.array(shapely.to_wkb(frame.geometry.to_numpy()), pa.binary())})
    pyogrio.write_arrow(table, path, driver="GPKG", geometry_name="geometry", geometry_type="Polygon",
                        crs="EPSG:4549")
    assert pyogrio.read_info(path)["fields"].tolist() == ["宗地号", "附件"]
    out = read_parcels(path)
    plain = pyogrio.read_dataframe(path, use_arrow=False)
    assert out["附件"].dtype == object and plain["附件"].dtype == object
    assert out["附件"].tolist() == plain["附件"].tolist() == [b"\x00\x01", None, "图".encode()]
    assert shapely.equals(out.geometry.to_numpy(), plain.geometry.to_numpy()).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_and_missing_geometries_do_not_disturb_the_crs(tmp_path, engine):
    """The extent that checks and picks the CRS skips null and empty geometries."""
    path = tmp_path / "p.gpkg"
    frame = parcels_4549(4).to_crs(4490)
    frame.loc[1, "geometry"] = None
    frame.loc[2, "geometry"] = shapely.Polygon()
    frame.to_file(path)
    out = read_parcels(path, engine=engine)
    assert out.crs.to_epsg() == 4549  # CM 120E zone of lon 120.6
    assert out.geometry.iloc[0].area == pytest.approx(3000.0, rel=1e-3)
    nothing = tmp_path / "none.gpkg"
    frame.assign(geometry=None).set_crs(None, allow_override=True).to_file(nothing)
    with pytest.raises(CRSError, match="the layer has no CRS"):
        read_parcels(nothing, engine=engine)


def test_geoparquet_dates_parse_in_arrow_and_extra_dates_stay_python_dates(tmp_path):
    """Arrow date columns skip the text parser; values, problems and extra columns are as before."""
    import datetime as dt

    path = tmp_path / "p.parquet"
    frame = parcels_4549(3)
    frame["供地日期"] = [dt.date(2017, 3, 1), None, dt.date(1969, 12, 31)]
    frame["发证日期"] = [dt.date(2020, 1, 2), None, dt.date(2021, 5, 6)]
    frame.to_parquet(path)
    out = read_parcels(path)
    assert out["supply_date"].dtype == "datetime64[ns]"
    assert out["supply_date"].tolist()[0] == pd.Timestamp("2017-03-01") and pd.isna(out["supply_date"].iloc[1])
    assert out["supply_date"].iloc[2] == pd.Timestamp("1969-12-31")
    assert out["发证日期"].dtype == object and out["发证日期"].tolist() == [dt.date(2020, 1, 2), None, dt.date(2021, 5, 6)]
    frame["供地日期"] = [dt.date(2017, 3, 1), dt.date(1500, 1, 1), None]
    frame.to_parquet(path)
    with pytest.raises(InputError, match=r"unreadable parcel value") as info:
        read_parcels(path)
    assert [(p.row, p.value) for p in info.value.problems] == [(2, dt.date(1500, 1, 1))]


# --- Shapefile field names cut at 10 bytes (issue 15, item 15) ---

def _cut_shapefile(tmp_path, *, cpg: bool = True):
    """A UTF-8 Shapefile written by GDAL from long Chinese headers: 地块编号 is 12 bytes, cut to 10."""
    import warnings

    path = tmp_path / "宗地.shp"
    frame = gpd.GeoDataFrame({"地块编号": ["A1", "A2"], "证载面积(平方米)": [3000.0, 2500.0], "街道": ["东城", "西城"]},
                             geometry=[box(X0, Y0, X0 + 60, Y0 + 50), box(X0 + 100, Y0, X0 + 160, Y0 + 50)],
                             crs="EPSG:4549")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL's own "laundered field name" warnings
        frame.to_file(path, encoding="UTF-8", engine="pyogrio")
    if not cpg:
        path.with_suffix(".cpg").unlink()
    return path


@pytest.mark.parametrize("cpg", [True, False])
def test_cut_field_names_are_named_with_the_fix(tmp_path, cpg):
    from gisefficiency.io.parcels import cut_field_names

    path = _cut_shapefile(tmp_path, cpg=cpg)
    assert [name for _, _, name in cut_field_names(path)] == ["地块编", "证载面"]
    assert shapefile_encoding(path) == (None if cpg else "utf-8")  # a cut name is no reason to guess GB18030
    with pytest.raises(InputError, match=r"宗地\.shp: no parcel id column 'parcel_id'; columns found: 地块编, 证载面, "
                                         r"街道 -> the Shapefile format cut the field names below to 10 bytes") as info:
        read_parcels(path)
    first, second = info.value.problems
    assert first.file == str(path) and first.column == "地块编" and first.severity == "error"  # validate: unusable
    assert first.message == ("field name cut to 10 bytes by the Shapefile format (probably 地块编号: parcel_id); "
                             "not used")
    assert first.fix.startswith('set id = "地块编" under [parcels], or export the layer as GeoPackage')
    assert second.column == "证载面" and "(probably 证载面积: cert_area_m2)" in second.message
    assert second.fix.startswith('add "证载面" = "cert_area_m2" under [parcels.aliases]')


@pytest.mark.parametrize("engine", ENGINES)
def test_cut_field_names_read_with_the_suggested_fix(tmp_path, caplog, engine):
    path = _cut_shapefile(tmp_path)
    with caplog.at_level("WARNING", logger="gisefficiency.io.parcels"):
        out = read_parcels(path, id_column="地块编", engine=engine)
    assert out.index.tolist() == ["A1", "A2"] and out["street"].tolist() == ["东城", "西城"]
    assert "column '证载面': field name cut to 10 bytes" in caplog.text and "地块编'" not in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="gisefficiency.io.parcels"):
        out = read_parcels(path, aliases={"地块编": "parcel_id", "证载面": "cert_area_m2"}, engine=engine)
    assert out["cert_area_m2"].tolist() == [3000.0, 2500.0] and "cut" not in caplog.text
    assert not list(tmp_path.glob("gisefficiency-*"))  # the mended copy is gone


def test_english_names_cut_at_ten_characters_are_named_not_dropped(tmp_path, caplog):
    # "cert_area_m2" decodes fine when cut to "cert_area_": only its length and the name it begins tell.
    import warnings

    path = tmp_path / "parcels.shp"
    frame = gpd.GeoDataFrame({"parcel_id": ["A1"], "cert_area_m2": [3000.0], "street_nam": ["东城"]},
                             geometry=[box(X0, Y0, X0 + 60, Y0 + 50)], crs="EPSG:4549")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL's own "normalized/laundered field name" warnings
        frame.to_file(path, encoding="UTF-8", engine="pyogrio")
    with caplog.at_level("WARNING", logger="gisefficiency.io.parcels"):
        out = read_parcels(path)
    assert "cert_area_m2" not in out.columns
    assert ("column 'cert_area_': field name cut to 10 bytes by the Shapefile format "
            "(probably cert_area_m2); not used") in caplog.text
    assert "street_nam" not in caplog.text  # ten characters but the start of no known name: left as it is
    out = read_parcels(path, aliases={"cert_area_": "cert_area_m2"})
    assert out["cert_area_m2"].tolist() == [3000.0]


def test_reading_messages_name_the_file(tmp_path):
    path = tmp_path / "far.geojson"
    gpd.GeoDataFrame({"parcel_id": ["Z1"]}, geometry=[box(10.0, 50.0, 10.01, 50.01)], crs="EPSG:4326").to_file(path)
    with pytest.raises(CRSError, match=r"far\.geojson: longitude 10\.005°E is outside China"):
        read_parcels(path)
    with pytest.raises(InputError, match=r"far\.geojson: unknown engine 'gdal' -> set engine under \[parcels\]"):
        read_parcels(path, engine="gdal")


def test_names_cut_by_another_program_are_named_too(tmp_path):
    # A tool that re-saved the cut file wrote the broken character as "?" or U+FFFD.
    path = tmp_path / "p.gpkg"
    parcels_4549(**{"证载面?": [1.0, 2.0, 3.0]}).rename(columns={"宗地号": "地块编\ufffd"}).to_file(path)
    with pytest.raises(InputError, match=r"cut the field names below to 10 bytes") as info:
        read_parcels(path)
    assert [p.column for p in info.value.problems] == ["地块编\ufffd", "证载面?"]
    assert "(probably 地块编号: parcel_id)" in info.value.problems[0].message
    out = read_parcels(path, aliases={"地块编\ufffd": "parcel_id", "证载面?": "cert_area_m2"})
    assert out.index.tolist() == ["330302000", "330302001", "330302002"] and out["cert_area_m2"].tolist() == [1, 2, 3]


def test_utf8_names_read_as_gbk_are_named(tmp_path, caplog):
    path = _cut_shapefile(tmp_path, cpg=False)
    with pytest.raises(InputError, match=r"no parcel id column .* -> the field names are UTF-8 read in another "
                                         r"encoding: set encoding = \"utf-8\" under \[parcels\]") as info:
        read_parcels(path, encoding="gbk")
    texts = [str(p) for p in info.value.problems]
    assert any("is UTF-8 '地块编' read as gbk -> set encoding = \"utf-8\" under [parcels]" in t for t in texts)
    assert any("is UTF-8 '街道' read as gbk" in t for t in texts) and len(texts) == 3
    assert {p.severity for p in info.value.problems} == {"error"}
    # With the id found, the same names are warnings.
    with caplog.at_level("WARNING", logger="gisefficiency.io.parcels"):
        # The id field as GBK shows its 10 UTF-8 bytes: the mojibake a user would see and copy.
        out = read_parcels(path, encoding="gbk", id_column="地块编号".encode()[:10].decode("gb18030"))
    assert out.index.tolist() == ["A1", "A2"]
    assert "is UTF-8 '街道' read as gbk" in caplog.text

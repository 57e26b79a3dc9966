"""The sample county generator: every property the issue asks for, on a small county."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.crs import gcj02_to_wgs84
from gisefficiency.core.errors import ConfigError, InputError
from gisefficiency.core.schema import FIRM_COLUMNS, PARCEL_COLUMNS
from gisefficiency.core.uscc import USCC_CHARSET, is_valid_uscc
from gisefficiency.io.columns import alias_lookup, match_header
from gisefficiency.sample import (
    FIRM_HEADERS,
    LAND_HEADERS,
    PARCEL_HEADERS,
    PARCEL_HEADERS_SHP,
    generate_county,
    write_sample,
)
from gisefficiency.sample._names import STREETS
from gisefficiency.sample._write import FIRM_TITLE

N = 800


@pytest.fixture(scope="module")
def county():
    return generate_county(N, seed=7)


@pytest.fixture(scope="module")
def written(county, tmp_path_factory):
    return write_sample(county, tmp_path_factory.mktemp("sample"))


def _firm_land_mu(county):
    """Land (mu) per holder from the parcel table: certificate area, else drawn."""
    p = county.parcels
    area = p["cert_area_m2"].fillna(pd.Series(shapely.area(p.geometry.values), index=p.index)) / M2_PER_MU
    return area.groupby(p["holder_uscc"]).sum()


# --- determinism, CRS, layout -------------------------------------------------------------------


def test_same_seed_same_county_other_seed_differs():
    a, b = generate_county(150, seed=5, with_raster=False), generate_county(150, seed=5, with_raster=False)
    assert_geodataframe_equal(a.parcels, b.parcels, check_crs=True)
    pd.testing.assert_frame_equal(a.firms, b.firms)
    pd.testing.assert_frame_equal(a.land, b.land)
    c = generate_county(150, seed=6, with_raster=False)
    assert not c.parcels.geometry.geom_equals(a.parcels.geometry).all()
    assert a.height is None


def test_crs_place_and_columns(county):
    p = county.parcels
    assert len(p) == N
    assert p.crs.to_epsg() == 4549
    assert list(p.columns) == [*PARCEL_COLUMNS, "geometry"]
    bounds = np.asarray(p.total_bounds)
    lon, lat = Transformer.from_crs(4549, 4490, always_xy=True).transform((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    assert abs(lon - 119.3) < 0.3 and abs(lat - 28.6) < 0.3
    # Every parcel inside the CM 120°E 3° zone (118.5-121.5°E).
    lons, _ = Transformer.from_crs(4549, 4490, always_xy=True).transform(*np.asarray(p.total_bounds).reshape(2, 2).T)
    assert lons.min() > 118.5 and lons.max() < 121.5
    # Coordinates rounded to 0.01 m.
    xy = shapely.get_coordinates(p.geometry.values)
    assert np.allclose(xy * 100, np.round(xy * 100), atol=1e-6)
    assert set(p["street"]) == set(STREETS)


def test_parcel_sizes_within_3_to_200_mu(county):
    p = county.parcels
    ok = shapely.is_valid(p.geometry.values)
    mu = shapely.area(p.geometry.values[ok]) / M2_PER_MU
    assert mu.min() >= 3.0 and mu.max() <= 200.0
    assert 8.0 < np.median(mu) < 30.0


def test_roads_between_blocks_are_15_to_40_m(county):
    p, block = county.parcels, county.truth_parcels["block"].to_numpy()
    geoms = p.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=45.0)
    other = block[left] != block[right]
    gaps = shapely.distance(geoms[left[other]], geoms[right[other]])
    # No two blocks closer than the narrowest road; nearest neighbouring blocks 15-40 m apart.
    assert gaps.min() >= 15.0 - 0.02
    # Each complete block has a side neighbour across one road (the last block may be cut short).
    nearest = pd.Series(gaps).groupby(block[left[other]]).min().drop(block.max(), errors="ignore")
    assert nearest.max() <= 40.0 + 0.02
    assert nearest.min() < 20.0 and nearest.max() > 30.0
    # Inside a block parcels touch (gap at float level only).
    same = (block[left] == block[right]) & (left < right)
    inner = shapely.distance(geoms[left[same]], geoms[right[same]])
    assert (inner < 0.02).sum() >= (block.size - np.unique(block).size)


def test_t_junctions_and_float_level_non_noding(county):
    geoms = county.parcels.geometry.values
    corners = shapely.points(shapely.get_coordinates(geoms))
    owner = np.repeat(np.arange(len(geoms)), 5)
    pt, poly = shapely.STRtree(geoms).query(corners, predicate="dwithin", distance=0.02)
    other = owner[pt] != poly
    dist_to_edge = shapely.distance(corners[pt[other]], shapely.boundary(geoms[poly[other]]))
    vertices = shapely.multipoints(shapely.get_coordinates(geoms[poly[other]]).reshape(-1, 5, 2))
    dist_to_vertex = shapely.distance(corners[pt[other]], vertices)
    t_junction = (dist_to_edge < 0.02) & (dist_to_vertex > 1.0)
    assert t_junction.sum() > 20
    # Rounded cut ends lie off their neighbour's edge by a few millimetres.
    assert ((dist_to_edge[t_junction] > 0) & (dist_to_edge[t_junction] < 0.01)).any()


# --- parcel attributes and quirks ----------------------------------------------------------------


def test_parcel_ids_and_exactly_one_duplicate(county):
    ids = county.parcels["parcel_id"].astype(str)
    assert ids.str.fullmatch(r"330827-00[1-5]-\d{4}").all()
    counts = ids.value_counts()
    assert (counts > 1).sum() == 1 and counts.max() == 2


def test_bow_tie_polygons(county):
    geoms = county.parcels.geometry.values
    invalid = ~shapely.is_valid(geoms)
    assert invalid.sum() >= 3
    assert np.array_equal(invalid, county.truth_parcels["bow_tie"].to_numpy())
    assert all("Self-intersection" in r for r in shapely.is_valid_reason(geoms[invalid]))


def test_parcel_attributes(county):
    p = county.parcels
    use = p["land_use"].value_counts(normalize=True)
    assert use["工业"] > 0.7 and {"仓储", "商服"} <= set(use.index)
    dates = p["supply_date"]
    assert dates.min() >= pd.Timestamp("1995-01-01") and dates.max() <= pd.Timestamp("2022-12-31")
    after = (dates >= pd.Timestamp("2021-01-01")).mean()
    assert 0.0 < after < 0.15
    drawn = shapely.area(p.geometry.values)
    ok = shapely.is_valid(p.geometry.values) & p["cert_area_m2"].notna().to_numpy()
    diff = np.abs(p["cert_area_m2"].to_numpy()[ok] / drawn[ok] - 1.0)
    assert (diff <= 0.0301).mean() > 0.9 and (diff > 0.05).sum() >= 3
    assert p["floor_area_m2"].isna().sum() > 0 and p["floor_area_m2"].notna().mean() > 0.85
    assert (p["building_height_m"] >= 0).all()
    assert p["holder_uscc"].dropna().map(lambda c: is_valid_uscc([c])[0]).all()
    assert (p["holder_uscc"].value_counts() > 1).any()  # firms on several parcels


# --- firm panel ------------------------------------------------------------------------------------


def test_firm_panel_columns_codes_and_scale(county):
    f = county.firms
    assert list(f.columns) == list(FIRM_COLUMNS)
    assert set(f["year"]) == {2020, 2021, 2022, 2023}
    assert not f.duplicated(["uscc", "year"]).any()
    assert is_valid_uscc(f["uscc"]).all()
    assert f["industry"].astype(int).between(13, 43).all()
    assert (f["scale"] == np.where(f["revenue"] >= 2000, "above", "below")).all()
    assert set(f["scale"]) == {"above", "below"}
    assert f["name"].str.endswith("公司").all()


def _gb11714_check(body: str) -> str:
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    c = 11 - sum(v * w for v, w in zip(values, [3, 7, 9, 10, 5, 8, 4, 2], strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def test_usccs_carry_valid_organisation_codes(county):
    codes = county.firms["uscc"].drop_duplicates().head(200)
    assert all(set(c) <= set(USCC_CHARSET) for c in codes)
    assert all(c.startswith("91") and _gb11714_check(c[8:16]) == c[16] for c in codes)


def test_tax_per_mu_distribution_fires_every_rule(county):
    f, t = county.firms, county.truth_firms
    y21 = f[f["year"] == 2021].set_index("uscc")
    tpm = y21["tax"] / t.loc[y21.index, "land_mu"]
    assert 6.0 < tpm.median() < 16.0
    assert (tpm < 1).sum() >= 5 and tpm.between(1, 3, inclusive="left").sum() >= 5
    assert tpm.between(3, 5, inclusive="left").sum() >= 5
    big_small = (tpm >= 5) & (t.loc[y21.index, "land_mu"] >= 15) & (y21["scale"] == "below")
    assert big_small.sum() >= 1
    # Some firms are not in production although their land was supplied before 2018.
    assert (~f["in_production"]).sum() > 0


def test_refund_energy_and_year_gaps(county):
    f = county.firms
    assert (f["tax"] < 0).sum() == 1
    missing = f["energy_tce"].isna()
    assert missing.sum() > 0 and (f.loc[missing, "scale"] == "below").all()
    years = f.groupby("uscc")["year"].agg(["min", "max", "count"])
    assert ((years["max"] - years["min"] + 1) > years["count"]).any()  # a year skipped
    assert (years["count"] < 4).sum() > 0
    tax = f.pivot(index="uscc", columns="year", values="tax").dropna()
    assert (tax.std(axis=1) > 0).mean() > 0.95  # year-to-year variation


def test_tenants_multi_parcel_firms_and_idle_parcels(county):
    p, f, land = county.parcels, county.firms, county.land
    holders = set(p["holder_uscc"].dropna())
    leased = land[land["kind"] == "leased"]
    assert len(leased) > 10 and set(land["kind"]) == {"own", "leased"}
    assert not set(leased["uscc"]) & holders  # tenants hold no parcel
    owner_of = p.drop_duplicates("parcel_id").set_index("parcel_id")["holder_uscc"]
    own = land[land["kind"] == "own"]
    assert (own["uscc"].to_numpy() == owner_of.loc[own["parcel_id"]].to_numpy()).all()
    assert (leased.groupby("parcel_id")["floor_area_m2"].sum()
            < owner_of.index.to_series().map(p.drop_duplicates("parcel_id").set_index("parcel_id")["floor_area_m2"])
            .loc[leased["parcel_id"].unique()]).all()
    assert set(leased["uscc"]) <= set(f["uscc"])
    # Multi-parcel firms.
    assert (p["holder_uscc"].value_counts() > 1).sum() >= 10
    # Idle parcels: no panel firm holds them, none is named in the tables, about 5 %.
    panel = set(f["uscc"])
    used = set(f["parcel_id"].dropna()) | set(land["parcel_id"])
    point_parcels = county.truth_parcels["point_firm"].to_numpy()
    idle = ~p["holder_uscc"].isin(panel).to_numpy() & ~p["parcel_id"].isin(used).to_numpy() & ~point_parcels
    assert 0.02 < idle.mean() < 0.09
    assert np.array_equal(idle, county.truth_parcels["idle"].to_numpy())


def test_gcj02_point_firms(county):
    f, p = county.firms, county.parcels
    pts = f[f["coord_sys"] == "gcj02"].drop_duplicates("uscc")
    n_firms = f["uscc"].nunique()
    assert 0.03 < len(pts) / n_firms < 0.08
    assert pts["parcel_id"].isna().all() and not set(pts["uscc"]) & set(p["holder_uscc"].dropna())
    assert f.loc[f["coord_sys"].isna(), ["lon", "lat"]].isna().all().all()
    lon, lat = gcj02_to_wgs84(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    # The GCJ-02 shift around 119.3°E 28.6°N is a few hundred metres.
    shift = np.hypot((pts["lon"] - lon) * 97_700, (pts["lat"] - lat) * 111_000)
    assert shift.between(200, 800).all()
    x, y = Transformer.from_crs(4490, 4549, always_xy=True).transform(lon, lat)
    points = shapely.points(x, y)
    geoms = p.geometry.values
    inside = np.zeros(len(points), dtype=bool)
    inside[shapely.STRtree(geoms).query(points, predicate="intersects")[0]] = True
    near = shapely.STRtree(geoms).query(points, predicate="dwithin", distance=20.0)[0]
    assert (~inside).sum() >= 2  # on the road ...
    assert set(np.flatnonzero(~inside)) <= set(near)  # ... within 20 m of a parcel
    on_road = county.truth_firms.loc[pts["uscc"], "road_point"].to_numpy()
    assert np.array_equal(~inside, on_road)


def test_contiguous_low_efficiency_block_of_50_mu(county):
    p, f = county.parcels, county.firms
    land = _firm_land_mu(county)
    tax = f[f["year"] == 2021].set_index("uscc")["tax"]
    tpm = (tax / land.reindex(tax.index)).dropna()
    low = p["holder_uscc"].map(tpm).lt(3).to_numpy(dtype=bool, na_value=False)
    geoms = p.geometry.values[low]
    a, b = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=30.0)
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(len(geoms), len(geoms)))
    _, label = connected_components(graph, directed=False)
    mu = pd.Series(shapely.area(geoms) / M2_PER_MU).groupby(label).sum()
    assert mu.max() >= 50.0
    # The clusters sit in the old town.
    biggest = label == mu.idxmax()
    assert set(p["street"].to_numpy()[low][biggest]) <= {"龙溪街道", "云峰街道"}


# --- written files -------------------------------------------------------------------------------


def test_headers_map_back_to_canonical_names():
    lookup = alias_lookup()
    for table in (PARCEL_HEADERS, PARCEL_HEADERS_SHP, FIRM_HEADERS, LAND_HEADERS):
        assert {c: match_header(h, lookup) for c, h in table.items()} == {c: c for c in table}
    assert all(len(h.encode("gbk")) <= 10 for h in PARCEL_HEADERS_SHP.values())


def test_files_written(written):
    assert {p.name for p in written.values()} == {
        "parcels.gpkg", "parcels_gbk.shp", "firms.xlsx", "land.csv", "building_height.tif", "README.md"
    }
    assert sum(p.stat().st_size for p in written["parcels"].parent.iterdir()) < 5_000_000 * N / 3000 + 500_000
    readme = written["readme"].read_text(encoding="utf-8")
    assert "EPSG:4549" in readme and "Duplicated parcel id" in readme


def test_gpkg_round_trip(county, written):
    read = pyogrio.read_dataframe(written["parcels"], layer="parcels")
    assert list(read.columns) == [*PARCEL_HEADERS.values(), "geometry"]
    assert read.crs.to_epsg() == 4549 and len(read) == N
    assert read["街道"].tolist() == county.parcels["street"].tolist()
    assert set(pyogrio.read_dataframe(written["parcels"], layer="streets")["街道"]) == set(STREETS)


def test_xlsx_title_row_and_headers(county, written):
    import zipfile

    from openpyxl import load_workbook

    book = load_workbook(written["firms"], read_only=True)
    first, second = book.active.iter_rows(min_row=1, max_row=2, values_only=True)
    assert first[0] == FIRM_TITLE and all(v is None for v in first[1:])
    assert list(second) == list(FIRM_HEADERS.values())
    book.close()
    with zipfile.ZipFile(written["firms"]) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<mergeCell ref="A1:AA1" ?/>', xml)  # the title spans the 27 columns
    table = pd.read_excel(written["firms"], header=1, engine="calamine", dtype={"统一社会信用代码": str, "行业代码": str})
    assert len(table) == len(county.firms)
    assert set(table["规模(规上/规下)"]) == {"规上", "规下"} and set(table["是否投产"]) <= {"是", "否"}
    assert table["统一社会信用代码"].tolist() == county.firms["uscc"].tolist()


def test_gbk_shapefile_without_cpg(county, written):
    shp = written["parcels_gbk"]
    assert not shp.with_suffix(".cpg").exists()
    assert all(shp.with_suffix(e).exists() for e in (".shx", ".dbf", ".prj"))
    raw = shp.with_suffix(".dbf").read_bytes()
    assert "龙溪街道".encode("gbk") in raw and "龙溪街道".encode() not in raw
    plain = pyogrio.read_dataframe(shp)
    assert "街道" not in plain.columns and not plain.iloc[:, -2].isin(STREETS).any()  # mojibake
    good = pyogrio.read_dataframe(shp, encoding="gbk")
    assert list(good.columns) == [*PARCEL_HEADERS_SHP.values(), "geometry"]
    assert good["街道"].tolist() == county.parcels["street"].tolist()


def test_land_csv(county, written):
    land = pd.read_csv(written["land"], dtype=str, encoding="utf-8")
    assert list(land.columns) == list(LAND_HEADERS.values())
    assert set(land["用地类型(自有/租赁)"]) == {"自有", "租赁"}
    assert len(land) == len(county.land)


def test_height_raster(county, written):
    import rasterio

    with rasterio.open(written["height"]) as src:
        assert src.crs.to_epsg() == 4549 and src.res == (5.0, 5.0)
        assert src.nodata == county.height.nodata and src.compression.name.lower() == "deflate"
        values = src.read(1)
        transform = src.transform
    assert np.array_equal(values, county.height.values)
    p, tp = county.parcels, county.truth_parcels
    built = (p["building_height_m"] > 0).to_numpy() & ~tp["bow_tie"].to_numpy()
    centre = shapely.get_coordinates(p.geometry.values[built]).reshape(-1, 5, 2)[:, :4].mean(axis=1)
    rows, cols = rasterio.transform.rowcol(transform, centre[:, 0], centre[:, 1])
    assert np.allclose(values[rows, cols], p["building_height_m"].to_numpy()[built], atol=0.01)
    # Floor area = footprint x floors: compare with the footprint counted in raster cells.
    from rasterio.features import rasterize

    idx = rasterize(zip(p.geometry.values[built], range(1, built.sum() + 1), strict=True), out_shape=values.shape,
                    transform=transform, dtype="int32")
    cells = np.bincount(idx[values > 0], minlength=built.sum() + 1)[1:] * 25.0
    floors = p["floor_area_m2"].to_numpy()[built] / cells
    ok = np.isfinite(floors) & (cells > 500)
    assert np.median(floors[ok]) > 1.0 and np.quantile(floors[ok], [0.05, 0.95]).tolist()[1] < 8.0
    assert (values == county.height.nodata).any() and (values == 0).any()


def test_parquet_format_and_errors(tmp_path):
    small = generate_county(120, seed=3, with_raster=False)
    out = write_sample(small, tmp_path, formats=("parquet",))
    assert {"parcels_parquet", "firms_parquet", "land_parquet", "readme"} == set(out)
    assert list(pd.read_parquet(out["firms_parquet"]).columns) == list(FIRM_HEADERS.values())
    with pytest.raises(ConfigError, match=r"unknown sample format\(s\) \['xls'\]"):
        write_sample(small, tmp_path, formats=("xls",))
    with pytest.raises(InputError, match="with_raster=False"):
        write_sample(small, tmp_path, formats=("tif",))
    with pytest.raises(ConfigError, match="n_parcels=5 is too small"):
        generate_county(5)


def test_street_sequence_numbers_parcels_within_each_street():
    from gisefficiency.sample._parcels import street_sequence

    assert street_sequence(np.array([0, 1, 0, 0, 1, 2])).tolist() == [1, 1, 2, 3, 2, 1]


@settings(max_examples=6, deadline=None)
@given(n=st.integers(min_value=20, max_value=400), seed=st.integers(min_value=0, max_value=2**31))
def test_invariants_for_any_size_and_seed(n, seed):
    c = generate_county(n, seed=seed, with_raster=False)
    p, f = c.parcels, c.firms
    assert len(p) == n and p["parcel_id"].duplicated().sum() == 1
    valid = shapely.is_valid(p.geometry.values)
    assert (~valid).sum() >= 3
    mu = shapely.area(p.geometry.values[valid]) / M2_PER_MU
    assert mu.min() >= 3.0 and mu.max() <= 200.0
    assert is_valid_uscc(f["uscc"]).all() and is_valid_uscc(p["holder_uscc"].dropna()).all()
    assert (f["scale"] == np.where(f["revenue"] >= 2000, "above", "below")).all()
    assert (f["tax"] < 0).sum() == 1
    assert f.loc[f["energy_tce"].isna(), "scale"].eq("below").all()

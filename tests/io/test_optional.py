"""The contract's optional columns: added all missing, in the readers' dtypes, when a table lacks them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.schema import FIRM_COLUMNS, PARCEL_COLUMNS
from gisefficiency.io.optional import NOT_ADDED, missing_optional, optional_columns, with_optional_columns
from gisefficiency.io.parcels import read_parcels
from gisefficiency.io.tables import read_firms
from gisefficiency.sample import generate_county, write_sample

FIRM_OPTIONAL = list(optional_columns("firms"))
PARCEL_OPTIONAL = list(optional_columns("parcels"))


@pytest.fixture(scope="module")
def read_back(tmp_path_factory) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """A sample county with every column, as the readers give it."""
    base = tmp_path_factory.mktemp("county")
    written = write_sample(generate_county(20, seed=1, with_raster=False), base, raster=False, formats=("parquet",))
    return read_firms(written["firms_parquet"]), read_parcels(written["parcels_parquet"], id_column="地块编号")


def test_every_optional_column_of_the_schema_is_covered():
    assert set(FIRM_OPTIONAL) == set(FIRM_COLUMNS) - NOT_ADDED
    assert set(PARCEL_OPTIONAL) == set(PARCEL_COLUMNS) - NOT_ADDED
    assert {"value_added", "energy_tce", "industry", "scale", "high_tech", "production_date"} <= set(FIRM_OPTIONAL)
    assert {"street", "supply_date", "cert_area_m2"} <= set(PARCEL_OPTIONAL)


def test_added_columns_have_the_dtypes_the_readers_give(read_back):
    firms, parcels = read_back
    for frame, table in ((firms, "firms"), (parcels, "parcels")):
        compared = [name for name in optional_columns(table) if name in frame.columns]
        assert len(compared) >= 6  # the sample writes every column of the schema as it stands
        for name in compared:
            assert frame[name].dtype == optional_columns(table)[name], (table, name, frame[name].dtype)


def test_hand_built_frame_gains_missing_columns_only():
    frame = pd.DataFrame({"uscc": ["A", "B"], "year": [2020, 2021], "tax": [1.5, np.nan], "industry": ["C3311", None]})
    out = with_optional_columns(frame, "firms")
    assert list(frame.columns) == ["uscc", "year", "tax", "industry"]  # the input is not changed
    assert list(out.columns[:4]) == ["uscc", "year", "tax", "industry"]
    assert out["industry"].iloc[0] == "C3311" and pd.isna(out["industry"].iloc[1])
    assert out["value_added"].dtype == "float64" and out["value_added"].isna().all()
    assert out["high_tech"].dtype == "boolean" and out["high_tech"].isna().all()
    assert out["production_date"].dtype == "datetime64[ns]" and out["production_date"].isna().all()
    assert isinstance(out["scale"].dtype, pd.StringDtype) and out["scale"].isna().all()
    assert not {"lon", "lat", "coord_sys", "parcel_id"} & set(out.columns)  # link keys: absent means "not used"
    assert missing_optional(out, "firms") == []
    assert with_optional_columns(out, "firms") is out  # nothing absent: the frame itself


def test_parcels_stay_a_geodataframe_with_their_geometry():
    parcels = gpd.GeoDataFrame({"street": ["东城街道"]}, geometry=[shapely.box(0, 0, 10, 10)], crs="EPSG:4549",
                               index=pd.Index(["P1"], name="parcel_id"))
    out = with_optional_columns(parcels, "parcels")
    assert isinstance(out, gpd.GeoDataFrame) and out.crs == parcels.crs and out.geometry.name == "geometry"
    assert out.index.name == "parcel_id"
    assert np.isnan(out.at["P1", "cert_area_m2"]) and out["supply_date"].isna().all()


@settings(deadline=None, max_examples=50)  # pandas frame building, not the code under test, sets the pace
@given(st.sets(st.sampled_from(FIRM_OPTIONAL)), st.integers(0, 5))
def test_any_subset_absent_gives_the_whole_schema_with_kept_values_unchanged(absent, n):
    full = with_optional_columns(pd.DataFrame({"uscc": [f"U{i}" for i in range(n)], "year": 2021, "tax": 1.0}), "firms")
    # the kept columns hold values: every column given one
    for name, dtype in optional_columns("firms").items():
        sample = {"float64": 2.5, "boolean": True, "datetime64[ns]": pd.Timestamp("2020-06-01")}.get(str(dtype), "x")
        full[name] = pd.Series([sample] * n, index=full.index, dtype=dtype)
    given_frame = full.drop(columns=sorted(absent))
    out = with_optional_columns(given_frame, "firms")
    assert set(out.columns) == set(full.columns)
    for name in optional_columns("firms"):
        assert out[name].dtype == full[name].dtype
        if name in absent:
            assert out[name].isna().all()  # missing, never 0 or False
        else:
            pd.testing.assert_series_equal(out[name], full[name])

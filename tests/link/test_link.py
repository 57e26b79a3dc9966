"""Tests of gisefficiency.link: methods and their priority, points, tenant modes, invariants, errors.

Fixture: a 3x3 grid of 10-mu squares (side sqrt(10 * M2_PER_MU) = 81.65 m) with 20 m roads between
them, in CGCS2000 / 3-degree GK CM 120E (EPSG:4549) near Wenzhou. Parcel ids P1..P9, row by row
from the south-west corner.
"""

from __future__ import annotations

import copy
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.crs import gcj02_to_bd09, wgs84_to_gcj02
from gisefficiency.core.errors import ConfigError, CRSError, InputError
from gisefficiency.core.grouped import pandas_sum
from gisefficiency.core.ids import _fixed_first_codes, _hashed_first_codes
from gisefficiency.link import TENANT_MODES, LinkReport, Links, link_firms
from gisefficiency.link.candidates import first_of, latest
from gisefficiency.link.links import _last_name
from gisefficiency.link.validate import as_id, encode, id_runs

SIDE_M = math.sqrt(10 * M2_PER_MU)
ROAD_M = 20.0
X0, Y0 = 500_000.0, 3_100_000.0
CRS = "EPSG:4549"


def grid_parcels(**columns: object) -> gpd.GeoDataFrame:
    """The 3x3 grid as land.prepare_parcels leaves it: 10 mu each, all usable, no holder or floor."""
    boxes, ids = [], []
    for row in range(3):
        for col in range(3):
            x, y = X0 + col * (SIDE_M + ROAD_M), Y0 + row * (SIDE_M + ROAD_M)
            boxes.append(shapely.box(x, y, x + SIDE_M, y + SIDE_M))
            ids.append(f"P{row * 3 + col + 1}")
    area_m2 = shapely.area(np.array(boxes))
    frame = gpd.GeoDataFrame(
        {
            "holder_uscc": pd.Series([None] * 9, dtype="string"),
            "floor_area_m2": np.nan,
            "geom_status": "ok",
            "status": "ok",
            "area_m2": area_m2,
            "area_mu": area_m2 / M2_PER_MU,
            "cert_area_mu": 10.0,
            "land_mu": 10.0,
        },
        geometry=boxes,
        index=pd.Index(ids, name="parcel_id"),
        crs=CRS,
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def panel(rows: list[dict], year: int = 2023) -> pd.DataFrame:
    """A firm-year panel from dicts (year and name filled in)."""
    frame = pd.DataFrame(rows)
    if "year" not in frame:
        frame["year"] = year
    frame["name"] = frame["uscc"] + "有限公司"
    if "parcel_id" in frame:
        frame["parcel_id"] = frame["parcel_id"].astype("string")
    return frame


def land_rows(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["uscc", "parcel_id", "kind", "floor_area_m2"])


def share(links: Links, uscc: str, parcel_id: str) -> float:
    sel = links.shares[(links.shares["uscc"] == uscc) & (links.shares["parcel_id"] == parcel_id)]
    assert len(sel) == 1, (uscc, parcel_id, links.shares)
    return float(sel["land_mu"].iloc[0])


def lonlat_of(x: float, y: float) -> tuple[float, float]:
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    return float(lon), float(lat)


def centre(pid: str) -> tuple[float, float]:
    n = int(pid[1:]) - 1
    row, col = divmod(n, 3)
    return X0 + col * (SIDE_M + ROAD_M) + SIDE_M / 2, Y0 + row * (SIDE_M + ROAD_M) + SIDE_M / 2


# --- a worked county: one parcel per situation ---------------------------------------------------------
# P1 holder F1, parcel floor 5000 m2; tenants F2 (1000 m2) and F3 (1500 m2).
# P2 holder F4 (own row 2000 m2), parcel floor missing; tenant F5 2000 m2 -> total floor = rows = 4000.
# P3 holder F6 (own row 1000 m2), parcel floor 1000 < rows 3000; tenant F7 2000 m2 -> total 3000.
# P4 holder F9; tenant F10 renting 30000 m2 (15 mu at 2000 m2/mu: more than the parcel).
# P5 holder OUTSIDER (not in the panel), floor 8000; tenants F11 1000 m2, F12 3000 m2.
# P6 no holder; F13 and F14 both say P6 in the firm table -> co-owners.
# P7 holder F1 (F1 is on two parcels).  P8 holder F15; F16 on it by the table, floor unknown.
# P9 nobody: idle.  F99 writes P99, which does not exist.

HOLDERS = ["F1", "F4", "F6", "F9", "OUTSIDER", None, "F1", "F15", None]
FLOORS = [5000.0, np.nan, 1000.0, np.nan, 8000.0, np.nan, np.nan, np.nan, np.nan]
TABLE = {"F13": "P6", "F14": "P6", "F16": "P8", "F99": "P99"}
FIRMS = ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F9", "F10", "F11", "F12", "F13", "F14", "F15", "F16", "F99"]
LAND = [("F2", "P1", "leased", 1000), ("F3", "P1", "leased", 1500), ("F4", "P2", "own", 2000),
        ("F5", "P2", "leased", 2000), ("F6", "P3", "own", 1000), ("F7", "P3", "leased", 2000),
        ("F10", "P4", "leased", 30000), ("F11", "P5", "leased", 1000), ("F12", "P5", "leased", 3000)]

# Hand-computed shares (mu), tenant mode -> (uscc, parcel) -> mu.
EXPECTED: dict[str, dict[tuple[str, str], float]] = {
    "floor_share": {
        ("F2", "P1"): 10 * 1000 / 5000, ("F3", "P1"): 10 * 1500 / 5000, ("F1", "P1"): 5.0,
        ("F5", "P2"): 10 * 2000 / 4000, ("F4", "P2"): 5.0,
        ("F7", "P3"): 10 * 2000 / 3000, ("F6", "P3"): 10 / 3,
        ("F10", "P4"): 10.0, ("F9", "P4"): 0.0,  # 30000 of 30000 m2 of rows' floor
        ("F11", "P5"): 2.5, ("F12", "P5"): 7.5,  # 1.25 + 3.75 and the holder's 5 split 1:3
        ("F13", "P6"): 5.0, ("F14", "P6"): 5.0,
        ("F1", "P7"): 10.0,
        ("F16", "P8"): 5.0, ("F15", "P8"): 5.0,  # unknown floor: one head of two
    },
    "fixed_ratio": {
        ("F2", "P1"): 0.5, ("F3", "P1"): 0.75, ("F1", "P1"): 8.75,
        ("F5", "P2"): 1.0, ("F4", "P2"): 9.0,
        ("F7", "P3"): 1.0, ("F6", "P3"): 9.0,
        ("F10", "P4"): 10.0, ("F9", "P4"): 0.0,  # 15 mu capped at the parcel's 10
        ("F11", "P5"): 2.5, ("F12", "P5"): 7.5,  # 0.5 and 1.5, the rest split 1:3
        ("F13", "P6"): 5.0, ("F14", "P6"): 5.0,
        ("F1", "P7"): 10.0,
        ("F16", "P8"): 5.0, ("F15", "P8"): 5.0,
    },
    "merge_to_holder": {
        ("F2", "P1"): 0.0, ("F3", "P1"): 0.0, ("F1", "P1"): 10.0,
        ("F5", "P2"): 0.0, ("F4", "P2"): 10.0,
        ("F7", "P3"): 0.0, ("F6", "P3"): 10.0,
        ("F10", "P4"): 0.0, ("F9", "P4"): 10.0,
        ("F11", "P5"): 2.5, ("F12", "P5"): 7.5,  # no holder in the panel: tenants keep the land
        ("F13", "P6"): 5.0, ("F14", "P6"): 5.0,
        ("F1", "P7"): 10.0,
        ("F16", "P8"): 0.0, ("F15", "P8"): 10.0,
    },
}
EXPECTED["separate_group"] = EXPECTED["floor_share"]


@pytest.fixture
def county() -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    parcels = grid_parcels(holder_uscc=pd.Series(HOLDERS, index=[f"P{i}" for i in range(1, 10)], dtype="string"),
                           floor_area_m2=FLOORS)
    firms = panel([{"uscc": u, "parcel_id": TABLE.get(u)} for u in FIRMS])
    return parcels, firms, land_rows(LAND)


@pytest.mark.parametrize("mode", TENANT_MODES)
def test_tenant_modes_hand_computed(county, mode):
    parcels, firms, land = county
    links = link_firms(parcels, firms, land=land, tenant_mode=mode)
    expected = EXPECTED[mode]
    assert len(links.shares) == len(expected)
    for (uscc, pid), mu in expected.items():
        assert share(links, uscc, pid) == pytest.approx(mu, rel=1e-12, abs=1e-12), (mode, uscc, pid)
    fl = links.firm_links
    assert fl.loc["F1", "land_mu"] == pytest.approx(expected["F1", "P1"] + 10.0)
    assert fl.loc["F1", "n_parcels"] == 2
    kinds = links.shares.set_index(["uscc", "parcel_id"])["kind"]
    assert kinds["F1", "P1"] == "own" and kinds["F2", "P1"] == "leased" and kinds["F16", "P8"] == "leased"
    assert kinds["F13", "P6"] == "own" and kinds["F11", "P5"] == "leased"
    if mode == "merge_to_holder":
        assert fl.loc[["F2", "F3", "F5", "F7", "F10", "F16"], "eval_id"].tolist() == ["F1", "F1", "F4", "F6", "F9", "F15"]
        assert fl.loc[["F1", "F11", "F13"], "eval_id"].tolist() == ["F1", "F11", "F13"]
    else:
        assert (fl["eval_id"] == fl.index).all()
    tenants = set(fl.index[fl["tenant"]])
    assert tenants == ({"F2", "F3", "F5", "F7", "F10", "F11", "F12", "F16"} if mode == "separate_group" else set())


def test_fixed_ratio_uses_the_ratio_option(county):
    parcels, firms, land = county
    links = link_firms(parcels, firms, land=land, tenant_mode="fixed_ratio", fixed_ratio_m2_per_mu=1000.0)
    assert share(links, "F2", "P1") == pytest.approx(1.0)
    assert share(links, "F1", "P1") == pytest.approx(7.5)
    assert links.report.n_tenant_capped == 1  # P4: 30 mu asked of 10


def test_links_frames_and_report(county):
    parcels, firms, land = county
    links = link_firms(parcels, firms, land=land)
    assert list(links.shares.columns) == ["uscc", "parcel_id", "kind", "method", "floor_area_m2", "land_mu"]
    assert list(links.firm_links.columns) == ["name", "status", "method", "land_mu", "n_parcels", "eval_id", "tenant"]
    assert list(links.firm_links.index) == FIRMS and links.firm_links.index.name == "uscc"
    assert list(links.parcel_links.columns) == ["n_firms", "holder_uscc", "idle"]
    assert links.parcel_links.index.equals(parcels.index)
    assert links.parcel_links["n_firms"].tolist() == [3, 2, 2, 2, 2, 2, 1, 2, 0]
    assert links.parcel_links["idle"].tolist() == [False] * 8 + [True]
    fl = links.firm_links
    assert fl.loc["F99", "status"] == "unlinked: firm-table parcel id: parcel P99 is not in the parcel layer"
    assert np.isnan(fl.loc["F99", "land_mu"]) and fl.loc["F99", "n_parcels"] == 0
    assert pd.isna(fl.loc["F99", "method"])
    assert fl.loc["F2", "method"] == "land" and fl.loc["F1", "method"] == "holder" and fl.loc["F13", "method"] == "table"
    assert fl.loc["F2", "name"] == "F2有限公司"

    report = links.report
    assert isinstance(report, LinkReport)
    assert report.by_method == {"table": (3, 15.0), "land": (9, pytest.approx(45.0)), "holder": (3, 20.0),
                                "point": (0, 0.0)}
    assert report.n_linked == 15 and list(report.unlinked.index) == ["F99"]
    assert "P99" in report.unlinked.loc["F99", "reason_zh"]
    assert report.mu_usable == 90.0 and report.mu_with_firms == 80.0 and report.mu_idle == 10.0
    assert report.mu_shares == pytest.approx(80.0)
    assert list(report.idle_ids) == ["P9"]
    assert report.n_tenant_floor_unknown == 1
    frame = report.to_frame()
    assert list(frame.columns) == ["item", "count", "mu", "label_zh", "label_en"]
    row = frame.set_index("item")
    assert row.loc["unlinked", "count"] == 1 and row.loc["unlinked_unknown_parcel", "count"] == 1
    assert row.loc["parcels_idle", "mu"] == 10.0 and row.loc["land_after", "mu"] == pytest.approx(80.0)
    assert row.loc["linked_land", "label_zh"] == "其中按用地台账关联"
    lines = report.summary_lines()
    assert lines[0].startswith("企业 16 家：已关联 15 家") and "未关联 1 家" in lines[0]
    assert report.summary_lines(lang="en")[0].startswith("Firms 16: linked 15")


def test_inputs_are_not_mutated(county):
    parcels, firms, land = county
    before = copy.deepcopy((parcels, firms, land))
    link_firms(parcels, firms, land=land, tenant_mode="merge_to_holder")
    pd.testing.assert_frame_equal(parcels, before[0])
    pd.testing.assert_frame_equal(firms, before[1])
    pd.testing.assert_frame_equal(land, before[2])


# --- priority ------------------------------------------------------------------------------------------

def priority_case():
    # G1: the table says P2, G1 holds P3, its point lies in P4.
    parcels = grid_parcels(holder_uscc=pd.Series([None, None, "G1"] + [None] * 6, index=[f"P{i}" for i in range(1, 10)],
                                                 dtype="string"))
    lon, lat = lonlat_of(*centre("P4"))
    firms = panel([{"uscc": "G1", "parcel_id": "P2", "lon": lon, "lat": lat, "coord_sys": "wgs84"}])
    return parcels, firms


@pytest.mark.parametrize(
    ("methods", "parcel", "method"),
    [
        (("table", "holder", "point"), "P2", "table"),
        (("holder", "table", "point"), "P3", "holder"),
        (("point", "holder", "table"), "P4", "point"),
        (("point",), "P4", "point"),
    ],
)
def test_first_method_in_priority_wins(methods, parcel, method):
    parcels, firms = priority_case()
    links = link_firms(parcels, firms, methods=methods, combine="first")
    assert links.shares[["parcel_id", "method"]].values.tolist() == [[parcel, method]]
    assert links.firm_links.loc["G1", "method"] == method
    assert links.shares["land_mu"].tolist() == [10.0]


@pytest.mark.parametrize("methods", [("table", "holder", "point"), ("point", "holder", "table")])
def test_union_keeps_every_record_parcel_and_points_only_as_fallback(methods):
    # The table names P2, the register holds P3 in G1's name: G1 keeps both; its point (P4) is not used
    # because records placed it, whatever the order.
    parcels, firms = priority_case()
    links = link_firms(parcels, firms, methods=methods)
    got = sorted(links.shares[["parcel_id", "method"]].values.tolist())
    assert got == [["P2", "table"], ["P3", "holder"]]
    assert links.firm_links.loc["G1", "land_mu"] == 20.0
    assert links.firm_links.loc["G1", "n_parcels"] == 2


def test_union_uses_points_for_firms_without_records():
    parcels, firms = priority_case()
    parcels["holder_uscc"] = pd.array([None] * 9, dtype="string")
    firms["parcel_id"] = pd.array([None], dtype="string")
    links = link_firms(parcels, firms, methods=("table", "holder", "point"))
    assert links.shares[["parcel_id", "method"]].values.tolist() == [["P4", "point"]]


def test_bad_combine_is_named():
    parcels, firms = priority_case()
    with pytest.raises(ValueError, match="combine = 'all': must be 'union' or 'first'"):
        link_firms(parcels, firms, combine="all")


def test_failed_higher_method_is_reported_and_next_one_links():
    parcels, firms = priority_case()
    firms["parcel_id"] = pd.array(["P99"], dtype="string")
    links = link_firms(parcels, firms, methods=("table", "holder"))
    assert links.firm_links.loc["G1", "method"] == "holder"
    issues = links.report.issues
    assert issues[["uscc", "parcel_id", "method", "issue"]].values.tolist() == [["G1", "P99", "table", "unknown_parcel"]]
    assert "P99" in issues["reason_zh"].iloc[0]


def test_excluded_parcel_is_a_reason_not_a_link():
    parcels = grid_parcels()
    parcels.loc["P5", "status"] = "excluded: empty geometry"
    parcels.loc["P5", "geom_status"] = "empty"
    parcels.loc["P5", "land_mu"] = np.nan
    parcels.loc["P6", "geom_status"] = "repaired"
    firms = panel([{"uscc": "E1", "parcel_id": "P5"}])
    links = link_firms(parcels, firms)
    assert links.firm_links.loc["E1", "status"] == "unlinked: firm-table parcel id: parcel P5 is excluded (empty geometry)"
    assert not links.parcel_links.loc["P5", "idle"]
    report = links.report
    assert (report.n_excluded, report.n_empty_geom, report.n_repaired, report.n_usable) == (1, 1, 1, 8)
    assert report.mu_usable == 80.0


def test_table_years_latest_or_union():
    firms = panel([{"uscc": "M1", "parcel_id": "P1", "year": 2021}, {"uscc": "M1", "parcel_id": "P2", "year": 2022},
                   {"uscc": "M1", "parcel_id": None, "year": 2023}])
    latest = link_firms(grid_parcels(), firms)
    assert latest.shares["parcel_id"].tolist() == ["P2"]
    union = link_firms(grid_parcels(), firms, table_years="all")
    assert union.shares["parcel_id"].tolist() == ["P1", "P2"]
    assert union.firm_links.loc["M1", "land_mu"] == 20.0


def test_holder_not_in_panel_and_land_rows_of_unknown_firms():
    parcels = grid_parcels(holder_uscc=pd.Series(["H1"] + [None] * 8, index=[f"P{i}" for i in range(1, 10)],
                                                 dtype="string"))
    firms = panel([{"uscc": "T1"}, {"uscc": "T2"}])
    land = land_rows([("T1", "P1", "leased", 500.0), ("T2", "P1", "leased", 1500.0), ("NOPE", "P2", "own", np.nan)])
    links = link_firms(parcels, firms, land=land)
    assert share(links, "T1", "P1") == pytest.approx(2.5) and share(links, "T2", "P1") == pytest.approx(7.5)
    assert links.report.land_rows_unknown_firm["uscc"].tolist() == ["NOPE"]


def test_co_owners_split_by_floor_when_all_have_one():
    firms = panel([{"uscc": "A", "parcel_id": "P1"}, {"uscc": "B", "parcel_id": "P1"}])
    land = land_rows([("A", "P1", "own", 1000.0), ("B", "P1", "own", 3000.0)])
    links = link_firms(grid_parcels(), firms, land=land)
    assert share(links, "A", "P1") == pytest.approx(2.5) and share(links, "B", "P1") == pytest.approx(7.5)
    half = link_firms(grid_parcels(), firms, land=land.iloc[:1])
    assert share(half, "A", "P1") == 5.0 and share(half, "B", "P1") == 5.0


def test_land_rows_with_years_use_the_latest_and_chinese_kinds():
    firms = panel([{"uscc": "A"}, {"uscc": "B"}])
    land = land_rows([("A", "P1", "自有", 1000.0), ("B", "P1", "租赁", 1000.0), ("B", "P1", "租赁", 3000.0)])
    land["year"] = [2023, 2022, 2023]
    parcels = grid_parcels(floor_area_m2=[4000.0] + [np.nan] * 8)
    links = link_firms(parcels, firms, land=land)
    assert share(links, "B", "P1") == pytest.approx(7.5)  # 2023 only: 3000 of 4000 m2


def test_ids_written_as_numbers_still_match():
    parcels = grid_parcels()
    parcels.index = pd.Index([str(100 + i) for i in range(9)], name="parcel_id")
    firms = pd.DataFrame({"uscc": [" A1 ", "A2"], "year": 2023, "parcel_id": [101.0, 102.0]})
    links = link_firms(parcels, firms)
    assert links.shares[["uscc", "parcel_id"]].values.tolist() == [["A1", "101"], ["A2", "102"]]


# --- points --------------------------------------------------------------------------------------------

def test_points_in_gcj02_within_nearest_and_far():
    parcels = grid_parcels()
    x1, y1 = centre("P1")
    inside = lonlat_of(x1, y1)
    road = lonlat_of(X0 + SIDE_M + 5.0, y1)  # on the road, 5 m east of P1
    far = lonlat_of(X0 - 200.0, y1)  # 200 m west of the grid
    gcj = [wgs84_to_gcj02(*p) for p in (inside, road, far)]
    firms = panel([{"uscc": u, "lon": float(g[0]), "lat": float(g[1]), "coord_sys": "gcj02"}
                   for u, g in zip(["IN", "ROAD", "FAR"], gcj, strict=True)])
    links = link_firms(parcels, firms, nearest_m=30.0)
    fl = links.firm_links
    assert fl.loc["IN", "method"] == "point" and fl.loc["ROAD", "method"] == "point"
    assert share(links, "IN", "P1") == 5.0 and share(links, "ROAD", "P1") == 5.0  # co-owners of P1
    assert fl.loc["FAR", "status"].startswith("unlinked: firm point: 200.0 m from the nearest parcel P1")
    assert fl.loc["FAR", "status"].endswith("more than 30 m")
    assert links.report.n_point_nearest == 1
    issue = links.report.issues.set_index("uscc").loc["FAR"]
    assert issue["issue"] == "point_far" and issue["value"] == pytest.approx(200.0, abs=0.01)
    assert "距最近地块 P1 200.0 米" in links.report.unlinked.loc["FAR", "reason_zh"]
    # Without a tolerance the road point is unlinked too.
    strict = link_firms(parcels, firms, nearest_m=0)
    assert strict.firm_links.loc["ROAD", "status"].startswith("unlinked: firm point: 5.0 m")


def test_point_in_an_excluded_parcel_is_reported():
    parcels = grid_parcels()
    parcels.loc["P5", "status"] = "excluded: not industrial land"
    parcels.loc["P5", "land_mu"] = np.nan
    lon, lat = lonlat_of(*centre("P5"))
    links = link_firms(parcels, panel([{"uscc": "X", "lon": lon, "lat": lat}]), point_crs="cgcs2000")
    assert links.firm_links.loc["X", "status"] == "unlinked: firm point: parcel P5 is excluded (not industrial land)"
    assert links.report.unlinked.loc["X", "issues"] == "excluded_parcel"


def test_points_in_bd09_and_default_point_crs():
    parcels = grid_parcels()
    lon, lat = lonlat_of(*centre("P9"))
    blon, blat = gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    firms = panel([{"uscc": "BD", "lon": float(blon), "lat": float(blat), "coord_sys": "BD-09"},
                   {"uscc": "W", "lon": lon, "lat": lat, "coord_sys": None}])
    links = link_firms(parcels, firms, point_crs="wgs84")
    assert links.shares[["uscc", "parcel_id"]].values.tolist() == [["BD", "P9"], ["W", "P9"]]
    # Read as WGS-84, the BD-09 point is about 1 km off and links nowhere.
    wrong = link_firms(parcels, firms.assign(coord_sys=None), point_crs="wgs84")
    assert wrong.firm_links.loc["BD", "status"].startswith("unlinked: firm point:")


# --- invariants ----------------------------------------------------------------------------------------

@st.composite
def situations(draw):
    n_parcels = draw(st.integers(1, 6))
    n_firms = draw(st.integers(1, 8))
    firm_ids = [f"F{i}" for i in range(n_firms)]
    pids = [f"P{i}" for i in range(1, n_parcels + 1)]
    holder = st.one_of(st.none(), st.just("OUT"), st.sampled_from(firm_ids))
    floor = st.one_of(st.just(np.nan), st.floats(0, 20_000))
    parcels = grid_parcels().iloc[:n_parcels].copy()
    parcels["land_mu"] = draw(st.lists(st.floats(0.01, 500), min_size=n_parcels, max_size=n_parcels))
    parcels["holder_uscc"] = pd.array(draw(st.lists(holder, min_size=n_parcels, max_size=n_parcels)), dtype="string")
    parcels["floor_area_m2"] = draw(st.lists(floor, min_size=n_parcels, max_size=n_parcels))
    target = st.one_of(st.none(), st.sampled_from([*pids, "P99"]))
    rows = [{"uscc": u, "parcel_id": draw(target), "year": y} for u in firm_ids for y in (2022, 2023)]
    land = draw(st.lists(st.tuples(st.sampled_from([*firm_ids, "X"]), st.sampled_from(pids),
                                   st.sampled_from(["own", "leased"]), floor), max_size=10,
                         unique_by=lambda t: (t[0], t[1])))
    methods = draw(st.permutations(["table", "land", "holder"]).map(tuple))
    k = draw(st.integers(1, 3))
    return parcels, panel(rows), land_rows(land), methods[:k], draw(st.sampled_from(TENANT_MODES))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(situations(), st.floats(100, 5000))
def test_land_is_conserved(case, ratio):
    parcels, firms, land, methods, mode = case
    links = link_firms(parcels, firms, land=land, methods=methods, tenant_mode=mode, fixed_ratio_m2_per_mu=ratio)
    shares = links.shares
    assert (shares["land_mu"] >= 0).all()
    per_parcel = shares.groupby("parcel_id")["land_mu"].sum()
    expected = parcels["land_mu"].reindex(per_parcel.index)
    np.testing.assert_allclose(per_parcel.to_numpy(), expected.to_numpy(), rtol=1e-9)
    fl = links.firm_links
    assert set(fl.index) == set(firms["uscc"])
    assert fl["status"].eq("linked").sum() + fl["status"].str.startswith("unlinked: ").sum() == len(fl)
    per_firm = shares.groupby("uscc")["land_mu"].sum().reindex(fl.index)
    linked = fl["status"].eq("linked")
    np.testing.assert_allclose(fl.loc[linked, "land_mu"], per_firm[linked], rtol=1e-12)
    assert fl.loc[~linked, "land_mu"].isna().all()
    assert links.parcel_links.index.equals(parcels.index)
    with_firms = links.parcel_links["n_firms"] > 0
    assert math.isclose(shares["land_mu"].sum(), parcels.loc[with_firms, "land_mu"].sum(), rel_tol=1e-9)
    assert math.isclose(links.report.mu_shares + links.report.mu_idle, links.report.mu_usable, rel_tol=1e-9)
    if mode == "merge_to_holder":
        evaluated = fl.loc[linked, "eval_id"]
        assert evaluated.isin(fl.index[linked]).all()
    frame = links.report.to_frame().set_index("item")
    assert frame.loc["firms_total", "count"] == len(fl)
    assert frame.loc["linked", "count"] + frame.loc["unlinked", "count"] == len(fl)
    assert len(links.report.summary_lines("en")) >= 3


# --- errors --------------------------------------------------------------------------------------------

def test_unknown_tenant_mode_names_the_valid_ones():
    with pytest.raises(ConfigError, match="merge_to_holder, floor_share, fixed_ratio, separate_group"):
        link_firms(grid_parcels(), panel([{"uscc": "A"}]), tenant_mode="by_floor")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"methods": ("table", "gps")}, r"unknown link method\(s\) 'gps' -> use some of table, land, holder, point"),
        ({"methods": ()}, "link methods is empty"),
        ({"methods": ("table", "table")}, r"'table' listed twice"),
        ({"fixed_ratio_m2_per_mu": 0}, "fixed_ratio_m2_per_mu must be a positive number"),
        ({"nearest_m": -1.0}, "nearest_m must be a distance in metres >= 0"),
        ({"table_years": "first"}, "unknown table_years 'first' -> use one of latest, all"),
    ],
)
def test_bad_options(options, match):
    with pytest.raises(ConfigError, match=match):
        link_firms(grid_parcels(), panel([{"uscc": "A"}]), **options)


def test_bad_point_crs_and_missing_coord_sys():
    lon, lat = lonlat_of(*centre("P1"))
    firms = panel([{"uscc": "A", "lon": lon, "lat": lat}])
    with pytest.raises(CRSError, match="have lon/lat but no coordinate system"):
        link_firms(grid_parcels(), firms)
    with pytest.raises(ConfigError, match="unknown point_crs 'mercator'"):
        link_firms(grid_parcels(), firms, point_crs="mercator")
    with pytest.raises(CRSError, match="unknown coordinate system"):
        link_firms(grid_parcels(), firms.assign(coord_sys="utm50"))
    with pytest.raises(CRSError, match="projected CRS"):
        link_firms(grid_parcels().to_crs("EPSG:4326"), firms, point_crs="wgs84")


def test_bad_inputs():
    firms = panel([{"uscc": "A", "parcel_id": "P1"}])
    with pytest.raises(InputError, match="column 'land_mu' is missing"):
        link_firms(grid_parcels().drop(columns="land_mu"), firms)
    dup = pd.concat([grid_parcels(), grid_parcels().iloc[:1]])
    with pytest.raises(InputError, match="occur more than once: P1"):
        link_firms(dup, firms)
    # Ids are matched trimmed: "P1 " is P1 again, and "  " is no id at all.
    spaced = grid_parcels().rename(index={"P2": "P1 "})
    with pytest.raises(InputError, match="1 parcel id\\(s\\) occur more than once: P1"):
        link_firms(spaced, firms)
    blank = grid_parcels().rename(index={"P2": "  "})
    with pytest.raises(InputError, match="parcel ids are empty in some rows"):
        link_firms(blank, firms)
    with pytest.raises(InputError, match="1 firm row\\(s\\) have no uscc"):
        link_firms(grid_parcels(), pd.concat([firms, firms.assign(uscc=None)], ignore_index=True))
    with pytest.raises(InputError, match="kind is not own or leased"):
        link_firms(grid_parcels(), firms, land=land_rows([("A", "P1", "rented", 10.0)]))
    with pytest.raises(InputError, match="floor area is negative"):
        link_firms(grid_parcels(), firms, land=land_rows([("A", "P1", "own", -1.0)]))
    with pytest.raises(InputError, match="both own and leased in the land rows: A@P1"):
        link_firms(grid_parcels(), firms, land=land_rows([("A", "P1", "own", 1.0), ("A", "P1", "leased", 1.0)]))
    with pytest.raises(InputError, match="land rows lack column"):
        link_firms(grid_parcels(), firms, land=pd.DataFrame({"uscc": ["A"]}))


# --- integer id codes and the array helpers behind them (private, tested against pandas) ---------

_ids = st.lists(st.one_of(st.none(), st.sampled_from(["91330300MA000001", "91330300MA000002", "91330300MA000003",
                                                       " 91330300MA000001", "  ", "P1", "P22"])), max_size=30)


def _factorize(*columns: list) -> tuple[list, list]:
    """What the codes must be: pandas.factorize over the trimmed ids of all columns one after another."""
    series = pd.Series([None if v is None or not v.strip() else v.strip() for c in columns for v in c], dtype=object)
    codes, uniques = pd.factorize(series)
    return list(uniques), codes.tolist()


def test_encode_hand_computed():
    ids, n, (a, b) = encode(as_id(pd.Series(["X", "Y", None, "X"], dtype="str")),
                            id_runs(pd.Series(["Z", "Z", "Y", " "], dtype="string")))
    assert ids.to_pylist() == ["X", "Y", "Z"] and n == 2
    assert a.tolist() == [0, 1, -1, 0] and b.tolist() == [2, 2, 1, -1]
    heads, runs = id_runs(pd.Series(["A", "A", None, None, " A", "A"], dtype="string"))
    assert heads.to_pylist() == ["A", None, "A", "A"] and runs.tolist() == [2, 2, 1, 1]


@settings(max_examples=60, deadline=None)
@given(_ids, _ids, st.booleans())
def test_encode_equals_pandas_factorize(first, second, as_runs):
    """Both code paths (fixed-width words and the Arrow text hash) number ids like pandas.factorize."""
    one = pd.Series(first, dtype="string")
    two = pd.Series(second, dtype="string")
    ids, n, codes = encode(as_id(one), id_runs(two) if as_runs else as_id(two))
    uniques, expected = _factorize(first, second)
    assert ids.to_pylist() == uniques
    assert np.concatenate(codes).tolist() == expected
    assert n == len({v for v in expected[:len(first)] if v >= 0})
    heads = [as_id(one), as_id(two)]
    fast, slow = _fixed_first_codes(heads), _hashed_first_codes(heads)
    if fast is not None:  # only when every id has one byte length
        assert fast[0].to_pylist() == slow[0].to_pylist()
        assert [c.tolist() for c in fast[1]] == [c.tolist() for c in slow[1]]


def test_fixed_width_codes_only_for_one_width():
    assert _fixed_first_codes([as_id(pd.Series(["P1", "P22"], dtype="str"))]) is None
    short, (codes,) = _fixed_first_codes([as_id(pd.Series(["short", None, "shirt"], dtype="str"))])
    assert short.to_pylist() == ["short", "shirt"] and codes.tolist() == [0, -1, 1]  # missing ids stay -1
    ids, (codes,) = _fixed_first_codes([as_id(pd.Series(["ABCDEFGHIJ", "ABCDEFGHIK", "ABCDEFGHIJ"], dtype="str"))])
    assert ids.to_pylist() == ["ABCDEFGHIJ", "ABCDEFGHIK"] and codes.tolist() == [0, 1, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 3), st.integers(-1, 3), st.one_of(st.none(), st.integers(2019, 2022)),
                          st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False))), max_size=25))
# Sorted groups, a NaN elsewhere in the column: pandas takes its compensated sum for every group.
@example(rows=[(0, 0, None, None), (1, 0, None, 1.234122329071397), (1, 0, None, 262145.0),
               (1, 0, None, 1.0353783907485195)])
def test_array_helpers_equal_pandas(rows):
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    year = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype="float64")
    value = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype="float64")
    frame = pd.DataFrame({"a": a, "b": b, "year": year, "value": value})
    assert first_of(a, b).tolist() == (~frame.duplicated(["a", "b"])).tolist()
    last = frame.groupby("a")["year"].transform("max").to_numpy()
    assert latest(a, year).tolist() == ((year == last) | (np.isnan(year) & np.isnan(last))).tolist()
    group = a + 1
    expected = frame.groupby(group)["value"].sum(min_count=1).reindex(range(5)).to_numpy()
    np.testing.assert_array_equal(pandas_sum(group, value, 5), expected)  # bit for bit, NaN where none


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(2019, 2021)),
                          st.one_of(st.none(), st.sampled_from(["甲", "乙", "丙"]))), max_size=25))
def test_last_name_is_the_last_in_year_order(rows):
    """The name of a firm's latest year (rows without a year last, panel order within a year)."""
    firms = pd.DataFrame({"uscc": [f"F{r[0]}" for r in rows], "year": pd.array([r[1] for r in rows], dtype="Int64"),
                          "name": pd.array([r[2] for r in rows], dtype="string")})
    f = np.array([r[0] for r in rows], dtype=np.int64)
    expected = firms.assign(f=f).sort_values("year", kind="stable").groupby("f")["name"].last().reindex(range(4))
    got = _last_name(firms, f, 4)
    assert list(got.fillna("-")) == list(pd.array(expected.to_numpy(), dtype="str").fillna("-"))
    assert str(got.dtype) == "str"


def test_link_codes_give_metrics_the_same_frames(county):
    """Metrics read the link stage's codes instead of hashing ids again, with the same frames as from the text."""
    import dataclasses

    from gisefficiency.link.codes import codes_for
    from gisefficiency.metrics.indicators import parcel_metrics, unit_metrics

    parcels, firms, land = county
    firms = pd.concat([firms.assign(year=2022, tax=1.5), firms.assign(year=2023, tax=np.nan)], ignore_index=True)
    firms["tax"] = firms["tax"].where(firms["uscc"] != FIRMS[0], 7.0)
    links = link_firms(parcels, firms, land=land)
    codes = codes_for(links, firms, parcels)
    assert codes is not None
    assert pd.Index(pd.array(codes.firm_ids, dtype="str")).equals(links.firm_links.index)
    assert links.shares["parcel_id"].tolist() == parcels.index.take(codes.share_p).tolist()
    plain = dataclasses.replace(links)  # a copy keeps no codes: the text path
    assert plain.codes is None and codes_for(plain, firms) is None
    pd.testing.assert_frame_equal(unit_metrics(firms, links, parcels=parcels),
                                  unit_metrics(firms, plain, parcels=parcels), check_exact=True)
    pd.testing.assert_frame_equal(parcel_metrics(parcels, firms, links), parcel_metrics(parcels, firms, plain),
                                  check_exact=True)


def test_link_codes_only_while_the_frames_are_unchanged(county):
    """Edited or other frames, and USCCs that cleaning changes, get no codes."""
    from gisefficiency.link.codes import codes_for

    parcels, firms, land = county
    links = link_firms(parcels, firms, land=land)
    assert codes_for(links, firms, parcels) is not None
    assert codes_for(links, firms.assign(uscc=firms["uscc"] + "X"), parcels) is None
    assert codes_for(links, firms, parcels.iloc[::-1]) is None
    links.shares.loc[0, "uscc"] = FIRMS[-1]
    assert codes_for(links, firms, parcels) is None
    spaced = firms.assign(uscc=firms["uscc"].astype("string").str.pad(20))
    assert link_firms(parcels, spaced, land=land).codes is None


# --- ids written two ways (issue 15, item 14) ---

def test_ids_that_differ_only_in_how_they_are_written_get_a_hint(caplog):
    parcels = grid_parcels()
    parcels.index = pd.Index(["1", "2", "A-01", "B 7", "12", "7", "0042", "8", "9"], name="parcel_id")
    firms = panel([{"uscc": "X1", "parcel_id": "001"}, {"uscc": "X2", "parcel_id": "A-01 "},
                   {"uscc": "X3", "parcel_id": "7.0"}, {"uscc": "X4", "parcel_id": "B\u30007"},
                   {"uscc": "X5", "parcel_id": "42"}, {"uscc": "X6", "parcel_id": "P99"}])
    with caplog.at_level("WARNING", logger="gisefficiency.link.links"):
        links = link_firms(parcels, firms, methods=["table"], sources={"firms": "企业亩均数据.xlsx"})
    status = links.firm_links["status"]
    assert status["X2"] == "linked"  # spaces around an id were never a difference
    assert status["X1"] == ("unlinked: firm-table parcel id: parcel 001 is not in the parcel layer (the layer has 1, "
                            "written differently, e.g. leading zeros, spaces or .0: format the id column as text "
                            "in Excel)")
    assert "the layer has 7," in status["X3"] and "the layer has B 7," in status["X4"]
    assert "the layer has 0042," in status["X5"]
    assert status["X6"] == "unlinked: firm-table parcel id: parcel P99 is not in the parcel layer"
    issues = links.report.issues.set_index("uscc")
    assert pd.isna(issues.loc["X6", "near"])
    assert issues.loc[["X1", "X3", "X4", "X5"], "near"].tolist() == ["1", "7", "B 7", "0042"]
    assert "（图层中有 1，仅写法不同" in issues.loc["X1", "reason_zh"]
    [hint] = links.report.id_hints
    assert hint.file == "企业亩均数据.xlsx" and hint.column == "parcel_id (地块编号)" and hint.severity == "warning"
    assert hint.message == (
        "4 parcel id(s) of the firm table are not in the parcel layer but match its ids once leading zeros / a "
        "trailing .0 / spaces / full-width characters are set aside: '001' (layer: '1'), '7.0' (layer: '7'), "
        r"'B\u30007' (layer: 'B 7'), '42' (layer: '0042')")  # repr shows the full-width space
    assert "format the column as text (设置单元格格式 -> 文本)" in hint.fix
    assert str(hint).startswith("企业亩均数据.xlsx, column 'parcel_id (地块编号)': 4 parcel id(s)")
    assert str(hint) in caplog.text and str(hint) in links.report.summary_lines("en")
    row = links.report.to_frame().set_index("item").loc["ids_near_match"]
    assert row["count"] == 4 and row["label_zh"].startswith("地块编号写法不同")


def test_id_hints_for_land_rows_and_without_file_names():
    parcels = grid_parcels()
    parcels.index = pd.Index([f"{k:03d}" for k in range(1, 10)], name="parcel_id")  # 001 .. 009
    firms = panel([{"uscc": "F1"}, {"uscc": "F2"}])
    land = land_rows([("F1", "1", "own", np.nan), ("F2", "2.0", "own", np.nan), ("F2", "10", "own", np.nan)])
    links = link_firms(parcels, firms, land=land, methods=["land"])
    [hint] = links.report.id_hints
    assert hint.file is None
    assert hint.message.startswith("2 parcel id(s) of the land rows are not in the parcel layer but match its ids "
                                   "once leading zeros / a trailing .0 are set aside: '1' (layer: '001'), '2.0' "
                                   "(layer: '002')")
    # Every id matched: no hint and no cost.
    clean = link_firms(parcels, panel([{"uscc": "F1", "parcel_id": "001"}]), methods=["table"])
    assert clean.report.id_hints == [] and clean.report.issues.empty


def test_loose_ids_by_hand():
    from gisefficiency.link.validate import loose_ids, near_matches

    ids = pa.array(["001", "1.0", "B\u30007", "a-01", "１２", "000", "1.50", "12.000", "0.0", None, "a\tb"],
                   pa.large_string())
    assert loose_ids(ids).to_pylist() == ["1", "1", "B7", "A-01", "12", "0", "1.50", "12", "0", None, "AB"]
    # Keys 1, 7, 01; unknown 001, x, 7.0, 01 again (a repeated unknown id gets the same match); first key wins.
    assert near_matches(pa.array(["1", "7", "01", "001", "x", "7.0"], pa.large_string()), 3).tolist() == [0, -1, 1]
    assert near_matches(pa.array(["1", "2"], pa.large_string()), 2).tolist() == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.from_regex(r"[A-Z]{0,2}[1-9][0-9]{0,6}", fullmatch=True), min_size=1, max_size=20, unique=True),
       st.data())
def test_loose_ids_find_excel_spellings(keys, data):
    """An id Excel rewrote (zeros dropped or added, .0 added, spaces, full-width) finds its key; others none."""
    from gisefficiency.link.validate import near_matches

    key = data.draw(st.sampled_from(keys))
    zeros = data.draw(st.integers(0, 3))
    written = data.draw(st.sampled_from(
        ["0" * zeros + key, key + (".0" if key.isdigit() else ""), key[:1] + "\u3000" + key[1:],
         key.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})]))
    if written in keys:  # e.g. no zeros added: the id links as written
        return
    ids = pa.array([*keys, written, "ZZZ-no-such-id"], pa.large_string())
    found = near_matches(ids, len(keys))
    loose = {k.upper(): i for i, k in reversed(list(enumerate(keys)))}
    assert found[0] == loose[key] and found[1] == -1


def test_points_without_a_coordinate_system_name_the_config_key():
    lon, lat = lonlat_of(*centre("P1"))
    firms = panel([{"uscc": "A", "lon": lon, "lat": lat}]).assign(src_row=3)
    with pytest.raises(CRSError, match=r"^企业\.xlsx: 1 firm point\(s\) have lon/lat but no coordinate system \(the "
                                       r"firm table has no 坐标系 column\) -> set point_crs = \"gcj02\" .* under "
                                       r"\[link\] in the config") as info:
        link_firms(grid_parcels(), firms, sources={"firms": "企业.xlsx"})
    [problem] = info.value.problems
    assert problem.file == "企业.xlsx" and problem.row == 3 and "set point_crs under [link]" in problem.fix
    assert "point_crs=" not in str(info.value)  # the config key, not the API parameter
    with pytest.raises(CRSError, match=r"1 of them have an empty 坐标系\) -> set point_crs"):
        link_firms(grid_parcels(), firms.assign(coord_sys=[None]))
    with pytest.raises(ConfigError, match=r"set point_crs under \[link\] to wgs84"):
        link_firms(grid_parcels(), firms, point_crs="mercator")


def test_input_errors_name_the_files_given():
    firms = panel([{"uscc": "A", "parcel_id": "P1"}])
    src = {"firms": "企业.xlsx", "land": "用地.csv"}
    with pytest.raises(InputError, match=r"^企业\.xlsx: 1 firm row\(s\) have no uscc") as info:
        link_firms(grid_parcels(), pd.concat([firms, firms.assign(uscc=None, src_row=7)], ignore_index=True),
                   sources=src)
    assert [(p.file, p.row) for p in info.value.problems] == [("企业.xlsx", 7)]
    with pytest.raises(InputError, match=r"^企业\.xlsx: the firm table has no 'uscc' column .*\[firms\.aliases\]"):
        link_firms(grid_parcels(), firms.drop(columns="uscc"), sources=src)
    with pytest.raises(InputError, match=r"^用地\.csv: 1 land row problem\(s\)\n  - 用地\.csv, row 1, column 'kind'"):
        link_firms(grid_parcels(), firms, land=land_rows([("A", "P1", "rented", 10.0)]), sources=src)
    with pytest.raises(InputError, match=r"^用地\.csv: land rows lack column\(s\) kind"):
        link_firms(grid_parcels(), firms, land=land_rows([("A", "P1", "own", 1.0)]).drop(columns="kind"),
                   sources=src)


# --- who leases to whom ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("owner_kind", "tenant_kind"), [("出租", "承租"), ("出租方", "租赁"), ("自有", "租用"),
                                                         ("自用", "承租方"), ("lessor", "lessee")])
def test_letting_out_makes_the_row_s_firm_the_owner(owner_kind, tenant_kind):
    """出租 (the row's firm lets its land out) is the owner's side: on a 12-mu parcel with 10,000 m2 of
    floor, the tenant's 3,000 m2 give it 12 x 3,000 / 10,000 = 3.6 mu and the owner keeps 8.4 mu (read
    as a second tenant, 出租 gave each 6.0 mu)."""
    firms = panel([{"uscc": "A"}, {"uscc": "B"}])
    land = land_rows([("A", "P1", owner_kind, 3000.0), ("B", "P1", tenant_kind, 3000.0)])
    parcels = grid_parcels(floor_area_m2=[10_000.0] + [np.nan] * 8, land_mu=[12.0] + [10.0] * 8)
    links = link_firms(parcels, firms, land=land)
    assert share(links, "A", "P1") == pytest.approx(8.4)
    assert share(links, "B", "P1") == pytest.approx(3.6)
    kinds = links.shares.set_index("uscc")["kind"]
    assert kinds["A"] == "own" and kinds["B"] == "leased"
    grouped = link_firms(parcels, firms, land=land, tenant_mode="separate_group")
    assert grouped.firm_links["tenant"].to_dict() == {"A": False, "B": True}


def test_land_file_kinds_from_either_side(tmp_path):
    from gisefficiency.io.tables import read_land

    path = tmp_path / "用地.csv"
    path.write_text("统一社会信用代码,地块编号,用地类型,使用面积(平方米)\n"
                    "A1,P1,出租,3000\nB1,P1,承租,3000\nC1,P2,自用,\nD1,P3,出租方,\nE1,P3,租入,500\n",
                    encoding="utf-8")
    land = read_land(path)
    assert land["kind"].tolist() == ["own", "leased", "own", "own", "leased"]


def test_land_rows_by_year_give_each_year_its_holdings():
    """A holds P1 in 2022 and P1 + P2 in 2023 (10 mu each); B leases 2,000 of P3's 4,000 m² in 2022 only
    (no owner is linked on P3, so B takes its 10 mu). Tax 20 a year: A's 亩均税收 is 20 / 10 = 2 in 2022 and 20 / 20 = 1 in 2023; B has no land in 2023, so
    no per-mu figure; 2021, a year the land rows do not cover, keeps the latest holdings (A 20 mu)."""
    from gisefficiency.metrics.indicators import unit_metrics

    firms = panel([{"uscc": u, "year": y, "tax": 20.0} for u in ("A", "B") for y in (2021, 2022, 2023)])
    land = land_rows([("A", "P1", "自有", np.nan), ("B", "P3", "租赁", 2000.0), ("A", "P1", "自有", np.nan),
                      ("A", "P2", "自有", np.nan)])
    land["year"] = [2022, 2022, 2023, 2023]
    parcels = grid_parcels(floor_area_m2=[np.nan, np.nan, 4000.0] + [np.nan] * 6)
    links = link_firms(parcels, firms, land=land)
    # the latest holdings, as without a year column: each firm's latest year (B's 2022 row)
    assert sorted(zip(links.shares["uscc"], links.shares["parcel_id"], strict=True)) == [
        ("A", "P1"), ("A", "P2"), ("B", "P3")]
    by_year = links.by_year.set_index(["year", "uscc", "parcel_id"])["land_mu"]
    assert by_year.to_dict() == {(2022, "A", "P1"): 10.0, (2022, "B", "P3"): 10.0, (2023, "A", "P1"): 10.0,
                                 (2023, "A", "P2"): 10.0}
    p = unit_metrics(firms, links, parcels=parcels)
    assert p["land_mu"].to_dict() == pytest.approx({
        ("A", 2021): 20.0, ("A", 2022): 10.0, ("A", 2023): 20.0,
        ("B", 2021): 10.0, ("B", 2022): 10.0, ("B", 2023): np.nan}, nan_ok=True)
    assert p.loc[("A", 2022), "tax_per_mu"] == 2.0 and p.loc[("A", 2023), "tax_per_mu"] == 1.0
    assert np.isnan(p.loc[("B", 2023), "tax_per_mu"])


def test_land_rows_of_one_year_or_none_keep_one_snapshot():
    firms = panel([{"uscc": "A"}])
    land = land_rows([("A", "P1", "自有", np.nan)])
    assert link_firms(grid_parcels(), firms, land=land).by_year is None
    land["year"] = 2023
    assert link_firms(grid_parcels(), firms, land=land).by_year is None

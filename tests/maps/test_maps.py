"""Maps: payload encoding, HTML structure and safety as text, and the page in real headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import zlib
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _maps_fixtures import XSS_IMG, XSS_SCRIPT, fake_result, grid_polygons
from browser import needs_browser, open_page
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import ConfigError
from gisefficiency.core.png import encode_png, hex_to_rgb
from gisefficiency.maps import LAYERS, assets, make_map, render_html, save_map
from gisefficiency.maps.encode import (
    COORD_SCALE,
    decode_polygons,
    dumps,
    encode_polygons,
    pack,
    simplify_parcels,
    split_ids,
    unpack,
)
from gisefficiency.maps.image import overlay_png, rasterise_codes
from gisefficiency.maps.layers import natural_breaks, tax_classes


def test_map_libraries_are_vendored_with_their_licences():
    # Committed and shipped in the wheel: a missing file is a broken package, never a skipped test.
    assert {k: assets.missing_files(k) for k in assets.PACKAGES} == {key: [] for key in assets.PACKAGES}
    for key, pkg in assets.PACKAGES.items():
        text = (assets.package_dir(key) / pkg.licence).read_text(encoding="utf-8")
        assert "Permission" in text or "Redistribution" in text, key  # MIT / BSD wording


def test_a_broken_installation_says_so_and_how_to_mend_it(monkeypatch, tmp_path):
    monkeypatch.setattr(assets, "VENDOR_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"offline map assets missing: .*leaflet\.js.* -> .*reinstall it"):
        assets.script_text("leaflet")


@pytest.fixture(scope="module")
def result():
    return fake_result(120)


@pytest.fixture(scope="module")
def html_zh(result, tmp_path_factory):
    path = tmp_path_factory.mktemp("maps") / "map_zh.html"
    save_map(make_map(result, basemap="none"), path)
    return path


def payload_parts(html: str) -> tuple[str, str]:
    """The map's two payload JSON texts as map.js reads them (unpacked from their gzip+base64 elements)."""
    first = re.search(r'<script type="application/octet-stream" id="([^"]+)_data" data-encoding="gzip\+base64"'
                      r'\s+data-details="\1_details" data-unsupported="[^"<>]*">([A-Za-z0-9+/=]*)</script>', html)
    assert first, "payload element missing"
    second = re.search(rf'<script type="application/octet-stream" id="{first.group(1)}_details" '
                       r'data-encoding="gzip\+base64">([A-Za-z0-9+/=]*)</script>', html)
    assert second, "details element missing"
    return unpack(first.group(2)), unpack(second.group(1))


def payload_of(html: str) -> dict:
    """The payload as map.js has it once both parts are in (the details merged into ``parcels``)."""
    core, details = (json.loads(t) for t in payload_parts(html))
    if core["parcels"] is not None:
        core["parcels"].update(details["parcels"])
    return {**core, "firms": details["firms"], "search": details["search"]}


# ---------------------------------------------------------------- encoding


def test_encode_roundtrip_drops_closing_vertex_and_keeps_holes():
    outer = [(120.0, 30.0), (120.001, 30.0), (120.001, 30.001), (120.0, 30.001)]
    hole = [(120.0002, 30.0002), (120.0004, 30.0002), (120.0004, 30.0004)]
    poly = shapely.Polygon(outer, [hole])
    multi = shapely.MultiPolygon([shapely.box(121, 31, 121.0005, 31.0005), shapely.box(121.001, 31, 121.002, 31.001)])
    enc = encode_polygons(np.array([poly, multi]))
    assert json.loads(enc["r"]) == [4, 3, 4, 4]  # closing vertex dropped
    assert json.loads(enc["p"]) == [2, 1, 1]
    assert json.loads(enc["g"]) == [1, 2]
    geoms = decode_polygons(enc)
    np.testing.assert_allclose(geoms[0][0][0], outer, atol=0.5 / COORD_SCALE)
    # the hole was counter-clockwise: it comes back clockwise (reversed), for map.js's nonzero fill
    np.testing.assert_allclose(geoms[0][0][1], [hole[0], hole[2], hole[1]], atol=0.5 / COORD_SCALE)
    assert len(geoms[1]) == 2
    signed = [shapely.LinearRing(ring).is_ccw for ring in geoms[0][0]]
    assert signed == [True, False]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(118, 123), st.floats(27, 31), st.floats(1e-5, 1e-2)), min_size=1, max_size=20))
def test_encode_roundtrip_within_rounding(boxes):
    geoms = np.array([shapely.box(x, y, x + d, y + d) for x, y, d in boxes])
    decoded = decode_polygons(encode_polygons(geoms))
    for g, dec in zip(geoms, decoded, strict=True):
        expected = shapely.get_coordinates(g.exterior)[:-1]
        np.testing.assert_allclose(dec[0][0], expected, atol=0.51 / COORD_SCALE)


def test_dumps_escapes_markup_and_writes_nan_as_null():
    text = dumps({"name": "</script><script>alert(1)</script>", "v": float("nan"), "n": [1, 2]})
    assert "<" not in text and ">" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "v": None, "n": [1, 2]}


def test_split_ids_handles_text_and_lists():
    pairs = split_ids(pd.Series(["a;b", None, ["c", "d"], "e、f"], index=["p1", "p2", "p3", "p4"], dtype=object))
    assert list(zip(pairs["owner"], pairs["target"], strict=True)) == [
        ("p1", "a"), ("p1", "b"), ("p3", "c"), ("p3", "d"), ("p4", "e"), ("p4", "f")]


def test_simplify_valid_coverage_keeps_coverage_and_area():
    geoms = grid_polygons(100)
    out = simplify_parcels(geoms, tolerance_m=1.0)
    assert out.method == "coverage"
    assert shapely.coverage_is_valid(out.geometry)
    np.testing.assert_allclose(shapely.area(out.geometry), shapely.area(geoms), rtol=1e-9)
    assert shapely.get_num_coordinates(out.geometry).sum() < shapely.get_num_coordinates(geoms).sum() / 5


def test_simplify_invalid_coverage_moves_vertices_at_most_fallback():
    # Overlapping parcels are not a coverage: each is simplified alone with 0.1 m.
    a = shapely.segmentize(shapely.box(0, 0, 50, 50), 5)
    b = shapely.Polygon([(49.5, 0), (100, 0), (100, 50), (49.5, 50), (49.5, 20.3), (49.52, 10.1)])
    out = simplify_parcels(np.array([a, b]), tolerance_m=1.0)
    assert out.method == "per-geometry"
    assert out.tolerance_m == pytest.approx(0.1)
    assert shapely.hausdorff_distance(out.geometry, np.array([a, b])).max() <= 0.1 + 1e-9


def test_tax_classes_use_policy_thresholds_and_no_data_class():
    values = pd.Series([0.5, 1.0, 2.0, 3.0, 4.0, 8.0, np.nan])
    classes = tax_classes(values, [1.0, 3.0, 5.0], "zh")
    assert classes["method"] == "policy thresholds"
    assert list(classes["codes"]) == [0, 1, 1, 2, 2, 3, 4]  # "below 1" is < 1: a value at 1 is in the next class
    assert classes["labels"] == ["< 1", "1 – 3", "3 – 5", "≥ 5", "无数据"]
    # every class of the policy stays in the legend, also where no value falls in it
    assert tax_classes(pd.Series([12.0, 20.0]), [1.0, 3.0, 5.0], "en")["labels"] == [
        "< 1", "1 – 3", "3 – 5", "≥ 5", "No data"]


def test_natural_breaks_without_thresholds_come_from_the_parcels():
    # three clusters: sums of squares are zero only when each is a class of its own
    assert natural_breaks(np.array([21.0, 1.0, 2.0, 10.0, 11.0, 20.0]), k=3).tolist() == [2.0, 11.0, 21.0]
    parcels = pd.Series([1.0, 1.0, 1.0, 10.0, 10.0, 50.0, 50.0, np.nan])
    classes = tax_classes(parcels, [], "zh")
    assert classes["method"] == "natural breaks"
    assert classes["labels"] == ["≤ 1", "1 – 10", "10 – 50", "无数据"]
    assert list(classes["codes"]) == [0, 0, 0, 1, 1, 2, 2, 3]
    # two streets with means 12 and 20 are classed on the parcels' breaks, not on their own quantiles
    streets = tax_classes(pd.Series([12.0, 20.0]), [], "zh", breaks_from=parcels)
    assert streets["labels"] == classes["labels"] and list(streets["codes"]) == [2, 2]


@pytest.mark.filterwarnings("ignore:Numba not installed")
@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0, 100), min_size=6, max_size=60), st.integers(2, 5))
def test_natural_breaks_match_mapclassify_fisher_jenks(values, k):
    import mapclassify

    y = np.asarray(values)
    k = min(k, len(np.unique(y)))
    ours = natural_breaks(y, k=k)
    theirs = mapclassify.FisherJenks(y, k=k).bins
    # the same within-class sum of squares (ties can split equal values either way)
    def ssd(bins):
        codes = np.searchsorted(bins, y, side="left")
        return sum(((y[codes == c] - y[codes == c].mean()) ** 2).sum() for c in np.unique(codes))
    assert ssd(ours) == pytest.approx(ssd(theirs), abs=1e-6)


def test_pack_round_trips_and_is_plain_base64():
    text = json.dumps({"name": "甲纺织有限公司", "v": [1, 2, 3]}, ensure_ascii=False)
    packed = pack(text)
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", packed)
    assert unpack(packed) == text
    assert pack(text) == packed  # the same map gives the same bytes


def decode_png(png: bytes) -> np.ndarray:
    """Pixels of a PNG from ``gisefficiency.core.png.encode_png`` (one IDAT, filter 0, RGBA 8 bit)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    cols, rows = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert png[24:29] == bytes([8, 6, 0, 0, 0])  # 8 bit, RGBA, deflate, filter method 0, no interlace
    length = int.from_bytes(png[33:37], "big")
    assert png[37:41] == b"IDAT"
    raw = np.frombuffer(zlib.decompress(png[41:41 + length]), dtype=np.uint8).reshape(rows, 1 + cols * 4)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(rows, cols, 4)


def test_png_encoder_writes_a_valid_png_header():
    png = encode_png(np.zeros((3, 5, 4), dtype=np.uint8))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 5 and int.from_bytes(png[20:24], "big") == 3
    assert overlay_png(np.array([[1.0, np.nan], [2.0, 3.0]]))[:4] == b"\x89PNG"


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2**32 - 1))
def test_png_roundtrip_keeps_every_pixel(rows, cols, seed):
    rgba = np.random.default_rng(seed).integers(0, 256, (rows, cols, 4), dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(rgba)), rgba)


def test_png_encoder_refuses_non_rgba():
    with pytest.raises(ValueError, match=r"\(h, w, 4\) RGBA array, got shape \(2, 2, 3\)"):
        encode_png(np.zeros((2, 2, 3), dtype=np.uint8))


def test_hex_to_rgb_long_short_and_bad():
    assert hex_to_rgb("#1a9850") == (26, 152, 80)
    assert hex_to_rgb("#f4a") == (255, 68, 170)
    with pytest.raises(ValueError, match="'#12345' is not"):
        hex_to_rgb("#12345")


def test_one_png_encoder_for_maps_and_rasters():
    from gisefficiency.core import png
    from gisefficiency.maps import aggregate, image
    from gisefficiency.raster import density as _raster_density

    assert image.encode_png is png.encode_png and aggregate.encode_png is png.encode_png
    assert _raster_density.encode_png is png.encode_png and _raster_density.hex_to_rgb is png.hex_to_rgb
    # the density overlay goes through the shared encoder: its pixels decode to the ramp's end colours
    from affine import Affine

    from gisefficiency.raster import to_png_overlay

    out, _ = to_png_overlay(np.array([[0.0, 1.0], [2.0, np.nan]]), transform=Affine(10, 0, 0, 0, -10, 20),
                            cmap="Reds", opacity=1.0)
    pixels = decode_png(out)
    assert tuple(pixels[0, 1]) == (*hex_to_rgb("#fff5f0"), 255)  # vmin: first anchor
    assert tuple(pixels[1, 0]) == (*hex_to_rgb("#67000d"), 255)  # vmax: last anchor
    assert pixels[0, 0, 3] == 0 and pixels[1, 1, 3] == 0  # zero and NaN are transparent


def test_rasterise_codes_puts_each_class_on_its_parcels():
    a = shapely.box(120.00, 30.00, 120.01, 30.01)
    b = shapely.box(120.01, 30.00, 120.02, 30.01)
    unclassed = shapely.box(120.00, 30.00, 120.01, 30.01)  # over a, later: must not blank it
    grid, bounds = rasterise_codes(np.array([a, b, unclassed]), np.array([0, 1, -1]), max_px=20)
    # 0.02° of longitude is the long side: 20 columns; 0.01° of latitude at 30°N is 2226 m / 2 / cos(30°)
    # ≈ 1285 Mercator metres, so ceil(1285 / 111.3) = 12 rows of 111.3 m
    assert grid.shape == (12, 20) and grid.dtype == np.int32
    assert (grid[:, 1:9] == 0).all() and (grid[:, 11:19] == 1).all()
    (south, west), (north, east) = bounds
    assert west == pytest.approx(120.0, abs=1e-9) and east == pytest.approx(120.02, abs=1e-9)
    assert north == pytest.approx(30.01, abs=1e-9) and 29.999 < south < 30.0
    none, _ = rasterise_codes(np.array([a, b]), np.array([-1, -1]), max_px=20)
    assert (none == -1).all()
    # a parcel far thinner than a pixel (111 m) still shows, in the one pixel under its point on surface
    sliver = shapely.box(120.0151, 30.0051, 120.01511, 30.0052)
    grid, _ = rasterise_codes(np.array([a, b, sliver]), np.array([0, 1, 2]), max_px=20)
    assert (grid == 2).sum() == 1 and grid[4:6, 15].tolist().count(2) == 1


def test_aggregated_raster_pixels_show_the_parcel_grades(result):
    data = payload_of(render_html(make_map(result, basemap="none", max_parcels=50)))
    grade = next(lay for lay in data["layers"] if lay["key"] == "grade")
    pixels = decode_png(base64.b64decode(grade["url"].split(",", 1)[1]))
    (south, west), (north, east) = grade["bounds"]
    rows, cols = pixels.shape[:2]
    lonlat = gpd.GeoSeries(result.parcels.geometry.values, crs=result.parcels.crs).to_crs(4326)
    merc = lonlat.to_crs(3857)
    corner = gpd.GeoSeries([shapely.Point(west, north), shapely.Point(east, south)], crs=4326).to_crs(3857)
    x0, y0, x1, y1 = corner.x[0], corner.y[0], corner.x[1], corner.y[1]
    inner = merc.centroid
    col = ((inner.x - x0) / (x1 - x0) * cols).astype(int).to_numpy()
    row = ((y0 - inner.y) / (y0 - y1) * rows).astype(int).to_numpy()
    expected = pd.Index(["A", "B", "C", "D", "N"]).get_indexer(result.parcels["grade"].astype(object))
    expected[expected < 0] = 5
    colours = np.array([hex_to_rgb(c) for c in grade["colours"]])
    np.testing.assert_array_equal(pixels[row, col, :3], colours[expected])
    assert (pixels[row, col, 3] == 200).all()
    # the street choropleth reads in the policy's classes (1, 3, 5 万元/亩), never quantiles of a few streets
    streets = next(lay for lay in data["layers"] if lay["key"] == "streets")
    assert streets["labels"] == ["< 1", "1 – 3", "3 – 5", "≥ 5", "无数据"]
    means = streets["attrs"]["tax_per_mu"]
    assert streets["codes"] == [int(np.searchsorted([1.0, 3.0, 5.0], v, side="right")) for v in means]


# ---------------------------------------------------------------- HTML as text


def test_offline_html_has_no_cdn_and_inlines_leaflet(html_zh):
    html = html_zh.read_text(encoding="utf-8")
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html)
    assert "cdn.jsdelivr" not in html and "code.jquery.com" not in html and "bootstrap" not in html.lower()
    assert 'src="data:' not in html  # inlined as text, not base64
    assert "L.Control.Search" in html and "L.Control.Draw" in html and "L.Control.Measure" in html
    assert "GiseMap.load(" in html


def test_payload_has_every_layer_with_zh_names(html_zh):
    data = payload_of(html_zh.read_text(encoding="utf-8"))
    assert [lay["key"] for lay in data["layers"]] == list(LAYERS)
    names = {lay["key"]: lay["name"] for lay in data["layers"]}
    assert names["grade"] == "地块评价类别" and names["blocks"] == "低效连片区块"
    assert [lay["key"] for lay in data["layers"] if lay["show"]] == ["grade", "blocks"]
    disposal = next(lay for lay in data["layers"] if lay["key"] == "disposal")
    assert disposal["labels"] == ["淘汰关停", "腾笼换鸟", "整治提升"]
    assert disposal["colours"] == ["#b2182b", "#ef8a62", "#fddbc7"]


def test_missing_tax_stays_missing_in_payload(html_zh):
    data = payload_of(html_zh.read_text(encoding="utf-8"))
    assert data["parcels"]["tax_per_mu"][1] is None
    tax = next(lay for lay in data["layers"] if lay["key"] == "tax")
    assert tax["codes"][1] == len(tax["labels"]) - 1  # the "无数据" class


def test_firm_names_are_never_markup_in_the_html(html_zh):
    html = html_zh.read_text(encoding="utf-8")
    assert XSS_SCRIPT not in html and XSS_IMG not in html
    # packed, and inside the JSON "<" is escaped too, so the text could not end an element even unpacked
    assert "\\u003cscript\\u003ealert(1)" in payload_parts(html)[1]
    assert payload_of(html)["firms"]["name"][0] == XSS_SCRIPT


def test_english_labels(result):
    data = payload_of(render_html(make_map(result, lang="en", basemap="none")))
    assert {lay["key"]: lay["name"] for lay in data["layers"]}["grade"] == "Parcels by grade"
    assert data["text"]["tax_per_mu"].startswith("Tax per mu")
    assert data["draw_local"] is None


def test_missing_optional_columns_drop_their_layers():
    res = fake_result(30)
    res.parcels = res.parcels.drop(columns=["tax_per_mu", "disposal", "in_scenario", "grade", "change"])
    data = payload_of(render_html(make_map(res, basemap="none")))
    assert [lay["key"] for lay in data["layers"]] == ["grade", "idle", "blocks"]
    grade = data["layers"][0]
    assert set(grade["codes"]) == {5}  # every parcel "no grade"


def test_online_mode_links_cdns(result):
    html = render_html(make_map(result, basemap="none", offline=False))
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js" in html
    assert "jquery" not in html.lower()


def test_gaode_shifts_data_to_gcj02(result):
    plain = payload_of(render_html(make_map(result, basemap="none", layers=["grade"])))
    gcj = payload_of(render_html(make_map(result, basemap="gaode", layers=["grade"])))
    dx = (gcj["parcels"]["geom"]["c"][0] - plain["parcels"]["geom"]["c"][0]) / COORD_SCALE
    dy = (gcj["parcels"]["geom"]["c"][1] - plain["parcels"]["geom"]["c"][1]) / COORD_SCALE
    assert 0.001 < abs(dx) < 0.01 and 0.001 < abs(dy) < 0.01  # a few hundred metres near 120°E 30°N
    assert gcj["draw"]["crs"] == "GCJ-02" and "autonavi" in gcj["basemaps"][0]["url"]


def test_tianditu_needs_a_key(result, monkeypatch):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(ConfigError, match="TIANDITU_KEY"):
        make_map(result, basemap="tianditu")
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    data = payload_of(render_html(make_map(result, basemap="tianditu", layers=["grade"])))
    assert "tk=abc123" in data["basemaps"][0]["url"] and "cva_w" in data["basemaps"][0]["labels"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"basemap": "google"}, "unknown basemap"), ({"lang": "fr"}, "lang='fr'"),
     ({"layers": ["grade", "heat"]}, "unknown map layer"), ({"overlays": {"d": (b"GIF89a", ((30, 120), (31, 121)))}},
                                                             "not a PNG")],
)
def test_bad_options_raise(result, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        make_map(result, **kwargs)


def test_overlay_bounds_must_be_latlon(result):
    with pytest.raises(ConfigError, match="south < north"):
        make_map(result, basemap="none", overlays={"density": (np.ones((2, 2)), ((31, 120), (30, 121)))})


def test_aggregated_view_above_max_parcels(result):
    m = make_map(result, basemap="none", max_parcels=50)
    data = payload_of(render_html(m))
    assert m.gise_meta["aggregated"] is True
    assert data["parcels"] is None
    assert [lay["key"] for lay in data["layers"]] == ["streets", "grade", "tax", "blocks"]
    streets = data["layers"][0]
    assert sorted(streets["attrs"]["name"]) == sorted(set(result.parcels["street"]))
    assert data["layers"][1]["url"].startswith("data:image/png;base64,")
    assert len(data["search"]["firm_lat"]) == len(result.firms)


def test_street_tax_is_total_tax_over_taxed_land():
    from gisefficiency.maps.aggregate import street_table

    parcels = gpd.GeoDataFrame(
        {"street": ["a", "a", "b"], "land_mu": [10.0, 30.0, 5.0], "tax": [20.0, np.nan, np.nan]},
        geometry=list(grid_polygons(3, densify_m=None)), crs="EPSG:4549",
    )
    table = street_table(parcels)
    assert table.loc["a", "tax_per_mu"] == pytest.approx(2.0)  # 20 万元 over the 10 taxed mu
    assert np.isnan(table.loc["b", "tax_per_mu"])  # no tax known: missing, not 0
    assert table.loc["a", "n_parcels"] == 2


def test_input_is_not_mutated(result):
    before = result.parcels.copy()
    make_map(result, basemap="none")
    pd.testing.assert_frame_equal(result.parcels.drop(columns="geometry"), before.drop(columns="geometry"))


def test_save_map_linked_writes_assets(result, tmp_path):
    path = save_map(make_map(result, basemap="none"), tmp_path / "m.html", inline=False)
    html = path.read_text(encoding="utf-8")
    files = list((tmp_path / "m_files").iterdir())
    assert len(files) >= 8 and all(f'"m_files/{f.name}"' in html for f in files)


# ---------------------------------------------------------------- in Chromium


@pytest.mark.browser
@needs_browser
def test_page_renders_offline_without_errors(html_zh):
    with open_page(html_zh, wait_for="window.GISE && GISE.ready") as page:
        assert page.errors == []
        assert page.dialogs == []
        assert page.blocked_requests == []
        assert page.evaluate("typeof L") == "object"
        overlays = page.evaluate(
            "[...document.querySelectorAll('.leaflet-control-layers-overlays label')].map(l => l.textContent.trim())")
        assert overlays == ["地块评价类别", "亩均税收分级", "处置类别", "低效用地变化", "闲置地块", "情景腾出用地", "低效连片区块"]
        assert page.evaluate("document.querySelectorAll('.gise-legend-section').length") == 2
        assert page.evaluate("document.querySelector('canvas.leaflet-zoom-animated') !== null")
        assert page.screenshot is not None and page.screenshot.stat().st_size > 10_000


@pytest.mark.browser
@needs_browser
def test_legend_follows_layer_toggle(html_zh):
    with open_page(html_zh, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        page.page.get_by_label("亩均税收分级").check()
        assert page.evaluate("[...document.querySelectorAll('.gise-legend-section')].map(s => s.dataset.layer)") == [
            "grade", "tax", "blocks"]
        page.page.get_by_label("地块评价类别").uncheck()
        assert page.evaluate("[...document.querySelectorAll('.gise-legend-section')].map(s => s.dataset.layer)") == [
            "tax", "blocks"]
        assert page.errors == []


@pytest.mark.browser
@needs_browser
def test_search_box_finds_firm_and_zooms(html_zh, tmp_path):
    with open_page(html_zh, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        zoom0 = page.evaluate("GISE.map.getZoom()")
        box = page.page.locator(".leaflet-control-search input.search-input")
        box.fill("91330100MA000000")
        box.press("5")  # leaflet-search searches on keyup of a character key
        page.page.wait_for_selector(".search-tooltip .search-tip", timeout=5000)
        page.page.locator(".search-tooltip .search-tip").first.click()
        page.page.wait_for_timeout(200)
        assert page.evaluate("GISE.map.getZoom()") > zoom0
        assert page.evaluate("GISE.map.getBounds().contains(L.latLngBounds(GiseMap.decode(GISE.data.parcels.geom).boxes[5]))")
        assert page.evaluate("GISE.search('P00007')") == ["地块 P00007"]
        page.shoot(tmp_path / "search.png")
        assert page.errors == []


@pytest.mark.browser
@needs_browser
def test_hostile_names_stay_text_in_popup_and_search(html_zh):
    with open_page(html_zh, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        text = page.evaluate("GISE.parcelPopupText(0)")
        assert XSS_SCRIPT in text and XSS_IMG in text  # the firm name and its reason, shown as text
        box = page.page.locator(".leaflet-control-search input.search-input")
        box.fill("<im")
        box.press("g")
        page.page.wait_for_selector(".search-tooltip .search-tip", timeout=5000)
        assert page.evaluate("document.querySelector('.search-tooltip').textContent").startswith(XSS_IMG)
        assert page.evaluate("document.querySelectorAll('.search-tooltip img, .leaflet-popup img').length") == 0
        page.page.mouse.click(600, 400)
        page.page.wait_for_timeout(300)
        assert page.dialogs == []
        assert page.errors == []


@pytest.mark.browser
@needs_browser
def test_popup_opens_on_click_with_parcel_facts(result, tmp_path):
    res = fake_result(1, xss=True)
    path = save_map(make_map(res, basemap="none", layers=["grade"]), tmp_path / "one.html")
    with open_page(path, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        c = page.evaluate("(() => { const p = GISE.map.latLngToContainerPoint(GISE.map.getCenter()); return [p.x, p.y]; })()")
        page.page.mouse.click(c[0], c[1])
        page.page.wait_for_selector(".leaflet-popup-content .gise-popup", timeout=5000)
        text = page.evaluate("document.querySelector('.leaflet-popup-content').textContent")
        assert "地块 P00000" in text and XSS_SCRIPT in text and "统一社会信用代码" in text
        assert page.dialogs == [] and page.errors == []


@pytest.mark.browser
@needs_browser
def test_aggregated_page_and_osm_tiles_blocked_without_js_errors(result, tmp_path):
    path = save_map(make_map(result, basemap="osm", max_parcels=50), tmp_path / "agg.html")
    with open_page(path, wait_for="window.GISE && GISE.ready") as page:
        assert page.js_errors == [] and page.dialogs == []
        assert any("tile.openstreetmap.org" in u for u in page.blocked_requests)  # tiles need the network
        page.page.get_by_label("地块评价类别(栅格)").check()
        assert page.evaluate("document.querySelectorAll('.leaflet-image-layer').length") == 1
        assert page.evaluate("[...document.querySelectorAll('.gise-legend-section')].map(s => s.dataset.layer)") == [
            "streets", "grade", "blocks"]
        assert page.evaluate("GISE.search('91330100MA0000000X')") == [XSS_SCRIPT + ' · 91330100MA0000000X']


@pytest.mark.browser
@needs_browser
def test_draw_export_builds_geojson(html_zh):
    with open_page(html_zh, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        gj = page.evaluate("""(() => {
            const b = GISE.map.getBounds();
            GISE.drawn.addLayer(L.rectangle([b.getSouthWest(), b.getCenter()]));
            return GISE.drawn.toGeoJSON(); })()""")
        assert gj["type"] == "FeatureCollection" and gj["features"][0]["geometry"]["type"] == "Polygon"
        with page.page.expect_download() as dl:
            page.page.get_by_text("导出绘制范围(GeoJSON)").click()
        assert dl.value.suggested_filename == "scenario.geojson"


def test_fake_policy_namespace_is_enough():
    res = fake_result(10)
    res.policy = SimpleNamespace(categories={}, tax_thresholds=None)
    data = payload_of(render_html(make_map(res, basemap="none")))
    assert "disposal" not in [lay["key"] for lay in data["layers"]]


# ---------------------------------------------------------------- canvas parcels and block labels

VISIBLE_LABEL_RECTS = """[...document.querySelectorAll('.leaflet-tooltip-pane .gise-block-label')].map(e => {
    const r = e.getBoundingClientRect(); return [e.textContent, r.left, r.top, r.right, r.bottom]; })"""


def _then_labels(action: str) -> str:
    """JavaScript that runs ``action`` and returns the block labels' rectangles in the same task."""
    return f"(() => {{ {action}; return {VISIBLE_LABEL_RECTS}; }})()"


def _overlapping(rects: list) -> list:
    return [(a[0], b[0]) for i, a in enumerate(rects) for b in rects[i + 1:]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]]


def _click_parcel(page, k: int, zoom: int = 18) -> None:
    """Centre the map on parcel k at ``zoom`` and click its middle."""
    xy = page.evaluate(f"""(() => {{
        const c = L.latLngBounds(GiseMap.decode(GISE.data.parcels.geom).boxes[{k}]).getCenter();
        GISE.map.setView(c, {zoom}, {{animate: false}});
        const p = GISE.map.latLngToContainerPoint(c); return [p.x, p.y]; }})()""")
    page.page.mouse.click(xy[0], xy[1])


@pytest.mark.browser
@needs_browser
def test_canvas_parcels_answer_clicks_and_hover_per_parcel(result, tmp_path):
    path = save_map(make_map(result, basemap="none", layers=["grade", "disposal"]), tmp_path / "canvas.html")
    with open_page(path, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        # one canvas path per thematic layer instead of one Leaflet polygon per parcel
        assert page.evaluate("Object.values(GISE.layers.grade._layers)[0] instanceof GiseMap.ParcelSet")
        assert page.evaluate("Object.keys(GISE.map._layers).length") < 40
        _click_parcel(page, 7)
        page.page.wait_for_selector(".leaflet-popup-content .gise-popup", timeout=5000)
        assert page.evaluate("document.querySelector('.gise-popup-title').textContent") == "地块 P00007"
        # hover: the tooltip follows the parcel under the mouse, also from one parcel to its neighbour
        page.evaluate("GISE.map.closePopup()")
        for k in (8, 9):
            xy = page.evaluate(f"""(() => {{ const p = GISE.map.latLngToContainerPoint(
                L.latLngBounds(GiseMap.decode(GISE.data.parcels.geom).boxes[{k}]).getCenter()); return [p.x, p.y]; }})()""")
            page.page.mouse.move(xy[0], xy[1], steps=4)
            # wait for the tooltip rather than a fixed time: under load the hover handler may run later
            page.page.wait_for_function(
                f"(document.querySelector('.leaflet-tooltip-pane') || {{}}).textContent?.startsWith('地块 P{k:05d}')",
                timeout=5000)
        # a parcel without a disposal category is not drawn on the disposal layer, so it has no popup there
        page.page.get_by_label("地块评价类别").uncheck()
        page.page.get_by_label("处置类别").check()
        disposal = result.parcels["disposal"].to_numpy()
        none = int(np.flatnonzero(disposal == "")[0])
        some = int(np.flatnonzero(disposal == "close")[0])
        page.evaluate("GISE.map.closePopup()")
        _click_parcel(page, none)
        page.page.wait_for_timeout(200)
        assert page.evaluate("document.querySelectorAll('.leaflet-popup').length") == 0
        _click_parcel(page, some)
        page.page.wait_for_selector(".leaflet-popup-content .gise-popup", timeout=5000)
        assert page.evaluate("document.querySelector('.gise-popup-title').textContent") == f"地块 P{some:05d}"
        assert page.errors == []


def _label_result():
    """400 parcels (20 × 20 of 60 × 50 m); 40 one-parcel blocks and two identical large blocks."""
    res = fake_result(400, xss=False)
    geoms = list(res.parcels.geometry.values[:40])
    big = shapely.box(500_000, 3_320_000 + 10 * 50, 500_000 + 10 * 60, 3_320_000 + 16 * 50)
    ids = [*range(1, 41), 100, 101]
    res.blocks = gpd.GeoDataFrame(
        {"area_mu": [g.area / 666.6666666666666 for g in [*geoms, big, big]], "n_parcels": 1.0, "freed_mu": 0.0},
        index=pd.Index(ids, name="block_id"), geometry=[*geoms, big, big], crs=res.parcels.crs)
    return res


@pytest.mark.browser
@needs_browser
def test_block_labels_only_where_they_fit_and_never_overlap(tmp_path):
    path = save_map(make_map(_label_result(), basemap="none", layers=["grade", "blocks"]), tmp_path / "labels.html")
    with open_page(path, wait_for="window.GISE && GISE.ready", screenshot=tmp_path / "labels.png") as page:
        rects = page.evaluate(VISIBLE_LABEL_RECTS)
        # at the whole-area view the one-parcel blocks are ~30 px wide: no label; of the two identical large
        # blocks only one is labelled (the second label would sit on the first)
        assert [r[0].split(" · ")[0] for r in rects] in (["区块 100"], ["区块 101"])
        assert page.evaluate("document.querySelectorAll('.leaflet-overlay-pane canvas').length") == 1
        # Each view change and its label check run in one JavaScript task, so the check never depends on
        # timers of the page (Leaflet deletes a removed tooltip's element 200 ms later unless map.js removes
        # it at once; a check one round trip later saw those ghosts or not, by the machine's load).
        for dz in (1, 2, 3):
            rects = page.evaluate(_then_labels("GISE.map.setZoom(GISE.map.getZoom() + 1, {animate: false})"))
            assert _overlapping(rects) == [], f"zoom +{dz}"
        # zoomed into block 5 its label shows, inside the window; its outline and popup stay at every zoom
        rects = page.evaluate(_then_labels("""const b = GISE.data.layers.find(l => l.key === 'blocks');
            const box = GiseMap.decode(b.geom).boxes[4];
            GISE.map.setView(L.latLngBounds(box).getCenter(), 19, {animate: false})"""))
        mine = [r for r in rects if r[0].startswith("区块 5 · ")]
        assert len(mine) == 1 and mine[0][1] >= 0 and mine[0][3] <= 1200 and mine[0][2] >= 0 and mine[0][4] <= 800
        assert _overlapping(rects) == []
        assert page.evaluate(_then_labels("GISE.map.setZoom(12, {animate: false})")) == []
        page.page.wait_for_timeout(250)  # and nothing comes back once Leaflet's removal timers have run
        assert page.evaluate(VISIBLE_LABEL_RECTS) == []
        # every outline in one canvas path set (plus the labels), and a click inside a block opens its popup
        group = "Object.values(GISE.layers.blocks._layers)[0].getLayers()"
        assert page.evaluate(f"{group}.length") == 2
        assert page.evaluate(f"{group}[0] instanceof GiseMap.ParcelSet && {group}[0]._flat.n") == 42
        xy = page.evaluate("""(() => { const b = GISE.data.layers.find(l => l.key === 'blocks');
            const c = L.latLngBounds(GiseMap.decode(b.geom).boxes[4]).getCenter();
            GISE.map.setView(c, 19, {animate: false});
            const p = GISE.map.latLngToContainerPoint(c); return [p.x, p.y]; })()""")
        page.page.mouse.click(xy[0], xy[1])
        page.page.wait_for_selector(".leaflet-popup-content .gise-popup", timeout=5000)
        assert page.evaluate("document.querySelector('.gise-popup-title').textContent").startswith("区块 5 · ")
        assert page.errors == []


@pytest.mark.browser
@needs_browser
def test_canvas_parcel_hole_is_neither_painted_nor_clickable(tmp_path):
    res = fake_result(3, xss=False, densify_m=None)
    x0, y0 = 500_000.0, 3_320_000.0
    donut = shapely.Polygon(shapely.box(x0, y0, x0 + 60, y0 + 50).exterior.coords,
                            [shapely.box(x0 + 20, y0 + 15, x0 + 40, y0 + 35).exterior.coords])
    res.parcels = res.parcels.set_geometry(
        gpd.GeoSeries([donut, *res.parcels.geometry.values[1:]], index=res.parcels.index, crs=res.parcels.crs))
    path = save_map(make_map(res, basemap="none", layers=["grade"]), tmp_path / "donut.html")
    hole = gpd.GeoSeries([shapely.Point(x0 + 30, y0 + 25), shapely.Point(x0 + 10, y0 + 25)], crs=res.parcels.crs)
    (hx, hy), (rx, ry) = shapely.get_coordinates(hole.to_crs(4326).values)
    with open_page(path, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        def at(lat, lon):
            return page.evaluate(f"(() => {{ GISE.map.setView([{lat}, {lon}], 20, {{animate: false}}); "
                                 "const p = GISE.map.latLngToContainerPoint(GISE.map.getCenter()); return [p.x, p.y]; })()")

        def alpha(x, y):  # alpha of the canvas pixel under a container point
            return page.evaluate(f"""(() => {{ const c = document.querySelector('.leaflet-overlay-pane canvas');
                const r = c.getBoundingClientRect(); const k = c.width / r.width;
                return c.getContext('2d').getImageData(({x} - r.left) * k, ({y} - r.top) * k, 1, 1).data[3]; }})()""")

        page.page.wait_for_timeout(100)
        x, y = at(hy, hx)
        page.page.wait_for_timeout(100)
        assert alpha(x, y) == 0
        page.page.mouse.click(x, y)
        page.page.wait_for_timeout(200)
        assert page.evaluate("document.querySelectorAll('.leaflet-popup').length") == 0
        x, y = at(ry, rx)
        page.page.wait_for_timeout(100)
        assert alpha(x, y) > 0
        page.page.mouse.click(x, y)
        page.page.wait_for_selector(".leaflet-popup-content .gise-popup", timeout=5000)
        assert page.evaluate("document.querySelector('.gise-popup-title').textContent") == "地块 P00000"
        assert page.errors == []


@pytest.mark.browser
@needs_browser
def test_a_browser_without_decompression_says_so(html_zh):
    with open_page(html_zh, screenshot=False) as page:
        page.page.add_init_script("delete window.DecompressionStream")
        page.page.reload(wait_until="load")
        page.page.wait_for_selector(".gise-unsupported", timeout=5000)
        assert page.evaluate("document.querySelector('.gise-unsupported').textContent").startswith("此浏览器无法解压地图数据")
        assert page.evaluate("window.GISE === undefined")
        assert page.js_errors == []


_painted_pixels = """(() => { const c = document.querySelector('.leaflet-overlay-pane canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
    for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; })()"""


@pytest.mark.browser
@needs_browser
def test_zoomed_out_parcels_are_pixels_and_zoomed_in_only_those_near_the_view_are_built(result, tmp_path):
    path = save_map(make_map(result, basemap="none", layers=["grade"]), tmp_path / "lod.html")
    layer = "Object.values(GISE.layers.grade._layers)[0]"
    with open_page(path, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        # zoom 12: a 60 × 50 m parcel is under 2 px, so every parcel is a pixel of the layer's image
        page.evaluate("GISE.map.setZoom(12, {animate: false})")
        assert page.evaluate(f"{layer}._tiny !== null && {layer}._paths.every(p => p === null)")
        colours = page.evaluate("""(() => { const c = document.querySelector('.leaflet-overlay-pane canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, out = new Set();
            for (let i = 0; i < d.length; i += 4) { if (d[i + 3] > 0) out.add([d[i], d[i + 1], d[i + 2]].join()); }
            return [...out].map(s => s.split(',').map(Number)); })()""")
        palette = np.array([hex_to_rgb(c) for c in page.evaluate("GISE.data.layers[0].colours")])
        assert colours and all(np.abs(palette - rgb).max(axis=1).min() <= 2 for rgb in colours)
        # were the image too large (a wide screen), the tiny parcels are boxes in the class paths instead
        page.evaluate(f"(() => {{ const l = {layer}; l.options.maxTinyPixels = 0; l._paths = null; l.redraw(); }})()")
        page.page.wait_for_function(f"{layer}._paths !== null")  # the canvas redraws on the next frame
        assert page.evaluate(f"{layer}._tiny === null && {layer}._paths.some(p => p !== null)")
        assert page.evaluate(_painted_pixels) > 100
        # zoom 20 on parcel 60: only the parcels around the view are built, and parcel 60 among them
        page.evaluate("""(() => { const b = L.latLngBounds(GiseMap.decode(GISE.data.parcels.geom).boxes[60]);
            GISE.map.setView(b.getCenter(), 20, {animate: false}); })()""")
        built = page.evaluate(f"Array.from({layer}._select({layer}._built).members)")
        # the grid query finds exactly the parcels whose box meets the built region (the canvas area and half
        # a view more each way: about 8 × 6 parcels of some 460 × 390 px), not all 120
        meeting = page.evaluate(f"""(() => {{ const l = {layer}, r = l._built, B = l._flat.box, out = [];
            for (let i = 0; i < l._flat.n; i++) {{
                if (B[4*i+2] >= r[0] && B[4*i] <= r[2] && B[4*i+3] >= r[1] && B[4*i+1] <= r[3]) out.push(i); }}
            return out; }})()""")
        assert sorted(built) == meeting and 60 in built and len(built) < 120
        assert page.evaluate(f"{layer}._tiny === null")
        assert page.errors == []


def test_the_anonymiser_safety_net_reaches_into_the_packed_payload():
    import html as html_lib

    from _report_fixtures import make_result

    from gisefficiency.report.build import build_report

    result = make_result()
    page = render_html(make_map(result, basemap="none"))  # a map of the real names, as a caller might pass
    names = set(result.firms["name"])
    assert names & set(payload_of(page)["firms"]["name"])
    report = build_report(result, anonymise=True, map_html=page)
    embedded = html_lib.unescape(re.search(r'<iframe[^>]*srcdoc="([^"]*)"', report).group(1))
    data = payload_of(embedded)
    assert not names & set(data["firms"]["name"]) and not set(result.firms.index) & set(data["firms"]["uscc"])
    assert all(name.startswith("企业-") for name in data["firms"]["name"])


def test_rewriting_payloads_keeps_text_that_looks_like_an_escape(result):
    from gisefficiency.maps.html import rewrite_payloads

    res = fake_result(5)
    res.firms.loc[res.firms.index[1], "name"] = "甲\\u003c乙 & <b>"  # a backslash, then "u003c", as data
    page = render_html(make_map(res, basemap="none"))
    same = rewrite_payloads(page, lambda text: text)
    assert payload_of(same) == payload_of(page)
    assert payload_of(same)["firms"]["name"][1] == "甲\\u003c乙 & <b>"
    assert payload_of(rewrite_payloads(page, lambda t: t.replace("<b>", "<i>")))["firms"]["name"][1] == "甲\\u003c乙 & <i>"

"""The map at city scale: a generated county of 100,000 parcels, every parcel coloured and clickable.

One pipeline run and one map for the module (about a minute): the page must stay within 15 MB with every
parcel in it, open in Chromium without errors, answer a click at zoom 15 with the parcel's own popup, and
show 亩均税收 in the preset's own classes.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from browser import needs_browser, open_page

from gisefficiency import pipeline
from gisefficiency.config import load_config
from gisefficiency.maps import make_map, save_map
from gisefficiency.maps.encode import unpack
from gisefficiency.sample import generate_county, write_sample

pytestmark = pytest.mark.slow

N_PARCELS = 100_000
CONFIG = """
[parcels]
path = "parcels.parquet"
duplicates = "keep_first"
[firms]
path = "firms.parquet"
[land]
path = "land.parquet"
[policy]
preset = "suichang-2022"
year = 2021
[clusters]
enabled = false
[raster]
enabled = false
[output]
dir = "out"
"""


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    write_sample(generate_county(N_PARCELS, seed=7, with_raster=False), folder, formats=("parquet",))
    (folder / "city.toml").write_text(CONFIG, encoding="utf-8")
    result = pipeline.run(load_config(folder / "city.toml"))
    m = make_map(result, basemap="none")
    return result, m, save_map(m, folder / "map.html")


def _core(html: str) -> dict:
    match = re.search(r'id="[^"]+_data" data-encoding="gzip\+base64"[^>]*>([A-Za-z0-9+/=]*)</script>', html)
    return json.loads(unpack(match.group(1)))


def test_city_map_holds_every_parcel_within_15_mb(city):
    _, m, path = city
    assert not m.gise_meta["aggregated"]
    assert path.stat().st_size <= 15_000_000
    core = _core(path.read_text(encoding="utf-8"))
    assert len(core["parcels"]["geom"]["g"]) == m.gise_meta["n_parcels"] > 0.95 * N_PARCELS
    assert core["detail_zoom"] == 14


def test_city_tax_legend_is_the_presets_thresholds(city):
    # suichang-2022: close below 1, swap 1 to 3, upgrade 3 to 5 万元/亩
    tax = next(lay for lay in _core(city[2].read_text(encoding="utf-8"))["layers"] if lay["key"] == "tax")
    assert tax["labels"] == ["< 1", "1 – 3", "3 – 5", "≥ 5", "无数据"]
    values = city[0].parcels["tax_per_mu"].to_numpy(dtype=float)
    expected = np.where(np.isfinite(values), np.searchsorted([1.0, 3.0, 5.0], values, side="right"), 4)
    assert np.bincount(tax["codes"], minlength=5).tolist() == np.bincount(expected, minlength=5).tolist()


def _lonely_parcel(result) -> tuple[str, float, float]:
    """A parcel of at least 2 mu whose inner point lies in no other parcel: (id, lat, lon)."""
    parcels = result.parcels[result.parcels["area_mu"] >= 2]
    inner = shapely.point_on_surface(parcels.geometry.values)
    tree = shapely.STRtree(result.parcels.geometry.values)
    hits = np.bincount(tree.query(inner, predicate="within")[0], minlength=len(inner))
    lonely = np.flatnonzero(hits == 1)
    k = int(lonely[len(lonely) // 2])  # one from the middle of the county
    point = shapely.get_coordinates(gpd.GeoSeries([inner[k]], crs=result.parcels.crs).to_crs(4326).values)[0]
    return str(parcels.index[k]), float(point[1]), float(point[0])


@pytest.mark.browser
@needs_browser
def test_city_map_opens_and_a_parcel_answers_a_click_at_zoom_15(city):
    result, _, path = city
    pid, lat, lon = _lonely_parcel(result)
    with open_page(path, wait_for="window.GISE && GISE.ready", timeout_ms=120_000) as page:
        assert page.errors == [] and page.blocked_requests == []
        assert page.evaluate("performance.getEntriesByName('gise-painted').length") == 1
        page.page.get_by_label("低效连片区块").uncheck()  # a block outline would take the click
        page.page.get_by_label("亩均税收分级").check()
        assert page.evaluate("[...document.querySelectorAll('.gise-legend-section[data-layer=tax] "
                             ".gise-legend-item')].map(e => e.textContent)") == ["< 1", "1 – 3", "3 – 5", "≥ 5", "无数据"]
        xy = page.evaluate(f"""(() => {{ GISE.map.setView([{lat}, {lon}], 15, {{animate: false}});
            const p = GISE.map.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }})()""")
        page.page.wait_for_timeout(100)
        alpha = page.evaluate(f"""(() => {{ const c = document.querySelector('.leaflet-overlay-pane canvas');
            const r = c.getBoundingClientRect(); const k = c.width / r.width;
            return c.getContext('2d').getImageData(({xy[0]} - r.left) * k, ({xy[1]} - r.top) * k, 1, 1).data[3]; }})()""")
        assert alpha > 0  # coloured
        page.page.mouse.click(xy[0], xy[1])
        page.page.wait_for_selector(".leaflet-popup-content .gise-popup", timeout=5000)
        assert page.evaluate("document.querySelector('.gise-popup-title').textContent") == f"地块 {pid}"
        # the tools of a small map work at city scale too: search, scale bar, draw and export
        assert page.evaluate(f"GISE.search({json.dumps(pid)})") == [f"地块 {pid}"]
        firm = result.firms.index[0]
        assert any(key.endswith(firm) for key in page.evaluate(f"GISE.search({json.dumps(firm)})"))
        assert page.evaluate("document.querySelectorAll('.leaflet-control-scale, .leaflet-draw, .gise-export').length") == 3
        assert page.errors == []

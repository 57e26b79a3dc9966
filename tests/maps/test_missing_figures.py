"""Map popups with figures a county lacks: a missing figure reads "—", never 0 and never silently gone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from _maps_fixtures import fake_result
from browser import needs_browser, open_page

from gisefficiency.maps import make_map, save_map


@pytest.mark.browser
@needs_browser
def test_popup_shows_missing_value_added_as_a_dash(tmp_path):
    res = fake_result(1, xss=False)
    # A firm table without 工业增加值: value added per mu is missing on the parcel and its firm.
    res = replace(res, parcels=res.parcels.assign(va_per_mu=np.nan), firms=res.firms.assign(va_per_mu=np.nan))
    path = save_map(make_map(res, basemap="none", layers=["grade"]), tmp_path / "missing.html")
    with open_page(path, wait_for="window.GISE && GISE.ready", screenshot=False) as page:
        c = page.evaluate("(() => { const p = GISE.map.latLngToContainerPoint(GISE.map.getCenter()); return [p.x, p.y]; })()")
        page.page.mouse.click(c[0], c[1])
        page.page.wait_for_selector(".leaflet-popup-content .gise-popup", timeout=5000)
        rows = page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-popup-content tr'))"
            ".map(tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent])"
        )
        va = [value for head, value in rows if head.startswith("亩均增加值")]
        assert va == ["—", "—"]  # the parcel's row and its firm's row
        tax = [value for head, value in rows if head.startswith("亩均税收")]
        assert tax and all(v.endswith("万元/亩") and v != "—" for v in tax)
        assert page.errors == []

"""The demo's own map and report, opened in headless Chromium with the network cut, as a bureau would."""

from __future__ import annotations

import re

import pytest
from browser import needs_browser, open_page

pytestmark = [pytest.mark.browser, needs_browser]

LAYERS_ZH = ["地块评价类别", "亩均税收分级", "处置类别", "闲置地块", "情景腾出用地", "低效连片区块"]


def _only_tiles_blocked(page) -> None:
    # Offline, the OpenStreetMap tiles cannot load; everything else (Leaflet, plugins, data) is inlined.
    assert all("tile.openstreetmap.org" in url for url in page.blocked_requests), page.blocked_requests


def test_demo_map_renders_offline_with_every_layer(demo_outputs, tmp_path):
    html = demo_outputs["map"].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=\"https?://", html)
    with open_page(demo_outputs["map"], wait_for="window.GISE && GISE.ready", viewport=(1400, 900)) as page:
        assert page.js_errors == []
        _only_tiles_blocked(page)
        labels = page.evaluate(
            "[...document.querySelectorAll('.leaflet-control-layers-overlays label')].map(l => l.textContent.trim())"
        )
        assert labels[: len(LAYERS_ZH)] == LAYERS_ZH
        assert any("密度" in label for label in labels)  # the density GeoTIFF overlay
        assert page.evaluate("document.querySelectorAll('.gise-legend-section').length") >= 2
        page.shoot(tmp_path / "demo_map.png")
        assert (tmp_path / "demo_map.png").stat().st_size > 20_000


def test_demo_report_opens_and_embeds_the_map(demo_outputs, tmp_path):
    html = demo_outputs["report"].read_text(encoding="utf-8")
    assert "示例县" in html
    with open_page(demo_outputs["report"], viewport=(1400, 900)) as page:
        assert page.js_errors == []
        _only_tiles_blocked(page)
        assert page.evaluate("document.querySelectorAll('svg').length") >= 3
        assert page.evaluate("document.querySelector('iframe') !== null")
        page.shoot(tmp_path / "demo_report.png")


def test_demo_map_in_english(demo_result, demo_config, tmp_path):
    from gisefficiency import pipeline

    written = pipeline.write_all(demo_result, demo_config, out_dir=tmp_path, lang="en")
    with open_page(written["map"], wait_for="window.GISE && GISE.ready") as page:
        assert page.js_errors == []
        labels = page.evaluate(
            "[...document.querySelectorAll('.leaflet-control-layers-overlays label')].map(l => l.textContent.trim())"
        )
        assert "Low-efficiency blocks" in " ".join(labels)
    assert "Per-mu" in written["report"].read_text(encoding="utf-8") or "per mu" in written["report"].read_text(
        encoding="utf-8"
    ).lower()

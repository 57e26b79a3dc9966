"""Interactive maps of a run: one self-contained Leaflet page per result.

``make_map(result)`` builds a folium map whose layers, legend, popups, search box and draw tool are drawn
in the browser by ``gisefficiency/maps/assets/map.js`` from one compact embedded payload (geometries delta-encoded
once, layers as class codes), and ``save_map(m, path)`` writes it as a single HTML file with Leaflet and every
plugin inlined, so it opens offline. Measured on this machine (benchmarks/bench_maps.py): 20,000 parcels give
a file of a few MB that paints in headless Chromium in about a second. Above ``max_parcels`` (50,000) the map
switches to an aggregated view (streets, parcel rasters, blocks) instead of a page that hangs.
"""

from __future__ import annotations

from gisefficiency.maps.basemaps import BASEMAPS
from gisefficiency.maps.build import make_map
from gisefficiency.maps.html import render_html, save_map
from gisefficiency.maps.layers import LAYERS, VISIBLE
from gisefficiency.maps.text import MAP_TEXT

__all__ = ["BASEMAPS", "LAYERS", "MAP_TEXT", "VISIBLE", "make_map", "render_html", "save_map"]

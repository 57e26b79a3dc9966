"""Interactive maps of a run: one self-contained Leaflet page per result.

``make_map(result)`` builds a folium map whose layers, legend, popups, search box and draw tool are drawn
in the browser by ``gisefficiency/maps/assets/map.js`` from one compact embedded payload (geometries delta-encoded
once, layers as class codes, all of it gzip-packed; the popup and search columns are unpacked after the first
paint), and ``save_map(m, path)`` writes it as a single HTML file with Leaflet and every plugin inlined, so it
opens offline. In the page each layer is one canvas path set with a grid index for clicks; only the parcels
near the view are built, parcels under 3 px are set as pixels, and at city scale outlines start at zoom 14.
Measured on this machine (benchmarks/bench_maps.py): a generated city of 100,000 parcels gives a 12 MB page
with every parcel coloured and clickable. Above ``max_parcels`` (200,000) the map switches to an aggregated
view (streets, parcel rasters, blocks).
"""

from __future__ import annotations

from gisefficiency.maps.basemaps import BASEMAPS
from gisefficiency.maps.build import make_map
from gisefficiency.maps.html import render_html, save_map
from gisefficiency.maps.layers import LAYERS, VISIBLE
from gisefficiency.maps.text import MAP_TEXT

__all__ = ["BASEMAPS", "LAYERS", "MAP_TEXT", "VISIBLE", "make_map", "render_html", "save_map"]

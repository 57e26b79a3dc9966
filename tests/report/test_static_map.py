"""The printable static map: parcels by grade with block outlines, rasterised and PNG-encoded without a browser."""

from __future__ import annotations

import re

import numpy as np
import pytest
from _png import decode_png, png_of_data_uri
from _report_fixtures import make_result
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

from gisefficiency.core.i18n import GRADE_COLOURS
from gisefficiency.core.png import hex_to_rgb
from gisefficiency.report.build import build_report
from gisefficiency.report.static_map import (
    BLOCK_COLOUR,
    NO_CLASS_COLOUR,
    LegendItem,
    render_static_map,
    scale_bar_metres,
    static_map_svg,
)

COLOURS = [GRADE_COLOURS[g] for g in "ABCDN"]
WHITE = (255, 255, 255, 255)


def rgba(colour: str) -> tuple[int, ...]:
    return (*hex_to_rgb(colour), 255)


def test_two_parcels_hand_computed_pixels():
    # Span 200 m, margin 2 % = 4 m each side -> 208 m over 100 px: 2.08 m per pixel, 100 x 52 pixels.
    image = render_static_map([box(0, 0, 100, 100), box(100, 0, 200, 100)], np.array([0, 3]), COLOURS, max_px=100)
    assert (image.width, image.height) == (100, 52)
    assert image.metres_per_px == pytest.approx(2.08)
    px = decode_png(image.png)
    # The centre (50, 50) of the first parcel: column (50 + 4) / 2.08 = 25.96 -> 25, row (104 - 50) / 2.08 -> 25.
    assert tuple(px[25, 25]) == rgba(GRADE_COLOURS["A"])
    assert tuple(px[25, 74]) == rgba(GRADE_COLOURS["D"])  # (150, 50): column 154 / 2.08 = 74.04
    assert tuple(px[0, 0]) == WHITE  # the margin is background
    assert image.n_parcels == 2


def test_unclassed_parcels_block_outlines_and_tiny_parcels():
    geoms = [box(0, 0, 100, 100), box(100, 0, 200, 100), box(300, 300, 301, 301), None]
    image = render_static_map(geoms, [np.nan, 1, 2, 0], COLOURS, blocks=[box(0, 0, 200, 100)], max_px=100)
    px = decode_png(image.png)
    colours = {tuple(c) for c in px.reshape(-1, 4)}
    assert rgba(NO_CLASS_COLOUR) in colours  # a parcel without a class is still drawn
    assert rgba(GRADE_COLOURS["B"]) in colours
    assert rgba(GRADE_COLOURS["C"]) in colours  # 1 m² parcel: painted at its point on surface
    assert image.n_parcels == 3  # the missing geometry is skipped
    res = image.metres_per_px
    col = int((0 - (0 - 6.02)) / res)  # the block's west edge (x = 0); margin = 2 % of the 301 m span
    row = int(((301 + 6.02) - 50) / res)
    assert tuple(px[row, col]) == rgba(BLOCK_COLOUR)
    assert tuple(px[row, col + 5]) == rgba(NO_CLASS_COLOUR)  # inside the block the parcel colour shows


def test_nothing_to_draw_gives_none():
    assert render_static_map([], [], COLOURS) is None
    assert render_static_map([None, Polygon()], [0, 1], COLOURS) is None


def test_scale_bar_lengths():
    assert scale_bar_metres(10_000) == 2_000
    assert scale_bar_metres(12_000) == 2_000
    assert scale_bar_metres(30_000) == 5_000
    assert scale_bar_metres(100) == 50  # never shorter than the shortest step


def test_svg_figure_has_image_legend_scale_and_escapes():
    image = render_static_map([box(0, 0, 10_000, 6_000)], [1], COLOURS, max_px=200)
    svg = str(static_map_svg(image, [LegendItem("#1a9850", "<b>A</b>"), LegendItem(BLOCK_COLOUR, "区块", outline=True),
                                     LegendItem("red;x:url(y)", "bad")],
                             title="图", lang="zh", crs_name="EPSG:4549"))
    assert svg.startswith('<svg class="map-image"')
    assert "&lt;b&gt;A&lt;/b&gt;" in svg and "<b>" not in svg
    assert "url(y)" not in svg  # a colour that is not #hex is replaced
    assert "2 千米" in svg  # 10 km wide image -> 2 km bar
    assert "坐标系 EPSG:4549" in svg and "每像素约 52 米" in svg  # 10,400 m / 200 px
    assert not re.search(r"https?://", svg)
    assert png_of_data_uri(svg).shape == (image.height, image.width, 4)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.floats(5, 95), st.floats(5, 95)), min_size=1, max_size=25))
def test_every_class_drawn_shows_up(cells):
    # Parcels in separate 100 m cells of a 5 x 5 layout, none overlapping: each one's colour must appear,
    # however small the parcel is against the pixel size.
    geoms = [box((i % 5) * 100, (i // 5) * 100, (i % 5) * 100 + w, (i // 5) * 100 + h)
             for i, (_, w, h) in enumerate(cells)]
    codes = [c for c, _, _ in cells]
    px = decode_png(render_static_map(geoms, codes, COLOURS, max_px=60).png)
    shown = {tuple(c) for c in px.reshape(-1, 4)}
    assert {rgba(COLOURS[c]) for c in codes} <= shown


def test_report_static_map_is_present_and_not_blank():
    page = build_report(make_result())
    figure = re.search(r'<section id="static-map">.*?</section>', page, re.S).group(0)
    px = png_of_data_uri(figure)
    colours = {tuple(c) for c in px.reshape(-1, 4)}
    # The fixture's parcels are graded A, C, B, D and two have no grade; block 1 is outlined.
    for g in "ABCD":
        assert rgba(GRADE_COLOURS[g]) in colours
    assert {rgba(NO_CLASS_COLOUR), rgba(BLOCK_COLOUR), WHITE} <= colours
    assert "评价类别与低效连片区块分布图" in figure and "低效连片区块边界" in figure
    assert 'href="#static-map"' in page
    assert "Low-efficiency block boundary" in build_report(make_result(), lang="en")

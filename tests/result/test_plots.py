"""Static plots for notebooks: rendered to PNG with Agg, checked by their artists."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from gisefficiency.result import plots


def _png(ax) -> bytes:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png", dpi=60)
    plt.close(ax.figure)
    return buf.getvalue()


def test_grade_map_has_a_legend_entry_per_grade_with_its_count(demo_result):
    ax = demo_result.plot_grades()
    grades = demo_result.parcels["grade"].astype(object)
    shown = ~(demo_result.parcels.geometry.isna() | demo_result.parcels.geometry.is_empty)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    for g, zh in zip("ABCD", ("A类", "B类", "C类", "D类"), strict=True):
        n = int(((grades == g) & shown).sum())
        assert f"{zh} ({n:,})" in texts
    assert texts[:4] == [t for t in texts if t[:2] in ("A类", "B类", "C类", "D类")]  # in class order
    assert ax.get_legend().get_title().get_text() == "评价类别"
    colours = [matplotlib.colors.to_hex(h.get_facecolor()) for h in ax.get_legend().legend_handles[:4]]
    assert colours == ["#1a9850", "#91cf60", "#fc8d59", "#d73027"]
    assert ax.get_title().startswith("示例县 2021")
    assert _png(ax).startswith(b"\x89PNG")


def test_disposal_map_uses_the_presets_categories_and_colours(demo_result):
    ax = demo_result.plot_grades(column="disposal", lang="en")
    cats = demo_result.policy.categories
    handles = ax.get_legend().legend_handles
    labels = [t.get_text().rsplit(" (", 1)[0] for t in ax.get_legend().get_texts()]
    n_close = int((demo_result.parcels["disposal"] == "close").sum())
    assert f"{cats['close'].en} ({n_close:,})" in [t.get_text() for t in ax.get_legend().get_texts()]
    for label, handle in zip(labels, handles, strict=True):
        cat = next(c for c in cats.values() if c.en == label)
        assert matplotlib.colors.to_hex(handle.get_facecolor()) == cat.colour
    _png(ax)


def test_tax_histogram_draws_each_threshold_and_counts_every_known_value(demo_result):
    ax = demo_result.plot_tax_distribution()
    lines = [a for a in ax.get_lines() if isinstance(a, Line2D)]
    assert [line.get_xdata()[0] for line in lines] == [1.0, 3.0, 5.0]  # suichang-2022: 1万, 3万, 5万
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1万元/亩", "3万元/亩", "5万元/亩"]
    known = int(demo_result.firms["tax_per_mu"].notna().sum())
    assert sum(p.get_height() for p in ax.patches) == known  # values past the axis end sit in the last bar
    missing = len(demo_result.firms) - known
    assert f"无数据 {missing:,}" in ax.get_title()
    lo, hi = ax.patches[0].get_x(), ax.patches[-1].get_x() + ax.patches[-1].get_width()
    assert hi == pytest.approx(45.0) and lo <= 0  # the 95th percentile 44.5 rounded up to 45
    _png(ax)


def test_tax_histogram_of_parcels_into_given_axes_with_a_fixed_end(demo_result):
    _fig, (left, right) = plt.subplots(1, 2)
    ax = demo_result.plot_tax_distribution(right, of="parcels", bins=10, xmax=20, lang="en")
    assert ax is right and not left.patches
    assert len(ax.patches) == 10
    assert sum(p.get_height() for p in ax.patches) == int(demo_result.parcels["tax_per_mu"].notna().sum())
    assert "parcels" in ax.get_title()
    _png(ax)


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_chinese_text_gets_the_cjk_font_and_plots_draw_without_one(demo_result, monkeypatch):
    font = plots.cjk_font()
    ax = demo_result.plot_tax_distribution()
    if font is not None:  # fonts-noto-cjk is installed by `make system`
        assert ax.get_title().startswith("2021年") and ax.title.get_fontfamily()[0] == font
        assert all(t.get_fontfamily()[0] == font for t in ax.get_legend().get_texts())
    plt.close(ax.figure)
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    ax = demo_result.plot_grades()
    assert ax.title.get_fontfamily()[0] != font
    assert _png(ax).startswith(b"\x89PNG")


def test_unknown_plot_options_are_errors(demo_result):
    with pytest.raises(ValueError, match="column = 'street': must be 'grade' or 'disposal'"):
        demo_result.plot_grades(column="street")
    with pytest.raises(ValueError, match="of = 'blocks': must be 'firms' or 'parcels'"):
        demo_result.plot_tax_distribution(of="blocks")


def test_cjk_font_prefers_noto_sans_sc_when_installed():
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    expected = next((name for name in plots.CJK_FONTS if name in known), None)
    assert plots.cjk_font() == expected
    if "Noto Sans CJK SC" in known:
        assert expected == "Noto Sans CJK SC"
    assert np.all([isinstance(n, str) for n in plots.CJK_FONTS])

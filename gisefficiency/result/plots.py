"""Static matplotlib plots of a Result, for a planner's notebook or slide.

The classes, colours and legend labels are the map's (``maps/layers.py``: grades A/B/C/D in the
fixed grade colours, disposal categories in the preset's colours), so a slide and the interactive map
agree. Chinese labels need a CJK font: matplotlib's font manager is asked for Noto Sans CJK (Debian's
``fonts-noto-cjk``, which ``make system`` installs) or another common Chinese font; without one the
plot is still drawn, with a warning, and the Chinese glyphs show as boxes.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from gisefficiency.result import Result

log = logging.getLogger(__name__)

Lang = Literal["zh", "en"]

#: Chinese fonts tried in this order (the first the font manager knows is used).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
)


@functools.cache
def cjk_font() -> str | None:
    """The first of ``CJK_FONTS`` matplotlib can use, or None."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    found = next((name for name in CJK_FONTS if name in known), None)
    if found is None:
        log.warning("no Chinese font found for matplotlib (install fonts-noto-cjk); Chinese labels show as boxes",
                    extra={"zh": "matplotlib 找不到中文字体（请安装 fonts-noto-cjk）；中文标签会显示为方框"})
    return found


def _use_cjk_font(ax: Axes) -> None:
    """Give every text of ``ax`` (title, labels, ticks, legend) the CJK font first, the default after it.

    Set on the texts themselves rather than through ``rcParams``: the generic "sans-serif" family is
    resolved when the figure is drawn, which in a notebook is after this function has returned.
    """
    from matplotlib.text import Text

    font = cjk_font()
    if font is None:
        return
    for text in ax.findobj(Text):
        text.set_fontfamily([font, "sans-serif"])


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size)
    return ax


def plot_grades(result: Result, ax: Axes | None = None, *, lang: Lang = "zh",
                column: Literal["grade", "disposal"] = "grade") -> Axes:
    """Map of the parcels coloured by grade (or disposal category), with a legend of the classes.

    Parameters
    ----------
    result
        A run's result.
    ax
        Axes to draw in (default: a new figure).
    lang
        Legend and title language.
    column
        ``"grade"`` (A/B/C/D, and parcels without a grade) or ``"disposal"`` (the preset's categories
        in its colours; parcels without one in light grey, not in the legend).

    Returns
    -------
    matplotlib.axes.Axes
        Legend entries in class order, with the parcel count of each class: "A类 (331)".
    """
    from matplotlib.patches import Patch

    from gisefficiency.maps.layers import NO_GRADE_COLOUR, disposal_classes, grade_classes, policy_categories

    parcels = result.parcels
    shown = parcels[~(parcels.geometry.isna() | parcels.geometry.is_empty)]
    if column == "grade":
        spec = grade_classes(shown.get("grade", None), shown.index, lang)
    elif column == "disposal":
        spec = disposal_classes(shown["disposal"], policy_categories(result.policy), lang)
    else:
        raise ValueError(f"column = {column!r}: must be 'grade' or 'disposal'")
    codes = np.asarray(spec["codes"])
    colours = np.array([*spec["colours"], NO_GRADE_COLOUR], dtype=object)
    ax = _axes(ax, (8, 8))
    shown.plot(ax=ax, color=colours[np.where(codes < 0, len(colours) - 1, codes)].tolist(),
               edgecolor="#666666", linewidth=0.1)
    counts = np.bincount(codes[codes >= 0], minlength=len(spec["labels"]))
    handles = [Patch(facecolor=c, edgecolor="#666666", label=f"{lab} ({n:,})")
               for c, lab, n in zip(spec["colours"], spec["labels"], counts, strict=True) if n > 0]
    # Beside the map, not over it: parcels fill the whole frame.
    ax.legend(handles=handles, title=spec["title"], loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=True)
    county = result.meta.get("county") or ""
    ax.set_title(f"{county} {result.year} {spec['title']}".strip())
    ax.set_axis_off()
    ax.set_aspect("equal")
    _use_cjk_font(ax)
    return ax


def plot_tax_distribution(result: Result, ax: Axes | None = None, *, lang: Lang = "zh",
                          of: Literal["firms", "parcels"] = "firms", bins: int = 40,
                          xmax: float | None = None) -> Axes:
    """Histogram of 亩均税收 (万元/亩) with the preset's thresholds as dashed vertical lines.

    Parameters
    ----------
    result
        A run's result.
    ax
        Axes to draw in (default: a new figure).
    lang
        Label language.
    of
        ``"firms"`` (each firm's 亩均税收 in the reference year, what the rules compare) or ``"parcels"``.
    bins
        Number of bars.
    xmax
        Right end of the axis (default: the larger of twice the highest threshold and the 95th
        percentile); higher values are counted in the last bar, as the axis label says.

    Returns
    -------
    matplotlib.axes.Axes
        One line per threshold, labelled e.g. "1万元/亩"; missing values are left out and counted in
        the title.
    """
    if of not in ("firms", "parcels"):
        raise ValueError(f"of = {of!r}: must be 'firms' or 'parcels'")
    frame = result.firms if of == "firms" else result.parcels
    values = pd.to_numeric(frame["tax_per_mu"], errors="coerce").to_numpy(dtype=float)
    known = values[np.isfinite(values)]
    thresholds = [float(t) for t in getattr(result.policy, "tax_thresholds", ())]
    if xmax is None:
        top = np.percentile(known, 95) if len(known) else 1.0
        xmax = float(max(top, 2 * max(thresholds, default=0.0), 1.0))
        step = 5.0 if xmax > 20 else 1.0  # a round axis end: 45, not 44.491
        xmax = float(np.ceil(xmax / step) * step)
    low = min(0.0, float(known.min())) if len(known) else 0.0  # refunds can make it negative
    zh = lang == "zh"
    ax = _axes(ax, (8, 4.5))
    ax.hist(np.clip(known, low, xmax), bins=bins, range=(low, xmax), color="#4575b4", edgecolor="white")
    for i, t in enumerate(thresholds):
        ax.axvline(t, color="#d73027", linestyle=("--", "-.", ":")[i % 3], linewidth=1.4,
                   label=(f"{t:g}万元/亩" if zh else f"{t:g} (10k yuan/mu)"))
    if thresholds:
        ax.legend(title="政策阈值" if zh else "Policy thresholds", loc="upper right")
    what = ("企业" if of == "firms" else "地块") if zh else of
    measure = "家" if of == "firms" else "宗"
    ax.set_xlabel(f"亩均税收（万元/亩；≥ {xmax:g} 计入最后一栏）" if zh
                   else f"Tax per mu (10k yuan/mu; ≥ {xmax:g} in the last bar)")
    ax.set_ylabel(f"{what}数" if zh else f"number of {what}")
    missing = len(values) - len(known)
    ax.set_title(f"{result.year}年 亩均税收分布（{len(known):,} {measure}{what}，无数据 {missing:,}）" if zh
                  else f"Tax per mu in {result.year} ({len(known):,} {what}, {missing:,} without data)")
    _use_cjk_font(ax)
    return ax

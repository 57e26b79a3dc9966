"""Small inline SVG charts for the HTML report: no JavaScript, no external files.

Each function returns SVG markup (``markupsafe.Markup``) sized by a ``viewBox`` and drawn at 100 % of the
container width, so the same chart fits a screen and an A4 page. Every text that reaches the markup is
escaped. Colours are plain hex strings; missing values are skipped, never drawn as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

#: Default chart size in SVG user units (the viewBox); drawn at the container width.
WIDTH: int = 760
HEIGHT: int = 300
_MARGIN = {"left": 64, "right": 24, "top": 28, "bottom": 48}
_AXIS = "#444"
_GRID = "#e3e3e3"
_BAR = "#4a7fb5"
_THRESHOLD = "#c0392b"


def _fmt(value: float) -> str:
    """Tick label: thousands separators, at most 2 decimals, no trailing zeros."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """Round tick positions covering [lo, hi] (1-2-5 steps), so axis labels stay short."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw))
    step = mag * min((s for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10)
    start = np.floor(lo / step) * step
    return np.arange(start, hi + step * 0.5, step)


def _bin_step(lo: float, hi: float, thresholds: np.ndarray, *, bins: int, max_bins: int) -> float:
    """A round bin width near (hi - lo) / bins; the largest one that puts every threshold on an edge if any."""
    raw = (hi - lo) / bins
    mag = 10 ** np.floor(np.log10(raw))
    steps = sorted({float(f * mag * 10**k) for f in (1, 2, 2.5, 5) for k in (-2, -1, 0, 1)}, reverse=True)
    nice = min((s for s in steps if s >= raw), default=steps[0])
    for step in (s for s in steps if s <= 2 * nice):
        ratios = thresholds / step
        if (hi - lo) / step > max_bins:
            break
        if np.allclose(ratios, np.round(ratios), atol=1e-9):
            return step
    return nice


def _svg(body: str, *, title: str, width: int, height: int, css_class: str) -> Markup:
    """Wrap drawing elements into an accessible, width-filling SVG element."""
    return Markup(
        f'<svg class="chart {css_class}" viewBox="0 0 {width} {height}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _y_axis(ticks: np.ndarray, y_of: Callable[[float], float], x0: float, x1: float, label: str, label_y: float | None = None) -> list[str]:
    parts = []
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{_GRID}"/>')
        parts.append(
            f'<text x="{x0 - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(tick)}</text>'
        )
    label_y = _MARGIN["top"] - 10 if label_y is None else label_y
    parts.append(f'<text x="14" y="{label_y:.1f}" font-size="11" fill="{_AXIS}">{escape(label)}</text>')
    return parts


def histogram_svg(
    values: pd.Series | np.ndarray,
    *,
    thresholds: Sequence[float] = (),
    threshold_label: str = "{value}",
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    bins: int = 40,
    max_bins: int = 80,
    clip_quantile: float = 0.98,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup | None:
    """Histogram of a numeric variable with labelled vertical threshold lines.

    Parameters
    ----------
    values
        The values (NaN and infinities are dropped).
    thresholds
        Positions of vertical reference lines (e.g. a preset's 万元/亩 thresholds).
    threshold_label
        Format of each line's label; ``{value}`` is replaced by the formatted threshold.
    title, x_label, y_label
        Accessible title and axis labels.
    bins, max_bins
        Wanted and largest number of equal-width bins; the width is a round number (1-2-2.5-5 series) chosen
        so that every threshold falls on a bin edge when that takes at most ``max_bins`` bins.
    clip_quantile
        Long right tails are folded into the last bin above this quantile (the bin is marked "≥"), so the
        bulk of the distribution stays readable; the axis always reaches the largest threshold.
    width, height
        Size of the viewBox.

    Returns
    -------
    Markup or None
        SVG markup, or None when there is no finite value.
    """
    arr = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return None
    thr = np.asarray([t for t in thresholds if t is not None and np.isfinite(t)], dtype=float)
    lo = float(min(arr.min(), 0.0))
    hi = float(np.quantile(arr, clip_quantile)) if arr.size > 1 else float(arr.max())
    if thr.size:
        hi = max(hi, float(thr.max()) * 1.1)
    if hi <= lo:
        hi = lo + 1.0
    step = _bin_step(lo, hi, thr, bins=bins, max_bins=max_bins)
    edges = np.arange(np.floor(lo / step), np.ceil(hi / step) + 0.5) * step
    lo, hi = float(edges[0]), float(edges[-1])
    folded = bool((arr > hi).any())
    counts, edges = np.histogram(np.clip(arr, lo, hi), bins=edges)
    n_bins = len(counts)
    m = _MARGIN
    x0, x1, y0, y1 = m["left"], width - m["right"], height - m["bottom"], m["top"]
    # Counts are integers: never a tick step below 1.
    ticks_y = _nice_ticks(0, max(int(counts.max()), 1), n=min(5, max(int(counts.max()), 1)))

    def x_of(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    def y_of(v: float) -> float:
        return y0 - v / ticks_y[-1] * (y0 - y1)

    parts = _y_axis(ticks_y, y_of, x0, x1, y_label)
    left = x_of(edges[:-1])
    right = x_of(edges[1:])
    for i in np.flatnonzero(counts):
        top = y_of(counts[i])
        label = f"{_fmt(edges[i])}–{_fmt(edges[i + 1])}: {counts[i]}"
        if folded and i == n_bins - 1:
            label = f"≥ {_fmt(edges[i])}: {counts[i]}"
        gap = 1 if right[i] - left[i] > 4 else 0
        parts.append(
            f'<rect x="{left[i]:.1f}" y="{top:.1f}" width="{max(right[i] - left[i] - gap, 0.5):.1f}" '
            f'height="{y0 - top:.1f}" fill="{_BAR}"><title>{escape(label)}</title></rect>'
        )
    for tick in _nice_ticks(lo, hi, 8):
        # Leave room at the right end for the "≥" label of a folded tail.
        if lo <= tick <= hi and not (folded and x_of(tick) > x1 - 48):
            x = x_of(tick)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y0 + 4}" stroke="{_AXIS}"/>')
            parts.append(
                f'<text x="{x:.1f}" y="{y0 + 16}" text-anchor="middle" font-size="11">{_fmt(tick)}</text>'
            )
    if folded:
        parts.append(
            f'<text x="{x1:.1f}" y="{y0 + 16}" text-anchor="end" font-size="11" fill="{_AXIS}">'
            f"≥{_fmt(edges[-2])}</text>"
        )
    parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}" stroke="{_AXIS}"/>')
    for t in np.sort(thr):
        x = x_of(t)
        text = escape(threshold_label.replace("{value}", _fmt(t)))
        # Labels run up along their line, so thresholds a few pixels apart never overprint.
        parts.append(
            f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="{y1}" y2="{y0}" stroke="{_THRESHOLD}" '
            f'stroke-width="1.5" stroke-dasharray="5 3"/>'
            f'<text transform="translate({x - 3:.1f} {y1 + 2}) rotate(-90)" text-anchor="end" font-size="11" '
            f'fill="{_THRESHOLD}" stroke="#fff" stroke-width="3" paint-order="stroke">{text}</text>'
        )
    parts.append(
        f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="12">'
        f"{escape(x_label)}</text>"
    )
    return _svg("".join(parts), title=title, width=width, height=height, css_class="histogram")


def stacked_bars_svg(
    counts: pd.DataFrame,
    *,
    colours: Mapping[str, str],
    labels: Mapping[str, str],
    title: str = "",
    row_height: int = 22,
    width: int = WIDTH,
) -> Markup | None:
    """Horizontal 100 % stacked bars: one bar per row, one segment per column, with a legend.

    Parameters
    ----------
    counts
        Non-negative counts; index = bar labels (e.g. streets), columns = categories in legend order.
    colours, labels
        Colour and legend label per column.
    title
        Accessible title.
    row_height
        Height of one bar row in SVG units.
    width
        Width of the viewBox.

    Returns
    -------
    Markup or None
        SVG markup, or None when there is no row with a positive total.
    """
    counts = counts.fillna(0).astype(float)
    counts = counts[counts.sum(axis=1) > 0]
    if counts.empty:
        return None
    shares = counts.div(counts.sum(axis=1), axis=0)
    label_w, right_w, legend_h = 150, 70, 30
    x0, x1 = label_w, width - right_w
    height = legend_h + row_height * len(shares) + 8
    parts = []
    lx = x0
    for col in shares.columns:
        parts.append(
            f'<rect x="{lx}" y="6" width="12" height="12" fill="{escape(colours.get(col, _BAR))}"/>'
            f'<text x="{lx + 16}" y="16" font-size="11">{escape(labels.get(col, str(col)))}</text>'
        )
        lx += 30 + 12 * len(str(labels.get(col, col)))
    cum = shares.cumsum(axis=1)
    starts = (cum - shares).to_numpy()
    widths = shares.to_numpy()
    totals = counts.sum(axis=1).to_numpy()
    for r, name in enumerate(shares.index):
        y = legend_h + r * row_height
        short = str(name) if len(str(name)) <= 12 else str(name)[:11] + "…"
        parts.append(
            f'<text x="{x0 - 6}" y="{y + row_height * 0.65:.1f}" text-anchor="end" font-size="11">'
            f"<title>{escape(name)}</title>{escape(short)}</text>"
        )
        for c, col in enumerate(shares.columns):
            if widths[r, c] <= 0:
                continue
            sx = x0 + starts[r, c] * (x1 - x0)
            tip = f"{name} · {labels.get(col, col)}: {int(counts.iat[r, c])} ({widths[r, c]:.1%})"
            parts.append(
                f'<rect x="{sx:.1f}" y="{y + 2}" width="{widths[r, c] * (x1 - x0):.1f}" '
                f'height="{row_height - 4}" fill="{escape(colours.get(col, _BAR))}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        parts.append(
            f'<text x="{x1 + 6}" y="{y + row_height * 0.65:.1f}" font-size="11">n={int(totals[r]):,}</text>'
        )
    return _svg("".join(parts), title=title, width=width, height=height, css_class="stacked")


def line_chart_svg(
    series: pd.DataFrame,
    *,
    colours: Mapping[str, str],
    labels: Mapping[str, str],
    title: str = "",
    y_label: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup | None:
    """Line chart of a few series over an ordered index (e.g. years), with point markers and a legend.

    Parameters
    ----------
    series
        Index = x values (ordered, e.g. years), one column per line; NaN points are left out (gaps).
    colours, labels
        Colour and legend label per column.
    title, y_label
        Accessible title and y-axis label.
    width, height
        Size of the viewBox.

    Returns
    -------
    Markup or None
        SVG markup, or None when no value is finite.
    """
    data = series.apply(pd.to_numeric, errors="coerce").astype(float)
    values = data.to_numpy()
    if not np.isfinite(values).any():
        return None
    m = _MARGIN
    x0, x1, y0, y1 = m["left"], width - m["right"] - 10, height - m["bottom"], m["top"] + 22
    ticks_y = _nice_ticks(min(0.0, float(np.nanmin(values))), float(np.nanmax(values)))
    lo, hi = float(ticks_y[0]), float(ticks_y[-1])
    n = len(data.index)

    def x_of(i: int) -> float:
        return (x0 + x1) / 2 if n == 1 else x0 + i * (x1 - x0) / (n - 1)

    def y_of(v: float) -> float:
        return y0 - (v - lo) / (hi - lo) * (y0 - y1)

    # The axis label sits under the legend row, just above the top tick.
    parts = _y_axis(ticks_y, y_of, x0, x1, y_label, label_y=y1 - 12)
    parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}" stroke="{_AXIS}"/>')
    for i, x_value in enumerate(data.index):
        parts.append(
            f'<text x="{x_of(i):.1f}" y="{y0 + 16}" text-anchor="middle" font-size="11">'
            f"{escape(x_value)}</text>"
        )
    lx = x0
    for c, col in enumerate(data.columns):
        colour = escape(colours.get(col, _BAR))
        name = labels.get(col, str(col))
        parts.append(
            f'<rect x="{lx}" y="6" width="14" height="4" fill="{colour}"/>'
            f'<text x="{lx + 18}" y="12" font-size="11">{escape(name)}</text>'
        )
        lx += 40 + 12 * len(name)
        col_values = values[:, c]
        finite = np.isfinite(col_values)
        # Consecutive finite points form one polyline; a missing year breaks the line.
        run_id = np.cumsum(~finite)
        for run in np.unique(run_id[finite]):
            idx = np.flatnonzero(finite & (run_id == run))
            points = " ".join(f"{x_of(i):.1f},{y_of(col_values[i]):.1f}" for i in idx)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i in np.flatnonzero(finite):
            tip = f"{name} {data.index[i]}: {col_values[i]:,.2f}"
            parts.append(
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(col_values[i]):.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(tip)}</title></circle>"
            )
    return _svg("".join(parts), title=title, width=width, height=height, css_class="trend")

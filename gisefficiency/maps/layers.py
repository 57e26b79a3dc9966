"""The map's data: parcel attributes, firms, layer classes and legends, built from a ``Result``.

Everything here is a plain dict of columns for ``map.js``; styling happens in the browser from the class
codes, never per feature in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from gisefficiency.core.constants import PER_MU_DECIMALS
from gisefficiency.core.i18n import GRADE_COLOURS, GRADE_LABELS, Lang, label
from gisefficiency.evaluate.years import CHANGE_CLASSES  # one list of change codes, labels, colours
from gisefficiency.maps.encode import Raw, categories, integers, numbers, ragged_links, split_ids, strings
from gisefficiency.maps.text import text

#: Every layer ``make_map(layers=...)`` accepts, in drawing order.
LAYERS: tuple[str, ...] = ("grade", "tax", "disposal", "change", "idle", "scenario", "blocks")
#: Layers switched on when the map opens (the others are one click away in the layer control).
VISIBLE: tuple[str, ...] = ("grade", "blocks")

GRADE_ORDER = ("A", "B", "C", "D", "N")
NO_GRADE_COLOUR = "#f4f4f4"
NO_DATA_COLOUR = "#d9d9d9"
#: ColorBrewer YlGn, light to dark: higher tax per mu is darker green.
TAX_RAMP = ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837", "#004529", "#00361f")
SCENARIO_COLOUR = "#6a3d9a"
IDLE_COLOUR = "#b15928"
BLOCK_COLOUR = "#e31a1c"


def col(frame: pd.DataFrame, name: str) -> pd.Series | None:
    """The column ``name`` if present, else None (optional columns may be missing)."""
    return frame[name] if name in frame.columns else None


def as_flag(values: pd.Series | None, index: pd.Index) -> np.ndarray:
    """Boolean array; missing values and a missing column count as False."""
    if values is None:
        return np.zeros(len(index), dtype=bool)
    return pd.Series(values, index=index).astype("boolean").fillna(False).to_numpy(dtype=bool)


def policy_categories(policy: Any) -> list[tuple[str, str, str, str]]:
    """``(id, zh, en, colour)`` of the policy's disposal categories, in the policy's order."""
    cats = getattr(policy, "categories", None) or {}
    out = []
    for cid, cat in cats.items():  # a handful of categories
        get = cat.get if isinstance(cat, Mapping) else (lambda k, c=cat: getattr(c, k, None))
        out.append((str(cid), str(get("zh") or cid), str(get("en") or cid), str(get("colour") or "#999999")))
    return out


def tax_thresholds(policy: Any) -> list[float]:
    """The policy's tax-per-mu thresholds (万元/亩) as sorted floats, whatever container holds them."""
    raw = getattr(policy, "tax_thresholds", None)
    if raw is None:
        return []
    values = raw.values() if isinstance(raw, Mapping) else (raw if np.ndim(raw) else [raw])
    out = pd.to_numeric(pd.Series(list(values), dtype="object"), errors="coerce").dropna()
    return sorted(set(out.astype(float)))


def _ramp(n: int) -> list[str]:
    """``n`` colours spread over ``TAX_RAMP``, light to dark."""
    step = max(1, (len(TAX_RAMP) - 1) // max(1, n - 1)) if n > 1 else 1
    return [TAX_RAMP[min(i * step, len(TAX_RAMP) - 1)] for i in range(n)]


def _fmt(x: float) -> str:
    return f"{round(float(x), 2):g}"


def natural_breaks(values: np.ndarray, *, k: int) -> np.ndarray:
    """Upper bounds of the ``k`` Fisher-Jenks natural-break classes of ``values`` (the last is the maximum).

    Exact dynamic programme over sorted values, vectorised per class count; above 1,000 values it runs on
    1,000 evenly spaced quantiles of them (the same shape, the same breaks on every run, and milliseconds
    instead of the minutes an O(k n²) pass over 100k parcels takes without numba).
    """
    x = np.sort(np.asarray(values, dtype=float))
    if len(x) > 1000:
        x = np.quantile(x, np.linspace(0.0, 1.0, 1000))
    n = len(x)
    k = max(1, min(k, n))
    s1 = np.r_[0.0, np.cumsum(x)]
    s2 = np.r_[0.0, np.cumsum(x * x)]
    start = np.arange(n)[:, None]
    end = np.arange(n)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        # within-class sum of squared deviations of x[start..end]
        cost = s2[end + 1] - s2[start] - (s1[end + 1] - s1[start]) ** 2 / (end - start + 1)
    cost[end < start] = np.inf
    best = cost[0].copy()  # one class ending at each value
    back = []
    for _ in range(1, k):
        total = best[:-1, None] + cost[1:, :]  # the last class starts at row + 1
        arg = np.argmin(total, axis=0)
        best = total[arg, np.arange(n)]
        back.append(arg + 1)
    ends = [n - 1]
    for starts in reversed(back):
        ends.append(int(starts[ends[-1]]) - 1)
    return x[np.asarray(ends[::-1])]


def tax_classes(values: pd.Series, thresholds: Sequence[float], lang: Lang, *,
                breaks_from: pd.Series | None = None) -> dict:
    """Graduated classes of 亩均税收 plus a "no data" class.

    With the policy's thresholds the classes are the policy's own terms, the same as the QGIS styles: below
    the first threshold, between each pair, at or above the last (``< 1``, ``1 – 3``, ``3 – 5``, ``≥ 5``),
    every class in the legend even when no value falls in it. Without thresholds the breaks are natural
    breaks (Fisher-Jenks, up to 5 classes) of ``breaks_from``: the parcels' values, also when ``values`` are
    a few areas (streets), so the classes never come from the areas' own quantiles.

    Parameters
    ----------
    values
        亩均税收 (万元/亩) to classify; missing values get the "no data" class.
    thresholds
        The policy's thresholds (万元/亩), sorted; empty for natural breaks.
    lang
        ``"zh"`` or ``"en"`` for the "no data" label and the title.
    breaks_from
        The values natural breaks are computed from (default ``values``).

    Returns
    -------
    dict
        ``codes`` (int array, one per value), ``colours``, ``labels``, ``title`` and ``method``
        (``"policy thresholds"``, ``"natural breaks"`` or ``"none"``).
    """
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(v)
    codes = np.full(len(v), -1, dtype=np.int64)
    cuts = sorted({float(t) for t in thresholds})
    if cuts:
        # a value at a threshold is in the class above it: "below 1" means < 1
        codes[known] = np.searchsorted(cuts, v[known], side="right")
        labels = [f"< {_fmt(cuts[0])}",
                  *(f"{_fmt(lo)} – {_fmt(hi)}" for lo, hi in pairwise(cuts)),
                  f"≥ {_fmt(cuts[-1])}"]
        method = "policy thresholds"
    else:
        source = v if breaks_from is None else pd.to_numeric(breaks_from, errors="coerce").to_numpy(dtype=float)
        y = source[np.isfinite(source)]
        if len(y) and known.any():
            bins = natural_breaks(y, k=min(5, len(np.unique(y))))
            # Jenks bins are upper bounds, inclusive; a value above the last (an area's mean can't be, a
            # value not in ``breaks_from`` can) goes into the top class
            codes[known] = np.minimum(np.searchsorted(bins, v[known], side="left"), len(bins) - 1)
            labels = [f"≤ {_fmt(bins[0])}", *(f"{_fmt(lo)} – {_fmt(hi)}" for lo, hi in pairwise(bins))]
            method = "natural breaks"
        else:
            labels, method = [], "none"
    n = len(labels)
    codes[~known] = n
    return {
        "codes": codes, "colours": [*_ramp(n), NO_DATA_COLOUR], "labels": [*labels, text("no_data", lang)],
        "title": label("tax_per_mu", lang), "method": method,
    }


def grade_classes(values: pd.Series | None, index: pd.Index, lang: Lang) -> dict:
    """Grade A/B/C/D/N codes; parcels without a grade get the "no grade" class."""
    raw = values if values is not None else pd.Series(pd.NA, index=index, dtype="object")
    arr = pd.Index(GRADE_ORDER).get_indexer(raw.astype("object")).astype(np.int64)
    arr[arr < 0] = len(GRADE_ORDER)
    pick = 0 if lang == "zh" else 1
    return {
        "codes": arr,
        "colours": [GRADE_COLOURS[g] for g in GRADE_ORDER] + [NO_GRADE_COLOUR],
        "labels": [GRADE_LABELS[g][pick] for g in GRADE_ORDER] + [text("no_grade", lang)],
        "title": label("grade", lang),
    }


def disposal_classes(values: pd.Series, cats: list[tuple[str, str, str, str]], lang: Lang) -> dict:
    """Disposal category codes in the policy's order; parcels without a category are not drawn (-1)."""
    ids = [c[0] for c in cats]
    arr = pd.Index(ids).get_indexer(values.astype("object")).astype(np.int64)
    return {
        "codes": arr, "colours": [c[3] for c in cats],
        "labels": [c[1] if lang == "zh" else c[2] for c in cats], "title": label("disposal", lang),
    }


def flag_layer(flags: np.ndarray, colour: str, legend: str, title: str) -> dict:
    """A one-class layer of the parcels where ``flags`` is True."""
    return {"codes": np.where(flags, 0, -1), "colours": [colour], "labels": [legend], "title": title}


def change_classes(values: pd.Series, lang: Lang, *, years: tuple[int, int] | None = None) -> dict:
    """Change codes of a multi-year run (newly low, still low, recovered); other parcels are not drawn."""
    arr = pd.Index([c[0] for c in CHANGE_CLASSES]).get_indexer(values.astype("object")).astype(np.int64)
    span = f"{years[0]}→{years[1]}" if years else ""
    title = f"低效用地变化 {span}" if lang == "zh" else f"Low-efficiency change {span}"
    return {"codes": arr, "colours": [c[3] for c in CHANGE_CLASSES],
            "labels": [c[1] if lang == "zh" else c[2] for c in CHANGE_CLASSES], "title": title.strip()}


def parcel_layers(parcels: pd.DataFrame, policy: Any, wanted: Sequence[str], lang: Lang, *,
                  years: tuple[int, int] | None = None) -> list[dict]:
    """Layer specs (class codes, colours, legend) of the parcel layers in ``wanted`` that the data supports."""
    idx = parcels.index
    specs: dict[str, dict] = {}
    if "grade" in wanted:
        specs["grade"] = grade_classes(col(parcels, "grade"), idx, lang)
    if "tax" in wanted and "tax_per_mu" in parcels.columns:
        specs["tax"] = tax_classes(parcels["tax_per_mu"], tax_thresholds(policy), lang)
    cats = policy_categories(policy)
    if "disposal" in wanted and "disposal" in parcels.columns and cats:
        specs["disposal"] = disposal_classes(parcels["disposal"], cats, lang)
    if "change" in wanted and "change" in parcels.columns:
        # run_years notes the two years compared in the frame's attrs (make_map passes no years).
        span = years or parcels.attrs.get("change_years")
        specs["change"] = change_classes(parcels["change"], lang, years=tuple(span) if span else None)
    if "idle" in wanted and "idle" in parcels.columns:
        specs["idle"] = flag_layer(as_flag(parcels["idle"], idx), IDLE_COLOUR, text("idle_parcel", lang),
                                   text("layer_idle", lang))
    if "scenario" in wanted and "in_scenario" in parcels.columns:
        specs["scenario"] = flag_layer(as_flag(parcels["in_scenario"], idx), SCENARIO_COLOUR,
                                       text("in_scenario", lang), text("layer_scenario", lang))
    names = {"grade": "layer_grade", "tax": "layer_tax", "disposal": "layer_disposal", "idle": "layer_idle",
             "scenario": "layer_scenario"}
    return [
        {"key": k, "kind": "parcels", "name": specs[k]["title"] if k == "change" else text(names[k], lang),
         **specs[k], "codes": integers(specs[k]["codes"])}
        for k in LAYERS if k in specs
    ]


def _text_column(frame: pd.DataFrame, lang: Lang, zh: str, en: str) -> pd.Series | None:
    """The zh or en variant of a text column, falling back to the other language if one is missing."""
    first, second = (zh, en) if lang == "zh" else (en, zh)
    return col(frame, first) if first in frame.columns else col(frame, second)


def disposal_labels(frame: pd.DataFrame, cats: list[tuple[str, str, str, str]], lang: Lang) -> pd.Series | None:
    """Disposal label per row: the policy's name for the category id, else the frame's own label column."""
    if "disposal" in frame.columns and cats:
        names = {c[0]: (c[1] if lang == "zh" else c[2]) for c in cats}
        mapped = frame["disposal"].astype("object").map(names)
        own = _text_column(frame, lang, "disposal_zh", "disposal_en")
        return mapped if own is None else mapped.where(mapped.notna(), own)
    return _text_column(frame, lang, "disposal_zh", "disposal_en")


def _optional(out: dict, key: str, values: pd.Series | None, kind: str) -> None:
    if values is None:
        return
    if kind == "num":
        out[key] = numbers(values, decimals=PER_MU_DECIMALS)
    elif kind == "mu":
        out[key] = numbers(values, decimals=2)
    elif kind == "int":
        out[key] = numbers(values, decimals=0)
    elif kind == "cat":
        codes, cats = categories(values)
        out[key] = {"codes": codes, "cats": cats}
    else:
        out[key] = strings(values)


def _id_text(ids: pd.Series) -> Any:
    """Ids as text (``str`` of each), missing ones missing: integer ids cast by Arrow, the same digits."""
    if pd.api.types.is_integer_dtype(ids.dtype) and not pd.api.types.is_bool_dtype(ids.dtype):
        return pc.cast(pa.array(ids, type=pa.int64(), from_pandas=True), pa.string())
    return ids.astype("object").where(ids.notna(), None).map(str, na_action="ignore")


def parcel_attributes(parcels: pd.DataFrame, firm_ids: pd.Index, policy: Any, lang: Lang) -> dict:
    """The popup/search columns of the parcels (only what the popup shows)."""
    cats = policy_categories(policy)
    out: dict[str, Any] = {"id": strings(parcels.index.astype(str))}
    _optional(out, "street", col(parcels, "street"), "cat")
    _optional(out, "land_use", col(parcels, "land_use"), "cat")
    _optional(out, "land_mu", col(parcels, "land_mu"), "mu")
    _optional(out, "area_mu", col(parcels, "area_mu"), "mu")
    _optional(out, "grade", col(parcels, "grade"), "cat")
    _optional(out, "tax_per_mu", col(parcels, "tax_per_mu"), "num")
    _optional(out, "va_per_mu", col(parcels, "va_per_mu"), "num")
    _optional(out, "n_firms", col(parcels, "n_firms"), "int")
    _optional(out, "disposal", disposal_labels(parcels, cats, lang), "cat")
    _optional(out, "reason", _text_column(parcels, lang, "low_eff_reason_zh", "low_eff_reason_en"), "str")
    if "block_id" in parcels.columns:
        out["block_id"] = strings(_id_text(parcels["block_id"]))
    _optional(out, "block_role", col(parcels, "block_role"), "cat")
    for flag in ("idle", "low_efficiency", "in_scenario"):
        if flag in parcels.columns:
            out[flag] = integers(as_flag(parcels[flag], parcels.index).astype(np.int64))
    if "firm_usccs" in parcels.columns:
        pairs = split_ids(parcels["firm_usccs"])
        out["firm_count"], out["firm_index"] = ragged_links(parcels.index, pairs, firm_ids)
    return out


def firm_table(firms: pd.DataFrame, policy: Any, lang: Lang) -> dict:
    """Firm columns for popups and the search box (name, USCC, grade, disposal, reason, per-mu figures)."""
    cats = policy_categories(policy)
    out: dict[str, Any] = {"uscc": strings(firms.index.astype(str))}
    _optional(out, "name", col(firms, "name"), "str")
    _optional(out, "grade", col(firms, "grade"), "cat")
    _optional(out, "tax_per_mu", col(firms, "tax_per_mu"), "num")
    _optional(out, "va_per_mu", col(firms, "va_per_mu"), "num")
    _optional(out, "land_mu", col(firms, "land_mu"), "mu")
    _optional(out, "disposal", disposal_labels(firms, cats, lang), "cat")
    _optional(out, "reason", _text_column(firms, lang, "reason_zh", "reason_en"), "str")
    return out


def ui_text(lang: Lang) -> dict[str, str]:
    """Every label ``map.js`` shows, in ``lang``."""
    keys_i18n = ("parcel_id", "street", "land_use", "land_mu", "area_mu", "n_firms", "idle", "low_efficiency",
                 "block_id", "uscc", "name", "tax_per_mu", "va_per_mu", "grade", "disposal", "reason",
                 "n_parcels", "freed_mu")
    keys_map = ("parcel", "firms_on_parcel", "no_firm", "block", "block_role_low", "block_role_kept", "yes",
                "no", "mu", "wan_per_mu", "search_hint", "search_not_found", "search_cancel",
                "export_geojson", "export_empty", "legend_title", "in_scenario", "layer_scenario")
    return {**{k: label(k, lang) for k in keys_i18n}, **{k: text(k, lang) for k in keys_map}}


def block_attributes(blocks: pd.DataFrame) -> dict[str, Raw]:
    """Block label columns: id, area (mu), parcel count and freed land."""
    out: dict[str, Raw] = {"id": strings(blocks.index.astype(str))}
    for name in ("area_mu", "n_parcels", "freed_mu"):
        if name in blocks.columns:
            out[name] = numbers(blocks[name], decimals=2)
    return out


def label_points(lonlat: np.ndarray) -> dict[str, Raw]:
    """Where each block's label goes: a point inside the polygon (``point_on_surface``), lat/lon columns.

    A centroid can fall outside an L- or U-shaped block and label the neighbour; this point cannot.
    """
    xy = shapely.get_coordinates(shapely.point_on_surface(np.asarray(lonlat, dtype=object)))
    return {"label_lat": numbers(xy[:, 1], decimals=6), "label_lon": numbers(xy[:, 0], decimals=6)}

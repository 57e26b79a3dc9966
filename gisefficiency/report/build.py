"""One self-contained HTML report of a run: figures, tables, inline SVG charts, a static map, the map and the policy.

The HTML has no external reference at all (no CDN, no web font, no image URL): CSS and a small vanilla
script for sorting and filtering tables are inline, charts are inline SVG, the static map of grades and
blocks is a PNG inside an inline SVG figure (``static_map``), and the interactive map (if given and not over
``MAP_EMBED_MAX_BYTES``) is embedded with ``<iframe srcdoc>``. Every text from the data is escaped (jinja2
autoescape). Numbers use thousands separators and fixed decimals: 万元/亩, 亩, 万元 and tce to 2 decimals
(``gisefficiency.report.tables.DECIMALS``); missing values show as "—". Chinese by default, English with
``lang="en"``.

Screen and paper differ on purpose. On screen, long searchable tables write their first 200 rows
(``tables.PAGE_ROWS``) as HTML and the rest as one gzip payload that the script unpacks after loading and
turns into rows only when they are shown; sorting and filtering work on every row. On paper (A4, print
CSS), the interactive map and the full firm list are left out: the static map stands in for the map, the
firm list prints as the ``TOP_PER_CATEGORY`` lowest 亩均税收 firms of each category, long tables print their
first ``tables.PRINT_ROWS`` rows, and the page links the workbook 清单.xlsx that holds the full lists.

Measured on this machine (2 shared cores, busy): the sample county's report is 2.6 MB with its 2 MB map and
prints to 17 A4 pages; a county of 100,000 parcels (31,379 flagged firms, 2,560 blocks) gives a 3.9 MB
report that opens in headless Chromium in 1.3-3.0 s with its payloads unpacked
(``benchmarks/bench_report.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from gisefficiency.core.errors import ConfigError
from gisefficiency.core.i18n import GRADE_COLOURS, GRADE_LABELS, SCALE_LABELS, Lang, label
from gisefficiency.core.schema import ALIASES
from gisefficiency.io.workbook import WORKBOOK_NAME  # the workbook with the full lists, beside the report
from gisefficiency.report import charts
from gisefficiency.report.labels import INDUSTRY_DIVISIONS, text
from gisefficiency.report.sections import pricing_section, trend_section
from gisefficiency.report.static_map import BLOCK_COLOUR as _BLOCK_COLOUR
from gisefficiency.report.static_map import NO_CLASS_COLOUR as _NO_CLASS_COLOUR
from gisefficiency.report.static_map import LegendItem, render_static_map, static_map_svg
from gisefficiency.report.tables import (
    PRINT_ROWS,
    Column,
    col,
    county_trend,
    fmt_number,
    industry_division,
    input_files,
    join_text,
    make_table,
    names_of,
    parcel_summary,
    per_mu_summary,
    per_mu_work,
)
from gisefficiency.report.yearly import yearly_targets_section
from gisefficiency.result import Result
from gisefficiency.result.anonymise import Anonymiser, anonymise_result
from gisefficiency.result.summary import flagged_firms

__all__ = ["anonymise_result", "build_report"]

GRADES: tuple[str, ...] = ("A", "B", "C", "D", "N")
_LANGS = ("zh", "en")
#: Firms per disposal category in the printed top list (lowest 亩均税收 first).
TOP_PER_CATEGORY: int = 20
#: A map page larger than this is linked (map.html beside the report), not embedded: the sample county's
#: 2 MB map embeds; a city's tens of MB would make the report too heavy to open or mail.
MAP_EMBED_MAX_BYTES: int = 3_000_000
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}")


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    """First attribute (or mapping key) of ``obj`` among ``names`` that is set; the policy is duck-typed."""
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None and not (isinstance(value, str) and not value):
            return value
    return default


def _pick(pair: tuple[str, str], lang: Lang) -> str:
    return pair[0] if lang == "zh" else pair[1]


def _labels(pairs: Mapping[str, tuple[str, str]], lang: Lang) -> dict[str, str]:
    """Code -> label in ``lang``, for vectorised ``Series.map``."""
    return {key: _pick(pair, lang) for key, pair in pairs.items()}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gisefficiency.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_number
    return env


def _categories(policy: Any, lang: Lang) -> list[dict[str, str]]:
    """Policy disposal categories in their order: id, label and colour."""
    cats = _attr(policy, "categories", default={}) if policy is not None else {}
    out = []
    for cat_id, cat in dict(cats).items():
        name = _attr(cat, lang, f"name_{lang}", f"label_{lang}", "zh", "name", default=str(cat_id))
        colour = str(_attr(cat, "colour", "color", default=""))
        # The colour goes into a style attribute: accept only a hex colour or a plain CSS colour name.
        out.append({"id": str(cat_id), "label": str(name), "colour": colour if _COLOUR.fullmatch(colour) else ""})
    return out


def _headline(r: Result, lang: Lang, groups: pd.DataFrame) -> dict[str, Any]:
    parcels, firms, blocks = r.parcels, r.firms, r.blocks
    low = col(parcels, "low_efficiency", default=False).astype("boolean").fillna(False)
    land = pd.to_numeric(col(parcels, "land_mu"), errors="coerce")
    grades = col(firms, "grade", default="").astype(object).value_counts()
    overall = groups.loc[text("all_firms", lang)] if len(groups) else pd.Series(dtype=float)
    cards = [
        ("n_parcels", fmt_number(len(parcels), 0)),
        ("land_total", fmt_number(land.sum(min_count=1), 2)),
        ("n_firms", fmt_number(len(firms), 0)),
        ("tax_per_mu_all", fmt_number(overall.get("tax_per_mu"), 2)),
        ("va_per_mu_all", fmt_number(overall.get("va_per_mu"), 2)),
        ("low_land", fmt_number(land.where(low).sum(min_count=1) if low.any() else 0.0, 2)),
        ("low_parcels", fmt_number(int(low.sum()), 0)),
        ("idle_parcels", fmt_number(int(col(parcels, "idle", default=False).astype("boolean").fillna(False).sum()), 0)),
        ("low_firms", fmt_number(int(col(firms, "low_efficiency", default=False).astype("boolean").fillna(False).sum()), 0)),
        ("n_blocks", fmt_number(len(blocks) if blocks is not None else np.nan, 0)),
        ("block_area", fmt_number(_block_total(blocks, "area_mu"), 2)),
        ("freed_mu", fmt_number(_block_total(blocks, "freed_mu"), 2)),
        ("freed_tce", fmt_number(_block_total(blocks, "freed_tce"), 2)),
    ]
    grade_counts = [
        {"grade": g, "label": _pick(GRADE_LABELS[g], lang), "count": int(grades.get(g, 0)), "colour": GRADE_COLOURS[g]}
        for g in GRADES
    ]
    return {"cards": [(text(k, lang), v) for k, v in cards], "grades": grade_counts}


def _block_total(blocks: pd.DataFrame | None, key: str) -> float:
    """Sum of a block figure: 0 when the run found no block (nothing in blocks, nothing freed), NaN
    when the blocks' figures are all missing (e.g. no energy data)."""
    if blocks is not None and len(blocks) == 0:
        return 0.0
    return col(blocks, key).sum(min_count=1)


def _blocks_note(r: Result, lang: Lang) -> str | None:
    """The sentence shown instead of the blocks table when no block reached the threshold."""
    if r.blocks is None or len(r.blocks):
        return None
    settings = (r.meta or {}).get("blocks") or {}
    if "min_area_mu" in settings and "gap_m" in settings:
        # As the user wrote them: 50, 12.5, 100,000 (no padded decimals).
        plain = {k: fmt_number(settings[k], 2).rstrip("0").rstrip(".") for k in ("min_area_mu", "gap_m")}
        return text("no_blocks", lang, **plain)
    return text("no_blocks_plain", lang)


def _column_name(key: str, lang: Lang) -> str:
    """A canonical column as users know it: its label, else (zh) the first Chinese header that maps to it."""
    named = label(key, lang)
    if named != key or lang != "zh":
        return named
    return next((alias for alias, canonical in ALIASES.items()
                 if canonical == key and any("\u4e00" <= ch <= "\u9fff" for ch in alias)), key)


def _absent_note(r: Result, lang: Lang) -> str | None:
    """The sentence naming the optional input columns the run's tables lacked (``meta["absent_columns"]``)."""
    absent = (r.meta or {}).get("absent_columns") or {}
    sep = "、" if lang == "zh" else ", "
    parts = [text(f"absent_{table}", lang, names=sep.join(_column_name(c, lang) for c in absent[table]))
             for table in ("firms", "parcels") if absent.get(table)]
    return text("absent_columns", lang, columns=("；" if lang == "zh" else "; ").join(parts)) if parts else None


def _group_table(firms: pd.DataFrame, lang: Lang, *, work: pd.DataFrame | None = None) -> tuple[pd.DataFrame, Any]:
    scale = col(firms, "scale", default="").astype(object)
    scale_label = scale.map(_labels(SCALE_LABELS, lang)).fillna(text("scale_unknown", lang))
    by_scale = per_mu_summary(firms, scale_label, work=work)
    overall = per_mu_summary(firms, pd.Series(text("all_firms", lang), index=firms.index), work=work)
    order = [_pick(SCALE_LABELS[s], lang) for s in ("above", "below", "tenant")] + [text("scale_unknown", lang)]
    frame = pd.concat([overall, by_scale.reindex([o for o in order if o in by_scale.index])])
    frame = frame.rename_axis("group").reset_index()
    return frame.set_index("group", drop=False), make_table(frame, [
        Column("group", text("group", lang)),
        *_firm_columns(lang),
    ], id="t-groups")


def _firm_columns(lang: Lang) -> list[Column]:
    return [
        Column("n_firms", label("n_firms", lang), "int"),
        Column("land_mu", label("land_mu", lang), "mu"),
        Column("tax", label("tax", lang), "money"),
        Column("value_added", label("value_added", lang), "money"),
        Column("tax_per_mu", label("tax_per_mu", lang), "per_mu"),
        Column("va_per_mu", label("va_per_mu", lang), "per_mu"),
        Column("low_firms", text("low_eff_firms", lang), "int"),
    ]


def _street_table(r: Result, lang: Lang, *, work: pd.DataFrame | None = None) -> Any:
    unknown = text("street_unknown", lang)
    by_firm = per_mu_summary(r.firms, col(r.firms, "street", default="").astype(object).fillna(unknown), work=work)
    by_parcel = parcel_summary(r.parcels, col(r.parcels, "street", default="").astype(object).fillna(unknown))
    frame = by_parcel.join(by_firm, how="outer")
    frame.index = frame.index.map(lambda s: s if isinstance(s, str) and s else unknown)
    frame = frame.rename_axis("street").reset_index().sort_values("street")
    return make_table(frame, [
        Column("street", label("street", lang), css="name"),
        Column("n_parcels", label("n_parcels", lang), "int"),
        Column("parcel_land_mu", text("parcel_land_mu", lang), "mu"),
        Column("low_eff_mu", text("low_eff_mu", lang), "mu"),
        *_firm_columns(lang)[:1],
        Column("land_mu", text("firm_land_mu", lang), "mu"),
        *_firm_columns(lang)[2:],
    ], id="t-street", searchable=True)


def _industry_table(r: Result, lang: Lang, *, work: pd.DataFrame | None = None) -> Any:
    division = industry_division(col(r.firms, "industry", default=""))
    frame = per_mu_summary(r.firms, division, work=work).rename_axis("code").reset_index()
    # One name per division row (a few dozen at most); a table without industry codes has one row,
    # "industry unknown" (Arrow text cannot be filled from an all-missing column, so plain objects here).
    frame["name"] = [
        text("industry_unknown", lang) if pd.isna(c)
        else _pick(INDUSTRY_DIVISIONS[c], lang) if c in INDUSTRY_DIVISIONS
        else text("industry_other", lang, code=c)
        for c in frame["code"].astype(object)
    ]
    frame = frame.sort_values("code", na_position="last")
    return make_table(frame, [
        Column("code", text("industry_code", lang)),
        Column("name", text("industry_name", lang)),
        *_firm_columns(lang),
    ], id="t-industry", searchable=True)


def _grade_table(r: Result, lang: Lang, *, work: pd.DataFrame | None = None) -> Any:
    grade = col(r.firms, "grade", default="").astype(object)
    frame = per_mu_summary(r.firms, grade, work=work).reindex([g for g in GRADES if g in set(grade)])
    frame["share"] = frame["n_firms"] / max(len(r.firms), 1)
    frame["grade"] = [_pick(GRADE_LABELS[g], lang) for g in frame.index]
    return make_table(frame, [
        Column("grade", label("grade", lang)),
        *_firm_columns(lang)[:1],
        Column("share", text("share_firms", lang), "pct"),
        *_firm_columns(lang)[1:],
        Column("energy_tce", label("energy_tce", lang), "tce"),
    ], id="t-grade")


def _disposal_labels(firms: pd.DataFrame, categories: list[dict[str, str]], lang: Lang) -> pd.Series:
    disposal = col(firms, "disposal", default="").astype(object).fillna("")
    by_id = {c["id"]: c["label"] for c in categories}
    own = col(firms, f"disposal_{lang}", default="").astype(object)
    labels = disposal.map(by_id).fillna(own.where(own.notna() & (own != "")))
    return labels.where(disposal != "", text("not_disposed", lang)).fillna(disposal)


def _disposal_table(r: Result, lang: Lang, categories: list[dict[str, str]], *,
                    work: pd.DataFrame | None = None) -> Any:
    labels = _disposal_labels(r.firms, categories, lang)
    frame = per_mu_summary(r.firms, labels, work=work)
    order = [c["label"] for c in categories] + sorted(set(frame.index) - {c["label"] for c in categories})
    frame = frame.reindex([o for o in order if o in frame.index]).rename_axis("disposal").reset_index()
    return make_table(frame, [
        Column("disposal", label("disposal", lang)),
        *_firm_columns(lang)[:-1],
        Column("energy_tce", label("energy_tce", lang), "tce"),
    ], id="t-disposal")


def _blocks_table(r: Result, lang: Lang) -> Any:
    blocks = r.blocks
    if blocks is None or len(blocks) == 0:
        return make_table(pd.DataFrame(), [], id="t-blocks")
    frame = pd.DataFrame(blocks.drop(columns="geometry", errors="ignore")).copy()
    ids = frame["block_id"] if "block_id" in frame.columns else pd.Series(frame.index, index=frame.index)
    numeric = pd.to_numeric(ids, errors="coerce")
    numeric = numeric.where(numeric == numeric.round())
    # Integer ids read "12", not "12.0" (the index may have become float on the way).
    frame["block_id"] = numeric.astype("Int64").astype("string").where(numeric.notna(), ids.astype("string"))
    frame["streets"] = join_text(col(frame, "streets", default=""))
    frame["firms_full"], frame["firms"] = names_of(
        col(frame, "firm_ids", default=""), col(r.firms, "name", default=""), more=text("and_more", lang)
    )
    if "rank" in frame.columns:
        frame = frame.sort_values("rank", na_position="last")
    return make_table(frame, [
        Column("rank", text("rank", lang), "int"),
        Column("block_id", label("block_id", lang)),
        Column("streets", text("streets", lang), css="short"),
        Column("area_mu", text("block_area", lang), "mu"),
        Column("n_parcels", label("n_parcels", lang), "int"),
        Column("n_firms", label("n_firms", lang), "int"),
        Column("tax", label("tax", lang), "money"),
        Column("energy_tce", label("energy_tce", lang), "tce"),
        Column("tax_per_mu", label("tax_per_mu", lang), "per_mu"),
        Column("freed_mu", label("freed_mu", lang), "mu"),
        Column("freed_tce", label("freed_tce", lang), "tce"),
        Column("tax_lost", label("tax_lost", lang), "money"),
        Column("tax_at_target", label("tax_at_target", lang), "money"),
        Column("priority", label("priority", lang), "priority"),
        Column("firms", text("firms_in_block", lang), css="wrap", title_key="firms_full"),
    ], id="t-blocks", searchable=True, print_rows=PRINT_ROWS)


def _flagged_frame(r: Result, lang: Lang, categories: list[dict[str, str]]) -> pd.DataFrame:
    """The flagged firms (low efficiency or a disposal category) with display labels, in category order and
    ascending 亩均税收 within a category (missing last)."""
    frame = flagged_firms(r.firms).copy()
    frame["uscc"] = frame.index.astype(str)
    frame["scale_label"] = col(frame, "scale", default="").map(_labels(SCALE_LABELS, lang))
    frame["grade_label"] = col(frame, "grade", default="").map(_labels(GRADE_LABELS, lang))
    # A flagged firm without a category is low-efficiency under a preset that names none (zhejiang-2019):
    # "no disposal" would misread it.
    frame["disposal_label"] = _disposal_labels(frame, categories, lang).where(
        col(frame, "disposal", default="").astype(object).fillna("") != "", text("low_no_category", lang))
    frame["reason"] = col(r.with_reasons(frame, lang=lang), f"reason_{lang}", default="")  # listed rows only
    order = {c["id"]: i for i, c in enumerate(categories)}
    frame["_order"] = col(frame, "disposal", default="").map(order).fillna(len(order))
    return frame.sort_values(["_order", "tax_per_mu"] if "tax_per_mu" in frame else ["_order"], na_position="last",
                             kind="stable")


def _flagged_table(frame: pd.DataFrame, lang: Lang, anonymised: bool) -> Any:
    """The full searchable list of flagged firms (on screen; the printout has the top list)."""
    return make_table(frame, [
        Column("uscc", text("uscc_masked", lang) if anonymised else label("uscc", lang)),
        Column("name", label("name", lang), css="name"),
        Column("street", label("street", lang), css="short"),
        Column("industry", label("industry", lang)),
        Column("scale_label", label("scale", lang), css="short"),
        Column("land_mu", label("land_mu", lang), "mu"),
        Column("tax", label("tax", lang), "money"),
        Column("tax_per_mu", label("tax_per_mu", lang), "per_mu"),
        Column("va_per_mu", label("va_per_mu", lang), "per_mu"),
        Column("grade_label", label("grade", lang), css="short"),
        Column("disposal_label", label("disposal", lang), css="short"),
        Column("reason", label("reason", lang), css="wrap"),
    ], id="t-flagged", searchable=True, print_rows=0)


def _flagged_top(frame: pd.DataFrame, lang: Lang, anonymised: bool, k: int = TOP_PER_CATEGORY) -> dict[str, Any]:
    """The ``k`` flagged firms with the lowest 亩均税收 in each category, and the count per category.

    ``frame`` comes from ``_flagged_frame`` (already in category order, lowest first), so the top list is the
    first ``k`` rows of each category; firms without a figure come last and fill a category only when it
    has fewer than ``k`` firms with one.
    """
    counts = frame.groupby("disposal_label", sort=False).size() if len(frame) else pd.Series(dtype=int)
    top = frame.groupby("disposal_label", sort=False).head(k).copy() if len(frame) else frame
    if len(top):
        top["n_in_category"] = top.groupby("disposal_label", sort=False).cumcount() + 1
    table = make_table(top, [
        Column("disposal_label", label("disposal", lang), css="short"),
        Column("n_in_category", text("rank", lang), "int"),
        Column("uscc", text("uscc_masked", lang) if anonymised else label("uscc", lang), css="short"),
        Column("name", label("name", lang), css="name"),
        Column("street", label("street", lang), css="short"),
        Column("land_mu", label("land_mu", lang), "mu"),
        Column("tax", label("tax", lang), "money"),
        Column("tax_per_mu", label("tax_per_mu", lang), "per_mu"),
        Column("grade_label", label("grade", lang), css="short"),
        Column("reason", label("reason", lang), css="wrap"),
    ], id="t-flagged-top")
    sep = "、" if lang == "zh" else ", "
    unit = " 家" if lang == "zh" else ""
    listed = sep.join(f"{name} {n:,}{unit}" for name, n in counts.items())
    return {"table": table, "k": k, "n": len(frame), "counts": text("top_counts", lang, counts=listed) if listed else ""}


def _static_map(r: Result, lang: Lang) -> Any:
    """The printable map: parcels by grade with block boundaries, as an inline SVG figure (None: no geometry)."""
    parcels = r.parcels
    if parcels is None or len(parcels) == 0 or "geometry" not in getattr(parcels, "columns", ()):
        return None
    grade = col(parcels, "grade", default="").astype(object)
    codes = grade.map({g: i for i, g in enumerate(GRADES)})
    blocks = r.blocks.geometry.to_numpy() if r.blocks is not None and "geometry" in r.blocks.columns else None
    image = render_static_map(parcels.geometry.to_numpy(), codes, [GRADE_COLOURS[g] for g in GRADES], blocks=blocks)
    if image is None:
        return None
    legend = [LegendItem(GRADE_COLOURS[g], _pick(GRADE_LABELS[g], lang)) for g in GRADES]
    legend += [LegendItem(_NO_CLASS_COLOUR, text("no_class", lang)),
               LegendItem(_BLOCK_COLOUR, text("block_outline", lang), outline=True)]
    crs = getattr(parcels, "crs", None)
    epsg = crs.to_epsg() if crs is not None else None
    return static_map_svg(image, legend, title=text("static_map", lang), lang=lang,
                          crs_name=f"EPSG:{epsg}" if epsg else "")


def _summary_value(summary: Any, key: str) -> float:
    try:
        value = summary[key] if summary is not None and key in summary else np.nan
        return float(value)
    except (TypeError, ValueError, KeyError):
        return np.nan


def _year_note(r: Result, lang: Lang) -> str:
    """Which year the verdicts are for and why (``meta["reference_year"]``, else the evaluation's), or ""."""
    ref = (r.meta or {}).get("reference_year") or getattr(getattr(r, "evaluation", None), "reference", None)
    return str(getattr(ref, "note_zh" if lang == "zh" else "note_en", "") or "")


_KEPT_COLUMN = {"freed_mu": "land_mu", "freed_tce": "energy_tce"}


def _staying(r: Result) -> list[Any]:
    """Low-efficiency categories whose land stays with the firm (``frees_land = false``, e.g. 整治提升)."""
    cats = dict(_attr(r.policy, "categories", default={}) or {}) if r.policy is not None else {}
    return [c for c in cats.values() if getattr(c, "low_efficiency", True) and not getattr(c, "frees_land", True)]


def _blocks_freed(r: Result, key: str) -> float:
    """A block figure summed over all blocks, less the land (energy) of flagged block parcels whose firm's
    category keeps its land: freed land is land that leaves its firm."""
    total = _block_total(r.blocks, key)
    stays = {c.id for c in _staying(r)}
    parcels = r.parcels
    column = _KEPT_COLUMN.get(key)
    if not stays or column is None or parcels is None or not np.isfinite(total) or \
            not {"block_id", "disposal", "low_efficiency", column} <= set(parcels.columns):
        return total
    kept = (parcels["block_id"].notna() & parcels["low_efficiency"].astype("boolean").fillna(False)
            & parcels["disposal"].isin(stays)).to_numpy(bool)
    return float(total - pd.to_numeric(parcels.loc[kept, column], errors="coerce").sum())


def _targets_note(r: Result, lang: Lang) -> str:
    """What the blocks' freed land counts, when a category's land stays with its firm."""
    stays = _staying(r)
    if not stays or not any(k in _KEPT_COLUMN for k in (_attr(r.policy, "targets", default={}) or {})):
        return ""
    names = ("、" if lang == "zh" else ", ").join(c.zh if lang == "zh" else c.en for c in stays)
    # A scenario is an area redeveloped whole: every firm in it leaves, so its rows count all of its parcels.
    scenarios = bool(r.scenarios)
    if lang == "zh":
        return (f"全部区块的腾出用地、用能计入区块内的低效地块，不计{names}地块（用地留在原企业，不腾出）"
                + ("；各情景按整片腾退计，计入情景选定的全部地块。" if scenarios else "。"))
    return (f"Land and energy freed by all blocks count their low-efficiency parcels, not those of {names} firms "
            "(their land stays with the firm)"
            + ("; a scenario is redeveloped whole and counts every parcel it selects." if scenarios else "."))


def _targets(r: Result, lang: Lang) -> list[dict[str, Any]]:
    """Target bars: for each preset target, what all blocks and each scenario achieve."""
    targets = dict(_attr(r.policy, "targets", default={}) or {}) if r.policy is not None else {}
    rows = []
    for key, goal in targets.items():
        goal = float(goal)
        sources = [(text("all_blocks", lang), _blocks_freed(r, key))]
        for sc in r.scenarios or []:
            achieved = _summary_value(getattr(sc, "summary", None), key)
            progress = (getattr(sc, "progress", None) or {}).get(key)
            if not np.isfinite(achieved) and isinstance(progress, int | float) and np.isfinite(progress):
                achieved = float(progress) * goal
            sources.append((str(getattr(sc, "name", text("scenario", lang))), achieved))
        for basis, achieved in sources:
            share = achieved / goal if goal > 0 and np.isfinite(achieved) else np.nan
            rows.append({
                "item": label(key, lang), "basis": basis, "achieved": fmt_number(achieved, 2),
                "target": fmt_number(goal, 2), "share": share,
                "share_text": f"{share:.1%}" if np.isfinite(share) else "—",
                "width": f"{min(max(share, 0.0), 1.0) * 100:.1f}" if np.isfinite(share) else "0",
            })
    return rows


def _scenario_table(r: Result, lang: Lang) -> Any:
    keys = ["freed_mu", "freed_tce", "tax_lost", "tax_expected"]
    records = []
    for sc in r.scenarios or []:
        summary = getattr(sc, "summary", None)
        name = str(getattr(sc, "name", ""))
        if _summary_value(summary, "n_parcels") == 0:
            name = text("scenario_empty", lang, name=name)  # e.g. all blocks of a county without any
        records.append({"name": name, **{k: _summary_value(summary, k) for k in keys}})
    kinds = {"freed_mu": "mu", "freed_tce": "tce", "tax_lost": "money", "tax_expected": "money"}
    names = {"tax_expected": text("tax_expected", lang)}
    return make_table(pd.DataFrame(records), [
        Column("name", text("scenario", lang)),
        *[Column(k, names.get(k, label(k, lang)), kinds[k]) for k in keys],
    ], id="t-scenarios")


def _charts(r: Result, lang: Lang) -> dict[str, Any]:
    thresholds = tuple(_attr(r.policy, "tax_thresholds", default=()) or ()) if r.policy is not None else ()
    # Per-mu figures belong to the evaluated unit: count each unit once, not once per member firm.
    units = r.firms.drop_duplicates("eval_id") if "eval_id" in r.firms.columns else r.firms
    hist = charts.histogram_svg(
        col(units, "tax_per_mu"), thresholds=thresholds, threshold_label=text("threshold", lang),
        title=text("chart_hist", lang), x_label=label("tax_per_mu", lang), y_label=text("chart_hist_y", lang),
    )
    unknown = text("street_unknown", lang)
    street = col(r.firms, "street", default="").astype(object).fillna(unknown).replace("", unknown)
    grade = col(r.firms, "grade", default="").astype(object)
    counts = pd.crosstab(street, grade) if len(r.firms) else pd.DataFrame()
    counts = counts.reindex(columns=[g for g in GRADES if g in counts.columns]).sort_index()
    stacked = charts.stacked_bars_svg(
        counts, colours=GRADE_COLOURS, labels={g: _pick(GRADE_LABELS[g], lang) for g in GRADES},
        title=text("chart_grade_street", lang),
    )
    trend = charts.line_chart_svg(
        county_trend(r.panel), colours={"tax_per_mu": "#4a7fb5", "va_per_mu": "#e08a2c"},
        labels={"tax_per_mu": label("tax_per_mu", lang), "va_per_mu": label("va_per_mu", lang)},
        title=text("chart_trend", lang), y_label=text("per_mu_unit", lang),
    )
    return {"hist": hist, "grade_street": stacked, "trend": trend}


def _quality(r: Result, lang: Lang) -> Any:
    rows = []
    report = getattr(r.links, "report", None) if r.links is not None else None
    if report is not None and hasattr(report, "to_frame"):
        frame = report.to_frame()
        labels = col(frame, f"label_{lang}", default="").astype(object)
        frame = frame.assign(label=labels.where(labels.notna() & (labels != ""), col(frame, "item", default="")))
        rows.append(frame[["label"]].assign(count=col(frame, "count"), mu=col(frame, "mu")))
    parcels = r.parcels
    land = pd.to_numeric(col(parcels, "land_mu"), errors="coerce")
    checks = [
        ("excluded_parcels", col(parcels, "status", default="ok").astype(str).str.startswith("excluded")),
        ("repaired_parcels", col(parcels, "geom_status", default="ok").astype(str).eq("repaired")),
        ("area_flagged", col(parcels, "area_flag", default=False).astype("boolean").fillna(False)),
    ]
    # The link report already counts excluded and repaired parcels; the area check is only here.
    covered = {"excluded_parcels", "repaired_parcels"} if rows else set()
    extra = [
        {"label": text(k, lang), "count": int(mask.sum()), "mu": land.where(mask).sum(min_count=1)}
        for k, mask in checks if k_present(parcels, k) and k not in covered
    ]
    if extra:
        rows.append(pd.DataFrame(extra))
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return make_table(frame, [
        Column("label", text("item", lang)), Column("count", text("count", lang), "int"),
        Column("mu", text("mu", lang), "mu"),
    ], id="t-quality")


def k_present(parcels: pd.DataFrame, check: str) -> bool:
    """Whether the parcel column behind a data-quality ``check`` exists."""
    needed = {"excluded_parcels": "status", "repaired_parcels": "geom_status", "area_flagged": "area_flag"}
    return needed[check] in parcels.columns


def _policy(r: Result, lang: Lang, categories: list[dict[str, str]]) -> dict[str, Any] | None:
    p = r.policy
    if p is None:
        return None
    thresholds = tuple(_attr(p, "tax_thresholds", default=()) or ())
    targets = dict(_attr(p, "targets", default={}) or {})
    return {
        "name": str(_attr(p, "name", default="")),
        "title": str(_attr(p, f"title_{lang}", "title_zh", "title", "description", default="")),
        "source": str(_attr(p, f"source_{lang}", "source_zh", "source", "source_document", "document", default="")),
        "thresholds": "、".join(fmt_number(t, 2) for t in thresholds) if thresholds else "",
        "target_tax_per_mu": fmt_number(_attr(p, "target_tax_per_mu"), 2) if _attr(p, "target_tax_per_mu") else "",
        "categories": categories,
        "targets": [(label(k, lang), fmt_number(v, 2)) for k, v in targets.items()],
    }


def build_report(
    result: Result,
    *,
    lang: Lang = "zh",
    anonymise: bool = False,
    map_html: str | None = None,
    title: str | None = None,
) -> str:
    """Render the run's report as one self-contained HTML document.

    Parameters
    ----------
    result
        The run's result (not modified).
    lang
        ``"zh"`` (default) or ``"en"``: every label, heading and chart text.
    anonymise
        Replace firm names by stable codes and mask USCCs everywhere (see ``anonymise_result``). The
        ``map_html`` should then be built from ``anonymise_result(result)``; names and USCCs found in it are
        replaced as well, as a safety net.
    map_html
        A complete map page (``maps.save_map`` output) to embed in an ``<iframe srcdoc>`` (screen only: the
        printout shows the static map); the section is left out when None. A page over
        ``MAP_EMBED_MAX_BYTES`` is not embedded: the section then names ``map.html`` beside the report.
    title
        Document title; default "<county><year>年度工业用地亩均效益评价报告".

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ConfigError
        If ``lang`` is not ``"zh"`` or ``"en"``.
    """
    if lang not in _LANGS:
        raise ConfigError(f"report language {lang!r} is not supported -> use one of {', '.join(_LANGS)}",
                          zh=f"不支持报告语言 {lang!r} → 请使用 {', '.join(_LANGS)} 之一")
    map_size = len(map_html.encode("utf-8")) if map_html is not None else 0
    embed_map = map_html is not None and map_size <= MAP_EMBED_MAX_BYTES
    if anonymise:
        anonymiser = Anonymiser.from_result(result, lang=lang)
        result = anonymiser.value(result)
        if embed_map:  # the names in the map's packed payload too
            from gisefficiency.maps.html import rewrite_payloads  # maps imports result: not at module level

            map_html = rewrite_payloads(anonymiser.scrub_text(map_html), anonymiser.scrub_text)
    meta = dict(result.meta or {})
    county = str(meta.get("county") or meta.get("county_name") or text("county_default", lang))
    categories = _categories(result.policy, lang)
    work = per_mu_work(result.firms)  # the firms' figures, made once for the five tables that group them
    groups_frame, groups = _group_table(result.firms, lang, work=work)
    flagged = _flagged_frame(result, lang, categories)
    context = {
        "lang": lang,
        "t": {key: text(key, lang) for key in _TEXT_KEYS},
        "title": title or text("title", lang, county=county, year=result.year),
        "county": county,
        "year": result.year,
        "year_note": _year_note(result, lang),
        "anonymised": anonymise,
        "headline": _headline(result, lang, groups_frame),
        "groups": groups,
        "targets": _targets(result, lang),
        "targets_note": _targets_note(result, lang),
        "has_targets": result.policy is not None and bool(_attr(result.policy, "targets", default={})),
        "yearly": yearly_targets_section(result, lang),
        "charts": _charts(result, lang),
        "street": _street_table(result, lang, work=work),
        "industry": _industry_table(result, lang, work=work),
        "grade": _grade_table(result, lang, work=work),
        "disposal": _disposal_table(result, lang, categories, work=work),
        "blocks": _blocks_table(result, lang),
        "blocks_note": _blocks_note(result, lang),
        "flagged": _flagged_table(flagged, lang, anonymise),
        "top": _flagged_top(flagged, lang, anonymise),
        "workbook": WORKBOOK_NAME,
        "static_map": _static_map(result, lang),
        "scenarios": _scenario_table(result, lang),
        "quality": _quality(result, lang),
        "absent_note": _absent_note(result, lang),
        "inputs": input_files(meta),
        "policy": _policy(result, lang, categories),
        "map_html": map_html if embed_map else None,
        "map_linked": map_html is not None and not embed_map,
        "map_size_mb": f"{map_size / 1e6:.1f}",
        # Optional sections (None: left out): a multi-year run's trends, the preset's [pricing].
        "trends": trend_section(result, lang),
        "pricing": pricing_section(result, lang),
    }
    return _environment().get_template("report.html.j2").render(**context)


_TEXT_KEYS = (
    "toc", "no_data", "filter", "filter_label", "rows_shown", "show_all", "sort_hint", "anonymised", "number_note",
    "sec_headline", "sec_groups", "sec_targets", "sec_charts", "sec_street", "sec_industry", "sec_grade",
    "sec_disposal", "sec_blocks", "sec_flagged", "sec_scenarios", "sec_map", "sec_quality", "sec_policy",
    "grade_counts", "per_mu_note", "target_item", "target_source", "achieved", "target", "progress",
    "no_targets", "chart_hist", "chart_grade_street", "chart_trend", "inputs", "policy_name", "policy_title",
    "policy_source", "policy_year", "policy_thresholds", "policy_categories", "policy_targets", "policy_target_tax", "colour",
    "category_id", "generated_by", "full_list", "static_map", "map_interactive", "workbook_note", "top_title",
    "payload_unsupported", "print_rows_note", "map_not_embedded",
)

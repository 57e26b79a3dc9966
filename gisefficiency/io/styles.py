"""QGIS styles stored in results.gpkg: the ``layer_styles`` table (QML and SLD) QGIS and GeoServer read.

QGIS looks for a table ``layer_styles`` in a GeoPackage and applies the row marked ``useAsDefault`` of
each layer when it opens it; the other rows are listed under Layer Properties > Style > Load Style. The
styles here: parcels coloured by grade (default), by 亩均税收 classes at the preset's thresholds and by
disposal category; firms by grade (default) and by disposal; blocks outlined. Colours and legend labels
are the interactive map's (``gisefficiency.maps.layers``), so the map, the report and QGIS agree.

A style is built once as a list of classes (:class:`StyleClass`: a filter, a label, a fill and an
outline) and written both as QML (QGIS 3 renderer XML: ``categorizedSymbol``, ``RuleRenderer`` or
``singleSymbol``) and as SLD 1.1 (one rule per class), so the same classes reach both.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

from gisefficiency.core.i18n import Lang, label
from gisefficiency.maps.layers import (
    BLOCK_COLOUR,
    NO_DATA_COLOUR,
    NO_GRADE_COLOUR,
    TAX_RAMP,
    grade_classes,
    policy_categories,
    tax_thresholds,
)
from gisefficiency.maps.text import text

__all__ = [
    "LAYER_STYLES_COLUMNS", "LayerStyle", "StyleClass", "category_legend", "layer_styles", "style_rows", "to_qml",
    "to_sld",
]

#: Columns of QGIS's ``layer_styles`` table, in QGIS's order.
LAYER_STYLES_COLUMNS: tuple[str, ...] = (
    "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName", "styleQML",
    "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time",
)

#: Precision per-mu thresholds are compared at (the published 4 decimals, as the evaluation does).
_DECIMALS = 4

#: Legend words only the styles use (the rest are the map's, ``maps.text``).
_WORDS: dict[str, tuple[str, str]] = {
    "no_disposal": ("未列入处置", "No disposal category"),
    "known": ("有数据", "Known"),
}


def _say(key: str, lang: Lang) -> str:
    return _WORDS[key][0 if lang == "zh" else 1]


#: Outline of class fills: thin dark grey, so neighbouring parcels of one class stay apart.
_OUTLINE = "#323232"


@dataclass(frozen=True)
class StyleClass:
    """One legend entry.

    Attributes
    ----------
    label
        Legend text.
    fill
        Fill colour ``#rrggbb``, or None for a hollow symbol.
    value
        The attribute value of a categorised style ("" = every other value, QGIS's catch-all).
    lower, upper
        Half-open range ``[lower, upper)`` of a classed numeric style (None = unbounded); both None
        with ``value`` None = the missing values.
    """

    label: str
    fill: str | None
    value: str | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class LayerStyle:
    """A named style of one layer: categorised on ``attr``, classed ranges of ``attr``, or one symbol."""

    layer: str
    name: str
    kind: Literal["categories", "ranges", "single"]
    classes: tuple[StyleClass, ...]
    attr: str | None = None
    default: bool = False
    description: str = ""
    outline: str = _OUTLINE
    outline_mm: float = 0.1


def layer_styles(policy: Any, *, lang: Lang = "zh", columns: dict[str, set[str]] | None = None) -> list[LayerStyle]:
    """Every style of the results.gpkg layers, one default per layer.

    Parameters
    ----------
    policy
        The run's policy (categories and tax thresholds); None gives the grade and block styles only.
    lang
        Legend and style names in Chinese or English.
    columns
        Layer -> its columns; a style whose attribute a layer lacks is left out (optional columns).
    """
    grades = grade_classes(None, pd.Index([]), lang)
    grade_cls = tuple(
        StyleClass(lab, colour, value=code)
        for code, lab, colour in zip(("A", "B", "C", "D", "N", ""), grades["labels"], grades["colours"], strict=True)
    )
    cats = policy_categories(policy)
    disposal_cls = (
        *(StyleClass(zh if lang == "zh" else en, colour, value=cid) for cid, zh, en, colour in cats),
        StyleClass(_say("no_disposal", lang), None, value=""),
    )
    styles: list[LayerStyle] = []
    for layer in ("parcels", "firms"):
        styles.append(LayerStyle(layer, text("layer_grade", lang) if layer == "parcels" else label("grade", lang),
                                 "categories", grade_cls, attr="grade", default=True,
                                 description=label("grade", lang)))
        if layer == "parcels":
            styles.append(LayerStyle(layer, text("layer_tax", lang), "ranges", _tax_classes(policy, lang),
                                     attr="tax_per_mu", description=label("tax_per_mu", lang)))
        if cats:
            styles.append(LayerStyle(layer, text("layer_disposal", lang), "categories", disposal_cls,
                                     attr="disposal", description=label("disposal", lang)))
    styles.append(LayerStyle("blocks", text("layer_blocks", lang), "single",
                             (StyleClass(text("layer_blocks", lang), None),), default=True,
                             outline=BLOCK_COLOUR, outline_mm=0.6, description=text("layer_blocks", lang)))
    if columns is not None:
        styles = [s for s in styles if s.layer in columns and (s.attr is None or s.attr in columns[s.layer])]
    return styles


def _tax_classes(policy: Any, lang: Lang) -> tuple[StyleClass, ...]:
    """亩均税收 classes at the preset's thresholds (below the first, between, at or above the last) + no data.

    Without thresholds (a preset that grades only by score) there is one class of known values.
    """
    cuts = tax_thresholds(policy)
    bounds = [None, *cuts, None]
    n = len(bounds) - 1
    step = max(1, (len(TAX_RAMP) - 1) // max(1, n - 1)) if n > 1 else 1
    unit = text("wan_per_mu", lang)
    out = []
    for i in range(n):
        lo, hi = bounds[i], bounds[i + 1]
        if lo is None and hi is None:
            lab = _say("known", lang)
        elif lo is None:
            lab = f"< {hi:g} {unit}"
        elif hi is None:
            lab = f"≥ {lo:g} {unit}"
        else:
            lab = f"{lo:g} – {hi:g} {unit}"
        out.append(StyleClass(lab, TAX_RAMP[min(i * step, len(TAX_RAMP) - 1)], lower=lo, upper=hi))
    out.append(StyleClass(text("no_data", lang), NO_DATA_COLOUR))
    return tuple(out)


# --- QML -----------------------------------------------------------------------------------------------------


def _rgba(colour: str | None) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,a`` (None = fully transparent)."""
    if colour is None:
        return "0,0,0,0"
    c = colour.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},255"


def _field(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _expression(attr: str, cls: StyleClass) -> str:
    """QGIS expression selecting the class's features (ranges compared at the published precision)."""
    v = f"round({_field(attr)}, {_DECIMALS})"
    if cls.lower is None and cls.upper is None:
        return f"{_field(attr)} IS NULL" if cls.value is None else f"{_field(attr)} = '{cls.value}'"
    parts = ([f"{v} >= {cls.lower!r}"] if cls.lower is not None else []) + (
        [f"{v} < {cls.upper!r}"] if cls.upper is not None else [])
    return " AND ".join(parts)


def _symbol(name: str, fill: str | None, outline: str, outline_mm: float) -> str:
    """A QGIS fill symbol (both the QGIS >= 3.26 ``Option`` map and the older ``prop`` list)."""
    props = {
        "color": _rgba(fill), "style": "solid" if fill else "no", "outline_color": _rgba(outline),
        "outline_style": "solid", "outline_width": f"{outline_mm:g}", "outline_width_unit": "MM",
        "joinstyle": "bevel",
    }
    options = "".join(f'<Option type="QString" name="{k}" value="{v}"/>' for k, v in props.items())
    old = "".join(f'<prop k="{k}" v="{v}"/>' for k, v in props.items())
    return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" pass="0" locked="0"><Option type="Map">{options}</Option>'
            f"{old}</layer></symbol>")


def to_qml(style: LayerStyle) -> str:
    """The style as a QGIS 3 QML document (``<qgis>`` with one ``renderer-v2``)."""
    symbols = "".join(_symbol(str(i), c.fill, style.outline, style.outline_mm) for i, c in enumerate(style.classes))
    if style.kind == "categories":
        cats = "".join(f'<category value={quoteattr(c.value or "")} label={quoteattr(c.label)} symbol="{i}" '
                       f'render="true"/>' for i, c in enumerate(style.classes))
        renderer = (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(style.attr or "")} symbollevels="0" '
                    f'forceraster="0" enableorderby="0"><categories>{cats}</categories>'
                    f"<symbols>{symbols}</symbols></renderer-v2>")
    elif style.kind == "ranges":
        rules = "".join(
            f'<rule key="r{i}" symbol="{i}" label={quoteattr(c.label)} '
            f'filter={quoteattr(_expression(style.attr or "", c))}/>' for i, c in enumerate(style.classes))
        renderer = (f'<renderer-v2 type="RuleRenderer" symbollevels="0" forceraster="0" enableorderby="0">'
                    f'<rules key="root">{rules}</rules><symbols>{symbols}</symbols></renderer-v2>')
    else:
        renderer = (f'<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
                    f"<symbols>{symbols}</symbols></renderer-v2>")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.28.0" styleCategories="Symbology">{renderer}'
            "<layerGeometryType>2</layerGeometryType></qgis>\n")


# --- SLD -----------------------------------------------------------------------------------------------------


def _ogc_filter(attr: str, cls: StyleClass) -> str:
    prop = f"<ogc:PropertyName>{escape(attr)}</ogc:PropertyName>"
    if cls.lower is None and cls.upper is None:
        if cls.value is None:
            return f"<ogc:Filter><ogc:PropertyIsNull>{prop}</ogc:PropertyIsNull></ogc:Filter>"
        return ""  # the catch-all is an ElseFilter
    parts = []
    if cls.lower is not None:
        parts.append(f"<ogc:PropertyIsGreaterThanOrEqualTo>{prop}<ogc:Literal>{cls.lower!r}</ogc:Literal>"
                     "</ogc:PropertyIsGreaterThanOrEqualTo>")
    if cls.upper is not None:
        parts.append(f"<ogc:PropertyIsLessThan>{prop}<ogc:Literal>{cls.upper!r}</ogc:Literal>"
                     "</ogc:PropertyIsLessThan>")
    body = parts[0] if len(parts) == 1 else f"<ogc:And>{''.join(parts)}</ogc:And>"
    return f"<ogc:Filter>{body}</ogc:Filter>"


def to_sld(style: LayerStyle) -> str:
    """The style as an SLD 1.1 document (GeoServer, ArcGIS Pro), one rule per class."""
    rules = []
    for c in style.classes:
        if style.kind == "categories" and c.value:
            filt = (f"<ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>{escape(style.attr or '')}"
                    f"</ogc:PropertyName><ogc:Literal>{escape(c.value)}</ogc:Literal></ogc:PropertyIsEqualTo>"
                    "</ogc:Filter>")
        elif style.kind == "categories":
            filt = "<se:ElseFilter/>"
        elif style.kind == "ranges":
            filt = _ogc_filter(style.attr or "", c)
        else:
            filt = ""
        fill = (f'<se:Fill><se:SvgParameter name="fill">{c.fill}</se:SvgParameter></se:Fill>' if c.fill else "")
        rules.append(
            f"<se:Rule><se:Name>{escape(c.label)}</se:Name><se:Description><se:Title>{escape(c.label)}</se:Title>"
            f"</se:Description>{filt}<se:PolygonSymbolizer>{fill}<se:Stroke>"
            f'<se:SvgParameter name="stroke">{style.outline}</se:SvgParameter>'
            f'<se:SvgParameter name="stroke-width">{style.outline_mm * 3.78:.2f}</se:SvgParameter>'
            "</se:Stroke></se:PolygonSymbolizer></se:Rule>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld" '
            'xmlns:se="http://www.opengis.net/se" xmlns:ogc="http://www.opengis.net/ogc" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<NamedLayer><se:Name>{escape(style.layer)}</se:Name><UserStyle><se:Name>{escape(style.name)}"
            f"</se:Name><se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle></NamedLayer>"
            "</StyledLayerDescriptor>\n")


def style_rows(styles: list[LayerStyle], *, geometry_columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The ``layer_styles`` rows of ``styles``, columns :data:`LAYER_STYLES_COLUMNS`.

    ``geometry_columns`` maps a layer to its geometry column (default ``"geometry"``, what results.gpkg
    layers have); QGIS matches a style to its layer by table and geometry column.
    """
    now = pd.Timestamp(_dt.datetime.now(_dt.UTC).replace(tzinfo=None, microsecond=0))
    return pd.DataFrame({
        "f_table_catalog": "", "f_table_schema": "",
        "f_table_name": [s.layer for s in styles],
        "f_geometry_column": [(geometry_columns or {}).get(s.layer, "geometry") for s in styles],
        "styleName": [s.name for s in styles],
        "styleQML": [to_qml(s) for s in styles],
        "styleSLD": [to_sld(s) for s in styles],
        "useAsDefault": pd.array([s.default for s in styles], dtype="boolean"),
        "description": [s.description for s in styles],
        "owner": "", "ui": "",
        "update_time": [now] * len(styles),
    }, columns=list(LAYER_STYLES_COLUMNS))


# --- category rasters ------------------------------------------------------------------------------------------


def category_legend(name: str, categories: dict[int, str], policy: Any) -> dict[int, tuple[str, str, str | None]]:
    """Code -> (Chinese name, English name, colour or None) of a category raster's codes.

    ``categories`` is the raster's code -> value table (``raster.layers.encode_categories``). Grades take
    the map's grade labels and colours, disposal codes the policy's category names and colours (the empty
    value: no category), flags yes/no; any other value names itself, without a colour.
    """
    grades = {lang: grade_classes(None, pd.Index([]), lang) for lang in ("zh", "en")}
    known: dict[str, tuple[str, str, str | None]] = {}
    if name == "grade":
        for i, code in enumerate(("A", "B", "C", "D", "N")):
            known[code] = (grades["zh"]["labels"][i], grades["en"]["labels"][i], grades["zh"]["colours"][i])
    elif name == "disposal":
        known = {cid: (zh, en, colour) for cid, zh, en, colour in policy_categories(policy)}
        known[""] = (*_WORDS["no_disposal"], NO_GRADE_COLOUR)
    elif set(categories.values()) <= {"True", "False"}:
        known = {"True": (text("yes", "zh"), text("yes", "en"), "#e31a1c"),
                 "False": (text("no", "zh"), text("no", "en"), NO_GRADE_COLOUR)}
    return {code: known.get(value, (value, value, None)) for code, value in categories.items()}

"""``make_map``: the interactive map of a ``Result`` as a folium map."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.plugins import Fullscreen, MeasureControl
from folium.template import Template

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import ConfigError
from gisefficiency.core.i18n import Lang
from gisefficiency.maps import aggregate, assets
from gisefficiency.maps.basemaps import basemap_tiles, is_gcj
from gisefficiency.maps.encode import (
    FALLBACK_SIMPLIFY_M,
    encode_polygons,
    pack_json,
    simplify_parcels,
    to_display_lonlat,
)
from gisefficiency.maps.image import as_overlays
from gisefficiency.maps.layers import (
    BLOCK_COLOUR,
    LAYERS,
    VISIBLE,
    block_attributes,
    firm_table,
    label_points,
    parcel_attributes,
    parcel_layers,
    ui_text,
)
from gisefficiency.maps.text import DRAW_LOCAL_ZH, text

log = logging.getLogger(__name__)

#: Coverage simplification tolerance for parcels (m): below a screen pixel at street zoom levels.
SIMPLIFY_M = 1.0
BLOCK_SIMPLIFY_M = 2.0
#: Above this many parcels (a city) parcel outlines are drawn only from ``DETAIL_ZOOM`` on: zoomed out they
#: merge into a grey mesh and double the drawing time; the class colours show at every zoom.
CITY_PARCELS = 20_000
DETAIL_ZOOM = 14


class _Text(Element):
    """Markup put in the page as it is: branca would compile an ``Element``'s text as a Jinja template,
    which for megabytes of payload took two seconds (and would read Jinja's double-brace syntax in the data as
    template code)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


class GiseLayers(MacroElement):
    """Embeds the map's payload and hands it to ``map.js`` (layers, legend, popups, search, draw)."""

    # The payload is JSON, gzip-compressed and base64-encoded (encode.pack_json), in two script elements of a data
    # type: what the first paint needs (geometry, layer classes, labels) and the popup and search columns,
    # which map.js unpacks after the paint. At 100k parcels 32 MB of JSON become a 13 MB page. map.js
    # unpacks them with the browser's own DecompressionStream; base64 has no "<", so nothing in it can end
    # the element.
    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = GiseMap.load({{ this._parent.get_name() }}, "{{ this.get_name() }}_data");
        {% endmacro %}
        """
    )

    def __init__(self, payload: Any, details: Any, *, unsupported: str, default_js: list,
                 default_css: list) -> None:
        super().__init__()
        self._name = "GiseLayers"
        self.payload = pack_json(payload)
        self.details = pack_json(details)
        self.unsupported = html.escape(unsupported, quote=True)
        self.default_js = default_js
        self.default_css = default_css

    def render(self, **kwargs: Any) -> None:
        # Same as folium's JSCSSMixin: register our scripts and styles in the page header.
        from branca.element import CssLink, JavascriptLink

        figure = self.get_root()
        for name, url in self.default_js:
            figure.header.add_child(JavascriptLink(url), name=name)
        for name, url in self.default_css:
            figure.header.add_child(CssLink(url), name=name)
        name = self.get_name()
        figure.html.add_child(_Text(
            f'<script type="application/octet-stream" id="{name}_data" data-encoding="gzip+base64" '
            f'data-details="{name}_details" data-unsupported="{self.unsupported}">{self.payload}</script>\n'
            f'<script type="application/octet-stream" id="{name}_details" data-encoding="gzip+base64">'
            f"{self.details}</script>"), name=name)
        super().render(**kwargs)


def _js(key: str, offline: bool) -> tuple[str, str]:
    pkg = assets.PACKAGES[key]
    url = assets.data_uri(assets.script_text(key).encode(), "text/javascript") if offline else pkg.cdn(pkg.js)
    return (f"{pkg.name}_js", url)


def _css(key: str, offline: bool) -> tuple[str, str]:
    pkg = assets.PACKAGES[key]
    url = assets.data_uri(assets.style_text(key).encode(), "text/css") if offline else pkg.cdn(pkg.css)
    return (f"{pkg.name}_css", url)


def _projected(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """``gdf`` in a metric CRS (its own, or its UTM zone if it is in degrees)."""
    if gdf.crs is None:
        raise ConfigError(f"result.{what} has no CRS -> set it (e.g. gdf.set_crs('EPSG:4549')) before mapping",
                          zh=f"result.{what} 没有坐标系 → 制图前请先设置（例如 gdf.set_crs('EPSG:4549')）")
    return gdf if gdf.crs.is_projected else gdf.to_crs(gdf.estimate_utm_crs())


def _check_options(lang: str, layers: Sequence[str] | None, max_parcels: int) -> tuple[str, ...]:
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang={lang!r} is not supported -> use 'zh' (default) or 'en'",
                          zh=f"不支持 lang={lang!r} → 请使用 'zh'（默认）或 'en'")
    if max_parcels < 0:
        raise ConfigError(f"max_parcels={max_parcels} must be >= 0",
                          zh=f"max_parcels={max_parcels} 必须 >= 0")
    wanted = tuple(LAYERS if layers is None else layers)
    unknown = [k for k in wanted if k not in LAYERS]
    if unknown:
        raise ConfigError(f"unknown map layer(s) {unknown} -> choose from {', '.join(LAYERS)}",
                          zh=f"未知的地图图层 {unknown} → 请从 {', '.join(LAYERS)} 中选择")
    return wanted


def _drawable(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Parcels with a polygonal, non-empty geometry (excluded rows with empty geometry are not drawn)."""
    geom = parcels.geometry.values
    ok = ~(shapely.is_missing(geom) | shapely.is_empty(geom)) & np.isin(shapely.get_type_id(geom), (3, 6))
    return parcels.loc[ok]


def make_map(
    result: Any,
    *,
    lang: Lang = "zh",
    basemap: str = "osm",
    offline: bool = True,
    tianditu_key: str | None = None,
    max_parcels: int = 200_000,
    layers: Sequence[str] | None = None,
    overlays: Mapping[str, Any] | None = None,
) -> folium.Map:
    """The interactive map of a run: parcels by grade, 亩均税收, disposal, idle and freed land, and blocks.

    Parameters
    ----------
    result
        A ``gisefficiency.result.Result`` (uses ``parcels``, ``firms``, ``blocks`` and ``policy``); optional
        columns that are missing leave their layer or popup text line out, and a missing figure (亩均税收,
        亩均增加值, land) reads "—" in the popup.
    lang
        ``"zh"`` (default) or ``"en"`` for every label.
    basemap
        ``"osm"``, ``"gaode"``, ``"gaode_satellite"`` (data shifted to GCJ-02 to sit on the tiles),
        ``"tianditu"``, ``"tianditu_satellite"`` (needs a key) or ``"none"``.
    offline
        True embeds Leaflet and the plugins (from ``gisefficiency/maps/assets/vendor``) so the page works without
        network (tiles excepted); False links them from jsDelivr.
    tianditu_key
        Tianditu key; defaults to the ``TIANDITU_KEY`` environment variable.
    max_parcels
        Up to this many parcels (default 200,000) every parcel is in the page, coloured and clickable at every
        zoom (a city of 100,000 is a 12 MB page that paints in about a second; above ``CITY_PARCELS`` outlines
        start at ``DETAIL_ZOOM``); above it the map shows the aggregated view (streets, parcel rasters,
        blocks).
    layers
        Layer keys to include (default all of ``LAYERS``); ``"grade"`` and ``"blocks"`` start visible.
    overlays
        Extra images ``{name: (png_bytes_or_array, ((south, west), (north, east)))}``, e.g. a density GeoTIFF
        read by ``gisefficiency.io.raster`` (2-D arrays are coloured with a quantile ramp).

    Returns
    -------
    folium.Map
        Save it with :func:`gisefficiency.maps.save_map` (one self-contained HTML file).

    Raises
    ------
    ConfigError
        Unknown option values, Tianditu without a key, offline assets not vendored, parcels without a CRS.
    """
    t0 = time.perf_counter()
    wanted = _check_options(lang, layers, max_parcels)
    tiles = basemap_tiles(basemap, lang=lang, key=tianditu_key)
    gcj = is_gcj(basemap)
    shift = None
    if gcj:
        from gisefficiency.core.crs import wgs84_to_gcj02

        shift = wgs84_to_gcj02
    images = as_overlays(overlays)

    parcels = _drawable(_projected(result.parcels, "parcels"))
    firms = getattr(result, "firms", None)
    firms = firms if isinstance(firms, pd.DataFrame) else pd.DataFrame(index=pd.Index([], name="uscc"))
    firm_ids = firms.index.astype(str)
    policy = getattr(result, "policy", None)
    aggregated = len(parcels) > max_parcels

    if hasattr(result, "with_reasons"):  # the reasons of the firms the map shows, in its language
        firms = result.with_reasons(firms, lang=lang)
    payload: dict[str, Any] = {"text": ui_text(lang), "firms": firm_table(firms, policy, lang)}
    notes = []
    # A city's parcels only drop their collinear vertices (0.1 m): checking 100k parcels for a valid coverage
    # took 2 s and real parcels seldom are one, and the page fits in its budget without it.
    city = len(parcels) > CITY_PARCELS
    simplified = simplify_parcels(parcels.geometry.values,
                                  tolerance_m=FALLBACK_SIMPLIFY_M if city else SIMPLIFY_M)
    lonlat = to_display_lonlat(gpd.GeoSeries(simplified.geometry, crs=parcels.crs, index=parcels.index),
                               shift=shift)
    if aggregated:
        streets = streets_lonlat = None
        if "street" in parcels.columns and len(parcels):
            streets = aggregate.street_table(parcels)
            streets_lonlat = to_display_lonlat(streets.geometry, shift=shift)
        specs = aggregate.aggregated_layers(parcels, lonlat, streets, streets_lonlat, policy, wanted, lang)
        payload["parcels"] = None
        payload["search"] = aggregate.search_points(parcels, lonlat, firm_ids)
        notes.append(text("aggregated_note", lang, max=f"{max_parcels:,}"))
    else:
        specs = parcel_layers(parcels, policy, wanted, lang)
        payload["parcels"] = {"geom": encode_polygons(lonlat), **parcel_attributes(parcels, firm_ids, policy, lang)}

    blocks = getattr(result, "blocks", None)
    if "blocks" in wanted and isinstance(blocks, gpd.GeoDataFrame) and len(blocks):
        blocks = _drawable(_projected(blocks, "blocks"))
        geoms = simplify_parcels(blocks.geometry.values, tolerance_m=BLOCK_SIMPLIFY_M).geometry
        block_lonlat = to_display_lonlat(gpd.GeoSeries(geoms, crs=blocks.crs), shift=shift)
        specs.append({
            "key": "blocks", "kind": "blocks", "name": text("layer_blocks", lang), "colour": BLOCK_COLOUR,
            "geom": encode_polygons(block_lonlat),
            "attrs": {**block_attributes(blocks), **label_points(block_lonlat)},
            "colours": [BLOCK_COLOUR], "labels": [text("block_outline", lang)], "title": text("layer_blocks", lang),
        })
    for name, (png, bounds) in images.items():  # a few user overlays
        if shift is not None:
            lon, lat = shift(np.array([bounds[0][1], bounds[1][1]]), np.array([bounds[0][0], bounds[1][0]]))
            bounds = [[float(lat[0]), float(lon[0])], [float(lat[1]), float(lon[1])]]
        specs.append({"key": f"overlay:{name}", "kind": "image", "name": name, "show": False,
                      "url": assets.data_uri(png, "image/png"), "bounds": bounds, "opacity": 0.75})
    visible = [s["key"] for s in specs if s["key"] in VISIBLE] or [s["key"] for s in specs[:1]]
    for spec in specs:
        spec.setdefault("show", spec["key"] in visible)
        spec.pop("method", None)

    if gcj:
        notes.append(text("gcj_note", lang))
    payload.update({
        "layers": specs,
        "basemaps": [t.to_json() for t in tiles],
        "bounds": _bounds(lonlat, specs),
        "draw": {"filename": "scenario_gcj02.geojson" if gcj else "scenario.geojson",
                 "crs": "GCJ-02" if gcj else None},
        "draw_local": DRAW_LOCAL_ZH if lang == "zh" else None,
        "note": " | ".join(notes) or None,
        "detail_zoom": DETAIL_ZOOM if city else None,
    })

    m = _base_map(offline=offline, lang=lang)
    # Popup and search columns travel apart: the page paints before it unpacks them.
    details = {"parcels": payload["parcels"], "firms": payload.pop("firms"), "search": payload.pop("search", None)}
    if payload["parcels"] is not None:
        payload["parcels"] = {"geom": details["parcels"].pop("geom")}
    m.add_child(GiseLayers(
        payload, details, unsupported=text("unsupported_browser", lang),
        default_js=[_js("search", offline), _js("draw", offline),
                    ("gisefficiency_map_js", assets.data_uri(assets.own_text("map.js").encode(), "text/javascript"))],
        default_css=[_css("search", offline), _css("draw", offline),
                     ("gisefficiency_map_css", assets.data_uri(assets.own_text("map.css").encode(), "text/css"))],
    ))
    m.gise_meta = {  # facts for reports and benchmarks
        "n_parcels": len(parcels), "aggregated": aggregated, "simplify": simplified.method,
        "simplify_m": simplified.tolerance_m, "basemap": basemap, "gcj02": gcj, "layers": [s["key"] for s in specs],
        "seconds": time.perf_counter() - t0,
    }
    return m


def _bounds(lonlat: np.ndarray, specs: list[dict]) -> list[list[float]] | None:
    """``[[south, west], [north, east]]`` of the drawn data (parcels, else image overlays)."""
    if len(lonlat):
        minx, miny, maxx, maxy = shapely.total_bounds(lonlat)
        if np.isfinite([minx, miny, maxx, maxy]).all():
            return [[float(miny), float(minx)], [float(maxy), float(maxx)]]
    images = [s["bounds"] for s in specs if s["kind"] == "image"]
    if images:
        arr = np.asarray(images, dtype=float)
        return [[float(arr[:, 0, 0].min()), float(arr[:, 0, 1].min())],
                [float(arr[:, 1, 0].max()), float(arr[:, 1, 1].max())]]
    return None


def _base_map(*, offline: bool, lang: Lang) -> folium.Map:
    """An empty canvas-rendered folium map with only Leaflet as a dependency, plus fullscreen and measure."""
    m = folium.Map(location=(30.0, 120.0), zoom_start=12, tiles=None, prefer_canvas=True, control_scale=False)
    # Instance attributes override folium's class defaults (Leaflet from a CDN plus jQuery, Bootstrap and
    # font-awesome, which nothing on this map uses).
    m.default_js = [_js("leaflet", offline)]
    m.default_css = [_css("leaflet", offline)]
    fs = Fullscreen(position="topleft", title=text("fullscreen", lang), title_cancel=text("fullscreen_exit", lang))
    fs.default_js = [_js("fullscreen", offline)]
    fs.default_css = [_css("fullscreen", offline)]
    fs.add_to(m)
    measure = MeasureControl(
        position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
        primary_area_unit="mu", secondary_area_unit="sqmeters", localization="cn" if lang == "zh" else "en",
        units={"mu": {"factor": 1 / M2_PER_MU, "display": text("mu", lang), "decimals": 2}},
    )
    measure.default_js = [_js("measure", offline)]
    measure.default_css = [_css("measure", offline)]
    measure.add_to(m)
    return m

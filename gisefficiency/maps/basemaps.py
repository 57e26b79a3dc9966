"""Basemap tile sources: OpenStreetMap, Gaode/Amap (GCJ-02), Tianditu (needs a key) and none.

The ``basemap`` option picks a family and its first view; the family also fixes the coordinate frame of the
data layers (GCJ-02 for Gaode, WGS-84/CGCS2000 otherwise), so only basemaps of one family are offered in the
layer control of one map. Tiles always need the network: an offline map shows its data on a blank ground.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gisefficiency.core.errors import ConfigError
from gisefficiency.core.i18n import Lang
from gisefficiency.maps.text import text

#: Valid values of ``make_map(basemap=...)``.
BASEMAPS: tuple[str, ...] = ("osm", "gaode", "gaode_satellite", "tianditu", "tianditu_satellite", "none")

TIANDITU_ENV = "TIANDITU_KEY"


@dataclass(frozen=True)
class Tiles:
    """One tile layer (with an optional label overlay drawn on top of it)."""

    key: str
    name: str
    url: str
    attribution: str
    subdomains: str = ""
    max_zoom: int = 18
    labels_url: str = ""

    def to_json(self) -> dict:
        return {
            "key": self.key, "name": self.name, "url": self.url, "attribution": self.attribution,
            "subdomains": self.subdomains, "maxZoom": self.max_zoom, "labels": self.labels_url,
        }


def is_gcj(basemap: str) -> bool:
    """True if the basemap's tiles are in GCJ-02, so the data must be shifted to sit on them."""
    return basemap.startswith("gaode")


def tianditu_key(key: str | None) -> str:
    """The Tianditu key from the argument or the ``TIANDITU_KEY`` environment variable.

    Raises
    ------
    ConfigError
        Neither is set.
    """
    key = key or os.environ.get(TIANDITU_ENV, "")
    if not key.strip():
        raise ConfigError(
            "basemap 'tianditu' needs a Tianditu (天地图) key: apply for a free browser-side key at "
            "https://console.tianditu.gov.cn/, then pass make_map(..., tianditu_key='<key>') or set the "
            f"environment variable {TIANDITU_ENV}=<key>; or choose basemap='osm', 'gaode' or 'none'.",
            zh=("底图 'tianditu' 需要天地图密钥：请在 https://console.tianditu.gov.cn/ 免费申请浏览器端密钥，"
                f"然后传入 make_map(..., tianditu_key='<key>') 或设置环境变量 {TIANDITU_ENV}=<key>；"
                "或选用 basemap='osm'、'gaode' 或 'none'。")
        )
    return key.strip()


def basemap_tiles(basemap: str, *, lang: Lang = "zh", key: str | None = None) -> list[Tiles]:
    """The tile layers offered for ``basemap``, the selected one first (empty list for ``"none"``).

    Raises
    ------
    ConfigError
        Unknown basemap, or Tianditu without a key.
    """
    if basemap not in BASEMAPS:
        raise ConfigError(f"unknown basemap {basemap!r} -> use one of {', '.join(BASEMAPS)}",
                          zh=f"未知的底图 {basemap!r} → 请使用 {', '.join(BASEMAPS)} 之一")
    if basemap == "none":
        return []
    if basemap == "osm":
        return [Tiles(
            "osm", text("base_osm", lang), "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
            max_zoom=19,
        )]
    if is_gcj(basemap):
        amap_lang = "zh_cn" if lang == "zh" else "en"
        attribution = "&copy; 高德地图 AutoNavi"
        vector = Tiles(
            "gaode", text("base_gaode", lang),
            f"https://webrd0{{s}}.is.autonavi.com/appmaptile?lang={amap_lang}&size=1&scale=1&style=8"
            "&x={x}&y={y}&z={z}",
            attribution, subdomains="1234",
        )
        imagery = Tiles(
            "gaode_satellite", text("base_gaode_satellite", lang),
            "https://webst0{s}.is.autonavi.com/appmaptile?style=6&x={x}&y={y}&z={z}",
            attribution, subdomains="1234",
            labels_url="https://webst0{s}.is.autonavi.com/appmaptile?style=8&x={x}&y={y}&z={z}",
        )
        return [imagery, vector] if basemap == "gaode_satellite" else [vector, imagery]
    tk = tianditu_key(key)
    label = "cva" if lang == "zh" else "eva"
    image_label = "cia" if lang == "zh" else "eia"

    def wmts(layer: str) -> str:
        return (
            f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            f"&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
            f"&TILECOL={{x}}&tk={tk}"
        )

    attribution = "&copy; 天地图 国家地理信息公共服务平台"
    vector = Tiles("tianditu", text("base_tianditu", lang), wmts("vec"), attribution, subdomains="01234567",
                   labels_url=wmts(label))
    imagery = Tiles("tianditu_satellite", text("base_tianditu_satellite", lang), wmts("img"), attribution,
                    subdomains="01234567", labels_url=wmts(image_label))
    return [imagery, vector] if basemap == "tianditu_satellite" else [vector, imagery]

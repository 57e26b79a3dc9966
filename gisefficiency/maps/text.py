"""Map-specific labels (zh first, en on request); column and grade labels come from ``gisefficiency.core.i18n``."""

from __future__ import annotations

from gisefficiency.core.i18n import Lang

#: key -> (zh, en)
MAP_TEXT: dict[str, tuple[str, str]] = {
    # layers
    "layer_grade": ("地块评价类别", "Parcels by grade"),
    "layer_tax": ("亩均税收分级", "Tax per mu classes"),
    "layer_disposal": ("处置类别", "Disposal category"),
    "layer_blocks": ("低效连片区块", "Low-efficiency blocks"),
    "layer_scenario": ("情景腾出用地", "Freed land (scenario)"),
    "layer_idle": ("闲置地块", "Idle parcels"),
    "layer_streets": ("街道/乡镇亩均税收", "Tax per mu by street/town"),
    "layer_raster_grade": ("地块评价类别(栅格)", "Parcel grades (raster)"),
    "raster": ("栅格", "raster"),
    # legend entries
    "no_data": ("无数据", "No data"),
    "no_grade": ("无评价(无企业或未参评)", "No grade (no firm or not evaluated)"),
    "in_scenario": ("情景中腾出的地块", "Parcel freed in the scenario"),
    "idle_parcel": ("无企业使用的地块", "Parcel without a firm"),
    "block_outline": ("低效连片区块(编号·面积)", "Low-efficiency block (id · area)"),
    "legend_title": ("图例", "Legend"),
    # basemaps
    "base_osm": ("OpenStreetMap", "OpenStreetMap"),
    "base_gaode": ("高德地图", "Amap (Gaode)"),
    "base_gaode_satellite": ("高德影像", "Amap imagery"),
    "base_tianditu": ("天地图矢量", "Tianditu vector"),
    "base_tianditu_satellite": ("天地图影像", "Tianditu imagery"),
    "base_none": ("无底图", "No basemap"),
    # popup
    "parcel": ("地块", "Parcel"),
    "firms_on_parcel": ("地块上的企业", "Firms on this parcel"),
    "no_firm": ("无企业(闲置)", "No firm (idle)"),
    "block": ("区块", "Block"),
    "block_role_low": ("低效", "low efficiency"),
    "block_role_kept": ("保留", "kept"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "mu": ("亩", "mu"),
    "wan_per_mu": ("万元/亩", "10k yuan/mu"),
    # search and tools
    "search_hint": ("搜索企业名称/信用代码/地块编号", "Search firm, USCC or parcel id"),
    "search_not_found": ("未找到", "Not found"),
    "search_cancel": ("取消", "Cancel"),
    "fullscreen": ("全屏", "Full screen"),
    "fullscreen_exit": ("退出全屏", "Exit full screen"),
    "export_geojson": ("导出绘制范围(GeoJSON)", "Export drawn shapes (GeoJSON)"),
    "export_empty": ("尚未绘制任何图形", "Nothing drawn yet"),
    "aggregated_note": (
        "地块数超过{max}个,显示街道汇总、区块和栅格化地块,而非逐个地块",
        "More than {max} parcels: showing streets, blocks and a raster of parcels instead of each parcel",
    ),
    "unsupported_browser": (
        "此浏览器无法解压地图数据,请用新版 Chrome、Edge、Firefox 或 360 极速模式打开",
        "This browser cannot unpack the map data: open it in a current Chrome, Edge or Firefox",
    ),
    "gcj_note": (
        "数据已转换为GCJ-02坐标以叠加高德底图;导出的图形为GCJ-02坐标",
        "Data shifted to GCJ-02 to sit on Amap tiles; exported shapes are in GCJ-02",
    ),
}

#: leaflet-draw toolbar strings (merged into ``L.drawLocal`` in the browser); only zh differs from the default.
DRAW_LOCAL_ZH: dict = {
    "draw": {
        "toolbar": {
            "actions": {"title": "取消绘制", "text": "取消"},
            "finish": {"title": "完成绘制", "text": "完成"},
            "undo": {"title": "删除最后一个点", "text": "撤销"},
            "buttons": {
                "polygon": "绘制多边形", "rectangle": "绘制矩形", "polyline": "绘制折线",
                "circle": "绘制圆", "marker": "放置标记", "circlemarker": "放置圆点",
            },
        },
        "handlers": {
            "polygon": {"tooltip": {"start": "点击开始绘制", "cont": "点击继续绘制", "end": "点击第一个点闭合"}},
            "rectangle": {"tooltip": {"start": "按住并拖动绘制矩形"}},
            "polyline": {"tooltip": {"start": "点击开始绘制", "cont": "点击继续绘制", "end": "点击最后一个点结束"}},
            "simpleshape": {"tooltip": {"end": "松开鼠标完成绘制"}},
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": "保存修改", "text": "保存"},
                "cancel": {"title": "放弃修改", "text": "取消"},
                "clearAll": {"title": "清除全部图形", "text": "全部清除"},
            },
            "buttons": {
                "edit": "编辑图形", "editDisabled": "没有可编辑的图形",
                "remove": "删除图形", "removeDisabled": "没有可删除的图形",
            },
        },
        "handlers": {
            "edit": {"tooltip": {"text": "拖动节点编辑图形", "subtext": "点击取消放弃修改"}},
            "remove": {"tooltip": {"text": "点击图形将其删除"}},
        },
    },
}


def text(key: str, lang: Lang = "zh", **fmt: object) -> str:
    """The map label ``key`` in ``lang``, formatted with ``fmt``; unknown keys come back unchanged."""
    pair = MAP_TEXT.get(key)
    if pair is None:
        return key
    out = pair[0] if lang == "zh" else pair[1]
    return out.format(**fmt) if fmt else out

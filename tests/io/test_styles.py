"""results.gpkg styles for QGIS (layer_styles, QML, SLD) and its boolean and date fields."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pandas as pd
import pyogrio
import pytest

from gisefficiency.io.styles import LAYER_STYLES_COLUMNS, category_legend, layer_styles, to_qml, to_sld

POLICY = SimpleNamespace(
    categories={
        "close": {"zh": "淘汰关停类", "en": "Close", "colour": "#d73027"},
        "swap": {"zh": "腾笼换鸟类", "en": "Swap", "colour": "#fc8d59"},
    },
    tax_thresholds=(1.0, 3.0),
)


def _styles(path) -> pd.DataFrame:
    with sqlite3.connect(path) as con:
        return pd.read_sql("SELECT * FROM layer_styles", con)


def test_layer_styles_table_has_qgis_columns_and_one_default_per_layer(demo_outputs):
    path = demo_outputs["results"]
    styles = _styles(path)
    assert [c for c in styles.columns if c != "fid"] == list(LAYER_STYLES_COLUMNS)
    defaults = styles[styles["useAsDefault"] == 1].groupby("f_table_name").size()
    assert defaults.to_dict() == {"blocks": 1, "firms": 1, "parcels": 1}
    assert set(styles["f_geometry_column"]) == {"geometry"}
    assert styles.loc[styles["f_table_name"] == "parcels", "styleName"].tolist() == [
        "地块评价类别", "亩均税收分级", "处置类别"]
    # An attributes table in the GeoPackage's contents, as QGIS makes it; readable by GDAL.
    with sqlite3.connect(path) as con:
        kind = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
        declared = {r[1]: r[2] for r in con.execute("PRAGMA table_info(layer_styles)")}
    assert kind == ("attributes",)
    assert declared["useAsDefault"] == "BOOLEAN" and declared["update_time"] == "DATETIME"
    assert len(pyogrio.read_dataframe(path, layer="layer_styles", read_geometry=False)) == len(styles)


def test_parcel_default_style_is_categorised_on_grade_with_chinese_labels(demo_outputs):
    styles = _styles(demo_outputs["results"])
    qml = styles.loc[(styles["f_table_name"] == "parcels") & (styles["useAsDefault"] == 1), "styleQML"].item()
    root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
    assert root.tag == "qgis"
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "grade"
    cats = renderer.find("categories").findall("category")
    assert [(c.get("value"), c.get("label")) for c in cats][:5] == [
        ("A", "A类"), ("B", "B类"), ("C", "C类"), ("D", "D类"), ("N", "不参评")]
    symbols = renderer.find("symbols").findall("symbol")
    assert sorted(s.get("name") for s in symbols) == sorted(c.get("symbol") for c in cats)
    colour = {o.get("name"): o.get("value") for o in symbols[0].find("layer").find("Option")}["color"]
    assert colour == "26,152,80,255"  # the map's grade A green #1a9850


def test_tax_style_classes_at_the_presets_thresholds(demo_outputs, demo_result):
    styles = _styles(demo_outputs["results"])
    qml = styles.loc[styles["styleName"] == "亩均税收分级", "styleQML"].item()
    rules = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2").find("rules").findall("rule")
    # suichang-2022: 1, 3 and 5 万元/亩.
    assert [r.get("label") for r in rules] == ["< 1 万元/亩", "1 – 3 万元/亩", "3 – 5 万元/亩", "≥ 5 万元/亩", "无数据"]
    assert rules[1].get("filter") == 'round("tax_per_mu", 4) >= 1.0 AND round("tax_per_mu", 4) < 3.0'
    assert rules[-1].get("filter") == '"tax_per_mu" IS NULL'


def test_disposal_and_block_styles(demo_outputs):
    styles = _styles(demo_outputs["results"])
    qml = styles.loc[(styles["f_table_name"] == "parcels") & (styles["styleName"] == "处置类别"), "styleQML"].item()
    renderer = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2")
    labels = {c.get("value"): c.get("label") for c in renderer.find("categories")}
    assert labels["close"] == "淘汰关停类" and labels["swap"] == "腾笼换鸟类" and labels[""] == "未列入处置"
    block = styles.loc[styles["f_table_name"] == "blocks", "styleQML"].item()
    layer = ET.fromstring(block.split("\n", 1)[1]).find("renderer-v2/symbols/symbol/layer")
    opts = {o.get("name"): o.get("value") for o in layer.find("Option")}
    assert opts["style"] == "no" and opts["outline_color"] == "227,26,28,255"  # outlined in the map's red


def test_sld_is_valid_xml_with_one_rule_per_class():
    styles = layer_styles(POLICY, lang="en")
    grade = next(s for s in styles if s.layer == "parcels" and s.attr == "grade")
    root = ET.fromstring(to_sld(grade).split("\n", 1)[1])
    ns = {"se": "http://www.opengis.net/se", "ogc": "http://www.opengis.net/ogc"}
    rules = root.findall(".//se:Rule", ns)
    assert [r.find("se:Name", ns).text for r in rules][:2] == ["Class A", "Class B"]
    assert len(rules) == len(grade.classes)
    assert rules[-1].find("se:ElseFilter", ns) is not None  # the "no grade" catch-all


def test_english_labels_and_missing_columns_leave_styles_out():
    styles = layer_styles(POLICY, lang="en", columns={"parcels": {"grade"}, "firms": {"grade", "disposal"},
                                                      "blocks": set()})
    assert [(s.layer, s.attr) for s in styles] == [("parcels", "grade"), ("firms", "grade"),
                                                  ("firms", "disposal"), ("blocks", None)]
    qml = to_qml(styles[2])
    assert 'label="Close"' in qml and 'label="Swap"' in qml


def test_category_legend_names_and_colours():
    legend = category_legend("disposal", {0: "", 1: "close"}, POLICY)
    assert legend[1] == ("淘汰关停类", "Close", "#d73027")
    assert legend[0][:2] == ("未列入处置", "No disposal category")
    assert category_legend("grade", {0: "A"}, None)[0] == ("A类", "Class A", "#1a9850")
    assert category_legend("low_efficiency", {0: "False", 1: "True"}, None)[1][:2] == ("是", "yes")
    assert category_legend("other", {0: "x"}, None)[0] == ("x", "x", None)


@pytest.mark.parametrize("layer", ["parcels", "firms", "blocks"])
def test_booleans_are_booleans_in_every_layer(demo_outputs, demo_result, layer):
    path = demo_outputs["results"]
    frame = getattr(demo_result, layer)
    flags = [c for c in frame.columns if c != frame.geometry.name and (
        frame[c].dtype == bool or isinstance(frame[c].dtype, pd.BooleanDtype)
        or (frame[c].dtype == object and frame[c].dropna().map(type).eq(bool).all() and frame[c].notna().any()))]
    with sqlite3.connect(path) as con:
        declared = {r[1]: r[2] for r in con.execute(f"PRAGMA table_info({layer})")}
    assert all(declared[c] == "BOOLEAN" for c in flags), {c: declared[c] for c in flags}
    if layer == "parcels":
        assert {"in_scope", "exempt", "idle", "low_efficiency"} <= set(flags)  # in_scope/exempt were text
        assert declared["supply_date"] == "DATE"
    if not flags:  # blocks have none today
        return
    back = pyogrio.read_dataframe(path, layer=layer, columns=flags, read_geometry=False, use_arrow=True)
    for c in flags:
        assert back[c].dropna().map(type).eq(bool).all(), c

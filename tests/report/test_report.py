"""Tests of the HTML report: content, escaping, anonymising, charts, and the page in headless Chromium."""

from __future__ import annotations

import html
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _report_fixtures import USCC, XSS_IMG, XSS_SCRIPT, FakePolicy, empty_result, make_result
from browser import needs_browser, open_page
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import ConfigError
from gisefficiency.report import charts
from gisefficiency.report.build import build_report
from gisefficiency.report.labels import INDUSTRY_DIVISIONS
from gisefficiency.report.tables import fmt_number, industry_division, per_mu_summary
from gisefficiency.result.anonymise import anonymise_result

URL = re.compile(r"https?://", re.IGNORECASE)


class _Tags(HTMLParser):
    """Every start tag with its attributes, to check what the browser would build."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


@pytest.fixture(scope="module")
def result():
    return make_result()


@pytest.fixture(scope="module")
def zh(result) -> str:
    return build_report(result)


@pytest.fixture(scope="module")
def en(result) -> str:
    return build_report(result, lang="en")


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """Cell texts of a rendered table, row by row."""
    body = re.search(rf'<table id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


# ---------------------------------------------------------------- content


def test_headline_and_groups_hand_computed(zh):
    assert zh.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in zh
    assert "<title>示例县2021年度工业用地亩均效益评价报告</title>" in zh
    groups = {row[0]: row for row in table_rows(zh, "t-groups")}
    # 43.1 万元 over the 50 mu of firms with tax; value added 166 over 45 mu.
    assert groups["全部企业"][1:] == ["5", "50.00", "43.10", "166.00", "0.86", "3.69", "2"]
    assert groups["规上"][5:7] == ["1.33", "5.33"]
    assert groups["规下"][5:7] == ["0.15", "0.40"]
    cards = {k: v for v, k in re.findall(r'<div class="v">(.*?)</div><div class="k">(.*?)</div>', zh)}
    assert cards["地块数"] == "6"
    assert cards["用地面积(亩)"] == "58.00"  # the excluded parcel's missing land is not counted
    assert cards["低效用地(亩)"] == "23.00"
    assert cards["亩均税收(万元/亩)"] == "0.86"
    assert cards["连片区块数"] == "1"
    assert cards["可腾出用能(吨标煤)"] == "300.00"
    assert "A类: 1" in zh and "不参评: 1" in zh


def test_tables_by_street_industry_grade_disposal(zh):
    street = {row[0]: row for row in table_rows(zh, "t-street")}
    assert street["西镇"][1:4] == ["3", "28.00", "23.00"]
    assert street["<b>北乡</b>"][2] == "—"  # the only parcel there is excluded: land missing, not 0
    industry = {row[0]: row[1] for row in table_rows(zh, "t-industry")}
    assert industry == {"17": "纺织业", "29": "橡胶和塑料制品业", "34": "通用设备制造业",
                        "99": "其他行业（代码99）", "—": "行业未知"}
    grades = [row[0] for row in table_rows(zh, "t-grade")]
    assert grades == ["A类", "B类", "C类", "D类", "不参评"]
    disposal = [row[0] for row in table_rows(zh, "t-disposal")]
    assert disposal == ["淘汰关停", "腾笼换鸟", "无需处置"]


def test_flagged_firms_blocks_and_reasons(zh):
    flagged = table_rows(zh, "t-flagged")
    assert [row[0] for row in flagged] == [USCC["F4"], USCC["F2"]]  # close before swap
    assert flagged[1][-1] == f"{XSS_SCRIPT}：亩均税收连续两年低于3万元 (2020: 0.45, 2021: 0.50 万元/亩)"
    assert flagged[1][1] == XSS_SCRIPT
    blocks = table_rows(zh, "t-blocks")
    assert blocks[0][:4] == ["1", "1", "西镇", "23.00"]
    assert blocks[0][-1] == XSS_IMG  # block firm list shows names, as text
    assert 'id="t-flagged" class="sortable"' in zh
    assert 'data-table="t-flagged"' in zh


def test_targets_policy_quality_and_inputs(zh):
    assert "全部连片区块" in zh and "2.9%" in zh and "6.2%" in zh  # 23/800, 300/4800
    assert 'style="width: 2.9%"' in zh
    assert "遂昌县全域低效工业企业整治方案(征求意见稿), 2022" in zh
    assert "1.00、3.00、5.00" in zh
    quality = {row[0]: row[1:] for row in table_rows(zh, "t-quality")}
    assert quality == {"按关联表关联": ["4", "50.00"], "未关联企业": ["1", "—"], "闲置地块": ["2", "12.00"],
                       "证载面积与图斑面积差异超限的地块": ["0", "—"]}
    assert "layers/sample/parcels.gpkg" in zh


def test_charts_present_with_thresholds_and_trend(zh):
    assert zh.count('<svg class="chart ') == 3
    assert zh.count('<svg class="map-image"') == 1  # the printable static map
    assert zh.count("<svg ") == 4
    assert zh.count('class="threshold"') == 3
    for label in ("阈值 1", "阈值 3", "阈值 5"):
        assert label in zh
    # County tax per mu: 2019 31/50 = 0.62, 2021 43.1/50 = 0.862.
    assert "亩均税收(万元/亩) 2019: 0.62" in zh
    assert "亩均税收(万元/亩) 2021: 0.86" in zh
    assert "xmlns" not in zh  # inline SVG needs no namespace URL


def test_english_labels(en):
    assert '<html lang="en">' in en
    for text in ("Headline figures", "Tax per mu (10k yuan/mu)", "By industry (GB/T 4754 division)",
                 "Textiles", "Class A: 1", "threshold 3", "All blocks", "Close"):
        assert text in en
    for zh_text in ("总体情况", "全部企业", "纺织业", "阈值", "无需处置"):
        assert zh_text not in en
    assert "tax per mu below 3 two years running" in en


def test_quality_without_link_report_counts_parcels(result):
    from dataclasses import replace

    quality = {row[0]: row[1:] for row in table_rows(build_report(replace(result, links=None)), "t-quality")}
    assert quality["排除的地块（无有效图形等）"] == ["1", "—"]  # excluded: its land is missing, not 0
    assert quality["已修复图形的地块"] == ["1", "20.00"]


def test_missing_parts_say_no_data():
    page = build_report(empty_result())
    assert page.count("无数据") >= 8
    assert page.count("<svg ") == 0
    assert "所用政策未设定量化目标。" in page
    assert "no data" in build_report(empty_result(), lang="en")


def test_bad_language_is_rejected(result):
    with pytest.raises(ConfigError, match="report language 'fr' is not supported -> use one of zh, en"):
        build_report(result, lang="fr")


def test_report_does_not_touch_result(result):
    before = result.firms.copy()
    blocks_before = result.blocks.copy()
    build_report(result, anonymise=True)
    pd.testing.assert_frame_equal(result.firms, before)
    pd.testing.assert_frame_equal(pd.DataFrame(result.blocks), pd.DataFrame(blocks_before))


# ---------------------------------------------------------------- safety


def test_data_text_is_escaped(zh):
    assert XSS_SCRIPT not in zh and XSS_IMG not in zh and "<b>北乡</b>" not in zh
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in zh
    assert "&lt;img src=x onerror=alert(1)&gt;" in zh
    tags = tags_of(zh)
    names = [t for t, _ in tags]
    assert names.count("script") == 1  # only the report's own sorting script
    assert not {"img", "b", "i"} & set(names)
    assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]


def test_policy_colour_cannot_inject_css(result):
    from dataclasses import replace

    from _report_fixtures import Category

    bad = replace(FakePolicy(), categories={"close": Category("close", "关停", "Close", "red;background:url(x)")})
    page = build_report(replace(result, policy=bad))
    assert "url(x)" not in page


def test_no_external_urls(zh, en):
    assert not URL.search(zh) and not URL.search(en)


def test_map_embedded_in_srcdoc_only(result):
    map_html = ('<!DOCTYPE html><html><body><div id="m" title="a &amp; b">"q" \'s\'</div>'
                '<script src="https://unpkg.com/leaflet.js"></script><script>var x = 1 < 2;</script></body></html>')
    page = build_report(result, map_html=map_html)
    iframes = [attrs for tag, attrs in tags_of(page) if tag == "iframe"]
    assert len(iframes) == 1
    assert iframes[0]["srcdoc"] == map_html  # the attribute round-trips exactly
    assert iframes[0]["sandbox"] == "allow-scripts"
    outside = re.sub(r'srcdoc="[^"]*"', "", page)
    assert not URL.search(outside)
    assert "<script src=" not in page
    assert 'href="#map"' in page
    assert 'href="#map"' not in build_report(result)


# ---------------------------------------------------------------- anonymising


def test_anonymise_result_codes_and_masks(result):
    anon = anonymise_result(result)
    assert list(anon.firms["name"]) == ["企业-0001", "企业-0002", "企业-0003", "企业-0004", "企业-0005"]
    masked = list(anon.firms.index)
    assert masked[0] == "*" * 14 + "0001" and len(set(masked)) == 5
    assert all(len(m) == 18 for m in masked)
    assert anon.blocks["firm_ids"].iloc[0] == ["*" * 14 + "0004"]
    assert set(anon.panel.index.get_level_values("eval_id")) == set(masked[:4])
    assert list(anon.parcels["holder_uscc"].dropna()) == masked[:4]
    assert anon.firms["reason_zh"].iloc[3] == "企业-0004（**************0004）：D类连续两年 (2020, 2021)"
    assert anon.parcels["low_eff_reason_zh"].iloc[3] == "企业-0004 亩均税收0.04万元/亩"
    assert list(anon.links.firm_links["name"]) == list(anon.firms["name"])
    assert anonymise_result(result, lang="en").firms["name"].iloc[0] == "Firm-0001"
    assert result.firms["name"].iloc[0] == "甲机械有限公司"  # input untouched


def test_anonymised_report_hides_names_and_usccs(result):
    names = list(result.firms["name"])
    map_html = f'<script>var d = {{"name": "\\u4e59\\u7eba\\u7ec7\\u6709\\u9650\\u516c\\u53f8", "id": "{USCC["F1"]}"}};</script>'
    page = build_report(result, anonymise=True, map_html=map_html)
    for secret in [*USCC.values(), *names, *(html.escape(n) for n in names)]:
        assert secret not in page
    assert "\\u4e59\\u7eba" not in page  # JSON-escaped name inside the map is replaced too
    assert "企业-0004" in page and "**************0004" in page
    assert "统一社会信用代码(已屏蔽)" in page
    assert 'id="anon-banner"' in page


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=5, unique=True))
def test_anonymise_codes_follow_uscc_order(names):
    usccs = [f"91330100{i:09d}X" for i in range(len(names))][::-1]
    result = make_result()
    firms = result.firms.iloc[: len(names)].copy()
    firms.index = pd.Index(usccs, name="uscc")
    firms["name"] = names
    firms["reason_zh"] = [f"{n}低效" for n in names]
    anon = anonymise_result(type(result)(
        parcels=result.parcels.iloc[:0], firms=firms, blocks=result.blocks.iloc[:0],
        panel=pd.DataFrame(), year=2021, policy=None,
    ))
    order = np.argsort(usccs)
    expected = {usccs[i]: f"企业-{rank + 1:04d}" for rank, i in enumerate(order)}
    assert list(anon.firms["name"]) == [expected[u] for u in usccs]
    assert anon.firms.index.is_unique
    assert list(anon.firms["reason_zh"]) == [f"{expected[u]}低效" for u in usccs]


# ---------------------------------------------------------------- tables and numbers


def test_fmt_number():
    assert fmt_number(1234567.891, 2) == "1,234,567.89"
    assert fmt_number(0.005, 2) == "0.01" or fmt_number(0.005, 2) == "0.00"
    assert fmt_number(-1234.5, 0) == "-1,234"
    for missing in (None, np.nan, float("inf"), pd.NA, "x"):
        assert fmt_number(missing) == "—"


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_fmt_number_round_trips(value):
    text = fmt_number(value, 2)
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d{2}", text)
    assert abs(float(text.replace(",", "")) - value) <= 0.005 + 1e-9 * abs(value)


def test_per_mu_summary_keeps_missing_missing():
    firms = pd.DataFrame({
        "land_mu": [10.0, 20.0, 5.0, np.nan],
        "tax": [5.0, np.nan, np.nan, 3.0],
        "value_added": [np.nan, 40.0, np.nan, 1.0],
        "energy_tce": [np.nan] * 4,
    })
    out = per_mu_summary(firms, pd.Series(["a", "a", "b", "b"]))
    assert out.loc["a", "tax_per_mu"] == 0.5  # F2 has no tax: its 20 mu stay out of the ratio
    assert out.loc["a", "va_per_mu"] == 2.0
    assert np.isnan(out.loc["b", "tax_per_mu"])  # the firm with tax has no land
    assert out.loc["b", "tax"] == 3.0
    assert np.isnan(out.loc["a", "energy_tce"])  # all missing stays missing, never 0
    assert list(out["n_firms"]) == [2, 2]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("xyz"), st.floats(0.1, 500), st.floats(0, 1000)), min_size=1, max_size=30))
def test_per_mu_is_within_member_ratios(rows):
    firms = pd.DataFrame(rows, columns=["key", "land_mu", "tax"])
    out = per_mu_summary(firms, firms["key"])
    ratio = firms["tax"] / firms["land_mu"]
    assert out["n_firms"].sum() == len(firms)
    for key, group in ratio.groupby(firms["key"]):
        assert group.min() - 1e-9 <= out.loc[key, "tax_per_mu"] <= group.max() + 1e-9


def test_industry_division_and_names():
    codes = pd.Series(["3311", "C1711", 34, None, "abc", " 4320 "], dtype=object)
    assert industry_division(codes).tolist() == ["33", "17", "34", pd.NA, pd.NA, "43"]
    assert sorted(INDUSTRY_DIVISIONS) == [str(c) for c in range(13, 44)]
    assert INDUSTRY_DIVISIONS["39"][0] == "计算机、通信和其他电子设备制造业"


def test_charts_handle_no_data_and_gaps():
    assert charts.histogram_svg(pd.Series([np.nan, np.inf])) is None
    assert charts.stacked_bars_svg(pd.DataFrame(), colours={}, labels={}) is None
    assert charts.line_chart_svg(pd.DataFrame({"a": [np.nan]}), colours={}, labels={}) is None
    gap = charts.line_chart_svg(pd.DataFrame({"a": [1.0, np.nan, 2.0, 3.0]}, index=[2018, 2019, 2020, 2021]),
                                colours={"a": "#000"}, labels={"a": "<a>"})
    assert gap.count("<polyline") == 2  # the missing year breaks the line
    assert "&lt;a&gt;" in gap and "<a>" not in gap
    hist = charts.histogram_svg(pd.Series([0.5, 1.5, 100.0]), thresholds=(1.0, 2.0), threshold_label="t {value}")
    assert hist.count('class="threshold"') == 2 and "t 1" in hist and "t 2" in hist
    assert "≥" in hist  # the long tail is folded into the last bin


# ---------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def page_file(tmp_path_factory, result) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(build_report(result), encoding="utf-8")
    return path


def _visible_column(check, table_id: str, index: int) -> list[str]:
    return check.evaluate(
        "([id, i]) => Array.from(document.getElementById(id).tBodies[0].rows)"
        ".filter(r => !r.hidden).map(r => r.cells[i].textContent.trim())",
        [table_id, index],
    )


@pytest.mark.browser
@needs_browser
def test_page_opens_without_errors_or_dialogs(page_file, tmp_path):
    with open_page(page_file, screenshot=tmp_path / "report.png") as check:
        assert check.errors == []
        assert check.dialogs == []  # the firm named <script>alert(1)</script> ran nothing
        assert check.blocked_requests == []
        assert check.evaluate("document.querySelectorAll('svg.chart').length") == 3
        assert check.evaluate("document.querySelectorAll('img').length") == 0
        assert XSS_SCRIPT in check.evaluate("document.body.textContent")
        full = check.shoot(tmp_path / "report-full.png", full_page=True)
    assert check.screenshot.stat().st_size > 10_000 and full.stat().st_size > 10_000


@pytest.mark.browser
@needs_browser
def test_sort_by_clicking_headers_and_filter(page_file):
    with open_page(page_file, screenshot=False) as check:
        header = check.page.locator("#t-industry thead th", has_text="亩均税收")
        header.click()
        assert _visible_column(check, "t-industry", 0) == ["99", "17", "29", "34", "—"]
        header.click()
        # Descending; the industry with no tax per mu stays last either way.
        assert _visible_column(check, "t-industry", 0)[:2] == ["34", "17"]
        assert _visible_column(check, "t-industry", 0)[-1] == "—"
        assert header.get_attribute("aria-sort") == "descending"
        check.page.locator('input[data-table="t-industry"]').fill("纺织")
        assert _visible_column(check, "t-industry", 1) == ["纺织业"]
        assert check.page.locator("#t-industry-count").text_content() == "显示 1 / 匹配 1 行"
        check.page.locator('input[data-table="t-flagged"]').fill("ONERROR")
        assert _visible_column(check, "t-flagged", 0) == [USCC["F4"]]
        assert check.errors == [] and check.dialogs == []


@pytest.mark.browser
@needs_browser
def test_embedded_map_runs_sandboxed(result, tmp_path):
    map_html = ("<!DOCTYPE html><html><body><p id='m'>x</p><script>document.getElementById('m').textContent="
                "'map-ok'; alert('from map');</script></body></html>")
    path = tmp_path / "with_map.html"
    path.write_text(build_report(result, map_html=map_html), encoding="utf-8")
    with open_page(path, screenshot=False, settle_ms=300) as check:
        frame = check.page.frame_locator("iframe.map")
        assert frame.locator("#m").text_content() == "map-ok"
        assert check.dialogs == []  # sandbox without allow-modals: no dialog from the map either


@pytest.mark.browser
@needs_browser
def test_print_layout_is_a4(page_file, tmp_path):
    with open_page(page_file, screenshot=False) as check:
        check.page.emulate_media(media="print")
        assert check.evaluate("getComputedStyle(document.querySelector('.controls')).display") == "none"
        assert check.evaluate("getComputedStyle(document.querySelector('nav.toc')).display") == "none"
        assert check.evaluate("getComputedStyle(document.querySelector('thead')).display") == "table-header-group"
        assert check.evaluate("getComputedStyle(document.querySelector('tbody tr')).breakInside") == "avoid"
        pdf = tmp_path / "report.pdf"
        check.page.pdf(path=str(pdf), format="A4", print_background=True, prefer_css_page_size=True)
        check.page.set_viewport_size({"width": 703, "height": 1000})  # A4 width minus margins at 96 dpi
        overflow = check.evaluate(
            "Array.from(document.querySelectorAll('svg.chart')).map(s => s.getBoundingClientRect().right)"
        )
        assert max(overflow) <= 703
        assert check.evaluate("document.documentElement.scrollWidth") <= 703  # no table wider than the page
        check.shoot(tmp_path / "print.png", full_page=True)
    data = pdf.read_bytes()
    boxes = {tuple(float(v) for v in m.split()) for m in re.findall(rb"/MediaBox \[([^\]]+)\]", data)}
    pages = len(re.findall(rb"/Type /Page\b(?!s)", data))
    assert pages >= 2
    # A4 is 595.28 x 841.89 pt; Chromium rounds to whole device pixels.
    assert all(abs(b[2] - b[0] - 595.28) < 2 and abs(b[3] - b[1] - 841.89) < 2 for b in boxes)


# ---------------------------------------------------------------- with the real map


@pytest.fixture(scope="module")
def online_map_html(result) -> str:
    maps = pytest.importorskip("gisefficiency.maps")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mapclassify: too few values for its classes
        return maps.render_html(maps.make_map(result, offline=False))


def test_urls_only_inside_an_online_map(result, online_map_html):
    assert URL.search(online_map_html)  # the map links Leaflet from a CDN when offline=False
    page = build_report(result, map_html=online_map_html)
    srcdoc = [a["srcdoc"] for t, a in tags_of(page) if t == "iframe"]
    assert srcdoc == [online_map_html]
    assert not URL.search(re.sub(r'srcdoc="[^"]*"', "", page))


@pytest.mark.browser
@needs_browser
def test_anonymised_report_with_real_offline_map(result, tmp_path):
    maps = pytest.importorskip("gisefficiency.maps")
    anon = anonymise_result(result)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        map_html = maps.render_html(maps.make_map(anon, offline=True, basemap="none"))
    page = build_report(result, anonymise=True, map_html=map_html)
    for secret in [*USCC.values(), *result.firms["name"]]:
        assert secret not in page
    path = tmp_path / "anon_with_map.html"
    path.write_text(page, encoding="utf-8")
    with open_page(path, screenshot=tmp_path / "anon_with_map.png", settle_ms=500) as check:
        assert check.errors == [] and check.dialogs == [] and check.blocked_requests == []
        frame = next(f for f in check.page.frames if f != check.page.main_frame)
        assert frame.evaluate("typeof L") == "object"  # Leaflet runs inside the sandboxed iframe
        assert "企业-0004" in check.evaluate("document.body.textContent")


@pytest.mark.browser
@needs_browser
def test_long_tables_page_and_print_the_top_list(result, tmp_path):
    from dataclasses import replace

    n = 260
    firms = result.firms.iloc[np.r_[[1] * n]].copy()  # 260 flagged firms (copies of F2)
    firms.index = pd.Index([f"91330100{i:09d}Q" for i in range(n)], name="uscc")
    firms["name"] = [f"企业{i:03d}" for i in range(n)]
    firms.iloc[230, firms.columns.get_loc("name")] = XSS_IMG  # a row of the payload, built by the script
    path = tmp_path / "long.html"
    page = build_report(replace(result, firms=firms))
    path.write_text(page, encoding="utf-8")
    # The first page of rows is HTML; the other 60 travel compressed and are unpacked in the browser.
    assert len(table_rows(page, "t-flagged")) == 200
    assert 'data-rest="' in page.split('id="t-flagged"')[1].split(">")[0]
    visible = "Array.from(document.querySelectorAll('#t-flagged tbody tr')).filter(r => r.offsetParent !== null).length"
    with open_page(path, screenshot=False, wait_for="window.__reportReady === true") as check:
        assert check.evaluate(visible) == 200
        assert check.page.locator("#t-flagged-count").text_content() == "显示 200 / 匹配 260 行"
        check.page.locator("#t-flagged-more").click()
        assert check.evaluate(visible) == n
        assert check.page.locator("#t-flagged-more").is_hidden()
        # Payload text is escaped like the page's own: shown as text, no element, no dialog.
        assert _visible_column(check, "t-flagged", 1)[230] == XSS_IMG
        assert check.evaluate("document.querySelectorAll('#t-flagged img').length") == 0
        assert check.dialogs == []
        check.page.locator('input[data-table="t-flagged"]').fill("企业25")
        assert _visible_column(check, "t-flagged", 1) == [f"企业25{i}" for i in range(10)]
        check.page.locator("#t-flagged thead th", has_text="企业名称").click()
        check.page.locator("#t-flagged thead th", has_text="企业名称").click()
        assert _visible_column(check, "t-flagged", 1)[0] == "企业259"
        check.page.emulate_media(media="print")
        # The printout has the top list (20 lowest per category) and leaves the full list to 清单.xlsx.
        assert check.evaluate(visible) == 0
        top = "Array.from(document.querySelectorAll('#t-flagged-top tbody tr')).filter(r => r.offsetParent !== null)"
        assert check.evaluate(top + ".length") == 20
        assert check.evaluate(top + ".map(r => r.cells[1].textContent)") == [str(i) for i in range(1, 21)]
        assert check.errors == []


def test_scrub_prefers_longest_name_and_finds_glued_usccs():
    from gisefficiency.result.anonymise import Anonymiser

    ids = ["91330100000000001A", "91330100000000002B", "91330100000000003C"]
    anon = Anonymiser(ids, {"华": ids[0], "华东": ids[1], "华东机械": ids[2]})
    assert anon.scrub_text("华东机械与华东和华") == "企业-0003与企业-0002和企业-0001"
    assert anon.scrub_text(f"ID{ids[1]}x, {ids[2]}") == "ID**************0002x, **************0003"
    assert anon.scrub_text('{"n": "\\u534e\\u4e1c"}') == '{"n": "\\u4f01\\u4e1a-0002"}'
    assert anon.scrub_text("A&amp;B") == "A&amp;B"


def test_block_firm_lists_are_shortened_with_full_tooltip(result):
    from dataclasses import replace

    blocks = result.blocks.copy()
    ids = [*USCC.values(), "91330100000000006F", "91330100000000007G"]
    blocks["firm_ids"] = [",".join(ids)]  # the blocks stage writes comma-joined USCCs
    page = build_report(replace(result, blocks=blocks))
    cell = re.search(r'<td class="wrap" title="([^"]*)">([^<]*)</td></tr>', page.split('id="t-blocks"')[1])
    full, short = html.unescape(cell.group(1)), html.unescape(cell.group(2))
    names = list(result.firms["name"])
    assert full == "、".join([*names, ids[5], ids[6]])  # unknown ids are shown as the id
    assert short == "、".join(names) + " 等7家"
    anon = build_report(replace(result, blocks=blocks), anonymise=True)
    assert "企业-0001、企业-0002、企业-0003、企业-0004、企业-0005 等7家" in anon
    assert ids[6] not in anon


def test_anonymising_twice_changes_nothing(result):
    # pipeline.write_all anonymises the result and then asks the report to anonymise again.
    once = anonymise_result(result)
    twice = anonymise_result(once)
    pd.testing.assert_frame_equal(pd.DataFrame(twice.firms), pd.DataFrame(once.firms))
    pd.testing.assert_frame_equal(twice.panel, once.panel)
    assert build_report(once, anonymise=True) == build_report(result, anonymise=True)


# ---------------------------------------------------------------- data a county may lack


def test_firms_without_industry_codes_are_one_unknown_row(result):
    from dataclasses import replace

    firms = result.firms.assign(industry=pd.Series(pd.NA, index=result.firms.index, dtype="string[pyarrow]"))
    page = build_report(replace(result, firms=firms))
    rows = table_rows(page, "t-industry")
    assert [row[:3] for row in rows] == [["—", "行业未知", "5"]]
    en = build_report(replace(result, firms=firms.drop(columns="industry")), lang="en")
    assert [row[1] for row in table_rows(en, "t-industry")] == ["Industry unknown"]


def test_no_block_says_which_threshold_none_reached_and_empty_scenarios_say_so(result):
    from dataclasses import replace

    from gisefficiency.scenario.freed import Scenario, ScenarioResult

    empty = ScenarioResult(name="全部连片区块", summary=pd.Series({"n_parcels": 0.0, "freed_mu": 0.0, "freed_tce": 0.0,
                                                            "tax_lost": 0.0, "tax_expected": 0.0}),
                           by_street=pd.DataFrame(), by_disposal=pd.DataFrame(), parcels=pd.Index([]),
                           scenario=Scenario(top_blocks=0))
    none = replace(result, blocks=result.blocks.iloc[:0], scenarios=[empty],
                   meta={**result.meta, "blocks": {"gap_m": 30.0, "min_area_mu": 50.0}})
    page = build_report(none)
    assert "没有低效连片区块达到最小面积（50亩，相邻间距30米）：本次未划出连片区块。" in page
    assert 'id="t-blocks"' not in page
    assert table_rows(page, "t-scenarios") == [["全部连片区块（空：未选中任何地块）", "0.00", "0.00", "0.00", "0.00"]]
    cards = {k: v for v, k in re.findall(r'<div class="card"><div class="v">(.*?)</div><div class="k">(.*?)</div>', page)}
    assert cards["连片区块数"] == "0" and cards["区块面积(亩)"] == "0.00"  # none: 0, not missing
    odd = replace(none, meta={**result.meta, "blocks": {"gap_m": 25.5, "min_area_mu": 12.25}})
    assert "No contiguous low-efficiency block reached the minimum area (12.25 mu, neighbours within 25.5 m)" in \
        build_report(odd, lang="en")
    en = build_report(replace(none, meta=result.meta), lang="en")
    assert "No contiguous low-efficiency block reached the minimum area: this run found no block." in en
    assert "全部连片区块 (empty: nothing selected)" in en


def test_absent_input_columns_are_named(result):
    from dataclasses import replace

    absent = replace(result, meta={**result.meta, "absent_columns": {"firms": ["value_added", "cod_t"],
                                                                     "parcels": ["street"]}})
    assert ("输入数据缺少以下可选列，由其得出的指标为空（以“—”表示，不按0计）：企业表：工业增加值(万元)、化学需氧量；"
            "地块表：街道/乡镇。") in build_report(absent)
    assert "firm table: Value added (10k yuan), cod_t; parcels: Street/town." in build_report(absent, lang="en")
    assert "输入数据缺少" not in build_report(result)  # nothing absent, nothing said


def test_names_of_full_and_short_lists_by_hand():
    """Names in each row's order, unknown ids as themselves, the short list cut after ``limit`` names."""
    from gisefficiency.report.tables import names_of

    ids = pd.Series(["a,b", ["c", "x"], None, "a,b,c"], index=[10, 11, 12, 13])
    names = pd.Series({"a": "甲", "b": "乙", "c": "丙"})
    full, short = names_of(ids, names, limit=2, more="等{n}家")
    assert full.tolist()[:2] == ["甲、乙", "丙、x"] and pd.isna(full[12]) and full[13] == "甲、乙、丙"
    assert short[10] == "甲、乙" and pd.isna(short[12]) and short[13] == "甲、乙等3家"
    empty_full, empty_short = names_of(pd.Series([], dtype=object), names)
    assert empty_full.empty and empty_short.empty

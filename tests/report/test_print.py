"""The printed report: the demo's report printed by headless Chromium is a readable A4 document.

Issue 18: printed to A4 the report was 98 pages (the firm list alone 85, 淘汰关停类 stacked one character
per line) and the map printed as an empty frame. Now the firm list prints as a top list per category, the
full lists are in 清单.xlsx, and a static map image stands in for the interactive map.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from _png import png_of_data_uri
from _report_fixtures import make_result
from browser import needs_browser, open_page

from gisefficiency.report.build import build_report
from gisefficiency.report.tables import PAGE_ROWS

A4_CONTENT_PX = 703  # 210 mm minus the 12 mm margins, at 96 px per inch


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", data))


@pytest.mark.browser
@needs_browser
def test_demo_report_prints_to_at_most_25_a4_pages(demo_outputs):
    pdf = demo_outputs.get("report_pdf")
    assert pdf is not None, "report.pdf was not written although Chromium is installed"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = pdf_pages(data)
    assert 5 <= pages <= 25, pages
    boxes = {tuple(float(v) for v in m.split()) for m in re.findall(rb"/MediaBox \[([^\]]+)\]", data)}
    assert all(abs(b[2] - b[0] - 595.28) < 2 and abs(b[3] - b[1] - 841.89) < 2 for b in boxes)


@pytest.mark.browser
@needs_browser
def test_demo_print_layout_labels_on_one_line_and_static_map(demo_outputs):
    html = demo_outputs["report"].read_text(encoding="utf-8")
    px = png_of_data_uri(re.search(r'<svg class="map-image".*?</svg>', html, re.S).group(0))
    assert len({tuple(c) for c in px.reshape(-1, 4)}) >= 7  # 5 grades, no class, block outline, background
    with open_page(demo_outputs["report"], screenshot=False, viewport=(A4_CONTENT_PX, 1000)) as check:
        check.page.emulate_media(media="print")
        # Category, grade and street labels: every visible one sits on a single line.
        wrapped = check.evaluate("""() => Array.from(document.querySelectorAll('td.short'))
            .filter(td => td.offsetParent !== null && td.textContent.trim())
            .map(td => { const r = document.createRange(); r.selectNodeContents(td);
                         const tops = new Set(Array.from(r.getClientRects()).map(q => Math.round(q.top)));
                         return [td.textContent.trim(), tops.size]; })
            .filter(x => x[1] > 1)""")
        assert wrapped == []
        labels = check.evaluate("Array.from(document.querySelectorAll('#t-flagged-top tbody tr'))"
                                ".map(r => r.cells[0].textContent.trim())")
        assert "淘汰关停类" in labels
        widths = check.evaluate("""() => Array.from(document.querySelectorAll('#t-flagged-top tbody tr'))
            .map(r => r.cells[0].getBoundingClientRect().width)""")
        assert min(widths) >= 5 * 8  # five characters of 8 pt text side by side, not one
        assert check.evaluate("document.documentElement.scrollWidth") <= A4_CONTENT_PX
        # The interactive map and the full list are screen-only; the static map and top list print.
        assert check.evaluate("getComputedStyle(document.getElementById('map')).display") == "none"
        assert check.evaluate("document.querySelector('svg.map-image').getBoundingClientRect().height") > 300
        assert check.evaluate("document.getElementById('t-flagged').offsetParent") is None
        top = check.evaluate("document.querySelectorAll('#t-flagged-top tbody tr').length")
        categories = len(set(labels))
        assert top == len(labels) <= 20 * categories
        assert check.evaluate("document.querySelector('p.workbook a').getAttribute('href')") == "清单.xlsx"


def test_top_list_is_the_lowest_per_category():
    result = make_result()
    n = 30
    firms = result.firms.iloc[np.r_[[1] * n + [3] * n]].copy()  # 30 swap (F2) and 30 close (F4) firms
    firms.index = pd.Index([f"91330100{i:09d}Q" for i in range(2 * n)], name="uscc")
    firms["name"] = [f"企业{i:03d}" for i in range(2 * n)]
    firms["tax_per_mu"] = [float(i % n) for i in range(2 * n)][::-1]
    firms.iloc[0, firms.columns.get_loc("tax_per_mu")] = np.nan  # missing: listed after every figure
    from dataclasses import replace

    page = build_report(replace(result, firms=firms))
    body = re.search(r'<table id="t-flagged-top".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    assert len(rows) == 40
    assert [r[0] for r in rows] == ["淘汰关停"] * 20 + ["腾笼换鸟"] * 20  # close first, in policy order
    assert [r[1] for r in rows[:3]] == ["1", "2", "3"]
    # close firms are 30..59 with tax per mu 29 - (i - 30): the lowest 20 are 0.00 .. 19.00
    assert [r[7] for r in rows[:20]] == [f"{v:.2f}" for v in range(20)]
    # swap firms: 29 .. 0 with the first one missing: the lowest 20 are 0 .. 19, the missing one not listed
    assert [r[7] for r in rows[20:]] == [f"{v:.2f}" for v in range(20)]
    assert "各类企业数：淘汰关停 30 家、腾笼换鸟 30 家。" in page
    assert "全部 60 家企业" in page and '<a href="清单.xlsx">清单.xlsx</a>' in page


def test_long_lists_grow_sub_linearly():
    """A city's lists travel compressed: past the first page each firm adds a fraction of its HTML row."""
    from dataclasses import replace

    result = make_result()
    rng = np.random.default_rng(7)

    def report_bytes(n: int) -> tuple[int, str]:
        firms = result.firms.iloc[np.r_[[1] * n]].copy()
        firms.index = pd.Index([f"91330100{i:09d}Q" for i in range(n)], name="uscc")
        firms["name"] = [f"企业{i:05d}有限公司" for i in range(n)]
        values = rng.uniform(0, 3, (n, 2)).round(4)
        firms["tax_per_mu"] = values[:, 0]
        firms["reason_zh"] = [f"亩均税收连续两年低于3万元 (2020: {a:.4f}, 2021: {b:.4f} 万元/亩)" for a, b in values]
        page = build_report(replace(result, firms=firms))
        return len(page.encode("utf-8")), page

    small, _ = report_bytes(2_000)
    big, page = report_bytes(8_000)
    # Only the first page of rows is HTML.
    body = re.search(r'<table id="t-flagged".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    assert body.count("<tr>") == PAGE_ROWS
    html_row = len(body.encode("utf-8")) / PAGE_ROWS
    per_firm = (big - small) / 6_000
    assert html_row > 400
    assert per_firm < html_row / 4, (per_firm, html_row)
    # 30,000 flagged firms (a city of 100,000 parcels) then stay far below the 5 MB budget.
    assert small + per_firm * 28_000 < 5_000_000


def test_low_efficiency_without_a_category_is_not_called_no_disposal():
    from dataclasses import replace

    result = make_result()
    firms = result.firms.copy()
    firms.loc[firms.index[1], ["disposal", "disposal_zh", "disposal_en"]] = ""  # F2: low efficiency, no category
    page = build_report(replace(result, firms=firms))
    top = re.search(r'<table id="t-flagged-top".*?</table>', page, re.S).group(0)
    labels = re.findall(r"<tr><td[^>]*>(.*?)</td>", top)
    assert labels == ["淘汰关停", "低效（未分处置类别）"]
    assert "无需处置" not in top

"""The optional report sections are left out when the run has nothing for them."""

from __future__ import annotations

from _report_fixtures import make_result

from gisefficiency.report.build import build_report
from gisefficiency.report.sections import pricing_section, trend_section


def test_no_years_and_no_pricing_leave_the_sections_out():
    result = make_result()
    assert trend_section(result, "zh") is None
    assert pricing_section(result, "zh") is None
    html = build_report(result, lang="en")
    assert 'id="trends"' not in html and 'id="pricing"' not in html

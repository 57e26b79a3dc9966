"""Report: one self-contained HTML report of a run (figures, tables, inline SVG charts, the map, the policy).

Reads a ``Result`` (optionally anonymised). Returns the page as a string; ``io.output`` writes it.

Modules: ``build`` (``build_report``: jinja2 with autoescape, ``templates/``), ``tables`` (summary tables
computed with pandas and formatted for display), ``charts`` (inline SVG), ``labels`` (the report's zh/en
texts and the GB/T 4754-2017 manufacturing division names).
"""

from gisefficiency.report.build import build_report

__all__ = ["build_report"]

"""Metrics: per-mu indicators (亩均指标) per evaluated unit and year, and per parcel and year.

Reads the firm-year panel (``io.read_firms``) and the ``Links`` of the link stage (and the prepared parcels
for supply dates). Returns:

- ``unit_metrics(firms, links, ...)``: the panel, MultiIndex ``(eval_id, year)``: inputs summed over the
  unit's member firms (all missing stays missing), ``land_mu``, unit attributes and the metrics
  ``tax_per_mu, va_per_mu, revenue_per_mu`` (万元/亩), ``va_per_tce``, ``va_per_emission_t``,
  ``va_per_staff``, ``rd_share``, ``tax_per_elec``; a division by zero or by missing is NaN.
- ``parcel_metrics(parcels, firms, links, ...)``: index ``(parcel_id, year)``, firm figures apportioned by
  land share and summed per parcel, over the parcel's ``land_mu``.

The metric definitions (``METRICS``) are data that presets name in their conditions and scoring.
"""

from gisefficiency.metrics.indicators import (
    EMISSION_COLUMNS,
    METRICS,
    MetricDef,
    compute_metrics,
    emission_tonnes,
    parcel_metrics,
    unit_metrics,
)

__all__ = [
    "EMISSION_COLUMNS",
    "METRICS",
    "MetricDef",
    "compute_metrics",
    "emission_tonnes",
    "parcel_metrics",
    "unit_metrics",
]

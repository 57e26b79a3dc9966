"""Units and fixed numbers, each with its unit, in one place."""

from __future__ import annotations

#: One mu (亩) is exactly 10000/15 square metres.
M2_PER_MU: float = 10_000 / 15

#: Money in every document is counted in 万元 (10,000 yuan).
YUAN_PER_WAN: float = 10_000.0

#: Published precision of per-mu figures (万元/亩): thresholds compare after rounding to this.
PER_MU_DECIMALS: int = 4

#: Default CRS of the bundled sample: CGCS2000 / 3-degree Gauss-Kruger CM 120E.
SAMPLE_CRS: str = "EPSG:4549"

#: Geographic CGCS2000.
CGCS2000_GEOGRAPHIC: str = "EPSG:4490"

#: CGCS2000 3-degree Gauss-Kruger zones without zone prefix, by central meridian (degrees E).
CGCS2000_GK3_BY_CM: dict[int, int] = {
    75 + 3 * i: 4534 + i for i in range(21)
}
#: The same zones with the zone number prefixed to the easting (EPSG:4513 = zone 25 ... 4533 = zone 45).
CGCS2000_GK3_PREFIXED_BY_ZONE: dict[int, int] = {25 + i: 4513 + i for i in range(21)}

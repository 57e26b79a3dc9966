"""The sample county generator: a fictitious industrial county (示例县) for demos, tests and benchmarks.

``generate_county`` draws parcels, firms, land rows and a building-height raster, the same for
the same seed; ``write_sample`` writes them the way bureaus hand them over (Chinese headers, an
Excel title row, a GBK shapefile without ``.cpg``).
"""

from gisefficiency.sample._county import HeightRaster, SampleCounty, generate_county
from gisefficiency.sample._write import (
    FIRM_HEADERS,
    LAND_HEADERS,
    PARCEL_HEADERS,
    PARCEL_HEADERS_SHP,
    SAMPLE_FORMATS,
    write_sample,
)

__all__ = [
    "FIRM_HEADERS",
    "LAND_HEADERS",
    "PARCEL_HEADERS",
    "PARCEL_HEADERS_SHP",
    "SAMPLE_FORMATS",
    "HeightRaster",
    "SampleCounty",
    "generate_county",
    "write_sample",
]

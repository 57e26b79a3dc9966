"""The sample county generator: a fictitious industrial county (示例县) for demos, tests and benchmarks.

``generate_county`` draws parcels, firms, land rows and a building-height raster, the same for
the same seed; ``write_sample`` writes them the way bureaus hand them over (Chinese headers, an
Excel title row, a GBK shapefile without ``.cpg``).

The generated sample county itself ships inside the package (``DATA_DIR``, ``gisefficiency/sample/data/``:
parcels, firms, land rows, building heights and the demo config), so ``gisefficiency demo`` runs from any
folder. Regenerate it with ``gisefficiency sample --out gisefficiency/sample/data --force`` (keep
``demo.toml``).
"""

from pathlib import Path

from gisefficiency.sample._county import HeightRaster, SampleCounty, generate_county
from gisefficiency.sample._write import (
    FIRM_HEADERS,
    LAND_HEADERS,
    PARCEL_HEADERS,
    PARCEL_HEADERS_SHP,
    SAMPLE_FORMATS,
    write_sample,
)

#: The bundled sample county (示例县) and its ``demo.toml``, inside the installed package.
DATA_DIR: Path = Path(__file__).resolve().parent / "data"


def demo_config_path() -> Path:
    """The bundled sample county's run configuration (``gisefficiency/sample/data/demo.toml``).

    Examples
    --------
    >>> import gisefficiency as ge
    >>> res = ge.run(ge.load_config(demo_config_path()))  # doctest: +SKIP
    """
    return DATA_DIR / "demo.toml"


__all__ = [
    "DATA_DIR",
    "FIRM_HEADERS",
    "LAND_HEADERS",
    "PARCEL_HEADERS",
    "PARCEL_HEADERS_SHP",
    "SAMPLE_FORMATS",
    "HeightRaster",
    "SampleCounty",
    "demo_config_path",
    "generate_county",
    "write_sample",
]

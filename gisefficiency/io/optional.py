"""The contract's optional columns, present in every frame a run works on.

A bureau's table may lack any optional column of ``core/schema.py`` (a firm table without 工业增加值
or 综合能耗, parcels without 街道). An absent column means the same as a column of blanks: every value
is missing. :func:`with_optional_columns` adds each absent optional column, all missing, with the
dtype the reader gives that column, once, right after reading (``pipeline.run``); so every later stage
and output (tables, map, report, GeoPackage) sees one schema, and missing stays missing (NaN/NA),
never 0.

Not added: the ids (``uscc``, ``parcel_id``), ``year`` and ``tax`` (required, checked by the readers),
and the keys that only say how a firm is placed (``lon``, ``lat``, ``coord_sys``, ``holder_uscc``):
without them a link method does not apply, which ``link`` reports by itself.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from gisefficiency.core.schema import FIRM_COLUMNS, FLAG_FIRM_COLUMNS, NUMERIC_FIRM_COLUMNS, PARCEL_COLUMNS
from gisefficiency.io.columns import COLUMN_UNITS

Table = Literal["firms", "parcels"]

#: Columns never added: ids, required columns and link keys (see the module docstring).
NOT_ADDED: frozenset[str] = frozenset({"uscc", "parcel_id", "year", "tax", "lon", "lat", "coord_sys", "holder_uscc"})

_TEXT = pd.StringDtype("pyarrow")  # what the readers give text columns (NA as missing)
_MISSING = {"float64": np.nan, "datetime64[ns]": pd.NaT, "boolean": pd.NA, str(_TEXT): pd.NA}


def column_dtype(name: str) -> object:
    """The dtype the readers give canonical column ``name``.

    Flags are pandas ``boolean``, dates ``datetime64[ns]``, numbers (every column with a unit,
    ``io.columns.COLUMN_UNITS``) ``float64``, everything else Arrow-backed text.
    """
    if name in FLAG_FIRM_COLUMNS:
        return "boolean"
    if name.endswith("_date"):
        return "datetime64[ns]"
    if name in NUMERIC_FIRM_COLUMNS or name in COLUMN_UNITS:
        return "float64"
    return _TEXT


def optional_columns(table: Table) -> dict[str, object]:
    """The optional canonical columns of ``table`` that :func:`with_optional_columns` adds, with their dtypes.

    Parameters
    ----------
    table
        ``"firms"`` (``schema.FIRM_COLUMNS``) or ``"parcels"`` (``schema.PARCEL_COLUMNS``).
    """
    columns = {"firms": FIRM_COLUMNS, "parcels": PARCEL_COLUMNS}[table]
    return {name: column_dtype(name) for name in columns if name not in NOT_ADDED}


def missing_optional(frame: pd.DataFrame, table: Table) -> list[str]:
    """The optional canonical columns of ``table`` that ``frame`` lacks, in the schema's order."""
    return [name for name in optional_columns(table) if name not in frame.columns]


def with_optional_columns(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Return ``frame`` with every absent optional column of ``table`` added, all missing.

    Parameters
    ----------
    frame
        A frame as read (firm-year panel, or parcels with their geometry).
    table
        ``"firms"`` or ``"parcels"``.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        ``frame`` itself when nothing is absent, else a new frame of the same class (the input is not
        changed) whose added columns hold NaN/NA/NaT in the reader's dtype, after the existing columns
        (geometry stays where it is).
    """
    absent = missing_optional(frame, table)
    if not absent:
        return frame
    columns = optional_columns(table)
    # A scalar broadcast by pandas: no Python object per row.
    added = {name: pd.Series(_MISSING[str(columns[name])], index=frame.index, dtype=columns[name]) for name in absent}
    return frame.assign(**added)

"""Checks of link options and input frames, gathered so every problem is reported at once."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gisefficiency.errors import ConfigError, InputError, Problem, format_ids
from gisefficiency.schema import KIND_VALUES

#: Ways a firm can be tied to a parcel, in the default priority.
LINK_METHODS: tuple[str, ...] = ("table", "land", "holder", "point")

#: How tenants' land is counted (see ``link_firms``).
TENANT_MODES: tuple[str, ...] = ("merge_to_holder", "floor_share", "fixed_ratio", "separate_group")

#: Which years of the firm table give a firm's parcels.
TABLE_YEARS: tuple[str, ...] = ("latest", "all")



def check_options(
    *,
    methods: Sequence[str],
    tenant_mode: str,
    fixed_ratio_m2_per_mu: float,
    nearest_m: float | None,
    point_crs: str | None,
    table_years: str,
) -> tuple[str, ...]:
    """Validate the keyword options of ``link_firms`` and return ``methods`` as a tuple."""
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    if not methods:
        raise ConfigError(f"link methods is empty -> give at least one of {', '.join(LINK_METHODS)}")
    unknown = [m for m in methods if m not in LINK_METHODS]
    if unknown:
        raise ConfigError(
            f"unknown link method(s) {', '.join(map(repr, unknown))} -> use some of "
            f"{', '.join(LINK_METHODS)} (in priority order)"
        )
    dupes = sorted({m for m in methods if methods.count(m) > 1})
    if dupes:
        raise ConfigError(f"link method(s) {', '.join(map(repr, dupes))} listed twice -> list each method once")
    if tenant_mode not in TENANT_MODES:
        raise ConfigError(f"unknown tenant_mode {tenant_mode!r} -> use one of {', '.join(TENANT_MODES)}")
    if not _positive_finite(fixed_ratio_m2_per_mu):
        raise ConfigError(
            f"fixed_ratio_m2_per_mu must be a positive number of m2 of leased floor per mu, "
            f"got {fixed_ratio_m2_per_mu!r} -> e.g. 2000"
        )
    if nearest_m is not None and not (_finite(nearest_m) and nearest_m >= 0):
        raise ConfigError(
            f"nearest_m must be a distance in metres >= 0 (0 or None: no nearest-parcel search), "
            f"got {nearest_m!r}"
        )
    if point_crs is not None and canonical_coord_sys(point_crs) is None:
        raise ConfigError(f"unknown point_crs {point_crs!r} -> use wgs84, cgcs2000, gcj02 or bd09")
    if table_years not in TABLE_YEARS:
        raise ConfigError(f"unknown table_years {table_years!r} -> use one of {', '.join(TABLE_YEARS)}")
    return methods


def canonical_coord_sys(name: object) -> str | None:
    """Canonical name (wgs84, cgcs2000, gcj02, bd09) of a coordinate-system spelling, None if unknown."""
    from gisefficiency.crs import COORD_SYSTEMS

    return COORD_SYSTEMS.get(str(name).strip().lower())


def _finite(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool) and math.isfinite(value)


def _positive_finite(value: object) -> bool:
    return _finite(value) and value > 0  # type: ignore[operator]


def as_id(values: pd.Series) -> pd.Series:
    """Ids as pandas ``str`` (missing stays missing), trimmed; integral floats lose their ``.0``.

    One string dtype throughout: lookups between ``str`` and the other string dtypes are many times
    slower. Excel hands ids over as floats (101.0), hence the float branch.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        integral = values.notna() & (values == np.floor(values))
        out = values.astype(object)
        out[integral] = values[integral].astype("int64").astype(str)
        values = out
    text = values.astype("str").str.strip()
    return text.mask(text.eq(""))


def encode(keys: pd.Series, *others: pd.Series) -> tuple[pd.Index, list[np.ndarray]]:
    """Integer codes of ``keys`` and of ``others`` from one hash pass over all of them.

    Returns the distinct keys in order of first appearance (code i = position i) and one code array per
    input: codes below ``len(uniques)`` are keys; larger codes are values found only in ``others``
    (equal values share a code, so they still group); missing values are -1.
    """
    parts = [pd.Series(part, copy=False).reset_index(drop=True) for part in (keys, *others)]
    codes, uniques = pd.factorize(pd.concat(parts, ignore_index=True))
    n = int(codes[: len(parts[0])].max()) + 1 if len(parts[0]) else 0
    bounds = np.cumsum([0] + [len(part) for part in parts])
    return pd.Index(uniques[:n]), [codes[a:b] for a, b in itertools.pairwise(bounds)]


def known(codes: np.ndarray, n: int) -> np.ndarray:
    """Codes from ``encode`` with values that are not keys set to -1."""
    return np.where(codes < n, codes, -1)


def check_parcels(parcels: pd.DataFrame) -> None:
    """Raise ``InputError`` if ``parcels`` is not a prepared parcel layer."""
    problems: list[Problem] = []
    if not hasattr(parcels, "geometry"):
        raise InputError("parcels must be a GeoDataFrame (read it with gisefficiency.io.read_parcels)")
    if "land_mu" not in parcels.columns:
        problems.append(Problem(
            "column 'land_mu' is missing", fix="run gisefficiency.land.prepare_parcels on the parcels first",
            column="land_mu",
        ))
    dup = parcels.index[parcels.index.duplicated()].unique()
    if len(dup):
        problems.append(Problem(
            f"{len(dup)} parcel id(s) occur more than once: {format_ids(dup)}",
            fix="resolve duplicates with land.prepare_parcels(duplicates=...) or fix the ids",
            column="parcel_id",
        ))
    if parcels.index.hasnans:
        problems.append(Problem("parcel ids are empty in some rows", fix="give every parcel an id",
                                column="parcel_id"))
    if problems:
        raise InputError("parcels cannot be linked", problems)


def check_firms(firms: pd.DataFrame) -> None:
    """Raise ``InputError`` if the firm panel has no ``uscc`` column or empty codes."""
    if "uscc" not in firms.columns:
        raise InputError("the firm table has no 'uscc' column -> name the 统一社会信用代码 column (see schema.ALIASES)")
    empty = firms["uscc"].isna() | firms["uscc"].astype("string").str.strip().eq("")
    if empty.any():
        rows = firms.loc[empty, "src_row"] if "src_row" in firms.columns else firms.index[empty] + 1
        raise InputError(
            f"{int(empty.sum())} firm row(s) have no uscc",
            [Problem("uscc is empty", fix="fill in the 统一社会信用代码 or delete the row", row=int(r), column="uscc")
             for r in list(rows)[:20]],
        )


def check_land(land: pd.DataFrame) -> pd.DataFrame:
    """Validate land rows and return them with canonical ``kind`` and float ``floor_area_m2``."""
    missing = [c for c in ("uscc", "parcel_id", "kind") if c not in land.columns]
    if missing:
        raise InputError(
            f"land rows lack column(s) {', '.join(missing)} -> give uscc, parcel_id, kind (own/leased), "
            "floor_area_m2"
        )
    out = land.copy()
    rows = out["src_row"] if "src_row" in out.columns else pd.Series(np.arange(1, len(out) + 1), index=out.index)
    problems: list[Problem] = []
    raw_kind = out["kind"].astype("string").str.strip().str.lower()
    kind = raw_kind.map(KIND_VALUES)
    bad = kind.isna()
    problems += [
        Problem("kind is not own or leased", fix="write own (自有) or leased (租赁)", row=int(r), column="kind",
                value=v)
        for r, v in zip(rows[bad].head(20), out.loc[bad, "kind"].head(20), strict=True)
    ]
    out["kind"] = kind
    floor = pd.to_numeric(out["floor_area_m2"], errors="coerce") if "floor_area_m2" in out.columns else np.nan
    out["floor_area_m2"] = pd.Series(floor, index=out.index, dtype="float64")
    neg = out["floor_area_m2"] < 0
    problems += [
        Problem("floor area is negative", fix="give the floor area in m2 (>= 0)", row=int(r),
                column="floor_area_m2", value=float(v))
        for r, v in zip(rows[neg].head(20), out.loc[neg, "floor_area_m2"].head(20), strict=True)
    ]
    no_id = out["uscc"].isna() | out["parcel_id"].isna()
    problems += [
        Problem("uscc or parcel_id is empty", fix="fill in both ids or delete the row", row=int(r))
        for r in rows[no_id].head(20)
    ]
    n_bad = int(bad.sum() + neg.sum() + no_id.sum())
    if problems:
        raise InputError(f"{n_bad} land row problem(s)", problems)
    return out

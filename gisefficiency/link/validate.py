"""Checks of link options and input frames, gathered so every problem is reported at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.errors import ConfigError, InputError, Problem, format_ids, format_ids_zh
from gisefficiency.core.ids import arrow_ids, first_codes
from gisefficiency.core.schema import KIND_VALUES

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
        raise ConfigError(f"link methods is empty -> give at least one of {', '.join(LINK_METHODS)}",
                          zh=f"关联方法为空 → 请至少给出 {', '.join(LINK_METHODS)} 之一")
    unknown = [m for m in methods if m not in LINK_METHODS]
    if unknown:
        raise ConfigError(
            f"unknown link method(s) {', '.join(map(repr, unknown))} -> use some of "
            f"{', '.join(LINK_METHODS)} (in priority order)",
            zh=(f"未知的关联方法 {', '.join(map(repr, unknown))} → 请从 "
                f"{', '.join(LINK_METHODS)} 中选用（按优先顺序）")
        )
    dupes = sorted({m for m in methods if methods.count(m) > 1})
    if dupes:
        raise ConfigError(f"link method(s) {', '.join(map(repr, dupes))} listed twice -> list each method once",
                          zh=f"关联方法 {', '.join(map(repr, dupes))} 重复列出 → 每种方法只列一次")
    if tenant_mode not in TENANT_MODES:
        raise ConfigError(f"unknown tenant_mode {tenant_mode!r} -> use one of {', '.join(TENANT_MODES)}",
                          zh=f"未知的 tenant_mode {tenant_mode!r} → 请使用 {', '.join(TENANT_MODES)} 之一")
    if not _positive_finite(fixed_ratio_m2_per_mu):
        raise ConfigError(
            f"fixed_ratio_m2_per_mu must be a positive number of m2 of leased floor per mu, "
            f"got {fixed_ratio_m2_per_mu!r} -> e.g. 2000",
            zh=(f"fixed_ratio_m2_per_mu 必须是正数（每亩对应的租赁建筑面积，平方米），"
                f"当前为 {fixed_ratio_m2_per_mu!r} → 例如 2000")
        )
    if nearest_m is not None and not (_finite(nearest_m) and nearest_m >= 0):
        raise ConfigError(
            f"nearest_m must be a distance in metres >= 0 (0 or None: no nearest-parcel search), "
            f"got {nearest_m!r}",
            zh=(f"nearest_m 必须是 >= 0 的距离（米）（0 或 None：不查找最近地块），"
                f"当前为 {nearest_m!r}")
        )
    if point_crs is not None and canonical_coord_sys(point_crs) is None:
        raise ConfigError(f"unknown point_crs {point_crs!r} -> set point_crs under [link] to wgs84, cgcs2000, "
                          "gcj02 or bd09",
                          zh=f"未知的 point_crs {point_crs!r} → 请把 [link] 下的 point_crs 设为 wgs84、cgcs2000、gcj02 或 bd09")
    if table_years not in TABLE_YEARS:
        raise ConfigError(f"unknown table_years {table_years!r} -> use one of {', '.join(TABLE_YEARS)}",
                          zh=f"未知的 table_years {table_years!r} → 请使用 {', '.join(TABLE_YEARS)} 之一")
    return methods


def canonical_coord_sys(name: object) -> str | None:
    """Canonical name (wgs84, cgcs2000, gcj02, bd09) of a coordinate-system spelling, None if unknown."""
    from gisefficiency.core.crs import COORD_SYSTEMS

    return COORD_SYSTEMS.get(str(name).strip().lower())


def _finite(value: object) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool) and math.isfinite(value)


def _positive_finite(value: object) -> bool:
    return _finite(value) and value > 0  # type: ignore[operator]


def as_id(values: pd.Series | pd.Index) -> pa.Array:
    """Ids as one pyarrow ``large_string`` array, trimmed, empty text missing; integral floats lose ``.0``.

    The same values as pandas ``values.astype("str").str.strip()`` with "" masked (pandas trims Arrow
    text with ``utf8_trim_whitespace`` too), but text columns go to Arrow without Python objects.
    """
    return _clean(_text(values))


def id_runs(values: pd.Series) -> tuple[pa.Array, np.ndarray]:
    """``as_id`` of the first id of each run of equal neighbours, and the run lengths.

    A firm-year panel lists a firm's years together, so its ids are cleaned and hashed once per run
    (a quarter of the rows) and the codes repeated back with ``numpy.repeat``.
    """
    heads, lengths, _ = _id_runs(values, check=False)
    return heads, lengths


def _id_runs(values: pd.Series, *, check: bool = True) -> tuple[pa.Array, np.ndarray, bool]:
    """``id_runs`` and whether cleaning left every id as it was (text ids, none trimmed or blank).

    ``check=False`` skips that comparison (one pass over the ids) and answers False.
    """
    text = _text(values, whole=False)
    start = np.ones(len(text), dtype=bool)
    if len(text) > 1:
        after, before = text[1:], text[:-1]
        # Missing neighbours are one run too (a panel leaves a firm's parcel id empty in all its years).
        same = pc.or_kleene(pc.equal(after, before), pc.and_(pc.is_null(after), pc.is_null(before)))
        start[1:] = ~pc.fill_null(same, False).to_numpy(zero_copy_only=False)
    at = np.flatnonzero(start)
    heads = text.filter(pa.array(start))
    heads = heads.combine_chunks() if isinstance(heads, pa.ChunkedArray) else heads
    clean = _clean(heads)
    return clean, np.diff(np.r_[at, len(text)]), check and _untouched(values.dtype, heads, clean)


def _untouched(dtype: Any, raw: Any, clean: pa.Array) -> bool:
    """Whether cleaning left the text ids as written: a text column, none blank, none trimmed."""
    return (isinstance(dtype, pd.StringDtype) and not clean.null_count
            and (not len(clean) or bool(pc.all(pc.equal(raw, clean)).as_py())))


def _text(values: pd.Series | pd.Index, *, whole: bool = True) -> pa.Array | pa.ChunkedArray:
    """Ids as Arrow ``large_string`` (not trimmed); ``whole=False`` keeps the chunks of a column."""
    if not isinstance(values.dtype, pd.StringDtype):
        if pd.api.types.is_float_dtype(values.dtype):  # Excel hands ids over as floats (101.0)
            integral = values.notna() & (values == np.floor(values))
            out = values.astype(object)
            out[integral] = values[integral].astype("int64").astype(str)
            values = out
        values = values.astype("str")
    if whole:
        return arrow_ids(values)
    arr = pa.array(values.array, from_pandas=True)
    return arr if arr.type == pa.large_string() else arr.cast(pa.large_string())


def _clean(text: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)


def encode(*parts: pa.Array | tuple[pa.Array, np.ndarray]) -> tuple[pa.Array, int, list[np.ndarray]]:
    """Integer codes of ids from one hash pass over several arrays (an array, or ``id_runs`` output).

    Codes follow first appearance (as ``pandas.factorize``): codes below the returned count are ids
    of the first array; larger codes are ids found only in later ones (equal ids share a code, so
    they still group); missing ids are -1.

    Returns
    -------
    pyarrow.Array, int, list of numpy.ndarray
        The distinct ids in code order, how many of them occur in the first array, one code array per
        input (per row, runs expanded).
    """
    heads = [part[0] if isinstance(part, tuple) else part for part in parts]
    dictionary, raw = first_codes(heads)
    codes = [np.repeat(own, part[1]) if isinstance(part, tuple) else own
             for part, own in zip(parts, raw, strict=True)]
    n = int(codes[0].max()) + 1 if len(codes[0]) else 0
    return dictionary, n, codes


def known(codes: np.ndarray, n: int) -> np.ndarray:
    """Codes from ``encode`` with values that are not keys set to -1."""
    return np.where(codes < n, codes, -1)


def check_parcels(parcels: pd.DataFrame) -> pa.Array:
    """Raise ``InputError`` if ``parcels`` is not a prepared parcel layer; else its ids as ``as_id`` gives them."""
    problems: list[Problem] = []
    if not hasattr(parcels, "geometry"):
        raise InputError("parcels must be a GeoDataFrame (read it with gisefficiency.io.read_parcels)",
                         zh="地块必须是 GeoDataFrame（请用 gisefficiency.io.read_parcels 读取）")
    if "land_mu" not in parcels.columns:
        problems.append(Problem(
            "column 'land_mu' is missing", fix="run gisefficiency.land.prepare_parcels on the parcels first",
            column="land_mu",
            message_zh="缺少列 'land_mu'",
            fix_zh="请先对地块运行 gisefficiency.land.prepare_parcels",
        ))
    # Ids are matched trimmed (``as_id``), so "P1" and "P1 " are one id and "" is none: check them so.
    # ``is_unique`` is cached on the layer's index (the other stages ask too); the trimmed ids are only
    # looked at when the raw ones are unique.
    index = parcels.index
    dup: Any = index[index.duplicated()].unique() if not index.is_unique else []
    trimmed = None
    if not len(dup) and len(index):
        text = _text(index)
        trimmed = _clean(text)
        # Unique text ids that trimming left alone stay unique: no need to hash them again.
        n_valid = len(trimmed) - trimmed.null_count
        if not _untouched(index.dtype, text, trimmed) and \
                pc.count_distinct(trimmed, mode="only_valid").as_py() < n_valid:
            clean = pd.Series(trimmed.to_pandas(), dtype="string")
            dup = pd.Index(clean[clean.duplicated() & clean.notna()].unique())
    if len(dup):
        problems.append(Problem(
            f"{len(dup)} parcel id(s) occur more than once: {format_ids(dup)}",
            fix="resolve duplicates with land.prepare_parcels(duplicates=...) or fix the ids "
                "(spaces around an id do not make it another id)",
            column="parcel_id",
            message_zh=f"{len(dup)} 个地块编号重复出现：{format_ids_zh(dup)}",
            fix_zh="请用 land.prepare_parcels(duplicates=...) 处理重复，或改正编号（编号前后的空格不会使它成为另一个编号）",
        ))
    if index.hasnans or (trimmed is not None and trimmed.null_count):
        problems.append(Problem("parcel ids are empty in some rows", fix="give every parcel an id",
                                column="parcel_id",
                                message_zh="部分行的地块编号为空",
                                fix_zh="请为每个地块填写编号"))
    if problems:
        raise InputError("parcels cannot be linked", problems,
                         zh="地块无法关联")
    return _clean(_text(index)) if trimmed is None else trimmed


def check_firms(firms: pd.DataFrame, *, file: str | None = None) -> tuple[tuple[pa.Array, np.ndarray], bool]:
    """Raise ``InputError`` if the firm panel has no ``uscc`` column or empty codes.

    Returns the ``id_runs`` of ``uscc`` and whether cleaning left every USCC as written (then link's
    firm codes match the text ids exactly). ``file`` (the firm table's) is named in messages.
    """
    where = f"{file}: " if file else ""
    if "uscc" not in firms.columns:
        raise InputError(f"{where}the firm table has no 'uscc' column -> name the 统一社会信用代码 column, or map "
                         "yours in [firms.aliases]",
                         zh=(f"{where}企业表没有 'uscc' 列 → 请为统一社会信用代码列命名，或在 [firms.aliases] 中"
                             "映射您的表头"))
    *runs, unchanged = _id_runs(firms["uscc"])
    if runs[0].null_count:  # an id that is missing or blank: find the rows the slow way, for the message
        empty = firms["uscc"].isna() | firms["uscc"].astype("string").str.strip().eq("")
        rows = firms.loc[empty, "src_row"] if "src_row" in firms.columns else firms.index[empty] + 1
        raise InputError(
            f"{where}{int(empty.sum())} firm row(s) have no uscc",
            [Problem("uscc is empty", fix="fill in the 统一社会信用代码 or delete the row", file=file, row=int(r),
                     column="uscc",
                     message_zh="uscc 为空",
                     fix_zh="请填写统一社会信用代码，或删除该行") for r in list(rows)[:20]],
            zh=f"{where}{int(empty.sum())} 行企业没有统一社会信用代码",
        )
    return (runs[0], runs[1]), unchanged


def check_land(land: pd.DataFrame, *, file: str | None = None) -> pd.DataFrame:
    """Validate land rows and return them with canonical ``kind`` and float ``floor_area_m2``.

    ``file`` (the land rows') is named in messages.
    """
    where = f"{file}: " if file else ""
    missing = [c for c in ("uscc", "parcel_id", "kind") if c not in land.columns]
    if missing:
        raise InputError(
            f"{where}land rows lack column(s) {', '.join(missing)} -> give uscc, parcel_id, kind (own/leased), "
            "floor_area_m2",
            zh=(f"{where}用地表缺少列 {', '.join(missing)} → 请给出 uscc、parcel_id、kind（自有/租赁）、"
                "floor_area_m2")
        )
    out = land.copy()
    rows = out["src_row"] if "src_row" in out.columns else pd.Series(np.arange(1, len(out) + 1), index=out.index)
    problems: list[Problem] = []
    raw_kind = out["kind"].astype("string").str.strip().str.lower()
    # KIND_VALUES looked up in Arrow (a dict ``map`` would make a Python string of every row).
    spellings = pa.array(list(KIND_VALUES), pa.large_string())
    at = pc.index_in(arrow_ids(raw_kind), value_set=spellings)
    kind = pd.Series(pd.array(pa.array(list(KIND_VALUES.values()), pa.large_string()).take(at), dtype="str"),
                     index=out.index)
    bad = kind.isna()
    problems += [
        Problem("kind is not own or leased", fix="write own (自有) or leased (租赁)", file=file, row=int(r),
                column="kind", value=v,
                message_zh="用地类型既不是自有也不是租赁",
                fix_zh="请填写 own（自有）或 leased（租赁）")
        for r, v in zip(rows[bad].head(20), out.loc[bad, "kind"].head(20), strict=True)
    ]
    out["kind"] = kind
    floor = pd.to_numeric(out["floor_area_m2"], errors="coerce") if "floor_area_m2" in out.columns else np.nan
    out["floor_area_m2"] = pd.Series(floor, index=out.index, dtype="float64")
    neg = out["floor_area_m2"] < 0
    problems += [
        Problem("floor area is negative", fix="give the floor area in m2 (>= 0)", file=file, row=int(r),
                column="floor_area_m2", value=float(v),
                message_zh="建筑面积为负",
                fix_zh="请以平方米填写建筑面积（>= 0）")
        for r, v in zip(rows[neg].head(20), out.loc[neg, "floor_area_m2"].head(20), strict=True)
    ]
    no_id = out["uscc"].isna() | out["parcel_id"].isna()
    problems += [
        Problem("uscc or parcel_id is empty", fix="fill in both ids or delete the row", file=file, row=int(r),
                message_zh="uscc 或 parcel_id 为空",
                fix_zh="请填写两个编号，或删除该行")
        for r in rows[no_id].head(20)
    ]
    n_bad = int(bad.sum() + neg.sum() + no_id.sum())
    if problems:
        raise InputError(f"{where}{n_bad} land row problem(s)", problems,
                         zh=f"{where}用地表中有 {n_bad} 行有问题")
    return out


def loose_ids(ids: pa.Array) -> pa.Array:
    """Ids with what Excel and typing change set aside, to find ids written two ways for one parcel.

    Full-width characters as their ASCII forms (NFKC), every space dropped (full-width ones too), a
    number's trailing ".0" dropped ("101.0" -> "101", as Excel saves a number column as text), leading
    zeros dropped ("001" -> "1", as Excel reads "001" as the number 1) and letters upper-case. Only
    used to word a hint: ids are linked as written (``as_id``). Each step runs only when some id needs
    it (a pass over a million ids costs 0.05-0.4 s).
    """
    text = ids
    if not _all(pc.string_is_ascii(text)):
        text = pc.utf8_normalize(text, form="NFKC")
    # NFKC wrote every Unicode space as " "; tabs and line breaks are the other spaces typed in a cell.
    for space in (" ", "\t", "\n", "\r"):
        if _any(pc.match_substring(text, space)):
            text = pc.replace_substring(text, pattern=space, replacement="")
    dotted = pc.fill_null(pc.match_substring(text, "."), False)
    if _any(dotted):
        trimmed = pc.replace_substring_regex(text, pattern=r"^(\d+)\.0*$", replacement=r"\1")
        text = pc.if_else(dotted, trimmed, text)
    zeros = pc.fill_null(pc.starts_with(text, "0"), False)
    if _any(zeros):
        no_zeros = pc.utf8_ltrim(text, characters="0")
        no_zeros = pc.if_else(pc.equal(no_zeros, ""), pa.scalar("0", text.type), no_zeros)  # "000" is 0
        text = pc.if_else(zeros, no_zeros, text)
    return pc.utf8_upper(text)


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(mask).as_py())


def _all(mask: pa.Array) -> bool:
    return mask.null_count == len(mask) or bool(pc.all(mask).as_py())


def near_matches(ids: pa.Array, n_known: int) -> np.ndarray:
    """For the ids from ``encode`` that are not keys (codes ``n_known`` on), the key they match loosely.

    Returns one code per unknown id (position ``code - n_known``): the first key whose ``loose_ids`` is
    the same, or -1. Costs nothing when every id is a key.
    """
    n_unknown = len(ids) - n_known
    out = np.full(max(n_unknown, 0), -1, dtype=np.int64)
    if n_unknown <= 0 or n_known == 0:
        return out
    unknown = loose_ids(ids.slice(n_known))
    # The keys are probed against the (few) unknown ids, not the other way round: hashing a million
    # keys would cost more than the probe.
    slot = pc.fill_null(pc.index_in(loose_ids(ids.slice(0, n_known)), value_set=unknown), -1)
    slot = slot.to_numpy(zero_copy_only=False)
    keys = np.flatnonzero(slot >= 0)
    # Equal unknown ids share the first slot index_in returns: spread the match to every one of them.
    first = pc.index_in(unknown, value_set=unknown).to_numpy(zero_copy_only=False)
    found = np.full(n_unknown, -1, dtype=np.int64)
    found[slot[keys][::-1]] = keys[::-1]  # reversed: the first key of each slot is written last and wins
    has = ~pc.is_null(unknown).to_numpy(zero_copy_only=False)
    out[has] = found[first[has]]
    return out

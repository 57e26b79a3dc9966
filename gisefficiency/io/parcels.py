"""Read a parcel layer (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet) into the parcels frame.

The result follows ``docs/contract.md``: index ``parcel_id`` (str), canonical column names, extra
columns kept, ``src_row`` (1-based row in the source) and a projected CRS in metres.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from gisefficiency.core.crs import distorts_area, gk3_zone_crs, guess_crs, guess_epsg, is_metric_projected
from gisefficiency.core.errors import CRSError, InputError, Problem, Severity, format_ids, format_ids_zh
from gisefficiency.io.columns import (
    alias_lookup,
    area_unit_factors,
    dedupe,
    find_unit,
    match_header,
    normalise_header,
    unit_field,
)
from gisefficiency.io.values import as_code, as_text, parse_dates, parse_numbers

log = logging.getLogger(__name__)

#: File suffixes read, and what they are.
PARCEL_FORMATS: dict[str, str] = {
    ".gpkg": "GeoPackage", ".shp": "Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
    ".fgb": "FlatGeobuf", ".parquet": "GeoParquet", ".geoparquet": "GeoParquet",
}
ENGINES: tuple[str, ...] = ("pyogrio", "fiona")
#: Layer names taken without asking when a file has several layers and exactly one of these.
PARCEL_LAYER_NAMES: frozenset[str] = frozenset({"parcels", "parcel", "宗地", "地块", "宗地图", "zd", "dk"})

_NUMERIC = ("cert_area_m2", "floor_area_m2", "building_height_m")
_DATES = ("supply_date",)
_CODES = ("holder_uscc",)


def read_parcels(
    path: str | Path | gpd.GeoDataFrame,
    *,
    layer: str | None = None,
    id_column: str = "parcel_id",
    crs: str | None = None,
    encoding: str | None = None,
    engine: Literal["pyogrio", "fiona"] = "pyogrio",
    aliases: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read parcels, map their columns to canonical names and make sure the CRS is in metres.

    Parameters
    ----------
    path
        A .gpkg, .shp, .geojson/.json, .fgb or .parquet file, or a GeoDataFrame already in memory
        (read as :func:`parcels_from_frame` reads it; ``layer``, ``encoding`` and ``engine`` do not apply).
    layer
        Layer to read from a multi-layer file (GeoPackage); required when it has several, unless
        exactly one of them is named like ``PARCEL_LAYER_NAMES`` (parcels, 宗地, 地块).
    id_column
        Header of the parcel id column (an alias such as 宗地号 works for the default ``parcel_id``).
    crs
        CRS to assume (e.g. ``"EPSG:4549"``), overriding the file's; required when the file has none.
    encoding
        Text encoding of a Shapefile's .dbf. Default: the .cpg file, else UTF-8 if the text is valid
        UTF-8, else GB18030 (a superset of GBK).
    engine
        ``"pyogrio"`` (default, Arrow where possible) or ``"fiona"``.
    aliases
        Extra header -> canonical column name mappings (``[parcels.aliases]``).

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``parcel_id`` (str); canonical columns found, other columns kept; ``src_row``;
        projected CRS in metres (lon/lat is projected to its CGCS2000 3° Gauss-Krüger zone).

    Raises
    ------
    InputError
        Missing file, unknown format, ambiguous layer, missing id column or ids, unreadable values.
    CRSError
        No CRS and none given, or coordinates that contradict the CRS.
    """
    if isinstance(path, pd.DataFrame):
        return parcels_from_frame(path, id_column=id_column, crs=crs, aliases=aliases)
    path = Path(path)
    if engine not in ENGINES:
        raise InputError(f"{path}: unknown engine {engine!r} -> set engine under [parcels] to one of "
                         f"{', '.join(ENGINES)}",
                         zh=f"{path}：未知的读取引擎 {engine!r} → 请把 [parcels] 下的 engine 设为 {', '.join(ENGINES)} 之一")
    if not path.exists():
        raise InputError(f"{path}: parcel file not found -> check [parcels] path in the config",
                         zh=f"{path}：找不到地块文件 → 请检查配置文件中的 [parcels] path")
    suffix = path.suffix.lower()
    if suffix not in PARCEL_FORMATS:
        raise InputError(
            f"{path}: unknown parcel format {suffix!r} -> use one of {', '.join(sorted(PARCEL_FORMATS))}",
            zh=f"{path}：无法识别的地块文件格式 {suffix!r} → 请使用 {', '.join(sorted(PARCEL_FORMATS))} 之一"
        )
    frame, cut, misread = _read(path, suffix, layer=layer, encoding=encoding, engine=engine)
    return _from_read(frame.reset_index(drop=True), str(path), id_column=id_column, crs=crs, aliases=aliases,
                      cut=cut, misread=misread)


def parcels_from_frame(
    frame: gpd.GeoDataFrame,
    *,
    source: str = "parcels (GeoDataFrame)",
    id_column: str = "parcel_id",
    crs: str | None = None,
    aliases: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Take a parcel layer already in memory (a notebook's frame, a database table) as :func:`read_parcels` takes a file.

    The same column matching, value parsing, id checks and CRS checks run as after a file is read,
    with the same messages; ``source`` stands where a message would name the file.

    Parameters
    ----------
    frame
        Parcel polygons with their attributes; not modified. A named index (e.g. ``地块编号``) is
        taken as a column. ``src_row`` is the 1-based row position.
    source
        What messages call the data, e.g. ``"postgresql://gis@db/land table public.zd"``.
    id_column, crs, aliases
        As in :func:`read_parcels`.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`read_parcels` returns.

    Raises
    ------
    InputError
        Not a GeoDataFrame, no geometry column, missing id column or ids, unreadable values.
    CRSError
        No CRS and none given, or coordinates that contradict the CRS.
    """
    if not isinstance(frame, gpd.GeoDataFrame) or frame._geometry_column_name not in frame:
        kind = type(frame).__name__
        raise InputError(
            f"{source}: parcels must be a GeoDataFrame with a geometry column, not a {kind} "
            f"-> pass geopandas.GeoDataFrame(frame, geometry=..., crs=...)",
            zh=(f"{source}：地块必须是带几何列的 GeoDataFrame，而不是 {kind} "
                "→ 请传入 geopandas.GeoDataFrame(frame, geometry=..., crs=...)")
        )
    # A named index holds data (often the parcel id); an unnamed one is only positions.
    named = any(name is not None for name in frame.index.names)
    frame = frame.reset_index(drop=not named)
    return _from_read(frame, source, id_column=id_column, crs=crs, aliases=aliases)


def _from_read(frame: gpd.GeoDataFrame, source: str, *, id_column: str, crs: str | None,
               aliases: Mapping[str, str] | None, cut: list[str] | None = None,
               misread: list[Problem] | None = None) -> gpd.GeoDataFrame:
    """Everything after the read, for files and frames alike (``frame`` has a fresh RangeIndex)."""
    frame["src_row"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    frame = _canonical_columns(frame, source, id_column=id_column, aliases=aliases, cut=cut, misread=misread)
    return _set_crs(frame, source, crs=crs)


def _read(path: Path, suffix: str, *, layer: str | None, encoding: str | None,
          engine: str) -> tuple[gpd.GeoDataFrame, list[str], list[Problem]]:
    """The layer as read, the Shapefile field names the format cut (as read, see ``cut_field_names``)
    and warnings for field names that are UTF-8 but were read in another encoding (the config's or
    the .cpg's), which makes them mojibake."""
    if PARCEL_FORMATS[suffix] == "GeoParquet":
        try:
            # Dates stay in Arrow: pandas would build a Python date object per parcel and parse them as text.
            return gpd.read_parquet(path, to_pandas_kwargs={"types_mapper": _arrow_date}), [], []
        except Exception as exc:
            raise InputError(f"{path}: cannot read GeoParquet ({exc}) -> check the file",
                             zh=f"{path}：无法读取 GeoParquet（{exc}）→ 请检查该文件") from exc
    if suffix != ".shp":
        return _read_ogr(path, _choose_layer(path, layer, engine), encoding, engine), [], []
    if encoding is None:
        encoding = shapefile_encoding(path)
    misread = _misread_names(path, encoding)
    cut = cut_field_names(path, encoding)
    if not cut:
        return _read_ogr(path, _choose_layer(path, layer, engine), encoding, engine), [], misread
    # GDAL cannot decode a name whose last character was cut in half: read a copy whose .dbf header
    # holds the names without the broken bytes (the other files are linked, not copied).
    with tempfile.TemporaryDirectory(prefix="gisefficiency-") as tmp:
        copy = _mended_copy(path, Path(tmp), cut)
        return _read_ogr(copy, _choose_layer(copy, layer, engine), encoding, engine, shown=path), [
            name for _, _, name in cut], misread


def _read_ogr(path: Path, layer: str | None, encoding: str | None, engine: str, *,
              shown: Path | None = None) -> gpd.GeoDataFrame:
    """Read an OGR layer; ``shown`` is the file named in messages when ``path`` is a mended copy."""
    kwargs: dict[str, object] = {}
    if layer is not None:
        kwargs["layer"] = layer
    if encoding is not None:
        kwargs["encoding"] = encoding
    try:
        if engine == "fiona":
            return gpd.read_file(path, engine="fiona", **kwargs)
        import pyogrio

        try:
            frame = pyogrio.read_dataframe(path, use_arrow=True, arrow_to_pandas_kwargs=_ARROW_TO_PANDAS, **kwargs)
            return _binary_as_objects(frame)
        except (pyogrio.errors.DataSourceError, UnicodeDecodeError) as exc:
            # Arrow refuses some non-UTF-8 sources; the row reader decodes them itself.
            log.debug("arrow read of %s failed (%s); reading without arrow", path, exc)
            return pyogrio.read_dataframe(path, use_arrow=False, **kwargs)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{shown or path}: cannot read the parcel layer ({exc}) -> check the file in QGIS",
                         zh=f"{shown or path}：无法读取地块图层（{exc}）→ 请在 QGIS 中检查该文件") from exc


def _arrow_binary(dtype: pa.DataType) -> pd.ArrowDtype | None:
    """Keep Arrow binary columns in Arrow when converting to pandas (see ``_ARROW_TO_PANDAS``)."""
    return pd.ArrowDtype(dtype) if dtype in (pa.binary(), pa.large_binary()) else None


def _arrow_date(dtype: pa.DataType) -> pd.ArrowDtype | None:
    """Keep Arrow date columns in Arrow when converting to pandas (``parse_dates`` reads them directly)."""
    return pd.ArrowDtype(dtype) if pa.types.is_date(dtype) else None


def _dates_as_objects(frame: gpd.GeoDataFrame) -> None:
    """Arrow date columns left unparsed (extra columns) as Python dates, as a plain read gives them."""
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_date(dtype.pyarrow_dtype):
            frame[name] = pd.Series(frame[name].to_numpy(dtype=object, na_value=None), index=frame.index,
                                    dtype=object)


#: The WKB geometry column stays in Arrow on its way to ``shapely.from_wkb``: pandas would otherwise
#: build and inspect a million ``bytes`` objects first.
_ARROW_TO_PANDAS: dict[str, object] = {"types_mapper": _arrow_binary}


def _binary_as_objects(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Binary attribute fields (rare) back to Python ``bytes``, as a plain read gives them."""
    for name in frame.columns:
        dtype = frame[name].dtype
        binary = isinstance(dtype, pd.ArrowDtype) and (
            pa.types.is_binary(dtype.pyarrow_dtype) or pa.types.is_large_binary(dtype.pyarrow_dtype)
        )
        if binary and name != frame.geometry.name:
            frame[name] = pd.Series(frame[name].to_numpy(dtype=object, na_value=None), index=frame.index,
                                    dtype=object)
    return frame


def _list_layers(path: Path, engine: str) -> list[str]:
    if engine == "fiona":
        import fiona

        return list(fiona.listlayers(path))
    import pyogrio

    return [str(name) for name, _ in pyogrio.list_layers(path)]


def _choose_layer(path: Path, layer: str | None, engine: str) -> str | None:
    try:
        layers = _list_layers(path, engine)
    except Exception as exc:
        raise InputError(f"{path}: cannot open the parcel file ({exc}) -> check the file in QGIS",
                         zh=f"{path}：无法打开地块文件（{exc}）→ 请在 QGIS 中检查该文件") from exc
    if layer is not None:
        if layer not in layers:
            raise InputError(
                f"{path}: no layer {layer!r}; layers are {', '.join(map(repr, layers))} "
                f"-> set layer = \"...\" under [parcels] to one of them",
                zh=(f"{path}：没有图层 {layer!r}；现有图层：{', '.join(map(repr, layers))} "
                    "→ 请把 [parcels] 下的 layer 设为其中之一")
            )
        return layer
    named = [name for name in layers if normalise_header(name) in PARCEL_LAYER_NAMES]
    if len(layers) > 1 and len(named) == 1:
        log.info("%s: reading layer %r of %s", path, named[0], ", ".join(layers))
        return named[0]
    if len(layers) > 1:
        raise InputError(
            f"{path}: {len(layers)} layers ({', '.join(map(repr, layers))}), which one holds the parcels? "
            f"-> set layer = \"{layers[0]}\" (or another) under [parcels]",
            zh=(f"{path}：有 {len(layers)} 个图层（{', '.join(map(repr, layers))}），地块在哪一个？"
                f"→ 请在 [parcels] 下设置 layer = \"{layers[0]}\"（或其他图层）")
        )
    return None


def shapefile_encoding(path: str | Path) -> str | None:
    """Encoding to read a Shapefile's attributes with when the caller gave none.

    None when a .cpg file exists (the driver honours it); otherwise ``"utf-8"`` if the .dbf's field
    names and text fields decode as UTF-8, else ``"gb18030"`` (Chinese files without a .cpg are
    usually GBK, and GB18030 is its superset).
    """
    path = Path(path)
    if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = next((path.with_suffix(s) for s in (".dbf", ".DBF") if path.with_suffix(s).exists()), None)
    if dbf is None:
        return None
    return "utf-8" if _dbf_text_is_utf8(dbf.read_bytes()) else "gb18030"


#: dBase field names hold at most this many bytes: 3 Chinese characters in UTF-8, 5 in GBK.
DBF_NAME_BYTES = 10


def _dbf_header(path: Path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(32)
        return head + f.read(max(int.from_bytes(head[8:10], "little") - 32, 0)) if len(head) == 32 else head


def _dbf_names(header: bytes) -> list[tuple[int, bytes]]:
    """(offset of the name in the header, the name's bytes) of every field of a dBase header."""
    header_len = int.from_bytes(header[8:10], "little") if len(header) >= 32 else 0
    out = []
    for start in range(32, min(header_len, len(header)) - 1, 32):
        if header[start] == 0x0D:
            break
        out.append((start, header[start:start + 11].split(b"\x00", 1)[0]))
    return out


def _codec(encoding: str | None) -> str:
    """The Python codec of a .cpg or configured encoding ("UTF-8", "936", "GBK" ...); UTF-8 if unknown."""
    name = (encoding or "utf-8").strip().lower()
    name = {"936": "gb18030", "cp936": "gb18030", "gbk": "gb18030", "gb2312": "gb18030", "65001": "utf-8",
            "utf8": "utf-8"}.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def _dbf_codec(path: Path, encoding: str | None) -> tuple[Path | None, str, str | None]:
    """The Shapefile's .dbf (None if missing), the Python codec its text is read with and that
    encoding's name as given (``encoding``, else the .cpg's text, else None: UTF-8)."""
    dbf = next((path.with_suffix(s) for s in (".dbf", ".DBF") if path.with_suffix(s).exists()), None)
    if encoding is None:
        cpg = next((path.with_suffix(s) for s in (".cpg", ".CPG") if path.with_suffix(s).exists()), None)
        encoding = cpg.read_text(encoding="ascii", errors="ignore").strip() if cpg is not None else None
    return dbf, _codec(encoding), encoding


def _cut_name(raw: bytes, codec: str) -> bytes | None:
    """The bytes of the whole characters of a field name cut inside its last one, or None when it is whole."""
    try:
        raw.decode(codec)
        return None
    except UnicodeDecodeError:
        pass
    if len(raw) < DBF_NAME_BYTES - 1:
        return None  # not a cut: the name is simply in another encoding
    for drop in (1, 2, 3):
        try:
            raw[:-drop].decode(codec)
            return raw[:-drop]
        except UnicodeDecodeError:
            continue
    return None


def cut_field_names(path: str | Path, encoding: str | None = None) -> list[tuple[int, bytes, str]]:
    """Field names of a Shapefile cut inside a multi-byte character by the 10-byte limit of dBase.

    GDAL writes "地块编号" (12 bytes in UTF-8) as its first 10 bytes: "地块编" and one byte of "号",
    which no reader decodes. Parameters: the .shp path and the encoding it is read with (None: the
    .cpg, else UTF-8). Returns (offset in the .dbf header, the bytes of the whole characters, the
    readable part "地块编") per cut name.
    """
    dbf, codec, _ = _dbf_codec(Path(path), encoding)
    if dbf is None:
        return []
    out = []
    for offset, raw in _dbf_names(_dbf_header(dbf)):
        kept = _cut_name(raw, codec)
        if kept is not None:
            out.append((offset, kept, kept.decode(codec)))
    return out


def _misread_names(path: Path, encoding: str | None) -> list[Problem]:
    """Warnings for Shapefile field names that are UTF-8 but are read in another encoding (as mojibake)."""
    dbf, codec, encoding = _dbf_codec(path, encoding)
    if dbf is None or codec == "utf-8":
        return []
    names = [raw for _, raw in _dbf_names(_dbf_header(dbf)) if not raw.isascii()]
    as_utf8 = [(_cut_name(raw, "utf-8") or raw) for raw in names]
    try:
        text = [whole.decode("utf-8") for whole in as_utf8]
    except UnicodeDecodeError:
        return []  # not UTF-8 names: the encoding may well be right
    return [Problem(f"field name {raw.decode(codec, errors='replace')!r} is UTF-8 {name!r} read as {encoding}",
                    fix='set encoding = "utf-8" under [parcels] (or remove a wrong .cpg file)', file=str(path),
                    column=raw.decode(codec, errors="replace"), severity="warning",
                    message_zh=f"字段名 {raw.decode(codec, errors='replace')!r} 是 UTF-8 编码的 {name!r}，却按 {encoding} 读取",
                    fix_zh="请在 [parcels] 下设置 encoding = \"utf-8\"（或删去错误的 .cpg 文件）")
            for raw, name in zip(names, text, strict=True)]


def _mended_copy(path: Path, folder: Path, cut: list[tuple[int, bytes, str]]) -> Path:
    """A copy of the Shapefile in ``folder`` whose .dbf names are cut back to whole characters."""
    stem = folder / path.stem
    for part in path.parent.iterdir():
        if part.stem != path.stem:  # 宗地.shp.xml or 宗地.old.dbf are not parts of 宗地.shp
            continue
        target = stem.with_suffix(part.suffix)
        if part.suffix.lower() == ".dbf":
            shutil.copyfile(part, target)
            with open(target, "r+b") as f:
                for offset, kept, _ in cut:
                    f.seek(offset)
                    f.write(kept + b"\x00" * (11 - len(kept)))
        else:
            target.symlink_to(part.resolve())
    return stem.with_suffix(path.suffix)


def _dbf_text_is_utf8(data: bytes) -> bool:
    """Whether every field name and character field of a dBase file is valid UTF-8."""
    if len(data) < 32:
        return True
    n_records = int.from_bytes(data[4:8], "little")
    header_len = int.from_bytes(data[8:10], "little")
    record_len = int.from_bytes(data[10:12], "little")
    names, char_fields, offset = [], [], 1  # byte 0 of a record is the deletion flag
    for start in range(32, header_len - 1, 32):
        if data[start] == 0x0D:
            break
        desc = data[start:start + 32]
        names.append(desc[:11].split(b"\x00", 1)[0])
        length = desc[16]
        if desc[11:12] == b"C":
            length += desc[17] * 256  # character fields may use the decimal byte as length high byte
            char_fields.append((offset, length))
        offset += length
    try:
        # A name cut inside its last character by the 10-byte limit is still UTF-8 (``cut_field_names``).
        b"".join(_cut_name(name, "utf-8") or name for name in names).decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not char_fields or record_len == 0 or n_records == 0:
        return True
    body = data[header_len:header_len + n_records * record_len]
    n = len(body) // record_len
    records = np.frombuffer(body[: n * record_len], dtype=np.uint8).reshape(n, record_len)
    for start, length in char_fields:
        column = records[:, start:start + length]
        if not (column >= 0x80).any():
            continue
        # Decode field by field (a multi-byte character never spans two fields), NUL-padded.
        text = np.ascontiguousarray(np.concatenate([column, np.zeros((n, 1), np.uint8)], axis=1)).tobytes()
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def _canonical_columns(
    frame: gpd.GeoDataFrame, path: str | Path, *, id_column: str, aliases: Mapping[str, str] | None,
    cut: list[str] | None = None, misread: list[Problem] | None = None,
) -> gpd.GeoDataFrame:
    geometry = frame.geometry.name
    headers = [c for c in frame.columns if c not in (geometry, "src_row")]
    lookup = alias_lookup(aliases)
    id_header = _find_id_header(headers, id_column, lookup)
    # Cut names: those whose bytes were cut (``cut_field_names``), and those another program already
    # wrote with the broken character shown as "?" or U+FFFD after a Chinese one ("地块编?").
    cut = [*(cut or []), *(h for h in map(str, headers) if _MOJIBAKE_TAIL.search(h))]
    if str(path).lower().endswith(".shp"):
        # An English name cut at a whole character ("cert_area_m2" -> "cert_area_") decodes fine, so only
        # its length and an alias it begins tell that it was cut; without this it would be dropped unsaid.
        cut += [h for h in map(str, headers) if len(h.encode("utf-8")) == DBF_NAME_BYTES
                and match_header(h, lookup) is None and _cut_alias(h, lookup)]
    unmatched_cut = [name for name in dict.fromkeys(cut) if name != id_header and match_header(name, lookup) is None]
    if id_header is None:
        # No id: the layer is unusable, and what explains it is an error (validate must not pass it).
        misread = [dataclasses.replace(p, severity="error") for p in misread or []]
        problems = misread or _cut_problems(unmatched_cut, path, lookup, severity="error")
        raise InputError(
            f"{path}: no parcel id column {id_column!r}; columns found: {', '.join(map(str, headers))} "
            + ("-> the field names are UTF-8 read in another encoding: set encoding = \"utf-8\" under [parcels]"
               if misread else
               "-> the Shapefile format cut the field names below to 10 bytes: set id or [parcels.aliases] "
               "to the cut names, or export the layer as GeoPackage" if problems else
               "-> set id = \"<column>\" under [parcels] to the column holding 宗地号/不动产单元号"),
            problems,
            zh=(f"{path}：没有地块编号列 {id_column!r}；现有列：{', '.join(map(str, headers))} "
                + ("→ 字段名是 UTF-8 编码却按其他编码读取：请在 [parcels] 下设置 encoding = \"utf-8\""
                if misread else
                "→ Shapefile 格式把下列字段名截短到 10 字节：请把 id 或 [parcels.aliases] 设为截短后的名字，"
                "或把图层导出为 GeoPackage" if problems else
                "→ 请在 [parcels] 下把 id 设为存放宗地号/不动产单元号的列：id = \"<列名>\"")),
        )
    for problem in [*(misread or []), *_cut_problems(unmatched_cut, path, lookup)]:
        log.warning("%s", problem,
                    extra={"zh": problem.text("zh")})
    rename: dict[str, str] = {id_header: "parcel_id"}
    targets: dict[str, list[str]] = {}
    for header in headers:
        if header == id_header:
            continue
        name = match_header(header, lookup)
        if name is not None and name != "parcel_id" and name != header:
            targets.setdefault(name, []).append(header)
            rename[header] = name
    clashes = {name: hs for name, hs in targets.items() if len(hs) > 1 or name in headers}
    if clashes:
        raise InputError(
            f"{path}: several columns mean the same thing",
            [Problem(f"columns {', '.join(map(repr, hs + ([name] if name in headers else [])))} "
                     f"all map to {name!r}",
                     fix=f"rename one, or map it to another name in [parcels.aliases], e.g. "
                         f"\"{hs[-1]}\" = \"{name}_2\"", file=str(path), column=hs[0],
                     message_zh=f"列 {', '.join(map(repr, hs + ([name] if name in headers else [])))} 都对应到 {name!r}",
                     fix_zh=(f"请改名其中一列，或在 [parcels.aliases] 中把它映射到另一个名字，例如 "
                         f"\"{hs[-1]}\" = \"{name}_2\""))
             for name, hs in clashes.items()],
            zh=f"{path}：有几列含义相同",
        )
    out = frame.rename(columns=rename)
    out.columns = dedupe(map(str, out.columns))
    problems = _parse_columns(out, path, original={v: k for k, v in rename.items()})
    _dates_as_objects(out)
    if problems:
        raise InputError(f"{path}: {len(problems)} unreadable parcel value(s)", problems,
                         zh=f"{path}：{len(problems)} 个地块数值无法读取")
    missing_id = out["parcel_id"].isna()
    if missing_id.any():
        rows = out.loc[missing_id, "src_row"].tolist()
        raise InputError(
            f"{path}: {len(rows)} parcel(s) without an id in column {id_header!r}, rows {format_ids(rows)} "
            f"-> fill in the parcel ids (or drop those features)",
            zh=(f"{path}：{len(rows)} 个地块在列 {id_header!r} 中没有编号，第 {format_ids_zh(rows)} 行 "
                "→ 请填写地块编号（或删去这些要素）")
        )
    return out.set_index("parcel_id")


#: A Chinese character followed by what readers show for a broken one: "?" or U+FFFD.
_MOJIBAKE_TAIL = re.compile(r"([\u3400-\u9fff])[?\ufffd]+$")


def _cut_alias(name: str, lookup: Mapping[str, str]) -> bool:
    """Whether some known header begins with ``name`` (as normalised), so ``name`` may be one cut short."""
    key = normalise_header(name)
    return len(key) >= 2 and any(k.startswith(key) and k != key for k in lookup)


def _cut_problems(names: list[str], path: Path, lookup: Mapping[str, str], *,
                  severity: Severity = "warning") -> list[Problem]:
    """One problem per field name the Shapefile format cut, with what it probably meant and the fix."""
    out = []
    for name in names:
        key = normalise_header(_MOJIBAKE_TAIL.sub(lambda m: m.group(1), name))
        meant = sorted({lookup[k] for k in lookup if len(key) >= 2 and k.startswith(key) and k != key})
        # Lookup keys are normalised ("certaream2"): only Chinese ones read as the header a user wrote.
        full = sorted(k for k in lookup if len(key) >= 2 and k.startswith(key) and k != key and not k.isascii())[:3]
        guess = (f" (probably {' or '.join(full)}: {', '.join(meant)})" if full else
                 f" (probably {', '.join(meant)})" if meant else "")
        guess_zh = (f"（可能是 {' 或 '.join(full)}：{', '.join(meant)}）" if full else
                    f"（可能是 {', '.join(meant)}）" if meant else "")
        target = meant[0] if len(meant) == 1 else "<column>"
        fix = ("set id = \"" + name + "\" under [parcels]" if target == "parcel_id" else
               f"add \"{name}\" = \"{target}\" under [parcels.aliases]")
        fix_zh = ("请在 [parcels] 下设置 id = \"" + name + "\"" if target == "parcel_id" else
                  f"请在 [parcels.aliases] 下加上 \"{name}\" = \"{target}\"")
        out.append(Problem(
            f"field name cut to {DBF_NAME_BYTES} bytes by the Shapefile format{guess}; not used",
            fix=f"{fix}, or export the layer as GeoPackage (QGIS: Export > Save Features As), which keeps "
                "whole names", file=str(path), column=name, severity=severity,
            message_zh=f"字段名被 Shapefile 格式截短到 {DBF_NAME_BYTES} 字节{guess_zh}；未使用",
            fix_zh=f"{fix_zh}，或把图层导出为 GeoPackage（QGIS：导出 > 要素另存为），可保留完整字段名"))
    return out


def _find_id_header(headers: list[str], id_column: str, lookup: Mapping[str, str]) -> str | None:
    if id_column in headers:
        return id_column
    key = normalise_header(id_column)
    folded = [h for h in headers if normalise_header(h) == key]
    if folded:
        return folded[0]
    target = lookup.get(key, id_column)
    if target == "parcel_id":
        return next((h for h in headers if match_header(h, lookup) == "parcel_id"), None)
    return None


def _parse_columns(frame: gpd.GeoDataFrame, path: str | Path, *, original: Mapping[str, str]) -> list[Problem]:
    """Parse canonical columns in place (on the caller's own copy); return the unreadable cells."""
    problems: list[Problem] = []
    frame["parcel_id"] = _id_text(frame["parcel_id"])
    for name in _CODES:
        if name in frame:
            frame[name] = as_code(frame[name])
    for name in ("land_use", "street"):
        if name in frame:
            frame[name] = as_text(frame[name])
    parsers = [(n, parse_numbers) for n in _NUMERIC] + [(n, parse_dates) for n in _DATES]
    for name, parser in parsers:
        if name not in frame:
            continue
        header = original.get(name, name)
        raw = frame[name]
        values, bad = parser(raw)
        if name in _NUMERIC:
            factor, unknown = find_unit(name, header)
            if unknown is not None:
                log.warning("%s: unit %r in header %r not recognised; values kept as %s", path, unknown,
                            header, name,
                            extra={"zh": f"{path}：表头 {header!r} 中的单位 {unknown!r} 无法识别；数值按 {name} 原样保留"})
            values = values * factor
        if name == "cert_area_m2":
            values = _in_area_units(frame, values, path)
        frame[name] = values
        kind = "a number" if name in _NUMERIC else "a date such as 2019-05-01"
        kind_zh = "数字" if name in _NUMERIC else "日期（如 2019-05-01）"
        problems.extend(
            Problem(f"not {kind}", fix=f"correct the value in column {header!r}", file=str(path),
                    row=int(row), column=header, value=value,
                    message_zh=f"不是{kind_zh}",
                    fix_zh=f"请改正列 {header!r} 中的值")
            for row, value in zip(frame.loc[bad, "src_row"], raw[bad], strict=True)
        )
    return problems


def _in_area_units(frame: gpd.GeoDataFrame, area: pd.Series, path: str | Path) -> pd.Series:
    """ZDMJ in the unit the row's MJDW (面积单位) field names (1 平方米, 2 亩, 3 公顷), as square metres.

    Unknown units are taken as m2 with a warning naming the rows (as the firm-table reader does).
    """
    header = unit_field(frame.columns)
    if header is None:
        return area
    factor, unknown = area_unit_factors(frame[header])
    if unknown.any():
        rows = frame.loc[unknown, "src_row"].astype(int).tolist()
        units = sorted(set(map(str, frame.loc[unknown, header])))
        log.warning("%s: area unit(s) %s in column %r not understood; those areas are taken as m2: rows %s "
                    "-> write 1 (平方米), 2 (亩) or 3 (公顷)", path, ", ".join(units), header,
                    format_ids(rows, limit=10),
                    extra={"zh": (f"{path}：列 {header!r} 中的面积单位 {', '.join(units)} 无法识别；这些面积按平方米处理："
                        f"第 {format_ids_zh(rows, limit=10)} 行 → 请填写 1（平方米）、2（亩）或 3（公顷）")})
    return area * factor


def _id_text(values: pd.Series) -> pd.Series:
    """``as_text`` of the id column (which skips its per-id work when Arrow shows it would change nothing)."""
    return as_text(values)


def _set_crs(frame: gpd.GeoDataFrame, path: str | Path, *, crs: str | None) -> gpd.GeoDataFrame:
    bounds = _bounds(frame)
    if crs is not None:
        try:
            given = CRS.from_user_input(crs)
        except ProjCRSError as exc:
            raise CRSError(
                f"{path}: cannot understand crs {crs!r} ({exc}) -> write it as \"EPSG:4549\"",
                zh=f"{path}：无法识别坐标系 crs {crs!r}（{exc}）→ 请写成 \"EPSG:4549\""
            ) from exc
        if frame.crs is not None and not given.equals(frame.crs):
            log.warning("%s: file CRS %s replaced by the configured %s", path, frame.crs.to_string(), crs,
                        extra={"zh": f"{path}：文件的坐标系 {frame.crs.to_string()} 已替换为配置的 {crs}"})
        frame = frame.set_crs(given, allow_override=True)
    if frame.crs is None:
        guess = guess_epsg(bounds) or "EPSG:4549"
        raise CRSError(
            f"{path}: the layer has no CRS; its coordinates: {guess_crs(bounds)} "
            f"-> set crs = \"{guess}\" under [parcels] in the config (or add a .prj / define the CRS in QGIS)",
            zh=(f"{path}：图层没有坐标系；其坐标：{guess_crs(bounds)} "
                f"→ 请在配置文件的 [parcels] 下设置 crs = \"{guess}\"（或补上 .prj 文件 / 在 QGIS 中定义坐标系）")
        )
    _check_coordinates(frame.crs, bounds, path)
    if is_metric_projected(frame.crs) and not distorts_area(frame.crs):
        return frame
    try:
        target = gk3_zone_crs(_median_lon(frame))
    except CRSError as exc:
        raise CRSError(f"{path}: {exc}",
                       zh=f"{path}：{exc.text('zh')}") from exc
    log.info("%s: projecting from %s to %s for areas in metres", path, frame.crs.name, target.name)
    return frame.to_crs(target)


def _bounds(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Extent of the non-empty geometries (NaN when there are none)."""
    if not len(frame):
        return np.full(4, np.nan)
    return shapely.total_bounds(frame.geometry.to_numpy())  # skips None and empty geometries


def _median_lon(frame: gpd.GeoDataFrame) -> float:
    geoms = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        raise CRSError("the layer has no geometries -> check the parcel file",
                       zh="图层中没有几何数据 → 请检查地块文件")
    b = shapely.bounds(geoms[present])
    x, y = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    if frame.crs.is_geographic:
        return float(np.median(x))
    lonlat = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=frame.crs).to_crs("EPSG:4490")
    return float(np.median(lonlat.x))


def _check_coordinates(crs: CRS, bounds: np.ndarray, path: str | Path) -> None:
    """Catch a CRS that contradicts the coordinates (a wrong .prj is common)."""
    if not np.all(np.isfinite(bounds)):
        return
    minx, miny, maxx, maxy = bounds
    degrees = -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    if crs.is_geographic and not degrees:
        raise CRSError(
            f"{path}: the file says {crs.name} (degrees) but its coordinates {guess_crs(bounds)} "
            f"-> set crs = \"{guess_epsg(bounds) or 'EPSG:4549'}\" under [parcels]",
            zh=(f"{path}：文件声明为 {crs.name}（度），但其坐标 {guess_crs(bounds)} "
                f"→ 请在 [parcels] 下设置 crs = \"{guess_epsg(bounds) or 'EPSG:4549'}\"")
        )
    if crs.is_projected and degrees and max(abs(maxx - minx), abs(maxy - miny)) < 10:
        raise CRSError(
            f"{path}: the file says {crs.name} (metres) but its coordinates {guess_crs(bounds)} "
            f"-> set crs = \"EPSG:4490\" (or \"EPSG:4326\") under [parcels]",
            zh=(f"{path}：文件声明为 {crs.name}（米），但其坐标 {guess_crs(bounds)} "
                "→ 请在 [parcels] 下设置 crs = \"EPSG:4490\"（或 \"EPSG:4326\"）")
        )

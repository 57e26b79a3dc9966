"""PostgreSQL/PostGIS in and out: parcels, firm tables and land rows read from a table or a query, and a
run's layers written to a schema, replaced atomically.

A source is a URL (``postgresql://user@host:5432/dbname``; the password in ``PGPASSWORD`` or
``~/.pgpass`` rather than in the config) plus a table (``schema.table``, quoted as written) or a
query. What is read is a frame that then goes through the same column matching, value parsing, unit
and CRS checks as a file (``io.parcels.parcels_from_frame``, ``io.tables.read_firms``), so a database
column called 地块编号 or 实缴税金（元） is understood as it would be in an Excel sheet.

Writing (``[output] database``) puts the tables ``parcels``, ``firms``, ``blocks`` and
``flagged_firms`` into ``schema``: each is first written to a staging schema of its own, then one
transaction drops the previous tables and moves the new ones in, so a reader (QGIS, a dashboard) sees
either the whole previous run or the whole new one, never a half-written mix, and a failure while
writing leaves the previous tables as they were.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisefficiency.config import _DATABASE_URL, is_database_url
from gisefficiency.core.errors import ConfigError, InputError

if TYPE_CHECKING:
    import psycopg
    import sqlalchemy

    from gisefficiency.result import Result

log = logging.getLogger(__name__)

__all__ = ["OUTPUT_TABLES", "database_ready", "describe", "is_database_url", "masked", "output_frames",
           "quote_table", "read_frame", "write_results", "write_tables"]

#: The tables ``write_results`` puts in the output schema, in writing order.
OUTPUT_TABLES: tuple[str, ...] = ("parcels", "firms", "blocks", "flagged_firms")

_SCHEME = _DATABASE_URL
_NUMERIC_OID = 1700  # PostgreSQL numeric: psycopg gives Decimal, which the parsers take as text


def masked(url: str) -> str:
    """The URL as messages show it: a password in it is replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def describe(url: str, *, table: str | None = None, query: str | None = None) -> str:
    """What messages call a database source, e.g. ``postgresql://gis@db/land table public.zd``."""
    if table is not None:
        return f"{masked(url)} table {table}"
    if query is not None:
        short = " ".join(query.split())
        return f"{masked(url)} query \"{short[:60]}{'...' if len(short) > 60 else ''}\""
    return masked(url)


def _libpq_url(url: str) -> str:
    """The URL libpq understands: without SQLAlchemy's ``+driver`` part."""
    return _SCHEME.sub("postgresql://", url, count=1)


def _sqlalchemy_url(url: str) -> str:
    """The URL SQLAlchemy opens with psycopg 3 (plain ``postgresql://`` would ask for psycopg2)."""
    return _SCHEME.sub("postgresql+psycopg://", url, count=1)


def quote_table(name: str) -> str:
    """``schema.table`` or ``table`` as a quoted SQL name, each part kept exactly as written.

    Names are quoted so that Chinese or mixed-case names (``"土地"."宗地"``) work; a dot inside a
    name can be written inside double quotes (``"my.schema".parcels``).
    """
    parts = re.findall(r'"((?:[^"]|"")+)"|([^."]+)', name.strip())
    names = [quoted.replace('""', '"') if quoted else plain.strip() for quoted, plain in parts]
    if not 1 <= len(names) <= 2 or not all(names):
        raise ConfigError(f"table = {name!r}: not a table name -> write it as \"schema.table\" or \"table\"",
                          zh=f"table = {name!r}：不是表名 → 请写成 \"schema.table\" 或 \"table\"")
    return ".".join(_ident(n) for n in names)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _connect(url: str, what: str) -> Iterator[psycopg.Connection[Any]]:
    import psycopg

    try:
        conn = psycopg.connect(_libpq_url(url), connect_timeout=15)
    except psycopg.Error as exc:
        raise InputError(
            f"{what}: cannot connect to the database ({_first_line(exc)}) -> check host, port, database "
            "and user in the URL; give the password in PGPASSWORD or ~/.pgpass",
            zh=(f"{what}：无法连接数据库（{_first_line(exc)}）→ 请检查地址中的主机、端口、数据库名和用户名；"
                "密码放在 PGPASSWORD 或 ~/.pgpass 中")
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_frame(
    url: str,
    *,
    table: str | None = None,
    query: str | None = None,
    geometry: bool = False,
) -> pd.DataFrame:
    """Read a table or a query's rows as they are stored, for the readers to interpret.

    Parameters
    ----------
    url
        ``postgresql://user@host:5432/dbname``.
    table, query
        Exactly one: a table (``schema.table``) or a SELECT statement.
    geometry
        Return a GeoDataFrame: the first PostGIS geometry column (``geom`` or ``geometry`` preferred)
        becomes its geometry, with the CRS of its SRID.

    Returns
    -------
    pandas.DataFrame or geopandas.GeoDataFrame
        Columns as the database names them; numbers, booleans, dates and text as stored (numeric
        as float), NULL as missing.

    Raises
    ------
    InputError
        No connection, an unknown table, a failing query, or no geometry column when one is needed.
    """
    if (table is None) == (query is None):
        raise ConfigError("give a table or a query to read from the database, not both or neither",
                          zh="从数据库读取时，table 与 query 必须且只能给一个")
    what = describe(url, table=table, query=query)
    sql = f"SELECT * FROM {quote_table(table)}" if table is not None else query
    import psycopg

    with _connect(url, what) as conn:
        try:
            with conn.cursor() as cur:
                cur.execute(sql)  # no parameters: a % in the query is taken as written
                if cur.description is None:
                    raise InputError(f"{what}: the statement returns no rows -> give a SELECT query",
                                     zh=f"{what}：该语句不返回任何行 → 请给出 SELECT 查询")
                names = [c.name for c in cur.description]
                oids = [c.type_code for c in cur.description]
                rows = cur.fetchall()
                cur.execute("SELECT oid FROM pg_type WHERE typname IN ('geometry', 'geography')")
                spatial = {r[0] for r in cur.fetchall()}
        except psycopg.errors.UndefinedTable:
            raise InputError(
                f"{what}: no such table -> check the schema and table name (written as stored, "
                "e.g. \"public.parcels\"; names are case-sensitive here)",
                zh=(f"{what}：没有这张表 → 请检查模式名和表名（按存储的写法，"
                    "例如 \"public.parcels\"；此处区分大小写）")
            ) from None
        except psycopg.Error as exc:
            raise InputError(f"{what}: the database refused the query ({_first_line(exc)}) "
                             "-> run it in psql or pgAdmin to correct it",
                             zh=(f"{what}：数据库拒绝了该查询（{_first_line(exc)}）"
                                 "→ 请在 psql 或 pgAdmin 中运行并改正")) from None
    frame = pd.DataFrame.from_records(rows, columns=range(len(names)), nrows=len(rows))
    if len(set(names)) < len(names):
        raise InputError(f"{what}: several columns are named alike ({', '.join(names)}) "
                         "-> give each column its own name (AS ...) in the query",
                         zh=(f"{what}：多列同名（{', '.join(names)}）"
                             "→ 请在查询中为每列取不同的名字（AS ...）"))
    frame.columns = names
    for name, oid in zip(names, oids, strict=True):
        if oid == _NUMERIC_OID:
            frame[name] = pd.to_numeric(frame[name].astype(object), errors="coerce").astype(float)
    geoms = [name for name, oid in zip(names, oids, strict=True) if oid in spatial]
    if not geometry:
        return frame.drop(columns=geoms)
    if not geoms:
        raise InputError(f"{what}: no PostGIS geometry column among {', '.join(names)} "
                         "-> select the parcel polygons' geometry column too",
                         zh=(f"{what}：{', '.join(names)} 中没有 PostGIS 几何列 "
                             "→ 请同时选出地块多边形的几何列"))
    name = next((g for g in geoms if g.lower() in ("geom", "geometry", "the_geom", "shape")), geoms[0])
    return _geo_frame(frame, name, what)


def _geo_frame(frame: pd.DataFrame, name: str, what: str) -> gpd.GeoDataFrame:
    """Hex EWKB (as PostgreSQL prints geometry) to shapely, with the CRS of the SRID."""
    hexes = frame[name].to_numpy(dtype=object)
    geoms = shapely.from_wkb(hexes)  # None stays None
    srids = np.unique(shapely.get_srid(geoms[~shapely.is_missing(geoms)]))
    srids = srids[srids != 0]
    if len(srids) > 1:
        raise InputError(f"{what}: geometries in several SRIDs ({', '.join(map(str, srids))}) "
                         "-> transform them to one (ST_Transform) in the query",
                         zh=(f"{what}：几何数据使用了多个 SRID（{', '.join(map(str, srids))}）"
                             "→ 请在查询中统一转换（ST_Transform）"))
    crs = f"EPSG:{int(srids[0])}" if len(srids) else None
    frame = frame.drop(columns=[name])
    # No SRID (0): no CRS, so the parcel reader asks for [parcels] crs as it does for a file without one.
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=crs)


# --- writing ---------------------------------------------------------------------------------


def output_frames(result: Result) -> dict[str, pd.DataFrame]:
    """The four tables ``write_results`` writes, with their ids as columns.

    ``flagged_firms`` is the firm list of the report's section 低效及需处置企业名单: the firms that are
    low-efficiency or have a disposal, without geometry.
    """
    from gisefficiency.result.summary import flagged_firms

    firms = result.with_reasons(result.firms, lang="both")  # the reasons in both languages, written now
    return {"parcels": result.with_reasons(result.parcels, lang="both"), "firms": firms, "blocks": result.blocks,
            "flagged_firms": flagged_firms(firms)}


def database_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose columns map onto PostgreSQL types: the index becomes a column (the primary key).

    Booleans (also nullable ones and object columns holding only True/False/missing) stay booleans,
    text stays text (``""`` and NULL kept apart), lists become text arrays, numbers keep their
    width, datetimes become ``timestamp``. Other objects become their text.
    """
    out = frame.reset_index()
    geometry = out.geometry.name if isinstance(out, gpd.GeoDataFrame) else None
    for col in out.columns:
        if col == geometry:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(object).where(s.notna(), None)
        elif s.dtype == object:
            kind = pd.api.types.infer_dtype(s, skipna=True)  # one pass in C, not a Python loop per row
            if kind == "boolean":
                out[col] = s.astype("boolean")
            elif kind == "mixed" and isinstance(_first_value(s), list | tuple | np.ndarray):
                out[col] = s.map(lambda v: [str(x) for x in v] if isinstance(v, list | tuple | np.ndarray) else None)
    return out


def _first_value(s: pd.Series) -> Any:
    """The first non-missing value of an object column (its kind stands for the column's), or None."""
    known = s.first_valid_index()
    return None if known is None else s.at[known]


def _sql_types(frame: pd.DataFrame) -> dict[str, Any]:
    """SQLAlchemy types pandas would not infer: list columns as ``text[]``, the geometry column."""
    from sqlalchemy import Text
    from sqlalchemy.dialects.postgresql import ARRAY

    types: dict[str, Any] = {}
    for col in frame.columns:
        s = frame[col]
        if s.dtype == object and isinstance(_first_value(s), list):
            types[col] = ARRAY(Text)
    if isinstance(frame, gpd.GeoDataFrame):
        from geoalchemy2 import Geometry

        kinds = set(shapely.get_type_id(frame.geometry.array[~frame.geometry.isna()]).tolist())
        kind = _TYPE_NAMES.get(kinds.pop(), "GEOMETRY") if len(kinds) == 1 else "GEOMETRY"
        types[frame.geometry.name] = Geometry(geometry_type=kind, srid=_srid(frame))
    return types


_TYPE_NAMES = {0: "POINT", 1: "LINESTRING", 3: "POLYGON", 4: "MULTIPOINT", 5: "MULTILINESTRING",
               6: "MULTIPOLYGON", 7: "GEOMETRYCOLLECTION"}


def _srid(frame: gpd.GeoDataFrame) -> int:
    """The EPSG code of the frame's CRS (0 when it has none or no EPSG code: stored without an SRID)."""
    if frame.crs is None:
        return 0
    code = frame.crs.to_epsg()
    if code is None:
        log.warning("CRS %s has no EPSG code: geometries are stored without an SRID", frame.crs.name,
                    extra={"zh": f"坐标系 {frame.crs.name} 没有 EPSG 代码：几何数据写入时不带 SRID"})
    return code or 0


def _ewkb(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The geometry column as hex EWKB text, as PostGIS reads it in COPY."""
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geoms = shapely.set_srid(frame.geometry.to_numpy(), _srid(frame))
    text = shapely.to_wkb(geoms, hex=True, include_srid=True)
    out[frame.geometry.name] = pd.Series(text, index=frame.index, dtype=object).where(~shapely.is_missing(geoms), None)
    return out


#: Rows per COPY chunk: the chunk's text is built by Arrow in one piece.
_COPY_ROWS = 50_000


def _copy_text(frame: pd.DataFrame, lists: set[str]) -> bytes:
    """Rows of ``frame`` in PostgreSQL's COPY text format, built column by column in Arrow.

    A Python call per row and field (psycopg's ``write_row``) costs about 60 µs per parcel row; Arrow
    casts and escapes whole columns. NULL is ``\\N``, so an empty text stays ``''``; numbers and
    timestamps are cast to their shortest exact text, booleans to true/false. List columns (``lists``)
    become array literals, the one place with a Python call per value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name in frame.columns:
        s = frame[name]
        if name in lists:
            arr, text = pa.array([_array_literal(v) for v in s], type=pa.large_string()), True
        else:
            try:
                arr = pa.array(s.array if isinstance(s.dtype, pd.ArrowDtype | pd.StringDtype) else s, from_pandas=True)
                text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                arr = pc.cast(arr, pa.large_string())
            except pa.ArrowException:  # a type Arrow cannot convert or cast to text
                # Mixed Python objects (the table has a text column for them): their str().
                arr = pa.array(s.map(lambda v: None if v is None or v != v else str(v)), type=pa.large_string())
                text = True
        if text:  # COPY's own escapes, over the array literal's
            for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
                arr = pc.replace_substring(arr, char, escaped)
        columns.append(pc.fill_null(arr, "\\N"))
    # Each row "a\tb\tc\n", all rows back to back in the array's data buffer: that buffer is the COPY text.
    tab, empty, newline = (pa.scalar(c, pa.large_string()) for c in ("\t", "", "\n"))
    rows = pc.binary_join_element_wise(pc.binary_join_element_wise(*columns, tab), empty, newline)
    if not len(rows):
        return b""
    if isinstance(rows, pa.ChunkedArray):  # Arrow-backed text columns may come in chunks
        rows = rows.combine_chunks()
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64)[rows.offset:rows.offset + len(rows) + 1]
    return rows.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


def _array_literal(value: Any) -> str | None:
    """A list as a PostgreSQL text-array literal: {"a","b"} (NULL for a missing value)."""
    if not isinstance(value, list | tuple | np.ndarray):
        return None
    items = ('"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"' for x in value)
    return "{" + ",".join(items) + "}"


def write_results(result: Result, url: str, *, schema: str = "gisefficiency") -> dict[str, str]:
    """Write a run's parcels, firms, blocks and flagged firms to ``schema``, replacing the previous run's.

    Parameters
    ----------
    result
        What :func:`gisefficiency.pipeline.run` returned.
    url
        ``postgresql://user@host:5432/dbname``; the user needs CREATE on the database (for the staging
        schema) and ownership of the previous tables.
    schema
        Where the tables go; created if missing. Other tables in it are left alone.

    Returns
    -------
    dict
        Table name -> ``schema.table`` written.

    Raises
    ------
    ConfigError
        No connection, or the database refuses (rights, a view that depends on an old table); the
        previous tables are then unchanged.
    """
    frames = {name: database_ready(frame) for name, frame in output_frames(result).items()}
    return write_tables(frames, url, schema=schema)


def write_tables(frames: dict[str, pd.DataFrame], url: str, *, schema: str) -> dict[str, str]:
    """Write frames (ids already as columns, the first column the primary key) to ``schema`` atomically.

    Each frame is written to a staging schema; one transaction then drops the tables of the same
    names in ``schema`` and moves the new ones in. On any failure the staging schema is dropped and
    ``schema`` is as it was.
    """
    import sqlalchemy as sa

    what = f"[output] database {masked(url)} schema {schema}"
    # ASCII and short: PostgreSQL cuts names at 63 bytes, which a Chinese schema name would reach.
    stage = f"gisefficiency__staging_{secrets.token_hex(6)}"
    try:
        engine = sa.create_engine(_sqlalchemy_url(url), connect_args={"connect_timeout": 15})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except ModuleNotFoundError as exc:
        raise ConfigError(f"{what}: {exc.name} is not installed -> pip install 'psycopg[binary]' sqlalchemy "
                          "geoalchemy2",
                          zh=f"{what}：未安装 {exc.name} → pip install 'psycopg[binary]' sqlalchemy geoalchemy2") from None
    except sa.exc.SQLAlchemyError as exc:
        raise ConfigError(f"{what}: cannot connect ({_first_line(exc.orig or exc)}) -> check host, port, "
                          "database and user in the URL; give the password in PGPASSWORD or ~/.pgpass",
                          zh=(f"{what}：无法连接（{_first_line(exc.orig or exc)}）→ 请检查地址中的主机、端口、"
                              "数据库名和用户名；密码放在 PGPASSWORD 或 ~/.pgpass 中")) from None
    try:
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA {_ident(stage)}"))
            for name, frame in frames.items():
                _write_table(engine, frame, name, stage)
            _swap(engine, frames, stage=stage, schema=schema)
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"{what}: the database refused the write ({_first_line(exc.orig or exc)}); the "
                              "previous tables are unchanged -> check the user's rights on the schema, and drop "
                              "views that depend on the old tables",
                              zh=(f"{what}：数据库拒绝写入（{_first_line(exc.orig or exc)}）；原有的表未改动 "
                                  "→ 请检查该用户对模式的权限，并删除依赖旧表的视图")) from None
        finally:
            _drop_stage(engine, stage)
    finally:
        engine.dispose()
    return {name: f"{schema}.{name}" for name in frames}


def _write_table(engine: sqlalchemy.Engine, frame: pd.DataFrame, name: str, stage: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import ARRAY

    types = _sql_types(frame)
    rows = _ewkb(frame) if isinstance(frame, gpd.GeoDataFrame) else frame
    lists = {col for col, kind in types.items() if isinstance(kind, ARRAY)}
    target = f"{_ident(stage)}.{_ident(name)}"
    with engine.begin() as conn:
        # pandas makes the table with the column types (no rows); the rows go in by COPY.
        rows.head(0).to_sql(name, conn, schema=stage, index=False, dtype=types)
        columns = ", ".join(_ident(str(c)) for c in rows.columns)
        with conn.connection.cursor() as cur, cur.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for start in range(0, len(rows), _COPY_ROWS):
                copy.write(_copy_text(rows.iloc[start:start + _COPY_ROWS], lists))
        key = frame.columns[0]
        if frame[key].is_unique and frame[key].notna().all():
            conn.execute(sa.text(f"ALTER TABLE {_ident(stage)}.{_ident(name)} ADD PRIMARY KEY ({_ident(key)})"))
        conn.execute(sa.text(f"ANALYZE {_ident(stage)}.{_ident(name)}"))


def _swap(engine: sqlalchemy.Engine, frames: dict[str, pd.DataFrame], *, stage: str, schema: str) -> None:
    """One transaction: drop the previous tables, move the new ones in. PostgreSQL's DDL is transactional."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}"))
        for name in frames:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {_ident(schema)}.{_ident(name)}"))
            conn.execute(sa.text(f"ALTER TABLE {_ident(stage)}.{_ident(name)} SET SCHEMA {_ident(schema)}"))


def _drop_stage(engine: sqlalchemy.Engine, stage: str) -> None:
    import sqlalchemy as sa

    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {_ident(stage)} CASCADE"))
    except sa.exc.SQLAlchemyError as exc:  # the write's own error matters more than this one
        log.warning("could not drop the staging schema %s: %s", stage, _first_line(exc),
                    extra={"zh": f"无法删除临时模式 {stage}：{_first_line(exc)}"})

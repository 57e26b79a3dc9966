"""PostGIS in and out: config keys, names and messages without a server; reading, the whole run and the
atomic replacement against a throwaway PostgreSQL + PostGIS server (``postgis_url`` in conftest)."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gisefficiency.cli import app
from gisefficiency.config import config_from_dict
from gisefficiency.core.errors import ConfigError, InputError
from gisefficiency.io import database

URL = "postgresql://gis@db.example:5432/land"


# --- config and names (no server) --------------------------------------------------------------


def test_database_source_keeps_the_url_and_its_table():
    cfg = config_from_dict({"parcels": {"path": URL, "table": "土地.宗地"},
                            "firms": {"path": URL, "query": "select * from firms"},
                            "output": {"database": URL, "schema": "亩均"}})
    assert cfg.parcels.path == URL and cfg.parcels.table == "土地.宗地"
    assert cfg.firms.query == "select * from firms" and cfg.firms.table is None
    assert (cfg.output.database, cfg.output.schema) == (URL, "亩均")
    assert str(config_from_dict({"parcels": {"path": "宗地.shp"}}).parcels.path).endswith("宗地.shp")


@pytest.mark.parametrize(("data", "message"), [
    ({"parcels": {"path": URL}}, r"\[parcels\] path is a database URL; it needs a table or a query"),
    ({"land": {"path": URL, "table": "a", "query": "select 1"}}, r"\[land\].*give table or query, not both"),
    ({"firms": {"path": "企业.xlsx", "table": "firms"}}, r"\[firms\] table is set but path is not a database URL"),
    ({"parcels": {"path": URL, "table": "p", "layer": "x"}}, r"\[parcels\] layer is for files"),
    ({"output": {"database": "out.sqlite"}}, r"\[output\] database = 'out.sqlite': not a PostgreSQL URL"),
    ({"output": {"database": URL, "schema": "pg_catalog"}}, r"\[output\] schema = 'pg_catalog': not usable"),
])
def test_database_config_mistakes_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_names_are_quoted_as_written_and_passwords_masked():
    assert database.quote_table("土地.宗地") == '"土地"."宗地"'
    assert database.quote_table('"My.Schema".Parcels') == '"My.Schema"."Parcels"'
    assert database.quote_table("parcels") == '"parcels"'
    with pytest.raises(ConfigError, match=r"table = 'a\.b\.c': not a table name"):
        database.quote_table("a.b.c")
    assert database.masked("postgresql://gis:s3cret@host/db") == "postgresql://gis:***@host/db"
    assert database.describe("postgresql://gis:s3cret@h/db", table="x.y") == "postgresql://gis:***@h/db table x.y"


_NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=20)


@given(schema=_NAME, table=_NAME)
def test_any_quoted_name_comes_back_as_written(schema, table):
    """A name written in double quotes (inner quotes doubled) is kept exactly: dots, quotes, Chinese, spaces."""
    quoted = ".".join('"' + n.replace('"', '""') + '"' for n in (schema, table))
    assert database.quote_table(quoted) == quoted


def test_no_server_is_an_input_error_naming_the_source():
    with pytest.raises(InputError, match=r"postgresql://gis:\*\*\*@127\.0\.0\.1:9/none table t: cannot connect"):
        database.read_frame("postgresql://gis:pw@127.0.0.1:9/none", table="t")


def test_copy_text_escapes_text_and_keeps_null_apart_from_empty():
    frame = pd.DataFrame({"t": pd.array(["a\tb\\c\nd", None, ""], dtype="string"), "x": [1.5, np.nan, 1e20],
                          "b": pd.array([True, None, False], dtype="boolean"), "l": [["甲", 'q"\\'], [], None],
                          "o": ["中文", None, 3]})
    text = database._copy_text(frame, {"l"}).decode()
    chunked = frame.assign(t=pd.Series(pd.arrays.ArrowExtensionArray(
        pa.chunked_array([["a\tb\\c\nd"], [None, ""]], pa.large_string()))))
    assert database._copy_text(chunked, {"l"}).decode() == text  # text in several Arrow chunks
    assert text.split("\n") == [
        "a\\tb\\\\c\\nd\t1.5\ttrue\t{\"甲\",\"q\\\\\"\\\\\\\\\"}\t中文",
        "\\N\t\\N\t\\N\t{}\t\\N",
        "\t1e+20\tfalse\t\\N\t3",
        "",
    ]


def test_database_ready_keeps_booleans_lists_and_empty_text():
    frame = pd.DataFrame({"flag": [True, None, False], "names": [["甲", "乙"], [], None],
                          "text": pd.array(["", None, "淘汰"], dtype="string")},
                         index=pd.Index(["a", "b", "c"], name="parcel_id"))
    out = database.database_ready(frame)
    assert out.columns.tolist() == ["parcel_id", "flag", "names", "text"]
    assert out["flag"].dtype == "boolean" and out["flag"].isna().tolist() == [False, True, False]
    assert out["names"].tolist() == [["甲", "乙"], [], None]
    assert out["text"].tolist()[0] == "" and pd.isna(out["text"].tolist()[1])


# --- against a server ----------------------------------------------------------------------------

pg = pytest.mark.postgis


def _load(url, frame, name, schema="public"):
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    if isinstance(frame, gpd.GeoDataFrame):
        frame.to_postgis(name, engine, schema=schema, if_exists="replace", index=False)
    else:
        frame.to_sql(name, engine, schema=schema, if_exists="replace", index=False)
    engine.dispose()


@pytest.fixture(scope="module")
def county_in_db(postgis_url, sample_dir):
    """The sample county's parcels (a Chinese schema and table name) and firm table (Chinese headers,
    as the workbook has them) loaded into PostGIS, as a bureau's database holds them."""
    parcels = gpd.read_file(sample_dir / "parcels.gpkg", layer="parcels")
    _load(postgis_url, parcels, "宗地", schema="土地")
    firms = pd.read_excel(sample_dir / "firms.xlsx", header=1, engine="calamine")
    _load(postgis_url, firms, "企业亩均")
    return postgis_url


@pg
def test_parcels_from_a_table_read_as_from_the_file(county_in_db, sample_dir):
    from gisefficiency.io.parcels import read_parcels

    cfg = config_from_dict({"parcels": {"path": county_in_db, "table": "土地.宗地"}})
    from gisefficiency.pipeline import read_configured_parcels

    got = read_configured_parcels(cfg)
    want = read_parcels(sample_dir / "parcels.gpkg", layer="parcels")
    assert got.crs.to_epsg() == 4549
    assert got.index.tolist() == want.index.tolist()
    assert shapely.equals_exact(got.geometry.to_numpy(), want.geometry.to_numpy(), tolerance=1e-6).all()
    pd.testing.assert_series_equal(got["supply_date"], want["supply_date"], check_dtype=False)
    assert got["street"].tolist() == want["street"].tolist()


@pg
def test_unknown_table_and_bad_query_name_the_source(county_in_db):
    with pytest.raises(InputError, match=r"table 土地\.地块: no such table"):
        database.read_frame(county_in_db, table="土地.地块")
    with pytest.raises(InputError, match=r'query "selec 1": the database refused the query'):
        database.read_frame(county_in_db, query="selec 1")
    with pytest.raises(InputError, match=r"no PostGIS geometry column among 地块编号"):
        database.read_frame(county_in_db, query='select "地块编号" from "土地"."宗地"', geometry=True)


@pytest.fixture(scope="module")
def db_run(county_in_db, sample_dir, tmp_path_factory):
    """`gisefficiency run` with [parcels] and [firms] from the database and [output] database."""
    out = tmp_path_factory.mktemp("db_run")
    text = (sample_dir / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('path = "parcels.gpkg"\nlayer = "parcels"',
                        f'path = "{county_in_db}"\ntable = "土地.宗地"')
    text = text.replace('path = "firms.xlsx"',
                        f'path = "{county_in_db}"\nquery = \'select * from "企业亩均"\'')  # a fresh table reads back in insertion order
    text = text.replace('path = "land.csv"', f'path = "{sample_dir / "land.csv"}"')
    text = text.replace('height = "building_height.tif"', f'height = "{sample_dir / "building_height.tif"}"')
    assert "\n[output]" not in text  # the demo config leaves [output] to the command line
    text += f'\n[output]\ndir = "{out}"\ndatabase = "{county_in_db}"\nschema = "亩均"\n'
    cfg = out / "db.toml"
    cfg.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(cfg), "--no-map"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "亩均.parcels" in res.output and "亩均.flagged_firms" in res.output
    return county_in_db, cfg


def _read_back(url, table):
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            if table == "flagged_firms":
                return pd.read_sql(sa.text('select * from "亩均".flagged_firms'), conn)
            srid = conn.execute(sa.text(f"select Find_SRID('亩均', '{table}', 'geometry')")).scalar()
            return gpd.read_postgis(sa.text(f'select * from "亩均"."{table}"'), conn, geom_col="geometry"), srid
    finally:
        engine.dispose()


@pg
@pytest.mark.slow
def test_run_from_and_to_postgis_gives_the_file_run(db_run, demo_result):
    db_run, _ = db_run
    parcels, srid = _read_back(db_run, "parcels")
    assert srid == 4549 and parcels.crs.to_epsg() == 4549
    want = demo_result.with_reasons(demo_result.parcels, lang="both")
    parcels = parcels.set_index("parcel_id").loc[want.index]
    # geometry: the same WKB
    assert (shapely.to_wkb(parcels.geometry.to_numpy()) == shapely.to_wkb(want.geometry.to_numpy())).all()
    # types: numbers, booleans, dates, text, lists
    assert parcels["tax_per_mu"].dtype == np.float64
    np.testing.assert_array_equal(parcels["tax_per_mu"], want["tax_per_mu"])  # exact: shortest round-trip text
    assert parcels["low_efficiency"].dtype == bool
    assert parcels["low_efficiency"].tolist() == want["low_efficiency"].tolist()
    assert pd.api.types.is_datetime64_any_dtype(parcels["supply_date"])
    seconds = "datetime64[s]"
    assert pd.Series(parcels["supply_date"].to_numpy(seconds)).equals(pd.Series(want["supply_date"].to_numpy(seconds)))
    assert parcels["block_id"].astype("Int64").equals(want["block_id"].astype("Int64"))
    # Chinese text, with "" kept apart from NULL
    assert parcels["reason_zh"].fillna("<NA>").tolist() == want["reason_zh"].astype(object).fillna("<NA>").tolist()
    assert parcels["disposal_zh"].tolist() == want["disposal_zh"].tolist()
    assert (want["disposal_zh"] == "").any() and (parcels["disposal_zh"] == "").sum() == (want["disposal_zh"] == "").sum()
    assert parcels["firm_names"].fillna("<NA>").tolist() == want["firm_names"].fillna("<NA>").tolist()

    firms, _ = _read_back(db_run, "firms")
    assert len(firms) == len(demo_result.firms)
    firms = firms.set_index("uscc").loc[demo_result.firms.index]
    assert firms["name"].tolist() == demo_result.firms["name"].tolist()
    assert firms["grade"].fillna("").tolist() == demo_result.firms["grade"].fillna("").tolist()
    blocks, _ = _read_back(db_run, "blocks")
    assert sorted(blocks["block_id"]) == sorted(demo_result.blocks.index)
    flagged = _read_back(db_run, "flagged_firms")
    want_flagged = demo_result.firms["low_efficiency"] | (demo_result.firms["disposal"] != "")
    assert sorted(flagged["uscc"]) == sorted(demo_result.firms.index[want_flagged.to_numpy()])
    assert "geometry" not in flagged


@pg
def test_a_failed_replacement_leaves_the_previous_tables(postgis_url, demo_result, monkeypatch):
    import sqlalchemy as sa

    first = database.write_results(demo_result, postgis_url, schema="replace_test")
    assert first["parcels"] == "replace_test.parcels"
    engine = sa.create_engine(postgis_url.replace("postgresql://", "postgresql+psycopg://"))

    def counts():
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"select count(*) from replace_test.{t}")).scalar()
                    for t in database.OUTPUT_TABLES}

    def schemas():
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(sa.text("select nspname from pg_namespace"))}

    before = counts()
    assert before["parcels"] == len(demo_result.parcels) and before["blocks"] == len(demo_result.blocks)

    # A second run with fewer parcels fails while writing its third table: nothing of it shows.
    smaller = type(demo_result)(**{**demo_result.__dict__, "parcels": demo_result.parcels.iloc[:10]})
    real = database._write_table
    written = []

    def failing(engine_, frame, name, stage):
        if len(written) == 2:
            raise sa.exc.OperationalError("COPY", {}, RuntimeError("server closed the connection"))
        written.append(name)
        real(engine_, frame, name, stage)

    monkeypatch.setattr(database, "_write_table", failing)
    with pytest.raises(ConfigError, match=r"refused the write .*the previous tables are unchanged"):
        database.write_results(smaller, postgis_url, schema="replace_test")
    assert written == ["parcels", "firms"]
    assert counts() == before
    assert not any("__staging_" in s for s in schemas())

    # The same replacement without the failure goes through whole.
    monkeypatch.setattr(database, "_write_table", real)
    database.write_results(smaller, postgis_url, schema="replace_test")
    assert counts()["parcels"] == 10
    assert not any("__staging_" in s for s in schemas())
    engine.dispose()


@pg
def test_validate_reads_database_sources(db_run):
    _, cfg = db_run
    res = CliRunner().invoke(app, ["validate", str(cfg)], terminal_width=250)
    assert res.exit_code == 0, res.output
    assert "0 error(s)" in res.output
    # The sample's one negative tax, named by its source and its row in the query's order.
    assert re.search(r'query "select \* from "企业亩均"", row \d+, column .实缴税金\(万元\)., value -12\.13: '
                     r"negative tax", res.output), res.output


@pg
def test_a_database_mistake_is_one_line_from_the_cli(county_in_db, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[parcels]\npath = "{county_in_db}"\ntable = "土地.没有"\n[firms]\npath = "x.xlsx"\n',
                   encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(cfg)], terminal_width=250)
    assert res.exit_code == 2
    assert "table 土地.没有: no such table" in res.output and "Traceback" not in res.output


@pg
def test_tricky_values_survive_the_copy(postgis_url):
    import psycopg

    frame = pd.DataFrame({"id": ["a", "b", "c"],
                          "t": pd.array(["tab\there\\back\nline\r", None, ""], dtype="string"),
                          "l": [["甲", 'q"\\', "{,}"], [], None],
                          "x": [0.1 + 0.2, np.nan, -1e-300],
                          "b": pd.array([True, None, False], dtype="boolean"),
                          "d": pd.to_datetime(["2020-02-29 12:34:56.789012", None, "1999-12-31"], format="ISO8601")})
    database.write_tables({"tricky": database.database_ready(frame)}, postgis_url, schema="tricky")
    with psycopg.connect(postgis_url) as conn:
        rows = conn.execute("select t, l, x, b, d from tricky.tricky order by id").fetchall()
    assert [r[0] for r in rows] == ["tab\there\\back\nline\r", None, ""]
    assert [r[1] for r in rows] == [["甲", 'q"\\', "{,}"], [], None]
    assert rows[0][2] == 0.1 + 0.2 and rows[1][2] is None and rows[2][2] == -1e-300
    assert [r[3] for r in rows] == [True, None, False]
    assert rows[0][4] == pd.Timestamp("2020-02-29 12:34:56.789012").to_pydatetime() and rows[1][4] is None

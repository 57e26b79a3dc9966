"""Shared fixtures: the bundled sample county and one pipeline run on it for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
# The sample county ships inside the package (layers/sample is a link to it in a checkout).
SAMPLE = ROOT / "gisefficiency" / "sample" / "data"

# Property tests draw the same examples on every run ("fixed"), so a test run (and CI) is repeatable;
# `HYPOTHESIS_PROFILE=explore make test` draws new ones to look for bugs. A case found that way is
# kept in its test as an `@example`.
settings.register_profile("fixed", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled sample county folder (``gisefficiency/sample/data``)."""
    return SAMPLE


@pytest.fixture(scope="session")
def demo_config():
    """The demo configuration, with outputs redirected by the tests that write."""
    from gisefficiency.config import load_config

    return load_config(SAMPLE / "demo.toml")


@pytest.fixture(scope="session")
def demo_result(demo_config):
    """One full pipeline run on the sample county, shared by every test that reads it."""
    from gisefficiency import pipeline

    return pipeline.run(demo_config)


@pytest.fixture(scope="session")
def demo_outputs(demo_result, demo_config, tmp_path_factory):
    """Every output file of the demo run, written once to a temporary folder."""
    from gisefficiency import pipeline

    out = tmp_path_factory.mktemp("demo_out")
    return pipeline.write_all(demo_result, demo_config, out_dir=out)


# --- a throwaway PostgreSQL + PostGIS server for the `postgis` tests ------------------------------


def _postgres_bindir() -> Path | None:
    """The newest PostgreSQL server whose installation has PostGIS (Debian: /usr/lib/postgresql/NN/bin)."""
    import glob

    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name),
                         reverse=True):
        version = Path(bindir).parent.name
        if (Path(bindir) / "initdb").exists() and Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            return Path(bindir)
    return None


def _as_server_user(folder: Path) -> list[str]:
    """Command prefix running the server's programs: PostgreSQL refuses to run as root, so as root they
    run as Debian's ``postgres`` user (made by the postgresql package; else a system user is added)."""
    import pwd
    import shutil
    import subprocess

    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres").pw_name
    except KeyError:
        user = "gisefficiency_pg"
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
    shutil.chown(folder, user=user)
    return ["runuser", "-u", user, "--"]


@pytest.fixture(scope="session")
def postgis_url():
    """URL of a fresh PostGIS database on a throwaway server (its own folder, a free localhost port and
    a Unix socket in that folder), stopped and deleted at the end of the session."""
    import shutil
    import socket
    import subprocess
    import tempfile

    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server with PostGIS not installed (Debian: apt-get install postgresql "
                    "postgresql-postgis; `make system` does it)")
    folder = Path(tempfile.mkdtemp(prefix="gisefficiency-pg-"))
    run_as = _as_server_user(folder)
    data = folder / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def server(*args: str) -> None:
        done = subprocess.run([*run_as, str(bindir / args[0]), *args[1:]], capture_output=True, text=True, cwd=folder)
        if done.returncode:  # say why (initdb's locale, a port taken, ...) instead of a bare exit status
            log = folder / "server.log"
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}"
                               + (f"\n{log.read_text()[-2000:]}" if log.exists() else ""))

    started = False
    try:
        server("initdb", "-D", str(data), "-U", "gis", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        server("pg_ctl", "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "start")
        started = True
        import psycopg

        with psycopg.connect(f"postgresql://gis@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE gistest")
        url = f"postgresql://gis@127.0.0.1:{port}/gistest"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield url
    finally:
        if started:
            server("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)

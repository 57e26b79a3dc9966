"""`pip install gisefficiency` works anywhere, offline: the wheel as a new user gets it.

The wheel is built from this tree (``pip wheel . --no-deps``) and installed into a clean virtual
environment (no system site-packages, no dev extras; dependencies resolved by pip from the configured
index and its cache). Then, in empty folders outside the checkout: ``gisefficiency demo``, and
``gisefficiency init`` on the sample's raw files followed by ``run`` on the config it wrote. The demo's map
is opened in headless Chromium with the network cut. Takes about 1-2 minutes (pip's cache makes the
dependency install quick after the first time).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from browser import chromium_available, open_page
from conftest import ROOT

pytestmark = pytest.mark.slow


def _run(args: list[str], *, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # A clean environment: no PYTHONPATH or virtualenv of the test run leaking into the new one.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["COLUMNS"] = "200"
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a clean venv with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # The build must not leave anything in the checkout: build in a copy of the tracked files.
    src = root / "src"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_symlink():
            target.symlink_to(os.readlink(ROOT / name))
        elif (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-w", str(dist), "-q"], cwd=root)
    wheel = next(dist.glob("gisefficiency-*.whl"))
    venv = root / "venv"
    # Not sys.executable's venv module with --system-site-packages: nothing of this environment is visible.
    _run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)], cwd=root)
    return venv / "bin"


def test_wheel_carries_the_map_libraries_and_the_sample_county(installed, tmp_path):
    wheel = next(installed.parent.parent.glob("dist/gisefficiency-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("gisefficiency/maps/assets/vendor/leaflet/dist/leaflet.js",
                 "gisefficiency/maps/assets/vendor/leaflet/LICENSE",
                 "gisefficiency/maps/assets/vendor/leaflet-draw/MIT-LICENSE.md",
                 "gisefficiency/sample/data/demo.toml", "gisefficiency/sample/data/firms.xlsx",
                 "gisefficiency/py.typed"):
        assert name in names, name
    # Only the runtime dependencies: no test tools came along.
    listed = _run([str(installed / "python"), "-m", "pip", "list", "--format=freeze"], cwd=tmp_path).stdout.lower()
    assert "esda==" in listed and "libpysal==" in listed
    assert "pytest" not in listed and "playwright" not in listed


def test_demo_runs_in_an_empty_folder_and_its_pages_work_offline(installed, tmp_path):
    proc = _run([str(installed / "gisefficiency"), "demo"], cwd=tmp_path)
    out = tmp_path / "gisefficiency-demo"
    assert {"results.gpkg", "map.html", "report.html"} <= {p.name for p in out.iterdir()}
    assert "A类 331" in proc.stdout
    if chromium_available():
        with open_page(out / "map.html", wait_for="window.GISE && GISE.ready", screenshot=False) as page:
            assert page.js_errors == []
            assert all("tile.openstreetmap.org" in url for url in page.blocked_requests), page.blocked_requests
        with open_page(out / "report.html", screenshot=False) as page:
            assert page.js_errors == []
            assert all("tile.openstreetmap.org" in url for url in page.blocked_requests), page.blocked_requests


def test_init_then_run_in_an_empty_folder(installed, tmp_path):
    data = Path(_run([str(installed / "python"), "-c", "from gisefficiency.sample import DATA_DIR; print(DATA_DIR)"],
                     cwd=tmp_path).stdout.strip())
    assert tmp_path not in data.parents and ROOT not in data.parents  # the installed copy, not the checkout's
    for name in ("parcels_gbk.shp", "parcels_gbk.shx", "parcels_gbk.dbf", "parcels_gbk.prj", "firms.xlsx", "land.csv"):
        shutil.copy(data / name, tmp_path / name)
    gise = str(installed / "gisefficiency")
    _run([gise, "init", "parcels_gbk.shp", "firms.xlsx", "land.csv", "--preset", "suichang-2022"], cwd=tmp_path)
    proc = _run([gise, "run", "county.toml", "--no-map"], cwd=tmp_path)
    assert "A类 331" in proc.stdout
    assert (tmp_path / "output" / "results.gpkg").is_file()

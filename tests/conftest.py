"""Shared fixtures: the bundled sample county and one pipeline run on it for the whole session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "layers" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The committed sample county folder."""
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

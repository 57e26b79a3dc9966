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

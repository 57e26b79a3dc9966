"""The generative test of issue 15: counties drawn from a small grammar of bureau data, run through the CLI.

``_county_strategies.counties()`` draws a county (optional columns, header styles, file formats, value
spellings, geometry defects, blocks or none, groups of firms, every preset); each example writes it with a
``county.toml`` and runs ``gisefficiency validate`` then ``gisefficiency run --out DIR`` in-process. The
properties hold for any county a bureau may hand over:

- ``validate`` exits 0 exactly when ``run`` exits 0; the CLI exits 0 or 2 (validate: 0, 1 or 2) and never
  prints a traceback;
- a completed run writes every output;
- every input parcel id and every firm appears once in the outputs, with a status;
- land is conserved: the linked firms' land sums to the land of the parcels they are on;
- missing stays missing: a firm whose reference-year tax is blank has a missing tax per mu, never 0.

The "fixed" profile (``tests/conftest.py``) draws the same examples on every run; ``HYPOTHESIS_PROFILE=explore``
draws new ones. Every failure found is kept below as an ``@example`` and fixed in the code.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from _county_strategies import REFERENCE_YEAR, County, counties, write_county
from hypothesis import HealthCheck, Phase, event, given, settings
from typer.testing import CliRunner

from gisefficiency.cli import app

#: About 0.1-1.5 s an example (60 s for 80 on a shared 2-core machine): the fixed profile stays near 2 minutes.
EXAMPLES = 300 if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else 100
OUTPUTS = ("results.gpkg", "firms.csv", "link_report.csv", "scenarios.csv")


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def check_county(county: County) -> None:
    """Write the county, validate it, run it and check every property on what was written."""
    with tempfile.TemporaryDirectory(prefix="county_") as tmp:
        folder = Path(tmp)
        toml = write_county(county, folder)
        checked = _invoke("validate", str(toml))
        out = folder / "out"
        args = ["run", str(toml), "--out", str(out)] + (["--no-map"] if county.no_map else [])
        ran = _invoke(*args)
        for res in (checked, ran):
            assert "Traceback" not in res.output, res.output
            # A crash inside the CLI is caught by the runner: it must be a user error (exit 1/2), not an exception.
            assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        assert checked.exit_code in (0, 1, 2), checked.output
        assert ran.exit_code in (0, 2), ran.output
        assert (checked.exit_code == 0) == (ran.exit_code == 0), (checked.output, ran.output)
        event(f"run exit {ran.exit_code}")  # --hypothesis-show-statistics: how many counties ran to the end
        if ran.exit_code != 0:
            event(ran.output.strip().splitlines()[-1][:90])
            # Progress and warnings may come before it; the error itself comes last, in Chinese then English.
            lines = ran.output.rstrip().splitlines()
            errors = [i for i, line in enumerate(lines) if line.startswith("错误：")]
            assert len(errors) == 1 and lines[errors[0] + 1].startswith("error: "), ran.output
            return
        _check_outputs(county, out)


def _check_outputs(county: County, out: Path) -> None:
    for name in OUTPUTS + (() if county.no_map else ("report.html", "map.html")):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert {"parcels", "firms", "blocks"} <= set(pyogrio.list_layers(out / "results.gpkg")[:, 0])
    parcels = pyogrio.read_dataframe(out / "results.gpkg", layer="parcels", read_geometry=False)
    firms = pyogrio.read_dataframe(out / "results.gpkg", layer="firms", read_geometry=False)

    blocks = pyogrio.read_info(out / "results.gpkg", layer="blocks")["features"]
    event(f"blocks: {'none' if blocks == 0 else 'one' if blocks == 1 else 'many'}")
    event(f"firms linked: {'none' if not firms['link_status'].eq('linked').any() else 'some'}")

    # Every parcel id and every firm once, each with a status.
    assert parcels["parcel_id"].is_unique and set(parcels["parcel_id"]) == county.parcel_ids
    assert firms["uscc"].is_unique and set(firms["uscc"]) == county.usccs
    assert parcels["status"].notna().all() and firms["link_status"].notna().all()

    # Land conserved: Σ linked firms' land = Σ land of the parcels that have firms (and no parcel's land is
    # counted twice: land in = land out).
    linked = firms["link_status"].eq("linked")
    occupied = parcels["n_firms"].fillna(0).gt(0) & parcels["land_mu"].notna()
    assert np.isclose(firms.loc[linked, "land_mu"].sum(), parcels.loc[occupied, "land_mu"].sum(), rtol=1e-9)
    # ... and per parcel: every firm of the grammar sits on the one parcel it was drawn on.
    if "parcel_id" in county.firms:
        home = county.firms.drop_duplicates("uscc").set_index("uscc")["parcel_id"]
    elif "holder_uscc" in county.parcels:
        home = county.parcels.dropna(subset=["holder_uscc"]).set_index("holder_uscc")["parcel_id"]
    else:
        home = pd.Series(dtype=object)
    per_parcel = firms[linked].groupby(firms.loc[linked, "uscc"].map(home))["land_mu"].sum()
    land = parcels.drop_duplicates("parcel_id").set_index("parcel_id")["land_mu"]
    np.testing.assert_allclose(per_parcel.to_numpy(float), land.reindex(per_parcel.index).to_numpy(float), rtol=1e-9)
    ok = parcels["status"].eq("ok")
    assert parcels.loc[ok, "land_mu"].notna().all() and parcels.loc[~ok, "land_mu"].isna().all()

    # Missing stays missing: a firm evaluated on its own with a blank reference-year tax has no tax per mu.
    if county.tenant_mode != "merge_to_holder":
        blank = firms["uscc"].isin(county.blank_tax_firms())
        assert firms.loc[blank, "tax_per_mu"].isna().all(), firms.loc[blank, ["uscc", "tax_per_mu"]]
    # Tax read in 万元 whatever the unit, layout or format it was written in: a firm's own reference-year tax.
    ref = county.firms[county.firms["year"] == REFERENCE_YEAR].groupby("uscc")["tax"].sum(min_count=1)
    own = firms.set_index("uscc")["own_tax"]
    np.testing.assert_allclose(own.reindex(ref.index).to_numpy(float), ref.to_numpy(float), rtol=1e-9)
    csv = pd.read_csv(out / "firms.csv", encoding="utf-8-sig", dtype={"uscc": str})
    assert set(csv["uscc"]) == county.usccs


@pytest.mark.slow
# No shrinking: an example takes seconds, and the failing county is printed as drawn (its labels say which
# grammar choice it made), which is what a fix needs.
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=True)
@given(counties())
def test_any_bureau_county_validates_and_runs_alike(county):
    check_county(county)

"""Multi-year runs: per-year verdicts, blocks, trends and the change of each parcel, hand-checked on a tiny
county; the sample county's per-year verdicts equal a run at that year; the CLI's --years."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from _maps_fixtures import map_page_text
from typer.testing import CliRunner

from gisefficiency import pipeline
from gisefficiency.cli import app, parse_years
from gisefficiency.config import load_config
from gisefficiency.core.errors import ConfigError, InputError
from gisefficiency.core.uscc import uscc_check_digit

runner = CliRunner()

# Five parcels of exactly 10 mu (100 m × 66.67 m); P1-P2-P3 side by side in a row, P4 and P5 far away.
# Tax (万元) per year; low efficiency = 亩均税收 < 1 万元/亩 in the year, i.e. tax < 10.
TAX = {  # 2021, 2022, 2023
    "P1": (5, 5, 5),     # low, low, low          -> still low
    "P2": (50, 5, 5),    # ok, low, low           -> newly low
    "P3": (5, 5, 50),    # low, low, ok           -> recovered
    "P4": (50, 50, 50),  # never low
    "P5": (5, 5, None),  # low, low, no data      -> was low, no data now (not "recovered")
}
STREET = {"P1": "东街道", "P2": "东街道", "P3": "西街道", "P4": "西街道", "P5": "北街道"}
PRESET = """
name = "tiny"
title_zh = "测试：当年亩均税收低于1万元/亩"
title_en = "test: tax per mu below 1 in the year"
source = "test"
[[categories]]
id = "low"
zh = "低效"
en = "low"
colour = "#d73027"
[disposal]
[[disposal.rules]]
category = "low"
when = { metric = "tax_per_mu", op = "<", value = 1, years = 1 }
# The evaluation needs a [scoring] section (a preset without one stops in verdicts.evaluate).
[scoring.groups.above]
weights = { tax_per_mu = 100 }
classes = { method = "percentile", A = 0.25, B = 0.25, C = 0.25, D = 0.25 }
[scoring.groups.below]
weights = { tax_per_mu = 100 }
classes = { method = "percentile", A = 0.25, B = 0.25, C = 0.25, D = 0.25 }
[pricing]
source = "测试文件（2024）"
[[pricing.items]]
id = "land_low"
resource = "land"
by = "category"
rates = { low = 3.0 }
"""
CONFIG = """
[project]
name = "小小县"
[parcels]
path = "parcels.gpkg"
id = "parcel_id"
[firms]
path = "firms.csv"
[link]
methods = ["table"]
[policy]
preset = "tiny.toml"
year = 2021
[blocks]
gap_m = 30
min_area_mu = 15
min_parcels = 2
keep = "none"
[raster]
enabled = false
[clusters]
enabled = false
[output]
dir = "out"
"""


def _uscc(i: int) -> str:
    first = f"91330000MA2{i:06d}"
    return first + uscc_check_digit(first)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_county(tmp_path_factory.mktemp("tiny_county"))


def write_tiny_county(folder: Path) -> Path:
    """The tiny county's parcels, firm table, preset and config in ``folder``."""
    w, h = 100.0, 10_000 / 15 * 10 / 100  # 10 mu
    x0, y0 = 500_000.0, 3_170_000.0
    xs = {"P1": x0, "P2": x0 + w, "P3": x0 + 2 * w, "P4": x0 + 2_000, "P5": x0 + 4_000}
    parcels = gpd.GeoDataFrame(
        {"parcel_id": list(TAX), "street": [STREET[p] for p in TAX], "supply_date": pd.Timestamp("2010-01-01")},
        geometry=[shapely.box(xs[p], y0, xs[p] + w, y0 + h) for p in TAX], crs="EPSG:4549")
    parcels.to_file(folder / "parcels.gpkg", layer="parcels")
    rows = [{"uscc": _uscc(i), "name": f"企业{p}", "year": 2021 + k, "parcel_id": p, "tax": tax[k],
             "industry": "C3311", "electricity": 100.0, "scale": "规上",
             "value_added": None if tax[k] is None else 4 * tax[k], "energy_tce": 50.0}
            for i, (p, tax) in enumerate(TAX.items()) for k in range(3)]
    pd.DataFrame(rows).to_csv(folder / "firms.csv", index=False)
    (folder / "tiny.toml").write_text(PRESET, encoding="utf-8")
    (folder / "county.toml").write_text(CONFIG, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tiny_years(tiny):
    return pipeline.run_years(load_config(tiny / "county.toml"), range(2021, 2024))


def test_change_classes_are_hand_checked(tiny_years):
    change = tiny_years.parcels["change"]
    assert change.to_dict() == {"P1": "still_low", "P2": "newly_low", "P3": "recovered", "P4": "",
                                "P5": "no_data_now"}
    assert tiny_years.year == 2023  # the last year is the reference year, whatever [policy] year says


def test_per_year_verdicts_and_blocks(tiny_years):
    run = tiny_years.meta["years"]
    low = run.verdicts["low_efficiency"].groupby(level="year").sum()
    assert low.to_dict() == {2021: 3, 2022: 4, 2023: 2}
    assert run.parcels.loc[("P2", 2021), "low_efficiency"] == False  # noqa: E712
    assert run.parcels.loc[("P2", 2022), "low_efficiency"] == True  # noqa: E712
    # 2021: P1 and P3 are 100 m apart (> gap 30 m): no block. 2022: P1-P2-P3, 30 mu. 2023: P1-P2, 20 mu.
    assert run.blocks["n_blocks"].to_dict() == {2021: 0, 2022: 1, 2023: 1}
    assert run.blocks["block_mu"].to_dict() == pytest.approx({2021: 0.0, 2022: 30.0, 2023: 20.0})
    assert len(tiny_years.blocks) == 1


def test_trends_by_street_are_hand_computed(tiny_years):
    t = tiny_years.meta["years"].trends.set_index(["dimension", "key", "year"])
    # county 2022: (5 + 5 + 5 + 50 + 5) / 50 mu = 1.4 万元/亩; 2023: P5 has no figure, so it is left out of
    # both sums (missing is not 0): (5 + 5 + 50 + 50) / 40 = 2.75
    assert t.loc[("county", "", 2022), "tax_per_mu"] == pytest.approx(1.4)
    assert t.loc[("county", "", 2023), "tax_per_mu"] == pytest.approx(2.75)
    # 东街道 2023: (5 + 5) / 20 = 0.5; both parcels low (20 mu), one block of 20 mu
    east = t.loc[("street", "东街道", 2023)]
    assert east["tax_per_mu"] == pytest.approx(0.5)
    assert east["low_mu"] == pytest.approx(20.0)
    assert east["n_blocks"] == 1 and east["block_mu"] == pytest.approx(20.0)
    # 西街道 2021: (5 + 50) / 20 = 2.75, P3 low (10 mu), no block
    west = t.loc[("street", "西街道", 2021)]
    assert west["tax_per_mu"] == pytest.approx(2.75)
    assert west["low_mu"] == pytest.approx(10.0) and west["n_blocks"] == 0
    # the industry is the firms' GB/T 4754 division
    assert t.loc[("industry", "33", 2022), "tax_per_mu"] == pytest.approx(1.4)


def test_outputs_map_and_report_of_a_multi_year_run(tiny, tiny_years, tmp_path):
    cfg = load_config(tiny / "county.toml")
    written = pipeline.write_all(tiny_years, cfg, out_dir=tmp_path)
    trends = pd.read_csv(written["trends"], encoding="utf-8-sig")
    assert set(trends["dimension"]) == {"county", "street", "industry"}
    by_year = pd.read_csv(written["parcels_by_year"], encoding="utf-8-sig", index_col=[0, 1])
    assert by_year.loc[("P3", 2023), "change"] == "recovered"
    # prices of the last year: P1 and P2 are category "low", 10 mu = 6,666.67 m² × 3 元 = 2 万元 each
    prices = pd.read_csv(written["prices"], encoding="utf-8-sig")
    assert sorted(prices["amount_wan"].round(6)) == [2.0, 2.0]
    gpkg = gpd.read_file(written["results"], layer="parcels").set_index("parcel_id")
    assert gpkg.loc["P2", "change"] == "newly_low"
    html = map_page_text(written["map"])
    assert "低效用地变化 2021→2023" in html and "新增低效" in html
    report = Path(written["report"]).read_text("utf-8")
    assert 'id="trends"' in report and "逐年趋势 2021–2023" in report and 'id="pricing"' in report
    assert "测试文件（2024）" in report


def test_years_without_data_or_fewer_than_two_are_clear_errors(tiny):
    cfg = load_config(tiny / "county.toml")
    with pytest.raises(InputError, match=r"firms\.csv: no data for 2020; the table has 2021, 2022, 2023"):
        pipeline.run_years(cfg, [2020, 2021])
    with pytest.raises(InputError, match=r"firms\.csv: no data for 2024, the last of the years asked for \(years in "
                                         r"the panel: 2021, 2022, 2023\)"):
        pipeline.run_years(cfg, [2023, 2024])
    with pytest.raises(InputError, match=r"at least two years"):
        pipeline.run_years(cfg, [2022])


@pytest.mark.parametrize(("text", "years"), [("2021-2023", (2021, 2022, 2023)), ("2021,2023", (2021, 2023)),
                                             ("2019, 2021-2022", (2019, 2021, 2022)), ("2021–2022", (2021, 2022))])
def test_parse_years(text, years):
    assert parse_years(text) == years


@pytest.mark.parametrize("text", ["21-23", "2023-2021", "2021..2023", ""])
def test_parse_years_rejects_other_forms(text):
    with pytest.raises(ConfigError, match=r"--years .*: give a range such as 2021-2023"):
        parse_years(text)


def test_cli_years(tiny, tmp_path):
    done = runner.invoke(app, ["run", str(tiny / "county.toml"), "--years", "2021-2023", "--no-map",
                               "--out", str(tmp_path)], terminal_width=250)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "trends.csv").is_file() and (tmp_path / "verdicts_by_year.csv").is_file()
    # the summary names the change classes in words (Chinese by default), one parcel each
    assert all(f"{k} 1" in done.output for k in ("新增低效", "持续低效", "低效转出", "原低效、现无数据"))
    bad = runner.invoke(app, ["run", str(tiny / "county.toml"), "--years", "2019-2021", "--no-map",
                              "--out", str(tmp_path)], terminal_width=250)
    assert bad.exit_code == 2
    assert "no data for 2019, 2020" in bad.output and "Traceback" not in bad.output


def test_sample_years_match_a_run_at_each_year(demo_config, demo_result):
    """The sample county: year 2021 of a 2021-2022 run is what a run at 2021 finds (verdicts, flags, blocks)."""
    cfg = dataclasses.replace(demo_config, clusters=dataclasses.replace(demo_config.clusters, enabled=False))
    res = pipeline.run_years(cfg, [2021, 2022])
    run = res.meta["years"]
    v = run.verdicts.xs(2021, level="year")
    ref = demo_result.evaluation.verdicts.reindex(v.index)
    assert (v["disposal"] == ref["disposal"]).all() and (v["grade"] == ref["grade"]).all()
    flags = run.parcels.xs(2021, level="year")["low_efficiency"]
    assert (flags == demo_result.parcels["low_efficiency"].reindex(flags.index)).all()
    assert run.blocks.loc[2021, "n_blocks"] == len(demo_result.blocks)
    counts = res.parcels["change"].value_counts()
    # every parcel low in exactly one of the two years is newly low or recovered
    low21 = flags.to_numpy()
    low22 = res.parcels["low_efficiency"].reindex(flags.index).to_numpy()
    assert counts.get("newly_low", 0) == int((low22 & ~low21).sum())
    assert counts.get("recovered", 0) + counts.get("no_data_now", 0) == int((low21 & ~low22).sum())
    assert counts.get("still_low", 0) == int((low21 & low22).sum())

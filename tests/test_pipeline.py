"""End to end on the sample county: every row accounted for, land and money conserved, outputs readable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
import pytest

from gisefficiency.core.constants import M2_PER_MU


def test_every_parcel_row_has_a_status(demo_result, sample_dir):
    raw = pyogrio.read_dataframe(sample_dir / "parcels.gpkg", layer="parcels", read_geometry=False)
    parcels = demo_result.parcels
    # The one duplicated id is resolved by keep_first, so one row fewer, and it is reported.
    assert len(parcels) == raw["地块编号"].nunique()
    assert parcels["status"].notna().all()
    assert set(parcels["status"].str.split(":").str[0]) <= {"ok", "excluded"}


def test_land_is_conserved_from_parcels_to_firms(demo_result):
    parcels = demo_result.parcels
    shares = demo_result.links.shares
    with_firms = parcels.index[parcels["n_firms"] > 0]
    per_parcel = shares.groupby("parcel_id")["land_mu"].sum().reindex(with_firms)
    np.testing.assert_allclose(per_parcel.to_numpy(), parcels.loc[with_firms, "land_mu"].to_numpy(), rtol=1e-9)
    firms = demo_result.firms
    assert firms["land_mu"].sum() == pytest.approx(shares["land_mu"].sum(), rel=1e-9)


def test_area_mu_is_exact_fraction(demo_result):
    p = demo_result.parcels[demo_result.parcels["status"] == "ok"]
    np.testing.assert_allclose(p["area_mu"], p.geometry.area / M2_PER_MU, rtol=1e-12)


def test_tax_is_conserved_from_firms_to_parcels(demo_result):
    year = demo_result.year
    panel = demo_result.meta["parcel_panel"]
    parcel_tax = panel.xs(year, level="year")["tax"].sum()
    firms = demo_result.firms
    linked = firms[firms["link_status"] == "linked"]
    assert parcel_tax == pytest.approx(linked["own_tax"].sum(), rel=1e-9)


def test_every_firm_has_a_link_status_and_a_verdict(demo_result, sample_dir):
    firms = demo_result.firms
    assert firms.index.is_unique
    assert firms["link_status"].notna().all()
    linked = firms[firms["link_status"] == "linked"]
    assert linked["grade"].isin(["A", "B", "C", "D", "N"]).all()
    assert demo_result.with_reasons(linked)["reason_zh"].notna().all()


def test_blocks_cover_only_low_efficiency_or_kept_parcels(demo_result):
    p = demo_result.parcels
    in_block = p[p["block_id"].notna()]
    assert len(demo_result.blocks) > 0
    roles = in_block["block_role"]
    assert in_block.loc[roles == "low", "low_efficiency"].all()
    sums = in_block[roles == "low"].groupby("block_id")["land_mu"].sum()
    blocks = demo_result.blocks
    kept = blocks.get("kept_mu", 0)
    np.testing.assert_allclose(sums.reindex(blocks.index), (blocks["area_mu"] - kept), rtol=1e-9)


def test_results_gpkg_has_three_layers_readable_by_both_engines(demo_outputs):
    import fiona

    path = demo_outputs["results"]
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"parcels", "firms", "blocks"} <= layers
    with fiona.open(path, layer="blocks") as src:
        assert len(src) > 0
        assert "area_mu" in src.schema["properties"]
    parcels = pyogrio.read_dataframe(path, layer="parcels")
    assert parcels.crs.to_epsg() == 4549
    for col in ("parcel_id", "area_mu", "n_firms", "tax_per_mu", "low_efficiency", "block_id"):
        assert col in parcels.columns
    firms = pyogrio.read_dataframe(path, layer="firms")
    for col in ("uscc", "name", "land_mu", "tax_per_mu", "grade", "disposal", "disposal_zh", "reason_zh"):
        assert col in firms.columns
    assert firms["name"].str.contains("有限公司|厂|公司").any()  # Chinese text survives


def test_scenarios_written_and_compared(demo_result):
    assert len(demo_result.scenarios) == 2
    first = demo_result.scenarios[0].summary
    assert first["freed_mu"] > 0
    assert demo_result.parcels["in_scenario"].sum() > 0


def test_missing_tax_is_never_zero(demo_result):
    panel = demo_result.panel
    missing_tax = panel["tax"].isna()
    assert panel.loc[missing_tax, "tax_per_mu"].isna().all()
    assert not np.isinf(panel.select_dtypes("number").to_numpy(dtype=float, na_value=np.nan)).any()


def test_result_frames_are_indexed_by_id(demo_result):
    assert demo_result.parcels.index.name == "parcel_id"
    assert demo_result.firms.index.name == "uscc"
    assert isinstance(demo_result.panel.index, pd.MultiIndex)


def _has_jemalloc() -> bool:
    import pyarrow as pa

    return "jemalloc" in pa.supported_memory_backends()


@pytest.mark.skipif(not _has_jemalloc(), reason="pyarrow built without jemalloc")
def test_arrow_memory_pool_is_jemalloc_inside_and_restored_after(monkeypatch):
    import pyarrow as pa

    from gisefficiency.pipeline import arrow_memory_pool

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError, match="inside"), arrow_memory_pool():
        assert pa.default_memory_pool().backend_name == "jemalloc"
        # Buffers made inside come from jemalloc, and stay valid after the switch back.
        kept = pa.array(["地块"] * 1000)
        raise RuntimeError("stage failed inside")
    assert pa.default_memory_pool().backend_name == before
    assert kept[0].as_py() == "地块"


def test_arrow_memory_pool_leaves_a_pool_chosen_by_the_user(monkeypatch):
    import pyarrow as pa

    from gisefficiency.pipeline import arrow_memory_pool

    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool().backend_name
    with arrow_memory_pool():
        assert pa.default_memory_pool().backend_name == before


@pytest.mark.skipif(not _has_jemalloc(), reason="pyarrow built without jemalloc")
def test_arrow_memory_pool_nested_blocks_restore_once_at_the_end(monkeypatch):
    import pyarrow as pa

    from gisefficiency.pipeline import arrow_memory_pool

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    original = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        outer = arrow_memory_pool()
        inner = arrow_memory_pool()
        outer.__enter__()
        inner.__enter__()
        # The outer block leaves first (as a run in another thread may): the inner one keeps jemalloc.
        outer.__exit__(None, None, None)
        assert pa.default_memory_pool().backend_name == "jemalloc"
        inner.__exit__(None, None, None)
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(original)


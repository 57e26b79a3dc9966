"""FirmReasons: the firms' reasons written once for results.gpkg and firms.csv, the parcels' taken from them."""

from __future__ import annotations

import pandas as pd
import pyogrio
import pytest

from gisefficiency.io import output
from gisefficiency.io.output import FirmReasons
from gisefficiency.result import Result


@pytest.mark.parametrize("lang", ["zh", "en", None])
def test_parcel_and_firm_reasons_are_those_result_writes(demo_result, lang):
    reasons = FirmReasons(demo_result, lang=lang)
    pd.testing.assert_frame_equal(reasons.firms(), demo_result.with_reasons(demo_result.firms, lang=lang or "both"))
    pd.testing.assert_frame_equal(reasons.parcels(),
                                  demo_result.with_reasons(demo_result.parcels, lang=lang or "both"))
    assert reasons.firms() is reasons.firms()  # written once


def test_a_main_firm_missing_from_the_firms_writes_the_parcels_reasons(demo_result):
    linked = demo_result.parcels["main_uscc"].dropna()
    dropped = linked.iloc[0]
    partial = Result(**{**demo_result.__dict__, "firms": demo_result.firms.drop(index=dropped)})
    parcels = FirmReasons(partial, lang="zh").parcels()
    expected = demo_result.with_reasons(demo_result.parcels, lang="zh")
    pd.testing.assert_frame_equal(parcels, expected)  # the dropped firm's parcels keep their reason
    assert parcels.loc[linked.index[0], "reason_zh"] == expected.loc[linked.index[0], "reason_zh"]


def test_write_outputs_writes_the_firms_reasons_once(demo_result, tmp_path, monkeypatch):
    calls: list[tuple[str, int]] = []
    original = Result.with_reasons

    def counted(self, frame, *, lang="zh"):
        calls.append((frame.index.name, len(frame)))
        return original(self, frame, lang=lang)

    monkeypatch.setattr(Result, "with_reasons", counted)
    written = output.write_outputs(demo_result, tmp_path, lang="zh")
    monkeypatch.undo()
    # results.gpkg and firms.csv share one call for all firms (the workbook asks for the rows it lists, fewer);
    # the parcels' reasons are taken from their main firms'
    assert calls.count(("uscc", len(demo_result.firms))) == 1
    assert "parcel_id" not in {name for name, _ in calls}, calls
    gpkg = pyogrio.read_dataframe(written["results"], layer="parcels", read_geometry=False)
    expected = demo_result.with_reasons(demo_result.parcels, lang="zh")["reason_zh"]
    assert gpkg["reason_zh"].fillna("").tolist() == expected.fillna("").tolist()
    csv = pd.read_csv(written["firms_csv"], encoding="utf-8-sig", dtype=str)
    firms = demo_result.with_reasons(demo_result.firms, lang="zh")["reason_zh"]
    assert csv["reason_zh"].fillna("").tolist() == firms.fillna("").tolist()

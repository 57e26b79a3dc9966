"""The README's figures for the sample county are the demo run's (they went stale once)."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.fixture(scope="module")
def readme() -> str:
    return " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())  # one line: sentences wrap


def test_sample_county_line_matches_the_demo(readme, demo_result):
    line = re.search(r"On the sample county \(2021, suichang-2022\): (.*?contiguous blocks)", readme)
    assert line, "the README's 'On the sample county' line is gone"
    text = line.group(1)
    found = {
        "parcels": re.search(r"([\d,]+) parcels", text), "mu": re.search(r"([\d,]+) mu", text),
        "firms": re.search(r"([\d,]+) firms", text), "blocks": re.search(r"([\d,]+) contiguous blocks", text),
    }
    grades = dict(re.findall(r"\b([ABCD]|not graded) ([\d,]+)", text))
    disposal = dict(re.findall(r"\b(close|swap|upgrade) ([\d,]+)", text))
    separate = re.search(r"([\d,]+) foundry and chemical firms", text)
    if separate:
        disposal["separate"] = separate.group(1)
    p, f = demo_result.parcels, demo_result.firms
    assert _number(found["parcels"].group(1)) == len(p)
    assert _number(found["mu"].group(1)) == round(p["land_mu"].sum())
    assert _number(found["firms"].group(1)) == len(f)
    assert _number(found["blocks"].group(1)) == len(demo_result.blocks)
    counts = f["grade"].value_counts()
    assert {k: _number(v) for k, v in grades.items()} == {
        **{g: counts.get(g, 0) for g in "ABCD"}, "not graded": counts.get("N", 0)}
    counts = f["disposal"].value_counts()
    assert {k: _number(v) for k, v in disposal.items()} == {
        c: counts.get(c, 0) for c in ("close", "swap", "upgrade", "separate")}


def test_worked_example_block_count_matches_the_demo(readme, demo_result):
    found = re.search(r"`\[blocks\] gap_m = 30, min_area_mu = 50` gives (\d+) blocks", readme)
    assert found and int(found.group(1)) == len(demo_result.blocks)

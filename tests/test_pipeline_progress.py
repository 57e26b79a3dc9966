"""Progress reported by the stages: a fake step records each stage and the counts its advance gets."""

from __future__ import annotations

import contextlib

import pytest
from typer.testing import CliRunner

from gisefficiency import pipeline
from gisefficiency.cli import app, total_line


class Recorder:
    """A ``step`` for :func:`pipeline.run`: records labels and every ``advance(done, total)`` per label."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self.counts: dict[str, list[tuple[int, int]]] = {}

    @contextlib.contextmanager
    def __call__(self, label: str):
        self.labels.append(label)
        self.counts[label] = []
        yield lambda done, total: self.counts[label].append((done, total))


@pytest.fixture(scope="module")
def recorded(demo_config, tmp_path_factory):
    step = Recorder()
    result = pipeline.run(demo_config, step=step)
    with step("write") as progress:
        pipeline.write_all(result, demo_config, out_dir=tmp_path_factory.mktemp("progress"), maps=False,
                           progress=progress)
    return step


def _label(step: Recorder, start: str) -> str:
    return next(label for label in step.labels if label.startswith(start))


def test_every_stage_is_wrapped_once_in_order(recorded):
    starts = ["读取数据", "企业关联地块", "亩均指标", "综合评价", "建筑高度", "低效用地", "地块汇总", "企业汇总",
              "集中连片", "空间聚类", "栅格图层", "情景测算", "write"]
    positions = [recorded.labels.index(_label(recorded, s)) for s in starts]
    assert positions == sorted(positions)
    assert len(set(recorded.labels)) == len(recorded.labels)


def test_clusters_count_parcels_up_to_the_total(recorded):
    counts = recorded.counts[_label(recorded, "空间聚类")]
    assert len(counts) >= 2
    dones, totals = zip(*counts, strict=True)
    assert list(dones) == sorted(dones)
    assert len(set(totals)) == 1
    # Counting starts at zero and the last call says all are done.
    assert dones[0] == 0
    assert dones[-1] == totals[-1] > 0


def test_reading_counts_its_parts_up_to_the_total(recorded):
    counts = recorded.counts[_label(recorded, "读取数据")]
    assert counts[-1] == (4, 4)  # firm table, parcels, land rows, land area
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)


def test_rasters_count_layers_up_to_the_total(recorded):
    counts = recorded.counts[_label(recorded, "栅格图层")]
    # the parcel index, four metrics (tax_per_mu, grade, disposal, block_id) and the density surface
    assert counts == [(k, 6) for k in range(7)]


def test_writing_counts_groups_of_outputs_up_to_the_total(recorded):
    # maps=False: one count per writer: results.gpkg, 清单.xlsx, the CSVs, the ledger (on by default), the rasters
    # (the demo has [raster]), years and prices.
    assert recorded.counts["write"] == [(done, 6) for done in range(7)]


def test_total_line_in_seconds_and_minutes():
    assert total_line(9.04) == "总计 / total 9.0 s"
    assert total_line(83.456) == "总计 / total 83.5 s (1 min 23 s)"


def test_cli_run_ends_with_the_total_time(sample_dir, tmp_path):
    res = CliRunner().invoke(app, ["run", str(sample_dir / "demo.toml"), "--no-map", "--out", str(tmp_path)],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "✓ 空间聚类 / statistical clusters" in res.output
    assert "✓ 写出结果 / writing outputs" in res.output
    assert "总计 / total " in res.output

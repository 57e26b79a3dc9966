"""report.pdf: printed by headless Chromium when one is installed, one clear log line when not."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

import pytest
from browser import CHROMIUM, chromium_available

from gisefficiency.io.output import write_report_pdf


def _page(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    path.write_text("<!DOCTYPE html><html><body><h1>报告</h1><p>一页</p>"
                    '<img src="https://example.invalid/x.png"></body></html>', encoding="utf-8")
    return path


def test_no_engine_writes_nothing_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("GISEFFICIENCY_CHROMIUM", raising=False)
    with caplog.at_level(logging.INFO, logger="gisefficiency.io.output"):
        assert write_report_pdf(_page(tmp_path)) is None
    assert not (tmp_path / "report.pdf").exists()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert re.match(r"report\.pdf not written: no Chromium/Chrome found \(chromium, .*\) -> install chromium, "
                    r"or set GISEFFICIENCY_CHROMIUM, or print report\.html from a browser", lines[0])


def test_failing_engine_is_reported_and_leaves_no_file(tmp_path, caplog):
    fake = tmp_path / "fake-chrome"
    fake.write_text("#!/bin/sh\necho 'cannot print' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with caplog.at_level(logging.WARNING, logger="gisefficiency.io.output"):
        assert write_report_pdf(_page(tmp_path), engine=str(fake)) is None
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".pdf"] == []
    assert re.search(r"report\.pdf not written: .*fake-chrome exited with 3 \(cannot print\)", caplog.text)


@pytest.mark.browser
@pytest.mark.skipif(not chromium_available(), reason=f"Chromium not found at {CHROMIUM}")
def test_chromium_prints_an_a4_pdf_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("GISEFFICIENCY_CHROMIUM", CHROMIUM)
    out = write_report_pdf(_page(tmp_path), tmp_path / "out" / "报告.pdf")
    assert out == tmp_path / "out" / "报告.pdf"
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 1
    assert os.listdir(tmp_path / "out") == ["报告.pdf"]  # no temporary file left behind


def test_config_switch_and_its_check():
    from gisefficiency.config import config_from_dict
    from gisefficiency.core.errors import ConfigError

    assert config_from_dict({}).output.pdf is True
    assert config_from_dict({"output": {"pdf": False}}).output.pdf is False
    with pytest.raises(ConfigError, match=r"\[output\] pdf = 'yes': must be true or false"):
        config_from_dict({"output": {"pdf": "yes"}})


def test_write_all_prints_only_when_asked(demo_result, demo_config, tmp_path, monkeypatch):
    from dataclasses import replace

    from gisefficiency import pipeline
    from gisefficiency.io import output

    calls: list[Path] = []
    monkeypatch.setattr(output, "write_report_pdf", lambda html: calls.append(html) or html.with_suffix(".pdf"))
    off = replace(demo_config, output=replace(demo_config.output, pdf=False))
    written = pipeline.write_all(demo_result, off, out_dir=tmp_path, pdf=None)
    assert calls == [] and "report_pdf" not in written
    written = pipeline.write_all(demo_result, off, out_dir=tmp_path, pdf=True)  # the CLI's switch wins
    assert calls == [tmp_path / "report.html"] and written["report_pdf"] == tmp_path / "report.pdf"

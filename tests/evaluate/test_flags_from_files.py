"""Every flag a shipped preset reads, written as bureaus write yes/no, read from a file and acted on.

The firm table below holds, for each flag, four firms that differ only in that flag: a pair with a
high tax per mu (where a close/swap flag changes the disposal) and a pair with a tax per mu below every
threshold (where an exemption or a not-graded flag changes the verdict). The other flags of those
firms are left empty (unknown), so only the flag under test can change anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import openpyxl
import pandas as pd
import pytest
from _evaluate_fixtures import make_links

from gisefficiency.core.schema import ALIASES, READ_FLAG_COLUMNS
from gisefficiency.core.uscc import uscc_check_digit
from gisefficiency.evaluate.policy import Policy, list_presets, load_preset
from gisefficiency.evaluate.rules import Condition, Flag, NotProducingBy, walk
from gisefficiency.evaluate.verdicts import evaluate
from gisefficiency.io.tables import check_firms, read_firms
from gisefficiency.metrics.indicators import unit_metrics

#: (true, false) spellings; in .xlsx, 1/0 are number cells and True/False boolean cells.
STYLES: dict[str, tuple[object, object]] = {
    "是/否": ("是", "否"), "1/0": (1, 0), "True/False": (True, False), "Y/N": ("Y", "N"),
    "√/×": ("√", "×"), "有/无": ("有", "无"),
}
#: Flags the link stage sets (a tenant is a firm on another holder's land), never read from a file.
LINK_FLAGS = {"tenant"}
YEARS = (2018, 2019, 2020, 2021)
LAND_MU = 20.0
TAX_PER_MU = {"H": 100.0, "L": 0.5}  # above every preset's thresholds / below every one


def conditions(policy: Policy) -> Iterator[Condition]:
    """Every condition of a preset: scoring rules, scope, exemptions, disposal rules and extra flags."""
    if policy.scoring is not None:
        yield from (g.when for g in (*policy.scoring.not_graded, *policy.scoring.overrides))
        yield from (a.when for a in policy.scoring.adjustments if a.when is not None)
    if policy.disposal is not None:
        if policy.disposal.scope is not None:
            yield policy.disposal.scope
        yield from (e.when for e in policy.disposal.exempt)
        yield from (r.when for r in policy.disposal.rules)
    yield from (f.when for f in policy.flags)


def flags_read(policy: Policy) -> set[str]:
    """The yes/no columns a preset's conditions read (``not_producing_by`` reads ``in_production``)."""
    out: set[str] = set()
    for cond in conditions(policy):
        for node in walk(cond):
            if isinstance(node, Flag):
                out.add(node.column)
            elif isinstance(node, NotProducingBy):
                out.add("in_production")
    return out - LINK_FLAGS


PRESETS = {p.name: load_preset(p.name) for p in list_presets()}
FLAGS = sorted(set().union(*(flags_read(p) for p in PRESETS.values())))


def chinese_header(flag: str) -> str:
    return next(h for h, name in ALIASES.items() if name == flag and not h.isascii())


def firm_id(flag: str, level: str, value: bool) -> str:
    body = f"9133{FLAGS.index(flag):02d}{'HL'.index(level)}{int(value)}MA2AB1234"[:17]
    return body + uscc_check_digit(body)


def table(style: str) -> list[list[object]]:
    """Header and rows: one row per firm and year."""
    header = ["统一社会信用代码", "企业名称", "年度", "实缴税金（万元）", "规模", "供地日期",
              *(chinese_header(f) for f in FLAGS)]
    rows = []
    for flag in FLAGS:
        for level in "HL":
            for value in (True, False):
                cells = [STYLES[style][not value] if f == flag else None for f in FLAGS]
                rows += [[firm_id(flag, level, value), f"{flag}-{level}-{value}", year,
                          TAX_PER_MU[level] * LAND_MU, "规下", "2015-03-01", *cells] for year in YEARS]
    return [header, *rows]


def write(path, rows: list[list[object]]) -> None:
    if path.suffix == ".xlsx":
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)
    else:
        pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False, encoding="utf-8-sig")


def test_every_flag_a_preset_reads_has_a_column_and_a_chinese_header():
    assert set(FLAGS) <= set(READ_FLAG_COLUMNS), set(FLAGS) - set(READ_FLAG_COLUMNS)
    # The presets read the Suichang flags and the zhejiang exemptions at least.
    assert {"zombie", "auction_non_industrial", "high_tech", "tech_sme", "public_welfare", "in_production"} <= set(FLAGS)
    for flag in READ_FLAG_COLUMNS:
        assert chinese_header(flag)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("style", list(STYLES))
def test_flags_in_every_style_fire_their_rules(tmp_path, style, suffix):
    path = tmp_path / f"firms{suffix}"
    write(path, table(style))
    firms = read_firms(path)
    for flag in FLAGS:
        assert firms[flag].dtype == "boolean"
        for level in "HL":
            for value in (True, False):
                got = firms.loc[firms["uscc"] == firm_id(flag, level, value), flag]
                assert got.tolist() == [value] * len(YEARS), (flag, level, value)
        others = firms.loc[~firms["name"].str.startswith(f"{flag}-"), flag]
        assert others.isna().all()  # an empty cell is unknown, not "no"

    ids = sorted(firms["uscc"].unique())
    links = make_links([(u, f"P{u}", "own", LAND_MU) for u in ids], ids)
    panel = unit_metrics(firms, links)
    for name, policy in PRESETS.items():
        verdicts = evaluate(panel, policy, year=2021, links=links).verdicts
        grades = verdicts["grade"].eq("N")
        for flag in flags_read(policy):
            changed = False
            for level in "HL":
                yes, no = firm_id(flag, level, True), firm_id(flag, level, False)
                for column in ("disposal", "exempt", "low_efficiency"):
                    changed |= verdicts.at[yes, column] != verdicts.at[no, column]
                changed |= bool(grades[yes] != grades[no])
            assert changed, f"{name}: flag {flag!r} written {style} in {suffix} changes no verdict"


def test_suichang_close_and_swap_flags_from_a_file(tmp_path):
    """Hand-checked against the preset: zombie → close, auction_non_industrial → swap, 否 in production
    on land supplied before 2018 → swap; the unflagged twins (100 万元/亩 on 20 mu, 规下) → upgrade."""
    path = tmp_path / "firms.csv"
    write(path, table("是/否"))
    firms = read_firms(path)
    ids = sorted(firms["uscc"].unique())
    panel = unit_metrics(firms, make_links([(u, f"P{u}", "own", LAND_MU) for u in ids], ids))
    ev = evaluate(panel, PRESETS["suichang-2022"], year=2021)
    v = ev.verdicts.join(ev.reasons("zh"))
    assert v.at[firm_id("zombie", "H", True), "disposal"] == "close"
    assert v.at[firm_id("zombie", "H", False), "disposal"] == "upgrade"
    assert v.at[firm_id("auction_non_industrial", "H", True), "disposal"] == "swap"
    assert v.at[firm_id("in_production", "H", False), "disposal"] == "swap"
    assert v.at[firm_id("in_production", "H", True), "disposal"] == "upgrade"
    assert "僵尸" in v.at[firm_id("zombie", "H", True), "reason_zh"]


def test_an_unreadable_flag_is_an_error_naming_its_cell(tmp_path):
    rows = table("是/否")
    rows[1][rows[0].index(chinese_header("zombie"))] = "也许"
    path = tmp_path / "firms.csv"
    write(path, rows)
    errors = [p for p in check_firms(path) if p.severity == "error"]
    assert len(errors) == 1
    assert errors[0].row == 2 and errors[0].column == chinese_header("zombie") and errors[0].value == "也许"
    assert "是/否" in errors[0].message
    with pytest.raises(Exception, match="1 problem"):
        read_firms(path)


def test_parquet_booleans_and_numbers_are_flags(tmp_path):
    rows = table("1/0")
    frame = pd.DataFrame(rows[1:], columns=rows[0])
    zombie = chinese_header("zombie")
    frame[zombie] = frame[zombie].astype("boolean")
    frame[chinese_header("high_tech")] = frame[chinese_header("high_tech")].astype("Float64")
    path = tmp_path / "firms.parquet"
    frame.to_parquet(path)
    firms = read_firms(path)
    assert firms["zombie"].dtype == "boolean" and firms["high_tech"].dtype == "boolean"
    np.testing.assert_array_equal(
        firms.loc[firms["uscc"] == firm_id("high_tech", "L", True), "high_tech"].to_numpy(bool), [True] * 4)

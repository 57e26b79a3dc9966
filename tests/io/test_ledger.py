"""io.ledger: the 台账 workbook round trip, its layout, and the errors a returned ledger can have."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from _ledger_fixtures import fake_result
from openpyxl import load_workbook

from gisefficiency.core.errors import InputError
from gisefficiency.io.ledger import read_ledger, write_ledger, write_ledger_table
from gisefficiency.ledger import update

FIRMS = {
    "913308270000000001": {"name": "甲厂", "parcels": ["330827-001-0001"], "disposal": "close", "tax_per_mu": 0.5},
    "91330827MA2A00002X": {"name": "乙厂", "parcels": ["330827-001-0002"], "disposal": "swap", "tax_per_mu": 2.0},
}


@pytest.fixture
def ledger():
    led = update(None, fake_result(2022, FIRMS))
    led["认定日期"] = [pd.Timestamp("2022-05-06"), None]
    return led


def test_round_trip_keeps_text_ids_and_staff_columns(ledger, tmp_path):
    ledger = ledger.assign(联系人=["张三", None])
    path = write_ledger(ledger, tmp_path / "台账.xlsx", year=2022)
    back = read_ledger(path)
    assert list(back["uscc"]) == list(ledger["uscc"])  # an all-digit USCC stays text, no 9.13e17
    assert back.loc[0, "uscc"] == "913308270000000001" or back.loc[1, "uscc"] == "913308270000000001"
    assert list(back["parcel_ids"]) == list(ledger["parcel_ids"])
    assert list(back["联系人"].fillna("")) == ["张三", ""]
    assert list(back["first_year"]) == [2022, 2022]
    assert back["tax_per_mu_2022"].tolist() == pytest.approx(ledger["tax_per_mu_2022"].tolist())


def test_workbook_layout(ledger, tmp_path):
    path = write_ledger(ledger, tmp_path / "台账.xlsx", year=2022)
    wb = load_workbook(path)
    assert wb.sheetnames == ["台账", "匹配情况", "说明"]
    ws = wb["台账"]
    headers = [c.value for c in ws[1]]
    assert headers[:6] == ["统一社会信用代码", "企业名称", "地块编号", "乡镇（街道）", "当前类别", "状态"]
    assert "2022年类别" in headers and "2022年亩均税收（万元/亩）" in headers
    assert ws.freeze_panes == "C2" and ws.auto_filter.ref
    fills = {c.value: c.fill.start_color.rgb[-6:] for c in ws[1]}
    assert fills["责任单位"] == "FFF2CC" and fills["状态"] == "DDEBF7" and fills["设备搬离期限"] == "E2EFDA"
    assert ws.cell(row=1, column=headers.index("责任单位") + 1).comment is not None
    uscc_cell = ws.cell(row=2, column=1)
    assert isinstance(uscc_cell.value, str) and uscc_cell.number_format == "@"


def test_title_row_and_resorted_rows_are_read(ledger, tmp_path):
    path = write_ledger(ledger, tmp_path / "台账.xlsx", year=2022)
    wb = load_workbook(path)
    ws = wb["台账"]
    ws.insert_rows(1)
    ws.cell(row=1, column=1, value="2022年度低效企业台账（经济商务局）")
    wb.save(path)
    back = read_ledger(path)
    assert sorted(back["uscc"]) == sorted(ledger["uscc"])


def test_gpkg_table(ledger, tmp_path):
    import pyogrio

    gpkg = tmp_path / "results.gpkg"
    write_ledger_table(ledger, gpkg)
    back = pyogrio.read_dataframe(gpkg, layer="ledger")
    assert len(back) == 2 and list(back["uscc"]) == list(ledger["uscc"])


def _edit(path, row, column_header, value):
    wb = load_workbook(path)
    ws = wb["台账"]
    col = [c.value for c in ws[1]].index(column_header) + 1
    ws.cell(row=row, column=col, value=value)
    wb.save(path)


def test_missing_file_names_the_key(tmp_path):
    with pytest.raises(InputError, match=r"台账_2022.xlsx: ledger file not found -> check \[ledger\] previous"):
        read_ledger(tmp_path / "台账_2022.xlsx")


def test_no_uscc_header(ledger, tmp_path):
    path = write_ledger(ledger, tmp_path / "台账.xlsx", year=2022)
    _edit(path, 1, "统一社会信用代码", "信用代码")
    with pytest.raises(InputError, match=r"has no column '统一社会信用代码'"):
        read_ledger(path)


def test_duplicate_uscc_and_bad_status_name_rows(ledger, tmp_path):
    path = write_ledger(ledger, tmp_path / "台账.xlsx", year=2022)
    first = load_workbook(path)["台账"].cell(row=2, column=1).value
    _edit(path, 3, "统一社会信用代码", first)
    _edit(path, 2, "状态", "整改中")
    with pytest.raises(InputError, match=r"3 problem\(s\)") as info:
        read_ledger(path)
    rows = sorted((p.row, p.message) for p in info.value.problems)
    assert rows == [(2, "USCC on more than one row"), (2, "unknown status '整改中'"), (3, "USCC on more than one row")]


def test_staff_cells_keep_their_types_and_the_columns_their_formats(ledger, tmp_path):
    import datetime as dt

    ledger = ledger.assign(备注=["改造中", 3], 认定日期=[pd.Timestamp("2022-05-06"), "待定"])
    path = write_ledger(ledger, tmp_path / "台账.xlsx", year=2022)
    ws = load_workbook(path)["台账"]
    headers = [c.value for c in ws[1]]

    def cell(row, header):
        return ws.cell(row=row, column=headers.index(header) + 1)

    assert cell(2, "认定日期").value == dt.datetime(2022, 5, 6) and cell(2, "认定日期").number_format == "yyyy-mm-dd"
    assert cell(3, "认定日期").value == "待定"
    assert cell(2, "备注").value == "改造中" and cell(3, "备注").value == 3
    taxes = [cell(r, "2022年亩均税收（万元/亩）") for r in (2, 3)]
    assert sorted(c.value for c in taxes) == [0.5, 2.0] and {c.number_format for c in taxes} == {"0.0000"}
    assert ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=len(headers)).column_letter}3"
    back = read_ledger(path)
    assert sorted(back["备注"].astype(str)) == ["3", "改造中"]


# --- the cells of object columns, through Arrow: the same XML as the per-value writer --------------------------

_MIXED = [
    "甲厂", " 前空格", "后空格 ", "\u3000全角空格", "不换行\xa0", "a<b>&c", "\x01控制符", "", None, float("nan"),
    pd.NA, pd.NaT, 3, 2.5, 3.0, -0.0, 1e16, 1e-5, float("inf"), True, np.True_, np.int64(7), np.float64(12.5),
    np.float32(1.5), dt.datetime(2022, 5, 6), dt.datetime(2022, 5, 6, 13, 5, 1, 123), dt.date(2021, 1, 1),
    pd.Timestamp("2020-01-01 10:00"), np.datetime64("2020-02-02"), np.str_("np"),
]


@pytest.mark.parametrize("style", [None, 3])
def test_object_cells_are_the_per_value_writers_cells(style):
    from gisefficiency.io.ledger import _object_cells
    from gisefficiency.io.workbook import _mixed_cells

    values = pd.Series(_MIXED * 3, dtype=object)  # repeated: dates and numbers are formatted once per value
    fast = _object_cells(values, "C", style=style, date_style=5)
    slow = _mixed_cells(values, "C", style=style, date_style=5)
    assert fast[1:] == slow[1:]
    assert fast[0].to_pylist() == slow[0].to_pylist()


def test_object_cells_by_hand():
    from gisefficiency.io.ledger import _object_cells

    body, tail, letter = _object_cells(pd.Series(["甲", "\u3000乙", None, 3.0, 1e16, 4, ""], dtype=object), "B",
                                       style=None, date_style=None)
    assert (tail, letter) == ('"', "B")
    assert body.to_pylist() == [
        ' t="inlineStr"><is><t>甲</t></is></c>', ' t="inlineStr"><is><t xml:space="preserve">\u3000乙</t></is></c>',
        None, "><v>3.0</v></c>", "><v>1e+16</v></c>", "><v>4</v></c>", ' t="inlineStr"><is><t></t></is></c>']


def test_float_reprs_are_pythons():
    from gisefficiency.io.ledger import _float_reprs

    values = np.array([3.0, 12.5, 0.1 + 0.2, 1e16, 1e-5, 1e-4, -0.0, 0.0, 123456789012.5, np.nan, np.inf])
    assert _float_reprs(values).to_pylist() == [
        "3.0", "12.5", "0.30000000000000004", "1e+16", "1e-05", "0.0001", "-0.0", "0.0", "123456789012.5", None, None]


def test_gpkg_text_of_object_columns():
    from gisefficiency.io.ledger import _as_text, _cell

    values = pd.Series(_MIXED * 2, dtype=object)
    text = _as_text(values)
    assert text.dtype == "string"
    assert text.iloc[:3].tolist() == ["甲厂", " 前空格", "后空格 "]
    assert text.isna().tolist()[7:12] == [False, True, True, True, True]  # "" stays text, the rest missing
    assert text.iloc[12:15].tolist() == ["3", "2.5", "3.0"]
    assert text.iloc[24] == "2022-05-06 00:00:00"
    # the same as the one-value-at-a-time conversion it replaces
    pd.testing.assert_series_equal(text, values.map(lambda v: None if _cell(v) is None else str(_cell(v)))
                                   .astype("string"))
    pd.testing.assert_series_equal(_as_text(pd.Series(["a", None, np.nan], dtype=object)),
                                   pd.Series(["a", None, None], dtype="string"))

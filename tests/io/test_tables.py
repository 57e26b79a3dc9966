"""Reading firm tables and land rows: formats, header search, aliases, layouts, values, units, problems."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlwt
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import ConfigError, InputError
from gisefficiency.core.uscc import uscc_check_digit
from gisefficiency.io.columns import alias_lookup, header_unit, match_wide_header, normalise_header
from gisefficiency.io.tables import check_firms, check_land, inspect_firms, read_firms, read_land
from gisefficiency.io.values import parse_dates, parse_flags, parse_numbers, parse_years


def uscc(prefix: str) -> str:
    return prefix + uscc_check_digit(prefix)


A, B, C = uscc("91330300MA2AB1234"), uscc("91330300MA2AB1235"), uscc("913303007109876543"[:17])
BAD = A[:17] + ("0" if A[17] != "0" else "1")
TITLE = ["XX县2021年度工业企业亩均效益评价数据（单位：万元）"]
HEADER = ["序号", "统一社会信用代码", "企业名称", "年度", "实缴税金（万元）", "工业增加值", "是否规上",
          "综合能耗（吨标准煤）", "投产日期", "高新技术企业"]
ROWS = [
    [1, f" {A.lower()} ", "甲机械有限公司", "2021年", "1,234.5", 300, "规上", None, "2019/5/1", "是"],
    [2, B, "乙汽配厂", 2021, "—", 200, "规下", 5, 43586, None],
    [3, BAD, "丙电气", 2021, -3, "无", "规上", 5.5, "2019年5月1日", "否"],
    [4, None, "丁公司", 2021, 10, 20, "规下", 1, dt.datetime(2020, 1, 2), "√"],
]


def write_xlsx(path, rows, *, title=True, sheet="评价数据"):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    if title:
        ws.append(TITLE)
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def write_xls(path, rows):
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("评价数据")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for i, row in enumerate([TITLE, *rows]):
        for j, value in enumerate(row):
            if isinstance(value, dt.datetime):
                ws.write(i, j, value, date_style)
            elif value is not None:
                ws.write(i, j, value)
    book.save(str(path))
    return path


def write_csv(path, rows, encoding):
    frame = pd.DataFrame(rows[1:], columns=rows[0])
    text = ",".join(TITLE) + "\n" + frame.to_csv(index=False)
    path.write_bytes(text.encode(encoding))
    return path


def check_standard(frame: pd.DataFrame, *, datetime_cell=True):
    assert list(frame.index) == [0, 1, 2, 3]
    assert frame["uscc"].tolist()[:3] == [A, B, BAD]
    assert pd.isna(frame["uscc"].iloc[3])
    assert frame["uscc_valid"].tolist() == [True, True, False, False]
    assert frame["src_row"].tolist() == [3, 4, 5, 6]  # Excel rows: title in row 1, header in row 2
    assert frame["year"].tolist() == [2021] * 4 and frame["year"].dtype == np.int64
    np.testing.assert_array_equal(frame["tax"], [1234.5, np.nan, -3.0, 10.0])
    np.testing.assert_array_equal(frame["value_added"], [300.0, 200.0, np.nan, 20.0])
    np.testing.assert_array_equal(frame["energy_tce"], [np.nan, 5.0, 5.5, 1.0])
    assert frame["scale"].tolist() == ["above", "below", "above", "below"]
    assert frame["high_tech"].dtype == "boolean"
    assert frame["high_tech"].tolist()[0] is True and frame["high_tech"].tolist()[2] is False
    assert pd.isna(frame["high_tech"].iloc[1]) and frame["high_tech"].iloc[3]
    dates = frame["production_date"].tolist()
    assert dates[:3] == [pd.Timestamp("2019-05-01")] * 3
    if datetime_cell:
        assert dates[3] == pd.Timestamp("2020-01-02")
    assert pd.api.types.is_datetime64_any_dtype(frame["production_date"])
    assert frame["name"].tolist() == ["甲机械有限公司", "乙汽配厂", "丙电气", "丁公司"]
    assert "序号" in frame  # unknown columns are kept


def test_xlsx_with_title_row(tmp_path):
    check_standard(read_firms(write_xlsx(tmp_path / "f.xlsx", [HEADER, *ROWS])))


def test_workbook_cells_are_read_as_text_from_cell_a1(tmp_path):
    """Rows and columns keep their Excel positions (a blank column A, blank rows on top); numbers, dates and
    flags come as the text Excel shows, ids typed as text stay as typed."""
    from gisefficiency.io import sheets

    book = openpyxl.Workbook()
    ws = book.active
    ws["C2"] = "标题"
    ws["B4"], ws["C4"], ws["D4"], ws["E4"] = "编号", "税金", "日期", "标志"
    ws["B5"], ws["C5"], ws["D5"], ws["E5"] = "001", 46.76, dt.datetime(2019, 5, 1), True
    ws["B6"], ws["C6"], ws["D6"], ws["E6"] = 913308272508170051, 2021, dt.datetime(2020, 1, 2, 8, 30), " 是 "
    book.save(tmp_path / "g.xlsx")
    grid = sheets.read_grid(tmp_path / "g.xlsx")
    cells = grid.cells
    assert cells.shape == (6, 5) and grid.first_row == 1 and grid.typed_text
    assert cells[0].isna().all() and cells.iloc[0].isna().all() and cells.iloc[1, 2] == "标题"
    assert cells.iloc[3].tolist()[1:] == ["编号", "税金", "日期", "标志"]
    assert cells.iloc[4].tolist()[1:] == ["001", "46.76", "2019-05-01 00:00:00", "true"]
    # An 18-digit number is a float in the file: the digits Excel keeps (as pandas' reader gave them).
    assert cells.iloc[5].tolist()[1:] == ["913308272508170112", "2021", "2020-01-02 08:30:00", " 是 "]


def test_typed_cells_give_workbook_numbers_and_dates_back():
    from gisefficiency.io.sheets import typed_cells

    text = pd.StringDtype("pyarrow", na_value=np.nan)
    numbers = typed_cells(pd.Series(["2", "-0.5", None, "100000000000000000000"], dtype=text))
    assert numbers.dtype == float and numbers.iloc[:2].tolist() == [2.0, -0.5] and np.isnan(numbers.iloc[2])
    assert numbers.iloc[3] == 1e20
    dates = typed_cells(pd.Series(["2019-05-01 00:00:00", None, "2020-01-02 08:30:00"], dtype=text))
    assert pd.api.types.is_datetime64_any_dtype(dates)
    assert dates.iloc[0] == pd.Timestamp("2019-05-01") and dates.iloc[2] == pd.Timestamp("2020-01-02 08:30")
    # Text typed by a person (a leading zero, a trailing zero, a space, a word) keeps the column text.
    for cells in (["001", "2"], ["2.50"], [" 2"], ["2", "无"], [None, None]):
        column = pd.Series(cells, dtype=text)
        assert typed_cells(column) is column


def test_extra_workbook_columns_keep_their_numbers_and_dates(tmp_path):
    rows = [["序号", "统一社会信用代码", "年度", "实缴税金", "备注", "登记日期"],
            [1, A, 2021, 1.5, "001", dt.datetime(2019, 5, 1)], [2, B, 2021, 2, "2", dt.datetime(2020, 1, 2)]]
    out = read_firms(write_xlsx(tmp_path / "x.xlsx", rows, title=False))
    assert out["序号"].dtype == float and out["序号"].tolist() == [1.0, 2.0]
    assert out["备注"].tolist() == ["001", "2"]  # text typed by a person stays text
    assert out["登记日期"].tolist() == [pd.Timestamp("2019-05-01"), pd.Timestamp("2020-01-02")]
    assert out["tax"].tolist() == [1.5, 2.0] and out["year"].tolist() == [2021, 2021]


def test_xls_written_by_xlwt(tmp_path):
    check_standard(read_firms(write_xls(tmp_path / "f.xls", [HEADER, *ROWS])))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings(tmp_path, encoding):
    rows = [HEADER, *[[*r[:8], r[8] if not isinstance(r[8], dt.datetime) else "2020-01-02", r[9]] for r in ROWS]]
    check_standard(read_firms(write_csv(tmp_path / "f.csv", rows, encoding)))


def test_parquet(tmp_path):
    frame = pd.DataFrame([[str(v) if v is not None else None for v in r] for r in ROWS], columns=HEADER)
    frame.to_parquet(tmp_path / "f.parquet")
    out = read_firms(tmp_path / "f.parquet")
    assert out["src_row"].tolist() == [1, 2, 3, 4]
    assert out["tax"].tolist()[0] == 1234.5 and out["uscc"].iloc[0] == A


def test_header_row_override_and_sheets(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [["说明：数据来源于税务局"], HEADER, *ROWS])
    assert read_firms(path, header_row=3, sheet="评价数据")["src_row"].tolist() == [4, 5, 6, 7]
    assert read_firms(path, sheet=0)["src_row"].tolist() == [4, 5, 6, 7]
    with pytest.raises(InputError, match=r"no sheet 'Sheet1'; sheets are '评价数据'"):
        read_firms(path, sheet="Sheet1")
    with pytest.raises(InputError, match=r"header_row 99 is outside the sheet"):
        read_firms(path, header_row=99)


def test_no_header(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [["a", "b"], [1, 2]])
    with pytest.raises(InputError, match=r"no header row found in the first 50 rows of sheet '评价数据'(.|\n)*"
                                         r"map yours in \[firms.aliases\], or set \[firms\] sheet .*\[firms\] header_row"):
        read_firms(path)


def write_book(path, sheets):
    """A workbook with one sheet per (name, rows) pair, in order."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


NOTES = [["填表说明"], ["1. 统一社会信用代码填写18位代码"], ["2. 实缴税金单位为万元"], ["3. 年度填写四位数字"]]


def test_header_below_row_10_is_found(tmp_path):
    notes = [[f"说明第{i}条：请按要求填写"] for i in range(1, 15)]  # 14 lines of instructions, header on row 15
    path = write_xlsx(tmp_path / "f.xlsx", [*notes, HEADER, *ROWS], title=False)
    out = read_firms(path)
    assert out["src_row"].tolist() == [16, 17, 18, 19]
    assert out["tax"].iloc[0] == 1234.5 and np.isnan(out["tax"].iloc[1])  # "—" stays missing
    assert out["uscc"].tolist()[1:3] == [B, BAD]


def test_data_after_a_cover_sheet_is_found(tmp_path):
    path = write_book(tmp_path / "f.xlsx", [("填表说明", NOTES), ("2021年数据", [TITLE, HEADER, *ROWS])])
    out = read_firms(path)
    assert out["src_row"].tolist() == [3, 4, 5, 6]
    assert out["uscc"].tolist()[1:3] == [B, BAD]
    # named by the keys, the same table
    pd.testing.assert_frame_equal(read_firms(path, sheet="2021年数据", header_row=2), out)
    pd.testing.assert_frame_equal(read_firms(path, sheet=1), out)


def test_a_field_list_on_the_cover_sheet_is_not_taken_for_the_table(tmp_path):
    # one known name per row (字段 | 说明) is a list of fields, not a header
    fields = [["字段", "说明"], ["统一社会信用代码", "18位"], ["年度", "四位数字"]]
    path = write_book(tmp_path / "f.xlsx", [("填表说明", fields), ("数据", [HEADER, *ROWS])])
    assert read_firms(path)["src_row"].tolist() == [2, 3, 4, 5]


def test_no_table_in_any_sheet_names_the_sheets_and_the_keys(tmp_path):
    path = write_book(tmp_path / "f.xlsx", [("填表说明", NOTES), ("Sheet2", [["a", "b"], [1, 2]])])
    with pytest.raises(InputError, match=r"f\.xlsx: no table found in sheets '填表说明', 'Sheet2'(.|\n)*"
                                         r"set \[firms\] sheet \(name or 0-based position\), \[firms\] header_row"):
        read_firms(path)
    with pytest.raises(InputError, match=r"no table found in sheets(.|\n)*\[land\] sheet"):
        read_land(path)


def test_sheet_position_out_of_range_lists_the_sheets(tmp_path):
    path = write_book(tmp_path / "f.xlsx", [("填表说明", NOTES), ("数据", [HEADER, *ROWS])])
    with pytest.raises(InputError, match=r"no sheet at position 5; sheets are '填表说明', '数据' -> set \[land\] sheet"):
        read_land(path, sheet=5)
    with pytest.raises(InputError, match=r"no sheet '2022'; sheets are '填表说明', '数据' -> set \[firms\] sheet"):
        read_firms(path, sheet="2022")


def test_land_rows_after_a_cover_sheet_and_below_notes(tmp_path):
    rows = [["统一社会信用代码", "地块编号", "用地类型", "使用面积"], [A, "P1", "自有", 100], [B, "P1", "租赁", 50]]
    path = write_book(tmp_path / "l.xlsx", [("填表说明", NOTES), ("用地", [*([["注"]] * 11), *rows])])
    out = read_land(path)
    assert out["src_row"].tolist() == [13, 14] and out["kind"].tolist() == ["own", "leased"]
    pd.testing.assert_frame_equal(read_land(path, sheet="用地", header_row=12), out)


def test_user_aliases(tmp_path):
    path = write_xlsx(tmp_path / "f.xlsx", [["信用码", "年", "纳税额"], [A, 2021, 5], [B, 2021, 6]], title=False)
    out = read_firms(path, aliases={"信用码": "uscc", "年": "year", "纳税额": "tax"})
    assert out["tax"].tolist() == [5.0, 6.0] and out["src_row"].tolist() == [2, 3]


def test_wide_layout_is_melted(tmp_path):
    rows = [
        ["统一社会信用代码", "企业名称", "2021年实缴税金", "实缴税金2022", "2021年度工业增加值", "工业增加值（2022年）"],
        [A, "甲", "10", 12, 100, 110],
        [B, "乙", None, 7, 50, "—"],
    ]
    out = read_firms(write_xlsx(tmp_path / "w.xlsx", rows))
    assert out[["uscc", "year"]].values.tolist() == [[A, 2021], [A, 2022], [B, 2021], [B, 2022]]
    np.testing.assert_array_equal(out["tax"], [10.0, 12.0, np.nan, 7.0])
    np.testing.assert_array_equal(out["value_added"], [100.0, 110.0, 50.0, np.nan])
    assert out["src_row"].tolist() == [3, 3, 4, 4]
    assert out["name"].tolist() == ["甲", "甲", "乙", "乙"]


def test_wide_and_year_column_conflict(tmp_path):
    rows = [["统一社会信用代码", "年度", "2021年实缴税金"], [A, 2021, 1]]
    with pytest.raises(InputError, match=r"has a year column \('年度'\) and year-in-header columns"):
        read_firms(write_xlsx(tmp_path / "w.xlsx", rows))


def test_two_columns_for_tax(tmp_path):
    rows = [["统一社会信用代码", "年度", "实缴税金", "税收"], [A, 2021, 1, 2]]
    path = write_xlsx(tmp_path / "t.xlsx", rows)
    with pytest.raises(InputError, match=r"columns '实缴税金', '税收' all map to 'tax'"):
        read_firms(path)
    assert read_firms(path, aliases={"税收": "tax_local"})["tax_local"].tolist() == [2]


def test_units_convert_to_wan_yuan(tmp_path):
    rows = [["统一社会信用代码", "年度", "实缴税金", "营业收入（元）", "用电量"], [A, 2021, 12_345, 2_000_000, 150_000]]
    path = write_xlsx(tmp_path / "u.xlsx", rows)
    out = read_firms(path, units={"tax": "元", "electricity": "kWh"})
    assert out["tax"].iloc[0] == pytest.approx(1.2345)
    assert out["revenue"].iloc[0] == pytest.approx(200.0)  # unit taken from the header's brackets
    assert out["electricity"].iloc[0] == pytest.approx(15.0)
    with pytest.raises(ConfigError, match=r"unknown unit '美元' for column 'tax' -> use one of 万元"):
        read_firms(path, units={"tax": "美元"})
    with pytest.raises(ConfigError, match=r"unknown column 'taxes'"):
        read_firms(path, units={"taxes": "元"})


def test_unknown_header_unit_is_a_warning(tmp_path):
    rows = [["统一社会信用代码", "年度", "实缴税金（美元）"], [A, 2021, 1]]
    problems = check_firms(write_xlsx(tmp_path / "u.xlsx", rows))
    assert any("unit '美元' in the header is not recognised" in p.message for p in problems)


def test_all_bad_cells_reported_at_once(tmp_path):
    rows = [HEADER, *ROWS]
    rows[1] = [*rows[1][:4], "约1200", *rows[1][5:]]
    rows[2] = [*rows[2][:5], "n.a.", "中型", rows[2][7], "2019-02-30", "也许"]
    path = write_xlsx(tmp_path / "bad.xlsx", rows)
    with pytest.raises(InputError, match=r"5 problem\(s\) in the firm table") as info:
        read_firms(path)
    found = {(p.row, p.column, p.value) for p in info.value.problems}
    assert found == {(3, "实缴税金（万元）", "约1200"), (4, "工业增加值", "n.a."), (4, "是否规上", "中型"),
                     (4, "投产日期", "2019-02-30"), (4, "高新技术企业", "也许")}
    with pytest.raises(InputError, match=r"row 3, column '实缴税金（万元）', value '约1200': not a number"):
        read_firms(path)


def test_missing_required_columns(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", [["企业名称", "实缴税金"], ["甲", 1]])
    with pytest.raises(InputError, match=r"no uscc column \(统一社会信用代码\) among: 企业名称, 实缴税金"):
        read_firms(path)
    path = write_xlsx(tmp_path / "y.xlsx", [["统一社会信用代码", "实缴税金"], [A, 1]])
    with pytest.raises(InputError, match=r"no year column \(年度\).*2021年实缴税金"):
        read_firms(path)
    path = write_xlsx(tmp_path / "v.xlsx", [["统一社会信用代码", "年度", "实缴税金"], [A, None, 1], [B, "去年", 2]],
                      title=False)
    with pytest.raises(InputError, match=r"row 2, column '年度': the year is missing") as info:
        read_firms(path)
    assert {(p.row, p.message) for p in info.value.problems} == {
        (2, "the year is missing"), (3, "not a year such as 2021")}


def test_check_firms_lists_warnings(tmp_path):
    rows = [HEADER, *ROWS, [5, A, "甲机械有限公司", 2021, 1, 1, "规上", 1, None, None]]
    problems = check_firms(write_xlsx(tmp_path / "f.xlsx", rows))
    assert all(p.severity == "warning" for p in problems)
    text = "\n".join(map(str, problems))
    assert f"row 5, column '统一社会信用代码', value '{BAD}': USCC check digit" in text
    assert "row 5, column '实缴税金（万元）', value -3.0: negative tax" in text
    assert "1 row(s) without energy_tce: rows 3" in text
    assert "1 row(s) without uscc: rows 6" in text
    assert "1 row(s) without tax: rows 4" in text
    assert f"firm {A} has 2 rows for 2021: rows 3, 7" in text
    # read_firms succeeds on the same file: warnings do not stop it.
    assert len(read_firms(tmp_path / "f.xlsx")) == 5


def test_check_firms_returns_errors(tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", [["企业名称"], ["甲"]])
    problems = check_firms(path)
    assert [p.severity for p in problems] == ["error", "error"]
    assert check_firms(tmp_path / "none.xlsx")[0].message.endswith("file not found -> check the path in the config")


def test_inspect_firms_reads_once_for_problems_and_panel(tmp_path):
    rows = [HEADER, *ROWS, [5, A, "甲机械有限公司", 2021, 1, 1, "规上", 1, None, None]]
    path = write_xlsx(tmp_path / "f.xlsx", rows)
    frame, problems = inspect_firms(path)
    assert [str(p) for p in problems] == [str(p) for p in check_firms(path)]
    pd.testing.assert_frame_equal(frame, read_firms(path))  # warnings only: the panel is there
    frame, problems = inspect_firms(write_xlsx(tmp_path / "m.xlsx", [["企业名称"], ["甲"]]))
    assert frame is None and [p.severity for p in problems] == ["error", "error"]


def test_total_rows_are_skipped(tmp_path):
    rows = [["统一社会信用代码", "企业名称", "年度", "实缴税金"], [A, "甲", 2021, 1], [None, "合 计", None, 1]]
    path = write_xlsx(tmp_path / "t.xlsx", rows)
    assert len(read_firms(path)) == 1
    assert any("total row(s) skipped: rows 4" in p.message for p in check_firms(path))


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match=r"file not found"):
        read_firms(tmp_path / "nope.xlsx")
    (tmp_path / "f.docx").write_bytes(b"x")
    with pytest.raises(InputError, match=r"unknown table format '.docx'"):
        read_firms(tmp_path / "f.docx")
    (tmp_path / "broken.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(InputError, match=r"cannot open the workbook"):
        read_firms(tmp_path / "broken.xlsx")


# --- land rows ---------------------------------------------------------------------------------

def test_read_land_kinds(tmp_path):
    rows = [["统一社会信用代码", "地块编号", "用地类型", "租赁面积（平方米）"],
            [A, 3301, "自有", None], [B, "3301", "租赁", "1,200"], [C, "3302", 1, 0], [A, "3303", "0", 500]]
    out = read_land(write_xlsx(tmp_path / "l.xlsx", rows, title=False))
    assert list(out.columns[:5]) == ["uscc", "parcel_id", "kind", "floor_area_m2", "src_row"]
    assert out["kind"].tolist() == ["own", "leased", "own", "leased"]
    assert out["parcel_id"].tolist() == ["3301", "3301", "3302", "3303"]
    np.testing.assert_array_equal(out["floor_area_m2"], [np.nan, 1200.0, 0.0, 500.0])
    assert out["src_row"].tolist() == [2, 3, 4, 5]


def test_read_land_csv(tmp_path):
    path = tmp_path / "land.csv"
    path.write_bytes(b"uscc,parcel_id,kind,floor_area_m2\n" + f"{A},P1,own,\n{B},P1,leased,300\n".encode())
    out = read_land(path)
    assert out["kind"].tolist() == ["own", "leased"] and out["floor_area_m2"].iloc[1] == 300.0


def test_read_land_problems(tmp_path):
    rows = [["统一社会信用代码", "地块编号", "类型"], [A, "P1", "借用"], [None, "P2", "自有"], [BAD, "P3", "自有"]]
    path = write_xlsx(tmp_path / "l.xlsx", rows, title=False)
    with pytest.raises(InputError, match=r"row 2, column '类型', value '借用': not one of") as info:
        read_land(path)
    assert {p.row for p in info.value.problems} == {2, 3}
    problems = check_land(path)
    assert any(p.severity == "warning" and p.row == 4 for p in problems)
    path = write_xlsx(tmp_path / "m.xlsx", [["统一社会信用代码", "地块编号"], [A, "P1"]], title=False)
    with pytest.raises(InputError, match=r"no kind column"):
        read_land(path)


# --- columns and values ------------------------------------------------------------------------

def test_header_normalisation():
    assert normalise_header("证载面积（平方米）") == normalise_header("证载面积(㎡)") == "证载面积"
    assert normalise_header(" *统一社会 信用代码 ") == "统一社会信用代码"
    assert normalise_header("Parcel_ID") == "parcelid"
    assert header_unit("证载面积（平方米）") == "平方米"
    assert header_unit("用电量(万kWh)") == "万kwh"
    assert header_unit("证载面积（㎡）") == "m2"
    assert header_unit("实缴税金(2021年，万元)") == "万元"
    assert header_unit("实缴税金") is None
    lookup = alias_lookup()
    assert match_wide_header("2021年实缴税金", lookup) == ("tax", 2021)
    assert match_wide_header("实缴税金2022", lookup) == ("tax", 2022)
    assert match_wide_header("2021年度工业增加值（万元）", lookup) == ("value_added", 2021)
    assert match_wide_header("2021年度", lookup) is None
    assert match_wide_header("企业名称", lookup) is None


def test_value_parsers():
    numbers, bad = parse_numbers(pd.Series(["1,234.5", "—", "", None, "无", "(12)", "１２", " 3 ", "x", 7]))
    np.testing.assert_array_equal(numbers, [1234.5, np.nan, np.nan, np.nan, np.nan, -12, 12, 3, np.nan, 7])
    assert bad.tolist() == [False] * 8 + [True, False]
    years, bad = parse_years(pd.Series(["2021年", 2022.0, "2023年度", None, "21"]))
    assert years.tolist()[:3] == [2021, 2022, 2023] and pd.isna(years.iloc[3]) and bad.tolist()[-1]
    flags, bad = parse_flags(pd.Series(["是", "否", "", None, 1, 0.0, "TRUE", "有效", "无", "?"]))
    assert flags.tolist()[:2] == [True, False] and pd.isna(flags.iloc[2]) and pd.isna(flags.iloc[3])
    assert flags.tolist()[4:9] == [True, False, True, True, False] and bad.tolist() == [False] * 9 + [True]
    dates, bad = parse_dates(pd.Series(["2019-05-01", "2019/5/1", "2019年5月1日", "2019.5.1", 43586, "43586",
                                        "20190501", dt.datetime(2019, 5, 1), "2019-05-01 00:00:00", None, "明年"]))
    assert (dates.iloc[:9] == pd.Timestamp("2019-05-01")).all()
    assert pd.isna(dates.iloc[9]) and bad.tolist() == [False] * 10 + [True]


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e9, 1e9, allow_nan=False).map(lambda v: round(v, 2)))
def test_thousands_separators_round_trip(value):
    parsed, bad = parse_numbers(pd.Series([f"{value:,.2f}", f"{value:.2f}"]))
    assert not bad.any()
    np.testing.assert_allclose(parsed, [value, value], rtol=1e-12, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.dates(dt.date(1950, 1, 1), dt.date(2099, 12, 31)))
def test_date_formats_agree(day):
    serial = (pd.Timestamp(day) - pd.Timestamp("1899-12-30")).days
    cells = [day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日", serial]
    parsed, bad = parse_dates(pd.Series(cells, dtype=object))
    assert not bad.any() and (parsed == pd.Timestamp(day)).all()


# --- fast paths: Arrow CSV reader, typed Parquet columns, whole-column parsers -------------------

from gisefficiency.io import sheets  # noqa: E402
from gisefficiency.io.values import as_code, as_text, missing_mask, parse_choice  # noqa: E402

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def firm_lines(n, *, start=0):
    """CSV lines of a firm-year table: thousands separators, quoted commas, blanks, Chinese, flags."""
    out = []
    for i in range(start, start + n):
        code = uscc(f"91330300MA{i:07d}")
        tax = f'"{1000 + i * 7.25:,.2f}"' if i % 3 == 0 else f"{i * 0.5:.2f}"
        name = f'"甲{i}机械,有限公司"' if i % 5 == 0 else f"企业{i}"
        flag = ("是", "否", "", "1")[i % 4]
        out.append(f"{code},{name},{2019 + i % 4}年,{tax},{'' if i % 7 == 0 else i},{flag},2019/{1 + i % 12}/{1 + i % 28}")
    return out


CSV_HEADER = "统一社会信用代码,企业名称,年度,实缴税金（万元）,工业增加值,高新技术企业,投产日期"


@pytest.mark.parametrize("title", [[], ["XX县2021年度数据"], ["XX县数据,,", "单位：万元"]])
def test_arrow_csv_cells_equal_pandas_cells(title):
    data = "\n".join([*title, CSV_HEADER, *firm_lines(120)]).encode() + b"\n"
    fast = sheets._read_csv_arrow(data)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, sheets._read_csv_pandas(data, sheets.Path("f.csv")))
    assert fast[0].dtype == TEXT and fast.shape == (len(title) + 121, 7)


def test_arrow_csv_blank_lines_are_blank_rows():
    lines = [CSV_HEADER, *firm_lines(80)]
    lines.insert(60, "")
    data = "\n".join(lines).encode() + b"\n\n\n"
    fast = sheets._read_csv_arrow(data)
    pd.testing.assert_frame_equal(fast, sheets._read_csv_pandas(data, sheets.Path("f.csv")))
    assert fast.iloc[60].isna().all() and len(fast) == 84


@pytest.mark.parametrize("case", ["spaces line", "short row", "long row", "gbk", "utf-16", "few lines"])
def test_arrow_csv_declines_irregular_files(case, tmp_path):
    lines = [CSV_HEADER, *firm_lines(80)]
    encoding = {"gbk": "gbk", "utf-16": "utf-16"}.get(case, "utf-8")
    if case == "spaces line":
        lines.insert(60, "  ")
    elif case == "short row":
        lines[70] = lines[70].rsplit(",", 2)[0]
    elif case == "long row":
        lines[70] += ",extra"
    elif case == "few lines":
        lines = lines[:20]
    data = "\n".join(lines).encode(encoding)
    assert sheets._read_csv_arrow(data) is None
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    if case == "long row":
        with pytest.raises(InputError, match=r"cannot split the CSV into columns"):
            sheets.read_grid(path)
        return
    grid = sheets.read_grid(path)
    assert len(grid.cells) == len(lines)
    if case == "short row":
        assert grid.cells.iloc[70].isna().tolist()[-2:] == [True, True]


def test_arrow_csv_quoted_line_breaks_over_blocks():
    # Over 1 MB, so Arrow cuts the file into blocks; quoted line breaks must survive the cuts.
    lines = [CSV_HEADER]
    for i in range(24_000):
        name = f'"企业{i}\n(分厂)"' if i % 9 == 0 and i > 100 else f"企业{i}"
        lines.append(f"91330300MA{i:08d},{name},2021,{i}.5,{i},是,2019-05-01")
    data = ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")
    fast = sheets._read_csv_arrow(data)
    assert fast is not None and len(data) > 1 << 20
    pd.testing.assert_frame_equal(fast, sheets._read_csv_pandas(data, sheets.Path("f.csv")))
    assert fast.iloc[109, 1] == "企业108\n(分厂)"


def test_read_firms_csv_same_on_both_readers(tmp_path, monkeypatch):
    path = tmp_path / "f.csv"
    path.write_bytes("\n".join(["XX县2021年度数据", CSV_HEADER, *firm_lines(200)]).encode("utf-8-sig"))
    assert sheets._read_csv_arrow(path.read_bytes()) is not None
    fast = read_firms(path)
    monkeypatch.setattr(sheets, "_read_csv_arrow", lambda data: None)
    pd.testing.assert_frame_equal(fast, read_firms(path))
    assert fast["src_row"].iloc[0] == 3 and fast["tax"].iloc[0] == 1000.0 and fast["tax"].iloc[3] == 1021.75
    assert pd.isna(fast["value_added"].iloc[0]) and fast["year"].iloc[1] == 2020


def parquet_firms(n=60):
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "统一社会信用代码": [uscc(f"91330300MA{i:07d}") if i % 11 else None for i in range(n)],
        "企业名称": [f"企业{i}" for i in range(n)],
        "年度": np.full(n, 2021),
        "地块编号": pd.array([f"33-{i % 7}" for i in range(n)], dtype="string"),
        "行业代码": np.where(np.arange(n) % 4 == 0, np.nan, np.arange(n) % 40 + 13.0),
        "规模": pd.Categorical(np.where(np.arange(n) % 2 == 0, "规上", "规下")),
        "实缴税金（元）": np.where(np.arange(n) % 5 == 0, np.nan, rng.gamma(2, 2e5, n).round(2)),
        "综合能耗": np.arange(n, dtype=np.int64),
        "高新技术企业": pd.array([True, False, None] * (n // 3), dtype="boolean"),
        "是否投产": np.arange(n) % 2 == 0,
        "投产日期": pd.to_datetime(["2019-05-01 13:30", None, "2020-01-02"] * (n // 3), format="mixed").as_unit("ms"),
        "备注": [None, "无", "3.5"] * (n // 3),
        "工期": pd.to_timedelta(np.arange(n), unit="D"),
    })


def old_parquet_grid(path):
    """The grid as the object-cell reader gave it: header row, then every cell as a Python object."""
    frame = pd.read_parquet(path)
    header = pd.DataFrame([list(frame.columns)], dtype=object)
    body = frame.astype(object).set_axis(range(frame.shape[1]), axis=1)
    return sheets.Grid(pd.concat([header, body], ignore_index=True), first_row=0, header=0)


def test_parquet_typed_columns_read_as_object_cells_did(tmp_path, monkeypatch):
    path = tmp_path / "f.parquet"
    parquet_firms().to_parquet(path)
    typed = read_firms(path)
    problems = check_firms(path)
    from gisefficiency.io import tables

    monkeypatch.setattr(tables, "read_grid", lambda p, sheet=None: old_parquet_grid(p))
    old = read_firms(path)
    pd.testing.assert_frame_equal(typed.drop(columns=["备注", "工期"]), old.drop(columns=["备注", "工期"]))
    # Extra columns keep their stored type (text stays pandas text rather than Python objects).
    assert pd.isna(typed["备注"].iloc[0]) and typed["备注"].tolist()[1:3] == old["备注"].tolist()[1:3] == ["无", "3.5"]
    assert typed["工期"].iloc[2] == old["工期"].iloc[2] == pd.Timedelta(days=2)
    assert [str(p) for p in problems] == [str(p) for p in check_firms(path)]
    assert typed["tax"].iloc[1] == pytest.approx(old["tax"].iloc[1]) and typed["industry"].iloc[1] == "14"
    assert typed["production_date"].iloc[0] == pd.Timestamp("2019-05-01")  # calendar dates
    assert typed["scale"].tolist()[:2] == ["above", "below"] and typed["energy_tce"].dtype == float


def test_parquet_header_row_override(tmp_path):
    frame = pd.DataFrame({"a": ["统一社会信用代码", A], "b": ["年度", "2021"], "c": ["实缴税金", "5"]})
    path = tmp_path / "f.parquet"
    frame.to_parquet(path)
    out = read_firms(path, header_row=1)
    assert out["uscc"].tolist() == [A] and out["tax"].tolist() == [5.0] and out["src_row"].tolist() == [2]
    with pytest.raises(InputError, match=r"header_row 5 is outside the sheet \(rows 0-2\)"):
        read_firms(path, header_row=5)
    with pytest.raises(InputError, match=r"no uscc column"):
        read_firms(path, header_row=0)


def test_blank_rows_are_dropped_whatever_the_column_types(tmp_path):
    rows = [["统一社会信用代码", "年度", "实缴税金", "备注"], [A, 2021, 1, None], [None, None, None, " — "],
            ["", "", None, None], [B, 2021, 2, "x"]]
    out = read_firms(write_xlsx(tmp_path / "b.xlsx", rows, title=False))
    assert out["src_row"].tolist() == [2, 5] and out["uscc"].tolist() == [A, B]
    frame = pd.DataFrame({"统一社会信用代码": [A, None, B], "年度": [2021.0, np.nan, 2021.0], "实缴税金": [1.0, np.nan, 2.0]})
    frame.to_parquet(tmp_path / "b.parquet")
    assert read_firms(tmp_path / "b.parquet")["src_row"].tolist() == [1, 3]


CELLS = st.one_of(
    st.none(),
    st.sampled_from(["—", "", " ", "无", "nan", "inf", "NULL", "1,234.5", "(12)", "１２", " 3 ", "1e3", "x",
                     "是", "否", "√", "TRUE", "规上", " 规 下 ", "自有", "2021年", "2019/5/1", "20190501",
                     "43586", "91330300ma2ab1234x", "9133 0300\u3000MA2A", "ｶﾞ", "Ⅻ", "㎡"]),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:,.3f}"),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.4f}"),
    st.text(alphabet="0123456789,.-() 甲乙\u3000ＡＢ１", max_size=8),
)


@settings(max_examples=15, deadline=None)
@given(st.lists(CELLS, min_size=1, max_size=60))
def test_parsers_agree_on_arrow_text_and_object_cells(cells):
    text = pd.Series(cells, dtype=TEXT)
    objects = pd.Series(cells, dtype=object)
    for parse in (parse_numbers, parse_years, parse_flags, parse_dates,
                  lambda s: parse_choice(s, {"规上": "above", "规下": "below"})):
        fast, fast_bad = parse(text)
        slow, slow_bad = parse(objects)
        pd.testing.assert_series_equal(fast, slow)
        pd.testing.assert_series_equal(fast_bad, slow_bad)
    for convert in (as_text, as_code, missing_mask):
        pd.testing.assert_series_equal(convert(text), convert(objects))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=1, max_size=50), st.sampled_from(
    ["{:.2f}", "{:,.2f}", "{:.6e}", "{!r}", "{:,.0f}"]))
def test_arrow_number_parser_matches_python(values, fmt):
    cells = [fmt.format(v) for v in values]
    parsed, bad = parse_numbers(pd.Series(cells, dtype=TEXT))
    assert not bad.any()
    np.testing.assert_array_equal(parsed, [float(c.replace(",", "")) for c in cells])


def test_dates_stored_as_datetimes():
    stamps = pd.Series(pd.to_datetime(["2019-05-01", "2500-01-01", None]).as_unit("ms"))
    dates, bad = parse_dates(stamps)
    assert dates.dtype == "datetime64[ns]" and dates.iloc[0] == pd.Timestamp("2019-05-01")
    assert pd.isna(dates.iloc[1]) and bad.tolist() == [False, True, False]
    aware, bad = parse_dates(pd.Series(pd.to_datetime(["2019-05-01 08:00"]).tz_localize("Asia/Shanghai")))
    assert aware.iloc[0] == pd.Timestamp("2019-05-01 08:00") and not bad.any()


def test_all_empty_columns(tmp_path):
    # A column with no value at all (Excel gives None cells) parses to all-missing, not an error.
    rows = [["统一社会信用代码", "年度", "实缴税金", "经度", "投产日期", "高新技术企业"], [A, 2021, 1, None, None, None],
            [B, 2021, 2, None, None, None]]
    out = read_firms(write_xlsx(tmp_path / "e.xlsx", rows, title=False))
    assert out["lon"].isna().all() and out["lon"].dtype == float
    assert out["production_date"].isna().all() and out["high_tech"].isna().all()


def test_arrow_csv_quote_quirks_as_pandas():
    lines = [CSV_HEADER, *firm_lines(60)]
    lines[55:60] = ['1,12"寸,b,,,,', '2,"x""y",b,,,,', '3, "x",b,,,,', '4,"a"b,c,,,,', '5,"",,,,,']
    data = "\n".join(lines).encode()
    fast = sheets._read_csv_arrow(data)
    pd.testing.assert_frame_equal(fast, sheets._read_csv_pandas(data, sheets.Path("f.csv")))
    assert fast.iloc[55:59, 1].tolist() == ['12"寸', 'x"y', ' "x"', "ab"] and pd.isna(fast.iloc[59, 1])


def test_check_firms_csv_same_on_both_readers(tmp_path, monkeypatch):
    lines = [CSV_HEADER, *firm_lines(90)]
    lines[60] = lines[60].replace(",2021年,", ",去年,").replace(",2020年,", ",去年,").replace(",2022年,", ",去年,")
    lines[70] = f"{BAD},丙,2021,约1200,—,也许,2019-02-30"
    lines[80] = ",合计,,99,,,"
    path = tmp_path / "bad.csv"
    path.write_bytes("\n".join(lines).encode())
    assert sheets._read_csv_arrow(path.read_bytes()) is not None
    fast = [str(p) for p in check_firms(path)]
    monkeypatch.setattr(sheets, "_read_csv_arrow", lambda data: None)
    assert fast == [str(p) for p in check_firms(path)]
    assert any("row 71, column '实缴税金（万元）', value '约1200': not a number" in p for p in fast)
    assert any("total row(s) skipped: rows 81" in p for p in fast) and any(BAD in p for p in fast)


# --- Column codes, USCC checks and dates on arrays (the fast paths of reading) ---------------------------

from gisefficiency.core.uscc import USCC_CHARSET, is_valid_uscc, valid_bytes  # noqa: E402
from gisefficiency.io.values import (  # noqa: E402
    code_column,
    normalize_days,
    repeated_code_years,
    valid_codes,
)


def test_code_column_numbers_folded_codes_once():
    cells = pd.Series([" ab ", "AB", None, "Ｃ1", "--", "ab"], dtype=TEXT)
    codes, positions, distinct = code_column(cells)
    assert codes.tolist() == ["AB", "AB", pd.NA, "C1", pd.NA, "AB"]
    assert codes.dtype == pd.StringDtype()
    assert distinct.to_pylist()[positions[0]] == "AB" and positions.tolist()[:3] == [positions[0]] * 2 + [-1]
    assert positions[4] == -1 and distinct.to_pylist()[positions[3]] == "C1"
    assert len({positions[0], positions[3]}) == 2 and sorted(distinct.to_pylist()) == ["AB", "C1"]


def test_unchanged_text_column_is_reused_not_copied():
    import pyarrow as pa

    cells = pd.Series(pd.array(pa.chunked_array([["P1", "P2"], ["P3", None]], pa.large_string()), dtype=TEXT))
    out = as_text(cells)
    assert out.tolist() == ["P1", "P2", "P3", pd.NA] and out.dtype == pd.StringDtype()
    assert out.array._pa_array.num_chunks == 1  # one chunk, as later kernels want it
    names = pd.Series(["甲公司", "乙公司", "甲公司", None], dtype=TEXT)  # non-ASCII: hashed, folded, reused
    assert as_text(names).tolist() == ["甲公司", "乙公司", "甲公司", pd.NA]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet=USCC_CHARSET + USCC_CHARSET.lower() + "IOZSV 中-", min_size=16, max_size=19),
                max_size=40))
def test_uscc_validity_on_bytes_matches_is_valid_uscc(texts):
    codes = [t for t in texts] + [uscc(t[:17].upper()) for t in texts if len(t) >= 17
                                  and all(ch.upper() in USCC_CHARSET for ch in t[:17])]
    import pyarrow as pa

    distinct = pa.array(list(dict.fromkeys(codes)), pa.large_string())
    positions = np.arange(len(distinct))
    np.testing.assert_array_equal(valid_codes(positions, distinct), is_valid_uscc(distinct.to_pylist()))
    plain = [c for c in distinct.to_pylist() if len(c.encode()) == 18]
    matrix = np.frombuffer("".join(plain).encode(), np.uint8).reshape(-1, 18)
    np.testing.assert_array_equal(valid_bytes(matrix), is_valid_uscc(plain))


def test_valid_codes_spreads_to_rows():
    import pyarrow as pa

    distinct = pa.array([A, BAD], pa.large_string())
    assert valid_codes(np.array([0, 1, -1, 0]), distinct).tolist() == [True, False, False, True]


def test_repeated_code_years_by_hand():
    import pyarrow as pa

    distinct = pa.array(["Z9", "A1"], pa.large_string())
    positions = np.array([0, 1, 0, 1, 0, -1, -1, 1])
    year = pd.Series([2021, 2021, 2021, 2022, 2022, 2021, 2021, None], dtype="Int64")
    src = pd.Series([10, 11, 12, 13, 14, 15, 16, 17])
    # Z9 has rows 10 and 12 for 2021; rows without a code (15, 16) or a year (17) never repeat.
    assert repeated_code_years(positions, year, src, distinct) == [("Z9", 2021, [10, 12])]
    positions = np.array([1, 0, 1, 0, 1, 0, 0, 1])
    year = pd.Series([2021, 2021, 2021, 2021, 1950, 1950, 1950, 2021], dtype="Int64")  # a wide key range
    assert repeated_code_years(positions, year, src, distinct) == [
        ("A1", 2021, [10, 12, 17]), ("Z9", 1950, [15, 16]), ("Z9", 2021, [11, 13])]


def test_dates_at_coarse_units_convert_and_flag_out_of_range():
    stored = pd.Series(np.array(["1500-01-01", "2019-05-01T13:30", "NaT", "2262-04-11", "2262-04-12"],
                                dtype="datetime64[ms]"))
    parsed, bad = parse_dates(stored)
    assert parsed.dtype == "datetime64[ns]"
    assert parsed.tolist()[1] == pd.Timestamp("2019-05-01 13:30") and parsed.isna().tolist() == [
        True, False, True, False, True]
    assert bad.tolist() == [True, False, False, False, True]
    days = normalize_days(pd.Series(pd.to_datetime(["1969-12-31 23:59", None, "2019-05-01 13:30"])))
    assert days.tolist()[0] == pd.Timestamp("1969-12-31") and pd.isna(days[1])
    assert days[2] == pd.Timestamp("2019-05-01")


def test_parquet_small_dictionaries_read_as_codes_give_the_same_frame(tmp_path, monkeypatch):
    """Text columns with few values are read as Parquet dictionaries; the frame and problems are unchanged."""
    from gisefficiency.io import sheets as sheets_module

    n = 300
    frame = pd.DataFrame({
        "统一社会信用代码": [A, B, None] * (n // 3),
        "年度": ["2021", "2022年", "2021"] * (n // 3),
        "规模": ["规上", "规下", "—"] * (n // 3),
        "高新技术企业": ["是", "否", None] * (n // 3),
        "行业代码": ["34", "14", None] * (n // 3),
        "备注": [None, "无", "合计"] * (n // 3),
        "实缴税金": ["1,234.5", "—", "3"] * (n // 3),
    })
    frame.loc[7] = None  # a blank row
    path = tmp_path / "f.parquet"
    frame.to_parquet(path)
    grid = sheets_module.read_grid(path)
    assert {frame.columns[j] for j in grid.coded} >= {"规模", "高新技术企业", "行业代码", "备注"}
    coded, problems = read_firms(path), [str(p) for p in check_firms(path)]
    monkeypatch.setattr(sheets_module, "SMALL_DICTIONARY_BYTES", 0)
    assert not sheets_module.read_grid(path).coded
    pd.testing.assert_frame_equal(coded, read_firms(path), check_exact=True)
    assert problems == [str(p) for p in check_firms(path)]
    assert coded["备注"].dtype == pd.StringDtype(na_value=np.nan)  # an extra column, plain text as read
    frame.loc[5, "高新技术企业"] = "x"  # unreadable cells are reported alike
    frame.to_parquet(path)
    monkeypatch.setattr(sheets_module, "SMALL_DICTIONARY_BYTES", 1 << 16)
    problems = [str(p) for p in check_firms(path)]
    assert any("row 6, column '高新技术企业', value 'x'" in p for p in problems)
    monkeypatch.setattr(sheets_module, "SMALL_DICTIONARY_BYTES", 0)
    assert problems == [str(p) for p in check_firms(path)]


def test_columns_parsed_on_threads_give_the_same_frame_and_problems(tmp_path, monkeypatch):
    from gisefficiency.io import tables

    path = tmp_path / "f.xlsx"
    write_xlsx(path, [HEADER, *ROWS * 5])
    monkeypatch.setattr(tables, "_PARSE_THREADS_FROM", 10**9)
    single = [str(p) for p in check_firms(path)]
    monkeypatch.setattr(tables, "_PARSE_THREADS_FROM", 1)
    monkeypatch.setattr(tables, "_PARSE_THREADS", 3)
    assert [str(p) for p in check_firms(path)] == single
    good = tmp_path / "g.xlsx"
    write_xlsx(good, [HEADER, *[row for row in ROWS if row[0] != 3] * 4])
    threaded = read_firms(good)
    monkeypatch.setattr(tables, "_PARSE_THREADS_FROM", 10**9)
    pd.testing.assert_frame_equal(threaded, read_firms(good), check_exact=True)


def test_plain_codes_skip_the_per_code_work(monkeypatch):
    import gisefficiency.io.values as values_module

    calls = []
    unique = values_module._unique
    monkeypatch.setattr(values_module, "_unique", lambda v: calls.append(len(v)) or unique(v))
    plain = pd.Series([A, B, None, A], dtype=TEXT)
    assert as_code(plain).tolist() == [A, B, pd.NA, A] and as_code(plain).dtype == pd.StringDtype()
    assert calls == []
    assert as_code(pd.Series([A, "NULL"], dtype=TEXT)).tolist() == [A, pd.NA] and calls == [2]
    assert as_code(pd.Series([A.lower(), "9 1"], dtype=TEXT)).tolist() == [A, "91"] and calls == [2, 2]


@pytest.mark.parametrize("chunk", [3, 5, 6, 7, 1 << 24])
def test_error_cells_found_whatever_the_chunks_the_sheet_is_scanned_in(tmp_path, monkeypatch, chunk):
    import zipfile

    from gisefficiency.io import tables

    plain = write_xlsx(tmp_path / "plain.xlsx", [["统一社会信用代码", "年度", "实缴税金"], [A, 2021, "=1/0"]],
                       title=False)
    path = tmp_path / "formula.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<c r="C2"><f>1/0</f><v /></c>', b'<c r="C2" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
            dst.writestr(item, data)
    monkeypatch.setattr(tables, "_SCAN_CHUNK", chunk)
    assert tables._excel_error_cells(path, None) == {2: {2: "#DIV/0!"}}
    assert tables._excel_error_cells(plain, None) == {}

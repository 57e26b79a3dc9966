"""Cell values as bureaus write them: dates in every spelling, spreadsheet errors and infinities."""

from __future__ import annotations

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gisefficiency.core.errors import InputError
from gisefficiency.core.uscc import uscc_check_digit
from gisefficiency.io.tables import check_firms, read_firms
from gisefficiency.io.values import date_column, number_column, parse_dates, parse_numbers

A = "91330300MA2AB1234" + uscc_check_digit("91330300MA2AB1234")
B = "91330300MA2AB1235" + uscc_check_digit("91330300MA2AB1235")


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


DATES = [  # (cell, date, read by a guess)
    ("2020.06", ts("2020-06-01"), False),        # a month: its first day, never Excel day 2020 (1905-07-12)
    ("2020.6", ts("2020-06-01"), False),
    ("2020.10", ts("2020-10-01"), False),
    ("2020.1", ts("2020-01-01"), True),          # January, or October as Excel shows 2020.10 in a number cell
    ("2020年6月", ts("2020-06-01"), False),
    ("2020年6月15日", ts("2020-06-15"), False),
    ("2020/6/15", ts("2020-06-15"), False),
    ("2020-6-15", ts("2020-06-15"), False),
    ("2020.6.15", ts("2020-06-15"), False),
    ("20200615", ts("2020-06-15"), False),
    ("202006", ts("2020-06-01"), False),
    ("2020-06", ts("2020-06-01"), False),
    ("2020/6", ts("2020-06-01"), False),
    ("２０２０年６月１５日", ts("2020-06-15"), False),  # full-width digits
    ("2020-06-15 08:30:00", ts("2020-06-15"), False),  # calendar days: a time of day is dropped
    ("2020", ts("2020-01-01"), True),            # a bare year: 1 January, never Excel day 2020
    ("2020年", ts("2020-01-01"), True),
    ("43586", ts("2019-05-01"), False),          # an Excel serial written out as text
    (43586, ts("2019-05-01"), False),            # an Excel serial in a number cell
    (43586.75, ts("2019-05-01 00:00:00"), False),
    (2020.06, ts("2020-06-01"), False),          # "2020.06" typed into a number cell
    (2020.1, ts("2020-01-01"), True),
    (dt.datetime(2019, 5, 1), ts("2019-05-01"), False),
    (20200615, ts("2020-06-15"), False),
]


def test_date_spellings_hand_checked():
    cells = pd.Series([c for c, _, _ in DATES], dtype=object)
    dates, bad, guessed = date_column(cells)
    assert not bad.any()
    assert dates.tolist() == [d for _, d, _ in DATES]
    assert guessed.tolist() == [g for _, _, g in DATES]
    # parse_dates is date_column without the guesses
    again, bad2 = parse_dates(cells)
    assert again.equals(dates) and not bad2.any()


@pytest.mark.parametrize("cell", ["2020.13", "2020-02-30", "2020年13月", "明年", "0", "13/6/2020"])
def test_dates_that_are_not_dates_are_flagged(cell):
    dates, bad, guessed = date_column(pd.Series([cell, None, "—"], dtype=object))
    assert bad.tolist() == [True, False, False]
    assert dates.isna().all() and not guessed.any()


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_every_spelling_of_a_day_is_that_day_and_months_are_their_first_day(day):
    y, m, d = day.year, day.month, day.day
    spellings = [f"{y}-{m}-{d}", f"{y}/{m:02d}/{d:02d}", f"{y}.{m}.{d}", f"{y}年{m}月{d}日", f"{y}{m:02d}{d:02d}",
                 str((pd.Timestamp(day) - pd.Timestamp("1899-12-30")).days)]
    months = [f"{y}.{m:02d}", f"{y}年{m}月", f"{y}-{m:02d}", f"{y}{m:02d}"]
    dates, bad, _ = date_column(pd.Series(spellings + months, dtype="string[pyarrow]"))
    assert not bad.any()
    assert dates.tolist() == [pd.Timestamp(day)] * len(spellings) + [pd.Timestamp(y, m, 1)] * len(months)


def write_xlsx(path, rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_production_dates_in_a_workbook_and_the_guesses_warned(tmp_path):
    header = ["统一社会信用代码", "年度", "实缴税金", "投产日期"]
    cells = [2020.06, "2020年6月", 43586, dt.datetime(2019, 5, 1), "2020.1", 2020, "2020/6/15"]
    rows = [header] + [[A, 2010 + i, 1.0, c] for i, c in enumerate(cells)]
    path = write_xlsx(tmp_path / "firms.xlsx", rows)
    firms = read_firms(path)
    assert firms["production_date"].tolist() == [ts("2020-06-01"), ts("2020-06-01"), ts("2019-05-01"),
                                                 ts("2019-05-01"), ts("2020-01-01"), ts("2020-01-01"),
                                                 ts("2020-06-15")]
    warnings = [p for p in check_firms(path) if p.column == "投产日期"]
    assert len(warnings) == 1 and warnings[0].severity == "warning"
    assert warnings[0].file == str(path)
    assert "2 date(s) read by a guess" in warnings[0].message and "rows 6, 7" in warnings[0].message


def test_month_only_supply_dates_keep_new_land_protection(tmp_path):
    """2020.06 was read as Excel day 2020 (1905-07-12): land supplied in 2020 looked a century old."""
    rows = [["统一社会信用代码", "年度", "实缴税金", "供地日期"], [A, 2021, 1.0, "2020.06"], [B, 2021, 1.0, 2020.06]]
    path = tmp_path / "firms.csv"
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    firms = read_firms(path)
    assert firms["supply_date"].tolist() == [ts("2020-06-01")] * 2


NON_NUMBERS = ["inf", "-inf", "Infinity", "-Infinity", "INF", "∞", "#DIV/0!", "#N/A", "#VALUE!", "#REF!",
               "#NAME?", "#NUM!", "#NULL!", "#div/0!"]


def test_spreadsheet_errors_and_infinities_are_missing_not_numbers():
    cells = pd.Series(["12.5", *NON_NUMBERS, "", "abc"], dtype=object)
    number, bad, dropped = number_column(cells)
    assert number.iloc[0] == 12.5 and number.iloc[1:].isna().all()
    assert dropped.tolist() == [False] + [True] * len(NON_NUMBERS) + [False, False]
    assert bad.tolist() == [False] * (len(NON_NUMBERS) + 2) + [True]
    # Arrow text and float columns the same way
    arrow, bad_a, dropped_a = number_column(cells.astype("string[pyarrow]"))
    assert arrow.equals(number) and bad_a.equals(bad) and dropped_a.equals(dropped)
    floats, _, dropped_f = number_column(pd.Series([1.0, np.inf, -np.inf, np.nan]))
    assert floats.iloc[0] == 1.0 and floats.iloc[1:].isna().all()
    assert dropped_f.tolist() == [False, True, True, False]
    assert parse_numbers(cells)[0].equals(number)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_error_values_in_a_tax_column_are_missing_with_a_warning_in_every_format(tmp_path, suffix):
    header = ["统一社会信用代码", "年度", "实缴税金（万元）"]
    taxes = ["12.5", "#DIV/0!", "inf", "#N/A", "-Infinity", "7"]
    if suffix == ".parquet":
        values = [12.5, np.nan, np.inf, np.nan, -np.inf, 7.0]
        frame = pd.DataFrame({header[0]: [A] * 6, header[1]: range(2016, 2022), header[2]: values})
        path = tmp_path / "firms.parquet"
        frame.to_parquet(path)
        rows_dropped, excel_rows = [3, 5], [1, 2, 3, 4, 5, 6]  # Parquet rows count from 1, no header
    else:
        rows = [header] + [[A, 2016 + i, t] for i, t in enumerate(taxes)]
        path = tmp_path / f"firms{suffix}"
        if suffix == ".csv":
            pd.DataFrame(rows[1:], columns=header).to_csv(path, index=False)
        else:
            write_xlsx(path, rows)
        rows_dropped, excel_rows = [3, 4, 5, 6], [2, 3, 4, 5, 6, 7]
    firms = read_firms(path)
    assert firms["src_row"].tolist() == excel_rows
    expected = [12.5, np.nan, np.nan, np.nan, np.nan, 7.0]
    np.testing.assert_array_equal(firms["tax"].to_numpy(), expected)
    problems = check_firms(path)
    assert not [p for p in problems if p.severity == "error"]
    noted = [p for p in problems if "spreadsheet error" in p.message]
    assert len(noted) == 1 and noted[0].severity == "warning"
    assert noted[0].file == str(path) and noted[0].column == "实缴税金（万元）"
    assert f"rows {', '.join(map(str, rows_dropped))}" in noted[0].message


def test_formula_error_cells_saved_by_excel(tmp_path):
    """Excel saves a formula's error with the formula first: <c t="e"><f>C2/D2</f><v>#DIV/0!</v></c>."""
    import zipfile

    rows = [["统一社会信用代码", "年度", "亩均税收"], [A, 2020, 3.5], [A, 2021, "=1/0"]]
    plain = write_xlsx(tmp_path / "plain.xlsx", rows)
    path = tmp_path / "formula.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<c r="C3"><f>1/0</f><v /></c>', b'<c r="C3" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
                assert b"#DIV/0!" in data
            dst.writestr(item, data)
    firms = read_firms(path, aliases={"亩均税收": "tax"})
    assert firms["tax"].iloc[0] == 3.5 and np.isnan(firms["tax"].iloc[1])
    noted = [p for p in check_firms(path, aliases={"亩均税收": "tax"}) if "spreadsheet error" in p.message]
    assert len(noted) == 1 and "(#DIV/0!)" in noted[0].message and "rows 3" in noted[0].message


def test_text_that_is_no_number_is_still_an_error(tmp_path):
    rows = [["统一社会信用代码", "年度", "实缴税金"], [A, 2021, "十二"]]
    path = tmp_path / "firms.csv"
    pd.DataFrame(rows[1:], columns=rows[0]).to_csv(path, index=False)
    with pytest.raises(InputError, match="1 problem"):
        read_firms(path)


YES = ["是", "1", 1, True, "True", "TRUE", "y", "Y", "yes", "√", "✓", "有", "有效", "1.0"]
NO = ["否", "0", 0, False, "False", "false", "n", "N", "no", "×", "✗", "无", "无效", "0.0"]
UNKNOWN = [None, "", "—", "nan"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([True, False, None]), st.integers(0, 13), st.sampled_from(["", " ", "　"])),
                min_size=1, max_size=30))
def test_flags_in_any_spelling_mix_are_what_they_say(cells):
    """Any mix of spellings (padded with spaces, full-width ones too) reads as its truth; blanks are NA."""
    from gisefficiency.io.values import parse_flags

    raw = [(YES if t else NO)[i] if t is not None else UNKNOWN[i % len(UNKNOWN)] for t, i, _ in cells]
    raw = [f"{pad}{v}{pad}" if isinstance(v, str) else v for v, (_, _, pad) in zip(raw, cells, strict=True)]
    flags, bad = parse_flags(pd.Series(raw, dtype=object))
    assert not bad.any()
    assert flags.dtype == "boolean"
    assert [None if pd.isna(v) else bool(v) for v in flags] == [t for t, _, _ in cells]


def test_error_cells_of_the_sheet_read_and_no_other(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "说明&备注"
    book.active.append(["#REF!"])  # an error cell on another sheet is not this table's
    ws = book.create_sheet("评价数据")
    for row in [["统一社会信用代码", "年度", "实缴税金", "投产日期"], [A, 2021, "#VALUE!", "#N/A"], [B, 2021, 2.0, None]]:
        ws.append(row)
    path = tmp_path / "firms.xlsx"
    book.save(path)
    problems = check_firms(path, sheet="评价数据")
    noted = sorted(p.message for p in problems if "spreadsheet error" in p.message)
    assert noted == ["1 spreadsheet error value(s) (#N/A) read as missing: rows 2",
                     "1 spreadsheet error value(s) or infinities (#VALUE!) read as missing: rows 2"]
    firms = read_firms(path, sheet="评价数据")
    assert np.isnan(firms["tax"].iloc[0]) and pd.isna(firms["production_date"].iloc[0])

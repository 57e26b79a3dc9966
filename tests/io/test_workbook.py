"""清单.xlsx read back with openpyxl: text USCCs, Chinese headers, frozen header, filters, one sheet per category."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from gisefficiency.io.workbook import WORKBOOK_NAME, _sheet_name, write_workbook
from gisefficiency.result import Result

CRS = "EPSG:4549"

POLICY = SimpleNamespace(
    categories={
        "close": {"zh": "淘汰关停类", "en": "Close", "colour": "#d73027"},
        "swap": {"zh": "腾笼换鸟类", "en": "Swap", "colour": "#fc8d59"},
    },
    tax_thresholds=(1.0, 3.0),
)


def _result(names=None, taxes=None) -> Result:
    firms = gpd.GeoDataFrame(
        {
            "name": pd.array(names or ["浙江新顺机械有限公司", "甲厂", "乙公司"], dtype="str"),
            "street": ["龙溪街道", "妙高街道", None],
            "industry": pd.array(["06", "36", None], dtype="str"),
            "scale": ["above", "below", "below"],
            "n_parcels": [1, 2, 0],
            "land_mu": [10.0, 5.0, np.nan],
            "tax": taxes if taxes is not None else [np.nan, 20.0, 3.0],
            "tax_per_mu": [np.nan, 4.0, np.nan],
            "grade": pd.array(["D", "C", None], dtype="str"),
            "disposal": ["close", "swap", ""],
            "reason_zh": ["连续两年D类", "亩均税收4.0000万元/亩 <5", ""],
            "reason_en": ["class D two years", "tax per mu 4.0000 < 5", ""],
        },
        geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)],
        crs=CRS,
        index=pd.Index(["913308272508170051", "91330827238821538K", "91330827X"], name="uscc"),
    )
    parcels = gpd.GeoDataFrame(
        {
            "street": ["龙溪街道", "妙高街道", "妙高街道"],
            "supply_date": pd.to_datetime(["2004-12-22", None, "2019-03-01"]),
            "holder_uscc": ["913308272508170051", "91330827238821538K", None],
            "land_mu": [10.0, 2.5, 2.5],
            "idle": [False, True, False],
            "tax_per_mu": [np.nan, 4.0, 4.0],
            "grade": ["D", "C", "C"],
            "disposal": ["close", "swap", "swap"],
            "low_efficiency": pd.array([True, True, None], dtype="boolean"),
            "block_id": pd.array([1, 1, None], dtype="Int64"),
            "firm_usccs": [["913308272508170051"], ["91330827238821538K"], ["91330827238821538K"]],
        },
        geometry=[box(0, 0, 10, 10), box(20, 0, 25, 10), box(25, 0, 30, 10)],
        crs=CRS,
        index=pd.Index(["001", "002", "003"], name="parcel_id"),
    )
    blocks = gpd.GeoDataFrame(
        {"area_mu": [12.5], "n_parcels": [2], "low_share": [0.8], "tax_per_mu": [np.nan], "streets": ["龙溪街道"]},
        geometry=[box(0, 0, 30, 10)], crs=CRS, index=pd.Index([1], name="block_id"),
    )
    return Result(parcels=parcels, firms=firms, blocks=blocks, panel=pd.DataFrame(), year=2021, policy=POLICY)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = write_workbook(_result(), tmp_path_factory.mktemp("wb") / WORKBOOK_NAME)
    return openpyxl.load_workbook(path)


def _rows(ws) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_sheets_one_per_category_in_policy_order(book):
    assert book.sheetnames == ["汇总", "淘汰关停类", "腾笼换鸟类", "地块清单", "连片区块清单"]


def test_all_digit_uscc_is_a_text_cell_with_text_format(book):
    ws = book["淘汰关停类"]
    cell = ws["A2"]
    assert cell.value == "913308272508170051"  # not 913308272508169984
    assert cell.data_type == "s" and cell.number_format == "@"
    assert ws["D2"].value == "06" and ws["D2"].data_type == "s"  # industry code keeps its leading zero
    assert book["地块清单"]["A2"].value == "001"  # parcel ids too
    assert book["连片区块清单"]["A2"].value == "1" and book["连片区块清单"]["A2"].number_format == "@"


def test_headers_in_chinese_with_units_frozen_and_filtered(book):
    ws = book["淘汰关停类"]
    head = _rows(ws)[0]
    assert head[:5] == ["统一社会信用代码", "企业名称", "街道/乡镇", "行业代码", "规模"]
    assert "亩均税收(万元/亩)" in head and "实缴税金(万元)" in head and "认定理由" in head
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(sheet.max_column)}{sheet.max_row}"


def test_values_missing_as_empty_numbers_with_two_decimals(book):
    ws = book["淘汰关停类"]
    head = _rows(ws)[0]
    row = dict(zip(head, [c for c in next(ws.iter_rows(min_row=2, max_row=2))], strict=True))
    assert row["实缴税金(万元)"].value is None  # missing tax: empty, never 0
    assert row["亩均税收(万元/亩)"].value is None
    assert row["用地面积(亩)"].value == 10.0 and row["用地面积(亩)"].number_format == "#,##0.00"
    assert row["规模"].value == "规上" and row["评价类别"].value == "D类"
    assert row["处置类别"].value == "淘汰关停类" and row["认定理由"].value == "连续两年D类"
    assert row["地块编号"].value == "001"
    swap = dict(zip(head, _rows(book["腾笼换鸟类"])[1], strict=True))
    assert swap["实缴税金(万元)"] == 20.0 and swap["亩均税收(万元/亩)"] == 4.0
    assert swap["地块编号"] == "002、003" and swap["街道/乡镇"] == "妙高街道"


def test_firm_without_category_is_on_no_category_sheet(book):
    listed = {r[0] for name in ("淘汰关停类", "腾笼换鸟类") for r in _rows(book[name])[1:]}
    assert listed == {"913308272508170051", "91330827238821538K"}


def test_summary_hand_computed(book):
    rows = _rows(book["汇总"])
    assert rows[0] == ["处置类别", "企业数", "地块数", "用地面积(亩)", "实缴税金(万元)", "亩均税收(万元/亩)"]
    # close: one firm, tax unknown -> tax and tax per mu empty (not 0); swap: 20 万元 on 5 mu = 4.
    assert rows[1] == ["淘汰关停类", 1, 1, 10.0, None, None]
    assert rows[2] == ["腾笼换鸟类", 1, 2, 5.0, 20.0, 4.0]
    # Total: 15 mu of land, tax known only for the swap firm: 20 / 5.
    assert rows[3] == ["合计", 2, 3, 15.0, 20.0, 4.0]


def test_parcel_sheet_dates_flags_and_blocks(book):
    ws = book["地块清单"]
    head = _rows(ws)[0]
    rows = [dict(zip(head, r, strict=True)) for r in _rows(ws)[1:]]
    assert rows[0]["供地日期"] == dt.datetime(2004, 12, 22) and rows[1]["供地日期"] is None
    assert ws["D2"].number_format == "yyyy-mm-dd" if head[3] == "供地日期" else True
    assert [r["闲置地块"] for r in rows] == ["否", "是", "否"]
    assert [r["低效用地"] for r in rows] == ["是", "是", None]
    assert [r["连片区块"] for r in rows] == ["1", "1", None]
    blocks = _rows(book["连片区块清单"])
    assert blocks[0][:3] == ["连片区块", "涉及街道/乡镇", "图斑面积(亩)"]
    assert book["连片区块清单"]["E2"].value == 0.8 and book["连片区块清单"]["E2"].number_format == "0.0%"


def test_widths_count_cjk_characters_double(book):
    ws = book["淘汰关停类"]
    # 企业名称: the longest value 浙江新顺机械有限公司 is 10 CJK characters = 20 columns, + 1 margin.
    assert ws.column_dimensions["B"].width == 21
    # USCC: 18 ASCII characters + 1; the header 统一社会信用代码 (8 CJK = 16, + 2 for the filter) is narrower.
    assert ws.column_dimensions["A"].width == 19


def test_english_headers_and_sheet_names(tmp_path):
    wb = openpyxl.load_workbook(write_workbook(_result(), tmp_path / "x.xlsx", lang="en"))
    assert wb.sheetnames == ["Summary", "Close", "Swap", "Parcels", "Blocks"]
    assert _rows(wb["Close"])[0][:2] == ["USCC", "Firm"]
    assert "Tax per mu (10k yuan/mu)" in _rows(wb["Close"])[0]
    assert _rows(wb["Summary"])[3][0] == "Total"


def test_xml_special_and_control_characters(tmp_path):
    wb = openpyxl.load_workbook(write_workbook(_result(names=[" A&B <厂> ", "x\x01y", '"q"']), tmp_path / "x.xlsx"))
    assert wb["淘汰关停类"]["B2"].value == " A&B <厂> "  # edge spaces kept (xml:space="preserve")
    assert wb["腾笼换鸟类"]["B2"].value == "xy"  # XML 1.0 cannot hold \x01: dropped, as openpyxl refuses it


def test_file_replaced_atomically_and_no_partial_left(tmp_path):
    path = tmp_path / WORKBOOK_NAME
    path.write_bytes(b"old")
    write_workbook(_result(), path)
    assert openpyxl.load_workbook(path).sheetnames[0] == "汇总"
    assert [p.name for p in tmp_path.iterdir()] == [WORKBOOK_NAME]


_TEXT = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
                  st.from_regex(r"\A[0-9]{18}\Z"))
_NUM = st.one_of(st.just(np.nan), st.floats(-1e9, 1e9, allow_nan=False))


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(_TEXT, _NUM), min_size=3, max_size=3))
def test_text_and_numbers_round_trip(tmp_path_factory, cells):
    """Property: any name (digits, XML specials, CJK) comes back as text, any tax as itself or empty."""
    names = [n for n, _ in cells]
    taxes = [t for _, t in cells]
    res = _result(names=names, taxes=taxes)
    res.firms["disposal"] = ["close", "close", "close"]
    path = write_workbook(res, tmp_path_factory.mktemp("p") / "x.xlsx")
    rows = _rows(openpyxl.load_workbook(path)["淘汰关停类"])
    head = rows[0]
    for row, name, tax in zip(rows[1:], names, taxes, strict=True):
        got = dict(zip(head, row, strict=True))
        clean = "".join(ch for ch in (name or "") if not ("\x00" <= ch <= "\x08" or ch in "\x0b\x0c"
                                                           or "\x0e" <= ch <= "\x1f"))
        want = clean.replace("\r\n", "\n").replace("\r", "\n") or None
        assert (got["企业名称"] or None) == want
        if np.isnan(tax):
            assert got["实缴税金(万元)"] is None
        else:
            assert got["实缴税金(万元)"] == pytest.approx(tax, rel=1e-15, abs=0)


def test_demo_workbook_matches_the_result(demo_outputs, demo_result):
    wb = openpyxl.load_workbook(demo_outputs["workbook"], read_only=True)
    parcels = list(wb["地块清单"].iter_rows(values_only=True))
    head = parcels[0]
    assert len(parcels) - 1 == len(demo_result.parcels)
    got = pd.DataFrame(parcels[1:], columns=head).set_index("地块编号")
    want = demo_result.parcels
    assert got.index.tolist() == want.index.astype(str).tolist()
    tax = pd.to_numeric(got["亩均税收(万元/亩)"], errors="coerce")
    assert (tax.isna().to_numpy() == want["tax_per_mu"].isna().to_numpy()).all()  # missing stays empty
    np.testing.assert_allclose(tax.dropna().to_numpy(), want["tax_per_mu"].dropna().to_numpy(), rtol=1e-12)
    firms = demo_result.firms
    for cid, cat in demo_result.policy.categories.items():
        rows = list(wb[cat.zh[:31]].iter_rows(values_only=True))[1:]
        assert sorted(r[0] for r in rows) == sorted(firms.index[firms["disposal"] == cid].astype(str))
        assert all(isinstance(r[0], str) for r in rows)
    digits = [u for u in firms.index.astype(str) if u.isdigit()]
    assert digits  # the sample has all-digit USCCs (698 of them when the issue was filed)


def test_sheet_names_legal_unique_and_cut_cleanly():
    used: set[str] = {"汇总"}
    assert _sheet_name("Foundry and chemical industry (own standard to follow)", used) == \
        "Foundry and chemical industry"
    assert _sheet_name("a/b[c]:d*?", used) == "a_b_c__d__"
    assert _sheet_name("汇总", used) == "汇总~2"
    long = "x" * 40
    assert _sheet_name(long, used) == "x" * 31 and _sheet_name(long, used) == "x" * 29 + "~2"
    assert all(len(u) <= 31 for u in used)


def test_float_codes_read_as_integers_per_sheet(tmp_path):
    """A float column of ids reads "6" on a sheet whose values are all whole, whatever the other sheets hold
    (the disposal sheets share one frame of listed firms, but this choice stays the sheet's own)."""
    res = _result()
    res.firms["industry"] = [6.0, 36.5, np.nan]
    wb = openpyxl.load_workbook(write_workbook(res, tmp_path / "x.xlsx"))
    assert wb["淘汰关停类"]["D2"].value == "6"
    assert wb["腾笼换鸟类"]["D2"].value == "36.5"


def test_cells_and_rows_xml_by_hand():
    """Escapes only where needed, xml:space only at edge white space, empty cells left out of a row."""
    import pyarrow as pa

    from gisefficiency.io.workbook import _cells, _rows

    text = _cells(pa.array(["a&b", " x", None, "y\x01<"]), "A", "text", None)
    assert text[0].to_pylist() == ["<is><t>a&amp;b</t></is></c>", '<is><t xml:space="preserve"> x</t></is></c>',
                                   None, "<is><t>y&lt;</t></is></c>"]
    plain = _cells(pa.array(["1", None, "3", "4"]), "B", "num", 2)
    rows = bytes(_rows([text, plain], 1, 4)).decode("utf-8")
    assert rows == ('<row r="3"><c r="A3" t="inlineStr"><is><t xml:space="preserve"> x</t></is></c></row>'
                    '<row r="4"><c r="B4" s="2"><v>3</v></c></row>'
                    '<row r="5"><c r="A5" t="inlineStr"><is><t>y&lt;</t></is></c><c r="B5" s="2"><v>4</v></c></row>')

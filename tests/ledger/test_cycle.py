"""The yearly cycle on the sample county: run 2022, staff work the 台账, run 2023 with it, check every row.

Staff: fill their columns and add one of their own, put a title row above the header, re-sort the rows,
and mistype one firm's USCC (one character; its parcel ids and name still match). Between the years one
listed firm is deregistered: its rows are gone from the 2023 firm table. Every status and carried value
is checked against what the two runs' firm tables say, worked out here without the ledger code.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from gisefficiency import pipeline
from gisefficiency.config import load_config
from gisefficiency.io.ledger import read_ledger
from gisefficiency.ledger import target_progress

pytestmark = pytest.mark.slow


def _quick(config, year):
    return dataclasses.replace(
        config, policy=dataclasses.replace(config.policy, year=year), scenarios=(),
        clusters=dataclasses.replace(config.clusters, enabled=False),
        raster=dataclasses.replace(config.raster, enabled=False, height=None))


def _listed(result):
    low = [cid for cid, c in result.policy.categories.items() if c.low_efficiency]
    f = result.firms
    return f["disposal"][f["disposal"].isin(low)]


def _fmt(x):
    return f"{round(float(x), 4):.4f}".rstrip("0").rstrip(".")


@pytest.fixture(scope="module")
def cycle(sample_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cycle")
    demo = load_config(sample_dir / "demo.toml")
    r22 = pipeline.run(_quick(demo, 2022))
    pipeline.write_all(r22, _quick(demo, 2022), out_dir=tmp / "2022", maps=False)
    listed22 = _listed(r22)
    # Which firms the test plays with: a close firm that is deregistered, and a swap firm whose USCC staff
    # mistype (both single-parcel holders, so the parcel fallback has one firm to find).
    one_parcel = r22.firms["n_parcels"].eq(1)
    gone = sorted(listed22.index[(listed22 == "close").to_numpy() & one_parcel.reindex(listed22.index).to_numpy()])[0]
    typo = sorted(listed22.index[(listed22 == "swap").to_numpy() & one_parcel.reindex(listed22.index).to_numpy()])[0]
    mistyped = typo[:-2] + ("0" if typo[-2] != "0" else "1") + typo[-1]

    wb = load_workbook(tmp / "2022" / "台账.xlsx")
    ws = wb["台账"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    header, body = rows[0], rows[1:]
    col = {h: i for i, h in enumerate(header)}
    for r in body:
        r[col["责任单位"]] = f"{r[col['乡镇（街道）']]}人民政府"
        r[col["进展"]] = "已告知"
        r[col["认定日期"]] = pd.Timestamp("2022-05-06").to_pydatetime()  # a Friday
        if r[col["统一社会信用代码"]] == typo:
            r[col["统一社会信用代码"]] = mistyped
    body.sort(key=lambda r: (str(r[col["企业名称"]])), reverse=True)  # staff sort by name
    ws.delete_rows(1, ws.max_row)
    ws.append(["示例县2022年度低效企业台账（经济商务局汇总）"])
    ws.append([*header, "联系人"])
    for r in body:
        ws.append([*r, "李四"])
    cfg_dir = tmp / "cfg"
    cfg_dir.mkdir()
    wb.save(cfg_dir / "台账_2022.xlsx")

    firms = load_workbook(sample_dir / "firms.xlsx")
    fs = firms.worksheets[0]
    drop = [c.row for c in fs["A"] if c.value == gone]
    for row in reversed(drop):
        fs.delete_rows(row)
    firms.save(cfg_dir / "firms.xlsx")
    shutil.copy(sample_dir / "demo.toml", cfg_dir / "base.toml")
    text = (sample_dir / "demo.toml").read_text("utf-8")
    for name in ("parcels.gpkg", "land.csv"):
        text = text.replace(f'"{name}"', f'"{(sample_dir / name).as_posix()}"')
    text = text.replace("year = 2021", "year = 2023")
    text += '\n[ledger]\nprevious = "台账_2022.xlsx"\n'
    (cfg_dir / "county.toml").write_text(text, "utf-8")
    config = _quick(load_config(cfg_dir / "county.toml"), 2023)
    r23 = pipeline.run(config)
    written = pipeline.write_all(r23, config, out_dir=tmp / "2023", maps=False)
    ledger = read_ledger(written["ledger"]).set_index("uscc")
    return {"r22": r22, "r23": r23, "ledger": ledger, "gone": gone, "typo": typo, "mistyped": mistyped,
            "written": written, "meta_ledger": r23.meta["ledger"]}


def _expected(c):
    """Status, reason, 销号类型 per firm, from the two runs' firm tables alone."""
    r22, r23 = c["r22"], c["r23"]
    l22, l23 = _listed(r22), _listed(r23)
    zh = {cid: cat.zh for cid, cat in r22.policy.categories.items()}
    tax22, tax23 = r22.firms["tax_per_mu"], r23.firms["tax_per_mu"]
    out = {}
    for u in sorted(set(l22.index) | set(l23.index)):
        if u in l22.index and u in l23.index:
            out[u] = (("继续列入", "2022年起列入", None) if l22[u] == l23[u]
                      else ("类别变化", f"{zh[l22[u]]}→{zh[l23[u]]}", None))
        elif u in l23.index:
            out[u] = ("新列入", "2023年首次列入", None)
        elif u not in r23.firms.index or not r23.firms.at[u, "land_mu"] > 0:
            out[u] = ("已销号", "企业已注销或地块已收回", "退出")
        elif np.isnan(tax23[u]):
            out[u] = ("继续列入", "2023年无亩均税收数据，按上年类别保留（待核实）", None)
        elif tax23[u] > tax22[u]:
            out[u] = ("已销号", f"亩均税收升至{_fmt(tax23[u])}万元/亩（上年{_fmt(tax22[u])}）", "提升")
        else:
            out[u] = ("已销号", f"不再符合认定条件（亩均税收{_fmt(tax23[u])}万元/亩）", "提升")
    return out


def test_every_status_and_reason(cycle):
    ledger, expected = cycle["ledger"], _expected(cycle)
    assert sorted(ledger.index) == sorted(expected)
    got = {u: (ledger.at[u, "status"], ledger.at[u, "status_reason"],
               None if pd.isna(ledger.at[u, "closed_kind"]) else ledger.at[u, "closed_kind"]) for u in ledger.index}
    assert got == expected
    assert expected[cycle["gone"]][0] == "已销号"  # the deregistered firm
    counts = pd.Series([v[0] for v in expected.values()]).value_counts().to_dict()
    assert ledger["status"].value_counts().to_dict() == counts
    assert {"新列入", "继续列入", "类别变化", "已销号"} <= set(counts)


def test_history_and_carried_values(cycle):
    ledger, r22, r23 = cycle["ledger"], cycle["r22"], cycle["r23"]
    l22, l23 = _listed(r22), _listed(r23)
    zh = {cid: cat.zh for cid, cat in r22.policy.categories.items()}
    for u in ledger.index:
        assert ledger.at[u, "first_year"] == (2022 if u in l22.index else 2023)
        for year, listed in ((2022, l22), (2023, l23)):
            got = ledger.at[u, f"category_{year}"]
            assert (None if pd.isna(got) else got) == (zh[listed[u]] if u in listed.index else None)
        if u in l22.index:  # staff columns come back as staff wrote them
            assert ledger.at[u, "责任单位"] == f"{r22.firms.at[u, 'street']}人民政府"
            assert ledger.at[u, "联系人"] == "李四" and ledger.at[u, "进展"] == "已告知"
        else:
            assert pd.isna(ledger.at[u, "责任单位"]) and pd.isna(ledger.at[u, "联系人"])
    gone = cycle["gone"]
    assert ledger.at[gone, "land_mu"] == pytest.approx(r22.firms.at[gone, "land_mu"], abs=1e-9)
    assert ledger.at[gone, "closed_year"] == 2023


def test_mistyped_uscc_found_by_parcel_and_reported(cycle):
    ledger, typo, mistyped = cycle["ledger"], cycle["typo"], cycle["mistyped"]
    assert typo in ledger.index and mistyped not in ledger.index
    assert ledger.at[typo, "match"] == f"地块编号（原代码{mistyped}）"
    others = ledger.drop(index=typo)
    carried = others[others["first_year"] == 2022]
    assert set(carried["match"]) - {"统一社会信用代码"} == {"未找到"}  # only the deregistered firm
    assert carried.index[carried["match"] == "未找到"].tolist() == [cycle["gone"]]
    sheet = load_workbook(cycle["written"]["ledger"])["匹配情况"]
    found = {r[0]: r[3] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert found == {typo: f"地块编号（原代码{mistyped}）", cycle["gone"]: "未找到"}


def test_deadlines_from_the_staff_date(cycle):
    ledger = cycle["ledger"]
    open_ = ledger[ledger["status"] != "已销号"]
    for u in open_.index[open_["first_year"] == 2022]:
        cat = open_.at[u, "category_id"]
        # 2022-05-06 + 45 days = 2022-06-20; + 30 days = 2022-06-05; + 5 working days (Mon-Fri) = 2022-05-13.
        if cat == "close":
            assert open_.at[u, "设备搬离期限"] == pd.Timestamp("2022-06-20")
            assert pd.isna(open_.at[u, "整治方案提交期限"])
        else:
            assert open_.at[u, "整治方案提交期限"] == pd.Timestamp("2022-06-05")
            assert pd.isna(open_.at[u, "设备搬离期限"])
        assert open_.at[u, "异议申请期限"] == pd.Timestamp("2022-05-13")
    new = open_[open_["first_year"] == 2023]
    assert new["异议申请期限"].isna().all()  # no date entered yet


def test_targets_measured_from_the_ledger(cycle):
    r22, ledger = cycle["r22"], cycle["meta_ledger"]
    progress = target_progress(cycle["r23"], ledger=ledger)
    expected = _expected(cycle)
    l22 = _listed(r22)
    closed = [u for u, v in expected.items() if v[0] == "已销号"]
    close_done = sum(1 for u in closed if l22[u] == "close")
    swap_done = sum(1 for u in closed if l22[u] in ("swap", "upgrade"))
    freed = r22.firms.at[cycle["gone"], "land_mu"]
    assert progress["achieved"].tolist() == pytest.approx([close_done, swap_done, freed])
    assert progress["goal"].tolist() == [30, 50, 800]
    assert progress["measured_by"].tolist() == ["ledger"] * 3

"""Hypothesis strategies for small bureau-shaped counties, written to disk as bureaus hand them over.

A county is drawn from a small grammar (``counties()``): which optional parcel and firm columns exist,
how headers are spelled (canonical English, Chinese with units, national field codes for parcels), file
formats (GeoPackage, GBK Shapefile without .cpg, GeoJSON; CSV in GBK or UTF-8 with BOM, .xlsx with title
rows, .xls, the wide "2021年实缴税金" layout), value spellings (是/否 or 1/0, dates as 2020.06, 2020年6月,
2020/6/15 or Excel serials, tax in 元 or 万元), geometry defects (bow-tie, empty, duplicated ids), layouts
with zero, one or many contiguous blocks, one to many firms per parcel and every shipped preset.

``write_county(county, folder)`` writes the files and ``county.toml``; ``County`` keeps what was written
(ids, blank tax firm-years) for the properties to check the outputs against.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from hypothesis import strategies as st
from shapely.geometry import Polygon

from gisefficiency.core.uscc import uscc_check_digit
from gisefficiency.evaluate.policy import list_presets

#: Square parcels of 70 m (4,900 m², 7.35 mu) in CGCS2000 3° GK CM 120°E (EPSG:4549), near 119.9°E 28.6°N.
SIDE_M = 70.0
ORIGIN = (490_000.0, 3_165_000.0)
YEARS = (2018, 2019, 2020, 2021, 2022)
REFERENCE_YEAR = 2021
#: Every shipped preset (`gisefficiency presets`).
PRESETS = tuple(sorted(info.name for info in list_presets()))

PARCEL_OPTIONAL = ("holder_uscc", "land_use", "supply_date", "cert_area_m2", "floor_area_m2",
                   "building_height_m", "street")
FIRM_OPTIONAL = ("name", "parcel_id", "scale", "industry", "value_added", "revenue", "energy_tce", "electricity",
                 "rd", "staff", "high_tech", "tech_sme", "public_welfare", "in_production", "production_date",
                 "zombie", "unlicensed")
FLAGS = ("high_tech", "tech_sme", "public_welfare", "in_production", "zombie", "unlicensed")
FIRM_NUMBERS = ("tax", "value_added", "revenue", "energy_tce", "electricity", "rd", "staff")

PARCEL_ZH = {"parcel_id": "地块编号", "holder_uscc": "权利人统一社会信用代码", "land_use": "土地用途",
             "supply_date": "供地日期", "cert_area_m2": "证载面积（平方米）", "floor_area_m2": "建筑面积（平方米）",
             "building_height_m": "建筑高度（米）", "street": "街道"}
#: DBF field names hold 10 bytes: five GBK characters.
PARCEL_ZH_SHP = {**PARCEL_ZH, "holder_uscc": "权利人代码", "cert_area_m2": "证载面积", "floor_area_m2": "建筑面积",
                 "building_height_m": "建筑高度"}
PARCEL_NATIONAL = {**PARCEL_ZH_SHP, "cert_area_m2": "ZDMJ", "land_use": "TDYT"}
FIRM_ZH = {"uscc": "统一社会信用代码", "name": "企业名称", "year": "年度", "parcel_id": "地块编号",
           "scale": "规模", "industry": "行业代码", "tax": "实缴税金（万元）", "value_added": "工业增加值（万元）",
           "revenue": "营业收入（万元）", "energy_tce": "综合能耗（吨标煤）", "electricity": "用电量（万千瓦时）",
           "rd": "研发经费（万元）", "staff": "年平均职工人数", "high_tech": "高新技术企业", "tech_sme": "科技型中小企业",
           "public_welfare": "公益类", "in_production": "是否投产", "production_date": "投产日期",
           "zombie": "僵尸企业", "unlicensed": "无证无照"}


@dataclass
class County:
    """One drawn county: its frames in canonical names and how to write them."""

    parcels: gpd.GeoDataFrame          # canonical columns, one row per written feature
    firms: pd.DataFrame                # long firm-year panel, canonical columns, tax in 万元
    parcel_format: str                 # gpkg | shp | geojson
    parcel_headers: str                # canonical | zh | national
    id_code: str                       # national id field: ZDDM or BDCDYH
    firm_format: str                   # csv_gbk | csv_bom | xlsx | xls | wide_csv | wide_xlsx
    firm_headers: str                  # canonical | zh
    flag_style: str                    # 是否 | 10
    date_style: str                    # dot_month | zh_month | slash_day | serial
    tax_unit: str                      # 万元 | 元 ([firms] units) | 元 header (实缴税金（元）, no config)
    title_rows: int                    # rows above the header in a spreadsheet
    blank: str                         # how a blank figure is written: "" | "—" | "#DIV/0!" | "#N/A"
    duplicates: str                    # error | keep_first | merge
    preset: str
    tenant_mode: str
    no_map: bool
    config: dict = field(default_factory=dict)

    @property
    def parcel_ids(self) -> set[str]:
        return set(self.parcels["parcel_id"].astype(str))

    @property
    def usccs(self) -> set[str]:
        return set(self.firms["uscc"])

    def blank_tax_firms(self) -> set[str]:
        """Firms whose reference-year tax is blank (so their per-mu tax must be missing, never 0)."""
        ref = self.firms[self.firms["year"] == REFERENCE_YEAR]
        blank = ref.groupby("uscc")["tax"].apply(lambda s: s.isna().all())
        return set(blank[blank].index)


def uscc(serial: int) -> str:
    """A valid 18-character USCC (GB 32100-2015 check digit) for a serial number."""
    first17 = f"913311{serial:011d}"
    return first17 + uscc_check_digit(first17)


def _square(col: int, row: int, step: float) -> Polygon:
    x, y = ORIGIN[0] + col * step, ORIGIN[1] + row * step
    return Polygon([(x, y), (x + SIDE_M, y), (x + SIDE_M, y + SIDE_M), (x, y + SIDE_M)])


def _bow_tie(poly: Polygon) -> Polygon:
    (x0, y0), _, (x1, y1), _ = list(poly.exterior.coords)[:4]
    return Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


@st.composite
def counties(draw: st.DrawFn) -> County:
    """Draw one county (5-40 parcels, their firms and how both are written)."""
    n = draw(st.integers(5, 40), label="n_parcels")
    layout = draw(st.sampled_from(["far", "adjacent", "mixed"]), label="layout")
    cols = draw(st.integers(2, 8), label="columns")
    # far: 300 m apart (no block); adjacent: touching (blocks wherever low-efficiency parcels meet);
    # mixed: the first half touching, the rest far away.
    steps = np.full(n, 300.0 if layout == "far" else SIDE_M)
    if layout == "mixed":
        steps[n // 2:] = 300.0
    geoms = []
    for i in range(n):
        offset = 0 if steps[i] == SIDE_M else 5  # far parcels start away from the touching half
        geoms.append(_square(i % cols + offset * (layout == "mixed"), i // cols, steps[i]))
    ids = [f"ZJ{3311 + i:06d}" for i in range(n)]
    duplicated = draw(st.booleans(), label="duplicated_id") and n > 5
    if duplicated:
        ids[-1] = ids[0]
    defects = draw(st.sets(st.sampled_from(["bow_tie", "empty"])), label="defects")
    if "bow_tie" in defects:
        geoms[1] = _bow_tie(geoms[1])
    if "empty" in defects:
        geoms[2] = Polygon()

    rng = np.random.default_rng(draw(st.integers(0, 2**16), label="seed"))
    # Firms: each parcel has 0 (idle) to max_group firms, the first of them the holder.
    max_group = draw(st.integers(1, 4), label="max_group")
    per_parcel = rng.integers(0, max_group + 1, size=n)
    per_parcel[0] = max(per_parcel[0], 1)
    firm_rows, holders, serial = [], [], 1
    for pid, k in zip(ids, per_parcel, strict=True):
        holders.append(uscc(serial) if k else None)
        for _ in range(k):
            code, serial = uscc(serial), serial + 1
            for year in YEARS:
                firm_rows.append({"uscc": code, "name": f"示例{serial:03d}有限公司", "year": year, "parcel_id": pid})
    firms = pd.DataFrame(firm_rows)
    m = len(firms)
    tax = np.round(rng.lognormal(1.5, 1.3, m), 2)
    blank_share = draw(st.sampled_from([0.0, 0.1, 0.4]), label="blank_tax_share")
    tax[rng.random(m) < blank_share] = np.nan
    firms["tax"] = tax
    for c in ("value_added", "revenue", "energy_tce", "electricity", "rd"):
        firms[c] = np.round(rng.lognormal(3, 1, m), 2)
    firms["staff"] = rng.integers(5, 300, m).astype(float)
    firms["scale"] = np.where(rng.random(m) < 0.5, "规上", "规下")
    firms["industry"] = rng.choice(["C3311", "3411", "C2929"], m)
    for c in FLAGS:
        firms[c] = rng.random(m) < (0.9 if c == "in_production" else 0.1)
    firms["production_date"] = [dt.date(int(y), int(mo), int(d)) for y, mo, d in zip(
        rng.integers(2005, 2020, m), rng.integers(1, 13, m), rng.integers(1, 29, m), strict=True)]
    firm_keep = draw(st.sets(st.sampled_from(FIRM_OPTIONAL)), label="firm_columns")
    # The link keys decide whether anything links at all: keep the table's parcel id in most counties
    # (bureau tables usually have it), so most examples evaluate firms rather than an all-unlinked county.
    if draw(st.sampled_from([True, True, True, True, False]), label="firm_parcel_id"):
        firm_keep = firm_keep | {"parcel_id"}
    firms = firms[[c for c in firms.columns if c in ("uscc", "year", "tax") or c in firm_keep]]

    parcels = gpd.GeoDataFrame({"parcel_id": ids}, geometry=geoms, crs="EPSG:4549")
    parcels["holder_uscc"] = holders
    parcels["land_use"] = rng.choice(["0601", "工业用地", "1001"], n)
    parcels["supply_date"] = [dt.date(int(y), int(mo), 1) for y, mo in zip(
        rng.integers(2000, 2020, n), rng.integers(1, 13, n), strict=True)]
    parcels["cert_area_m2"] = np.round(SIDE_M**2 * rng.uniform(0.98, 1.02, n), 1)
    parcels["floor_area_m2"] = np.round(SIDE_M**2 * rng.uniform(0.3, 1.5, n), 1)
    parcels["building_height_m"] = np.round(rng.uniform(5, 25, n), 1)
    parcels["street"] = rng.choice(["城关镇", "工业园区"], n)
    parcel_keep = draw(st.sets(st.sampled_from(PARCEL_OPTIONAL)), label="parcel_columns")
    if draw(st.sampled_from([True, True, False]), label="holder_uscc"):
        parcel_keep = parcel_keep | {"holder_uscc"}
    parcels = parcels[["parcel_id", *[c for c in PARCEL_OPTIONAL if c in parcel_keep], "geometry"]]

    return County(
        parcels=parcels, firms=firms,
        parcel_format=draw(st.sampled_from(["gpkg", "shp", "geojson"]), label="parcel_format"),
        parcel_headers=draw(st.sampled_from(["canonical", "zh", "national"]), label="parcel_headers"),
        id_code=draw(st.sampled_from(["ZDDM", "BDCDYH"]), label="id_code"),
        firm_format=draw(st.sampled_from(["csv_gbk", "csv_bom", "xlsx", "xls", "wide_csv", "wide_xlsx"]),
                         label="firm_format"),
        firm_headers=draw(st.sampled_from(["canonical", "zh"]), label="firm_headers"),
        flag_style=draw(st.sampled_from(["是否", "10"]), label="flag_style"),
        date_style=draw(st.sampled_from(["dot_month", "zh_month", "slash_day", "serial", "cell"]), label="date_style"),
        tax_unit=draw(st.sampled_from(["万元", "元", "元 header"]), label="tax_unit"),
        title_rows=draw(st.integers(0, 3), label="title_rows"),
        blank=draw(st.sampled_from(["", "—", "#DIV/0!", "#N/A"]), label="blank"),
        duplicates=draw(st.sampled_from(["keep_first", "merge", "error"] if duplicated else ["error"]),
                        label="duplicates"),
        preset=draw(st.sampled_from(PRESETS), label="preset"),
        tenant_mode=draw(st.sampled_from(["floor_share", "merge_to_holder", "separate_group"]), label="tenant_mode"),
        no_map=draw(st.booleans(), label="no_map"),
    )


# ---------------------------------------------------------------- writing

def _date_text(values: pd.Series, style: str) -> pd.Series:
    """Dates as bureaus type them (month-only styles keep the first day of the month exact)."""
    def one(d: object) -> object:
        if d is None or pd.isna(d):
            return None
        if style == "dot_month":
            return f"{d.year}.{d.month:02d}"
        if style == "zh_month":
            return f"{d.year}年{d.month}月"
        if style == "slash_day":
            return f"{d.year}/{d.month}/{d.day}"
        if style == "cell":
            return d  # a date cell in a workbook, ISO text in a CSV or a vector layer
        return float((pd.Timestamp(d) - pd.Timestamp("1899-12-30")).days)  # Excel serial
    return values.map(one)


def _flag_text(values: pd.Series, style: str) -> pd.Series:
    yes, no = ("是", "否") if style == "是否" else ("1", "0")
    return values.map(lambda v: yes if v else no)


def _parcel_headers(county: County) -> dict[str, str]:
    if county.parcel_headers == "canonical":
        return {c: c for c in county.parcels.columns if c != "geometry"}
    headers = PARCEL_ZH_SHP if county.parcel_format == "shp" else PARCEL_ZH
    if county.parcel_headers == "national":
        headers = {**PARCEL_NATIONAL, "parcel_id": county.id_code}
    return headers


def write_parcels(county: County, folder: Path) -> dict:
    frame = county.parcels.copy()
    if "supply_date" in frame:
        frame["supply_date"] = _date_text(frame["supply_date"], county.date_style)
    headers = _parcel_headers(county)
    if county.parcel_headers == "national":
        frame["QLR"] = "某公司"  # holder name as cadastral layers carry it
    frame = frame.rename(columns=headers)
    section: dict = {"id": headers["parcel_id"], "duplicates": county.duplicates}
    if county.parcel_format == "gpkg":
        path = folder / "宗地.gpkg"
        frame.to_file(path, layer="宗地", driver="GPKG", engine="pyogrio")
    elif county.parcel_format == "geojson":
        path = folder / "宗地.geojson"
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    else:
        path = folder / "宗地.shp"
        frame.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="GBK")
        path.with_suffix(".cpg").unlink(missing_ok=True)  # bureau shapefiles come without one
    section["path"] = path.name
    return section


def write_firms(county: County, folder: Path) -> dict:
    frame = county.firms.copy()
    section: dict = {}
    if county.tax_unit.startswith("元"):
        frame["tax"] = frame["tax"] * 10_000
    if county.tax_unit == "元":
        section["units"] = {"tax": "元"}
    for c in FLAGS:
        if c in frame:
            frame[c] = _flag_text(frame[c], county.flag_style)
    if "production_date" in frame:
        frame["production_date"] = _date_text(frame["production_date"], county.date_style)
    if "scale" in frame and county.flag_style == "10":
        frame["scale"] = frame["scale"].map({"规上": "1", "规下": "0"})
    zh = county.firm_headers == "zh"
    if county.blank:  # a blank figure as the spreadsheet shows it (a dash, or the error of a formula)
        for c in FIRM_NUMBERS:
            if c in frame:
                frame[c] = frame[c].astype(object).where(frame[c].notna(), county.blank)

    def header(c: str) -> str:
        text = FIRM_ZH.get(c, c) if zh else c
        if c == "tax" and county.tax_unit == "元":
            text = "实缴税金" if zh else "tax"  # the unit comes from [firms] units
        elif c == "tax" and county.tax_unit == "元 header":
            text = "实缴税金（元）"  # the unit in the header's brackets
        return text

    if county.firm_format.startswith("wide"):
        keys = [c for c in ("uscc", "name", "parcel_id") if c in frame]
        numbers = [c for c in FIRM_NUMBERS if c in frame]
        # one row per firm: its keys, then one column per figure and year (a blank year stays blank)
        wide = frame.set_index([*keys, "year"])[numbers].unstack("year")
        wide = wide.reindex(pd.MultiIndex.from_product([numbers, YEARS]), axis=1)
        unit = {"tax": "（元）"} if county.tax_unit == "元 header" else {}
        wide.columns = [f"{year}年{FIRM_ZH[c].split('（')[0]}{unit.get(c, '')}" for c, year in wide.columns]
        frame = wide.reset_index().rename(columns={c: header(c) for c in keys})
    else:
        frame = frame.rename(columns={c: header(c) for c in frame.columns})
    fmt = county.firm_format
    if fmt in ("csv_gbk", "csv_bom", "wide_csv"):
        path = folder / "企业亩均数据.csv"
        frame.to_csv(path, index=False, encoding="gbk" if fmt == "csv_gbk" else "utf-8-sig")
    elif fmt == "xls":
        path = folder / "企业亩均数据.xls"
        _write_xls(frame, path, county.title_rows)
    else:
        path = folder / "企业亩均数据.xlsx"
        _write_xlsx(frame, path, county.title_rows)
    section["path"] = path.name
    return section


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _write_xlsx(frame: pd.DataFrame, path: Path, title_rows: int) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "亩均效益"
    for i in range(title_rows):
        sheet.append(["2021年度工业企业亩均效益综合评价表" if i == 0 else f"填报单位：示例县经信局（{i}）"])
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False, name=None):
        sheet.append([_cell(v) for v in row])
    book.save(path)


def _write_xls(frame: pd.DataFrame, path: Path, title_rows: int) -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("亩均效益")
    for i in range(title_rows):
        sheet.write(i, 0, "2021年度工业企业亩均效益综合评价表" if i == 0 else f"填报单位（{i}）")
    for j, name in enumerate(frame.columns):
        sheet.write(title_rows, j, name)
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=title_rows + 1):
        for j, v in enumerate(row):
            v = _cell(v)
            if v is not None:
                sheet.write(i, j, v)
    book.save(str(path))


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + " }"
    return repr(v)


def write_county(county: County, folder: Path) -> Path:
    """Write the county's files and its ``county.toml`` into ``folder``; return the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "project": {"name": "生成县"},
        "parcels": write_parcels(county, folder),
        "firms": write_firms(county, folder),
        "link": {"tenant_mode": county.tenant_mode},
        "policy": {"preset": county.preset, "year": REFERENCE_YEAR},
        "blocks": {"gap_m": 30, "min_area_mu": 10},
        "clusters": {"enabled": False},
        "raster": {"resolution_m": 50, "density_resolution_m": 100, "bandwidth_m": 300},
        "map": {"basemap": "none"},
        "output": {"dir": "out"},
    }
    county.config = config
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    path = folder / "county.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

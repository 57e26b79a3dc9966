"""Write a sample county the way bureaus hand data over: Chinese headers and the usual quirks.

The header tables below are the sample's canonical -> Chinese mapping; every header maps back to
its canonical name through ``schema.ALIASES`` (the unit in brackets is ignored by the reader).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gisefficiency.core.errors import ConfigError, InputError, Problem
from gisefficiency.sample._county import SampleCounty
from gisefficiency.sample._names import COUNTY_NAME

#: Parcel headers for GeoPackage/GeoParquet (units in brackets).
PARCEL_HEADERS: dict[str, str] = {
    "parcel_id": "地块编号",
    "holder_uscc": "权利人统一社会信用代码",
    "land_use": "土地用途",
    "supply_date": "供地日期",
    "cert_area_m2": "证载面积(平方米)",
    "floor_area_m2": "建筑面积(平方米)",
    "building_height_m": "建筑高度(米)",
    "street": "街道",
}
#: Parcel headers for the shapefile: DBF field names hold at most 10 bytes (5 GBK characters).
PARCEL_HEADERS_SHP: dict[str, str] = {
    "parcel_id": "地块编号",
    "holder_uscc": "权利人代码",
    "land_use": "土地用途",
    "supply_date": "供地日期",
    "cert_area_m2": "证载面积",
    "floor_area_m2": "建筑面积",
    "building_height_m": "建筑高度",
    "street": "街道",
}
#: Firm-year headers as 亩均 spreadsheets write them.
FIRM_HEADERS: dict[str, str] = {
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "year": "年度",
    "parcel_id": "地块编号",
    "scale": "规模(规上/规下)",
    "industry": "行业代码",
    "tax": "实缴税金(万元)",
    "value_added": "工业增加值(万元)",
    "revenue": "营业收入(万元)",
    "energy_tce": "综合能耗(吨标煤)",
    "electricity": "用电量(万千瓦时)",
    "cod_t": "COD(吨)",
    "nh3n_t": "氨氮(吨)",
    "so2_t": "二氧化硫(吨)",
    "nox_t": "氮氧化物(吨)",
    "water_m3": "用水量(吨)",
    "gas_m3": "天然气用量(立方米)",
    "rd": "研发经费(万元)",
    "staff": "年平均职工人数",
    "high_tech": "高新技术企业(是/否)",
    "tech_sme": "科技型中小企业",
    "public_welfare": "公益类",
    "in_production": "是否投产",
    "production_date": "投产日期",
    "lon": "经度",
    "lat": "纬度",
    "coord_sys": "坐标系",
}
#: Land-row headers.
LAND_HEADERS: dict[str, str] = {
    "uscc": "统一社会信用代码",
    "parcel_id": "地块编号",
    "kind": "用地类型(自有/租赁)",
    "floor_area_m2": "使用面积(平方米)",
}
SCALE_ZH: dict[str, str] = {"above": "规上", "below": "规下"}
KIND_ZH: dict[str, str] = {"own": "自有", "leased": "租赁"}

#: Formats ``write_sample`` knows; the default writes everything but Parquet.
SAMPLE_FORMATS: tuple[str, ...] = ("gpkg", "shp", "xlsx", "csv", "tif", "parquet")
DEFAULT_FORMATS: tuple[str, ...] = ("gpkg", "xlsx", "shp", "csv", "tif")

#: Title row of the Excel file (row 1; the header is row 2).
FIRM_TITLE: str = f"{COUNTY_NAME}2020-2023年工业企业亩均效益数据"


def write_sample(
    county: SampleCounty, out_dir: str | Path, *, raster: bool = True, formats: Sequence[str] | None = None
) -> dict[str, Path]:
    """Write a sample county with Chinese headers, plus a README describing the files.

    Parameters
    ----------
    county
        From :func:`generate_county`.
    out_dir
        Folder to write into (created if missing); existing files of the same names are replaced.
    raster
        Write ``building_height.tif`` when ``"tif"`` is among the formats.
    formats
        Any of ``SAMPLE_FORMATS``: ``gpkg`` (parcels.gpkg, layers ``parcels`` and ``streets``),
        ``shp`` (parcels_gbk.shp, GBK, no .cpg), ``xlsx`` (firms.xlsx with a title row), ``csv``
        (land.csv), ``tif`` (building_height.tif), ``parquet`` (parcels.parquet GeoParquet,
        firms.parquet, land.parquet). Default: everything but Parquet.

    Returns
    -------
    dict of str to Path
        What was written, by key (``parcels``, ``parcels_gbk``, ``firms``, ``land``, ``height``,
        ``parcels_parquet``, ``firms_parquet``, ``land_parquet``, ``readme``).

    Raises
    ------
    ConfigError
        On an unknown format.
    InputError
        If a raster is asked for but the county was generated without one.
    """
    chosen = tuple(DEFAULT_FORMATS if formats is None else formats)
    unknown = [f for f in chosen if f not in SAMPLE_FORMATS]
    if unknown:
        raise ConfigError(f"unknown sample format(s) {unknown} -> use any of {', '.join(SAMPLE_FORMATS)}",
                          zh=f"未知的示例格式 {unknown} → 可使用 {', '.join(SAMPLE_FORMATS)} 中的任意几个")
    want_tif = raster and "tif" in chosen
    if want_tif and county.height is None:
        raise InputError(
            "cannot write building_height.tif",
            [Problem(message="the county was generated with with_raster=False",
                     fix="generate_county(..., with_raster=True) or write_sample(..., raster=False)",
                     message_zh="该示例县生成时设置了 with_raster=False",
                     fix_zh="请用 generate_county(..., with_raster=True)，或 write_sample(..., raster=False)")],
            zh="无法写出 building_height.tif",
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    parcels = _parcels_zh(county.parcels, PARCEL_HEADERS)
    if "gpkg" in chosen:
        path = out / "parcels.gpkg"
        path.unlink(missing_ok=True)
        parcels.to_file(path, layer="parcels", driver="GPKG", engine="pyogrio")
        streets = county.streets.rename(columns={"street": "街道", "code": "代码"})
        streets.to_file(path, layer="streets", driver="GPKG", engine="pyogrio")
        written["parcels"] = path
    if "shp" in chosen:
        written["parcels_gbk"] = _write_gbk_shapefile(_parcels_zh(county.parcels, PARCEL_HEADERS_SHP), out)
    if "xlsx" in chosen:
        written["firms"] = _write_firms_xlsx(_firms_zh(county.firms), out / "firms.xlsx")
    if "csv" in chosen:
        path = out / "land.csv"
        _land_zh(county.land).to_csv(path, index=False, encoding="utf-8")
        written["land"] = path
    if want_tif:
        written["height"] = _write_height(county, out / "building_height.tif")
    if "parquet" in chosen:
        written["parcels_parquet"] = out / "parcels.parquet"
        parcels.to_parquet(written["parcels_parquet"], index=False)
        written["firms_parquet"] = out / "firms.parquet"
        _firms_zh(county.firms).to_parquet(written["firms_parquet"], index=False)
        written["land_parquet"] = out / "land.parquet"
        _land_zh(county.land).to_parquet(written["land_parquet"], index=False)
    from gisefficiency.sample._readme import readme_text

    written["readme"] = out / "README.md"
    written["readme"].write_text(readme_text(county, written), encoding="utf-8")
    return written


def _parcels_zh(parcels: gpd.GeoDataFrame, headers: dict[str, str]) -> gpd.GeoDataFrame:
    out = parcels.rename(columns=headers)
    # Dates as calendar dates (GPKG/DBF date fields), not timestamps.
    out[headers["supply_date"]] = pd.to_datetime(parcels["supply_date"]).dt.date
    return out


def _firms_zh(firms: pd.DataFrame) -> pd.DataFrame:
    out = firms.copy()
    out["scale"] = out["scale"].map(SCALE_ZH)
    for column in ("high_tech", "tech_sme", "public_welfare", "in_production"):
        out[column] = np.where(out[column].isna(), None, np.where(out[column].fillna(False), "是", "否"))
    return out.rename(columns=FIRM_HEADERS)


def _land_zh(land: pd.DataFrame) -> pd.DataFrame:
    out = land.copy()
    out["kind"] = out["kind"].map(KIND_ZH)
    return out.rename(columns=LAND_HEADERS)


def _write_gbk_shapefile(parcels: gpd.GeoDataFrame, out: Path) -> Path:
    """GBK-encoded shapefile, then the .cpg removed: what many bureau exports look like."""
    path = out / "parcels_gbk.shp"
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        path.with_suffix(ext).unlink(missing_ok=True)
    # RESIZE shrinks the DBF text fields to their longest value (GDAL's default width is 80).
    parcels.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="gbk", layer_options={"RESIZE": "YES"})
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def _write_firms_xlsx(firms: pd.DataFrame, path: Path) -> Path:
    """Firm table with a merged title row above the header (row 1 title, row 2 header).

    openpyxl's streaming writer is used: the cell-by-cell writer behind ``DataFrame.to_excel``
    is several times slower, and a 12,000-row sheet is what the sample holds.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.cell_range import CellRange

    book = Workbook(write_only=True)
    sheet = book.create_sheet("亩均效益")
    sheet.freeze_panes = "C3"
    title = WriteOnlyCell(sheet, value=FIRM_TITLE)
    title.font = Font(bold=True, size=14)
    title.alignment = Alignment(horizontal="center")
    sheet.merged_cells.add(CellRange(min_row=1, min_col=1, max_row=1, max_col=firms.shape[1]))
    sheet.append([title])
    sheet.append(list(firms.columns))
    date_col = list(firms.columns).index(FIRM_HEADERS["production_date"])
    body = firms.astype(object).where(firms.notna(), None)
    body.iloc[:, date_col] = [None if v is None else v.date() for v in body.iloc[:, date_col]]
    for row in body.itertuples(index=False, name=None):
        sheet.append(row)
    book.save(path)
    return path


def _write_height(county: SampleCounty, path: Path) -> Path:
    import rasterio

    height = county.height
    rows, cols = height.values.shape
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32",
        "crs": height.crs, "transform": height.transform, "nodata": height.nodata,
        "compress": "deflate", "predictor": 3, "zlevel": 6, "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(height.values, 1)
        dst.set_band_description(1, "building height (m)")
    return path

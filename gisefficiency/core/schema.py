"""Canonical column names of every table, and the Chinese headers accepted for them.

Columns are English snake_case with the unit in the name or documented here. Money is
in 万元, land in 亩 (mu), energy in tce, electricity in 万kWh, emissions in tonnes.
Users extend the aliases in their config (``[firms.aliases]``).
"""

from __future__ import annotations

#: Parcel attributes (besides geometry). parcel_id is the index after reading.
PARCEL_COLUMNS: dict[str, str] = {
    "parcel_id": "parcel id (不动产单元号/宗地号), text",
    "holder_uscc": "USCC of the land-use-right holder, text",
    "land_use": "land use (工业, 仓储, ...), text",
    "supply_date": "land supply date (供地日期), datetime",
    "cert_area_m2": "certificate area (证载面积), m2",
    "floor_area_m2": "building floor area (建筑面积), m2",
    "building_height_m": "building height, m",
    "street": "street or town (街道/乡镇), text",
}

#: Firm-year attributes: one row per firm and year (long layout).
FIRM_COLUMNS: dict[str, str] = {
    "uscc": "统一社会信用代码, 18 characters",
    "name": "firm name",
    "year": "evaluation year, int",
    "parcel_id": "parcel the firm sits on, if the table says so",
    "scale": "'above' (规上) or 'below' (规下)",
    "industry": "GB/T 4754 industry code, text",
    "tax": "实缴税金, 万元",
    "value_added": "工业增加值, 万元",
    "revenue": "营业收入, 万元",
    "energy_tce": "综合能耗, tce",
    "electricity": "用电量, 万kWh",
    "cod_t": "COD, t",
    "nh3n_t": "NH3-N, t",
    "so2_t": "SO2, t",
    "nox_t": "NOx, t",
    "rd": "R&D spending, 万元",
    "staff": "average employees, persons",
    "high_tech": "valid 高新技术企业, bool",
    "tech_sme": "科技型中小企业, bool",
    "public_welfare": "公益类, bool",
    "in_production": "in production, bool",
    "production_date": "production start date, datetime",
    "lon": "firm point longitude (see coord_sys)",
    "lat": "firm point latitude (see coord_sys)",
    "coord_sys": "wgs84, cgcs2000, gcj02 or bd09",
}

#: Firm-parcel land rows (Wenzhou ETDZ style).
LAND_COLUMNS: dict[str, str] = {
    "uscc": "firm USCC",
    "parcel_id": "parcel id",
    "kind": "'own' or 'leased'",
    "floor_area_m2": "floor area used, m2 (leased floor for tenants)",
}

NUMERIC_FIRM_COLUMNS: tuple[str, ...] = (
    "tax", "value_added", "revenue", "energy_tce", "electricity",
    "cod_t", "nh3n_t", "so2_t", "nox_t", "rd", "staff",
)
FLAG_FIRM_COLUMNS: tuple[str, ...] = ("high_tech", "tech_sme", "public_welfare", "in_production")

#: Chinese (and common English) headers -> canonical name. Matching ignores spaces,
#: full-width brackets and the unit in brackets, e.g. "实缴税金（万元）" -> tax.
ALIASES: dict[str, str] = {
    # firms
    "统一社会信用代码": "uscc", "社会信用代码": "uscc", "信用代码": "uscc", "企业代码": "uscc",
    "企业名称": "name", "单位名称": "name", "名称": "name",
    "年度": "year", "年份": "year", "评价年度": "year",
    "地块编号": "parcel_id", "宗地号": "parcel_id", "宗地编号": "parcel_id",
    "不动产单元号": "parcel_id", "地块号": "parcel_id",
    "规模": "scale", "企业规模": "scale", "规上规下": "scale", "是否规上": "scale",
    "行业代码": "industry", "国民经济行业代码": "industry", "所属行业": "industry",
    "实缴税金": "tax", "税收": "tax", "实缴税收": "tax", "评价税收": "tax", "税收实际贡献": "tax",
    "工业增加值": "value_added", "增加值": "value_added",
    "营业收入": "revenue", "主营业务收入": "revenue", "销售收入": "revenue",
    "综合能耗": "energy_tce", "能耗": "energy_tce", "总用能量": "energy_tce",
    "用电量": "electricity", "用电": "electricity",
    "cod": "cod_t", "化学需氧量": "cod_t", "cod排放量": "cod_t",
    "氨氮": "nh3n_t", "氨氮排放量": "nh3n_t", "nh3-n": "nh3n_t",
    "二氧化硫": "so2_t", "二氧化硫排放量": "so2_t", "so2": "so2_t",
    "氮氧化物": "nox_t", "氮氧化物排放量": "nox_t", "nox": "nox_t",
    "研发经费": "rd", "r&d经费支出": "rd", "研发费用": "rd", "r&d": "rd",
    "年平均职工人数": "staff", "职工人数": "staff", "从业人员": "staff",
    "全部从业人员平均人数": "staff", "年平均员工数": "staff",
    "高新技术企业": "high_tech", "是否高新技术企业": "high_tech",
    "科技型中小企业": "tech_sme", "是否科技型中小企业": "tech_sme",
    "公益类": "public_welfare", "公益类企业": "public_welfare", "是否公益类": "public_welfare",
    "是否投产": "in_production", "投产": "in_production", "在产": "in_production",
    "投产日期": "production_date", "投产时间": "production_date",
    "经度": "lon", "纬度": "lat", "坐标系": "coord_sys",
    # parcels
    "权利人统一社会信用代码": "holder_uscc", "权利人代码": "holder_uscc", "用地单位代码": "holder_uscc",
    "土地用途": "land_use", "用途": "land_use", "地类": "land_use",
    "供地日期": "supply_date", "供地时间": "supply_date",
    "证载面积": "cert_area_m2", "土地使用权面积": "cert_area_m2", "发证面积": "cert_area_m2",
    "建筑面积": "floor_area_m2", "总建筑面积": "floor_area_m2",
    "建筑高度": "building_height_m",
    "街道": "street", "乡镇": "street", "所属街道": "street", "街道乡镇": "street",
    # land rows
    "用地类型": "kind", "类型": "kind", "租赁面积": "floor_area_m2", "使用面积": "floor_area_m2",
}

#: Values bureaus write for the scale column.
SCALE_VALUES: dict[str, str] = {
    "规上": "above", "规模以上": "above", "above": "above", "是": "above", "1": "above",
    "规下": "below", "规模以下": "below", "below": "below", "否": "below", "0": "below",
}

#: Land-row kind spellings -> "own" / "leased" (1/0 as the Wenzhou ETDZ platform's ``type``).
KIND_VALUES: dict[str, str] = {
    "own": "own", "owned": "own", "自有": "own", "自用": "own", "自建": "own", "1": "own",
    "leased": "leased", "lease": "leased", "tenant": "leased", "租赁": "leased", "租用": "leased",
    "承租": "leased", "出租": "leased", "0": "leased",
}

TRUE_VALUES: frozenset[str] = frozenset({"是", "true", "1", "y", "yes", "t", "有效", "√"})
FALSE_VALUES: frozenset[str] = frozenset({"否", "false", "0", "n", "no", "f", "无", "无效", ""})

#: Strings that mean "no value" in bureau spreadsheets.
MISSING_VALUES: frozenset[str] = frozenset({"", "—", "-", "--", "——", "/", "无数据", "nan", "NaN", "null", "NULL", "#N/A"})

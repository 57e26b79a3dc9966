"""Canonical column names of every table, and the Chinese headers accepted for them.

Columns are English snake_case with the unit in the name or documented here. Money is
in 万元, land in 亩 (mu), energy in tce, electricity in 万kWh, emissions in tonnes, water and
natural gas in m³.
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

#: Descriptive parcel attributes named from the national field codes (``NATIONAL_FIELDS``): read and
#: kept under these names, not used by any stage. Not in ``PARCEL_COLUMNS``, which a sample layer has all of.
PARCEL_EXTRA_COLUMNS: dict[str, str] = {
    "land_use_name": "land-use name where a layer has code and name apart (DLMC 地类名称), text",
    "holder_name": "land-use-right holder's name (QLR 权利人), text",
    "address": "location (ZL 坐落), text",
    "location_unit": "village or unit the parcel lies in (ZLDWMC 坐落单位名称), text",
    "right_type": "nature of the land right (QLXZ 权利性质: 出让, 划拨, ...), text",
    "supply_method": "way the land was supplied (供地方式: 挂牌出让, 划拨, ...), text",
    "supervision_no": "land-supply e-supervision number (电子监管号), text",
    "registered_plot_ratio": "plot ratio on the register (RJL 容积率)",
    "building_density": "building coverage on the register (JZMD 建筑密度), as written (share or %)",
    "height_limit_m": "building height limit (JZXG 建筑限高), m",
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
    "water_m3": "用水量, m³ (1 吨 of water = 1 m³)",
    "gas_m3": "天然气用量, m³",
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

#: Field codes of the national standards -> (canonical name, unit of the values or "" when not an amount).
#: 宗地/不动产单元 layers: 不动产登记数据库标准 (TD/T 1066), table ZDJBXX 宗地基本信息; ZDMJ is in the
#: unit its MJDW 面积单位 field names (``AREA_UNIT_CODES``), square metres when there is none.
#: 第三次全国国土调查 地类图斑 DLTB (TD/T 1055): TBMJ 图斑面积 in m2. Codes map to one name each, so a
#: layer carrying two codes for one name (ZDDM and BDCDYH) keeps the first as the id, the other as read.
NATIONAL_FIELDS: dict[str, tuple[str, str]] = {
    "ZDDM": ("parcel_id", ""), "BDCDYH": ("parcel_id", ""), "ZL": ("address", ""),
    "ZDMJ": ("cert_area_m2", "m2"), "YT": ("land_use", ""), "TDYT": ("land_use", ""),
    "QLR": ("holder_name", ""), "QLRMC": ("holder_name", ""), "QLXZ": ("right_type", ""),
    "RJL": ("registered_plot_ratio", ""), "JZMD": ("building_density", ""), "JZXG": ("height_limit_m", "m"),
    "DLBM": ("land_use", ""), "DLMC": ("land_use_name", ""), "TBMJ": ("cert_area_m2", "m2"),
    "ZLDWMC": ("location_unit", ""), "QSDWMC": ("holder_name", ""),
}
#: The area-unit field of a 宗地 layer and its codes (不动产登记数据库标准 字典 面积单位).
AREA_UNIT_FIELD = "MJDW"
AREA_UNIT_CODES: dict[str, str] = {"1": "平方米", "2": "亩", "3": "公顷", "平方米": "平方米", "亩": "亩",
                                   "公顷": "公顷", "m2": "平方米", "ha": "公顷"}

#: Land-use codes and names -> class, for deciding which parcels are industrial land. Codes of
#: GB/T 21010-2017 (土地利用现状分类; 三调 DLBM), GB/T 21010-2007, the 2023 国土空间调查、规划、用途管制
#: 用地用海分类 and GB 50137-2011 (城市用地分类: M, W). Six-digit 2023 codes (100101 一类工业用地) and
#: M1/W2-style codes fall under their four-digit or letter class (``io.values.land_use_class``).
LAND_USE_CODES: dict[str, str] = {
    # GB/T 21010-2017: 06 工矿仓储用地, 05 商服用地 0508 物流仓储用地
    "0601": "industrial", "0602": "mining", "0603": "mining", "0604": "storage", "0508": "storage",
    # GB/T 21010-2007: 06 工矿仓储用地
    "061": "industrial", "062": "mining", "063": "storage",
    # 用地用海分类 (2023): 10 工矿用地, 11 仓储用地
    "1001": "industrial", "1002": "mining", "1003": "mining", "1101": "storage", "1102": "storage",
    # GB 50137-2011: M 工业用地, W 物流仓储用地
    "M": "industrial", "W": "storage",
}
#: Words in land-use names -> class, tested in this order (工业仓储用地 is industrial).
LAND_USE_WORDS: dict[str, str] = {"工业": "industrial", "厂房": "industrial", "仓储": "storage",
                                  "物流": "storage", "储备库": "storage", "采矿": "mining", "盐田": "mining"}

#: Firm-parcel land rows (Wenzhou ETDZ style).
LAND_COLUMNS: dict[str, str] = {
    "uscc": "firm USCC",
    "parcel_id": "parcel id",
    "kind": "'own' or 'leased'",
    "floor_area_m2": "floor area used, m2 (leased floor for tenants)",
}

NUMERIC_FIRM_COLUMNS: tuple[str, ...] = (
    "tax", "value_added", "revenue", "energy_tce", "electricity",
    "cod_t", "nh3n_t", "so2_t", "nox_t", "rd", "staff", "water_m3", "gas_m3",
)
#: Yes/no firm attributes every unit carries (NA when the table has no column for them).
FLAG_FIRM_COLUMNS: tuple[str, ...] = ("high_tech", "tech_sme", "public_welfare", "in_production")
#: Optional yes/no columns some rule sets read (Suichang's 淘汰关停/腾笼换鸟 clauses), carried when a firm
#: table has them: 僵尸企业 (halted over half a year), 无证无照 ("four-nos"), 属禁止类产业项目, 租赁工业厂房但不从事
#: 工业生产, 司法拍卖等获得工业用地但不从事工业生产. Not in ``FIRM_COLUMNS``: a unit without them has none.
EXTRA_FLAG_COLUMNS: tuple[str, ...] = (
    "zombie", "unlicensed", "banned_industry", "non_industrial_tenant", "auction_non_industrial",
)
#: Every flag a firm table may hold: each is read to pandas ``boolean`` by ``io.values.parse_flags``.
READ_FLAG_COLUMNS: tuple[str, ...] = (*FLAG_FIRM_COLUMNS, *EXTRA_FLAG_COLUMNS)

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
    "用水量": "water_m3", "年用水量": "water_m3", "用水": "water_m3", "用水总量": "water_m3",
    "总用水量": "water_m3", "工业用水量": "water_m3", "新水用量": "water_m3",
    "用气量": "gas_m3", "年用气量": "gas_m3", "用气": "gas_m3", "天然气用量": "gas_m3",
    "天然气使用量": "gas_m3", "天然气消费量": "gas_m3", "天然气用气量": "gas_m3", "天然气": "gas_m3",
    "研发经费": "rd", "r&d经费支出": "rd", "研发费用": "rd", "r&d": "rd",
    "年平均职工人数": "staff", "职工人数": "staff", "从业人员": "staff",
    "全部从业人员平均人数": "staff", "年平均员工数": "staff",
    "高新技术企业": "high_tech", "是否高新技术企业": "high_tech",
    "科技型中小企业": "tech_sme", "是否科技型中小企业": "tech_sme",
    "公益类": "public_welfare", "公益类企业": "public_welfare", "是否公益类": "public_welfare",
    "是否投产": "in_production", "投产": "in_production", "在产": "in_production",
    "是否在产": "in_production", "已投产": "in_production",
    "高企": "high_tech", "是否高企": "high_tech", "国家高新技术企业": "high_tech",
    "科小": "tech_sme", "社会公益类": "public_welfare",
    "僵尸企业": "zombie", "是否僵尸企业": "zombie", "连续停产半年以上": "zombie",
    "无证无照": "unlicensed", "是否无证无照": "unlicensed", "四无企业": "unlicensed", "是否四无企业": "unlicensed",
    "禁止类产业": "banned_industry", "属禁止类产业项目": "banned_industry", "是否禁止类": "banned_industry",
    "禁止类项目": "banned_industry",
    "租赁厂房不从事工业": "non_industrial_tenant", "租赁工业厂房但不从事工业生产": "non_industrial_tenant",
    "租赁非工业": "non_industrial_tenant",
    "司法拍卖非工业": "auction_non_industrial", "司法拍卖获得但不从事工业": "auction_non_industrial",
    "通过司法拍卖等途径获得工业用地但不从事工业生产": "auction_non_industrial",
    "投产日期": "production_date", "投产时间": "production_date",
    "经度": "lon", "纬度": "lat", "坐标系": "coord_sys",
    # parcels
    "权利人统一社会信用代码": "holder_uscc", "权利人代码": "holder_uscc", "用地单位代码": "holder_uscc",
    "土地用途": "land_use", "用途": "land_use", "地类": "land_use",
    "供地日期": "supply_date", "供地时间": "supply_date",
    "证载面积": "cert_area_m2", "土地使用权面积": "cert_area_m2", "发证面积": "cert_area_m2",
    # National field codes (NATIONAL_FIELDS above); of their Chinese names only those the pipeline
    # reads (other Chinese headers stay columns of their own, as they always were).
    **{code: name for code, (name, _) in NATIONAL_FIELDS.items()},
    "宗地代码": "parcel_id", "宗地面积": "cert_area_m2", "地类编码": "land_use", "地类名称": "land_use_name",
    "图斑面积": "cert_area_m2", "合同签订日期": "supply_date", "供地面积": "cert_area_m2",
    "合同签订日": "supply_date",  # 合同签订日期 cut to a DBF field name's 10 bytes (GBK)
    "电子监管号": "supervision_no", "供地方式": "supply_method",
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

#: Land-row kind spellings -> "own" / "leased", always from the row's own firm's side: 出租/出租方 (the
#: firm lets its land out) makes it the owner, 承租/租赁/租用 (it leases land in) a tenant, 自有/自用 own.
#: 1/0 as the Wenzhou ETDZ platform's ``type``.
KIND_VALUES: dict[str, str] = {
    "own": "own", "owned": "own", "自有": "own", "自用": "own", "自建": "own", "自有自用": "own", "1": "own",
    "出租": "own", "出租方": "own", "租出": "own", "lessor": "own", "let": "own", "letting": "own",
    "leased": "leased", "lease": "leased", "tenant": "leased", "lessee": "leased", "租赁": "leased",
    "租用": "leased", "承租": "leased", "承租方": "leased", "租入": "leased", "0": "leased",
}

#: Yes/no spellings (compared NFKC-folded, in lower case): 是/否, 1/0, True/False, Y/N, √/×, 有/无, ...
TRUE_VALUES: frozenset[str] = frozenset({"是", "true", "1", "y", "yes", "t", "有效", "√", "✓", "✔", "☑", "有",
                                         "对"})
FALSE_VALUES: frozenset[str] = frozenset({"否", "false", "0", "n", "no", "f", "无", "无效", "×", "✗", "✘", "☐",
                                          "没有", ""})

#: Spreadsheet error values (upper case): read as missing, with a warning, wherever a number is expected.
SPREADSHEET_ERRORS: frozenset[str] = frozenset({
    "#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA",
})

#: Strings that mean "no value" in bureau spreadsheets.
MISSING_VALUES: frozenset[str] = frozenset({"", "—", "-", "--", "——", "/", "无数据", "nan", "NaN", "null", "NULL", "#N/A"})

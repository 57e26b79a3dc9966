"""Texts of the HTML report (zh/en) and the GB/T 4754-2017 manufacturing division names.

Column labels come from ``gisefficiency.core.i18n``; this table holds only the report's own words.
"""

from __future__ import annotations

from gisefficiency.core.i18n import Lang

#: Report strings: key -> (Chinese, English).
TEXTS: dict[str, tuple[str, str]] = {
    "title": ("{county}{year}年度工业用地亩均效益评价报告", "{county} industrial land per-mu efficiency report {year}"),
    "county_default": ("本县", "County"),
    "toc": ("目录", "Contents"),
    "no_data": ("无数据", "no data"),
    "filter": ("筛选…", "Filter…"),
    "filter_label": ("筛选表格", "Filter table"),
    "rows_shown": ("显示 {n} / 匹配 {total} 行", "showing {n} of {total} matching rows"),
    "show_all": ("显示全部", "Show all"),
    "sort_hint": ("点击表头排序", "click a header to sort"),
    "anonymised": (
        "本报告已脱敏：企业名称以编号代替，统一社会信用代码已屏蔽。",
        "This report is anonymised: firm names are replaced by codes and USCCs are masked.",
    ),
    "number_note": (
        "金额单位万元，用地单位亩，能耗单位吨标准煤；亩均指标保留两位小数；“—”表示数据缺失（不按0计）。",
        "Money in 10k yuan (万元), land in mu, energy in tce; per-mu figures to 2 decimals; "
        "“—” means missing (never counted as 0).",
    ),
    # sections
    "sec_headline": ("总体情况", "Headline figures"),
    "sec_groups": ("规上/规下企业亩均效益", "Per-mu results by firm scale"),
    "sec_targets": ("目标完成进度", "Progress to targets"),
    "sec_charts": ("图表", "Charts"),
    "sec_street": ("分街道（乡镇）统计", "By street/town"),
    "sec_industry": ("分行业统计（GB/T 4754 大类）", "By industry (GB/T 4754 division)"),
    "sec_grade": ("分类别统计", "By grade"),
    "sec_disposal": ("分处置类别统计", "By disposal category"),
    "sec_blocks": ("低效连片区块", "Contiguous low-efficiency blocks"),
    "sec_flagged": ("低效及需处置企业名单", "Low-efficiency and flagged firms"),
    "sec_scenarios": ("情景测算", "Scenarios"),
    "sec_map": ("地图", "Map"),
    "sec_quality": ("数据关联与质量", "Data linkage and quality"),
    "sec_policy": ("评价政策依据", "Policy used"),
    # headline cards
    "n_parcels": ("地块数", "Parcels"),
    "land_total": ("用地面积(亩)", "Land (mu)"),
    "n_firms": ("企业数", "Firms"),
    "tax_per_mu_all": ("亩均税收(万元/亩)", "Tax per mu (10k yuan/mu)"),
    "va_per_mu_all": ("亩均增加值(万元/亩)", "Value added per mu (10k yuan/mu)"),
    "low_land": ("低效用地(亩)", "Low-efficiency land (mu)"),
    "low_parcels": ("低效地块数", "Low-efficiency parcels"),
    "idle_parcels": ("闲置地块数", "Idle parcels"),
    "n_blocks": ("连片区块数", "Blocks"),
    "block_area": ("区块面积(亩)", "Block area (mu)"),
    "freed_mu": ("可腾出用地(亩)", "Land that can be freed (mu)"),
    "freed_tce": ("可腾出用能(吨标煤)", "Energy that can be freed (tce)"),
    "grade_counts": ("评价类别企业数", "Firms by grade"),
    "low_firms": ("低效企业数", "Low-efficiency firms"),
    # group table
    "group": ("分组", "Group"),
    "all_firms": ("全部企业", "All firms"),
    "scale_unknown": ("规模未知", "Scale unknown"),
    "per_mu_note": (
        "亩均 = 税收（或增加值）合计 ÷ 同时有该数据和用地面积的企业用地合计。",
        "Per mu = total tax (or value added) ÷ land of the firms that have both figures.",
    ),
    # targets
    "target_item": ("指标", "Target"),
    "target_source": ("测算口径", "Basis"),
    "achieved": ("可完成", "Achievable"),
    "target": ("目标", "Target"),
    "progress": ("完成度", "Progress"),
    "absent_columns": ("输入数据缺少以下可选列，由其得出的指标为空（以“—”表示，不按0计）：{columns}。",
                       "The input lacks these optional columns; the figures made from them are missing (shown as "
                       "“—”, never counted as 0): {columns}."),
    "absent_firms": ("企业表：{names}", "firm table: {names}"),
    "absent_parcels": ("地块表：{names}", "parcels: {names}"),
    "no_blocks": ("没有低效连片区块达到最小面积（{min_area_mu}亩，相邻间距{gap_m}米）：本次未划出连片区块。",
                  "No contiguous low-efficiency block reached the minimum area ({min_area_mu} mu, neighbours "
                  "within {gap_m} m): this run found no block."),
    "no_blocks_plain": ("没有低效连片区块达到最小面积：本次未划出连片区块。",
                        "No contiguous low-efficiency block reached the minimum area: this run found no block."),
    "scenario_empty": ("{name}（空：未选中任何地块）", "{name} (empty: nothing selected)"),
    "all_blocks": ("全部连片区块", "All blocks"),
    "no_targets": ("所用政策未设定量化目标。", "The policy sets no numeric targets."),
    "tax_expected": ("预期税收(万元)", "Expected tax (10k yuan)"),
    "scenario": ("情景", "Scenario"),
    # tables
    "industry_code": ("行业大类代码", "Division code"),
    "industry_name": ("行业名称", "Division"),
    "industry_other": ("其他行业（代码{code}）", "Other (code {code})"),
    "industry_unknown": ("行业未知", "Industry unknown"),
    "street_unknown": ("街道未知", "Street unknown"),
    "not_disposed": ("无需处置", "No disposal"),
    "low_no_category": ("低效（未分处置类别）", "Low efficiency (no category)"),
    "parcel_land_mu": ("地块用地(亩)", "Parcel land (mu)"),
    "firm_land_mu": ("企业用地(亩)", "Firms' land (mu)"),
    "low_eff_mu": ("低效用地(亩)", "Low-efficiency land (mu)"),
    "low_eff_firms": ("低效企业数", "Low-efficiency firms"),
    "share_firms": ("企业占比", "Share of firms"),
    "and_more": (" 等{n}家", " … ({n} in all)"),
    "firms_in_block": ("区块内企业", "Firms in block"),
    "rank": ("排序", "Rank"),
    "streets": ("涉及街道", "Streets"),
    "uscc_masked": ("统一社会信用代码(已屏蔽)", "USCC (masked)"),
    # charts
    "chart_hist": ("企业亩均税收分布", "Distribution of tax per mu (firms)"),
    "chart_hist_y": ("企业数", "Firms"),
    "threshold": ("阈值 {value}", "threshold {value}"),
    "chart_grade_street": ("各街道评价类别构成", "Grade shares by street"),
    "chart_trend": ("全县亩均税收与亩均增加值变化", "County tax and value added per mu over the years"),
    "per_mu_unit": ("万元/亩", "10k yuan/mu"),
    # quality
    "item": ("项目", "Item"),
    "count": ("数量", "Count"),
    "mu": ("面积(亩)", "Land (mu)"),
    "excluded_parcels": ("排除的地块（无有效图形等）", "Parcels excluded (no usable geometry etc.)"),
    "repaired_parcels": ("已修复图形的地块", "Parcels with repaired geometry"),
    "area_flagged": ("证载面积与图斑面积差异超限的地块", "Parcels whose certificate and drawn areas differ"),
    "inputs": ("输入文件", "Input files"),
    # policy
    "policy_name": ("政策预设", "Preset"),
    "policy_title": ("名称", "Title"),
    "policy_source": ("依据文件", "Source document"),
    "policy_year": ("评价年度", "Reference year"),
    "policy_thresholds": ("亩均税收阈值(万元/亩)", "Tax-per-mu thresholds (10k yuan/mu)"),
    "policy_target_tax": ("区块目标亩均税收(万元/亩)", "Block target tax per mu (10k yuan/mu)"),
    "policy_categories": ("处置类别", "Disposal categories"),
    "policy_targets": ("目标", "Targets"),
    "colour": ("颜色", "Colour"),
    "category_id": ("类别代码", "Category id"),
    "generated_by": ("由 gisefficiency 生成", "Generated by gisefficiency"),
    # printed report, long lists and the static map
    "workbook_note": (
        "完整名单（全部 {n} 家企业、全部区块）见同一文件夹中的工作簿 ",
        "The full lists (all {n} firms, every block) are in the workbook ",
    ),
    "top_title": ("各处置类别亩均税收最低的 {k} 家企业", "The {k} firms with the lowest tax per mu in each category"),
    "top_counts": ("各类企业数：{counts}。", "Firms per category: {counts}."),
    "full_list": ("完整名单（屏幕查看，可排序、筛选）", "Full list (on screen: sort and filter)"),
    "payload_unsupported": (
        "本浏览器无法展开其余 {n} 行（需要较新的浏览器）：请换用新版浏览器，或打开 清单.xlsx。",
        "This browser cannot unpack the other {n} rows (it is too old): use a current browser or open 清单.xlsx.",
    ),
    "print_rows_note": (
        "打印版列出前 {k} 行（共 {n} 行），完整列表见屏幕版或 清单.xlsx。",
        "The printout lists the first {k} of {n} rows; see the screen version or 清单.xlsx for all.",
    ),
    "static_map": ("评价类别与低效连片区块分布图", "Grades and contiguous low-efficiency blocks"),
    "no_class": ("无企业或未评价", "No firm or not graded"),
    "block_outline": ("低效连片区块边界", "Low-efficiency block boundary"),
    "map_not_embedded": (
        "交互地图较大（{size} MB），未嵌入本报告：请打开同一文件夹中的 ",
        "The interactive map is large ({size} MB) and is not embedded here: open ",
    ),
    "map_interactive": ("交互地图（屏幕查看；打印时以上方静态图代替）",
                        "Interactive map (on screen; the printout shows the static map above)"),
}

#: GB/T 4754-2017 section C (manufacturing) divisions 13-43: code -> (Chinese, English).
INDUSTRY_DIVISIONS: dict[str, tuple[str, str]] = {
    "13": ("农副食品加工业", "Agricultural and sideline food processing"),
    "14": ("食品制造业", "Food manufacturing"),
    "15": ("酒、饮料和精制茶制造业", "Liquor, beverages and refined tea"),
    "16": ("烟草制品业", "Tobacco products"),
    "17": ("纺织业", "Textiles"),
    "18": ("纺织服装、服饰业", "Textile garments and apparel"),
    "19": ("皮革、毛皮、羽毛及其制品和制鞋业", "Leather, fur, feathers and footwear"),
    "20": ("木材加工和木、竹、藤、棕、草制品业", "Wood, bamboo, rattan, palm and straw products"),
    "21": ("家具制造业", "Furniture"),
    "22": ("造纸和纸制品业", "Paper and paper products"),
    "23": ("印刷和记录媒介复制业", "Printing and reproduction of recorded media"),
    "24": ("文教、工美、体育和娱乐用品制造业", "Stationery, arts and crafts, sports and entertainment goods"),
    "25": ("石油、煤炭及其他燃料加工业", "Petroleum, coal and other fuel processing"),
    "26": ("化学原料和化学制品制造业", "Chemical raw materials and chemical products"),
    "27": ("医药制造业", "Pharmaceuticals"),
    "28": ("化学纤维制造业", "Chemical fibres"),
    "29": ("橡胶和塑料制品业", "Rubber and plastic products"),
    "30": ("非金属矿物制品业", "Non-metallic mineral products"),
    "31": ("黑色金属冶炼和压延加工业", "Ferrous metal smelting and rolling"),
    "32": ("有色金属冶炼和压延加工业", "Non-ferrous metal smelting and rolling"),
    "33": ("金属制品业", "Metal products"),
    "34": ("通用设备制造业", "General-purpose machinery"),
    "35": ("专用设备制造业", "Special-purpose machinery"),
    "36": ("汽车制造业", "Motor vehicles"),
    "37": ("铁路、船舶、航空航天和其他运输设备制造业", "Railway, ship, aerospace and other transport equipment"),
    "38": ("电气机械和器材制造业", "Electrical machinery and equipment"),
    "39": ("计算机、通信和其他电子设备制造业", "Computers, communication and other electronic equipment"),
    "40": ("仪器仪表制造业", "Instruments and meters"),
    "41": ("其他制造业", "Other manufacturing"),
    "42": ("废弃资源综合利用业", "Comprehensive use of waste resources"),
    "43": ("金属制品、机械和设备修理业", "Repair of metal products, machinery and equipment"),
}


def text(key: str, lang: Lang = "zh", **values: object) -> str:
    """Return report string ``key`` in ``lang`` with ``{name}`` fields filled from ``values``."""
    zh, en = TEXTS[key]
    template = zh if lang == "zh" else en
    return template.format(**values) if values else template

"""Chinese and English labels for columns, grades and categories: the one place maps and reports read."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

LABELS: dict[str, tuple[str, str]] = {
    # parcels
    "parcel_id": ("地块编号", "Parcel id"),
    "street": ("街道/乡镇", "Street/town"),
    "land_use": ("土地用途", "Land use"),
    "holder_uscc": ("权利人代码", "Holder USCC"),
    "supply_date": ("供地日期", "Supply date"),
    "area_mu": ("图斑面积(亩)", "Drawn area (mu)"),
    "cert_area_mu": ("证载面积(亩)", "Certificate area (mu)"),
    "land_mu": ("用地面积(亩)", "Land (mu)"),
    "n_firms": ("企业数", "Firms"),
    "low_efficiency": ("低效用地", "Low-efficiency land"),
    "idle": ("闲置地块", "Idle parcel"),
    "block_id": ("连片区块", "Block"),
    "plot_ratio": ("容积率", "Plot ratio"),
    "firm_names": ("用地企业", "Firms on the parcel"),
    "main_uscc": ("主要用地企业代码", "Main firm USCC"),
    "low_eff_reason": ("低效认定理由", "Low-efficiency reason"),
    "block_role": ("区块内角色", "Role in block"),
    "in_scenario": ("纳入改造方案", "In scenario"),
    "parcel_ids": ("地块编号", "Parcel ids"),
    # firms
    "uscc": ("统一社会信用代码", "USCC"),
    "name": ("企业名称", "Firm"),
    "scale": ("规模", "Scale"),
    "industry": ("行业代码", "Industry"),
    "tax": ("实缴税金(万元)", "Tax (10k yuan)"),
    "value_added": ("工业增加值(万元)", "Value added (10k yuan)"),
    "revenue": ("营业收入(万元)", "Revenue (10k yuan)"),
    "energy_tce": ("综合能耗(吨标煤)", "Energy (tce)"),
    "electricity": ("用电量(万千瓦时)", "Electricity (10k kWh)"),
    "tax_per_mu": ("亩均税收(万元/亩)", "Tax per mu (10k yuan/mu)"),
    "va_per_mu": ("亩均增加值(万元/亩)", "Value added per mu (10k yuan/mu)"),
    "revenue_per_mu": ("亩均营业收入(万元/亩)", "Revenue per mu (10k yuan/mu)"),
    "va_per_tce": ("单位能耗增加值(万元/吨标煤)", "Value added per tce (10k yuan/tce)"),
    "va_per_emission_t": ("单位排放增加值(万元/吨)", "Value added per t emissions (10k yuan/t)"),
    "va_per_staff": ("全员劳动生产率(万元/人)", "Labour productivity (10k yuan/person)"),
    "rd_share": ("R&D经费占比", "R&D share of revenue"),
    "tax_per_elec": ("单位电耗税收(万元/万千瓦时)", "Tax per electricity (10k yuan/10k kWh)"),
    "score": ("综合得分", "Score"),
    "grade": ("评价类别", "Grade"),
    "disposal": ("处置类别", "Disposal"),
    "reason": ("认定理由", "Reason"),
    # blocks
    "n_parcels": ("地块数", "Parcels"),
    "rank": ("排序", "Rank"),
    "streets": ("涉及街道/乡镇", "Streets/towns"),
    "n_kept": ("留用地块数", "Kept parcels"),
    "kept_mu": ("留用面积(亩)", "Kept land (mu)"),
    "low_share": ("低效用地占比", "Low-efficiency share"),
    "compactness": ("紧凑度", "Compactness"),
    "firm_ids": ("涉及企业代码", "Firm USCCs"),
    "freed_mu": ("腾出用地(亩)", "Freed land (mu)"),
    "freed_tce": ("腾出用能(吨标煤)", "Freed energy (tce)"),
    "tax_lost": ("减少税收(万元)", "Tax lost (10k yuan)"),
    "tax_at_target": ("目标税收(万元)", "Tax at target (10k yuan)"),
    "priority": ("优先级得分", "Priority score"),
}

SCALE_LABELS: dict[str, tuple[str, str]] = {
    "above": ("规上", "Above designated size"),
    "below": ("规下", "Below designated size"),
    "tenant": ("租赁企业", "Tenant"),
}

GRADE_LABELS: dict[str, tuple[str, str]] = {
    "A": ("A类", "Class A"),
    "B": ("B类", "Class B"),
    "C": ("C类", "Class C"),
    "D": ("D类", "Class D"),
    "N": ("不参评", "Not graded"),
}

#: Categorical colours for grades (A green ... D red, not graded grey).
GRADE_COLOURS: dict[str, str] = {
    "A": "#1a9850", "B": "#91cf60", "C": "#fc8d59", "D": "#d73027", "N": "#bdbdbd",
}


def label(key: str, lang: Lang = "zh") -> str:
    """Return the label of ``key`` in ``lang``; unknown keys come back unchanged."""
    pair = LABELS.get(key) or SCALE_LABELS.get(key) or GRADE_LABELS.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]

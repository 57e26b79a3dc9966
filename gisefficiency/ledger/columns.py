"""The 台账's columns: the computed ones with their Chinese headers, the staff's own, and the words it uses.

Computed columns are rewritten by every run; staff columns (and any column staff add) are carried from
last year's ledger untouched. Per-year history columns are ``category_<year>`` (类别) and
``tax_per_mu_<year>`` (亩均税收), so a ledger grows one pair of columns a year.
"""

from __future__ import annotations

import re

#: Computed column -> Excel header, in the sheet's order (the per-year columns follow them).
HEADERS: dict[str, str] = {
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "parcel_ids": "地块编号",
    "street": "乡镇（街道）",
    "category": "当前类别",
    "status": "状态",
    "status_reason": "状态说明",
    "first_year": "首次列入年度",
    "closed_year": "销号年度",
    "closed_kind": "销号类型",
    "land_mu": "用地面积（亩）",
    "energy_tce": "综合能耗（吨标准煤）",
    "reason": "本年认定理由",
    "match": "匹配方式",
    "category_id": "类别代码",
}

#: Columns staff fill in; carried over untouched. 认定日期 is the date deadlines count from.
STAFF_COLUMNS: tuple[str, ...] = ("认定日期", "责任单位", "整治措施", "完成时限", "进展", "备注")

NEW, CONTINUED, CHANGED, RELISTED, CLOSED = "新列入", "继续列入", "类别变化", "重新列入", "已销号"
#: Every status, in the order the sheet lists them.
STATUSES: tuple[str, ...] = (NEW, CHANGED, CONTINUED, RELISTED, CLOSED)
#: 销号类型: the firm or its land is gone, or the firm no longer meets the rules.
EXITED, RAISED = "退出", "提升"
GONE_REASON = "企业已注销或地块已收回"

#: 匹配方式 of a row carried from last year's ledger.
MATCH_USCC = "统一社会信用代码"
MATCH_PARCEL = "地块编号"
MATCH_NAME = "企业名称"
MATCH_NONE = "未找到"
MATCH_NEW = "本年新增"

_YEAR_HEADER = re.compile(r"^(\d{4})年(类别|亩均税收（万元/亩）)$")
_YEAR_COLUMN = re.compile(r"^(category|tax_per_mu)_(\d{4})$")


def year_header(column: str) -> str | None:
    """``category_2022`` -> ``2022年类别``; None for a column that is not a per-year one."""
    m = _YEAR_COLUMN.match(column)
    if not m:
        return None
    return f"{m.group(2)}年{'类别' if m.group(1) == 'category' else '亩均税收（万元/亩）'}"


def year_column(header: str) -> str | None:
    """``2022年类别`` -> ``category_2022``; None for a header that is not a per-year one."""
    m = _YEAR_HEADER.match(header)
    if not m:
        return None
    return f"{'category' if m.group(2) == '类别' else 'tax_per_mu'}_{m.group(1)}"


def years_in(columns: list[str] | tuple[str, ...]) -> list[int]:
    """The years a ledger has history columns for, ascending."""
    return sorted({int(m.group(2)) for c in columns if (m := _YEAR_COLUMN.match(str(c)))})


def to_headers(columns: list[str]) -> list[str]:
    """Internal column names -> the Excel headers (staff and deadline columns keep their own)."""
    return [HEADERS.get(c) or year_header(c) or c for c in columns]


def from_headers(headers: list[str]) -> list[str]:
    """Excel headers -> internal column names (unknown headers are staff columns, kept as written)."""
    back = {v: k for k, v in HEADERS.items()}
    return [back.get(h) or year_column(h) or h for h in headers]

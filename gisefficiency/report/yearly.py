"""The report's "targets by year" section: each ``[[targets.yearly]]`` of the preset against the data and the 台账.

Self-contained (its own labels) so the section can move in the report's layout without touching the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gisefficiency.core.i18n import Lang
from gisefficiency.report.tables import fmt_number

_TEXT = {
    "title": ("年度目标", "Targets by year"),
    "year": ("年度", "Year"),
    "target": ("目标", "Target"),
    "group": ("范围", "Firms"),
    "goal": ("目标值", "Goal"),
    "achieved": ("实际", "Achieved"),
    "progress": ("完成度", "Progress"),
    "by": ("计量依据", "Measured from"),
    "counts": ("计量口径", "What it counts"),
    "note": ("情况", "Status"),
    "source": ("文件原文", "Document"),
    "data": ("本次数据", "this run's data"),
    "ledger": ("台账", "the ledger"),
    "intro": ("亩均税收、亩均增加值和达标比例按当年数据计算；销号、退出企业数及腾出用地、用能只能由台账逐年累计，"
              "未提供上年台账时标为“需台账”。",
              "Levels and compliance shares come from that year's data; firms delisted or exited and the land and "
              "energy they freed can only be counted from the ledger kept year to year (\"needs the ledger\" "
              "without one)."),
}
_NOTES_EN = {"达成": "met", "未达成": "not met", "需台账": "needs the ledger", "数据无该年度": "no data for the year"}
_GROUPS_EN = {"全部": "all", "规上": "above size", "规下": "below size"}


def yearly_targets_section(result: Any, lang: Lang = "zh") -> dict[str, Any] | None:
    """Rows and labels for the section, or None when the preset has no yearly targets.

    Reads ``result.meta["ledger"]`` (written by ``pipeline.write_all`` before the report) for the targets
    that need it.
    """
    from gisefficiency.ledger import target_progress

    if result.policy is None or not getattr(result.policy, "yearly_targets", ()):
        return None
    i = 0 if lang == "zh" else 1
    progress = target_progress(result, ledger=(result.meta or {}).get("ledger"))
    rows = []
    for rec in progress.to_dict("records"):
        share = rec["progress"]
        is_share = rec["measure"].startswith("share_")
        fmt = (lambda v: f"{v:.1%}" if np.isfinite(v) else "—") if is_share else (lambda v: fmt_number(v, 2))
        note = rec["note_zh"]
        if lang == "en":
            note = "; ".join(_NOTES_EN.get(p, p.replace("截至", "as of ").replace("年", ""))
                             for p in note.split("，"))
        rows.append({
            "year": rec["year"], "item": rec["zh"] if lang == "zh" else rec["en"],
            "group": rec["group_zh"] if lang == "zh" else _GROUPS_EN[rec["group_zh"]],
            "goal": fmt(rec["goal"]), "achieved": fmt(rec["achieved"]),
            "share_text": f"{share:.1%}" if np.isfinite(share) else "—",
            "width": f"{min(max(share, 0.0), 1.0) * 100:.1f}" if np.isfinite(share) else "0",
            "by": _TEXT[rec["measured_by"]][i], "counts": rec["counts_zh"] if lang == "zh" else rec["counts_en"],
            "note": note, "source": rec["source"],
        })
    return {"t": {k: v[i] for k, v in _TEXT.items()}, "rows": rows}

"""The link report: what was linked how, what was not and why, and where the land went."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.errors import Problem
from gisefficiency.core.i18n import Lang

#: Method -> (zh, en) label.
METHOD_LABELS: dict[str, tuple[str, str]] = {
    "table": ("企业表地块编号", "firm-table parcel id"),
    "land": ("用地台账", "land rows"),
    "holder": ("地块权利人", "parcel holder"),
    "point": ("企业坐标落点", "firm point"),
}

#: Method -> (zh, en) phrase saying the method had nothing for a firm.
NO_DATA_LABELS: dict[str, tuple[str, str]] = {
    "table": ("企业表无地块编号", "no parcel id in the firm table"),
    "land": ("无用地台账", "no land rows"),
    "holder": ("不是任何地块的权利人", "holds no parcel"),
    "point": ("无坐标", "no point"),
}

#: Issue code -> (zh, en) label for report tables.
ISSUE_LABELS: dict[str, tuple[str, str]] = {
    "unknown_parcel": ("地块编号不在地块图层中", "parcel id not in the parcel layer"),
    "excluded_parcel": ("关联地块已剔除", "linked parcel is excluded"),
    "point_far": ("坐标距最近地块超过容差", "point farther than the tolerance from any parcel"),
    "bad_point": ("坐标不是有效经纬度", "point is not a valid lon/lat"),
    "no_data": ("无任何关联信息", "nothing to link it by"),
}

#: Tenant mode -> (zh, en) label.
TENANT_MODE_LABELS: dict[str, tuple[str, str]] = {
    "merge_to_holder": ("租户并入权利人评价", "tenants merged into the holder"),
    "floor_share": ("按租赁建筑面积分摊用地", "land shared by leased floor area"),
    "fixed_ratio": ("租赁厂房按固定比例折算用地", "leased floor converted at a fixed ratio"),
    "separate_group": ("租赁企业单独分组评价", "tenants evaluated as a separate group"),
}

_ITEM_LABELS: dict[str, tuple[str, str]] = {
    "firms_total": ("企业总数", "Firms in the panel"),
    "linked": ("已关联企业", "Firms linked"),
    "point_nearest": ("其中坐标落在道路等处、按最近地块关联", "of which point off-parcel, nearest parcel taken"),
    "unlinked": ("未关联企业", "Firms not linked"),
    "land_rows_unknown_firm": ("用地台账中不在企业表的企业行", "Land rows of firms not in the panel"),
    "tenants": ("租赁企业", "Tenant firms"),
    "tenant_floor_unknown": ("租赁面积未知、按企业数均分的租赁关系", "Tenancies with unknown floor, equal head share"),
    "tenant_capped": ("租户合计超过地块面积、按比例压缩的地块", "Parcels where tenants' shares were capped"),
    "parcels_total": ("地块总数", "Parcels"),
    "parcels_usable": ("可用地块", "Usable parcels"),
    "parcels_with_firms": ("有企业的地块", "Parcels with firms"),
    "parcels_idle": ("无企业的闲置地块", "Idle parcels (no firm)"),
    "parcels_excluded": ("剔除地块", "Excluded parcels"),
    "geom_repaired": ("几何已修复地块", "Parcels with repaired geometry"),
    "geom_empty": ("几何为空地块", "Parcels with empty geometry"),
    "land_before": ("关联前用地面积（可用地块）", "Land before linking (usable parcels)"),
    "land_after": ("关联后分配给企业的用地面积", "Land shared out to firms"),
    "ids_near_match": ("地块编号写法不同（前导零、空格、“.0”）而未关联的编号",
                       "Parcel ids unlinked only by how they are written (leading zeros, spaces, .0)"),
}

#: Where a method's parcel ids come from: (``sources`` key, the frame's name, the column as users know it).
_ID_SOURCES: dict[str, tuple[str, str, str]] = {
    "table": ("firms", "the firm table", "parcel_id (地块编号)"),
    "land": ("land", "the land rows", "parcel_id (地块编号)"),
}
_SOURCE_ZH = {"the firm table": "企业表", "the land rows": "用地表"}

#: How two spellings of one id differ, as a hint names it: (what, test on an Arrow array of ids).
_DIFFERENCES: tuple[tuple[str, object], ...] = (
    ("leading zeros", lambda ids: pc.starts_with(ids, "0")),
    ("a trailing .0", lambda ids: pc.match_substring_regex(ids, r"^[0-9]+\.0+$")),
    ("spaces", lambda ids: pc.match_substring_regex(ids, r"\s|\x{3000}")),
    ("full-width characters", lambda ids: pc.invert(pc.string_is_ascii(ids))),
    ("upper/lower case", lambda ids: pc.not_equal(pc.utf8_upper(ids), ids)),
)


@dataclass
class LinkReport:
    """Accounting of one ``link_firms`` run.

    Attributes
    ----------
    methods, tenant_mode
        The options used.
    n_firms
        Firms in the panel.
    by_method
        Method -> (firms linked by it, their land in mu), in priority order.
    n_point_nearest
        Firms linked by point through the nearest parcel (their point was on no parcel).
    unlinked
        Index ``uscc``: ``name, issues`` (issue codes, comma-joined), ``reason_zh, reason_en``.
    issues
        One row per rejected candidate link: ``uscc, parcel_id, method, issue, value`` (distance in m for
        ``point_far``), ``detail`` (parcel status or coordinates), ``near`` (for a parcel id not in the
        layer, the layer id it matches once leading zeros, spaces, a trailing ".0" and letter case are
        set aside; else missing), ``reason_zh, reason_en``. Issues of methods of lower priority than the
        one that linked a firm are not listed.
    land_rows_unknown_firm
        Land rows whose ``uscc`` is not in the firm panel (not used).
    idle_ids
        Ids of usable parcels with no firm.
    n_parcels, n_usable, n_with_firms, n_excluded, n_repaired, n_empty_geom
        Parcel counts (excluded, repaired and empty from ``status`` and ``geom_status``).
    mu_usable, mu_with_firms, mu_idle, mu_shares
        Land in mu: of usable parcels (before linking), of parcels with firms, of idle parcels, and the sum
        of the shares given to firms (equals ``mu_with_firms``).
    n_tenants, mu_tenants
        Firms renting every parcel they are on, and the land they were given.
    n_tenant_floor_unknown, n_tenant_capped
        Tenancies without a leased floor area (equal head share), parcels whose tenants were scaled down.
    id_hints
        One warning per id source (firm table, land rows) whose unknown parcel ids match layer ids once
        written alike: the file, the column, examples and the fix (``id_hints``).
    """

    methods: tuple[str, ...]
    tenant_mode: str
    n_firms: int
    by_method: dict[str, tuple[int, float]]
    n_point_nearest: int
    unlinked: pd.DataFrame
    issues: pd.DataFrame
    land_rows_unknown_firm: pd.DataFrame
    idle_ids: pd.Index
    n_parcels: int
    n_usable: int
    n_with_firms: int
    n_excluded: int
    n_repaired: int
    n_empty_geom: int
    mu_usable: float
    mu_with_firms: float
    mu_idle: float
    mu_shares: float
    n_tenants: int
    mu_tenants: float
    n_tenant_floor_unknown: int
    n_tenant_capped: int
    id_hints: list[Problem] = field(default_factory=list)

    @property
    def n_linked(self) -> int:
        """Firms linked by any method."""
        return sum(n for n, _ in self.by_method.values())

    @property
    def n_idle(self) -> int:
        """Usable parcels with no firm."""
        return len(self.idle_ids)

    def to_frame(self) -> pd.DataFrame:
        """A tidy table: ``item, count, mu, label_zh, label_en`` (``mu`` NaN where land does not apply)."""
        nan = float("nan")
        linked_mu = float(sum(mu for _, mu in self.by_method.values()))
        rows: list[tuple[str, int, float, str, str]] = [
            ("firms_total", self.n_firms, nan, *_ITEM_LABELS["firms_total"]),
            ("linked", self.n_linked, linked_mu, *_ITEM_LABELS["linked"]),
        ]
        for method, (count, mu) in self.by_method.items():
            zh, en = METHOD_LABELS[method]
            rows.append((f"linked_{method}", count, mu, f"其中按{zh}关联", f"of which by {en}"))
        rows.append(("point_nearest", self.n_point_nearest, nan, *_ITEM_LABELS["point_nearest"]))
        rows.append(("unlinked", len(self.unlinked), nan, *_ITEM_LABELS["unlinked"]))
        codes = self.unlinked["issues"].str.split(",").explode()
        for code, count in codes.value_counts().sort_index().items():
            zh, en = ISSUE_LABELS[code]
            rows.append((f"unlinked_{code}", int(count), nan, f"未关联原因：{zh}", f"not linked because: {en}"))
        for code, count in self.issues["issue"].value_counts().sort_index().items():
            zh, en = ISSUE_LABELS[code]
            rows.append((f"issue_{code}", int(count), nan, f"问题关联：{zh}", f"rejected links: {en}"))
        near = self.issues["near"].notna() if "near" in self.issues else pd.Series(False, index=self.issues.index)
        rows.append(("ids_near_match", int(self.issues.loc[near, "parcel_id"].nunique()), nan,
                     *_ITEM_LABELS["ids_near_match"]))
        rows += [
            ("land_rows_unknown_firm", len(self.land_rows_unknown_firm), nan,
             *_ITEM_LABELS["land_rows_unknown_firm"]),
            ("tenants", self.n_tenants, self.mu_tenants, *_ITEM_LABELS["tenants"]),
            ("tenant_floor_unknown", self.n_tenant_floor_unknown, nan, *_ITEM_LABELS["tenant_floor_unknown"]),
            ("tenant_capped", self.n_tenant_capped, nan, *_ITEM_LABELS["tenant_capped"]),
            ("parcels_total", self.n_parcels, nan, *_ITEM_LABELS["parcels_total"]),
            ("parcels_usable", self.n_usable, self.mu_usable, *_ITEM_LABELS["parcels_usable"]),
            ("parcels_with_firms", self.n_with_firms, self.mu_with_firms, *_ITEM_LABELS["parcels_with_firms"]),
            ("parcels_idle", self.n_idle, self.mu_idle, *_ITEM_LABELS["parcels_idle"]),
            ("parcels_excluded", self.n_excluded, nan, *_ITEM_LABELS["parcels_excluded"]),
            ("geom_repaired", self.n_repaired, nan, *_ITEM_LABELS["geom_repaired"]),
            ("geom_empty", self.n_empty_geom, nan, *_ITEM_LABELS["geom_empty"]),
            ("land_before", self.n_usable, self.mu_usable, *_ITEM_LABELS["land_before"]),
            ("land_after", self.n_with_firms, self.mu_shares, *_ITEM_LABELS["land_after"]),
        ]
        frame = pd.DataFrame(rows, columns=["item", "count", "mu", "label_zh", "label_en"])
        return frame.astype({"count": "int64", "mu": "float64"})

    def summary_lines(self, lang: Lang = "zh") -> list[str]:
        """A few sentences for a console or a report, Chinese by default."""
        zh = lang == "zh"
        parts = []
        for method, (count, _) in self.by_method.items():
            label = METHOD_LABELS[method][0 if zh else 1]
            parts.append(f"{label} {count:,}")
        near = self.n_point_nearest
        if zh:
            lines = [
                f"企业 {self.n_firms:,} 家：已关联 {self.n_linked:,} 家（{'，'.join(parts)}；"
                f"其中 {near:,} 家坐标在道路等处、按最近地块关联），未关联 {len(self.unlinked):,} 家。",
                f"地块 {self.n_parcels:,} 宗：可用 {self.n_usable:,} 宗（{self.mu_usable:,.2f} 亩），"
                f"有企业 {self.n_with_firms:,} 宗（{self.mu_with_firms:,.2f} 亩），"
                f"闲置 {self.n_idle:,} 宗（{self.mu_idle:,.2f} 亩），剔除 {self.n_excluded:,} 宗，"
                f"几何修复 {self.n_repaired:,} 宗。",
                f"租赁企业 {self.n_tenants:,} 家，分得 {self.mu_tenants:,.2f} 亩（口径：{TENANT_MODE_LABELS[self.tenant_mode][0]}）；"
                f"分配给企业的用地合计 {self.mu_shares:,.2f} 亩。",
            ]
        else:
            lines = [
                f"Firms {self.n_firms:,}: linked {self.n_linked:,} ({', '.join(parts)}; {near:,} by the nearest "
                f"parcel as their point was off-parcel), not linked {len(self.unlinked):,}.",
                f"Parcels {self.n_parcels:,}: usable {self.n_usable:,} ({self.mu_usable:,.2f} mu), with firms "
                f"{self.n_with_firms:,} ({self.mu_with_firms:,.2f} mu), idle {self.n_idle:,} "
                f"({self.mu_idle:,.2f} mu), excluded {self.n_excluded:,}, geometry repaired {self.n_repaired:,}.",
                f"Tenant firms {self.n_tenants:,} with {self.mu_tenants:,.2f} mu ({TENANT_MODE_LABELS[self.tenant_mode][1]}); "
                f"land shared out to firms {self.mu_shares:,.2f} mu.",
            ]
        codes = self.unlinked["issues"].str.split(",").explode().value_counts().sort_index()
        for code, count in codes.items():
            zh_label, en_label = ISSUE_LABELS[code]
            lines.append(f"未关联原因 {zh_label}：{count:,} 家" if zh else f"Not linked, {en_label}: {count:,}")
        lines += [str(hint) for hint in self.id_hints]
        return lines


def issue_reasons(issues: pd.DataFrame, *, nearest_m: float | None) -> pd.DataFrame:
    """Add ``reason_zh`` and ``reason_en`` sentences to an issue frame, column-wise."""
    out = issues.copy()
    if out.empty:
        return out.assign(reason_zh=pd.Series(dtype="str"), reason_en=pd.Series(dtype="str"))
    method = out["method"].astype(str)
    m_zh = method.map({k: v[0] for k, v in METHOD_LABELS.items()})
    m_en = method.map({k: v[1] for k, v in METHOD_LABELS.items()})
    pid = out["parcel_id"].astype("string").fillna("")
    detail = out["detail"].astype("string").fillna("")
    dist = out["value"].round(1).astype(str)
    tol = "0" if nearest_m is None else f"{nearest_m:g}"
    near = out["near"].astype("string") if "near" in out else pd.Series(pd.NA, index=out.index, dtype="string")
    hint_zh = ("（图层中有 " + near + "，仅写法不同，如前导零、空格或“.0”：在 Excel 中把编号列设为文本格式）").fillna("")
    hint_en = (" (the layer has " + near + ", written differently, e.g. leading zeros, spaces or .0: format the "
               "id column as text in Excel)").fillna("")
    code = out["issue"].to_numpy()
    no_parcel = ~np.isfinite(out["value"].to_numpy())
    zh = np.select(
        [code == "unknown_parcel", code == "excluded_parcel", (code == "point_far") & no_parcel,
         code == "point_far", code == "bad_point"],
        [m_zh + "：地块 " + pid + " 不在地块图层中" + hint_zh,
         m_zh + "：地块 " + pid + " 已剔除（" + detail + "）",
         m_zh + "：没有可用地块",
         m_zh + "：距最近地块 " + pid + " " + dist + " 米，超过 " + tol + " 米容差",
         m_zh + "：(" + detail + ") 不是有效经纬度"],
        default="",
    )
    en = np.select(
        [code == "unknown_parcel", code == "excluded_parcel", (code == "point_far") & no_parcel,
         code == "point_far", code == "bad_point"],
        [m_en + ": parcel " + pid + " is not in the parcel layer" + hint_en,
         m_en + ": parcel " + pid + " is excluded (" + detail + ")",
         m_en + ": there is no usable parcel",
         m_en + ": " + dist + " m from the nearest parcel " + pid + ", more than " + tol + " m",
         m_en + ": (" + detail + ") is not a valid longitude/latitude"],
        default="",
    )
    out["reason_zh"] = pd.array(zh, dtype="str")
    out["reason_en"] = pd.array(en, dtype="str")
    return out


def id_hints(
    issues: pd.DataFrame,
    *,
    sources: Mapping[str, str | os.PathLike[str]] | None = None,
    shown: int = 5,
) -> list[Problem]:
    """Warnings for parcel ids that link to nothing only because of how they are written.

    Parameters
    ----------
    issues
        ``LinkReport.issues`` (with ``near``: the layer id an unknown id matches loosely).
    sources
        Files by ``"firms"`` and ``"land"``, named in the warnings when given.
    shown
        Examples per warning.

    Returns
    -------
    list of Problem
        One warning per source whose ids match layer ids once leading zeros, spaces, a trailing ".0"
        or letter case are set aside, naming the file, the column, how the ids differ, up to ``shown``
        examples ("001 -> 1") and the fix.
    """
    if "near" not in issues or not issues["near"].notna().any():
        return []
    out = []
    for method, (key, what, column) in _ID_SOURCES.items():
        pairs = issues.loc[issues["near"].notna() & issues["method"].eq(method), ["parcel_id", "near"]]
        pairs = pairs.drop_duplicates("parcel_id")
        if pairs.empty:
            continue
        both = pa.array(pd.concat([pairs["parcel_id"], pairs["near"]]).astype(str).tolist(), pa.large_string())
        kinds = [name for name, test in _DIFFERENCES if pc.any(test(both)).as_py()]
        examples = ", ".join(f"{a!r} (layer: {b!r})" for a, b in pairs.head(shown).itertuples(index=False))
        more = f" (and {len(pairs) - shown} more)" if len(pairs) > shown else ""
        file = None if sources is None or sources.get(key) is None else str(sources[key])
        out.append(Problem(
            f"{len(pairs)} parcel id(s) of {what} are not in the parcel layer but match its ids "
            f"once {' / '.join(kinds) or 'the way they are written'} are set aside: {examples}{more}",
            fix="Excel drops leading zeros and writes 1.0 when an id column holds numbers: format the column as "
                "text (设置单元格格式 -> 文本) and write the ids as the parcel layer does; if the layer lost them "
                "(a numeric id field), store its ids as text",
            file=file, column=column, severity="warning",
            message_zh=(f"{_SOURCE_ZH[what]}中有 {len(pairs)} 个地块编号不在地块图层中，但撇开"
                f"{' / '.join(kinds) or '写法'}后与图层中的编号一致：{examples}{more}"),
            fix_zh=("Excel 在编号列为数字时会去掉前导零、写成 1.0：请把该列设为文本（设置单元格格式 -> 文本），"
                "并按地块图层的写法填写编号；若图层已丢失（数字型编号字段），请把图层的编号存为文本"),
        ))
    return out


def firm_reasons(
    issues: pd.DataFrame,
    firms: np.ndarray,
    labels: pa.Array,
    methods: tuple[str, ...],
    *,
    shown: int = 3,
) -> pd.DataFrame:
    """For the firm codes ``firms``: issue codes, and the first ``shown`` reasons joined (else "nothing to link it by").

    ``issues`` carries firm codes in ``f`` and reasons from ``issue_reasons``; ``labels`` maps codes to
    USCCs (Arrow text). Built column-wise: the k-th issue of every firm is added in one step, for k < ``shown``.
    """
    m = len(firms)
    slot = np.full(len(labels), -1)
    slot[firms] = np.arange(m)
    mine = issues[slot[issues["f"].to_numpy()] >= 0]
    rank = mine["method"].map({name: i for i, name in enumerate(methods)}).to_numpy()
    mine = mine.assign(_slot=slot[mine["f"].to_numpy()], _rank=rank)
    mine = mine.sort_values(["_slot", "_rank", "parcel_id"], kind="stable")
    at = mine["_slot"].to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(at)) + 1] if len(at) else np.array([], dtype=int)
    k = np.arange(len(at)) - np.repeat(starts, np.diff(np.r_[starts, len(at)]))
    count = pd.Series(np.bincount(at, minlength=m))
    zh = pd.Series(pd.NA, index=range(m), dtype="string")
    en = pd.Series(pd.NA, index=range(m), dtype="string")
    for j in range(shown if len(mine) else 0):  # a fixed handful of passes, each over all firms at once
        sel = k == j
        for text, col, sep in ((zh, "reason_zh", "；"), (en, "reason_en", "; ")):
            add = pd.Series(pd.NA, index=range(m), dtype="string")
            add.iloc[at[sel]] = mine[col].to_numpy()[sel]
            text[:] = text.where(add.isna(), (text + sep).fillna("") + add)
    more = count - shown
    zh = zh.where(more <= 0, zh + "；另 " + more.astype(str) + " 条")
    en = en.where(more <= 0, en + "; and " + more.astype(str) + " more")
    codes = pd.Series("", index=range(m), dtype="string")
    issue = mine["issue"].to_numpy()
    for code in ISSUE_LABELS:  # a handful of issue codes
        has = np.zeros(m, dtype=bool)
        has[at[issue == code]] = True
        codes = codes.where(~has, codes + "," + code)
    none_zh = "无任何关联信息（" + "、".join(NO_DATA_LABELS[name][0] for name in methods) + "）"
    none_en = "nothing to link it by (" + ", ".join(NO_DATA_LABELS[name][1] for name in methods) + ")"
    return pd.DataFrame({
        "issues": codes.str.lstrip(",").replace("", "no_data").to_numpy(),
        "reason_zh": zh.fillna(none_zh).to_numpy(),
        "reason_en": en.fillna(none_en).to_numpy(),
    }, index=pd.Index(pd.array(labels.take(pa.array(firms, type=pa.int64())), dtype="str"), name="uscc")).astype("str")

"""``link_firms``: tie every firm of the panel to its parcels and share each parcel's land among them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gisefficiency.link._candidates import (
    aggregate_land,
    candidates,
    holder_candidates,
    issues_frame,
    land_candidates,
    point_candidates,
    table_candidates,
)
from gisefficiency.link._report import LinkReport, firm_reasons, issue_reasons
from gisefficiency.link._shares import apportion, assign_kind, classify, eval_codes
from gisefficiency.link._validate import (
    LINK_METHODS,
    as_id,
    check_firms,
    check_land,
    check_options,
    check_parcels,
    encode,
    known,
)


@dataclass
class Links:
    """What ``link_firms`` returns (see ``docs/contract.md``).

    Attributes
    ----------
    shares
        One row per firm-parcel link: ``uscc, parcel_id, kind ("own"|"leased"), method, floor_area_m2,
        land_mu``. Per parcel with a firm, ``land_mu`` sums to the parcel's ``land_mu``.
    firm_links
        Index ``uscc``, every firm of the panel: ``name, status ("linked" | "unlinked: <why>"), method,
        land_mu`` (sum of its shares, NaN if unlinked), ``n_parcels, eval_id, tenant``.
    parcel_links
        Index ``parcel_id``, every parcel: ``n_firms, holder_uscc, idle`` (usable parcel without a firm).
    report
        ``LinkReport``: counts, reasons and land totals.
    """

    shares: pd.DataFrame
    firm_links: pd.DataFrame
    parcel_links: pd.DataFrame
    report: LinkReport


def link_firms(
    parcels: gpd.GeoDataFrame,
    firms: pd.DataFrame,
    *,
    land: pd.DataFrame | None = None,
    methods: Sequence[str] = LINK_METHODS,
    tenant_mode: str = "floor_share",
    fixed_ratio_m2_per_mu: float = 2000.0,
    nearest_m: float | None = 30.0,
    point_crs: str | None = None,
    table_years: str = "latest",
    combine: str = "union",
) -> Links:
    """Link every firm of the panel to parcels and share each parcel's land among its firms.

    Each method in ``methods`` proposes parcels for firms. With ``combine="union"`` (default) a firm
    keeps every usable parcel the record methods (table, land, holder) propose, and a point places only
    firms no record method could; with ``combine="first"`` a firm is linked by the first method, in the
    order given, that proposes at least one usable parcel, and keeps all that method's parcels. A link's
    ``method`` is the first method in ``methods`` that proposed it. Proposals
    to parcel ids not in the layer, or to excluded parcels (``status`` not ``"ok"`` or ``land_mu``
    missing), are reported in ``report.issues`` and, for firms left unlinked, in their status.

    Parameters
    ----------
    parcels
        Parcels after ``land.prepare_parcels``: index ``parcel_id``, ``land_mu``, ``status``, and where
        known ``holder_uscc``, ``floor_area_m2``, ``geom_status``; projected CRS in metres.
    firms
        Firm-year panel (long): ``uscc`` and where known ``name, year, parcel_id, lon, lat, coord_sys``.
    land
        Optional land rows ``uscc, parcel_id, kind ("own"|"leased"), floor_area_m2`` as the Wenzhou ETDZ
        platform keeps them (with a ``year`` column, each firm's latest year is used; rows of one firm
        and parcel are summed). They also settle own/leased and leased floor for links found otherwise.
    methods
        Priority order of ``"table"`` (the panel's ``parcel_id``), ``"land"`` (land rows), ``"holder"``
        (the parcel's ``holder_uscc``) and ``"point"`` (the firm's lon/lat inside a parcel).
    tenant_mode
        ``"floor_share"``: tenant mu = parcel mu x leased floor / total floor (the parcel's floor area, or
        the sum of its rows' floors when that is missing or smaller), the holder keeps the rest.
        ``"fixed_ratio"``: tenant mu = leased m2 / ``fixed_ratio_m2_per_mu``, capped so tenants never take
        more than the parcel. ``"merge_to_holder"`` (Suichang): tenants get 0 mu and the holder's
        ``eval_id``, the holder keeps the whole parcel. ``"separate_group"`` (Cixi): land as
        ``floor_share``, and firms that only rent get ``tenant=True`` so they are evaluated as their own
        group. In every mode a tenant with unknown leased floor counts as one equal head (parcel mu /
        firms on it); co-owners split equally, or by floor area when every owner has one; a parcel with
        tenants but no linked owner gives all its land to the tenants in proportion to their shares.
    fixed_ratio_m2_per_mu
        Leased floor m2 counted as one mu in ``"fixed_ratio"`` mode.
    nearest_m
        A point on no parcel (on a road) takes the nearest usable parcel within this many metres;
        0 or None: only points inside a parcel link.
    point_crs
        Coordinate system of points whose ``coord_sys`` is empty: ``"wgs84"``, ``"cgcs2000"``
        (taken as WGS-84), ``"gcj02"`` or ``"bd09"``.
    table_years
        ``"latest"``: a firm's parcels are those of the latest year in which the table gives any (a firm
        that moved is not charged for its old site); ``"all"``: the union over all years. Points always
        come from the latest year that has one.
    combine
        ``"union"`` or ``"first"``, as above.

    Returns
    -------
    Links
        Shares, one row per firm and per parcel, and the report.

    Raises
    ------
    ConfigError
        An unknown method or tenant mode, or a bad number.
    InputError
        Parcels without ``land_mu`` or with duplicate ids, firm rows without ``uscc``, bad land rows.
    CRSError
        Points without a coordinate system, or parcels not in a projected CRS.
    """
    methods = check_options(methods=methods, tenant_mode=tenant_mode,
                            fixed_ratio_m2_per_mu=fixed_ratio_m2_per_mu, nearest_m=nearest_m,
                            point_crs=point_crs, table_years=table_years)
    check_parcels(parcels)
    check_firms(firms)
    panel = _normalise_firms(firms)
    info = _parcel_info(parcels)
    checked = None
    if land is not None:
        checked = check_land(land)
        checked["uscc"] = as_id(checked["uscc"])
        checked["parcel_id"] = as_id(checked["parcel_id"])
    no_rows = pd.Series([], dtype="str")
    # One hash pass per id space: firm codes 0..n-1 are the panel's firms in order of appearance, parcel
    # codes are positions in the layer; every later join is array indexing on these codes.
    firm_ids, (panel_f, holder_code, land_f) = encode(
        panel["uscc"], info["holder_uscc"], no_rows if checked is None else checked["uscc"])
    firm_ids.name = "uscc"
    parcel_ids, (_, panel_p, land_p) = encode(
        info["id"], panel.get("parcel_id", no_rows),
        no_rows if checked is None else checked["parcel_id"])
    panel["f"] = panel_f
    if "parcel_id" in panel.columns:
        panel["p"] = known(panel_p, len(parcel_ids))
    has_holder = info["holder_uscc"].notna().to_numpy()
    holder_f = known(holder_code, len(firm_ids))
    usable = info["_usable"].to_numpy()
    status = info["status"].to_numpy(dtype=object)

    land_rows = None
    unknown_land = pd.DataFrame(columns=["uscc", "parcel_id", "kind", "floor_area_m2"])
    if checked is not None:
        land_rows = aggregate_land(checked.assign(_f=land_f, _p=land_p), len(firm_ids), len(parcel_ids))

    # With combine="union" the record sources (table, land rows, holder) are all consulted and a firm
    # keeps every usable parcel any of them gives: a firm whose table row names one parcel still holds
    # the other parcels registered in its name. Points only place firms no record could, because a
    # geocoded point is the weakest evidence. With combine="first" a firm is linked by the first source
    # in priority order that places it, and later sources are not consulted.
    if combine not in ("union", "first"):
        raise ValueError(f"combine = {combine!r}: must be 'union' or 'first'")
    found_parts, issue_parts = [candidates()], [issues_frame()]
    linked = np.zeros(len(firm_ids), dtype=bool)
    order = list(methods)
    if combine == "union" and "point" in order:  # points come last: they only place what records could not
        order = [m for m in order if m != "point"] + ["point"]
    for method in order:  # at most four sources
        if method == "table":
            cand = table_candidates(panel, table_years=table_years)
        elif method == "holder":
            cand = holder_candidates(holder_f)
        elif method == "land":
            if land_rows is None:
                continue
            cand, unknown_land = land_candidates(land_rows)
        else:
            todo = panel[~linked[panel["f"].to_numpy()]]
            cand, point_issues = point_candidates(todo, parcels.geometry, usable, point_crs=point_crs,
                                                  nearest_m=nearest_m)
            issue_parts.append(point_issues)
        if combine == "first" or method == "point":
            cand = cand[~linked[cand["f"].to_numpy()]]
        valid, rejected = classify(cand, usable, status)
        found_parts.append(valid)
        issue_parts.append(rejected)
        linked[valid["f"].to_numpy()] = True
    # A pair proposed by several sources is one link, credited to the source of highest priority.
    found = pd.concat(found_parts, ignore_index=True).drop_duplicates(["f", "p"], keep="first")
    chosen = assign_kind(found, holder_f, has_holder, land_rows)
    shares, counts = apportion(chosen, info["land_mu"].to_numpy(), info["floor_area_m2"].to_numpy(),
                               tenant_mode=tenant_mode, fixed_ratio_m2_per_mu=fixed_ratio_m2_per_mu)

    issues = _label_issues(pd.concat(issue_parts, ignore_index=True), firm_ids, parcel_ids)
    issues = issue_reasons(issues, nearest_m=nearest_m)
    reasons = firm_reasons(issues, np.flatnonzero(~linked), firm_ids, methods)
    firm_links = _firm_links(panel, firm_ids, shares, reasons, tenant_mode)
    parcel_links = _parcel_links(parcels, info, shares)
    order = np.lexsort((shares["f"].to_numpy(), shares["kind"].to_numpy() != "own", shares["p"].to_numpy()))
    shares = shares.iloc[order]
    shares_out = pd.DataFrame({
        "uscc": firm_ids.take(shares["f"].to_numpy()),
        "parcel_id": parcels.index.take(shares["p"].to_numpy()),
        "kind": shares["kind"].to_numpy(),
        "method": shares["method"].to_numpy(),
        "floor_area_m2": shares["floor_area_m2"].to_numpy(),
        "land_mu": shares["land_mu"].to_numpy(),
    }).astype({"kind": "str", "method": "str"})
    report = _report(methods, tenant_mode, firm_links, shares, issues.drop(columns="f"), reasons,
                     unknown_land, info, parcel_links, counts)
    return Links(shares=shares_out, firm_links=firm_links, parcel_links=parcel_links, report=report)


def _normalise_firms(firms: pd.DataFrame) -> pd.DataFrame:
    """The panel columns linking needs, ids as trimmed strings (the caller's frame is not touched)."""
    cols = [c for c in ("uscc", "name", "year", "parcel_id", "lon", "lat", "coord_sys", "src_row")
            if c in firms.columns]
    out = firms[cols].copy()
    out["uscc"] = as_id(out["uscc"])
    if "parcel_id" in out.columns:
        out["parcel_id"] = as_id(out["parcel_id"])
    for col in ("lon", "lat"):
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out.reset_index(drop=True)


def _parcel_info(parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per parcel, in layer order: id as string, land, floor, holder, status and whether it can take firms.

    ``status`` holds the reason (without the leading "excluded: ") for unusable parcels only.
    """
    n = len(parcels)
    land_mu = pd.to_numeric(parcels["land_mu"], errors="coerce").to_numpy(dtype="float64")
    if "status" in parcels.columns:
        given = parcels["status"]
        usable = (given.eq("ok") | given.isna()).to_numpy(dtype=bool)
    else:
        given = None
        usable = np.ones(n, dtype=bool)
    status = np.full(n, None, dtype=object)
    if given is not None and not usable.all():
        reason = given[~usable].astype("str").str.replace(r"^excluded:\s*", "", regex=True)
        status[~usable] = reason.to_numpy(dtype=object)
    no_land = usable & np.isnan(land_mu)
    status[no_land] = "land_mu missing"
    usable = usable & ~no_land
    geom = parcels["geom_status"] if "geom_status" in parcels.columns else pd.Series(np.nan, index=parcels.index)
    return pd.DataFrame({
        "id": as_id(parcels.index.to_series()).reset_index(drop=True),
        "land_mu": land_mu,
        "floor_area_m2": (pd.to_numeric(parcels["floor_area_m2"], errors="coerce").to_numpy(dtype="float64")
                          if "floor_area_m2" in parcels.columns else np.full(n, np.nan)),
        "holder_uscc": (as_id(parcels["holder_uscc"]).reset_index(drop=True) if "holder_uscc" in parcels.columns
                        else pd.Series(np.nan, index=range(n), dtype="str")),
        "status": pd.Series(status, dtype=object),
        "_usable": usable,
        "_repaired": geom.eq("repaired").fillna(False).to_numpy(dtype=bool),
        "_empty": geom.eq("empty").fillna(False).to_numpy(dtype=bool),
    })


def _label_issues(issues: pd.DataFrame, firm_ids: pd.Index, parcel_ids: pd.Index) -> pd.DataFrame:
    """Issues with USCC and parcel id labels (the id as written, or the layer's id for point issues)."""
    p = issues["p"].to_numpy()
    label = issues["label"].to_numpy(dtype=object).copy()
    from_layer = pd.isna(label) & (p >= 0)
    label[from_layer] = parcel_ids.to_numpy(dtype=object)[p[from_layer]]
    return pd.DataFrame({
        "f": issues["f"].to_numpy(),
        "uscc": firm_ids.to_numpy()[issues["f"].to_numpy()],
        "parcel_id": label,
        "method": issues["method"].to_numpy(),
        "issue": issues["issue"].to_numpy(),
        "value": issues["value"].to_numpy(dtype="float64"),
        "detail": issues["detail"].to_numpy(),
    }).astype({"uscc": "str", "parcel_id": "str", "method": "str", "issue": "str",
               "detail": "str"})


def _firm_links(
    panel: pd.DataFrame,
    firm_ids: pd.Index,
    shares: pd.DataFrame,
    reasons: pd.DataFrame,
    tenant_mode: str,
) -> pd.DataFrame:
    """One row per firm of the panel with its link status, land and evaluated unit."""
    n = len(firm_ids)
    f = shares["f"].to_numpy()
    if "name" in panel.columns:
        ordered = panel.sort_values("year", kind="stable") if "year" in panel.columns else panel
        names = ordered.groupby("f")["name"].last().reindex(range(n)).to_numpy()  # last name written
    else:
        names = np.full(n, np.nan)
    n_parcels = np.bincount(f, minlength=n)
    linked = n_parcels > 0
    land_mu = np.where(linked, np.bincount(f, weights=shares["land_mu"].to_numpy(), minlength=n), np.nan)
    n_own = np.bincount(f, weights=(shares["kind"].to_numpy() == "own").astype(float), minlength=n)
    method = np.full(n, None, dtype=object)
    method[f] = shares["method"].to_numpy()  # every link of a firm has the same method
    status = np.full(n, "linked", dtype=object)
    status[~linked] = ("unlinked: " + reasons["reason_en"]).to_numpy(dtype=object)
    out = pd.DataFrame({
        "name": pd.array(names, dtype="str"),
        "status": pd.array(status, dtype="str"),
        "method": pd.array(method, dtype="str"),
        "land_mu": land_mu,
        "n_parcels": n_parcels.astype("int64"),
        "eval_id": firm_ids.take(eval_codes(shares, n, tenant_mode=tenant_mode)),
        "tenant": linked & (n_own == 0) & (tenant_mode == "separate_group"),
    }, index=firm_ids)
    return out


def _parcel_links(parcels: gpd.GeoDataFrame, info: pd.DataFrame, shares: pd.DataFrame) -> pd.DataFrame:
    """One row per parcel (the layer's index): firms on it, holder, idle (usable and no firm)."""
    n_firms = np.bincount(shares["p"].to_numpy(), minlength=len(info))
    out = pd.DataFrame({
        "n_firms": n_firms.astype("int64"),
        "holder_uscc": info["holder_uscc"].to_numpy(),
        "idle": (n_firms == 0) & info["_usable"].to_numpy(),
    }, index=parcels.index.copy())
    out["holder_uscc"] = out["holder_uscc"].astype("str")
    out.index.name = "parcel_id"
    return out


def _report(
    methods: tuple[str, ...],
    tenant_mode: str,
    firm_links: pd.DataFrame,
    shares: pd.DataFrame,
    issues: pd.DataFrame,
    reasons: pd.DataFrame,
    unknown_land: pd.DataFrame,
    info: pd.DataFrame,
    parcel_links: pd.DataFrame,
    counts: dict[str, int],
) -> LinkReport:
    method = firm_links["method"].to_numpy(dtype=object, na_value=None)
    mu = firm_links["land_mu"].to_numpy()
    by_method = {m: (int((method == m).sum()), float(mu[method == m].sum())) for m in methods}
    unlinked = pd.concat([firm_links.loc[reasons.index, ["name"]], reasons], axis=1)
    tenants = firm_links["status"].eq("linked").to_numpy() & (
        np.bincount(shares["f"].to_numpy(), weights=(shares["kind"].to_numpy() == "own").astype(float),
                    minlength=len(firm_links)) == 0)
    usable = info["_usable"].to_numpy()
    with_firms = parcel_links["n_firms"].to_numpy() > 0
    land = info["land_mu"].to_numpy()
    nearest = (shares["via"].to_numpy() == "nearest") & (shares["method"].to_numpy() == "point")
    return LinkReport(
        methods=methods,
        tenant_mode=tenant_mode,
        n_firms=len(firm_links),
        by_method=by_method,
        n_point_nearest=len(np.unique(shares["f"].to_numpy()[nearest])),
        unlinked=unlinked,
        issues=issues.reset_index(drop=True),
        land_rows_unknown_firm=unknown_land.reset_index(drop=True),
        idle_ids=parcel_links.index[parcel_links["idle"].to_numpy()],
        n_parcels=len(info),
        n_usable=int(usable.sum()),
        n_with_firms=int(with_firms.sum()),
        n_excluded=int((~usable).sum()),
        n_repaired=int(info["_repaired"].sum()),
        n_empty_geom=int(info["_empty"].sum()),
        mu_usable=float(land[usable].sum()),
        mu_with_firms=float(land[with_firms].sum()),
        mu_idle=float(land[usable & ~with_firms].sum()),
        mu_shares=float(shares["land_mu"].sum()),
        n_tenants=int(tenants.sum()),
        mu_tenants=float(mu[tenants].sum()),
        n_tenant_floor_unknown=counts["tenant_floor_unknown"],
        n_tenant_capped=counts["tenant_capped"],
    )

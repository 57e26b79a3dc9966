"""``link_firms``: tie every firm of the panel to its parcels and share each parcel's land among them."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from gisefficiency.core.ids import arrow_ids
from gisefficiency.link.candidates import (
    ISSUES,
    KINDS,
    METHOD,
    VIAS,
    Arrays,
    aggregate_land,
    candidates,
    concat,
    first_of,
    holder_candidates,
    issues,
    land_candidates,
    point_candidates,
    table_candidates,
    take,
)
from gisefficiency.link.codes import LinkCodes, anchors
from gisefficiency.link.report import LinkReport, firm_reasons, id_hints, issue_reasons
from gisefficiency.link.shares import apportion, assign_kind, classify, eval_codes
from gisefficiency.link.validate import (
    LINK_METHODS,
    as_id,
    check_firms,
    check_land,
    check_options,
    check_parcels,
    encode,
    id_runs,
    known,
    near_matches,
)

log = logging.getLogger(__name__)


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
    codes
        ``LinkCodes``: the integer codes behind the frames, so that metrics need not code the ids
        again; None when the USCCs are not clean text. Not a constructor argument: a ``Links`` made
        by hand or with ``dataclasses.replace`` has none.
    """

    shares: pd.DataFrame
    firm_links: pd.DataFrame
    parcel_links: pd.DataFrame
    report: LinkReport
    #: Shares per year (``shares``' columns and ``year``), when the land rows carry two or more years:
    #: holdings that change from year to year. None otherwise (one snapshot: ``shares``).
    by_year: pd.DataFrame | None = None
    codes: LinkCodes | None = field(default=None, init=False, repr=False, compare=False)


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
    sources: Mapping[str, str | os.PathLike[str]] | None = None,
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
        platform keeps them (with a ``year`` column, ``shares`` use each firm's latest year, and with two or
        more years ``by_year`` holds each year's shares as well; rows of one firm and parcel are summed).
        They also settle own/leased and leased floor for links found otherwise.
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
    sources
        The files the frames were read from, by ``"firms"`` and ``"land"``: errors and warnings name
        them (``report.id_hints``, points without a coordinate system, bad rows). Without them they
        say "the firm table" and "the land rows".

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
    layer_ids = check_parcels(parcels)
    uscc_runs, clean_ids = check_firms(firms, file=_source(sources, "firms"))
    info = _parcel_info(parcels, layer_ids)
    checked = None if land is None else check_land(land, file=_source(sources, "land"))
    no_rows = pa.array([], type=pa.large_string())
    # One hash pass per id space: firm codes 0..n-1 are the panel's firms in order of appearance, parcel
    # codes are positions in the layer; every later join is array indexing on these codes.
    firm_ids, n_firms, (panel_f, holder_code, land_f) = encode(
        uscc_runs, info["holder"], no_rows if checked is None else as_id(checked["uscc"]))
    has_pid = "parcel_id" in firms.columns
    parcel_ids, n_parcels, (_, panel_q, land_q) = encode(
        info["id"], id_runs(firms["parcel_id"]) if has_pid else no_rows,
        no_rows if checked is None else as_id(checked["parcel_id"]))
    year = pd.to_numeric(firms["year"], errors="coerce").to_numpy(dtype="float64") if "year" in firms else None
    has_holder = pa.compute.is_valid(info["holder"]).to_numpy(zero_copy_only=False)
    holder_f = known(holder_code, n_firms)
    usable = info["usable"]

    land_rows = None
    unknown_land = pd.DataFrame(columns=["uscc", "parcel_id", "kind", "floor_area_m2"])
    if checked is not None:
        land_rows = aggregate_land(checked, land_f, land_q, firm_ids, parcel_ids, n_firms, n_parcels)

    # With combine="union" the record sources (table, land rows, holder) are all consulted and a firm
    # keeps every usable parcel any of them gives: a firm whose table row names one parcel still holds
    # the other parcels registered in its name. Points only place firms no record could, because a
    # geocoded point is the weakest evidence. With combine="first" a firm is linked by the first source
    # in priority order that places it, and later sources are not consulted.
    if combine not in ("union", "first"):
        raise ValueError(f"combine = {combine!r}: must be 'union' or 'first'")
    found_parts, issue_parts = [candidates()], [issues()]
    linked = np.zeros(n_firms, dtype=bool)
    order = list(methods)
    if combine == "union" and "point" in order:  # points come last: they only place what records could not
        order = [m for m in order if m != "point"] + ["point"]
    for method in order:  # at most four sources
        if method == "table":
            if not has_pid:
                continue
            cand = table_candidates(panel_f, known(panel_q, n_parcels), panel_q, year, table_years=table_years)
        elif method == "holder":
            cand = holder_candidates(holder_f)
        elif method == "land":
            if land_rows is None:
                continue
            cand = land_candidates(land_rows)
            unknown_land = _unknown_land(take(land_rows, land_rows["f"] < 0), firm_ids, parcel_ids)
        else:
            if not {"lon", "lat"} <= set(firms.columns):
                continue
            cand, point_issues = point_candidates(_points(firms, panel_f, year, linked), parcels.geometry, usable,
                                                  point_crs=point_crs, nearest_m=nearest_m,
                                                  file=_source(sources, "firms"))
            issue_parts.append(point_issues)
        if combine == "first" or method == "point":
            cand = take(cand, ~linked[cand["f"]])
        valid, rejected = classify(cand, usable, info["status"])
        found_parts.append(valid)
        issue_parts.append(rejected)
        linked[valid["f"]] = True
    # A pair proposed by several sources is one link, credited to the source of highest priority.
    found = concat(found_parts)
    found = take(found, first_of(found["f"], found["p"]))
    chosen = assign_kind(found, holder_f, has_holder, land_rows)
    shares, counts = apportion(chosen, info["land_mu"], info["floor_area_m2"],
                               tenant_mode=tenant_mode, fixed_ratio_m2_per_mu=fixed_ratio_m2_per_mu)

    all_issues = concat(issue_parts)
    issue_frame = issue_reasons(_label_issues(all_issues, firm_ids, parcel_ids, _near(all_issues, parcel_ids, n_parcels)),
                                nearest_m=nearest_m)
    reasons = firm_reasons(issue_frame, np.flatnonzero(~linked), firm_ids, methods)
    firm_links, firm_method, eval_f = _firm_links(firms, panel_f, firm_ids, n_firms, shares, reasons, tenant_mode)
    parcel_links = _parcel_links(parcels, info, shares)
    order = np.lexsort((shares["f"], shares["kind"] != 0, shares["p"]))
    shares = take(shares, order)
    shares_out = pd.DataFrame({
        "uscc": _text(firm_ids, shares["f"]),
        "parcel_id": parcels.index.take(shares["p"]),
        "kind": _text(pa.array(KINDS, pa.large_string()), shares["kind"]),
        "method": _text(pa.array(LINK_METHODS, pa.large_string()), shares["method"]),
        "floor_area_m2": shares["floor"],
        "land_mu": shares["land_mu"],
    })
    report = _report(methods, tenant_mode, firm_links, firm_method, shares, shares_out,
                     issue_frame.drop(columns="f"), reasons, unknown_land, info, parcel_links, counts)
    report.id_hints = id_hints(report.issues, sources=sources)
    for hint in report.id_hints:
        log.warning("%s", hint,
                    extra={"zh": hint.text("zh")})
    links = Links(shares=shares_out, firm_links=firm_links, parcel_links=parcel_links, report=report,
                  by_year=_shares_by_year(parcels, firms, checked, methods=methods, tenant_mode=tenant_mode,
                                          fixed_ratio_m2_per_mu=fixed_ratio_m2_per_mu, nearest_m=nearest_m,
                                          point_crs=point_crs, table_years=table_years, combine=combine,
                                          sources=sources))
    held = anchors(firms, parcels, shares_out, firm_links)
    if clean_ids and held is not None:  # the codes stand for the text ids only when cleaning changed none
        links.codes = LinkCodes(firm_ids=firm_ids.slice(0, n_firms), panel_f=panel_f, eval_f=eval_f,
                                share_f=shares["f"], share_p=shares["p"], anchors=held)
    return links


def _shares_by_year(parcels: gpd.GeoDataFrame, firms: pd.DataFrame, land: pd.DataFrame | None,
                    **options: Any) -> pd.DataFrame | None:
    """Each land year's shares, when the land rows carry two or more years (holdings that change).

    A year's links are found as :func:`link_firms` finds them, from that year's land rows alone: a firm
    without rows that year holds no land by the land rows that year (other methods still place it).
    """
    if land is None or "year" not in land:
        return None
    years = sorted({int(y) for y in pd.to_numeric(land["year"], errors="coerce").dropna()})
    if len(years) < 2:
        return None
    year_of = pd.to_numeric(land["year"], errors="coerce")
    parts = []
    for y in years:  # a handful of years
        rows = land.loc[year_of.eq(y).to_numpy(bool)].drop(columns="year")
        with _quiet_links():
            parts.append(link_firms(parcels, firms, land=rows, **options).shares.assign(year=y))
    return pd.concat(parts, ignore_index=True)


@contextlib.contextmanager
def _quiet_links() -> Iterator[None]:
    """The per-year link passes repeat the main pass's warnings: they are silenced while they run."""
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _source(sources: Mapping[str, str | os.PathLike[str]] | None, key: str) -> str | None:
    """The file ``sources`` names for ``key``, as text, or None."""
    value = None if sources is None else sources.get(key)
    return None if value is None else str(value)


def _text(ids: pa.Array, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The ids of ``codes`` (-1: missing) as a pandas ``str`` array, taken in Arrow."""
    return pd.array(ids.take(pa.array(codes, mask=codes < 0)), dtype="str")


def _points(firms: pd.DataFrame, panel_f: np.ndarray, year: np.ndarray | None, linked: np.ndarray) -> pd.DataFrame:
    """The panel rows with a point of firms not linked yet (index: panel row), for ``point_candidates``."""
    lon = pd.to_numeric(firms["lon"], errors="coerce").to_numpy(dtype="float64")
    lat = pd.to_numeric(firms["lat"], errors="coerce").to_numpy(dtype="float64")
    rows = np.flatnonzero(~np.isnan(lon) & ~np.isnan(lat) & ~linked[panel_f])
    pts = pd.DataFrame({"f": panel_f[rows], "lon": lon[rows], "lat": lat[rows]}, index=rows)
    if year is not None:
        pts["year"] = year[rows]
    for col in ("coord_sys", "src_row"):
        if col in firms.columns:
            pts[col] = firms[col].take(rows).to_numpy() if col == "src_row" else firms[col].take(rows).array
    return pts


def _unknown_land(rows: Arrays, firm_ids: pa.Array, parcel_ids: pa.Array) -> pd.DataFrame:
    """Aggregated land rows of firms that are not in the panel, as the report lists them."""
    return pd.DataFrame({
        "uscc": _text(firm_ids, rows["fq"]),
        "parcel_id": _text(parcel_ids, rows["q"]),
        "kind": _text(pa.array(KINDS, pa.large_string()), rows["kind"]),
        "floor_area_m2": rows["floor"],
    })


def _parcel_info(parcels: gpd.GeoDataFrame, ids: pa.Array) -> dict[str, Any]:
    """Per parcel, in layer order: id, land, floor, holder, status and whether it can take firms.

    ``status`` holds the reason (without the leading "excluded: ") for unusable parcels only; ``id``
    and ``holder`` are Arrow text (see ``as_id``); ``ids`` are the ids ``check_parcels`` cleaned already.
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
    geom = parcels["geom_status"] if "geom_status" in parcels.columns else None
    return {
        "id": ids,
        "land_mu": land_mu,
        "floor_area_m2": (pd.to_numeric(parcels["floor_area_m2"], errors="coerce").to_numpy(dtype="float64")
                          if "floor_area_m2" in parcels.columns else np.full(n, np.nan)),
        "holder": (as_id(parcels["holder_uscc"]) if "holder_uscc" in parcels.columns
                   else pa.nulls(n, pa.large_string())),
        "status": status,
        "usable": usable,
        "repaired": np.zeros(n, dtype=bool) if geom is None else geom.eq("repaired").fillna(False).to_numpy(dtype=bool),
        "empty": np.zeros(n, dtype=bool) if geom is None else geom.eq("empty").fillna(False).to_numpy(dtype=bool),
    }


def _near(found: Arrays, parcel_ids: pa.Array, n_parcels: int) -> np.ndarray:
    """Per issue, the code of the layer id its unknown parcel id matches loosely (``near_matches``), else -1."""
    unknown = found["q"] >= n_parcels
    out = np.full(len(unknown), -1, dtype=np.int64)
    if unknown.any():
        out[unknown] = near_matches(parcel_ids, n_parcels)[found["q"][unknown] - n_parcels]
    return out


def _label_issues(found: Arrays, firm_ids: pa.Array, parcel_ids: pa.Array, near: np.ndarray) -> pd.DataFrame:
    """Issues with USCC and parcel id labels (the id as written, or the layer's id for point issues) and,
    for ids not in the layer, the layer id they match loosely (``near``, missing if none)."""
    return pd.DataFrame({
        "f": found["f"],
        "uscc": _text(firm_ids, found["f"]),
        "parcel_id": _text(parcel_ids, found["q"]),
        "method": _text(pa.array(LINK_METHODS, pa.large_string()), found["method"]),
        "issue": _text(pa.array(ISSUES, pa.large_string()), found["issue"]),
        "value": found["value"],
        "detail": pd.array(found["detail"], dtype="str"),
        "near": _text(parcel_ids, near),
    })


def _last_name(firms: pd.DataFrame, panel_f: np.ndarray, n: int) -> pd.api.extensions.ExtensionArray:
    """Each firm's name as last written (in year order, rows without a year last; rows without a name
    skipped), as ``str``: the row of the latest year, of those the last one in the panel."""
    if "name" not in firms.columns:
        return pd.array(np.full(n, np.nan), dtype="str")
    names = firms["name"].reset_index(drop=True)
    rows = np.flatnonzero(names.notna().to_numpy())
    fr = panel_f[rows]
    last = np.full(n, -1)
    year = firms["year"] if "year" in firms.columns else None
    if year is not None and not (pd.api.types.is_numeric_dtype(year) and not pd.api.types.is_bool_dtype(year)):
        # Text years: order them as a stable sort on the text would.
        order = year.reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
        order = order[names.notna().to_numpy()[order]]
        np.maximum.at(last, panel_f[order], np.arange(len(order)))
        picked = last >= 0
        last[picked] = order[last[picked]]
    elif year is None:
        np.maximum.at(last, fr, rows)
    else:
        # Without sorting: a row without a year wins (it sorts last), else the latest year, then the
        # last row of that year.
        y = pd.to_numeric(year).to_numpy(dtype="float64", na_value=np.nan)[rows]
        nan = np.isnan(y)
        np.maximum.at(last, fr[nan], rows[nan])
        top = np.full(n, -np.inf)
        np.maximum.at(top, fr[~nan], y[~nan])
        best = ~nan & (y == top[fr]) & (last[fr] < 0)
        np.maximum.at(last, fr[best], rows[best])
    return pd.array(pd.api.extensions.take(names.array, last, allow_fill=True), dtype="str")


def _firm_links(
    firms: pd.DataFrame,
    panel_f: np.ndarray,
    firm_ids: pa.Array,
    n: int,
    shares: Arrays,
    reasons: pd.DataFrame,
    tenant_mode: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One row per firm of the panel with its link status, land and evaluated unit; its method code and
    the firm code of its evaluated unit."""
    f = shares["f"]
    n_parcels = np.bincount(f, minlength=n)
    linked = n_parcels > 0
    land_mu = np.where(linked, np.bincount(f, weights=shares["land_mu"], minlength=n), np.nan)
    n_own = np.bincount(f, weights=(shares["kind"] == 0).astype(float), minlength=n)
    # The method of a firm's last link (links of one firm found by several sources keep their own).
    last = np.full(n, -1)
    np.maximum.at(last, f, np.arange(len(f)))
    method = np.full(n, -1, dtype=np.int8)
    method[linked] = shares["method"][last[linked]]
    # Status: "linked", or the reason of the k-th unlinked firm, picked from a short Arrow table.
    slot = np.zeros(n, dtype=np.int64)
    slot[~linked] = np.arange(1, int((~linked).sum()) + 1)
    status = pa.concat_arrays([pa.array(["linked"], pa.large_string()),
                               arrow_ids("unlinked: " + reasons["reason_en"])])
    unit = eval_codes(shares, n, tenant_mode=tenant_mode)
    frame = pd.DataFrame({
        "name": _last_name(firms, panel_f, n),
        "status": _text(status, slot),
        "method": _text(pa.array(LINK_METHODS, pa.large_string()), method),
        "land_mu": land_mu,
        "n_parcels": n_parcels.astype("int64"),
        "eval_id": _text(firm_ids, unit),
        "tenant": linked & (n_own == 0) & (tenant_mode == "separate_group"),
    }, index=pd.Index(pd.array(firm_ids.slice(0, n), dtype="str"), name="uscc"))
    return frame, method, unit


def _parcel_links(parcels: gpd.GeoDataFrame, info: dict[str, Any], shares: Arrays) -> pd.DataFrame:
    """One row per parcel (the layer's index): firms on it, holder, idle (usable and no firm)."""
    n_firms = np.bincount(shares["p"], minlength=len(info["usable"]))
    out = pd.DataFrame({
        "n_firms": n_firms.astype("int64"),
        "holder_uscc": pd.array(info["holder"], dtype="str"),
        "idle": (n_firms == 0) & info["usable"],
    }, index=parcels.index.copy())
    out.index.name = "parcel_id"
    return out


def _report(
    methods: tuple[str, ...],
    tenant_mode: str,
    firm_links: pd.DataFrame,
    firm_method: np.ndarray,
    shares: Arrays,
    shares_out: pd.DataFrame,
    found_issues: pd.DataFrame,
    reasons: pd.DataFrame,
    unknown_land: pd.DataFrame,
    info: dict[str, Any],
    parcel_links: pd.DataFrame,
    counts: dict[str, int],
) -> LinkReport:
    mu = firm_links["land_mu"].to_numpy()
    by_method = {m: (int((firm_method == METHOD[m]).sum()), float(mu[firm_method == METHOD[m]].sum()))
                 for m in methods}
    linked = firm_links["n_parcels"].to_numpy() > 0
    unlinked = reasons.copy()
    unlinked.insert(0, "name", firm_links["name"].array.take(np.flatnonzero(~linked)))
    tenants = linked & (
        np.bincount(shares["f"], weights=(shares["kind"] == 0).astype(float), minlength=len(firm_links)) == 0)
    usable = info["usable"]
    with_firms = parcel_links["n_firms"].to_numpy() > 0
    land = info["land_mu"]
    nearest = (shares["via"] == VIAS.index("nearest")) & (shares["method"] == METHOD["point"])
    return LinkReport(
        methods=methods,
        tenant_mode=tenant_mode,
        n_firms=len(firm_links),
        by_method=by_method,
        n_point_nearest=len(np.unique(shares["f"][nearest])),
        unlinked=unlinked,
        issues=found_issues.reset_index(drop=True),
        land_rows_unknown_firm=unknown_land.reset_index(drop=True),
        idle_ids=parcel_links.index[parcel_links["idle"].to_numpy()],
        n_parcels=len(usable),
        n_usable=int(usable.sum()),
        n_with_firms=int(with_firms.sum()),
        n_excluded=int((~usable).sum()),
        n_repaired=int(info["repaired"].sum()),
        n_empty_geom=int(info["empty"].sum()),
        mu_usable=float(land[usable].sum()),
        mu_with_firms=float(land[with_firms].sum()),
        mu_idle=float(land[usable & ~with_firms].sum()),
        mu_shares=float(shares_out["land_mu"].sum()),
        n_tenants=int(tenants.sum()),
        mu_tenants=float(mu[tenants].sum()),
        n_tenant_floor_unknown=counts["tenant_floor_unknown"],
        n_tenant_capped=counts["tenant_capped"],
    )

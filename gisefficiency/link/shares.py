"""From candidate links to land shares: usable parcels, own or leased, tenants' land, evaluated units.

Links carry integer codes (``f`` firm, ``p`` parcel, see ``_candidates``), so per-parcel sums are
``numpy.bincount`` calls and lookups are array indexing: the cost does not depend on how firms are
spread over parcels.
"""

from __future__ import annotations

import numpy as np

from gisefficiency.link.candidates import ISSUES, Arrays, issues, take


def classify(cand: Arrays, usable: np.ndarray, status: np.ndarray) -> tuple[Arrays, Arrays]:
    """Split candidates into usable links and issues (parcel id unknown, parcel excluded)."""
    p = cand["p"]
    known = p >= 0
    safe = np.where(known, p, 0)
    ok = known & usable[safe]
    bad = ~ok
    found_issues = issues(
        f=cand["f"][bad], p=p[bad], q=cand["q"][bad], method=cand["method"][bad],
        issue=np.where(known[bad], ISSUES.index("excluded_parcel"), ISSUES.index("unknown_parcel")),
        detail=np.where(known[bad], status[safe[bad]], None),
    )
    return take(cand, ok), found_issues


def assign_kind(
    links: Arrays,
    holder_f: np.ndarray,
    has_holder: np.ndarray,
    land: Arrays | None,
) -> Arrays:
    """Own (0) or leased (1) for each link: the land rows say so where they have the pair, else the holder.

    A firm on a parcel held by another USCC (in the panel or not) is a tenant; the holder, and any firm
    on a parcel without a known holder, owns. Leased floor area comes from the land rows (NaN where they
    do not give it).
    """
    f, p = links["f"], links["p"]
    kind = np.where(has_holder[p] & (holder_f[p] != f), 1, 0).astype(np.int8)
    floor = np.full(len(f), np.nan)
    if land is not None and len(land["f"]):
        rows = take(land, (land["f"] >= 0) & (land["p"] >= 0))  # one row per pair (aggregate_land)
        width = int(max(p.max(initial=0), rows["p"].max(initial=0))) + 1
        keys = rows["f"] * width + rows["p"]
        order = np.argsort(keys)
        at = np.searchsorted(keys[order], f * width + p)
        at = np.minimum(at, len(keys) - 1) if len(keys) else at
        hit = (keys[order][at] == f * width + p) if len(keys) else np.zeros(len(f), dtype=bool)
        pos = order[at[hit]]
        kind[hit] = rows["kind"][pos]
        floor[hit] = rows["floor"][pos]
    return {**links, "kind": kind, "floor": floor}


def apportion(
    links: Arrays,
    land_mu: np.ndarray,
    parcel_floor: np.ndarray,
    *,
    tenant_mode: str,
    fixed_ratio_m2_per_mu: float,
) -> tuple[Arrays, dict[str, int]]:
    """Share each linked parcel's ``land_mu`` among its firms; per parcel the shares sum to its land.

    Tenants first: ``floor_share``/``separate_group`` give parcel mu x leased floor / total floor (the
    parcel's floor area, or the sum of its rows' floors when that is missing or smaller);
    ``fixed_ratio`` gives leased m2 / ``fixed_ratio_m2_per_mu``; ``merge_to_holder`` gives 0 where an
    owner is linked. A tenant whose leased floor is unknown counts as one equal head (parcel mu / firms
    on the parcel). If tenants would take more than the parcel, their shares are scaled down to it.
    Owners then split the rest equally, or by their floor area when every owner has one. Without an
    owner the rest goes to the tenants in proportion to their shares (equally if those are all zero),
    so land is conserved.

    Returns the links with ``land_mu`` and counts for the report (tenancies with unknown floor,
    parcels whose tenants were capped).
    """
    codes = links["p"]
    n = len(land_mu)

    def per_parcel(weights: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=weights, minlength=n)[codes]

    mu = land_mu[codes]
    floor = links["floor"]
    own = links["kind"] == 0
    tenant = ~own
    known_floor = ~np.isnan(floor)
    floor0 = np.nan_to_num(floor)
    n_firms = per_parcel(np.ones(len(codes)))
    n_own = per_parcel(own.astype("float64"))

    if tenant_mode == "fixed_ratio":
        raw = floor0 / fixed_ratio_m2_per_mu
    else:
        rows_floor = per_parcel(floor0)
        given = parcel_floor[codes]
        total = np.where(~np.isnan(given) & (given >= rows_floor), given, rows_floor)
        # Ratios first, then times land: products of tiny floors with land would underflow.
        raw = mu * np.divide(floor0, total, out=np.zeros(len(codes)), where=total > 0)
    tenant_mu = np.where(tenant, np.where(known_floor, raw, mu / n_firms), 0.0)
    if tenant_mode == "merge_to_holder":
        tenant_mu = np.where(n_own > 0, 0.0, tenant_mu)
    taken = per_parcel(tenant_mu)
    over = taken > mu * (1 + 1e-12)
    # Scaled down only where tenants claim more than the parcel (there taken > mu >= 0, so no overflow).
    tenant_mu = tenant_mu * np.divide(mu, taken, out=np.ones(len(codes)), where=over)
    taken = np.minimum(taken, mu)
    rest = np.maximum(mu - taken, 0.0)

    n_own_floor = per_parcel((own & (floor0 > 0)).astype("float64"))
    weight = np.where(own, np.where(n_own_floor == n_own, floor0, 1.0), 0.0)
    weight_sum = per_parcel(weight)
    owner_mu = rest * np.divide(weight, weight_sum, out=np.zeros(len(codes)), where=weight_sum > 0)
    n_tenants = n_firms - n_own
    orphan_mu = np.where(
        taken > 0,
        rest * np.divide(tenant_mu, taken, out=np.zeros(len(codes)), where=taken > 0),
        rest / np.maximum(n_tenants, 1),
    )
    share = np.where(own, owner_mu, tenant_mu + np.where(n_own == 0, orphan_mu, 0.0))
    counts = {
        "tenant_floor_unknown": int((tenant & ~known_floor).sum()),
        "tenant_capped": len(np.unique(codes[over])),
    }
    return {**links, "land_mu": share}, counts


def eval_codes(shares: Arrays, n_firms: int, *, tenant_mode: str) -> np.ndarray:
    """Firm code of the evaluated unit of each firm: itself, or in ``merge_to_holder`` mode a tenant's holder.

    A firm that owns any of its parcels stays its own unit. A firm that only rents, on a parcel where
    an owner is linked, joins that parcel's main owner (largest share, then first in the panel); of
    several such parcels the largest (then the first in the layer) decides.
    """
    out = np.arange(n_firms)
    if tenant_mode != "merge_to_holder" or not len(shares["f"]):
        return out
    f = shares["f"]
    p = shares["p"]
    mu = shares["land_mu"]
    own = shares["kind"] == 0
    order = np.lexsort((f[own], -mu[own], p[own]))
    owner_p, first = np.unique(p[own][order], return_index=True)
    main_owner = np.full(int(p.max()) + 1, -1)
    main_owner[owner_p] = f[own][order][first]
    owns_any = np.zeros(n_firms, dtype=bool)
    owns_any[f[own]] = True
    parcel_mu = np.bincount(p, weights=mu)
    rented = ~own & ~owns_any[f] & (main_owner[p] >= 0)
    rf, rp = f[rented], p[rented]
    order = np.lexsort((rp, -parcel_mu[rp], rf))
    firms, first = np.unique(rf[order], return_index=True)
    out[firms] = main_owner[rp[order][first]]
    return out

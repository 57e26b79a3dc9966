"""From candidate links to land shares: usable parcels, method priority, own/leased, tenants' land.

All steps work on whole columns: parcels are factorised to integer codes and per-parcel sums are
``numpy.bincount`` calls, so the cost does not depend on how firms are spread over parcels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gisefficiency.link._candidates import empty_issues


def classify(cand: pd.DataFrame, parcel_info: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split candidates into usable links and issues (parcel id unknown, parcel excluded)."""
    pos = parcel_info.index.get_indexer(cand["parcel_id"].to_numpy(dtype=object))
    known = pos >= 0
    usable = known & parcel_info["_usable"].to_numpy()[np.where(known, pos, 0)]
    status = parcel_info["status"].to_numpy(dtype=object)[np.where(known, pos, 0)]
    bad = cand[~usable]
    issues = pd.DataFrame({
        "uscc": bad["uscc"].to_numpy(), "parcel_id": bad["parcel_id"].to_numpy(),
        "method": bad["method"].to_numpy(),
        "issue": np.where(known[~usable], "excluded_parcel", "unknown_parcel"),
        "value": np.nan,
        "detail": np.where(known[~usable], status[~usable], None),
    })
    issues = pd.concat([empty_issues(), issues], ignore_index=True).astype(empty_issues().dtypes)
    return cand[usable].reset_index(drop=True), issues


def choose(valid: pd.DataFrame, methods: tuple[str, ...]) -> pd.DataFrame:
    """Keep, for each firm, the links of the first method (in ``methods`` order) that gave it a parcel."""
    rank = valid["method"].map({m: i for i, m in enumerate(methods)}).astype("int64")
    best = rank.groupby(valid["uscc"].to_numpy()).transform("min")
    out = valid[rank.to_numpy() == best.to_numpy()]
    return out.drop_duplicates(["uscc", "parcel_id"]).reset_index(drop=True)


def assign_kind(links: pd.DataFrame, parcel_info: pd.DataFrame, land: pd.DataFrame | None) -> pd.DataFrame:
    """Own or leased for each link: the land rows say so where they have the pair, else the parcel holder.

    A firm on a parcel held by another USCC is a tenant; the holder, and any firm on a parcel without a
    known holder, owns. Leased floor area comes from the land rows (NaN where they do not give it).
    """
    out = links.drop(columns=["kind", "floor_area_m2"])
    if land is not None and len(land):
        out = out.merge(land[["uscc", "parcel_id", "kind", "floor_area_m2"]], on=["uscc", "parcel_id"],
                        how="left")
    else:
        out["kind"] = pd.Series(pd.NA, index=out.index, dtype="string")
        out["floor_area_m2"] = np.nan
    holder = parcel_info["holder_uscc"].reindex(out["parcel_id"].to_numpy()).to_numpy(dtype=object)
    holder_is_other = pd.notna(holder) & (holder != out["uscc"].to_numpy(dtype=object))
    by_holder = np.where(holder_is_other, "leased", "own")
    out["kind"] = out["kind"].astype("string").fillna(pd.Series(by_holder, index=out.index, dtype="string"))
    return out


def apportion(
    links: pd.DataFrame,
    parcel_info: pd.DataFrame,
    *,
    tenant_mode: str,
    fixed_ratio_m2_per_mu: float,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Share each linked parcel's ``land_mu`` among its firms; per parcel the shares sum to its land.

    Tenants first: ``floor_share``/``separate_group`` give parcel mu x leased floor / total floor (the
    parcel's floor area, or the sum of its rows' floors when that is missing or smaller);
    ``fixed_ratio`` gives leased m2 / ``fixed_ratio_m2_per_mu``; ``merge_to_holder`` gives 0 where an
    owner is linked. A tenant whose leased floor is unknown counts as one equal head (parcel mu / firms
    on the parcel). If tenants would take more than the parcel, their shares are scaled down to it.
    Owners then split the rest equally, or by their floor area when every owner has one. Without an
    owner the rest goes to the tenants in proportion to their shares (equally if those are all zero),
    so land is conserved.

    Returns the links with ``land_mu`` and counts for the report (tenants with unknown floor, parcels
    whose tenants were capped).
    """
    codes, _ = pd.factorize(links["parcel_id"])
    n = int(codes.max()) + 1 if len(codes) else 0

    def per_parcel(weights: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=weights, minlength=n)[codes]

    mu = parcel_info["land_mu"].reindex(links["parcel_id"].to_numpy()).to_numpy(dtype="float64")
    parcel_floor = parcel_info["floor_area_m2"].reindex(links["parcel_id"].to_numpy()).to_numpy(dtype="float64")
    floor = links["floor_area_m2"].to_numpy(dtype="float64")
    own = links["kind"].eq("own").to_numpy(dtype=bool)
    tenant = ~own
    known_floor = ~np.isnan(floor)
    n_firms = per_parcel(np.ones(len(codes)))
    n_own = per_parcel(own.astype("float64"))

    if tenant_mode == "fixed_ratio":
        raw = np.nan_to_num(floor) / fixed_ratio_m2_per_mu
    else:
        rows_floor = per_parcel(np.nan_to_num(floor))
        total = np.where(~np.isnan(parcel_floor) & (parcel_floor >= rows_floor), parcel_floor, rows_floor)
        raw = np.divide(mu * np.nan_to_num(floor), total, out=np.zeros(len(codes)), where=total > 0)
    tenant_mu = np.where(tenant, np.where(known_floor, raw, mu / n_firms), 0.0)
    if tenant_mode == "merge_to_holder":
        tenant_mu = np.where(n_own > 0, 0.0, tenant_mu)
    taken = per_parcel(tenant_mu)
    over = taken > mu * (1 + 1e-12)
    tenant_mu = np.where(over, tenant_mu * mu / np.where(taken > 0, taken, 1.0), tenant_mu)
    taken = np.minimum(taken, mu)
    rest = np.maximum(mu - taken, 0.0)

    n_own_floor = per_parcel((own & (np.nan_to_num(floor) > 0)).astype("float64"))
    weight = np.where(own, np.where(n_own_floor == n_own, np.nan_to_num(floor), 1.0), 0.0)
    weight_sum = per_parcel(weight)
    owner_mu = np.divide(rest * weight, weight_sum, out=np.zeros(len(codes)), where=weight_sum > 0)
    n_tenants = n_firms - n_own
    orphan_mu = np.where(
        taken > 0,
        np.divide(rest * tenant_mu, taken, out=np.zeros(len(codes)), where=taken > 0),
        rest / np.maximum(n_tenants, 1),
    )
    share = np.where(own, owner_mu, tenant_mu + np.where(n_own == 0, orphan_mu, 0.0))

    out = links.assign(land_mu=share)
    counts = {
        "tenant_floor_unknown": int((tenant & ~known_floor).sum()),
        "tenant_capped": int(len(np.unique(codes[over]))),
    }
    return out, counts


def eval_ids(shares: pd.DataFrame, firm_index: pd.Index, *, tenant_mode: str) -> pd.Series:
    """The evaluated unit of each firm: itself, or in ``merge_to_holder`` mode a pure tenant's holder.

    A firm that owns any of its parcels stays its own unit. A firm that only rents, on a parcel where
    an owner is linked, joins the main owner (largest share, then smallest USCC) of its largest such
    parcel (then smallest id).
    """
    out = pd.Series(firm_index.to_numpy(), index=firm_index, dtype="string")
    if tenant_mode != "merge_to_holder" or shares.empty:
        return out
    own = shares["kind"].eq("own")
    owners = shares[own].sort_values(["parcel_id", "land_mu", "uscc"], ascending=[True, False, True])
    main_owner = owners.drop_duplicates("parcel_id").set_index("parcel_id")["uscc"]
    owns_any = shares.loc[own, "uscc"].unique()
    rented = shares[~own & ~shares["uscc"].isin(owns_any) & shares["parcel_id"].isin(main_owner.index)]
    parcel_mu = shares.groupby("parcel_id")["land_mu"].sum()
    rented = rented.assign(_mu=rented["parcel_id"].map(parcel_mu))
    rented = rented.sort_values(["uscc", "_mu", "parcel_id"], ascending=[True, False, True])
    first = rented.drop_duplicates("uscc")
    out.loc[first["uscc"].to_numpy()] = first["parcel_id"].map(main_owner).to_numpy()
    return out

"""Firms of the sample county: who holds or leases which parcel, and their 2020-2023 figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gisefficiency.core.schema import FIRM_COLUMNS
from gisefficiency.sample._layout import Layout
from gisefficiency.sample._names import ENERGY_INTENSIVE, draw_industries, firm_names, make_usccs
from gisefficiency.sample._parcels import ParcelDraw

YEARS: tuple[int, ...] = (2020, 2021, 2022, 2023)

#: Shares of the firm population (of holders unless said otherwise).
MULTI_PARCEL_SHARE: float = 0.10  # a parcel goes to the same firm as its neighbour in the block
FAR_SITE_SHARE: float = 0.015  # single-parcel holders that also hold a parcel elsewhere
TENANT_SHARE: float = 0.13  # tenants per holder
POINT_SHARE: float = 0.05  # of all firms: known only by a GCJ-02 point
ROAD_POINT_SHARE: float = 0.10  # of point firms: the point falls on the road next to the parcel

#: 1 万kWh of electricity is 1.229 tce (equivalent-value factor, GB/T 2589-2020).
TCE_PER_10K_KWH: float = 1.229
#: 1 m³ of natural gas is 1.2143 kgce (GB/T 2589-2020, 1.1000-1.3300 kgce/m³, mid value).
TCE_PER_M3_GAS: float = 1.2143e-3


@dataclass(frozen=True)
class FirmDraw:
    """Firms and their links, before coordinates are attached.

    Attributes
    ----------
    holder_uscc
        Per parcel: the holder's USCC, or "" when the cadastre records none.
    firms
        Canonical firm-year panel (``lon``/``lat`` still empty).
    land
        Land rows (tenants' leased floor, and their hosts' own rows).
    truth
        One row per firm: ``kind`` (holder/point/tenant), ``parcel`` (row of its main parcel),
        ``n_parcels``, ``land_mu`` (true land), ``tax_per_mu`` (base 万元/亩), ``low_cluster``, ``road_point``.
    """

    holder_uscc: np.ndarray
    firms: pd.DataFrame
    land: pd.DataFrame
    truth: pd.DataFrame


def draw_firms(
    layout: Layout, parcels: ParcelDraw, parcel_ids: np.ndarray, rng: np.random.Generator, *,
    old_streets: tuple[int, ...],
) -> FirmDraw:
    """Draw holders, tenants and point-only firms, then their yearly figures.

    Parameters
    ----------
    layout, parcels
        The county's parcels.
    parcel_ids
        Parcel id of each parcel (text).
    rng
        Random generator.
    old_streets
        Streets of the old town (lower figures).

    Returns
    -------
    FirmDraw
    """
    n = parcel_ids.size
    active = np.flatnonzero(~parcels.idle)
    # Holders: runs of neighbouring parcels in one block go to one firm.
    same_block = layout.block[active][1:] == layout.block[active][:-1]
    cont = np.concatenate([[False], same_block & (rng.random(active.size - 1) < MULTI_PARCEL_SHARE)])
    group = np.cumsum(~cont) - 1
    sizes = np.bincount(group)
    singles = np.flatnonzero(sizes == 1)
    far = rng.choice(singles, round(FAR_SITE_SHARE * sizes.size), replace=False)
    remap = np.arange(sizes.size)
    remap[far] = rng.integers(0, sizes.size, far.size)
    _, group = np.unique(remap[group], return_inverse=True)
    n_hold = int(group.max()) + 1
    first = np.unique(group, return_index=True)[1]
    main = active[first]
    sizes = np.bincount(group)
    n_ten = round(TENANT_SHARE * n_hold)

    # Point-only firms: single-parcel holders whose parcel has no holder in the cadastre.
    eligible = np.flatnonzero((sizes == 1) & ~parcels.bow_tie[main] & ~parcels.low_cluster[main])
    n_point = min(max(round(POINT_SHARE * (n_hold + n_ten)), 3), eligible.size)
    is_point = np.zeros(n_hold, dtype=bool)
    is_point[rng.choice(eligible, n_point, replace=False)] = True

    # Tenants lease 6-30 % of a host's floor; no host lets more than 70 %.
    host_ok = ~parcels.idle & parcels.floor_known & (parcels.floor_m2 > 0)
    host_ok[main[is_point]] = False
    pool = np.flatnonzero(host_ok)
    host = rng.choice(pool, n_ten, p=parcels.floor_m2[pool] / parcels.floor_m2[pool].sum())
    share = rng.uniform(0.06, 0.30, n_ten)
    let = np.bincount(host, weights=share, minlength=n)
    share *= np.where(let > 0.7, 0.7 / np.maximum(let, 1e-9), 1.0)[host]
    let = np.bincount(host, weights=share, minlength=n)
    leased_m2 = np.round(share * parcels.floor_m2[host], 0)

    # Firm arrays: holders (group order) then tenants.
    n_firm = n_hold + n_ten
    kind = np.concatenate([np.where(is_point, "point", "holder"), np.full(n_ten, "tenant")])
    parcel = np.concatenate([main, host])
    own_mu = np.bincount(group, weights=parcels.area_mu[active] * (1.0 - let[active]))
    land_mu = np.concatenate([own_mu, parcels.area_mu[host] * share])
    supply = parcels.supply_date[parcel]
    modern = np.concatenate([supply[:n_hold] >= np.datetime64("2015-01-01"), rng.random(n_ten) < 0.6])
    n_dormant = int(parcels.idle.sum())
    codes = make_usccs(n_firm + n_dormant, rng, modern=np.concatenate([modern, rng.random(n_dormant) < 0.5]))
    uscc, dormant = codes[:n_firm], codes[n_firm:]

    holder = np.full(n, "", dtype="U18")
    holder[active] = uscc[group]
    holder[main[is_point]] = ""
    # Half the idle parcels still carry their holder (a firm that never built or has left).
    idle = np.flatnonzero(parcels.idle)
    holder[idle] = np.where(rng.random(idle.size) < 0.5, dormant, "")

    panel, truth = _panel(
        layout, parcels, rng, uscc=uscc, kind=kind, parcel=parcel, land_mu=land_mu, n_blocks=int(layout.block.max()) + 1,
        old_streets=old_streets,
    )
    # The table names the parcel for most holders and half of the tenants; point firms have none.
    says = np.where(kind == "holder", rng.random(n_firm) < 0.7, np.where(kind == "tenant", rng.random(n_firm) < 0.5, False))
    firm_parcel = pd.array(np.where(says, parcel_ids[parcel], None), dtype="string")
    panel["parcel_id"] = firm_parcel.take(panel["_firm"].to_numpy())
    truth["n_parcels"] = np.concatenate([sizes, np.ones(n_ten, dtype=np.int64)])

    # Land rows: every tenant's leased floor, and the host owner's own floor on the same parcel.
    hosts = np.unique(host)
    land = pd.DataFrame({
        "uscc": np.concatenate([uscc[n_hold:], holder[hosts]]),
        "parcel_id": np.concatenate([parcel_ids[host], parcel_ids[hosts]]),
        "kind": np.concatenate([np.full(n_ten, "leased"), np.full(hosts.size, "own")]),
        "floor_area_m2": np.concatenate([leased_m2, parcels.floor_m2[hosts] - np.bincount(host, leased_m2, n)[hosts]]),
    }).sort_values(["parcel_id", "kind", "uscc"], kind="stable", ignore_index=True)
    return FirmDraw(holder_uscc=holder, firms=panel, land=land, truth=truth)


def _panel(
    layout: Layout, parcels: ParcelDraw, rng: np.random.Generator, *, uscc: np.ndarray, kind: np.ndarray,
    parcel: np.ndarray, land_mu: np.ndarray, n_blocks: int, old_streets: tuple[int, ...],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Firm attributes and the long 2020-2023 panel (columns of ``schema.FIRM_COLUMNS``)."""
    f = uscc.size
    old = np.isin(layout.street[parcel], old_streets)
    low = parcels.low_cluster[parcel]
    industry = draw_industries(f, rng)
    heavy = np.isin(industry, ENERGY_INTENSIVE)

    # Tax per mu (万元/亩): lognormal around 15 (8 in the old town) with a shared block effect, so
    # neighbours look alike; inside the old-town clusters every firm is below 1 or between 1 and 3.
    block_effect = rng.normal(0.0, 0.35, n_blocks)[layout.block[parcel]]
    tpm = np.where(old, 8.0, 15.0) * np.exp(block_effect + rng.normal(0.0, 0.85, f))
    deep = rng.random(f) < 0.55
    tpm = np.where(low, np.where(deep, rng.uniform(0.15, 0.9, f), rng.uniform(1.15, 2.8, f)), tpm)
    supply = parcels.supply_date[parcel]
    idle_works = (kind != "tenant") & (supply <= np.datetime64("2017-12-31")) & ~low & (rng.random(f) < 0.025)
    tpm = np.where(idle_works, rng.uniform(0.0, 0.4, f), tpm)

    # Production starts 0.5-3 years after supply (tenants: any time 2005-2022); not before 2020 data.
    latest = (np.datetime64("2023-06-30") - supply).astype(np.int64)
    start = supply + np.minimum(rng.uniform(180, 1100, f), latest).astype("timedelta64[D]")
    tenant = kind == "tenant"
    start[tenant] = np.datetime64("2005-01-01") + rng.integers(0, 18 * 365, tenant.sum()).astype("timedelta64[D]")
    start = np.where(idle_works, np.datetime64("NaT"), start).astype("datetime64[D]")
    first_year = np.where(idle_works, YEARS[0], start.astype("datetime64[Y]").astype(np.int64) + 1970)

    years = np.array(YEARS)
    firm = np.repeat(np.arange(f), years.size)
    year = np.tile(years, f)
    keep = year >= first_year[firm]
    # 2 % closed after 2022, 2 % skipped one year in the bureau's files.
    closed = rng.random(f) < 0.02
    gap_year = np.where(rng.random(f) < 0.02, rng.choice(years[:-1], f), 0)
    keep &= ~(closed[firm] & (year == years[-1])) & (year != gap_year[firm])
    firm, year = firm[keep], year[keep]
    m = firm.size

    growth = rng.normal(0.03, 0.05, f)
    noise = rng.normal(0.0, np.where(low[firm], 0.06, 0.12))
    factor = np.exp(growth[firm] * (year - 2021.5) + noise)
    tax = tpm[firm] * land_mu[firm] * factor
    va = tax * rng.lognormal(np.log(5.0), 0.3, f)[firm] * rng.lognormal(0.0, 0.05, m)
    revenue = va / rng.uniform(0.18, 0.33, f)[firm]
    above = revenue >= 2000.0
    per_tce = np.where(heavy, rng.lognormal(np.log(0.5), 0.5, f), rng.lognormal(np.log(3.0), 0.5, f))
    energy = va / per_tce[firm]
    electricity = energy * rng.uniform(0.45, 0.9, f)[firm] / TCE_PER_10K_KWH
    # Emissions are reported by firms on the pollution-source list only.
    listed = (heavy | (rng.random(f) < 0.6))[firm]
    cod = np.where(listed, va * rng.lognormal(np.log(4e-4), 0.6, f)[firm], np.nan)
    rd_share = np.where(rng.random(f) < 0.3, 0.0, np.minimum(rng.lognormal(np.log(0.02), 0.6, f), 0.12))
    staff = np.maximum(np.round(va / rng.lognormal(np.log(22.0), 0.4, f)[firm]), 3.0)
    so2 = np.where(listed, energy * rng.lognormal(np.log(5e-4), 0.5, f)[firm], np.nan)
    nox = np.where(listed, energy * rng.lognormal(np.log(8e-4), 0.5, f)[firm], np.nan)
    # Energy is missing for some small (规下) firms: not all of them report it.
    energy = np.where(~above & (rng.random(m) < 0.15), np.nan, energy)
    water, gas = _water_gas(rng.spawn(1)[0], va=va, energy=energy, heavy=heavy, above=above, firm=firm)

    high_tech = (rd_share > 0.03) & (rng.random(f) < 0.6) | (rng.random(f) < 0.02)
    tech_sme = ~high_tech & (rd_share > 0.015) & (rng.random(f) < 0.35)
    welfare = rng.random(f) < 0.01
    names = firm_names(industry, rng)

    panel = pd.DataFrame({
        "uscc": _text(uscc, firm),
        "name": _text(names, firm),
        "year": year.astype(np.int64),
        "parcel_id": pd.Series(pd.NA, index=range(m), dtype="string"),
        "scale": _text(np.array(["below", "above"]), above.astype(np.int64)),
        "industry": _text(industry, firm),
        "tax": np.round(tax, 2),
        "value_added": np.round(va, 2),
        "revenue": np.round(revenue, 2),
        "energy_tce": np.round(energy, 2),
        "electricity": np.round(electricity, 2),
        "cod_t": np.round(cod, 3),
        "nh3n_t": np.round(cod * rng.uniform(0.05, 0.15, f)[firm], 3),
        "so2_t": np.round(so2, 3),
        "nox_t": np.round(nox, 3),
        "water_m3": np.round(water, 0),
        "gas_m3": np.round(gas, 0),
        "rd": np.round(revenue * rd_share[firm], 2),
        "staff": staff,
        "high_tech": pd.array(high_tech[firm], dtype="boolean"),
        "tech_sme": pd.array(tech_sme[firm], dtype="boolean"),
        "public_welfare": pd.array(welfare[firm], dtype="boolean"),
        "in_production": pd.array(~idle_works[firm], dtype="boolean"),
        "production_date": start[firm].astype("datetime64[s]"),
        "lon": np.nan,
        "lat": np.nan,
        "coord_sys": pd.Series(pd.NA, index=range(m), dtype="string"),
        "_firm": firm,
    })
    # One refund: a negative tax in one firm-year (a holder in production, 2022).
    candidates = np.flatnonzero((kind[firm] == "holder") & (year == 2022) & ~idle_works[firm])
    refund = rng.choice(candidates)
    panel.loc[refund, "tax"] = -np.round(rng.uniform(3.0, 30.0), 2)

    truth = pd.DataFrame({
        "kind": kind, "parcel": parcel, "land_mu": land_mu, "tax_per_mu": tpm, "low_cluster": low,
        "in_production": ~idle_works,
    }, index=pd.Index(uscc, name="uscc"))
    return panel[[*FIRM_COLUMNS, "_firm"]], truth


def _water_gas(
    rng: np.random.Generator, *, va: np.ndarray, energy: np.ndarray, heavy: np.ndarray, above: np.ndarray,
    firm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Water (m³) and natural gas (m³) per firm-year.

    Drawn from their own generator (spawned, so the figures drawn before them stay as they were):
    water about 15 m³ per 万元 of value added (Zhejiang's 万元工业增加值用水量 is of that order), three
    times that in energy-intensive divisions; 45 % of firms burn gas, 5-40 % of their energy. Like
    energy, water is missing for some 规下 firm-years (not reported); a firm without gas has 0 m³.
    """
    f, m = heavy.size, firm.size
    per_va = rng.lognormal(np.log(15.0), 0.5, f) * np.where(heavy, 3.0, 1.0)
    water = va * per_va[firm] * rng.lognormal(0.0, 0.05, m)
    water = np.where(~above & (rng.random(m) < 0.15), np.nan, water)
    share = np.where(rng.random(f) < 0.45, rng.uniform(0.05, 0.40, f), 0.0)
    gas = energy * share[firm] / TCE_PER_M3_GAS
    return water, gas


def _text(values: np.ndarray, take: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[take]`` as a pandas text array, converting each distinct value once (fast for long panels)."""
    return pd.array(values, dtype="str").take(take)

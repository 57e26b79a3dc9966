"""Tiny hand-computable inputs for the metrics, policy and evaluate tests.

``Links`` stands in for ``gisefficiency.link.Links`` (same attribute names), so these tests do not
depend on the link stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisefficiency.metrics.indicators import unit_metrics


@dataclass
class Links:
    shares: pd.DataFrame
    firm_links: pd.DataFrame
    parcel_links: pd.DataFrame


def make_links(shares: list[tuple[str, str, str, float]], firms: list[str], *,
               eval_ids: dict[str, str] | None = None, tenants: tuple[str, ...] = (),
               parcels: list[str] | None = None) -> Links:
    """Links from ``(uscc, parcel_id, kind, land_mu)`` rows; every firm in ``firms`` gets a firm_links row."""
    sh = pd.DataFrame(shares, columns=["uscc", "parcel_id", "kind", "land_mu"])
    sh["method"] = "table"
    sh["floor_area_m2"] = np.nan
    sh = sh[["uscc", "parcel_id", "kind", "method", "floor_area_m2", "land_mu"]]
    land = sh.groupby("uscc")["land_mu"].sum()
    fl = pd.DataFrame(index=pd.Index(firms, name="uscc"))
    fl["name"] = [f"企业{u}" for u in firms]
    fl["status"] = ["linked" if u in land.index else "unlinked: no parcel" for u in firms]
    fl["method"] = "table"
    fl["land_mu"] = land.reindex(fl.index).to_numpy()
    fl["n_parcels"] = sh.groupby("uscc").size().reindex(fl.index, fill_value=0).to_numpy()
    fl["eval_id"] = [(eval_ids or {}).get(u, u) for u in firms]
    fl["tenant"] = [u in tenants for u in firms]
    pids = parcels if parcels is not None else sorted(sh["parcel_id"].unique())
    n = sh.groupby("parcel_id").size().reindex(pids, fill_value=0)
    owner = sh[sh["kind"] == "own"].drop_duplicates("parcel_id").set_index("parcel_id")["uscc"]
    pl = pd.DataFrame({"n_firms": n.to_numpy(), "holder_uscc": owner.reindex(pids).to_numpy(),
                       "idle": (n == 0).to_numpy()}, index=pd.Index(pids, name="parcel_id"))
    return Links(sh, fl, pl)


def firm_rows(uscc: str, years: dict[int, dict[str, Any]], **static: Any) -> list[dict[str, Any]]:
    """Rows of one firm: ``years`` maps year -> that year's figures, ``static`` repeats on every row."""
    return [{"uscc": uscc, "year": y, **static, **vals} for y, vals in years.items()]


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A firm-year panel as io.read_firms gives it: flags as pandas boolean, dates as datetime64."""
    f = pd.DataFrame(rows)
    for c in ("high_tech", "tech_sme", "public_welfare", "in_production", "zombie", "unlicensed",
              "banned_industry", "non_industrial_tenant", "auction_non_industrial"):
        if c in f:
            f[c] = f[c].astype("boolean")
    for c in ("production_date", "supply_date"):
        if c in f:
            f[c] = pd.to_datetime(f[c])
    for c in ("scale", "industry", "name"):
        if c in f:
            f[c] = f[c].astype("string")
    f["src_row"] = np.arange(1, len(f) + 1)
    return f


def simple_panel(spec: dict[str, dict[str, Any]], **common: Any) -> tuple[pd.DataFrame, Links, pd.DataFrame]:
    """One own parcel per firm: ``spec[uscc] = {"land_mu": .., "tax": {year: ..}, other static or per-year}``.

    Per-year values other than tax go in ``spec[uscc]["years"] = {year: {...}}``. Returns
    ``(panel, links, firms)``.
    """
    rows, shares = [], []
    parcels = []
    for uscc, s in spec.items():
        s = dict(s)
        land = s.pop("land_mu", 10.0)
        tax = s.pop("tax", {})
        per_year = s.pop("years", {})
        supply = s.pop("supply_date", None)
        years = sorted(set(tax) | set(per_year))
        static = {**common, **s}
        rows += firm_rows(uscc, {y: {"tax": tax.get(y, np.nan), **per_year.get(y, {})} for y in years}, **static)
        shares.append((uscc, f"P{uscc}", "own", land))
        parcels.append({"parcel_id": f"P{uscc}", "land_mu": land, "supply_date": supply})
    firms = frame(rows)
    links = make_links(shares, list(spec))
    parcel_frame = pd.DataFrame(parcels).set_index("parcel_id")
    parcel_frame["supply_date"] = pd.to_datetime(parcel_frame["supply_date"])
    return unit_metrics(firms, links, parcels=parcel_frame), links, firms

"""Benchmark of ``metrics`` and ``evaluate``: a synthetic firm-year panel with every rule kind.

Run ``python benchmarks/bench_evaluate.py [n_firm_years]`` (default 1,000,000: 200,000 firms x 5 years).
Target: ``evaluate`` under 5 s per preset on 1M firm-years on the 2-core reference machine.

The synthetic county: one firm per parcel, 30 % 规上, a tenth of the firms renting part of another
firm's parcel (Wenling's leasing penalty), 3 % of the firm-years missing, industry codes across the
GB/T 4754 manufacturing divisions, supply and production dates from 2005 to 2022.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gisefficiency.evaluate.policy import list_presets, load_preset
from gisefficiency.evaluate.verdicts import evaluate, flag_parcels
from gisefficiency.metrics.indicators import parcel_metrics, unit_metrics

PRESETS = tuple(p.name for p in list_presets())  # every shipped preset


@dataclass
class _Links:
    shares: pd.DataFrame
    firm_links: pd.DataFrame
    parcel_links: pd.DataFrame


def make_inputs(n_firm_years: int, *, years: int = 5, seed: int = 7) -> tuple[pd.DataFrame, _Links, pd.DataFrame]:
    """Firms (long panel), links and parcels for ``n_firm_years`` rows."""
    rng = np.random.default_rng(seed)
    n = max(n_firm_years // years, 20)
    uscc = pd.array([f"91330000{i:010d}" for i in range(n)], dtype="string")
    pid = pd.array([f"P{i:07d}" for i in range(n)], dtype="string")
    land = rng.uniform(2, 60, n).round(2)
    tenant = rng.random(n) < 0.1
    host = rng.integers(0, n, n)
    host = np.where(host == np.arange(n), (host + 1) % n, host)
    own = pd.DataFrame({"uscc": uscc[~tenant], "parcel_id": pid[~tenant], "kind": "own", "land_mu": land[~tenant]})
    leased = pd.DataFrame({"uscc": uscc[tenant], "parcel_id": pid[host[tenant]], "kind": "leased",
                           "land_mu": (land[tenant] * 0.2).round(2)})
    shares = pd.concat([own, leased], ignore_index=True)
    shares["method"] = "table"
    shares["floor_area_m2"] = np.nan
    firm_land = shares.groupby("uscc")["land_mu"].sum()
    fl = pd.DataFrame({"name": pd.array([f"企业{i}" for i in range(n)], dtype="string"), "status": "linked",
                       "method": "table", "land_mu": firm_land.reindex(uscc).to_numpy(),
                       "n_parcels": 1, "eval_id": uscc, "tenant": False}, index=pd.Index(uscc, name="uscc"))
    n_on = shares.groupby("parcel_id").size().reindex(pid, fill_value=0)
    pl = pd.DataFrame({"n_firms": n_on.to_numpy(), "holder_uscc": uscc, "idle": (n_on == 0).to_numpy()},
                      index=pd.Index(pid, name="parcel_id"))
    parcels = pd.DataFrame({
        "land_mu": np.where(n_on.to_numpy() > 0, shares.groupby("parcel_id")["land_mu"].sum().reindex(pid).to_numpy(),
                            land),
        "supply_date": pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 6200, n), unit="D"),
        "floor_area_m2": rng.uniform(0.3, 2.5, n) * land * 666.67,
    }, index=pd.Index(pid, name="parcel_id"))

    firm = np.repeat(np.arange(n), years)
    year = np.tile(np.arange(2022 - years + 1, 2023), n)
    keep = rng.random(len(firm)) > 0.03
    firm, year = firm[keep], year[keep]
    m = len(firm)
    above = (rng.random(n) < 0.3)[firm]
    size = np.where(above, 8.0, 1.0) * land[firm]
    va = rng.lognormal(2.5, 1.0, m) * size
    firms = pd.DataFrame({
        "uscc": uscc[firm], "year": year, "name": pd.array([f"企业{i}" for i in firm], dtype="string"),
        "scale": pd.array(np.where(above, "above", "below"), dtype="string"),
        "industry": pd.array((13 + rng.integers(0, 31, n)).astype(str), dtype="string")[firm],
        "tax": rng.lognormal(0.5, 1.2, m) * size * 0.3, "value_added": va, "revenue": va * 4,
        "energy_tce": va / rng.uniform(0.5, 5, m), "electricity": va / rng.uniform(5, 50, m),
        "cod_t": np.where(rng.random(m) < 0.5, np.nan, rng.uniform(0, 5, m)),
        "nh3n_t": rng.uniform(0, 1, m), "so2_t": rng.uniform(0, 3, m), "nox_t": rng.uniform(0, 3, m),
        "rd": va * rng.uniform(0, 0.05, m), "staff": np.maximum(va / 20, 1).round(),
        "high_tech": pd.array(rng.random(n) < 0.1, dtype="boolean")[firm],
        "tech_sme": pd.array(rng.random(n) < 0.05, dtype="boolean")[firm],
        "public_welfare": pd.array(rng.random(n) < 0.01, dtype="boolean")[firm],
        "in_production": pd.array(rng.random(n) < 0.97, dtype="boolean")[firm],
        "production_date": (pd.Timestamp("2006-01-01")
                            + pd.to_timedelta(rng.integers(0, 6200, n), unit="D")).to_numpy()[firm],
    })
    firms["src_row"] = np.arange(1, m + 1)
    return firms, _Links(shares, fl, pl), parcels


def bench(n_firm_years: int = 1_000_000, *, years: int = 5) -> dict:
    """Time unit_metrics, parcel_metrics, evaluate (each shipped preset) and flag_parcels; seconds."""
    t0 = time.perf_counter()
    firms, links, parcels = make_inputs(n_firm_years, years=years)
    out: dict = {"n_firm_years": len(firms), "n_units": int(firms["uscc"].nunique()),
                 "make_s": round(time.perf_counter() - t0, 2)}
    t = time.perf_counter()
    panel = unit_metrics(firms, links, parcels=parcels)
    out["unit_metrics_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    parcel_panel = parcel_metrics(parcels, firms, links)
    out["parcel_metrics_s"] = round(time.perf_counter() - t, 2)
    for name in PRESETS:
        policy = load_preset(name)
        t, cpu = time.perf_counter(), time.process_time()
        ev = evaluate(panel, policy, year=2021 if name == "suichang-2022" else None, links=links)
        out[f"evaluate_{name}_s"] = round(time.perf_counter() - t, 2)
        out[f"evaluate_{name}_cpu_s"] = round(time.process_time() - cpu, 2)  # wall > cpu on a busy machine
        out[f"{name}_disposals"] = {str(k): int(v) for k, v in ev.verdicts["disposal"].value_counts().items()}
        if name == "suichang-2022":
            t = time.perf_counter()
            flags = flag_parcels(parcels, parcel_panel, links, ev.verdicts, policy, year=ev.year)
            out["flag_parcels_s"] = round(time.perf_counter() - t, 2)
            out["low_parcels"] = int(flags["low_efficiency"].sum())
    return out


if __name__ == "__main__":
    import json

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(bench(size), ensure_ascii=False, indent=2))

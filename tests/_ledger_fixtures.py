"""Tiny hand-made Results for the ledger tests: a few firms, their parcels and verdicts, one preset."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from gisefficiency.evaluate.policy import load_preset

POLICY = load_preset("suichang-2022")
LABELS = {cid: c.zh for cid, c in POLICY.categories.items()}


def fake_result(year: int, firms: dict[str, dict[str, Any]], *, policy: Any = POLICY,
                panel: pd.DataFrame | None = None, verdicts: pd.DataFrame | None = None) -> SimpleNamespace:
    """A Result-like object: ``firms`` maps USCC -> {name, parcels, disposal, tax_per_mu, land_mu, ...}."""
    rows = []
    shares = []
    for uscc, f in firms.items():
        disposal = f.get("disposal", "")
        rows.append({
            "uscc": uscc, "name": f["name"], "street": f.get("street", "城关镇"),
            "land_mu": f.get("land_mu", 10.0), "tax_per_mu": f.get("tax_per_mu", np.nan),
            "energy_tce": f.get("energy_tce", np.nan), "disposal": disposal,
            "disposal_zh": LABELS.get(disposal, ""), "reason_zh": f.get("reason_zh", f"{disposal} 理由"),
        })
        for i, pid in enumerate(f.get("parcels", [])):
            shares.append({"uscc": uscc, "parcel_id": pid, "kind": "own" if i == 0 else "leased"})
    columns = ["uscc", "name", "street", "land_mu", "tax_per_mu", "energy_tce", "disposal", "disposal_zh",
               "reason_zh"]
    frame = pd.DataFrame(rows, columns=columns).set_index("uscc")
    links = SimpleNamespace(shares=pd.DataFrame(shares, columns=["uscc", "parcel_id", "kind"]))
    return SimpleNamespace(firms=frame, links=links, policy=policy, year=year,
                           panel=panel if panel is not None else pd.DataFrame(),
                           evaluation=SimpleNamespace(verdicts=verdicts))

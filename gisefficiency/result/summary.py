"""Tables by street, industry, grade, disposal or scale: the figures leaders read, from a Result."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from gisefficiency.result import Result

By = Literal["street", "industry", "grade", "disposal", "scale"]


def flagged_firms(firms: pd.DataFrame) -> pd.DataFrame:
    """The firms of the list 低效及需处置企业名单: low-efficiency or given a disposal category, without geometry.

    One rule for every output that lists them (the report, the database table), so they cannot disagree.
    """
    low = (firms["low_efficiency"] if "low_efficiency" in firms else pd.Series(False, index=firms.index))
    disposal = (firms["disposal"] if "disposal" in firms else pd.Series("", index=firms.index))
    flagged = (low.astype("boolean").fillna(False) | (disposal.astype(object).fillna("") != "")).to_numpy(dtype=bool)
    geometry = getattr(firms, "_geometry_column_name", None)
    return pd.DataFrame(firms.drop(columns=[geometry] if geometry in firms else [])).loc[flagged]


def summary_by(result: Result, by: By = "street") -> pd.DataFrame:
    """Land, firms and per-mu figures of the reference year grouped by one attribute.

    ``street`` groups parcels (all land, including idle parcels and low-efficiency land); the other
    keys group firms by their own attribute, with each firm's land share.

    Parameters
    ----------
    result
        A pipeline result.
    by
        ``"street"``, ``"industry"``, ``"grade"``, ``"disposal"`` or ``"scale"``.

    Returns
    -------
    DataFrame
        Counts, land (mu), tax and value added (万元), 亩均税收 and 亩均增加值 (万元/亩); per-mu figures
        divide sums by the land of the firms that reported the figure, so missing data never counts as 0.
    """
    if by == "street":
        p = result.parcels
        frame = pd.DataFrame(
            {
                "street": p["street"].fillna("未知"),
                "land_mu": p["land_mu"],
                "n_firms": p["n_firms"].fillna(0),
                "tax": p["tax"],
                "value_added": p["value_added"],
                "low_mu": p["land_mu"].where(p["low_efficiency"], 0.0),
                "idle_mu": p["land_mu"].where(p["idle"].fillna(False).astype(bool), 0.0),
            }
        )
        key = "street"
        out = frame.groupby(key).agg(
            parcels=("land_mu", "size"), land_mu=("land_mu", "sum"), firms=("n_firms", "sum"),
            low_efficiency_mu=("low_mu", "sum"), idle_mu=("idle_mu", "sum"),
        )
    elif by in ("industry", "grade", "disposal", "scale"):
        f = result.firms
        column = {"disposal": "disposal_zh"}.get(by, by)
        frame = pd.DataFrame(
            {
                by: f[column].fillna("").replace("", "—").astype(str),
                "land_mu": f["land_mu"],
                "tax": f["own_tax"],
                "value_added": f["own_value_added"],
            }
        )
        key = by
        out = frame.groupby(key).agg(firms=("land_mu", "size"), land_mu=("land_mu", "sum"))
    else:
        raise ValueError(f"by = {by!r}: must be one of street, industry, grade, disposal, scale")
    for money, per_mu in (("tax", "tax_per_mu"), ("value_added", "va_per_mu")):
        reported = frame[money].notna()
        total = frame[money].groupby(frame[key]).sum(min_count=1)
        land = frame["land_mu"].where(reported).groupby(frame[key]).sum()
        out[money] = total
        out[per_mu] = (total / land.replace(0, np.nan)).round(4)
    return out.sort_values("land_mu", ascending=False)

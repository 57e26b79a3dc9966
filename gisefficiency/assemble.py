"""Join the stage outputs into the two tables users read: one row per parcel, one row per firm.

Nothing is computed here beyond joins and picking, for each parcel, the firm that holds most of
its land (its grade and disposal are the parcel's).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

_PARCEL_FIGURES = ("tax", "value_added", "revenue", "energy_tce", "tax_per_mu", "va_per_mu")
_VERDICT_COLUMNS = (
    "score", "grade", "disposal", "disposal_zh", "disposal_en", "reason_zh", "reason_en",
    "in_scope", "exempt", "low_efficiency",
)


def add_columns(frame: pd.DataFrame, extra: pd.DataFrame) -> Any:
    """Return ``frame`` with the columns of ``extra`` joined on the index (replacing same-named ones)."""
    extra = extra.reindex(frame.index)
    return frame.drop(columns=[c for c in extra.columns if c in frame.columns]).join(extra)


def parcels_table(
    parcels: gpd.GeoDataFrame,
    links: Any,
    parcel_panel: pd.DataFrame,
    evaluation: Any,
    flags: pd.DataFrame,
    *,
    year: int,
) -> gpd.GeoDataFrame:
    """One row per parcel: land, firms on it, reference-year figures, verdict of its main firm, flags.

    Parameters
    ----------
    parcels
        Prepared parcels (index ``parcel_id``).
    links
        ``link.Links``.
    parcel_panel
        ``metrics.parcel_metrics`` output, index ``(parcel_id, year)``.
    evaluation
        ``evaluate.Evaluation``.
    flags
        ``evaluate.flag_parcels`` output.
    year
        Reference year.
    """
    out = add_columns(parcels, links.parcel_links[["n_firms", "idle"]])
    ref = _year_slice(parcel_panel, year)
    out = add_columns(out, ref[[c for c in _PARCEL_FIGURES if c in ref.columns]])

    shares = links.shares.merge(
        links.firm_links[["name", "eval_id"]], left_on="uscc", right_index=True, how="left"
    )
    out = add_columns(
        out,
        pd.DataFrame(
            {
                "firm_names": _joined(shares["parcel_id"], shares["name"], "、"),
                "firm_usccs": _joined(shares["parcel_id"], shares["uscc"], ","),
            }
        ),
    )

    # The firm holding most land on a parcel speaks for it (ties: the owner before tenants).
    main = (
        shares.assign(_own=shares["kind"].eq("own"))
        .sort_values(["parcel_id", "land_mu", "_own"], ascending=[True, False, False])
        .drop_duplicates("parcel_id")
        .set_index("parcel_id")
    )
    verdicts = evaluation.verdicts
    picked = verdicts.reindex(main["eval_id"].to_numpy())
    picked.index = main.index
    keep = [c for c in _VERDICT_COLUMNS if c in picked.columns and c != "low_efficiency"]
    out = add_columns(out, picked[keep].rename(columns={"low_efficiency": "firm_low_efficiency"}))
    out["main_uscc"] = main["uscc"].reindex(out.index)
    out = add_columns(out, flags)
    out["low_efficiency"] = out["low_efficiency"].fillna(False).astype(bool)
    return out


def firms_table(
    firms: pd.DataFrame,
    links: Any,
    evaluation: Any,
    panel: pd.DataFrame,
    parcels: gpd.GeoDataFrame,
    *,
    year: int,
) -> gpd.GeoDataFrame:
    """One row per firm (index ``uscc``): identity, link, land, reference-year metrics, verdict, geometry.

    Metrics and verdicts are those of the firm's evaluated unit (itself, or its holder when tenants are
    merged), so every firm of a unit shows the unit's figures.
    """
    latest = firms.sort_values("year").drop_duplicates("uscc", keep="last").set_index("uscc")
    attrs = [c for c in ("name", "scale", "industry", "uscc_valid") if c in latest.columns]
    fl = links.firm_links
    out = fl.drop(columns=[c for c in ("name",) if c in fl.columns]).join(latest[attrs], how="left")
    out = out.rename(columns={"status": "link_status", "method": "link_method"})

    own_year = firms[firms["year"] == year].groupby("uscc")[["tax", "value_added", "energy_tce"]].sum(
        min_count=1
    )
    out = out.join(own_year.add_prefix("own_"), how="left")

    ref = _year_slice(panel, year)
    metric_cols = [c for c in ("tax", "value_added", "energy_tce", "tax_per_mu", "va_per_mu", "group") if c in ref]
    unit = ref[metric_cols].reindex(out["eval_id"].to_numpy())
    unit.index = out.index
    out = out.join(unit)
    verdicts = evaluation.verdicts
    v = verdicts.reindex(out["eval_id"].to_numpy())
    v.index = out.index
    out = out.join(v[[c for c in verdicts.columns if c not in out.columns]])

    # Street and geometry from the firm's parcels.
    sh = links.shares[["uscc", "parcel_id", "land_mu"]]
    geoms = parcels.geometry.reindex(sh["parcel_id"].to_numpy()).to_numpy()
    street = parcels["street"].reindex(sh["parcel_id"].to_numpy()).to_numpy() if "street" in parcels else None
    codes, uniques = pd.factorize(sh["uscc"])
    geometry = _grouped_union(codes, len(uniques), geoms)
    firm_geom = pd.Series(geometry, index=uniques)
    out = gpd.GeoDataFrame(out, geometry=firm_geom.reindex(out.index).to_numpy(), crs=parcels.crs)
    if street is not None:
        order = sh.assign(street=street).sort_values("land_mu", ascending=False).drop_duplicates("uscc")
        out["street"] = order.set_index("uscc")["street"].reindex(out.index)
    out.index.name = "uscc"
    return out


def mark_scenario(parcels: gpd.GeoDataFrame, scenarios: list[Any]) -> gpd.GeoDataFrame:
    """Add ``in_scenario`` (parcels selected by the first scenario, drawn as freed land on the map)."""
    out = parcels.copy()
    selected = pd.Index(scenarios[0].parcels) if scenarios else pd.Index([])
    out["in_scenario"] = out.index.isin(selected)
    return out


def _year_slice(panel: pd.DataFrame, year: int) -> pd.DataFrame:
    if panel.empty:
        return panel.droplevel("year") if isinstance(panel.index, pd.MultiIndex) else panel
    return panel.xs(year, level="year") if year in panel.index.get_level_values("year") else panel.iloc[:0].droplevel("year")


def _grouped_union(codes: np.ndarray, n: int, geoms: np.ndarray) -> np.ndarray:
    """Union geometries by group code ``0..n-1`` (a firm's parcels); single-member groups as they are."""
    from gisefficiency.adjacency import union_by_label

    if n == 0:
        return np.empty(0, dtype=object)
    return union_by_label(np.asarray(geoms, dtype=object), np.asarray(codes))


def _joined(keys: pd.Series, values: pd.Series, sep: str) -> pd.Series:
    """Text of ``values`` joined per key, in row order; missing values left out.

    One sort and one ``str.join`` per key over plain Python strings: pandas' per-group Series for a
    lambda cost ~0.5 ms a parcel, this ~1 µs.
    """
    keep = values.notna().to_numpy()
    k = keys.to_numpy()[keep]
    v = values.astype(str).to_numpy(dtype=object)[keep]
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    if len(k) == 0:
        return pd.Series([], dtype=object)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    bounds = np.r_[starts, len(k)]
    text = [sep.join(v[a:b]) for a, b in pairwise(bounds)]
    return pd.Series(text, index=k[starts], dtype=object)

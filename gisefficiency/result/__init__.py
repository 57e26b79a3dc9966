"""Result: the frames every output is made from, assembled once from the stage outputs.

Reads the outputs of every stage (prepared parcels, ``Links``, the panels, the ``Evaluation``, ``Blocks``,
clusters, raster zonal frames, scenarios). ``assemble`` builds the two tables users read, one row per input
parcel and one row per firm, joined on integer codes (``rows``) rather than pandas joins on text ids.
:class:`Result` holds them with the blocks and the panel. The tables keep no reason texts: ``Result.reasons`` and
``Result.with_reasons`` write them for the rows asked, in the language asked (outputs take them for the rows
they show, in the run's language, from every unit's texts written once per language: ``Evaluation.unit_texts``). ``summary`` tabulates a Result by street, industry,
grade, disposal or scale; ``anonymise`` masks firm names and USCCs in every frame; ``plots`` draws the
static matplotlib figures (``Result.plot_grades``, ``Result.plot_tax_distribution``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import folium
    from matplotlib.axes import Axes


@dataclass
class Result:
    """Everything a run produced, indexed by entity id.

    Attributes
    ----------
    parcels
        One row per input parcel (index ``parcel_id``), with land, link, metric, verdict and block columns.
    firms
        One row per firm (index ``uscc``), geometry = the firm's land (union of its parcels).
    blocks
        One row per contiguous low-efficiency block (index ``block_id``).
    panel
        Per evaluated unit and year: inputs and per-mu metrics (MultiIndex ``(eval_id, year)``).
    year
        The reference year of the evaluation.
    policy
        The policy preset used (``gisefficiency.evaluate.policy.Policy``).
    links, evaluation
        The link and evaluation stage outputs (see ``docs/contract.md``).
    scenarios
        Scenario results computed in the run (``gisefficiency.scenario.freed.ScenarioResult``).
    clusters
        Per-parcel statistical cluster labels (Local Moran / Gi*), or None.
    rasters
        Name -> path of GeoTIFFs written by the run.
    meta
        Free-form run facts (county name, input files, timings) for reports.
    """

    parcels: gpd.GeoDataFrame
    firms: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    panel: pd.DataFrame
    year: int
    policy: Any
    links: Any = None
    evaluation: Any = None
    scenarios: list[Any] = field(default_factory=list)
    clusters: pd.DataFrame | None = None
    rasters: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def reasons(self, lang: Literal["zh", "en", "both"] = "zh", *,
                years: Iterable[int] | Literal["all"] | None = None) -> pd.DataFrame:
        """The evaluation's reasons, written on request.

        Parameters
        ----------
        lang
            ``"zh"`` (default), ``"en"`` or ``"both"``.
        years
            None (default): every evaluated unit at the reference year, index ``eval_id``, columns
            ``reason_<lang>`` (the verdict) and ``grade_reason_<lang>`` (the class). Years (or
            ``"all"``): every unit in those years, index ``(eval_id, year)``, column ``grade_reason_<lang>``,
            and ``reason_<lang>`` on the reference year's rows (missing on the others: verdicts are made
            at the reference year).

        Raises
        ------
        ValueError
            The result has no evaluation, or ``lang`` is not one of the three.
        """
        ev = self._evaluation()
        if years is None:
            return ev.reasons(lang)
        out = ev.grade_reasons(lang, years=None if years == "all" else years)
        at_ref = np.flatnonzero(out.index.get_level_values(1).to_numpy() == self.year)
        verdict = ev.reasons(lang, units=ev.verdicts.index.get_indexer(out.index.get_level_values(0)[at_ref]))
        for col in (c for c in verdict.columns if c.startswith("reason_")):
            full = pd.Series(pd.NA, index=out.index, dtype=verdict[col].dtype)
            full.iloc[at_ref] = verdict[col].to_numpy()
            out[col] = full
        return out

    def with_reasons(self, frame: pd.DataFrame, *, lang: Literal["zh", "en", "both"] = "zh") -> Any:
        """``frame`` (``firms`` or ``parcels``, or some of their rows) with its verdict reasons as columns.

        Firm rows get ``reason_<lang>`` and ``grade_reason_<lang>`` of their evaluated unit, parcel rows the
        ``reason_<lang>`` of their main firm's unit. Every unit's texts in ``lang`` are written on the first
        call and kept (the outputs of a run each ask for them); a few rows asked before that get only their
        units' reasons. Without an evaluation (or firm ids) the frame comes back as it is.
        """
        if self.evaluation is None or self.links is None or getattr(self.evaluation, "verdict_text", None) is None:
            return frame
        from gisefficiency.result.assemble import reason_columns

        cols = reason_columns(frame, self.links, self.evaluation, lang=lang)
        return frame.assign(**cols) if cols else frame

    def _evaluation(self) -> Any:
        if self.evaluation is None:
            raise ValueError("this result has no evaluation, so no reasons")
        return self.evaluation

    def explore(self, **kwargs: Any) -> folium.Map:
        """Return the interactive map of this result (see ``gisefficiency.maps.make_map``)."""
        from gisefficiency.maps import make_map

        return make_map(self, **kwargs)

    def plot_grades(self, ax: Axes | None = None, *, lang: Literal["zh", "en"] = "zh",
                    column: Literal["grade", "disposal"] = "grade") -> Axes:
        """Static map of the parcels by grade (or disposal) with a Chinese legend (see ``result.plots``)."""
        from gisefficiency.result.plots import plot_grades

        return plot_grades(self, ax, lang=lang, column=column)

    def plot_tax_distribution(self, ax: Axes | None = None, *, lang: Literal["zh", "en"] = "zh",
                              of: Literal["firms", "parcels"] = "firms", bins: int = 40,
                              xmax: float | None = None) -> Axes:
        """Histogram of 亩均税收 with the preset's thresholds as vertical lines (see ``result.plots``)."""
        from gisefficiency.result.plots import plot_tax_distribution

        return plot_tax_distribution(self, ax, lang=lang, of=of, bins=bins, xmax=xmax)

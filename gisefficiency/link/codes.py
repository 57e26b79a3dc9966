"""The link stage's integer codes of firms and parcels, handed on so that metrics need not code the ids again.

``link_firms`` numbers the panel's firms (first appearance) and knows each share's parcel by its row in
the layer. Metrics used to find the same facts by hashing the text ids a second time. The codes are
only valid for the very arrays they were made from, so they keep weak references to those arrays
(Arrow arrays are immutable: a changed column is a new array) and :func:`codes_for` hands them out
only while the frames still hold them; anything else (a ``Links`` made by hand, an edited frame, a
frame rebuilt from copies) gets None and the reader codes the text itself. Weak references, so that
the codes never keep the firm-year table's USCC column alive after the pipeline drops the table.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa


@dataclass(frozen=True, eq=False)
class LinkCodes:
    """Integer codes behind a ``Links`` result (see :func:`codes_for`).

    Attributes
    ----------
    firm_ids
        The panel's distinct USCCs in code order (first appearance); ``firm_links`` lists them so.
    panel_f
        Firm code of each panel row.
    eval_f
        Firm code of each firm's evaluated unit (``firm_links["eval_id"]``).
    share_f, share_p
        Firm code and parcel row (position in the layer) of each ``shares`` row.
    anchors
        Weak references to the arrays the codes describe: the panel's ``uscc``, the layer's index,
        ``shares["uscc"]``, ``shares["parcel_id"]``, ``firm_links``' index and ``eval_id``.
    """

    firm_ids: pa.Array
    panel_f: np.ndarray
    eval_f: np.ndarray
    share_f: np.ndarray
    share_p: np.ndarray
    anchors: tuple[weakref.ref, ...]

    def __post_init__(self) -> None:
        # Shared by the stages (and the pipeline's side thread): nobody may write to them.
        for a in (self.panel_f, self.eval_f, self.share_f, self.share_p):
            a.setflags(write=False)

    def parcel_index(self) -> pd.Index | None:
        """The parcel layer's index the share rows point into, if it is still alive."""
        return self.anchors[1]()


def arrow_of(values: pd.Series | pd.Index) -> Any:
    """The Arrow array behind a text column or index (None if it has none): the identity to check.

    ``_pa_array`` is private to pandas; if it goes away, this gives None and the codes are never used.
    """
    return getattr(values.array, "_pa_array", None)


def _objects(firms: pd.DataFrame, parcel_index: pd.Index | None, shares: pd.DataFrame, firm_links: pd.DataFrame
             ) -> tuple[Any, ...]:
    """The objects whose identity says the codes describe the frames, in ``LinkCodes.anchors`` order."""
    return (arrow_of(firms["uscc"]), parcel_index, arrow_of(shares["uscc"]), arrow_of(shares["parcel_id"]),
            firm_links.index, arrow_of(firm_links["eval_id"]))


def anchors(firms: pd.DataFrame, parcels: pd.DataFrame, shares: pd.DataFrame, firm_links: pd.DataFrame
            ) -> tuple[weakref.ref, ...] | None:
    """Weak references to the objects whose identity says the codes still describe the frames.

    Parameters
    ----------
    firms, parcels
        The firm-year panel and the parcel layer given to ``link_firms``.
    shares, firm_links
        The ``Links`` frames ``link_firms`` made from them.

    Returns
    -------
    tuple of weakref.ref or None
        None when a text column has no Arrow array behind it (then no codes are handed on).
    """
    objects = _objects(firms, parcels.index, shares, firm_links)
    if any(o is None for o in objects):
        return None
    return tuple(weakref.ref(o) for o in objects)


def codes_for(links: Any, firms: pd.DataFrame, parcels: pd.DataFrame | None = None) -> LinkCodes | None:
    """The link codes of ``links`` if they describe ``firms`` (and ``parcels``, when given) as they are now.

    Parameters
    ----------
    links
        A ``Links`` result (codes are looked for in its ``codes`` attribute).
    firms
        The firm-year panel the caller reads.
    parcels
        The parcel layer the caller reads, if any.

    Returns
    -------
    LinkCodes or None
        None when ``links`` carries no codes or any of the frames holds other arrays than the codes
        were made from; the caller then codes the text ids itself.
    """
    codes = getattr(links, "codes", None)
    if not isinstance(codes, LinkCodes) or "uscc" not in firms.columns:
        return None
    shares, fl = links.shares, links.firm_links
    if not {"uscc", "parcel_id"} <= set(shares.columns) or "eval_id" not in fl.columns:
        return None
    now = _objects(firms, codes.parcel_index() if parcels is None else parcels.index, shares, fl)
    if any(a is None or ref() is not a for a, ref in zip(now, codes.anchors, strict=True)):
        return None
    return codes

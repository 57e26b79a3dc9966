"""Summary tables of the HTML report, computed with pandas groupby and formatted for display.

Per-mu figures are ratios of sums: total tax (or value added) of the firms that have both the figure and
land, divided by those firms' land. Firms with a missing figure are left out of that ratio (never counted as 0).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gisefficiency.core.collector import collector_for_batch

#: Decimals shown per kind of number: 万元/亩 and other per-mu figures, land (mu), money (万元), energy (tce).
DECIMALS: dict[str, int] = {"per_mu": 2, "mu": 2, "money": 2, "tce": 2, "score": 2, "priority": 3, "int": 0}

MISSING = "—"

#: Rows a long searchable table shows before "show all": thousands of visible rows make the page slow.
#: Only these rows are written as HTML; the rest travel as one compressed payload (``Table.payload``).
PAGE_ROWS: int = 200

#: Rows a long table prints (``Table.print_rows``): the full lists live in the workbook 清单.xlsx.
PRINT_ROWS: int = 50


@dataclass
class Column:
    """One displayed column: source key, header label, kind (``text`` or a key of ``DECIMALS``, ``pct``), and
    the CSS class of its text cells (``wrap`` long text, ``name`` firm names, ``short`` never wrapped)."""

    key: str
    label: str
    kind: str = "text"
    css: str = ""
    #: Frame column whose text is the cell's tooltip (also searched by the filter box), e.g. a full list.
    title_key: str = ""


@dataclass
class Table:
    """A display table: rows of ``(text, sort_value, title)`` cells; numeric cells sort by their raw value."""

    id: str
    columns: list[Column]
    rows: list[list[tuple[str, str | None, str | None]]] = field(default_factory=list)
    sortable: bool = True
    searchable: bool = False
    #: Rows shown at first in a searchable table; the rest wait behind "show all".
    page: int = PAGE_ROWS
    #: Rows printed (the first ones in the table's order); None prints every row.
    print_rows: int | None = None

    @property
    def empty(self) -> bool:
        """Whether the table has no row."""
        return not self.rows

    @property
    def html_rows(self) -> list[list[tuple[str, str | None, str | None]]]:
        """Rows written as HTML: a searchable table's first page, every row of any other table."""
        return self.rows[: self.page] if self.searchable else self.rows

    @property
    def rest(self) -> int:
        """Rows not written as HTML (they are in :attr:`payload`)."""
        return len(self.rows) - len(self.html_rows)

    @property
    def payload(self) -> str:
        """The rows after the first page as base64 of gzip-compressed JSON, "" when there are none.

        Why: at city scale a table of 30,000 firms written as HTML is 20 MB and takes seconds to parse;
        as compressed JSON it is a tenth of that, and the page's script unpacks it (``DecompressionStream``)
        into rows only after the first page is on screen. A cell is its text, or ``[text, sort key]`` for
        numbers, or ``[text, null, tooltip]``.
        """
        rest = self.rows[len(self.html_rows):]
        if not rest:
            return ""
        with collector_for_batch():
            return self._payload(rest)

    @staticmethod
    def _payload(rest: list[list[tuple[str, str | None, str | None]]]) -> str:
        """:attr:`payload` of the rows ``rest``.

        Column by column: a column of text cells (no sort key, no tooltip) or of numbers (a sort key, no
        tooltip) is taken whole by C-level ``map``; only a column that mixes the forms is decided per cell.
        """
        columns = []
        for cells in zip(*rest, strict=True):
            keys, tips = list(map(itemgetter(1), cells)), list(map(itemgetter(2), cells))
            if tips.count(None) == len(tips) and keys.count(None) == len(keys):
                columns.append(list(map(itemgetter(0), cells)))
            elif tips.count(None) == len(tips) and keys.count(None) == 0:
                columns.append(list(map(list, map(itemgetter(0, 1), cells))))
            else:
                columns.append([c[0] if c[1] is None and c[2] is None else ([c[0], c[1]] if c[2] is None else list(c))
                                for c in cells])
        data = json.dumps(list(map(list, zip(*columns, strict=True))), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        # mtime=0: the same report gives the same bytes (reproducible outputs, stable tests).
        return base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode("ascii")


def col(frame: pd.DataFrame | None, name: str, default: object = np.nan) -> pd.Series:
    """Column ``name`` of ``frame``, or a column of ``default`` when the frame or column is missing."""
    if frame is None:
        return pd.Series(dtype=float)
    if name in frame.columns:
        return frame[name]
    return pd.Series(default, index=frame.index, dtype=object if isinstance(default, str) else float)


def fmt_number(value: object, decimals: int = 2) -> str:
    """Format one number with thousands separators and fixed decimals; missing -> ``"—"``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    if not np.isfinite(v):
        return MISSING
    return f"{v:,.{decimals}f}"


def _format_column(series: pd.Series, kind: str) -> tuple[list[str], list[str | None]]:
    """Display texts and sort keys of a column (numbers sort numerically, missing sorts last)."""
    # Built-in ``str``/``format``/``repr`` mapped in C over Python floats: the same texts as a pandas
    # ``map`` of a lambda, without a Python call per cell (31,000 flagged firms x 8 number columns).
    if kind == "text":
        return list(map(str, series.astype(object).where(series.notna(), MISSING).tolist())), [None] * len(series)
    values = pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
    missing = ~np.isfinite(values)
    floats = values.tolist()
    spec = ".1%" if kind == "pct" else f",.{DECIMALS[kind]}f"
    texts = np.array(list(map(format, floats, repeat(spec, len(floats)))), dtype=object)
    keys = np.array(list(map(repr, floats)), dtype=object)
    texts[missing], keys[missing] = MISSING, ""
    return texts.tolist(), keys.tolist()


def make_table(
    frame: pd.DataFrame, columns: Sequence[Column], *, id: str, searchable: bool = False,
    print_rows: int | None = None,
) -> Table:
    """Format ``frame``'s ``columns`` into a display ``Table`` (one column at a time, vectorised).

    ``print_rows`` caps the rows printed (None: all).
    """
    if frame is None or frame.empty:
        return Table(id=id, columns=list(columns), searchable=searchable, print_rows=print_rows)
    formatted = [_format_column(col(frame, c.key), c.kind) for c in columns]
    titles = [
        col(frame, c.title_key).astype(object).where(col(frame, c.title_key).notna(), None).tolist()
        if c.title_key else [None] * len(frame)
        for c in columns
    ]
    with collector_for_batch():
        rows = list(map(list, zip(*(zip(t, k, h, strict=True) for (t, k), h in zip(formatted, titles, strict=True)),
                                  strict=True)))
    return Table(id=id, columns=list(columns), rows=rows, searchable=searchable, print_rows=print_rows)


def own_figure(firms: pd.DataFrame, name: str) -> pd.Series:
    """A firm's own figure: ``own_<name>`` when the result has it, else ``<name>``.

    In a pipeline result ``tax``/``value_added``/``energy_tce`` are those of the firm's evaluated unit (the
    holder's totals for merged tenants), which would be counted once per member; ``own_*`` add up.
    """
    source = f"own_{name}" if f"own_{name}" in firms.columns else name
    return pd.to_numeric(col(firms, source), errors="coerce").astype(float)


def per_mu_summary(firms: pd.DataFrame, keys: pd.Series, *, work: pd.DataFrame | None = None) -> pd.DataFrame:
    """Firms, land, tax, value added, energy and per-mu figures per group of ``keys``.

    Parameters
    ----------
    firms
        One row per firm with ``land_mu, tax, value_added, energy_tce, low_efficiency`` (``own_*`` figures
        are preferred where present, see ``own_figure``).
    keys
        Group label per firm (aligned to ``firms``); NA labels form their own group.
    work
        ``per_mu_work(firms)`` when the caller groups the same firms several ways (made here if None).

    Returns
    -------
    DataFrame
        Index = group, columns ``n_firms, land_mu, tax, value_added, energy_tce, tax_per_mu, va_per_mu,
        low_firms``; sums of all-missing groups stay NaN.
    """
    if work is None:
        work = per_mu_work(firms)
    grouped = work.groupby(keys.to_numpy(), dropna=False, sort=False).sum(min_count=1)
    grouped["tax_per_mu"] = grouped["tax_num"] / grouped["tax_land"]
    grouped["va_per_mu"] = grouped["va_num"] / grouped["va_land"]
    grouped["n_firms"] = grouped["n_firms"].fillna(0).astype(int)
    grouped["low_firms"] = grouped["low_firms"].fillna(0).astype(int)
    return grouped.drop(columns=["tax_num", "tax_land", "va_num", "va_land"])


def per_mu_work(firms: pd.DataFrame) -> pd.DataFrame:
    """The per-firm figures ``per_mu_summary`` adds up (numbers made once for all the ways a report groups
    the firms: converting the Arrow-backed columns is most of a grouping's time)."""
    land = pd.to_numeric(col(firms, "land_mu"), errors="coerce").astype(float)
    land = land.where(land > 0)
    tax = own_figure(firms, "tax")
    va = own_figure(firms, "value_added")
    tax_ok = tax.notna() & land.notna()
    va_ok = va.notna() & land.notna()
    low = col(firms, "low_efficiency", default=False).astype("boolean").fillna(False).astype(int)
    return pd.DataFrame(
        {
            "n_firms": 1,
            "land_mu": land,
            "tax": tax,
            "value_added": va,
            "energy_tce": own_figure(firms, "energy_tce"),
            "tax_num": tax.where(tax_ok),
            "tax_land": land.where(tax_ok),
            "va_num": va.where(va_ok),
            "va_land": land.where(va_ok),
            "low_firms": low,
        },
        index=firms.index,
    )


def parcel_summary(parcels: pd.DataFrame, keys: pd.Series) -> pd.DataFrame:
    """Parcels, land, low-efficiency land and idle parcels per group of ``keys``."""
    land = pd.to_numeric(col(parcels, "land_mu"), errors="coerce").astype(float)
    low = col(parcels, "low_efficiency", default=False).astype("boolean").fillna(False)
    idle = col(parcels, "idle", default=False).astype("boolean").fillna(False)
    work = pd.DataFrame(
        {
            "n_parcels": 1,
            "parcel_land_mu": land,
            "low_eff_mu": land.where(low, 0.0).where(land.notna()),
            "low_parcels": low.astype(int),
            "idle_parcels": idle.astype(int),
        },
        index=parcels.index,
    )
    return work.groupby(keys.to_numpy(), dropna=False, sort=False).sum(min_count=1)


def industry_division(codes: pd.Series) -> pd.Series:
    """GB/T 4754 two-digit division of industry codes (``"3311"``, ``"C3311"``, ``33``) as text, NA if none."""
    # A county has a few hundred distinct codes for tens of thousands of firms: the regex runs once per code.
    position, uniques = pd.factorize(codes, use_na_sentinel=True)
    text = pd.Series(uniques, dtype=object).astype("string").str.strip()
    division = text.str.extract(r"^[A-Za-z]?(\d{2})", expand=False)
    out = division.take(np.where(position < 0, 0, position)) if len(division) else \
        pd.Series(pd.NA, index=range(len(codes)), dtype="string")
    out = out.where(position >= 0, pd.NA)
    out.index, out.name = codes.index, codes.name
    return out


def join_text(values: pd.Series, sep: str = "、") -> pd.Series:
    """Lists/tuples/arrays joined with ``sep``; strings kept; anything else missing."""
    def one(v: object) -> object:
        if isinstance(v, list | tuple | np.ndarray | pd.Series):
            return sep.join(str(x) for x in v if x is not None and x == x)
        return v if isinstance(v, str) else pd.NA

    return values.map(one)


def split_ids(ids: pd.Series) -> pd.Series:
    """One row per id: lists/tuples/arrays exploded, comma-joined strings split (index repeated)."""
    listy = ids.map(lambda v: isinstance(v, list | tuple | np.ndarray))
    text = ids.where(~listy).astype("string").str.split(",")
    parts = pd.concat([ids[listy].explode(), text[~listy].explode()])
    parts = parts.astype("string").str.strip()
    return parts[parts.notna() & (parts != "")]


def names_of(
    ids: pd.Series, names: pd.Series, *, sep: str = "、", limit: int = 5, more: str = "等{n}家"
) -> tuple[pd.Series, pd.Series]:
    """Firm names of each row's ids (list or comma-joined); unknown ids are shown as the id.

    Returns
    -------
    tuple of Series
        The full joined list, and a short one: the first ``limit`` names plus ``more`` (``{n}`` = count)
        when there are more, so a block of forty firms does not squeeze its table.
    """
    # One split + map for all rows; the names of a row are joined by Arrow's ``binary_join`` over list
    # offsets (a pandas group-by with ``sep.join`` is a Python call per block: 0.4 s for 2,560 blocks).
    parts = split_ids(ids)
    mapped = parts.map(names).fillna(parts).astype(str)
    group, labels = pd.factorize(mapped.index)  # rows in order of first appearance, like a group-by
    keep = group >= 0
    group = group[keep]
    sizes = np.bincount(group, minlength=len(labels)).astype(np.int64)
    starts = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    flat = pa.array(mapped.to_numpy(dtype=object)[keep][np.argsort(group, kind="stable")], type=pa.large_string())
    rank = np.arange(len(flat)) - np.repeat(starts[:-1], sizes)  # a name's place within its row
    first = np.r_[0, np.cumsum(np.minimum(sizes, limit))].astype(np.int64)
    joiner = pa.scalar(sep, pa.large_string())
    full_text = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(starts), flat), joiner)
    head_text = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(first), flat.filter(pa.array(rank < limit))),
                               joiner)
    pos = pd.Index(labels).get_indexer(ids.index)
    found = pos >= 0
    where = pa.array(pos, mask=~found)
    full = pd.Series(full_text.take(where).to_numpy(zero_copy_only=False), index=ids.index, dtype=object)
    head = pd.Series(head_text.take(where).to_numpy(zero_copy_only=False), index=ids.index, dtype=object)
    count = np.where(found, sizes[np.where(found, pos, 0)] if len(sizes) else 0, 0)
    long = count > limit
    short = head.copy()
    short[long] = [h + more.format(n=int(n)) for h, n in zip(head[long], count[long], strict=True)]
    return full.where(found, np.nan), short.where(found, np.nan)


def county_trend(panel: pd.DataFrame | None) -> pd.DataFrame:
    """County tax and value added per mu per year: sums over units with both figures and land."""
    if panel is None or len(panel) == 0 or "year" not in (list(panel.index.names) + list(panel.columns)):
        return pd.DataFrame()
    years = panel.index.get_level_values("year") if "year" in panel.index.names else panel["year"]
    land = pd.to_numeric(col(panel, "land_mu"), errors="coerce").astype(float)
    land = land.where(land > 0)
    out = {}
    for name, source in (("tax_per_mu", "tax"), ("va_per_mu", "value_added")):
        value = pd.to_numeric(col(panel, source), errors="coerce").astype(float)
        ok = value.notna() & land.notna()
        sums = pd.DataFrame({"v": value.where(ok).to_numpy(), "l": land.where(ok).to_numpy()}, index=np.asarray(years))
        grouped = sums.groupby(level=0).sum(min_count=1)
        out[name] = grouped["v"] / grouped["l"]
    return pd.DataFrame(out).sort_index()


def input_files(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Input files: ``meta["inputs"]`` (mapping or list) plus any ``meta["<what>_path"]``."""
    inputs = meta.get("inputs") or {}
    rows = (
        [(str(k), str(v)) for k, v in inputs.items()]
        if isinstance(inputs, Mapping)
        else [(str(i + 1), str(v)) for i, v in enumerate(inputs)]
    )
    rows += [(k[: -len("_path")], str(v)) for k, v in meta.items() if k.endswith("_path") and v]
    return rows

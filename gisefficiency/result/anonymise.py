"""Anonymise a Result: firm names become stable codes and USCCs are masked, in every frame.

Tax data is confidential. ``anonymise_result`` returns a copy of a ``Result`` in which

- every USCC (firm index, ``uscc``/``eval_id``/``holder_uscc`` columns and index levels, ``firm_ids`` lists)
  is replaced by a masked id ``"**************0001"`` (stars, then the firm's code number, 18 characters);
- every firm name is replaced by ``"企业-0001"`` (``"Firm-0001"`` with ``lang="en"``);
- free texts that quote names or USCCs (columns whose name contains ``reason``, ``name`` or ``firm``) have
  each occurrence replaced the same way.

Code numbers follow the sorted USCCs of all firms and holders found in the result, so the same input gives
the same codes in the report, the tables and a map built from the anonymised result. Build maps from the
anonymised result (``make_map(anonymise_result(result))``): ``scrub_text`` on finished HTML is only a safety
net. Objects that are not frames, lists, dicts or dataclasses are copied by reference, unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import escape

from gisefficiency.core.i18n import Lang
from gisefficiency.report.tables import split_ids
from gisefficiency.result import Result

#: Columns and index levels that hold USCCs.
ID_COLUMNS: tuple[str, ...] = ("uscc", "eval_id", "holder_uscc", "main_uscc")
#: Columns that hold lists (or comma-joined strings) of USCCs.
ID_LIST_COLUMNS: tuple[str, ...] = ("firm_ids", "firm_usccs")
#: Prefix of the firm code that replaces a name.
CODE_PREFIX: dict[str, str] = {"zh": "企业-", "en": "Firm-"}
#: Result fields that never hold firm data.
_SKIP_FIELDS = frozenset({"policy", "config", "rasters", "meta"})
_TEXT_HINTS = ("reason", "name", "firm")
#: A well-formed USCC: 18 letters or digits (GB 32100-2015).
_USCC_SHAPE = re.compile(r"[0-9A-Za-z]{18}")
_ALNUM_RUN = re.compile(r"[0-9A-Za-z]{18,}")


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


class Anonymiser:
    """The replacement tables of one result, applied to frames and texts.

    Parameters
    ----------
    usccs
        Every USCC to mask.
    names
        Firm name -> its USCC (names of firms whose USCC is unknown get their own codes after the others).
    lang
        Language of the name codes.
    """

    def __init__(self, usccs: Iterable[str], names: dict[str, str], *, lang: Lang = "zh") -> None:
        ids = sorted(set(usccs) | set(names.values()))
        width = max(4, len(str(len(ids))))
        numbers = {uscc: f"{i:0{width}d}" for i, uscc in enumerate(ids, start=1)}
        self.masked = {uscc: "*" * max(18 - width, 4) + num for uscc, num in numbers.items()}
        prefix = CODE_PREFIX[lang]
        self.code = {uscc: prefix + num for uscc, num in numbers.items()}
        self.name_code = {name: self.code[uscc] for name, uscc in names.items() if name}
        # Well-formed USCCs are found by one small regex (runs of 18+ letters/digits) and a dict lookup;
        # only names and odd ids need the big trie pattern, which is what costs time on a county.
        odd = {u: m for u, m in self.masked.items() if not _USCC_SHAPE.fullmatch(u)}
        self._text_map = {**self.name_code, **odd}
        self._pattern = self._compile(self._text_map)

    @staticmethod
    def _compile(table: dict[str, str]) -> re.Pattern[str] | None:
        keys = [k for k in table if k]
        return re.compile(_trie_pattern(keys)) if keys else None

    def _mask_run(self, match: re.Match[str]) -> str:
        """Mask a USCC in a run of letters/digits (also one glued to other characters)."""
        run = match.group(0)
        if run in self.masked:
            return self.masked[run]
        if len(run) == 18:
            return run
        out, i = [], 0
        while i < len(run):
            window = run[i : i + 18]
            if window in self.masked:
                out.append(self.masked[window])
                i += 18
            else:
                out.append(run[i])
                i += 1
        return "".join(out)

    @classmethod
    def from_result(cls, result: Result, *, lang: Lang = "zh") -> Anonymiser:
        """Collect the USCCs and names of every frame reachable from ``result``."""
        usccs: set[str] = set()
        names: dict[str, str] = {}
        for frame in _frames(result):
            idx = frame.index
            for level in range(idx.nlevels):
                if idx.names[level] in ID_COLUMNS:
                    usccs.update(_texts(pd.Series(idx.get_level_values(level))))
            for col in ID_COLUMNS + ID_LIST_COLUMNS:
                if col in frame.columns:
                    values = split_ids(frame[col]) if col in ID_LIST_COLUMNS else frame[col]
                    usccs.update(_texts(values))
            ids = _row_ids(frame)
            if "name" in frame.columns and ids is not None:
                pairs = pd.DataFrame({"name": frame["name"].to_numpy(), "id": ids}).dropna()
                pairs = pairs.astype(str).drop_duplicates("name")
                # Names met first (the firms frame) win over later frames.
                names = {**pairs.set_index("name")["id"].to_dict(), **names}
        return cls(usccs, names, lang=lang)

    def scrub_text(self, text: str) -> str:
        """Replace every name and USCC in a free text (also JSON- and HTML-escaped names, for map HTML)."""
        table = dict(self._text_map)
        pattern = self._pattern
        extra = {str(escape(n)): str(escape(c)) for n, c in self.name_code.items() if str(escape(n)) != n}
        if "\\u" in text:  # JSON with non-ASCII escaped (json.dumps default)
            extra.update({json.dumps(n)[1:-1]: json.dumps(c)[1:-1] for n, c in self.name_code.items()})
        if extra:
            table.update(extra)
            pattern = self._compile(table)
        if pattern is not None:
            text = pattern.sub(lambda m: table[m.group(0)], text)
        return _ALNUM_RUN.sub(self._mask_run, text)

    def _scrub_series(self, series: pd.Series) -> pd.Series:
        table = self._text_map
        if self._pattern is not None:
            series = series.str.replace(self._pattern, lambda m: table[m.group(0)], regex=True)
        return series.str.replace(_ALNUM_RUN, self._mask_run, regex=True)

    def _map_ids(self, values: pd.Series) -> pd.Series:
        mapped = values.map(self.masked)
        return mapped.where(mapped.notna(), values)

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return an anonymised copy of ``frame`` (index, id columns, names, reasons)."""
        out = frame.copy()
        ids = _row_ids(frame)
        idx = out.index
        if any(n in ID_COLUMNS for n in idx.names):
            if isinstance(idx, pd.MultiIndex):
                out.index = idx.set_levels(
                    [
                        self._map_ids(pd.Series(lv)).to_numpy() if nm in ID_COLUMNS else lv
                        for lv, nm in zip(idx.levels, idx.names, strict=True)
                    ],
                    verify_integrity=False,
                )
            else:
                out.index = pd.Index(self._map_ids(pd.Series(idx, dtype=object)).to_numpy(), name=idx.name)
        for col in out.columns:
            series = out[col]
            if col in ID_COLUMNS:
                out[col] = self._map_ids(series)
            elif col in ID_LIST_COLUMNS:
                out[col] = self._id_lists(series)
            elif col == "name" and ids is not None:
                codes = pd.Series(ids, index=out.index).map(self.code)
                out[col] = codes.where(codes.notna(), self._scrub_series(series.astype(object)))
            elif _is_text(series) and any(h in str(col) for h in _TEXT_HINTS):
                out[col] = self._scrub_series(series)
        return out

    def _id_lists(self, series: pd.Series) -> pd.Series:
        # astype(bool): mapping an empty text column (no blocks) keeps its text dtype, not bool
        listy = series.map(lambda v: isinstance(v, list | tuple | np.ndarray)).astype(bool)
        out = series.copy().astype(object)
        if listy.any():
            # Explode once for all blocks, map, and regroup: no loop per block.
            exploded = series[listy].explode()
            mapped = self._map_ids(exploded).groupby(level=0, sort=False).agg(list)
            out[listy] = mapped.reindex(series.index[listy])
            # A block with an empty list explodes to NaN: keep it an empty list.
            empty = listy & series.map(lambda v: isinstance(v, list | tuple | np.ndarray) and len(v) == 0)
            out[empty] = pd.Series([[] for _ in range(int(empty.sum()))], index=series.index[empty])
        text = ~listy & series.map(lambda v: isinstance(v, str)).astype(bool)
        if text.any():
            out[text] = self._scrub_series(series[text].astype(object))
        return out

    def value(self, obj: Any, depth: int = 0) -> Any:
        """Anonymise frames inside ``obj`` (frame, series, list, dict or dataclass, 3 levels deep)."""
        if isinstance(obj, pd.DataFrame):
            return self.frame(obj)
        if isinstance(obj, pd.Series):
            if obj.index.name in ID_COLUMNS:
                return obj.set_axis(self._map_ids(pd.Series(obj.index, dtype=object)).to_numpy())
            return obj.copy()
        if depth >= 3:
            return obj
        if isinstance(obj, list | tuple):
            return type(obj)(self.value(v, depth + 1) for v in obj)
        if isinstance(obj, dict):
            return {k: self.value(v, depth + 1) for k, v in obj.items()}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            changes = {
                f.name: self.value(getattr(obj, f.name), depth + 1)
                for f in dataclasses.fields(obj)
                if f.init and f.name not in _SKIP_FIELDS
            }
            return dataclasses.replace(obj, **changes)
        return obj


def _trie_pattern(keys: Iterable[str]) -> str:
    """One regex matching any of ``keys``, longest first, with shared prefixes factored out.

    A flat alternation of tens of thousands of names is tried name by name at every position of every text
    (20,000 firms: ~1 ms per text); the trie form only follows branches that match (~10 µs per text), so
    scrubbing stays fast for a whole county.
    """
    trie: dict[str, dict] = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}  # end of a key

    def build(node: dict[str, dict]) -> str:
        alternatives = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        # Greedy optional: the longer key wins, the shorter one ending here is the fallback.
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _texts(values: pd.Series) -> np.ndarray:
    """Distinct non-missing values as text."""
    return values.dropna().astype(str).unique()


def _row_ids(frame: pd.DataFrame) -> np.ndarray | None:
    """The USCC each row belongs to: the ``uscc`` column, else an id index level, else None."""
    if "uscc" in frame.columns:
        return frame["uscc"].to_numpy()
    for name in ("uscc", "eval_id"):
        if name in frame.index.names:
            return frame.index.get_level_values(name).to_numpy()
    if "eval_id" in frame.columns:
        return frame["eval_id"].to_numpy()
    return None


def _frames(obj: Any, depth: int = 0) -> Iterable[pd.DataFrame]:
    if isinstance(obj, pd.DataFrame):
        yield obj
    elif depth < 3 and isinstance(obj, list | tuple):
        for v in obj:
            yield from _frames(v, depth + 1)
    elif depth < 3 and isinstance(obj, dict):
        for v in obj.values():
            yield from _frames(v, depth + 1)
    elif depth < 3 and dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            if f.name not in _SKIP_FIELDS:
                yield from _frames(getattr(obj, f.name), depth + 1)


def anonymise_result(result: Result, *, lang: Lang = "zh") -> Result:
    """Return a copy of ``result`` with firm names replaced by codes and USCCs masked everywhere.

    Parameters
    ----------
    result
        The run's result; not modified.
    lang
        Language of the name codes (``"企业-0001"`` or ``"Firm-0001"``).

    Returns
    -------
    Result
        A new result; build maps and reports from it so that they are anonymised too.

    Examples
    --------
    >>> anon = anonymise_result(result)  # doctest: +SKIP
    >>> anon.firms["name"].iloc[0]  # doctest: +SKIP
    '企业-0001'
    """
    return Anonymiser.from_result(result, lang=lang).value(result)

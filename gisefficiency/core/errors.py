"""One family of errors, and the record of a single data problem.

A message names the file, the row or id, the column, the value and the fix, so a
bureau analyst can correct the data without reading a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem found in the input data.

    Attributes
    ----------
    message
        What is wrong, in plain words.
    fix
        What the user should do about it.
    file, row, column, value
        Where it is; ``row`` is the 1-based row in the source file where known.
    severity
        ``"error"`` makes the data unusable, ``"warning"`` is reported and carried on.
    """

    message: str
    fix: str = ""
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                self.file,
                f"row {self.row}" if self.row is not None else None,
                f"column {self.column!r}" if self.column else None,
                f"value {self.value!r}" if self.value is not None else None,
            )
            if part
        )
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} -> {self.fix}" if self.fix else text


class GisEfficiencyError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(GisEfficiencyError):
    """The configuration or a policy preset is wrong (unknown key, bad value, missing file)."""


class InputError(GisEfficiencyError):
    """Input data cannot be used as it is.

    Parameters
    ----------
    message
        One-line summary.
    problems
        Every problem found, so that all of them are reported at once.
    """

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = list(problems or [])
        detail = "".join(f"\n  - {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            detail += f"\n  ... and {more} more"
        super().__init__(message + detail)


class CRSError(InputError):
    """A layer has no CRS, an unusable one, or two layers disagree."""


def format_ids(ids, limit: int = 5) -> str:
    """Format up to ``limit`` ids for a message, with a count of the rest."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" (and {len(ids) - limit} more)" if len(ids) > limit else "")

"""One family of errors, and the record of a single data problem, each in Chinese and English.

A message names the file, the row or id, the column, the value and the fix, so a
bureau analyst can correct the data without reading a traceback.

``str(error)`` and ``str(problem)`` are English (library users and tests match on it); the Chinese
travels beside it (``zh=`` / ``message_zh=``, ``fix_zh=``) and :meth:`text` gives either language or
both, Chinese first, which is what the command line prints. Warnings logged for users carry their
Chinese the same way, as ``extra={"zh": ...}`` on the log record (see :func:`record_text`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

#: The language of a message: ``"both"`` is Chinese first with the English on the next line.
TextLang = Literal["zh", "en", "both"]

#: Problems listed in an error's text; the rest are counted.
SHOWN_PROBLEMS = 20


def _pair(zh: str, en: str, lang: TextLang, indent: str = "", labels: tuple[str, str] = ("", "")) -> str:
    """``zh``, ``en`` or both (Chinese first), each after its label; a missing Chinese falls back to the English."""
    if lang == "zh":
        return labels[0] + (zh or en)
    if lang == "en" or not zh or zh == en:
        return labels[1] + en
    return f"{labels[0]}{zh}\n{indent}{labels[1]}{en}"


@dataclass(frozen=True)
class Problem:
    """One problem found in the input data.

    Attributes
    ----------
    message
        What is wrong, in plain words (English).
    fix
        What the user should do about it (English).
    file, row, column, value
        Where it is; ``row`` is the 1-based row in the source file where known.
    severity
        ``"error"`` makes the data unusable, ``"warning"`` is reported and carried on.
    message_zh, fix_zh
        The same in Chinese, with the same figures; :meth:`text` falls back to the English when empty.
    """

    message: str
    fix: str = ""
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None
    severity: Severity = "error"
    message_zh: str = ""
    fix_zh: str = ""

    def _where(self, lang: Literal["zh", "en"]) -> str:
        zh = lang == "zh"
        parts = (
            (f"文件 {self.file}" if zh else self.file) if self.file else None,
            (f"第 {self.row} 行" if zh else f"row {self.row}") if self.row is not None else None,
            (f"列 {self.column!r}" if zh else f"column {self.column!r}") if self.column else None,
            (f"值 {self.value!r}" if zh else f"value {self.value!r}") if self.value is not None else None,
        )
        return ("，" if zh else ", ").join(part for part in parts if part)

    def _one(self, lang: Literal["zh", "en"]) -> str:
        zh = lang == "zh"
        message = (self.message_zh or self.message) if zh else self.message
        fix = (self.fix_zh or self.fix) if zh else self.fix
        where = self._where(lang)
        text = f"{where}{'：' if zh else ': '}{message}" if where else message
        return f"{text}{' → ' if zh else ' -> '}{fix}" if fix else text

    def text(self, lang: TextLang = "both", *, indent: str = "", labels: tuple[str, str] = ("", "")) -> str:
        """The problem in ``lang``; with ``"both"`` the English follows on a new line after ``indent``.

        ``labels`` go before the Chinese and the English line (e.g. ``("警告 ", "warning ")``).
        """
        if lang == "both" and not (self.message_zh or self.fix_zh):
            return labels[1] + self._one("en")
        return _pair(self._one("zh"), self._one("en"), lang, indent, labels)

    def __str__(self) -> str:
        return self._one("en")


class GisEfficiencyError(Exception):
    """Base class of every error this package raises on purpose.

    Parameters
    ----------
    message
        What is wrong and what to do, in English: this is ``str(error)``.
    zh
        The same in Chinese, with the same names and figures.
    """

    def __init__(self, message: str = "", *, zh: str = "") -> None:
        super().__init__(message)
        self.zh = zh

    def text(self, lang: TextLang = "both", *, labels: tuple[str, str] = ("", "")) -> str:
        """The message in ``lang``; ``"both"`` gives the Chinese first and the English on the next line.

        ``labels`` go before the Chinese and the English line (e.g. ``("错误：", "error: ")``).
        """
        return _pair(self.zh, str(self), lang, labels=labels)


class ConfigError(GisEfficiencyError):
    """The configuration or a policy preset is wrong (unknown key, bad value, missing file)."""


class InputError(GisEfficiencyError):
    """Input data cannot be used as it is.

    Parameters
    ----------
    message
        One-line summary (English).
    problems
        Every problem found, so that all of them are reported at once.
    zh
        The summary in Chinese.
    """

    def __init__(self, message: str, problems: list[Problem] | None = None, *, zh: str = "") -> None:
        self.problems = list(problems or [])
        self.summary, self.summary_zh = message, zh
        super().__init__(message + self._detail("en"), zh=zh + self._detail("zh") if zh else "")

    def _detail(self, lang: TextLang) -> str:
        indent = "    "
        detail = "".join(f"\n  - {p.text(lang, indent=indent)}" for p in self.problems[:SHOWN_PROBLEMS])
        more = len(self.problems) - SHOWN_PROBLEMS
        if more > 0:
            detail += {"zh": f"\n  ……另有 {more} 条", "en": f"\n  ... and {more} more",
                       "both": f"\n  ……另有 {more} 条 / ... and {more} more"}[lang]
        return detail

    def text(self, lang: TextLang = "both", *, labels: tuple[str, str] = ("", "")) -> str:
        """Summary and problems in ``lang``; with ``"both"`` each line's English follows its Chinese."""
        return _pair(self.summary_zh, self.summary, lang, labels=labels) + self._detail(lang)


class CRSError(InputError):
    """A layer has no CRS, an unusable one, or two layers disagree."""


def record_text(record: logging.LogRecord, lang: TextLang = "both", *, labels: tuple[str, str] = ("", "")) -> str:
    """A log record's message in ``lang``: its Chinese is the record's ``zh`` (``extra={"zh": ...}``)."""
    return _pair(getattr(record, "zh", "") or "", record.getMessage(), lang, labels=labels)


def format_ids(ids, limit: int = 5) -> str:
    """Format up to ``limit`` ids for a message, with a count of the rest."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" (and {len(ids) - limit} more)" if len(ids) > limit else "")


def format_ids_zh(ids, limit: int = 5) -> str:
    """:func:`format_ids` in Chinese: up to ``limit`` ids and how many more."""
    ids = list(ids)
    shown = "、".join(str(i) for i in ids[:limit])
    return shown + (f"（另有 {len(ids) - limit} 个）" if len(ids) > limit else "")

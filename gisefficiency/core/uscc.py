"""Unified Social Credit Codes (统一社会信用代码), GB 32100-2015.

A USCC has 18 characters from the 31-character set ``0-9`` plus ``ABCDEFGHJKLMNPQRTUWXY``
(no I, O, S, V, Z). The 18th character is a check digit: with the character values
``v_i`` (0..30) and the weights ``w_i = 3**i mod 31`` of positions i = 0..16,
``c = 31 - (sum(v_i * w_i) mod 31)``, and 31 becomes 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from gisefficiency.core.errors import InputError, Problem

#: The 31 characters a USCC may contain, in value order (GB 32100-2015, table 1).
USCC_CHARSET: str = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: Weights of positions 1..17: 3**i mod 31.
USCC_WEIGHTS: np.ndarray = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)

# Byte -> character value, -1 for bytes outside the charset (lower case is accepted as upper case).
_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(USCC_CHARSET):
    _VALUE[ord(_ch)] = _i
    _VALUE[ord(_ch.lower())] = _i
_CHARS = np.frombuffer(USCC_CHARSET.encode("ascii"), dtype="S1")
_VALUE8 = _VALUE.astype(np.int8)
_WEIGHTS32 = USCC_WEIGHTS.astype(np.int32)
_CHUNK = 1 << 16


def uscc_check_digit(first17: str) -> str:
    """Return the check character of a USCC.

    Parameters
    ----------
    first17
        The first 17 characters of the code (upper or lower case).

    Returns
    -------
    str
        The 18th character.

    Raises
    ------
    InputError
        If ``first17`` is not 17 characters from the USCC character set.

    Examples
    --------
    >>> uscc_check_digit("91350100M000100Y4")
    '3'
    """
    text = str(first17).strip()
    bad = [ch for ch in text if ch.upper() not in USCC_CHARSET]
    if len(text) != 17 or bad:
        raise InputError(
            "cannot compute a USCC check digit",
            [Problem(
                message=f"needs 17 characters from {USCC_CHARSET!r}, got {len(text)}"
                + (f" with invalid characters {''.join(bad)!r}" if bad else ""),
                fix="pass the first 17 characters of an 18-character 统一社会信用代码",
                column="uscc",
                value=first17,
                message_zh=(f"需要 17 个取自 {USCC_CHARSET!r} 的字符，实际 {len(text)} 个"
                            + (f"，含无效字符 {''.join(bad)!r}" if bad else "")),
                fix_zh="请传入 18 位统一社会信用代码的前 17 位",
            )],
            zh="无法计算统一社会信用代码的校验位",
        )
    return str(check_digits(np.array([text]))[0])


def check_digits(first17: Iterable[str] | np.ndarray) -> np.ndarray:
    """Check characters for many 17-character prefixes at once.

    Parameters
    ----------
    first17
        Strings of exactly 17 characters from the USCC character set.

    Returns
    -------
    numpy.ndarray
        Array of one-character strings (``dtype '<U1'``); ``""`` where a prefix is not valid.
    """
    values, ok = _values(np.asarray(list(first17) if not isinstance(first17, np.ndarray) else first17), 17)
    remainder = (values * USCC_WEIGHTS).sum(axis=1) % 31
    idx = (31 - remainder) % 31
    out = _CHARS[idx].astype("U1")
    out[~ok] = ""
    return out


def is_valid_uscc(values: Iterable[object] | np.ndarray | pd.Series) -> np.ndarray:
    """Whether each value is a well-formed USCC with a correct check digit.

    Parameters
    ----------
    values
        Codes as strings; missing values, wrong lengths or characters outside the set are invalid.
        Surrounding spaces are ignored, lower case counts as upper case.

    Returns
    -------
    numpy.ndarray
        Boolean array, same length as ``values``.

    Examples
    --------
    >>> is_valid_uscc(["91350100M000100Y43", "91350100M000100Y44", None]).tolist()
    [True, False, False]
    """
    arr = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else np.asarray(values)
    arr = arr.ravel()
    if arr.size == 0:
        return np.zeros(0, dtype=bool)
    if arr.dtype.kind == "U":
        text = np.char.strip(arr)
    else:
        # Missing and non-text values become "" so they fail the length test.
        text = pd.Series(arr.astype(object), dtype=object).str.strip().fillna("").to_numpy(dtype="U")
    codes, ok = _values(text, 18)
    return ok & _check_digit_ok(codes)


def valid_bytes(codes: np.ndarray) -> np.ndarray:
    """:func:`is_valid_uscc` of codes given as an (n, 18) array of ASCII bytes (``uint8``).

    For codes cut straight from an Arrow buffer: no Python strings, and in chunks of small integers
    rather than (n, 18) arrays of 8-byte ones.
    """
    out = np.empty(len(codes), dtype=bool)
    for at in range(0, len(codes), _CHUNK):
        values = _VALUE8[codes[at:at + _CHUNK]]
        out[at:at + _CHUNK] = (values >= 0).all(axis=1) & _check_digit_ok(values)
    return out


def _check_digit_ok(values: np.ndarray) -> np.ndarray:
    """Whether the 18th character value of each row is the check digit of the first 17."""
    remainder = (values[:, :17].astype(np.int32) @ _WEIGHTS32) % 31
    return values[:, 17] == (31 - remainder) % 31


def _values(text: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Character values (n, length) and a mask of rows that are exactly ``length`` valid characters."""
    text = np.asarray(text).astype("U")
    n = text.shape[0]
    if n == 0:
        return np.zeros((0, length), dtype=np.int64), np.zeros(0, dtype=bool)
    lengths = np.char.str_len(text)
    text = text.astype(f"U{length}")
    # Code points as a (n, length) matrix; longer strings were cut by the cast but fail the length test.
    points = text.view(np.uint32).reshape(n, length)
    values = np.where(points < 256, _VALUE[np.minimum(points, 255)], -1)
    ok = (lengths == length) & (values >= 0).all(axis=1)
    return np.where(values >= 0, values, 0), ok

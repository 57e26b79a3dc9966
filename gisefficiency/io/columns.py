"""Column headers: match Chinese and English headers to canonical names, and units of measure.

Bureau spreadsheets and attribute tables write the same field many ways: "证载面积（平方米）",
"证载面积(㎡)", " 证载 面积 ", "*统一社会信用代码". Headers are compared after Unicode NFKC
folding (full-width brackets, letters and digits become ASCII), dropping bracketed parts
(the unit), white space, underscores, hyphens, colons and required-field asterisks, and case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gisefficiency.core.constants import M2_PER_MU
from gisefficiency.core.errors import ConfigError
from gisefficiency.core.schema import (
    ALIASES,
    AREA_UNIT_CODES,
    AREA_UNIT_FIELD,
    FIRM_COLUMNS,
    LAND_COLUMNS,
    PARCEL_COLUMNS,
    PARCEL_EXTRA_COLUMNS,
    READ_FLAG_COLUMNS,
)

#: Money -> 万元 (every money figure in the documents is in 万元).
MONEY_UNITS: dict[str, float] = {
    "万元": 1.0, "wanyuan": 1.0, "10kyuan": 1.0, "元": 1e-4, "yuan": 1e-4, "cny": 1e-4, "rmb": 1e-4,
    "千元": 0.1, "百万元": 100.0, "亿元": 1e4,
}
#: Energy -> tonnes of standard coal equivalent.
ENERGY_UNITS: dict[str, float] = {
    "tce": 1.0, "吨标准煤": 1.0, "吨标煤": 1.0, "t标准煤": 1.0, "吨": 1.0, "t": 1.0,
    "万吨标准煤": 1e4, "万tce": 1e4, "kgce": 1e-3, "千克标准煤": 1e-3, "公斤标准煤": 1e-3,
}
#: Electricity -> 万kWh.
ELECTRICITY_UNITS: dict[str, float] = {
    "万kwh": 1.0, "万千瓦时": 1.0, "万度": 1.0, "kwh": 1e-4, "千瓦时": 1e-4, "度": 1e-4,
    "mwh": 0.1, "兆瓦时": 0.1, "gwh": 100.0, "亿千瓦时": 1e4, "亿kwh": 1e4,
}
#: Emissions -> tonnes.
MASS_UNITS: dict[str, float] = {
    "t": 1.0, "吨": 1.0, "kg": 1e-3, "千克": 1e-3, "公斤": 1e-3, "万吨": 1e4,
}
#: Areas -> m2.
AREA_UNITS: dict[str, float] = {
    "m2": 1.0, "平方米": 1.0, "平米": 1.0, "亩": M2_PER_MU, "mu": M2_PER_MU,
    "公顷": 1e4, "ha": 1e4, "hm2": 1e4, "万平方米": 1e4, "km2": 1e6, "平方公里": 1e6,
}
#: Water -> m³ (a tonne of water is a cubic metre: bureaus write 吨 and 立方米 alike).
WATER_UNITS: dict[str, float] = {
    "m3": 1.0, "立方米": 1.0, "方": 1.0, "吨": 1.0, "t": 1.0, "千立方米": 1e3, "千吨": 1e3,
    "万立方米": 1e4, "万m3": 1e4, "万吨": 1e4, "万方": 1e4,
}
#: Natural gas -> m³ (volumes as billed; 标准立方米 / Nm³ are taken as written).
GAS_UNITS: dict[str, float] = {
    "m3": 1.0, "立方米": 1.0, "方": 1.0, "nm3": 1.0, "标准立方米": 1.0, "标方": 1.0,
    "千立方米": 1e3, "万立方米": 1e4, "万m3": 1e4, "万方": 1e4, "万nm3": 1e4, "亿立方米": 1e8,
}
#: Heights -> m.
LENGTH_UNITS: dict[str, float] = {"m": 1.0, "米": 1.0}
#: Head counts -> persons.
PERSON_UNITS: dict[str, float] = {"人": 1.0, "person": 1.0, "persons": 1.0}

#: Canonical numeric column -> its accepted units and the factor to the canonical unit.
COLUMN_UNITS: dict[str, dict[str, float]] = {
    "tax": MONEY_UNITS, "value_added": MONEY_UNITS, "revenue": MONEY_UNITS, "rd": MONEY_UNITS,
    "energy_tce": ENERGY_UNITS, "electricity": ELECTRICITY_UNITS,
    "cod_t": MASS_UNITS, "nh3n_t": MASS_UNITS, "so2_t": MASS_UNITS, "nox_t": MASS_UNITS,
    "staff": PERSON_UNITS, "water_m3": WATER_UNITS, "gas_m3": GAS_UNITS,
    "cert_area_m2": AREA_UNITS, "floor_area_m2": AREA_UNITS, "building_height_m": LENGTH_UNITS,
}

_BRACKETED = re.compile(r"[(\[{<《【〔][^)\]}>》】〕]*[)\]}>》】〕]")
_DROPPED = re.compile(r"[\s_\-:*]+")
# A year in a wide header: "2021年实缴税金", "实缴税金2021", "2021年度工业增加值", "实缴税金(2021年)".
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)\s*(?:年度|年)?")


def normalise_header(text: object) -> str:
    """Fold a header to its matching key.

    Parameters
    ----------
    text
        A column header as read.

    Returns
    -------
    str
        NFKC-folded, bracketed parts removed, spaces, ``_``, ``-``, ``:`` and ``*`` removed, lower case.

    Examples
    --------
    >>> normalise_header("证载面积（平方米）")
    '证载面积'
    >>> normalise_header(" Parcel_ID ")
    'parcelid'
    """
    folded = unicodedata.normalize("NFKC", str(text))
    return _DROPPED.sub("", _BRACKETED.sub("", folded)).lower()


def normalise_unit(text: object) -> str:
    """Fold a unit for lookup: NFKC (so "㎡" and "m²" become "m2"), no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


def header_unit(text: object) -> str | None:
    """The unit written in a header's brackets, e.g. "平方米" in "证载面积（平方米）".

    Year markers and separators inside the brackets are ignored ("(2021年, 万元)" gives "万元").
    Returns None when the header has no bracketed part.
    """
    folded = unicodedata.normalize("NFKC", str(text))
    found = _BRACKETED.findall(folded)
    if not found:
        return None
    inner = found[-1][1:-1]
    parts = [p for p in re.split(r"[,;/、，；]", _YEAR.sub("", inner)) if normalise_unit(p)]
    return normalise_unit(parts[-1]) if parts else None


#: Certificate dates (read as dates): 高新技术企业 认定/发证 date and 有效期至, 科技型中小企业 入库 date and
#: 有效期至. Where a unit has them, "有效期内" is read from them (``evaluate.contexts``), not from the yearly 是/否.
CERTIFICATE_DATE_COLUMNS: tuple[str, ...] = ("high_tech_date", "high_tech_until", "tech_sme_date", "tech_sme_until")
#: Their headers. A bare 证书有效期至 is the 高新技术企业 certificate's, the one certificate the evaluation
#: rules exempt for a term (3 years). Bare 认定日期 (the 台账's 低效认定), 发证日期 (a land certificate's on
#: parcel layers) and 入库日期 are not taken: they name other things in bureau tables.
CERTIFICATE_ALIASES: dict[str, str] = {
    "高新技术企业认定日期": "high_tech_date", "高新技术企业认定时间": "high_tech_date", "高企认定日期": "high_tech_date",
    "高新技术企业发证日期": "high_tech_date", "高新技术企业证书发证日期": "high_tech_date",
    "高企发证日期": "high_tech_date", "高企证书发证日期": "high_tech_date",
    "高新技术企业证书有效期至": "high_tech_until", "高新技术企业有效期至": "high_tech_until",
    "高企证书有效期至": "high_tech_until", "高企有效期至": "high_tech_until", "证书有效期至": "high_tech_until",
    "高新技术企业证书到期日": "high_tech_until", "高企到期日期": "high_tech_until",
    "科技型中小企业入库日期": "tech_sme_date", "科技型中小企业入库时间": "tech_sme_date", "科小入库日期": "tech_sme_date",
    "科技型中小企业入库登记日期": "tech_sme_date",
    "科技型中小企业有效期至": "tech_sme_until", "科小有效期至": "tech_sme_until",
}


def alias_lookup(aliases: Mapping[str, str] | None = None) -> dict[str, str]:
    """Matching key -> canonical name, from ``schema.ALIASES``, the canonical names and ``aliases``.

    User aliases win over the built-in ones. Their targets may be any name (a non-canonical target
    keeps a column apart, e.g. a second tax column mapped to ``"tax_other"``).
    """
    lookup: dict[str, str] = {}
    for name in (*PARCEL_COLUMNS, *PARCEL_EXTRA_COLUMNS, *FIRM_COLUMNS, *READ_FLAG_COLUMNS, *LAND_COLUMNS):
        lookup[normalise_header(name)] = name
    for header, name in (*ALIASES.items(), *CERTIFICATE_ALIASES.items()):
        lookup[normalise_header(header)] = name
    for name in CERTIFICATE_DATE_COLUMNS:
        lookup[normalise_header(name)] = name
    for header, name in (aliases or {}).items():
        lookup[normalise_header(header)] = str(name)
    return lookup


def match_header(header: object, lookup: Mapping[str, str]) -> str | None:
    """Canonical name of one header, or None when it is not known."""
    return lookup.get(normalise_header(header))


def match_wide_header(header: object, lookup: Mapping[str, str]) -> tuple[str, int] | None:
    """``(canonical, year)`` for a year-in-header column such as "2021年实缴税金", else None.

    The year must be a four-digit 19xx/20xx number, optionally followed by 年 or 年度, and the rest
    of the header must be a known alias.
    """
    folded = unicodedata.normalize("NFKC", str(header))
    found = _YEAR.findall(folded)
    if len(found) != 1:
        return None
    rest = _YEAR.sub("", folded)
    name = lookup.get(normalise_header(rest))
    if name is None or name == "year":
        return None
    return name, int(found[0])


def unit_factor(column: str, unit: str, *, source: str = "units") -> float:
    """Factor that converts ``column`` from ``unit`` to its canonical unit.

    Parameters
    ----------
    column
        Canonical column name, e.g. ``"tax"``.
    unit
        The unit the data is in, e.g. ``"元"``, ``"kWh"``, ``"亩"``.
    source
        Where the unit came from, for the message.

    Raises
    ------
    ConfigError
        If the column has no units or the unit is not one of those listed in ``COLUMN_UNITS``.
    """
    table = COLUMN_UNITS.get(column)
    if table is None:
        raise ConfigError(
            f"{source}: column {column!r} has no unit to convert -> give units only for "
            f"{', '.join(sorted(COLUMN_UNITS))}",
            zh=(f"{source}：列 {column!r} 没有可换算的单位 → 只能为以下列给出单位："
                f"{', '.join(sorted(COLUMN_UNITS))}")
        )
    factor = table.get(normalise_unit(unit))
    if factor is None:
        raise ConfigError(
            f"{source}: unknown unit {unit!r} for column {column!r} -> use one of {', '.join(table)}",
            zh=f"{source}：列 {column!r} 的单位 {unit!r} 无法识别 → 请使用 {', '.join(table)} 之一"
        )
    return factor


def find_unit(column: str, header: object) -> tuple[float, str | None]:
    """Conversion factor from the unit in a header's brackets (1.0 when there is none).

    Returns the factor and the unit text when the header names a unit this column does not accept
    (the caller reports it and keeps the values as they are).
    """
    unit = header_unit(header)
    table = COLUMN_UNITS.get(column)
    if unit is None or table is None:
        return 1.0, None
    if unit in table:
        return table[unit], None
    return 1.0, unit


def unit_field(headers: Iterable[object]) -> object | None:
    """The header of a layer's area-unit field (``MJDW`` 面积单位, in any case), or None."""
    key = normalise_header(AREA_UNIT_FIELD)
    return next((h for h in headers if normalise_header(h) in (key, "面积单位")), None)


def area_unit_factors(units: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per-row factor to m2 from an area-unit field, and the rows whose unit is not understood.

    A 宗地 layer may give ZDMJ in the unit its MJDW field names, row by row: the register's codes
    (1 平方米, 2 亩, 3 公顷, ``schema.AREA_UNIT_CODES``) or a unit's name (``AREA_UNITS``). Empty cells
    give 1.0 (square metres, the standard's default); unknown ones give 1.0 and are flagged so the
    caller can name them. Looked up per distinct value.
    """
    codes, distinct = pd.factorize(pd.Series(units, copy=False), use_na_sentinel=True)
    # One slot more for missing cells (code -1 takes the last): square metres, known.
    factor = np.ones(len(distinct) + 1)
    known = np.ones(len(distinct) + 1, dtype=bool)
    for i, raw in enumerate(distinct):
        text = normalise_unit(raw)
        text = re.sub(r"^(\d+)\.0+$", r"\1", text)  # 3.0 from a number field
        unit = AREA_UNIT_CODES.get(text, text)
        f = AREA_UNITS.get(normalise_unit(unit))
        factor[i], known[i] = (f, True) if f is not None else (1.0, text == "")
    return factor[codes], ~known[codes]


def dedupe(names: Iterable[str]) -> list[str]:
    """Make names unique by suffixing repeats with ``.2``, ``.3`` ... (as spreadsheet readers do)."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        out.append(name if count == 1 else f"{name}.{count}")
    return out

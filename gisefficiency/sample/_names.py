"""Names and codes of the sample county: streets, firm names, USCCs, industries.

All names are made up. The county code 330827 is used as a stand-in for a Zhejiang county.
"""

from __future__ import annotations

import numpy as np

from gisefficiency.core.uscc import USCC_CHARSET, USCC_WEIGHTS

#: County administrative code used in parcel ids and USCCs (fictitious).
COUNTY_CODE: str = "330827"
COUNTY_NAME: str = "示例县"

#: Streets and towns (街道/乡镇) with their 3-digit codes; the first two are the old town.
STREETS: tuple[str, ...] = ("龙溪街道", "云峰街道", "柳湖镇", "石门镇", "桐源乡")
OLD_STREETS: tuple[int, ...] = (0, 1)

#: GB/T 4754-2017 manufacturing divisions (2-digit codes 13-43) with a county-like weight and
#: a word that goes into firm names. Weights follow a typical Zhejiang county mix
#: (metal products, machinery, electrical, plastics, building materials, textiles, chemicals).
INDUSTRIES: dict[str, tuple[float, str]] = {
    "13": (2.0, "食品"), "14": (1.5, "食品"), "15": (0.8, "酒业"), "16": (0.1, "烟草"),
    "17": (5.0, "纺织"), "18": (3.0, "服饰"), "19": (1.5, "皮革"), "20": (2.5, "木业"),
    "21": (3.0, "家具"), "22": (2.5, "纸业"), "23": (1.5, "印务"), "24": (2.0, "文体用品"),
    "25": (0.3, "能源"), "26": (5.0, "化工"), "27": (2.0, "药业"), "28": (1.0, "化纤"),
    "29": (7.0, "塑业"), "30": (6.0, "建材"), "31": (1.5, "钢业"), "32": (2.5, "有色金属"),
    "33": (11.0, "五金"), "34": (10.0, "机械"), "35": (6.0, "专用设备"), "36": (4.0, "汽车零部件"),
    "37": (0.8, "船舶"), "38": (8.0, "电器"), "39": (4.0, "电子"), "40": (1.5, "仪表"),
    "41": (1.2, "工艺品"), "42": (0.8, "再生资源"), "43": (0.5, "设备维修"),
}
#: Energy-intensive divisions: far less value added per tce (paper, petroleum, chemicals,
#: fibres, building materials, ferrous and non-ferrous metals).
ENERGY_INTENSIVE: tuple[str, ...] = ("22", "25", "26", "28", "30", "31", "32")

# Characters for trade names (字号); two are drawn per firm.
_TRADE_CHARS = np.array(list("恒达华盛鑫泰宏兴金源力通瑞丰永昌新宇天成博远嘉顺龙腾凯明富康隆旺益合信诚"
                              "伟业正大汇联安祥佳盈润德创辉东方海星光晨越卓飞皓晟亿"))
_PREFIXES = np.array([COUNTY_NAME, "浙江", "", "丽水"])
_PREFIX_P = np.array([0.45, 0.3, 0.2, 0.05])
_SUFFIXES = np.array(["有限公司", "股份有限公司", "有限责任公司", "科技有限公司"])
_SUFFIX_P = np.array([0.7, 0.1, 0.08, 0.12])

# GB 11714 organisation-code weights.
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def firm_names(industry: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Chinese firm names like "示例县恒达五金有限公司" (not unique; USCCs are the keys)."""
    n = industry.size
    word = np.array([INDUSTRIES[c][1] for c in INDUSTRIES])[np.searchsorted(np.array(list(INDUSTRIES)), industry)]
    trade = np.char.add(rng.choice(_TRADE_CHARS, n), rng.choice(_TRADE_CHARS, n))
    prefix = rng.choice(_PREFIXES, n, p=_PREFIX_P)
    suffix = rng.choice(_SUFFIXES, n, p=_SUFFIX_P)
    return np.char.add(np.char.add(np.char.add(prefix, trade), word), suffix)


def draw_industries(n: int, rng: np.random.Generator) -> np.ndarray:
    """GB/T 4754 two-digit manufacturing codes, weighted like a Zhejiang county."""
    codes = np.array(list(INDUSTRIES))
    weights = np.array([w for w, _ in INDUSTRIES.values()])
    return rng.choice(codes, n, p=weights / weights.sum())


def make_usccs(n: int, rng: np.random.Generator, *, modern: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct, valid 18-character USCCs of firms registered in and around the county.

    Parameters
    ----------
    n
        Number of codes.
    rng
        Random generator.
    modern
        Which firms were registered after 2015 and get an "MA..." organisation code; the
        others get an 8-digit legacy code. Random when None.

    Returns
    -------
    numpy.ndarray
        Codes ``'91' + region + 9-character organisation code + check digit``, where the
        organisation code carries its own GB 11714 check character.
    """
    modern = rng.random(n) < 0.5 if modern is None else np.asarray(modern, dtype=bool)
    keys = _unique_keys(modern, rng)
    region = rng.choice(np.array([COUNTY_CODE, "331100", "330000"]), n, p=[0.9, 0.07, 0.03])
    # Character values (0..30 in the USCC charset) of the 17 first characters.
    values = np.empty((n, 17), dtype=np.int64)
    values[:, 0], values[:, 1] = 9, 1
    values[:, 2:8] = region.astype("U6").view(np.uint32).reshape(n, 6) - ord("0")
    body = _body_values(keys, modern)
    values[:, 8:16] = body
    # GB 11714 check: character values A=10 ... Z=35, so map charset positions to those first.
    org = _GB11714_VALUE[body]
    c = 11 - (org * _ORG_WEIGHTS).sum(axis=1) % 11
    values[:, 16] = np.where(c == 10, _X, np.where(c == 11, 0, c))
    check = (31 - (values * USCC_WEIGHTS).sum(axis=1) % 31) % 31
    points = _CHAR_POINTS[np.concatenate([values, check[:, None]], axis=1)]
    return np.ascontiguousarray(points.astype(np.uint32)).view("U18").ravel()


def _unique_keys(modern: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distinct integers: legacy codes in [0, 10^8), modern ones in [10^8, 10^8 + 9·31^6)."""
    n = modern.size
    keys = np.empty(n, dtype=np.int64)
    unsettled = np.arange(n)
    while unsettled.size:
        m = modern[unsettled]
        keys[unsettled] = np.where(m, _LEGACY + rng.integers(0, _MODERN, unsettled.size), rng.integers(0, _LEGACY, unsettled.size))
        order = np.argsort(keys, kind="stable")
        dup = np.zeros(n, dtype=bool)
        dup[order[1:]] = keys[order[1:]] == keys[order[:-1]]
        unsettled = np.flatnonzero(dup)
    return keys


def _body_values(keys: np.ndarray, modern: np.ndarray) -> np.ndarray:
    """Charset values ``(n, 8)`` of the organisation-code body encoded by ``keys``."""
    n = keys.size
    out = np.empty((n, 8), dtype=np.int64)
    legacy = keys % _LEGACY
    # Legacy: eight decimal digits, most significant first.
    for i in range(8):
        out[:, 7 - i] = legacy // 10**i % 10
    # Modern: 'M', 'A', a digit 1-9, then five characters of the charset.
    rest = keys - _LEGACY
    mod = np.empty((n, 8), dtype=np.int64)
    mod[:, 0], mod[:, 1] = USCC_CHARSET.index("M"), USCC_CHARSET.index("A")
    for i in range(5):
        mod[:, 7 - i] = rest // 31**i % 31
    mod[:, 2] = 1 + rest // 31**5 % 9
    return np.where(modern[:, None], mod, out)


_LEGACY = 10**8
_MODERN = 9 * 31**5
_X = USCC_CHARSET.index("X")
_CHAR_POINTS = np.array([ord(c) for c in USCC_CHARSET], dtype=np.uint32)
# Charset position -> GB 11714 value (digits 0-9, letters A=10 ... Z=35).
_GB11714_VALUE = np.array([int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in USCC_CHARSET])

"""Shared services every stage uses; no stage logic lives here.

- ``constants``: units and fixed numbers (``M2_PER_MU`` = 10000/15 m², published precision).
- ``errors``: the error family (``ConfigError``, ``InputError``, ``CRSError``) and ``Problem``.
- ``schema``: canonical column names and the headers (Chinese, national field codes) accepted for them.
- ``i18n``: Chinese and English labels of columns, grades and categories.
- ``ids``: text ids (parcel ids, USCCs) as integer codes, so joins run on int64.
- ``grouped``: grouped sums on those codes, exact to pandas' own kernels.
- ``text``: reason texts as Arrow string arrays built by C++ kernels.
- ``crs``: CRS guessing, CGCS2000 Gauss-Krüger zones, WGS-84/GCJ-02/BD-09 conversions.
- ``uscc``: the GB 32100-2015 check digit.
- ``png``: PNG encoding and hex colours for overlays and map images.

The modules are imported by their full path (``from gisefficiency.core.ids import encode``); this package
imports none of them itself, so any stage can use any service without import cycles.
"""

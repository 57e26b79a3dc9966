"""Write a run's results: results.gpkg (parcels, firms, blocks), tables, GeoTIFFs, map, report and report.pdf."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from gisefficiency.core.i18n import Lang
from gisefficiency.result import Result

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Layer name -> Result attribute written to results.gpkg.
GPKG_LAYERS: dict[str, str] = {"parcels": "parcels", "firms": "firms", "blocks": "blocks"}


def gpkg_ready(frame: gpd.GeoDataFrame, *, arrow_dates: bool = False) -> gpd.GeoDataFrame:
    """Return a copy whose columns every GeoPackage reader (QGIS, ArcGIS) opens as ordinary fields.

    Booleans (numpy, nullable, and object columns holding only True/False/missing) become nullable
    booleans, which GDAL declares ``BOOLEAN`` (QGIS and ArcGIS show them as true/false, every layer the
    same); lists and other objects become text, and the index becomes a column, because GeoPackage has
    no index or list fields. With ``arrow_dates``, date-times that are all midnight become Arrow dates,
    which ``to_file(..., use_arrow=True)`` writes as ``DATE`` (pyogrio's other path would write them as
    text, so they stay date-times unless asked).
    """
    return _gpkg_columns(frame, keep_arrow_text=False, arrow_dates=arrow_dates)


def _gpkg_columns(frame: gpd.GeoDataFrame, *, keep_arrow_text: bool, arrow_dates: bool = True) -> gpd.GeoDataFrame:
    """:func:`gpkg_ready`; with ``keep_arrow_text`` Arrow-backed text columns are left as they are.

    Arrow text reaches GDAL as the same large_string column with or without the ``"string"``
    cast, so the writer skips the cast (a copy of every text column).
    """
    out = frame.reset_index()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
            out[col] = s.astype("boolean")
        elif s.dtype == object:
            flags = _object_to_boolean(s)
            out[col] = flags if flags is not None else _object_to_string(s)
        elif arrow_dates and isinstance(s.dtype, np.dtypes.DateTime64DType):
            out[col] = _midnight_to_date(s)
        elif isinstance(s.dtype, pd.StringDtype) and not (keep_arrow_text and s.dtype.storage == "pyarrow"):
            out[col] = s.astype("string")
        elif isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(str)
    return out


def _object_to_boolean(s: pd.Series) -> pd.Series | None:
    """A nullable boolean column if the object column holds only True/False and missing values, else None.

    Such columns (``in_scope``, ``exempt`` on parcels: a parcel without a firm has no verdict) used to
    reach the GeoPackage as the text "True"/"False" while the firms layer had them as booleans. An
    all-missing column stays text: nothing says it is a flag.
    """
    import pyarrow as pa

    try:
        arr = pa.array(s.to_numpy(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if not pa.types.is_boolean(arr.type):
        return None
    return pd.Series(pd.array(arr.to_pandas(), dtype="boolean"), index=s.index, name=s.name)


def _midnight_to_date(s: pd.Series) -> pd.Series:
    """Dates (Arrow ``date32``, GeoPackage ``DATE``) when every value is at midnight, else unchanged.

    Supply and production dates arrive as date-times at 00:00; written as DATETIME, QGIS shows
    "2004-12-22T00:00:00" and filters them as times. A column with a time of day keeps its times.
    """
    import pyarrow as pa

    if not _all_midnight(s):
        return s
    dates = pa.array(s.to_numpy(), from_pandas=True).cast(pa.date32())
    return pd.Series(pd.arrays.ArrowExtensionArray(dates), index=s.index, name=s.name)


def _all_midnight(s: pd.Series) -> bool:
    """Whether every date-time of a (naive) datetime column is at 00:00.

    Checked on the values: Arrow's cast to ``date32`` drops a time of day without a word, even as a
    "safe" cast.
    """
    values = s.to_numpy()
    present = values[~np.isnat(values)]
    return bool((present == present.astype("datetime64[D]")).all())


def _object_to_string(s: pd.Series) -> pd.Series:
    """``s.astype("string")`` for an object column, computed by Arrow when it holds text or booleans.

    pandas calls ``str()`` on every element in Python; text and True/False (with NaN/None for
    missing) are all this package puts in object columns, and Arrow converts them in C to the
    same strings ("True"/"False" as ``str`` spells them) and the same missing values. Anything
    else (numbers, lists) keeps pandas' conversion.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(s.to_numpy(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return s.astype("string")
    if pa.types.is_boolean(arr.type):
        arr = pc.if_else(arr, pa.scalar("True", pa.large_string()), pa.scalar("False", pa.large_string()))
    elif not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return s.astype("string")
    return pd.Series(pd.arrays.ArrowStringArray(arr.cast(pa.large_string())), index=s.index, name=s.name)


def write_results_gpkg(result: Result, path: Path, *, lang: Lang | None = None) -> Path:
    """Write the parcels, firms and blocks layers of ``result`` to one GeoPackage.

    With ``lang``, the file also gets QGIS's ``layer_styles`` table (:mod:`gisefficiency.io.styles`:
    parcels by grade, 亩均税收 class and disposal, firms by grade and disposal, blocks outlined; legends
    in ``lang``), so QGIS opens every layer styled, and the text columns are those of ``lang`` only
    (``reason_zh`` without ``reason_en``, see :func:`other_language_columns`): the reasons in both
    languages were half of a 210 MB file at 100k parcels.

    The layers, fields, field types, geometry types, values and R-tree spatial indexes are what
    ``GeoDataFrame.to_file(engine="pyogrio", use_arrow=True)`` of :func:`gpkg_ready` frames writes;
    only the way there is faster (see :func:`_write_layer`). The file is written under a temporary
    name and renamed at the end, so ``path`` never holds a half-written GeoPackage.
    """
    import pyogrio


    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    if tmp.exists():
        tmp.unlink()
    saved = {key: pyogrio.get_gdal_config_option(key) for key in _GPKG_WRITE_CONFIG}
    pyogrio.set_gdal_config_options(_GPKG_WRITE_CONFIG)
    try:
        for layer, attr in GPKG_LAYERS.items():
            # the layer's rows with their reasons in the run's language (both without one), from the texts
            # the evaluation keeps once written (firms.csv's writer takes the same)
            frame = result.with_reasons(getattr(result, attr), lang=lang or "both")
            _write_layer(frame.drop(columns=other_language_columns(frame, lang)), tmp, layer=layer)
        if lang is not None:
            _write_styles(result, tmp, lang=lang)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        # GDAL config is process-wide: give later reads and writes the settings they had.
        pyogrio.set_gdal_config_options(saved)
    os.replace(tmp, path)
    return path


def other_language_columns(frame: pd.DataFrame, lang: str | None) -> list[str]:
    """The columns of ``frame`` in the language not asked: ``x_en`` beside ``x_zh`` for ``lang="zh"``.

    A column is left out only when its twin in ``lang`` is there, so nothing is lost but a translation;
    ``lang`` None (or any other value, e.g. both languages asked) leaves every column.
    """
    if lang not in ("zh", "en"):
        return []
    other = "en" if lang == "zh" else "zh"
    names = {str(c) for c in frame.columns}
    return [c for c in frame.columns
            if str(c).endswith(f"_{other}") and f"{str(c)[:-len(other)]}{lang}" in names]


def _write_styles(result: Result, path: Path, *, lang: Lang) -> None:
    """Add the ``layer_styles`` table (an attributes table, as QGIS makes it) for the layers written."""
    import pyogrio

    from gisefficiency.io.styles import layer_styles, style_rows

    frames = {layer: getattr(result, attr) for layer, attr in GPKG_LAYERS.items()}
    columns = {layer: set(f.columns) for layer, f in frames.items()}
    styles = layer_styles(result.policy, lang=lang, columns=columns)
    rows = style_rows(styles, geometry_columns={layer: f.geometry.name for layer, f in frames.items()})
    pyogrio.write_dataframe(rows, path, layer="layer_styles", driver="GPKG")


#: GDAL settings while writing results.gpkg. SQLite's default ``synchronous=FULL`` waits for
#: the disk at every commit; the file is new and only renamed into place once complete, so a
#: crash loses nothing that was there before, and for the same reason it needs no rollback
#: journal (``journal_mode=OFF``: no copy of every changed page; about 8% less CPU at 100k) nor
#: shared locks taken and dropped at every transaction (``locking_mode=EXCLUSIVE``). 64 KiB pages
#: (the SQLite maximum) hold a whole row with its long reason texts instead of chaining 4 KiB
#: overflow pages, which makes the file about 10% smaller and the inserts cheaper. None of these
#: is stored in the file or changes what a reader sees.
_GPKG_WRITE_CONFIG: dict[str, str] = {
    "OGR_SQLITE_SYNCHRONOUS": "OFF",
    "OGR_SQLITE_PRAGMA": "page_size=65536,journal_mode=OFF,locking_mode=EXCLUSIVE,temp_store=MEMORY",
}

#: Shapely type id of a single-part geometry -> WKB type code of its multi-part form
#: (Point -> MultiPoint, LineString -> MultiLineString, Polygon -> MultiPolygon).
_MULTI_WKB_TYPE: dict[int, int] = {0: 4, 1: 5, 3: 6}

#: Shapely type id -> OGR geometry type name, for the layer type.
_TYPE_NAMES: dict[int, str] = {
    0: "Point",
    1: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def _write_layer(frame: gpd.GeoDataFrame, path: Path, *, layer: str) -> None:
    """Write one layer the way ``gpkg_ready(frame).to_file(..., use_arrow=True)`` does, faster.

    pyogrio's ``write_dataframe`` promotes single parts to multi parts by building new shapely
    geometries and compares object arrays of type names; at 1M rows that costs more than GDAL's
    insert. Here the type checks use integer type ids and a promoted Polygon gets the 9-byte
    MultiPolygon header put in front of its own WKB, which is byte for byte the WKB of the
    one-part MultiPolygon. 3D geometries and datetimes with a local time zone (neither made by this
    package) take pyogrio's own path.
    """
    import pyarrow as pa
    import pyogrio
    import shapely

    ready = _gpkg_columns(frame, keep_arrow_text=True)
    geom_col = ready.geometry.name
    values = np.asarray(ready.geometry.array)  # the shapely objects, not a copy
    zoned = [c for c, dt in ready.dtypes.items() if isinstance(dt, pd.DatetimeTZDtype) and str(dt.tz) != "UTC"]
    if zoned or shapely.has_z(values).any():
        # pyogrio writes these specially (dates with local offsets as text, "... Z" layer types).
        ready.to_file(path, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=True)
        return
    geometry_type, wkb = _layer_wkb(values)
    if len(values) == 0:
        # An empty layer (a county where no block reaches min_area_mu) gets the type its rows have
        # in other runs (every layer of results.gpkg is polygonal), not "Unknown".
        geometry_type = "MultiPolygon"
    attrs = pd.DataFrame(ready.drop(columns=geom_col), copy=False)
    table = pa.Table.from_pandas(attrs, preserve_index=False)
    # Same column position as geopandas gives the geometry (GDAL skips it when making fields).
    table = table.add_column(ready.columns.get_loc(geom_col), geom_col, wkb)
    crs = ready.crs
    epsg = crs.to_epsg() if crs is not None else None
    pyogrio.write_arrow(
        table,
        path,
        layer=layer,
        driver="GPKG",
        geometry_name=geom_col,
        geometry_type=geometry_type,
        crs=f"EPSG:{epsg}" if epsg else (crs.to_wkt("WKT1_GDAL") if crs is not None else None),
    )


def _layer_wkb(values: np.ndarray) -> tuple[str, pa.Array]:
    """Return the layer geometry type and the WKB to write, as pyogrio chooses them.

    One geometry type -> that type. A single type with its multi type (Polygon and MultiPolygon)
    -> the multi type, and the single parts are written as one-part multi parts, because a
    GeoPackage layer has one geometry type. Anything else -> ``"Unknown"`` (any geometry).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import shapely

    type_ids = shapely.get_type_id(values)
    wkb = pa.array(shapely.to_wkb(values), type=pa.binary())
    present = set(np.unique(type_ids[type_ids >= 0]).tolist())
    if len(present) == 1:
        return _TYPE_NAMES.get(present.pop(), "Unknown"), wkb
    single = {s for s, m in _MULTI_WKB_TYPE.items() if present == {s, m}}
    if not single:
        return "Unknown", wkb
    single_id = single.pop()
    multi_id = _MULTI_WKB_TYPE[single_id]
    # Little-endian byte order mark, the multi type, one part; then the part's own WKB.
    header = pa.scalar(b"\x01" + multi_id.to_bytes(4, "little") + (1).to_bytes(4, "little"), pa.binary())
    promoted = pc.binary_join_element_wise(header, wkb, pa.scalar(b"", pa.binary()))
    return _TYPE_NAMES[multi_id], pc.if_else(pa.array(type_ids == single_id), promoted, wkb)


def write_tables(result: Result, out_dir: Path, *, lang: Lang | None = None) -> dict[str, Path]:
    """Write CSV tables (UTF-8 with BOM so Excel shows Chinese): link report, firms, scenarios, clusters.

    With ``lang``, firms.csv has the reasons and text columns of that language only (as results.gpkg);
    without one, both languages.

    The CSVs are for machines: canonical column names and exact values (see :func:`write_csv`). They are
    not made "spreadsheet-safe" (a leading tab or ``="..."`` around USCCs would change the value for every
    other reader); people get the same lists with USCCs as text cells in 清单.xlsx (``io.workbook``).
    """
    written: dict[str, Path] = {}
    if result.links is not None:
        written["link_report"] = write_csv(result.links.report.to_frame(), out_dir / "link_report.csv", index=False)
    # The evaluation keeps each language's reason texts once written: results.gpkg's writer and this one share them.
    firms = result.with_reasons(result.firms, lang=lang or "both")
    drop = [firms.geometry.name, *other_language_columns(firms, lang)]
    firms = pd.DataFrame(firms.drop(columns=drop), copy=False)
    written["firms_csv"] = write_csv(firms, out_dir / "firms.csv")
    if result.scenarios:
        from gisefficiency.scenario.freed import compare

        written["scenarios"] = write_csv(compare(result.scenarios), out_dir / "scenarios.csv")
    if result.clusters is not None:
        written["clusters"] = write_csv(result.clusters, out_dir / "clusters.csv")
    return written


def write_csv(frame: pd.DataFrame, path: str | Path, *, index: bool = True) -> Path:
    """Write a table as CSV, UTF-8 with a BOM (Excel shows the Chinese), with Arrow's CSV writer.

    The values read back as ``DataFrame.to_csv`` wrote them: the index first (``index=True``), numbers in
    their shortest exact form (an integral float as ``2021``), missing values as empty cells, flags as
    ``True``/``False``, date-times that are all midnight as dates (``2019-05-01``), others to the second;
    text is quoted. pandas formats every cell in Python (about 4 s for the 100k-firm table); Arrow
    formats in C, without the GIL, so the CSVs are written while results.gpkg is.

    Parameters
    ----------
    frame
        The table; list and other object cells are written as ``str`` spells them.
    path
        The file (written under a temporary name and renamed, so it is never half written).
    index
        Write the index (its name as the header; levels of a MultiIndex each as a column).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: dict[str, pa.Array] = {}
    if index:
        for level, name in enumerate(frame.index.names):
            values = frame.index.get_level_values(level)
            columns["" if name is None else str(name)] = _csv_column(pd.Series(values, copy=False))
    for name in frame.columns:
        header = str(name)
        # A header repeated (or an index name used again) keeps its place and its text.
        while header in columns:
            header += " "
        columns[header] = _csv_column(frame[name])
    table = pa.table(columns) if columns else pa.table({"": pa.array([], pa.string())})
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part{path.suffix}")
    try:
        with open(tmp, "wb") as sink:
            sink.write(b"\xef\xbb\xbf")
            pacsv.write_csv(table, sink)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def _csv_column(s: pd.Series) -> pa.Array:
    """One column as the Arrow array whose CSV text is what ``to_csv`` writes for it (see :func:`write_csv`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        s = s.astype(object)
        dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        flags = pa.array(s.astype("boolean").array)
        return pc.if_else(flags, pa.scalar("True"), pa.scalar("False"))
    if isinstance(dtype, np.dtypes.DateTime64DType):
        stamps = pa.array(s.to_numpy(), from_pandas=True)
        if _all_midnight(s):
            return stamps.cast(pa.date32())  # the day alone, as pandas writes it
        values = s.to_numpy()
        present = values[~np.isnat(values)]
        if (present == present.astype("datetime64[s]")).all():  # whole seconds: no fraction written
            stamps = stamps.cast(pa.timestamp("s"))
        return pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S")
    if pd.api.types.is_object_dtype(dtype):
        flags = _object_to_boolean(s)
        if flags is not None:
            return _csv_column(flags)
        text = _object_to_string(s)
        return pa.array(text.array, from_pandas=True) if isinstance(text.dtype, pd.StringDtype) else pa.array(
            text.astype(object).to_numpy(), type=pa.string(), from_pandas=True)
    try:
        arr = pa.array(s.array if not isinstance(dtype, np.dtype) else s.to_numpy(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array(s.astype("string").to_numpy(na_value=None), type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_timestamp(arr.type) or pa.types.is_duration(arr.type) or pa.types.is_dictionary(arr.type):
        return pa.array(s.astype("string").to_numpy(na_value=None), type=pa.string())
    return arr


def write_html(text: str, path: Path) -> Path:
    """Write an HTML page as UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


#: Browsers that print a page to PDF headless, tried in this order (``GISEFFICIENCY_CHROMIUM`` first).
PDF_ENGINES: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome",
                                "msedge")


def write_report_pdf(html_path: str | Path, pdf_path: str | Path | None = None, *, engine: str | None = None,
                     timeout_s: float = 300.0) -> Path | None:
    """Print the report page to an A4 PDF with headless Chromium (or Chrome/Edge); None when none is found.

    The engine is ``engine``, else the ``GISEFFICIENCY_CHROMIUM`` environment variable, else the first of
    ``PDF_ENGINES`` on the PATH (``shutil.which``). Without one, or when printing fails, one log line says so
    and the run goes on (a warning, so the terminal shows it): the PDF is a convenience beside report.html, which prints the same from any browser.
    Name resolution is switched off for the print (``--host-resolver-rules``), so a page that asks for the
    network (map tiles) fails at once instead of waiting, and nothing leaves the machine; a throw-away
    profile keeps the user's browser profile out of it.

    Parameters
    ----------
    html_path
        The report page.
    pdf_path
        Where to write; default ``report.pdf`` beside the page.
    engine
        A browser executable (name or path).
    timeout_s
        Limit for the print.

    Returns
    -------
    Path or None
        The PDF, or None when it was not written.
    """
    import shutil
    import subprocess
    import tempfile

    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path) if pdf_path is not None else html_path.with_suffix(".pdf")
    wanted = [engine] if engine else [os.environ.get("GISEFFICIENCY_CHROMIUM") or "", *PDF_ENGINES]
    found = next((shutil.which(name) for name in wanted if name and shutil.which(name)), None)
    if found is None:
        log.warning("report.pdf not written: no Chromium/Chrome found (%s) -> install chromium, or set "
                    "GISEFFICIENCY_CHROMIUM, or print report.html from a browser", ", ".join(n for n in wanted if n),
                    extra={"zh": (f"未写出 report.pdf：找不到 Chromium/Chrome（{', '.join(n for n in wanted if n)}）→ 请安装 chromium，"
                        "或设置 GISEFFICIENCY_CHROMIUM，或在浏览器中打印 report.html")})
        return None
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf_path.with_name(f".{pdf_path.stem}.{os.getpid()}.part.pdf")
    with tempfile.TemporaryDirectory(prefix="gise-pdf-") as profile:
        command = [found, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                   "--no-pdf-header-footer", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
                   f"--print-to-pdf={tmp}", html_path.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            tmp.unlink(missing_ok=True)
            log.warning("report.pdf not written: %s failed (%s) -> print report.html from a browser", found, exc,
                        extra={"zh": f"未写出 report.pdf：{found} 运行失败（{exc}）→ 请在浏览器中打印 report.html"})
            return None
    if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        last = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        log.warning("report.pdf not written: %s exited with %s (%s) -> print report.html from a browser",
                    found, done.returncode, last[0],
                    extra={"zh": f"未写出 report.pdf：{found} 退出码 {done.returncode}（{last[0]}）→ 请在浏览器中打印 report.html"})
        return None
    os.replace(tmp, pdf_path)  # a reader never sees a half-written PDF
    return pdf_path


#: Threads writing the outputs of :func:`write_outputs` (and the rasters): the writers spend most of
#: their time in GDAL, SQLite, Arrow and zlib, which run without the GIL.
WRITE_THREADS: int = 2


def write_outputs(result: Result, out_dir: str | Path, *, extras: dict[str, Any] | None = None,
                  lang: Lang = "zh", progress: Callable[[int, int], None] | None = None) -> dict[str, Path]:
    """Write the GeoPackage (with its QGIS styles), the workbook and the tables under ``out_dir``.

    ``lang`` is the language of the styles' legends, the workbook's headers and the text columns of
    results.gpkg and firms.csv. The three writers run side by side on ``WRITE_THREADS`` threads: the
    GeoPackage (one file, its layers one after another) beside the workbook and the CSVs.

    Parameters
    ----------
    result
        A run's result.
    out_dir
        The output folder (created).
    extras
        Name -> path of files written elsewhere, added to the returned mapping.
    lang
        ``"zh"`` or ``"en"``.
    progress
        Called as ``progress(done, total)`` each time one of the writers finishes (the progress display's
        advance for the writing stage).

    Returns
    -------
    dict
        Output name -> path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = _run_jobs(list(output_jobs(result, out_dir, lang=lang).values()), progress=progress)
    written: dict[str, Path] = {}
    for part in parts:  # in the order of the jobs, whatever order they finished in
        written.update(part)
    written.update(extras or {})
    return written


def output_jobs(result: Result, out_dir: Path, *, lang: Lang = "zh") -> dict[str, Callable[[], dict[str, Path]]]:
    """The writers of :func:`write_outputs` as jobs, by name: ``results`` (results.gpkg), ``workbook`` (清单.xlsx)
    and ``tables`` (the CSVs). Each returns output name -> path; ``out_dir`` must exist."""
    from gisefficiency.io.workbook import WORKBOOK_NAME, write_workbook

    return {
        "results": lambda: {"results": write_results_gpkg(result, out_dir / "results.gpkg", lang=lang)},
        "workbook": lambda: {"workbook": write_workbook(result, out_dir / WORKBOOK_NAME, lang=lang)},
        "tables": lambda: write_tables(result, out_dir, lang=lang),
    }


def _run_jobs(jobs: list[Callable[[], T]], *, progress: Callable[[int, int], None] | None = None) -> list[T]:
    """Run ``jobs`` on ``WRITE_THREADS`` threads; their results in order. The first error is raised once all
    have stopped (a writer never leaves a half-written file: each writes under a temporary name)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max(1, min(WRITE_THREADS, len(jobs)))) as pool:
        futures = [pool.submit(job) for job in jobs]
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(jobs))
    return [f.result() for f in futures]


#: DEFLATE level of the GeoTIFFs :func:`write_rasters` writes. At 100k parcels level 3 without a
#: predictor for the parcel layers takes about half the time of GDAL's default (level 6 with a
#: predictor) and the files are smaller (14.0 against 17.1 MB); the values are the same.
RASTER_LEVEL: int = 3


def write_rasters(raster_out: Any, out_dir: Path, *, policy: Any = None) -> dict[str, Path]:
    """Write every metric layer and the density surface as Cloud-Optimized GeoTIFFs.

    Category layers (grade, disposal, flags) are written as uint8 (uint16 beyond 254 codes) with a
    colour table and category names (``<name>.tif.aux.xml``: GDAL's ``CategoryNames`` and a raster
    attribute table, which QGIS and ArcGIS show as the legend), so they open coloured and named; their
    ``<name>_categories.csv`` lists code, value, Chinese and English name and colour. Block ids stay
    int32 codes (thousands of ids, no legend to show) with their code table.
    """
    from gisefficiency.io.raster import write_category_cog, write_cog
    from gisefficiency.io.styles import category_legend

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layers = dict(raster_out.layers)
    if raster_out.density is not None:
        layers["low_efficiency_density"] = raster_out.density

    def write(name: str, layer: Any) -> Path:
        path = out_dir / f"{name}.tif"
        legend = category_legend(name, layer.categories, policy) if layer.categories else None
        if legend is not None and name != "block_id":
            write_category_cog(path, layer.array, transform=layer.transform, crs=layer.crs,
                               nodata=layer.nodata, legend=legend, level=RASTER_LEVEL)
        else:
            # Only the density is a smooth surface; the metric layers are one value per parcel (see
            # write_cog's predictor).
            write_cog(path, layer.array, transform=layer.transform, crs=layer.crs, nodata=layer.nodata,
                      predictor=name == "low_efficiency_density", level=RASTER_LEVEL)
        if legend is not None:
            codes = list(layer.categories)
            table = pd.DataFrame({
                "code": codes, "label": [layer.categories[c] for c in codes],
                "name_zh": [legend[c][0] for c in codes], "name_en": [legend[c][1] for c in codes],
                "colour": [legend[c][2] or "" for c in codes],
            })
            table.to_csv(out_dir / f"{name}_categories.csv", index=False, encoding="utf-8-sig")
        return path

    # One file per layer, compressed by GDAL without the GIL: the layers are written side by side.
    paths = _run_jobs([lambda name=name, layer=layer: write(name, layer) for name, layer in layers.items()])
    return {f"raster_{name}": path for name, path in zip(layers, paths, strict=True)}

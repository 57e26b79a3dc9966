"""Check a configuration's inputs without running the evaluation: every problem at once.

Used by ``gisefficiency validate``: errors make the data unusable (exit 1), warnings are data a
bureau should look at but the run can go on with (bad USCC check digits, repaired geometries,
firms that link to no parcel, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gisefficiency.config import Config
from gisefficiency.errors import ConfigError, InputError, Problem

T = TypeVar("T")


def _attempt(problems: list[Problem], fn: Callable[[], T], where: str | None = None) -> T | None:
    try:
        return fn()
    except InputError as exc:
        problems.extend(exc.problems or [Problem(str(exc), file=where)])
    except ConfigError as exc:
        problems.append(Problem(str(exc), file=where))
    return None


def validate_inputs(config: Config) -> list[Problem]:
    """Read and check every input named in ``config``.

    Parameters
    ----------
    config
        A loaded configuration.

    Returns
    -------
    list of Problem
        Errors first, then warnings, each naming the file, row, column and the fix.
    """
    from gisefficiency.io.tables import inspect_firms
    from gisefficiency.pipeline import (
        firm_options,
        link_configured,
        prepare_configured_parcels,
        read_configured_land,
        read_configured_parcels,
    )
    from gisefficiency.policy import load_preset

    problems: list[Problem] = []
    if config.parcels.path is None:
        problems.append(Problem("no parcel file", fix="set [parcels] path in the config"))
    if config.firms.path is None:
        problems.append(Problem("no firm table", fix="set [firms] path in the config"))
    _attempt(problems, lambda: load_preset(config.policy.preset), "[policy] preset")

    parcels: Any = None
    if config.parcels.path is not None:
        pfile = str(config.parcels.path)
        parcels = _attempt(problems, lambda: read_configured_parcels(config), pfile)
        if parcels is not None:
            raw = parcels
            parcels = _attempt(problems, lambda: prepare_configured_parcels(config, raw), pfile)
        if parcels is not None:
            problems.extend(_parcel_warnings(parcels, pfile))

    firms: Any = None
    if config.firms.path is not None:
        kwargs = firm_options(config)
        # One read gives both the problems and the panel the link check needs.
        inspected = _attempt(problems, lambda: inspect_firms(config.firms.path, **kwargs), str(config.firms.path))
        if inspected is not None:
            firms, checked = inspected
            problems.extend(checked)

    land = None
    if config.land.path is not None:
        land = _attempt(problems, lambda: read_configured_land(config), str(config.land.path))

    if parcels is not None and firms is not None:
        links = _attempt(problems, lambda: link_configured(config, parcels, firms, land))
        if links is not None:
            fl = links.firm_links
            for uscc, status in fl.loc[fl["status"] != "linked", "status"].items():
                problems.append(
                    Problem(
                        f"firm {uscc} is not linked to any parcel ({status})",
                        fix="add its parcel id to the firm table or a land row, or a point inside its parcel",
                        file=str(config.firms.path),
                        column="uscc",
                        severity="warning",
                    )
                )
    return sorted(problems, key=lambda p: p.severity != "error")


def _parcel_warnings(parcels: Any, file: str) -> list[Problem]:
    out: list[Problem] = []
    repaired = parcels.index[parcels["geom_status"] == "repaired"]
    if len(repaired):
        from gisefficiency.errors import format_ids

        out.append(
            Problem(
                f"{len(repaired)} invalid polygon(s) repaired with make_valid: {format_ids(repaired)}",
                fix="check their shapes in QGIS (Vector > Geometry Tools > Check Validity)",
                file=file, column="geometry", severity="warning",
            )
        )
    excluded = parcels.loc[parcels["status"] != "ok", "status"]
    for pid, status in excluded.items():
        out.append(Problem(f"parcel {pid} {status}", fix="draw its polygon or remove the row", file=file,
                           row=_row(parcels, pid), column="geometry", severity="warning"))
    if "area_flag" in parcels:
        flagged = parcels[parcels["area_flag"].fillna(False).astype(bool)]
        for pid, share in flagged["area_diff_share"].items():
            out.append(Problem(
                f"parcel {pid}: certificate area differs from the drawn polygon by {share:+.1%}",
                fix="check the certificate area (证载面积) or the polygon",
                file=file, row=_row(parcels, pid), column="cert_area_m2", severity="warning",
            ))
    return out


def _row(parcels: Any, pid: Any) -> int | None:
    if "src_row" not in parcels:
        return None
    value = parcels.at[pid, "src_row"]
    return int(value) if value == value else None

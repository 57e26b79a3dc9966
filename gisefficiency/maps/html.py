"""Turn a map into one self-contained HTML file: every script and stylesheet inlined, nothing fetched."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import folium

from gisefficiency.maps.encode import pack, unpack

_SCRIPT = re.compile(r'<script src="data:text/javascript;base64,([A-Za-z0-9+/=]+)"></script>')
_STYLE = re.compile(r'<link rel="stylesheet" href="data:text/css;base64,([A-Za-z0-9+/=]+)"\s*/?>')
_CLOSE_SCRIPT = re.compile(r"</(script)", re.IGNORECASE)
_CLOSE_STYLE = re.compile(r"</(style)", re.IGNORECASE)
_ESCAPED = re.compile(r"(?<!\\)((?:\\\\)*)\\(u003[ce]|u0026|/)", re.IGNORECASE)
_UNESCAPE = {"u003c": "<", "u003e": ">", "u0026": "&", "/": "/"}
_PACKED = re.compile(r'(<script type="application/octet-stream" id="[^"]+" data-encoding="gzip\+base64"[^>]*>)'
                     r"([A-Za-z0-9+/=]*)(</script>)")


def rewrite_payloads(page: str, change: Callable[[str], str]) -> str:
    """``page`` (a saved map) with ``change`` applied to the JSON text of each packed payload.

    The payload is gzip-packed, so a text replacement over the page (e.g. ``Anonymiser.scrub_text``, the
    report's safety net for names and USCCs) cannot see into it; this unpacks each part, applies ``change``
    and packs it again. ``change`` must keep the text valid JSON.
    """

    def one(match: re.Match[str]) -> str:
        # encode.dumps wrote "<", ">" and "&" as \u escapes and pandas "/" as "\/": give ``change`` the text as
        # the data has it (an escape preceded by an escaped backslash is the data's own text and stays), and
        # escape "<", ">" and "&" again
        text = _ESCAPED.sub(lambda e: e.group(1) + _UNESCAPE[e.group(2).lower()], unpack(match.group(2)))
        text = change(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return match.group(1) + pack(text) + match.group(3)

    return _PACKED.sub(one, page)


def render_html(m: folium.Map) -> str:
    """The complete HTML of ``m`` with its ``data:`` scripts and stylesheets inlined as text.

    Inlined code is smaller than base64 and readable; a ``</script`` inside a library is written
    ``<\\/script`` so it cannot end the element early.
    """
    page = m.get_root().render()

    def script(match: re.Match[str]) -> str:
        code = base64.b64decode(match.group(1)).decode("utf-8")
        return "<script>" + _CLOSE_SCRIPT.sub(r"<\\/\1", code) + "</script>"

    def style(match: re.Match[str]) -> str:
        css = base64.b64decode(match.group(1)).decode("utf-8")
        return "<style>" + _CLOSE_STYLE.sub(r"<\\/\1", css) + "</style>"

    return _STYLE.sub(style, _SCRIPT.sub(script, page))


def render_linked(m: folium.Map, asset_dir_name: str) -> tuple[str, dict[str, bytes]]:
    """The HTML of ``m`` with its ``data:`` assets moved to files under ``asset_dir_name``.

    Returns the HTML and ``{relative file name: content}`` for the caller to write.
    """
    page = m.get_root().render()
    files: dict[str, bytes] = {}

    def move(match: re.Match[str], ext: str) -> str:
        content = base64.b64decode(match.group(1))
        name = f"{asset_dir_name}/{hashlib.sha1(content).hexdigest()[:12]}.{ext}"
        files[name] = content
        if ext == "js":
            return f'<script src="{name}"></script>'
        return f'<link rel="stylesheet" href="{name}"/>'

    page = _SCRIPT.sub(lambda mt: move(mt, "js"), page)
    page = _STYLE.sub(lambda mt: move(mt, "css"), page)
    return page, files


def save_map(m: folium.Map, path: str | Path, *, inline: bool = True) -> Path:
    """Write the map to ``path`` as HTML.

    Parameters
    ----------
    m
        A map from :func:`gisefficiency.maps.make_map`.
    path
        The ``.html`` file to write (its directory is created).
    inline
        True (default) writes one self-contained file with Leaflet, the plugins and the data inside, which
        opens from a USB stick or e-mail without any network. False writes the scripts and stylesheets next
        to it in ``<name>_files/`` (smaller HTML, but the folder must travel with it).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if inline:
        path.write_text(render_html(m), encoding="utf-8")
        return path
    page, files = render_linked(m, f"{path.stem}_files")
    for name, content in files.items():  # a handful of asset files
        target = path.parent / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    path.write_text(page, encoding="utf-8")
    return path

"""Leaflet and the plugin JS/CSS the maps use, vendored into the package for offline pages.

The pinned files and their licences are committed under ``gisefficiency/maps/assets/vendor/<npm name>/``
(``vendor/README.md`` lists them), keeping each package's own layout so the relative ``url(...)`` references
in its CSS still resolve. They ship inside the wheel, so a map needs no npm and no network at build, install
or run time. Maintainers refresh them after changing a pin in :data:`PACKAGES` with
``python -m gisefficiency.maps.assets --refresh`` (npm and network needed then only).

Our own map code (``map.js``, ``map.css``) lives next to this file and is always inlined.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from gisefficiency.core.errors import ConfigError

ASSET_DIR = Path(__file__).resolve().parent
VENDOR_DIR = ASSET_DIR / "vendor"


@dataclass(frozen=True)
class Package:
    """One npm package and the files the maps take from it.

    Attributes
    ----------
    name, version
        The npm package, pinned.
    js, css
        Paths inside the package (relative to its ``package/`` root) of the script and stylesheet, or "".
    extra
        Other files to keep from the npm package: images the CSS refers to and the licence.
    licence
        The licence file kept beside the package's files (from ``extra``, or added by hand when the npm
        package carries none).
    """

    name: str
    version: str
    js: str = ""
    css: str = ""
    extra: tuple[str, ...] = ()
    licence: str = "LICENSE"

    @property
    def files(self) -> tuple[str, ...]:
        """Every file a map needs from this package plus its licence."""
        return tuple(dict.fromkeys(f for f in (self.js, self.css, *self.extra, self.licence) if f))

    def cdn(self, file: str) -> str:
        """The jsDelivr URL of ``file`` (used only when a map is made with ``offline=False``)."""
        return f"https://cdn.jsdelivr.net/npm/{self.name}@{self.version}/{file}"


#: Exactly what the maps use: Leaflet, and the plugins behind folium's Fullscreen and MeasureControl and our
#: own search box (leaflet-search) and planners' draw-and-export tool (leaflet-draw). No jQuery, Bootstrap
#: or font-awesome: the map's controls do not need them.
PACKAGES: dict[str, Package] = {
    "leaflet": Package(
        "leaflet", "1.9.4", js="dist/leaflet.js", css="dist/leaflet.css",
        extra=("LICENSE", "dist/images/layers.png", "dist/images/layers-2x.png", "dist/images/marker-icon.png"),
    ),
    "fullscreen": Package(
        "leaflet.fullscreen", "3.0.0", js="Control.FullScreen.js", css="Control.FullScreen.css",
        extra=("LICENSE", "icon-fullscreen.svg"),
    ),
    "measure": Package(
        "leaflet-measure", "2.1.7", js="dist/leaflet-measure.min.js", css="dist/leaflet-measure.css",
        extra=("LICENSE", *(f"dist/images/{n}{s}.png" for n in ("cancel", "check", "focus", "rulers", "start",
                                                                 "trash") for s in ("", "_@2X"))),
    ),
    "search": Package(
        "leaflet-search", "2.9.7", js="dist/leaflet-search.min.js", css="dist/leaflet-search.min.css",
        extra=("license.txt", "images/loader.gif", "images/search-icon.png"), licence="license.txt",
    ),
    "draw": Package(
        "leaflet-draw", "1.0.4", js="dist/leaflet.draw.js", css="dist/leaflet.draw.css",
        extra=("dist/images/spritesheet.png", "dist/images/spritesheet-2x.png", "dist/images/spritesheet.svg"),
        # The npm tarball has no licence file: MIT-LICENSE.md is copied from the Leaflet.draw repository.
        licence="MIT-LICENSE.md",
    ),
}

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


def package_dir(key: str) -> Path:
    """Directory of a vendored package (``vendor/<npm name>``)."""
    return VENDOR_DIR / PACKAGES[key].name


def missing_files(key: str) -> list[Path]:
    """Files of package ``key`` that are not yet vendored."""
    root = package_dir(key)
    return [root / f for f in PACKAGES[key].files if not (root / f).is_file()]


def _require(key: str) -> None:
    missing = missing_files(key)
    if missing:
        raise ConfigError(
            f"offline map assets missing: {', '.join(str(p) for p in missing[:3])} -> this installation of "
            "gisefficiency is incomplete (they ship inside the package): reinstall it "
            "(pip install --force-reinstall gisefficiency), or make the map with offline=False to load them "
            "from a CDN.",
            zh=(f"缺少离线地图资源：{', '.join(str(p) for p in missing[:3])} → 本次安装的 gisefficiency 不完整"
                "（这些文件随包发布）：请重新安装（pip install --force-reinstall gisefficiency），"
                "或以 offline=False 生成地图，从 CDN 加载")
        )


def script_text(key: str) -> str:
    """The JavaScript of a vendored package."""
    _require(key)
    return (package_dir(key) / PACKAGES[key].js).read_text(encoding="utf-8")


def style_text(key: str) -> str:
    """The CSS of a vendored package, with every relative ``url(...)`` replaced by a ``data:`` URI.

    Inlined CSS has no base directory, so its images must travel inside it.
    """
    _require(key)
    css_path = package_dir(key) / PACKAGES[key].css
    return inline_css_urls(css_path.read_text(encoding="utf-8"), css_path.parent)


def inline_css_urls(css: str, base: Path) -> str:
    """Replace ``url(relative/path)`` in ``css`` by data URIs of the files under ``base``.

    Fragment (``#default#VML``), ``data:`` and absolute URLs are left alone; a missing file is left as is
    (the browser then shows no image, which is only cosmetic).
    """

    def repl(match: re.Match[str]) -> str:
        ref = match.group(2).strip()
        if ref.startswith(("#", "data:", "http:", "https:", "//")):
            return match.group(0)
        path = (base / ref).resolve()
        if not path.is_file():
            return match.group(0)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f'url("{data_uri(path.read_bytes(), mime)}")'

    return _CSS_URL.sub(repl, css)


def data_uri(content: bytes, mime: str) -> str:
    """A base64 ``data:`` URI."""
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def own_text(name: str) -> str:
    """Our own map code shipped in this directory (``map.js``, ``map.css``)."""
    return (ASSET_DIR / name).read_text(encoding="utf-8")

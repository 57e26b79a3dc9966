"""``python -m gisefficiency.maps.assets``: vendor Leaflet and the map plugins from npm (skips what is present)."""

from __future__ import annotations

import sys

from gisefficiency.core.errors import ConfigError
from gisefficiency.maps.assets import PACKAGES, VENDOR_DIR, ensure_assets


def main(argv: list[str] | None = None) -> int:
    """Fetch missing assets; ``--force`` fetches all again. Returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        fetched = ensure_assets(force="--force" in args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if fetched:
        print(f"vendored {', '.join(fetched)} into {VENDOR_DIR}")
    else:
        print(f"map assets present in {VENDOR_DIR} ({len(PACKAGES)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

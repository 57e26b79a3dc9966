"""``python -m gisefficiency.maps.assets``: check the vendored map files; ``--refresh`` re-fetches them from npm.

For maintainers only. Users never run this: the files are committed and ship inside the wheel. After
changing a pin in ``PACKAGES`` run ``python -m gisefficiency.maps.assets --refresh`` (needs npm and network),
check the map tests, update ``vendor/README.md`` and commit the changed files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from gisefficiency.core.errors import ConfigError
from gisefficiency.maps.assets import PACKAGES, VENDOR_DIR, Package, missing_files, package_dir


def refresh(*, npm: str = "npm") -> list[str]:
    """Fetch every package in ``PACKAGES`` with ``npm pack`` and copy its files into ``vendor/``.

    Parameters
    ----------
    npm
        The npm executable.

    Returns
    -------
    list of str
        ``name@version`` of the packages fetched.

    Raises
    ------
    ConfigError
        npm is not installed, or a package cannot be fetched or lacks a listed file.
    """
    exe = shutil.which(npm)
    if exe is None:
        raise ConfigError(f"npm not found (looked for {npm!r} on PATH) -> install Node.js/npm to refresh the assets",
                          zh=f"找不到 npm（在 PATH 中查找 {npm!r}）→ 请安装 Node.js/npm 以更新资源")
    fetched = []
    with tempfile.TemporaryDirectory(prefix="gisefficiency-npm-") as tmp:
        for key, pkg in PACKAGES.items():
            spec = f"{pkg.name}@{pkg.version}"
            proc = subprocess.run(
                [exe, "pack", spec, "--json", "--silent"], cwd=tmp, capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                raise ConfigError(
                    f"`npm pack {spec}` failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]} -> check the "
                    "network or npm registry settings (npm config get registry)",
                    zh=(f"`npm pack {spec}` 失败（退出码 {proc.returncode}）：{proc.stderr.strip()[-500:]} → 请检查"
                        "网络或 npm 仓库设置（npm config get registry）")
                )
            _extract(Path(tmp) / json.loads(proc.stdout)[0]["filename"], package_dir(key), pkg)
            fetched.append(spec)
    return fetched


def _extract(tarball: Path, dest: Path, pkg: Package) -> None:
    """Copy ``pkg.files`` out of an npm tarball (members are under ``package/``) into ``dest``.

    A licence the tarball lacks (leaflet-draw ships none) is kept as committed, not an error.
    """
    with tarfile.open(tarball) as tar:
        members = {m.name.removeprefix("package/"): m for m in tar.getmembers() if m.isfile()}
        absent = [f for f in pkg.files if f not in members and f != pkg.licence]
        if absent:
            raise ConfigError(
                f"{pkg.name}@{pkg.version}: the npm package has no {', '.join(absent)} -> the pinned version in "
                "gisefficiency/maps/assets/__init__.py (PACKAGES) does not match its file list; fix one of them.",
                zh=(f"{pkg.name}@{pkg.version}：npm 包中没有 {', '.join(absent)} → "
                    "gisefficiency/maps/assets/__init__.py（PACKAGES）中固定的版本与其文件列表不符；请改正其中之一。")
            )
        for f in pkg.files:
            if f not in members:
                continue
            target = dest / f
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(members[f]) as src:  # type: ignore[union-attr]
                target.write_bytes(src.read())


def main(argv: list[str] | None = None) -> int:
    """Check (default) or ``--refresh`` the vendored files. Returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if "--refresh" in args:
            print(f"vendored {', '.join(refresh())} into {VENDOR_DIR}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    missing = [str(p) for key in PACKAGES for p in missing_files(key)]
    if missing:
        print(f"missing: {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"map assets complete in {VENDOR_DIR} ({len(PACKAGES)} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

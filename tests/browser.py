"""Open local HTML pages in headless Chromium for tests (maps, reports).

Uses the Debian ``/usr/bin/chromium`` through the python ``playwright`` package (never ``playwright install``).
One browser per test process is started lazily and closed at exit; every :func:`open_page` gets a fresh
context, so pages never share storage.

Example
-------
>>> with open_page(path) as page:            # doctest: +SKIP
...     assert page.js_errors == []
...     assert page.evaluate("typeof L") == "object"
"""

from __future__ import annotations

import atexit
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("GISEFFICIENCY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
#: Schemes a self-contained page may load; anything else is blocked when ``offline=True``.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

_state: dict[str, Any] = {}


def chromium_available() -> bool:
    """Return True if Chromium and the playwright package are usable here."""
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


#: Decorator for tests that need the browser: marks them ``browser`` and skips them without Chromium.
needs_browser = pytest.mark.skipif(not chromium_available(), reason=f"Chromium not found at {CHROMIUM}")


def _browser():
    """Start (once per process) and return the shared headless Chromium."""
    if "browser" not in _state:
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        _state["pw"] = pw
        _state["browser"] = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        atexit.register(_shutdown)
    return _state["browser"]


def _shutdown() -> None:
    browser = _state.pop("browser", None)
    pw = _state.pop("pw", None)
    try:
        if browser is not None:
            browser.close()
    finally:
        if pw is not None:
            pw.stop()


@dataclass
class PageCheck:
    """An opened page and what happened while it loaded.

    Attributes
    ----------
    path
        The HTML file that was opened.
    js_errors
        Uncaught exceptions thrown by the page's scripts.
    console_errors
        Messages the page logged with ``console.error`` (and failed resource loads Chromium reports there).
    dialogs
        Messages of any ``alert``/``confirm``/``prompt`` the page opened (dismissed at once). A page that
        shows untrusted data must keep this empty.
    blocked_requests
        Non-local URLs the page tried to fetch and that were blocked (``offline=True``).
    screenshot
        PNG of the viewport after loading, or None if ``screenshot=False``.
    load_ms
        Wall time from navigation to ``load`` plus the ``wait_for`` condition, in milliseconds.
    page
        The live playwright ``Page`` for clicks, typing and further checks; valid until :meth:`close`.
    """

    path: Path
    js_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    load_ms: float = float("nan")
    page: Any = None
    _context: Any = None

    def evaluate(self, js: str, arg: Any = None) -> Any:
        """Run a JavaScript expression (or function source) in the page and return its JSON-able value."""
        return self.page.evaluate(js, arg)

    def shoot(self, path: str | Path, *, full_page: bool = False) -> Path:
        """Save a PNG of the page now (e.g. after a click) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    @property
    def errors(self) -> list[str]:
        """Every JS exception and console error, for one-line assertions."""
        return [*self.js_errors, *self.console_errors]

    def close(self) -> None:
        """Close the page's browser context (the shared browser stays up)."""
        if self._context is not None:
            self._context.close()
            self._context = None

    def __enter__(self) -> PageCheck:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_page(
    path: str | Path,
    *,
    offline: bool = True,
    wait_for: str | None = None,
    timeout_ms: float = 15_000,
    screenshot: bool | str | Path = True,
    viewport: tuple[int, int] = (1200, 800),
    settle_ms: float = 150,
) -> PageCheck:
    """Open a local HTML file in headless Chromium and collect errors, dialogs and a screenshot.

    Parameters
    ----------
    path
        The HTML file.
    offline
        Block every request that is not ``file:``/``data:``/``blob:`` (recorded in ``blocked_requests``), so a
        page that needs the network shows it by failing.
    wait_for
        Optional JavaScript expression polled after ``load`` until truthy (e.g. ``"window.__mapReady"``).
    timeout_ms
        Limit for loading and for ``wait_for``.
    screenshot
        True saves a PNG beside the page (``<stem>-shot.png``), a path saves it there, False takes none.
    viewport
        Width and height of the page in CSS pixels.
    settle_ms
        Extra wait after loading so late errors (timers, tile callbacks) are caught.

    Returns
    -------
    PageCheck
        Use it as a context manager, or call ``close()``.
    """
    path = Path(path).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such page to open")
    context = _browser().new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    check = PageCheck(path=path, page=page, _context=context)

    page.on("pageerror", lambda exc: check.js_errors.append(str(exc)))
    page.on("console", lambda msg: check.console_errors.append(msg.text) if msg.type == "error" else None)

    def _dialog(dialog: Any) -> None:
        check.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _dialog)
    if offline:

        def _route(route: Any) -> None:
            url = route.request.url
            if url.startswith(LOCAL_SCHEMES):
                route.continue_()
            else:
                check.blocked_requests.append(url)
                route.abort("internetdisconnected")

        context.route("**/*", _route)

    try:
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
        if wait_for:
            page.wait_for_function(wait_for, timeout=timeout_ms)
        check.load_ms = (time.perf_counter() - start) * 1000
        if settle_ms:
            page.wait_for_timeout(settle_ms)
        if screenshot:
            # True: beside the page (in a test's own temporary folder), so no run leaves files behind.
            target = path.with_name(f"{path.stem}-shot.png") if screenshot is True else Path(screenshot)
            check.screenshot = check.shoot(target)
    except Exception:
        check.close()
        raise
    return check

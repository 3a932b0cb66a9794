"""Browser capture: Debian's Chromium driven by Playwright, every request recorded by our client.

How the bytes are kept exact: Playwright's request interception (``page.route``) hands every
request the page makes (document, XHR/fetch, scripts, styles, images, fonts, iframes) to the
capture session's HTTP client — the same client as API capture, with its private-network guard,
redaction and wire tee — which records the request and the response *as received* into the WARC;
the browser is then fulfilled with the decoded body. Nothing reaches the network behind our back:
Chromium's own proxy points at a closed loopback port, so a request that escapes interception
fails instead of leaving. Limits (docs/browser.md): only GET/HEAD are recorded (other methods are
refused and noted), WebSockets and service workers are not captured, and the browser sees
HTTP/1.1 semantics from our client.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from archiver.capture.browser.behaviours import (
    BEHAVIOURS,
    Behaviour,
    dismiss_banners,
    expand,
    scroll_to_end,
)
from archiver.capture.connectors.base import CaptureSession
from archiver.capture.http import Exchange
from archiver.config import Settings
from archiver.errors import CaptureError
from archiver.logging import get_logger

LAUNCH_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--metrics-recording-only",
    "--mute-audio",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    # anything not intercepted goes to a closed loopback port, never to the network
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
_HOP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})
_FORWARD = frozenset({"accept", "accept-language", "referer", "x-requested-with", "content-type"})
PAGES_PER_BROWSER = 50  # restart Chromium after this many pages (memory creep)


@dataclass
class PageCapture:
    """What one page capture produced."""

    url: str
    main: Exchange | None = None
    main_record: str | None = None
    screenshot_record: str | None = None
    requests: int = 0
    scrolls: int = 0
    clicks: int = 0
    problems: list[str] = field(default_factory=list)


class BrowserCapturer:
    """A Chromium for one capture (or one worker); :meth:`capture` archives one page.

    Use as a context manager. The browser is restarted after :data:`PAGES_PER_BROWSER` pages and
    after a crash; each page gets a fresh context (cookies from the storage-state file only).
    """

    def __init__(
        self,
        settings: Settings,
        session: CaptureSession,
        *,
        platform: str = "web",
        storage_state: Path | None = None,
        screenshot: bool = True,
    ) -> None:
        self.settings = settings
        self.session = session
        self.behaviour = BEHAVIOURS.get(platform, Behaviour())
        self.storage_state = storage_state
        self.screenshot = screenshot
        self.log = get_logger(component="browser")
        self._pw: Any = None
        self._browser: Any = None
        self._pages = 0

    def __enter__(self) -> Self:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise CaptureError(
                "browser capture needs Playwright: pip install 'archiver[browser]'"
            ) from None
        if not self.settings.chromium_path.exists():
            raise CaptureError(
                f"no Chromium at {self.settings.chromium_path}: apt-get install -y chromium "
                "(or set ARCHIVER_CHROMIUM_PATH)"
            )
        self._pw = sync_playwright().start()
        self._launch()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._pw is not None:
                self._pw.stop()

    def _launch(self) -> None:
        args = list(LAUNCH_ARGS)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses its sandbox as root
        self._browser = self._pw.chromium.launch(
            executable_path=str(self.settings.chromium_path), headless=True, args=args
        )
        self._pages = 0

    def capture(self, url: str) -> PageCapture:
        """Load ``url``, run the behaviours, screenshot it; every response goes to the WARC."""
        if self._pages >= PAGES_PER_BROWSER or not self._browser.is_connected():
            self._browser.close()
            self._launch()
        self._pages += 1
        result = PageCapture(url)
        context = self._browser.new_context(
            service_workers="block",
            viewport={"width": 1280, "height": 900},
            user_agent=self.settings.user_agent,
            storage_state=str(self.storage_state) if self.storage_state else None,
        )
        crashed: list[bool] = []
        try:
            context.route("**/*", lambda route, request: self._handle(route, request, result))
            page = context.new_page()
            page.on("crash", lambda _page: crashed.append(True))
            timeout_ms = self.settings.browser_page_timeout * 1000
            deadline = time.monotonic() + self.settings.browser_page_timeout * 2
            try:
                page.goto(url, timeout=timeout_ms, wait_until="load")
            except Exception as exc:  # timeout, crash, refused navigation
                result.problems.append(self._why(url, exc, crashed))
            if not crashed and result.main is not None:
                try:
                    dismiss_banners(page)
                    result.scrolls = scroll_to_end(
                        page, max_steps=self.settings.browser_max_scrolls, deadline=deadline
                    )
                    result.clicks = expand(page, self.behaviour)
                    if result.clicks:
                        result.scrolls += scroll_to_end(page, max_steps=3, deadline=deadline)
                    if self.screenshot:
                        png = page.screenshot(full_page=True, timeout=timeout_ms)
                        result.screenshot_record = self.session.resource(
                            f"urn:screenshot:{url}",
                            "image/png",
                            png,
                            concurrent_to=result.main_record,
                        )
                except Exception as exc:
                    result.problems.append(self._why(url, exc, crashed))
        finally:
            with contextlib.suppress(Exception):
                context.close()
        for problem in result.problems:
            self.session.problem(problem, url=url)
        self.log.info(
            "browser.page_captured",
            url=url,
            requests=result.requests,
            scrolls=result.scrolls,
            screenshot=result.screenshot_record is not None,
            problems=len(result.problems),
        )
        return result

    @staticmethod
    def _why(url: str, exc: Exception, crashed: list[bool]) -> str:
        if crashed:
            return f"the renderer crashed on {url}; archived what arrived before"
        text = str(exc).splitlines()[0]
        if "Timeout" in type(exc).__name__ or "Timeout" in text:
            return f"{url} did not finish loading in time; cut, archived what arrived ({text})"
        return f"browser could not finish {url}: {text}"

    def _handle(self, route: Any, request: Any, result: PageCapture) -> None:
        """Fetch the browser's request with the capture's HTTP client and fulfil it."""
        req_url = str(request.url)
        if req_url.startswith(("data:", "blob:")):
            route.continue_()
            return
        if request.method not in ("GET", "HEAD"):
            result.problems.append(f"{request.method} {req_url} refused: only GET is recorded")
            route.abort("blockedbyclient")
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() in _FORWARD}
        ex = self.session.fetch(req_url, purpose="browser", headers=headers)
        if ex is None:  # refused by the network guard, or no answer: noted by the session
            route.abort("blockedbyclient")
            return
        result.requests += 1
        if (
            result.main is None
            and request.is_navigation_request()
            and request.frame.parent_frame is None
        ):
            result.main, result.main_record = ex, self.session.record_id(ex)
        reply = {k: v for k, v in ex.headers.items() if k.lower() not in _HOP_HEADERS}
        try:
            route.fulfill(status=ex.status, headers=reply, body=ex.content())
        except Exception as exc:  # the page went away meanwhile
            self.log.debug("browser.fulfil_failed", url=req_url, error=str(exc))


def capture_pages(
    settings: Settings,
    session: CaptureSession,
    urls: list[str],
    *,
    platform: str = "web",
    storage_state: Path | None = None,
) -> list[PageCapture]:
    """Capture ``urls`` in one browser; a browser that cannot start is one ledger problem."""
    try:
        with BrowserCapturer(
            settings, session, platform=platform, storage_state=storage_state
        ) as browser:
            return [browser.capture(url) for url in urls]
    except CaptureError as exc:
        session.problem(str(exc))
        return []

"""ReplayWeb.page served on loopback, and a WACZ opened in it through Playwright + Chromium.

The npm package ``replaywebpage`` ships its built ``ui.js`` and ``sw.js``; ``make
replaywebpage`` unpacks it into ``.cache/replaywebpage/package`` (never in git). The server
answers HTTP range requests, which ReplayWeb.page uses to read a WACZ's entries in place.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from tests.conftest import ROOT

RWP_DIR = ROOT / ".cache" / "replaywebpage" / "package"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-dev-shm-usage",
]
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")

EMBED = """<!doctype html>
<html><head><meta charset="utf-8"><script src="/ui.js"></script></head>
<body style="margin:0">
<replay-web-page style="height:100vh;display:block" source="/{wacz}" url="{url}"
  ts="{ts}" replayBase="/replay/" embed="replayonly"></replay-web-page>
</body></html>
"""


def missing() -> str | None:
    """Why the ReplayWeb.page test cannot run here, or None."""
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    if not (RWP_DIR / "sw.js").exists() or not (RWP_DIR / "ui.js").exists():
        return "ReplayWeb.page is not unpacked in .cache/replaywebpage (make replaywebpage)"
    return None


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, tuple[Path, str]]] = {}

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        entry = self.files.get(path)
        if entry is None:
            self.send_error(404)
            return
        file, mime = entry
        size = file.stat().st_size
        start, end = 0, size - 1
        match = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        status = 200
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else size - 1
            else:  # the last N bytes
                start = max(0, size - int(match.group(2)))
            end = min(end, size - 1)
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if path.endswith("sw.js"):
            self.send_header("Service-Worker-Allowed", "/")
        self.end_headers()
        with file.open("rb") as fh:
            fh.seek(start)
            self.wfile.write(fh.read(end - start + 1))

    def do_HEAD(self) -> None:
        entry = self.files.get(self.path.split("?", 1)[0])
        if entry is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", entry[1])
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(entry[0].stat().st_size))
        self.end_headers()


@contextmanager
def serve_replaywebpage(wacz: Path, url: str, ts: str, work: Path) -> Iterator[str]:
    """Serve ReplayWeb.page, ``wacz`` and an embed page opening ``url`` at ``ts`` (14 digits)
    on 127.0.0.1; yields the embed page's address."""
    embed = work / "embed.html"
    embed.write_text(EMBED.format(wacz=wacz.name, url=url, ts=ts), encoding="utf-8")
    handler = type(
        "Handler",
        (_Handler,),
        {
            "files": {
                "/": (embed, "text/html"),
                "/ui.js": (RWP_DIR / "ui.js", "application/javascript"),
                "/replay/sw.js": (RWP_DIR / "sw.js", "application/javascript"),
                f"/{wacz.name}": (wacz, "application/wacz+zip"),
            }
        },
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def replayed_text(address: str, needle: str, timeout: float = 90.0) -> str:
    """Open ``address`` in Chromium and return the text of the first frame that shows
    ``needle`` (ReplayWeb.page nests the replayed page in iframes), or every frame's text
    when none did before ``timeout``."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(address)
            seen = ""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                texts = []
                for frame in page.frames:
                    try:
                        texts.append(frame.evaluate("document.body ? document.body.innerText : ''"))
                    except Error:
                        continue
                for text in texts:
                    if needle in text:
                        return text
                seen = "\n---\n".join(texts)
                page.wait_for_timeout(500)
            return seen
        finally:
            browser.close()

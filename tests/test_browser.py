"""Browser capture in Debian's Chromium: a page that builds itself with JavaScript (a second batch
only after scrolling, a third behind "Show more"), images, an iframe; every response in the WARC,
a full-page screenshot as a resource record; pages that hang, crash or point at a metadata
address; pywb replays the capture offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.browser import BrowserCapturer
from archiver.capture.job import capture_account
from archiver.config import load_settings
from archiver.simulator import Simulator
from tests.conftest import ROOT, MakeRuntime, write_policy

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install -y chromium)"
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def page_policy(folder: Path, url: str, capture: str = "[page]") -> Path:
    return write_policy(
        folder,
        f"""\
series:
  - id: pages
    title: Web pages
    retention: P90D
accounts:
  - id: social-page
    agency: Example Agency
    platform: web
    url: {url}
    series: pages
    schedule: PT1H
    capture: {capture}
""",
    )


def stored_records(rt, tmp_path: Path) -> tuple[list[Path], list]:  # type: ignore[no-untyped-def]
    files, records = [], []
    for warc in rt.index.list_warcs(status="stored"):
        target = tmp_path / warc.name
        with rt.store.open_read(warc.key) as src:
            target.write_bytes(src.read())
        files.append(target)
        with target.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                records.append((rec.rec_type, rec.rec_headers, rec.content_stream().read()))
    return files, records


def test_a_scrolling_javascript_page_is_captured_whole_with_a_screenshot(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    url = f"{sim.base_url}/www.example-agency.gov/social/"
    rt = make_runtime(page_policy(tmp_path / "policies", url))
    result = capture_account(rt, "social-page")
    assert result.status == "ok", result.problems
    files, records = stored_records(rt, tmp_path)
    responses = {h.get_header("WARC-Target-URI") for t, h, _ in records if t == "response"}
    for part in ("", "style.css", "logo.png", "embed.html", "poster.jpg"):
        assert url + part in responses
    for page in (1, 2, 3):  # 2 only after scrolling, 3 only after "Show more"
        assert f"{url}posts.json?page={page}" in responses
    requests = [t for t, _, _ in records if t == "request"]
    assert len(requests) >= len(responses)
    resources = [(h, b) for t, h, b in records if t == "resource"]
    [(shot, png)] = [(h, b) for h, b in resources if h.get_header("Content-Type") == "image/png"]
    assert png.startswith(PNG_MAGIC)
    # the page read as a post has a post page, kept off its URL: the real page was captured
    pages = [h for h, _ in resources if h.get_header("Content-Type").startswith("text/html")]
    assert [h.get_header("WARC-Target-URI").split(":")[:2] for h in pages] == [["urn", "archiver"]]
    assert len(resources) == 2
    main = [h for t, h, _ in records if t == "response" and h.get_header("WARC-Target-URI") == url]
    assert shot.get_header("WARC-Concurrent-To") == main[0].get_header("WARC-Record-ID")
    for f in files:
        check = subprocess.run(
            [sys.executable, "-m", "warcio.cli", "check", str(f)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
    assert rt.index.search("Example Agency")  # the page itself is indexed


def test_a_page_that_never_finishes_is_cut_and_partial(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    url = f"{sim.base_url}/www.example-agency.gov/social/hang.html"
    rt = make_runtime(
        page_policy(tmp_path / "policies", url),
        browser_page_timeout=3.0,
        http_read_timeout=1.5,
    )
    result = capture_account(rt, "social-page")
    assert result.status == "partial"
    assert any("did not finish loading" in p or "timed out" in p for p in result.problems), (
        result.problems
    )
    _, records = stored_records(rt, tmp_path)
    assert url in {h.get_header("WARC-Target-URI") for t, h, _ in records if t == "response"}


def test_an_embed_pointing_at_a_metadata_address_is_refused(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    url = f"{sim.base_url}/www.example-agency.gov/social/metadata.html"
    rt = make_runtime(page_policy(tmp_path / "policies", url))
    result = capture_account(rt, "social-page")
    assert result.status == "partial"
    assert any("169.254.169.254" in p and "refused" in p for p in result.problems), result.problems


class _Session:
    """Records what the capturer reports; the crash page makes no request to record."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, message: str, *, url: str | None = None) -> None:
        self.problems.append(message)


def test_a_renderer_crash_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path, browser_page_timeout=10.0)
    session = _Session()
    with BrowserCapturer(settings, session) as browser:  # type: ignore[arg-type]
        crashed = browser.capture("chrome://crash")
        assert crashed.problems and crashed.main is None
        again = browser.capture("about:blank")  # the browser survives for the next page
        assert again.problems == [] or all("crash" not in p for p in again.problems)
    assert session.problems


def test_pywb_replays_the_page_offline_after_the_simulator_stops(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    from archiver.errors import UsageError
    from archiver.replay import pywb_bin

    try:
        tools = pywb_bin(ROOT / ".venv-pywb" / "bin")
    except UsageError as exc:
        pytest.skip(str(exc))
    import socket
    import time
    import urllib.request

    from archiver.replay import build_collection, wayback_command

    url = f"{sim.base_url}/www.example-agency.gov/social/"
    rt = make_runtime(page_policy(tmp_path / "policies", url))
    assert capture_account(rt, "social-page").status == "ok"
    sim.stop()  # from here on, a request to the live page would fail
    root = tmp_path / "replay"
    assert build_collection(rt, root, bin_dir=tools) >= 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        wayback_command(root, port, tools), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        body = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/archive/id_/{url}", timeout=5
                ) as answer:
                    body = answer.read()
                break
            except OSError:
                time.sleep(0.5)
        assert b"Example Agency posts" in body
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/archive/id_/{url}posts.json?page=2", timeout=5
        ) as answer:
            assert b"Batch 2 item 1" in answer.read()  # the XHR made after scrolling replays
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_a_browser_capture_exports_as_a_wacz_that_wacz_validate_accepts(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    from archiver.export.package import Selection, export_package
    from archiver.export.wacz import verify_wacz

    validator = ROOT / ".venv-pywb" / "bin" / "wacz"
    url = f"{sim.base_url}/www.example-agency.gov/social/"
    rt = make_runtime(page_policy(tmp_path / "policies", url))
    assert capture_account(rt, "social-page").status == "ok"
    target = tmp_path / "social.wacz"
    export_package(rt, Selection(account="social-page"), target, fmt="wacz")
    verify_wacz(target)  # our own reader: digests and required files
    import zipfile

    with zipfile.ZipFile(target) as wacz:
        names = set(wacz.namelist())
        assert {"datapackage.json", "datapackage-digest.json", "pages/pages.jsonl"} <= names
        assert any(n.startswith("indexes/") for n in names)
        assert url.encode() in wacz.read("pages/pages.jsonl")
    if not validator.exists():
        pytest.skip("py-wacz is not installed in .venv-pywb (make replay-env)")
    check = subprocess.run(
        [str(validator), "validate", "-f", str(target)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr

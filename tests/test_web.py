"""The web console: in a real browser (Playwright + Debian Chromium) over a demo-like archive,
plus plain HTTP for sign-in and roles, and the ``archiver web`` process itself."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archiver.errors import ConfigError
from archiver.governance.disposition import make_plan
from archiver.governance.holds import HoldCriteria, add_hold
from archiver.index.api import NormalizedPost
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from archiver.web import Console, ConsoleServer
from archiver.web.auth import check_password, hash_password
from tests.conftest import MakeRuntime, archiver_env

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


@dataclass
class Archive:
    rt: Runtime
    edited_post: str
    reply_post: str
    hostile_post: str
    hold_id: str
    plan_id: str


def build_archive(rt: Runtime, sim: Simulator) -> Archive:
    """Like ``archiver demo``: every demo account captured three times (edits, then deletions
    in between), a legal hold, a disposition plan, and one post with hostile text."""
    from archiver.capture.job import capture_account

    assert rt.policies is not None
    for round_ in range(3):
        for account in rt.policies.accounts:
            assert capture_account(rt, account, trigger="test").status != "failed"
        if round_ < 2:
            sim.advance()
    edited = rt.index.list_posts("demo-nasa-news", edited=True)[0]
    replies = [
        p for p in rt.index.list_posts("demo-usgs-mastodon") if p.kind == "reply" and p.author
    ]
    last = rt.index.list_captures("demo-agency-rdf", limit=1)[0]
    rt.index.record_posts(
        account="demo-agency-rdf",
        series=last.series,
        platform=last.platform,
        capture_id=last.capture_id,
        captured_at=last.started_at,
        posts=[NormalizedPost(native_id="hostile-1", url=None, text=HOSTILE, title=HOSTILE)],
    )
    hostile = next(p for p in rt.index.list_posts("demo-agency-rdf") if p.native_id == "hostile-1")
    hold, _ = add_hold(rt, "FOIA-2026-17", "records request", HoldCriteria(account="demo-wechat"))
    plan = make_plan(rt)
    return Archive(
        rt, edited.post_id, replies[0].post_id, hostile.post_id, hold.hold_id, plan.plan_id
    )


@pytest.fixture
def archive(make_runtime: MakeRuntime, sim: Simulator) -> Archive:
    return build_archive(make_runtime(), sim)


@pytest.fixture
def open_console(archive: Archive) -> Iterator[str]:
    server = ConsoleServer(Console(archive.rt, users=None), "127.0.0.1", 0)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_archivist_finds_a_post_and_compares_its_versions_in_a_browser(
    archive: Archive, open_console: str, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(open_console)
    assert "Open access" in page.inner_text(".banner")
    page.click("text=Search")
    page.fill("input[name=q]", "mission*")
    page.select_option("select[name=account]", "demo-nasa-news")
    page.fill("input[name=since]", "2026-01-01")
    page.click("button[type=submit]")
    rows = page.locator("table.posts tr")
    assert rows.count() > 1
    assert all("demo-nasa-news" in rows.nth(i).inner_text() for i in range(1, rows.count())), (
        "the account filter holds"
    )

    page.fill("input[name=until]", "2000-01-01")
    page.click("button[type=submit]")
    assert "0 result(s)" in page.inner_text("main")

    page.goto(f"{open_console}posts/{archive.edited_post}")
    versions = page.locator("section.version")
    assert versions.count() == 2, "both versions side by side"
    boxes = [versions.nth(i).bounding_box() for i in range(2)]
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] < boxes[1]["x"]
    _, history, _ = archive.rt.index.history(archive.edited_post)
    old_words = set(f"{history[0].title} {history[0].text}".split())
    new_words = set(f"{history[1].title} {history[1].text}".split())
    deleted = page.locator("#v2 del").all_inner_texts()
    inserted = page.locator("#v2 ins").all_inner_texts()
    assert deleted and inserted
    assert all(set(d.split()) <= old_words for d in deleted)
    assert set(" ".join(inserted).split()) & (new_words - old_words)
    replay = page.locator("#v1 a", has_text="replay the record").get_attribute("href")
    stamp = f"{history[0].captured_at:%Y%m%d%H%M}"
    assert re.fullmatch(rf"http://127\.0\.0\.1:8080/archive/{stamp}\d\d/http://.+", replay)
    page.screenshot(path=str(tmp_path / "post.png"))
    _keep_screenshot(tmp_path / "post.png", "console-post.png")

    page.goto(f"{open_console}posts/{archive.reply_post}")
    reply, _, _ = archive.rt.index.history(archive.reply_post)
    assert reply.author and reply.author in page.inner_text("main")
    assert "in reply to" in page.inner_text("main")

    page.goto(f"{open_console}accounts/demo-usgs-mastodon")
    assert "reply" in page.inner_text("table.posts")
    page.screenshot(path=str(tmp_path / "timeline.png"))
    _keep_screenshot(tmp_path / "timeline.png", "console-timeline.png")


def test_governance_pages_show_holds_plans_reports_and_the_audit_trail(
    archive: Archive, open_console: str, browser: Any
) -> None:
    page = browser.new_page()
    page.goto(open_console + "holds")
    assert archive.hold_id in page.inner_text("main") and "FOIA-2026-17" in page.inner_text("main")
    page.goto(open_console + "plans")
    page.click(f"text={archive.plan_id}")
    assert "Blocked" in page.inner_text("main")
    assert "not yet due" in page.inner_text("main")
    seq_before = archive.rt.index.audit_chain_head()
    page.goto(open_console + "reports")
    page.click("text=coverage")
    assert "demo-usgs-mastodon" in page.inner_text("body")
    head = archive.rt.index.audit_chain_head()
    assert head is not None and seq_before is not None and head.seq > seq_before.seq
    assert head.action == "report.generated" and head.payload["via"] == "web"
    page.goto(open_console + "audit")
    assert "report.generated" in page.inner_text("main")
    assert "hold.placed" in page.inner_text("main") or "hold" in page.inner_text("main")


def test_hostile_post_text_is_shown_as_text_never_run(
    archive: Archive, open_console: str, browser: Any
) -> None:
    page = browser.new_page()
    page.goto(f"{open_console}posts/{archive.hostile_post}")
    assert page.evaluate("window.pwned") is None
    assert page.locator("main script, main img").count() == 0
    assert "<script>window.pwned=1</script>" in page.inner_text("main")
    page.goto(f"{open_console}search?q=pwned&account=demo-agency-rdf")
    assert page.evaluate("window.pwned") is None
    with urllib.request.urlopen(f"{open_console}posts/{archive.hostile_post}") as r:
        body = r.read().decode()
        csp = r.headers["Content-Security-Policy"]
    assert "&lt;script&gt;" in body and "<script>" not in body
    assert "default-src 'none'" in csp


# --- sign-in and roles over plain HTTP ---------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(base: str, path: str, cookie: str | None = None) -> tuple[int, str, dict[str, str]]:
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(base.rstrip("/") + path)
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def _sign_in(base: str, name: str, password: str) -> tuple[int, str | None]:
    opener = urllib.request.build_opener(_NoRedirect)
    data = urllib.parse.urlencode({"username": name, "password": password, "next": "/"}).encode()
    try:
        with opener.open(base.rstrip("/") + "/login", data=data, timeout=30) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        cookie = e.headers.get("Set-Cookie")
        return e.code, cookie.split(";", 1)[0] if cookie else None


USERS = {"alice": ["archivist"], "rob": ["records_officer"], "ada": ["auditor"]}


def write_users(path: Path) -> Path:
    lines = ["users:"]
    for name, roles in USERS.items():
        lines += [
            f"  {name}:",
            f"    roles: [{', '.join(roles)}]",
            f'    password: "{hash_password(name + "-secret")}"',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_roles_are_enforced_by_the_server(archive: Archive, tmp_path: Path) -> None:
    from archiver.web.auth import load_users

    users = load_users(write_users(tmp_path / "users.yaml"))
    server = ConsoleServer(Console(archive.rt, users=users), "127.0.0.1", 0)
    base = server.start()
    try:
        status, _, headers = _get(base, "/search?q=nasa")
        assert status == 303 and headers["Location"].startswith("/login")
        assert _sign_in(base, "alice", "wrong")[0] == 401
        assert _sign_in(base, "mallory", "mallory-secret")[0] == 401
        cookies = {}
        for name in USERS:
            status, cookie = _sign_in(base, name, name + "-secret")
            assert status == 303 and cookie, name
            cookies[name] = cookie
        pages = {
            "archivist": [
                "/search?q=nasa",
                "/accounts/demo-nasa-news",
                f"/posts/{archive.edited_post}",
            ],
            "records_officer": ["/holds", "/plans", f"/plans/{archive.plan_id}"],
            "auditor": ["/reports", "/reports/holds", "/audit"],
        }
        for name, roles in USERS.items():
            for role, paths in pages.items():
                for path in paths:
                    status, body, _ = _get(base, path, cookies[name])
                    expected = 200 if role in roles else 403
                    assert status == expected, (name, path, status)
                    if status == 403:
                        assert "role" in body
        status, body, _ = _get(base, "/", cookies["alice"])
        assert status == 200 and "Open access" not in body and "/holds" not in body
        # signing out ends the session on the server, not only in the browser
        opener = urllib.request.build_opener(_NoRedirect)
        req = urllib.request.Request(
            base + "logout", data=b"", headers={"Cookie": cookies["alice"]}
        )
        with pytest.raises(urllib.error.HTTPError) as done:
            opener.open(req, timeout=30)
        assert done.value.code == 303
        assert _get(base, "/search?q=nasa", cookies["alice"])[0] == 303
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_network_address_requires_sign_in(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    from archiver.web.auth import load_users

    rt = make_runtime()
    with pytest.raises(ConfigError, match="ARCHIVER_WEB_USERS"):
        ConsoleServer(Console(rt, users=None), "0.0.0.0", 0)
    users = load_users(write_users(tmp_path / "users.yaml"))
    server = ConsoleServer(Console(rt, users=users), "0.0.0.0", 0)
    server.start()
    try:
        status, _, headers = _get(f"http://127.0.0.1:{server.port}", "/")
        assert status == 303 and headers["Location"].startswith("/login")
    finally:
        server.stop()


def test_password_hashes_are_scrypt_and_salted() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("scrypt$") and first != second
    assert check_password("s3cret", first) and not check_password("S3cret", first)
    assert not check_password("s3cret", "plain-text")


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_archiver_web_process_starts_serves_and_stops_on_sigterm(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    rt = make_runtime()
    env = archiver_env(rt)
    cmd = [sys.executable, "-m", "archiver.cli.main", "web"]
    refused = subprocess.run(
        [*cmd, "--host", "0.0.0.0", "--port", "0"], env=env, capture_output=True, timeout=60
    )
    assert refused.returncode == 2 and b"ARCHIVER_WEB_USERS" in refused.stderr
    hashed = subprocess.run(
        [*cmd, "--hash-password"], env=env, input=b"pw\n", capture_output=True, timeout=60
    )
    assert hashed.returncode == 0 and check_password("pw", hashed.stdout.decode().strip())

    proc = subprocess.Popen(
        [*cmd, "--port", "0"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        found = re.search(r"console on (http://127\.0\.0\.1:\d+/)", line)
        assert found, line
        status, body, _ = _get(found.group(1), "/")
        assert status == 200 and "Records console" in body
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _keep_screenshot(png: Path, name: str) -> None:
    """With ``DOCS_SCREENSHOTS=1``, refresh the screenshot in docs/img/."""
    assert png.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        target = Path(__file__).resolve().parent.parent / "docs" / "img" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png.read_bytes())

"""WACZ exports that the replay tools open, on both backends: plain ZIP headers, the post pages
listed, the listings and custody statement inside a `-o x.wacz`; pywb imports it and
ReplayWeb.page (in Chromium) renders a post page from it; `archiver replay` with a relative
data dir serves the post pages, says why pywb failed, and SIGTERM leaves no pywb behind."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import urllib.request
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.errors import UsageError
from archiver.export.package import Selection, export_package
from archiver.export.wacz import cdx_timestamp, verify_wacz
from archiver.replay import build_collection, pywb_bin
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import ROOT, MakeRuntime, archiver_env
from tests.platforms import ACCOUNT, posts
from tests.processes import free_port
from tests.replaywebpage import missing, replayed_text, serve_replaywebpage
from tests.test_postpages import mastodon

PYWB = ROOT / ".venv-pywb" / "bin"
ZIP64_EXTRA = 0x0001


def mastodon_story(make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path) -> Runtime:
    """Two rounds of a Mastodon account an hour apart: 45 posts and replies, then one edited
    and one new (replay tells captures apart by the second)."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
    rt = mastodon(make_runtime, sim, tmp_path, clock=clock)
    for _ in range(2):
        assert capture_account(rt, ACCOUNT).status == "ok"
        sim.advance()
        clock.advance(timedelta(hours=1))
    return rt


def local_headers(path: Path) -> dict[str, list[int]]:
    """Each entry's local file header extra-field ids, read from the bytes themselves."""
    found: dict[str, list[int]] = {}
    with zipfile.ZipFile(path) as zf, path.open("rb") as fh:
        for info in zf.infolist():
            fh.seek(info.header_offset)
            head = fh.read(30)
            assert head[:4] == b"PK\x03\x04", info.filename
            name_len, extra_len = struct.unpack("<HH", head[26:30])
            fh.seek(name_len, 1)
            extra = fh.read(extra_len)
            ids, at = [], 0
            while at + 4 <= len(extra):
                kind, size = struct.unpack("<HH", extra[at : at + 4])
                ids.append(kind)
                at += 4 + size
            found[info.filename] = ids
    return found


def pywb_tools() -> Path:
    try:
        return pywb_bin(PYWB)
    except UsageError as exc:
        pytest.skip(str(exc))


def edited_post_page(rt: Runtime) -> tuple[str, str]:
    """The edited post's URL and the text of its current version."""
    post = next(p for p in posts(rt, "post") if p.edited)
    _, versions, _ = rt.index.history(post.post_id)
    assert post.url
    return post.url, versions[-1].text


def test_wacz_has_plain_zip_headers_lists_post_pages_and_keeps_listings_and_custody(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = mastodon_story(make_runtime, sim, tmp_path)
    target = tmp_path / "usgs.wacz"
    result = export_package(rt, Selection(account=ACCOUNT), target, fmt="wacz")
    assert verify_wacz(target) == []
    headers = local_headers(target)
    assert headers and all(ZIP64_EXTRA not in ids for ids in headers.values()), headers

    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        extras = {"export/posts.csv", "export/posts.pdf", "export/custody.json"}
        assert extras | {"export/custody.txt", "indexes/index.cdx"} <= names
        package = json.loads(zf.read("datapackage.json"))
        assert {r["path"] for r in package["resources"]} == names - {
            "datapackage.json",
            "datapackage-digest.json",
        }
        lines = zf.read("pages/pages.jsonl").decode().splitlines()
        custody = json.loads(zf.read("export/custody.json"))
        csv_rows = zf.read("export/posts.csv").decode().splitlines()
        assert zf.read("export/posts.pdf").startswith(b"%PDF")
    pages = [json.loads(line) for line in lines[1:]]
    all_posts = posts(rt)
    # every post and reply has a page; the edited one has one per version
    assert len(pages) == len(all_posts) + 1
    assert {p["url"] for p in pages} == {p.url for p in all_posts}
    url, _ = edited_post_page(rt)
    assert len([p for p in pages if p["url"] == url]) == 2
    assert all(p.get("title") for p in pages)
    assert (
        custody["export_id"] == result.export_id and custody["counts"]["posts"] == len(csv_rows) - 1
    )
    assert result.manifest_sha256 and result.wacz_sha256


def test_pywb_imports_the_wacz_and_replays_the_post_page(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    tools = pywb_tools()
    rt = mastodon_story(make_runtime, sim, tmp_path)
    sim.stop()  # nothing can come from the live simulator from here on
    target = tmp_path / "usgs.wacz"
    export_package(rt, Selection(account=ACCOUNT), target, fmt="wacz")
    root = tmp_path / "pywb"
    root.mkdir()
    manager = str(tools / "wb-manager")
    subprocess.run([manager, "init", "c"], cwd=root, check=True, capture_output=True)
    added = subprocess.run(
        [manager, "add", "--unpack-wacz", "c", str(target)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert added.returncode == 0 and "does not contain" not in added.stderr, added.stderr
    index = (root / "collections" / "c" / "indexes" / "index.cdxj").read_text()
    url, text = edited_post_page(rt)
    assert url.split("://", 1)[1].split("/", 1)[1] in index
    port = free_port()
    server = subprocess.Popen(
        [str(tools / "wayback"), "--port", str(port), "--bind", "127.0.0.1"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = fetch_until(f"http://127.0.0.1:{port}/c/id_/{url}")
        assert text.encode() in body and b"Edit history" in body
    finally:
        server.terminate()
        server.wait(timeout=20)


def fetch_until(url: str, timeout: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return bytes(answer.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_replaywebpage_renders_the_post_page_from_the_exported_wacz(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    reason = missing()
    if reason:
        pytest.skip(reason)
    rt = mastodon_story(make_runtime, sim, tmp_path)
    sim.stop()
    target = tmp_path / "usgs.wacz"
    export_package(rt, Selection(account=ACCOUNT), target, fmt="wacz")
    url, text = edited_post_page(rt)
    newest = max(r.date for r in rt.index.records_for_uri(url))
    with serve_replaywebpage(target, url, cdx_timestamp(newest), tmp_path) as address:
        shown = replayed_text(address, text)
    assert text in shown and "Edit history" in shown, shown[:2000]


# --- archiver replay ------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_replay_with_a_relative_data_dir_serves_post_pages_and_sigterm_stops_pywb(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    tools = pywb_tools()
    rt = mastodon_story(make_runtime, sim, tmp_path)
    sim.stop()
    assert rt.settings.data_dir == tmp_path / "data"
    port = free_port()
    env = archiver_env(rt, data_dir="data", pywb_bin=tools)  # relative, as the README has it
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver.cli.main", "replay", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url, text = edited_post_page(rt)
        try:
            body = fetch_until(f"http://127.0.0.1:{port}/archive/id_/{url}", timeout=90)
        except OSError:
            proc.kill()
            raise AssertionError(proc.communicate()[1][-2000:]) from None
        assert text.encode() in body
        pywb = children(proc.pid)
        assert pywb and all(alive(p) for p in pywb)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pywb) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(p) for p in pywb), "pywb outlived archiver replay"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_failing_wb_manager_says_what_pywb_said(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    tools = pywb_tools()
    rt = make_runtime()
    capture_account(rt, "demo-usgs-quakes")
    root = tmp_path / "replay"
    root.mkdir()
    (root / "collections").write_text("not a folder")  # wb-manager init cannot make its tree
    with pytest.raises(UsageError) as failed:
        build_collection(rt, root, bin_dir=tools)
    message = str(failed.value)
    assert "wb-manager init failed" in message and "Not a directory" in message

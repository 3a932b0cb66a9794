"""kill -9 during a capture: every whole record is stored exactly once, index matches store."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.capture.recovery import recover_spool
from archiver.simulator import Simulator
from archiver.warc.reader import read_file_records
from tests.conftest import MakeRuntime, archiver_env, write_policy
from tests.processes import kill_when_spooled

IMAGES = 8


@pytest.fixture
def slow_feed(sim: Simulator) -> Iterator[str]:
    """A feed whose last enclosure never answers: the capture is stuck mid-way, as in a crash."""
    items = "".join(
        f"<item><title>Post {i}</title><link>https://agency.example/p/{i}</link>"
        f"<guid>p{i}</guid><description>Update number {i}</description>"
        f'<enclosure url="{sim.base_url}/agency.example/img/{i}.png" type="image/png" length="1"/>'
        "</item>"
        for i in range(IMAGES)
    )
    hang = (
        f'<item><title>Stuck</title><guid>stuck</guid><enclosure url="{sim.base_url}'
        '/_fault/hang" type="image/png" length="1"/></item>'
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Agency</title>'
        f"{items}{hang}</channel></rss>"
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/feed.rss"
    server.shutdown()


def test_kill_9_mid_capture_loses_no_whole_record(
    make_runtime: MakeRuntime, slow_feed: str, tmp_path: Path, backend: dict[str, str]
) -> None:
    policies = write_policy(
        tmp_path / "p",
        f"""\
series:
  - id: crash-series
    title: Crash test
    retention: P1Y
accounts:
  - id: crashy
    agency: Test Agency
    platform: feed
    url: {slow_feed}
    series: crash-series
    schedule: PT1H
    options: {{media: true}}
""",
    )
    rt = make_runtime(policies=policies)  # migrates the index, creates the bucket
    env = archiver_env(
        rt,
        policies=str(policies),
        http_read_timeout="120",
        log_level="warning",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver.cli.main", "capture", "crashy"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    spool = rt.settings.spool_dir
    # the feed and every image in the open file (warcinfo, then request + response each); the
    # last request hangs, so the process is mid-capture when it is killed
    kill_when_spooled(proc, spool, 1 + 2 * (1 + IMAGES), "its records")
    [opened] = list(spool.glob("*.open"))
    whole_before = [r.written for r in read_file_records(opened)]
    report = recover_spool(rt)
    assert len(report.repaired) == 1 and report.shipped == [opened.name.removesuffix(".open")]
    assert not list(spool.iterdir()), "nothing left behind in the spool"
    [warc] = rt.index.list_warcs()
    assert warc.status == "stored"
    stored = tmp_path / "stored.warc.gz"
    with rt.store.open_read(warc.key) as src:
        stored.write_bytes(src.read())
    in_store = [r.written for r in read_file_records(stored)]
    in_index = rt.index.records_of_capture(warc.capture_id)
    assert [r.record_id for r in in_store] == [r.record_id for r in whole_before]
    assert sorted(r.record_id for r in in_store) == sorted(r.record_id for r in in_index)
    assert len({r.record_id for r in in_index}) == len(in_index), "each record exactly once"
    assert {(r.offset, r.length) for r in in_store} == {(r.offset, r.length) for r in in_index}
    capture = rt.index.get_capture(warc.capture_id)
    assert capture.status == "partial" and capture.error and "interrupted" in capture.error
    # Posts are rebuilt from the archived feed response.
    assert len(rt.index.list_posts("crashy")) == IMAGES + 1
    # Recovery is idempotent.
    again = recover_spool(rt)
    assert again.repaired == [] and again.shipped == []
    assert len(rt.index.records_of_capture(warc.capture_id)) == len(in_index)

"""Nothing hangs: a server trickling bytes is cut at the response deadline, a capture that runs
past its deadline stops fetching, and what was fetched is archived and flagged either way."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.capture.http import HttpClient, HttpLimits
from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime
from tests.platforms import api_root, platform_policy, stored_bytes


@pytest.fixture
def slow_loris() -> Iterator[str]:
    """A loopback server that sends its headers, then one byte every 0.1 s for up to 20 s."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                    b"Content-Length: 100000\r\n\r\n<rss>"
                )
                until = time.monotonic() + 20
                try:
                    while not stop.is_set() and time.monotonic() < until:
                        conn.sendall(b" ")
                        time.sleep(0.1)
                except OSError:
                    pass  # the client gave up: as it should

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    host, port = listener.getsockname()
    yield f"http://{host}:{port}/feed.xml"
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_trickling_response_is_cut_at_the_deadline(slow_loris: str) -> None:
    limits = HttpLimits(response_deadline=1.0, read_timeout=5.0, max_retries=0)
    with HttpClient(limits=limits, allow_private=True) as http:
        started = time.monotonic()
        [exchange] = http.get(slow_loris)
        took = time.monotonic() - started
    assert exchange.truncated == "time"
    assert "deadline" in (exchange.error or "")
    assert exchange.content().startswith(b"<rss>")
    assert took < 10, "the deadline, not the server, ended the response"


def test_capture_of_a_trickling_feed_is_archived_and_flagged(
    tmp_path: Path, make_runtime: MakeRuntime, slow_loris: str
) -> None:
    folder = platform_policy(tmp_path / "p", "feed", url=slow_loris, options="{media: false}")
    rt = make_runtime(folder, http_response_deadline=1.0, http_max_retries=0)
    result = capture_account(rt, "agency-account")
    assert result.status in ("partial", "failed")
    assert any("deadline" in p for p in result.problems), result.problems
    [warc] = rt.index.list_warcs(status="stored")
    assert b"WARC-Truncated: time" in stored_bytes(rt)
    assert warc.size > 0


class TickingClock(FrozenClock):
    """Every look at the clock costs a minute: a capture that reads it often runs long."""

    def now(self) -> datetime:
        self.advance(timedelta(minutes=1))
        return super().now()


def test_capture_past_its_deadline_stops_fetching_and_keeps_what_it_has(
    tmp_path: Path, make_runtime: MakeRuntime, sim: Simulator
) -> None:
    folder = platform_policy(
        tmp_path / "p",
        "mastodon",
        handle='"@usgs@social.example.gov"',
        base_url=api_root(sim, "social.example.gov"),
        options="{media: false, comments: true}",
    )
    clock = TickingClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    rt = make_runtime(folder, clock=clock, capture_deadline=600)
    result = capture_account(rt, "agency-account")
    assert result.status == "partial"
    assert sum("capture deadline passed" in p for p in result.problems) == 1
    stored = rt.index.list_warcs(status="stored")
    assert stored, "what was fetched before the deadline is stored"
    assert result.records >= 2
    assert rt.index.get_capture(result.capture_id).status == "partial"

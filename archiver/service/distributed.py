"""Distributed mode (``ARCHIVER_BROKER_URL=amqp://...``): the leader daemon enqueues capture tasks
on Celery over RabbitMQ, and ``archiver worker`` processes on any number of machines run them with
the same :func:`~archiver.capture.job.capture_account` as everything else.

Guarantees, and where they come from:

* **Nothing lost when a worker dies**: late acknowledgement (``task_acks_late``) and
  ``task_reject_on_worker_lost``: RabbitMQ re-delivers a task whose worker vanished mid-capture.
* **Once per (account, scheduled slot)**: the task id is ``account@slot``; a worker takes a
  :class:`~archiver.index.leases.Lease` on it (released by the kernel or PostgreSQL when the worker
  dies) and records the outcome in the ``tasks`` table, so a re-delivered or twice-enqueued task
  whose capture finished is acknowledged without capturing again.
* **No overlap per account**: a second lease on the account; a task finding its account busy is
  skipped, as the in-process daemon skips an overlapping run.
* **Shared rate limits**: with ``ARCHIVER_REDIS_URL`` every worker's HTTP client closes a host for
  all of them when the platform answers 429 (:class:`~archiver.capture.ratelimit.RedisHostGate`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from celery import Celery

from archiver.capture.job import capture_account
from archiver.capture.recovery import recover_spool
from archiver.config import Settings, load_settings
from archiver.errors import UsageError
from archiver.logging import get_logger
from archiver.runtime import Runtime

TASK_NAME = "archiver.capture"


def task_key(account_id: str, slot: datetime) -> str:
    """The idempotency key (and Celery task id) of one scheduled run."""
    return f"{account_id}@{slot.isoformat()}"


def make_app(settings: Settings) -> Celery:
    """The Celery application of this deployment (broker from ``ARCHIVER_BROKER_URL``)."""
    if not settings.broker_url:
        raise UsageError("distributed mode needs ARCHIVER_BROKER_URL (e.g. amqp://guest@host//)")
    app = Celery("archiver", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acknowledged after the capture, not before
        task_reject_on_worker_lost=True,  # a vanished worker's task goes back on the queue
        worker_prefetch_multiplier=1,  # a worker holds only the task it runs
        task_default_queue=settings.broker_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    app.task(name=TASK_NAME, ignore_result=True)(_run_task)
    return app


def enqueue(app: Celery, account_id: str, slot: datetime) -> str:
    """Put one scheduled run on the queue; returns its task id (``account@slot``)."""
    key = task_key(account_id, slot)
    app.send_task(TASK_NAME, args=[account_id, slot.isoformat()], task_id=key)
    get_logger(account=account_id).info("task.enqueued", task=key)
    return key


_runtime: Runtime | None = None


def worker_runtime() -> Runtime:
    """The worker process's Runtime, built once from its environment."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.build(load_settings())
    return _runtime


def _lock_dir(rt: Runtime) -> Path:
    """Where SQLite-mode leases live: beside the database, which every local worker shares."""
    return rt.index.leases.lock_dir(rt.settings.data_dir / "locks")


def _run_task(account_id: str, slot_iso: str) -> str:
    """The Celery task: capture ``account_id`` for ``slot`` unless that run already happened."""
    return run_capture_task(worker_runtime(), account_id, datetime.fromisoformat(slot_iso))


def run_capture_task(rt: Runtime, account_id: str, slot: datetime) -> str:
    """Run one task once; returns ``done-before``, ``running-elsewhere``, ``account-busy`` or the
    capture's status. Safe to call for the same key any number of times, from any worker."""
    key = task_key(account_id, slot)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    log = get_logger(account=account_id, task=key, worker=worker)
    task_lease = rt.index.leases.lease(_lock_dir(rt), f"task:{key}")
    if not task_lease.acquire():
        log.info("task.running_elsewhere")
        return "running-elsewhere"
    account_lease = rt.index.leases.lease(_lock_dir(rt), f"account:{account_id}")
    try:
        if not _claim(rt, key, account_id, slot, worker):
            log.info("task.done_before")
            return "done-before"
        if not account_lease.acquire():
            _finish(rt, key, "skipped", None)
            log.info("task.account_busy")
            return "account-busy"
        log.info("task.started")
        result = capture_account(rt, account_id, trigger="schedule")
        _finish(rt, key, "done", result.capture_id)
        log.info("task.finished", status=result.status, capture_id=result.capture_id)
        return result.status
    finally:
        account_lease.release()
        task_lease.release()


def _claim(rt: Runtime, key: str, account_id: str, slot: datetime, worker: str) -> bool:
    """Mark the task running (counting the attempt); False when it already finished."""
    return rt.index.tasks.claim(key, account_id, slot, worker, rt.clock.now())


def _finish(rt: Runtime, key: str, state: str, capture_id: str | None) -> None:
    rt.index.tasks.finish(key, state, capture_id, rt.clock.now())


def task_state(rt: Runtime, key: str) -> dict[str, Any] | None:
    """The ``tasks`` row of ``key`` as a dict (for ``archiver`` commands and tests)."""
    task = rt.index.tasks.get(key)
    return None if task is None else asdict(task)


def run_worker(settings: Settings, *, concurrency: int = 1, name: str | None = None) -> int:
    """``archiver worker``: repair this worker's spool, then consume capture tasks until stopped."""
    app = make_app(settings)  # first: no broker configured is a usage error (exit 2)
    rt = worker_runtime()
    report = recover_spool(rt)  # what a killed predecessor left here: nothing fetched is lost
    log = get_logger(component="worker")
    log.info("worker.started", recovered=len(report.repaired), queue=settings.broker_queue)
    argv = [
        "worker",
        f"--pool={'solo' if concurrency == 1 else 'threads'}",
        f"--concurrency={concurrency}",
        f"--queues={settings.broker_queue}",
        f"--hostname={name or 'archiver'}@{socket.gethostname()}-{os.getpid()}",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=WARNING",
    ]
    app.worker_main(argv=argv)
    return 0


__all__ = [
    "TASK_NAME",
    "enqueue",
    "make_app",
    "run_capture_task",
    "run_worker",
    "task_key",
    "task_state",
]

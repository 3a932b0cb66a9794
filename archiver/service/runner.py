"""``archiver run``: a thin loop over ``capture_account`` driven by APScheduler 3.x.

The scheduler decides *when*; the capture job does the rest, exactly as ``archiver capture``.
SIGHUP reloads policies (a bad policy keeps the old schedule), SIGTERM/SIGINT stop taking jobs
and let running captures finish, a second signal exits at once (leaving only ``.open`` files,
which the next start repairs and ships). Only the leader schedules.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from archiver.capture.job import capture_account
from archiver.capture.recovery import recover_spool
from archiver.errors import ArchiverError, PolicyError
from archiver.logging import get_logger
from archiver.policy.model import Account, PolicySet
from archiver.runtime import Runtime
from archiver.service.probes import Metrics, ProbeServer
from archiver.service.timing import missed_run, slot_for, trigger_for

CLOCK_STEP_TOLERANCE = timedelta(seconds=1)
"""A wall clock found this much earlier than at the daemon's previous look was stepped back."""


def last_runs(rt: Runtime) -> dict[str, datetime]:
    """The start of each account's latest capture, from the index (survives restarts)."""
    return rt.index.last_capture_starts()


def run_once(rt: Runtime) -> int:
    """Every account once, one after the other; 0 when none failed, else 1."""
    recover_spool(rt)
    policies = rt.policies or rt.reload_policies()
    failed = [
        a
        for a in policies.accounts
        if capture_account(rt, a, trigger="schedule").status == "failed"
    ]
    return 1 if failed else 0


class Daemon:
    """Schedules every account's captures while it holds the leader lease."""

    def __init__(
        self,
        rt: Runtime,
        *,
        workers: int = 4,
        lease_retry: float = 5.0,
        drain_timeout: float = 300.0,
        ship_every: float = 60.0,
    ) -> None:
        self.rt = rt
        self.log = get_logger(component="daemon")
        self.metrics = Metrics(rt.settings.spool_dir)
        self.lease = rt.index.leases.leader(rt.settings.data_dir)
        self.lease_retry = lease_retry
        self.drain_timeout = drain_timeout
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        self._wake = threading.Event()
        self._stop_requested = False
        self._reload_requested = False
        self._running: dict[str, threading.Lock] = {}
        self._jobs: dict[str, str] = {}  # account id -> schedule fingerprint
        self.failing: dict[str, str] = {}  # account id -> why its last capture failed
        self.reload_failed: str | None = None  # why the last SIGHUP reload was refused
        self._last_seen: datetime | None = None  # the wall clock at the loop's previous look
        self.ship_every = ship_every
        self.app: Any = None
        if rt.settings.broker_url:
            from archiver.service.distributed import make_app

            self.app = make_app(rt.settings)
        rt.on_retry = lambda host, reason: self.metrics.retries.labels(host, reason).inc()
        self.probes = ProbeServer(rt.settings.health_addr, self.metrics, self.readiness)

    # --- signals and probes -------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self._reload_requested = True
        elif self._stop_requested:
            os._exit(1)  # second signal: at once; the spool's .open files are repaired later
        else:
            self._stop_requested = True
        self._wake.set()

    def readiness(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "policies": self.rt.policies is not None,
            "leader": self.lease.held,
        }
        try:
            self.rt.index.ping()
            state["index"] = True
        except ArchiverError as exc:
            state["index"] = str(exc)
        try:
            self.rt.store.exists("audit/chain-head.json")
            state["store"] = True
        except ArchiverError as exc:
            state["store"] = str(exc)
        state["ready"] = all(v is True for k, v in state.items() if k != "leader")
        state["accounts_failing"] = dict(self.failing)  # surfaced, but the daemon still serves
        # the previous policy keeps running, so a refused reload is shown, not made un-ready
        state["policy_reload_failed"] = self.reload_failed
        return state

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        if event.scheduled_run_times:
            lag = (self.rt.clock.now() - event.scheduled_run_times[0]).total_seconds()
            self.metrics.lag.set(max(0.0, lag))

    # --- jobs -----------------------------------------------------------------------------------

    def _capture(self, account_id: str) -> None:
        lock = self._running.setdefault(account_id, threading.Lock())
        if not lock.acquire(blocking=False):
            self.metrics.overlaps.labels(account_id).inc()
            self.log.info("daemon.overlap_skipped", account=account_id)
            return
        try:
            if not self.lease.verify():  # another daemon may lead now: never run it twice
                self.log.warning("daemon.dispatch_refused", account=account_id, leader=False)
                self._wake.set()  # the loop steps down and tries to lead again
                return
            if self.app is not None and self._enqueue(account_id):
                return
            result = capture_account(self.rt, account_id, trigger="schedule")
            self.metrics.captures.labels(account_id, result.status).inc()
            self.metrics.records.labels(account_id).inc(result.records)
            self.metrics.bytes.labels(account_id).inc(result.bytes)
            if result.status == "ok":
                self.metrics.last_success.labels(account_id).set(self.rt.clock.now().timestamp())
            if result.status == "failed":
                self.failing[account_id] = "; ".join(result.problems) or "failed"
            else:
                self.failing.pop(account_id, None)
        except ArchiverError as exc:  # e.g. the account left the policies mid-run
            self.metrics.captures.labels(account_id, "failed").inc()
            self.log.error("daemon.capture_error", account=account_id, error=str(exc))
        finally:
            lock.release()

    def _step_down(self) -> None:
        """The leader lease was lost (its database connection ended): stop dispatching at once,
        before another daemon that took the lease runs the same captures."""
        self.scheduler.pause()
        self.metrics.leader.set(0)
        self.log.error("daemon.leadership_lost", pid=os.getpid(), action="paused, standing by")

    def _enqueue(self, account_id: str) -> bool:
        """Distributed mode: hand the run to the workers. False (capture here) when the broker
        is away, so a RabbitMQ outage never costs a scheduled capture."""
        from archiver.service.distributed import enqueue

        policies = self.rt.policies
        account = policies.accounts.get(account_id) if policies else None
        if account is None:
            return True  # left the policies: nothing to do
        try:
            enqueue(self.app, account_id, slot_for(account.schedule, self.rt.clock.now()))
        except Exception as exc:  # kombu/amqp errors have no common base worth importing
            self.log.error("task.enqueue_failed", account=account_id, error=str(exc))
            return False
        self.metrics.enqueued.labels(account_id).inc()
        return True

    def _busy(self, account_id: str) -> bool:
        lock = self._running.get(account_id)
        return lock is not None and lock.locked()

    def _ship_backlog(self) -> None:
        """Ship (and index) what outages left in the spool, skipping accounts being captured."""
        try:
            report = recover_spool(self.rt, busy=self._busy)
        except ArchiverError as exc:  # the index or store is still away: next round
            self.log.warning("spool.ship_deferred", error=str(exc))
            return
        if report.shipped:
            self.metrics.shipped.inc(len(report.shipped))
            self.log.info("spool.shipped", files=len(report.shipped))

    @staticmethod
    def _fingerprint(account: Account) -> str:
        return repr(account)

    def _sync_jobs(self, policies: PolicySet, *, catch_up: bool) -> None:
        """Make the scheduler's jobs match the policies (add, change, remove)."""
        wanted = {a.id: a for a in policies.accounts.values()}
        for account_id in list(self._jobs):
            if account_id not in wanted:
                self.scheduler.remove_job(account_id)
                del self._jobs[account_id]
                self.log.info("daemon.job_removed", account=account_id)
        last = last_runs(self.rt) if catch_up else {}
        now = self.rt.clock.now()
        for account_id, account in wanted.items():
            fingerprint = self._fingerprint(account)
            if self._jobs.get(account_id) == fingerprint:
                continue
            jitter = self.rt.settings.schedule_jitter or None
            trigger = trigger_for(account.schedule, start=now, jitter=jitter)
            if account_id in self._jobs:
                self.scheduler.reschedule_job(account_id, trigger=trigger)
                self.scheduler.modify_job(account_id, args=[account_id])
            else:
                self.scheduler.add_job(
                    self._capture,
                    trigger,
                    args=[account_id],
                    id=account_id,
                    name=f"capture {account_id}",
                )
            self._jobs[account_id] = fingerprint
            self.log.info(
                "daemon.job_scheduled", account=account_id, schedule=account.schedule.text
            )
            if catch_up and missed_run(account.schedule, last.get(account_id), now):
                self.scheduler.add_job(
                    self._capture,
                    "date",
                    run_date=now,
                    args=[account_id],
                    id=f"{account_id}.catch-up",
                    replace_existing=True,
                )
                self.log.info("daemon.catch_up", account=account_id, last_run=last.get(account_id))

    def _reload(self) -> None:
        self._reload_requested = False
        try:
            policies = self.rt.reload_policies()
        except PolicyError as exc:
            self.reload_failed = str(exc)
            self.log.error("policy.reload_failed", error=str(exc), kept="previous schedule")
            return
        except Exception as exc:  # a loader bug must not stop the daemon either
            self.reload_failed = f"{type(exc).__name__}: {exc}"
            self.log.exception("policy.reload_failed", kept="previous schedule")
            return
        self.reload_failed = None
        self.log.info("policy.reloaded", policy_hash=policies.policy_hash)
        if self.lease.held:
            self._sync_jobs(policies, catch_up=False)

    def _watch_clock(self) -> None:
        """Notice a wall clock stepped back (NTP, a restored VM snapshot, an operator's
        ``date -s``) and recompute every next run time from the new time: APScheduler keeps the
        run times it computed before the step and would wait out the whole step first."""
        now = self.rt.clock.now()
        last, self._last_seen = self._last_seen, now
        if last is None or now >= last - CLOCK_STEP_TOLERANCE:
            return
        self.log.warning(
            "scheduler.clock_stepped_back",
            seconds=round((last - now).total_seconds(), 3),
            was=last.isoformat(),
            now=now.isoformat(),
            action="next run times recomputed",
        )
        self._reschedule_all(now)

    def _reschedule_all(self, now: datetime) -> None:
        """Every job's next run time computed afresh from ``now``."""
        policies = self.rt.policies
        jitter = self.rt.settings.schedule_jitter or None
        for job in self.scheduler.get_jobs():
            account = policies.accounts.get(job.id) if policies else None
            if account is not None and job.id in self._jobs:
                trigger = trigger_for(account.schedule, start=now, jitter=jitter)
                self.scheduler.reschedule_job(job.id, trigger=trigger)
            elif job.id == "_spool":
                self.scheduler.reschedule_job(job.id, trigger="interval", seconds=self.ship_every)
            elif job.next_run_time is not None and job.next_run_time > now:
                job.modify(next_run_time=now)  # a catch-up: it was due at once
        self.scheduler.wakeup()

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; returns the exit code (0 after a clean stop)."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        self.probes.start()
        self.log.info("daemon.started", health=f"{self.rt.settings.health_addr}", pid=os.getpid())
        policies = self.rt.policies or self.rt.reload_policies()
        self.scheduler.start(paused=True)
        try:
            while not self._stop_requested:
                self._watch_clock()
                if self._reload_requested:
                    self._reload()
                if self.lease.held and not self.lease.verify():
                    self._step_down()
                if not self.lease.held and self.lease.acquire():
                    self.log.info("daemon.leader", pid=os.getpid())
                    self.metrics.leader.set(1)
                    recover_spool(self.rt)
                    self._sync_jobs(self.rt.policies or policies, catch_up=True)
                    self.scheduler.add_job(
                        self._ship_backlog,
                        "interval",
                        seconds=self.ship_every,
                        id="_spool",
                        name="ship the spool backlog",
                        replace_existing=True,
                    )
                    self.scheduler.resume()
                self._wake.wait(timeout=self.lease_retry)
                self._wake.clear()
        finally:
            self.log.info(
                "daemon.stopping", running=[a for a, lock in self._running.items() if lock.locked()]
            )
            self.scheduler.shutdown(wait=True)  # running captures finish and ship
            self._ship_backlog()  # a last try for what an outage left (the next start retries)
            self.lease.release()
            self.metrics.leader.set(0)
            self.probes.stop()
            self.log.info("daemon.stopped")
        return 0

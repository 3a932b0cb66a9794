"""Task queries of distributed mode: the ``tasks`` table that makes a re-delivered or
twice-enqueued capture task run its capture once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from archiver.index.common import utc
from archiver.index.db import session_scope
from archiver.index.models import TaskRow


@dataclass(frozen=True)
class TaskState:
    """One task as recorded: its run's state, attempts, worker and capture."""

    key: str
    account: str
    scheduled_for: datetime
    state: str  # queued | running | done | skipped
    attempts: int
    worker: str | None
    capture_id: str | None
    updated_at: datetime


class TaskQueries:
    """Claiming, finishing and reading capture tasks."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, key: str, account: str, slot: datetime, worker: str, at: datetime) -> bool:
        """Mark the task ``key`` running by ``worker`` (counting the attempt), recording it
        first if it is new; False, and nothing changes, when it already finished."""
        for _ in range(2):  # a concurrent first insert by another worker: read it the second time
            try:
                with session_scope(self._engine) as s:
                    row = s.get(TaskRow, key)
                    if row is not None and row.state in ("done", "skipped"):
                        return False
                    if row is None:
                        row = TaskRow(
                            key=key,
                            account=account,
                            scheduled_for=slot,
                            state="queued",
                            updated_at=at,
                        )
                    row.state, row.worker, row.updated_at = "running", worker, at
                    row.attempts += 1
                    s.add(row)
                return True
            except SAIntegrityError:
                continue
        return True

    def finish(self, key: str, state: str, capture_id: str | None, at: datetime) -> None:
        """Record the task's end (``done`` or ``skipped``) and its capture; an unknown key is
        left alone."""
        with session_scope(self._engine) as s:
            row = s.get(TaskRow, key)
            if row is not None:
                row.state, row.capture_id, row.updated_at = state, capture_id, at
                s.add(row)

    def get(self, key: str) -> TaskState | None:
        """The task ``key``; None when no worker claimed it yet."""
        with session_scope(self._engine) as s:
            row = s.get(TaskRow, key)
            if row is None:
                return None
            return TaskState(
                key=row.key,
                account=row.account,
                scheduled_for=utc(row.scheduled_for),
                state=row.state,
                attempts=row.attempts,
                worker=row.worker,
                capture_id=row.capture_id,
                updated_at=utc(row.updated_at),
            )

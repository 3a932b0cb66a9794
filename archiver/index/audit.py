"""Audit-chain queries: the events as stored (for verification and anchoring) and as read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from archiver.index.common import utc
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow


@dataclass(frozen=True)
class StoredAuditEvent:
    """One audit event exactly as the table holds it (``payload`` the canonical JSON the hash
    covers), for recomputing hashes and links."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    payload: str
    prev_hash: str
    hash: str

    def payload_dict(self) -> dict[str, Any]:
        """The payload decoded; ``{}`` when it is not a JSON object."""
        try:
            found = json.loads(self.payload or "{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}


def _stored(row: AuditEventRow) -> StoredAuditEvent:
    return StoredAuditEvent(
        seq=row.seq or 0,
        at=utc(row.at),
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class AuditQueries:
    """Reads of the ``audit_events`` table (appending is :meth:`archiver.index.Index.audit`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def all(self) -> list[StoredAuditEvent]:
        """Every event in chain (``seq``) order."""
        with session_scope(self._engine) as s:
            return [
                _stored(r) for r in s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq)))
            ]

    def with_actions(self, actions: Sequence[str]) -> list[StoredAuditEvent]:
        """The events whose action is one of ``actions``, in chain order."""
        with session_scope(self._engine) as s:
            rows = s.exec(
                select(AuditEventRow)
                .where(col(AuditEventRow.action).in_(list(actions)))
                .order_by(col(AuditEventRow.seq))
            )
            return [_stored(r) for r in rows]

    def hash_of(self, seq: int) -> str | None:
        """The hash of event ``seq``; None when the table does not hold it."""
        with session_scope(self._engine) as s:
            row = s.get(AuditEventRow, seq)
            return row.hash if row is not None else None

    def newest(self, digest: str | None = None) -> tuple[StoredAuditEvent | None, int]:
        """The newest event (the newest with hash ``digest`` when given) and the number of
        events in the table."""
        with session_scope(self._engine) as s:
            query = select(AuditEventRow)
            if digest is not None:
                query = query.where(AuditEventRow.hash == digest)
            row = s.exec(query.order_by(col(AuditEventRow.seq).desc()).limit(1)).first()
            count = s.exec(select(func.count()).select_from(AuditEventRow)).one()
            return (_stored(row) if row is not None and row.seq is not None else None), int(count)

    def last_subject(self, action: str) -> str | None:
        """The subject of the newest event with ``action``; None when there is none."""
        with session_scope(self._engine) as s:
            return s.exec(
                select(AuditEventRow.subject)
                .where(AuditEventRow.action == action)
                .order_by(col(AuditEventRow.seq).desc())
                .limit(1)
            ).first()

    def select(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        capture: str | None = None,
        limit: int | None = None,
    ) -> list[StoredAuditEvent]:
        """The events matching every given criterion, in chain order (the last ``limit`` when
        given). ``action`` ending in ``*`` is a prefix; ``capture`` matches the subject or a
        payload naming it."""
        q = select(AuditEventRow)
        if since is not None:
            q = q.where(col(AuditEventRow.at) >= since)
        if until is not None:
            q = q.where(col(AuditEventRow.at) <= until)
        if actor:
            q = q.where(AuditEventRow.actor == actor)
        if action:
            if action.endswith("*"):
                q = q.where(col(AuditEventRow.action).startswith(action.rstrip("*")))
            else:
                q = q.where(AuditEventRow.action == action)
        if capture:
            q = q.where(
                or_(
                    col(AuditEventRow.subject) == capture,
                    col(AuditEventRow.payload).contains(capture),
                )
            )
        q = q.order_by(col(AuditEventRow.seq).desc())
        if limit is not None:
            q = q.limit(limit)
        with session_scope(self._engine) as s:
            rows = [_stored(r) for r in s.exec(q)]
        return list(reversed(rows))

"""The audit chain: every governance act and capture appended, the head copied to the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select

from archiver.errors import StorageError
from archiver.index.api import jsonable, utc
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.logging import get_logger
from archiver.runtime import Runtime

HEAD_KEY = "audit/chain-head.json"


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str
    at: datetime
    events: int


def record_event(
    rt: Runtime, action: str, subject: str, payload: dict[str, Any], *, actor: str | None = None
) -> str:
    """Append an audit event and write the new chain head to the store; returns its hash."""
    digest = rt.index.audit(
        actor=actor or rt.settings.actor,
        action=action,
        subject=subject,
        payload=payload,
        at=rt.clock.now(),
    )
    try:
        write_chain_head(rt)
    except StorageError as exc:  # the next event writes it again; the event itself is kept
        get_logger().warning("audit.head_not_written", error=str(exc))
    return digest


def write_chain_head(rt: Runtime) -> ChainHead | None:
    """Store the newest event's seq and hash, so a truncated table is detectable."""
    with session_scope(rt.index.engine) as s:
        last = s.exec(
            select(AuditEventRow).order_by(col(AuditEventRow.seq).desc()).limit(1)
        ).first()
        count = s.exec(select(func.count()).select_from(AuditEventRow)).one()
        if last is None or last.seq is None:
            return None
        head = ChainHead(seq=last.seq, hash=last.hash, at=utc(last.at), events=int(count))
    body = json.dumps(jsonable(head), sort_keys=True).encode()
    rt.store.put_bytes(HEAD_KEY, body)
    rt.store.put_bytes(f"audit/heads/{head.seq:012d}.json", body)
    return head

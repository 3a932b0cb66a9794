"""The audit chain: every governance act and capture appended, the head copied to the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select

from archiver.errors import IntegrityError, ObjectNotFoundError, StorageError
from archiver.index.api import jsonable, utc
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.logging import get_logger
from archiver.runtime import Runtime

HEAD_KEY = "audit/chain-head.json"
HEADS_PREFIX = "audit/heads/"


@dataclass(frozen=True)
class ChainHead:
    seq: int
    hash: str
    at: datetime
    events: int


def record_event(
    rt: Runtime, action: str, subject: str, payload: dict[str, Any], *, actor: str | None = None
) -> str:
    """Append an audit event and write the new chain head to the store; returns its hash.

    The event's actor is ``actor`` or the settings' actor; when that is not the OS user running
    the process, the payload also carries both (``actor``, ``os_user``).

    The event is kept even when the head cannot be written: a store outage is retried with the
    next event, and a head that no longer matches the table (evidence of tampering) is left in
    place for ``archiver audit verify`` to report.
    """
    who = actor or rt.settings.actor
    os_user = rt.settings.os_user
    if who != os_user:  # a named actor (override, or a recovered capture's operator)
        payload = {**payload, "actor": who, "os_user": os_user}
    digest = rt.index.audit(
        actor=who,
        action=action,
        subject=subject,
        payload=payload,
        at=rt.clock.now(),
    )
    try:
        write_chain_head(rt)
    except StorageError as exc:
        get_logger().warning("audit.head_not_written", error=str(exc))
    except IntegrityError as exc:
        get_logger().error("audit.head_kept", error=str(exc))
    return digest


def read_head(rt: Runtime, key: str = HEAD_KEY) -> dict[str, Any] | None:
    """The chain head stored at ``key``; None when absent. Unreadable JSON is an IntegrityError."""
    try:
        raw = rt.store.get_range(key, 0)
    except ObjectNotFoundError:
        return None
    try:
        head = json.loads(raw)
        if not isinstance(head, dict):
            raise TypeError("not an object")
        int(head["seq"]), str(head["hash"])
    except (ValueError, TypeError, KeyError) as exc:
        raise IntegrityError(f"the chain head {key} in the store is unreadable ({exc})") from None
    return head


def write_chain_head(rt: Runtime) -> ChainHead | None:
    """Store the newest event's seq and hash, so a truncated table is detectable.

    The head only moves forward, and only from a head the table still holds: when the stored
    head's event is gone or changed the head is kept as evidence and IntegrityError is raised.
    Each head is also kept under ``audit/heads/`` and those copies are never overwritten.
    """
    with session_scope(rt.index.engine) as s:
        last = s.exec(
            select(AuditEventRow).order_by(col(AuditEventRow.seq).desc()).limit(1)
        ).first()
        count = s.exec(select(func.count()).select_from(AuditEventRow)).one()
        if last is None or last.seq is None:
            return None
        head = ChainHead(seq=last.seq, hash=last.hash, at=utc(last.at), events=int(count))
        stored = read_head(rt)
        if stored is not None:
            row = s.get(AuditEventRow, int(stored["seq"]))
            if row is None or row.hash != stored["hash"]:
                raise IntegrityError(
                    f"the stored chain head (event {stored['seq']}) is not in the audit table "
                    "as recorded; it is kept as evidence, run `archiver audit verify`"
                )
            if int(stored["seq"]) >= head.seq:
                return head  # another writer already stored this head or a newer one
    body = json.dumps(jsonable(head), sort_keys=True).encode()
    copy = f"{HEADS_PREFIX}{head.seq:012d}.json"
    if not rt.store.exists(copy):
        rt.store.put_bytes(copy, body)
    rt.store.put_bytes(HEAD_KEY, body)
    return head

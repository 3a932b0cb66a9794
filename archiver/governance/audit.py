"""The audit chain: every governance act and capture appended, the head copied to the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.errors import IntegrityError, ObjectNotFoundError, StorageError
from archiver.index.api import jsonable
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
    """Append an audit event, anchor it by its own locked chain head in the store, and move
    the current head forward; returns its hash.

    The event's actor is ``actor`` or the settings' actor; when that is not the OS user running
    the process, the payload also carries both (``actor``, ``os_user``).

    The event is kept even when its head cannot be written: the head waits in the data dir
    (``audit-heads/``) and is shipped with the next event, so a store outage leaves no event
    unanchored. A current head that no longer matches the table (evidence of tampering) is
    left in place for ``archiver audit verify`` to report.
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
        write_chain_head(rt, digest)
    except StorageError as exc:
        get_logger().warning("audit.head_not_written", error=str(exc), kept="data dir")
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


def head_copy_key(seq: int) -> str:
    """Where the locked chain head of event ``seq`` is kept (one per event, never rewritten)."""
    return f"{HEADS_PREFIX}{seq:012d}.json"


def pending_heads_dir(rt: Runtime) -> Path:
    """Chain heads written, not yet in the store (a store outage): shipped with the next event."""
    return rt.settings.data_dir / "audit-heads"


def _head_body(head: ChainHead) -> bytes:
    return json.dumps(jsonable(head), sort_keys=True).encode()


def write_chain_head(rt: Runtime, digest: str | None = None) -> ChainHead | None:
    """Anchor the event whose hash is ``digest`` (default: the newest) in the store.

    Its head (seq, hash) is first written to the data dir, then stored under
    ``audit/heads/{seq}.json`` with an Object Lock retain-until of
    ``ARCHIVER_AUDIT_HEAD_RETENTION_DAYS`` (a read-only file on the file store); heads left
    pending by an earlier outage are shipped too. Only the event this process appended gets a
    head: an event slipped into the table by other means never has one, whatever is appended
    after it. Then ``audit/chain-head.json`` (the current head, a pointer) moves forward, only
    from a head the table still holds: when its event is gone or changed it is kept as
    evidence and IntegrityError is raised.
    """
    row, count = rt.index.audit_chain.newest(digest)
    if row is None:
        return None
    head = ChainHead(seq=row.seq, hash=row.hash, at=row.at, events=count)
    body = _head_body(head)
    pending = pending_heads_dir(rt)
    try:
        pending.mkdir(parents=True, exist_ok=True)
        (pending / f"{head.seq:012d}.json").write_bytes(body)
    except OSError as exc:
        get_logger().warning("audit.head_not_kept_locally", seq=head.seq, error=exc.strerror)
        _store_copy(rt, head.seq, body)
    ship_pending_heads(rt)
    _move_current_head(rt, head, body)
    return head


def _store_copy(rt: Runtime, seq: int, body: bytes) -> None:
    key = head_copy_key(seq)
    if rt.store.exists(key):
        return
    until = rt.clock.now() + timedelta(days=rt.settings.audit_head_retention_days)
    rt.store.put_bytes(key, body, retain_until=until)


def ship_pending_heads(rt: Runtime) -> int:
    """Store every chain head waiting in the data dir whose event the table still holds as
    recorded; returns how many were shipped. A head whose event changed or vanished stays
    there as evidence (logged). StorageError propagates: the rest wait for the next event."""
    folder = pending_heads_dir(rt)
    shipped = 0
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            body = path.read_bytes()
            head = json.loads(body)
            seq, digest = int(head["seq"]), str(head["hash"])
        except FileNotFoundError:
            continue  # another thread shipped it
        except (OSError, ValueError, TypeError, KeyError):
            get_logger().error("audit.pending_head_unreadable", file=path.name)
            continue
        if rt.index.audit_chain.hash_of(seq) != digest:
            get_logger().error("audit.pending_head_mismatch", seq=seq, kept=path.name)
            continue
        _store_copy(rt, seq, body)
        path.unlink(missing_ok=True)
        shipped += 1
    return shipped


def _move_current_head(rt: Runtime, head: ChainHead, body: bytes) -> None:
    stored = read_head(rt)
    if stored is not None:
        if rt.index.audit_chain.hash_of(int(stored["seq"])) != stored["hash"]:
            raise IntegrityError(
                f"the stored chain head (event {stored['seq']}) is not in the audit table "
                "as recorded; it is kept as evidence, run `archiver audit verify`"
            )
        if int(stored["seq"]) >= head.seq:
            return  # another writer already stored this head or a newer one
    rt.store.put_bytes(HEAD_KEY, body)

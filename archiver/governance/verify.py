"""Proof that nothing was altered or removed outside governance: audit chain and fixity checks."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import col, select

from archiver.errors import IntegrityError, ObjectNotFoundError
from archiver.governance.audit import HEAD_KEY, HEADS_PREFIX, read_head, record_event
from archiver.index.api import GENESIS, audit_hash, utc
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow, WarcFileRow
from archiver.runtime import Runtime

GOVERNANCE_PREFIXES = ("audit/", "certificates/", "transfers/")


@dataclass
class ChainReport:
    """``archiver audit verify --json``."""

    ok: bool
    events: int
    head_seq: int | None
    head_hash: str | None
    first_broken_seq: int | None = None
    problem: str | None = None
    stored_head_seq: int | None = None  # the head kept in the store (audit/chain-head.json)
    stored_head_hash: str | None = None


def verify_chain(rt: Runtime) -> ChainReport:
    """Recompute every event's hash and link; compare the table with the heads kept in the store.

    Detects a changed row (hash mismatch), a deleted or inserted row (the link or the sequence
    breaks) and a truncated table (a stored head, current or past, names an event the table no
    longer holds as recorded). ``head_seq``/``head_hash`` are always the table's last event.
    """
    with session_scope(rt.index.engine) as s:
        events = list(s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq))))
    last = events[-1] if events else None

    try:
        current = read_head(rt)
    except IntegrityError:
        current = None  # reported below, in order

    def report(ok: bool, seq: int | None = None, problem: str | None = None) -> ChainReport:
        return ChainReport(
            ok,
            len(events),
            last.seq if last else None,
            last.hash if last else None,
            seq,
            problem,
            int(current["seq"]) if current else None,
            str(current["hash"]) if current else None,
        )

    def broken(seq: int | None, problem: str) -> ChainReport:
        return report(False, seq, problem)

    prev, prev_seq = GENESIS, 0
    for e in events:
        assert e.seq is not None
        expected = audit_hash(e.prev_hash, utc(e.at), e.actor, e.action, e.subject, e.payload)
        if expected != e.hash:
            return broken(e.seq, f"event {e.seq} was changed (its hash does not match its content)")
        if e.prev_hash != prev or e.seq != prev_seq + 1:
            return broken(
                e.seq,
                f"the chain breaks before event {e.seq}: an event was deleted or inserted "
                f"(expected to follow event {prev_seq})",
            )
        prev, prev_seq = e.hash, e.seq
    by_seq = {e.seq: e for e in events}
    keys = [HEAD_KEY, *sorted(o.key for o in rt.store.list(HEADS_PREFIX))]
    for key in keys:
        try:
            head = read_head(rt, key)
        except IntegrityError as exc:
            return broken(None, str(exc))
        if head is None:
            continue
        seq, digest = int(head["seq"]), str(head["hash"])
        stored = by_seq.get(seq)
        if stored is None:
            return broken(
                min(seq, prev_seq + 1),
                f"the table ends at event {prev_seq} but the chain head {key} kept in the store "
                f"is event {seq}: events were removed (truncated)"
                if seq > prev_seq
                else f"event {seq} named by the chain head {key} is missing",
            )
        if stored.hash != digest:
            return broken(seq, f"event {seq} differs from the chain head {key} kept in the store")
    return report(True)


@dataclass(frozen=True)
class FixityProblem:
    kind: str  # missing | changed | unknown
    key: str
    name: str | None
    detail: str


@dataclass
class FixityReport:
    """``archiver verify --json``."""

    checked: int = 0
    passed: int = 0
    full: bool = True
    problems: list[FixityProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256_of(rt: Runtime, key: str) -> str:
    digest = hashlib.sha256()
    with rt.store.open_read(key) as stream:
        while data := stream.read(1024 * 1024):
            digest.update(data)
    return digest.hexdigest()


def verify_store(
    rt: Runtime,
    *,
    full: bool = True,
    sample: int | None = None,
    rng: random.Random | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FixityReport:
    """Compare stored WARC objects with the index: size always, SHA-256 when ``full`` (re-read).

    Missing objects (an unauthorized deletion), changed ones, and objects the index does not
    know become audit events; the run itself is one too. ``sample`` checks N random objects.
    """
    with session_scope(rt.index.engine) as s:
        warcs = list(
            s.exec(
                select(WarcFileRow)
                .where(WarcFileRow.status == "stored")
                .order_by(col(WarcFileRow.name))
            )
        )
    if sample is not None:
        warcs = (rng or random.Random()).sample(warcs, min(sample, len(warcs)))
    report = FixityReport(full=full)
    now = rt.clock.now()
    passed: list[str] = []
    for i, w in enumerate(warcs):
        report.checked += 1
        try:
            info = rt.store.head(w.key)
        except ObjectNotFoundError:
            report.problems.append(
                FixityProblem(
                    "missing", w.key, w.name, "the index lists it; the store does not have it"
                )
            )
            continue
        if info.size != w.size:
            report.problems.append(
                FixityProblem("changed", w.key, w.name, f"size {info.size}, index says {w.size}")
            )
        elif full and (actual := _sha256_of(rt, w.key)) != w.sha256:
            report.problems.append(
                FixityProblem("changed", w.key, w.name, f"sha256 {actual}, index says {w.sha256}")
            )
        else:
            passed.append(w.name)
        if progress:
            progress(i + 1, len(warcs))
    report.passed = len(passed)
    with session_scope(rt.index.engine) as s:  # listing is cheap: every run looks for strays
        known = set(s.exec(select(WarcFileRow.key)))
    for obj in rt.store.list():
        if obj.key not in known and not obj.key.startswith(GOVERNANCE_PREFIXES):
            report.problems.append(
                FixityProblem("unknown", obj.key, None, "in the store, not in the index")
            )
    with session_scope(rt.index.engine) as s:  # only a full re-read counts as verified
        for name in passed if full else []:
            row = s.get(WarcFileRow, name)
            if row is not None:
                row.last_verified_at = now
                s.add(row)
    for p in report.problems:
        action = {
            "missing": "fixity.missing",
            "changed": "fixity.changed",
            "unknown": "fixity.unknown_object",
        }[p.kind]
        record_event(rt, action, p.key, {"warc": p.name, "detail": p.detail})
    record_event(
        rt,
        "fixity.verified",
        "store",
        {
            "checked": report.checked,
            "passed": report.passed,
            "full": full,
            "sample": sample,
            "problems": len(report.problems),
        },
    )
    return report

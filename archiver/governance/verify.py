"""Proof that nothing was altered or removed outside governance: audit chain and fixity checks."""

from __future__ import annotations

import hashlib
import io
import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver.errors import IntegrityError, ObjectNotFoundError
from archiver.governance.anchors import (
    anchored_heads,
    index_against_audit,
    post_versions_against_records,
)
from archiver.governance.audit import (
    HEAD_KEY,
    HEADS_PREFIX,
    head_copy_key,
    pending_heads_dir,
    read_head,
    record_event,
)
from archiver.index.api import GENESIS, audit_hash, utc
from archiver.index.audit import StoredAuditEvent
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
    breaks), a truncated or rewritten table (a head kept in the store, or anchored in a WARC's
    capture ledger, names an event the table no longer holds as recorded), index rows that
    disagree with the capture events (a WARC's digest changed, a WARC gone without a
    disposition, a stored WARC whose capture event is gone) and an event without its own locked
    head (slipped in, at the end or anywhere). ``head_seq``/``head_hash`` are always the
    table's last event.
    """
    events = rt.index.audit_chain.all()
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
    for anchor in anchored_heads(rt):
        stored = by_seq.get(anchor.seq)
        where = f"the chain head anchored in WARC {anchor.warc} (capture {anchor.capture_id})"
        if stored is None:
            return broken(
                min(anchor.seq, prev_seq + 1),
                f"the table ends at event {prev_seq} but {where} is event {anchor.seq}: "
                "events were removed (truncated)"
                if anchor.seq > prev_seq
                else f"event {anchor.seq} named by {where} is missing",
            )
        if stored.hash != anchor.hash:
            return broken(anchor.seq, f"event {anchor.seq} differs from {where}")
    for problem in index_against_audit(rt):
        return broken(problem.seq, f"{problem.name}: {problem.detail}")
    copies = {int(k.removeprefix(HEADS_PREFIX).split(".")[0]) for k in keys[1:] if _is_copy(k)}
    unanchored = [e for e in events if e.seq not in copies and not _pending(rt, e)]
    if unanchored:
        e = unanchored[0]
        assert e.seq is not None
        more = f" ({len(unanchored)} events lack one)" if len(unanchored) > 1 else ""
        return broken(
            e.seq,
            f"event {e.seq} ({e.action} by {e.actor}) is not anchored: the store keeps no "
            f"chain head {head_copy_key(e.seq)} for it{more}, while every event the archiver "
            "appends gets one, locked; it was added to the table by other means (forged), or "
            "its head was removed",
        )
    return report(True)


def _is_copy(key: str) -> bool:
    name = key.removeprefix(HEADS_PREFIX)
    return name.endswith(".json") and name.removesuffix(".json").isdigit()


def _pending(rt: Runtime, event: StoredAuditEvent) -> bool:
    """True when ``event``'s head waits in the data dir (the store was down): anchored, not
    yet shipped."""
    path = pending_heads_dir(rt) / f"{event.seq:012d}.json"
    try:
        return bool(json.loads(path.read_bytes()).get("hash") == event.hash)
    except (OSError, ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class FixityProblem:
    kind: str  # missing | changed | unknown | unaudited | post_changed
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


class _Hashing(io.RawIOBase):
    """A read-only stream that hashes every byte read through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


def _reread(rt: Runtime, key: str) -> tuple[str, str | None]:
    """One pass over a stored WARC: its SHA-256, and the first record whose WARC-Block-Digest
    (or payload digest) does not match its bytes, or that cannot be read at all (None: every
    record checks out)."""
    with rt.store.open_read(key) as raw:
        stream = _Hashing(raw)
        problem: str | None = None
        try:
            it = ArchiveIterator(io.BufferedReader(stream), check_digests=True)
            for record in it:
                while record.raw_stream.read(1024 * 1024):
                    pass
                if record.digest_checker.passed is False and problem is None:
                    problem = (
                        f"record {record.rec_headers.get_header('WARC-Record-ID')} at offset "
                        f"{it.get_record_offset()}: "
                        + "; ".join(record.digest_checker.problems).replace(
                            "block digest failed", "block digest does not match"
                        )
                    )
        except (ArchiveLoadFailed, OSError, EOFError, zlib.error, ValueError) as exc:
            # the message may quote the bytes it choked on: keep its words only
            words = str(exc).split(", first line")[0].splitlines()[0] if str(exc) else ""
            text = "".join(c for c in words if c.isprintable() and c.isascii())[:120]
            problem = problem or (
                f"not readable record by record ({type(exc).__name__}: {text}); the bytes "
                "were changed after the record digests were written"
            )
        while stream.read(1024 * 1024):
            pass  # the bytes after what the iterator needed
    return stream.digest.hexdigest(), problem


def verify_store(
    rt: Runtime,
    *,
    full: bool = True,
    sample: int | None = None,
    rng: random.Random | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FixityReport:
    """Compare stored WARC objects with the index: size always; when ``full`` (re-read) the
    SHA-256 and every record's WARC-Block-Digest and payload digest.

    The index itself is compared with what was anchored when the files were made: each file's
    digest and name as its capture's audit event recorded them (a file rewritten together with
    its index entry, a file removed with its index rows), a stored file whose capture has no
    audit event, and, when ``full``, each post version's text against the archived record it
    was read from. Missing objects (an unauthorized deletion), changed ones, objects the index
    does not know and these disagreements become audit events; the run itself is one too.
    ``sample`` checks N random objects (the index checks always cover everything).
    """
    warcs = rt.index.list_warcs(status="stored")
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
        elif full and (reread := _reread(rt, w.key))[0] != w.sha256:
            report.problems.append(
                FixityProblem(
                    "changed", w.key, w.name, f"sha256 {reread[0]}, index says {w.sha256}"
                )
            )
        elif full and reread[1] is not None:
            report.problems.append(FixityProblem("changed", w.key, w.name, reread[1]))
        else:
            passed.append(w.name)
        if progress:
            progress(i + 1, len(warcs))
    # What was anchored when the files were made: the capture events' digests and file
    # names, and (on a full re-read) the archived records each post version was read from.
    reported = {p.key: i for i, p in enumerate(report.problems)}
    anchored = index_against_audit(rt) + (post_versions_against_records(rt) if full else [])
    for a in anchored:
        at = reported.get(a.key)
        if at is not None and a.kind == "changed":  # one problem per object, both reasons
            p = report.problems[at]
            report.problems[at] = FixityProblem(p.kind, p.key, p.name, f"{a.detail}; {p.detail}")
            continue
        report.problems.append(FixityProblem(a.kind, a.key, a.name, a.detail))
        if a.name in passed and a.kind in ("changed", "unaudited"):
            passed.remove(a.name)
    report.passed = len(passed)
    known = rt.index.fixity.known_keys()  # listing is cheap: every run looks for strays
    for obj in rt.store.list():
        if obj.key not in known and not obj.key.startswith(GOVERNANCE_PREFIXES):
            report.problems.append(
                FixityProblem("unknown", obj.key, None, "in the store, not in the index")
            )
    if full:  # only a full re-read counts as verified
        rt.index.fixity.mark_verified(passed, now)
    for p in report.problems:
        action = {
            "missing": "fixity.missing",
            "changed": "fixity.changed",
            "unknown": "fixity.unknown_object",
            "unaudited": "fixity.unaudited",
            "post_changed": "fixity.post_changed",
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

"""Getting archived bytes back: a record by id or URL (at a time), following revisits."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archiver.capture.postpage import PAGE_MIME, page_uris
from archiver.errors import ArchiverError, IntegrityError, NotFoundError
from archiver.index.api import CaptureSummary, RecordInfo, utc
from archiver.runtime import Runtime
from archiver.warc.reader import RecordContent, parse_member
from archiver.warc.writer import sha256_label


@dataclass(frozen=True)
class Extracted:
    """A record and, for a revisit, the original whose payload it stands for."""

    record: RecordInfo
    original: RecordInfo
    content: RecordContent


def is_post_page(rt: Runtime, record: RecordInfo) -> bool:
    """Whether ``record`` is a post page (:mod:`archiver.capture.postpage`) or a revisit of
    one, as opposed to a response captured at the same URL."""
    if record.mime != PAGE_MIME:
        return False
    if record.rec_type == "resource":
        return True
    if record.rec_type == "revisit" and record.refers_to:
        try:
            return rt.index.get_record(record.refers_to).rec_type == "resource"
        except NotFoundError:
            return False
    return False


def find_post_page(rt: Runtime, target: str, at: datetime | None = None) -> RecordInfo | None:
    """The page of the post ``target`` (post_id, native id or URL) that was current at ``at``
    (the newest at or before it): None when ``target`` names no post. Raises NotFoundError
    when the post has no page then."""
    try:
        post = rt.index.find_post(target)
    except NotFoundError:
        return None
    pages = [
        r
        for uri in page_uris(post.post_id, post.url)
        for r in rt.index.records_for_uri(uri)
        if is_post_page(rt, r)
    ]
    if not pages:
        return None  # captured before post pages were written: the URL's records remain
    current = [r for r in pages if at is None or r.date <= at]
    if not current:
        first = min(r.date for r in pages)
        raise NotFoundError(
            f"post {post.post_id} has no page at or before {at.isoformat() if at else ''}; "
            f"its first was captured {first.isoformat()}: give a later --at"
        )
    return max(current, key=lambda r: r.date)


def find_record(rt: Runtime, target: str, at: datetime | None = None) -> RecordInfo:
    """A record by WARC-Record-ID (``urn:uuid:...``); the page of a post (by post_id, native
    id or URL) current at ``at``; else the newest capture of a URL at ``at``."""
    if target.startswith(("<urn:uuid:", "urn:uuid:")):
        return rt.index.get_record(target)
    page = find_post_page(rt, target, at)
    if page is not None:
        return page
    records = rt.index.records_for_uri(target, until=at)
    if not records:
        when = f" at or before {at.isoformat()}" if at else ""
        raise NotFoundError(
            f"no capture of {target}{when} and no post by that id or URL; "
            "try `archiver search` or `archiver posts list`"
        )
    return records[0]


def read_member(rt: Runtime, record: RecordInfo) -> bytes:
    """The record's gzip member, from the store (ranged read) or from the spool."""
    warc = rt.index.get_warc(record.warc_name)
    if warc is None:
        raise NotFoundError(f"WARC file {record.warc_name} is not in the index")
    if warc.status == "stored":
        return rt.store.get_range(warc.key, record.offset, record.length)
    path = rt.settings.spool_dir / warc.name
    with path.open("rb") as fh:
        fh.seek(record.offset)
        return fh.read(record.length)


def extract(rt: Runtime, target: str, at: datetime | None = None) -> Extracted:
    """Read a record back and check its block digest; a revisit resolves to its original.

    Raises IntegrityError (exit 3) when the stored bytes no longer match their digest.
    """
    record = find_record(rt, target, at)
    original = record
    if record.rec_type == "revisit" and record.refers_to:
        original = rt.index.get_record(record.refers_to)
    content = parse_member(read_member(rt, original))
    digest = sha256_label(hashlib.sha256(content.block).digest())
    if original.block_digest and digest != original.block_digest:
        raise IntegrityError(
            f"record {original.record_id} in {original.warc_name} fails its block digest "
            f"(stored {original.block_digest}, computed {digest}); run `archiver verify`"
        )
    return Extracted(record=record, original=original, content=content)


# --- provenance and change history -------------------------------------------------------------


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """``(op, words)`` pieces turning ``old`` into ``new`` word by word; ``op`` is ``equal``,
    ``delete`` or ``insert`` (a replacement is a delete followed by an insert)."""
    a, b = old.split(), new.split()
    pieces: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(("equal", " ".join(a[i1:i2])))
        if op in ("delete", "replace"):
            pieces.append(("delete", " ".join(a[i1:i2])))
        if op in ("insert", "replace"):
            pieces.append(("insert", " ".join(b[j1:j2])))
    return pieces


def version_text(title: str | None, text: str) -> str:
    """What a version says, as compared between versions (title, then text)."""
    return f"{title or ''}\n{text}".strip()


def _record_location(rt: Runtime, record_id: str | None) -> dict[str, Any] | None:
    if not record_id:
        return None
    try:
        r = rt.index.get_record(record_id)
    except NotFoundError:
        return {"record_id": record_id, "missing": True}
    warc = rt.index.get_warc(r.warc_name)
    return {
        "record_id": r.record_id,
        "rec_type": r.rec_type,
        "target_uri": r.target_uri,
        "date": r.date,
        "warc_file": r.warc_name,
        "warc_key": warc.key if warc else None,
        "offset": r.offset,
        "length": r.length,
        "block_digest": r.block_digest,
        "payload_digest": r.payload_digest,
        "refers_to": r.refers_to,
    }


def _capture_provenance(rt: Runtime, capture: CaptureSummary) -> dict[str, Any]:
    from archiver.governance.holds import HoldMatcher

    ledger = capture.ledger
    account = None
    if rt.policies is not None:
        account = rt.policies.accounts.get(capture.account)
    warcs = rt.index.list_warcs(capture_id=capture.capture_id)
    retain = [w.retain_until for w in warcs if w.retain_until]
    holds = HoldMatcher.active(rt).covering(capture)
    return {
        "capture_id": capture.capture_id,
        "account": capture.account,
        "series": capture.series,
        "platform": capture.platform,
        "status": capture.status,
        "started_at": capture.started_at,
        "finished_at": capture.finished_at,
        "operator": capture.actor,
        "trigger": capture.trigger,
        "schedule": (
            {"text": account.schedule.text, "timezone": account.schedule.timezone}
            if account
            else None
        ),
        "policy": {
            "hash": capture.policy_hash,
            "source": ledger.get("policy_source"),
            "in_force_now": (
                rt.policies.policy_hash == capture.policy_hash if rt.policies else None
            ),
        },
        "software": ledger.get("software"),
        "complete_listing": ledger.get("complete_listing"),
        "problems": ledger.get("problems", []),
        "records": capture.records,
        "bytes": capture.bytes,
        "posts": capture.posts,
        "warc_files": [
            {
                "name": w.name,
                "key": w.key,
                "size": w.size,
                "sha256": w.sha256,
                "status": w.status,
                "stored_at": w.stored_at,
                "retain_until": w.retain_until,
            }
            for w in warcs
        ],
        "retain_until": max(retain) if retain else None,
        "holds": [
            {"hold_id": h.hold_id, "name": h.name, "reason": h.reason, "created_by": h.created_by}
            for h in holds
        ],
    }


def _audit(rt: Runtime, needles: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "seq": e.seq,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "hash": e.hash,
        }
        for e in rt.index.audit_events_about(needles)
    ]


def provenance(rt: Runtime, ident: str) -> dict[str, Any]:
    """Where a capture, a record or a post came from and how it is kept: policy (hash and
    ``file:line``), trigger and schedule, WARC files with offsets and digests, retain-until,
    the legal holds covering it and the audit events about it. ``kind`` says which it is."""
    if rt.policies is None:
        with contextlib.suppress(ArchiverError):
            rt.reload_policies()  # the schedule in force; provenance works without it
    if rt.index.has_capture(ident):
        capture = rt.index.get_capture(ident)
        doc = _capture_provenance(rt, capture)
        doc["audit_events"] = _audit(rt, [ident, *[w["name"] for w in doc["warc_files"]]])
        return {"kind": "capture", **doc}
    if ident.startswith(("<urn:", "urn:")):
        record = rt.index.get_record(ident)
        capture = rt.index.get_capture(record.capture_id)
        return {
            "kind": "record",
            "record": _record_location(rt, record.record_id),
            "original": _record_location(rt, record.refers_to) if record.refers_to else None,
            "capture": _capture_provenance(rt, capture),
            "audit_events": _audit(rt, [capture.capture_id, record.warc_name]),
        }
    post, versions, events = rt.index.history(ident)
    capture_ids = list(dict.fromkeys([v.capture_id for v in versions]))
    captures = [
        _capture_provenance(rt, rt.index.get_capture(c))
        for c in capture_ids
        if rt.index.has_capture(c)
    ]
    retain = [c["retain_until"] for c in captures if c["retain_until"]]
    holds = {h["hold_id"]: h for c in captures for h in c["holds"]}
    return {
        "kind": "post",
        "post_id": post.post_id,
        "account": post.account,
        "series": post.series,
        "platform": post.platform,
        "native_id": post.native_id,
        "url": post.url,
        "published_at": utc(post.published_at),
        "first_captured_at": utc(post.first_captured_at),
        "last_captured_at": utc(post.last_captured_at),
        "edited": post.edited,
        "deleted": post.deleted,
        "deleted_at": utc(post.deleted_at),
        "versions": [
            {
                "version": v.version,
                "captured_at": v.captured_at,
                "capture_id": v.capture_id,
                "content_hash": v.content_hash,
                "record": _record_location(rt, v.record_id),
            }
            for v in versions
        ],
        "events": [
            {
                "kind": e.kind,
                "at": utc(e.at),
                "capture_id": e.capture_id,
                "detail": e.detail,
                "evidence": _record_location(rt, e.evidence_record_id),
            }
            for e in events
        ],
        "captures": captures,
        "retain_until": max(retain) if retain else None,
        "holds": list(holds.values()),
        "audit_events": _audit(rt, [post.post_id, *capture_ids]),
    }

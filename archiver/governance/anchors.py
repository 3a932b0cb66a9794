"""What the archive anchors outside the rows an attacker could rewrite, and the checks on it.

* Each capture's audit event records the SHA-256 of every WARC file it wrote (``capture``:
  ``warc_files``; ``capture.recovered``: ``warc``/``sha256``), so the index's digest and the
  index's list of files can be compared with what was recorded when the files were made.
* Each capture's ``metadata`` record (its ledger, inside the WARC) carries the audit chain
  head as it stood when the ledger was written, so the WARCs anchor the chain.
* Each post version came from one archived record; re-reading that record gives the text the
  index must hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from archiver.capture.connectors import connector_for
from archiver.errors import ArchiverError, PolicyError
from archiver.index.api import RecordInfo, WarcFileInfo, _storable
from archiver.logging import get_logger
from archiver.runtime import Runtime
from archiver.warc.reader import parse_member

LEDGER_URI = "urn:archiver:capture:"
CAPTURE_ACTIONS = ("capture", "capture.recovered", "capture.interrupted")


@dataclass(frozen=True)
class AnchorProblem:
    """One disagreement between the index and what was anchored (kinds as in fixity)."""

    kind: str  # changed | missing | unaudited | post_changed
    key: str
    name: str | None
    detail: str
    seq: int | None = None  # the audit event concerned, when there is one


@dataclass(frozen=True)
class AuditedWarc:
    """A WARC file as the audit event written when it was made recorded it."""

    name: str
    sha256: str | None
    capture_id: str
    seq: int


@dataclass(frozen=True)
class AnchoredHead:
    """The audit chain head a capture's ledger (in its WARC) carries."""

    warc: str
    capture_id: str
    seq: int
    hash: str


def audited_warcs(rt: Runtime) -> tuple[dict[str, AuditedWarc], set[str]]:
    """Every WARC file named by a capture event (first mention wins), and the ids of the
    captures that have an audit event at all."""
    files: dict[str, AuditedWarc] = {}
    captures: set[str] = set()
    for row in rt.index.audit_chain.with_actions(CAPTURE_ACTIONS):
        captures.add(row.subject)
        payload = row.payload_dict()
        named: dict[str, Any] = {}
        if row.action == "capture" and isinstance(payload.get("warc_files"), dict):
            named = payload["warc_files"]
        elif row.action == "capture.recovered" and isinstance(payload.get("warc"), str):
            named = {payload["warc"]: payload.get("sha256")}
        for name, sha in named.items():
            if name not in files:
                digest = sha if isinstance(sha, str) else None
                files[name] = AuditedWarc(name, digest, row.subject, row.seq)
    return files, captures


def index_against_audit(rt: Runtime) -> list[AnchorProblem]:
    """Index rows that disagree with the audit events recorded when their files were made:
    a digest changed since (the file and its index entry rewritten), a file the audit names
    that the index lost without a disposition (no tombstone), and a stored file whose capture
    has no audit event (events removed)."""
    audited, audited_captures = audited_warcs(rt)
    warcs = rt.index.list_warcs()
    disposed = rt.index.fixity.disposed_warc_names()
    running = rt.index.fixity.running_capture_ids()
    problems: list[AnchorProblem] = []
    indexed = {w.name for w in warcs}
    for w in warcs:
        a = audited.get(w.name)
        if a is not None and a.sha256 and a.sha256 != w.sha256:
            problems.append(
                AnchorProblem(
                    "changed",
                    w.key,
                    w.name,
                    f"the index says sha256 {w.sha256}, but audit event {a.seq} recorded "
                    f"sha256 {a.sha256} when the file was written: the file and its index "
                    "entry were changed",
                    a.seq,
                )
            )
        elif (
            w.status == "stored"
            and w.capture_id not in audited_captures
            and w.capture_id not in running
        ):
            problems.append(
                AnchorProblem(
                    "unaudited",
                    w.key,
                    w.name,
                    f"capture {w.capture_id} wrote this file but has no audit event: events "
                    "were removed from the audit table",
                )
            )
    for name, a in audited.items():
        if name not in indexed and name not in disposed:
            problems.append(
                AnchorProblem(
                    "missing",
                    name,
                    name,
                    f"audit event {a.seq} recorded it (capture {a.capture_id}, sha256 "
                    f"{a.sha256 or 'not recorded'}) but it is not in the index and was never "
                    "disposed (no tombstone): the file and its index rows were removed",
                    a.seq,
                )
            )
    return problems


def _member(rt: Runtime, warc: WarcFileInfo, record: RecordInfo) -> Any:
    return parse_member(rt.store.get_range(warc.key, record.offset, record.length))


def anchored_heads(rt: Runtime) -> list[AnchoredHead]:
    """The chain head in the ledger of every stored WARC's capture ``metadata`` record. A
    record that cannot be read is skipped here (fixity reports its file)."""
    found = rt.index.fixity.stored_records("metadata", LEDGER_URI)
    heads: list[AnchoredHead] = []
    for record, warc in found:
        try:
            ledger = json.loads(_member(rt, warc, record).payload)
            head = ledger.get("audit_head") if isinstance(ledger, dict) else None
            if isinstance(head, dict):
                seq, digest = int(head["seq"]), str(head["hash"])
            else:
                continue  # written before heads were anchored, or with the index down
        except (ArchiverError, ValueError, TypeError, KeyError) as exc:
            get_logger().warning("audit.anchor_unreadable", warc=warc.name, error=str(exc))
            continue
        heads.append(AnchoredHead(warc.name, warc.capture_id, seq, digest))
    return heads


def post_versions_against_records(rt: Runtime) -> list[AnchorProblem]:
    """Post versions whose text, title or content hash differ from the archived record they
    were read from (re-read from the store and parsed again by the account's connector).
    Versions whose record or account can no longer be read are left to fixity."""
    try:
        policies = rt.policies or rt.reload_policies()
    except PolicyError as exc:
        get_logger().warning("verify.posts_skipped", error=str(exc))
        return []
    problems: list[AnchorProblem] = []
    for source in rt.index.fixity.version_sources():
        record, original, warc = source.record, source.original, source.warc
        record_id = record.record_id
        account = policies.accounts.get(source.versions[0].account)
        if account is None or record.target_uri is None:
            continue
        try:
            payload = _member(rt, warc, original).payload
            derived = {
                p.native_id: _storable(p)
                for p in connector_for(account.platform).posts_from_response(
                    account, record.target_uri, original.mime, payload, record_id
                )
            }
        except Exception as exc:  # an unreadable record is fixity's to report, not a post's
            get_logger().info("verify.record_not_parsed", record=record_id, error=str(exc))
            continue
        for version in source.versions:
            d = derived.get(version.native_id)
            if d is None:
                continue
            if (
                d.content_hash() != version.content_hash
                or d.text != version.text
                or (d.title or None) != (version.title or None)
            ):
                problems.append(
                    AnchorProblem(
                        "post_changed",
                        warc.key,
                        warc.name,
                        f"post {version.post_id} ({version.account}) version {version.version}: "
                        f"the index text differs from archived record {record_id} it was read "
                        "from: the index was edited",
                    )
                )
    return problems

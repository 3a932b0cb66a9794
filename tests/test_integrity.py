"""Proving integrity: the audit chain catches edits, deletions, insertions and truncation;
fixity catches a flipped byte, a missing object and an object the index does not know."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from archiver.capture.job import capture_account
from archiver.governance.verify import verify_chain, verify_store
from archiver.index.api import audit_hash
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.runtime import Runtime
from archiver.storage.local import LocalStore
from archiver.storage.s3 import S3Store
from tests.conftest import MakeRuntime
from tests.test_audit import audited_runtime


def chain_of_five(make_runtime: MakeRuntime) -> Runtime:
    rt = audited_runtime(make_runtime)
    assert verify_chain(rt).ok and verify_chain(rt).events == 5
    return rt


def sql(rt: Runtime, statement: str, **params: object) -> None:
    with session_scope(rt.index.engine) as s:
        s.connection().execute(text(statement), params)


def test_intact_chain_verifies(make_runtime: MakeRuntime) -> None:
    report = verify_chain(chain_of_five(make_runtime))
    assert report.ok and report.head_seq == 5 and report.problem is None


def test_edited_row_is_caught(make_runtime: MakeRuntime) -> None:
    rt = chain_of_five(make_runtime)
    sql(rt, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    report = verify_chain(rt)
    assert not report.ok and report.first_broken_seq == 3
    assert report.problem is not None and "changed" in report.problem


def test_deleted_row_is_caught(make_runtime: MakeRuntime) -> None:
    rt = chain_of_five(make_runtime)
    sql(rt, "DELETE FROM audit_events WHERE seq = 2")
    report = verify_chain(rt)
    assert not report.ok and report.first_broken_seq == 3
    assert report.problem is not None and "deleted or inserted" in report.problem


def test_inserted_row_is_caught(make_runtime: MakeRuntime) -> None:
    rt = chain_of_five(make_runtime)
    with session_scope(rt.index.engine) as s:
        e2 = s.get(AuditEventRow, 2)
        assert e2 is not None
        prev = e2.hash
    # A forged event with a valid hash of its own, slipped in after event 2.
    at = datetime(2026, 1, 1, tzinfo=UTC)
    payload = json.dumps({"note": "forged"})
    forged = audit_hash(prev, at, "mallory", "capture", "forged", payload)
    sql(rt, "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 3")
    with session_scope(rt.index.engine) as s:
        s.add(
            AuditEventRow(
                seq=3,
                at=at,
                actor="mallory",
                action="capture",
                subject="forged",
                payload=payload,
                prev_hash=prev,
                hash=forged,
            )
        )
    report = verify_chain(rt)
    assert not report.ok and report.first_broken_seq == 103


def test_truncated_table_is_caught_by_the_stored_head(make_runtime: MakeRuntime) -> None:
    rt = chain_of_five(make_runtime)
    sql(rt, "DELETE FROM audit_events WHERE seq >= 4")
    report = verify_chain(rt)
    assert not report.ok and report.first_broken_seq == 4
    assert report.problem is not None and "truncated" in report.problem


def tamper(rt: Runtime, key: str, data: bytes | None) -> None:
    """Change (or, with None, remove) a stored object behind the archiver's back."""
    if isinstance(rt.store, LocalStore):
        path = rt.store.root / key
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
    else:
        assert isinstance(rt.store, S3Store)
        full = f"{rt.store.prefix}/{key}" if rt.store.prefix else key
        if data is None:
            rt.store.client.delete_object(Bucket=rt.store.bucket, Key=full)
        else:
            rt.store.client.put_object(Bucket=rt.store.bucket, Key=full, Body=data)


def test_fixity_passes_then_catches_flip_missing_and_unknown(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    rt = make_runtime()
    flipped = capture_account(rt, "demo-nasa-news")
    missing = capture_account(rt, "demo-usagov-page")
    report = verify_store(rt)
    assert report.ok and report.checked == report.passed == 2
    w_flip = rt.index.get_warc(flipped.warc_files[0])
    w_gone = rt.index.get_warc(missing.warc_files[0])
    assert w_flip is not None and w_gone is not None
    with rt.store.open_read(w_flip.key) as fh:
        data = bytearray(fh.read())
    data[len(data) // 2] ^= 0x01
    tamper(rt, w_flip.key, bytes(data))
    tamper(rt, w_gone.key, None)
    rt.store.put_bytes("stray/unindexed.warc.gz", b"not in the index")
    report = verify_store(rt)
    kinds = {(p.kind, p.key) for p in report.problems}
    assert kinds == {
        ("changed", w_flip.key),
        ("missing", w_gone.key),
        ("unknown", "stray/unindexed.warc.gz"),
    }
    assert hashlib.sha256(bytes(data)).hexdigest() in next(
        p.detail for p in report.problems if p.kind == "changed"
    )
    with session_scope(rt.index.engine) as s:
        actions = [e.action for e in s.exec(__import__("sqlmodel").select(AuditEventRow))]
    assert {"fixity.changed", "fixity.missing", "fixity.unknown_object"} <= set(actions)
    assert verify_chain(rt).ok

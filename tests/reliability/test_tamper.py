"""Tamper evidence: five attacks by someone who can write to the index and to the store, each
caught with exit 3 by ``archiver verify --all`` and/or ``archiver audit verify``.

The attacker works behind the archiver's back: SQL on the index, files under the store's root
(sidecar JSON included), S3 through the bucket's own client. What cannot be forged is what was
written before the attack and kept: the audit events that recorded each WARC's SHA-256, the
chain heads locked in the store (one per event), and the chain head each capture's WARC
``metadata`` record carries (anchored when the capture finished writing its ledger)."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from archiver.capture.job import capture_account
from archiver.errors import StorageError
from archiver.governance.audit import (
    HEAD_KEY,
    HEADS_PREFIX,
    head_copy_key,
    pending_heads_dir,
    record_event,
)
from archiver.governance.verify import verify_chain, verify_store
from archiver.index.api import NormalizedPost, WarcFileInfo, audit_hash, canonical_json, utc
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow, PostRow, PostVersionRow
from archiver.runtime import Runtime
from archiver.storage import open_store
from archiver.storage.local import META_SUFFIX, LocalStore
from archiver.storage.s3 import S3Store
from archiver.warc.reader import parse_member
from tests.conftest import MakeRuntime
from tests.test_audit import UNLOCKED, events, run_cli, sql


def archive(make_runtime: MakeRuntime) -> Runtime:
    """Three captures (permanent and unscheduled series: no lock date on their WARCs)."""
    rt = make_runtime()
    for account in (*UNLOCKED, UNLOCKED[0]):
        assert capture_account(rt, account).status == "ok"
    return rt


def warcs_of(rt: Runtime, account: str) -> list[WarcFileInfo]:
    return [w for w in rt.index.list_warcs(status="stored") if w.account == account]


def ledger_of(rt: Runtime, warc: WarcFileInfo) -> dict[str, Any]:
    [meta] = rt.index.records_of_file(warc.name, ["metadata"])
    member = rt.store.get_range(warc.key, meta.offset, meta.length)
    found = json.loads(parse_member(member).payload)
    assert isinstance(found, dict)
    return found


def full_key(store: S3Store, key: str) -> str:
    return f"{store.prefix}/{key}" if store.prefix else key


def forge_object(rt: Runtime, key: str, data: bytes) -> str:
    """Replace a stored object and everything the store keeps about its digest; returns it."""
    digest = hashlib.sha256(data).hexdigest()
    if isinstance(rt.store, LocalStore):
        path = rt.store.root / key
        path.write_bytes(data)
        meta_path = path.with_name(path.name + META_SUFFIX)
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        meta["sha256"] = digest
        meta_path.write_text(json.dumps(meta))
    else:
        assert isinstance(rt.store, S3Store)
        import base64

        rt.store.client.put_object(
            Bucket=rt.store.bucket,
            Key=full_key(rt.store, key),
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode(),
            Metadata={"sha256": digest},
        )
    assert rt.store.head(key).sha256 == digest
    return digest


def remove_behind_the_back(rt: Runtime, key: str) -> None:
    """Delete an object as its owner would: unlink the file, or an S3 DELETE (which, on a
    locked object, only hides it behind a delete marker)."""
    if isinstance(rt.store, LocalStore):
        path = rt.store.root / key
        path.chmod(0o644)
        path.unlink()
        path.with_name(path.name + META_SUFFIX).unlink(missing_ok=True)
    else:
        assert isinstance(rt.store, S3Store)
        rt.store.client.delete_object(Bucket=rt.store.bucket, Key=full_key(rt.store, key))


def clean(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli(rt, monkeypatch, "audit", "verify", "--json", code=0)["ok"] is True
    assert run_cli(rt, monkeypatch, "verify", "--all", "--json", code=0)["ok"] is True


# --- what is anchored where ---------------------------------------------------------------------


def test_a_clean_archive_passes_both_commands(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = archive(make_runtime)
    clean(rt, monkeypatch)
    clean(rt, monkeypatch)  # the commands' own events are anchored like any other


def test_each_capture_ledger_in_the_warc_carries_the_chain_head_of_its_finish(
    make_runtime: MakeRuntime,
) -> None:
    rt = archive(make_runtime)
    by_seq = {e.seq: e.hash for e in events(rt)}
    capture_seq = {e.subject: e.seq for e in events(rt) if e.action == "capture"}
    for account in UNLOCKED:
        for warc in warcs_of(rt, account):
            head = ledger_of(rt, warc)["audit_head"]
            # the newest event before the capture's own event (which records the WARC's digest)
            assert head["seq"] == capture_seq[warc.capture_id] - 1
            assert head["hash"] == by_seq[head["seq"]]


def test_every_event_has_a_locked_chain_head_that_the_store_refuses_to_delete(
    make_runtime: MakeRuntime,
) -> None:
    rt = archive(make_runtime)
    copies = {o.key for o in rt.store.list(HEADS_PREFIX)}
    assert copies == {f"{HEADS_PREFIX}{e.seq:012d}.json" for e in events(rt)}
    now = datetime.now(UTC)
    for key in copies:
        info = rt.store.head(key)
        assert info.retain_until is not None and info.retain_until > now
        with pytest.raises(StorageError):
            rt.store.delete(key)
    if isinstance(rt.store, LocalStore):
        assert all(((rt.store.root / k).stat().st_mode & 0o222) == 0 for k in copies)


def test_a_head_the_store_could_not_take_waits_in_the_data_dir_and_ships_with_the_next_event(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A store outage is no tamper: the event's head is kept locally, counted as anchored, and
    stored with the next event."""
    rt = archive(make_runtime)
    store = rt.store
    blocked = tmp_path / "unwritable"
    blocked.write_text("a file where the store's folder should be")
    rt.store = open_store(blocked.as_uri())  # every write fails with StorageError
    record_event(rt, "test.during_outage", "store", {})
    rt.store = store
    [waiting] = list(pending_heads_dir(rt).glob("*.json"))
    seq = events(rt)[-1].seq
    assert waiting.name == f"{seq:012d}.json" and not store.exists(head_copy_key(seq))
    assert verify_chain(rt).ok
    record_event(rt, "test.after_outage", "store", {})
    assert list(pending_heads_dir(rt).glob("*.json")) == []
    assert store.exists(head_copy_key(seq)) and store.exists(head_copy_key(seq + 1))
    clean(rt, monkeypatch)


# --- (a) a flipped byte, with the index sha256 and the sidecar updated to match ----------------


def test_a_flipped_byte_is_caught_although_index_and_sidecar_were_updated(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = archive(make_runtime)
    clean(rt, monkeypatch)
    warc = warcs_of(rt, "demo-nasa-news")[0]
    with rt.store.open_read(warc.key) as fh:
        data = bytearray(fh.read())
    data[len(data) // 2] ^= 0x01
    forged = forge_object(rt, warc.key, bytes(data))
    sql(rt, "UPDATE warc_files SET sha256 = :d WHERE name = :n", d=forged, n=warc.name)

    report = verify_store(rt)
    [problem] = [p for p in report.problems if p.key == warc.key]
    assert problem.kind == "changed" and warc.sha256 in problem.detail
    assert "audit event" in problem.detail
    out = run_cli(rt, monkeypatch, "verify", "--all", "--json", code=3)
    assert warc.key in {p["key"] for p in out["problems"]}
    chain = run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)
    assert warc.name in chain["problem"] and "sha256" in chain["problem"]


def test_a_record_rewritten_with_a_valid_gzip_fails_its_block_digest(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even for a WARC whose upload event was lost (indexed from the spool, say): the
    per-record WARC-Block-Digest is re-checked on a full re-read."""
    rt = archive(make_runtime)
    warc = warcs_of(rt, "demo-nasa-news")[0]
    [response, *_] = rt.index.records_of_file(warc.name, ["response"])
    with rt.store.open_read(warc.key) as fh:
        data = fh.read()
    member = data[response.offset : response.offset + response.length]
    raw = zlib.decompress(member, zlib.MAX_WBITS + 16)
    at = raw.rfind(b"<")  # a byte of the archived body, same length
    changed = gzip.compress(raw[:at] + b">" + raw[at + 1 :])
    forged_bytes = data[: response.offset] + changed + data[response.offset + response.length :]
    forged = forge_object(rt, warc.key, forged_bytes)
    sql(rt, "UPDATE warc_files SET sha256 = :d, size = :s WHERE name = :n",
        d=forged, s=len(forged_bytes), n=warc.name)  # fmt: skip
    sql(rt, "UPDATE records SET length = :l WHERE record_id = :r",
        l=len(changed), r=response.record_id)  # fmt: skip
    sql(rt, "DELETE FROM audit_events WHERE action = 'capture' AND subject = :c",
        c=warc.capture_id)  # fmt: skip

    report = verify_store(rt)
    details = [p.detail for p in report.problems if p.key == warc.key]
    assert any("block digest" in d and response.record_id in d for d in details), details
    run_cli(rt, monkeypatch, "verify", "--all", "--json", code=3)


# --- (b) a WARC deleted together with its index rows --------------------------------------------


def test_a_warc_deleted_with_its_index_rows_is_caught(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = archive(make_runtime)
    clean(rt, monkeypatch)
    warc = warcs_of(rt, "demo-nasa-news")[-1]
    remove_behind_the_back(rt, warc.key)
    sql(rt, "DELETE FROM records WHERE warc_name = :n", n=warc.name)
    sql(rt, "DELETE FROM warc_files WHERE name = :n", n=warc.name)
    assert rt.index.get_warc(warc.name) is None

    report = verify_store(rt)
    [problem] = [p for p in report.problems if p.name == warc.name]
    assert problem.kind == "missing" and "audit event" in problem.detail
    out = run_cli(rt, monkeypatch, "verify", "--all", "--json", code=3)
    assert warc.name in {p["name"] for p in out["problems"]}
    chain = run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)
    assert warc.name in chain["problem"] and "not in the index" in chain["problem"]


# --- (c) an edited post text --------------------------------------------------------------------


def test_an_edited_post_text_is_caught_against_the_archived_record(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = archive(make_runtime)
    clean(rt, monkeypatch)
    with session_scope(rt.index.engine) as s:
        version, post = s.exec(
            select(PostVersionRow, PostRow)
            .where(PostVersionRow.post_id == PostRow.post_id)
            .where(col(PostVersionRow.record_id).is_not(None))
            .order_by(col(PostVersionRow.id))
        ).first() or (None, None)
        assert version is not None and post is not None
        vid, pid, title, url = version.id, version.post_id, version.title, post.url
    text = "This post never said what it says now."
    # The forger keeps the row self-consistent: the content hash matches the new text.
    digest = NormalizedPost(native_id="x", url=url, text=text, title=title).content_hash()
    sql(rt, "UPDATE post_versions SET text = :t, content_hash = :h WHERE id = :i",
        t=text, h=digest, i=vid)  # fmt: skip

    report = verify_store(rt)
    [problem] = [p for p in report.problems if p.kind == "post_changed"]
    assert pid in problem.detail and version.record_id in problem.detail
    out = run_cli(rt, monkeypatch, "verify", "--all", "--json", code=3)
    assert any(pid in p["detail"] for p in out["problems"])


# --- (d) a forged audit row appended at the end -------------------------------------------------


def append_forged_event(rt: Runtime) -> int:
    """A row with a valid hash, linked to the last one: the chain itself is intact."""
    last = events(rt)[-1]
    assert last.seq is not None
    at = utc(last.at)
    payload = canonical_json({"plan": "forged", "destroyed": 3})
    digest = audit_hash(last.hash, at, "records-officer", "retention.disposed", "p-1", payload)
    with session_scope(rt.index.engine) as s:  # the next seq, as the database hands it out
        row = AuditEventRow(
            at=at,
            actor="records-officer",
            action="retention.disposed",
            subject="p-1",
            payload=payload,
            prev_hash=last.hash,
            hash=digest,
        )
        s.add(row)
        s.flush()
        assert row.seq == last.seq + 1
        return row.seq


def test_a_forged_event_appended_at_the_end_is_caught_and_stays_caught(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = archive(make_runtime)
    clean(rt, monkeypatch)
    seq = append_forged_event(rt)
    report = verify_chain(rt)
    assert not report.ok and report.first_broken_seq == seq
    assert report.problem is not None and "not anchored" in report.problem
    out = run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)
    assert out["first_broken_seq"] == seq
    # Later events (the command's own, a capture) must not anchor the forged one.
    assert capture_account(rt, "demo-nasa-news").status == "ok"
    assert run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)["first_broken_seq"] == seq
    run_cli(rt, monkeypatch, "verify", "--all", "--json", code=3)


def test_a_forged_event_with_a_forged_current_head_is_caught(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The current head is a pointer, rewritten at every event: forging it too changes
    nothing, the locked per-event heads disagree."""
    rt = archive(make_runtime)
    seq = append_forged_event(rt)
    forged = events(rt)[-1]
    head = {"seq": seq, "hash": forged.hash, "at": "2026-01-01T00:00:00Z", "events": seq}
    if isinstance(rt.store, LocalStore):
        forge_object(rt, HEAD_KEY, json.dumps(head).encode())
    else:
        rt.store.put_bytes(HEAD_KEY, json.dumps(head).encode())
    out = run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)
    assert out["first_broken_seq"] == seq and "not anchored" in out["problem"]


# --- (e) truncation after deleting the chain-head files -----------------------------------------


@pytest.mark.parametrize("cut", ["anchored", "last-capture"])
def test_truncation_after_deleting_the_chain_heads_is_caught(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    rt = archive(make_runtime)
    captures = [e for e in events(rt) if e.action == "capture"]
    last_warc = warcs_of(rt, "demo-nasa-news")[-1]
    anchored = ledger_of(rt, last_warc)["audit_head"]["seq"]
    # "anchored": the events the last WARC names go too; "last-capture": only its own event.
    start = anchored if cut == "anchored" else captures[-1].seq
    for obj in list(rt.store.list("audit/")):
        if obj.key.startswith(HEADS_PREFIX):
            with pytest.raises(StorageError):
                rt.store.delete(obj.key)  # locked: the store refuses
        remove_behind_the_back(rt, obj.key)
    assert list(rt.store.list("audit/")) == []
    sql(rt, "DELETE FROM audit_events WHERE seq >= :s", s=start)

    report = verify_chain(rt)
    assert not report.ok and report.problem is not None
    if cut == "anchored":
        assert last_warc.name in report.problem and "truncated" in report.problem
    else:
        assert last_warc.capture_id in report.problem
    run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)
    run_cli(rt, monkeypatch, "verify", "--all", "--json", code=3)

"""Fixity: every stored WARC file is re-read and compared with the index; an object changed,
missing or unknown to the index is reported, recorded in the audit chain, and exits 3.

Objects are altered behind the archiver's back: on files by writing under the store's root, on
S3 through the bucket's own client. Captures of the permanent series (demo-nasa-news) and the
unscheduled account (demo-usagov-page) carry no lock date, so S3 lets them be overwritten."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.governance.verify import FixityReport, verify_chain, verify_store
from archiver.index.api import WarcFileInfo, utc
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow, WarcFileRow
from archiver.runtime import Runtime
from archiver.storage.local import LocalStore
from archiver.storage.s3 import S3Store
from tests.conftest import MakeRuntime
from tests.test_audit import UNLOCKED, run_cli

VERIFIED_AT = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


def tamper(rt: Runtime, key: str, data: bytes | None) -> None:
    """Overwrite (or, with None, delete) a stored object without going through the archiver."""
    if isinstance(rt.store, LocalStore):
        path = rt.store.root / key
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
        return
    assert isinstance(rt.store, S3Store)
    full_key = f"{rt.store.prefix}/{key}" if rt.store.prefix else key
    if data is None:
        rt.store.client.delete_object(Bucket=rt.store.bucket, Key=full_key)
    else:
        rt.store.client.put_object(Bucket=rt.store.bucket, Key=full_key, Body=data)


def stored_warcs(make_runtime: MakeRuntime, rounds: int = 1) -> tuple[Runtime, list[WarcFileInfo]]:
    """A runtime with ``rounds`` captures of each unlocked account; its stored WARC files."""
    rt = make_runtime()
    for _ in range(rounds):
        for account in UNLOCKED:
            assert capture_account(rt, account).status == "ok"
    rt.clock = FrozenClock(VERIFIED_AT)
    warcs = rt.index.list_warcs(status="stored")
    assert len(warcs) == rounds * len(UNLOCKED)
    return rt, warcs


def content(rt: Runtime, key: str) -> bytes:
    with rt.store.open_read(key) as stream:
        return stream.read()


def flip_a_byte(rt: Runtime, key: str) -> bytes:
    data = bytearray(content(rt, key))
    data[len(data) // 2] ^= 0x01
    tamper(rt, key, bytes(data))
    return bytes(data)


def verified_at(rt: Runtime) -> dict[str, datetime | None]:
    with session_scope(rt.index.engine) as s:
        return {w.name: utc(w.last_verified_at) for w in s.exec(select(WarcFileRow))}


def problems(report: FixityReport) -> set[tuple[str, str, str | None]]:
    return {(p.kind, p.key, p.name) for p in report.problems}


def audit_events(rt: Runtime, prefix: str) -> list[AuditEventRow]:
    with session_scope(rt.index.engine) as s:
        rows = s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq)))
        return [e for e in rows if e.action.startswith(prefix)]


def test_stored_objects_pass_after_captures_and_are_marked_verified(
    make_runtime: MakeRuntime,
) -> None:
    rt, warcs = stored_warcs(make_runtime)
    assert all(v is None for v in verified_at(rt).values())
    report = verify_store(rt)
    assert report.ok and report.full and report.problems == []
    assert report.checked == report.passed == 2
    assert verified_at(rt) == {w.name: VERIFIED_AT for w in warcs}
    [run] = audit_events(rt, "fixity.")
    assert run.action == "fixity.verified"
    assert json.loads(run.payload) == {
        "checked": 2,
        "passed": 2,
        "full": True,
        "sample": None,
        "problems": 0,
        "actor": rt.settings.actor,  # a named actor is recorded beside the OS user
        "os_user": rt.settings.os_user,
    }


def test_flipped_byte_is_reported_changed_and_not_marked_verified(
    make_runtime: MakeRuntime,
) -> None:
    rt, [flipped, intact] = stored_warcs(make_runtime)
    data = flip_a_byte(rt, flipped.key)
    assert len(data) == flipped.size  # only the digest can tell
    report = verify_store(rt)
    assert not report.ok and (report.checked, report.passed) == (2, 1)
    assert problems(report) == {("changed", flipped.key, flipped.name)}
    [problem] = report.problems
    assert hashlib.sha256(data).hexdigest() in problem.detail and flipped.sha256 in problem.detail
    assert verified_at(rt) == {flipped.name: None, intact.name: VERIFIED_AT}


def test_shortened_object_is_reported_changed_by_size_alone(make_runtime: MakeRuntime) -> None:
    rt, [shortened, _] = stored_warcs(make_runtime)
    tamper(rt, shortened.key, content(rt, shortened.key)[:-10])
    report = verify_store(rt, full=False)
    assert problems(report) == {("changed", shortened.key, shortened.name)}
    assert f"size {shortened.size - 10}" in report.problems[0].detail
    assert not report.full


def test_missing_object_is_reported_missing(make_runtime: MakeRuntime) -> None:
    rt, [gone, intact] = stored_warcs(make_runtime)
    tamper(rt, gone.key, None)
    report = verify_store(rt)
    assert problems(report) == {("missing", gone.key, gone.name)}
    assert (report.checked, report.passed) == (2, 1)
    assert verified_at(rt) == {gone.name: None, intact.name: VERIFIED_AT}


def test_unknown_object_is_reported_but_governance_records_are_not(
    make_runtime: MakeRuntime,
) -> None:
    rt, _ = stored_warcs(make_runtime)
    rt.store.put_bytes("demo-press-permanent/demo-nasa-news/2031/05/slipped-in.warc.gz", b"x")
    for key in ("certificates/plan-1.json", "transfers/plan-1/bag.zip", "audit/notes.json"):
        rt.store.put_bytes(key, b"{}")
    report = verify_store(rt)
    assert problems(report) == {
        ("unknown", "demo-press-permanent/demo-nasa-news/2031/05/slipped-in.warc.gz", None)
    }
    assert report.checked == report.passed == 2


def test_each_problem_is_an_audit_event_and_the_chain_stays_intact(
    make_runtime: MakeRuntime,
) -> None:
    rt, [changed, gone] = stored_warcs(make_runtime)
    flip_a_byte(rt, changed.key)
    tamper(rt, gone.key, None)
    rt.store.put_bytes("stray/unindexed.warc.gz", b"not in the index")
    report = verify_store(rt)
    assert len(report.problems) == 3
    recorded = {(e.action, e.subject): json.loads(e.payload) for e in audit_events(rt, "fixity.")}
    assert set(recorded) == {
        ("fixity.changed", changed.key),
        ("fixity.missing", gone.key),
        ("fixity.unknown_object", "stray/unindexed.warc.gz"),
        ("fixity.verified", "store"),
    }
    assert recorded["fixity.changed", changed.key]["warc"] == changed.name
    assert recorded["fixity.missing", gone.key]["warc"] == gone.name
    assert recorded["fixity.unknown_object", "stray/unindexed.warc.gz"]["warc"] is None
    assert recorded["fixity.verified", "store"]["problems"] == 3
    assert all(e.actor == "test-operator" for e in audit_events(rt, "fixity."))
    assert verify_chain(rt).ok


def test_sample_checks_the_objects_the_injected_rng_picks(make_runtime: MakeRuntime) -> None:
    rt, warcs = stored_warcs(make_runtime, rounds=3)
    expected = {w.name for w in random.Random(7).sample(warcs, 2)}  # warcs are in name order
    report = verify_store(rt, sample=2, rng=random.Random(7))
    assert report.ok and report.checked == report.passed == 2
    assert {n for n, at in verified_at(rt).items() if at == VERIFIED_AT} == expected
    assert json.loads(audit_events(rt, "fixity.verified")[0].payload)["sample"] == 2
    everything = verify_store(rt, sample=100, rng=random.Random(7))
    assert everything.checked == len(warcs) == 6


def test_verify_command_exits_3_listing_each_problem(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, [changed, gone] = stored_warcs(make_runtime)
    intact = run_cli(rt, monkeypatch, "verify", "--json", code=0)
    assert intact["ok"] is True and intact["checked"] == intact["passed"] == 2
    assert "2/2 objects verified" in run_cli(rt, monkeypatch, "verify", "--all", code=0)

    flip_a_byte(rt, changed.key)
    tamper(rt, gone.key, None)
    bad = run_cli(rt, monkeypatch, "verify", "--all", "--json", code=3)
    assert bad["ok"] is False and (bad["checked"], bad["passed"]) == (2, 0)
    assert {(p["kind"], p["key"], p["name"]) for p in bad["problems"]} == {
        ("changed", changed.key, changed.name),
        ("missing", gone.key, gone.name),
    }
    sampled = run_cli(rt, monkeypatch, "verify", "--sample", "5", "--json", code=3)
    assert sampled["checked"] == 2 and len(sampled["problems"]) == 2
    printed = run_cli(rt, monkeypatch, "verify", code=3)
    assert "0/2 objects verified" in printed
    assert f"changed: {changed.key}" in printed and f"missing: {gone.key}" in printed


def test_quick_sizes_do_not_count_as_verified(make_runtime: MakeRuntime) -> None:
    rt, _ = stored_warcs(make_runtime)
    report = verify_store(rt, full=False)
    assert report.ok and report.passed == 2 and not report.full
    assert set(verified_at(rt).values()) == {None}


def test_a_sampled_run_still_reports_unknown_objects(make_runtime: MakeRuntime) -> None:
    rt, _ = stored_warcs(make_runtime)
    rt.store.put_bytes("stray/extra.warc.gz", b"not ours")
    report = verify_store(rt, sample=1, rng=random.Random(1))
    assert ("unknown", "stray/extra.warc.gz", None) in problems(report)


@pytest.mark.parametrize("args", [("--sample", "0"), ("--all", "--sample", "2")])
def test_verify_refuses_a_sample_that_checks_nothing_or_contradicts_all(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    rt, _ = stored_warcs(make_runtime)
    run_cli(rt, monkeypatch, "verify", *args, code=2)

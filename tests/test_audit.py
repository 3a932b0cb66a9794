"""The audit chain: every capture and governance act is a hash-linked event, the head is kept in
the store, and `audit verify` names the first event that was changed, removed or slipped in.

Complements tests/test_integrity.py (actor edit, middle deletion, renumbered insertion, plain
truncation) with the other ways a row can be falsified, the stored head and the command."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from archiver.capture.job import capture_account
from archiver.governance.audit import HEAD_KEY, HEADS_PREFIX, record_event
from archiver.governance.verify import ChainReport, verify_chain
from archiver.index.api import GENESIS, audit_hash, utc
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.runtime import Runtime
from tests.cli_inprocess import invoke
from tests.conftest import MakeRuntime

UNLOCKED = ("demo-nasa-news", "demo-usagov-page")  # permanent / unscheduled: no lock date


def audited_runtime(make_runtime: MakeRuntime) -> Runtime:
    """Four captures: the policy load plus one event per capture, five events in all."""
    rt = make_runtime()
    for _ in range(2):
        for account in UNLOCKED:
            capture_account(rt, account)
    assert [e.seq for e in events(rt)] == [1, 2, 3, 4, 5]
    return rt


def events(rt: Runtime) -> list[AuditEventRow]:
    with session_scope(rt.index.engine) as s:
        return list(s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq))))


def sql(rt: Runtime, statement: str, **params: object) -> None:
    with session_scope(rt.index.engine) as s:
        s.connection().execute(text(statement), params)


def rehash_from(rt: Runtime, seq: int) -> None:
    """What a forger with database access does: recompute every hash from ``seq`` on, so each
    row matches its content and links to the one before."""
    with session_scope(rt.index.engine) as s:
        rows = list(s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq))))
        prev = GENESIS
        for row in rows:
            if row.seq is not None and row.seq >= seq:
                row.prev_hash = prev
                row.hash = audit_hash(
                    prev, utc(row.at), row.actor, row.action, row.subject, row.payload
                )
                s.add(row)
                s.flush()
            prev = row.hash


def broken(report: ChainReport, at: int, *words: str) -> bool:
    return (
        not report.ok
        and report.first_broken_seq == at
        and report.problem is not None
        and all(w in report.problem for w in words)
    )


# --- the chain as written ----------------------------------------------------------------------


def test_empty_chain_verifies(make_runtime: MakeRuntime) -> None:
    report = verify_chain(make_runtime())
    assert report.ok and report.events == 0 and report.head_seq is None


def test_every_capture_extends_an_intact_chain(make_runtime: MakeRuntime) -> None:
    rt = audited_runtime(make_runtime)
    rows = events(rt)
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    assert [r.action for r in rows].count("capture") == 4
    report = verify_chain(rt)
    assert report.ok and report.events == 5 and report.problem is None
    assert (report.head_seq, report.head_hash) == (5, rows[-1].hash)


def test_recorded_event_returns_its_hash_and_actor_defaults_to_the_operator(
    make_runtime: MakeRuntime,
) -> None:
    rt = make_runtime()
    first = record_event(rt, "test.noted", "subject-1", {"n": 1})
    second = record_event(rt, "test.noted", "subject-2", {"n": 2}, actor="alice")
    rows = events(rt)
    assert [r.hash for r in rows] == [first, second]
    assert [r.actor for r in rows] == ["test-operator", "alice"]
    # a named actor is not the OS user running the process: the payload records both
    assert json.loads(rows[1].payload) == {"n": 2, "actor": "alice", "os_user": getpass.getuser()}
    assert verify_chain(rt).ok


def test_chain_head_and_a_copy_per_event_are_kept_in_the_store(make_runtime: MakeRuntime) -> None:
    rt = audited_runtime(make_runtime)
    rows = events(rt)
    head = json.loads(rt.store.get_range(HEAD_KEY, 0))
    assert head["seq"] == 5 and head["hash"] == rows[-1].hash and head["events"] == 5
    assert datetime.fromisoformat(head["at"].replace("Z", "+00:00")) == utc(rows[-1].at)
    copies = [o.key for o in rt.store.list("audit/heads/")]
    assert copies == [f"audit/heads/{r.seq:012d}.json" for r in rows]
    third = json.loads(rt.store.get_range("audit/heads/000000000003.json", 0))
    assert (third["seq"], third["hash"]) == (3, rows[2].hash)


# --- falsified rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("payload", '{"records":0}'),
        ("subject", "some-other-capture"),
        ("action", "retention.disposed"),
        ("at", datetime(2020, 1, 1, tzinfo=UTC)),
    ],
)
def test_edited_column_is_caught_at_that_event(
    make_runtime: MakeRuntime, column: str, value: object
) -> None:
    rt = audited_runtime(make_runtime)
    sql(rt, f"UPDATE audit_events SET {column} = :value WHERE seq = 4", value=value)
    assert broken(verify_chain(rt), 4, "event 4", "changed")


def test_deleted_first_event_is_caught_at_the_second(make_runtime: MakeRuntime) -> None:
    rt = audited_runtime(make_runtime)
    sql(rt, "DELETE FROM audit_events WHERE seq = 1")
    assert broken(verify_chain(rt), 2, "event 2")


def test_substituted_event_is_caught_at_the_next(make_runtime: MakeRuntime) -> None:
    rt = audited_runtime(make_runtime)
    prev = events(rt)[1].hash
    sql(rt, "DELETE FROM audit_events WHERE seq = 3")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    payload = json.dumps({"note": "forged"})
    with session_scope(rt.index.engine) as s:  # a row valid on its own, linked to event 2
        s.add(
            AuditEventRow(
                seq=3,
                at=at,
                actor="mallory",
                action="capture",
                subject="forged",
                payload=payload,
                prev_hash=prev,
                hash=audit_hash(prev, at, "mallory", "capture", "forged", payload),
            )
        )
    assert broken(verify_chain(rt), 4, "event 4")


def test_edited_then_rehashed_tail_is_caught_by_the_stored_head(make_runtime: MakeRuntime) -> None:
    rt = audited_runtime(make_runtime)
    sql(rt, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 4")
    rehash_from(rt, 4)
    report = verify_chain(rt)
    assert broken(report, 5, "event 5", "chain head")
    assert report.stored_head_seq == 5 and report.stored_head_hash != events(rt)[-1].hash


def test_every_event_deleted_is_caught_by_the_stored_head(make_runtime: MakeRuntime) -> None:
    rt = audited_runtime(make_runtime)
    sql(rt, "DELETE FROM audit_events")
    report = verify_chain(rt)
    assert broken(report, 1, "truncated", "event 5")
    assert report.events == 0


def test_truncation_stays_caught_after_later_events(
    make_runtime: MakeRuntime, request: pytest.FixtureRequest
) -> None:
    """Removing the newest events must not be forgiven once the archive keeps working."""
    rt = audited_runtime(make_runtime)
    sql(rt, "DELETE FROM audit_events WHERE seq >= 4")
    assert not verify_chain(rt).ok
    capture_account(rt, "demo-nasa-news")
    assert not verify_chain(rt).ok


# --- the commands ------------------------------------------------------------------------------


def run_cli(rt: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str, code: int) -> Any:
    """Run a command in-process against ``rt``'s index and store; its ``--json`` output (parsed,
    whatever the exit code) or its stdout."""
    result = invoke(rt, monkeypatch, *args, code=code, actor="cli-test")
    if "--json" not in args:
        return result.stdout
    return result if code == 0 else json.loads(result.stdout)


def test_audit_verify_command_exits_0_when_intact_and_3_naming_the_broken_event(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = audited_runtime(make_runtime)
    intact = run_cli(rt, monkeypatch, "audit", "verify", "--json", code=0)
    assert intact["ok"] is True and intact["events"] == 5 and intact["head_seq"] == 5
    assert "audit chain intact: 6 events" in run_cli(rt, monkeypatch, "audit", "verify", code=0)
    assert [e.action for e in events(rt)][-2:] == ["audit.verified", "audit.verified"]

    sql(rt, "UPDATE audit_events SET payload = '{}' WHERE seq = 2")
    bad = run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)
    assert bad["ok"] is False and bad["first_broken_seq"] == 2
    assert "event 2" in bad["problem"]
    assert "event 2" in run_cli(rt, monkeypatch, "audit", "verify", code=3)


def test_audit_verify_command_keeps_failing_after_reporting_a_truncation(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The command records its own run in the chain; that record must not mend the chain."""
    rt = audited_runtime(make_runtime)
    sql(rt, "DELETE FROM audit_events WHERE seq >= 4")
    first = run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)
    assert "truncated" in first["problem"]
    run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)


def test_concurrent_appends_never_fork_the_chain(make_runtime: MakeRuntime) -> None:
    """The daemon appends from a thread pool: every event must link onto the one before."""
    from concurrent.futures import ThreadPoolExecutor

    rt = make_runtime()
    already = len(events(rt))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: record_event(rt, "test.append", f"s{i}", {"i": i}), range(40)))
    rows = events(rt)
    assert len(rows) == already + 40
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    assert verify_chain(rt).ok


def test_an_unreadable_stored_head_is_an_integrity_failure(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = audited_runtime(make_runtime)
    rt.store.put_bytes(HEAD_KEY, b"{not json")
    report = verify_chain(rt)
    assert not report.ok and report.problem is not None and "unreadable" in report.problem
    assert report.head_seq == 5  # the table's end is still reported
    assert run_cli(rt, monkeypatch, "audit", "verify", "--json", code=3)["ok"] is False


def test_head_copies_are_never_overwritten_and_a_forged_table_cannot_move_the_head(
    make_runtime: MakeRuntime,
) -> None:
    rt = audited_runtime(make_runtime)
    copy = f"{HEADS_PREFIX}{3:012d}.json"
    before = rt.store.get_range(copy, 0)
    sql(rt, "UPDATE audit_events SET actor = 'mallory' WHERE seq >= 3")
    rehash_from(rt, 3)
    head_before = rt.store.get_range(HEAD_KEY, 0)
    capture_account(rt, "demo-nasa-news")  # the capture succeeds; the head stays as evidence
    assert rt.store.get_range(HEAD_KEY, 0) == head_before
    assert rt.store.get_range(copy, 0) == before
    report = verify_chain(rt)
    assert not report.ok and report.first_broken_seq is not None

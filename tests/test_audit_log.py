"""`archiver audit list` and `audit export` on both backends: filters select exactly the events
asked for, and an export carries the chain's verification result with it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.governance.audit import record_event
from archiver.governance.holds import HoldCriteria, add_hold
from archiver.index.api import audit_hash
from archiver.runtime import Runtime
from tests.cli_inprocess import invoke
from tests.conftest import MakeRuntime

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
QUAKES = "demo-usgs-quakes"


def story(make_runtime: MakeRuntime) -> tuple[Runtime, str]:
    """Day 1: alice captures quakes; day 2: bob places a hold; day 3: carol notes something."""
    rt = make_runtime(actor="alice", clock=FrozenClock(T0))
    capture = capture_account(rt, QUAKES)
    bob = make_runtime(actor="bob", create=False, clock=FrozenClock(T0 + timedelta(days=1)))
    add_hold(bob, "FOIA-9", "records request", HoldCriteria(account=QUAKES))
    carol = make_runtime(actor="carol", create=False, clock=FrozenClock(T0 + timedelta(days=2)))
    record_event(carol, "test.noted", "something", {"n": 1})
    return rt, capture.capture_id


def test_audit_list_filters_by_time_actor_action_and_capture(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, capture_id = story(make_runtime)

    def actions(*args: str) -> list[str]:
        return [e["action"] for e in invoke(rt, monkeypatch, "audit", "list", *args, "--json")]

    assert actions() == ["policy.loaded", "capture", "hold.added", "test.noted"]
    assert actions("--actor", "bob") == ["hold.added"]
    assert actions("--since", "2026-11-03", "--until", "2026-11-03") == ["hold.added"]
    assert actions("--until", "2026-11-02") == ["policy.loaded", "capture"]
    assert actions("--action", "hold.*") == ["hold.added"]
    assert actions("--action", "hold") == []  # exact unless it ends in *
    assert actions("--capture", capture_id) == ["capture", "hold.added"]  # the hold names it
    assert actions("--actor", "alice", "--action", "capture") == ["capture"]
    assert actions("--limit", "1") == ["test.noted"]
    [event] = invoke(rt, monkeypatch, "audit", "list", "--actor", "carol", "--json")
    assert event["subject"] == "something" and event["payload"]["n"] == 1
    invoke(rt, monkeypatch, "audit", "list", "--since", "yesterday", code=2)
    assert "hold.added" in invoke(rt, monkeypatch, "audit", "list").stdout


def test_audit_export_json_and_csv_carry_the_verification_and_recomputable_hashes(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rt, _ = story(make_runtime)
    target = tmp_path / "audit.json"
    invoke(rt, monkeypatch, "audit", "export", "--format", "json", "-o", str(target))
    doc = json.loads(target.read_text())
    check = doc["verification"]
    assert check["ok"] is True and check["problem"] is None
    assert check["head_seq"] == doc["events"][-1]["seq"] == 4
    assert check["head_hash"] == doc["events"][-1]["hash"]
    prev = None
    for e in doc["events"]:
        at = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        payload = json.dumps(e["payload"], sort_keys=True, separators=(",", ":"))
        assert (
            audit_hash(e["prev_hash"], at, e["actor"], e["action"], e["subject"], payload)
            == (e["hash"])
        )
        assert prev is None or e["prev_hash"] == prev
        prev = e["hash"]
    assert invoke(rt, monkeypatch, "audit", "list", "--json")[-1]["action"] == "audit.exported"

    sheet = tmp_path / "bob.csv"
    invoke(
        rt, monkeypatch, "audit", "export", "--format", "csv", "-o", str(sheet), "--actor", "bob"
    )
    lines = sheet.read_text().splitlines()
    assert lines[-1].startswith("# audit chain verification: ok=true events=5 head_seq=5 ")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[:-1]))))
    assert [r["action"] for r in rows] == ["hold.added"]
    assert json.loads(rows[0]["payload"])["name"] == "FOIA-9"
    invoke(rt, monkeypatch, "audit", "export", "--format", "xml", "-o", str(sheet), code=2)


def test_audit_export_of_a_broken_chain_says_so_and_exits_3(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rt, _ = story(make_runtime)
    with rt.index.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    target = tmp_path / "audit.csv"
    invoke(rt, monkeypatch, "audit", "export", "--format", "csv", "-o", str(target), code=3)
    last = target.read_text().splitlines()[-1]
    assert "ok=false" in last and "event 3 was changed" in last
    doc_path = tmp_path / "audit.json"
    invoke(rt, monkeypatch, "audit", "export", "--format", "json", "-o", str(doc_path), code=3)
    doc = json.loads(doc_path.read_text())
    assert doc["verification"]["ok"] is False and doc["verification"]["first_broken_seq"] == 3

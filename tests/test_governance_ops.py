"""Governance operations on both backends: forecast lock dates, listing, showing and cancelling
plans, who the actor is, and separation of duties at execution."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.config import load_settings
from archiver.errors import ConfigError, PolicyError, UsageError
from archiver.governance.disposition import approve_plan, execute_plan, get_plan, make_plan
from archiver.governance.holds import HoldCriteria, add_hold
from archiver.governance.plans import cancel_plan, list_plans, plan_record
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.policy.loader import load_policies
from archiver.runtime import Runtime
from tests.cli_inprocess import invoke
from tests.conftest import ROOT, MakeRuntime, archiver_env, write_policy

NOW = datetime.now(UTC)
LONG_AGO = FrozenClock(NOW - timedelta(days=200))  # past a P90D schedule
RECENT = FrozenClock(NOW - timedelta(days=30))  # not yet due under P90D
QUAKES = "demo-usgs-quakes"


def as_actor(make_runtime: MakeRuntime, actor: str, **kw: object) -> Runtime:
    return make_runtime(actor=actor, create=False, **kw)


def events(rt: Runtime, action: str) -> list[AuditEventRow]:
    with session_scope(rt.index.engine) as s:
        return list(
            s.exec(
                select(AuditEventRow)
                .where(AuditEventRow.action == action)
                .order_by(col(AuditEventRow.seq))
            )
        )


# --- 1. forecasts show when each Object Lock ends ----------------------------------------------


def test_forecast_plan_shows_when_each_object_lock_ends(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(clock=RECENT)
    capture = capture_account(rt, QUAKES)
    [warc] = rt.index.list_warcs(capture_id=capture.capture_id)
    lock = rt.store.head(warc.key).retain_until
    assert lock is not None and lock > NOW + timedelta(days=59)
    plan = make_plan(make_runtime(create=False), as_of=NOW + timedelta(days=100))
    assert plan.forecast
    [item] = plan.eligible
    assert item.lock_until is not None and abs((item.lock_until - lock).total_seconds()) < 1
    doc = invoke(
        rt, monkeypatch, "retention", "plan", "--as-of", f"{NOW + timedelta(days=100):%Y-%m-%d}",
        "--json",
    )  # fmt: skip
    assert doc["forecast"] is True
    assert doc["eligible"][0]["lock_until"].startswith(f"{lock:%Y-%m-%dT%H:%M}")
    table = invoke(rt, monkeypatch, "retention", "plan", "--as-of", "2099-01-01").stdout
    assert "lock until" in table and f"{lock:%Y-%m-%d}" in table
    assert get_plan(rt, plan.plan_id).eligible[0].lock_until == item.lock_until  # stored


# --- 2. list, show, cancel ---------------------------------------------------------------------


def test_a_cancelled_plan_is_audited_refused_and_frees_its_captures(
    make_runtime: MakeRuntime,
) -> None:
    capture = capture_account(make_runtime(clock=LONG_AGO), QUAKES)
    plan = make_plan(as_actor(make_runtime, "alice"))
    approve_plan(as_actor(make_runtime, "bob"), plan.plan_id)
    pending = make_plan(as_actor(make_runtime, "alice"))
    assert pending.eligible == [] and "pending" in (pending.blocked[0].reason or "")

    with pytest.raises(UsageError, match="--reason"):
        cancel_plan(as_actor(make_runtime, "carol"), plan.plan_id, " ")
    cancelled = cancel_plan(as_actor(make_runtime, "carol"), plan.plan_id, "wrong series")
    assert cancelled.status == "cancelled" and cancelled.cancelled_by == "carol"
    rt = make_runtime(create=False)
    [event] = events(rt, "retention.cancelled")
    assert event.subject == plan.plan_id and event.actor == "carol"
    payload = json.loads(event.payload)
    assert payload["reason"] == "wrong series" and payload["was"] == "approved"
    assert payload["eligible"] == [capture.capture_id]

    for act in (
        lambda: approve_plan(as_actor(make_runtime, "dave"), plan.plan_id),
        lambda: execute_plan(as_actor(make_runtime, "dave"), plan.plan_id),
        lambda: cancel_plan(as_actor(make_runtime, "dave"), plan.plan_id, "again"),
    ):
        with pytest.raises(UsageError, match="cancelled") as info:
            act()
        assert info.value.exit_code == 2
    assert rt.index.get_capture(capture.capture_id).status != "disposed"
    again = make_plan(as_actor(make_runtime, "alice"))
    assert [i.capture_id for i in again.eligible] == [capture.capture_id]


def test_an_executed_plan_cannot_be_cancelled(make_runtime: MakeRuntime) -> None:
    capture_account(make_runtime(clock=LONG_AGO), QUAKES)
    plan = make_plan(as_actor(make_runtime, "alice"))
    approve_plan(as_actor(make_runtime, "bob"), plan.plan_id)
    execute_plan(as_actor(make_runtime, "carol"), plan.plan_id)
    with pytest.raises(UsageError, match="executed") as info:
        cancel_plan(as_actor(make_runtime, "carol"), plan.plan_id, "too late")
    assert info.value.exit_code == 2
    assert get_plan(make_runtime(create=False), plan.plan_id).status == "executed"


def test_retention_list_and_show_say_who_did_what(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(clock=LONG_AGO)
    capture = capture_account(rt, QUAKES)
    plan = invoke(rt, monkeypatch, "retention", "plan", "--json", actor="alice")
    other = invoke(rt, monkeypatch, "retention", "plan", "--json", actor="alice")
    invoke(rt, monkeypatch, "retention", "approve", plan["plan_id"], actor="bob")
    invoke(rt, monkeypatch, "retention", "dispose", plan["plan_id"], actor="carol")
    invoke(
        rt, monkeypatch, "retention", "cancel", other["plan_id"], "--reason", "superseded",
        actor="carol",
    )  # fmt: skip
    listed = invoke(rt, monkeypatch, "retention", "list", "--json")
    assert {p["plan_id"]: p["status"] for p in listed} == {
        plan["plan_id"]: "executed",
        other["plan_id"]: "cancelled",
    }
    executed = invoke(rt, monkeypatch, "retention", "list", "--status", "executed", "--json")
    assert [p["plan_id"] for p in executed] == [plan["plan_id"]]
    invoke(rt, monkeypatch, "retention", "list", "--status", "nonsense", code=2)
    shown = invoke(rt, monkeypatch, "retention", "show", plan["plan_id"], "--json")
    assert shown["status"] == "executed"
    assert (shown["planned_by"], shown["approved_by"], shown["executed_by"]) == (
        "alice",
        "bob",
        "carol",
    )
    assert shown["executed_at"] and shown["certificate_keys"] == [
        f"certificates/{plan['plan_id']}.json"
    ]
    assert [i["capture_id"] for i in shown["eligible"]] == [capture.capture_id]
    gone = invoke(rt, monkeypatch, "retention", "show", other["plan_id"], "--json")
    assert (gone["cancelled_by"], gone["cancel_reason"]) == ("carol", "superseded")
    text = invoke(rt, monkeypatch, "retention", "show", plan["plan_id"]).stdout
    assert "executed by carol" in text and f"certificates/{plan['plan_id']}.json" in text
    assert [p.plan_id for p in list_plans(rt, status="cancelled")] == [other["plan_id"]]
    assert plan_record(rt, plan["plan_id"]).approved_by == "bob"


# --- 5. who acts -------------------------------------------------------------------------------


def test_actor_is_the_os_user_unless_the_operator_allows_naming_it() -> None:
    me = getpass.getuser()
    assert load_settings({}).actor == me
    assert load_settings({"ARCHIVER_ACTOR": me}).actor == me  # naming yourself is no override
    with pytest.raises(ConfigError, match="ARCHIVER_ACTOR_OVERRIDE=true") as info:
        load_settings({"ARCHIVER_ACTOR": "someone-else"})
    assert info.value.exit_code == 2 and me in str(info.value)
    named = load_settings({"ARCHIVER_ACTOR": "alice", "ARCHIVER_ACTOR_OVERRIDE": "true"})
    assert named.actor == "alice" and named.os_user == me


def test_cli_refuses_a_named_actor_without_the_override(tmp_path: Path) -> None:
    env = archiver_env(
        data_dir=tmp_path / "data",
        policies=ROOT / "policies" / "demo",
        actor="mallory",
        actor_override="false",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "hold", "list", "--json"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert b"ARCHIVER_ACTOR_OVERRIDE=true" in proc.stderr and b"mallory" in proc.stderr


def test_audit_records_the_os_user_beside_a_named_actor(make_runtime: MakeRuntime) -> None:
    me = getpass.getuser()
    make_runtime()
    add_hold(as_actor(make_runtime, "alice"), "h1", "case 1", HoldCriteria(account=QUAKES))
    add_hold(as_actor(make_runtime, me), "h2", "case 2", HoldCriteria(account=QUAKES))
    named, own = events(make_runtime(create=False), "hold.added")
    assert named.actor == "alice"
    assert {k: json.loads(named.payload)[k] for k in ("actor", "os_user")} == {
        "actor": "alice",
        "os_user": me,
    }
    assert own.actor == me and "os_user" not in json.loads(own.payload)


# --- 6. separation of duties -------------------------------------------------------------------

TWO_PEOPLE = """\
series:
  - id: two-people
    title: Disposed of by two people
    authority: DAA-TEST-9
    retention: P30D
    disposition_requires_two_people: {flag}
accounts:
  - id: agency-news
    agency: Test
    platform: feed
    url: ${{SIMULATOR_URL}}/www.example-agency.gov/news.rdf
    series: two-people
    schedule: P1D
"""


def test_the_approver_cannot_execute_alone_when_the_series_says_so(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    folder = write_policy(tmp_path / "pol", TWO_PEOPLE.format(flag="true"))
    capture = capture_account(make_runtime(policies=folder, clock=LONG_AGO), "agency-news")
    plan = make_plan(as_actor(make_runtime, "alice", policies=folder))
    with pytest.raises(UsageError, match="cannot approve it too"):
        approve_plan(as_actor(make_runtime, "alice", policies=folder), plan.plan_id)
    approve_plan(as_actor(make_runtime, "bob", policies=folder), plan.plan_id)
    with pytest.raises(UsageError, match="approved by bob; execution needs a second person") as e:
        execute_plan(as_actor(make_runtime, "bob", policies=folder), plan.plan_id)
    assert e.value.exit_code == 2
    rt = make_runtime(policies=folder, create=False)
    assert rt.index.get_capture(capture.capture_id).status != "disposed"
    assert get_plan(rt, plan.plan_id).status == "approved"
    done = execute_plan(as_actor(make_runtime, "carol", policies=folder), plan.plan_id)
    assert done.destroyed == [capture.capture_id]


def test_without_the_setting_the_approver_may_execute(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    folder = write_policy(tmp_path / "pol", TWO_PEOPLE.format(flag="false"))
    capture = capture_account(make_runtime(policies=folder, clock=LONG_AGO), "agency-news")
    plan = make_plan(as_actor(make_runtime, "alice", policies=folder))
    approve_plan(as_actor(make_runtime, "bob", policies=folder), plan.plan_id)
    done = execute_plan(as_actor(make_runtime, "bob", policies=folder), plan.plan_id)
    assert done.destroyed == [capture.capture_id]


def test_a_bad_two_people_setting_names_file_and_line(tmp_path: Path) -> None:
    folder = write_policy(tmp_path / "pol", TWO_PEOPLE.format(flag="perhaps"))
    with pytest.raises(PolicyError, match=r"p\.yaml:6: .*disposition_requires_two_people"):
        load_policies(folder, {"SIMULATOR_URL": "http://127.0.0.1:1"})
    good = write_policy(tmp_path / "ok", TWO_PEOPLE.format(flag="true"))
    policies = load_policies(good, {"SIMULATOR_URL": "http://127.0.0.1:1"})
    assert policies.series["two-people"].disposition_requires_two_people is True

"""Review and re-classification on both backends: appraisal decisions are audited, a review
series waits for one, and a reschedule moves captures with their locks extended, never shortened."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.errors import UsageError
from archiver.governance.disposition import make_plan
from archiver.governance.holds import HoldCriteria, add_hold
from archiver.governance.review import review_captures
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.runtime import Runtime
from tests.conftest import MakeRuntime, archiver_env, write_policy

NOW = datetime.now(UTC)
LONG_AGO = FrozenClock(NOW - timedelta(days=200))
TEN_DAYS_AGO = FrozenClock(NOW - timedelta(days=10))

POLICY = """\
series:
  - id: appraise
    title: Correspondence to appraise
    authority: DAA-TEST-7
    retention: P30D
    disposition: review
  - id: short
    title: Routine notices
    authority: DAA-TEST-1
    retention: P30D
  - id: long
    title: Significant notices
    authority: DAA-TEST-2
    retention: P400D
  - id: forever
    title: Kept for good
    retention: permanent
accounts:
  - id: news
    agency: Example Agency
    platform: feed
    url: ${SIMULATOR_URL}/www.example-agency.gov/news.rdf
    series: SERIES
    schedule: P1D
"""


def policy(tmp_path: Path, series: str) -> Path:
    return write_policy(tmp_path / "pol", POLICY.replace("SERIES", series))


def reasons(rt: Runtime, as_of: datetime | None = None) -> dict[str, str]:
    plan = make_plan(rt, as_of=as_of)
    found = {i.capture_id: i.reason or "" for i in plan.blocked}
    found.update({i.capture_id: f"eligible: {i.action}" for i in plan.eligible})
    return found


def lock_of(rt: Runtime, capture_id: str) -> datetime:
    [warc] = rt.index.list_warcs(capture_id=capture_id)
    until = rt.store.head(warc.key).retain_until
    assert until is not None
    return until


def test_a_review_series_needs_a_decision_before_any_plan(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    folder = policy(tmp_path, "appraise")
    capture = capture_account(make_runtime(policies=folder, clock=LONG_AGO), "news").capture_id
    rt = make_runtime(policies=folder, create=False, actor="archivist")
    assert reasons(rt)[capture].startswith("review: the schedule requires an appraisal")
    result = review_captures(
        rt, capture_id=capture, decision="destroy", reason="no continuing value (appraisal 12)"
    )
    assert [c.capture_id for c in result.captures] == [capture]
    assert reasons(rt)[capture] == "eligible: destroy"
    with session_scope(rt.index.engine) as s:
        [event] = s.exec(select(AuditEventRow).where(AuditEventRow.action == "retention.reviewed"))
    body = json.loads(event.payload)
    assert event.actor == "archivist" and event.subject == capture
    assert body["decision"] == "destroy" and body["reason"] == "no continuing value (appraisal 12)"


def test_keep_retains_for_one_more_period_then_asks_again(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    folder = policy(tmp_path, "appraise")
    capture = capture_account(make_runtime(policies=folder, clock=LONG_AGO), "news").capture_id
    rt = make_runtime(policies=folder, create=False)
    result = review_captures(rt, series="appraise", decision="keep", reason="still in use")
    [kept] = result.captures
    assert kept.retain_until is not None
    assert abs(kept.retain_until - (rt.clock.now() + timedelta(days=30))) < timedelta(minutes=5)
    assert abs(lock_of(rt, capture) - kept.retain_until) < timedelta(seconds=1)
    assert f"kept at review {result.review_id}" in reasons(rt)[capture]
    later = reasons(rt, as_of=NOW + timedelta(days=31))[capture]
    assert "a new appraisal is due" in later


def test_reschedule_moves_captures_and_extends_the_lock(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    folder = policy(tmp_path, "short")
    capture = capture_account(make_runtime(policies=folder, clock=TEN_DAYS_AGO), "news")
    rt = make_runtime(policies=folder, create=False)
    before = lock_of(rt, capture.capture_id)
    assert before < NOW + timedelta(days=21)
    result = review_captures(
        rt, capture_id=capture.capture_id, decision="reschedule", to_series="long", reason="x"
    )
    [moved] = result.captures
    assert (moved.from_series, moved.series, moved.lock_kept) == ("short", "long", False)
    expected = rt.index.get_capture(capture.capture_id).started_at + timedelta(days=400)
    assert moved.retain_until == expected
    assert abs(lock_of(rt, capture.capture_id) - expected) < timedelta(seconds=1)
    assert rt.index.get_capture(capture.capture_id).series == "long"
    assert {w.series for w in rt.index.list_warcs(capture_id=capture.capture_id)} == {"long"}
    assert {r.series for r in rt.index.records_of_capture(capture.capture_id)} == {"long"}
    assert {p.series for p in rt.index.list_posts("news")} == {"long"}
    reason = reasons(rt, as_of=NOW + timedelta(days=100))[capture.capture_id]
    assert reason.startswith("not yet due")


def test_reschedule_never_shortens_a_lock(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    folder = policy(tmp_path, "long")
    capture = capture_account(make_runtime(policies=folder, clock=TEN_DAYS_AGO), "news")
    rt = make_runtime(policies=folder, create=False)
    locked = lock_of(rt, capture.capture_id)
    result = review_captures(
        rt, series="long", decision="reschedule", to_series="short", reason="re-appraised"
    )
    [moved] = result.captures
    assert moved.retain_until == rt.index.get_capture(capture.capture_id).started_at + timedelta(
        days=30
    )
    assert moved.lock_kept and moved.locked_until == locked
    assert lock_of(rt, capture.capture_id) == locked
    reason = reasons(rt, as_of=NOW + timedelta(days=25))[capture.capture_id]
    assert reason.startswith("object lock: the store keeps it until")


def test_review_refusals_are_usage_errors(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    folder = policy(tmp_path, "forever")
    capture = capture_account(make_runtime(policies=folder), "news").capture_id
    rt = make_runtime(policies=folder, create=False)
    cases = [
        ({"decision": "reschedule"}, "needs --to"),
        ({"decision": "keep", "to_series": "short"}, "--to is for"),
        ({"decision": "reschedule", "to_series": "nope"}, "not a series"),
        ({"decision": "destroy"}, "never destroyed"),
        ({"decision": "archive"}, "choose one of"),
    ]
    for kwargs, message in cases:
        with pytest.raises(UsageError, match=message) as info:
            review_captures(rt, capture_id=capture, reason="r", **kwargs)  # type: ignore[arg-type]
        assert info.value.exit_code == 2
    add_hold(rt, "LIT-1", "litigation", HoldCriteria(series="forever"))
    with pytest.raises(UsageError, match="legal hold"):
        review_captures(
            rt, capture_id=capture, decision="reschedule", to_series="short", reason="r"
        )
    assert rt.index.get_capture(capture).series == "forever"


def test_cli_retention_review_json(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    folder = policy(tmp_path, "short")
    rt = make_runtime(policies=folder)
    capture = capture_account(rt, "news").capture_id
    env = {**archiver_env(rt, actor="archivist"), "SIMULATOR_URL": rt.variables["SIMULATOR_URL"]}

    def run(*args: str, code: int) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [sys.executable, "-m", "archiver.cli.main", "retention", "review", *args],
            capture_output=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == code, proc.stderr.decode()
        return proc

    out = json.loads(
        run(
            capture, "--decision", "reschedule", "--to", "long", "--reason", "r", "--json", code=0
        ).stdout
    )
    assert {"review_id", "decision", "reason", "reviewed_by", "to_series", "captures"} <= set(out)
    assert out["reviewed_by"] == "archivist"
    [moved] = out["captures"]
    assert (moved["capture_id"], moved["from_series"], moved["series"]) == (
        capture,
        "short",
        "long",
    )
    assert {"retain_until", "locked_until", "lock_kept"} <= set(moved)
    run(capture, "--decision", "reschedule", "--reason", "r", code=2)
    run("--series", "long", capture, "--decision", "keep", "--reason", "r", code=2)

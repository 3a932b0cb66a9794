"""Retention, legal holds and two-person disposition on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.errors import StorageError, UsageError
from archiver.governance.disposition import approve_plan, execute_plan, get_plan, make_plan
from archiver.governance.holds import HoldCriteria, add_hold, release_hold
from archiver.governance.retention import cutoff_date, retain_until
from archiver.index.db import session_scope
from archiver.index.models import TombstoneRow
from archiver.policy.model import Retention, Series
from archiver.runtime import Runtime
from tests.conftest import MakeRuntime, write_policy

NOW = datetime.now(UTC)
LONG_AGO = FrozenClock(NOW - timedelta(days=200))  # past a P90D schedule
RECENT = FrozenClock(NOW - timedelta(days=30))  # not yet due under P90D
QUAKES, RDF, NASA, PAGE = (
    "demo-usgs-quakes",
    "demo-agency-rdf",
    "demo-nasa-news",
    "demo-usagov-page",
)


def as_actor(make_runtime: MakeRuntime, actor: str, **kw: object) -> Runtime:
    return make_runtime(actor=actor, create=False, **kw)


# --- retention arithmetic -----------------------------------------------------------------------

PERIODS = st.sampled_from(["P1D", "P90D", "P1Y", "P3Y", "P7Y", "P18M", "PT12H"])
CUTOFFS = st.sampled_from(["capture", "publication", "calendar_year", "fiscal_year"])
WHEN = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@given(period=PERIODS, cutoff=CUTOFFS, when=WHEN)
def test_retain_until_is_never_before_the_event(period: str, cutoff: str, when: datetime) -> None:
    series = Series("s", "t", None, Retention(period), cutoff)  # type: ignore[arg-type]
    until = retain_until(series, when)
    assert until is not None and until > when
    assert cutoff_date(series, when) >= when


@given(cutoff=CUTOFFS, when=WHEN)
def test_permanent_never_expires(cutoff: str, when: datetime) -> None:
    series = Series("s", "t", None, Retention("permanent"), cutoff)  # type: ignore[arg-type]
    assert retain_until(series, when) is None


def test_cutoffs() -> None:
    when = datetime(2026, 11, 24, 10, tzinfo=UTC)
    year = Series("s", "t", None, Retention("P3Y"), "calendar_year")
    assert retain_until(year, when) == datetime(2030, 1, 1, tzinfo=UTC)
    fiscal = Series("s", "t", None, Retention("P1Y"), "fiscal_year")
    assert cutoff_date(fiscal, when) == datetime(2027, 10, 1, tzinfo=UTC)
    assert cutoff_date(fiscal, datetime(2026, 9, 30, tzinfo=UTC)) == datetime(
        2026, 10, 1, tzinfo=UTC
    )
    days = Series("s", "t", None, Retention("P90D"), "capture")
    assert retain_until(days, when) == when + timedelta(days=90)


# --- plans -------------------------------------------------------------------------------------


def test_plan_lists_eligible_and_blocked_with_reasons(make_runtime: MakeRuntime) -> None:
    old = make_runtime(clock=LONG_AGO)
    due = capture_account(old, QUAKES)
    permanent = capture_account(old, NASA)
    unscheduled = capture_account(old, PAGE)
    fresh = capture_account(make_runtime(create=False, clock=RECENT), RDF)
    plan = make_plan(make_runtime(create=False))
    assert [i.capture_id for i in plan.eligible] == [due.capture_id]
    assert plan.eligible[0].action == "destroy"
    reasons = {i.capture_id: i.reason or "" for i in plan.blocked}
    assert reasons[permanent.capture_id].startswith("permanent")
    assert reasons[unscheduled.capture_id].startswith("unscheduled")
    assert reasons[fresh.capture_id].startswith("not yet due")


def test_self_approval_is_refused(make_runtime: MakeRuntime) -> None:
    capture_account(make_runtime(clock=LONG_AGO), QUAKES)
    plan = make_plan(as_actor(make_runtime, "alice"))
    with pytest.raises(UsageError, match="cannot approve it too") as info:
        approve_plan(as_actor(make_runtime, "alice"), plan.plan_id)
    assert info.value.exit_code == 2
    assert approve_plan(as_actor(make_runtime, "bob"), plan.plan_id).approved_by == "bob"


def test_disposition_removes_exactly_the_planned_objects(make_runtime: MakeRuntime) -> None:
    old = make_runtime(clock=LONG_AGO)
    gone = capture_account(old, QUAKES)
    kept = [capture_account(old, NASA).capture_id, capture_account(old, PAGE).capture_id]
    rt = as_actor(make_runtime, "alice")
    before = {w.key for w in rt.index.list_warcs()}
    gone_keys = {w.key for w in rt.index.list_warcs(capture_id=gone.capture_id)}
    plan = make_plan(rt)
    approve_plan(as_actor(make_runtime, "bob"), plan.plan_id)
    result = execute_plan(as_actor(make_runtime, "carol"), plan.plan_id)
    assert result.destroyed == [gone.capture_id] and not result.skipped
    for key in gone_keys:
        assert not rt.store.exists(key)
    for key in before - gone_keys:
        assert rt.store.exists(key)
    assert {w.key for w in rt.index.list_warcs()} == before - gone_keys
    assert rt.index.get_capture(gone.capture_id).status == "disposed"
    assert rt.index.records_of_capture(gone.capture_id) == []
    assert rt.index.list_posts(QUAKES) == [] and rt.index.search("kokopo") == []
    for capture_id in kept:
        assert rt.index.records_of_capture(capture_id)
    with session_scope(rt.index.engine) as s:
        stones = list(s.exec(__import__("sqlmodel").select(TombstoneRow)))
    assert [t.capture_id for t in stones] == [gone.capture_id]
    assert stones[0].approved_by == "bob" and stones[0].authority == "DAA-GRS-2016-0005-0002"
    assert rt.store.exists(result.certificate_key or "")
    pdf = rt.store.get_range(f"certificates/{plan.plan_id}.pdf", 0)
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    assert plan.plan_id.encode() in rt.store.get_range(f"certificates/{plan.plan_id}.html", 0)
    assert get_plan(rt, plan.plan_id).status == "executed"


def test_held_capture_is_not_disposed_until_released(make_runtime: MakeRuntime) -> None:
    old = make_runtime(clock=LONG_AGO)
    capture = capture_account(old, QUAKES)
    rt = as_actor(make_runtime, "alice")
    hold, covered = add_hold(rt, "FOIA-2026-17", "records request", HoldCriteria(account=QUAKES))
    assert covered == 1
    [warc] = rt.index.list_warcs(capture_id=capture.capture_id)
    assert rt.store.head(warc.key).legal_hold
    plan = make_plan(rt)
    assert plan.eligible == []
    assert plan.blocked[0].reason is not None and hold.hold_id in plan.blocked[0].reason
    release_hold(rt, hold.hold_id, "request closed")
    assert not rt.store.head(warc.key).legal_hold
    assert [i.capture_id for i in make_plan(rt).eligible] == [capture.capture_id]


def test_a_hold_placed_after_approval_still_blocks(make_runtime: MakeRuntime) -> None:
    capture = capture_account(make_runtime(clock=LONG_AGO), QUAKES)
    plan = make_plan(as_actor(make_runtime, "alice"))
    approve_plan(as_actor(make_runtime, "bob"), plan.plan_id)
    add_hold(
        as_actor(make_runtime, "carol"), "litigation", "court order", HoldCriteria(query="kokopo")
    )
    result = execute_plan(as_actor(make_runtime, "carol"), plan.plan_id)
    assert result.destroyed == []
    assert "hold" in result.skipped[capture.capture_id]
    [warc] = make_runtime(create=False).index.list_warcs(capture_id=capture.capture_id)
    assert make_runtime(create=False).store.exists(warc.key)


def test_dedup_dependency_blocks_the_original(make_runtime: MakeRuntime) -> None:
    original = capture_account(make_runtime(clock=LONG_AGO), RDF)
    revisit = capture_account(make_runtime(create=False, clock=RECENT), RDF)
    assert revisit.revisits == 1
    plan = make_plan(make_runtime(create=False))
    reasons = {i.capture_id: i.reason or "" for i in plan.blocked}
    assert plan.eligible == []
    assert "dedup dependency" in reasons[original.capture_id]
    assert revisit.capture_id in reasons[original.capture_id]


def test_object_lock_outlives_a_shortened_schedule(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    policy = """\
series:
  - id: short-lived
    title: Short-lived
    authority: DAA-TEST-1
    retention: {period}
accounts:
  - id: locked
    agency: Test
    platform: feed
    url: ${{SIMULATOR_URL}}/www.example-agency.gov/news.rdf
    series: short-lived
    schedule: P1D
"""
    folder = write_policy(tmp_path / "pol", policy.format(period="P30D"))
    rt = make_runtime(policies=folder, object_lock_mode="COMPLIANCE")
    capture = capture_account(rt, "locked")
    [warc] = rt.index.list_warcs(capture_id=capture.capture_id)
    locked_until = rt.store.head(warc.key).retain_until
    assert locked_until is not None and locked_until > NOW + timedelta(days=29)
    write_policy(folder, policy.format(period="P1D"))  # the schedule is shortened
    plan = make_plan(make_runtime(policies=folder, create=False), as_of=NOW + timedelta(days=2))
    assert plan.eligible == []
    assert (plan.blocked[0].reason or "").startswith("object lock")
    with pytest.raises(StorageError):
        rt.store.delete(warc.key)


def test_transfer_without_destination_writes_the_bag_to_the_output_folder(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    import bagit

    folder = write_policy(
        tmp_path / "pol",
        """\
series:
  - id: to-archives
    title: Transferred to the archives
    authority: N1-TEST-2
    retention: P30D
    disposition: transfer
accounts:
  - id: agency-news
    agency: Test
    platform: feed
    url: ${SIMULATOR_URL}/www.example-agency.gov/news.rdf
    series: to-archives
    schedule: P1D
""",
    )
    capture = capture_account(make_runtime(policies=folder, clock=LONG_AGO), "agency-news")
    plan = make_plan(make_runtime(policies=folder, create=False, actor="alice"))
    assert plan.eligible[0].action == "transfer"
    approve_plan(make_runtime(policies=folder, create=False, actor="bob"), plan.plan_id)
    result = execute_plan(
        make_runtime(policies=folder, create=False, actor="carol"),
        plan.plan_id,
        transfer_dir=tmp_path / "bag",
    )
    assert result.pending_receipt == [capture.capture_id] and result.transferred == []
    bag = bagit.Bag(str(tmp_path / "bag" / f"{plan.plan_id}-to-archives"))
    bag.validate()
    names = {Path(p).name for p in bag.payload_files()}
    assert any(n.endswith(".warc.gz") for n in names)
    assert {"index.json", "posts.csv"} <= names
    rt = make_runtime(policies=folder, create=False)
    assert all(rt.store.exists(w.key) for w in rt.index.list_warcs(capture_id=capture.capture_id))


def test_policy_loads_are_in_the_audit_chain_once_per_version(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    from sqlmodel import select

    from archiver.index.models import AuditEventRow

    rt = make_runtime()
    capture_account(rt, RDF)
    capture_account(rt, RDF)
    with session_scope(rt.index.engine) as s:
        actions = [e.action for e in s.exec(select(AuditEventRow).order_by(AuditEventRow.seq))]
    # The second capture's revisit keeps the first capture's object locked as long as itself.
    assert actions == ["policy.loaded", "capture", "capture", "retention.locks_extended"]
    assert rt.store.exists("audit/chain-head.json")


LOCK_POLICY = """\
series:
  - id: locked-series
    title: Locked
    authority: DAA-TEST-3
    retention: {period}
accounts:
  - id: lockme
    agency: Test
    platform: feed
    url: ${{SIMULATOR_URL}}/www.example-agency.gov/news.rdf
    series: locked-series
    schedule: P1D
"""


def test_revisits_extend_their_originals_lock(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    folder = write_policy(tmp_path / "pol", LOCK_POLICY.format(period="P30D"))
    ten_days_ago = FrozenClock(NOW - timedelta(days=10))
    first = capture_account(make_runtime(policies=folder, clock=ten_days_ago), "lockme")
    rt = make_runtime(policies=folder, create=False)
    [original] = rt.index.list_warcs(capture_id=first.capture_id)
    assert original.retain_until is not None
    before = rt.store.head(original.key).retain_until
    assert before is not None and before < NOW + timedelta(days=21)
    second = capture_account(rt, "lockme")
    assert second.revisits == 1
    after = rt.store.head(original.key).retain_until
    assert after is not None and after > NOW + timedelta(days=29)
    updated = rt.index.get_warc(original.name)
    assert updated is not None and updated.retain_until is not None
    assert abs((updated.retain_until - after).total_seconds()) < 1  # S3 keeps whole seconds


def test_a_lengthened_schedule_extends_existing_locks(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    folder = write_policy(tmp_path / "pol", LOCK_POLICY.format(period="P30D"))
    rt = make_runtime(policies=folder)
    capture = capture_account(rt, "lockme")
    [warc] = rt.index.list_warcs(capture_id=capture.capture_id)
    write_policy(folder, LOCK_POLICY.format(period="P400D"))
    make_plan(make_runtime(policies=folder, create=False))
    locked = rt.store.head(warc.key).retain_until
    assert locked is not None and locked > NOW + timedelta(days=399)


def test_a_disposition_the_store_refuses_certifies_nothing_and_can_run_again(
    make_runtime: MakeRuntime,
) -> None:
    old = make_runtime(clock=LONG_AGO)
    gone = capture_account(old, QUAKES)
    rt = as_actor(make_runtime, "alice")
    plan = make_plan(rt)
    assert [i.capture_id for i in plan.eligible] == [gone.capture_id]
    approve_plan(as_actor(make_runtime, "bob"), plan.plan_id)
    keys = [w.key for w in rt.index.list_warcs(capture_id=gone.capture_id)]
    for key in keys:  # the store itself refuses deletion (a lock set outside the archiver)
        rt.store.set_legal_hold(key, True)
    refused = execute_plan(as_actor(make_runtime, "carol"), plan.plan_id)
    assert refused.destroyed == [] and not refused.complete
    assert list(refused.refused) == [gone.capture_id]
    assert refused.certificate_key is None, "no certificate for a disposition that did nothing"
    assert not rt.store.exists(f"certificates/{plan.plan_id}.json")
    assert get_plan(rt, plan.plan_id).status == "approved", "left re-executable"
    assert rt.index.get_capture(gone.capture_id).status != "disposed"
    assert all(rt.store.exists(k) for k in keys) and rt.index.records_of_capture(gone.capture_id)
    for key in keys:
        rt.store.set_legal_hold(key, False)
    done = execute_plan(as_actor(make_runtime, "carol"), plan.plan_id)
    assert done.complete and done.destroyed == [gone.capture_id]
    assert done.certificate_key == f"certificates/{plan.plan_id}.json"
    assert get_plan(rt, plan.plan_id).status == "executed"

"""Reports say what is true, on both backends: a disposition counts what was destroyed, a hold
counts what it covers, and a report as of a past date is the state then, or refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.errors import UsageError
from archiver.governance.disposition import approve_plan, execute_plan, make_plan
from archiver.governance.holds import HoldCriteria, add_hold, release_hold
from archiver.reports import build_report
from archiver.reports.build import DISPOSITION_COLUMNS, HOLDS_COLUMNS, RETENTION_COLUMNS, Report
from archiver.runtime import Runtime
from tests.cli_inprocess import invoke
from tests.conftest import MakeRuntime, write_policy

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=200)  # P90D captures of T0 are due by T0 + 100 days
QUAKES, RDF, NASA = "demo-usgs-quakes", "demo-agency-rdf", "demo-nasa-news"


def at(days: float) -> FrozenClock:
    return FrozenClock(T0 + timedelta(days=days))


def by_first(report: Report, columns: tuple[str, ...]) -> dict[str, dict[str, object]]:
    return {r[0]: dict(zip(columns, r, strict=True)) for r in report.tables[0].rows}


def captured(make_runtime: MakeRuntime) -> Runtime:
    """Quakes (whose posts mention Kokopo) and NASA at T0, the agency RDF feed at T0 + 2 days."""
    rt = make_runtime(clock=at(0))
    capture_account(rt, QUAKES)
    capture_account(rt, NASA)
    capture_account(make_runtime(create=False, clock=at(2)), RDF)
    return rt


def as_actor(make_runtime: MakeRuntime, actor: str, days: float) -> Runtime:
    return make_runtime(actor=actor, create=False, clock=at(days))


def dispose_all_due(make_runtime: MakeRuntime) -> str:
    """Alice plans at day 100, Bob approves at day 101, Carol executes at day 102."""
    plan = make_plan(as_actor(make_runtime, "alice", 100))
    approve_plan(as_actor(make_runtime, "bob", 101), plan.plan_id)
    execute_plan(as_actor(make_runtime, "carol", 102), plan.plan_id)
    return plan.plan_id


def test_disposition_report_counts_what_was_destroyed_not_what_was_planned(
    make_runtime: MakeRuntime,
) -> None:
    captured(make_runtime)
    plan = make_plan(as_actor(make_runtime, "alice", 100))
    assert len(plan.eligible) == 2  # quakes and rdf are due; NASA is permanent
    approve_plan(as_actor(make_runtime, "bob", 101), plan.plan_id)
    approved = build_report(as_actor(make_runtime, "x", 101.5), "disposition")
    row = by_first(approved, DISPOSITION_COLUMNS)[plan.plan_id]
    assert (row["status"], row["destroyed"], row["transferred"]) == ("approved", 0, 0)
    assert row["certificate"] is None
    execute_plan(as_actor(make_runtime, "carol", 102), plan.plan_id)
    later = as_actor(make_runtime, "x", 110)
    row = by_first(build_report(later, "disposition"), DISPOSITION_COLUMNS)[plan.plan_id]
    assert (row["status"], row["destroyed"], row["executed_by"]) == ("executed", 2, "carol")
    assert row["certificate"] == f"certificates/{plan.plan_id}.json"
    # point in time: between approval and execution it was approved and had destroyed nothing
    then = build_report(later, "disposition", as_of=T0 + timedelta(days=101, hours=12))
    assert then.point_in_time
    row = by_first(then, DISPOSITION_COLUMNS)[plan.plan_id]
    assert (row["status"], row["destroyed"], row["executed_by"], row["certificate"]) == (
        "approved",
        0,
        None,
        None,
    )
    before = build_report(later, "disposition", as_of=T0 + timedelta(days=99))
    assert before.tables[0].rows == []  # not planned yet


def test_holds_count_only_the_captures_they_cover(make_runtime: MakeRuntime) -> None:
    captured(make_runtime)
    rt = as_actor(make_runtime, "alice", 3)
    query, _ = add_hold(rt, "kokopo", "press inquiry", HoldCriteria(query="kokopo"))
    dates, _ = add_hold(
        rt,
        "day two",
        "audit",
        HoldCriteria(date_from=T0 + timedelta(days=1), date_to=T0 + timedelta(days=3)),
    )
    both, _ = add_hold(rt, "rdf kokopo", "none", HoldCriteria(account=RDF, query="kokopo"))
    holds = by_first(build_report(rt, "holds"), HOLDS_COLUMNS)
    assert holds[query.hold_id]["captures_covered"] == 1  # the quakes capture only, not all 3
    assert holds[dates.hold_id]["captures_covered"] == 1  # the rdf capture of day 2
    assert holds[both.hold_id]["captures_covered"] == 0  # rdf has no post about Kokopo
    retention = by_first(build_report(rt, "retention"), RETENTION_COLUMNS)
    assert retention[QUAKES]["holds"] == 1  # the query hold, not the date or rdf holds
    assert retention[RDF]["holds"] == 1  # the date hold
    assert retention[NASA]["holds"] == 0


def test_holds_as_of_a_past_date_are_the_holds_then(make_runtime: MakeRuntime) -> None:
    captured(make_runtime)
    hold, _ = add_hold(
        as_actor(make_runtime, "alice", 5), "FOIA-1", "request", HoldCriteria(account=QUAKES)
    )
    release_hold(as_actor(make_runtime, "bob", 10), hold.hold_id, "closed")
    now = as_actor(make_runtime, "x", 20)

    def hold_rows(days: float) -> dict[str, dict[str, object]]:
        return by_first(build_report(now, "holds", as_of=T0 + timedelta(days=days)), HOLDS_COLUMNS)

    assert hold_rows(3) == {}  # not placed yet
    active = hold_rows(7)[hold.hold_id]
    assert active["released_at"] is None and active["released_by"] is None
    assert active["captures_covered"] == 1
    assert hold_rows(12)[hold.hold_id]["released_by"] == "bob"
    then = by_first(build_report(now, "retention", as_of=T0 + timedelta(days=7)), RETENTION_COLUMNS)
    assert then[QUAKES]["holds"] == 1
    assert by_first(build_report(now, "retention"), RETENTION_COLUMNS)[QUAKES]["holds"] == 0
    early = by_first(
        build_report(now, "retention", as_of=T0 + timedelta(days=1)), RETENTION_COLUMNS
    )
    assert RDF not in early and early[QUAKES]["captures"] == 1  # rdf was captured on day 2


def test_a_report_as_of_before_a_disposition_is_refused_where_it_cannot_be_rebuilt(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    captured(make_runtime)
    dave = as_actor(make_runtime, "dave", 1)
    hold, _ = add_hold(dave, "kokopo", "press", HoldCriteria(query="kokopo"))
    release_hold(as_actor(make_runtime, "dave", 99), hold.hold_id, "done")
    dispose_all_due(make_runtime)
    later = as_actor(make_runtime, "x", 110)
    before = T0 + timedelta(days=50)
    for kind in ("retention", "coverage", "holds"):
        with pytest.raises(UsageError, match="disposed of since") as info:
            build_report(later, kind, as_of=before)
        assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="last verification"):
        build_report(later, "fixity", as_of=before)
    after = by_first(
        build_report(later, "retention", as_of=T0 + timedelta(days=105)), RETENTION_COLUMNS
    )
    assert set(after) == {NASA}  # the disposed captures had gone by then
    out = invoke(
        later, monkeypatch, "report", "retention", "--format", "json", "-o", "/dev/null",
        "--as-of", f"{before:%Y-%m-%d}", code=2,
    )  # fmt: skip
    assert "cannot be reconstructed" in str(out.exception)


POLICY = """\
series:
  - id: news
    title: News
    authority: DAA-TEST-5
    retention: {period}
accounts:
  - id: agency-news
    agency: Test
    platform: feed
    url: ${{SIMULATOR_URL}}/www.example-agency.gov/news.rdf
    series: news
    schedule: P1D
"""


def test_a_report_as_of_before_a_policy_change_is_refused(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    start = NOW - timedelta(days=10)  # locks still in force: a real store refuses past dates
    folder = write_policy(tmp_path / "pol", POLICY.format(period="P30D"))
    capture_account(make_runtime(policies=folder, clock=FrozenClock(start)), "agency-news")
    write_policy(folder, POLICY.format(period="P60D"))
    later = FrozenClock(start + timedelta(days=5))
    capture_account(make_runtime(policies=folder, create=False, clock=later), "agency-news")
    now = make_runtime(policies=folder, create=False, clock=FrozenClock(NOW))
    with pytest.raises(UsageError, match="policy in force then"):
        build_report(now, "retention", as_of=start + timedelta(days=2))
    with pytest.raises(UsageError, match="policy in force then"):
        build_report(now, "coverage", as_of=start + timedelta(days=2))
    rows = by_first(
        build_report(now, "retention", as_of=start + timedelta(days=5, hours=1)), RETENTION_COLUMNS
    )
    assert rows["agency-news"]["captures"] == 2


def test_retention_as_of_a_past_date_uses_the_locks_in_force_then(
    make_runtime: MakeRuntime,
) -> None:
    start = NOW - timedelta(days=10)
    first = make_runtime(clock=FrozenClock(start))
    capture_account(first, RDF)
    second = make_runtime(create=False, clock=FrozenClock(start + timedelta(days=1)))
    assert capture_account(second, RDF).revisits == 1  # extends the first capture's lock
    now = make_runtime(create=False, clock=FrozenClock(start + timedelta(days=2)))
    current = by_first(build_report(now, "retention"), RETENTION_COLUMNS)[RDF]
    assert current["earliest_retain_until"] >= start + timedelta(days=91)  # type: ignore[operator]
    then = by_first(
        build_report(now, "retention", as_of=start + timedelta(hours=12)), RETENTION_COLUMNS
    )[RDF]
    assert then["captures"] == 1
    until = then["latest_retain_until"]
    assert isinstance(until, datetime)
    assert abs((until - (start + timedelta(days=90))).total_seconds()) < 2

"""Compliance reports as data: retention, coverage, holds, fixity, disposition.

Each builder reads the index with set queries (GROUP BY), never post by post, and returns a
:class:`Report`: tables (the first is the CSV one, one row per account where it fits), chart series,
and the facts that make it re-producible — ``as_of``, the policy hash and the audit chain head.

Every figure is what was true at ``as_of``: captures that existed then, holds placed and not yet
released then, plans in the state they were in then, and only what a disposition actually
destroyed or transferred (its tombstones) by then. A report as of a past date whose figures the
index can no longer give (a capture since disposed of, a different policy in force, fixity
history) is refused with UsageError (exit 2) and the reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from archiver.errors import UsageError
from archiver.governance.disposition import schedule_retain_until
from archiver.governance.holds import HoldMatcher, list_holds
from archiver.governance.retention import retain_until
from archiver.index.api import CaptureSummary, jsonable, utc
from archiver.index.governance import Hold
from archiver.index.reports import as_utc
from archiver.policy.model import UNSCHEDULED
from archiver.runtime import Runtime
from archiver.service.timing import next_fire

KINDS = ("retention", "coverage", "holds", "fixity", "disposition")

RETENTION_COLUMNS = (
    "account", "series", "authority", "retention", "unscheduled", "captures", "posts", "bytes",
    "earliest_retain_until", "latest_retain_until", "due_30d", "due_90d", "due_365d", "holds",
)  # fmt: skip
COVERAGE_COLUMNS = (
    "account", "platform", "schedule", "expected_runs", "captures", "ok", "partial", "failed",
    "gaps", "posts", "posts_per_day", "edited", "deleted", "last_good_capture",
    "hours_since_last_good", "incomplete_listings", "rate_limited",
)  # fmt: skip
HOLDS_COLUMNS = (
    "hold_id", "name", "reason", "account", "series", "date_from", "date_to", "query",
    "created_by", "created_at", "released_by", "released_at", "captures_covered",
)  # fmt: skip
FIXITY_COLUMNS = (
    "warc", "account", "series", "bytes", "stored_at", "last_verified_at", "status",
)  # fmt: skip
DISPOSITION_COLUMNS = (
    "plan_id", "status", "as_of", "planned_by", "approved_by", "executed_by", "executed_at",
    "destroyed", "transferred", "certificate",
)  # fmt: skip


@dataclass
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[list[Any]]


@dataclass
class Report:
    kind: str
    title: str
    as_of: datetime
    policy_hash: str
    chain_head: dict[str, Any] | None
    tables: list[Table]
    charts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    point_in_time: bool = False  # as_of is in the past: the state then, reconstructed

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = jsonable(
            {
                "kind": self.kind,
                "title": self.title,
                "as_of": self.as_of,
                "point_in_time": self.point_in_time,
                "policy_hash": self.policy_hash,
                "audit_chain_head": self.chain_head,
                "notes": self.notes,
                "tables": [
                    {
                        "title": t.title,
                        "columns": list(t.columns),
                        "rows": [dict(zip(t.columns, r, strict=True)) for r in t.rows],
                    }
                    for t in self.tables
                ],
                "charts": self.charts,
            }
        )
        return doc


def _head(rt: Runtime) -> dict[str, Any] | None:
    head = rt.index.audit_chain_head()
    return {"seq": head.seq, "hash": head.hash} if head else None


def build_report(rt: Runtime, kind: str, *, as_of: datetime | None = None) -> Report:
    """The ``kind`` report as of ``as_of`` (default: the runtime's clock)."""
    builders = {
        "retention": _retention,
        "coverage": _coverage,
        "holds": _holds,
        "fixity": _fixity,
        "disposition": _disposition,
    }
    if kind not in builders:
        raise ValueError(f"unknown report {kind!r}; choose one of {', '.join(KINDS)}")
    policies = rt.policies or rt.reload_policies()
    now = rt.clock.now()
    moment = utc(as_of) or now
    assert moment is not None
    report = Report(kind, "", moment, policies.policy_hash, _head(rt), [])
    if moment < now:
        why = _unreconstructable(rt, kind, moment, policies.policy_hash)
        if why:
            raise UsageError(
                f"the {kind} report as of {moment:%Y-%m-%d %H:%M:%SZ} cannot be reconstructed: "
                f"{why}"
            )
        report.point_in_time = True
        report.notes.append(
            f"Point in time: captures, holds and plans as they stood at {jsonable(moment)}."
        )
    builders[kind](rt, report)
    return report


@dataclass(frozen=True)
class _Capture:
    capture_id: str
    account: str
    series: str
    started_at: datetime
    bytes: int
    disposed_at: datetime | None  # when its objects were destroyed or transferred


def _captures(rt: Runtime, as_of: datetime) -> list[_Capture]:
    """The captures that existed at ``as_of``: started by then, finished, and not disposed of
    by then (one disposed of later existed then)."""
    found = []
    for capture_id, account, series, at, size, status, gone in rt.index.reports.capture_states():
        if at > as_of or (status == "disposed" and (gone is None or gone <= as_of)):
            continue
        found.append(_Capture(capture_id, account, series, at, int(size or 0), gone))
    return found


def _holds_then(rt: Runtime, as_of: datetime) -> list[tuple[Hold, bool]]:
    """Every hold placed by ``as_of``, with whether it was still active then."""
    return [
        (h, h.released_at is None or utc(h.released_at) > as_of)
        for h in list_holds(rt)
        if utc(h.created_at) <= as_of
    ]


def _policy_hash_at(rt: Runtime, as_of: datetime) -> str | None:
    """The hash of the policy in force at ``as_of`` (the last one loaded by then), if any."""
    rows = rt.index.reports.events("policy.loaded")
    then = [subject for subject, _payload, at in rows if (at or as_of) <= as_of]
    return then[-1] if then else None


def _unreconstructable(rt: Runtime, kind: str, as_of: datetime, policy_hash: str) -> str | None:
    """Why the ``kind`` report as of the past moment ``as_of`` cannot be given (None: it can)."""
    if kind == "fixity":
        return (
            "the index keeps each object's last verification only, not their history; run the "
            "fixity report without --as-of (the audit trail has every fixity.* event: "
            "`archiver audit list --action 'fixity.*'`)"
        )
    if kind == "disposition":
        return None  # plans keep their dates and every disposed object its tombstone
    since = [c for c in _captures(rt, as_of) if c.disposed_at is not None]
    gone = (
        f"{len(since)} capture(s) that existed then were disposed of since (first at "
        f"{min(c.disposed_at for c in since if c.disposed_at):%Y-%m-%d %H:%M:%SZ}): "
        "their posts and objects are no longer in the index; choose a later date, or read "
        "the disposition report"
        if since
        else None
    )
    if kind == "holds":
        queried = any(h.query for h, active in _holds_then(rt, as_of))
        return gone if queried else None
    then = _policy_hash_at(rt, as_of)
    if then is not None and then != policy_hash:
        return (
            f"the policy in force then ({then[:12]}…) is not the one loaded now "
            f"({policy_hash[:12]}…), and the report would apply today's schedules; choose a "
            "date after the policy change, or run it with that policy loaded"
        )
    return gone


def _retention(rt: Runtime, report: Report) -> None:
    policies = rt.policies
    assert policies is not None
    report.title = "Retention: what is kept, until when, and why"
    as_of = report.as_of
    per_account: dict[str, dict[str, Any]] = {}
    due_by_month: dict[str, int] = defaultdict(int)
    existing = _captures(rt, as_of)
    locks = _locks(rt, as_of, existing, past=report.point_in_time)
    captures = [
        (c.capture_id, c.account, c.series, c.started_at, c.bytes, locks.get(c.capture_id))
        for c in existing
    ]
    posts = rt.index.reports.posts_per_account(as_of)
    active = [h for h, still in _holds_then(rt, as_of) if still]
    matcher = HoldMatcher(rt, active)
    holds_of: dict[str, set[str]] = defaultdict(set)  # account → holds covering its captures
    for c in existing:
        for h in active:
            if matcher.covers(h, c.capture_id, c.account, c.series, c.started_at):
                holds_of[c.account].add(h.hold_id)
    for capture_id, account, series_id, started, size, locked in captures:
        series = policies.series.get(series_id, UNSCHEDULED)
        a = per_account.setdefault(
            account,
            {"series": series, "captures": 0, "bytes": 0, "until": [], "due": [0, 0, 0]},
        )
        a["captures"] += 1
        a["bytes"] += int(size or 0)
        until = utc(locked)
        if until is None and not series.unscheduled and not series.retention.permanent:
            summary = CaptureSummary(
                capture_id=capture_id, account=account, series=series_id, platform="",
                status="ok", trigger="", started_at=utc(started) or as_of, finished_at=None,
                records=0, bytes=0, warc_files=0, posts={}, error=None, policy_hash="", actor="",
            )  # fmt: skip
            until = schedule_retain_until(series, summary, None)
        if until is None:
            continue
        a["until"].append(until)
        for n, days in enumerate((30, 90, 365)):
            if as_of <= until <= as_of + timedelta(days=days):
                a["due"][n] += 1
        due_by_month[f"{until:%Y-%m}"] += int(size or 0)
    rows = []
    for account, a in sorted(per_account.items()):
        s = a["series"]
        held = len(holds_of.get(account, ()))
        rows.append(
            [
                account, s.id, s.authority, s.retention.text, s.unscheduled, a["captures"],
                posts.get(account, 0), a["bytes"], min(a["until"]) if a["until"] else None,
                max(a["until"]) if a["until"] else None, *a["due"], held,
            ]
        )  # fmt: skip
    report.tables.append(Table("Retention by account", RETENTION_COLUMNS, rows))
    unscheduled = [r[0] for r in rows if r[4]]
    if unscheduled:
        report.notes.append(
            "Unscheduled accounts (kept, never disposed; assign a series): "
            + ", ".join(unscheduled)
        )
    report.charts["retain_until_bytes_by_month"] = dict(sorted(due_by_month.items()))


def _locks(
    rt: Runtime, as_of: datetime, captures: list[_Capture], *, past: bool
) -> dict[str, datetime]:
    """capture_id → the latest Object Lock date of its WARC files at ``as_of``.

    Now (or a forecast): the locks in the index. In the past: the lock each file got at upload
    (its capture's schedule date) extended by the ``retention.locks_extended`` events recorded by
    then, since later extensions overwrite the index's date."""
    rows = rt.index.reports.file_locks()
    if not past:
        found: dict[str, datetime] = {}
        for _name, capture_id, at in rows:
            if at is not None:
                found[capture_id] = max(found.get(capture_id, at), at)
        return found
    policies = rt.policies
    assert policies is not None
    extended: dict[str, datetime] = {}
    for _subject, payload, at in rt.index.reports.events("retention.locks_extended"):
        if (at or as_of) > as_of:
            continue
        for name, until in json.loads(payload).get("objects", {}).items():
            moment = as_utc(until.replace("Z", "+00:00"))
            if moment is not None:
                extended[name] = max(extended.get(name, moment), moment)
    by_id = {c.capture_id: c for c in captures}
    found = {}
    for name, capture_id, _until in rows:
        c = by_id.get(capture_id)
        if c is None:
            continue
        dates = [extended[name]] if name in extended else []
        initial = retain_until(policies.series.get(c.series, UNSCHEDULED), c.started_at)
        dates += [initial] if initial is not None else []
        if dates:
            found[capture_id] = max([*dates, *([found[capture_id]] if capture_id in found else [])])
    return found


def _coverage(rt: Runtime, report: Report) -> None:
    policies = rt.policies
    assert policies is not None
    report.title = "Coverage: scheduled versus captured, gaps and completeness"
    as_of = report.as_of
    queries = rt.index.reports
    stats = queries.capture_stats(as_of)
    # with point_in_time, posts as they stood then: seen, edited, deleted by then
    posts = queries.post_stats(as_of, point_in_time=report.point_in_time)
    incomplete = queries.incomplete_listings(as_of)
    limited = queries.rate_limited(as_of)
    by_account: dict[str, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    for owner, at, status, error in queries.timeline(as_of):
        by_account[owner].append((at, status, error))
    rows: list[list[Any]] = []
    gaps_table: list[list[Any]] = []
    for account_id, account in sorted(policies.accounts.items()):
        st = stats.get(account_id)
        first = st.first_started_at if st else None
        expected = 0
        if first is not None:
            fire = first
            while fire <= as_of and expected < 100_000:
                expected += 1
                fire = next_fire(account.schedule, fire)
        runs = by_account.get(account_id, [])
        gaps = 0
        last_ok: datetime | None = None
        for at, status, error in runs:
            if status == "failed":
                gaps += 1
                gaps_table.append([account_id, at, "failed", error or ""])
            elif last_ok is not None and expected and first is not None:
                interval = next_fire(account.schedule, last_ok) - last_ok
                if at - last_ok > 2 * interval:
                    gaps += 1
                    gaps_table.append(
                        [account_id, last_ok, "missed runs", f"no capture until {jsonable(at)}"]
                    )
            if status in ("ok", "partial"):
                last_ok = at
        p = posts.get(account_id)
        good = st.last_ok_at if st else None
        days = (
            max((as_of - (p.first_published_at or as_of)).days, 1)
            if p and p.first_published_at
            else 1
        )
        rows.append(
            [
                account_id, account.platform, account.schedule.text, expected,
                st[1] if st else 0, st[2] if st else 0, st[3] if st else 0, st[4] if st else 0,
                gaps, p[1] if p else 0, round((p[1] if p else 0) / days, 2),
                p[2] if p else 0, p[3] if p else 0, good,
                round((as_of - good).total_seconds() / 3600, 1) if good else None,
                incomplete.get(account_id, 0), limited.get(account_id, 0),
            ]
        )  # fmt: skip
    report.tables.append(Table("Coverage by account", COVERAGE_COLUMNS, rows))
    report.tables.append(Table("Gaps", ("account", "at", "kind", "reason"), gaps_table))
    report.charts["timeline"] = {
        account: [[jsonable(at), status] for at, status, _ in runs]
        for account, runs in by_account.items()
    }
    never = [r[0] for r in rows if not r[4]]
    if never:
        report.notes.append("Never captured: " + ", ".join(never))


def _holds(rt: Runtime, report: Report) -> None:
    report.title = "Legal holds"
    holds = _holds_then(rt, report.as_of)
    matcher = HoldMatcher(rt, [h for h, _ in holds])
    captures = _captures(rt, report.as_of)
    rows = []
    for h, active in holds:
        covered = sum(
            1
            for c in captures
            if matcher.covers(h, c.capture_id, c.account, c.series, c.started_at)
        )
        rows.append(
            [
                h.hold_id, h.name, h.reason, h.account, h.series, utc(h.date_from),
                utc(h.date_to), h.query, h.created_by, utc(h.created_at),
                None if active else h.released_by, None if active else utc(h.released_at),
                covered,
            ]
        )  # fmt: skip
    report.tables.append(Table("Holds", HOLDS_COLUMNS, rows))


def _fixity(rt: Runtime, report: Report) -> None:
    report.title = "Fixity: last verification of every stored object"
    failures = rt.index.reports.fixity_failures()
    rows = []
    counts = {"verified": 0, "never verified": 0, "failed": 0}
    for name, account, series, size, stored, verified, key in rt.index.reports.stored_files():
        status = "failed" if key in failures else ("verified" if verified else "never verified")
        counts[status] += 1
        rows.append([name, account, series, size, stored, verified, status])
    report.tables.append(Table("Stored objects", FIXITY_COLUMNS, rows))
    unknown = rt.index.reports.events("fixity.unknown_object")
    report.tables.append(
        Table(
            "Objects in the store unknown to the index",
            ("key", "at"),
            [[key, at] for key, _payload, at in unknown],
        )
    )
    report.charts["status"] = counts


def _disposition(rt: Runtime, report: Report) -> None:
    report.title = "Disposition: plans and certificates"
    as_of = report.as_of

    def by(moment: Any) -> bool:
        at = as_utc(moment)
        return at is not None and at <= as_of

    done: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for plan_id, action, capture_id, disposed_at in rt.index.reports.tombstones():
        if by(disposed_at):  # what was actually destroyed or transferred, by then
            done[plan_id][action].add(capture_id)
    rows = []
    for (
        plan_id, _status, plan_as_of, planned_by, approved_by, executed_by, executed_at,
        certificate, planned_at, approved_at, cancelled_at,
    ) in rt.index.reports.plans():  # fmt: skip
        if not by(planned_at):
            continue
        executed = by(executed_at)
        then = (
            "executed" if executed else "cancelled" if by(cancelled_at)
            else "approved" if by(approved_at) else "planned"
        )  # fmt: skip
        certified = executed or bool(done.get(plan_id))
        rows.append(
            [
                plan_id, then, plan_as_of, planned_by, approved_by if by(approved_at) else None,
                executed_by if executed else None, executed_at if executed else None,
                len(done[plan_id]["destroyed"]), len(done[plan_id]["transferred"]),
                certificate if certified else None,
            ]
        )  # fmt: skip
    report.tables.append(Table("Plans", DISPOSITION_COLUMNS, rows))

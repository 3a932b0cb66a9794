"""Compliance reports as data: retention, coverage, holds, fixity, disposition.

Each builder reads the index with set queries (GROUP BY), never post by post, and returns a
:class:`Report`: tables (the first is the CSV one, one row per account where it fits), chart series,
and the facts that make it re-producible — ``as_of``, the policy hash and the audit chain head.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from archiver.governance.disposition import schedule_retain_until
from archiver.index.api import CaptureSummary, jsonable, utc
from archiver.policy.model import UNSCHEDULED
from archiver.runtime import Runtime
from archiver.service.timing import next_fire

_ISO = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
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

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = jsonable(
            {
                "kind": self.kind,
                "title": self.title,
                "as_of": self.as_of,
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


def _dt(value: Any) -> datetime | None:
    """A timestamp from a raw query as aware UTC (SQLite hands back ISO text)."""
    if value is None or value == "":
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return utc(moment)


def _rows(rt: Runtime, sql: str, **params: Any) -> list[Any]:
    """Rows of a raw query; ISO timestamp text (SQLite) comes back as datetimes."""
    with rt.index.engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    return [[_dt(v) if isinstance(v, str) and _ISO.match(v) else v for v in r] for r in rows]


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
    moment = utc(as_of) or rt.clock.now()
    assert moment is not None
    report = Report(kind, "", moment, policies.policy_hash, _head(rt), [])
    builders[kind](rt, report)
    return report


def _retention(rt: Runtime, report: Report) -> None:
    policies = rt.policies
    assert policies is not None
    report.title = "Retention: what is kept, until when, and why"
    as_of = report.as_of
    per_account: dict[str, dict[str, Any]] = {}
    due_by_month: dict[str, int] = defaultdict(int)
    captures = _rows(
        rt,
        "SELECT c.capture_id, c.account, c.series, c.started_at, c.bytes, "
        "max(w.retain_until) FROM captures c LEFT JOIN warc_files w ON w.capture_id = c.capture_id "
        "WHERE c.status NOT IN ('disposed', 'running') "
        "GROUP BY c.capture_id, c.account, c.series, c.started_at, c.bytes",
    )
    posts = dict(_rows(rt, "SELECT account, count(*) FROM posts GROUP BY account"))
    holds = _rows(rt, "SELECT account, series FROM holds WHERE released_at IS NULL")
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
        held = sum(
            1 for h_acc, h_ser in holds if h_acc in (None, account) and h_ser in (None, s.id)
        )
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


def _coverage(rt: Runtime, report: Report) -> None:
    policies = rt.policies
    assert policies is not None
    report.title = "Coverage: scheduled versus captured, gaps and completeness"
    as_of = report.as_of
    stats = {
        r[0]: r
        for r in _rows(
            rt,
            "SELECT account, count(*), sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'partial' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), min(started_at), "
            "max(CASE WHEN status = 'ok' THEN started_at END) FROM captures "
            "WHERE started_at <= :as_of GROUP BY account",
            as_of=as_of,
        )
    }
    posts = {
        r[0]: r
        for r in _rows(
            rt,
            "SELECT account, count(*), sum(CASE WHEN edited THEN 1 ELSE 0 END), "
            "sum(CASE WHEN deleted THEN 1 ELSE 0 END), min(published_at) FROM posts "
            "GROUP BY account",
        )
    }
    incomplete = dict(
        _rows(
            rt,
            "SELECT account, count(*) FROM captures WHERE ledger LIKE :flag GROUP BY account",
            flag='%"complete_listing": false%',
        )
    )
    limited = dict(
        _rows(
            rt,
            "SELECT account, count(*) FROM captures WHERE ledger LIKE '%HTTP 429%' "
            "OR error LIKE '%429%' GROUP BY account",
        )
    )
    timeline = _rows(
        rt,
        "SELECT account, started_at, status, error FROM captures WHERE started_at <= :as_of "
        "ORDER BY account, started_at",
        as_of=as_of,
    )
    by_account: dict[str, list[tuple[datetime, str, str | None]]] = defaultdict(list)
    for account, started, status, error in timeline:
        at = utc(started)
        assert at is not None
        by_account[account].append((at, status, error))
    rows = []
    gaps_table = []
    for account_id, account in sorted(policies.accounts.items()):
        st = stats.get(account_id)
        first = utc(st[5]) if st else None
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
        good = utc(st[6]) if st else None
        days = max((as_of - (utc(p[4]) or as_of)).days, 1) if p and p[4] else 1
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
    rows = []
    for h in _rows(
        rt,
        "SELECT hold_id, name, reason, account, series, date_from, date_to, query, created_by, "
        "created_at, released_by, released_at FROM holds ORDER BY created_at",
    ):
        where = ["status NOT IN ('disposed', 'running')"]
        params: dict[str, Any] = {}
        for column, value in (("account", h[3]), ("series", h[4])):
            if value:
                where.append(f"{column} = :{column}")
                params[column] = value
        if h[5]:
            where.append("started_at >= :date_from")
            params["date_from"] = h[5]
        if h[6]:
            where.append("started_at <= :date_to")
            params["date_to"] = h[6]
        [(covered,)] = _rows(
            rt, f"SELECT count(*) FROM captures WHERE {' AND '.join(where)}", **params
        )
        rows.append([*h, covered])
    report.tables.append(Table("Holds", HOLDS_COLUMNS, rows))


def _fixity(rt: Runtime, report: Report) -> None:
    report.title = "Fixity: last verification of every stored object"
    failures = {
        r[0]: r[1]
        for r in _rows(
            rt,
            "SELECT subject, max(action) FROM audit_events WHERE action IN "
            "('fixity.missing', 'fixity.changed') GROUP BY subject",
        )
    }
    rows = []
    counts = {"verified": 0, "never verified": 0, "failed": 0}
    for name, account, series, size, stored, verified, key in _rows(
        rt,
        "SELECT name, account, series, size, stored_at, last_verified_at, key FROM warc_files "
        "WHERE status = 'stored' ORDER BY name",
    ):
        status = "failed" if key in failures else ("verified" if verified else "never verified")
        counts[status] += 1
        rows.append([name, account, series, size, stored, verified, status])
    report.tables.append(Table("Stored objects", FIXITY_COLUMNS, rows))
    unknown = _rows(
        rt, "SELECT subject, at FROM audit_events WHERE action = 'fixity.unknown_object'"
    )
    report.tables.append(
        Table(
            "Objects in the store unknown to the index", ("key", "at"), [list(u) for u in unknown]
        )
    )
    report.charts["status"] = counts


def _disposition(rt: Runtime, report: Report) -> None:
    import json

    report.title = "Disposition: plans and certificates"
    rows = []
    for plan in _rows(
        rt,
        "SELECT plan_id, status, as_of, planned_by, approved_by, executed_by, executed_at, body, "
        "certificate_key FROM disposition_plans ORDER BY planned_at",
    ):
        body = json.loads(plan[7])
        eligible = body.get("eligible", [])
        destroyed = sum(1 for i in eligible if i.get("action") == "destroy")
        rows.append([*plan[:7], destroyed, len(eligible) - destroyed, plan[8]])
    report.tables.append(Table("Plans", DISPOSITION_COLUMNS, rows))

"""Report queries: the set queries (GROUP BY) the compliance reports are built from.

Each returns plain tuples (``NamedTuple`` where the fields are many) with timestamps as aware
UTC datetimes on both backends (SQLite hands them back as ISO text)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import Engine

from archiver.index.common import utc

_ISO = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")


def as_utc(value: Any) -> datetime | None:
    """A timestamp from a raw query as aware UTC (SQLite hands back ISO text); None for none."""
    if value is None or value == "":
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return utc(moment)


class CaptureState(NamedTuple):
    """A finished capture (not running), with when its objects were first disposed of."""

    capture_id: str
    account: str
    series: str
    started_at: datetime
    bytes: int | None
    status: str
    disposed_at: datetime | None


class CaptureStats(NamedTuple):
    """One account's captures by status, its first start and its last ``ok`` start."""

    account: str
    captures: int
    ok: int
    partial: int
    failed: int
    first_started_at: datetime | None
    last_ok_at: datetime | None


class PostStats(NamedTuple):
    """One account's posts: how many, edited, deleted, and the earliest publication."""

    account: str
    posts: int
    edited: int
    deleted: int
    first_published_at: datetime | None


class StoredFile(NamedTuple):
    """A stored WARC file as the fixity report lists it."""

    name: str
    account: str
    series: str
    size: int
    stored_at: datetime | None
    last_verified_at: datetime | None
    key: str


class PlanState(NamedTuple):
    """A disposition plan's actors and the dates of each of its steps."""

    plan_id: str
    status: str
    as_of: datetime | None
    planned_by: str
    approved_by: str | None
    executed_by: str | None
    executed_at: datetime | None
    certificate: str | None
    planned_at: datetime | None
    approved_at: datetime | None
    cancelled_at: datetime | None


class ReportQueries:
    """Reads of captures, posts, files, plans, tombstones and audit events, aggregated."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _rows(self, sql: str, **params: Any) -> list[list[Any]]:
        """Rows of a raw query; ISO timestamp text (SQLite) comes back as datetimes."""
        with self._engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
        return [[as_utc(v) if isinstance(v, str) and _ISO.match(v) else v for v in r] for r in rows]

    def capture_states(self) -> list[CaptureState]:
        """Every capture not running, oldest start first, with its first tombstone's date."""
        rows = self._rows(
            "SELECT c.capture_id, c.account, c.series, c.started_at, c.bytes, c.status, "
            "t.disposed FROM captures c LEFT JOIN (SELECT capture_id, min(disposed_at) AS "
            "disposed FROM tombstones GROUP BY capture_id) t ON t.capture_id = c.capture_id "
            "WHERE c.status <> 'running' ORDER BY c.started_at"
        )
        found = []
        for capture_id, account, series, started, size, status, gone in rows:
            at = as_utc(started)
            assert at is not None
            found.append(CaptureState(capture_id, account, series, at, size, status, as_utc(gone)))
        return found

    def events(self, action: str) -> list[tuple[str, str, datetime | None]]:
        """``(subject, payload, at)`` of every audit event of ``action``, in chain order."""
        rows = self._rows(
            "SELECT subject, payload, at FROM audit_events WHERE action = :action ORDER BY seq",
            action=action,
        )
        return [(subject, payload, as_utc(at)) for subject, payload, at in rows]

    def posts_per_account(self, as_of: datetime) -> dict[str, int]:
        """account → how many posts were first captured by ``as_of``."""
        rows = self._rows(
            "SELECT account, count(*) FROM posts WHERE first_captured_at <= :as_of "
            "GROUP BY account",
            as_of=as_of,
        )
        return {account: int(n) for account, n in rows}

    def file_locks(self) -> list[tuple[str, str, datetime | None]]:
        """``(name, capture_id, retain_until)`` of every WARC file the index knows."""
        rows = self._rows("SELECT name, capture_id, retain_until FROM warc_files")
        return [(name, capture_id, as_utc(until)) for name, capture_id, until in rows]

    def capture_stats(self, as_of: datetime) -> dict[str, CaptureStats]:
        """account → its captures started by ``as_of``, counted by status."""
        rows = self._rows(
            "SELECT account, count(*), sum(CASE WHEN status = 'ok' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'partial' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), min(started_at), "
            "max(CASE WHEN status = 'ok' THEN started_at END) FROM captures "
            "WHERE started_at <= :as_of GROUP BY account",
            as_of=as_of,
        )
        return {
            r[0]: CaptureStats(r[0], r[1], r[2], r[3], r[4], as_utc(r[5]), as_utc(r[6]))
            for r in rows
        }

    def post_stats(self, as_of: datetime, *, point_in_time: bool) -> dict[str, PostStats]:
        """account → its posts; with ``point_in_time`` as they stood at ``as_of`` (seen, edited
        and deleted by then), else as they are now."""
        sql = (
            "SELECT account, count(*), sum(CASE WHEN edited THEN 1 ELSE 0 END), "
            "sum(CASE WHEN deleted THEN 1 ELSE 0 END), min(published_at) FROM posts "
            "GROUP BY account"
        )
        if point_in_time:
            sql = (
                "SELECT p.account, count(*), sum(CASE WHEN EXISTS (SELECT 1 FROM post_versions v "
                "WHERE v.post_id = p.post_id AND v.version > 1 AND v.captured_at <= :as_of) "
                "THEN 1 ELSE 0 END), sum(CASE WHEN p.deleted AND p.deleted_at <= :as_of "
                "THEN 1 ELSE 0 END), min(p.published_at) FROM posts p "
                "WHERE p.first_captured_at <= :as_of GROUP BY p.account"
            )
        return {
            r[0]: PostStats(r[0], r[1], r[2], r[3], as_utc(r[4]))
            for r in self._rows(sql, as_of=as_of)
        }

    def incomplete_listings(self, as_of: datetime) -> dict[str, int]:
        """account → its captures started by ``as_of`` whose listing was not complete."""
        rows = self._rows(
            "SELECT account, count(*) FROM captures WHERE ledger LIKE :flag "
            "AND started_at <= :as_of GROUP BY account",
            flag='%"complete_listing": false%',
            as_of=as_of,
        )
        return {account: int(n) for account, n in rows}

    def rate_limited(self, as_of: datetime) -> dict[str, int]:
        """account → its captures started by ``as_of`` that met an HTTP 429."""
        rows = self._rows(
            "SELECT account, count(*) FROM captures WHERE (ledger LIKE '%HTTP 429%' "
            "OR error LIKE '%429%') AND started_at <= :as_of GROUP BY account",
            as_of=as_of,
        )
        return {account: int(n) for account, n in rows}

    def timeline(self, as_of: datetime) -> list[tuple[str, datetime, str, str | None]]:
        """``(account, started_at, status, error)`` of every capture started by ``as_of``, by
        account then start."""
        rows = self._rows(
            "SELECT account, started_at, status, error FROM captures WHERE started_at <= :as_of "
            "ORDER BY account, started_at",
            as_of=as_of,
        )
        found = []
        for account, started, status, error in rows:
            at = as_utc(started)
            assert at is not None
            found.append((account, at, status, error))
        return found

    def fixity_failures(self) -> dict[str, str]:
        """Store key → the last kind of fixity failure (``fixity.missing|changed``) recorded."""
        rows = self._rows(
            "SELECT subject, max(action) FROM audit_events WHERE action IN "
            "('fixity.missing', 'fixity.changed') GROUP BY subject",
        )
        return {subject: action for subject, action in rows}

    def stored_files(self) -> list[StoredFile]:
        """Every stored WARC file, by name."""
        rows = self._rows(
            "SELECT name, account, series, size, stored_at, last_verified_at, key FROM "
            "warc_files WHERE status = 'stored' ORDER BY name",
        )
        return [StoredFile(*r) for r in rows]

    def tombstones(self) -> list[tuple[str, str, str, datetime | None]]:
        """``(plan_id, action, capture_id, disposed_at)`` of every tombstone."""
        rows = self._rows("SELECT plan_id, action, capture_id, disposed_at FROM tombstones")
        return [(plan, action, capture, as_utc(at)) for plan, action, capture, at in rows]

    def plans(self) -> list[PlanState]:
        """Every disposition plan, oldest first."""
        rows = self._rows(
            "SELECT plan_id, status, as_of, planned_by, approved_by, executed_by, executed_at, "
            "certificate_key, planned_at, approved_at, cancelled_at FROM disposition_plans "
            "ORDER BY planned_at",
        )
        return [PlanState(*r) for r in rows]

"""The index: what was captured, where it is stored, and the posts found in it.

One :class:`Index` per process, over SQLite or PostgreSQL; the same calls and results on both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import and_
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from archiver.errors import DatabaseError, NotFoundError, UsageError
from archiver.index.db import is_initialized, make_engine, migrate, session_scope
from archiver.index.models import (
    AuditEventRow,
    CaptureRow,
    PostEventRow,
    PostRow,
    PostVersionRow,
    RecordRow,
    WarcFileRow,
)
from archiver.index.search import parse_query, to_fts5, to_tsquery_sql
from archiver.warc.writer import WrittenRecord

GENESIS = "0" * 64


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """Normalize a datetime read back from the database to aware UTC (SQLite drops tzinfo)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def jsonable(value: Any) -> Any:
    """Dataclasses, datetimes and containers as JSON-ready values (ISO-8601 UTC times)."""
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if hasattr(value, "__dataclass_fields__"):
        return {k: jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def post_key(account: str, native_id: str) -> str:
    """The stable, short ``post_id`` of a platform item within an account."""
    return hashlib.sha256(f"{account}\0{native_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class NormalizedPost:
    """A post as a connector found it in one capture (before the index compares versions)."""

    native_id: str
    url: str | None
    text: str
    title: str | None = None
    published_at: datetime | None = None
    edited_at: datetime | None = None
    author: str | None = None
    raw: str = ""  # the item as found (JSON / XML fragment)
    record_id: str | None = None  # WARC record it was read from

    def content_hash(self) -> str:
        return hashlib.sha256(
            json.dumps([self.title or "", self.text, self.url or ""]).encode()
        ).hexdigest()


@dataclass(frozen=True)
class CaptureSummary:
    capture_id: str
    account: str
    series: str
    platform: str
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    records: int
    bytes: int
    warc_files: int
    posts: dict[str, int]
    error: str | None
    policy_hash: str
    actor: str
    ledger: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostSummary:
    post_id: str
    account: str
    series: str
    platform: str
    native_id: str
    url: str | None
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    captured_at: datetime
    versions: int
    edited: bool
    deleted: bool
    snippet: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    version: int
    title: str | None
    text: str
    captured_at: datetime
    capture_id: str
    record_id: str | None
    published_at: datetime | None
    edited_at: datetime | None
    content_hash: str


@dataclass(frozen=True)
class RecordInfo:
    record_id: str
    warc_name: str
    offset: int
    length: int
    rec_type: str
    target_uri: str | None
    date: datetime
    status_code: int | None
    mime: str | None
    payload_digest: str | None
    block_digest: str
    refers_to: str | None
    capture_id: str
    account: str
    series: str


@dataclass(frozen=True)
class WarcFileInfo:
    name: str
    capture_id: str
    account: str
    series: str
    key: str
    size: int
    sha256: str
    status: str
    created_at: datetime
    stored_at: datetime | None
    retain_until: datetime | None


@dataclass(frozen=True)
class RecordExtra:
    """What the index keeps beside a written record (from the HTTP block)."""

    status_code: int | None = None
    mime: str | None = None


def _capture(row: CaptureRow) -> CaptureSummary:
    return CaptureSummary(
        capture_id=row.capture_id,
        account=row.account,
        series=row.series,
        platform=row.platform,
        status=row.status,
        trigger=row.trigger,
        started_at=utc(row.started_at),
        finished_at=utc(row.finished_at),
        records=row.records,
        bytes=row.bytes,
        warc_files=row.warc_files,
        posts={"new": row.posts_new, "edited": row.posts_edited, "deleted": row.posts_deleted},
        error=row.error,
        policy_hash=row.policy_hash,
        actor=row.actor,
        ledger=json.loads(row.ledger or "{}"),
    )


def _record(row: RecordRow) -> RecordInfo:
    return RecordInfo(
        record_id=row.record_id,
        warc_name=row.warc_name,
        offset=row.offset,
        length=row.length,
        rec_type=row.rec_type,
        target_uri=row.target_uri,
        date=utc(row.date),
        status_code=row.status_code,
        mime=row.mime,
        payload_digest=row.payload_digest,
        block_digest=row.block_digest,
        refers_to=row.refers_to,
        capture_id=row.capture_id,
        account=row.account,
        series=row.series,
    )


def _warc(row: WarcFileRow) -> WarcFileInfo:
    return WarcFileInfo(
        name=row.name,
        capture_id=row.capture_id,
        account=row.account,
        series=row.series,
        key=row.key,
        size=row.size,
        sha256=row.sha256,
        status=row.status,
        created_at=utc(row.created_at),
        stored_at=utc(row.stored_at),
        retain_until=utc(row.retain_until),
    )


class Index:
    """Typed access to the index database. Thread-safe (a session per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(cls, url: str, *, create: bool = False) -> Index:
        """Open the index at ``url``; with ``create`` run migrations, else require ``init``."""
        engine = make_engine(url)
        if create:
            migrate(engine)
        elif not is_initialized(engine):
            raise UsageError(
                f"the index at {engine.url.render_as_string()} has no schema; run `archiver init`"
            )
        return cls(engine)

    def ping(self) -> None:
        """Raise DatabaseError when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise DatabaseError(f"index database unreachable: {exc.orig}") from None

    # --- captures ---------------------------------------------------------------------------

    def start_capture(self, row: CaptureRow) -> None:
        with session_scope(self.engine) as s:
            s.add(row)

    def finish_capture(self, capture_id: str, **values: Any) -> CaptureSummary:
        """Update the ledger row of a capture (status, counts, error, ledger JSON ...)."""
        with session_scope(self.engine) as s:
            row = s.get(CaptureRow, capture_id)
            if row is None:
                raise NotFoundError(f"no capture {capture_id}")
            for key, value in values.items():
                setattr(row, key, json.dumps(jsonable(value)) if key == "ledger" else value)
            s.add(row)
            s.flush()
            return _capture(row)

    def get_capture(self, capture_id: str) -> CaptureSummary:
        with session_scope(self.engine) as s:
            row = s.get(CaptureRow, capture_id)
            if row is None:
                raise NotFoundError(
                    f"no capture {capture_id!r}; list them with `archiver captures list`"
                )
            return _capture(row)

    def has_capture(self, capture_id: str) -> bool:
        with session_scope(self.engine) as s:
            return s.get(CaptureRow, capture_id) is not None

    def list_captures(self, account: str | None = None, limit: int = 1000) -> list[CaptureSummary]:
        with session_scope(self.engine) as s:
            q = select(CaptureRow).order_by(col(CaptureRow.started_at).desc()).limit(limit)
            if account:
                q = q.where(CaptureRow.account == account)
            return [_capture(r) for r in s.exec(q)]

    # --- WARC files and records ---------------------------------------------------------------

    def add_warc(
        self, info: WarcFileRow, records: Sequence[tuple[WrittenRecord, RecordExtra]]
    ) -> int:
        """Index a closed WARC file and its records. Idempotent: rows already present are kept,
        so a file indexed before a crash is not indexed twice. Returns records added."""
        added = 0
        with session_scope(self.engine) as s:
            if s.get(WarcFileRow, info.name) is None:
                s.add(info)
            known = set(s.exec(select(RecordRow.record_id).where(RecordRow.warc_name == info.name)))
            for rec, extra in records:
                if rec.record_id in known:
                    continue
                s.add(
                    RecordRow(
                        record_id=rec.record_id,
                        warc_name=info.name,
                        offset=rec.offset,
                        length=rec.length,
                        rec_type=rec.rec_type,
                        target_uri=rec.target_uri,
                        date=rec.date,
                        status_code=extra.status_code,
                        mime=extra.mime,
                        payload_digest=rec.payload_digest,
                        block_digest=rec.block_digest,
                        refers_to=rec.refers_to,
                        capture_id=info.capture_id,
                        account=info.account,
                        series=info.series,
                    )
                )
                added += 1
        return added

    def mark_stored(
        self, name: str, *, store_url: str, at: datetime, retain_until: datetime | None
    ) -> None:
        with session_scope(self.engine) as s:
            row = s.get(WarcFileRow, name)
            if row is None:
                raise NotFoundError(f"no WARC file {name} in the index")
            row.status, row.store_url, row.stored_at = "stored", store_url, at
            row.retain_until = retain_until
            s.add(row)

    def get_warc(self, name: str) -> WarcFileInfo | None:
        with session_scope(self.engine) as s:
            row = s.get(WarcFileRow, name)
            return _warc(row) if row else None

    def list_warcs(
        self, capture_id: str | None = None, status: str | None = None
    ) -> list[WarcFileInfo]:
        with session_scope(self.engine) as s:
            q = select(WarcFileRow).order_by(col(WarcFileRow.name))
            if capture_id:
                q = q.where(WarcFileRow.capture_id == capture_id)
            if status:
                q = q.where(WarcFileRow.status == status)
            return [_warc(r) for r in s.exec(q)]

    def get_record(self, record_id: str) -> RecordInfo:
        rid = record_id if record_id.startswith("<") else f"<{record_id}>"
        with session_scope(self.engine) as s:
            row = s.get(RecordRow, rid)
            if row is None:
                raise NotFoundError(f"no record {record_id!r} in the index")
            return _record(row)

    def records_for_uri(self, uri: str, *, until: datetime | None = None) -> list[RecordInfo]:
        """Response and revisit records of ``uri``, newest first (at or before ``until``)."""
        with session_scope(self.engine) as s:
            q = (
                select(RecordRow)
                .where(RecordRow.target_uri == uri)
                .where(col(RecordRow.rec_type).in_(["response", "revisit", "resource"]))
                .order_by(col(RecordRow.date).desc())
            )
            if until is not None:
                q = q.where(RecordRow.date <= until)
            return [_record(r) for r in s.exec(q)]

    def records_of_capture(self, capture_id: str) -> list[RecordInfo]:
        with session_scope(self.engine) as s:
            q = (
                select(RecordRow)
                .where(RecordRow.capture_id == capture_id)
                .order_by(col(RecordRow.warc_name), col(RecordRow.offset))
            )
            return [_record(r) for r in s.exec(q)]

    def last_original(self, series: str, uri: str) -> RecordInfo | None:
        """The newest response record of ``uri`` in ``series`` (dedup never crosses series)."""
        with session_scope(self.engine) as s:
            row = s.exec(
                select(RecordRow)
                .where(
                    RecordRow.series == series,
                    RecordRow.target_uri == uri,
                    RecordRow.rec_type == "response",
                )
                .order_by(col(RecordRow.date).desc())
                .limit(1)
            ).first()
            return _record(row) if row else None

    # --- posts ----------------------------------------------------------------------------------

    def record_posts(
        self,
        *,
        account: str,
        series: str,
        platform: str,
        capture_id: str,
        captured_at: datetime,
        posts: Iterable[NormalizedPost],
    ) -> dict[str, int]:
        """Add or version posts seen in a capture: a new post gets version 1, a post whose
        content changed gets a new version (every version kept) and an ``edited`` event.
        Returns counts ``{new, edited, unchanged}``."""
        counts = {"new": 0, "edited": 0, "unchanged": 0}
        with session_scope(self.engine) as s:
            for post in posts:
                pid = post_key(account, post.native_id)
                row = s.get(PostRow, pid)
                digest = post.content_hash()
                if row is None:
                    row = PostRow(
                        post_id=pid,
                        account=account,
                        series=series,
                        platform=platform,
                        native_id=post.native_id,
                        url=post.url,
                        author=post.author,
                        published_at=post.published_at,
                        first_captured_at=captured_at,
                        last_captured_at=captured_at,
                        versions=1,
                    )
                    s.add(row)
                    s.add(self._version(pid, 1, post, digest, captured_at, capture_id))
                    counts["new"] += 1
                    continue
                last = s.exec(
                    select(PostVersionRow)
                    .where(PostVersionRow.post_id == pid)
                    .order_by(col(PostVersionRow.version).desc())
                    .limit(1)
                ).one()
                row.last_captured_at = captured_at
                if row.deleted:
                    row.deleted, row.deleted_at = False, None
                    s.add(
                        PostEventRow(
                            post_id=pid,
                            kind="restored",
                            at=captured_at,
                            capture_id=capture_id,
                            evidence_record_id=post.record_id,
                        )
                    )
                if last.content_hash == digest:
                    counts["unchanged"] += 1
                else:
                    row.versions = last.version + 1
                    row.edited = True
                    row.url = post.url or row.url
                    s.add(self._version(pid, row.versions, post, digest, captured_at, capture_id))
                    s.add(
                        PostEventRow(
                            post_id=pid,
                            kind="edited",
                            at=captured_at,
                            capture_id=capture_id,
                            evidence_record_id=post.record_id,
                            detail=f"version {last.version} -> {row.versions}",
                        )
                    )
                    counts["edited"] += 1
                s.add(row)
        return counts

    @staticmethod
    def _version(
        pid: str,
        version: int,
        post: NormalizedPost,
        digest: str,
        captured_at: datetime,
        capture_id: str,
    ) -> PostVersionRow:
        return PostVersionRow(
            post_id=pid,
            version=version,
            title=post.title,
            text=post.text,
            raw=post.raw,
            content_hash=digest,
            published_at=post.published_at,
            edited_at=post.edited_at,
            captured_at=captured_at,
            capture_id=capture_id,
            record_id=post.record_id,
        )

    def _summaries(
        self, rows: Iterable[tuple[PostRow, PostVersionRow]], snippets: dict[int, str] | None = None
    ) -> list[PostSummary]:
        return [
            PostSummary(
                post_id=p.post_id,
                account=p.account,
                series=p.series,
                platform=p.platform,
                native_id=p.native_id,
                url=p.url,
                title=v.title,
                text=v.text,
                author=p.author,
                published_at=utc(p.published_at),
                captured_at=utc(v.captured_at),
                versions=p.versions,
                edited=p.edited,
                deleted=p.deleted,
                snippet=(snippets or {}).get(v.id or -1),
            )
            for p, v in rows
        ]

    def list_posts(
        self, account: str, *, edited: bool = False, deleted: bool = False, limit: int = 1000
    ) -> list[PostSummary]:
        """An account's posts (latest version each), newest first."""
        with session_scope(self.engine) as s:
            q = (
                select(PostRow, PostVersionRow)
                .join(
                    PostVersionRow,
                    and_(
                        col(PostVersionRow.post_id) == col(PostRow.post_id),
                        col(PostVersionRow.version) == col(PostRow.versions),
                    ),
                )
                .where(PostRow.account == account)
                .order_by(col(PostRow.published_at).desc(), col(PostRow.post_id))
                .limit(limit)
            )
            if edited:
                q = q.where(col(PostRow.edited).is_(True))
            if deleted:
                q = q.where(col(PostRow.deleted).is_(True))
            return self._summaries(s.exec(q).all())

    def find_post(self, ident: str) -> PostRow:
        """A post by ``post_id``, native id or URL."""
        with session_scope(self.engine) as s:
            row = (
                s.get(PostRow, ident)
                or s.exec(
                    select(PostRow)
                    .where((PostRow.native_id == ident) | (PostRow.url == ident))
                    .limit(1)
                ).first()
            )
            if row is None:
                raise NotFoundError(
                    f"no post {ident!r}; find ids with `archiver search` or `archiver posts list`"
                )
            return row

    def history(self, ident: str) -> tuple[PostRow, list[VersionInfo], list[PostEventRow]]:
        post = self.find_post(ident)
        with session_scope(self.engine) as s:
            versions = s.exec(
                select(PostVersionRow)
                .where(PostVersionRow.post_id == post.post_id)
                .order_by(col(PostVersionRow.version))
            ).all()
            events = s.exec(
                select(PostEventRow)
                .where(PostEventRow.post_id == post.post_id)
                .order_by(col(PostEventRow.at))
            ).all()
            return (
                post,
                [
                    VersionInfo(
                        version=v.version,
                        title=v.title,
                        text=v.text,
                        captured_at=utc(v.captured_at),
                        capture_id=v.capture_id,
                        record_id=v.record_id,
                        published_at=utc(v.published_at),
                        edited_at=utc(v.edited_at),
                        content_hash=v.content_hash,
                    )
                    for v in versions
                ],
                list(events),
            )

    def search(
        self,
        query: str,
        *,
        account: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[PostSummary]:
        """Posts any version of which matches ``query`` (see :mod:`archiver.index.search`),
        best first; ``since``/``until`` bound the publication time."""
        terms = parse_query(query)
        where: list[str] = []
        params: dict[str, object] = {"limit": limit * 4}
        if account:
            where.append("p.account = :account")
            params["account"] = account
        if since:
            where.append("p.published_at >= :since")
            params["since"] = since
        if until:
            where.append("p.published_at <= :until")
            params["until"] = until
        extra = (" AND " + " AND ".join(where)) if where else ""
        if self.dialect == "sqlite":
            params["q"] = to_fts5(terms)
            statement = (
                "SELECT v.id, snippet(post_search, 1, '[', ']', '…', 12) AS snip, "
                "bm25(post_search) AS rank FROM post_search "
                "JOIN post_versions v ON v.id = post_search.rowid "
                "JOIN posts p ON p.post_id = v.post_id "
                f"WHERE post_search MATCH :q{extra} ORDER BY rank LIMIT :limit"
            )
        else:
            tsquery, tsparams = to_tsquery_sql(terms)
            params.update(tsparams)
            statement = (
                f"SELECT v.id, ts_headline('english', v.text, {tsquery}, "
                "'StartSel=[,StopSel=],MaxWords=25,MinWords=8') AS snip, "
                f"-ts_rank(v.search, {tsquery}) AS rank FROM post_versions v "
                "JOIN posts p ON p.post_id = v.post_id "
                f"WHERE v.search @@ {tsquery}{extra} ORDER BY rank LIMIT :limit"
            )
        with session_scope(self.engine) as s:
            hits = s.connection().execute(sql(statement), params).all()
            best: dict[int, str] = {}
            for vid, snip, _rank in hits:
                best.setdefault(int(vid), str(snip))
            if not best:
                return []
            rows = s.exec(
                select(PostRow, PostVersionRow)
                .join(PostVersionRow, col(PostVersionRow.post_id) == col(PostRow.post_id))
                .where(col(PostVersionRow.id).in_(list(best)))
            ).all()
        order = {vid: i for i, vid in enumerate(best)}
        seen: set[str] = set()
        result = []
        for summary, _row in sorted(
            zip(self._summaries(rows, best), rows, strict=True),
            key=lambda x: order[x[1][1].id or 0],
        ):
            if summary.post_id not in seen:
                seen.add(summary.post_id)
                result.append(summary)
        return result[:limit]

    # --- audit ------------------------------------------------------------------------------------

    def audit(
        self, *, actor: str, action: str, subject: str, payload: dict[str, Any], at: datetime
    ) -> str:
        """Append an event to the hash chain; returns its hash. ``hash`` = SHA-256 over the
        canonical JSON of (prev_hash, at, actor, action, subject, payload)."""
        with session_scope(self.engine) as s:
            if self.dialect == "postgresql":  # serialize appenders so the chain never forks
                s.connection().exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")
            last = s.exec(
                select(AuditEventRow).order_by(col(AuditEventRow.seq).desc()).limit(1)
            ).first()
            prev = last.hash if last else GENESIS
            body = canonical_json(jsonable(payload))
            digest = audit_hash(prev, at, actor, action, subject, body)
            s.add(
                AuditEventRow(
                    at=at,
                    actor=actor,
                    action=action,
                    subject=subject,
                    payload=body,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            return digest


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8: the bytes the audit hash covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_hash(prev: str, at: datetime, actor: str, action: str, subject: str, payload: str) -> str:
    doc = canonical_json(
        {
            "prev_hash": prev,
            "at": jsonable(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": payload,
        }
    )
    return hashlib.sha256(doc.encode()).hexdigest()

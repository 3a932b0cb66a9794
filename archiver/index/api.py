"""The index: what was captured, where it is stored, and the posts found in it.

One :class:`Index` per process, over SQLite or PostgreSQL; the same calls and results on both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from archiver.errors import DatabaseError, NotFoundError, UsageError
from archiver.index.audit import AuditQueries
from archiver.index.common import (
    CaptureSummary as CaptureSummary,
)
from archiver.index.common import (
    PostSummary as PostSummary,
)
from archiver.index.common import (
    RecordExtra as RecordExtra,
)
from archiver.index.common import (
    RecordInfo as RecordInfo,
)
from archiver.index.common import (
    VersionInfo as VersionInfo,
)
from archiver.index.common import (
    WarcFileInfo as WarcFileInfo,
)
from archiver.index.common import (
    _capture,
    _record,
    _warc,
    bulk_insert,
)
from archiver.index.common import (
    utc as utc,
)
from archiver.index.db import is_initialized, make_engine, migrate, session_scope, unreachable
from archiver.index.fixity import FixityQueries
from archiver.index.fulltext import (
    SearchDoc,
    SearchEngine,
    SearchFilter,
    SearchHit,
    SqlSearch,
    open_search_engine,
)
from archiver.index.governance import GovernanceQueries
from archiver.index.leases import Leases
from archiver.index.models import (
    AuditEventRow,
    CaptureRow,
    PostEventRow,
    PostRow,
    PostVersionRow,
    RecordRow,
    WarcFileRow,
)
from archiver.index.reports import ReportQueries
from archiver.index.search import parse_query
from archiver.index.tasks import TaskQueries
from archiver.warc.writer import WrittenRecord

GENESIS = "0" * 64
INDEX_DOWN = (DatabaseError, OperationalError)
"""What a call to an unreachable index database raises (server down, file unusable): the
capture goes on into the spool, which recovery indexes when the database answers again."""


def _with_latest_version() -> Any:
    """``SELECT post, its latest version``: where post listings start."""
    return select(PostRow, PostVersionRow).join(
        PostVersionRow,
        and_(
            col(PostVersionRow.post_id) == col(PostRow.post_id),
            col(PostVersionRow.version) == col(PostRow.versions),
        ),
    )


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
    kind: str = "post"  # post | reply | comment (replies and comments a post received)
    in_reply_to: str | None = None  # native id of the post or comment this answers
    media: tuple[str, ...] = ()  # URLs of images, video and audio attached to it

    def content_hash(self) -> str:
        return hashlib.sha256(
            json.dumps([self.title or "", self.text, self.url or ""]).encode()
        ).hexdigest()


_NUL = "\x00"


def _storable(post: NormalizedPost) -> NormalizedPost:
    """``post`` as every index backend can store it: PostgreSQL text refuses NUL characters, so
    each becomes U+FFFD (the WARC keeps the bytes as received)."""
    fields = ("native_id", "url", "text", "title", "author", "raw", "in_reply_to")
    changed: dict[str, Any] = {
        name: value.replace(_NUL, "\ufffd")
        for name in fields
        if isinstance(value := getattr(post, name), str) and _NUL in value
    }
    if any(_NUL in m for m in post.media):
        changed["media"] = tuple(m.replace(_NUL, "\ufffd") for m in post.media)
    return replace(post, **changed) if changed else post


_SUMMARY_POST = (
    "post_id",
    "account",
    "series",
    "platform",
    "native_id",
    "url",
    "author",
    "published_at",
    "versions",
    "edited",
    "deleted",
    "kind",
    "in_reply_to",
)
_POST_CHANGES = ("last_captured_at", "deleted", "deleted_at", "versions", "edited", "url")
_COMPLETE = '"complete_listing": true'  # as the ledger JSON spells it (indent=1, sorted keys)


_RECORDS = RecordRow.__table__  # type: ignore[attr-defined]
_LAST_ORIGINAL = (  # built once: it runs for every response a capture writes
    sa_select(_RECORDS)
    .where(
        _RECORDS.c.series == bindparam("series"),
        _RECORDS.c.target_uri == bindparam("uri"),
        _RECORDS.c.rec_type == bindparam("rec_type"),
    )
    .order_by(_RECORDS.c.date.desc())
    .limit(1)
)


def _insert_versions(
    conn: Connection, table: Table, versions: list[dict[str, Any]], capture_id: str
) -> list[int]:
    """Insert one page's new versions (all of ``capture_id``); their ids, in order. The ids are
    matched by (post, version), not by order: PostgreSQL answers RETURNING for the batch,
    SQLite (whose executemany returns no rows) is asked once after the insert."""
    if not versions:
        return []
    keys = table.c.id, table.c.post_id, table.c.version
    if conn.dialect.name == "sqlite":
        # the new rows are past the highest id before the insert (a range of the primary key;
        # another writer's rows there are not of this capture)
        before = conn.execute(sa_select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        bulk_insert(conn, table, versions)
        q = sa_select(*keys).where(table.c.id > before, table.c.capture_id == capture_id)
        made = {(str(pid), int(n)): int(vid) for vid, pid, n in conn.execute(q)}
    else:
        made = {
            (str(pid), int(n)): int(vid)
            for vid, pid, n in conn.execute(insert(table).returning(*keys), versions)
        }
    return [made[(v["post_id"], v["version"])] for v in versions]


def _version_info(row: Any) -> VersionInfo:
    """A version as the rest of the code sees it, from its row (ORM object or selected columns)."""
    return VersionInfo(
        version=row.version,
        title=row.title,
        text=row.text,
        captured_at=utc(row.captured_at),
        capture_id=row.capture_id,
        record_id=row.record_id,
        published_at=utc(row.published_at),
        edited_at=utc(row.edited_at),
        content_hash=row.content_hash,
    )


class Index:
    """Typed access to the index database. Thread-safe (a session per call)."""

    def __init__(self, engine: Engine, fulltext: SearchEngine | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.fulltext: SearchEngine = fulltext or SqlSearch(engine)
        """The full-text engine (derived from these tables; see :mod:`archiver.index.fulltext`)."""
        self.audit_chain = AuditQueries(engine)
        """Reads of the audit chain (:mod:`archiver.index.audit`)."""
        self.fixity = FixityQueries(engine)
        """What the integrity checks compare (:mod:`archiver.index.fixity`)."""
        self.governance = GovernanceQueries(engine)
        """Holds and retention inputs (:mod:`archiver.index.governance`)."""
        self.reports = ReportQueries(engine)
        """The compliance reports' set queries (:mod:`archiver.index.reports`)."""
        self.tasks = TaskQueries(engine)
        """Distributed mode's capture tasks (:mod:`archiver.index.tasks`)."""
        self.leases = Leases(engine)
        """Leases that die with their holder (:mod:`archiver.index.leases`)."""

    @classmethod
    def open(
        cls,
        url: str,
        *,
        create: bool = False,
        search_engine: str = "sql",
        search_dir: Path | None = None,
    ) -> Index:
        """Open the index at ``url``; with ``create`` run migrations, else require ``init``.
        ``search_engine`` (``sql`` | ``tantivy``, kept in ``search_dir``) answers searches."""
        engine = make_engine(url)
        if create:
            migrate(engine)
        elif not is_initialized(engine):
            raise UsageError(
                f"the index at {engine.url.render_as_string()} has no schema; run `archiver init`"
            )
        return cls(engine, open_search_engine(search_engine, engine, search_dir))

    def migrate(self) -> str:
        """Create or upgrade the schema to the newest revision; returns that revision."""
        return migrate(self.engine)

    def last_capture_starts(self) -> dict[str, datetime]:
        """Account id → the start of its latest capture (any status)."""
        with session_scope(self.engine) as s:
            rows = s.exec(
                select(CaptureRow.account, func.max(CaptureRow.started_at)).group_by(
                    CaptureRow.account
                )
            )
            return {account: utc(at) for account, at in rows if at is not None}

    def ping(self) -> None:
        """Raise DatabaseError when the database cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise unreachable(self.engine, exc) from None

    # --- captures ---------------------------------------------------------------------------

    def start_capture(
        self,
        *,
        capture_id: str,
        account: str,
        series: str,
        platform: str,
        trigger: str,
        started_at: datetime,
        policy_hash: str,
        actor: str,
    ) -> None:
        """Open the ledger entry of a capture (``running`` until :meth:`finish_capture`)."""
        row = CaptureRow(
            capture_id=capture_id,
            account=account,
            series=series,
            platform=platform,
            status="running",
            trigger=trigger,
            started_at=started_at,
            policy_hash=policy_hash,
            actor=actor,
        )
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

    def stale_captures(self, started_before: datetime) -> list[CaptureSummary]:
        """Captures still marked ``running`` that started before ``started_before``."""
        with session_scope(self.engine) as s:
            q = (
                select(CaptureRow)
                .where(CaptureRow.status == "running")
                .where(col(CaptureRow.started_at) < started_before)
                .order_by(col(CaptureRow.started_at))
            )
            return [_capture(r) for r in s.exec(q)]

    def listing_state(self, account: str) -> tuple[datetime | None, datetime | None]:
        """(start of the account's latest capture that listed its whole window, publication
        time of its newest indexed post): what incremental listing needs."""
        last_full: datetime | None = None
        with session_scope(self.engine) as s:
            rows = s.exec(
                select(CaptureRow.started_at, CaptureRow.ledger)
                .where(CaptureRow.account == account, col(CaptureRow.ledger).contains(_COMPLETE))
                .order_by(col(CaptureRow.started_at).desc())
                .limit(1)
            ).first()
            if rows is not None:
                last_full = utc(rows[0])
            newest = s.exec(
                select(func.max(PostRow.published_at)).where(PostRow.account == account)
            ).first()
        return last_full, (utc(newest) if newest else None)

    # --- WARC files and records ---------------------------------------------------------------

    def add_warc(
        self,
        *,
        name: str,
        capture_id: str,
        account: str,
        series: str,
        key: str,
        size: int,
        sha256: str,
        created_at: datetime,
        records: Sequence[tuple[WrittenRecord, RecordExtra]],
    ) -> int:
        """Index a closed WARC file (``closed`` until :meth:`mark_stored`) and its records.
        Idempotent: rows already present are kept, so a file indexed before a crash is not
        indexed twice. Returns records added."""
        info = WarcFileRow(
            name=name,
            capture_id=capture_id,
            account=account,
            series=series,
            key=key,
            size=size,
            sha256=sha256,
            status="closed",
            created_at=created_at,
        )
        rows: list[dict[str, Any]] = []
        with session_scope(self.engine) as s:
            if s.get(WarcFileRow, info.name) is None:
                s.add(info)
                s.flush()  # the file row before its records (foreign key)
            known = set(s.exec(select(RecordRow.record_id).where(RecordRow.warc_name == info.name)))
            for rec, extra in records:
                if rec.record_id in known:
                    continue
                known.add(rec.record_id)
                rows.append(
                    {
                        "record_id": rec.record_id,
                        "warc_name": info.name,
                        "offset": rec.offset,
                        "length": rec.length,
                        "rec_type": rec.rec_type,
                        "target_uri": rec.target_uri,
                        "date": rec.date,
                        "status_code": extra.status_code,
                        "mime": extra.mime,
                        "payload_digest": rec.payload_digest,
                        "block_digest": rec.block_digest,
                        "refers_to": rec.refers_to,
                        "capture_id": info.capture_id,
                        "account": info.account,
                        "series": info.series,
                    }
                )
            bulk_insert(s.connection(), RecordRow.__table__, rows)  # type: ignore[attr-defined]
        return len(rows)

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

    def records_for_uris(self, uris: Iterable[str]) -> dict[str, list[RecordInfo]]:
        """:meth:`records_for_uri` of many URIs in set queries: URI -> its response, revisit
        and resource records, newest first (URIs without any are absent)."""
        wanted = sorted(set(uris))
        found: dict[str, list[RecordInfo]] = {}
        with session_scope(self.engine) as s:
            for start in range(0, len(wanted), 500):
                q = (
                    select(RecordRow)
                    .where(col(RecordRow.target_uri).in_(wanted[start : start + 500]))
                    .where(col(RecordRow.rec_type).in_(["response", "revisit", "resource"]))
                    .order_by(col(RecordRow.date).desc())
                )
                for r in s.exec(q):
                    found.setdefault(str(r.target_uri), []).append(_record(r))
        return found

    def capture_totals(self, capture_id: str) -> tuple[int, int, int]:
        """(records, WARC files, bytes) the index holds for a capture, over all its files."""
        with session_scope(self.engine) as s:
            files, size = s.exec(
                select(func.count(), func.coalesce(func.sum(WarcFileRow.size), 0)).where(
                    WarcFileRow.capture_id == capture_id
                )
            ).one()
            records = s.exec(
                select(func.count())
                .select_from(RecordRow)
                .where(RecordRow.capture_id == capture_id)
            ).one()
            return int(records), int(files), int(size)

    def records_of_capture(self, capture_id: str) -> list[RecordInfo]:
        with session_scope(self.engine) as s:
            q = (
                select(RecordRow)
                .where(RecordRow.capture_id == capture_id)
                .order_by(col(RecordRow.warc_name), col(RecordRow.offset))
            )
            return [_record(r) for r in s.exec(q)]

    def last_original(
        self, series: str, uri: str, *, rec_type: str = "response"
    ) -> RecordInfo | None:
        """The newest ``rec_type`` record (a response; a ``resource`` for post pages) of ``uri``
        in ``series`` (dedup never crosses series). Asked once per response a capture writes:
        a Core query on a pooled connection, no ORM session."""
        with self.engine.connect() as conn:
            row = conn.execute(
                _LAST_ORIGINAL, {"series": series, "uri": uri, "rec_type": rec_type}
            ).first()
        return _record(row) if row else None

    def last_originals(
        self, series: str, uris: Iterable[str], *, rec_type: str = "response"
    ) -> dict[str, RecordInfo]:
        """:meth:`last_original` of many URIs in set queries: URI -> its newest ``rec_type``
        record in ``series`` (URIs without one are absent)."""
        wanted = sorted(set(uris))
        found: dict[str, RecordInfo] = {}
        with session_scope(self.engine) as s:
            for start in range(0, len(wanted), 500):
                q = (
                    select(RecordRow)
                    .where(
                        RecordRow.series == series,
                        col(RecordRow.target_uri).in_(wanted[start : start + 500]),
                        RecordRow.rec_type == rec_type,
                    )
                    .order_by(col(RecordRow.date).desc())
                )
                for r in s.exec(q):
                    found.setdefault(str(r.target_uri), _record(r))
        return found

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
        page: int = 1000,
        search_docs: list[SearchDoc] | None = None,
    ) -> dict[str, int]:
        """Add or version posts seen in a capture: a new post gets version 1, a post whose
        content changed gets a new version (every version kept) and an ``edited`` event.
        Written ``page`` posts per transaction, each page in set operations; the search
        engine gets all new versions in one write after the last page has committed (what a
        crash in between loses there, its next check adds from the SQL index).
        ``search_docs`` given: the new versions' documents are appended to it instead, for
        the caller to hand to :meth:`add_to_search` once (a capture that indexes its posts
        in chunks while it lists writes the engine once). Returns counts ``{new, edited,
        unchanged}``."""
        counts = {"new": 0, "edited": 0, "unchanged": 0}
        docs: list[SearchDoc] = []
        batch: list[NormalizedPost] = []
        where = (account, series, platform, capture_id, captured_at)
        try:
            for found in posts:
                batch.append(_storable(found))
                if len(batch) >= page:
                    self._record_page(*where, batch, counts, docs)
                    batch = []
            if batch:
                self._record_page(*where, batch, counts, docs)
        finally:  # the pages that committed, even when a later one failed
            if search_docs is None:
                self.fulltext.add(docs)
            else:
                search_docs.extend(docs)
        return counts

    def add_to_search(self, docs: Sequence[SearchDoc]) -> None:
        """Write versions :meth:`record_posts` committed to the search engine (one write)."""
        self.fulltext.add(docs)

    def _record_page(
        self,
        account: str,
        series: str,
        platform: str,
        capture_id: str,
        captured_at: datetime,
        page: list[NormalizedPost],
        counts: dict[str, int],
        docs: list[SearchDoc],
    ) -> None:
        """One page of :meth:`record_posts`: one SELECT of the page's known posts and their
        latest versions, then inserts and updates as executemany, in one transaction. A post
        seen twice in a page is compared with what the page itself wrote before."""
        keyed = [(post_key(account, p.native_id), p) for p in page]
        pids = sorted({pid for pid, _ in keyed})
        posts_t = PostRow.__table__  # type: ignore[attr-defined]
        versions_t = PostVersionRow.__table__  # type: ignore[attr-defined]
        events_t = PostEventRow.__table__  # type: ignore[attr-defined]
        with session_scope(self.engine) as s:
            conn = s.connection()
            known: dict[str, dict[str, Any]] = {
                r.post_id: dict(r._mapping)
                for r in conn.execute(sa_select(posts_t).where(posts_t.c.post_id.in_(pids)))
            }
            latest = (
                sa_select(versions_t.c.post_id, func.max(versions_t.c.version).label("top"))
                .where(versions_t.c.post_id.in_(list(known)))
                .group_by(versions_t.c.post_id)
                .subquery()
            )
            last: dict[str, tuple[int, str]] = {
                pid: (int(version), digest)
                for pid, version, digest in conn.execute(
                    select(
                        versions_t.c.post_id, versions_t.c.version, versions_t.c.content_hash
                    ).join(
                        latest,
                        and_(
                            versions_t.c.post_id == latest.c.post_id,
                            versions_t.c.version == latest.c.top,
                        ),
                    )
                )
            }
            inserted: dict[str, dict[str, Any]] = {}
            changed: set[str] = set()
            versions: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for pid, post in keyed:
                digest = post.content_hash()
                row = known.get(pid) or inserted.get(pid)
                if row is None:
                    inserted[pid] = {
                        "post_id": pid,
                        "account": account,
                        "series": series,
                        "platform": platform,
                        "native_id": post.native_id,
                        "url": post.url,
                        "author": post.author,
                        "published_at": post.published_at,
                        "kind": post.kind,
                        "in_reply_to": post.in_reply_to,
                        "first_captured_at": captured_at,
                        "last_captured_at": captured_at,
                        "versions": 1,
                        "edited": False,
                        "deleted": False,
                        "deleted_at": None,
                    }
                    versions.append(
                        self._version_values(pid, 1, post, digest, captured_at, capture_id)
                    )
                    last[pid] = (1, digest)
                    counts["new"] += 1
                    continue
                if pid in known:
                    changed.add(pid)
                row["last_captured_at"] = captured_at
                if row["deleted"]:
                    row["deleted"], row["deleted_at"] = False, None
                    events.append(
                        self._event_values(pid, "restored", captured_at, capture_id, post, "")
                    )
                top, top_digest = last.get(pid, (0, ""))
                if top_digest == digest:
                    counts["unchanged"] += 1
                    continue
                row["versions"] = top + 1
                row["edited"] = True
                row["url"] = post.url or row["url"]
                versions.append(
                    self._version_values(pid, top + 1, post, digest, captured_at, capture_id)
                )
                last[pid] = (top + 1, digest)
                events.append(
                    self._event_values(
                        pid, "edited", captured_at, capture_id, post, f"version {top} -> {top + 1}"
                    )
                )
                counts["edited"] += 1
            bulk_insert(conn, posts_t, list(inserted.values()))
            if changed:
                conn.execute(
                    update(posts_t)
                    .where(posts_t.c.post_id == bindparam("b_post_id"))
                    .values({name: bindparam(f"b_{name}") for name in _POST_CHANGES}),
                    [
                        {"b_post_id": pid, **{f"b_{n}": known[pid][n] for n in _POST_CHANGES}}
                        for pid in sorted(changed)
                    ],
                )
            ids = _insert_versions(conn, versions_t, versions, capture_id)
            bulk_insert(conn, events_t, events)
        rows = {**known, **inserted}
        docs.extend(
            SearchDoc(
                version_id=vid,
                post_id=v["post_id"],
                capture_id=capture_id,
                account=account,
                series=rows[v["post_id"]]["series"],
                platform=rows[v["post_id"]]["platform"],
                published_at=rows[v["post_id"]]["published_at"],
                title=v["title"] or "",
                text=v["text"],
            )
            for vid, v in zip(ids, versions, strict=True)
        )

    @staticmethod
    def _version_values(
        pid: str,
        version: int,
        post: NormalizedPost,
        digest: str,
        captured_at: datetime,
        capture_id: str,
    ) -> dict[str, Any]:
        return {
            "post_id": pid,
            "version": version,
            "title": post.title,
            "text": post.text,
            "raw": post.raw,
            "content_hash": digest,
            "published_at": post.published_at,
            "edited_at": post.edited_at,
            "captured_at": captured_at,
            "capture_id": capture_id,
            "record_id": post.record_id,
            "media": json.dumps(list(post.media)),
        }

    @staticmethod
    def _event_values(
        pid: str, kind: str, at: datetime, capture_id: str, post: NormalizedPost, detail: str
    ) -> dict[str, Any]:
        return {
            "post_id": pid,
            "kind": kind,
            "at": at,
            "capture_id": capture_id,
            "evidence_record_id": post.record_id,
            "detail": detail,
        }

    def deletion_candidates(
        self, account: str, seen: Iterable[str], window_start: datetime
    ) -> list[PostRow]:
        """Posts of ``account`` (kind ``post``, not already deleted) published at or after
        ``window_start`` that a complete listing of that window did not show."""
        seen_ids = {post_key(account, native) for native in seen}
        with session_scope(self.engine) as s:
            in_window = s.exec(  # ids first: whole rows (with payloads) only for the unseen
                select(PostRow.post_id)
                .where(PostRow.account == account)
                .where(PostRow.kind == "post")
                .where(col(PostRow.deleted).is_(False))
                .where(col(PostRow.published_at) >= window_start)
            ).all()
            unseen = sorted(i for i in in_window if i not in seen_ids)
            rows: list[PostRow] = []
            for start in range(0, len(unseen), 500):
                q = select(PostRow).where(col(PostRow.post_id).in_(unseen[start : start + 500]))
                rows.extend(s.exec(q.order_by(col(PostRow.post_id))))
            return rows

    def mark_deleted(
        self,
        post_id: str,
        *,
        at: datetime,
        capture_id: str,
        evidence_record_id: str | None,
        detail: str,
    ) -> None:
        """Record a ``deleted_detected`` event (with its evidence record) and flag the post."""
        with session_scope(self.engine) as s:
            row = s.get(PostRow, post_id)
            if row is None or row.deleted:
                return
            row.deleted, row.deleted_at = True, at
            s.add(row)
            s.add(
                PostEventRow(
                    post_id=post_id,
                    kind="deleted_detected",
                    at=at,
                    capture_id=capture_id,
                    evidence_record_id=evidence_record_id,
                    detail=detail,
                )
            )

    def deleted_in_capture(self, capture_id: str) -> list[str]:
        """Ids of the posts a capture detected as deleted, in the order it did."""
        with session_scope(self.engine) as s:
            return list(
                s.exec(
                    select(PostEventRow.post_id)
                    .where(PostEventRow.capture_id == capture_id)
                    .where(PostEventRow.kind == "deleted_detected")
                    .order_by(col(PostEventRow.id))
                )
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
                kind=p.kind,
                in_reply_to=p.in_reply_to,
                media=tuple(json.loads(v.media or "[]")),
            )
            for p, v in rows
        ]

    def list_posts(
        self,
        account: str,
        *,
        edited: bool = False,
        deleted: bool = False,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[PostSummary]:
        """An account's posts (latest version each), newest first; ``offset`` pages on."""
        with session_scope(self.engine) as s:
            q = (
                _with_latest_version()
                .where(PostRow.account == account)
                .order_by(col(PostRow.published_at).desc(), col(PostRow.post_id))
                .offset(offset)
                .limit(limit)
            )
            if edited:
                q = q.where(col(PostRow.edited).is_(True))
            if deleted:
                q = q.where(col(PostRow.deleted).is_(True))
            return self._summaries(s.exec(q).all())

    def replies_to(self, account: str, native_id: str) -> list[PostSummary]:
        """The replies and comments of ``account`` that answer ``native_id``, oldest first."""
        with session_scope(self.engine) as s:
            q = (
                _with_latest_version()
                .where(PostRow.account == account)
                .where(PostRow.in_reply_to == native_id)
                .order_by(col(PostRow.published_at), col(PostRow.post_id))
            )
            return self._summaries(s.exec(q).all())

    def post_accounts(self) -> list[tuple[str, int]]:
        """``(account, number of posts)`` for every account with posts in the index."""
        with session_scope(self.engine) as s:
            rows = s.exec(
                select(PostRow.account, func.count())
                .group_by(col(PostRow.account))
                .order_by(col(PostRow.account))
            ).all()
            return [(str(a), int(n)) for a, n in rows]

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

    def versions_of(self, post_ids: Iterable[str]) -> dict[str, list[VersionInfo]]:
        """The versions of many posts (by ``post_id``) in set queries, oldest first: what
        :meth:`history` returns for each (posts without versions are absent)."""
        wanted = sorted(set(post_ids))
        v = PostVersionRow.__table__  # type: ignore[attr-defined]
        found: dict[str, list[VersionInfo]] = {}
        with self.engine.connect() as conn:  # columns, not ORM rows: no ``raw`` payloads
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    sa_select(
                        v.c.post_id,
                        v.c.version,
                        v.c.title,
                        v.c.text,
                        v.c.captured_at,
                        v.c.capture_id,
                        v.c.record_id,
                        v.c.published_at,
                        v.c.edited_at,
                        v.c.content_hash,
                    )
                    .where(v.c.post_id.in_(wanted[start : start + 500]))
                    .order_by(v.c.post_id, v.c.version)
                )
                for r in rows:
                    found.setdefault(r.post_id, []).append(_version_info(r))
        return found

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
                [_version_info(v) for v in versions],
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
        series: str | None = None,
        platform: str | None = None,
        edited: bool = False,
        deleted: bool = False,
    ) -> list[PostSummary]:
        """Posts any version of which matches ``query`` (see :mod:`archiver.index.search`),
        best first; ``since``/``until`` bound the publication time; ``edited``/``deleted``
        keep only posts with more than one version / detected as deleted."""
        parse_query(query)  # a query with nothing to search for is refused on every engine
        filters = SearchFilter(
            account=account,
            series=series,
            platform=platform,
            since=since,
            until=until,
            edited=edited,
            deleted=deleted,
        )
        # one SQL round trip a search: the rows of the hits carry the index's highest version
        # id, which tells whether the engine missed versions (then it catches up and the
        # search runs again)
        hits = self.fulltext.search(query, filters, limit, catch_up=False)
        ids, found, top = self._hit_rows(hits)
        if self.fulltext.catch_up_to(top):
            hits = self.fulltext.search(query, filters, limit, catch_up=False)
            ids, found, _ = self._hit_rows(hits)
        gone = [vid for vid in ids if vid not in found]
        if gone:  # disposed since the engine indexed them (elsewhere): the engine forgets them
            self.fulltext.delete_versions(gone)
        return [
            replace(found[vid], published_at=utc(found[vid].published_at))
            for vid in ids
            if vid in found
        ]

    def _hit_rows(self, hits: list[SearchHit]) -> tuple[list[int], dict[int, PostSummary], int]:
        """(version ids of ``hits``, their summaries by version id, the highest version id in
        the index), in one query for up to 500 hits."""
        ids = [h.version_id for h in hits]
        snippets = {h.version_id: h.snippet for h in hits}
        posts_t, versions_t = PostRow.__table__, PostVersionRow.__table__  # type: ignore[attr-defined]
        highest = sa_select(func.max(versions_t.c.id))
        top_q = highest.scalar_subquery()
        columns = [posts_t.c[name] for name in _SUMMARY_POST] + [
            versions_t.c.id,
            versions_t.c.title,
            versions_t.c.text,
            versions_t.c.captured_at,
            versions_t.c.media,
            top_q.label("top_id"),
        ]
        found: dict[int, PostSummary] = {}
        top: int | None = None
        with self.engine.connect() as conn:  # columns, not ORM rows: no ``raw`` payloads
            for start in range(0, len(ids), 500):
                for r in conn.execute(
                    sa_select(*columns)
                    .join(versions_t, versions_t.c.post_id == posts_t.c.post_id)
                    .where(versions_t.c.id.in_(ids[start : start + 500]))
                ):
                    m = r._mapping
                    top = int(m["top_id"] or 0)
                    found[int(m["id"])] = PostSummary(
                        **{name: m[name] for name in _SUMMARY_POST},
                        title=m["title"],
                        text=m["text"],
                        captured_at=utc(m["captured_at"]),
                        snippet=snippets.get(int(m["id"])),
                        media=tuple(json.loads(m["media"] or "[]")),
                    )
            if top is None:  # no rows to carry it
                top = int(conn.execute(highest).scalar() or 0)
        return ids, found, top

    # --- audit ------------------------------------------------------------------------------------

    def audit(
        self, *, actor: str, action: str, subject: str, payload: dict[str, Any], at: datetime
    ) -> str:
        """Append an event to the hash chain; returns its hash. ``hash`` = SHA-256 over the
        canonical JSON of (prev_hash, at, actor, action, subject, payload)."""
        with session_scope(self.engine) as s:
            # Serialize appenders (threads and processes) so the chain never forks.
            if self.dialect == "postgresql":
                s.connection().exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")
            else:  # take SQLite's write lock before reading the last event
                s.connection().exec_driver_sql("BEGIN IMMEDIATE")
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

    # --- retrieval and export helpers (streaming, in batches) ----------------------------------

    def capture_ids(self, *, account: str | None = None, series: str | None = None) -> list[str]:
        """Ids of the captures (not disposed, not running) of an account and/or series,
        oldest first."""
        with session_scope(self.engine) as s:
            q = (
                select(CaptureRow.capture_id)
                .where(col(CaptureRow.status).not_in(["disposed", "running"]))
                .order_by(col(CaptureRow.started_at), col(CaptureRow.capture_id))
            )
            if account:
                q = q.where(CaptureRow.account == account)
            if series:
                q = q.where(CaptureRow.series == series)
            return list(s.exec(q))

    def iter_records(self, capture_ids: Sequence[str], *, batch: int = 500) -> Iterator[RecordInfo]:
        """Every record of the given captures, a WARC file's records together in file order;
        read ``batch`` rows at a time, so memory does not grow with the selection."""
        ids = list(dict.fromkeys(capture_ids))
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            last: tuple[str, int] | None = None
            while True:
                with session_scope(self.engine) as s:
                    q = (
                        select(RecordRow)
                        .where(col(RecordRow.capture_id).in_(chunk))
                        .order_by(col(RecordRow.warc_name), col(RecordRow.offset))
                        .limit(batch)
                    )
                    if last is not None:
                        q = q.where(
                            or_(
                                col(RecordRow.warc_name) > last[0],
                                and_(
                                    col(RecordRow.warc_name) == last[0],
                                    col(RecordRow.offset) > last[1],
                                ),
                            )
                        )
                    rows = [_record(r) for r in s.exec(q)]
                yield from rows
                if len(rows) < batch:
                    break
                last = (rows[-1].warc_name, rows[-1].offset)

    def count_records(self, capture_ids: Sequence[str]) -> int:
        """How many records :meth:`iter_records` yields for ``capture_ids``."""
        ids = list(dict.fromkeys(capture_ids))
        total = 0
        with session_scope(self.engine) as s:
            for start in range(0, len(ids), 200):
                total += s.exec(
                    select(func.count())
                    .select_from(RecordRow)
                    .where(col(RecordRow.capture_id).in_(ids[start : start + 200]))
                ).one()
        return int(total)

    def records_of_file(self, warc_name: str, rec_types: Sequence[str]) -> list[RecordInfo]:
        """Records of one WARC file of the given types (``warcinfo``, ``metadata`` ...)."""
        with session_scope(self.engine) as s:
            q = (
                select(RecordRow)
                .where(RecordRow.warc_name == warc_name)
                .where(col(RecordRow.rec_type).in_(list(rec_types)))
                .order_by(col(RecordRow.offset))
            )
            return [_record(r) for r in s.exec(q)]

    def iter_posts(
        self,
        *,
        account: str | None = None,
        series: str | None = None,
        capture_ids: Sequence[str] | None = None,
        post_ids: Sequence[str] | None = None,
        batch: int = 500,
    ) -> Iterator[PostSummary]:
        """Posts (latest version each) in ``post_id`` order, ``batch`` at a time. Filters are
        ANDed: account, series, having a version in ``capture_ids``, being one of ``post_ids``."""
        wanted = sorted(set(post_ids)) if post_ids is not None else None
        last = ""
        while True:
            with session_scope(self.engine) as s:
                q = (
                    _with_latest_version()
                    .where(col(PostRow.post_id) > last)
                    .order_by(col(PostRow.post_id))
                    .limit(batch)
                )
                if account:
                    q = q.where(PostRow.account == account)
                if series:
                    q = q.where(PostRow.series == series)
                if capture_ids is not None:
                    q = q.where(
                        col(PostRow.post_id).in_(
                            select(PostVersionRow.post_id).where(
                                col(PostVersionRow.capture_id).in_(list(capture_ids))
                            )
                        )
                    )
                if wanted is not None:
                    window = [w for w in wanted if w > last][:batch]
                    if not window:
                        return
                    q = q.where(col(PostRow.post_id).in_(window))
                rows = s.exec(q).all()
            posts = self._summaries(rows)
            yield from posts
            if wanted is None and len(posts) < batch:
                return
            if wanted is not None:
                window_end = [w for w in wanted if w > last][:batch][-1]
                last = window_end
                continue
            last = posts[-1].post_id

    def post_evidence(self, post_ids: Sequence[str]) -> tuple[set[str], set[str], set[str]]:
        """For ``post_ids``: (record ids their versions were read from and their events'
        evidence, their URLs, the captures holding those versions or events)."""
        records: set[str] = set()
        urls: set[str] = set()
        captures: set[str] = set()
        ids = sorted(set(post_ids))
        with session_scope(self.engine) as s:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for rid, cid in s.exec(
                    select(PostVersionRow.record_id, PostVersionRow.capture_id).where(
                        col(PostVersionRow.post_id).in_(chunk)
                    )
                ):
                    captures.add(cid)
                    if rid:
                        records.add(rid)
                for rid, cid in s.exec(
                    select(PostEventRow.evidence_record_id, PostEventRow.capture_id).where(
                        col(PostEventRow.post_id).in_(chunk)
                    )
                ):
                    captures.add(cid)
                    if rid:
                        records.add(rid)
                urls.update(
                    u
                    for u in s.exec(select(PostRow.url).where(col(PostRow.post_id).in_(chunk)))
                    if u
                )
        return records, urls, captures

    def record_ids_for_uris(self, uris: Sequence[str]) -> set[str]:
        """Ids of every record whose target URI is one of ``uris``."""
        found: set[str] = set()
        items = sorted(set(uris))
        with session_scope(self.engine) as s:
            for start in range(0, len(items), 500):
                found.update(
                    s.exec(
                        select(RecordRow.record_id).where(
                            col(RecordRow.target_uri).in_(items[start : start + 500])
                        )
                    )
                )
        return found

    def audit_events_about(self, needles: Sequence[str], limit: int = 200) -> list[AuditEventInfo]:
        """Audit events whose subject is one of ``needles`` or whose payload names one, in
        chain order."""
        terms = [n for n in dict.fromkeys(needles) if n]
        if not terms:
            return []
        cond = or_(
            col(AuditEventRow.subject).in_(terms),
            *(col(AuditEventRow.payload).contains(t) for t in terms),
        )
        with session_scope(self.engine) as s:
            rows = s.exec(
                select(AuditEventRow).where(cond).order_by(col(AuditEventRow.seq)).limit(limit)
            ).all()
            return [
                AuditEventInfo(
                    seq=r.seq or 0,
                    at=utc(r.at),
                    actor=r.actor,
                    action=r.action,
                    subject=r.subject,
                    payload=json.loads(r.payload or "{}"),
                    hash=r.hash,
                )
                for r in rows
            ]

    def audit_chain_head(self) -> AuditEventInfo | None:
        """The newest audit event (the chain head in the table), or None for an empty chain."""
        with session_scope(self.engine) as s:
            r = s.exec(
                select(AuditEventRow).order_by(col(AuditEventRow.seq).desc()).limit(1)
            ).first()
            if r is None:
                return None
            return AuditEventInfo(
                seq=r.seq or 0,
                at=utc(r.at),
                actor=r.actor,
                action=r.action,
                subject=r.subject,
                payload=json.loads(r.payload or "{}"),
                hash=r.hash,
            )


@dataclass(frozen=True)
class AuditEventInfo:
    """One audit event as read back (payload decoded)."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    hash: str
    prev_hash: str = ""  # the previous event's hash (filled where the chain is exported)


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

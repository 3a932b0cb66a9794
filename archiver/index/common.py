"""The value objects the index hands out (never ORM rows) and their converters, shared by
the index's query modules."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, overload

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

from archiver.index.models import CaptureRow, RecordRow, WarcFileRow


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """Normalize a datetime read back from the database to aware UTC (SQLite drops tzinfo)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table`` in one executemany.

    On SQLite the rows go to the driver as tuples, each value through its column type's own
    bind processor (datetimes become the text SQLAlchemy itself would store, so they read back
    the same): SQLAlchemy's per-row parameter handling costs several times what SQLite spends
    inserting them. Other databases get SQLAlchemy's executemany (psycopg batches it).
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    take = itemgetter(*names)
    typed = [
        (i, bind)
        for i, name in enumerate(names)
        if (bind := table.c[name].type._cached_bind_processor(conn.dialect)) is not None
    ]
    plain: list[Any] = []
    for row in rows:
        values = list(take(row)) if len(names) > 1 else [take(row)]
        for i, bind in typed:
            if values[i] is not None:
                values[i] = bind(values[i])
        plain.append(tuple(values))
    columns = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', plain)


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
    kind: str = "post"  # post | reply | comment
    in_reply_to: str | None = None  # native id of the post or comment it answers
    media: tuple[str, ...] = ()  # media URLs of the version shown


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


def _record(row: RecordRow | Any) -> RecordInfo:
    """A record row (ORM or Core: the same attribute names) as a :class:`RecordInfo`."""
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

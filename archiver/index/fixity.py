"""Fixity and anchoring queries: which files, records and post versions the integrity checks
compare with the store, the audit chain and the archived records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from archiver.index.common import RecordInfo, WarcFileInfo, _record, _warc
from archiver.index.db import session_scope
from archiver.index.models import (
    CaptureRow,
    PostRow,
    PostVersionRow,
    RecordRow,
    TombstoneRow,
    WarcFileRow,
)


@dataclass(frozen=True)
class IndexedVersion:
    """One post version as the index holds it, with the post it belongs to."""

    post_id: str
    account: str
    native_id: str
    version: int
    title: str | None
    text: str
    content_hash: str


@dataclass(frozen=True)
class VersionSource:
    """The archived record post versions were read from: ``record`` as indexed (a revisit or
    not), ``original`` the record holding the payload, ``warc`` its stored file."""

    record: RecordInfo
    original: RecordInfo
    warc: WarcFileInfo
    versions: tuple[IndexedVersion, ...]


class FixityQueries:
    """Reads (and the verified-date write) the fixity and anchoring checks need."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def disposed_warc_names(self) -> set[str]:
        """Names of the WARC files disposed of (a tombstone each)."""
        with session_scope(self._engine) as s:
            return set(s.exec(select(TombstoneRow.warc_name)))

    def running_capture_ids(self) -> set[str]:
        """Ids of the captures still marked running."""
        with session_scope(self._engine) as s:
            return set(s.exec(select(CaptureRow.capture_id).where(CaptureRow.status == "running")))

    def known_keys(self) -> set[str]:
        """Store keys of every WARC file the index knows (any status)."""
        with session_scope(self._engine) as s:
            return set(s.exec(select(WarcFileRow.key)))

    def stored_records(
        self, rec_type: str, uri_prefix: str
    ) -> list[tuple[RecordInfo, WarcFileInfo]]:
        """Records of ``rec_type`` whose target URI starts with ``uri_prefix``, in stored files,
        oldest first, each with its file."""
        with session_scope(self._engine) as s:
            rows = s.exec(
                select(RecordRow, WarcFileRow)
                .where(RecordRow.warc_name == WarcFileRow.name)
                .where(WarcFileRow.status == "stored")
                .where(RecordRow.rec_type == rec_type)
                .where(col(RecordRow.target_uri).startswith(uri_prefix))
                .order_by(col(RecordRow.date))
            )
            return [(_record(r), _warc(w)) for r, w in rows]

    def version_sources(self) -> list[VersionSource]:
        """Every archived record post versions were read from whose payload is in a stored
        file, with those versions (in version-row order)."""
        with session_scope(self._engine) as s:
            rows = s.exec(
                select(PostVersionRow, PostRow)
                .where(PostVersionRow.post_id == PostRow.post_id)
                .where(col(PostVersionRow.record_id).is_not(None))
                .order_by(col(PostVersionRow.id))
            )
            by_record: dict[str, list[IndexedVersion]] = defaultdict(list)
            for v, p in rows:
                by_record[str(v.record_id)].append(
                    IndexedVersion(
                        p.post_id,
                        p.account,
                        p.native_id,
                        v.version,
                        v.title,
                        v.text,
                        v.content_hash,
                    )
                )
            sources: list[VersionSource] = []
            for record_id, versions in by_record.items():
                record = s.get(RecordRow, record_id)
                original = record
                if record is not None and record.rec_type == "revisit" and record.refers_to:
                    original = s.get(RecordRow, record.refers_to)  # the payload lives there
                warc = s.get(WarcFileRow, original.warc_name) if original else None
                if record and original and warc and warc.status == "stored":
                    sources.append(
                        VersionSource(
                            _record(record), _record(original), _warc(warc), tuple(versions)
                        )
                    )
            return sources

    def mark_verified(self, names: Iterable[str], at: datetime) -> None:
        """Set ``last_verified_at`` of the WARC files ``names`` (unknown names are skipped)."""
        with session_scope(self._engine) as s:
            for name in names:
                row = s.get(WarcFileRow, name)
                if row is not None:
                    row.last_verified_at = at
                    s.add(row)

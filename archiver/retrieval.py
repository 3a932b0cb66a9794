"""Getting archived bytes back: a record by id or URL (at a time), following revisits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from archiver.errors import IntegrityError, NotFoundError
from archiver.index.api import RecordInfo
from archiver.runtime import Runtime
from archiver.warc.reader import RecordContent, parse_member
from archiver.warc.writer import sha256_label


@dataclass(frozen=True)
class Extracted:
    """A record and, for a revisit, the original whose payload it stands for."""

    record: RecordInfo
    original: RecordInfo
    content: RecordContent


def find_record(rt: Runtime, target: str, at: datetime | None = None) -> RecordInfo:
    """A record by WARC-Record-ID (``urn:uuid:...``) or the newest capture of a URL at ``at``."""
    if target.startswith(("<urn:", "urn:")):
        return rt.index.get_record(target)
    records = rt.index.records_for_uri(target, until=at)
    if not records:
        when = f" at or before {at.isoformat()}" if at else ""
        raise NotFoundError(f"no capture of {target}{when}; try `archiver search`")
    return records[0]


def read_member(rt: Runtime, record: RecordInfo) -> bytes:
    """The record's gzip member, from the store (ranged read) or from the spool."""
    warc = rt.index.get_warc(record.warc_name)
    if warc is None:
        raise NotFoundError(f"WARC file {record.warc_name} is not in the index")
    if warc.status == "stored":
        return rt.store.get_range(warc.key, record.offset, record.length)
    path = rt.settings.spool_dir / warc.name
    with path.open("rb") as fh:
        fh.seek(record.offset)
        return fh.read(record.length)


def extract(rt: Runtime, target: str, at: datetime | None = None) -> Extracted:
    """Read a record back and check its block digest; a revisit resolves to its original.

    Raises IntegrityError (exit 3) when the stored bytes no longer match their digest.
    """
    record = find_record(rt, target, at)
    original = record
    if record.rec_type == "revisit" and record.refers_to:
        original = rt.index.get_record(record.refers_to)
    content = parse_member(read_member(rt, original))
    digest = sha256_label(hashlib.sha256(content.block).digest())
    if original.block_digest and digest != original.block_digest:
        raise IntegrityError(
            f"record {original.record_id} in {original.warc_name} fails its block digest "
            f"(stored {original.block_digest}, computed {digest}); run `archiver verify`"
        )
    return Extracted(record=record, original=original, content=content)

"""Reading WARC records back: index entries from a file, one record's payload from bytes."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archiver.errors import IntegrityError
from archiver.index.api import RecordExtra
from archiver.warc.writer import WrittenRecord

MAX_PARSE_PAYLOAD = 32 * 1024 * 1024


def _parse_date(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class ReadRecord:
    """One record read back from a file, as the index stores it, with its fields."""

    written: WrittenRecord
    extra: RecordExtra
    fields: dict[str, str]  # warcinfo fields (only for warcinfo records)
    payload: bytes | None  # decoded payload of small 200 responses, for re-deriving posts


def read_records(stream: BinaryIO, *, with_payloads: bool = False) -> Iterator[ReadRecord]:
    """Every record of a WARC stream (gzip per record, or uncompressed) with its offset and
    length. Raises IntegrityError when the file cannot be read record by record (a whole-file
    gzip, or bytes that are no WARC), with the remedy."""
    try:
        yield from _read_records(stream, with_payloads)
    except ArchiveLoadFailed as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise IntegrityError(
            f"not a WARC that can be read record by record ({first}); a file gzipped whole "
            "must be recompressed one gzip member per record (`warcio recompress IN OUT`)"
        ) from None


def _read_records(stream: BinaryIO, with_payloads: bool) -> Iterator[ReadRecord]:
    it = ArchiveIterator(stream, check_digests=False)
    for record in it:
        h = record.rec_headers
        fields: dict[str, str] = {}
        payload: bytes | None = None
        status: int | None = None
        mime: str | None = None
        if record.rec_type == "warcinfo":
            for line in record.content_stream().read().decode("utf-8", "replace").splitlines():
                key, sep, value = line.partition(":")
                if sep:
                    fields[key.strip()] = value.strip()
        if with_payloads and record.rec_type == "metadata":
            payload = record.content_stream().read()  # the capture ledger
        if record.http_headers is not None and record.rec_type in ("response", "revisit"):
            code = record.http_headers.get_statuscode()
            status = int(code) if code and code.isdigit() else None
            ctype = record.http_headers.get_header("Content-Type") or ""
            mime = ctype.split(";")[0].strip() or None
            if (
                with_payloads
                and record.rec_type == "response"
                and status == 200
                and (record.length or 0) <= MAX_PARSE_PAYLOAD
                and not h.get_header("WARC-Truncated")
            ):
                try:
                    payload = record.content_stream().read()
                except (OSError, zlib.error, ValueError):
                    payload = None
        it.read_to_end(record)
        written = WrittenRecord(
            record_id=h.get_header("WARC-Record-ID"),
            rec_type=record.rec_type,
            target_uri=h.get_header("WARC-Target-URI"),
            date=_parse_date(h.get_header("WARC-Date")),
            offset=it.get_record_offset(),
            length=it.get_record_length(),
            block_digest=h.get_header("WARC-Block-Digest") or "",
            payload_digest=h.get_header("WARC-Payload-Digest"),
            content_type=h.get_header("Content-Type"),
            refers_to=h.get_header("WARC-Refers-To"),
        )
        yield ReadRecord(written, RecordExtra(status_code=status, mime=mime), fields, payload)


def read_file_records(path: Path, *, with_payloads: bool = False) -> list[ReadRecord]:
    with path.open("rb") as fh:
        return list(read_records(fh, with_payloads=with_payloads))


@dataclass
class RecordContent:
    """One record from its gzip member: WARC headers, HTTP head, block and decoded payload."""

    rec_type: str
    warc_headers: list[tuple[str, str]]
    http_head: bytes
    block: bytes
    payload: bytes  # transfer- and content-decoded, as `warcio extract --payload` gives


def parse_member(member: bytes) -> RecordContent:
    """Parse one gzip member (a record read by offset and length from the store)."""
    try:
        gzip.decompress(member)
    except (OSError, EOFError, zlib.error) as exc:
        raise IntegrityError(f"record bytes are not a whole gzip member: {exc}") from None
    it = ArchiveIterator(io.BytesIO(member), check_digests=False)
    record = next(iter(it))
    raw = zlib.decompress(member, zlib.MAX_WBITS + 16)
    head_end = raw.find(b"\r\n\r\n") + 4
    length = int(record.rec_headers.get_header("Content-Length") or 0)
    block = raw[head_end : head_end + length]
    http_head = b""
    if record.http_headers is not None:
        split = block.find(b"\r\n\r\n")
        http_head = block[: split + 4] if split >= 0 else block
    payload = record.content_stream().read()
    return RecordContent(
        rec_type=record.rec_type,
        warc_headers=list(record.rec_headers.headers),
        http_head=http_head,
        block=block,
        payload=payload,
    )

"""WARC 1.1 record writing: exact blocks, SHA-256 digests, one gzip member per record.

Streams in, streams out: :class:`WarcWriter` writes to any binary stream and reports each
record's offset and length in that stream, which is what the index stores. It serializes records
itself rather than through warcio's ``WARCWriter`` because (a) warcio re-serializes HTTP headers
(whitespace and folding change), and a response record here must hold the bytes as received, and
(b) warcio compresses at level 9; level 6 is several times faster for ~1% more bytes.
Files it writes are read back and checked with warcio in the tests (``warcio check``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, BinaryIO

WARC_VERSION = "WARC/1.1"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
HTTP_RESPONSE = "application/http; msgtype=response"
HTTP_REQUEST = "application/http; msgtype=request"
CRLF = b"\r\n"
CHUNK = 256 * 1024
SMALL_BLOCK = 64 * 1024  # a block in memory up to this size is compressed with its header at once


def sha256_label(digest: bytes) -> str:
    """``sha256:BASE32`` as WARC digests are written (the form warcio verifies)."""
    return "sha256:" + base64.b32encode(digest).decode("ascii")


def warc_date(when: datetime) -> str:
    """WARC 1.1 date with microseconds, UTC: ``2026-11-24T22:05:24.123456Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_record_id() -> str:
    """A fresh ``<urn:uuid:...>`` record id: a random (version 4) UUID, spelled as
    :func:`uuid.uuid4` spells it without building the object (one for every record)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"<urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}>"


class Block:
    """The content block of a record: bytes or a seekable stream, with its payload offset.

    ``payload_offset`` is where the payload starts inside the block (after HTTP headers), or None
    when the record has no payload digest (warcinfo, metadata, request).
    """

    def __init__(self, source: bytes | IO[bytes], length: int, payload_offset: int | None) -> None:
        self.source = source
        self.length = length
        self.payload_offset = payload_offset

    def chunks(self) -> Iterable[bytes]:
        if isinstance(self.source, bytes):
            yield self.source
            return
        self.source.seek(0)
        remaining = self.length
        while remaining > 0:
            data = self.source.read(min(CHUNK, remaining))
            if not data:
                raise OSError("block stream ended before its announced length")
            remaining -= len(data)
            yield data

    def digests(self) -> tuple[str, str | None]:
        """(block digest, payload digest) as WARC labels."""
        if self.payload_offset == 0:  # the payload is the whole block: one pass, one label
            whole = hashlib.sha256()
            for data in self.chunks():
                whole.update(data)
            label = sha256_label(whole.digest())
            return label, label
        block = hashlib.sha256()
        payload = hashlib.sha256() if self.payload_offset is not None else None
        seen = 0
        for data in self.chunks():
            block.update(data)
            if payload is not None:
                assert self.payload_offset is not None
                start = max(0, self.payload_offset - seen)
                if start < len(data):
                    payload.update(data[start:])
            seen += len(data)
        return sha256_label(block.digest()), (
            sha256_label(payload.digest()) if payload is not None else None
        )


@dataclass(frozen=True)
class WrittenRecord:
    """Where a record landed and what it is: the index row of one record."""

    record_id: str
    rec_type: str
    target_uri: str | None
    date: datetime
    offset: int
    length: int  # compressed length of the gzip member
    block_digest: str
    payload_digest: str | None
    content_type: str | None
    refers_to: str | None = None


class WarcWriter:
    """Appends gzip-per-record WARC 1.1 records to ``stream`` (positioned at ``start_offset``)."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        start_offset: int = 0,
        level: int = 6,
        on_record: Callable[[WrittenRecord], None] | None = None,
    ) -> None:
        self.stream = stream
        self.offset = start_offset
        self.level = level
        self.on_record = on_record

    def write(
        self,
        rec_type: str,
        block: Block,
        *,
        date: datetime,
        target_uri: str | None = None,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        record_id: str | None = None,
        payload_digest: str | None = None,
        digests: tuple[str, str | None] | None = None,
        level: int | None = None,
    ) -> WrittenRecord:
        """Write one record; digests are computed from the block unless ``digests`` (block,
        payload) are passed; a revisit passes the original's payload digest. ``level`` overrides
        the writer's gzip level for this record (any level is a valid gzip member). Returns its
        offset and length in the stream."""
        record_id = record_id or new_record_id()
        block_digest, computed_payload = digests or block.digests()
        payload_digest = payload_digest or computed_payload
        head: list[tuple[str, str]] = [
            ("WARC-Type", rec_type),
            ("WARC-Record-ID", record_id),
            ("WARC-Date", warc_date(date)),
        ]
        if target_uri is not None:
            head.append(("WARC-Target-URI", target_uri))
        head.extend(headers)
        head.append(("WARC-Block-Digest", block_digest))
        if payload_digest is not None:
            head.append(("WARC-Payload-Digest", payload_digest))
        if content_type is not None:
            head.append(("Content-Type", content_type))
        head.append(("Content-Length", str(block.length)))
        header_bytes = (
            WARC_VERSION.encode()
            + CRLF
            + b"".join(f"{k}: {v}".encode() + CRLF for k, v in head)
            + CRLF
        )
        wbits, mem_level = _window_for(len(header_bytes) + block.length + 4)
        compressor = zlib.compressobj(
            self.level if level is None else level, zlib.DEFLATED, wbits + 16, mem_level
        )
        out = self.stream
        written = 0
        if isinstance(block.source, bytes) and block.length <= SMALL_BLOCK:
            pieces: Iterable[bytes] = (header_bytes + block.source + CRLF + CRLF,)  # one call
        else:
            pieces = (header_bytes, *block.chunks(), CRLF + CRLF)
        for piece in pieces:
            data = compressor.compress(piece)
            if data:
                out.write(data)
                written += len(data)
        tail = compressor.flush()
        out.write(tail)
        written += len(tail)
        refers = next((v for k, v in head if k == "WARC-Refers-To"), None)
        record = WrittenRecord(
            record_id=record_id,
            rec_type=rec_type,
            target_uri=target_uri,
            date=date,
            offset=self.offset,
            length=written,
            block_digest=block_digest,
            payload_digest=payload_digest,
            content_type=content_type,
            refers_to=refers,
        )
        self.offset += written
        if self.on_record is not None:
            self.on_record(record)
        return record


def _window_for(size: int) -> tuple[int, int]:
    """zlib window bits and memory level for a gzip member of ``size`` input bytes: a window
    that still holds the whole record (so the same matches are found as with 32 KiB), and a
    hash table to match. Setting up zlib's full-size state costs more than compressing a
    1 KiB record; any window is a valid gzip member, read with the usual 32 KiB window."""
    wbits = min(zlib.MAX_WBITS, max(9, (size + 262).bit_length()))  # 262: zlib's lookahead
    return wbits, (8 if wbits == zlib.MAX_WBITS else max(1, wbits - 7))


def http_head_length(source: bytes | IO[bytes], limit: int = 1024 * 1024) -> int | None:
    """Length of the HTTP status line and headers (through the blank line), or None if absent."""
    if isinstance(source, bytes):
        head = source[:limit]
    else:
        source.seek(0)
        head = source.read(limit)
    end = head.find(b"\r\n\r\n")
    if end >= 0:
        return end + 4
    end = head.find(b"\n\n")  # tolerate bare-LF servers
    return end + 2 if end >= 0 else None


def format_fields(fields: Iterable[tuple[str, str]]) -> bytes:
    """``application/warc-fields`` body: ``name: value`` lines (newlines in values folded)."""
    return b"".join(f"{k}: {' '.join(str(v).splitlines())}".encode() + CRLF for k, v in fields)

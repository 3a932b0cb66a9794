"""WARC 1.1 → WARC 1.0, for receiving archives whose format list names only 1.0.

Only the record headers change; every content block (HTTP headers and payload) is copied byte for
byte, so ``Content-Length``, ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` stay true:

* the version line becomes ``WARC/1.0``;
* ``WARC-Date`` (and the 1.1-only ``WARC-Refers-To-Date``) lose their fraction of a second: 1.0
  dates are ``YYYY-MM-DDThh:mm:ssZ``;
* a revisit's ``WARC-Profile`` names the 1.0 profile URI.

Digests stay SHA-256 (``sha256:BASE32``): WARC 1.0 allows any labelled algorithm; SHA-1 is only the
convention of older crawlers, and recomputing SHA-1 would give the receiver digests our fixity
record never checked. ``WARC-Refers-To-Target-URI``/``-Date`` are kept as extension fields (1.0
readers ignore fields they do not know).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

from archiver.errors import IntegrityError

_FRACTION = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z$")
_PROFILES = {
    "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest": (
        "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"
    ),
    "http://netpreserve.org/warc/1.1/revisit/server-not-modified": (
        "http://netpreserve.org/warc/1.0/revisit/server-not-modified"
    ),
}


@dataclass(frozen=True)
class Downgraded:
    """What :func:`write_warc10` wrote."""

    records: int
    bytes: int


def _second(value: str) -> str:
    match = _FRACTION.match(value.strip())
    return f"{match.group(1)}Z" if match else value


def _gzip_member(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    return packer.compress(data) + packer.flush()


def write_warc10(source: BinaryIO, out: BinaryIO) -> Downgraded:
    """Read a WARC (gzip per record, or plain) from ``source`` and write it to ``out`` as WARC/1.0,
    one gzip member per record. Guarantees every record's content block is byte-identical to the
    source's; raises IntegrityError when a block is shorter than its ``Content-Length``."""
    records = written = 0
    for record in ArchiveIterator(source, no_record_parse=True, check_digests=False):
        length = int(record.rec_headers.get_header("Content-Length") or 0)
        block = record.raw_stream.read()
        if len(block) != length:
            raise IntegrityError(
                f"record {record.rec_headers.get_header('WARC-Record-ID')}: the block has "
                f"{len(block)} bytes, its Content-Length says {length}; the source WARC is "
                "damaged: run `archiver verify` on it"
            )
        lines = ["WARC/1.0"]
        for name, value in record.rec_headers.headers:
            key = name.lower()
            if key in ("warc-date", "warc-refers-to-date"):
                value = _second(value)
            elif key == "warc-profile":
                value = _PROFILES.get(value, value)
            lines.append(f"{name}: {value}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        member = _gzip_member(head + block + b"\r\n\r\n")
        out.write(member)
        records += 1
        written += len(member)
    return Downgraded(records=records, bytes=written)

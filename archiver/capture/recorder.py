"""The recorder: turns exchanges into WARC records (request, response or revisit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from archiver.capture.http import Exchange
from archiver.index.api import RecordExtra, RecordInfo
from archiver.warc.spool import SpoolWriter
from archiver.warc.writer import (
    HTTP_REQUEST,
    HTTP_RESPONSE,
    REVISIT_PROFILE,
    Block,
    WrittenRecord,
    http_head_length,
    new_record_id,
    warc_date,
)


@dataclass(frozen=True)
class Original:
    """The record a revisit points at."""

    record_id: str
    target_uri: str
    date: str  # WARC date
    payload_digest: str


class Recorder:
    """Writes exchanges of one capture into its spool files.

    Dedup: when a response's payload digest equals that of the last stored response for the same
    URL in the same series (or earlier in this capture), a ``revisit`` record (profile
    identical-payload-digest) is written in its place, holding only the HTTP headers.
    """

    def __init__(self, spool: SpoolWriter, lookup: Callable[[str], RecordInfo | None]) -> None:
        self.spool = spool
        self.lookup = lookup
        self.extras: dict[str, RecordExtra] = {}
        self.revisits = 0
        self.responses = 0
        self.bytes_archived = 0
        self._seen: dict[str, Original] = {}

    def _original(self, uri: str) -> Original | None:
        if uri in self._seen:
            return self._seen[uri]
        info = self.lookup(uri)
        if info is None or info.payload_digest is None or info.target_uri is None:
            return None
        return Original(info.record_id, info.target_uri, warc_date(info.date), info.payload_digest)

    def record(self, ex: Exchange) -> WrittenRecord:
        """Write the request and the response (or revisit) of ``ex``; returns the latter."""
        head_len = http_head_length(ex.raw) if ex.raw_length else None
        block = Block(ex.raw, ex.raw_length, head_len if head_len is not None else ex.raw_length)
        digests = block.digests()
        mime = (ex.headers.get("content-type") or "").split(";")[0].strip() or None
        extra = RecordExtra(status_code=ex.status, mime=mime)
        common: list[tuple[str, str]] = []
        if ex.peer:
            common.append(("WARC-IP-Address", ex.peer))
        response_id = new_record_id()
        original = self._original(ex.url) if ex.truncated is None and ex.status == 200 else None
        if original is not None and original.payload_digest == digests[1]:
            head = ex.raw_length if head_len is None else head_len
            ex.raw.seek(0)
            head_bytes = ex.raw.read(head)
            written = self.spool.write(
                "revisit",
                Block(head_bytes, len(head_bytes), None),
                date=ex.started_at,
                target_uri=ex.url,
                content_type=HTTP_RESPONSE,
                record_id=response_id,
                payload_digest=original.payload_digest,
                headers=[
                    *common,
                    ("WARC-Profile", REVISIT_PROFILE),
                    ("WARC-Refers-To", original.record_id),
                    ("WARC-Refers-To-Target-URI", original.target_uri),
                    ("WARC-Refers-To-Date", original.date),
                ],
            )
            self.revisits += 1
        else:
            headers = list(common)
            if ex.truncated:
                headers.append(("WARC-Truncated", ex.truncated))
            written = self.spool.write(
                "response",
                block,
                date=ex.started_at,
                target_uri=ex.url,
                content_type=HTTP_RESPONSE,
                record_id=response_id,
                headers=headers,
                digests=digests,
            )
            self.responses += 1
            if ex.truncated is None and ex.status == 200 and digests[1]:
                self._seen[ex.url] = Original(
                    response_id, ex.url, warc_date(ex.started_at), digests[1]
                )
        self.extras[written.record_id] = extra
        request = self.spool.write(
            "request",
            Block(ex.request_bytes, len(ex.request_bytes), None),
            date=ex.started_at,
            target_uri=ex.url,
            content_type=HTTP_REQUEST,
            headers=[("WARC-Concurrent-To", response_id)],
        )
        self.bytes_archived += written.length + request.length
        return written

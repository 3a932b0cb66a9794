"""Benchmark: writing 10,000 WARC response records of ~20 KiB.

Compares, in one run on the same records:
  * archiver's writer (SHA-256 block + payload digests, gzip level 6 per record),
  * warcio's WARCWriter alone (its defaults: SHA-1 digests, gzip level 9), and warcio with
    SHA-256 digests (same digest work as ours, its gzip level 9),
  * the zlib per-record limit: only gzip level 6 per record, no digests, no headers.
Prints MiB/s (uncompressed input bytes per second) and the ratios. Goal: archiver >= warcio and
>= 80% of the zlib limit. Run: `make bench` or `python bench/warc_write.py [--records N]`.
"""

from __future__ import annotations

import argparse
import io
import random
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

from warcio.recordbuilder import RecordBuilder
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archiver.warc.writer import HTTP_RESPONSE, Block, WarcWriter, http_head_length

WORDS = (
    "agency",
    "public",
    "record",
    "earthquake",
    "magnitude",
    "press",
    "release",
    "statement",
    "mission",
    "launch",
    "county",
    "update",
    "notice",
    "hearing",
    "budget",
    "report",
    "data",
    "science",
    "water",
    "weather",
    "alert",
)


def make_records(n: int, size: int = 20 * 1024, seed: int = 6) -> list[bytes]:
    """HTTP responses whose bodies look like feed/HTML text (compressible like real posts)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        words: list[str] = []
        length = 0
        while length < size:
            w = rng.choice(WORDS) if rng.random() < 0.8 else f"{rng.randrange(10**6)}"
            words.append(w)
            length += len(w) + 1
        body = (" ".join(words))[:size].encode()
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nX-Item: {i}\r\n\r\n"
        ).encode()
        records.append(head + body)
    return records


class _Sha256Builder(RecordBuilder):  # type: ignore[misc]
    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


class _Sha256Writer(WARCWriter, _Sha256Builder):  # type: ignore[misc]
    pass


def run_archiver(records: list[bytes]) -> int:
    out = io.BytesIO()
    writer = WarcWriter(out, level=6)
    when = datetime(2026, 11, 24, tzinfo=UTC)
    for i, raw in enumerate(records):
        writer.write(
            "response",
            Block(raw, len(raw), http_head_length(raw)),
            date=when,
            target_uri=f"https://agency.example/item/{i}",
            content_type=HTTP_RESPONSE,
        )
    return out.tell()


def _run_warcio(records: list[bytes], cls: type[WARCWriter]) -> int:
    out = io.BytesIO()
    writer = cls(out, gzip=True, warc_version="1.1")
    for i, raw in enumerate(records):
        rec = writer.create_warc_record(
            f"https://agency.example/item/{i}", "response", payload=io.BytesIO(raw), length=len(raw)
        )
        writer.write_record(rec)
    return out.tell()


def run_warcio(records: list[bytes]) -> int:
    return _run_warcio(records, WARCWriter)


def run_warcio_sha256(records: list[bytes]) -> int:
    return _run_warcio(records, _Sha256Writer)


def run_fastwarc(records: list[bytes]) -> int:
    """FastWARC builds each record (its SHA-1 block digest); gzip level 6 per record as ours.
    (FastWARC's own GzipWriter compresses the stream as one member, not one per record.)"""
    from fastwarc.warc import WarcRecord, WarcRecordType

    total = 0
    for i, raw in enumerate(records):
        rec = WarcRecord()
        rec.init_headers(WarcRecordType.response)
        rec.headers["WARC-Target-URI"] = f"https://agency.example/item/{i}"
        rec.headers["Content-Type"] = "application/http; msgtype=response"
        rec.set_bytes_content(raw)
        buf = io.BytesIO()
        rec.write(buf, checksum_data=True)
        comp = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        total += len(comp.compress(buf.getvalue())) + len(comp.flush())
    return total


def run_zlib_limit(records: list[bytes]) -> int:
    total = 0
    for raw in records:
        comp = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        total += len(comp.compress(raw)) + len(comp.flush())
    return total


def measure(fn: Callable[[list[bytes]], int], records: list[bytes]) -> tuple[float, int]:
    start = time.perf_counter()
    size = fn(records)
    return time.perf_counter() - start, size


def run(n: int) -> tuple[float, list[tuple[str, float, int]]]:
    """(MiB of input, [(writer, MiB/s, output bytes)]) for ``n`` records, in one run; the rows
    are zlib limit, archiver, warcio, warcio sha256, then fastwarc when it is installed."""
    records = make_records(n)
    mib = sum(len(r) for r in records) / (1024 * 1024)
    writers: list[tuple[str, Callable[[list[bytes]], int]]] = [
        ("zlib level 6 per record (limit)", run_zlib_limit),
        ("archiver WarcWriter (sha256, level 6)", run_archiver),
        ("warcio WARCWriter (sha1, level 9)", run_warcio),
        ("warcio WARCWriter (sha256, level 9)", run_warcio_sha256),
    ]
    try:
        import fastwarc  # noqa: F401

        writers.append(("fastwarc WarcRecord (sha1) + gzip 6", run_fastwarc))
    except ImportError:
        pass
    rows = []
    for name, fn in writers:
        seconds, size = measure(fn, records)
        rows.append((name, mib / seconds, size))
    return mib, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    mib, rows = run(args.records)
    limit, ours = rows[0][1], rows[1][1]
    print(f"{args.records} records, {mib:.1f} MiB of HTTP responses (~20 KiB each), one run")
    print(f"{'writer':40} {'MiB/s':>8} {'out MiB':>8} {'vs archiver':>12}")
    for name, speed, size in rows:
        print(f"{name:40} {speed:8.1f} {size / 1048576:8.2f} {speed / ours:11.2f}x")
    print(
        f"archiver / zlib limit: {ours / limit:.0%}   "
        f"archiver / warcio default: {ours / rows[2][1]:.2f}x   "
        f"archiver / warcio sha256: {ours / rows[3][1]:.2f}x"
    )


if __name__ == "__main__":
    main()

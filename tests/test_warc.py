"""WARC writing: digests warcio verifies, exact blocks, rotation, crash repair."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archiver.clock import FrozenClock
from archiver.warc.reader import parse_member, read_file_records
from archiver.warc.spool import (
    SpoolWriter,
    WarcContext,
    object_key,
    repair_open_file,
    warc_name,
    whole_records_length,
)
from archiver.warc.writer import HTTP_RESPONSE, Block, WarcWriter, http_head_length, sha256_label

WHEN = datetime(2026, 11, 24, 22, 5, 24, 123456, tzinfo=UTC)
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type:text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
)


def ctx() -> WarcContext:
    return WarcContext(
        account="usgs-quakes",
        series="grs-6.4-020",
        platform="feed",
        capture_id="c1",
        policy_hash="ab" * 32,
        operator="records-office",
    )


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
        capture_output=True,
        text=True,
    )


def test_block_is_written_byte_for_byte_and_digests_verify(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path, ctx(), FrozenClock(WHEN))
    spool.write(
        "response",
        Block(CHUNKED, len(CHUNKED), http_head_length(CHUNKED)),
        date=WHEN,
        target_uri="https://example.gov/a",
        content_type=HTTP_RESPONSE,
    )
    [closed] = spool.close()
    check = warcio_check(closed.path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 2
    record = closed.records[1]
    with closed.path.open("rb") as fh:
        fh.seek(record.offset)
        content = parse_member(fh.read(record.length))
    assert content.block == CHUNKED, "header spacing and chunk framing kept as received"
    assert content.payload == b"hello world"
    assert record.block_digest == sha256_label(hashlib.sha256(CHUNKED).digest())


def test_warcinfo_comes_first_and_says_who_made_it(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path, ctx(), FrozenClock(WHEN))
    spool.write(
        "resource", Block(b"x", 1, 0), date=WHEN, target_uri="urn:x", content_type="text/plain"
    )
    [closed] = spool.close()
    first = read_file_records(closed.path)[0]
    assert first.written.rec_type == "warcinfo"
    assert first.fields["account"] == "usgs-quakes"
    assert first.fields["series"] == "grs-6.4-020"
    assert first.fields["policy-hash"] == "sha256:" + "ab" * 32
    assert first.fields["operator"] == "records-office"
    assert first.fields["software"].startswith("archiver/")
    with closed.path.open("rb") as fh:
        versions = {r.rec_headers.protocol for r in ArchiveIterator(fh)}
    assert versions == {"WARC/1.1"}


def test_names_and_keys_follow_the_design(tmp_path: Path) -> None:
    name = warc_name("usgs-quakes", WHEN, 3, host="node1")
    assert name == "usgs-quakes-20261124220524123-00003-node1.warc.gz"
    assert object_key("grs-6.4-020", "usgs-quakes", WHEN, name) == (
        f"grs-6.4-020/usgs-quakes/2026/11/{name}"
    )


def test_rotation_starts_a_new_file_with_its_own_warcinfo(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path, ctx(), FrozenClock(WHEN), max_bytes=2000)
    body = bytes(range(256)) * 20  # incompressible enough to pass 2000 bytes quickly
    for i in range(6):
        spool.write(
            "resource",
            Block(body, len(body), 0),
            date=WHEN,
            target_uri=f"urn:r{i}",
            content_type="application/octet-stream",
        )
    closed = spool.close()
    assert len(closed) > 1
    for c in closed:
        records = read_file_records(c.path)
        assert records[0].written.rec_type == "warcinfo"
        assert warcio_check(c.path).returncode == 0
    assert len({c.name for c in closed}) == len(closed)


def test_repair_keeps_every_whole_record_and_cuts_the_partial_one(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path, ctx(), FrozenClock(WHEN))
    for i in range(5):
        spool.write(
            "resource",
            Block(b"r%d" % i, 2, 0),
            date=WHEN,
            target_uri=f"urn:{i}",
            content_type="text/plain",
        )
    path = next(tmp_path.glob("*.open"))
    whole = path.stat().st_size
    # A crash in the middle of the next record: half a gzip member at the end.
    buf = io.BytesIO()
    WarcWriter(buf).write("resource", Block(b"z" * 5000, 5000, 0), date=WHEN, target_uri="urn:z")
    with path.open("ab") as fh:
        fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
    result = repair_open_file(path)
    assert result.kept_bytes == whole and result.cut_bytes > 0
    assert whole_records_length(path) == path.stat().st_size
    ids = [r.written.target_uri for r in read_file_records(path)]
    assert ids == [None, "urn:0", "urn:1", "urn:2", "urn:3", "urn:4"]


def test_cdxj_indexer_indexes_our_files(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path, ctx(), FrozenClock(WHEN))
    spool.write(
        "response",
        Block(CHUNKED, len(CHUNKED), http_head_length(CHUNKED)),
        date=WHEN,
        target_uri="https://example.gov/a",
        content_type=HTTP_RESPONSE,
    )
    [closed] = spool.close()
    proc = subprocess.run(
        [sys.executable, "-m", "cdxj_indexer.main", str(closed.path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gov,example)/a 20261124220524")
    assert f'"offset": "{closed.records[1].offset}"' in lines[0]


def test_records_of_every_size_and_level_are_whole_gzip_members_warcio_verifies(
    tmp_path: Path,
) -> None:
    # small records get a zlib window sized to them: still gzip members any reader inflates
    spool = SpoolWriter(tmp_path, ctx(), FrozenClock(WHEN))
    blocks = [b"", b"p", b"<p>post page</p>" * 70, bytes(range(256)) * 17, b"ab" * 2100]
    blocks.append(b"".join(b"%06d" % i for i in range(40_000)))  # 240 kB: the full window
    for i, data in enumerate(blocks):
        spool.write(
            "resource",
            Block(data, len(data), 0),
            date=WHEN,
            target_uri=f"urn:{i}",
            content_type="text/plain",
            level=1 if i % 2 else 6,
        )
    [closed] = spool.close()
    check = warcio_check(closed.path)
    assert check.returncode == 0, check.stdout + check.stderr
    with closed.path.open("rb") as fh:
        raw = fh.read()
    for i, (record, data) in enumerate(zip(closed.records[1:], blocks, strict=True)):
        member = raw[record.offset : record.offset + record.length]
        assert parse_member(member).block == data
        plain = gzip.decompress(member)  # one whole member per record
        assert plain.endswith(data + b"\r\n\r\n")
        full = zlib.compressobj(1 if i % 2 else 6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        full_window = len(full.compress(plain) + full.flush())
        assert record.length <= full_window * 1.02 + 8, "compressed as well as a 32 KiB window"


def test_records_written_unflushed_reach_the_file_at_flush(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path, ctx(), FrozenClock(WHEN))
    spool.write("resource", Block(b"first", 5, 0), date=WHEN, target_uri="urn:a")
    path = next(tmp_path.glob("*.open"))
    flushed = path.stat().st_size
    for i in range(3):
        data = b"page %d" % i
        spool.write("resource", Block(data, len(data), 0), date=WHEN, flush=False)
    assert path.stat().st_size == flushed, "held in the buffer until the batch ends"
    spool.flush()
    assert path.stat().st_size > flushed
    assert whole_records_length(path) == path.stat().st_size
    spool.close()


def test_record_ids_are_random_version_4_uuids() -> None:
    import uuid

    from archiver.warc.writer import new_record_id

    ids = [new_record_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for rid in ids[:200]:
        assert rid.startswith("<urn:uuid:") and rid.endswith(">")
        value = uuid.UUID(rid[len("<urn:uuid:") : -1])
        assert value.version == 4 and value.variant == uuid.RFC_4122
        assert str(value) == rid[len("<urn:uuid:") : -1]

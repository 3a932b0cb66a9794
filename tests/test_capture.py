"""The core pipeline end to end, each test on SQLite + files and on PostgreSQL + SeaweedFS S3."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import urllib.request
import zlib
from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.capture.recovery import recover_spool
from archiver.errors import IntegrityError
from archiver.index.db import session_scope
from archiver.index.models import RecordRow, WarcFileRow
from archiver.retrieval import extract
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from archiver.warc.reader import read_file_records
from tests.conftest import MakeRuntime, write_policy

NASA = "demo-nasa-news"
NASA_FEED = "/www.nasa.gov/news-release/feed/"


def stored_copy(rt: Runtime, name: str, tmp_path: Path) -> Path:
    """Download a stored WARC file to check it with the tools archivists use."""
    warc = rt.index.get_warc(name)
    assert warc is not None and warc.status == "stored"
    target = tmp_path / name
    with rt.store.open_read(warc.key) as src:
        target.write_bytes(src.read())
    return target


def one_account_policy(folder: Path, url: str, platform: str = "feed", options: str = "") -> Path:
    return write_policy(
        folder,
        f"""\
series:
  - id: test-series
    title: Test series
    authority: DAA-TEST-0001
    retention: P90D
accounts:
  - id: test-account
    agency: Test Agency
    platform: {platform}
    url: {url}
    series: test-series
    schedule: PT1H
    options: {{media: false{options}}}
""",
    )


def test_feed_capture_stores_a_valid_warc_with_searchable_posts(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    rt = make_runtime()
    result = capture_account(rt, NASA)
    assert result.status == "ok", result.problems
    assert result.posts["new"] == 5
    assert result.stored == len(result.warc_files) == 1
    path = stored_copy(rt, result.warc_files[0], tmp_path)
    check = subprocess.run(
        [sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    records = read_file_records(path)
    types = [r.written.rec_type for r in records]
    assert types[0] == "warcinfo" and types[-1] == "metadata"
    assert types.count("request") == types.count("response") == 6  # feed + 5 images
    hits = rt.index.search("nasa", account=NASA)
    assert hits and all(h.account == NASA for h in hits)
    assert {h.post_id for h in rt.index.list_posts(NASA)} >= {h.post_id for h in hits}
    assert not list(rt.settings.spool_dir.glob("*.warc.gz*")), "spool copy deleted once stored"


def test_stored_warc_is_locked_until_its_retention_date(make_runtime: MakeRuntime) -> None:
    rt = make_runtime()
    result = capture_account(rt, "demo-usgs-quakes")  # series P90D from the capture date
    warc = rt.index.get_warc(result.warc_files[0])
    assert warc is not None and warc.retain_until is not None
    assert (warc.retain_until - warc.created_at).days == 90
    info = rt.store.head(warc.key)
    assert info.retain_until is not None
    assert abs((info.retain_until - warc.retain_until).total_seconds()) < 1
    assert info.sha256 == warc.sha256 and info.size == warc.size


def test_recapture_writes_revisits_and_keeps_every_version(
    make_runtime: MakeRuntime, sim: Simulator
) -> None:
    rt = make_runtime()
    first = capture_account(rt, NASA)
    sim.advance()
    second = capture_account(rt, NASA)
    assert second.posts == {"new": 1, "edited": 1, "deleted": 0}
    assert second.revisits >= 5, "unchanged images are revisits of the first capture"
    revisits = [
        r for r in rt.index.records_of_capture(second.capture_id) if r.rec_type == "revisit"
    ]
    originals = {r.record_id for r in rt.index.records_of_capture(first.capture_id)}
    assert revisits and all(r.refers_to in originals for r in revisits)
    [edited] = rt.index.list_posts(NASA, edited=True)
    post, versions, events = rt.index.history(edited.post_id)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].text != versions[1].text
    assert versions[0].capture_id == first.capture_id
    assert versions[1].capture_id == second.capture_id
    assert [e.kind for e in events] == ["edited"]
    # The earlier wording stays findable.
    old_words = "1.8 million"
    assert old_words in versions[0].text
    assert any(h.post_id == post.post_id for h in rt.index.search(f'"{old_words}"'))


def test_extract_returns_the_archived_payload_and_follows_revisits(
    make_runtime: MakeRuntime, sim: Simulator
) -> None:
    rt = make_runtime()
    capture_account(rt, "demo-agency-rdf")
    capture_account(rt, "demo-agency-rdf")  # unchanged: a revisit
    url = rt.policies.accounts["demo-agency-rdf"].url  # type: ignore[union-attr]
    assert url is not None
    newest = rt.index.records_for_uri(url)[0]
    assert newest.rec_type == "revisit"
    result = extract(rt, url)
    with urllib.request.urlopen(url) as live:
        expected = live.read()
    assert result.content.payload == expected
    assert result.original.rec_type == "response"
    head, _, body = result.content.block.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert (gzip.decompress(body) if b"Content-Encoding: gzip" in head else body) == expected


def test_malformed_feed_is_archived_raw_and_partial(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    url = sim.base_url + "/_fault/malformed.xml"
    rt = make_runtime(policies=one_account_policy(tmp_path / "p", url))
    result = capture_account(rt, "test-account")
    assert result.status == "partial"
    assert any("could not be parsed" in p for p in result.problems)
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert ledger["problems"] == result.problems
    with urllib.request.urlopen(url) as live:
        assert extract(rt, url).content.payload == live.read()


def test_truncated_feed_is_partial_and_flagged(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    url = sim.base_url + "/_fault/truncated.rss"
    rt = make_runtime(policies=one_account_policy(tmp_path / "p", url))
    result = capture_account(rt, "test-account")
    assert result.status == "partial"
    assert any("truncated" in p for p in result.problems)


def test_oversized_page_is_capped_and_flagged(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    url = sim.base_url + "/_fault/big?bytes=3000000"
    rt = make_runtime(
        policies=one_account_policy(tmp_path / "p", url, platform="web"),
        http_max_response_bytes=100_000,
    )
    result = capture_account(rt, "test-account")
    assert result.status == "partial"
    [response] = [
        r for r in rt.index.records_of_capture(result.capture_id) if r.rec_type == "response"
    ]
    member = extract(rt, response.record_id)
    assert ("WARC-Truncated", "length") in member.content.warc_headers
    assert len(member.content.block) < 3_000_000


def test_loopback_without_the_allow_flag_is_refused(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(allow_private_networks=False)
    result = capture_account(rt, NASA)
    assert result.status == "failed"
    assert result.error is not None and "ARCHIVER_ALLOW_PRIVATE_NETWORKS" in result.error
    assert rt.index.get_capture(result.capture_id).status == "failed"


def test_tampered_stored_record_is_an_integrity_error(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    rt = make_runtime()
    result = capture_account(rt, "demo-agency-rdf")
    warc = rt.index.get_warc(result.warc_files[0])
    assert warc is not None
    response = next(
        r for r in rt.index.records_of_capture(result.capture_id) if r.rec_type == "response"
    )
    # A copy of the stored file with one byte of the response body flipped, recompressed.
    data = stored_copy(rt, warc.name, tmp_path).read_bytes()
    member = zlib.decompress(
        data[response.offset : response.offset + response.length], zlib.MAX_WBITS + 16
    )
    flipped = member[:-10] + bytes([member[-10] ^ 0x01]) + member[-9:]
    comp = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    tampered_member = comp.compress(flipped) + comp.flush()
    tampered = data[: response.offset] + tampered_member
    evil = tmp_path / "tampered.warc.gz"
    evil.write_bytes(tampered)
    rt.store.put_file(warc.key + ".tampered", evil, sha256=hashlib.sha256(tampered).hexdigest())
    with session_scope(rt.index.engine) as s:  # point the index at the tampered copy
        row = s.get(RecordRow, response.record_id)
        wrow = s.get(WarcFileRow, warc.name)
        assert row is not None and wrow is not None
        row.length = len(tampered_member)
        wrow.key = warc.key + ".tampered"
    with pytest.raises(IntegrityError, match="block digest"):
        extract(rt, response.record_id)


def test_store_outage_keeps_the_warc_in_the_spool_until_a_later_run(
    make_runtime: MakeRuntime, tmp_path: Path, backend: dict[str, str]
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store folder should be")
    down = (
        "s3://archive?endpoint_url=http://127.0.0.1:9&region=us-east-1"
        if backend
        else (blocker / "store").as_uri()
    )
    rt_up = make_runtime()  # index schema and bucket exist; then the store goes away
    rt_down = make_runtime(storage_url=down, create=False)
    result = capture_account(rt_down, "demo-agency-rdf")
    assert result.status == "ok" and result.stored == 0 and result.spooled == 1
    spooled = rt_down.settings.spool_dir / result.warc_files[0]
    assert spooled.exists()
    warc = rt_down.index.get_warc(result.warc_files[0])
    assert warc is not None and warc.status == "closed"
    report = recover_spool(rt_up)
    assert report.shipped == [result.warc_files[0]]
    assert not spooled.exists()
    stored = rt_up.index.get_warc(result.warc_files[0])
    assert stored is not None and stored.status == "stored"
    assert rt_up.store.head(stored.key).sha256 == stored.sha256

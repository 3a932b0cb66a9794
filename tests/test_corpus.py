"""Real recordings from ../shared/corpus: feeds captured through the simulator, WARCs read back.

Skipped, with the reason, where the corpus folder is absent.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.request
from pathlib import Path

import feedparser
import pytest

from archiver.capture.job import capture_account
from archiver.errors import IntegrityError
from archiver.retrieval import extract
from archiver.simulator import Simulator
from archiver.warc.reader import read_file_records
from tests.conftest import MakeRuntime, write_policy

FEED_SUFFIXES = (".xml", ".rss", ".atom", ".rdf")


def corpus_feeds(corpus: Path) -> list[Path]:
    feeds = []
    for path in sorted(corpus.rglob("*")):
        if path.suffix in FEED_SUFFIXES and path.is_file():
            parsed = feedparser.parse(path.read_bytes())
            if parsed.entries and not parsed.bozo:
                feeds.append(path)
    return feeds


def test_corpus_feeds_capture_with_every_entry(
    corpus: Path, make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    feeds = corpus_feeds(corpus)
    if not feeds:
        pytest.skip("the corpus holds no well-formed RSS/Atom/RDF feed")
    for i, feed in enumerate(feeds):
        url = f"{sim.base_url}/_corpus/{feed.relative_to(corpus).as_posix()}"
        policies = write_policy(
            tmp_path / f"p{i}",
            f"""\
accounts:
  - id: corpus-{i}
    agency: Corpus recording
    platform: feed
    url: {url}
    schedule: PT1H
    options: {{media: false}}
""",
        )
        rt = make_runtime(policies=policies)
        result = capture_account(rt, f"corpus-{i}")
        with urllib.request.urlopen(url) as live:
            served = live.read()
        expected = len(feedparser.parse(served).entries)
        assert result.status == "ok", (feed.name, result.problems)
        assert result.posts["new"] == min(expected, 200), feed.name
        response = next(
            r for r in rt.index.records_of_capture(result.capture_id) if r.rec_type == "response"
        )
        payload = extract(rt, response.record_id).content.payload
        assert hashlib.sha256(payload).digest() == hashlib.sha256(served).digest(), feed.name


def test_corpus_warcs_read_back_with_offsets(corpus: Path) -> None:
    warcs = sorted(p for p in corpus.rglob("*") if p.name.endswith((".warc", ".warc.gz")))
    if not warcs:
        pytest.skip("the corpus holds no WARC recording")
    read = 0
    for path in warcs:
        data = path.read_bytes()
        try:
            records = read_file_records(path)
        except IntegrityError as err:
            # only a file gzipped whole may be refused, and then with the remedy
            assert path.suffix == ".gz" and "recompress" in str(err), path.name
            with gzip.open(path) as whole:
                assert whole.read(5) == b"WARC/", path.name
            continue
        assert records, path.name
        read += 1
        for rec in records:
            w = rec.written
            assert 0 <= w.offset < len(data) and w.length > 0
            member = data[w.offset : w.offset + w.length]
            if path.suffix == ".gz":
                assert member[:2] == b"\x1f\x8b", f"{path.name}@{w.offset}"
                member = gzip.decompress(member)
            assert member.startswith(b"WARC/1."), f"{path.name}@{w.offset}"
            assert rec.written.record_id and rec.written.record_id in member.decode("latin-1")
    assert read, "no corpus WARC could be read"

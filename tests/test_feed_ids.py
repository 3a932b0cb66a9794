"""Feed entry ids stay what the feed wrote: an id that is not an absolute URI (a bare number, a
tag-less guid) is not resolved against the feed's URL, so a feed that moves keeps its posts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archiver.capture.connectors.feed import FeedConnector
from archiver.capture.job import capture_account
from archiver.policy.model import Account, Schedule
from tests.conftest import MakeRuntime
from tests.corpus_replay import Answer, ReplayServer
from tests.platforms import ACCOUNT, platform_policy, posts

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Agency news</title><link>https://agency.example.gov/</link>
<item><title>Numbered</title><guid isPermaLink="false">12345</guid>
  <link>https://agency.example.gov/news/12345</link><description>One</description></item>
<item><title>Tag-less</title><guid>notice of closure</guid><description>Two</description></item>
<item><title>Absolute</title><guid>https://agency.example.gov/news/7</guid>
  <description>Three</description></item>
<item><title>Urn</title>
  <guid isPermaLink="false">urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66</guid>
  <link>https://agency.example.gov/news/8</link><description>Four</description></item>
<item><title>Relative link</title><link>news/9</link><description>Five</description></item>
</channel></rss>
"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Agency</title><id>urn:agency</id>
<updated>2026-01-05T09:00:00Z</updated>
<entry><id>42</id><title>Bare id</title><updated>2026-01-05T09:00:00Z</updated>
  <link href="https://agency.example.gov/a/42"/><summary>Atom one</summary></entry>
<entry><id>tag:agency.example.gov,2026:43</id><title>Tag URI</title>
  <updated>2026-01-05T10:00:00Z</updated><summary>Atom two</summary></entry>
</feed>
"""
FEED_TYPES = {"rss": "application/rss+xml", "atom": "application/atom+xml"}


def account() -> Account:
    return Account(ACCOUNT, "Agency", "feed", "social", Schedule("PT1H"))


def parse(body: bytes, url: str, kind: str = "rss") -> list[tuple[str, str | None]]:
    found = FeedConnector().posts_from_response(account(), url, FEED_TYPES[kind], body, None)
    return [(p.native_id, p.url) for p in found]


def test_entry_ids_are_taken_as_written_whatever_the_feed_url() -> None:
    one = parse(RSS, "https://agency.example.gov/feeds/news.xml")
    two = parse(RSS, "https://www.agency.example.gov/rss")
    assert (
        [i for i, _ in one]
        == [i for i, _ in two]
        == [
            "12345",
            "notice of closure",
            "https://agency.example.gov/news/7",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "news/9",  # no guid: the link as written, not as resolved
        ]
    )
    # pages: a real <link> (resolved against the feed URL), an http(s) guid; never a bare id
    assert [u for _, u in one] == [
        "https://agency.example.gov/news/12345",
        None,
        "https://agency.example.gov/news/7",
        "https://agency.example.gov/news/8",
        "https://agency.example.gov/feeds/news/9",
    ]
    assert [u for _, u in two][-1] == "https://www.agency.example.gov/news/9"


def test_atom_ids_that_are_not_absolute_stay_as_written() -> None:
    for url in ("https://agency.example.gov/atom.xml", "https://mirror.example.org/x/y"):
        assert parse(ATOM, url, "atom") == [
            ("42", "https://agency.example.gov/a/42"),
            ("tag:agency.example.gov,2026:43", None),
        ]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_feed_that_moves_keeps_its_posts(
    make_runtime: MakeRuntime, tmp_path: Path, kind: str
) -> None:
    body = RSS if kind == "rss" else ATOM
    with ReplayServer() as server:
        for path in ("/old/feed.xml", "/new/rss"):
            server.add(Answer("GET", path, 200, [("Content-Type", FEED_TYPES[kind])], body))
        first = make_runtime(
            platform_policy(tmp_path / "old", "feed", url=f"{server.base_url}/old/feed.xml")
        )
        before = capture_account(first, ACCOUNT)
        assert before.status == "ok", before.problems
        ids = sorted(p.native_id for p in posts(first))
        moved = make_runtime(
            platform_policy(tmp_path / "new", "feed", url=f"{server.base_url}/new/rss")
        )
        after = capture_account(moved, ACCOUNT)
    assert after.status == "ok", after.problems
    assert sorted(p.native_id for p in posts(moved)) == ids
    # the only post whose page moved is the one with a relative <link>
    assert after.posts == {"new": 0, "edited": 1 if kind == "rss" else 0, "deleted": 0}


def recorded_ids(feed: Path) -> list[str]:
    """Each item's guid (or, without one, its link) as the recording spells it."""
    ids = []
    for item in ET.parse(feed).getroot().iter("item"):
        guid, link = item.findtext("guid"), item.findtext("link")
        ids.append((guid or "").strip() or (link or "").strip())
    return ids


def test_corpus_feeds_keep_every_entry_with_the_recorded_ids(corpus: Path) -> None:
    feeds = sorted((corpus / "feed").glob("*.xml"))
    if not feeds:
        pytest.skip("the corpus holds no feed")
    for feed in feeds:
        expected = recorded_ids(feed)
        assert expected, feed.name
        body = feed.read_bytes()
        for url in ("https://agency.example.gov/feed.xml", "https://mirror.example.org/a/b"):
            ids = [i for i, _ in parse(body, url)]
            assert ids == expected, feed.name

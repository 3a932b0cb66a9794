"""The feed parser reads whatever bytes a server sends without raising: posts it can read, and a
problem for the ledger when the document is damaged. A bounded hypothesis fuzz of mutated RSS
and Atom documents (cut, spliced with hostile fragments, bytes dropped).

A parser exception would end the capture with a traceback instead of archiving the raw answer
and flagging it, so anything but a return here is a defect.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.capture.connectors.feed import FeedConnector

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Agency news</title>
  <id>tag:agency.example,2026:feed</id>
  <updated>2026-11-30T10:00:00Z</updated>
  <entry>
    <id>tag:agency.example,2026:1</id>
    <title>Road closure &amp; detour</title>
    <link href="https://agency.example/news/1"/>
    <published>2026-11-30T09:00:00Z</published>
    <updated>2026-11-30T09:30:00Z</updated>
    <summary type="html">&lt;p&gt;Main St closed &#8212; use 5th Ave.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <id>2</id>
    <title>Water notice</title>
    <link href="/news/2"/>
    <published>2026-11-29T08:00:00+01:00</published>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Boil water.</div></content>
  </entry>
</feed>
"""

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
  <title>Agency</title><link>https://agency.example/</link>
  <item><guid>https://agency.example/a</guid><title>Alert</title>
    <pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate><description>Text</description>
    <media:content url="https://agency.example/a.jpg" medium="image"/></item>
</channel></rss>
"""

HOSTILE = [
    b"&#9999999999;",
    b"&#xD800;",
    b"&#0;",
    b"\x00",
    b"<![CDATA[",
    b"]]>",
    b"<!DOCTYPE x [<!ENTITY a '&a;'>]>",
    b"&undefined;",
    b"\xff\xfe",
    b"<entry>",
    b"</feed>",
    b"<pubDate>not a date</pubDate>",
    b"<published>99999-99-99T99:99:99Z</published>",
    b"<link href='javascript:alert(1)'/>",
    b"<" * 64,
]


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    document=st.sampled_from([ATOM, RSS]),
    cut=st.integers(0, max(len(ATOM), len(RSS))),
    insert=st.binary(max_size=16) | st.sampled_from(HOSTILE),
    drop=st.integers(0, 12),
)
def test_a_mutated_feed_is_read_or_flagged_never_raised(
    document: bytes, cut: int, insert: bytes, drop: int
) -> None:
    body = document[:cut] + insert + document[cut + drop :]
    posts, problem = FeedConnector()._parse(
        "https://agency.example/feed.xml", "application/xml", body, "<urn:uuid:r>"
    )
    assert problem is None or isinstance(problem, str)
    for post in posts:
        assert isinstance(post.native_id, str) and post.native_id
        assert isinstance(post.text, str)
        assert post.record_id == "<urn:uuid:r>"


def _text_positions(document: bytes) -> list[int]:
    """Where element text starts: just after each ``>`` that a ``<`` does not follow."""
    return [
        i + 1
        for i, byte in enumerate(document[:-1])
        if byte == ord(">") and document[i + 1] != ord("<")
    ]


def test_every_hostile_fragment_in_every_text_position_is_read_or_flagged() -> None:
    for document in (ATOM, RSS):
        for where in _text_positions(document):
            for fragment in HOSTILE:
                body = document[:where] + fragment + document[where:]
                posts, problem = FeedConnector()._parse(
                    "https://agency.example/feed.xml", "application/xml", body, None
                )
                assert posts or problem, (fragment, where)


def test_the_unmutated_documents_give_their_entries_and_no_problem() -> None:
    for body, count in ((ATOM, 2), (RSS, 1)):
        posts, problem = FeedConnector()._parse(
            "https://agency.example/feed.xml", "application/xml", body, None
        )
        assert problem is None and len(posts) == count

"""Post pages on both backends: every post a capture sees is an HTML page in its WARC (media
inline, replies threaded, edit history, deletion notice), unchanged pages are revisits, and
`archiver extract POST_URL|POST_ID --at` returns the page of the version live then."""

from __future__ import annotations

import gzip
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.job import capture_account
from archiver.capture.postpage import (
    URN_PREFIX,
    PageDeletion,
    PageMedia,
    PageReply,
    PageVersion,
    PostView,
    page_uri,
    render_post_page,
)
from archiver.errors import NotFoundError
from archiver.index.api import post_key
from archiver.retrieval import extract, find_post_page
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime, archiver_env
from tests.platforms import ACCOUNT, api_root, platform_policy, posts

HOST = "social.example.gov"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def mastodon(make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, **kw: Any) -> Runtime:
    """The simulated USGS Mastodon account with comments and media (``kw``: runtime options)."""
    return make_runtime(
        platform_policy(
            tmp_path / "policies",
            "mastodon",
            handle='"@usgs@social.example.gov"',
            base_url=api_root(sim, HOST),
            options="{comments: true, media: true, max_items: 100}",
        ),
        **kw,
    )


def three_rounds(rt: Runtime, sim: Simulator) -> list[str]:
    """Round 1; round 2 edits a status and adds one; round 3 deletes one."""
    ids = []
    for _ in range(3):
        result = capture_account(rt, ACCOUNT)
        assert result.status == "ok", result.problems
        ids.append(result.capture_id)
        sim.advance()
    return ids


def page_records(rt: Runtime, capture_id: str) -> list[dict[str, object]]:
    """The post pages a capture wrote, as its WARC files hold them (headers and payload)."""
    found = []
    for warc in rt.index.list_warcs(capture_id=capture_id):
        with rt.store.open_read(warc.key) as fh:
            for rec in ArchiveIterator(fh):
                h = rec.rec_headers
                uri = h.get_header("WARC-Target-URI") or ""
                kind = rec.rec_type
                is_page = (kind == "resource" and "text/html" in (rec.content_type or "")) or (
                    kind == "revisit" and not (rec.http_headers or rec.content_type)
                )
                if not is_page:
                    continue
                found.append(
                    {
                        "type": kind,
                        "uri": uri,
                        "id": h.get_header("WARC-Record-ID"),
                        "concurrent": h.get_header("WARC-Concurrent-To"),
                        "all_concurrent": [v for k, v in h.headers if k == "WARC-Concurrent-To"],
                        "refers_to": h.get_header("WARC-Refers-To"),
                        "body": rec.content_stream().read(),
                    }
                )
    return found


def view(**changes: object) -> PostView:
    base: dict[str, object] = {
        "post_id": "p1",
        "account": "acct",
        "agency": "Agency",
        "platform": "mastodon",
        "native_id": "1",
        "url": "https://social.example.gov/@a/1",
        "kind": "post",
        "author": "a",
        "published_at": T0,
        "current": PageVersion(2, T0 + timedelta(hours=2), None, "now"),
        "earlier": (PageVersion(1, T0 + timedelta(hours=1), None, "before"),),
    }
    base.update(changes)
    return PostView(**base)  # type: ignore[arg-type]


# --- rendering ------------------------------------------------------------------------------------


def test_hostile_text_and_urls_are_escaped_and_never_become_script() -> None:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    page = render_post_page(
        view(
            author='"><script>alert(3)</script>',
            current=PageVersion(2, T0, hostile, hostile + " & more"),
            media=(
                PageMedia("javascript:alert(4)", "image/png"),
                PageMedia('https://cdn.example/a.png" onload="alert(5)', "image/png"),
            ),
            replies=(
                PageReply("r1", "<b>x</b>", T0, "</ol><script>alert(6)</script>", None, None),
            ),
            deletion=PageDeletion(T0, "<iframe src=//evil>", "<urn:uuid:1>", "https://e/<x>"),
        )
    ).decode()
    assert "<script" not in page and "<iframe" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page and 'src="javascript:' not in page
    assert "javascript:alert(4) (not a web address; not shown)" in page
    assert 'src="https://cdn.example/a.png&quot; onload=&quot;alert(5)"' in page
    assert 'onload="alert' not in page


def test_the_same_view_renders_the_same_bytes_and_a_change_shows() -> None:
    assert render_post_page(view()) == render_post_page(view())
    assert render_post_page(view()) != render_post_page(
        view(current=PageVersion(2, T0 + timedelta(hours=2), None, "now!"))
    )


def test_a_post_whose_own_html_page_was_captured_gets_a_urn() -> None:
    url = "https://mp.weixin.qq.com/s/abc"
    assert page_uri("p1", url) == url
    assert page_uri("p1", url, url_has_html=True) == URN_PREFIX + "p1"
    assert page_uri("p1", None) == URN_PREFIX + "p1"
    assert page_uri("p1", "tag:feed,2026:1") == URN_PREFIX + "p1"  # not a web address


# --- captures ---------------------------------------------------------------------------------


def test_every_post_seen_gets_a_page_and_an_unchanged_one_is_a_revisit(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = mastodon(make_runtime, sim, tmp_path)
    first = capture_account(rt, ACCOUNT)
    second = capture_account(rt, ACCOUNT)  # same round: nothing changed
    seen = len(posts(rt))
    pages1, pages2 = page_records(rt, first.capture_id), page_records(rt, second.capture_id)
    assert len(pages1) == len(pages2) == seen == 45
    assert {p["type"] for p in pages1} == {"resource"}
    assert {p["type"] for p in pages2} == {"revisit"}
    originals = {p["id"]: p for p in pages1}
    for revisit in pages2:
        assert originals[revisit["refers_to"]]["uri"] == revisit["uri"]
    # each page sits at its post's URL and names the record it was made from
    by_url = {p.url: p for p in posts(rt)}
    sources = {r.record_id for r in rt.index.records_of_capture(first.capture_id)}
    for page in pages1:
        assert page["uri"] in by_url and page["concurrent"] in sources
        assert page["refers_to"] is None  # WARC 1.1: no WARC-Refers-To on a resource
    ledger = rt.index.get_capture(second.capture_id).ledger
    assert len(ledger["post_pages"]) == seen
    for warc in rt.index.list_warcs():  # every file still reads as sound WARC 1.1
        with rt.store.open_read(warc.key) as fh:
            for rec in ArchiveIterator(fh, check_digests=True):
                rec.content_stream().read()


def test_post_pages_show_media_replies_edit_history_and_deletion_evidence(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = mastodon(make_runtime, sim, tmp_path)
    caps = three_rounds(rt, sim)
    edited = [p for p in posts(rt, "post") if p.edited]
    deleted = [p for p in posts(rt, "post") if p.deleted]
    assert len(edited) == 1 and len(deleted) == 1

    pages = {p["uri"]: p for p in page_records(rt, caps[1])}
    _, versions, _ = rt.index.history(edited[0].post_id)
    body = bytes(pages[edited[0].url]["body"]).decode()  # type: ignore[arg-type]
    assert "Edit history" in body and "Version 2" in body
    assert versions[0].text in body and versions[1].text in body

    first = {p["uri"]: bytes(p["body"]).decode() for p in page_records(rt, caps[0])}  # type: ignore[arg-type]
    with_media = [b for b in first.values() if "<img src=" in b]
    assert with_media
    media_url = with_media[0].split('<img src="', 1)[1].split('"', 1)[0]
    assert rt.index.records_for_uri(media_url)  # the inline image is an archived record
    replies = [p for p in posts(rt, "reply")]
    parent = next(
        p for p in posts(rt, "post") if any(r.in_reply_to == p.native_id for r in replies)
    )
    thread = first[parent.url]
    direct = [r for r in replies if r.in_reply_to == parent.native_id]
    nested = [r for r in replies if r.in_reply_to in {d.native_id for d in direct}]
    assert direct and nested
    assert thread.count('class="reply"') == len(direct) + len(nested)
    # a nested reply sits inside its parent reply's list
    outer = thread.index(f'id="reply-{direct[0].native_id}"')
    assert thread.index('<ol class="replies">', outer) < thread.index(
        f'id="reply-{nested[0].native_id}"'
    )

    gone = page_records(rt, caps[2])
    notice = [p for p in gone if b"Deleted from the platform" in p["body"]]  # type: ignore[operator]
    assert len(notice) == 1 and notice[0]["uri"] == deleted[0].url
    event = rt.index.history(deleted[0].post_id)[2][-1]
    assert event.kind == "deleted_detected" and event.evidence_record_id
    text = bytes(notice[0]["body"]).decode()  # type: ignore[arg-type]
    assert f"record &lt;{event.evidence_record_id.strip('<>')}&gt;" in text
    _, gone_versions, _ = rt.index.history(deleted[0].post_id)
    assert notice[0]["all_concurrent"] == [gone_versions[-1].record_id, event.evidence_record_id]


def test_extract_by_post_url_or_id_gives_the_page_of_the_version_live_then(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = mastodon(make_runtime, sim, tmp_path)
    three_rounds(rt, sim)
    post = next(p for p in posts(rt, "post") if p.edited)
    _, versions, _ = rt.index.history(post.post_id)
    old = extract(rt, post.url, versions[0].captured_at).content.payload.decode()
    assert versions[0].text in old and "Edit history" not in old
    new = extract(rt, post.post_id).content.payload.decode()
    assert versions[1].text in new and "Edit history" in new
    assert extract(rt, post.native_id).content.payload.decode() == new
    with pytest.raises(NotFoundError, match="give a later --at"):
        find_post_page(rt, post.url, versions[0].captured_at - timedelta(days=1))

    out = tmp_path / "post.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "archiver.cli.main",
            "extract",
            post.url or "",
            "--at",
            versions[0].captured_at.isoformat(),
            "-o",
            str(out),
        ],
        env=archiver_env(rt),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8") == old


def test_a_post_page_record_is_gzip_per_record_and_utf8_html(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = mastodon(make_runtime, sim, tmp_path)
    result = capture_account(rt, ACCOUNT)
    pid = post_key(ACCOUNT, posts(rt, "post")[0].native_id)
    page = find_post_page(rt, pid)
    assert page is not None and page.rec_type == "resource" and page.mime == "text/html"
    warc = rt.index.get_warc(page.warc_name)
    assert warc is not None and warc.capture_id == result.capture_id
    member = rt.store.get_range(warc.key, page.offset, page.length)
    head = gzip.decompress(member).split(b"\r\n\r\n", 1)[0].decode()
    assert "WARC-Type: resource" in head and "Content-Type: text/html; charset=utf-8" in head


@pytest.mark.parametrize(
    "url",
    [
        "https://social.example.gov/@usgs/1",
        "HTTP://Host",
        "http://",
        "https:///path",
        "http://?q",
        "http://#f",
        "http://[::1]/x",
        "http://[::1/x",
        "http://\t/",
        "http://a\tb/",
        "https://user@host:8080/p?q#f",
        "urn:archiver:post:x",
        "ftp://host/x",
        "javascript:alert(1)",
        " http://host/",
        "httpx://host",
    ],
)
def test_only_http_urls_with_a_host_are_web_addresses_as_urlsplit_reads_them(url: str) -> None:
    from urllib.parse import urlsplit

    from archiver.capture.postpage import _is_web

    try:
        parts = urlsplit(url)
        expected = parts.scheme in ("http", "https") and bool(parts.netloc)
    except ValueError:
        expected = False
    if url.startswith(" "):
        expected = False  # leading spaces: never a link on a page
    assert _is_web(url) is expected


def test_pages_written_while_listing_are_the_pages_written_at_the_end(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The capture indexes and pages listed posts while it waits for the next answer; a second
    capture of the same round with that turned off (everything at the end) writes the same
    bytes: every one of its pages is a revisit of the first capture's page."""
    from archiver.capture import job, stream
    from archiver.capture.postpage import PageWriter

    monkeypatch.setattr(stream, "SMALL_CHUNK", 1)  # stream even this small account's listing
    early: list[int] = []
    write = PageWriter.write
    monkeypatch.setattr(
        PageWriter, "write", lambda self, chunk: (early.append(len(chunk)), write(self, chunk))[1]
    )
    rt = mastodon(make_runtime, sim, tmp_path)
    streamed = capture_account(rt, ACCOUNT)
    assert streamed.status == "ok", streamed.problems
    pages = page_records(rt, streamed.capture_id)
    assert len(pages) == len(posts(rt)) == 45 and {p["type"] for p in pages} == {"resource"}
    assert 0 < sum(early) < 45  # some pages while listing; those awaiting replies at the end

    monkeypatch.setattr(job._Session, "listed", lambda self, posts, unsettled=(): None)
    early.clear()
    at_the_end = capture_account(rt, ACCOUNT)
    assert early == [] and at_the_end.posts == {"new": 0, "edited": 0, "deleted": 0}
    again = page_records(rt, at_the_end.capture_id)
    assert len(again) == 45 and {p["type"] for p in again} == {"revisit"}
    assert {p["refers_to"] for p in again} == {p["id"] for p in pages}


def test_an_early_page_that_a_later_post_changes_is_written_again(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connector that calls its posts settled and then finds replies and fetches
    attachments: each early page stays, and a newer page at the same URI shows the replies
    and the archived media."""
    from archiver.capture import stream
    from archiver.capture.connectors import mastodon as connector

    monkeypatch.setattr(stream, "SMALL_CHUNK", 1)
    monkeypatch.setattr(connector, "_unsettled", lambda account, data, posts: set())
    rt = mastodon(make_runtime, sim, tmp_path)
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    replies = posts(rt, "reply")
    parents = {r.in_reply_to for r in replies} & {p.native_id for p in posts(rt, "post")}
    assert parents
    pages = page_records(rt, result.capture_id)
    by_uri: dict[str, list[bytes]] = {}
    for p in pages:
        by_uri.setdefault(str(p["uri"]), []).append(bytes(p["body"]))  # type: ignore[arg-type]
    for parent in (p for p in posts(rt, "post") if p.native_id in parents):
        early, late = by_uri[str(parent.url)]
        assert b'class="reply"' not in early and b'class="reply"' in late
    # again only the posts whose replies or attachments were fetched after their early page
    twice = {uri for uri, bodies in by_uri.items() if len(bodies) > 1}
    later = {
        p.url
        for p in rt.index.list_posts(ACCOUNT)
        if p.kind == "post" and (p.native_id in parents or p.media)
    }
    assert twice == later
    assert find_post_page(rt, str(next(iter(parents)))) is not None

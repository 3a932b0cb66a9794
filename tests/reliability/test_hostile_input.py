"""Hostile answers never fail a capture with a Python exception: each is archived raw, flagged,
and the capture ends partial (or ok where nothing was lost); metadata addresses are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from archiver.capture.job import capture_account
from archiver.capture.netguard import resolve_checked
from archiver.capture.ratelimit import wait_from_headers
from archiver.errors import NetworkGuardError
from tests.conftest import MakeRuntime
from tests.corpus_replay import ReplayServer
from tests.platforms import ACCOUNT, platform_policy, posts, replay_mastodon, stored_bytes


def _status(text: str) -> dict[str, object]:
    return {
        "id": "1001",
        "created_at": "2026-11-30T10:00:00.000Z",
        "content": f"<p>{text}</p>",
        "url": "https://localhost/@agency/1001",
        "account": {"id": "42", "acct": "agency"},
        "media_attachments": [],
        "replies_count": 0,
    }


def _mastodon(tmp_path: Path, make_runtime: MakeRuntime, server: ReplayServer, listing: bytes):  # type: ignore[no-untyped-def]
    return make_runtime(replay_mastodon(tmp_path / "p", server, listing))


@pytest.mark.parametrize(
    "listing",
    [b"[" * 200_000 + b"]" * 200_000, b'[{"id": ' + b"9" * 5000 + b"}]"],
    ids=["deep-json", "5000-digit-integer"],
)
def test_unparsable_listing_is_archived_raw_and_flagged(
    tmp_path: Path, make_runtime: MakeRuntime, listing: bytes
) -> None:
    with ReplayServer() as server:
        rt = _mastodon(tmp_path, make_runtime, server, listing)
        result = capture_account(rt, ACCOUNT)
    assert result.status == "partial", result.problems
    assert any("malformed JSON" in p or "JSON" in p for p in result.problems), result.problems
    assert listing[:1000] in stored_bytes(rt), "the answer is kept as received"


def test_nul_in_post_text_is_indexed_on_every_backend(
    tmp_path: Path, make_runtime: MakeRuntime
) -> None:
    listing = json.dumps([_status("Road\u0000closed")]).encode()
    with ReplayServer() as server:
        rt = _mastodon(tmp_path, make_runtime, server, listing)
        result = capture_account(rt, ACCOUNT)
        again = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert again.status == "ok" and again.posts["new"] == 0, "the next capture is not stopped"
    [post] = posts(rt)
    assert "\x00" not in (post.url or "")
    [found] = rt.index.list_posts(ACCOUNT)
    assert "Road\ufffdclosed" in found.text


@pytest.mark.parametrize(
    "ref",
    ["&#9999999999;", "&#xD800;", "&#0;", "&#x110000;"],
    ids=["huge", "surrogate", "nul", "beyond"],
)
def test_feed_with_impossible_character_references_is_read(
    tmp_path: Path, make_runtime: MakeRuntime, ref: str
) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Agency</title>'
        f"<item><title>Alert {ref} now</title><guid>alert-1</guid>"
        f"<link>https://agency.example/a/1</link><description>Text {ref}</description></item>"
        "</channel></rss>"
    ).encode()
    with ReplayServer() as server:
        server.add_json("GET", "/feed.xml", body, headers=[("Content-Type", "application/rss+xml")])
        folder = platform_policy(
            tmp_path / "p", "feed", url=f"{server.base_url}/feed.xml", options="{media: false}"
        )
        rt = make_runtime(folder)
        result = capture_account(rt, ACCOUNT)
    assert result.status in ("ok", "partial"), result.problems
    assert result.posts["new"] == 1
    assert body in stored_bytes(rt)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400"])
def test_retry_after_that_names_no_time_is_ignored(value: str) -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert wait_from_headers(httpx.Headers({"Retry-After": value}), now) is None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "fd00:ec2::254",
        "100.100.100.200",
        "2002:a9fe:a9fe::",
    ],
)
def test_metadata_addresses_are_refused_even_with_private_networks_allowed(address: str) -> None:
    with pytest.raises(NetworkGuardError, match="metadata"):
        resolve_checked(address, 80, allow_private=True)
    with pytest.raises(NetworkGuardError):
        resolve_checked(address, 80, allow_private=False)


def test_loopback_is_still_allowed_with_private_networks_allowed() -> None:
    assert resolve_checked("127.0.0.1", 80, allow_private=True) == ["127.0.0.1"]


def test_gzip_bomb_is_cut_at_the_cap_in_bounded_steps() -> None:
    """A 1 MiB gzip body that inflates to 1 GiB: decoded one step at a time and cut at the
    cap, never inflated whole."""
    import gzip as gz
    import zlib

    from archiver.capture.http import ContentDecoder, HttpClient, HttpLimits

    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * (1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush()
    assert len(bomb) < 2 * (1 << 20)
    steps = ContentDecoder("gzip").decode([bomb])
    first = next(steps)
    assert len(first) <= ContentDecoder.STEP
    two_members = gz.compress(b"first ") + gz.compress(b"second")
    assert b"".join(ContentDecoder("gzip").decode([two_members[:7], two_members[7:]])) == (
        b"first second"
    )
    assert b"".join(ContentDecoder("deflate").decode([zlib.compress(b"x" * 10)])) == b"x" * 10
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(b"raw deflate") + raw.flush()
    assert b"".join(ContentDecoder("deflate").decode([raw_deflate])) == b"raw deflate"

    with ReplayServer() as server:
        server.add_json("GET", "/bomb", bomb, headers=[("Content-Encoding", "gzip")])
        limits = HttpLimits(max_response_bytes=8 * (1 << 20), max_retries=0)
        with HttpClient(limits=limits, allow_private=True) as http:
            [exchange] = http.get(f"{server.base_url}/bomb")
    assert exchange.truncated == "length"
    assert exchange.body_length <= limits.max_response_bytes + ContentDecoder.STEP
    assert exchange.raw_length <= len(bomb) + 4096, "the compressed answer is kept as received"

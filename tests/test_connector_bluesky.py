"""Bluesky through the simulator's AppView: cursor paging, reply threads, images, a deletion
detected with evidence, and bad answers archived, flagged and never fatal to other accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from archiver.capture.job import capture_account
from archiver.index.db import session_scope
from archiver.index.models import PostVersionRow
from archiver.retrieval import extract
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime
from tests.platforms import ACCOUNT, api_root, events, fault_repeats, platform_policy, posts

APPVIEW = "public.api.bsky.app"


def latest(rt: Runtime, post_id: str) -> PostVersionRow:
    """The newest stored version of a post (its text and raw item)."""
    with session_scope(rt.index.engine) as s:
        rows = s.exec(select(PostVersionRow).where(PostVersionRow.post_id == post_id)).all()
        return max(rows, key=lambda v: v.version)


def policy(tmp_path: Path, sim: Simulator, handle: str = "usgs.bsky.social", **extra: str) -> Path:
    return platform_policy(
        tmp_path / "policies", "bluesky", handle=handle, base_url=api_root(sim, APPVIEW), **extra
    )


def test_posts_threads_and_images_are_captured(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert len(posts(rt, "post")) == 25  # the pinned post 1 is kept once
    assert len(posts(rt, "repost")) == 2
    replies = posts(rt, "reply")
    assert len(replies) == 16  # a tree of four under each of posts 0, 8, 16, 24
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert ledger["complete_listing"] is True
    # images of 0, 6, 12, 18, 24; two of 10 (with a quote); playlist and thumbnail of 15 and 22
    # (a quote with a video); the link card's thumbnail of 20
    assert len([e for e in ledger["exchanges"] if e["purpose"] == "media"]) == 5 + 2 + 4 + 1
    assert rt.index.search("groundwater")
    feed = next(e["url"] for e in ledger["exchanges"] if "getAuthorFeed" in e["url"])
    assert "filter=posts_with_replies" in feed and "includePins=true" in feed


def test_the_whole_reply_tree_is_kept_with_each_reply_under_its_parent(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    own = {p.native_id for p in posts(rt, "post")}
    replies = {p.native_id: p for p in posts(rt, "reply")}
    direct = [r for r in replies.values() if r.in_reply_to in own]
    deeper = [r for r in replies.values() if r.in_reply_to in replies]
    assert len(direct) == 8 and len(deeper) == 8
    third = [r for r in deeper if replies[r.in_reply_to or ""].in_reply_to in replies]
    assert len(third) == 4 and {r.author for r in third} == {"resident0.bsky.social"}
    assert {r.author for r in deeper} == {"resident0.bsky.social", "resident2.bsky.social"}
    for reply in replies.values():
        assert f"/profile/{reply.author}/post/" in (reply.url or "")


def test_reposts_are_the_original_authors_posts_marked_as_reposts(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    reposts = posts(rt, "repost")
    assert {r.author for r in reposts} == {"noaa.bsky.social"}
    for repost in reposts:
        assert "/app.bsky.feed.repost/" in repost.native_id  # the repost record, not the post
        assert "/bsky.app/profile/noaa.bsky.social/post/3l" in (repost.url or "")
        raw = json.loads(latest(rt, repost.post_id).raw)
        assert latest(rt, repost.post_id).text.startswith("NOAA forecast")
        assert raw["reason"]["$type"] == "app.bsky.feed.defs#reasonRepost"
        assert raw["reason"]["by"]["handle"] == "usgs.bsky.social"
    assert {r.native_id for r in posts(rt, "post")}.isdisjoint({r.native_id for r in reposts})


def test_a_deleted_post_is_confirmed_by_get_posts_and_an_undone_repost_is_not_a_deletion(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    sim.advance()
    assert capture_account(rt, ACCOUNT).posts["new"] == 1
    sim.advance()
    third = capture_account(rt, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt, "deleted_detected")
    assert "getPosts" in gone.detail
    assert gone.evidence_record_id is not None
    evidence = extract(rt, gone.evidence_record_id).content
    assert evidence.block.startswith(b"HTTP/1.1 200") and json.loads(evidence.payload) == {
        "posts": []
    }
    [deleted] = [p for p in posts(rt) if p.deleted]
    assert deleted.kind == "post" and deleted.native_id.endswith(
        "/app.bsky.feed.post/3l00000000022"
    )
    assert not any(r.deleted for r in posts(rt, "repost"))


def test_cursor_paging_reads_every_page(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    opts = "{media: false, comments: false, max_items: 1000}"
    rt = make_runtime(policy(tmp_path, sim, "bench250.bsky.social", options=opts))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok" and result.posts["new"] == 250
    ledger = rt.index.get_capture(result.capture_id).ledger
    pages = [e["url"] for e in ledger["exchanges"] if "getAuthorFeed" in e["url"]]
    assert len(pages) == 3 and "cursor=" in pages[1]


def test_an_unknown_handle_fails_clearly(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, "nobody.bsky.social"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error and "unknown handle" in result.error


@pytest.mark.parametrize("kind", ["500", "malformed", "html", "truncated"])
def test_a_bad_feed_page_is_archived_flagged_and_partial(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, kind: str
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    sim.inject_fault(f"{APPVIEW}/xrpc/app.bsky.feed.getAuthorFeed", kind, count=fault_repeats(kind))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial" and result.posts["deleted"] == 0
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert ledger["complete_listing"] is False
    assert next(e for e in ledger["exchanges"] if "getAuthorFeed" in e["url"])["record_id"]

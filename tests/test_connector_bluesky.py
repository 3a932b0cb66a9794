"""Bluesky through the simulator's AppView: cursor paging, reply threads, images, a deletion
detected with evidence, and bad answers archived, flagged and never fatal to other accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime
from tests.platforms import ACCOUNT, api_root, events, fault_repeats, platform_policy, posts

APPVIEW = "public.api.bsky.app"


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
    assert len(posts(rt, "post")) == 25
    replies = posts(rt, "reply")
    assert len(replies) == 8  # two on each of posts 0, 8, 16, 24
    parents = {p.native_id for p in posts(rt, "post")}
    assert all(r.in_reply_to in parents for r in replies)
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert ledger["complete_listing"] is True
    assert len([e for e in ledger["exchanges"] if e["purpose"] == "media"]) == 5
    assert rt.index.search("groundwater")


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


def test_a_deleted_post_is_detected_with_its_404_page_as_evidence(
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
    assert gone.evidence_record_id is not None
    assert extract(rt, gone.evidence_record_id).content.block.startswith(b"HTTP/1.1 404")


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

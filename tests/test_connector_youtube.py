"""YouTube through the simulator: the channel feed without a key; with a key the Data API's
uploads playlist (nextPageToken), video metadata and comment threads; a retitled video kept as a
version, a deleted one detected with its 404 watch page, and the key never stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.simulator import Simulator
from archiver.simulator.platforms.youtube import CHANNEL, KEY
from tests.conftest import MakeRuntime
from tests.platforms import ACCOUNT, api_root, events, platform_policy, posts, stored_bytes


def policy(tmp_path: Path, sim: Simulator, channel: str = CHANNEL, **extra: str) -> Path:
    return platform_policy(
        tmp_path / "policies",
        "youtube",
        handle=channel,
        base_url=api_root(sim, "www.youtube.com"),
        **extra,
    )


def test_without_a_key_the_channel_feed_is_captured(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, options="{media: false}"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert len(posts(rt, "post")) == 15  # the feed holds the 15 newest


def test_with_a_key_uploads_videos_comments_edits_and_deletions(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", KEY)
    rt = make_runtime(policy(tmp_path, sim, credentials="SIM_YT_KEY"))
    first = capture_account(rt, ACCOUNT)
    assert first.status == "ok", first.problems
    assert len(posts(rt, "post")) == 20 and len(posts(rt, "comment")) == 10  # 0, 4, ..., 16
    sim.advance()
    second = capture_account(rt, ACCOUNT)
    assert second.posts["edited"] == 1 and second.posts["new"] == 3  # a video, two comments
    sim.advance()
    third = capture_account(rt, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt, "deleted_detected")
    assert gone.evidence_record_id is not None
    assert extract(rt, gone.evidence_record_id).content.block.startswith(b"HTTP/1.1 404")
    warcs = stored_bytes(rt)
    assert KEY.encode() not in warcs and b"key=[REDACTED]" in warcs


def test_a_wrong_key_and_an_unknown_channel_fail_clearly(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", "wrong-key")
    rt = make_runtime(policy(tmp_path, sim, credentials="SIM_YT_KEY"))
    wrong = capture_account(rt, ACCOUNT)
    assert wrong.status == "failed" and wrong.error and "400" in wrong.error
    rt2 = make_runtime(policy(tmp_path / "b", sim, "UCnobody"))
    unknown = capture_account(rt2, ACCOUNT)
    assert unknown.status == "failed" and unknown.error and "unknown channel" in unknown.error


def test_paging_through_a_long_uploads_playlist(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", KEY)
    opts = "{media: false, comments: false, max_items: 500}"
    rt = make_runtime(policy(tmp_path, sim, "UCbench120", credentials="SIM_YT_KEY", options=opts))
    result = capture_account(rt, ACCOUNT)
    ledger = rt.index.get_capture(result.capture_id).ledger
    pages = [e["url"] for e in ledger["exchanges"] if "playlistItems" in e["url"]]
    assert len(pages) == 3 and "pageToken=P50" in pages[1]

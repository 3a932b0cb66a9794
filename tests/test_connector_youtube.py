"""YouTube through the simulator: the channel feed (with its thumbnails) without a key; with a key
the Data API's uploads playlist (nextPageToken), video metadata, every comment thread page and
every reply (through comments.list when the thread inlines only some), a retitled video kept as a
version, a deleted one confirmed by videos.list, errors read by their reason, the key never
stored."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from archiver.simulator.platforms.youtube import (
    CHANNEL,
    INLINE_REPLIES,
    KEY,
    LOW_QUOTA_KEY,
    NO_COMMENTS,
    _live,
    _vid,
    comment_total,
    reply_count,
    thread_count,
)
from tests.conftest import MakeRuntime
from tests.platforms import (
    ACCOUNT,
    api_root,
    events,
    fault_repeats,
    platform_policy,
    posts,
    stored_bytes,
)


def policy(tmp_path: Path, sim: Simulator, channel: str = CHANNEL, **extra: str) -> Path:
    return platform_policy(
        tmp_path / "policies",
        "youtube",
        handle=channel,
        base_url=api_root(sim, "www.youtube.com"),
        **extra,
    )


def asked(rt: Runtime, capture_id: str, resource: str) -> list[dict[str, list[str]]]:
    """The query of every Data API request of the capture to ``resource``, in order."""
    ledger = rt.index.get_capture(capture_id).ledger
    return [
        parse_qs(urlsplit(e["url"]).query)
        for e in ledger["exchanges"]
        if urlsplit(e["url"]).path.endswith(f"/youtube/v3/{resource}")
    ]


def test_without_a_key_the_channel_feed_and_its_thumbnails_are_captured(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    videos = posts(rt, "post")
    assert len(videos) == 15  # the feed holds the 15 newest
    ledger = rt.index.get_capture(result.capture_id).ledger
    fetched = {e["url"] for e in ledger["exchanges"]}
    for video in videos:
        vid = parse_qs(urlsplit(video.url or "").query)["v"][0]
        assert api_root(sim, "i.ytimg.com") + f"/vi/{vid}/hqdefault.jpg" in fetched
    assert not any("/www.youtube.com/v/" in url for url in fetched)  # the Flash player URL


def test_with_a_key_uploads_videos_comments_edits_and_deletions(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", KEY)
    rt = make_runtime(policy(tmp_path, sim, credentials="SIM_YT_KEY", options="{media: false}"))
    first = capture_account(rt, ACCOUNT)
    assert first.status == "ok", first.problems  # comments turned off on one video: no problem
    assert len(posts(rt, "post")) == 20 and len(posts(rt, "comment")) == comment_total(1)
    sim.advance()
    second = capture_account(rt, ACCOUNT)
    added = thread_count(20) + sum(reply_count(20, n) for n in range(thread_count(20)))
    assert second.posts["edited"] == 1 and second.posts["new"] == 1 + added
    sim.advance()
    third = capture_account(rt, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt, "deleted_detected")
    assert gone.evidence_record_id is not None and "videos.list" in (gone.detail or "")
    evidence = extract(rt, gone.evidence_record_id).content.block
    assert evidence.startswith(b"HTTP/1.1 200")
    body = evidence.split(b"\r\n\r\n", 1)[1]
    body = gzip.decompress(body) if body.startswith(b"\x1f\x8b") else body
    assert json.loads(body)["pageInfo"]["totalResults"] == 0
    [probe] = [q for q in asked(rt, third.capture_id, "videos") if q["part"] == ["id"]]
    assert probe["id"] == [_vid(CHANNEL, 17)]
    warcs = stored_bytes(rt)
    assert KEY.encode() not in warcs and b"key=[REDACTED]" in warcs


def test_every_comment_page_and_every_reply_is_captured_as_plain_text(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", KEY)
    rt = make_runtime(policy(tmp_path, sim, credentials="SIM_YT_KEY", options="{media: false}"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    busy = _vid(CHANNEL, 0)
    threads = [q for q in asked(rt, result.capture_id, "commentThreads") if q["videoId"] == [busy]]
    assert [q.get("pageToken") for q in threads] == [None, ["P100"]]
    for query in asked(rt, result.capture_id, "commentThreads"):
        assert query["part"] == ["snippet,replies"] and query["maxResults"] == ["100"]
        assert query["textFormat"] == ["plainText"]
    replies = asked(rt, result.capture_id, "comments")
    # only the threads whose totalReplyCount exceeds what they inline are asked
    wanted = [
        n
        for i in _live(CHANNEL, 1)
        for n in range(thread_count(i) if i != NO_COMMENTS else 0)
        if reply_count(i, n) > INLINE_REPLIES
    ]
    assert len({q["parentId"][0] for q in replies}) == len(wanted)
    assert all(q["part"] == ["snippet"] and q["maxResults"] == ["100"] for q in replies)
    assert sum(1 for q in replies if q.get("pageToken")) == 1  # 103 replies: two pages
    comments = {c.native_id: c for c in posts(rt, "comment")}
    top = f"Ug{busy}0000AaABAg"
    assert comments[top].in_reply_to == busy and comments[top].author == "@viewer0"
    children = [c for c in comments.values() if c.in_reply_to == top]
    assert len(children) == reply_count(0, 0)
    for row in comments.values():
        _, versions, _ = rt.index.history(row.post_id)
        assert "<a " not in versions[-1].text
    text = rt.index.history(comments[top].post_id)[1][-1].text
    assert text == f"Comment 1: useful briefing, see {api_root(sim, 'www.usgs.gov')}/ for more."


def test_a_wrong_key_and_an_unknown_channel_fail_clearly(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", "wrong-key")
    rt = make_runtime(policy(tmp_path, sim, credentials="SIM_YT_KEY"))
    wrong = capture_account(rt, ACCOUNT)
    assert wrong.status == "failed" and wrong.error and "400" in wrong.error
    assert "API_KEY_INVALID" in wrong.error and "SIM_YT_KEY" in wrong.error
    assert "wrong-key" not in wrong.error
    monkeypatch.setenv("SIM_YT_KEY", KEY)
    rt2 = make_runtime(policy(tmp_path / "b", sim, "UCnobody", credentials="SIM_YT_KEY"))
    unknown = capture_account(rt2, ACCOUNT)
    assert unknown.status == "failed" and unknown.error and "unknown channel" in unknown.error
    rt3 = make_runtime(policy(tmp_path / "c", sim, "UCnobody"))
    no_feed = capture_account(rt3, ACCOUNT)
    assert no_feed.status == "failed" and no_feed.error and "unknown channel" in no_feed.error


def test_a_spent_quota_leaves_the_capture_partial_and_stops_asking(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", LOW_QUOTA_KEY)
    rt = make_runtime(policy(tmp_path, sim, credentials="SIM_YT_KEY", options="{media: false}"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial"
    assert any("quotaExceeded" in p for p in result.problems)
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert ledger["complete_listing"] is False
    assert len(asked(rt, result.capture_id, "commentThreads")) == 1  # no call after the refusal
    assert len(posts(rt, "post")) == 20


def test_paging_through_a_long_uploads_playlist(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", KEY)
    opts = "{media: false, comments: false, max_items: 500}"
    rt = make_runtime(policy(tmp_path, sim, "UCbench120", credentials="SIM_YT_KEY", options=opts))
    result = capture_account(rt, ACCOUNT)
    pages = asked(rt, result.capture_id, "playlistItems")
    assert [p.get("pageToken") for p in pages] == [None, ["P50"], ["P100"]]
    assert all(p["part"] == ["snippet,contentDetails"] and p["maxResults"] == ["50"] for p in pages)
    [lookup] = asked(rt, result.capture_id, "channels")
    assert lookup["part"] == ["snippet,contentDetails"] and lookup["id"] == ["UCbench120"]


def test_a_broken_feed_is_kept_raw_and_never_a_complete_listing(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    sim.inject_fault("www.youtube.com/feeds/videos.xml", "html")
    rt = make_runtime(policy(tmp_path, sim, options="{media: false}"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial" and any("channel feed" in p for p in result.problems)
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is False


@pytest.mark.parametrize("kind", ["malformed", "500"])
def test_a_failing_uploads_page_leaves_the_listing_incomplete(
    make_runtime: MakeRuntime,
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    monkeypatch.setenv("SIM_YT_KEY", KEY)
    opts = "{media: false, comments: false}"
    rt = make_runtime(policy(tmp_path, sim, credentials="SIM_YT_KEY", options=opts))
    sim.inject_fault("www.googleapis.com/youtube/v3/playlistItems", kind, count=fault_repeats(kind))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial" and any("uploads page" in p for p in result.problems)
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is False

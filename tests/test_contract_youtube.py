"""The YouTube connector against real Data API v3 answers: every recording in
``corpus/youtube/data-api/`` (python-youtube's recorded responses) served at the real API paths
(``/youtube/v3/channels``, ``playlistItems``, ``videos``, ``commentThreads``, ``comments``), the
real capture run against them, and what it indexed compared with values read from the recordings.

The recordings come from separate captures (the playlist's videos are not the videos looked up,
the comment replies belong to a thread of another video), so a few answers the API gives around
them are written here in the documented shape, each marked as such."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.connectors.api import parse_time
from archiver.capture.connectors.base import DeletionProbe
from archiver.capture.connectors.youtube import YouTubeConnector, best_thumbnail
from archiver.capture.http import HttpClient
from archiver.capture.job import capture_account
from archiver.policy.model import Account, Schedule
from archiver.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.corpus_replay import ReplayServer, ReplaySession
from tests.platforms import ACCOUNT, options_text, platform_policy, posts, utc

KEY = "replay-youtube-key"
RECORDINGS = (
    "channels__info.json",
    "channels__info_multiple.json",
    "comment_threads__comment_threads_multi.json",
    "comments__comments_by_parent_paged_1.json",
    "error_response.json",
    "playlist_items__playlist_items_multi.json",
    "videos__videos_info_multi.json",
)
V3 = "/youtube/v3"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLAY_YT_KEY", KEY)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def path(corpus: Path, name: str) -> Path:
    return corpus / "youtube" / "data-api" / name


def recorded(corpus: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path(corpus, name).read_text(encoding="utf-8"))
    return data


def documented(**body: Any) -> bytes:
    """An answer written here in the API's documented shape (no recording of it exists)."""
    return json.dumps(body).encode()


def api_error(status: int, reason: str, message: str, domain: str = "global") -> bytes:
    entry = {"message": message, "domain": domain, "reason": reason}
    return documented(error={"code": status, "message": message, "errors": [entry]})


def policy(tmp_path: Path, server: ReplayServer, handle: str, **options: str) -> Path:
    opts = {"media": "false", "comments": "false", **options}
    text = options_text(**opts)
    return platform_policy(
        tmp_path / "policies",
        "youtube",
        handle=handle,
        base_url=server.base_url,
        credentials="REPLAY_YT_KEY",
        options=text,
    )


def indexed(rt: Runtime, kind: str) -> dict[str, dict[str, Any]]:
    out = {}
    for row in posts(rt, kind):
        _, versions, _ = rt.index.history(row.post_id)
        out[row.native_id] = {
            "url": row.url,
            "title": versions[-1].title,
            "text": versions[-1].text,
            "author": row.author,
            "published_at": utc(row.published_at),
            "in_reply_to": row.in_reply_to,
        }
    return out


def expected_videos(page: dict[str, Any], web: str) -> dict[str, dict[str, Any]]:
    """What the recorded ``videos.list`` answer says of each video."""
    return {
        v["id"]: {
            "url": f"{web}/watch?v={v['id']}",
            "title": v["snippet"]["title"],
            "text": v["snippet"]["description"],
            "author": v["snippet"]["channelTitle"],
            "published_at": parse_time(v["snippet"]["publishedAt"]),
            "in_reply_to": None,
        }
        for v in page["items"]
    }


def expected_comment(
    item: dict[str, Any], video: str | None, parent: str, web: str
) -> dict[str, Any]:
    """What a recorded comment says of itself; ``video``: the one its answer names (a reply
    from comments.list names none, so it has no watch URL)."""
    s = item["snippet"]
    return {
        "url": f"{web}/watch?v={video}&lc={item['id']}" if video else None,
        "title": None,
        "text": s["textOriginal"],
        "author": s["authorDisplayName"],
        "published_at": parse_time(s["publishedAt"]),
        "in_reply_to": parent,
    }


def widest(thumbnails: dict[str, Any]) -> str:
    url: str = max(thumbnails.values(), key=lambda t: t["width"])["url"]
    return url


def test_recorded_channel_uploads_videos_comment_pages_and_replies(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    channel = recorded(corpus, "channels__info.json")["items"][0]
    assert "contentDetails" not in channel  # recorded with part=snippet only
    uploads = "UU" + channel["id"][2:]  # the documented uploads playlist of a UC channel
    playlist = recorded(corpus, "playlist_items__playlist_items_multi.json")
    videos = recorded(corpus, "videos__videos_info_multi.json")
    threads = recorded(corpus, "comment_threads__comment_threads_multi.json")
    replies = recorded(corpus, "comments__comments_by_parent_paged_1.json")
    listed = [i["snippet"]["resourceId"]["videoId"] for i in playlist["items"]]
    assert all("contentDetails" not in i for i in playlist["items"])  # part=snippet
    server.add_json("GET", f"{V3}/channels", path(corpus, "channels__info.json"))
    server.add_json(
        "GET",
        f"{V3}/playlistItems",
        path(corpus, "playlist_items__playlist_items_multi.json"),
        query={"playlistId": uploads},
    )
    server.add_json(
        "GET",
        f"{V3}/videos",
        path(corpus, "videos__videos_info_multi.json"),
        query={"id": ",".join(listed)},
    )
    commented, closed = (v["id"] for v in videos["items"])
    assert {t["snippet"]["videoId"] for t in threads["items"]} == {commented}
    # page 1 of the thread listing: a thread whose replies are the recorded comments.list page
    # (documented shape; its totalReplyCount exceeds the replies it inlines)
    parent = replies["items"][0]["snippet"]["parentId"]
    top = {
        "kind": "youtube#comment",
        "id": parent,
        "snippet": {
            "videoId": commented,
            "textDisplay": "first",
            "textOriginal": "first",
            "authorDisplayName": "kun liu",
            "publishedAt": "2019-12-01T04:40:00Z",
            "updatedAt": "2019-12-01T04:40:00Z",
        },
    }
    thread = {
        "kind": "youtube#commentThread",
        "id": parent,
        "snippet": {"videoId": commented, "topLevelComment": top, "totalReplyCount": 3},
    }
    page1 = documented(kind="youtube#commentThreadListResponse", nextPageToken="T2", items=[thread])
    server.add_json("GET", f"{V3}/commentThreads", page1, query={"videoId": commented})
    server.add_json(
        "GET",
        f"{V3}/commentThreads",
        path(corpus, "comment_threads__comment_threads_multi.json"),
        query={"videoId": commented, "pageToken": "T2"},
    )
    disabled = api_error(
        403,
        "commentsDisabled",
        "The video identified by the videoId parameter has disabled comments.",
        "youtube.commentThread",
    )
    server.add_json("GET", f"{V3}/commentThreads", disabled, status=403, query={"videoId": closed})
    server.add_json(
        "GET",
        f"{V3}/comments",
        path(corpus, "comments__comments_by_parent_paged_1.json"),
        query={"parentId": parent},
    )
    last = documented(kind="youtube#commentListResponse", items=[])  # the documented last page
    server.add_json(
        "GET",
        f"{V3}/comments",
        last,
        query={"parentId": parent, "pageToken": replies["nextPageToken"]},
    )
    rt = make_runtime(policy(tmp_path, server, channel["id"], comments="true"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems  # comments turned off: noted, not a problem
    web = server.base_url
    assert indexed(rt, "post") == expected_videos(videos, web)
    want = {parent: expected_comment(top, commented, commented, web)}
    for t in threads["items"]:
        comment = t["snippet"]["topLevelComment"]
        want[comment["id"]] = expected_comment(comment, t["snippet"]["videoId"], commented, web)
    for reply in replies["items"]:
        s = reply["snippet"]
        want[reply["id"]] = expected_comment(reply, s.get("videoId"), s["parentId"], web)
    assert indexed(rt, "comment") == want
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is True
    # what was asked, and how the pages were followed
    [lookup] = server.requests_to(f"{V3}/channels")
    assert lookup.query["part"] == ["snippet,contentDetails"]
    assert lookup.query["id"] == [channel["id"]]
    [page] = server.requests_to(f"{V3}/playlistItems")
    assert page.query["part"] == ["snippet,contentDetails"] and page.query["maxResults"] == ["50"]
    assert "pageToken" not in page.query  # the recorded page has no nextPageToken
    [batch] = server.requests_to(f"{V3}/videos")
    assert batch.query["id"] == [",".join(listed)]
    assert batch.query["part"] == ["snippet,contentDetails,statistics"]
    asked = server.requests_to(f"{V3}/commentThreads")
    assert [(r.query["videoId"][0], r.query.get("pageToken")) for r in asked] == [
        (commented, None),
        (commented, ["T2"]),
        (closed, None),
    ]
    for r in asked:
        assert r.query["part"] == ["snippet,replies"] and r.query["maxResults"] == ["100"]
        assert r.query["textFormat"] == ["plainText"]
    pages = server.requests_to(f"{V3}/comments")
    assert [r.query.get("pageToken") for r in pages] == [None, [replies["nextPageToken"]]]
    assert all(r.query["parentId"] == [parent] for r in pages)
    assert all(r.query["part"] == ["snippet"] for r in pages)
    assert all(r.query["key"] == [KEY] for r in server.received)


def test_recorded_content_details_name_the_uploads_playlist_of_the_right_channel(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    answer = recorded(corpus, "channels__info_multiple.json")
    second = answer["items"][1]  # not the first item: the one whose id was asked
    server.add_json("GET", f"{V3}/channels", path(corpus, "channels__info_multiple.json"))
    uploads = second["contentDetails"]["relatedPlaylists"]["uploads"]
    server.add_json(
        "GET",
        f"{V3}/playlistItems",
        documented(kind="youtube#playlistItemListResponse", items=[]),
        query={"playlistId": uploads},
    )
    rt = make_runtime(policy(tmp_path, server, second["id"]))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    [page] = server.requests_to(f"{V3}/playlistItems")
    assert page.query["playlistId"] == [uploads]
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is True


def test_recorded_thumbnails_are_the_media_and_are_fetched(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    videos = recorded(corpus, "videos__videos_info_multi.json")
    account = Account(ACCOUNT, "Agency", "youtube", "social", Schedule("PT1H"), handle="UCx")  # type: ignore[arg-type]
    found = YouTubeConnector().posts_from_response(
        account,
        "https://www.googleapis.com/youtube/v3/videos",
        "application/json",
        path(corpus, "videos__videos_info_multi.json").read_bytes(),
        None,
    )
    assert [p.media for p in found] == [
        (widest(v["snippet"]["thumbnails"]),) for v in videos["items"]
    ]
    assert [best_thumbnail(v["snippet"]["thumbnails"]) for v in videos["items"]] == [
        videos["items"][0]["snippet"]["thumbnails"]["maxres"]["url"],
        videos["items"][1]["snippet"]["thumbnails"]["standard"]["url"],  # no maxres recorded
    ]


def test_recorded_comment_answers_are_read_like_listing_pages(corpus: Path) -> None:
    account = Account(ACCOUNT, "Agency", "youtube", "social", Schedule("PT1H"), handle="UCx")  # type: ignore[arg-type]
    web = "https://www.youtube.com"
    connector = YouTubeConnector()
    threads = recorded(corpus, "comment_threads__comment_threads_multi.json")
    found = connector.posts_from_response(
        account,
        "https://www.googleapis.com/youtube/v3/commentThreads",
        "application/json",
        path(corpus, "comment_threads__comment_threads_multi.json").read_bytes(),
        None,
    )
    assert [p.native_id for p in found] == [
        t["snippet"]["topLevelComment"]["id"] for t in threads["items"]
    ]
    for post, t in zip(found, threads["items"], strict=True):
        video = t["snippet"]["videoId"]
        assert post.in_reply_to == video and post.kind == "comment"
        assert post.text == t["snippet"]["topLevelComment"]["snippet"]["textOriginal"]
        assert post.url == f"{web}/watch?v={video}&lc={post.native_id}"
    replies = recorded(corpus, "comments__comments_by_parent_paged_1.json")
    found = connector.posts_from_response(
        account,
        "https://www.googleapis.com/youtube/v3/comments",
        "application/json",
        path(corpus, "comments__comments_by_parent_paged_1.json").read_bytes(),
        None,
    )
    assert [(p.native_id, p.in_reply_to, p.author, p.published_at) for p in found] == [
        (
            r["id"],
            r["snippet"]["parentId"],
            r["snippet"]["authorDisplayName"],
            parse_time(r["snippet"]["publishedAt"]),
        )
        for r in replies["items"]
    ]
    # listings that hold no posts themselves
    for name in ("playlist_items__playlist_items_multi.json", "channels__info.json"):
        assert (
            connector.posts_from_response(
                account,
                "https://www.googleapis.com/youtube/v3/x",
                "application/json",
                path(corpus, name).read_bytes(),
                None,
            )
            == []
        )


def test_recorded_key_error_ends_the_capture_with_the_remedy(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    error = recorded(corpus, "error_response.json")["error"]
    server.add_json(
        "GET", f"{V3}/channels", path(corpus, "error_response.json"), status=error["code"]
    )
    rt = make_runtime(policy(tmp_path, server, "UC_x5XG1OV2P6uZZ5FSM9Ttw"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error
    assert error["errors"][0]["reason"] in result.error and str(error["code"]) in result.error
    assert "REPLAY_YT_KEY" in result.error and "Google Cloud console" in result.error
    assert KEY not in result.error


def test_a_spent_quota_leaves_the_listing_incomplete(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    server.add_json("GET", f"{V3}/channels", path(corpus, "channels__info_multiple.json"))
    quota = api_error(
        403,
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your quota.",
        "youtube.quota",
    )
    server.add_json("GET", f"{V3}/playlistItems", quota, status=403)
    rt = make_runtime(policy(tmp_path, server, "UC_x5XG1OV2P6uZZ5FSM9Ttw"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial" and any("quotaExceeded" in p for p in result.problems)
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is False
    assert not server.requests_to(f"{V3}/videos")


def test_a_page_whose_items_name_no_video_is_never_a_complete_listing(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    page = recorded(corpus, "playlist_items__playlist_items_multi.json")
    for item in page["items"]:
        del item["snippet"]["resourceId"]  # as an answer asked with part=id,status would be
    server.add_json("GET", f"{V3}/channels", path(corpus, "channels__info_multiple.json"))
    server.add_json("GET", f"{V3}/playlistItems", json.dumps(page).encode())
    rt = make_runtime(policy(tmp_path, server, "UC_x5XG1OV2P6uZZ5FSM9Ttw"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial" and any("name no video id" in p for p in result.problems)
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is False


def probe(server: ReplayServer, native_id: str) -> DeletionProbe | None:
    account = Account(
        ACCOUNT,
        "Agency",
        "youtube",  # type: ignore[arg-type]
        "social",
        Schedule("PT1H"),
        handle="UC_x5XG1OV2P6uZZ5FSM9Ttw",
        base_url=server.base_url,
        credentials="REPLAY_YT_KEY",
    )
    with HttpClient(allow_private=True) as http:
        session = ReplaySession(http)
        return YouTubeConnector().probe_deletion(account, session, native_id, None)  # type: ignore[arg-type]


def test_recorded_video_lookup_says_the_video_is_still_there(
    server: ReplayServer, corpus: Path
) -> None:
    video = recorded(corpus, "videos__videos_info_multi.json")["items"][0]
    server.add_json(
        "GET",
        f"{V3}/videos",
        path(corpus, "videos__videos_info_multi.json"),
        query={"id": video["id"], "part": "id"},
    )
    found = probe(server, video["id"])
    assert found is not None and found.deleted is False and found.record_id
    [asked] = server.requests_to(f"{V3}/videos")
    assert asked.query["part"] == ["id"] and asked.query["key"] == [KEY]


def test_an_empty_lookup_confirms_a_deletion_and_errors_say_nothing(
    server: ReplayServer, corpus: Path
) -> None:
    empty = documented(
        kind="youtube#videoListResponse",
        items=[],
        pageInfo={"totalResults": 0, "resultsPerPage": 0},
    )
    server.add_json("GET", f"{V3}/videos", empty, query={"id": "gone0000000"})
    gone = probe(server, "gone0000000")
    assert gone is not None and gone.deleted is True and "no item" in gone.detail
    server.add_json(
        "GET",
        f"{V3}/videos",
        path(corpus, "error_response.json"),
        status=400,
        query={"id": "badkey00000"},
    )
    assert probe(server, "badkey00000") is None
    assert probe(server, "unknown0000") is None  # the replay server's 404: not YouTube's answer


def test_every_recording_is_used(corpus: Path) -> None:
    assert sorted(p.name for p in (corpus / "youtube").iterdir()) == ["data-api"]
    assert sorted(p.name for p in (corpus / "youtube" / "data-api").iterdir()) == sorted(RECORDINGS)
    for name in RECORDINGS:
        data = recorded(corpus, name)
        assert "error" in data if name == "error_response.json" else "items" in data

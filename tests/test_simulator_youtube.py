"""The simulated YouTube keeps the real contract: ``part`` selects what is returned (an unknown
part is a 400 ``unknownPart``), ``maxResults`` keeps its documented range per method, page tokens,
key errors, comments turned off, the JSON 404 for unknown paths, thumbnails in the feed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archiver.simulator import Simulator
from archiver.simulator.platforms.youtube import CHANNEL, INLINE_REPLIES, KEY, _vid, reply_count
from tests.test_simulator import fetch

UPLOADS = "UU" + CHANNEL[2:]


def get(sim: Simulator, path: str, key: str | None = KEY) -> tuple[int, Any]:
    sep = "&" if "?" in path else "?"
    url = f"https://www.googleapis.com/youtube/v3/{path}" + (f"{sep}key={key}" if key else "")
    reply = fetch(sim.url_for(url))
    assert reply.headers["Content-Type"].startswith("application/json"), path
    return reply.status, json.loads(reply.body)


def reason(body: dict[str, Any]) -> str:
    error = body["error"]
    assert set(error) >= {"code", "message", "errors"}
    value: str = error["errors"][0]["reason"]
    return value


def test_only_the_parts_asked_are_returned(sim: Simulator) -> None:
    status, page = get(sim, f"playlistItems?part=contentDetails&playlistId={UPLOADS}")
    assert status == 200 and len(page["items"]) == 5  # the documented default
    assert all(set(i) == {"kind", "etag", "id", "contentDetails"} for i in page["items"])
    status, page = get(sim, f"videos?part=id&id={_vid(CHANNEL, 3)}")
    assert status == 200 and set(page["items"][0]) == {"kind", "etag", "id"}
    status, page = get(sim, f"channels?part=snippet&id={CHANNEL}")
    assert "contentDetails" not in page["items"][0] and page["items"][0]["snippet"]["title"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"videos?id={_vid(CHANNEL, 3)}", "required"),
        (f"videos?part=snippet,bogus&id={_vid(CHANNEL, 3)}", "unknownPart"),
        (f"playlistItems?part=id&playlistId={UPLOADS}&maxResults=51", "invalidParameter"),
        (f"playlistItems?part=id&playlistId={UPLOADS}&maxResults=-1", "invalidParameter"),
        (f"videos?part=id&id={_vid(CHANNEL, 3)}&maxResults=0", "invalidParameter"),
        (f"commentThreads?part=id&videoId={_vid(CHANNEL, 4)}&maxResults=0", "invalidParameter"),
        (f"commentThreads?part=id&videoId={_vid(CHANNEL, 4)}&maxResults=101", "invalidParameter"),
        ("comments?part=id&parentId=x&maxResults=101", "invalidParameter"),
        (f"playlistItems?part=id&playlistId={UPLOADS}&pageToken=nonsense", "invalidPageToken"),
        ("playlistItems?part=id&playlistId=UUnobody", "playlistNotFound"),
        ("commentThreads?part=id&videoId=nosuchvideo", "videoNotFound"),
        (f"commentThreads?part=id&videoId={_vid(CHANNEL, 2)}", "commentsDisabled"),
        ("comments?part=snippet", "missingRequiredParameter"),
        ("search?part=snippet&q=x", "notFound"),
    ],
)
def test_contract_violations_answer_the_api_error_shape(
    sim: Simulator, path: str, expected: str
) -> None:
    status, body = get(sim, path)
    assert reason(body) == expected and body["error"]["code"] == status >= 400


def test_limits_at_their_edges_are_accepted(sim: Simulator) -> None:
    assert get(sim, f"playlistItems?part=id&playlistId={UPLOADS}&maxResults=0")[0] == 200
    assert get(sim, f"playlistItems?part=id&playlistId={UPLOADS}&maxResults=50")[0] == 200
    status, page = get(sim, f"commentThreads?part=id&videoId={_vid(CHANNEL, 0)}&maxResults=100")
    assert status == 200 and len(page["items"]) == 100 and page["nextPageToken"]


def test_threads_inline_some_replies_and_comments_list_has_them_all(sim: Simulator) -> None:
    video = _vid(CHANNEL, 4)
    _, page = get(sim, f"commentThreads?part=snippet,replies&videoId={video}")
    busy = next(t for t in page["items"] if t["snippet"]["totalReplyCount"] > INLINE_REPLIES)
    assert len(busy["replies"]["comments"]) == INLINE_REPLIES
    _, replies = get(sim, f"comments?part=snippet&parentId={busy['id']}&maxResults=100")
    assert len(replies["items"]) == busy["snippet"]["totalReplyCount"] == reply_count(4, 0)
    assert {r["snippet"]["parentId"] for r in replies["items"]} == {busy["id"]}
    _, one = get(sim, f"comments?part=id&id={replies['items'][0]['id']}")
    assert [c["id"] for c in one["items"]] == [replies["items"][0]["id"]]


def test_keys_are_checked_with_the_real_errors(sim: Simulator) -> None:
    status, body = get(sim, f"channels?part=id&id={CHANNEL}", key=None)
    assert status == 403 and reason(body) == "forbidden"
    status, body = get(sim, f"channels?part=id&id={CHANNEL}", key="wrong")
    assert status == 400 and reason(body) == "badRequest"
    assert body["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_an_unknown_channel_has_no_items_and_unknown_paths_are_json_404s(sim: Simulator) -> None:
    status, body = get(sim, "channels?part=id&id=UCnobody")
    assert status == 200 and "items" not in body and body["pageInfo"]["totalResults"] == 0
    reply = fetch(sim.url_for("https://www.googleapis.com/youtube/v4/videos"))
    assert reply.status == 404 and json.loads(reply.body)["error"]["code"] == 404


def test_the_feed_names_a_thumbnail_per_video(sim: Simulator) -> None:
    url = f"https://www.youtube.com/feeds/videos.xml?channel_id={CHANNEL}"
    reply = fetch(sim.url_for(url))
    assert reply.status == 200 and reply.body.count(b"<media:thumbnail ") == 15

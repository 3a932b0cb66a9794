"""python-youtube, a maintained Python client of the YouTube Data API v3, parses every simulated
answer the connector relies on: the channel lookup (uploads playlist), the uploads playlist pages
(nextPageToken), the videos batch, comment thread pages with inlined replies, replies by
parentId with their pages, the deletion lookup, and the API's error shape."""

from __future__ import annotations

from typing import Any

import pytest

from archiver.capture.connectors.youtube import (
    CHANNEL_PARTS,
    COMMENT_PARTS,
    PLAYLIST_PARTS,
    THREAD_PARTS,
    VIDEO_PARTS,
)
from archiver.simulator import Simulator
from archiver.simulator.platforms.youtube import (
    CHANNEL,
    INLINE_REPLIES,
    KEY,
    NO_COMMENTS,
    _live,
    _vid,
    reply_count,
    thread_count,
)
from tests.platforms import api_root

pyyoutube = pytest.importorskip("pyyoutube")


@pytest.fixture
def client(sim: Simulator) -> Any:
    made = pyyoutube.Client(api_key=KEY)
    # the client builds every URL on its BASE_URL attribute: point this instance at the simulator
    made.BASE_URL = api_root(sim, "www.googleapis.com") + "/youtube/v3/"
    made.session.trust_env = False  # no proxies from the environment: loopback only
    return made


def test_channel_lookup_names_the_uploads_playlist(client: Any) -> None:
    answer = client.channels.list(parts=CHANNEL_PARTS, channel_id=CHANNEL)
    [channel] = answer.items
    assert channel.id == CHANNEL and channel.snippet.title == "USGS (synthetic)"
    assert channel.contentDetails.relatedPlaylists.uploads == "UU" + CHANNEL[2:]
    assert channel.statistics is None  # not asked, not sent
    nobody = client.channels.list(parts="id", channel_id="UCnobody", return_json=True)
    assert "items" not in nobody and nobody["pageInfo"]["totalResults"] == 0


def test_uploads_playlist_pages_follow_next_page_token(client: Any) -> None:
    playlist, token, seen = "UU" + CHANNEL[2:], None, []
    pages = 0
    while True:
        page = client.playlistItems.list(
            parts=PLAYLIST_PARTS, playlist_id=playlist, max_results=7, page_token=token
        )
        pages += 1
        for item in page.items:
            assert item.contentDetails.videoId == item.snippet.resourceId.videoId
            seen.append(item.contentDetails.videoId)
        token = page.nextPageToken
        if not token:
            break
    assert pages == 3 and seen == [_vid(CHANNEL, i) for i in _live(CHANNEL, 1)]
    assert page.pageInfo.totalResults == len(seen)


def test_videos_batch_gives_snippets_thumbnails_and_statistics(client: Any) -> None:
    ids = [_vid(CHANNEL, i) for i in _live(CHANNEL, 1)]
    answer = client.videos.list(parts=VIDEO_PARTS, video_id=",".join(ids))
    assert [v.id for v in answer.items] == ids
    newest = answer.items[0]
    assert newest.snippet.title == "Hazards briefing 19" and newest.snippet.channelId == CHANNEL
    assert newest.snippet.thumbnails.high.url.endswith(f"/vi/{ids[0]}/hqdefault.jpg")
    assert newest.contentDetails.duration.startswith("PT")
    assert newest.statistics.viewCount == 120  # the API sends "120"; the client reads a number
    assert newest.player is None  # not asked
    gone = client.videos.list(parts="id", video_id="vgone000000")
    assert gone.items == [] and gone.pageInfo.totalResults == 0


def test_comment_threads_page_and_inline_some_replies(client: Any) -> None:
    video, token, threads = _vid(CHANNEL, 0), None, []
    while True:
        page = client.commentThreads.list(
            parts=THREAD_PARTS,
            video_id=video,
            max_results=100,
            text_format="plainText",
            page_token=token,
        )
        threads.extend(page.items)
        token = page.nextPageToken
        if not token:
            break
    assert len(threads) == thread_count(0)
    busy = next(t for t in threads if t.snippet.totalReplyCount == reply_count(0, 0))
    top = busy.snippet.topLevelComment
    assert top.snippet.textDisplay == top.snippet.textOriginal  # plainText asked
    assert top.snippet.authorChannelId.value.startswith("UC")
    assert len(busy.replies.comments) == INLINE_REPLIES < busy.snippet.totalReplyCount
    html = client.commentThreads.list(parts="snippet", video_id=video, max_results=1)
    [first] = html.items
    shown = first.snippet.topLevelComment.snippet.textDisplay  # html, the default
    assert '<a href="' in shown and "/www.usgs.gov/</a>" in shown
    assert first.replies is None  # replies not asked


def test_replies_by_parent_id_page_through_every_reply(client: Any) -> None:
    parent = f"Ug{_vid(CHANNEL, 0)}0000AaABAg"
    token, replies = None, []
    while True:
        page = client.comments.list(
            parts=COMMENT_PARTS,
            parent_id=parent,
            max_results=100,
            text_format="plainText",
            page_token=token,
        )
        replies.extend(page.items)
        token = page.nextPageToken
        if not token:
            break
    assert len(replies) == reply_count(0, 0) > 100
    assert {r.snippet.parentId for r in replies} == {parent}
    assert len({r.id for r in replies}) == len(replies)


def test_errors_come_in_the_api_shape(client: Any) -> None:
    with pytest.raises(pyyoutube.PyYouTubeException) as disabled:
        client.commentThreads.list(parts="snippet", video_id=_vid(CHANNEL, NO_COMMENTS))
    assert disabled.value.status_code == 403
    body = disabled.value.response.json()["error"]
    assert body["errors"][0]["reason"] == "commentsDisabled"
    with pytest.raises(pyyoutube.PyYouTubeException) as limit:
        client.playlistItems.list(parts="id", playlist_id="UU" + CHANNEL[2:], max_results=51)
    assert limit.value.status_code == 400
    assert limit.value.response.json()["error"]["errors"][0]["reason"] == "invalidParameter"
    # the client refuses an unknown part itself: send it through its raw request
    asked = client.request("videos", params={"part": "snippets", "id": _vid(CHANNEL, 1)})
    with pytest.raises(pyyoutube.PyYouTubeException) as part:
        client.parse_response(asked)
    assert part.value.status_code == 400
    assert part.value.response.json()["error"]["errors"][0]["reason"] == "unknownPart"
    wrong = pyyoutube.Client(api_key="wrong-key")
    wrong.BASE_URL, wrong.session.trust_env = client.BASE_URL, False
    with pytest.raises(pyyoutube.PyYouTubeException) as refused:
        wrong.channels.list(parts="id", channel_id=CHANNEL)
    assert refused.value.status_code == 400
    assert "API key not valid" in (refused.value.message or "")

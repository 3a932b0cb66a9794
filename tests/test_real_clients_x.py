"""tweepy, the reference Python client of X API v2, parses every simulated answer the connector
relies on: the user lookup, the timeline with its expansions and pages, the reply search and its
pages, the tweet lookup (found, and "Not Found" inside HTTP 200), and X's 400 error shape."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from archiver.capture.connectors.x import EXPANSIONS, MEDIA_FIELDS, TWEET_FIELDS, USER_FIELDS
from archiver.simulator import Simulator
from archiver.simulator.platforms.x import TOKEN, _nws, _tid
from tests.platforms import api_root

tweepy = pytest.importorskip("tweepy")
REAL_HOST = "https://api.twitter.com"  # tweepy's Client.request builds every URL on it


class SimulatorSession(requests.Session):
    """A requests session that sends tweepy's ``https://api.twitter.com`` calls to the
    simulator (tweepy has no base-URL setting; its ``session`` attribute is the seam)."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = root
        self.trust_env = False  # no proxies from the environment: loopback only

    def request(self, method: str, url: str | bytes, *args: Any, **kw: Any) -> Any:
        target = str(url)
        assert target.startswith(REAL_HOST), target
        return super().request(method, self.root + target.removeprefix(REAL_HOST), *args, **kw)


@pytest.fixture
def client(sim: Simulator) -> Any:
    made = tweepy.Client(bearer_token=TOKEN)
    made.session = SimulatorSession(api_root(sim, "api.twitter.com"))
    return made


FIELDS: dict[str, Any] = {
    "tweet_fields": TWEET_FIELDS.split(","),
    "expansions": EXPANSIONS.split(","),
    "media_fields": MEDIA_FIELDS.split(","),
    "user_fields": USER_FIELDS.split(","),
}


def test_user_lookup_and_timeline_with_expansions(client: Any) -> None:
    user = client.get_user(username="USGS").data
    assert isinstance(user, tweepy.User) and user.username == "USGS" and user.id == 9000030
    page = client.get_users_tweets(user.id, max_results=100, **FIELDS)
    assert len(page.data) == 30 and all(isinstance(t, tweepy.Tweet) for t in page.data)
    assert page.meta["result_count"] == 30 and "next_token" not in page.meta
    tweets = {t.id: t for t in page.data}
    repost = tweets[int(_tid("USGS", 3))]
    assert repost.referenced_tweets[0].type == "retweeted"
    boosted = {t.id: t for t in page.includes["tweets"]}[int(_nws(3)["id"])]
    assert boosted.text == _nws(3)["text"] and boosted.author_id == 9500001
    assert {u.username for u in page.includes["users"]} == {"USGS", "NWS"}
    media = {m.media_key: m for m in page.includes["media"]}
    assert {m.type for m in media.values()} == {"photo", "video", "animated_gif"}
    video = next(m for m in media.values() if m.type == "video")
    assert video.preview_image_url and len(video.variants) == 4
    assert max(v.get("bit_rate", 0) for v in video.variants) == 2176000
    photo = next(m for m in media.values() if m.type == "photo")
    assert photo.url.endswith(".jpg") and photo.alt_text
    assert all(t.created_at is not None and t.edit_history_tweet_ids for t in page.data)


def test_timeline_and_reply_search_page_with_tweepy_paginator(client: Any) -> None:
    timeline = list(
        tweepy.Paginator(client.get_users_tweets, 9000030, max_results=20, **FIELDS).flatten()
    )
    assert len(timeline) == 30 and len({t.id for t in timeline}) == 30
    root = _tid("USGS", 0)
    pages = list(
        tweepy.Paginator(
            client.search_recent_tweets,
            f"conversation_id:{root}",
            max_results=100,
            **FIELDS,
        )
    )
    assert [len(p.data) for p in pages] == [100, 5]
    assert "next_token" in pages[0].meta and "next_token" not in pages[1].meta
    replies = [t for p in pages for t in p.data]
    assert all(t.conversation_id == int(root) and t.author_id for t in replies)
    assert all(t.referenced_tweets[0].type == "replied_to" for t in replies)
    authors = {u.id: u.username for p in pages for u in p.includes["users"]}
    assert {authors[t.author_id] for t in replies} == {"resident1", "resident2", "resident3"}


def test_tweet_lookup_found_then_not_found_inside_http_200(client: Any, sim: Simulator) -> None:
    tid = _tid("USGS", 26)
    found = client.get_tweet(tid, **FIELDS)
    assert found.data.id == int(tid) and found.errors == []
    sim.advance()
    sim.advance()
    gone = client.get_tweet(tid)
    assert gone.data is None
    [error] = gone.errors
    assert error["title"] == "Not Found Error" and error["resource_id"] == tid
    many = client.get_tweets([_tid("USGS", 25), tid])
    assert [t.id for t in many.data] == [int(_tid("USGS", 25))] and len(many.errors) == 1


def test_invalid_max_results_raises_bad_request_with_x_message(client: Any) -> None:
    with pytest.raises(tweepy.BadRequest) as raised:
        client.search_recent_tweets("conversation_id:1", max_results=5)
    assert raised.value.api_messages == [
        "The `max_results` query parameter value [5] is not between 10 and 100"
    ]
    bad = tweepy.Client(bearer_token="wrong")
    bad.session = client.session
    with pytest.raises(tweepy.Unauthorized):
        bad.get_user(username="USGS")

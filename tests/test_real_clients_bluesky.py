"""The atproto SDK (MarshalX/atproto), whose models are generated from the lexicons and validate
every answer, against the simulated AppView: it must parse each answer the connector relies on
(handle resolution, author feed pages through ``cursor`` with reposts and pins, embeds of every
kind, whole reply threads, getPosts) and raise the XRPC errors the connector reads."""

from __future__ import annotations

import httpx
import pytest

from archiver.capture.connectors.bluesky import FEED_FILTER, PAGE_LIMIT, embed_media
from archiver.simulator import Simulator
from archiver.simulator.platforms import bluesky
from tests.platforms import api_root

atproto = pytest.importorskip("atproto")
from atproto import Client, models  # noqa: E402
from atproto_client.exceptions import BadRequestError, RequestException  # noqa: E402
from atproto_client.models.utils import get_or_create  # noqa: E402


@pytest.fixture
def client(sim: Simulator) -> Client:
    return Client(base_url=api_root(sim, bluesky.APPVIEW))


def did_of(client: Client, handle: str) -> str:
    answer = client.com.atproto.identity.resolve_handle({"handle": handle})
    return str(answer.did)


def whole_feed(client: Client, actor: str, limit: int) -> list[models.AppBskyFeedDefs.FeedViewPost]:
    entries: list[models.AppBskyFeedDefs.FeedViewPost] = []
    cursor = None
    for _ in range(50):
        page = client.app.bsky.feed.get_author_feed(
            {"actor": actor, "limit": limit, "cursor": cursor, "filter": FEED_FILTER}
        )
        entries += page.feed
        cursor = page.cursor
        if not cursor:
            return entries
    raise AssertionError("the cursor never ended")


def test_handle_resolution_and_every_feed_page(client: Client) -> None:
    did = did_of(client, bluesky.USGS)
    assert did == bluesky._did(bluesky.USGS)
    entries = whole_feed(client, did, 7)
    own = [e for e in entries if e.reason is None]
    reposts = [e for e in entries if isinstance(e.reason, models.AppBskyFeedDefs.ReasonRepost)]
    assert len(own) == 25 and len({e.post.uri for e in own}) == 25
    assert len(reposts) == 2 and all(r.reason.by.handle == bluesky.USGS for r in reposts)
    assert all(r.post.author.handle == bluesky.PARTNER for r in reposts)
    assert all(isinstance(e.post.record, models.AppBskyFeedPost.Record) for e in entries)
    bench = whole_feed(client, "bench250.bsky.social", PAGE_LIMIT)
    assert len(bench) == 250


def test_the_first_page_with_pins_and_every_embed_kind(client: Client) -> None:
    page = client.app.bsky.feed.get_author_feed(
        {"actor": bluesky.USGS, "limit": 100, "includePins": True}
    )
    assert isinstance(page.feed[0].reason, models.AppBskyFeedDefs.ReasonPin)
    embeds = {e.post.uri.rsplit("/", 1)[1]: e.post.embed for e in page.feed if e.post.embed}
    D = models  # the SDK's embed view classes, one per lexicon
    assert isinstance(embeds[bluesky._rkey(5)], D.AppBskyEmbedRecord.View)
    with_images = embeds[bluesky._rkey(10)]
    assert isinstance(with_images, D.AppBskyEmbedRecordWithMedia.View)
    assert isinstance(with_images.media, D.AppBskyEmbedImages.View)
    assert isinstance(embeds[bluesky._rkey(15)], D.AppBskyEmbedVideo.View)
    assert isinstance(embeds[bluesky._rkey(20)], D.AppBskyEmbedExternal.View)
    with_video = embeds[bluesky._rkey(22)]
    assert isinstance(with_video.media, D.AppBskyEmbedVideo.View)
    assert embeds[bluesky._rkey(15)].playlist.endswith("/playlist.m3u8")
    # what the connector collects is what the SDK's models say is there
    raw = httpx.get(
        f"{client._base_url}/app.bsky.feed.getAuthorFeed",
        params={"actor": bluesky.USGS, "limit": 100},
    ).json()
    by_rkey = {e["post"]["uri"].rsplit("/", 1)[1]: e["post"] for e in raw["feed"]}
    assert embed_media(by_rkey[bluesky._rkey(22)]["embed"]) == [
        with_video.media.playlist,
        with_video.media.thumbnail,
    ]
    assert embed_media(by_rkey[bluesky._rkey(10)]["embed"]) == [
        i.fullsize for i in with_images.media.images
    ]


def test_feed_and_thread_answers_pass_strict_string_formats(client: Client) -> None:
    """CIDs, AT-URIs, DIDs, handles and datetimes in the simulator's answers are well formed."""
    base = client._base_url
    feed = httpx.get(
        f"{base}/app.bsky.feed.getAuthorFeed", params={"actor": bluesky.USGS, "includePins": "true"}
    ).json()
    get_or_create(feed, models.AppBskyFeedGetAuthorFeed.Response, strict_string_format=True)
    uri = feed["feed"][-1]["post"]["uri"]
    thread = httpx.get(f"{base}/app.bsky.feed.getPostThread", params={"uri": uri}).json()
    get_or_create(thread, models.AppBskyFeedGetPostThread.Response, strict_string_format=True)


def test_a_reply_tree_three_levels_deep_and_the_depth_parameter(client: Client) -> None:
    root = f"at://{bluesky._did(bluesky.USGS)}/app.bsky.feed.post/{bluesky._rkey(8)}"
    thread = client.app.bsky.feed.get_post_thread({"uri": root, "depth": 10}).thread
    assert isinstance(thread, models.AppBskyFeedDefs.ThreadViewPost)
    first, second = thread.replies
    assert first.post.record.reply.parent.uri == root and second.replies == []
    [deeper] = first.replies
    assert deeper.post.record.reply.parent.uri == first.post.uri
    [deepest] = deeper.replies
    assert deepest.post.author.handle == "resident0.bsky.social"
    shallow = client.app.bsky.feed.get_post_thread({"uri": root, "depth": 1}).thread
    assert all(not r.replies for r in shallow.replies) and len(shallow.replies) == 2


def test_get_posts_returns_live_posts_and_omits_deleted_ones(sim: Simulator) -> None:
    client = Client(base_url=api_root(sim, bluesky.APPVIEW))
    did = bluesky._did(bluesky.USGS)
    doomed = f"at://{did}/app.bsky.feed.post/{bluesky._rkey(22)}"
    kept = f"at://{did}/app.bsky.feed.post/{bluesky._rkey(21)}"
    answer = client.app.bsky.feed.get_posts({"uris": [doomed, kept]})
    assert [p.uri for p in answer.posts] == [doomed, kept]
    sim.advance()
    sim.advance()
    assert [p.uri for p in client.app.bsky.feed.get_posts({"uris": [doomed, kept]}).posts] == [kept]


def test_xrpc_errors_reach_the_sdk_in_their_documented_shape(client: Client) -> None:
    for limit in (0, 101):  # the SDK's models refuse these before sending: send them raw
        params = models.AppBskyFeedGetAuthorFeed.Params.model_construct(
            actor=bluesky.USGS, limit=limit
        )
        with pytest.raises(BadRequestError) as bad:
            client.invoke_query("app.bsky.feed.getAuthorFeed", params)
        assert bad.value.response.content.error == "InvalidRequest"
        assert "limit" in bad.value.response.content.message
    with pytest.raises(BadRequestError) as missing:
        client.app.bsky.feed.get_post_thread({"uri": "at://did:plc:nobody/app.bsky.feed.post/x"})
    assert missing.value.response.content.error == "NotFound"
    with pytest.raises(RequestException) as unknown:
        client.app.bsky.feed.get_timeline({})
    assert unknown.value.response.status_code == 501
    assert unknown.value.response.content.error == "MethodNotImplemented"

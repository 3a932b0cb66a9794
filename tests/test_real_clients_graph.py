"""python-facebook-api (``pyfacebook``), the real Graph client, against the simulator: it must
parse every answer the connector relies on (lookup, posts and media pages through
``paging.next``, comments with replies, carousel children, item lookups, Graph errors)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archiver.capture.connectors.graph import (
    DEFAULT_VERSION,
    FB_COMMENT_FIELDS,
    FB_FIELDS,
    IG_COMMENT_FIELDS,
    IG_FIELDS,
)
from archiver.simulator import Simulator
from archiver.simulator.platforms import graph
from tests.platforms import api_root

pyfacebook = pytest.importorskip("pyfacebook")


@pytest.fixture
def sim_url(sim: Simulator) -> Iterator[str]:
    yield f"{api_root(sim, 'graph.facebook.com')}/"


def clients(url: str) -> tuple[object, object]:
    options = {
        "access_token": graph.TOKEN,
        "base_url": url,
        "version": DEFAULT_VERSION,
        "sleep_on_rate_limit": False,
        "timeout": 10,
    }
    return pyfacebook.FacebookApi(**options), pyfacebook.IGBusinessApi(**options)


def test_the_page_lookup_and_its_posts_through_every_page(sim_url: str) -> None:
    fb, _ = clients(sim_url)
    page = fb.get_object(graph.PAGE_NAME, fields="id,name")
    assert page == {"id": graph.PAGE, "name": graph.PAGE_TITLE}
    everything = fb.get_full_connections(graph.PAGE, "posts", count=None, limit=7, fields=FB_FIELDS)
    rows = everything["data"]
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30  # five pages of 7, then 2
    assert all(r["from"] == {"id": graph.PAGE, "name": graph.PAGE_TITLE} for r in rows)
    feed = fb.page.get_posts(graph.PAGE, fields=FB_FIELDS, count=12, limit=5)
    assert len(feed.data) == 12 and feed.data[0].id == rows[0]["id"]
    album = next(p for p in feed.data if p.id == f"{graph.PAGE}_000020")
    [attachment] = album.attachments.data
    assert attachment.media_type == "album" and len(attachment.subattachments.data) == 2
    assert album.full_picture == attachment.media.image.src and album.permalink_url
    assert album.created_time.startswith("2026-")


def test_comments_with_replies_through_every_page(sim_url: str) -> None:
    fb, _ = clients(sim_url)
    post = f"{graph.PAGE}_000012"
    stream = fb.get_full_connections(
        post, "comments", count=None, limit=1, fields=FB_COMMENT_FIELDS, filter="stream"
    )["data"]
    assert len(stream) == 3  # three pages of one
    [reply] = [c for c in stream if "parent" in c]
    assert reply["parent"]["id"] == stream[0]["id"] and stream[0]["comment_count"] == 1
    top = fb.get_connection(post, "comments", fields="id,message")["data"]
    assert [c["id"] for c in top] == [c["id"] for c in stream if "parent" not in c]
    replies = fb.get_connection(stream[0]["id"], "comments", fields="id,from{name}")["data"]
    assert replies == [{"id": reply["id"], "from": {"name": reply["from"]["name"]}}]


def test_instagram_media_children_and_comments(sim_url: str) -> None:
    _, ig = clients(sim_url)
    media = ig.get_full_connections(graph.IG_USER, "media", count=None, limit=6, fields=IG_FIELDS)
    rows = media["data"]
    assert len(rows) == 20 and all(r["username"] == graph.IG_USERNAME for r in rows)
    carousel_id = graph._oid(graph.IG_USER, 1)
    carousel = ig.media.get_info(carousel_id, fields=IG_FIELDS)
    assert carousel.media_type == "CAROUSEL_ALBUM" and len(carousel.children.data) == 3
    video = [c for c in carousel.children.data if c.media_type == "VIDEO"]
    assert len(video) == 1 and video[0].thumbnail_url and video[0].media_url.endswith(".mp4")
    children = ig.media.get_children(carousel_id, fields="id,media_type,media_url")
    assert [c.id for c in children.data] == [c.id for c in carousel.children.data]
    commented = graph._oid(graph.IG_USER, 12)
    comments = ig.media.get_comments(commented, fields=IG_COMMENT_FIELDS, count=None, limit=1)
    assert len(comments.data) == 2 and all(c.username and c.timestamp for c in comments.data)
    assert sum(len(c.replies.data) if c.replies else 0 for c in comments.data) == 1


def test_graph_errors_reach_the_client_as_facebook_errors(sim_url: str) -> None:
    fb, _ = clients(sim_url)
    with pytest.raises(pyfacebook.FacebookError) as missing:
        fb.get_object(f"{graph.PAGE}_999999", fields="id")
    assert missing.value.code == 100 and "does not exist" in missing.value.message
    with pytest.raises(pyfacebook.FacebookError) as limit:
        fb.get_connection(graph.PAGE, "posts", limit=500)
    assert limit.value.code == 100
    bad = pyfacebook.GraphAPI(access_token="wrong", base_url=sim_url, version=DEFAULT_VERSION)
    with pytest.raises(pyfacebook.FacebookError) as token:
        bad.get_object(graph.PAGE, fields="id")
    assert token.value.code == 190

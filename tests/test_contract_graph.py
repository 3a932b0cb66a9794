"""The Facebook and Instagram connectors against real Graph API recordings (``corpus/facebook/``,
``corpus/instagram/``) replayed at the real API paths.

Expectations are read from the recorded JSON, never from the connector. Where a recording is not
listing-shaped (a single media, an error), a page around it is written by hand in the documented
``{"data": [...], "paging": {...}}`` shape; the objects inside are the recorded ones. Every host a
recording names (the Graph host, the CDNs, the permalinks) is rewritten to the replay server, so
``paging.next`` comes back to it and media are fetched from it, never from the internet.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from archiver.capture.connectors.api import parse_time
from archiver.capture.connectors.graph import (
    DEFAULT_VERSION,
    FB_COMMENT_FIELDS,
    FB_FIELDS,
    IG_COMMENT_FIELDS,
    IG_FIELDS,
)
from archiver.capture.job import capture_account
from archiver.index.models import PostRow
from archiver.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.corpus_replay import Answer, ReplayServer
from tests.platforms import ACCOUNT, events, platform_policy, posts, stored_bytes

TOKEN = "contract-graph-token"
V = DEFAULT_VERSION
EMPTY = b'{"data":[]}'  # a last page, written by hand in the documented shape


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACT_GRAPH_TOKEN", TOKEN)


@pytest.fixture
def server() -> Any:
    with ReplayServer() as replay:
        yield replay


def policy(tmp_path: Path, server: ReplayServer, platform: str, handle: str) -> Path:
    return platform_policy(
        tmp_path / "policies",
        platform,
        handle=f'"{handle}"',
        base_url=server.base_url,
        credentials="CONTRACT_GRAPH_TOKEN",
    )


def serve_hosts(server: ReplayServer, *bodies: bytes) -> None:
    """Rewrite every https host the recordings name to the replay server."""
    hosts = {h for body in bodies for h in re.findall(rb"https://[A-Za-z0-9.-]+", body)}
    for host in sorted(hosts, key=len, reverse=True):
        server.rewrite_host(host.decode())


def replayed(server: ReplayServer, path: Path) -> Any:
    """A recording as the connector reads it from the server (hosts rewritten)."""
    return json.loads(server.rewrite(path.read_bytes(), []))


def serve_media(server: ReplayServer, urls: list[str]) -> None:
    for url in urls:
        path = urlsplit(url).path
        server.add(Answer("GET", path, 200, [("Content-Type", "image/jpeg")], b"\xff\xd8\xff"))


def fb_files(post: dict[str, Any]) -> list[str]:
    """A post's pictures and videos as the Graph documents them."""
    found = [post["full_picture"]] if post.get("full_picture") else []
    for attachment in (post.get("attachments") or {}).get("data", []):
        for part in [attachment, *(attachment.get("subattachments") or {}).get("data", [])]:
            media = part.get("media") or {}
            found += [u for u in ((media.get("image") or {}).get("src"), media.get("source")) if u]
    return list(dict.fromkeys(found))


def ig_files(media: dict[str, Any]) -> list[str]:
    found = []
    for part in [media, *(media.get("children") or {}).get("data", [])]:
        found += [u for u in (part.get("media_url"), part.get("thumbnail_url")) if u]
    return list(dict.fromkeys(found))


def fetched_media(rt: Runtime, capture_id: str) -> list[str]:
    ledger = rt.index.get_capture(capture_id).ledger
    return [e["url"] for e in ledger["exchanges"] if e["purpose"] == "media"]


def by_id(rt: Runtime, kind: str) -> dict[str, PostRow]:
    return {p.native_id: p for p in posts(rt, kind)}


def same_moment(stored: datetime | None, recorded: str | None) -> bool:
    """A stored time (naive ones are UTC, as SQLite keeps them) equals a recorded Graph time."""
    expected = parse_time(recorded)
    if stored is None or expected is None:
        return stored is expected
    return (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) == expected


def latest_text(rt: Runtime, post_id: str) -> str:
    from sqlmodel import select

    from archiver.index.db import session_scope
    from archiver.index.models import PostVersionRow

    with session_scope(rt.index.engine) as s:
        rows = s.exec(select(PostVersionRow).where(PostVersionRow.post_id == post_id)).all()
        return max(rows, key=lambda v: v.version).text


# --- Facebook ---------------------------------------------------------------------------------


def facebook_server(server: ReplayServer, corpus: Path) -> dict[str, Any]:
    """Load the Facebook recordings: lookup, feed p1 → p2 through ``paging.next``, comments p1 on
    the first post (its next page: the documented empty last page), no comments on the others."""
    fb = corpus / "facebook"
    files = [
        fb / n
        for n in (
            "pages__single_fields_page.json",
            "posts__feeds_default_fields_p1.json",
            "posts__feeds_default_fields_p2.json",
            "comments__comments_p1.json",
        )
    ]
    serve_hosts(server, *(f.read_bytes() for f in files))
    page, p1, p2, comments = (replayed(server, f) for f in files)
    server.add_json("GET", f"/{V}/{page['username']}", files[0])
    server.add_json("GET", f"/{V}/{page['id']}/posts", files[1], query={"limit": "100"})
    nxt = urlsplit(p1["paging"]["next"])
    after = parse_qs(nxt.query)["after"][0]
    server.add_json("GET", nxt.path, files[2], query={"after": after})
    first = p1["data"][0]["id"]
    for post in p1["data"] + p2["data"]:
        if post["id"] != first:
            server.add_json("GET", f"/{V}/{post['id']}/comments", EMPTY)
    server.add_json("GET", f"/{V}/{first}/comments", files[3], query={"filter": "stream"})
    comments_next = urlsplit(comments["paging"]["next"])
    server.add_json("GET", comments_next.path, EMPTY)
    listed = p1["data"] + p2["data"]
    serve_media(server, [u for post in listed for u in fb_files(post)])
    return {"page": page, "p1": p1, "p2": p2, "comments": comments, "first": first}


def test_facebook_feed_pages_comments_and_media_match_the_recording(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    rec = facebook_server(server, corpus)
    rt = make_runtime(policy(tmp_path, server, "facebook", rec["page"]["username"]))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems

    # pagination: the lookup's id, then the recorded next link, with our token and fields
    [listing] = server.requests_to(f"/{V}/{rec['page']['id']}/posts")
    assert listing.query["fields"] == [FB_FIELDS] and listing.query["limit"] == ["100"]
    nxt = urlsplit(rec["p1"]["paging"]["next"])
    [second] = server.requests_to(nxt.path)
    assert second.query["access_token"] == [TOKEN]
    assert second.query["after"] == parse_qs(nxt.query)["after"]
    assert "next" not in rec["p2"]["paging"]
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is True

    # posts: every recorded field the index keeps
    listed = rec["p1"]["data"] + rec["p2"]["data"]
    stored = by_id(rt, "post")
    assert set(stored) == {p["id"] for p in listed}
    for post in listed:
        row = stored[post["id"]]
        assert row.url == post.get("permalink_url")
        assert row.author == (post.get("from") or {}).get("name")  # not in this recording
        assert same_moment(row.published_at, post["created_time"])
        assert latest_text(rt, row.post_id) == post.get("message", "")
    media = fetched_media(rt, result.capture_id)
    expected = [u for post in listed for u in fb_files(post)]
    assert sorted(media) == sorted(expected) and len(expected) >= len(listed)

    # comments on the first post: filter=stream with our fields, replies linked by permalink
    [asked] = server.requests_to(f"/{V}/{rec['first']}/comments")
    assert asked.query["fields"] == [FB_COMMENT_FIELDS] and asked.query["filter"] == ["stream"]
    assert len(server.requests_to(urlsplit(rec["comments"]["paging"]["next"]).path)) == 1
    comments = by_id(rt, "comment")
    recorded = rec["comments"]["data"]
    assert len(comments) == len(recorded)
    obj = rec["first"].rsplit("_", 1)[1]
    for c in recorded:
        link = parse_qs(urlsplit(c["permalink_url"]).query)
        own = link.get("reply_comment_id", link["comment_id"])[0]
        row = comments[f"{obj}_{own}"]
        answers = f"{obj}_{link['comment_id'][0]}" if "reply_comment_id" in link else rec["first"]
        assert row.in_reply_to == answers and row.url == c["permalink_url"]
        assert same_moment(row.published_at, c["created_time"])
        assert latest_text(rt, row.post_id) == c["message"]
        assert row.author == (c.get("from") or {}).get("name")
    assert TOKEN.encode() not in stored_bytes(rt)


def test_facebook_deletions_are_confirmed_by_code_100_subcode_33_only(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    rec = facebook_server(server, corpus)
    rt = make_runtime(policy(tmp_path, server, "facebook", rec["page"]["username"]))
    assert capture_account(rt, ACCOUNT).status == "ok"
    # the next listing is page 2 alone: page 1's posts are absent from a complete listing
    server.answers = [a for a in server.answers if not a.path.endswith("/posts")]
    server.add_json(
        "GET",
        f"/{V}/{rec['page']['id']}/posts",
        corpus / "facebook" / "posts__feeds_default_fields_p2.json",
    )
    recorded_error = json.loads((corpus / "facebook" / "error.json").read_bytes())
    gone = {
        "error": {
            **recorded_error["error"],
            "code": 100,
            "error_subcode": 33,
            "type": "GraphMethodException",
            "message": "Unsupported get request. Object with ID does not exist",
        }
    }
    absent = [p["id"] for p in rec["p1"]["data"]]
    server.add_json("GET", f"/{V}/{absent[0]}", json.dumps(gone).encode(), status=400)
    server.add_json("GET", f"/{V}/{absent[1]}", json.dumps({"id": absent[1]}).encode())
    # the recorded (#100) permission error says nothing of the post: its web page is asked
    server.add_json("GET", f"/{V}/{absent[2]}", corpus / "facebook" / "error.json", status=400)
    comment_page = urlsplit(rec["comments"]["data"][0]["permalink_url"]).path
    server.add(Answer("GET", comment_page, 200, [("Content-Type", "text/html")], b"<p>here</p>"))
    for post in rec["p1"]["data"][2:]:
        server.add(
            Answer(
                "GET",
                urlsplit(post["permalink_url"]).path,
                200,
                [("Content-Type", "text/html")],
                b"<!DOCTYPE html><p>still here</p>",
            )
        )
    limited = {
        "error": {
            **recorded_error["error"],
            "code": 4,
            "message": "(#4) Application request limit reached",
        }
    }
    for post_id in absent[3:]:
        server.add_json("GET", f"/{V}/{post_id}", json.dumps(limited).encode(), status=400)
    again = capture_account(rt, ACCOUNT)
    assert again.posts["deleted"] == 1, again.problems
    [event] = events(rt, "deleted_detected")
    assert "100/33" in event.detail and event.evidence_record_id
    assert [p.native_id for p in posts(rt) if p.deleted] == [absent[0]]
    for post_id in absent:
        [probe] = server.requests_to(f"/{V}/{post_id}")
        assert probe.query["fields"] == ["id"] and probe.query["access_token"] == [TOKEN]


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001])
def test_a_graph_rate_limit_stops_the_listing_not_complete(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path, code: int
) -> None:
    rec = facebook_server(server, corpus)
    nxt = urlsplit(rec["p1"]["paging"]["next"]).path
    server.answers = [a for a in server.answers if a.path != nxt]
    shape = json.loads((corpus / "facebook" / "error.json").read_bytes())["error"]
    body = {"error": {**shape, "code": code, "message": f"(#{code}) rate limit reached"}}
    server.add_json("GET", nxt, json.dumps(body).encode(), status=403)
    rt = make_runtime(policy(tmp_path, server, "facebook", rec["page"]["username"]))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial"
    assert any("rate limit" in p and str(code) in p for p in result.problems)
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is False
    assert {p.native_id for p in posts(rt, "post")} == {p["id"] for p in rec["p1"]["data"]}
    assert not server.requests_to(f"/{V}/{rec['first']}/comments")  # backed off


def test_the_recorded_graph_error_and_an_invalid_token_fail_the_lookup(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    recorded = corpus / "facebook" / "error.json"
    err = json.loads(recorded.read_bytes())["error"]
    server.add_json("GET", f"/{V}/somepage", recorded, status=400)
    rt = make_runtime(policy(tmp_path, server, "facebook", "somepage"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error
    assert err["message"] in result.error and f"error {err['code']}" in result.error
    expired = {
        "error": {
            **err,
            "code": 190,
            "error_subcode": 463,
            "message": "Error validating access token: Session has expired",
        }
    }
    server.add_json("GET", f"/{V}/oldpage", json.dumps(expired).encode(), status=400)
    rt = make_runtime(
        policy(tmp_path / "b", server, "facebook", "oldpage"), data_dir=tmp_path / "b-data"
    )
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error
    assert "renew the page/user access token" in result.error
    assert "CONTRACT_GRAPH_TOKEN" in result.error and "190/463" in result.error


# --- Instagram --------------------------------------------------------------------------------


def instagram_server(
    server: ReplayServer, corpus: Path, media: dict[str, Any] | None = None
) -> dict[str, Any]:
    ig = corpus / "instagram"
    files = {
        n: ig / f"{n}.json"
        for n in (
            "users__user_fields",
            "medias__media_default",
            "medias__children",
            "medias__comments_p1",
        )
    }
    serve_hosts(server, *(f.read_bytes() for f in files.values()))
    user = replayed(server, files["users__user_fields"])
    item = replayed(server, files["medias__media_default"])
    if media is not None:  # a hand-trimmed answer, served (and so compared) with hosts rewritten
        item = json.loads(server.rewrite(json.dumps(media).encode(), []))
    server.add_json("GET", f"/{V}/{user['id']}", files["users__user_fields"])
    listing = json.dumps({"data": [item], "paging": {"cursors": {"before": "b", "after": "a"}}})
    server.add_json("GET", f"/{V}/{user['id']}/media", listing.encode())
    server.add_json("GET", f"/{V}/{item['id']}/children", files["medias__children"])
    server.add_json("GET", f"/{V}/{item['id']}/comments", files["medias__comments_p1"])
    comments = replayed(server, files["medias__comments_p1"])
    server.add_json("GET", urlsplit(comments["paging"]["next"]).path, EMPTY)
    children = replayed(server, files["medias__children"])
    serve_media(server, ig_files(item) + ig_files({"children": children}))
    return {"user": user, "item": item, "children": children, "comments": comments}


def test_instagram_media_with_children_match_the_recording(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    rec = instagram_server(server, corpus)
    item = rec["item"]
    rt = make_runtime(policy(tmp_path, server, "instagram", rec["user"]["id"]))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    [asked] = server.requests_to(f"/{V}/{rec['user']['id']}/media")
    assert asked.query["fields"] == [IG_FIELDS]
    [row] = posts(rt, "post")
    assert row.native_id == item["id"] and row.url == item["permalink"]
    assert row.author == item.get("username") and same_moment(row.published_at, item["timestamp"])
    assert latest_text(rt, row.post_id) == item["caption"]
    assert item["media_type"] == "CAROUSEL_ALBUM"
    assert sorted(fetched_media(rt, result.capture_id)) == sorted(ig_files(item))
    assert any(c.get("thumbnail_url") for c in item["children"]["data"])  # a video's cover too
    assert not server.requests_to(f"/{V}/{item['id']}/children")  # asked inline
    assert not server.requests_to(f"/{V}/{item['id']}/comments")  # comments_count 0


def test_instagram_children_and_comments_from_their_edges(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    recorded = json.loads((corpus / "instagram" / "medias__media_default.json").read_bytes())
    # the same media answered without the children and comments_count fields
    item = {k: v for k, v in recorded.items() if k not in ("children", "comments_count")}
    rec = instagram_server(server, corpus, media=item)
    item = rec["item"]
    rt = make_runtime(policy(tmp_path, server, "instagram", rec["user"]["id"]))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    [children] = server.requests_to(f"/{V}/{item['id']}/children")
    assert children.query["access_token"] == [TOKEN]
    expected = ig_files({**item, "children": rec["children"]})
    assert sorted(fetched_media(rt, result.capture_id)) == sorted(expected)
    [asked] = server.requests_to(f"/{V}/{item['id']}/comments")
    assert asked.query["fields"] == [IG_COMMENT_FIELDS]
    nxt = urlsplit(rec["comments"]["paging"]["next"])
    [second] = server.requests_to(nxt.path)
    assert second.query["after"] == parse_qs(nxt.query)["after"]
    assert second.query["access_token"] == [TOKEN]
    comments = by_id(rt, "comment")
    assert set(comments) == {c["id"] for c in rec["comments"]["data"]}
    for c in rec["comments"]["data"]:
        row = comments[c["id"]]
        assert row.in_reply_to == item["id"] and row.author == c.get("username")
        assert same_moment(row.published_at, c["timestamp"])
        assert latest_text(rt, row.post_id) == c["text"]
    assert TOKEN.encode() not in stored_bytes(rt)


def test_instagram_probe_sees_a_recorded_media_still_served(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    rec = instagram_server(server, corpus)
    rt = make_runtime(policy(tmp_path, server, "instagram", rec["user"]["id"]))
    assert capture_account(rt, ACCOUNT).status == "ok"
    # the next listing holds the carousel's children (recorded media, a second older): the
    # carousel itself is absent inside the listed window, so the item endpoint is asked
    children = rec["item"]["children"]
    server.answers = [a for a in server.answers if not a.path.endswith("/media")]
    server.add_json("GET", f"/{V}/{rec['user']['id']}/media", json.dumps(children).encode())
    for child in children["data"]:
        server.add_json("GET", f"/{V}/{child['id']}/comments", EMPTY)
    server.add_json(
        "GET",
        f"/{V}/{rec['item']['id']}",
        corpus / "instagram" / "medias__media_default.json",
        query={"fields": "id"},
    )
    again = capture_account(rt, ACCOUNT)
    assert again.posts["deleted"] == 0 and not events(rt, "deleted_detected")
    [probe] = server.requests_to(f"/{V}/{rec['item']['id']}")
    assert probe.query["fields"] == ["id"]

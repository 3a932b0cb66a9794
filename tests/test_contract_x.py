"""The X connector against real X API v2 answers: every recording in ``corpus/x/`` (tweepy's VCR
cassettes and twarc's response pages) served at the real API paths, the real capture run
against them, and what it indexed compared with values read from the recordings themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.connectors.api import parse_time
from archiver.capture.connectors.base import DeletionProbe
from archiver.capture.connectors.x import XConnector
from archiver.capture.http import HttpClient
from archiver.capture.job import capture_account
from archiver.index.models import PostRow
from archiver.policy.model import Account, Schedule
from archiver.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.corpus_replay import (
    Answer,
    ReplayServer,
    ReplaySession,
    cassette_interactions,
    decoded_body,
)
from tests.platforms import ACCOUNT, events, options_text, platform_policy, posts, utc

TOKEN = "replay-bearer-token"
CASSETTES = (
    "test_client_get_user",
    "test_client_search_recent_tweets",
    "test_client_get_tweet",
    "test_client_get_tweets",
    "test_client_get_quote_tweets",
)
TWARC = ("edited.jsonl", "edited_before.jsonl", "media_tweet.jsonl", "mentions_tweet.jsonl")
# X's documented answer for a tweet that does not exist (HTTP 200, no data); no recording of it
# is in the corpus, so it is written here in the documented shape.
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLAY_X_TOKEN", TOKEN)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def cassette(corpus: Path, name: str) -> Answer:
    [(_, answer)] = list(cassette_interactions(corpus / "x" / name))
    return answer


def recorded(answer: Answer) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(decoded_body(answer))
    return data


def twarc_page(corpus: Path, name: str) -> tuple[dict[str, Any], bytes]:
    """One twarc line: the X response page (its ``__twarc`` bookkeeping key removed, the rest
    as recorded) and those bytes."""
    [line] = (corpus / "x" / "twarc-csv" / name).read_text(encoding="utf-8").splitlines()
    page = json.loads(line)
    page.pop("__twarc", None)
    return page, json.dumps(page, ensure_ascii=False).encode()


def not_found(tweet_id: str, parameter: str = "id") -> dict[str, Any]:
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with {parameter}: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": parameter,
        "resource_id": tweet_id,
        "type": NOT_FOUND,
    }


def x_account(**fields: str) -> Account:
    return Account(ACCOUNT, "Agency", "x", "social", Schedule("PT1H"), **fields)  # type: ignore[arg-type]


def policy(tmp_path: Path, server: ReplayServer, handle: str, **options: str) -> Path:
    opts = {"media": "false", "comments": "false", **options}
    text = options_text(**opts)
    return platform_policy(
        tmp_path / "policies",
        "x",
        handle=handle,
        base_url=server.base_url,
        credentials="REPLAY_X_TOKEN",
        options=text,
    )


def serve_user(server: ReplayServer, corpus: Path) -> dict[str, Any]:
    """The recorded ``users/by/username/Twitter`` answer, at its path; returns its ``data``."""
    answer = server.add(cassette(corpus, "test_client_get_user"))
    user: dict[str, Any] = recorded(answer)["data"]
    return user


def serve_chain(
    server: ReplayServer, path: str, cursor: str, pages: list[bytes], **query: str
) -> None:
    """Serve ``pages`` in order at ``path``: the first without a cursor, each next one at the
    ``meta.next_token`` the page before it recorded."""
    token: str | None = None
    for body in pages:
        asked = dict(query, **({cursor: token} if token else {}))
        server.add_json("GET", path, body, query=asked)
        token = (json.loads(body).get("meta") or {}).get("next_token")
    assert token is None, "the last page of a chain must end it"


def expected(
    page: dict[str, Any], *, owner: str | None, web: str, thread: str | None = None
) -> dict[str, dict[str, Any]]:
    """What the recording says of each tweet of ``page``, by native id (the first id of its
    edit history): author (``includes.users``), text and URL (a retweet's from the retweeted
    tweet in ``includes.tweets``), publication time (the first version's), reply link."""
    inc = page.get("includes") or {}
    users = {u["id"]: u["username"] for u in inc.get("users", [])}
    refs = {t["id"]: t for t in inc.get("tweets", [])}
    out: dict[str, dict[str, Any]] = {}
    for tweet in page["data"]:
        history = tweet.get("edit_history_tweet_ids") or [tweet["id"]]
        links = {r["type"]: r["id"] for r in tweet.get("referenced_tweets", [])}
        author = users.get(tweet.get("author_id"), owner)
        text, title = tweet["text"], None
        url = f"{web}/{author or 'i'}/status/{tweet['id']}"  # x.com/i/status/ID: any author
        if links.get("retweeted") in refs:
            boosted = refs[links["retweeted"]]
            author, text = users[boosted["author_id"]], boosted["text"]
            url, title = f"{web}/{author}/status/{boosted['id']}", f"Repost of @{author}"
        parent = links.get("replied_to")
        if thread is not None and parent is None:
            parent = tweet.get("conversation_id") or thread
        first = refs.get(history[0], tweet)
        out[history[0]] = {
            "author": author,
            "text": text,
            "title": title,
            "url": url,
            "published_at": parse_time(first.get("created_at") or tweet.get("created_at")),
            "kind": "reply" if parent else "post",
            "in_reply_to": parent,
        }
    return out


def indexed(rt: Runtime, kind: str | None = None) -> dict[str, dict[str, Any]]:
    """The index's posts (their latest version) in the shape of :func:`expected`."""
    out = {}
    for row in posts(rt, kind):
        _, versions, _ = rt.index.history(row.post_id)
        out[row.native_id] = {
            "author": row.author,
            "text": versions[-1].text,
            "title": versions[-1].title,
            "url": row.url,
            "published_at": utc(row.published_at),
            "kind": row.kind,
            "in_reply_to": row.in_reply_to,
        }
    return out


def test_recorded_user_lookup_and_listing_pages_page_with_pagination_token(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    user = serve_user(server, corpus)
    pages = [
        decoded_body(cassette(corpus, "test_client_search_recent_tweets")),
        decoded_body(cassette(corpus, "test_client_get_quote_tweets")),
        twarc_page(corpus, "mentions_tweet.jsonl")[1],
    ]
    path = f"/2/users/{user['id']}/tweets"
    serve_chain(server, path, "pagination_token", pages)
    rt = make_runtime(policy(tmp_path, server, user["username"]))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    want: dict[str, dict[str, Any]] = {}
    for body in pages:
        want |= expected(json.loads(body), owner=user["username"], web=server.base_url)
    assert indexed(rt) == want
    assert result.posts["new"] == sum(len(json.loads(b)["data"]) for b in pages) == len(want)
    asked = server.requests_to(path)
    tokens = [json.loads(b).get("meta", {}).get("next_token") for b in pages]
    assert [r.query.get("pagination_token", [None])[0] for r in asked] == [None, *tokens[:-1]]
    for request in asked:
        assert request.query["max_results"] == ["100"]
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert "author_id" in request.query["tweet.fields"][0].split(",")
        assert "referenced_tweets.id.author_id" in request.query["expansions"][0].split(",")
        assert "variants" in request.query["media.fields"][0].split(",")
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is True
    # the retweet is indexed with the retweeted tweet's full text, not X's truncated "RT @…"
    mentions = json.loads(pages[2])
    [retweet] = mentions["data"]
    full = want[retweet["id"]]
    assert retweet["text"].startswith("RT @") and retweet["text"].endswith("…")
    assert full["text"] in [t["text"] for t in mentions["includes"]["tweets"]]
    assert not full["text"].endswith("…") and full["author"] == "S3NT1N3L17"


def test_recorded_media_give_photo_urls_and_the_best_video_variant(corpus: Path) -> None:
    account = x_account(handle="x")
    for name in TWARC:
        page, body = twarc_page(corpus, name)
        media = {m["media_key"]: m for m in page.get("includes", {}).get("media", [])}
        found = XConnector().posts_from_response(
            account, "https://api.x.com/2/tweets", "application/json", body, None
        )
        refs = {t["id"]: t for t in page.get("includes", {}).get("tweets", [])}
        for tweet, post in zip(page["data"], found, strict=True):
            want: list[str] = []
            # a retweet carries the retweeted tweet's media, when X expanded them
            links = {r["type"]: r["id"] for r in tweet.get("referenced_tweets", [])}
            shown = refs.get(links.get("retweeted", ""), tweet)
            for key in shown.get("attachments", {}).get("media_keys", []):
                if key not in media:
                    continue
                item = media[key]
                mp4 = [v for v in item.get("variants", []) if v["content_type"] == "video/mp4"]
                if mp4:
                    want.append(max(mp4, key=lambda v: v.get("bit_rate", 0))["url"])
                want += [item[k] for k in ("url", "preview_image_url") if k in item]
            assert list(post.media) == want, name
    video, video_body = twarc_page(corpus, "media_tweet.jsonl")
    [post] = XConnector().posts_from_response(
        account, "https://api.x.com/2/tweets", "application/json", video_body, None
    )
    assert post.media[0].endswith("/1280x720/WiZrNZKT2lMzK5zA.mp4?tag=12")  # 2176000 b/s
    assert post.media[1] == video["includes"]["media"][0]["preview_image_url"]


def test_recorded_replies_are_searched_by_conversation_and_paged_with_next_token(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    user = serve_user(server, corpus)
    timeline, body = twarc_page(corpus, "media_tweet.jsonl")
    server.add_json("GET", f"/2/users/{user['id']}/tweets", body)
    [root] = timeline["data"]
    assert root["public_metrics"]["reply_count"] > 0
    replies = [
        decoded_body(cassette(corpus, "test_client_search_recent_tweets")),
        decoded_body(cassette(corpus, "test_client_get_quote_tweets")),
        twarc_page(corpus, "mentions_tweet.jsonl")[1],
    ]
    query = f"conversation_id:{root['conversation_id']}"
    serve_chain(server, "/2/tweets/search/recent", "next_token", replies, query=query)
    rt = make_runtime(policy(tmp_path, server, user["username"], comments="true"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert indexed(rt, "post") == expected(timeline, owner=user["username"], web=server.base_url)
    want: dict[str, dict[str, Any]] = {}
    for reply_page in replies:
        page = json.loads(reply_page)
        want |= expected(page, owner=None, web=server.base_url, thread=root["id"])
    # a recorded reply without author_id (tweepy asked no fields) has no author to give
    assert indexed(rt, "reply") == want
    asked = server.requests_to("/2/tweets/search/recent")
    assert [r.query["query"] for r in asked] == [[query]] * 3
    assert [r.query["max_results"] for r in asked] == [["100"]] * 3
    tokens = [json.loads(b).get("meta", {}).get("next_token") for b in replies]
    assert [r.query.get("next_token", [None])[0] for r in asked] == [None, *tokens[:-1]]


def test_recorded_edit_becomes_a_second_version_of_the_original(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    user = serve_user(server, corpus)
    path = f"/2/users/{user['id']}/tweets"
    before, before_body = twarc_page(corpus, "edited_before.jsonl")
    after, after_body = twarc_page(corpus, "edited.jsonl")
    server.add_json("GET", path, before_body, times=1)
    rt = make_runtime(policy(tmp_path, server, user["username"]))
    assert capture_account(rt, ACCOUNT).status == "ok"
    server.add_json("GET", path, after_body)
    second = capture_account(rt, ACCOUNT)
    assert second.status == "ok", second.problems
    assert second.posts["edited"] == 1 and second.posts["deleted"] == 0
    [original], [edit] = before["data"], after["data"]
    assert edit["edit_history_tweet_ids"][0] == original["id"] != edit["id"]
    [row] = posts(rt)
    _, versions, _ = rt.index.history(row.post_id)
    assert row.native_id == original["id"] and row.edited
    assert [v.text for v in versions] == [original["text"], edit["text"]]
    assert utc(versions[0].published_at) == parse_time(original["created_at"])
    assert utc(versions[1].published_at) == parse_time(original["created_at"])
    assert versions[0].edited_at is None
    assert utc(versions[1].edited_at) == parse_time(edit["created_at"])
    [author] = [u["username"] for u in after["includes"]["users"] if u["id"] == edit["author_id"]]
    assert row.author == author and row.url == f"{server.base_url}/{author}/status/{edit['id']}"
    assert indexed(rt) == expected(after, owner=user["username"], web=server.base_url)


def test_a_post_gone_from_the_listing_is_confirmed_by_the_tweet_lookup(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    user = serve_user(server, corpus)
    path = f"/2/users/{user['id']}/tweets"
    newer, newer_body = twarc_page(corpus, "mentions_tweet.jsonl")
    older, older_body = twarc_page(corpus, "edited_before.jsonl")
    server.add_json("GET", path, newer_body, times=1)
    rt = make_runtime(policy(tmp_path, server, user["username"]))
    assert capture_account(rt, ACCOUNT).status == "ok"
    server.add_json("GET", path, older_body)
    [gone] = newer["data"]
    assert older["data"][0]["created_at"] < gone["created_at"]  # gone lies inside the window
    lookup = f"/2/tweets/{gone['id']}"
    server.add_json("GET", lookup, json.dumps({"errors": [not_found(gone["id"])]}).encode())
    second = capture_account(rt, ACCOUNT)
    assert second.posts["deleted"] == 1, second.problems
    [event] = events(rt, "deleted_detected")
    assert f"Could not find tweet with id: [{gone['id']}]" in event.detail
    [probe] = server.requests_to(lookup)
    assert probe.headers["Authorization"] == f"Bearer {TOKEN}"
    assert not server.requests_to(f"/{user['username']}/status/{gone['id']}")  # no web probe
    [row] = [p for p in posts(rt) if p.deleted]
    assert isinstance(row, PostRow) and row.native_id == gone["id"]


def probe(server: ReplayServer, native_id: str) -> DeletionProbe | None:
    account = x_account(handle="Twitter", base_url=server.base_url, credentials="REPLAY_X_TOKEN")
    with HttpClient(allow_private=True) as http:
        session = ReplaySession(http)
        return XConnector().probe_deletion(account, session, native_id, None)  # type: ignore[arg-type]


def test_recorded_tweet_lookup_says_the_post_is_still_there(
    server: ReplayServer, corpus: Path
) -> None:
    answer = server.add(cassette(corpus, "test_client_get_tweet"))
    tweet = recorded(answer)["data"]
    found = probe(server, tweet["id"])
    assert found is not None and found.deleted is False and found.record_id


def test_not_found_rate_limited_and_failing_lookups(server: ReplayServer, corpus: Path) -> None:
    server.add_json("GET", "/2/tweets/20", json.dumps({"errors": [not_found("20")]}).encode())
    gone = probe(server, "20")
    assert gone is not None and gone.deleted is True and "Could not find tweet" in gone.detail
    # a "Not Found" about another id, a rate limit, a server error: nothing usable
    server.add_json("GET", "/2/tweets/21", json.dumps({"errors": [not_found("22")]}).encode())
    assert probe(server, "21") is None
    server.add_json(
        "GET",
        "/2/tweets/23",
        b'{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank",'
        b'"status":429}',
        status=429,
        headers=[("x-rate-limit-reset", "0")],
    )
    assert probe(server, "23") is None
    assert probe(server, "24") is None  # the replay server's JSON 404: not X's answer


def test_recorded_ids_lookup_is_read_like_a_listing_page(corpus: Path) -> None:
    answer = cassette(corpus, "test_client_get_tweets")
    page = recorded(answer)
    account = x_account(handle="TwitterDev")
    found = XConnector().posts_from_response(
        account, "https://api.x.com/2/tweets", "application/json", decoded_body(answer), None
    )
    want = expected(page, owner="TwitterDev", web="https://x.com")
    got = {
        p.native_id: {
            "author": p.author,
            "text": p.text,
            "title": p.title,
            "url": p.url,
            "published_at": p.published_at,
            "kind": p.kind,
            "in_reply_to": p.in_reply_to,
        }
        for p in found
    }
    assert got == want and len(found) == len(page["data"])


def test_errors_without_data_leave_the_listing_incomplete_and_partial_errors_are_noted(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    user = serve_user(server, corpus)
    path = f"/2/users/{user['id']}/tweets"
    page, _ = twarc_page(corpus, "mentions_tweet.jsonl")
    [retweet] = page["data"]
    boosted = retweet["referenced_tweets"][0]["id"]
    # the retweeted tweet gone: X leaves it out of includes and says so beside the data
    partial = dict(page, includes={"users": page["includes"]["users"]})
    partial["errors"] = [not_found(boosted, "referenced_tweets.id")]
    server.add_json("GET", path, json.dumps(partial).encode(), times=1)
    rt = make_runtime(policy(tmp_path, server, user["username"]))
    first = capture_account(rt, ACCOUNT)
    assert first.status == "partial" and first.posts["new"] == 1
    assert any("partial errors" in p and boosted in p for p in first.problems)
    ledger = rt.index.get_capture(first.capture_id).ledger
    assert ledger["complete_listing"] is True
    [row] = posts(rt)
    _, versions, _ = rt.index.history(row.post_id)
    assert versions[-1].text == retweet["text"]  # the truncated text is all there is
    server.add_json("GET", path, json.dumps({"errors": [not_found(user["id"])]}).encode())
    second = capture_account(rt, ACCOUNT)
    assert second.status == "partial" and second.posts["deleted"] == 0
    assert any("errors and no data" in p for p in second.problems)
    assert rt.index.get_capture(second.capture_id).ledger["complete_listing"] is False


def test_every_recording_is_used(corpus: Path) -> None:
    assert sorted(p.name for p in (corpus / "x").iterdir()) == sorted([*CASSETTES, "twarc-csv"])
    assert sorted(p.name for p in (corpus / "x" / "twarc-csv").iterdir()) == sorted(TWARC)
    for name in CASSETTES:
        answer = cassette(corpus, name)
        assert answer.status == 200 and "data" in recorded(answer)
        assert any(k.lower() == "x-rate-limit-reset" for k, _ in answer.headers)

"""Mastodon contract: every recording in ``corpus/mastodon/`` (VCR cassettes of a real Mastodon
server, made by Mastodon.py's test suite) replayed at the real API paths, the real connector
capturing against it, and what it indexed compared with the recorded JSON.

Expectations are read from the recordings, never from the connector. Where a listing page or a
context is needed around recorded statuses, it is written here in the documented shape (a JSON
array of Status, ``{"ancestors": [...], "descendants": [...]}``) and says so.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from archiver.capture.connectors.mastodon import MastodonConnector
from archiver.capture.job import capture_account
from archiver.index.db import session_scope
from archiver.index.models import PostRow, PostVersionRow
from archiver.policy.model import Account, Schedule
from archiver.retrieval import extract
from archiver.runtime import Runtime
from tests.conftest import MakeRuntime
from tests.corpus_replay import Answer, ReplayServer, cassette_interactions
from tests.platforms import ACCOUNT, events, platform_policy, posts

RECORDED_HOST = "http://localhost:3000"
RECORDED_ACCOUNT = "117020565966271181"  # mastodonpy_test, as the lookup recording says
CARD_STATUS = "117020609135389699"


# --- reading the recordings ----------------------------------------------------------------------


def interactions(corpus: Path, name: str) -> list[tuple[dict[str, Any], Answer]]:
    """A cassette's interactions, each answer bound to its recorded query parameters."""
    found = []
    for meta, answer in cassette_interactions(corpus / "mastodon" / name):
        query = parse_qs(urlsplit(meta["request"]["uri"]).query)
        answer.query = {key: values[-1] for key, values in query.items()}
        found.append((meta, answer))
    assert found, name
    return found


def recorded(corpus: Path, name: str, method: str, path: str) -> Answer:
    """The one interaction of cassette ``name`` for ``method path``."""
    [answer] = [a for _, a in interactions(corpus, name) if (a.method, a.path) == (method, path)]
    return answer


def body(answer: Answer) -> Any:
    return json.loads(answer.body)


def replay_all(server: ReplayServer, corpus: Path, *names: str) -> None:
    """Load every GET interaction of the named cassettes (writes are never replayed)."""
    for name in names:
        for _, answer in interactions(corpus, name):
            if answer.method == "GET":
                server.add(answer)


def here(server: ReplayServer, value: str | None) -> str | None:
    """A recorded URL as the replay server serves it (its host rewritten)."""
    return None if value is None else value.replace(RECORDED_HOST, server.base_url)


def text_of(status: dict[str, Any]) -> str:
    """Searchable text of a status, computed independently: tags dropped, entities decoded."""
    content = re.sub(r"<[^>]+>", "", status.get("content") or "")
    return html.unescape(f"{status.get('spoiler_text') or ''} {content}").strip()


def media_of(status: dict[str, Any]) -> tuple[str, ...]:
    urls = [
        m.get("url") or m.get("remote_url") or m.get("preview_url")
        for m in status.get("media_attachments") or []
    ]
    card = status.get("card") or {}
    return tuple(u for u in [*urls, card.get("image")] if u)


# --- running a capture against the replay --------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        replay.rewrite_host(RECORDED_HOST)
        yield replay


def runtime(make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, user: str) -> Runtime:
    folder = platform_policy(
        tmp_path / "policies",
        "mastodon",
        handle=f'"@{user}@localhost:3000"',
        base_url=server.base_url,
    )
    return make_runtime(folder)


def listing(
    server: ReplayServer, account_id: str, statuses: list[dict[str, Any]], **kw: Any
) -> None:
    """A hand-written last page of an account's statuses (no Link header) around recorded ones."""
    path = f"/api/v1/accounts/{account_id}/statuses"
    server.add_json("GET", path, json.dumps(statuses).encode(), **kw)


def stored_version(rt: Runtime, post: PostRow) -> PostVersionRow:
    with session_scope(rt.index.engine) as s:
        rows = s.exec(select(PostVersionRow).where(PostVersionRow.post_id == post.post_id)).all()
        return max(rows, key=lambda v: v.version)


def assert_indexed_as_recorded(
    rt: Runtime, server: ReplayServer, status: dict[str, Any], *, kind: str = "post"
) -> None:
    [post] = [p for p in posts(rt) if p.native_id == status["id"]]
    version = stored_version(rt, post)
    assert post.kind == kind
    assert post.author == status["account"]["acct"]
    assert post.url == here(server, status["url"])
    assert post.in_reply_to == status["in_reply_to_id"]
    expected_time = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
    assert post.published_at is not None
    assert post.published_at.replace(tzinfo=expected_time.tzinfo) == expected_time
    assert version.text == text_of(status)
    assert version.edited_at == (
        datetime.fromisoformat(status["edited_at"]) if status["edited_at"] else None
    )


def media_fetched(rt: Runtime, capture_id: str) -> list[str]:
    ledger = rt.index.get_capture(capture_id).ledger
    return [e["url"] for e in ledger["exchanges"] if e["purpose"] == "media"]


# --- the contract --------------------------------------------------------------------------------


def test_account_lookup_then_statuses_follow_the_recorded_link_header(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    replay_all(server, corpus, "test_account_lookup")
    page = recorded(
        corpus,
        "test_get_pagination_info",
        "GET",
        f"/api/v1/accounts/{RECORDED_ACCOUNT}/statuses",
    )
    page.query, page.times = {}, 1  # the recorded first page, whatever limit is asked
    server.add(page)
    rt = runtime(make_runtime, tmp_path, server, "mastodonpy_test")
    result = capture_account(rt, ACCOUNT)

    [lookup] = server.requests_to("/api/v1/accounts/lookup")
    assert lookup.query == {"acct": ["mastodonpy_test"]}
    first, second = server.requests_to(f"/api/v1/accounts/{RECORDED_ACCOUNT}/statuses")
    assert first.query == {"limit": ["40"]}  # the largest page Mastodon serves
    [link] = [v for k, v in page.headers if k.lower() == "link"]
    nxt = re.search(r'<([^>]+)>;\s*rel="next"', link)
    assert nxt is not None
    assert second.query == parse_qs(urlsplit(nxt.group(1)).query)  # exactly as the Link says

    # the recorded next page is absent: the 404 is noted and the listing is not complete
    assert result.status == "partial"
    assert any("statuses page" in p and "404" in p for p in result.problems), result.problems
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is False
    statuses = body(page)
    assert sorted(p.native_id for p in posts(rt)) == sorted(s["id"] for s in statuses)
    for status in statuses:
        assert_indexed_as_recorded(rt, server, status)
    asked = {r.path for r in server.received}
    for status in statuses:  # replies are asked for only where the status has some
        wanted = bool(status["replies_count"])
        assert (f"/api/v1/statuses/{status['id']}/context" in asked) is wanted
    assert media_fetched(rt, result.capture_id) == [
        here(server, u) for s in statuses for u in media_of(s)
    ]


def test_an_unknown_account_fails_with_the_recorded_404(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    replay_all(server, corpus, "test_account_lookup")
    [answer] = [a for _, a in interactions(corpus, "test_account_lookup") if a.status == 404]
    handle = answer.query["acct"]
    rt = runtime(make_runtime, tmp_path, server, handle)
    result = capture_account(rt, ACCOUNT)
    assert body(answer) == {"error": "Record not found"}
    assert result.status == "failed"
    assert result.error and "no such account" in result.error and "404" in result.error
    assert [r.path for r in server.received] == ["/api/v1/accounts/lookup"]


def test_a_401_answer_is_fatal_and_says_what_to_do(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    [(_, denied)] = interactions(corpus, "test_home_tl_anonymous_throws")
    assert denied.status == 401 and "error" in body(denied)
    # an instance that refuses anonymous API use answers every endpoint so, the lookup first
    denied.path, denied.query = "/api/v1/accounts/lookup", {}
    server.add(denied)
    rt = runtime(make_runtime, tmp_path, server, "mastodonpy_test")
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed"
    assert result.error and "401" in result.error and "renew the credentials" in result.error


def test_a_status_card_and_an_empty_context_are_indexed_as_recorded(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    replay_all(server, corpus, "test_account_lookup", "test_status_context")
    card = body(recorded(corpus, "test_status_card", "GET", f"/api/v1/statuses/{CARD_STATUS}"))
    [posted] = [
        body(a) for _, a in interactions(corpus, "test_status_context") if a.method == "POST"
    ]
    assert card["card"] is not None and card["account"]["id"] == RECORDED_ACCOUNT
    # hand-written page; the context status as listed once it had a reply (recorded at creation)
    listing(server, RECORDED_ACCOUNT, [card, {**posted, "replies_count": 1}])
    rt = runtime(make_runtime, tmp_path, server, "mastodonpy_test")
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is True
    context = body(
        recorded(corpus, "test_status_context", "GET", f"/api/v1/statuses/{posted['id']}/context")
    )
    assert len(server.requests_to(f"/api/v1/statuses/{posted['id']}/context")) == 1
    assert [p.native_id for p in posts(rt, "reply")] == [d["id"] for d in context["descendants"]]
    assert_indexed_as_recorded(rt, server, card)
    assert_indexed_as_recorded(rt, server, posted)
    assert media_fetched(rt, result.capture_id) == [here(server, u) for u in media_of(card)]


def test_a_reply_from_the_context_keeps_its_thread_and_author(
    make_runtime: MakeRuntime, tmp_path: Path, server: ReplayServer, corpus: Path
) -> None:
    created = [body(a) for _, a in interactions(corpus, "test_status_reply") if a.method == "POST"]
    [parent] = [s for s in created if not s["in_reply_to_id"]]
    [reply] = [s for s in created if s["in_reply_to_id"]]
    assert reply["in_reply_to_id"] == parent["id"]
    author = parent["account"]  # the recorded Account entity, as the lookup serves it
    server.add_json(
        "GET",
        "/api/v1/accounts/lookup",
        json.dumps(author).encode(),
        query={"acct": author["acct"]},
    )
    listing(server, author["id"], [{**parent, "replies_count": 1}])
    server.add_json(  # the documented context shape around the recorded reply
        "GET",
        f"/api/v1/statuses/{parent['id']}/context",
        json.dumps({"ancestors": [], "descendants": [reply]}).encode(),
    )
    rt = runtime(make_runtime, tmp_path, server, author["acct"])
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert_indexed_as_recorded(rt, server, parent)
    assert_indexed_as_recorded(rt, server, reply, kind="reply")
    assert reply["account"]["acct"] != parent["account"]["acct"]


@pytest.mark.parametrize("still_served", [False, True])
def test_an_absent_status_is_confirmed_deleted_by_the_api_item_endpoint(
    make_runtime: MakeRuntime,
    tmp_path: Path,
    server: ReplayServer,
    corpus: Path,
    still_served: bool,
) -> None:
    replay_all(server, corpus, "test_account_lookup")
    card_answer = recorded(corpus, "test_status_card", "GET", f"/api/v1/statuses/{CARD_STATUS}")
    toots = body(
        recorded(
            corpus,
            "test_get_pagination_info",
            "GET",
            f"/api/v1/accounts/{RECORDED_ACCOUNT}/statuses",
        )
    )
    listing(server, RECORDED_ACCOUNT, [body(card_answer), *toots], times=1)
    rt = runtime(make_runtime, tmp_path, server, "mastodonpy_test")
    assert capture_account(rt, ACCOUNT).status == "ok"

    listing(server, RECORDED_ACCOUNT, toots)  # the card status left the listing
    if still_served:
        server.add(card_answer)
    else:
        [(_, missing)] = interactions(corpus, "test_status_missing")
        assert missing.status == 404 and "error" in body(missing)
        missing.path = f"/api/v1/statuses/{CARD_STATUS}"  # the recorded answer for a gone status
        server.add(missing)
    second = capture_account(rt, ACCOUNT)
    assert len(server.requests_to(f"/api/v1/statuses/{CARD_STATUS}")) == 1
    if still_served:
        assert second.posts["deleted"] == 0 and not events(rt, "deleted_detected")
        return
    assert second.posts["deleted"] == 1, second.problems
    [gone] = events(rt, "deleted_detected")
    [card_post] = [p for p in posts(rt) if p.native_id == CARD_STATUS]
    assert gone.post_id == card_post.post_id and f"/api/v1/statuses/{CARD_STATUS}" in gone.detail
    assert gone.evidence_record_id
    evidence = extract(rt, gone.evidence_record_id)
    assert evidence.content.block.startswith(b"HTTP/1.1 404")
    assert evidence.content.block.endswith(missing.body)


def test_every_recorded_status_reads_back_as_recorded(corpus: Path) -> None:
    """The rebuild path (``posts_from_response``) over every recorded Status body."""
    connector = MastodonConnector()
    account = Account(ACCOUNT, "Agency", "mastodon", "social", Schedule("PT1H"))
    seen = 0
    for folder in sorted((corpus / "mastodon").iterdir()):
        if not folder.is_dir():
            continue
        for _, answer in interactions(corpus, folder.name):
            data = json.loads(answer.body) if answer.body.strip() else None
            statuses = data if isinstance(data, list) else [data]
            statuses = [s for s in statuses if isinstance(s, dict) and "content" in s]
            if answer.method == "DELETE" or not statuses:
                continue
            url = f"{RECORDED_HOST}/api/v1/accounts/{RECORDED_ACCOUNT}/statuses"
            found = connector.posts_from_response(
                account, url, "application/json", json.dumps(statuses).encode(), "rec"
            )
            assert [p.native_id for p in found] == [s["id"] for s in statuses]
            for post, status in zip(found, statuses, strict=True):
                seen += 1
                assert post.author == status["account"]["acct"]
                assert post.url == status["url"] and post.text == text_of(status)
                assert post.in_reply_to == status["in_reply_to_id"]
                assert post.kind == ("reply" if status["in_reply_to_id"] else "post")
                assert post.media == media_of(status)
                assert post.title is None and json.loads(post.raw) == status
    assert seen >= 15
    context = recorded(
        corpus, "test_status_context", "GET", "/api/v1/statuses/117020585487094447/context"
    )
    assert connector.posts_from_response(account, "x/context", None, context.body, None) == []

"""Facebook and Instagram through the simulator's Graph API: explicit fields (authors, attachments,
carousel children), paging.next (which carries the token, as the real API's does) for posts and
comments, replies to comments, pictures and videos, an edit as a version, a deletion confirmed by
the API's code 100/33, a bad token or an expired version, and the token never stored."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from archiver.capture.connectors import graph as connector
from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.simulator import Simulator
from archiver.simulator.platforms import graph
from archiver.simulator.platforms.graph import IG_USER, IG_USERNAME, PAGE_NAME, PAGE_TITLE, TOKEN
from tests.conftest import MakeRuntime
from tests.platforms import ACCOUNT, api_root, events, platform_policy, posts, stored_bytes


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_GRAPH_TOKEN", TOKEN)


def policy(tmp_path: Path, sim: Simulator, platform: str, handle: str, **extra: str) -> Path:
    return platform_policy(
        tmp_path / "policies",
        platform,
        handle=f'"{handle}"',
        base_url=api_root(sim, "graph.facebook.com"),
        credentials="SIM_GRAPH_TOKEN",
        **extra,
    )


def exchanges(rt: Any, capture_id: str, part: str = "") -> list[dict[str, Any]]:
    ledger = rt.index.get_capture(capture_id).ledger
    return [e for e in ledger["exchanges"] if part in e["url"]]


# 30 posts: 3 albums of two photos, 3 photos, 3 videos (thumbnail and file) → 15 files; every 6th
# post two comments and a reply. 20 media: 5 carousels (two images, a video and its cover: the
# parent's media_url is its first child's) → 20 files, 2 videos → 4, 13 images; every 6th two
# comments and a reply.
@pytest.mark.parametrize(
    ("platform", "handle", "count", "comments", "media"),
    [("facebook", PAGE_NAME, 30, 15, 15), ("instagram", IG_USER, 20, 12, 37)],
)
def test_posts_comments_edits_and_deletions(
    make_runtime: MakeRuntime,
    sim: Simulator,
    tmp_path: Path,
    platform: str,
    handle: str,
    count: int,
    comments: int,
    media: int,
) -> None:
    rt_all = make_runtime(policy(tmp_path, sim, platform, handle))
    first = capture_account(rt_all, ACCOUNT)
    assert first.status == "ok", first.problems
    assert len(posts(rt_all, "post")) == count and len(posts(rt_all, "comment")) == comments
    fetched = [e for e in exchanges(rt_all, first.capture_id) if e["purpose"] == "media"]
    assert len(fetched) == media and all(e["status"] == 200 for e in fetched)
    assert TOKEN.encode() not in stored_bytes(rt_all)  # also scrubbed from paging.next links
    sim.advance()
    second = capture_account(rt_all, ACCOUNT)
    assert second.posts["edited"] == 1
    sim.advance()
    third = capture_account(rt_all, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt_all, "deleted_detected")
    assert gone.evidence_record_id is not None and "100/33" in gone.detail
    evidence = extract(rt_all, gone.evidence_record_id).content.block
    assert evidence.startswith(b"HTTP/1.1 400")  # the API's code 100, subcode 33


def test_authors_and_attachments_come_from_the_fields_asked(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, "facebook", PAGE_NAME))
    result = capture_account(rt, ACCOUNT)
    [listing] = exchanges(rt, result.capture_id, "/posts?")
    fields = parse_qs(urlsplit(listing["url"]).query)["fields"][0]
    assert "from{id,name}" in fields and "attachments{" in fields and "/v24.0/" in listing["url"]
    assert {p.author for p in posts(rt, "post")} == {PAGE_TITLE}
    files = [e["url"] for e in exchanges(rt, result.capture_id) if e["purpose"] == "media"]
    assert len([u for u in files if f"{graph.PAGE}_000010_p" in u]) == 2  # an album's photos
    video = [u.rsplit(".", 1)[1] for u in files if f"{graph.PAGE}_000003" in u]
    assert video == ["jpg", "mp4"]  # a video's thumbnail (full_picture) and its file


def test_replies_to_comments_keep_their_thread(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    for platform, handle in (("facebook", PAGE_NAME), ("instagram", IG_USER)):
        rt = make_runtime(policy(tmp_path / platform, sim, platform, handle))
        capture_account(rt, ACCOUNT)
        ids = {p.native_id for p in posts(rt, "post")}
        found = {c.native_id: c for c in posts(rt, "comment")}
        replies = [c for c in found.values() if c.in_reply_to in found]
        assert len(replies) == len(found) // 3  # one reply under the first comment of each
        assert all(found[r.in_reply_to].in_reply_to in ids for r in replies)
        assert all(c.author for c in found.values()) and all(c.published_at for c in found.values())


def test_instagram_carousel_children_and_authors(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, "instagram", IG_USER))
    result = capture_account(rt, ACCOUNT)
    assert {p.author for p in posts(rt, "post")} == {IG_USERNAME}
    files = [e["url"] for e in exchanges(rt, result.capture_id) if e["purpose"] == "media"]
    children = [u for u in files if f"178{1:012d}" in u]  # the carousel of media 1
    assert len(children) == 3 + 1 and sum(u.endswith(".mp4") for u in children) == 1


def test_paging_follows_next_links_for_posts_and_comments(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector, "PAGE_LIMIT", 7)
    monkeypatch.setattr(connector, "COMMENT_LIMIT", 2)
    rt = make_runtime(policy(tmp_path, sim, "facebook", PAGE_NAME))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    pages = [e["url"] for e in exchanges(rt, result.capture_id, "/posts?")]
    assert len(pages) == 5 and all("access_token=[REDACTED]" in u for u in pages)  # 7·4 + 2
    assert all("fields=" in u for u in pages[1:])  # the next links repeat the query
    comment_pages = exchanges(rt, result.capture_id, "/comments?")
    assert len(comment_pages) == 30 + 5  # one page per post, a second for each of 3 comments
    assert len(posts(rt, "post")) == 30 and len(posts(rt, "comment")) == 15
    assert rt.index.get_capture(result.capture_id).ledger["complete_listing"] is True


def test_a_bad_token_fails_naming_the_token(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_GRAPH_TOKEN", "expired")
    rt = make_runtime(policy(tmp_path, sim, "facebook", PAGE_NAME))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error
    assert "renew the page/user access token" in result.error and "SIM_GRAPH_TOKEN" in result.error


def test_an_unknown_page_fails_clearly(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, "facebook", "NoSuchPage"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error and "unknown page" in result.error


def test_the_api_version_is_an_account_option(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, "instagram", IG_USER, options="{api_version: v23.0}"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert all("/v23.0/" in e["url"] for e in exchanges(rt, result.capture_id, "graph.facebook"))
    rt = make_runtime(
        policy(tmp_path / "old", sim, "instagram", IG_USER, options="{api_version: v19.0}"),
        data_dir=tmp_path / "old-data",
    )
    expired = capture_account(rt, ACCOUNT)
    assert expired.status == "failed" and expired.error and "2500" in expired.error


def _get(sim: Simulator, path: str, token: str = TOKEN) -> tuple[int, str, Any]:
    sep = "&" if "?" in path else "?"
    url = f"{api_root(sim, 'graph.facebook.com')}{path}{sep}access_token={token}"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], json.loads(exc.read())


def test_the_simulator_returns_only_the_fields_asked(sim: Simulator) -> None:
    _, _, page = _get(sim, f"/v24.0/{graph.PAGE}/posts?fields=message,from{{name}}&limit=2")
    assert [sorted(p) for p in page["data"]] == [["from", "id", "message"]] * 2
    assert page["data"][0]["from"] == {"name": PAGE_TITLE}
    _, _, media = _get(sim, f"/v24.0/{graph._oid(IG_USER, 1)}?fields=children{{media_url}}")
    assert sorted(media) == ["children", "id"]
    assert all(sorted(c) == ["id", "media_url"] for c in media["children"]["data"])
    _, _, default = _get(sim, f"/v24.0/{IG_USER}/media?limit=1")
    assert list(default["data"][0]) == ["id"]  # the media edge's default fields


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (f"/v24.0/{graph.PAGE}/posts?limit=101", 100),
        (f"/v24.0/{graph.PAGE}/posts?fields=nonesuch", 100),
        (f"/v24.0/{graph.PAGE}/nonesuch", 100),
        ("/v24.0/123456789", 100),
        (f"/v19.0/{graph.PAGE}", 2500),
        ("/nothing/here", 2500),
    ],
)
def test_the_simulator_answers_graph_errors_as_json(sim: Simulator, path: str, code: int) -> None:
    status, ctype, body = _get(sim, path)
    assert status == 400 and ctype.startswith("application/json")
    assert body["error"]["code"] == code and body["error"]["fbtrace_id"]
    if path == "/v24.0/123456789":
        assert body["error"]["error_subcode"] == 33
    assert _get(sim, f"/v24.0/{graph.PAGE}", "wrong")[2]["error"]["code"] == 190

"""X API v2 through the simulator: bearer token, pagination_token paging, media expansions,
replies by conversation, an edit (a new id) kept as a version of the same post, a deletion
detected with evidence, and the token never stored."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from archiver.simulator.platforms.x import TOKEN, _nws, _tid
from tests.conftest import MakeRuntime
from tests.platforms import (
    ACCOUNT,
    api_root,
    events,
    fault_repeats,
    platform_policy,
    posts,
    stored_bytes,
)

API = "api.x.com"


def policy(tmp_path: Path, sim: Simulator, handle: str = "USGS", **extra: str) -> Path:
    fields = {"credentials": "SIM_X_TOKEN", **extra}
    return platform_policy(
        tmp_path / "policies", "x", handle=handle, base_url=api_root(sim, API), **fields
    )


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_X_TOKEN", TOKEN)


def test_posts_replies_and_photos_are_captured(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert len(posts(rt, "post")) == 30 and len(posts(rt, "reply")) == 111  # 0: 105; 9, 18, 27
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert ledger["complete_listing"] is True
    # 2 photos, 2 videos and 2 GIFs: a video or GIF is its best mp4 and its preview image
    assert len([e for e in ledger["exchanges"] if e["purpose"] == "media"]) == 10


def test_pagination_token_paging(make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path) -> None:
    opts = "{media: false, comments: false, max_items: 1000}"
    rt = make_runtime(policy(tmp_path, sim, "bench230", options=opts))
    result = capture_account(rt, ACCOUNT)
    assert result.posts["new"] == 230
    ledger = rt.index.get_capture(result.capture_id).ledger
    pages = [e["url"] for e in ledger["exchanges"] if "/tweets?" in e["url"]]
    assert len(pages) == 3 and "pagination_token=" in pages[2]


def test_an_edit_is_a_new_version_and_a_deletion_is_detected(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    sim.advance()
    second = capture_account(rt, ACCOUNT)
    assert second.posts["edited"] == 1 and second.posts["new"] == 1
    assert second.posts["deleted"] == 0  # the edit's new id is not a deletion of the old one
    [edited] = [p for p in posts(rt, "post") if p.edited]
    _, versions, _ = rt.index.history(edited.post_id)
    assert "corrected" in versions[-1].text and "corrected" not in versions[0].text
    sim.advance()
    third = capture_account(rt, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt, "deleted_detected")
    assert gone.evidence_record_id is not None
    # the evidence is X's own answer for the item: HTTP 200, no data, a "Not Found Error"
    evidence = extract(rt, gone.evidence_record_id)
    assert f"/2/tweets/{gone_native_id(rt)}" in evidence.original.target_uri
    answer = json.loads(evidence.content.payload)
    assert evidence.content.block.startswith(b"HTTP/1.1 200") and "data" not in answer
    assert answer["errors"][0]["type"].endswith("/resource-not-found")
    assert "Could not find tweet" in (gone.detail or "")


def gone_native_id(rt: Runtime) -> str:
    [row] = [p for p in posts(rt) if p.deleted]
    return row.native_id


def test_missing_or_wrong_token_and_unknown_user_fail_clearly(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_X_TOKEN", "expired-token")
    rt = make_runtime(policy(tmp_path, sim))
    wrong = capture_account(rt, ACCOUNT)
    assert wrong.status == "failed" and wrong.error and "401" in wrong.error
    monkeypatch.setenv("SIM_X_TOKEN", TOKEN)
    rt2 = make_runtime(policy(tmp_path / "b", sim, "nobody"))
    unknown = capture_account(rt2, ACCOUNT)
    assert unknown.status == "failed" and unknown.error and "Could not find user" in unknown.error


@pytest.mark.parametrize("kind", ["500", "429", "malformed", "html", "truncated"])
def test_a_bad_timeline_page_is_archived_flagged_and_partial(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, kind: str
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    sim.inject_fault(f"{API}/2/users/9000030/tweets", kind, count=fault_repeats(kind))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial" and result.posts["deleted"] == 0


def test_the_bearer_token_is_never_stored(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    assert capture_account(rt, ACCOUNT).status == "ok"
    warcs = stored_bytes(rt)
    assert TOKEN.encode() not in warcs and b"[REDACTED]" in warcs
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    with rt.index.engine.connect() as conn:
        for table in ("captures", "post_versions", "records", "audit_events"):
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}")
            assert TOKEN not in json.dumps([list(map(str, r)) for r in rows]), table


def test_reposts_quotes_videos_and_reply_authors_come_from_the_expansions(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    by_id = {p.native_id: p for p in posts(rt)}
    web = api_root(sim, "x.com")
    repost = by_id[_tid("USGS", 3)]
    boosted = _nws(3)
    _, versions, _ = rt.index.history(repost.post_id)
    assert repost.kind == "post" and repost.author == "NWS"
    assert repost.url == f"{web}/NWS/status/{boosted['id']}"
    assert versions[-1].text == boosted["text"] and versions[-1].title == "Repost of @NWS"
    quote = by_id[_tid("USGS", 8)]
    _, versions, _ = rt.index.history(quote.post_id)
    assert quote.author == "USGS" and versions[-1].text.startswith("Our gauges confirm it")
    assert versions[-1].title == f"Quoting {web}/NWS/status/{_nws(8)['id']}"
    replies = [p for p in posts(rt, "reply") if p.in_reply_to == _tid("USGS", 0)]
    assert len(replies) == 105
    assert {p.author for p in posts(rt, "reply")} == {"resident1", "resident2", "resident3"}
    ledger = rt.index.get_capture(result.capture_id).ledger
    searches = [e["url"] for e in ledger["exchanges"] if "/search/recent?" in e["url"]]
    first = [u for u in searches if f"conversation_id%3A{_tid('USGS', 0)}" in u]
    assert len(first) == 2 and "next_token=" in first[1]
    assert all("max_results=100" in u and "author_id" in u for u in searches)
    media = [e["url"] for e in ledger["exchanges"] if e["purpose"] == "media"]
    videos = [u for u in media if "/ext_tw_video/" in u and u.endswith(".mp4")]
    assert len(videos) == 2 and all("/1280x720/" in u for u in videos)  # the best bitrate
    assert len([u for u in media if "/tweet_video/" in u]) == 2  # the GIFs' mp4
    assert len([u for u in media if "_thumb/" in u]) == 4  # previews of videos and GIFs


def test_the_timeline_asks_only_documented_fields_within_the_limits(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    opts = "{media: false, comments: false}"
    rt = make_runtime(policy(tmp_path, sim, options=opts))
    result = capture_account(rt, ACCOUNT)
    ledger = rt.index.get_capture(result.capture_id).ledger
    [page] = [e["url"] for e in ledger["exchanges"] if "/tweets?" in e["url"]]
    query = parse_qs(urlsplit(page).query)
    assert query["max_results"] == ["100"]
    assert set(query["tweet.fields"][0].split(",")) >= {
        "author_id",
        "conversation_id",
        "created_at",
        "in_reply_to_user_id",
        "referenced_tweets",
        "attachments",
        "entities",
        "edit_history_tweet_ids",
    }
    assert set(query["expansions"][0].split(",")) >= {
        "author_id",
        "attachments.media_keys",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
    }
    assert set(query["media.fields"][0].split(",")) == {
        "url",
        "preview_image_url",
        "variants",
        "type",
        "alt_text",
    }
    assert query["user.fields"] == ["name,username"]


def test_one_rate_limited_page_is_asked_again_and_the_capture_completes(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, options="{media: false, comments: false}"))
    sim.inject_fault(f"{API}/2/users/9000030/tweets", "429", count=1)
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert result.posts["new"] == 30

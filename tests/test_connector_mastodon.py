"""Mastodon through the simulator: statuses with Link paging, replies, edit history, media,
edits and deletions as records events, every bad input archived and flagged."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from archiver.capture.connectors.api import CursorGuard
from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.index.db import session_scope
from archiver.index.models import PostVersionRow
from archiver.retrieval import extract
from archiver.runtime import Runtime
from archiver.simulator import Simulator
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

HOST = "social.example.gov"


def policy(
    tmp_path: Path, sim: Simulator, handle: str = "@usgs@social.example.gov", **extra: str
) -> Path:
    return platform_policy(
        tmp_path / "policies",
        "mastodon",
        handle=f'"{handle}"',
        base_url=api_root(sim, HOST),
        **extra,
    )


def test_statuses_replies_and_media_are_captured(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert result.posts["new"] == 30 + 15  # 30 statuses; on every 7th two replies and a nested one
    assert len(posts(rt, "post")) == 30 and len(posts(rt, "reply")) == 15
    replies = posts(rt, "reply")
    threads = {p.native_id for p in posts(rt)}
    assert {r.in_reply_to for r in replies} <= threads
    assert {r.in_reply_to for r in replies} - {p.native_id for p in posts(rt, "post")}
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is True
    fetched = [e for e in ledger.ledger["exchanges"] if e["purpose"] == "media"]
    # 6 attachments, 5 link-card images, 3 remote attachments of boosted statuses
    assert len(fetched) == 6 + 5 + 3 and all(e["status"] == 200 for e in fetched)
    pages = [e["url"] for e in ledger.ledger["exchanges"] if "/statuses?" in e["url"]]
    assert len(pages) == 1 and "limit=40" in pages[0]  # 30 statuses fit one page of 40
    hits = rt.index.search("streamflow")
    assert hits and all(h.account == ACCOUNT for h in hits)


def test_link_paging_follows_every_page(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(
        policy(
            tmp_path,
            sim,
            "@bench95@social.example.gov",
            options="{media: false, comments: false, max_items: 1000}",
        )
    )
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok" and result.posts["new"] == 95
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None
    pages = [e for e in ledger.ledger["exchanges"] if "/statuses?" in e["url"]]
    assert len(pages) == 3  # 40 + 40 + 15
    assert "max_id=" in pages[1]["url"]
    # pages 2 and 3 were asked for while the one before was read, and recorded once, in order
    assert [e["purpose"] for e in pages] == ["api"] * 3
    assert len({e["record_id"] for e in pages}) == 3


def test_a_prefetched_answer_never_asked_for_is_archived_all_the_same(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archiver.capture.connectors.mastodon import MastodonConnector

    extra = f"{api_root(sim, HOST)}/api/v1/instance"
    real = MastodonConnector.capture

    def capture(self: MastodonConnector, account: Any, session: Any) -> Any:
        session.prefetch(extra)  # a hint the connector then never follows
        return real(self, account, session)

    monkeypatch.setattr(MastodonConnector, "capture", capture)
    rt = make_runtime(policy(tmp_path, sim, options="{media: false, comments: false}"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    ledger = rt.index.get_capture(result.capture_id).ledger
    [kept] = [e for e in ledger["exchanges"] if e["url"] == extra]
    assert kept["purpose"] == "prefetch" and kept["record_type"] == "response"
    assert rt.index.get_record(kept["record_id"]).target_uri == extra


def test_max_items_stops_early_and_still_counts_as_a_complete_window(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(
        policy(
            tmp_path,
            sim,
            "@bench95@social.example.gov",
            options="{media: false, comments: false, max_items: 50}",
        )
    )
    result = capture_account(rt, ACCOUNT)
    assert result.posts["new"] == 50
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is True


def test_edit_then_delete_become_versions_and_deleted_detected(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    assert capture_account(rt, ACCOUNT).status == "ok"
    sim.advance()
    second = capture_account(rt, ACCOUNT)
    assert second.posts["edited"] == 1 and second.posts["new"] == 1
    [edited] = [p for p in posts(rt, "post") if p.edited]
    _, versions, _ = rt.index.history(edited.post_id)
    assert [v.version for v in versions] == [1, 2]
    assert "corrected" in versions[1].text and "corrected" not in versions[0].text
    ledger = rt.index.get_capture(second.capture_id)
    assert ledger is not None
    assert any(e["url"].endswith("/history") for e in ledger.ledger["exchanges"])

    sim.advance()
    third = capture_account(rt, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt, "deleted_detected")
    assert gone.evidence_record_id and "404" in gone.detail
    assert "/api/v1/statuses/" in gone.detail  # confirmed by the API, not the web page
    deleted = [p for p in posts(rt) if p.deleted]
    assert len(deleted) == 1 and deleted[0].post_id == gone.post_id
    assert [p.post_id for p in rt.index.list_posts(ACCOUNT, deleted=True)] == [gone.post_id]
    # the evidence is an archived 404 response
    evidence = extract(rt, gone.evidence_record_id)
    assert evidence.content.block.startswith(b"HTTP/1.1 404")


def test_a_deleted_post_that_comes_back_is_restored(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    sim.advance()
    sim.advance()
    assert capture_account(rt, ACCOUNT).posts["deleted"] == 1
    [gone] = events(rt, "deleted_detected")
    sim.reset()  # round 1 again: the deleted status is back
    capture_account(rt, ACCOUNT)
    [back] = events(rt, "restored")
    assert back.post_id == gone.post_id
    assert gone.post_id not in {p.post_id for p in posts(rt) if p.deleted}


def test_unknown_handle_fails_with_a_clear_reason(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, "@nobody@social.example.gov"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed"
    assert result.error and "no such account" in result.error and "404" in result.error


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("500", "HTTP 500"),
        ("malformed", "malformed JSON"),
        ("html", "HTML instead of JSON"),
        ("truncated", "cut"),
    ],
)
def test_a_bad_listing_page_is_archived_flagged_and_partial(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, kind: str, words: str
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    sim.inject_fault(f"{HOST}/api/v1/accounts/1001/statuses", kind, count=fault_repeats(kind))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial"
    assert any(words in p for p in result.problems), result.problems
    assert result.posts["deleted"] == 0  # never guessed from a broken listing
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is False
    listing = [e for e in ledger.ledger["exchanges"] if "/statuses?" in e["url"]]
    assert listing and listing[0]["record_id"]  # the bad page itself is in the WARC


def test_the_token_never_reaches_a_record_the_index_or_the_log(
    make_runtime: MakeRuntime,
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = "sim-secret-token-5f2c9a"
    monkeypatch.setenv("MASTODON_TOKEN_TEST", token)
    rt = make_runtime(policy(tmp_path, sim, credentials="MASTODON_TOKEN_TEST"))
    assert capture_account(rt, ACCOUNT).status == "ok"
    warcs = stored_bytes(rt)
    assert b"Authorization: [REDACTED]" in warcs or b"authorization: [REDACTED]" in warcs
    assert token.encode() not in warcs
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err
    with rt.index.engine.connect() as conn:
        for table in ("captures", "post_versions", "records", "audit_events"):
            dump = json.dumps(
                [list(map(str, r)) for r in conn.exec_driver_sql(f"SELECT * FROM {table}")]
            )
            assert token not in dump, table


def test_missing_credentials_fail_before_any_request(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, credentials="NOT_SET_ANYWHERE_TOKEN"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error and "NOT_SET_ANYWHERE_TOKEN" in result.error


class _Session:
    """The two things CursorGuard uses of a capture session."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, message: str, *, url: str | None = None) -> None:
        self.problems.append(message)


def test_a_cursor_that_comes_back_stops_the_listing() -> None:
    session = _Session()
    guard = CursorGuard(session, "statuses")  # type: ignore[arg-type]
    assert guard.admit("a") and guard.admit("b")
    assert not guard.admit("a")
    assert session.problems and "loops" in session.problems[0]
    assert not guard.admit(None) and not guard.admit("")


def statuses_pages(rt: Runtime, capture_id: str) -> int:
    ledger = rt.index.get_capture(capture_id).ledger
    return len([e for e in ledger["exchanges"] if "/statuses?" in e["url"]])


def test_incremental_listing_between_full_listings(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    options = "{comments: false, media: false, max_items: 1000, full_listing_every: P1D}"
    rt = make_runtime(policy(tmp_path, sim, options=options), clock=clock)
    full = capture_account(rt, ACCOUNT)
    assert rt.index.get_capture(full.capture_id).ledger["complete_listing"] is True
    sim.advance()  # round 2: a new status, and an edit of the second-newest
    clock.advance(timedelta(hours=1))
    quick = capture_account(rt, ACCOUNT)
    ledger = rt.index.get_capture(quick.capture_id).ledger
    assert ledger["complete_listing"] is False and ledger["incremental_after"]
    assert quick.posts == {"new": 1, "edited": 0, "deleted": 0}  # the edit waits for a full run
    clock.advance(timedelta(days=1))
    daily = capture_account(rt, ACCOUNT)
    assert rt.index.get_capture(daily.capture_id).ledger["complete_listing"] is True
    assert daily.posts["edited"] == 1 and daily.posts["new"] == 0


def test_an_unchanged_account_costs_one_page_between_full_listings(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    options = "{comments: false, media: false, max_items: 1000, full_listing_every: P1D}"
    folder = policy(tmp_path, sim, handle="@bench200@social.example.gov", options=options)
    rt = make_runtime(folder)
    full = capture_account(rt, ACCOUNT)
    again = capture_account(rt, ACCOUNT)
    # 200 statuses, 40 a page; the fifth page is full, so its Link leads to an empty sixth one
    assert statuses_pages(rt, full.capture_id) == 6
    assert statuses_pages(rt, again.capture_id) == 1
    assert again.status == "ok" and again.posts["new"] == 0
    assert again.bytes < full.bytes / 3  # at 200 posts the warcinfo and ledger records dominate


def _version(rt: Runtime, post_id: str) -> PostVersionRow:
    """The newest stored version of a post (its raw JSON included)."""
    with session_scope(rt.index.engine) as s:
        rows = s.exec(select(PostVersionRow).where(PostVersionRow.post_id == post_id)).all()
        return max(rows, key=lambda v: v.version)


def test_a_boost_is_indexed_as_the_boosted_status_under_its_own_id(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    boosts = [p for p in posts(rt, "post") if p.author == "noaa@weather.example"]
    assert len(boosts) == 3  # statuses 4, 13 and 22
    ledger = rt.index.get_capture(result.capture_id).ledger
    fetched = {e["url"] for e in ledger["exchanges"] if e["purpose"] == "media"}
    for boost in boosts:
        latest = _version(rt, boost.post_id)
        outer = json.loads(latest.raw)
        assert outer["reblog"] and outer["content"] == ""  # what the instance served
        assert boost.native_id == outer["id"] != outer["reblog"]["id"]
        assert boost.url == outer["reblog"]["url"] and "/activity" not in boost.url
        assert latest.title == "Boost of @noaa@weather.example"
        assert latest.text.startswith("Weather outlook") and boost.in_reply_to is None
        [attachment] = outer["reblog"]["media_attachments"]
        assert attachment["url"] is None  # not cached by the instance: remote_url is fetched
        assert any(u.endswith(attachment["remote_url"].split("//", 1)[1]) for u in fetched)


def test_replies_to_replies_keep_their_thread_and_authors(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    statuses = {p.native_id for p in posts(rt, "post")}
    replies = {p.native_id: p for p in posts(rt, "reply")}
    nested = [r for r in replies.values() if r.in_reply_to in replies]
    assert len(nested) == 5  # one under the first reply of each of the 5 threads
    assert all(replies[r.in_reply_to].in_reply_to in statuses for r in nested)
    assert {r.author for r in replies.values()} == {
        "resident0@citizen.example",
        "resident1@citizen.example",
    }


def test_a_link_card_image_is_fetched_as_media_only_when_media_is_on(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, options="{media: false}"))
    result = capture_account(rt, ACCOUNT)
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert not [e for e in ledger["exchanges"] if e["purpose"] == "media"]
    rt2 = make_runtime(policy(tmp_path / "on", sim), data_dir=tmp_path / "on-data")
    ledger = rt2.index.get_capture(capture_account(rt2, ACCOUNT).capture_id).ledger
    cards = [e for e in ledger["exchanges"] if "/preview_cards/" in e["url"]]
    assert len(cards) == 5 and all(e["purpose"] == "media" for e in cards)


def test_an_api_probe_without_a_usable_answer_falls_back_to_the_web_page(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim))
    capture_account(rt, ACCOUNT)
    newest = sorted(posts(rt, "post"), key=lambda p: p.published_at, reverse=True)
    doomed = newest[3]  # round 3 deletes the fourth-newest of round 1
    sim.advance()
    sim.advance()
    route = f"{HOST}/api/v1/statuses/{doomed.native_id}"
    sim.inject_fault(route, "500", count=fault_repeats("500"))
    third = capture_account(rt, ACCOUNT)
    assert third.posts["deleted"] == 1
    [gone] = events(rt, "deleted_detected")
    assert gone.post_id == doomed.post_id
    assert "/api/v1/" not in gone.detail and f"/@usgs/{doomed.native_id}" in gone.detail


def _get(sim: Simulator, path: str) -> tuple[int, dict[str, str], Any]:
    """GET ``path`` of the simulated instance: status, headers, parsed JSON."""
    try:
        with urllib.request.urlopen(f"{api_root(sim, HOST)}{path}", timeout=10) as answer:
            return answer.status, dict(answer.headers.items()), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), json.loads(exc.read())


def _links(headers: dict[str, str]) -> dict[str, str]:
    found = re.findall(r'<([^>]+)>;\s*rel="(\w+)"', headers.get("Link", ""))
    return {rel: url for url, rel in found}


BENCH95 = "/api/v1/accounts/2000095/statuses"


@pytest.mark.parametrize(("asked", "served"), [("", 20), ("?limit=5", 5), ("?limit=100", 40)])
def test_the_simulated_listing_clamps_limit_silently_as_mastodon_does(
    sim: Simulator, asked: str, served: int
) -> None:
    status, headers, page = _get(sim, BENCH95 + asked)
    assert status == 200 and len(page) == served
    assert [s["id"] for s in page] == sorted((s["id"] for s in page), reverse=True)
    nxt = _links(headers)["next"]
    assert nxt.endswith(f"max_id={page[-1]['id']}") and (asked[1:] in nxt)
    assert _links(headers)["prev"].endswith(f"min_id={page[0]['id']}")


def test_the_simulated_listing_links_a_full_last_page_to_an_empty_one(sim: Simulator) -> None:
    _, headers, first = _get(sim, "/api/v1/accounts/2000040/statuses?limit=40")
    assert len(first) == 40 and "next" in _links(headers)
    nxt = _links(headers)["next"].split("/api/v1/", 1)[1]
    status, headers, last = _get(sim, f"/api/v1/{nxt}")
    assert status == 200 and last == [] and "Link" not in headers


def test_the_simulated_listing_serves_the_page_just_above_min_id(sim: Simulator) -> None:
    _, _, newest = _get(sim, BENCH95 + "?limit=10")
    _, _, above = _get(sim, f"{BENCH95}?limit=3&min_id={newest[-1]['id']}")
    assert [s["id"] for s in above] == [s["id"] for s in newest[-4:-1]]
    _, _, since = _get(sim, f"{BENCH95}?limit=3&since_id={newest[-1]['id']}")
    assert [s["id"] for s in since] == [s["id"] for s in newest[:3]]


def test_the_simulated_listing_honours_its_filters(sim: Simulator) -> None:
    _, _, every = _get(sim, "/api/v1/accounts/1001/statuses?limit=40")
    assert any(s["reblog"] for s in every) and any(s["card"] for s in every)
    _, _, own = _get(sim, "/api/v1/accounts/1001/statuses?limit=40&exclude_reblogs=true")
    assert own and not any(s["reblog"] for s in own) and len(own) == len(every) - 3
    _, _, media = _get(sim, "/api/v1/accounts/1001/statuses?only_media=true&limit=40")
    assert media and all(s["media_attachments"] for s in media)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/timelines/nowhere", "/api/v2/search?q=x", "/api/v1/statuses/1/reblogged_by/x"],
)
def test_unknown_api_paths_answer_mastodons_json_404(sim: Simulator, path: str) -> None:
    status, headers, body = _get(sim, path)
    assert status == 404 and body == {"error": "Record not found"}
    assert headers["Content-Type"].startswith("application/json")

"""Mastodon through the simulator: statuses with Link paging, replies, edit history, media,
edits and deletions as records events, every bad input archived and flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.capture.connectors.api import CursorGuard
from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
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
    assert result.posts["new"] == 30 + 10  # 30 statuses, two replies on every 7th
    assert len(posts(rt, "post")) == 30 and len(posts(rt, "reply")) == 10
    replies = posts(rt, "reply")
    assert {r.in_reply_to for r in replies} <= {p.native_id for p in posts(rt, "post")}
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is True
    fetched = [e for e in ledger.ledger["exchanges"] if e["purpose"] == "media"]
    assert len(fetched) == 6 and all(e["status"] == 200 for e in fetched)
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
    assert statuses_pages(rt, full.capture_id) == 5  # 200 statuses, 40 a page
    assert statuses_pages(rt, again.capture_id) == 1
    assert again.status == "ok" and again.posts["new"] == 0
    assert again.bytes < full.bytes / 3  # at 200 posts the warcinfo and ledger records dominate

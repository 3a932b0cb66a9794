"""Facebook and Instagram through the simulator's Graph API: paging.next (which carries the token,
as the real API's does), comments, pictures, an edit as a version, a deletion detected with its
404 permalink, a bad token, and the token never stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.simulator import Simulator
from archiver.simulator.platforms.graph import IG_USER, PAGE_NAME, TOKEN
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
        base_url=f"{api_root(sim, 'graph.facebook.com')}/v19.0",
        credentials="SIM_GRAPH_TOKEN",
        **extra,
    )


@pytest.mark.parametrize(
    ("platform", "handle", "count", "comments", "media"),
    [("facebook", PAGE_NAME, 30, 10, 6), ("instagram", IG_USER, 20, 8, 20)],
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
    ledger = rt_all.index.get_capture(first.capture_id).ledger
    assert len([e for e in ledger["exchanges"] if e["purpose"] == "media"]) == media
    assert TOKEN.encode() not in stored_bytes(rt_all)  # also scrubbed from paging.next links
    sim.advance()
    second = capture_account(rt_all, ACCOUNT)
    assert second.posts["edited"] == 1
    sim.advance()
    third = capture_account(rt_all, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt_all, "deleted_detected")
    assert gone.evidence_record_id is not None
    assert extract(rt_all, gone.evidence_record_id).content.block.startswith(b"HTTP/1.1 404")


def test_paging_follows_next_links(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    from archiver.simulator.platforms import graph

    rt = make_runtime(policy(tmp_path, sim, "facebook", PAGE_NAME, options="{comments: false}"))
    result = capture_account(rt, ACCOUNT)
    ledger = rt.index.get_capture(result.capture_id).ledger
    pages = [e["url"] for e in ledger["exchanges"] if "/posts?" in e["url"]]
    assert len(pages) == 1 and graph.PAGE in pages[0]  # 30 posts fit one page of 100
    assert "access_token=[REDACTED]" in pages[0]


def test_a_bad_token_fails_naming_the_token(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_GRAPH_TOKEN", "expired")
    rt = make_runtime(policy(tmp_path, sim, "facebook", PAGE_NAME))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error and "token" in result.error


def test_an_unknown_page_fails_clearly(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime(policy(tmp_path, sim, "facebook", "NoSuchPage"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error and "unknown page" in result.error

"""WeChat Official Accounts through the simulator: token, freepublish pages by offset, article
pages, edits and deletions as records events, errcode answers as clear ledger lines, and neither
the appsecret nor the access token in any record, table or log line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archiver.capture.connectors.wechat import WeChatConnector, errcode_message
from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from archiver.simulator.platforms import wechat as simulated
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

API = "api.weixin.qq.com"
ENV = "WECHAT_TEST_CREDENTIALS"
LISTING = f"{API}/cgi-bin/freepublish/batchget"


def policy(
    tmp_path: Path,
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    appid: str = simulated.APPID,
    secret: str = simulated.SECRET,
    **extra: str,
) -> Path:
    monkeypatch.setenv(ENV, f"{appid}:{secret}")
    return platform_policy(
        tmp_path / "policies",
        "wechat",
        handle='"gh_sim0000001"',
        base_url=api_root(sim, API),
        credentials=ENV,
        **extra,
    )


def exchanges(rt: Runtime, capture_id: str) -> list[dict[str, object]]:
    ledger = rt.index.get_capture(capture_id)
    assert ledger is not None
    found: list[dict[str, object]] = ledger.ledger["exchanges"]
    return found


def test_articles_and_their_pages_are_captured(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(policy(tmp_path, sim, monkeypatch))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    # 25 publishes, three of them with a second article; one more article is_deleted
    assert result.posts["new"] == 28
    stored = posts(rt, "post")
    assert len(stored) == 28
    assert all(":" in p.native_id for p in stored)
    assert sum(p.native_id.endswith(":1") for p in stored) == 3
    _, [version], _ = rt.index.history(stored[0].post_id)
    assert "信息发布" in (version.title or "") and "update" in version.text
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is True
    seen = exchanges(rt, result.capture_id)
    listing = [e for e in seen if "/freepublish/batchget" in str(e["url"])]
    assert len(listing) == 2 and all(e["method"] == "POST" for e in listing)
    warcs = stored_bytes(rt)  # the POST bodies are recorded with their requests
    for offset in (0, 20):
        assert b'{"offset":%d,"count":20,"no_content":0}' % offset in warcs
    pages = [e for e in seen if e["purpose"] == "page"]
    assert len(pages) == 28 and all(e["status"] == 200 for e in pages)
    assert all("mp.weixin.qq.com/s/" in str(e["url"]) for e in pages)
    media = [e for e in seen if e["purpose"] == "media"]
    assert len(media) == 28
    # the page itself is archived as the UTF-8 HTML the platform served
    first = next(p for p in stored if p.url)
    assert first.url
    page = extract(rt, first.url)
    assert "信息发布".encode() in page.content.payload


def test_offset_paging_reaches_total_count(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(
        policy(tmp_path, sim, monkeypatch, appid="wxbench45", options="{media: false}")
    )
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert result.posts["new"] == 45
    listing = [e for e in exchanges(rt, result.capture_id) if "/batchget" in str(e["url"])]
    assert len(listing) == 3
    warcs = stored_bytes(rt)
    offsets = [int(m) for m in re.findall(rb'\{"offset":(\d+),"count":20', warcs)]
    assert offsets == [0, 20, 40]


def test_max_items_stops_early_and_the_window_is_complete(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(
        policy(
            tmp_path, sim, monkeypatch, appid="wxbench45", options="{media: false, max_items: 10}"
        )
    )
    result = capture_account(rt, ACCOUNT)
    assert result.posts["new"] == 10
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is True
    assert len([e for e in ledger.ledger["exchanges"] if "/batchget" in e["url"]]) == 1


def test_edit_then_delete_become_versions_and_deleted_detected(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(policy(tmp_path, sim, monkeypatch, options="{media: false}"))
    assert capture_account(rt, ACCOUNT).status == "ok"
    sim.advance()
    second = capture_account(rt, ACCOUNT)
    assert second.posts["edited"] == 1 and second.posts["new"] == 1, second.problems
    [edited] = [p for p in posts(rt, "post") if p.edited]
    _, versions, _ = rt.index.history(edited.post_id)
    assert [v.version for v in versions] == [1, 2]
    assert "更正" in (versions[1].title or "") and "更正" not in (versions[0].title or "")
    assert "corrected" in versions[1].text and "corrected" not in versions[0].text

    sim.advance()
    third = capture_account(rt, ACCOUNT)
    assert third.posts["deleted"] == 1, third.problems
    [gone] = events(rt, "deleted_detected")
    assert gone.evidence_record_id and simulated.DELETED_TEXT in gone.detail
    assert [p.post_id for p in rt.index.list_posts(ACCOUNT, deleted=True)] == [gone.post_id]
    evidence = extract(rt, gone.evidence_record_id)
    # the real site shows the notice with HTTP 200: the notice, not the status, is the evidence
    assert evidence.content.block.startswith(b"HTTP/1.1 200")
    assert simulated.DELETED_TEXT.encode() in evidence.content.payload


def test_a_wrong_appsecret_fails_with_a_clear_reason_and_the_answer_archived(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(policy(tmp_path, sim, monkeypatch, secret="not-the-secret"))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed"
    assert result.error and "40125" in result.error and "appsecret is wrong" in result.error
    assert ENV in result.error and "archived raw in" in result.error
    [token] = exchanges(rt, result.capture_id)
    assert token["status"] == 200 and token["record_id"]
    assert b"invalid appsecret" in stored_bytes(rt)
    assert b"not-the-secret" not in stored_bytes(rt)


def test_credentials_without_a_colon_fail_before_any_request(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = policy(tmp_path, sim, monkeypatch)
    monkeypatch.setenv(ENV, "just-one-value")
    rt = make_runtime(path)
    result = capture_account(rt, ACCOUNT)
    assert result.status == "failed" and result.error and "APPID:SECRET" in result.error
    assert exchanges(rt, result.capture_id) == []


def test_a_used_up_quota_is_flagged_with_its_remedy(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(policy(tmp_path, sim, monkeypatch, appid=simulated.QUOTA_APPID))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial"
    assert any("45009" in p and "quota" in p and "archived raw in" in p for p in result.problems)
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is False


def test_errcode_answers_become_ledger_lines() -> None:
    refused = {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
    line = errcode_message(refused, what="listing", credentials=ENV)
    assert line and line.startswith("listing: ") and "40001" in line and "access_token" in line
    unknown = errcode_message(
        {"errcode": 61451, "errmsg": "invalid parameter"}, what="x", credentials=ENV
    )
    assert unknown and "61451" in unknown and "invalid parameter" in unknown
    assert errcode_message({"errcode": 0, "errmsg": "ok"}, what="x", credentials=ENV) is None
    assert errcode_message({"total_count": 0}, what="x", credentials=ENV) is None


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
    make_runtime: MakeRuntime,
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    words: str,
) -> None:
    rt = make_runtime(policy(tmp_path, sim, monkeypatch, options="{media: false}"))
    capture_account(rt, ACCOUNT)
    sim.inject_fault(LISTING, kind, count=fault_repeats(kind))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial"
    assert any(words in p for p in result.problems), result.problems
    assert result.posts["deleted"] == 0  # never guessed from a broken listing
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is False
    listing = [e for e in ledger.ledger["exchanges"] if "/batchget" in e["url"]]
    assert listing and listing[0]["record_id"]  # the bad page itself is in the WARC
    token = simulated.token_for(simulated.APPID)
    assert all(token not in p for p in result.problems)


def test_neither_the_secret_nor_the_token_reaches_a_record_the_index_or_the_log(
    make_runtime: MakeRuntime,
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rt = make_runtime(policy(tmp_path, sim, monkeypatch))
    assert capture_account(rt, ACCOUNT).status == "ok"
    sim.advance()
    sim.inject_fault(
        LISTING, "500", count=fault_repeats("500")
    )  # a problem line that names the listing URL
    assert capture_account(rt, ACCOUNT).status == "partial"
    token = simulated.token_for(simulated.APPID)
    warcs = stored_bytes(rt)
    assert b'"access_token":"[REDACTED]"' in warcs  # the token answer, recorded redacted
    assert b"access_token=%5BREDACTED%5D" in warcs or b"access_token=[REDACTED]" in warcs
    for secret in (simulated.SECRET, token):
        assert secret.encode() not in warcs, secret
        captured = capsys.readouterr()
        assert secret not in captured.out + captured.err
        with rt.index.engine.connect() as conn:
            for table in ("captures", "posts", "post_versions", "records", "audit_events"):
                dump = json.dumps(
                    [list(map(str, r)) for r in conn.exec_driver_sql(f"SELECT * FROM {table}")],
                    ensure_ascii=False,
                )
                assert secret not in dump, table


def test_posts_read_back_from_the_listing_match_the_capture(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(policy(tmp_path, sim, monkeypatch, options="{media: false}"))
    result = capture_account(rt, ACCOUNT)
    assert rt.policies is not None
    account = rt.policies.accounts[ACCOUNT]
    connector = WeChatConnector()
    rebuilt = []
    for e in exchanges(rt, result.capture_id):
        record = extract(rt, str(e["record_id"]))
        rebuilt += connector.posts_from_response(
            account, str(e["url"]), "application/json", record.content.payload, str(e["record_id"])
        )
    assert sorted(p.native_id for p in rebuilt) == sorted(p.native_id for p in posts(rt, "post"))

"""A secret never lands, in any spelling: not in WARCs, the ledger, problems, logs or --json.

A platform that echoes the token percent-encoded in its next-page link, JSON-escaped in the
body, and a next page that never answers (its raw URL would otherwise go into the ledger).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from archiver.capture.job import capture_account
from archiver.capture.redact import REDACTED, Redactor, spellings
from tests.conftest import MakeRuntime
from tests.corpus_replay import ReplayServer
from tests.platforms import platform_policy, stored_bytes

TOKEN = "tok/en|abc+def=="


def test_every_spelling_is_redacted() -> None:
    redactor = Redactor()
    redactor.add(TOKEN)
    forms = [
        TOKEN,
        quote(TOKEN, safe=""),
        quote(TOKEN, safe="").lower(),
        quote_plus(TOKEN),
        json.dumps(TOKEN)[1:-1],
        json.dumps(TOKEN).replace("/", "\\/")[1:-1],
        quote(quote(TOKEN, safe=""), safe=""),
    ]
    for form in forms:
        assert form in spellings(TOKEN) or form.lower() in {s.lower() for s in spellings(TOKEN)}
        assert form not in redactor.text(f"next: https://x.example/?cursor={form}&a=1")
        assert form.encode() not in redactor.bytes(f'{{"next":"{form}"}}'.encode())
    assert redactor.text("access_token=abc https://h.example/p?access_token=zzz") == (
        "access_token=abc https://h.example/p?access_token=" + REDACTED
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def echoing_server() -> ReplayServer:
    server = ReplayServer()
    dead = f"http://127.0.0.1:{_closed_port()}"
    account = {"id": "42", "username": "agency", "acct": "agency"}
    server.add_json("GET", "/api/v1/accounts/lookup", json.dumps(account).encode())
    status = {
        "id": "1001",
        "created_at": "2026-11-30T10:00:00.000Z",
        "content": "<p>Road closures today</p>",
        "url": "https://localhost/@agency/1001",
        "account": account,
        "media_attachments": [],
        "replies_count": 0,
        "echo": TOKEN,  # a platform handing the token back, JSON-escaped on the wire
    }
    link = f"<{dead}/api/v1/accounts/42/statuses?max_id=1001&state={quote(TOKEN, safe='')}>"
    server.add_json(
        "GET",
        "/api/v1/accounts/42/statuses",
        json.dumps([status]).encode(),
        headers=[("Link", f'{link}; rel="next"')],
    )
    return server


def test_echoed_token_lands_nowhere(
    tmp_path: Path,
    make_runtime: MakeRuntime,
    echoing_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SECRET_TEST_TOKEN", TOKEN)
    folder = platform_policy(
        tmp_path / "policies",
        "mastodon",
        handle='"@agency@localhost"',
        base_url=echoing_server.base_url,
        credentials="SECRET_TEST_TOKEN",
        options="{media: false}",
    )
    rt = make_runtime(folder)
    with echoing_server:
        result = capture_account(rt, "agency-account")
    assert result.status == "partial", result.problems  # the next page never answered
    assert any("127.0.0.1" in p for p in result.problems)
    seen = {
        "warc": stored_bytes(rt).decode("utf-8", "replace"),
        "problems": json.dumps(result.problems, ensure_ascii=False),
        "ledger": json.dumps(
            [c.ledger for c in rt.index.list_captures("agency-account")],
            ensure_ascii=False,
            default=str,
        ),
        "logs": "".join(capsys.readouterr()),
    }
    for where, text in seen.items():
        for form in spellings(TOKEN):
            assert form not in text, f"{form!r} in the {where}"
    assert REDACTED in seen["warc"]

"""WeChat against real recordings at the real paths: the token answer (wechatpy's fixture of the
documented shape), the published-articles listing (a hand-written wrapper in the documented
``freepublish/batchget`` shape, two pages by offset) whose articles are the real
``mp.weixin.qq.com`` pages in the corpus, and the real page WeChat shows for an article that is
gone. Expectations are read from the recordings themselves: the page's heading, byline, ``var
ct`` and ``#js_content`` text; the token fixture's value. The simulator is held to the same
contract (POST-only listings, errcode answers in HTTP 200, field selection by ``no_content``)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.connectors.wechat import WeChatConnector, parse_article_page
from archiver.capture.job import capture_account
from archiver.retrieval import extract
from archiver.simulator import Simulator
from archiver.simulator.platforms import wechat as simulated
from tests.conftest import MakeRuntime
from tests.corpus_replay import ReplayServer
from tests.platforms import ACCOUNT, api_root, events, platform_policy, posts, stored_bytes

ENV = "WECHAT_CONTRACT_CREDENTIALS"
APPID, SECRET = "wx0123456789abcdef", "contract-test-appsecret"
LISTING = "/cgi-bin/freepublish/batchget"
PAGES = {"mpvoice": "article_detail_mpvoice.html", "qqmusic": "article_detail_qqmusic.html"}


# --- what a recorded page states, read independently of the connector -----------------------


class _ById(HTMLParser):
    """The text inside each element with an id (scripts and styles left out), and the
    ``rich_media_meta_text`` elements without an id inside ``#meta_content``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, str | None, bool]] = []  # tag, id, is a byline element
        self.text: dict[str, list[str]] = {}
        self.bylines: list[list[str]] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("img", "br", "meta", "link", "input", "hr", "source"):
            return
        a = dict(attrs)
        in_meta = any(i == "meta_content" for _, i, _ in self.open)
        byline = (
            in_meta
            and "id" not in a
            and "rich_media_meta_text" in (a.get("class") or "").split()
            and "rich_media_meta_nickname" not in (a.get("class") or "").split()
        )
        if byline:
            self.bylines.append([])
        self.open.append((tag, a.get("id"), byline))
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        if all(t != tag for t, _, _ in self.open):
            return  # a stray end tag closes nothing
        while self.open:
            t, _, _ = self.open.pop()
            self.skip -= t in ("script", "style")
            if t == tag:
                return

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        for _, element_id, _byline in self.open:
            if element_id:
                self.text.setdefault(element_id, []).append(data)
        if self.open and self.open[-1][2]:
            self.bylines[-1].append(data)

    def of(self, element_id: str) -> str:
        return " ".join("".join(self.text.get(element_id, [])).split())


@dataclass
class Stated:
    title: str
    byline: str
    account: str
    published_at: datetime
    text: str


def stated(page: str) -> Stated:
    parser = _ById()
    parser.feed(page)
    ct = re.search(r'var ct = "(\d+)"', page)
    assert ct, "the page script states the publish time"
    byline = next(" ".join("".join(b).split()) for b in parser.bylines if "".join(b).strip())
    return Stated(
        title=parser.of("activity-name"),
        byline=byline,
        account=parser.of("post-user"),
        published_at=datetime.fromtimestamp(int(ct.group(1)), UTC),
        text=parser.of("js_content"),
    )


def flat(text: str) -> str:
    """The characters of ``text`` without whitespace (where block breaks fall is layout)."""
    return "".join(text.split())


# --- the replayed platform --------------------------------------------------------------------


def news_item(base: str, key: str) -> dict[str, Any]:
    """A listing entry in the documented shape that leaves to the page what a ``no_content``
    listing or a sparse answer may not carry: title, author, text, times."""
    return {
        "title": "",
        "author": "",
        "digest": "",
        "content_source_url": "",
        "thumb_media_id": "",
        "url": f"{base}/s/{key}",
        "thumb_url": "",
        "is_deleted": False,
    }


def listing_page(base: str, keys: list[str], total: int) -> bytes:
    rows = [
        {"article_id": f"contract_{key}", "content": {"news_item": [news_item(base, key)]}}
        for key in keys
    ]
    return json.dumps({"total_count": total, "item_count": len(rows), "item": rows}).encode()


@pytest.fixture
def replay(corpus: Path) -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        server.add_json("GET", "/cgi-bin/token", corpus / "wechat/wechatpy-fixtures/token.json")
        yield server


def token_of(corpus: Path) -> str:
    value = json.loads((corpus / "wechat/wechatpy-fixtures/token.json").read_bytes())
    token: str = value["access_token"]
    return token


def serve_page(server: ReplayServer, corpus: Path, key: str, name: str, **kw: Any) -> None:
    answer = server.add_json("GET", f"/s/{key}", corpus / "wechat/article-pages" / name, **kw)
    answer.headers[:] = [("Content-Type", "text/html; charset=utf-8")]  # served as recorded


def policy(tmp_path: Path, server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV, f"{APPID}:{SECRET}")
    return platform_policy(
        tmp_path / "policies",
        "wechat",
        handle='"gh_contract"',
        base_url=server.base_url,
        credentials=ENV,
        options="{media: false}",
    )


def test_the_recorded_article_pages_become_posts_stating_what_the_pages_state(
    make_runtime: MakeRuntime,
    replay: ReplayServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = replay.base_url
    for key, name in PAGES.items():
        serve_page(replay, corpus, key, name)
    replay.add_json("POST", LISTING, listing_page(base, ["qqmusic"], 2), times=1)
    replay.add_json("POST", LISTING, listing_page(base, ["mpvoice"], 2), times=1)
    rt = make_runtime(policy(tmp_path, replay, monkeypatch))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems

    # the listing: POSTs with the JSON body, the fixture's token in the query, pages by offset
    token = token_of(corpus)
    [asked] = replay.requests_to("/cgi-bin/token")
    assert asked.method == "GET" and asked.query["grant_type"] == ["client_credential"]
    assert asked.query["appid"] == [APPID] and asked.query["secret"] == [SECRET]
    listing = replay.requests_to(LISTING)
    assert [r.method for r in listing] == ["POST", "POST"]
    assert [r.query["access_token"] for r in listing] == [[token], [token]]
    assert [r.json() for r in listing] == [
        {"offset": 0, "count": 20, "no_content": 0},
        {"offset": 1, "count": 20, "no_content": 0},
    ]
    assert all(r.headers.get("Content-Type") == "application/json" for r in listing)
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is True

    # each post states what its page states
    stored = {p.native_id: p for p in posts(rt, "post")}
    assert sorted(stored) == ["contract_mpvoice:0", "contract_qqmusic:0"]
    for key, name in PAGES.items():
        page = stated((corpus / "wechat/article-pages" / name).read_text(encoding="utf-8"))
        row = stored[f"contract_{key}:0"]
        assert row.url == f"{base}/s/{key}"
        assert row.author == page.byline
        assert row.published_at is not None
        assert row.published_at.astimezone(UTC) == page.published_at
        _, [version], _ = rt.index.history(row.post_id)
        assert version.title == page.title
        assert flat(version.text) == flat(page.text) and len(page.text) > 500
        assert row.in_reply_to is None and row.kind == "post"

    # the token never reaches a record; the pages are archived as served
    warcs = stored_bytes(rt)
    assert token.encode() not in warcs and SECRET.encode() not in warcs
    assert re.search(rb'"access_token":\s*"\[REDACTED\]"', warcs)  # the fixture's spacing
    assert (corpus / "wechat/article-pages" / PAGES["qqmusic"]).read_bytes() in warcs


def test_the_parsed_pages_name_the_account_and_its_gh_id(corpus: Path) -> None:
    for name in PAGES.values():
        page = (corpus / "wechat/article-pages" / name).read_text(encoding="utf-8")
        found = parse_article_page(page)
        expected = stated(page)
        assert found.account == expected.account
        [gh] = re.findall(r'var user_name = "(gh_[0-9a-f]+)"', page)
        assert found.account_id == gh
        assert found.is_article and not found.gone and found.notice is None


def test_the_recorded_expired_page_is_recognized_as_gone(corpus: Path) -> None:
    page = (corpus / "wechat/article-pages/article_detail_expired.html").read_text(encoding="utf-8")
    [notice] = re.findall(r'<h2 class="weui-msg__title">\s*(.*?)\s*</h2>', page, re.S)
    found = parse_article_page(page)
    assert found.notice == notice and found.gone and not found.is_article
    assert found.title is None and found.text == ""


def test_a_deleted_article_is_confirmed_by_its_page_showing_the_expired_notice(
    make_runtime: MakeRuntime,
    replay: ReplayServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = replay.base_url
    for key, name in PAGES.items():
        serve_page(replay, corpus, key, name, times=1)
    replay.add_json("POST", LISTING, listing_page(base, ["qqmusic", "mpvoice"], 2), times=1)
    rt = make_runtime(policy(tmp_path, replay, monkeypatch))
    assert capture_account(rt, ACCOUNT).status == "ok"

    # qqmusic (the newer) leaves the listing and its link now shows the expired page
    serve_page(replay, corpus, "qqmusic", "article_detail_expired.html")
    serve_page(replay, corpus, "mpvoice", PAGES["mpvoice"])
    replay.add_json("POST", LISTING, listing_page(base, ["mpvoice"], 1), times=1)
    second = capture_account(rt, ACCOUNT)
    assert second.status == "ok", second.problems
    assert second.posts["deleted"] == 1
    [gone] = events(rt, "deleted_detected")
    expired = (corpus / "wechat/article-pages/article_detail_expired.html").read_bytes()
    [notice] = re.findall(rb'<h2 class="weui-msg__title">\s*(.*?)\s*</h2>', expired, re.S)
    assert notice.decode() in (gone.detail or "")
    assert gone.evidence_record_id
    evidence = extract(rt, gone.evidence_record_id)
    assert (
        evidence.content.block.startswith(b"HTTP/1.1 200") and evidence.content.payload == expired
    )
    [deleted] = rt.index.list_posts(ACCOUNT, deleted=True)
    assert deleted.native_id == "contract_qqmusic:0"


def test_an_article_page_still_shown_is_not_deleted(replay: ReplayServer, corpus: Path) -> None:
    serve_page(replay, corpus, "qqmusic", PAGES["qqmusic"])
    session = _Probe()
    probe = WeChatConnector().probe_deletion(
        None,  # type: ignore[arg-type]  # the account is not consulted
        session,  # type: ignore[arg-type]
        "contract_qqmusic:0",
        f"{replay.base_url}/s/qqmusic",
    )
    assert probe is not None and not probe.deleted and "still shows" in probe.detail
    replay.add_json("GET", "/s/busy", b"{}", status=503)
    busy = WeChatConnector().probe_deletion(
        None,  # type: ignore[arg-type]
        session,  # type: ignore[arg-type]
        "x:0",
        f"{replay.base_url}/s/busy",
    )
    assert busy is None  # says nothing of the article: the job falls back to the web URL


class _Probe:
    """Just enough of a capture session for a probe: a plain GET through the HTTP client."""

    def __init__(self) -> None:
        from archiver.capture.http import HttpClient, HttpLimits

        self.http = HttpClient(limits=HttpLimits(max_retries=0), allow_private=True)

    def fetch(self, url: str, **_: Any) -> Any:
        return self.http.request("GET", url)[-1]

    def record_id(self, exchange: Any) -> str:
        return "urn:uuid:probe"


# --- errcode answers (documented shapes, in HTTP 200) ----------------------------------------


def errcode(code: int, message: str) -> bytes:
    return json.dumps({"errcode": code, "errmsg": message}).encode()


def test_a_refused_token_is_fetched_again_once_and_the_page_asked_again(
    make_runtime: MakeRuntime,
    replay: ReplayServer,
    corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_page(replay, corpus, "mpvoice", PAGES["mpvoice"])
    replay.add_json("POST", LISTING, errcode(42001, "access_token expired"), times=1)
    replay.add_json("POST", LISTING, listing_page(replay.base_url, ["mpvoice"], 1), times=1)
    rt = make_runtime(policy(tmp_path, replay, monkeypatch))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    assert len(replay.requests_to("/cgi-bin/token")) == 2
    assert [r.json()["offset"] for r in replay.requests_to(LISTING)] == [0, 0]
    assert result.posts["new"] == 1


def test_a_token_refused_twice_ends_the_listing_partial(
    make_runtime: MakeRuntime,
    replay: ReplayServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replay.add_json("POST", LISTING, errcode(40001, "invalid credential"))
    rt = make_runtime(policy(tmp_path, replay, monkeypatch))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial"
    assert len(replay.requests_to("/cgi-bin/token")) == 2  # once more, never a loop
    assert len(replay.requests_to(LISTING)) == 2
    assert any("40001" in p for p in result.problems), result.problems


@pytest.mark.parametrize(
    ("code", "message", "words"),
    [
        (45009, "reach max api daily quota limit", "daily API quota"),
        (45011, "api minute-quota reach limit mustslower retry next minute", "per-minute"),
        (40097, "invalid args hint: [abc]", "invalid args"),
        (61451, "invalid parameter", "errcode 61451: invalid parameter"),
    ],
)
def test_listing_errcodes_are_noted_with_code_and_message(
    make_runtime: MakeRuntime,
    replay: ReplayServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    message: str,
    words: str,
) -> None:
    replay.add_json("POST", LISTING, errcode(code, message))
    rt = make_runtime(policy(tmp_path, replay, monkeypatch))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "partial"
    [line] = [p for p in result.problems if str(code) in p]
    assert words in line and message[:20] in line and "archived raw in" in line
    assert len(replay.requests_to(LISTING)) == 1
    ledger = rt.index.get_capture(result.capture_id)
    assert ledger is not None and ledger.ledger["complete_listing"] is False


# --- the simulator keeps the same contract ---------------------------------------------------


def call(sim: Simulator, path: str, body: Any = None, *, host: str = simulated.API) -> Any:
    url = f"{api_root(sim, host)}{path}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("application/json")
        return json.loads(answer.read())


def sim_token(sim: Simulator) -> str:
    answer = call(
        sim,
        f"/cgi-bin/token?grant_type=client_credential&appid={simulated.APPID}"
        f"&secret={simulated.SECRET}",
    )
    token: str = answer["access_token"]
    return token


def test_the_simulated_token_and_material_count_have_the_fixtures_shapes(
    sim: Simulator, corpus: Path
) -> None:
    fixtures = corpus / "wechat/wechatpy-fixtures"
    recorded_token = json.loads((fixtures / "token.json").read_bytes())
    token_answer = call(
        sim,
        f"/cgi-bin/token?grant_type=client_credential&appid={simulated.APPID}"
        f"&secret={simulated.SECRET}",
    )
    assert set(token_answer) == set(recorded_token)
    assert token_answer["expires_in"] == recorded_token["expires_in"]
    recorded_count = json.loads((fixtures / "material_get_materialcount.json").read_bytes())
    count = call(sim, f"/cgi-bin/material/get_materialcount?access_token={sim_token(sim)}")
    assert set(count) == set(recorded_count)
    assert all(isinstance(v, int) for v in count.values())


def test_the_simulated_listing_is_post_only_and_enforces_its_limits(sim: Simulator) -> None:
    token = sim_token(sim)
    path = f"{LISTING}?access_token={token}"
    as_query = call(sim, f"{path}&offset=0&count=20&no_content=1")
    assert as_query["errcode"] == 40097 and "invalid args" in as_query["errmsg"]
    for bad in ({"offset": 0, "count": 21}, {"offset": -1, "count": 5}, {"count": 0}):
        assert call(sim, path, bad)["errcode"] == 40097, bad
    assert call(sim, LISTING, {"offset": 0, "count": 1})["errcode"] == 41001
    assert call(sim, f"{LISTING}?access_token=nope", {"offset": 0})["errcode"] == 40001
    full = call(sim, path, {"offset": 0, "count": 2, "no_content": 0})
    bare = call(sim, path, {"offset": 0, "count": 2, "no_content": 1})
    assert full["item_count"] == 2 and full["total_count"] == bare["total_count"]
    assert all("content" in i for p in full["item"] for i in p["content"]["news_item"])
    assert not any("content" in i for p in bare["item"] for i in p["content"]["news_item"])
    material = f"/cgi-bin/material/batchget_material?access_token={token}"
    images = call(sim, material, {"type": "image", "offset": 0, "count": 20})
    assert images["item_count"] == 20 and "mmbiz.qpic.cn/" in images["item"][0]["url"]
    assert call(sim, material, {"type": "file", "offset": 0, "count": 20})["errcode"] == 40004
    assert call(sim, f"{material}&type=image&offset=0&count=20")["errcode"] == 40097
    article = f"/cgi-bin/freepublish/getarticle?access_token={token}"
    first = full["item"][0]
    found = call(sim, article, {"article_id": first["article_id"]})
    assert found["news_item"][0]["title"] == first["content"]["news_item"][0]["title"]
    assert call(sim, article, {"article_id": "nope"})["errcode"] == 53600


def test_unknown_simulated_api_paths_answer_a_wechat_json_error(sim: Simulator) -> None:
    for path in ("/cgi-bin/no/such/api", "/nothing-here"):
        answer = call(sim, path)
        assert answer["errcode"] == 48001 and "api unauthorized" in answer["errmsg"]


def test_a_deleted_simulated_article_shows_the_notice_with_http_200(sim: Simulator) -> None:
    url = f"{api_root(sim, simulated.MP)}/s/bm90LWEtcmVhbC1wYWdlLWtleQ"
    with urllib.request.urlopen(url) as answer:
        assert answer.status == 200
        page = parse_article_page(answer.read().decode())
    assert page.gone and page.notice == simulated.DELETED_TEXT

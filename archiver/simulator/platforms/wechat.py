"""WeChat Official Accounts on ``api.weixin.qq.com`` and ``mp.weixin.qq.com``.

Routes, in the shapes of the real Official Account API:

* ``GET /cgi-bin/token?grant_type=client_credential&appid=APPID&secret=SECRET`` →
  ``{"access_token": ..., "expires_in": 7200}``. Like the real API, every refusal is HTTP 200
  with ``{"errcode": N, "errmsg": ...}``: 40013 unknown appid, 40125 wrong appsecret, 40002
  wrong ``grant_type``.
* ``POST /cgi-bin/freepublish/batchget?access_token=TOKEN`` with the JSON body ``{"offset",
  "count", "no_content"}`` (``count`` 1..20, ``offset`` ≥ 0, newest first) → ``{"total_count",
  "item_count", "item": [{"article_id", "content": {"news_item": [...], "create_time",
  "update_time"}, "update_time"}]}``; ``no_content: 1`` leaves each article's ``content`` (its
  HTML) out, as the real API does. The parameters as a query string (a ``GET``) answer errcode
  40097 invalid args, out-of-range ones too; a body that is not JSON 47001; no token 41001; a
  token the simulator did not issue 40001.
* ``POST /cgi-bin/freepublish/getarticle`` ``{"article_id"}`` → ``{"news_item": [...]}``; an
  unknown or deleted one errcode 53600.
* ``POST /cgi-bin/material/batchget_material`` ``{"type", "offset", "count"}`` (the covers are
  the account's ``image`` material; other types are empty) and ``GET
  /cgi-bin/material/get_materialcount``.
* Any other path on ``api.weixin.qq.com``: errcode 48001 api unauthorized (HTTP 200, JSON).
* ``https://mp.weixin.qq.com/s/KEY``: each article's public page (UTF-8 HTML, with the page
  script's ``var msg_title``/``nickname``/``ct`` and the ``#js_content`` body the real pages
  carry). A deleted article's page answers HTTP 200 with the notice "该内容已被发布者删除" in
  the real notice page's ``weui-msg__title``, as the real site does.

Accounts (each appid's secret is ``sim-wechat-secret``):

* ``wxsimulator0000001``: 25 publishes, newest first; every 10th holds a second article, and
  publish 12 holds a second article flagged ``is_deleted`` (not a post): 28 live articles.
* ``wxsimulator0000045``: the token works, every listing answers errcode 45009 (daily quota).
* ``wxbenchN``: N publishes of one article each, for benchmarks.

Round 2 edits the title and digest of the second-newest publish of ``wxsimulator0000001`` and
adds a new publish; round 3 deletes the fourth-newest: gone from listings, and its page shows
"该内容已被发布者删除" (HTTP 200, as on the real site).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

API = "api.weixin.qq.com"
MP = "mp.weixin.qq.com"
HOSTS = (API, MP)
ACCEPTS_POST = True  # freepublish and material listings take a JSON body
APPID = "wxsimulator0000001"
QUOTA_APPID = "wxsimulator0000045"
SECRET = "sim-wechat-secret"
DEMO_CREDENTIALS = {"DEMO_WECHAT_CREDENTIALS": f"{APPID}:{SECRET}"}
"""Environment the demo policies read their WeChat credentials from (``credentials:``)."""
PAGE_MAX = 20  # the largest page freepublish/batchget serves
DELETED_TEXT = "该内容已被发布者删除"
_BENCH = re.compile(r"wxbench(\d{1,6})")
_TOPICS = ("防汛", "气象", "交通", "教育", "医疗", "就业", "环保", "税务")


@dataclass(frozen=True)
class _Account:
    appid: str
    name: str
    count: int
    demo: bool  # the demo account: several articles per publish, edits and deletions


def _account(appid: str) -> _Account | None:
    if appid == APPID:
        return _Account(appid, "城市政务发布(模拟)", 25, True)
    if appid == QUOTA_APPID:
        return _Account(appid, "配额测试(模拟)", 3, False)
    match = _BENCH.fullmatch(appid)
    if match:
        return _Account(appid, f"Benchmark account {match.group(1)}", int(match.group(1)), False)
    return None


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(map(str, parts)).encode()).digest()


def token_for(appid: str) -> str:
    """The access token the simulator issues to ``appid`` (stable, so captures repeat)."""
    return "sim-wxtoken-" + _digest("token", appid, SECRET).hex()[:40]


def _appid_of_token(token: str | None) -> _Account | None:
    if not token:
        return None
    for appid in (APPID, QUOTA_APPID):
        if token == token_for(appid):
            return _account(appid)
    # bench tokens carry their size so any N can be checked without a table
    match = re.fullmatch(r"sim-wxtoken-bench(\d{1,6})-([0-9a-f]{40})", token)
    if match and token == _bench_token(f"wxbench{match.group(1)}"):
        return _account(f"wxbench{match.group(1)}")
    return None


def _bench_token(appid: str) -> str:
    return f"sim-wxtoken-{appid.removeprefix('wx')}-" + _digest("token", appid, SECRET).hex()[:40]


def _issue(appid: str) -> str:
    return _bench_token(appid) if _BENCH.fullmatch(appid) else token_for(appid)


def _page_key(a: _Account, i: int, n: int) -> str:
    """An opaque-looking, decodable page key (the real ones are opaque)."""
    return base64.urlsafe_b64encode(f"{a.appid}:{i}:{n}".encode()).decode().rstrip("=")


def _article_id(a: _Account, i: int) -> str:
    raw = base64.urlsafe_b64encode(_digest("article", a.appid, i)).decode().rstrip("=")
    return raw.replace("-", "x").replace("_", "y")


def _articles_in(a: _Account, i: int) -> int:
    if not a.demo:
        return 1
    return 2 if i % 10 == 0 or i == 12 else 1


def _edited(a: _Account, i: int, round_: int) -> bool:
    return a.demo and round_ >= 2 and i == a.count - 2


def _indices(a: _Account, round_: int) -> list[int]:
    """Publish indices live in ``round_``, newest first."""
    count = a.count + (1 if a.demo and round_ >= 2 else 0)
    gone = {a.count - 4} if a.demo and round_ >= 3 else set()
    return [i for i in range(count - 1, -1, -1) if i not in gone]


def _find_page(key: str, round_: int) -> tuple[_Account, int, int, bool] | None:
    """The publish and article a page key names, and whether it is live in ``round_``."""
    try:
        appid, i_text, n_text = (
            base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode().split(":")
        )
        i, n = int(i_text), int(n_text)
    except (ValueError, UnicodeDecodeError):
        return None
    a = _account(appid)
    if a is None or n >= _articles_in(a, i) or not 0 <= i <= a.count:
        return None
    return a, i, n, i in _indices(a, round_)


def _title(a: _Account, i: int, n: int, round_: int) -> str:
    topic = _TOPICS[i % len(_TOPICS)]
    if _edited(a, i, round_) and n == 0:
        return f"【更正】第{i}期{topic}信息发布"
    suffix = f"({n + 1})" if n else ""
    return f"第{i}期{topic}信息发布{suffix}"


def _digest_text(a: _Account, i: int, n: int, round_: int) -> str:
    topic = _TOPICS[i % len(_TOPICS)]
    if _edited(a, i, round_) and n == 0:
        return f"{a.name}更正: 第{i}期{topic}数据已修订 (update {i}, corrected)."
    return f"{a.name}发布第{i}期{topic}数据 (update {i})."


def _news_item(a: _Account, i: int, n: int, round_: int) -> dict[str, Any]:
    key = _page_key(a, i, n)
    return {
        "title": _title(a, i, n, round_),
        "author": a.name,
        "digest": _digest_text(a, i, n, round_),
        "content": _article_html(a, i, n, round_),
        "content_source_url": f"https://www.gov.example.cn/news/{i}-{n}.html",
        "thumb_media_id": f"sim_thumb_{i}_{n}",
        "show_cover_pic": 0,
        "need_open_comment": 0,
        "only_fans_can_comment": 0,
        "url": f"https://{MP}/s/{key}",
        "thumb_url": f"https://mmbiz.qpic.cn/mmbiz_jpg/{key}/0.jpeg",
        "is_deleted": a.demo and i == 12 and n == 1,
    }


def _publish(a: _Account, i: int, round_: int) -> dict[str, Any]:
    created = int((EPOCH + timedelta(hours=i)).timestamp())
    updated = created + (3600 if _edited(a, i, round_) else 0)
    return {
        "article_id": _article_id(a, i),
        "content": {
            "news_item": [_news_item(a, i, n, round_) for n in range(_articles_in(a, i))],
            "create_time": created,
            "update_time": updated,
        },
        "update_time": updated,
    }


def _errcode(code: int, message: str) -> Resource:
    return json_resource({"errcode": code, "errmsg": f"{message} rid: sim-{code}"})


def _token(req: ApiRequest) -> Resource:
    if req.param("grant_type") != "client_credential":
        return _errcode(40002, "invalid grant_type")
    appid = req.param("appid") or ""
    if _account(appid) is None:
        return _errcode(40013, "invalid appid")
    if req.param("secret") != SECRET:
        return _errcode(40125, "invalid appsecret")
    return json_resource({"access_token": _issue(appid), "expires_in": 7200})


def _json_args(req: ApiRequest) -> dict[str, Any] | Resource:
    """The JSON body of a POST-only call, or the errcode the real API answers instead."""
    if req.method != "POST":
        return _errcode(40097, "invalid args hint: [the parameters go in a POST JSON body]")
    if not req.body:
        return _errcode(44002, "empty post data")
    body = req.json_body()
    if not isinstance(body, dict):
        return _errcode(47001, "data format error")
    return body


def _int_arg(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int | None:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _caller(req: ApiRequest) -> _Account | Resource:
    token = req.param("access_token")
    if not token:
        return _errcode(41001, "access_token missing")
    a = _appid_of_token(token)
    if a is None:
        return _errcode(40001, "invalid credential, access_token is invalid or not latest")
    if a.appid == QUOTA_APPID:
        return _errcode(45009, "reach max api daily quota limit")
    return a


def _batchget(req: ApiRequest, a: _Account, body: dict[str, Any]) -> Resource:
    offset = _int_arg(body, "offset", 0, 0, 1_000_000)
    count = _int_arg(body, "count", PAGE_MAX, 1, PAGE_MAX)
    no_content = _int_arg(body, "no_content", 0, 0, 1)
    if offset is None or count is None or no_content is None:
        return _errcode(40097, "invalid args hint: [offset >= 0, count 1..20, no_content 0|1]")
    order = _indices(a, req.round)
    chosen = order[offset : offset + count]
    published = [_publish(a, i, req.round) for i in chosen]
    if no_content:
        for publish in published:
            for item in publish["content"]["news_item"]:
                item.pop("content", None)
    return json_resource({"total_count": len(order), "item_count": len(chosen), "item": published})


def _getarticle(req: ApiRequest, a: _Account, body: dict[str, Any]) -> Resource:
    wanted = body.get("article_id")
    for i in _indices(a, req.round):
        if _article_id(a, i) == wanted:
            return json_resource({"news_item": _publish(a, i, req.round)["content"]["news_item"]})
    return _errcode(53600, "Article ID 无效")


MATERIAL_TYPES = ("image", "voice", "video", "news")


def _batchget_material(req: ApiRequest, a: _Account, body: dict[str, Any]) -> Resource:
    if body.get("type") not in MATERIAL_TYPES:
        return _errcode(40004, "invalid media type")
    offset = _int_arg(body, "offset", 0, 0, 1_000_000)
    count = _int_arg(body, "count", PAGE_MAX, 1, PAGE_MAX)
    if offset is None or count is None:
        return _errcode(40097, "invalid args hint: [offset >= 0, count 1..20]")
    images = [
        {
            "media_id": item["thumb_media_id"],
            "name": f"{item['thumb_media_id']}.jpeg",
            "update_time": publish["update_time"],
            "url": item["thumb_url"],
        }
        for publish in (_publish(a, i, req.round) for i in _indices(a, req.round))
        for item in publish["content"]["news_item"]
    ]
    found = images if body["type"] == "image" else []
    chosen = found[offset : offset + count]
    return json_resource({"total_count": len(found), "item_count": len(chosen), "item": chosen})


def _materialcount(req: ApiRequest, a: _Account, body: dict[str, Any]) -> Resource:
    images = sum(_articles_in(a, i) for i in _indices(a, req.round))
    return json_resource(
        {"voice_count": 0, "video_count": 0, "image_count": images, "news_count": 0}
    )


def _notice(text: str) -> Resource:
    """The page the real site shows, with HTTP 200, in place of an article that is gone."""
    body = (
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; '
        'charset=utf-8"><title></title></head><body id="activity-detail" class="zh_CN ">'
        '<div class="weui-msg"><div class="weui-msg__icon-area"><i class="weui-icon-warn '
        'weui-icon_msg"></i></div><div class="weui-msg__text-area"><h2 class="weui-msg__title">'
        f"{text}</h2></div></div></body></html>"
    )
    return Resource(body.encode(), HTML, EPOCH)


def _js(text: str) -> str:
    return html.escape(text).replace("\\", "\\\\").replace("\n", "\\x0a")


def _article_html(a: _Account, i: int, n: int, round_: int) -> str:
    return "".join(
        f"<p>{html.escape(text)}</p>"
        for text in (
            _digest_text(a, i, n, round_),
            "详情请见政府网站公告。本文为模拟数据, 仅供演示与测试。",
        )
    )


def _page(key: str, round_: int) -> Resource:
    found = _find_page(key, round_)
    if found is None or not found[3]:
        return _notice(DELETED_TEXT)
    a, i, n, _ = found
    raw_title = _title(a, i, n, round_)
    title = html.escape(raw_title)
    created = int((EPOCH + timedelta(hours=i)).timestamp())
    body = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<title>{title}</title><meta property="og:title" content="{title}"></head><body>'
        f'<h1 class="rich_media_title" id="activity-name">{title}</h1>'
        f'<div id="meta_content" class="rich_media_meta_list">'
        f'<span class="rich_media_meta rich_media_meta_text">{html.escape(a.name)}</span>'
        f'<a id="js_name">{html.escape(a.name)}</a></div>'
        f'<div class="rich_media_content" id="js_content">{_article_html(a, i, n, round_)}</div>'
        f'<script>var nickname = "{_js(a.name)}";\nvar ct = "{created}";\n'
        f'var msg_title = "{_js(raw_title)}";\n</script></body></html>'
    )
    return Resource(body.encode(), HTML, EPOCH)


Route = Callable[[ApiRequest, _Account, dict[str, Any]], Resource]
"""An API call answered for the caller that its token names, with its JSON body."""

ROUTES: dict[str, tuple[Route, bool]] = {  # path: (route, whether it takes a POST JSON body)
    "/cgi-bin/freepublish/batchget": (_batchget, True),
    "/cgi-bin/freepublish/getarticle": (_getarticle, True),
    "/cgi-bin/material/batchget_material": (_batchget_material, True),
    "/cgi-bin/material/get_materialcount": (_materialcount, False),
}


def _call(req: ApiRequest, route: Route, posted: bool) -> Resource:
    """The token and (for POST-only calls) the JSON body checked as the real API does, then
    ``route``'s answer."""
    a = _caller(req)
    if isinstance(a, Resource):
        return a
    body = _json_args(req) if posted else {}
    if isinstance(body, Resource):
        return body
    return route(req, a, body)


def answer(req: ApiRequest) -> Resource | None:
    """The platform's answer to ``req``; None for paths it does not serve."""
    path = req.path.rstrip("/")
    if req.host == API:
        if path == "/cgi-bin/token":
            if req.method == "POST":
                return _errcode(43001, "require GET method")
            return _token(req)
        if path not in ROUTES:
            return _errcode(48001, "api unauthorized")  # what the platform answers unknown APIs
        return _call(req, *ROUTES[path])
    if req.method == "POST":
        return None
    match = re.fullmatch(r"/s/([A-Za-z0-9_-]{10,60})", path)
    if match:
        return _page(match.group(1), req.round)
    return None

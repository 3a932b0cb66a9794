"""WeChat Official Accounts (公众号): the published articles of the account the credentials own.

token (``GET /cgi-bin/token``, client_credential) → ``POST /cgi-bin/freepublish/batchget?
access_token=TOKEN`` with the JSON body ``{"offset", "count", "no_content": 0}`` page by page until
``total_count`` → each article's public page on ``mp.weixin.qq.com`` (purpose ``page``), read for
what the listing left out → cover images (``options.media``). Every answer is archived as
received, the POST's JSON body with it.

Credentials: ``credentials:`` names ONE environment variable (or ``file:PATH``) holding
``APPID:SECRET``. The appsecret and the access token the platform hands back are secrets: the
token answer is recorded with the token already redacted, and URLs carrying ``secret=`` or
``access_token=`` are stored redacted. The API only serves the account whose appid asked, so
``handle:`` (the account's name or ``gh_`` id) is descriptive: it is the author when neither the
article nor its page names one. The machine's IP must be on the account's API whitelist
(errcode 40164 otherwise).

WeChat answers errors with HTTP 200 and ``{"errcode", "errmsg"}``; each becomes one ledger line
naming the remedy, with the raw answer archived. A token refused mid-listing (40001, 42001) is
fetched again once and the page asked again; a quota (45009 daily, 45011 per minute) ends the
listing partial.

Deletions: the site answers a removed article's page with HTTP 200 and a notice in place of the
article (该内容已被发布者删除, 此内容因违规无法查看, 链接已过期 ...); :meth:`WeChatConnector.
probe_deletion` reads that notice and the page is the evidence record.
"""

from __future__ import annotations

import dataclasses
import html as htmllib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from urllib.parse import quote

from archiver.capture.connectors.api import (
    AUTH_HINTS,
    MAX_PAGES,
    PageError,
    credential,
    fetch_media,
    get_json,
    items,
    parse_time,
    plain,
    raw_json,
    since_cutoff,
)
from archiver.capture.connectors.base import CaptureSession, ConnectorResult, DeletionProbe
from archiver.capture.http import REDACTED, Exchange, redact_url
from archiver.capture.text import html_to_text
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

API_ROOT = "https://api.weixin.qq.com"
PAGE_SIZE = 20  # the largest page freepublish/batchget serves (count 1..20)
TOKEN_FIELDS = ("access_token",)
TOKEN_REFUSED = (40001, 40014, 42001)  # invalid, not the latest, or expired: ask for a new one
QUOTA = (45009, 45011)
CHINA = timezone(timedelta(hours=8))  # the dates WeChat pages print are Beijing time

ERRCODES = {
    -1: "WeChat is busy (errcode -1); the next scheduled capture tries again",
    40001: (
        "the access_token was refused (errcode 40001: invalid or not the latest; another "
        "client may have fetched a newer one); capture again, and let one client hold the token"
    ),
    40002: "the token request was refused (errcode 40002 invalid grant_type)",
    40013: "the appid is wrong (errcode 40013 invalid appid); check the APPID part of {name}",
    40097: "WeChat refused the request's arguments (errcode 40097 invalid args)",
    40125: (
        "the appsecret is wrong (errcode 40125 invalid appsecret); check the SECRET part of "
        "{name}, or reset the secret in the Official Accounts platform"
    ),
    40164: (
        "this machine's IP address is not on the account's API whitelist (errcode 40164); "
        "add it in the Official Accounts platform under basic configuration"
    ),
    42001: "the access_token expired (errcode 42001); capture again",
    45009: (
        "the account's daily API quota is used up (errcode 45009 reach max api daily quota "
        "limit); wait for the daily reset or clear the quota in the platform"
    ),
    45011: (
        "the API's per-minute frequency limit was reached (errcode 45011 api minute-quota "
        "reach limit); the next scheduled capture goes on"
    ),
    48001: "the account has no permission for this API (errcode 48001 api unauthorized)",
}

# The notices mp.weixin.qq.com shows, with HTTP 200, in place of an article that is gone.
# A verification or "environment abnormal" page is not one of them: it says nothing of the post.
GONE_NOTICES = (
    "已被发布者删除",  # 该内容已被发布者删除: deleted by the account
    "已删除",
    "因违规无法查看",  # 此内容因违规无法查看: removed for a violation
    "涉嫌侵权",  # removed after a copyright complaint
    "无法查看",
    "链接已过期",  # the link no longer leads to the article
    "已被屏蔽",
)


def split_credentials(value: str, name: str) -> tuple[str, str]:
    """``APPID:SECRET`` → (appid, secret); PageError naming the variable when malformed."""
    appid, sep, secret = value.partition(":")
    if not sep or not appid.strip() or not secret.strip():
        raise PageError(
            f"credentials: {name} must hold APPID:SECRET (the appid, a colon, the secret)"
        )
    return appid.strip(), secret.strip()


def errcode_of(data: Any) -> int | None:
    """The errcode of a WeChat error answer (a nonzero ``errcode``); None when it is none."""
    if not isinstance(data, dict) or not data.get("errcode"):
        return None
    try:
        return int(data["errcode"])
    except (TypeError, ValueError):
        return -1


def errcode_message(data: Any, *, what: str, credentials: str) -> str | None:
    """The ledger line for a WeChat error answer; None when ``data`` is not one."""
    code = errcode_of(data)
    if code is None:
        return None
    errmsg = str(data.get("errmsg") or "")[:200]
    hint = ERRCODES.get(code)
    if hint is None:
        hint = f"WeChat answered errcode {data['errcode']}: {errmsg}"
    elif errmsg:
        hint = f"{hint} [errmsg: {errmsg}]"
    return f"{what}: {hint.format(name=credentials)}"


# --- the article page on mp.weixin.qq.com ----------------------------------------------------


@dataclass(frozen=True)
class ArticlePage:
    """What an article's public page states: the article, or the notice shown in its place."""

    title: str | None = None
    author: str | None = None  # the byline the article names (may be absent)
    account: str | None = None  # the Official Account's name (nickname)
    account_id: str | None = None  # its ``gh_`` id (user_name)
    published_at: datetime | None = None
    text: str = ""
    cover: str | None = None
    notice: str | None = None  # the notice shown instead of an article ("链接已过期")

    @property
    def is_article(self) -> bool:
        return self.notice is None and bool(self.title or self.text)

    @property
    def gone(self) -> bool:
        """The page says the article is no longer there (deleted, removed, expired)."""
        return self.notice is not None and any(n in self.notice for n in GONE_NOTICES)


_JS_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)", re.S)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _js_unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] in "xu" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        return _SIMPLE.get(esc, esc)

    return _JS_ESCAPE.sub(one, text)


def _js_var(page: str, name: str) -> str | None:
    """The first non-empty string literal of ``var name = "" || "value"`` in the page script,
    JS escapes undone and HTML entities decoded (the page decodes them with ``.html(false)``)."""
    m = re.search(rf"\bvar\s+{re.escape(name)}\s*=\s*([^;\n]*)", page)
    if not m:
        return None
    for dq, sq in re.findall(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'', m.group(1)):
        value = htmllib.unescape(_js_unescape(dq or sq)).strip()
        if value:
            return value
    return None


def _element_inner(page: str, element_id: str) -> str | None:
    """The inner HTML of the element with ``id=element_id`` (balanced on its own tag name)."""
    m = re.search(rf"<([a-zA-Z0-9]+)\b[^>]*\bid=[\"']{re.escape(element_id)}[\"'][^>]*>", page)
    if not m:
        return None
    tag = m.group(1).lower()
    depth, pos = 1, m.end()
    pattern = re.compile(rf"<(/?){tag}\b[^>]*?(/?)>", re.I)
    for t in pattern.finditer(page, pos):
        if t.group(2):
            continue  # self-closed
        depth += -1 if t.group(1) else 1
        if depth == 0:
            return page[pos : t.start()]
    return page[pos:]


def _text_of(fragment: str | None) -> str | None:
    if fragment is None:
        return None
    return " ".join(html_to_text(fragment).split()) or None


def _byline(page: str) -> str | None:
    """The author byline in the meta line: a ``rich_media_meta_text`` element that is neither
    the date nor the account's name (old pages: ``<em>``; newer ones: ``<span>``)."""
    meta = _element_inner(page, "meta_content")
    if meta is None:
        return None
    for m in re.finditer(
        r"<(em|span)\b([^>]*)class=\"([^\"]*\brich_media_meta_text\b[^\"]*)\"([^>]*)>(.*?)</\1>",
        meta,
        re.S,
    ):
        attrs = m.group(2) + m.group(4)
        if "rich_media_meta_nickname" in m.group(3) or "id=" in attrs:
            continue
        text = _text_of(m.group(5))
        if text:
            return text
    return None


def parse_article_page(page: str) -> ArticlePage:
    """What an ``mp.weixin.qq.com`` article page states: title (``msg_title``, else the
    ``#activity-name`` heading), byline, account name and ``gh_`` id, publish time (``ct``, epoch
    seconds; else the printed date, Beijing time), the article text (``#js_content``) and cover;
    or, for a page that holds no article, the notice it shows (``.weui-msg__title``)."""
    content = _element_inner(page, "js_content")
    if content is None:
        notice = re.search(
            r"<[a-z0-9]+\b[^>]*class=\"[^\"]*\bweui-msg__title\b[^\"]*\"[^>]*>(.*?)</", page, re.S
        )
        if notice:
            return ArticlePage(notice=_text_of(notice.group(1)) or "")
    published = None
    ct = _js_var(page, "ct")
    if ct and ct.isdigit():
        published = parse_time(int(ct))
    if published is None:
        printed = _js_var(page, "publish_time") or _text_of(_element_inner(page, "post-date"))
        try:
            day = datetime.strptime(printed or "", "%Y-%m-%d")
            published = day.replace(tzinfo=CHINA)
        except ValueError:
            published = None
    return ArticlePage(
        title=_js_var(page, "msg_title") or _text_of(_element_inner(page, "activity-name")),
        author=_js_var(page, "author") or _byline(page),
        account=_js_var(page, "nickname")
        or _text_of(_element_inner(page, "js_name"))
        or _text_of(_element_inner(page, "post-user")),
        account_id=_js_var(page, "user_name"),
        published_at=published,
        text=html_to_text(content or ""),
        cover=_js_var(page, "msg_cdn_url"),
    )


def _page_of(exchange: Exchange) -> ArticlePage | None:
    try:
        return parse_article_page(exchange.content().decode("utf-8", "replace"))
    except (ValueError, UnicodeDecodeError):
        return None


def _completed(post: NormalizedPost, page: ArticlePage) -> NormalizedPost:
    """``post`` with what its listing entry left empty taken from its page."""
    filled: dict[str, Any] = {}
    if not post.title and page.title:
        filled["title"] = page.title
    if not post.text and page.text:
        filled["text"] = page.text
    if not post.published_at and page.published_at:
        filled["published_at"] = page.published_at
    if not post.author and (page.author or page.account):
        filled["author"] = page.author or page.account
    return dataclasses.replace(post, **filled) if filled else post


# --- the listing ---------------------------------------------------------------------------------


def _posts(
    publish: dict[str, Any], record_id: str | None, author: str | None
) -> list[NormalizedPost]:
    """The live articles of one publish (``is_deleted`` ones are not posts)."""
    article_id = str(publish["article_id"])
    content = publish.get("content") or {}
    found = []
    for n, item in enumerate(content.get("news_item") or []):
        if item.get("is_deleted"):
            continue
        raw = {
            "article_id": article_id,
            "index": n,
            "create_time": content.get("create_time"),
            "update_time": content.get("update_time", publish.get("update_time")),
            "news_item": item,
        }
        created = parse_time(content.get("create_time"))
        updated = parse_time(raw["update_time"])
        thumb = item.get("thumb_url")
        found.append(
            NormalizedPost(
                native_id=f"{article_id}:{n}",
                url=item.get("url") or None,
                title=item.get("title") or None,
                text=plain(item.get("content")) or str(item.get("digest") or ""),
                published_at=created,
                edited_at=updated if updated and created and updated > created else None,
                author=item.get("author") or author,
                raw=raw_json(raw),
                record_id=record_id,
                media=(thumb,) if isinstance(thumb, str) and thumb else (),
            )
        )
    return found


def _handle_author(account: Account) -> str:
    return (account.handle or "").lstrip("@") or account.agency


class WeChatConnector:
    """Captures an Official Account's published articles and their public pages."""

    platform = "wechat"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        name = account.credentials or "credentials:"
        root = (account.base_url or API_ROOT).rstrip("/")
        try:
            value = credential(account, session)
            if value is None:
                raise PageError(
                    "a wechat account needs credentials: naming an environment variable "
                    "that holds APPID:SECRET"
                )
            appid, secret = split_credentials(value, name)
            session.add_secret(secret)
            token = _Token(session, root, appid, secret, name)
            token.fetch()
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        result = self._listing(account, session, token, name)
        handle = _handle_author(account)
        result.posts = [
            post if post.author else dataclasses.replace(post, author=handle)
            for post in (self._with_page(session, post) for post in result.posts)
        ]
        fetch_media(session, account, result.posts)
        return result

    def _with_page(self, session: CaptureSession, post: NormalizedPost) -> NormalizedPost:
        """Archive the article's public page and complete ``post`` from what it states."""
        if not post.url:
            return post
        ex = session.fetch(post.url, purpose="page")
        if ex is None:
            return post
        if ex.status >= 400:
            session.problem(f"article page {post.url} answered HTTP {ex.status}", url=post.url)
            return post
        page = _page_of(ex)
        if page is None:
            return post
        if page.notice is not None:
            session.problem(
                f"article page {post.url} shows WeChat's notice {page.notice!r} instead of the "
                f"article it lists (archived in {session.record_id(ex)})",
                url=post.url,
            )
            return post
        return _completed(post, page)

    def _listing(
        self, account: Account, session: CaptureSession, token: _Token, name: str
    ) -> ConnectorResult:
        """Every publish, newest first, by offset until ``total_count`` (or the limits)."""
        result = ConnectorResult()
        cutoff = since_cutoff(account, session)
        limit = account.options.max_items
        offset = 0
        renewed = False
        for _ in range(MAX_PAGES):
            url = f"{token.root}/cgi-bin/freepublish/batchget?access_token={quote(token.value)}"
            safe = redact_url(url)
            what = f"published articles at offset {offset}"
            body = {"offset": offset, "count": PAGE_SIZE, "no_content": 0}
            try:
                page = get_json(session, url, what=what, post=body)
            except PageError as exc:
                message = str(exc).replace(url, safe).replace(token.value, REDACTED)
                session.problem(message, url=safe)
                return result
            where = f" (archived raw in {page.record_id})" if page.record_id else ""
            code = errcode_of(page.data)
            if code in TOKEN_REFUSED and not renewed:
                renewed = True  # once: a token another client replaced, or one that expired
                try:
                    token.fetch()
                except PageError as exc:
                    session.problem(f"{what}: token refused{where}; {exc}", url=safe)
                    return result
                continue
            if code is not None:
                refused = errcode_message(page.data, what=what, credentials=name) or what
                session.problem(refused + where, url=safe)
                return result
            if result.listing_record_id is None:
                result.listing_record_id = page.record_id
            try:
                total = int(page.data["total_count"])
                rows = page.data["item"]
                if not isinstance(rows, list):
                    raise TypeError("item is not a list")
            except (KeyError, TypeError, ValueError) as exc:
                session.problem(f"{what}: unexpected answer ({exc}); kept raw{where}")
                return result
            # the author the article names, else its page's (the handle only after that)
            build = partial(_posts, record_id=page.record_id, author=None)
            for posts in items(session, what, rows, build):
                for post in posts:
                    latest = post.edited_at or post.published_at
                    if cutoff and latest and latest < cutoff:
                        result.complete_listing = True  # newest first by update: window ends
                        return result
                    result.posts.append(post)
                if len(result.posts) >= limit:
                    result.complete_listing = True  # newest first and contiguous
                    return result
            offset += len(rows)
            if not rows or offset >= total:
                result.complete_listing = True
                return result
        session.problem(f"published articles: more than {MAX_PAGES} pages; stopped")
        return result

    def probe_deletion(
        self, account: Account, session: CaptureSession, native_id: str, url: str | None
    ) -> DeletionProbe | None:
        """Ask the article's public page: a removal notice (or 404/410) confirms the deletion
        and the page is the evidence; the article itself means it is still there; anything
        else (no answer, a verification page, a 5xx) says nothing."""
        if not url:
            return None
        ex = session.fetch(url, purpose="probe")
        if ex is None:
            return None
        record = session.record_id(ex)
        if ex.status in (404, 410):
            return DeletionProbe(True, record, f"{url} answered HTTP {ex.status}")
        if ex.status >= 300:
            return None
        page = _page_of(ex)
        if page is None:
            return None
        if page.gone:
            return DeletionProbe(
                True, record, f"{url} shows WeChat's notice {page.notice!r} (HTTP {ex.status})"
            )
        if page.is_article:
            return DeletionProbe(False, record, f"{url} still shows the article")
        return None

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        if "/freepublish/batchget" not in url:
            return []  # the token answer and the article pages hold no listing
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("item"), list):
            return []
        author = _handle_author(account)
        return [post for row in data["item"] for post in _posts(row, record_id, author)]


class _Token:
    """The capture's access token: fetched with ``GET /cgi-bin/token``, fetched again when the
    platform refuses it; each one is a secret before its answer is recorded."""

    def __init__(self, session: CaptureSession, root: str, appid: str, secret: str, name: str):
        self.session, self.root, self.appid, self.secret, self.name = (
            session,
            root,
            appid,
            secret,
            name,
        )
        self.value = ""

    def fetch(self) -> str:
        """A fresh access token; PageError with the ledger line when none can be had."""
        url = (
            f"{self.root}/cgi-bin/token?grant_type=client_credential"
            f"&appid={quote(self.appid)}&secret={quote(self.secret)}"
        )
        what = "WeChat access token"
        ex = self.session.fetch(url, purpose="api", secret_fields=TOKEN_FIELDS)
        if ex is None:
            raise PageError(f"{what}: no response from {redact_url(url)}")
        record = self.session.record_id(ex)
        where = f" (archived raw in {record})" if record else ""
        if ex.status >= 400:
            raise PageError(
                f"{what}: {AUTH_HINTS.get(ex.status, f'HTTP {ex.status} {ex.reason}')}{where}"
            )
        try:
            data = json.loads(ex.content())
        except (ValueError, UnicodeDecodeError):
            raise PageError(f"{what}: the answer is not JSON{where}") from None
        refused = errcode_message(data, what=what, credentials=self.name)
        if refused:
            raise PageError(refused + where)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise PageError(f"{what}: no access_token in the answer{where}")
        self.session.add_secret(token)  # already registered by the fetch; kept explicit
        self.value = token
        return token

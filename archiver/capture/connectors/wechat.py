"""WeChat Official Accounts (公众号): the published articles of the account the credentials own.

token (``/cgi-bin/token``, client_credential) → ``/cgi-bin/freepublish/batchget`` pages by
``offset`` until ``total_count`` → each article's public page on ``mp.weixin.qq.com`` (purpose
``page``) → cover images (``options.media``). Every answer is archived as received.

Credentials: ``credentials:`` names ONE environment variable (or ``file:PATH``) holding
``APPID:SECRET``. The appsecret and the access token the platform hands back are secrets: the
token answer is recorded with the token already redacted, and URLs carrying ``secret=`` or
``access_token=`` are stored redacted. The API only serves the account whose appid asked, so
``handle:`` (the account's name or ``gh_`` id) is descriptive: it is the author when an article
names none. The machine's IP must be on the account's API whitelist (errcode 40164 otherwise).

WeChat answers errors with HTTP 200 and ``{"errcode", "errmsg"}``; each becomes one ledger line
naming the remedy, with the raw answer archived. ``freepublish/batchget`` is a POST on the real
platform; the capture session only issues (and records) GET requests, so this connector sends
the same fields as query parameters, which the simulator accepts (see
:mod:`archiver.simulator.platforms.wechat`). Against the real API that call needs a recorded
POST, which the session does not offer yet.
"""

from __future__ import annotations

import json
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
    raw_json,
    since_cutoff,
)
from archiver.capture.connectors.base import CaptureSession, ConnectorResult
from archiver.capture.http import REDACTED, redact_url
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

API_ROOT = "https://api.weixin.qq.com"
PAGE_SIZE = 20  # the largest page freepublish/batchget serves
TOKEN_FIELDS = ("access_token",)

ERRCODES = {
    -1: "WeChat is busy (errcode -1); the next scheduled capture tries again",
    40001: (
        "the access_token was refused (errcode 40001: invalid or not the latest; another "
        "client may have fetched a newer one); capture again, and let one client hold the token"
    ),
    40002: "the token request was refused (errcode 40002 invalid grant_type)",
    40013: "the appid is wrong (errcode 40013 invalid appid); check the APPID part of {name}",
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
    48001: "the account has no permission for this API (errcode 48001 api unauthorized)",
}


def split_credentials(value: str, name: str) -> tuple[str, str]:
    """``APPID:SECRET`` → (appid, secret); PageError naming the variable when malformed."""
    appid, sep, secret = value.partition(":")
    if not sep or not appid.strip() or not secret.strip():
        raise PageError(
            f"credentials: {name} must hold APPID:SECRET (the appid, a colon, the secret)"
        )
    return appid.strip(), secret.strip()


def errcode_message(data: Any, *, what: str, credentials: str) -> str | None:
    """The ledger line for a WeChat error answer; None when ``data`` is not one."""
    if not isinstance(data, dict) or not data.get("errcode"):
        return None
    code = data["errcode"]
    hint = ERRCODES.get(code) if isinstance(code, int) else None
    if hint is None:
        hint = f"WeChat answered errcode {code}: {str(data.get('errmsg') or '')[:200]}"
    return f"{what}: {hint.format(name=credentials)}"


def _posts(
    publish: dict[str, Any], record_id: str | None, author: str | None
) -> list[NormalizedPost]:
    """The live articles of one publish (``is_deleted`` ones are not posts)."""
    article_id = str(publish["article_id"])
    content = publish["content"]
    found = []
    for n, item in enumerate(content["news_item"]):
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
        found.append(
            NormalizedPost(
                native_id=f"{article_id}:{n}",
                url=item.get("url") or None,
                title=item.get("title") or None,
                text=str(item.get("digest") or ""),
                published_at=created,
                edited_at=updated if updated and created and updated > created else None,
                author=item.get("author") or author,
                raw=raw_json(raw),
                record_id=record_id,
                media=(item["thumb_url"],) if item.get("thumb_url") else (),
            )
        )
    return found


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
            token = self._token(session, root, appid, secret, name)
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        result = self._listing(account, session, root, token, name)
        for post in result.posts:
            if post.url:
                page = session.fetch(post.url, purpose="page")
                if page is not None and page.status >= 400:
                    session.problem(
                        f"article page {post.url} answered HTTP {page.status}", url=post.url
                    )
        fetch_media(session, account, result.posts)
        return result

    def _token(self, session: CaptureSession, root: str, appid: str, secret: str, name: str) -> str:
        """A fresh access token; the token answer is recorded with the token redacted."""
        url = (
            f"{root}/cgi-bin/token?grant_type=client_credential"
            f"&appid={quote(appid)}&secret={quote(secret)}"
        )
        what = "WeChat access token"
        ex = session.fetch(url, purpose="api", secret_fields=TOKEN_FIELDS)
        if ex is None:
            raise PageError(f"{what}: no response from {redact_url(url)}")
        record = session.record_id(ex)
        where = f" (archived raw in {record})" if record else ""
        if ex.status >= 400:
            raise PageError(
                f"{what}: {AUTH_HINTS.get(ex.status, f'HTTP {ex.status} {ex.reason}')}{where}"
            )
        try:
            data = json.loads(ex.content())
        except (ValueError, UnicodeDecodeError):
            raise PageError(f"{what}: the answer is not JSON{where}") from None
        refused = errcode_message(data, what=what, credentials=name)
        if refused:
            raise PageError(refused + where)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise PageError(f"{what}: no access_token in the answer{where}")
        session.add_secret(token)  # already registered by the fetch; kept explicit
        return token

    def _listing(
        self, account: Account, session: CaptureSession, root: str, token: str, name: str
    ) -> ConnectorResult:
        """Every publish, newest first, by offset until ``total_count`` (or the limits)."""
        result = ConnectorResult()
        cutoff = since_cutoff(account, session)
        limit = account.options.max_items
        author = (account.handle or "").lstrip("@") or account.agency
        offset = 0
        for _ in range(MAX_PAGES):
            url = (
                f"{root}/cgi-bin/freepublish/batchget?access_token={quote(token)}"
                f"&offset={offset}&count={PAGE_SIZE}&no_content=1"
            )
            safe = redact_url(url)
            what = f"published articles at offset {offset}"
            try:
                page = get_json(session, url, what=what)
            except PageError as exc:
                session.problem(str(exc).replace(url, safe).replace(token, REDACTED), url=safe)
                return result
            if result.listing_record_id is None:
                result.listing_record_id = page.record_id
            where = f" (archived raw in {page.record_id})" if page.record_id else ""
            refused = errcode_message(page.data, what=what, credentials=name)
            if refused:
                session.problem(refused + where, url=safe)
                return result
            try:
                total = int(page.data["total_count"])
                rows = page.data["item"]
                if not isinstance(rows, list):
                    raise TypeError("item is not a list")
            except (KeyError, TypeError, ValueError) as exc:
                session.problem(f"{what}: unexpected answer ({exc}); kept raw{where}")
                return result
            build = partial(_posts, record_id=page.record_id, author=author)
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
        author = (account.handle or "").lstrip("@") or account.agency
        return [post for row in data["item"] for post in _posts(row, record_id, author)]

"""Mastodon (any instance): REST v1, public without a token.

account lookup → ``accounts/:id/statuses?limit=40`` newest first, following
``Link: rel="next"`` → per status, ``statuses/:id/context`` for replies (``options.comments``,
only when ``replies_count`` > 0; replies to replies included) and ``statuses/:id/history`` when
it was edited → media (attachments and preview-card images). A boost is indexed under its own
id with the boosted status's text, author, URL and media. A deletion is confirmed by
``statuses/:id`` answering 404. Every page is archived as received.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from archiver.capture.connectors.api import (
    CursorGuard,
    PageError,
    add_unseen,
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
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

PAGE_LIMIT = 40  # the largest page Mastodon serves
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def instance_and_user(account: Account) -> tuple[str, str]:
    """API root and username from ``base_url``/``handle`` (``@user@instance``) or ``url``."""
    handle = (account.handle or "").lstrip("@")
    user, _, instance = handle.partition("@")
    if not user and account.url:  # https://instance/@user
        match = re.match(r"(https?://[^/]+)/@([^/@]+)", account.url)
        if match:
            instance, user = match.group(1), match.group(2)
    base = account.base_url or (instance if "://" in instance else f"https://{instance}")
    if not user or base in ("https://", ""):
        raise PageError("a mastodon account needs handle: '@user@instance' (or url: .../@user)")
    return base.rstrip("/"), user


def next_link(link_header: str | None) -> str | None:
    match = _NEXT.search(link_header or "")
    return match.group(1) if match else None


def _media(status: dict[str, Any]) -> tuple[str, ...]:
    """Attachment URLs (``url``; ``remote_url`` or ``preview_url`` when the instance has not
    cached the file, its ``url`` then null) and the preview card's image."""
    urls = []
    for attachment in status.get("media_attachments") or []:
        if isinstance(attachment, dict):
            url = attachment.get("url") or attachment.get("remote_url")
            url = url or attachment.get("preview_url")
            if url:
                urls.append(str(url))
    card = status.get("card")
    if isinstance(card, dict) and card.get("image"):
        urls.append(str(card["image"]))
    return tuple(dict.fromkeys(urls))


def _author(status: dict[str, Any]) -> str | None:
    account = status.get("account") or {}
    return account.get("acct") or account.get("username") or None


def _post(item: dict[str, Any], record_id: str | None, *, kind: str = "post") -> NormalizedPost:
    """One status as a post. A boost (``reblog`` set) keeps its own id (so that un-boosting is
    tracked as a deletion) and takes text, author, URL and media from the boosted status; its
    title says ``Boost of @acct`` and ``raw`` keeps the whole boost."""
    native_id = str(item["id"])
    boosted = item.get("reblog")
    shown: dict[str, Any] = boosted if isinstance(boosted, dict) else item
    title = f"Boost of @{_author(shown) or 'unknown'}" if shown is not item else None
    if shown is item and kind == "post" and item.get("in_reply_to_id"):
        kind = "reply"
    in_reply_to = item.get("in_reply_to_id") if shown is item else None
    text = plain(f"{shown.get('spoiler_text') or ''} {shown.get('content') or ''}").strip()
    return NormalizedPost(
        native_id=native_id,
        url=shown.get("url") or shown.get("uri"),
        title=title,
        text=text,
        published_at=parse_time(item["created_at"]),
        edited_at=parse_time(shown.get("edited_at")),
        author=_author(shown),
        raw=raw_json(item),
        record_id=record_id,
        kind=kind,
        in_reply_to=None if in_reply_to is None else str(in_reply_to),
        media=_media(shown),
    )


def _wants_next_page(
    data: list[Any], listed: int, limit: int, cutoff: datetime | None, floor: datetime | None
) -> bool:
    """Whether the listing will go on past this page (newest first: its oldest status is
    its last): no limit, window or incremental floor ends inside it. A hint for prefetching
    only; the loop itself decides on the parsed posts."""
    if not data or listed + len(data) >= limit or not isinstance(data[-1], dict):
        return False
    oldest = parse_time(data[-1].get("created_at"))
    if oldest is None:
        return False
    return not (cutoff and oldest < cutoff) and not (floor and oldest <= floor)


def _unsettled(account: Account, data: list[Any], posts: list[NormalizedPost]) -> set[str]:
    """The listed posts this capture will still fetch for: replies (``replies_count``) when
    comments are on, attachments when media are."""
    replied = {
        str(item.get("id"))
        for item in data
        if isinstance(item, dict) and item.get("replies_count") and not item.get("reblog")
    }
    return {
        p.native_id
        for p in posts
        if (account.options.comments and p.native_id in replied)
        or (account.options.media and p.media)
    }


class MastodonConnector:
    """Captures a Mastodon account's statuses, their replies, edit histories and media."""

    platform = "mastodon"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        try:
            base, user = instance_and_user(account)
            token = credential(account, session)
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            who = get_json(
                session,
                f"{base}/api/v1/accounts/lookup?acct={quote(user)}",
                what=f"account lookup @{user}",
                headers=headers,
            )
            acct_id = str(who.data["id"])
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        except (KeyError, TypeError):
            return ConnectorResult(fatal=f"account lookup @{user}: no id in the answer")

        result = ConnectorResult(listing_record_id=None)
        cutoff = since_cutoff(account, session)
        floor = session.known_until
        limit = account.options.max_items
        guard = CursorGuard(session, "statuses")
        url: str | None = f"{base}/api/v1/accounts/{acct_id}/statuses?limit={PAGE_LIMIT}"
        complete = False
        while url:
            try:
                page = get_json(session, url, what="statuses page", headers=headers)
            except PageError as exc:
                session.problem(str(exc), url=url)
                break
            if result.listing_record_id is None:
                result.listing_record_id = page.record_id
            if not isinstance(page.data, list):
                session.problem("statuses page: expected a list of statuses; kept raw", url=url)
                break
            rid = page.record_id
            nxt = next_link(page.header("link"))
            if nxt and _wants_next_page(page.data, len(result.posts), limit, cutoff, floor):
                session.prefetch(nxt, headers=headers)
            posts = list(items(session, "statuses page", page.data, partial(_post, record_id=rid)))
            before = len(result.posts)
            for post in posts:
                if cutoff and post.published_at and post.published_at < cutoff:
                    complete = True  # the window ends here
                    url = None
                    break
                if floor and post.published_at and post.published_at <= floor:
                    url = None  # incremental: the rest is indexed (not complete: no deletions)
                    break
                result.posts.append(post)
                if len(result.posts) >= limit:
                    complete = True  # newest-first and contiguous: the window is whole
                    url = None
                    break
            else:
                if not page.data or not nxt:
                    complete = True
                    url = None
                else:
                    url = nxt if guard.admit(nxt) else None
            listed = result.posts[before:]
            session.listed(listed, _unsettled(account, page.data, listed))
        result.complete_listing = complete
        self._threads(account, session, base, headers, result)
        fetch_media(session, account, result.posts)
        return result

    def _threads(
        self,
        account: Account,
        session: CaptureSession,
        base: str,
        headers: dict[str, str] | None,
        result: ConnectorResult,
    ) -> None:
        """Replies (context) and edit histories of the listed statuses."""
        known = {p.native_id for p in result.posts}
        for post in list(result.posts):
            item: dict[str, Any] = json.loads(post.raw)
            if item.get("reblog"):
                continue  # a boost: its thread and history are the boosted author's
            sid = post.native_id
            if post.edited_at:
                try:
                    get_json(
                        session,
                        f"{base}/api/v1/statuses/{sid}/history",
                        what=f"edit history of {sid}",
                        headers=headers,
                    )
                except PageError as exc:
                    session.problem(str(exc))
            if not account.options.comments or not item.get("replies_count"):
                continue
            try:
                ctx = get_json(
                    session,
                    f"{base}/api/v1/statuses/{sid}/context",
                    what=f"replies to {sid}",
                    headers=headers,
                )
                descendants = ctx.data["descendants"]
            except PageError as exc:
                session.problem(str(exc))
                continue
            except (KeyError, TypeError):
                session.problem(f"replies to {sid}: no descendants in the answer; kept raw")
                continue
            build = partial(_post, record_id=ctx.record_id, kind="reply")
            add_unseen(result.posts, known, items(session, f"replies to {sid}", descendants, build))

    def probe_deletion(
        self, account: Account, session: CaptureSession, native_id: str, url: str | None
    ) -> DeletionProbe | None:
        """``GET /api/v1/statuses/:id``: 404 (``{"error": "Record not found"}``) confirms the
        status is gone; 200 with the same id says it is still served. Anything else (no answer,
        401/403, 429, 5xx, another body) is no evidence either way: None."""
        try:
            base, _ = instance_and_user(account)
            token = credential(account, session)
        except PageError:
            return None
        headers = {"Authorization": f"Bearer {token}"} if token else None
        endpoint = f"{base}/api/v1/statuses/{quote(native_id, safe='')}"
        exchange = session.fetch(endpoint, purpose="probe", headers=headers)
        if exchange is None or exchange.truncated:
            return None
        if exchange.status not in (200, 404, 410):
            return None
        try:
            data = json.loads(exchange.content())
        except (ValueError, UnicodeDecodeError):
            return None  # an HTML error page (a proxy, a wrong base_url) says nothing
        if not isinstance(data, dict):
            return None
        record_id = session.record_id(exchange)
        if exchange.status != 200 and "error" in data:
            detail = f"GET {endpoint} answered {exchange.status} ({data['error']})"
            return DeletionProbe(deleted=True, record_id=record_id, detail=detail)
        if exchange.status == 200 and str(data.get("id")) == native_id:
            detail = f"GET {endpoint} still serves the status"
            return DeletionProbe(deleted=False, record_id=record_id, detail=detail)
        return None

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        data = json.loads(body)
        if isinstance(data, dict) and "descendants" in data:
            return [_post(i, record_id, kind="reply") for i in data["descendants"]]
        if isinstance(data, list) and all(isinstance(i, dict) and "content" in i for i in data):
            if "/history" in url:
                return []
            return [_post(i, record_id) for i in data]
        return []

"""Bluesky through the public AppView (XRPC); no login needed for public posts.

``resolveHandle`` → ``getAuthorFeed`` newest first, following ``cursor`` → ``getPostThread`` for
posts with replies (``options.comments``) → images. ``handle:`` is the account's handle
(``agency.bsky.social``); ``base_url:`` overrides the AppView (default the public one).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any
from urllib.parse import quote

from archiver.capture.connectors.api import (
    CursorGuard,
    PageError,
    add_unseen,
    fetch_media,
    get_json,
    items,
    listing_page,
    parse_time,
    raw_json,
    since_cutoff,
    take_in_window,
)
from archiver.capture.connectors.base import CaptureSession, ConnectorResult
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

APPVIEW = "https://public.api.bsky.app"
WEB = "https://bsky.app"
PAGE_LIMIT = 100


def _post(
    view: dict[str, Any], record_id: str | None, *, kind: str = "post", web: str = WEB
) -> NormalizedPost:
    record = view["record"]
    author = view.get("author") or {}
    rkey = view["uri"].rsplit("/", 1)[1]
    images = ((view.get("embed") or {}).get("images")) or []
    reply = record.get("reply") or {}
    return NormalizedPost(
        native_id=view["uri"],
        url=f"{web}/profile/{author.get('handle', author.get('did', ''))}/post/{rkey}",
        text=str(record["text"]),
        published_at=parse_time(record.get("createdAt")),
        author=author.get("handle"),
        raw=raw_json(view),
        record_id=record_id,
        kind="reply" if reply else kind,
        in_reply_to=(reply.get("parent") or {}).get("uri"),
        media=tuple(img["fullsize"] for img in images if img.get("fullsize")),
    )


class BlueskyConnector:
    """Captures a Bluesky account's posts, their reply threads and images."""

    platform = "bluesky"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        handle = (account.handle or "").lstrip("@")
        if not handle:
            return ConnectorResult(fatal="a bluesky account needs handle: 'name.bsky.social'")
        root = (account.base_url or APPVIEW).rstrip("/")
        base = root + "/xrpc"
        # A mirror of the AppView (the simulator) serves the web app beside it the same way.
        web = root.replace("public.api.bsky.app", "bsky.app") if root != APPVIEW else WEB
        try:
            did = get_json(
                session,
                f"{base}/com.atproto.identity.resolveHandle?handle={quote(handle)}",
                what=f"resolving {handle}",
            ).data["did"]
        except PageError as exc:
            return ConnectorResult(fatal=f"{exc} (unknown handle?)")
        except (KeyError, TypeError):
            return ConnectorResult(fatal=f"resolving {handle}: no did in the answer")
        result = ConnectorResult()
        cutoff = since_cutoff(account, session)
        guard = CursorGuard(session, "author feed")
        cursor: str | None = None
        complete = False
        while True:
            url = f"{base}/app.bsky.feed.getAuthorFeed?actor={quote(did)}&limit={PAGE_LIMIT}"
            if cursor:
                url += f"&cursor={quote(cursor)}"
            listed = listing_page(session, result, url, what="author feed page", field="feed")
            if listed is None:
                break
            page, feed = listed
            build = partial(_post, record_id=page.record_id, web=web)
            posts = list(items(session, "author feed", [f["post"] for f in feed], build))
            stop = take_in_window(result, posts, cutoff, account.options.max_items)
            cursor = page.data.get("cursor")
            if stop or not feed or not cursor:
                complete = True
                break
            if not guard.admit(cursor):
                break
        result.complete_listing = complete
        if account.options.comments:
            self._threads(session, base, web, result)
        fetch_media(session, account, result.posts)
        return result

    def _threads(
        self, session: CaptureSession, base: str, web: str, result: ConnectorResult
    ) -> None:
        known = {p.native_id for p in result.posts}
        for post in list(result.posts):
            if not json.loads(post.raw).get("replyCount"):
                continue
            url = f"{base}/app.bsky.feed.getPostThread?uri={quote(post.native_id)}&depth=6"
            try:
                page = get_json(session, url, what=f"thread of {post.native_id}")
                replies = page.data["thread"].get("replies") or []
            except PageError as exc:
                session.problem(str(exc), url=url)
                continue
            except (KeyError, TypeError, AttributeError):
                session.problem(f"thread of {post.native_id}: unexpected shape; kept raw")
                continue
            views = [r["post"] for r in replies if isinstance(r, dict) and "post" in r]
            build = partial(_post, record_id=page.record_id, kind="reply", web=web)
            add_unseen(result.posts, known, items(session, "thread", views, build))

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        data = json.loads(body)
        if isinstance(data, dict) and isinstance(data.get("feed"), list):
            return [_post(f["post"], record_id) for f in data["feed"]]
        if isinstance(data, dict) and isinstance(data.get("thread"), dict):
            replies = data["thread"].get("replies") or []
            return [_post(r["post"], record_id, kind="reply") for r in replies if "post" in r]
        return []

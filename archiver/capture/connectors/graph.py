"""Facebook pages and Instagram business accounts through the Graph API (v19.0).

``handle:`` is the page's username or id (Facebook) or the IG user id (Instagram);
``credentials`` names the page access token, which travels as the ``access_token`` query parameter
(redacted in every record). Posts (or media) are paged by following ``paging.next``; comments per
post when ``options.comments``; pictures when ``options.media``.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any
from urllib.parse import quote

from archiver.capture.connectors.api import (
    CursorGuard,
    PageError,
    credential,
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

GRAPH = "https://graph.facebook.com/v19.0"
FB_FIELDS = "id,message,created_time,updated_time,permalink_url,full_picture"
IG_FIELDS = "id,caption,media_type,media_url,permalink,timestamp,comments_count"


def _fb_post(item: dict[str, Any], record_id: str | None) -> NormalizedPost:
    created, updated = parse_time(item["created_time"]), parse_time(item.get("updated_time"))
    return NormalizedPost(
        native_id=str(item["id"]),
        url=item.get("permalink_url"),
        text=str(item.get("message", "")),
        published_at=created,
        edited_at=updated if updated and updated != created else None,
        raw=raw_json(item),
        record_id=record_id,
        media=(item["full_picture"],) if item.get("full_picture") else (),
    )


def _ig_media(item: dict[str, Any], record_id: str | None) -> NormalizedPost:
    return NormalizedPost(
        native_id=str(item["id"]),
        url=item.get("permalink"),
        text=str(item.get("caption", "")),
        published_at=parse_time(item["timestamp"]),
        raw=raw_json(item),
        record_id=record_id,
        media=(item["media_url"],) if item.get("media_url") else (),
    )


def _comment(item: dict[str, Any], record_id: str | None, *, parent: str) -> NormalizedPost:
    author = (item.get("from") or {}).get("name") or item.get("username")
    return NormalizedPost(
        native_id=str(item["id"]),
        url=None,
        text=str(item.get("message") or item.get("text") or ""),
        published_at=parse_time(item.get("created_time") or item.get("timestamp")),
        author=author,
        raw=raw_json(item),
        record_id=record_id,
        kind="comment",
        in_reply_to=parent,
    )


class _GraphConnector:
    """Shared paging for the two Graph platforms."""

    platform = "graph"
    edge = "posts"
    fields = FB_FIELDS
    build = staticmethod(_fb_post)

    def has_comments(self, item: dict[str, Any]) -> bool:
        return True

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        owner = (account.handle or "").lstrip("@")
        if not owner:
            return ConnectorResult(fatal=f"a {self.platform} account needs handle: (id or name)")
        try:
            token = credential(account, session)
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        if not token:
            return ConnectorResult(fatal="the Graph API needs a token: set credentials: ENV_NAME")
        root = (account.base_url or GRAPH).rstrip("/")
        auth = f"access_token={quote(token)}"
        try:
            who = get_json(session, f"{root}/{quote(owner)}?fields=id,name&{auth}", what="lookup")
            owner_id = str(who.data["id"])
        except PageError as exc:
            return ConnectorResult(fatal=f"{exc} (unknown page or account, or a bad token?)")
        except (KeyError, TypeError):
            return ConnectorResult(fatal="lookup: no id in the answer")
        result = ConnectorResult()
        cutoff = since_cutoff(account, session)
        guard = CursorGuard(session, self.edge)
        url: str | None = f"{root}/{owner_id}/{self.edge}?fields={self.fields}&limit=100&{auth}"
        complete = False
        while url:
            listed = listing_page(session, result, url, what=f"{self.edge} page", field="data")
            if listed is None:
                break
            page, rows = listed
            posts = items(session, self.edge, rows, partial(self.build, record_id=page.record_id))
            stop = take_in_window(result, posts, cutoff, account.options.max_items)
            nxt = (page.data.get("paging") or {}).get("next")
            if stop or not rows or not nxt:
                complete, url = True, None
            else:
                url = nxt if guard.admit(nxt) else None
                if url and auth not in url:  # the simulator's next links omit the token
                    url += f"&{auth}"
        result.complete_listing = complete
        if account.options.comments:
            for post in [p for p in result.posts if p.kind == "post"]:
                if not self.has_comments(json.loads(post.raw)):
                    continue
                url = f"{root}/{post.native_id}/comments?limit=100&{auth}"
                try:
                    page = get_json(session, url, what=f"comments on {post.native_id}")
                except PageError as exc:
                    session.problem(str(exc), url=url)
                    continue
                build = partial(_comment, record_id=page.record_id, parent=post.native_id)
                result.posts.extend(items(session, "comments", page.data.get("data", []), build))
        fetch_media(session, account, result.posts)
        return result

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            return []
        if "/comments" in url:
            parent = url.split("/comments")[0].rsplit("/", 1)[1]
            return [_comment(c, record_id, parent=parent) for c in data["data"]]
        if f"/{self.edge}" in url:
            return [self.build(item, record_id) for item in data["data"]]
        return []


class FacebookConnector(_GraphConnector):
    """A Facebook page's posts, comments and pictures."""

    platform = "facebook"


class InstagramConnector(_GraphConnector):
    """An Instagram business account's media, comments and images."""

    platform = "instagram"
    edge = "media"
    fields = IG_FIELDS
    build = staticmethod(_ig_media)

    def has_comments(self, item: dict[str, Any]) -> bool:
        return bool(item.get("comments_count"))

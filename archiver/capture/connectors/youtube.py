"""YouTube: the channel's Atom feed without a key, Data API v3 with one.

``handle:`` is the channel id (``UC...``). Without ``credentials`` the public channel feed (the 15
newest videos) is captured like any feed. With a key (``credentials`` names it; it travels as the
``key`` query parameter, redacted in every record): uploads playlist → ``playlistItems`` paged by
``nextPageToken`` → ``videos`` in batches of 50 for full metadata → ``commentThreads`` per video
(``options.comments``) → thumbnails (``options.media``).
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
)
from archiver.capture.connectors.base import CaptureSession, ConnectorResult, fetch_primary
from archiver.capture.connectors.feed import FeedConnector
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

WEB = "https://www.youtube.com"
API = "https://www.googleapis.com/youtube/v3"


def _video(item: dict[str, Any], record_id: str | None, web: str) -> NormalizedPost:
    snippet = item["snippet"]
    thumbs = snippet.get("thumbnails") or {}
    best = (thumbs.get("high") or thumbs.get("default") or {}).get("url")
    return NormalizedPost(
        native_id=str(item["id"]),
        url=f"{web}/watch?v={item['id']}",
        title=str(snippet["title"]),
        text=str(snippet.get("description", "")),
        published_at=parse_time(snippet.get("publishedAt")),
        author=snippet.get("channelTitle") or snippet.get("channelId"),
        raw=raw_json(item),
        record_id=record_id,
        media=(best,) if best else (),
    )


def _comment(thread: dict[str, Any], record_id: str | None) -> NormalizedPost:
    top = thread["snippet"]["topLevelComment"]
    s = top["snippet"]
    return NormalizedPost(
        native_id=str(top["id"]),
        url=None,
        text=str(s["textDisplay"]),
        published_at=parse_time(s.get("publishedAt")),
        author=s.get("authorDisplayName"),
        raw=raw_json(thread),
        record_id=record_id,
        kind="comment",
        in_reply_to=str(thread["snippet"]["videoId"]),
    )


class YouTubeConnector:
    """Captures a channel's videos (feed or Data API), their comments and thumbnails."""

    platform = "youtube"

    def _roots(self, account: Account) -> tuple[str, str]:
        root = (account.base_url or "").rstrip("/")
        if not root:
            return WEB, API
        # A mirror (the simulator) serves both hosts under one prefix: {root}/HOST/...
        prefix = root.rsplit("/", 1)[0]
        return f"{prefix}/www.youtube.com", f"{prefix}/www.googleapis.com/youtube/v3"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        channel = (account.handle or "").strip()
        if not channel.startswith("UC"):
            return ConnectorResult(fatal="a youtube account needs handle: the channel id (UC...)")
        web, api = self._roots(account)
        try:
            key = credential(account, session)
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        if not key:
            return self._feed(account, session, web, channel)
        return self._api(account, session, web, api, channel, key)

    def _feed(
        self, account: Account, session: CaptureSession, web: str, channel: str
    ) -> ConnectorResult:
        url = f"{web}/feeds/videos.xml?channel_id={quote(channel)}"
        exchange = fetch_primary(session, url, purpose="api", what="channel feed")
        if isinstance(exchange, str):
            return ConnectorResult(fatal=f"{exchange} (unknown channel?)")
        record_id = session.record_id(exchange)
        posts = FeedConnector().posts_from_response(
            account,
            exchange.url,
            exchange.headers.get("content-type"),
            exchange.content(),
            record_id,
        )
        posts = posts[: account.options.max_items]
        return ConnectorResult(posts=posts, complete_listing=True, listing_record_id=record_id)

    def _api(
        self,
        account: Account,
        session: CaptureSession,
        web: str,
        api: str,
        channel: str,
        key: str,
    ) -> ConnectorResult:
        try:
            found = (
                get_json(
                    session,
                    f"{api}/channels?part=contentDetails&id={quote(channel)}&key={quote(key)}",
                    what="channel lookup",
                ).data.get("items")
                or []
            )
            uploads = found[0]["contentDetails"]["relatedPlaylists"]["uploads"]
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        except (KeyError, IndexError, TypeError, AttributeError):
            return ConnectorResult(fatal=f"channel lookup: no channel {channel} (unknown channel?)")
        result = ConnectorResult()
        guard = CursorGuard(session, "uploads")
        ids: list[str] = []
        token: str | None = None
        complete = False
        while True:
            url = (
                f"{api}/playlistItems?part=snippet,contentDetails&playlistId={quote(uploads)}"
                f"&maxResults=50&key={quote(key)}"
            )
            if token:
                url += f"&pageToken={quote(token)}"
            listed = listing_page(session, result, url, what="uploads page", field="items")
            if listed is None:
                break
            page, rows = listed
            for row in rows:
                vid = (row.get("contentDetails") or {}).get("videoId")
                if vid and len(ids) < account.options.max_items:
                    ids.append(str(vid))
            token = page.data.get("nextPageToken")
            if not token or len(ids) >= account.options.max_items:
                complete = True
                break
            if not guard.admit(token):
                break
        for start in range(0, len(ids), 50):
            batch = ",".join(ids[start : start + 50])
            url = f"{api}/videos?part=snippet,statistics&id={batch}&key={quote(key)}"
            try:
                page = get_json(session, url, what="videos batch")
            except PageError as exc:
                session.problem(str(exc), url=url)
                complete = False
                continue
            rid = page.record_id
            result.posts.extend(
                items(
                    session,
                    "videos",
                    page.data.get("items", []),
                    partial(_video, record_id=rid, web=web),
                )
            )
        result.complete_listing = complete
        if account.options.comments:
            for video in [p for p in result.posts if p.kind == "post"]:
                url = (
                    f"{api}/commentThreads?part=snippet&videoId={quote(video.native_id)}"
                    f"&maxResults=100&key={quote(key)}"
                )
                try:
                    page = get_json(session, url, what=f"comments on {video.native_id}")
                except PageError as exc:
                    session.problem(str(exc), url=url)
                    continue
                rid = page.record_id
                result.posts.extend(
                    items(
                        session,
                        "comments",
                        page.data.get("items", []),
                        partial(_comment, record_id=rid),
                    )
                )
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
        if "xml" in (content_type or "") or body.lstrip().startswith(b"<"):
            return FeedConnector().posts_from_response(account, url, content_type, body, record_id)
        data = json.loads(body)
        if not isinstance(data, dict):
            return []
        if data.get("kind") == "youtube#videoListResponse":
            return [_video(v, record_id, WEB) for v in data.get("items", [])]
        if data.get("kind") == "youtube#commentThreadListResponse":
            return [_comment(t, record_id) for t in data.get("items", [])]
        return []

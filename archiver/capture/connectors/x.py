"""X (Twitter) API v2 with a bearer token from ``credentials``.

``users/by/username`` → ``users/:id/tweets`` newest first with ``pagination_token`` and media
expansions → ``tweets/search/recent?query=conversation_id:ID`` for replies (``options.comments``).
An edited post gets a new id on X; its ``edit_history_tweet_ids`` starts with the original, which
is the post's stable ``native_id``, so an edit becomes a new version, never a deletion.
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

API = "https://api.x.com"
WEB = "https://x.com"
FIELDS = (
    "tweet.fields=created_at,edit_history_tweet_ids,conversation_id,in_reply_to_user_id,"
    "referenced_tweets,attachments,public_metrics&expansions=attachments.media_keys"
    "&media.fields=url,type"
)


def _post(
    tweet: dict[str, Any],
    record_id: str | None,
    *,
    username: str,
    web: str,
    media: dict[str, str],
    kind: str = "post",
) -> NormalizedPost:
    history = tweet.get("edit_history_tweet_ids") or [tweet["id"]]
    replied = [r["id"] for r in tweet.get("referenced_tweets") or [] if r["type"] == "replied_to"]
    keys = (tweet.get("attachments") or {}).get("media_keys", [])
    return NormalizedPost(
        native_id=str(history[0]),
        url=f"{web}/{username}/status/{tweet['id']}",
        text=str(tweet["text"]),
        published_at=parse_time(tweet.get("created_at")),
        edited_at=parse_time(tweet.get("created_at")) if len(history) > 1 else None,
        author=username if kind == "post" else tweet.get("author_id"),
        raw=raw_json(tweet),
        record_id=record_id,
        kind="reply" if replied else kind,
        in_reply_to=replied[0] if replied else None,
        media=tuple(media[k] for k in keys if k in media),
    )


class XConnector:
    """Captures an X account's posts (edits as versions), replies and photos."""

    platform = "x"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        username = (account.handle or "").lstrip("@")
        if not username:
            return ConnectorResult(fatal="an x account needs handle: 'username'")
        try:
            token = credential(account, session)
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        if not token:
            return ConnectorResult(
                fatal="X API v2 needs a bearer token: set credentials: ENV_NAME (or file:PATH)"
            )
        root = (account.base_url or API).rstrip("/")
        web = root.replace("api.x.com", "x.com") if root != API else WEB
        auth = {"Authorization": f"Bearer {token}"}
        try:
            who = get_json(
                session,
                f"{root}/2/users/by/username/{quote(username)}",
                what="user lookup",
                headers=auth,
            ).data
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        if not isinstance(who, dict) or "data" not in who:
            errors = who.get("errors") if isinstance(who, dict) else None
            detail = errors[0].get("detail") if errors else "no data in the answer"
            return ConnectorResult(fatal=f"user lookup @{username}: {detail} (unknown handle?)")
        user_id = who["data"]["id"]
        result = ConnectorResult()
        cutoff = since_cutoff(account, session)
        guard = CursorGuard(session, "timeline")
        token_param: str | None = None
        complete = False
        while True:
            url = f"{root}/2/users/{user_id}/tweets?max_results=100&{FIELDS}"
            if token_param:
                url += f"&pagination_token={quote(token_param)}"
            listed = listing_page(
                session, result, url, what="timeline page", field="meta", headers=auth
            )
            if listed is None:
                break
            page, meta = listed
            tweets = page.data.get("data") or []  # a timeline with nothing new has no data
            media = {
                m["media_key"]: m["url"]
                for m in (page.data.get("includes") or {}).get("media", [])
                if m.get("url")
            }
            build = partial(
                _post, record_id=page.record_id, username=username, web=web, media=media
            )
            posts = items(session, "timeline page", tweets, build)
            stop = take_in_window(result, posts, cutoff, account.options.max_items)
            token_param = meta.get("next_token")
            if stop or not token_param:
                complete = True
                break
            if not guard.admit(token_param):
                break
        result.complete_listing = complete
        if account.options.comments:
            self._replies(session, root, web, auth, result)
        fetch_media(session, account, result.posts)
        return result

    def _replies(
        self,
        session: CaptureSession,
        root: str,
        web: str,
        auth: dict[str, str],
        result: ConnectorResult,
    ) -> None:
        known = {p.native_id for p in result.posts}
        for post in list(result.posts):
            item = json.loads(post.raw)
            if not (item.get("public_metrics") or {}).get("reply_count"):
                continue
            query = quote(f"conversation_id:{item['conversation_id']}")
            url = f"{root}/2/tweets/search/recent?query={query}&{FIELDS}"
            try:
                page = get_json(session, url, what=f"replies to {post.native_id}", headers=auth)
                replies = page.data.get("data") or []
            except PageError as exc:
                session.problem(str(exc), url=url)
                continue
            build = partial(
                _post, record_id=page.record_id, username="i", web=web, media={}, kind="reply"
            )
            add_unseen(result.posts, known, items(session, "replies", replies, build))

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
        username = (account.handle or "i").lstrip("@")
        kind = "reply" if "/search/" in url else "post"
        return [
            _post(t, record_id, username=username, web=WEB, media={}, kind=kind)
            for t in data["data"]
        ]

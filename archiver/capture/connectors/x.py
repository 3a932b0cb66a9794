"""X (Twitter) API v2 with a bearer token from ``credentials``.

``GET /2/users/by/username/:name`` → ``GET /2/users/:id/tweets`` (newest first, ``max_results=
100``, ``pagination_token`` from ``meta.next_token``) → for each post that starts a conversation
and has replies, ``GET /2/tweets/search/recent?query=conversation_id:ID`` (``max_results=100``,
``next_token`` paging; X searches the last seven days only) when ``options.comments`` is on.
Every request asks the same fields and expansions (:data:`FIELDS`), so authors come from
``includes.users``, media from ``includes.media`` and retweeted, quoted and earlier versions of
edited tweets from ``includes.tweets``.

* An edited post gets a new id on X; its ``edit_history_tweet_ids`` starts with the original,
  which is the post's stable ``native_id``, so an edit becomes a new version, never a deletion.
  ``published_at`` is the original's time (from ``includes.tweets``), ``edited_at`` the edit's.
* A retweet is indexed with the full text of the retweeted tweet, its author and its URL
  (``https://x.com/{author}/status/{id}``), titled ``Repost of @author``; its own truncated
  ``RT @…`` text stays in the raw JSON. A quote keeps its own text, titled ``Quoting URL``.
* Photos are captured at ``url``; videos and animated GIFs at their best-bitrate ``video/mp4``
  variant, plus their ``preview_image_url``.
* X reports errors inside HTTP 200 answers (an ``errors`` array): beside ``data`` they are
  partial (a referenced tweet not found) and only noted; without ``data`` on a listing page the
  listing is not complete.
* A post absent from a complete listing is confirmed deleted through ``GET /2/tweets/:id``
  (:meth:`XConnector.probe_deletion`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from archiver.capture.connectors.api import (
    CursorGuard,
    Page,
    PageError,
    add_unseen,
    credential,
    fetch_media,
    get_json,
    items,
    parse_time,
    raw_json,
    since_cutoff,
    take_in_window,
)
from archiver.capture.connectors.base import CaptureSession, ConnectorResult, DeletionProbe
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

API = "https://api.x.com"
WEB = "https://x.com"
PAGE_SIZE = 100  # the documented maximum of max_results on both listings
TWEET_FIELDS = (
    "attachments,author_id,conversation_id,created_at,edit_history_tweet_ids,entities,"
    "in_reply_to_user_id,public_metrics,referenced_tweets"
)
EXPANSIONS = (
    "attachments.media_keys,author_id,edit_history_tweet_ids,referenced_tweets.id,"
    "referenced_tweets.id.author_id"
)
MEDIA_FIELDS = "alt_text,preview_image_url,type,url,variants"
USER_FIELDS = "name,username"
FIELDS = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": EXPANSIONS,
    "media.fields": MEDIA_FIELDS,
    "user.fields": USER_FIELDS,
}
NOT_FOUND_TYPE = "/2/problems/resource-not-found"  # under https://api.twitter.com


def _query(**params: str | int) -> str:
    return urlencode({**params, **FIELDS}, safe=",")


def media_urls(media: dict[str, Any]) -> tuple[str, ...]:
    """The URLs to capture for one ``includes.media`` object: a photo's ``url``; a video's or
    animated GIF's best-bitrate ``video/mp4`` variant, then its ``preview_image_url``."""
    mp4 = [
        v
        for v in media.get("variants") or []
        if isinstance(v, dict) and v.get("content_type") == "video/mp4" and v.get("url")
    ]
    best = max(mp4, key=lambda v: int(v.get("bit_rate") or 0), default=None)
    urls = [str(best["url"])] if best else []
    for key in ("url", "preview_image_url"):
        if media.get(key) and media[key] not in urls:
            urls.append(str(media[key]))
    return tuple(urls)


@dataclass(frozen=True)
class Includes:
    """A page's ``includes``: usernames by user id, tweets by id, media URLs by media key."""

    users: dict[str, str] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, doc: Any) -> Includes:
        inc = doc.get("includes") if isinstance(doc, dict) else None
        if not isinstance(inc, dict):
            return cls()

        def rows(name: str) -> Iterator[dict[str, Any]]:
            found = inc.get(name)
            return (
                (r for r in found if isinstance(r, dict)) if isinstance(found, list) else iter(())
            )

        return cls(
            users={str(u["id"]): str(u["username"]) for u in rows("users") if "username" in u},
            tweets={str(t["id"]): t for t in rows("tweets") if "id" in t},
            media={str(m["media_key"]): media_urls(m) for m in rows("media") if "media_key" in m},
        )

    def media_of(self, tweet: dict[str, Any]) -> tuple[str, ...]:
        keys = (tweet.get("attachments") or {}).get("media_keys") or []
        return tuple(url for key in keys for url in self.media.get(str(key), ()))


def _references(tweet: dict[str, Any], kind: str) -> list[str]:
    return [
        str(r["id"])
        for r in tweet.get("referenced_tweets") or []
        if isinstance(r, dict) and r.get("type") == kind and "id" in r
    ]


def _published(tweet: dict[str, Any], history: list[str], inc: Includes) -> datetime | None:
    first = inc.tweets.get(history[0]) if history[0] != str(tweet["id"]) else None
    return parse_time((first or tweet).get("created_at")) or parse_time(tweet.get("created_at"))


def _post(
    tweet: dict[str, Any],
    *,
    record_id: str | None,
    inc: Includes,
    web: str,
    owner: str | None,
    kind: str = "post",
    thread: str | None = None,
) -> NormalizedPost:
    """One tweet of a page as a post. ``owner``: the account's username (a timeline's tweets are
    its own when ``includes.users`` says nothing); ``thread``: the post a reply search was for."""
    tid = str(tweet["id"])
    history = [str(h) for h in tweet.get("edit_history_tweet_ids") or [tid]]
    author = inc.users.get(str(tweet.get("author_id"))) or owner
    text, title, url = str(tweet["text"]), None, f"{web}/{author or 'i'}/status/{tid}"
    media = inc.media_of(tweet)
    for rid in _references(tweet, "retweeted")[:1]:
        boosted = inc.tweets.get(rid)
        if boosted is not None and "text" in boosted:
            by = inc.users.get(str(boosted.get("author_id")))
            author, text = by, str(boosted["text"])
            title = f"Repost of @{by}" if by else "Repost"
            url = f"{web}/{by or 'i'}/status/{rid}"
            media = inc.media_of(boosted)
    for rid in _references(tweet, "quoted")[:1]:
        quoted = inc.tweets.get(rid) or {}
        by = inc.users.get(str(quoted.get("author_id")))
        title = f"Quoting {web}/{by or 'i'}/status/{rid}"
    replied = _references(tweet, "replied_to")
    parent = replied[0] if replied else None
    if kind == "reply" and parent is None:
        parent = str(tweet.get("conversation_id") or thread or "") or None
    edited = len(history) > 1 and tid != history[0]
    return NormalizedPost(
        native_id=history[0],
        url=url,
        text=text,
        title=title,
        published_at=_published(tweet, history, inc),
        edited_at=parse_time(tweet.get("created_at")) if edited else None,
        author=author or (str(tweet["author_id"]) if tweet.get("author_id") else None),
        raw=raw_json(tweet),
        record_id=record_id,
        kind="reply" if parent else kind,
        in_reply_to=parent,
        media=media,
    )


def _errors(doc: Any) -> list[dict[str, Any]]:
    found = doc.get("errors") if isinstance(doc, dict) else None
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def _describe(errors: list[dict[str, Any]]) -> str:
    shown = "; ".join(
        f"{e.get('title') or 'error'}: {e.get('detail') or e.get('message') or ''}".strip(": ")
        for e in errors[:3]
    )
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return shown + more


def _read_page(
    session: CaptureSession, url: str, *, what: str, headers: dict[str, str]
) -> tuple[Page, list[dict[str, Any]], dict[str, Any]] | None:
    """Fetch one listing page: its tweets and ``meta``. None (the problem noted) when the page
    failed or carries errors and no ``data``; errors beside ``data`` are noted, not fatal."""
    try:
        page = get_json(session, url, what=what, headers=headers)
    except PageError as exc:
        session.problem(str(exc), url=url)
        return None
    doc, errors = page.data, _errors(page.data)
    where = f" (archived raw in {page.record_id})" if page.record_id else ""
    if not isinstance(doc, dict) or (errors and "data" not in doc):
        detail = _describe(errors) if errors else "not a JSON object"
        session.problem(f"{what}: X answered with errors and no data: {detail}{where}", url=url)
        return None
    if "data" not in doc and "meta" not in doc:
        session.problem(f"{what}: neither data nor meta in the answer{where}", url=url)
        return None
    if errors:
        session.problem(f"{what}: X reported partial errors: {_describe(errors)}{where}", url=url)
    rows = doc.get("data") or []  # a listing with nothing (new) in it has no data
    meta: dict[str, Any] = doc["meta"] if isinstance(doc.get("meta"), dict) else {}
    return page, rows if isinstance(rows, list) else [], meta


class XConnector:
    """Captures an X account's posts (edits as versions, reposts with their full text), the
    replies they received, photos, videos and GIFs."""

    platform = "x"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        username = (account.handle or "").lstrip("@")
        if not username:
            return ConnectorResult(fatal="an x account needs handle: 'username'")
        try:
            auth = self._auth(account, session)
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        root, web = _roots(account)
        try:
            who = get_json(
                session,
                f"{root}/2/users/by/username/{quote(username)}",
                what="user lookup",
                headers=auth,
            ).data
        except PageError as exc:
            return ConnectorResult(fatal=str(exc))
        if not isinstance(who, dict) or not isinstance(who.get("data"), dict):
            errors = _errors(who)
            detail = _describe(errors) if errors else "no data in the answer"
            return ConnectorResult(fatal=f"user lookup @{username}: {detail} (unknown handle?)")
        user_id = str(who["data"]["id"])
        owner = str(who["data"].get("username") or username)
        result = ConnectorResult()
        cutoff = since_cutoff(account, session)
        guard = CursorGuard(session, "timeline")
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"max_results": PAGE_SIZE}
            if cursor:
                params["pagination_token"] = cursor
            url = f"{root}/2/users/{quote(user_id)}/tweets?{_query(**params)}"
            read = _read_page(session, url, what="timeline page", headers=auth)
            if read is None:
                break
            page, tweets, meta = read
            if result.listing_record_id is None:
                result.listing_record_id = page.record_id
            inc = Includes.of(page.data)

            def build(t: Any, page: Page = page, inc: Includes = inc) -> NormalizedPost:
                return _post(t, record_id=page.record_id, inc=inc, web=web, owner=owner)

            posts = items(session, "timeline page", tweets, build)
            stop = take_in_window(result, posts, cutoff, account.options.max_items)
            cursor = meta.get("next_token")
            if stop or not cursor:
                result.complete_listing = True
                break
            if not guard.admit(cursor):
                break
        if account.options.comments:
            self._replies(session, root, web, auth, result)
        fetch_media(session, account, result.posts)
        return result

    def _auth(self, account: Account, session: CaptureSession) -> dict[str, str]:
        token = credential(account, session)
        if not token:
            raise PageError(
                "X API v2 needs a bearer token: set credentials: ENV_NAME (or file:PATH)"
            )
        return {"Authorization": f"Bearer {token}"}

    def _replies(
        self,
        session: CaptureSession,
        root: str,
        web: str,
        auth: dict[str, str],
        result: ConnectorResult,
    ) -> None:
        """Every reply in the conversations the listed posts started (each version of an
        edited post starts its own), paged with ``next_token``."""
        known = {p.native_id for p in result.posts}
        for post in list(result.posts):
            tweet = json.loads(post.raw)
            tid = str(tweet["id"])
            if _references(tweet, "retweeted") or str(tweet.get("conversation_id", tid)) != tid:
                continue  # replies to a repost go to the original; a reply is not a thread root
            if (tweet.get("public_metrics") or {}).get("reply_count", 1) == 0:
                continue
            history = [str(h) for h in tweet.get("edit_history_tweet_ids") or [tid]]
            for conversation in dict.fromkeys([*history[:-1], tid]):
                self._conversation(session, root, web, auth, result, known, conversation)

    def _conversation(
        self,
        session: CaptureSession,
        root: str,
        web: str,
        auth: dict[str, str],
        result: ConnectorResult,
        known: set[str],
        conversation: str,
    ) -> None:
        what = f"replies to {conversation}"
        guard = CursorGuard(session, what)
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {
                "query": f"conversation_id:{conversation}",
                "max_results": PAGE_SIZE,
            }
            if cursor:
                params["next_token"] = cursor
            url = f"{root}/2/tweets/search/recent?{_query(**params)}"
            read = _read_page(session, url, what=what, headers=auth)
            if read is None:
                return
            page, replies, meta = read
            inc = Includes.of(page.data)

            def build(t: Any, page: Page = page, inc: Includes = inc) -> NormalizedPost:
                return _post(
                    t,
                    record_id=page.record_id,
                    inc=inc,
                    web=web,
                    owner=None,
                    kind="reply",
                    thread=conversation,
                )

            add_unseen(result.posts, known, items(session, "replies", replies, build))
            cursor = meta.get("next_token")
            if not guard.admit(cursor):
                return

    def probe_deletion(
        self, account: Account, session: CaptureSession, native_id: str, url: str | None
    ) -> DeletionProbe | None:
        """Ask ``GET /2/tweets/:id`` for the post. Deleted: no ``data`` and a "Not Found Error"
        (``resource-not-found``) for that id; present: ``data.id`` is the post (or a version of
        it); None for any other answer (no response, HTTP errors, rate limits, authorization)."""
        try:
            auth = self._auth(account, session)
            root, _ = _roots(account)
            endpoint = f"{root}/2/tweets/{quote(native_id)}"
            page = get_json(session, endpoint, what="deletion probe", headers=auth)
        except PageError:
            return None
        doc = page.data
        if not isinstance(doc, dict):
            return None
        data = doc.get("data")
        if isinstance(data, dict):
            versions = {str(data.get("id")), *map(str, data.get("edit_history_tweet_ids") or [])}
            if native_id in versions:
                return DeletionProbe(False, page.record_id, f"GET /2/tweets/{native_id} found it")
            return None
        for error in _errors(doc):
            kind = str(error.get("type") or "")
            missing = kind.endswith(NOT_FOUND_TYPE) or error.get("title") == "Not Found Error"
            about = {str(error[k]) for k in ("resource_id", "value") if k in error}
            if missing and (not about or native_id in about):
                detail = error.get("detail") or "Not Found Error"
                return DeletionProbe(
                    True, page.record_id, f"GET /2/tweets/{native_id} answered {detail}"
                )
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
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            return []
        _, web = _roots(account)
        inc = Includes.of(data)
        if "/search/" in url:
            return [
                _post(t, record_id=record_id, inc=inc, web=web, owner=None, kind="reply")
                for t in data["data"]
            ]
        owner = (account.handle or "").lstrip("@") or None
        return [_post(t, record_id=record_id, inc=inc, web=web, owner=owner) for t in data["data"]]


def _roots(account: Account) -> tuple[str, str]:
    """The API root and the web root posts' URLs are built on (the simulator's stand-ins when
    ``base_url`` points there)."""
    root = (account.base_url or API).rstrip("/")
    web = root.replace("api.x.com", "x.com") if root != API else WEB
    return root, web

"""Bluesky through the public AppView (XRPC); no login needed for public posts.

``com.atproto.identity.resolveHandle`` → ``app.bsky.feed.getAuthorFeed`` (``limit=100``,
``filter=posts_with_replies``, ``includePins=true``) newest first, following ``cursor`` →
``app.bsky.feed.getPostThread`` (whole reply tree, ``parentHeight=0``) for posts with replies
(``options.comments``) → media (images, video playlists and thumbnails, link-card thumbnails,
also inside ``recordWithMedia``). A post absent from a complete listing is confirmed deleted by
``app.bsky.feed.getPosts?uris=`` no longer returning it.

``handle:`` is the account's handle (``agency.bsky.social``) or DID (``did:plc:...``, then
not resolved); ``base_url:`` overrides the AppView
(default the public one).

How feed entries are indexed (``feedViewPost``; ``raw`` is the entry as found, ``reason``
included):

- the account's own posts: kind ``post``, or ``reply`` when the record answers another post;
- reposts (``reason`` ``app.bsky.feed.defs#reasonRepost``): kind ``repost``, native id the repost
  record's AT-URI (``reason.uri``), author, URL and text of the reposted post, ``published_at``
  the moment of the repost (``reason.indexedAt``: when it entered the account's feed). A repost
  is never a deletion candidate, and never shares an id with the account's own post;
- a pinned post (``reason`` ``app.bsky.feed.defs#reasonPin``, first page only) is the account's
  own post, placed out of time order: it never ends the time window, and is kept once.
"""

from __future__ import annotations

import json
from datetime import datetime
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
from archiver.capture.connectors.base import CaptureSession, ConnectorResult, DeletionProbe
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

APPVIEW = "https://public.api.bsky.app"
WEB = "https://bsky.app"
PAGE_LIMIT = 100  # the lexicon's maximum for getAuthorFeed
THREAD_DEPTH = 1000  # the lexicon's maximum for getPostThread: keep every level of replies
FEED_FILTER = "posts_with_replies"

REPOST = "app.bsky.feed.defs#reasonRepost"
PIN = "app.bsky.feed.defs#reasonPin"
NOT_FOUND = "app.bsky.feed.defs#notFoundPost"
BLOCKED = "app.bsky.feed.defs#blockedPost"


def embed_media(embed: Any) -> list[str]:
    """The files an embed view shows, per the ``app.bsky.embed.*#view`` lexicons: each image's
    ``fullsize``; a video's ``playlist`` (HLS) and ``thumbnail``; a link card's ``thumb``; the
    ``media`` of a ``recordWithMedia``. A quoted post's own media belong to that post."""
    if not isinstance(embed, dict):
        return []
    kind = str(embed.get("$type") or "")
    if kind.startswith("app.bsky.embed.recordWithMedia") or (not kind and "media" in embed):
        return embed_media(embed.get("media"))
    if kind.startswith("app.bsky.embed.images") or (not kind and "images" in embed):
        images = embed.get("images") or []
        return [str(i["fullsize"]) for i in images if isinstance(i, dict) and i.get("fullsize")]
    if kind.startswith("app.bsky.embed.video") or (not kind and "playlist" in embed):
        return [str(embed[k]) for k in ("playlist", "thumbnail") if embed.get(k)]
    if kind.startswith("app.bsky.embed.external") or (not kind and "external" in embed):
        thumb = (embed.get("external") or {}).get("thumb")
        return [str(thumb)] if thumb else []
    return []


def _post_url(view: dict[str, Any], web: str) -> str:
    author = view.get("author") or {}
    rkey = view["uri"].rsplit("/", 1)[1]
    return f"{web}/profile/{author.get('handle') or author.get('did', '')}/post/{rkey}"


def _post(
    view: dict[str, Any],
    record_id: str | None,
    *,
    web: str = WEB,
    raw: Any = None,
    in_reply_to: str | None = None,
) -> NormalizedPost:
    """A post view (``app.bsky.feed.defs#postView``) as the account's post or a reply."""
    record = view["record"]
    reply = record.get("reply") or {}
    parent = in_reply_to or (reply.get("parent") or {}).get("uri")
    return NormalizedPost(
        native_id=view["uri"],
        url=_post_url(view, web),
        text=str(record.get("text") or ""),
        published_at=parse_time(record.get("createdAt")),
        author=(view.get("author") or {}).get("handle"),
        raw=raw_json(view if raw is None else raw),
        record_id=record_id,
        kind="reply" if parent else "post",
        in_reply_to=parent,
        media=tuple(dict.fromkeys(embed_media(view.get("embed")))),
    )


def _reason(entry: dict[str, Any]) -> str | None:
    """``repost``, ``pin`` or None for a feed entry's ``reason``."""
    reason = entry.get("reason")
    if not isinstance(reason, dict):
        return None
    kind = reason.get("$type")
    if kind == REPOST or (kind is None and "by" in reason):
        return "repost"
    if kind == PIN:
        return "pin"
    return None


def _entry(entry: dict[str, Any], record_id: str | None, *, web: str = WEB) -> NormalizedPost:
    """One ``feedViewPost`` of an author feed (see the module doc for reposts and pins)."""
    view = entry["post"]
    if _reason(entry) != "repost":
        return _post(view, record_id, web=web, raw=entry)
    reason = entry["reason"]
    by = (reason.get("by") or {}).get("did") or "unknown"
    return NormalizedPost(
        native_id=reason.get("uri") or f"{view['uri']}#repost-by-{by}",
        url=_post_url(view, web),
        text=str(view["record"].get("text") or ""),
        published_at=parse_time(reason.get("indexedAt")),
        author=(view.get("author") or {}).get("handle"),
        raw=raw_json(entry),
        record_id=record_id,
        kind="repost",
        media=tuple(dict.fromkeys(embed_media(view.get("embed")))),
    )


def _children(node: dict[str, Any]) -> list[Any]:
    replies = node.get("replies")
    return list(reversed(replies)) if isinstance(replies, list) else []


def thread_replies(
    thread: dict[str, Any], skipped: list[str] | None = None
) -> list[tuple[dict[str, Any], str]]:
    """Every reply under a ``threadViewPost``, depth first in the order served (a reply, then
    the replies to it), each with the AT-URI of the post it answers. ``notFoundPost`` and
    ``blockedPost`` entries (and whatever is under them) cannot be read: they go to
    ``skipped``. Iterative, so a thread a thousand levels deep needs no deep recursion."""
    found: list[tuple[dict[str, Any], str]] = []
    stack = [(child, str(thread["post"]["uri"])) for child in _children(thread)]
    while stack:
        child, parent = stack.pop()
        if not isinstance(child, dict):
            continue
        kind = child.get("$type")
        if kind in (NOT_FOUND, BLOCKED) or child.get("notFound") or child.get("blocked"):
            if skipped is not None:
                state = "blocked" if kind == BLOCKED or child.get("blocked") else "not found"
                skipped.append(f"{child.get('uri')} ({state})")
            continue
        view = child.get("post")
        if isinstance(view, dict) and "uri" in view:
            found.append((view, parent))
            stack.extend((grandchild, str(view["uri"])) for grandchild in _children(child))
    return found


class BlueskyConnector:
    """Captures a Bluesky account's posts, reposts, pins, whole reply threads and media."""

    platform = "bluesky"

    @staticmethod
    def _roots(account: Account) -> tuple[str, str]:
        """The XRPC base and the web app's root for ``account``."""
        root = (account.base_url or APPVIEW).rstrip("/")
        # A mirror of the AppView (the simulator) serves the web app beside it the same way.
        web = root.replace("public.api.bsky.app", "bsky.app") if root != APPVIEW else WEB
        return root + "/xrpc", web

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        handle = (account.handle or "").lstrip("@")
        if not handle:
            return ConnectorResult(fatal="a bluesky account needs handle: 'name.bsky.social'")
        base, web = self._roots(account)
        did = handle if handle.startswith("did:") else None  # getAuthorFeed takes either
        try:
            did = (
                did
                or get_json(
                    session,
                    f"{base}/com.atproto.identity.resolveHandle?handle={quote(handle)}",
                    what=f"resolving {handle}",
                ).data["did"]
            )
        except PageError as exc:
            return ConnectorResult(fatal=f"{exc} (unknown handle?)")
        except (KeyError, TypeError):
            return ConnectorResult(fatal=f"resolving {handle}: no did in the answer")
        result = ConnectorResult()
        cutoff = since_cutoff(account, session)
        guard = CursorGuard(session, "author feed")
        pinned: list[NormalizedPost] = []
        cursor: str | None = None
        complete = reached_end = False
        while True:
            url = (
                f"{base}/app.bsky.feed.getAuthorFeed?actor={quote(did, safe='')}"
                f"&limit={PAGE_LIMIT}&filter={FEED_FILTER}&includePins=true"
            )
            if cursor:
                url += f"&cursor={quote(cursor, safe='')}"
            listed = listing_page(session, result, url, what="author feed page", field="feed")
            if listed is None:
                break
            page, rows = listed
            if not isinstance(rows, list):
                session.problem("author feed page: feed is not a list; kept raw", url=url)
                break
            build = partial(_entry, record_id=page.record_id, web=web)
            in_order = [f for f in rows if not (isinstance(f, dict) and _reason(f) == "pin")]
            pins = [f for f in rows if isinstance(f, dict) and _reason(f) == "pin"]
            pinned += items(session, "author feed", pins, build)
            posts = list(items(session, "author feed", in_order, build))
            stop = take_in_window(result, posts, cutoff, account.options.max_items)
            cursor = page.data.get("cursor")
            if stop or not rows or not cursor:
                complete = True
                reached_end = not stop
                break
            if not guard.admit(cursor):
                break
        self._keep_pins(result, pinned, cutoff, account.options.max_items, reached_end)
        result.complete_listing = complete
        if account.options.comments:
            self._threads(session, base, web, result)
        fetch_media(session, account, result.posts)
        return result

    @staticmethod
    def _keep_pins(
        result: ConnectorResult,
        pinned: list[NormalizedPost],
        cutoff: datetime | None,
        limit: int,
        reached_end: bool,
    ) -> None:
        """Keep a pinned post not met in time order, when it lies inside the listed window
        (so the window that deletion detection reads is never stretched past what was listed)."""
        seen = {p.native_id for p in result.posts}
        dated = [p.published_at for p in result.posts if p.kind == "post" and p.published_at]
        oldest = min(dated) if dated else None
        for post in pinned:
            when = post.published_at
            if post.native_id in seen or len(result.posts) >= limit:
                continue
            if cutoff and when and when < cutoff:
                continue
            if not reached_end and (when is None or oldest is None or when < oldest):
                continue
            seen.add(post.native_id)
            result.posts.append(post)

    def _threads(
        self, session: CaptureSession, base: str, web: str, result: ConnectorResult
    ) -> None:
        known = {p.native_id for p in result.posts}
        for post in list(result.posts):
            if post.kind == "repost":
                continue  # another account's conversation
            raw = json.loads(post.raw)
            view = raw.get("post", raw) if isinstance(raw, dict) else {}
            if isinstance(view, dict) and view.get("replyCount", 1) == 0:
                continue  # replyCount is optional: when absent, ask
            url = (
                f"{base}/app.bsky.feed.getPostThread?uri={quote(post.native_id, safe='')}"
                f"&depth={THREAD_DEPTH}&parentHeight=0"
            )
            try:
                page = get_json(session, url, what=f"thread of {post.native_id}")
                replies = self._replies(session, page.data, post.native_id)
            except PageError as exc:
                session.problem(str(exc), url=url)
                continue
            except (KeyError, TypeError, AttributeError):
                session.problem(f"thread of {post.native_id}: unexpected shape; kept raw")
                continue
            build = partial(self._reply, record_id=page.record_id, web=web)
            add_unseen(result.posts, known, items(session, "thread", replies, build))

    @staticmethod
    def _replies(
        session: CaptureSession | None, data: Any, root: str
    ) -> list[tuple[dict[str, Any], str]]:
        thread = data["thread"]
        if thread.get("notFound") or thread.get("blocked") or "post" not in thread:
            if session is not None:
                session.problem(f"thread of {root}: the post itself is not served (not found)")
            return []
        skipped: list[str] = []
        found = thread_replies(thread, skipped)
        if skipped and session is not None:
            session.problem(
                f"thread of {root}: {len(skipped)} repl{'y' if len(skipped) == 1 else 'ies'} "
                f"not readable, skipped: {', '.join(skipped)[:500]}"
            )
        return found

    @staticmethod
    def _reply(
        pair: tuple[dict[str, Any], str], record_id: str | None, *, web: str = WEB
    ) -> NormalizedPost:
        view, parent = pair
        return _post(view, record_id, web=web, in_reply_to=parent)

    def probe_deletion(
        self, account: Account, session: CaptureSession, native_id: str, url: str | None
    ) -> DeletionProbe | None:
        """Ask ``app.bsky.feed.getPosts`` for the post: deleted when the answer's ``posts``
        lacks its AT-URI, present when it holds it; None when the answer is unusable."""
        if not native_id.startswith("at://") or "/app.bsky.feed.post/" not in native_id:
            return None
        base, _ = self._roots(account)
        probe = f"{base}/app.bsky.feed.getPosts?uris={quote(native_id, safe='')}"
        try:
            page = get_json(session, probe, what=f"post {native_id}", purpose="probe")
        except PageError:
            return None
        found = page.data.get("posts") if isinstance(page.data, dict) else None
        if not isinstance(found, list):
            return None
        if any(isinstance(p, dict) and p.get("uri") == native_id for p in found):
            return DeletionProbe(False, page.record_id, f"getPosts still returns {native_id}")
        return DeletionProbe(
            True, page.record_id, f"getPosts?uris={native_id} answered without the post"
        )

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        data = json.loads(body)
        _, web = self._roots(account)
        if isinstance(data, dict) and isinstance(data.get("feed"), list):
            out: list[NormalizedPost] = []
            add_unseen(out, set(), (_entry(f, record_id, web=web) for f in data["feed"]))
            return out
        if isinstance(data, dict) and isinstance(data.get("thread"), dict):
            root = str((data["thread"].get("post") or {}).get("uri", ""))
            pairs = self._replies(None, data, root)
            return [self._reply(p, record_id, web=web) for p in pairs]
        return []

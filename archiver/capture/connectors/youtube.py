"""YouTube: the channel's Atom feed without a key, Data API v3 with one.

``handle:`` is the channel id (``UC...``). Without ``credentials`` the public channel feed
(``/feeds/videos.xml?channel_id=``, the 15 newest videos) is captured like any feed, each entry's
``media:group/media:thumbnail`` taken as its media. With a key (``credentials`` names it; it
travels as the ``key`` query parameter, redacted in every record):

1. ``channels.list?part=snippet,contentDetails&id=`` for the uploads playlist
   (``contentDetails.relatedPlaylists.uploads``; when an answer lacks it, the documented
   ``UU`` + the channel id without its ``UC`` stands in);
2. ``playlistItems.list?part=snippet,contentDetails&maxResults=50`` paged by ``nextPageToken``,
   the video id from ``contentDetails.videoId`` or ``snippet.resourceId.videoId``;
3. ``videos.list?part=snippet,contentDetails,statistics&id=`` in batches of 50;
4. per video (``options.comments``): ``commentThreads.list?part=snippet,replies&maxResults=100
   &textFormat=plainText`` paged by ``nextPageToken``, and every reply of a thread whose
   ``totalReplyCount`` exceeds the replies inlined through ``comments.list?part=snippet
   &parentId=&maxResults=100&textFormat=plainText``, paged likewise;
5. the largest thumbnail of each video (``options.media``).

Data API errors (``{"error": {"code", "message", "errors": [{"reason"}]}}``) are read by their
reason: a refused key ends the capture with the remedy; ``quotaExceeded`` and the rate limits
leave it partial (no further call is made, the listing is not complete); ``commentsDisabled``
is logged, not a problem. A video absent from a complete listing is confirmed deleted by
``videos.list?part=id&id=`` answering no item (:meth:`YouTubeConnector.probe_deletion`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import urlencode

from archiver.capture.connectors.api import (
    CursorGuard,
    Page,
    PageError,
    add_unseen,
    archived_in,
    credential,
    error_object,
    fetch_media,
    get_json,
    items,
    parse_time,
    plain,
    raw_json,
    since_cutoff,
)
from archiver.capture.connectors.base import (
    CaptureSession,
    ConnectorResult,
    DeletionProbe,
    fetch_primary,
)
from archiver.capture.connectors.feed import FeedConnector
from archiver.capture.http import Exchange
from archiver.index.api import NormalizedPost
from archiver.logging import get_logger
from archiver.policy.model import Account

WEB = "https://www.youtube.com"
API = "https://www.googleapis.com/youtube/v3"
MIRROR_HOSTS = ("www.youtube.com", "www.googleapis.com")
PLAYLIST_PAGE = 50  # documented maximum of playlistItems.list maxResults
VIDEO_BATCH = 50  # videos.list takes at most 50 ids
COMMENT_PAGE = 100  # documented maximum of commentThreads.list and comments.list maxResults
CHANNEL_PARTS = "snippet,contentDetails"
PLAYLIST_PARTS = "snippet,contentDetails"
VIDEO_PARTS = "snippet,contentDetails,statistics"
THREAD_PARTS = "snippet,replies"
COMMENT_PARTS = "snippet"
# Reasons (errors[].reason) and google.rpc ErrorInfo reasons (details[].reason) saying the key
# itself is refused: no call can succeed until someone fixes it.
KEY_REASONS = frozenset(
    {"keyInvalid", "keyExpired", "accessNotConfigured", "ipRefererBlocked", "forbiddenKey"}
)
KEY_DETAILS = frozenset(
    {"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED", "SERVICE_DISABLED"}
)
QUOTA_REASONS = frozenset(
    {"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"}
)
THUMBNAIL_SIZES = ("maxres", "standard", "high", "medium", "default")  # largest first


class YouTubeError(PageError):
    """A Data API error answer, its reasons kept (``errors[].reason``, ``details[].reason``)."""

    def __init__(self, message: str, *, status: int, reasons: tuple[str, ...]) -> None:
        super().__init__(message, status=status)
        self.reasons = reasons

    @property
    def key_refused(self) -> bool:
        return bool(
            KEY_DETAILS.intersection(self.reasons) or KEY_REASONS.intersection(self.reasons)
        )

    @property
    def over_quota(self) -> bool:
        return self.status == 429 or bool(QUOTA_REASONS.intersection(self.reasons))

    @property
    def comments_disabled(self) -> bool:
        return "commentsDisabled" in self.reasons


class KeyRefused(Exception):
    """The API key was refused: the capture cannot go on."""


class OverQuota(Exception):
    """The project's quota or rate limit is spent: no further call this capture."""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _youtube_error(ex: Exchange, body: bytes, what: str, record: str | None) -> None:
    """Raise :class:`YouTubeError` when an error answer carries a Data API error object."""
    err = error_object(body) if ex.status >= 400 else None
    if err is None:
        return
    reasons = tuple(
        str(r)
        for part in (*_list(err.get("errors")), *_list(err.get("details")))
        if (r := part.get("reason"))
    )
    shown = "/".join(reasons) or "no reason"
    text = f"{what}: YouTube Data API error {shown} (HTTP {ex.status}): {err.get('message')}"
    raise YouTubeError(text + archived_in(record), status=ex.status, reasons=reasons)


def yt_json(session: CaptureSession, url: str, *, what: str, purpose: str = "api") -> Page:
    """Fetch, archive and parse one Data API answer, a JSON object.

    Raises :class:`YouTubeError` for an answer carrying an API error object, PageError for
    anything else unusable (no answer, another HTTP error, a cut, non-JSON or non-object
    body); the raw answer is in the WARC either way."""
    page = get_json(session, url, what=what, purpose=purpose, read_error=_youtube_error)
    if not isinstance(page.data, dict):
        raise PageError(f"{what}: the answer is not a JSON object{archived_in(page.record_id)}")
    return page


def best_thumbnail(thumbnails: Any) -> str | None:
    """The largest thumbnail's URL: the widest one, or by the documented size names."""
    found = {k: v for k, v in _obj(thumbnails).items() if isinstance(v, dict) and v.get("url")}
    if not found:
        return None
    order = {name: i for i, name in enumerate(THUMBNAIL_SIZES)}

    def size(name: str) -> tuple[int, int]:
        width = found[name].get("width")
        return (width if isinstance(width, int) else 0, -order.get(name, len(order)))

    return str(found[max(found, key=size)]["url"])


def _video(item: dict[str, Any], *, record_id: str | None, web: str) -> NormalizedPost:
    snippet = item["snippet"]
    vid = str(item["id"])
    best = best_thumbnail(snippet.get("thumbnails"))
    return NormalizedPost(
        native_id=vid,
        url=f"{web}/watch?v={vid}",
        title=str(snippet.get("title") or "") or None,
        text=str(snippet.get("description") or ""),
        published_at=parse_time(snippet.get("publishedAt")),
        author=snippet.get("channelTitle") or snippet.get("channelId"),
        raw=raw_json(item),
        record_id=record_id,
        media=(best,) if best else (),
    )


def _comment(
    item: dict[str, Any], *, record_id: str | None, web: str, video: str | None, parent: str | None
) -> NormalizedPost:
    """A ``youtube#comment``: top level (``parent`` None: it answers ``video``) or a reply (it
    answers ``parent``, else its ``snippet.parentId``). Its URL (``watch?v=&lc=``) is built only
    from the video the answer itself names, so a comment rebuilt from its archived answer alone
    is the comment the capture indexed."""
    s = item["snippet"]
    cid = str(item["id"])
    parent = parent or s.get("parentId")
    video = s.get("videoId") or (None if parent else video)
    text = s.get("textOriginal")
    if text is None:  # textOriginal is only shown to the author; textDisplay then holds it
        text = plain(str(s.get("textDisplay") or ""))
    published, updated = parse_time(s.get("publishedAt")), parse_time(s.get("updatedAt"))
    return NormalizedPost(
        native_id=cid,
        url=f"{web}/watch?v={video}&lc={cid}" if video else None,
        text=str(text),
        published_at=published,
        edited_at=updated if updated and published and updated > published else None,
        author=s.get("authorDisplayName") or _obj(s.get("authorChannelId")).get("value"),
        raw=raw_json(item),
        record_id=record_id,
        kind="comment",
        in_reply_to=parent or (str(video) if video else None),
    )


def _thread(item: dict[str, Any], record_id: str | None, web: str) -> list[NormalizedPost]:
    """A ``youtube#commentThread``: its top-level comment, then the replies it inlines."""
    snippet = item["snippet"]
    top = snippet["topLevelComment"]
    video = snippet.get("videoId") or top["snippet"].get("videoId")
    first = _comment(top, record_id=record_id, web=web, video=video, parent=None)
    replies = [
        _comment(r, record_id=record_id, web=web, video=video, parent=first.native_id)
        for r in _list(_obj(item.get("replies")).get("comments"))
    ]
    return [first, *replies]


def _thread_with_count(
    item: dict[str, Any], *, record_id: str | None, web: str
) -> tuple[list[NormalizedPost], int]:
    """A thread's comments and its ``snippet.totalReplyCount`` (0 when absent)."""
    total = _obj(item.get("snippet")).get("totalReplyCount")
    return _thread(item, record_id, web), total if isinstance(total, int) else 0


def video_ids(rows: list[Any]) -> Iterator[str | None]:
    """Each playlist item's video id (``contentDetails.videoId``, else the
    ``snippet.resourceId.videoId`` a ``part=snippet`` answer gives), None when it has neither."""
    for row in rows:
        row = _obj(row)
        vid = _obj(row.get("contentDetails")).get("videoId") or _obj(
            _obj(row.get("snippet")).get("resourceId")
        ).get("videoId")
        yield str(vid) if vid else None


class _Api:
    """The Data API calls of one capture: the key added, the errors sorted by reason."""

    def __init__(self, session: CaptureSession, account: Account, api: str, key: str) -> None:
        self.session = session
        self.account = account
        self.api = api
        self.key = key
        self.log = get_logger(account=account.id, platform="youtube")

    def url(self, resource: str, **params: str | int) -> str:
        return f"{self.api}/{resource}?{urlencode({**params, 'key': self.key}, safe=',')}"

    def get(self, resource: str, *, what: str, **params: str | int) -> Page:
        """One answer; raises KeyRefused, OverQuota, or YouTubeError/PageError for the rest."""
        try:
            return yt_json(self.session, self.url(resource, **params), what=what)
        except YouTubeError as exc:
            if exc.key_refused:
                raise KeyRefused(
                    f"{exc}. The API key named by credentials ({self.account.credentials}) was "
                    "refused: check it in the Google Cloud console (a valid key of a project "
                    "with the YouTube Data API v3 enabled, not restricted away from this host)"
                ) from None
            if exc.over_quota:
                raise OverQuota(
                    f"{exc}. The project's YouTube Data API quota or rate limit is spent; "
                    "the capture stops here (the daily quota resets at midnight Pacific time)"
                ) from None
            raise

    def pages(self, resource: str, *, what: str, **params: str | int) -> Iterator[Page]:
        """Every page of a listing through ``nextPageToken``; a page that fails is noted and
        ends the listing (OverQuota and KeyRefused go up)."""
        guard = CursorGuard(self.session, what)
        token: str | None = None
        while True:
            asked = dict(params, **({"pageToken": token} if token else {}))
            try:
                page = self.get(resource, what=what, **asked)
            except PageError as exc:
                if isinstance(exc, YouTubeError) and exc.comments_disabled:
                    self.log.info("youtube.comments_disabled", what=what)
                    return
                self.session.problem(str(exc), url=self.url(resource, **asked))
                return
            yield page
            token = page.data.get("nextPageToken")
            if not token or not guard.admit(str(token)):
                return
            token = str(token)


class YouTubeConnector:
    """Captures a channel's videos (feed or Data API), their comments and thumbnails."""

    platform = "youtube"

    def _roots(self, account: Account) -> tuple[str, str]:
        """The web root and the Data API root. A ``base_url`` naming ``www.youtube.com`` under
        a prefix is a mirror serving each host under it (the simulator: ``{prefix}/HOST/...``);
        any other ``base_url`` serves both at the real paths (``/watch``, ``/youtube/v3/...``).
        """
        root = (account.base_url or "").rstrip("/")
        if not root:
            return WEB, API
        prefix, _, last = root.rpartition("/")
        if last in MIRROR_HOSTS and "://" in prefix:
            return f"{prefix}/www.youtube.com", f"{prefix}/www.googleapis.com/youtube/v3"
        return root, f"{root}/youtube/v3"

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
        calls = _Api(session, account, api, key)
        result = ConnectorResult()
        try:
            fatal = self._videos(calls, result, web, channel)
            if fatal:
                return ConnectorResult(fatal=fatal)
            if account.options.comments:
                self._comments(calls, result, web)
        except KeyRefused as exc:
            return ConnectorResult(fatal=str(exc))
        except OverQuota as exc:
            session.problem(str(exc))
            result.complete_listing = False
        fetch_media(session, account, result.posts)
        return result

    def _feed(
        self, account: Account, session: CaptureSession, web: str, channel: str
    ) -> ConnectorResult:
        url = f"{web}/feeds/videos.xml?{urlencode({'channel_id': channel})}"
        exchange = fetch_primary(session, url, purpose="api", what="channel feed")
        if isinstance(exchange, str):
            return ConnectorResult(fatal=f"{exchange} (unknown channel?)")
        record_id = session.record_id(exchange)
        try:
            posts = self.posts_from_response(
                account,
                exchange.url,
                exchange.headers.get("content-type"),
                exchange.content(),
                record_id,
            )
        except ValueError as exc:  # kept raw in the WARC; no deletion is guessed from it
            session.problem(f"channel feed could not be parsed: {exc}", url=exchange.url)
            return ConnectorResult(listing_record_id=record_id)
        posts = posts[: account.options.max_items]
        complete = exchange.truncated is None
        if exchange.truncated:
            session.problem(f"channel feed truncated ({exchange.truncated})", url=exchange.url)
        fetch_media(session, account, posts)
        return ConnectorResult(posts=posts, complete_listing=complete, listing_record_id=record_id)

    def _uploads(self, calls: _Api, channel: str) -> str | None:
        """The channel's uploads playlist id; None when the API knows no such channel."""
        page = calls.get("channels", what="channel lookup", part=CHANNEL_PARTS, id=channel)
        found = [i for i in _list(page.data.get("items")) if i.get("id") == channel]
        if not found:
            return None
        uploads = _obj(_obj(found[0].get("contentDetails")).get("relatedPlaylists")).get("uploads")
        if not uploads:
            # An answer without contentDetails: the uploads playlist of UCxxx is UUxxx, as the
            # API documents it and every client relies on.
            uploads = "UU" + channel[2:]
            calls.log.info("youtube.uploads_derived", channel=channel, playlist=uploads)
        return str(uploads)

    def _videos(self, calls: _Api, result: ConnectorResult, web: str, channel: str) -> str | None:
        """List the uploads and read the videos into ``result``; the fatal reason, if any."""
        session, account = calls.session, calls.account
        try:
            uploads = self._uploads(calls, channel)
        except PageError as exc:
            return str(exc)
        if uploads is None:
            return f"channel lookup: no channel {channel} (unknown channel?)"
        cutoff = since_cutoff(account, session)
        ids: list[str] = []
        complete = False
        params: dict[str, str | int] = {
            "part": PLAYLIST_PARTS,
            "playlistId": uploads,
            "maxResults": PLAYLIST_PAGE,
        }
        for page in calls.pages("playlistItems", what="uploads page", **params):
            if result.listing_record_id is None:
                result.listing_record_id = page.record_id
            rows = page.data.get("items")
            if not isinstance(rows, list):
                session.problem("uploads page: no items in the answer; kept raw")
                break
            found = list(video_ids(rows))
            if None in found:
                missing = found.count(None)
                session.problem(
                    f"uploads page: {missing} of {len(rows)} items name no video id "
                    "(neither contentDetails.videoId nor snippet.resourceId.videoId); "
                    "the listing is not complete"
                )
                break
            ended = False
            for vid, row in zip(found, rows, strict=True):
                when = parse_time(
                    _obj(row.get("contentDetails")).get("videoPublishedAt")
                    or _obj(row.get("snippet")).get("publishedAt")
                )
                if len(ids) >= account.options.max_items or (cutoff and when and when < cutoff):
                    ended = True
                    break
                if vid not in ids:
                    ids.append(str(vid))
            if ended or len(ids) >= account.options.max_items:
                complete = True
                break
            if not page.data.get("nextPageToken"):
                complete = True
        for start in range(0, len(ids), VIDEO_BATCH):
            batch = ids[start : start + VIDEO_BATCH]
            try:
                page = calls.get(
                    "videos", what="videos batch", part=VIDEO_PARTS, id=",".join(batch)
                )
            except PageError as exc:
                session.problem(str(exc))
                complete = False
                continue
            result.posts.extend(
                items(
                    session,
                    "videos",
                    _list(page.data.get("items")),
                    partial(_video, record_id=page.record_id, web=web),
                )
            )
        result.complete_listing = complete
        return None

    def _comments(self, calls: _Api, result: ConnectorResult, web: str) -> None:
        """Every comment thread of every video and every reply of each thread."""
        seen = {p.native_id for p in result.posts}
        for video in [p for p in result.posts if p.kind == "post"]:
            what = f"comments on {video.native_id}"
            for page in calls.pages(
                "commentThreads",
                what=what,
                part=THREAD_PARTS,
                videoId=video.native_id,
                maxResults=COMMENT_PAGE,
                textFormat="plainText",
            ):
                build = partial(_thread_with_count, record_id=page.record_id, web=web)
                threads = _list(page.data.get("items"))
                for thread, total in items(calls.session, what, threads, build):
                    add_unseen(result.posts, seen, thread)
                    if total > len(thread) - 1:
                        self._replies(calls, result, seen, web, thread[0])

    def _replies(
        self,
        calls: _Api,
        result: ConnectorResult,
        seen: set[str],
        web: str,
        top: NormalizedPost,
    ) -> None:
        """Every reply to ``top`` through ``comments.list?parentId=`` (the thread inlined fewer
        than its ``totalReplyCount``)."""
        what = f"replies to {top.native_id}"
        video = top.in_reply_to
        for page in calls.pages(
            "comments",
            what=what,
            part=COMMENT_PARTS,
            parentId=top.native_id,
            maxResults=COMMENT_PAGE,
            textFormat="plainText",
        ):
            build = partial(
                _comment, record_id=page.record_id, web=web, video=video, parent=top.native_id
            )
            add_unseen(
                result.posts, seen, items(calls.session, what, _list(page.data.get("items")), build)
            )

    def probe_deletion(
        self, account: Account, session: CaptureSession, native_id: str, url: str | None
    ) -> DeletionProbe | None:
        """Ask ``videos.list?part=id&id=`` for the video. Deleted: no item (and
        ``pageInfo.totalResults`` 0 when given); present: the id is among the items; None for
        any other answer (no key, no response, an error, a quota), the watch page then asked."""
        try:
            key = credential(account, session)
        except PageError:
            return None
        if not key:
            return None
        _, api = self._roots(account)
        calls = _Api(session, account, api, key)
        try:
            page = calls.get("videos", what="deletion probe", part="id", id=native_id)
        except (PageError, KeyRefused, OverQuota):
            return None
        found = [str(i.get("id")) for i in _list(page.data.get("items"))]
        if native_id in found:
            return DeletionProbe(
                deleted=False, record_id=page.record_id, detail="videos.list still returns it"
            )
        total = _obj(page.data.get("pageInfo")).get("totalResults")
        if found or ("items" in page.data and not isinstance(page.data["items"], list)):
            return None
        if total not in (None, 0):
            return None
        return DeletionProbe(
            deleted=True,
            record_id=page.record_id,
            detail=f"videos.list?part=id&id={native_id} answered no item (deleted or private)",
        )

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        web, _ = self._roots(account)
        if "xml" in (content_type or "") or body.lstrip().startswith(b"<"):
            posts = FeedConnector().posts_from_response(account, url, content_type, body, record_id)
            return [dataclasses.replace(p, media=_feed_thumbnails(p)) for p in posts]
        data = json.loads(body)
        if not isinstance(data, dict):
            return []
        rows = _list(data.get("items"))
        kind = data.get("kind")
        if kind == "youtube#videoListResponse":
            return [_video(v, record_id=record_id, web=web) for v in rows if "snippet" in v]
        if kind == "youtube#commentThreadListResponse":
            return [p for t in rows if "snippet" in t for p in _thread(t, record_id, web)]
        if kind == "youtube#commentListResponse":
            return [
                _comment(c, record_id=record_id, web=web, video=None, parent=None)
                for c in rows
                if "snippet" in c
            ]
        return []


def _feed_thumbnails(post: NormalizedPost) -> tuple[str, ...]:
    """The ``media:thumbnail`` URLs of a feed entry (its ``media:content`` is the retired
    Flash player URL, nothing to keep)."""
    raw = json.loads(post.raw) if post.raw else {}
    thumbs = raw.get("media_thumbnail") if isinstance(raw, dict) else None
    return tuple(
        dict.fromkeys(str(t["url"]) for t in _list(thumbs) if isinstance(t.get("url"), str))
    )

"""YouTube: the channel Atom feed (no key) and Data API v3 (with :data:`KEY`).

``www.youtube.com/feeds/videos.xml?channel_id=`` (15 newest, ``yt:``/``media:`` namespaces, a
``media:thumbnail`` per entry); ``www.googleapis.com/youtube/v3/``:

* ``channels?part=&id=`` (``contentDetails.relatedPlaylists.uploads``); no ``items`` at all for
  an unknown channel, as the API answers;
* ``playlistItems?part=&playlistId=&maxResults=(0-50, default 5)&pageToken=`` (``nextPageToken``);
* ``videos?part=&id=a,b,c`` (``maxResults`` 1-50);
* ``commentThreads?part=&videoId=&maxResults=(1-100, default 20)&textFormat=&pageToken=``: up
  to :data:`INLINE_REPLIES` replies inlined, ``snippet.totalReplyCount`` counting all of them;
* ``comments?part=&parentId=|id=&maxResults=(1-100, default 20)&textFormat=&pageToken=``.

The contract is kept as the API keeps it: ``part`` is required and only the parts asked are
returned (an unknown one answers 400 ``unknownPart``); ``maxResults`` outside its range answers
400 ``invalidParameter``; a bad ``pageToken`` 400 ``invalidPageToken``; ``textFormat=html`` (the
default) gives ``textDisplay`` as HTML; no key answers 403 ``forbidden``, a wrong key 400
``badRequest`` with the ``API_KEY_INVALID`` ErrorInfo; :data:`LOW_QUOTA_KEY` runs out of quota at
``commentThreads`` (403 ``quotaExceeded``); a video with comments turned off answers 403
``commentsDisabled``; any other path on the API host answers the JSON 404 ``notFound``. Watch
pages ``www.youtube.com/watch?v=ID`` answer 404 once deleted.

Channel ``UCsynthUSGS00000000000000`` (20 videos; every 4th has comments, video 0 more than a
page of threads and a thread with more than a page of replies; video 2 has comments turned off)
and ``UCbenchN``. Round 2 retitles video 18 and adds one; round 3 deletes video 17.
"""

from __future__ import annotations

import hashlib
import html
from datetime import timedelta
from typing import Any

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

HOSTS = ("www.youtube.com", "www.googleapis.com")
KEY = "sim-youtube-key"
LOW_QUOTA_KEY = "sim-youtube-key-low-quota"
CHANNEL = "UCsynthUSGS00000000000000"
TITLE = "USGS (synthetic)"
ATOM = "application/atom+xml; charset=utf-8"
INLINE_REPLIES = 5  # commentThreads inlines a few replies; comments.list has them all
NO_COMMENTS = 2  # the video with comments turned off
PARTS = {
    "channels": frozenset(
        {
            "auditDetails",
            "brandingSettings",
            "contentDetails",
            "contentOwnerDetails",
            "id",
            "localizations",
            "snippet",
            "statistics",
            "status",
            "topicDetails",
        }
    ),
    "playlistItems": frozenset({"contentDetails", "id", "snippet", "status"}),
    "videos": frozenset(
        {
            "contentDetails",
            "fileDetails",
            "id",
            "liveStreamingDetails",
            "localizations",
            "player",
            "processingDetails",
            "recordingDetails",
            "snippet",
            "statistics",
            "status",
            "suggestions",
            "topicDetails",
        }
    ),
    "commentThreads": frozenset({"id", "replies", "snippet"}),
    "comments": frozenset({"id", "snippet"}),
}
# maxResults: (lowest, highest, default) as documented per method
LIMITS = {
    "playlistItems": (0, 50, 5),
    "videos": (1, 50, 5),
    "commentThreads": (1, 100, 20),
    "comments": (1, 100, 20),
}


def _count(channel: str) -> int | None:
    if channel == CHANNEL:
        return 20
    if channel.startswith("UCbench") and channel[7:].isdigit():
        return int(channel[7:])
    return None


def _vid(channel: str, i: int) -> str:
    return f"v{channel[-6:]}{i:04d}"[:11].ljust(11, "x")


def _live(channel: str, round_: int) -> list[int]:
    count = _count(channel) or 0
    usgs = channel == CHANNEL
    total = count + (1 if usgs and round_ >= 2 else 0)
    gone = {count - 3} if usgs and round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _video(channel: str, i: int, round_: int) -> dict[str, Any]:
    edited = channel == CHANNEL and i == (_count(channel) or 0) - 2 and round_ >= 2
    title = f"Hazards briefing {i}" + (" (corrected)" if edited else "")
    return {
        "id": _vid(channel, i),
        "index": i,
        "title": title,
        "description": f"Briefing {i} on earthquakes, floods and landslides. Synthetic video.",
        "published": (EPOCH + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _find(vid: str, round_: int) -> tuple[str, int] | None:
    for channel in (CHANNEL,):
        for i in _live(channel, round_):
            if _vid(channel, i) == vid:
                return channel, i
    return None


def _etag(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:27]


# --- comments ------------------------------------------------------------------------------------


def thread_count(i: int) -> int:
    """How many comment threads video ``i`` of the USGS channel has."""
    if i == 0:
        return 101  # more than one page of 100
    return 2 if i % 4 == 0 else 0


def reply_count(i: int, n: int) -> int:
    """How many replies thread ``n`` of video ``i`` has."""
    if thread_count(i) == 0:
        return 0
    if n == 0:
        return 103 if i == 0 else 7  # more than inlined; on video 0 more than a page of 100
    return 1 if n == 1 else 0


def comment_total(round_: int) -> int:
    """Every comment and reply the USGS channel's live videos hold in ``round_``."""
    return sum(
        thread_count(i) + sum(reply_count(i, n) for n in range(thread_count(i)))
        for i in _live(CHANNEL, round_)
    )


def _thread_id(vid: str, n: int) -> str:
    return f"Ug{vid}{n:04d}AaABAg"


def _parse_comment_id(cid: str) -> tuple[str, int, int | None] | None:
    """(video id, thread n, reply m or None) of a simulated comment id."""
    top, _, reply = cid.partition(".")
    if not (top.startswith("Ug") and top.endswith("AaABAg") and len(top) == 23):
        return None
    vid, n = top[2:13], top[13:17]
    if not n.isdigit() or (reply and not (reply.startswith("r") and reply[1:].isdigit())):
        return None
    return vid, int(n), int(reply[1:]) if reply else None


def _comment(
    vid: str, n: int, m: int | None, channel: str, parts: frozenset[str], fmt: str
) -> dict[str, Any]:
    cid = _thread_id(vid, n) + (f".r{m:04d}" if m is not None else "")
    who = n if m is None else 1000 + m
    text = (
        f"Comment {n + 1}: useful briefing, see https://www.usgs.gov/ for more."
        if m is None
        else f"Reply {m + 1} to comment {n + 1}: thanks!"
    )
    shown = html.escape(text).replace(
        "https://www.usgs.gov/", '<a href="https://www.usgs.gov/">https://www.usgs.gov/</a>'
    )
    minutes = n * 7 + (0 if m is None else 60 + m)
    when = (EPOCH + timedelta(days=40, minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    item: dict[str, Any] = {"kind": "youtube#comment", "etag": _etag(cid), "id": cid}
    if "snippet" in parts:
        viewer = f"UCviewer{who:017d}"
        snippet: dict[str, Any] = {
            "channelId": channel,
            "videoId": vid,
            "textDisplay": text if fmt == "plainText" else shown,
            "textOriginal": text,
            "authorDisplayName": f"@viewer{who}",
            "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/viewer{who}=s48",
            "authorChannelUrl": f"http://www.youtube.com/@viewer{who}",
            "authorChannelId": {"value": viewer},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": n % 3,
            "publishedAt": when,
            "updatedAt": when,
        }
        if m is not None:
            snippet["parentId"] = _thread_id(vid, n)
        item["snippet"] = snippet
    return item


def _thread(
    vid: str, i: int, n: int, channel: str, parts: frozenset[str], fmt: str
) -> dict[str, Any]:
    tid = _thread_id(vid, n)
    item: dict[str, Any] = {"kind": "youtube#commentThread", "etag": _etag(tid), "id": tid}
    replies = reply_count(i, n)
    if "snippet" in parts:
        item["snippet"] = {
            "channelId": channel,
            "videoId": vid,
            "topLevelComment": _comment(vid, n, None, channel, frozenset({"snippet"}), fmt),
            "canReply": True,
            "totalReplyCount": replies,
            "isPublic": True,
        }
    if "replies" in parts and replies:
        shown = range(min(replies, INLINE_REPLIES))
        item["replies"] = {
            "comments": [_comment(vid, n, m, channel, frozenset({"snippet"}), fmt) for m in shown]
        }
    return item


# --- errors --------------------------------------------------------------------------------------

STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


def api_error(
    status: int,
    message: str,
    reason: str,
    *,
    domain: str = "global",
    location: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> Resource:
    """A Data API error in its real shape: ``{"error": {code, message, errors[], status}}``."""
    entry: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if location:
        entry |= {"location": location, "locationType": "parameter"}
    error: dict[str, Any] = {"code": status, "message": message, "errors": [entry]}
    error["status"] = STATUS.get(status, "UNKNOWN")
    if details:
        error["details"] = details
    return json_resource({"error": error}, status=status)


def _key_error(key: str | None) -> Resource | None:
    if key in (KEY, LOW_QUOTA_KEY):
        return None
    if not key:
        return api_error(
            403,
            "The request is missing a valid API key.",
            "forbidden",
        )
    message = "API key not valid. Please pass a valid API key."
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "youtube.googleapis.com"},
    }
    return api_error(400, message, "badRequest", details=[info])


def _parts(req: ApiRequest, kind: str) -> frozenset[str] | Resource:
    asked = [p.strip() for p in (req.param("part") or "").split(",") if p.strip()]
    if not asked:
        return api_error(400, "Required parameter: part", "required", location="part")
    for part in asked:
        if part not in PARTS[kind]:
            return api_error(
                400, f"'{part}'", "unknownPart", domain="youtube.part", location="part"
            )
    return frozenset(asked)


def _size(req: ApiRequest, kind: str) -> int | Resource:
    low, high, default = LIMITS[kind]
    raw = req.param("maxResults")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        return api_error(
            400,
            f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]",
            "invalidParameter",
            location="maxResults",
        )
    return value


def _start(req: ApiRequest) -> int | Resource:
    token = req.param("pageToken")
    if not token:
        return 0
    if token.startswith("P") and token[1:].isdigit():
        return int(token[1:])
    return api_error(
        400,
        "The request specifies an invalid page token.",
        "invalidPageToken",
        location="pageToken",
    )


def _page(
    kind: str, rows: list[dict[str, Any]], start: int, size: int, total: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": f"youtube#{kind}", "etag": _etag(kind, start, size)}
    if start + size < len(rows):
        body["nextPageToken"] = f"P{start + size}"
    if start > 0:
        body["prevPageToken"] = f"P{max(0, start - size)}"
    info: dict[str, Any] = {"resultsPerPage": size}
    if total is not None:
        info = {"totalResults": total, **info}
    body["pageInfo"] = info
    body["items"] = rows[start : start + size]
    return body


# --- resources -----------------------------------------------------------------------------------


def _thumbnails(vid: str, i: int) -> dict[str, Any]:
    sizes = [("default", 120, 90), ("medium", 320, 180), ("high", 480, 360)]
    if i % 2 == 0:
        sizes += [("standard", 640, 480), ("maxres", 1280, 720)]
    names = {"default": "default", "medium": "mqdefault", "high": "hqdefault"}
    names |= {"standard": "sddefault", "maxres": "maxresdefault"}
    return {
        name: {"url": f"https://i.ytimg.com/vi/{vid}/{names[name]}.jpg", "width": w, "height": h}
        for name, w, h in sizes
    }


def _snippet(channel: str, v: dict[str, Any]) -> dict[str, Any]:
    return {
        "publishedAt": v["published"],
        "channelId": channel,
        "title": v["title"],
        "description": v["description"],
        "thumbnails": _thumbnails(v["id"], v["index"]),
        "channelTitle": TITLE,
    }


def _channel(channel: str, parts: frozenset[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "youtube#channel", "etag": _etag(channel), "id": channel}
    if "snippet" in parts:
        item["snippet"] = {
            "title": TITLE,
            "description": "Synthetic hazards channel.",
            "customUrl": "@usgs-synthetic",
            "publishedAt": "2010-01-01T00:00:00Z",
            "thumbnails": {"default": {"url": "https://yt3.ggpht.com/usgs=s88", "width": 88}},
            "country": "US",
        }
    if "contentDetails" in parts:
        uploads = "UU" + channel[2:]
        item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": uploads}}
    if "statistics" in parts:
        item["statistics"] = {
            "viewCount": "2400",
            "subscriberCount": "100",
            "hiddenSubscriberCount": False,
            "videoCount": str(_count(channel) or 0),
        }
    return item


def _playlist_item(
    channel: str, v: dict[str, Any], position: int, parts: frozenset[str]
) -> dict[str, Any]:
    pid = f"PI{v['id']}"
    item: dict[str, Any] = {"kind": "youtube#playlistItem", "etag": _etag(pid), "id": pid}
    if "snippet" in parts:
        item["snippet"] = _snippet(channel, v) | {
            "playlistId": "UU" + channel[2:],
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": v["id"]},
            "videoOwnerChannelTitle": TITLE,
            "videoOwnerChannelId": channel,
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {"videoId": v["id"], "videoPublishedAt": v["published"]}
    if "status" in parts:
        item["status"] = {"privacyStatus": "public"}
    return item


def _video_item(channel: str, v: dict[str, Any], parts: frozenset[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": "youtube#video", "etag": _etag(v), "id": v["id"]}
    if "snippet" in parts:
        item["snippet"] = _snippet(channel, v) | {
            "tags": ["earthquakes", "floods"],
            "categoryId": "28",
            "liveBroadcastContent": "none",
            "localized": {"title": v["title"], "description": v["description"]},
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {
            "duration": f"PT{3 + v['index'] % 5}M{v['index'] % 60}S",
            "dimension": "2d",
            "definition": "hd",
            "caption": "false",
            "licensedContent": False,
            "projection": "rectangular",
        }
    if "statistics" in parts:
        comments = thread_count(v["index"])
        item["statistics"] = {
            "viewCount": "120",
            "likeCount": "7",
            "favoriteCount": "0",
            "commentCount": str(comments),
        }
    if "status" in parts:
        item["status"] = {
            "uploadStatus": "processed",
            "privacyStatus": "public",
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "madeForKids": False,
        }
    if "player" in parts:
        item["player"] = {
            "embedHtml": f'<iframe width="480" height="270" src="//www.youtube.com/embed/'
            f'{v["id"]}" frameborder="0" allowfullscreen></iframe>'
        }
    return item


def _feed(channel: str, round_: int) -> Resource:
    entries = []
    for i in _live(channel, round_)[:15]:
        v = _video(channel, i, round_)
        e = html.escape
        entries.append(
            f"""<entry><id>yt:video:{v["id"]}</id><yt:videoId>{v["id"]}</yt:videoId>
<yt:channelId>{channel}</yt:channelId><title>{e(v["title"])}</title>
<link rel="alternate" href="https://www.youtube.com/watch?v={v["id"]}"/>
<author><name>{TITLE}</name><uri>https://www.youtube.com/channel/{channel}</uri></author>
<published>{v["published"]}</published><updated>{v["published"]}</updated>
<media:group><media:title>{e(v["title"])}</media:title>
<media:content url="https://www.youtube.com/v/{v["id"]}?version=3"
 type="application/x-shockwave-flash" width="640" height="390"/>
<media:thumbnail url="https://i.ytimg.com/vi/{v["id"]}/hqdefault.jpg" width="480" height="360"/>
<media:description>{e(v["description"])}</media:description>
<media:community><media:starRating count="7" average="5.00" min="1" max="5"/>
<media:statistics views="120"/></media:community></media:group></entry>"""
        )
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015"
 xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
<link rel="self" href="https://www.youtube.com/feeds/videos.xml?channel_id={channel}"/>
<id>yt:channel:{channel}</id><yt:channelId>{channel}</yt:channelId>
<title>{TITLE}</title>
<link rel="alternate" href="https://www.youtube.com/channel/{channel}"/>
<author><name>{TITLE}</name><uri>https://www.youtube.com/channel/{channel}</uri></author>
<published>2026-01-01T00:00:00+00:00</published>
{"".join(entries)}
</feed>"""
    return Resource(body.encode(), ATOM, EPOCH)


def _web(req: ApiRequest) -> Resource | None:
    if req.path == "/feeds/videos.xml":
        channel = req.param("channel_id") or ""
        if _count(channel) is None:
            return Resource(b"<!DOCTYPE html><title>404 Not Found</title>", HTML, EPOCH, 404)
        return _feed(channel, req.round)
    if req.path == "/watch":
        found = _find(req.param("v") or "", req.round)
        if found is None:
            return Resource(b"<!DOCTYPE html><title>Video unavailable</title>", HTML, EPOCH, 404)
        title = html.escape(_video(*found, req.round)["title"])
        return Resource(f"<!DOCTYPE html><title>{title}</title>".encode(), HTML, EPOCH)
    return None


def _not_found() -> Resource:
    return api_error(404, "Method not found.", "notFound")


def answer(req: ApiRequest) -> Resource | None:
    """YouTube's answer to ``req``."""
    if req.host == "www.youtube.com":
        return _web(req)
    kind = req.path.removeprefix("/youtube/v3/")
    if not req.path.startswith("/youtube/v3/") or kind not in PARTS:
        return _not_found()
    refused = _key_error(req.param("key"))
    if refused is not None:
        return refused
    parts = _parts(req, kind)
    if isinstance(parts, Resource):
        return parts
    if kind == "channels":
        return _channels(req, parts)
    size, start = _size(req, kind), _start(req)
    if isinstance(size, Resource):
        return size
    if isinstance(start, Resource):
        return start
    if kind == "playlistItems":
        return _playlist_items(req, parts, size, start)
    if kind == "videos":
        return _videos(req, parts)
    if req.param("key") == LOW_QUOTA_KEY:
        message = (
            "The request cannot be completed because you have exceeded your "
            '<a href="/youtube/v3/getting-started#quota">quota</a>.'
        )
        return api_error(403, message, "quotaExceeded", domain="youtube.quota")
    fmt = req.param("textFormat") or "html"
    if fmt not in ("html", "plainText"):
        return api_error(400, f"Invalid value '{fmt}'.", "invalidParameter", location="textFormat")
    if kind == "commentThreads":
        return _comment_threads(req, parts, size, start, fmt)
    return _comments(req, parts, size, start, fmt)


def _channels(req: ApiRequest, parts: frozenset[str]) -> Resource:
    ids = [c for c in (req.param("id") or "").split(",") if c]
    if not ids:
        return api_error(
            400,
            "No filter selected. Expected one of: forUsername, id, idParam, categoryId, "
            "forHandle, mySubscribers, mine, managedByMe, hl",
            "missingRequiredParameter",
            domain="youtube.parameter",
        )
    found = [_channel(c, parts) for c in ids if _count(c) is not None]
    body: dict[str, Any] = {
        "kind": "youtube#channelListResponse",
        "etag": _etag("channels", ids),
        "pageInfo": {"totalResults": len(found), "resultsPerPage": 5},
    }
    if found:  # an unknown channel: no items key at all
        body["items"] = found
    return json_resource(body)


def _playlist_items(req: ApiRequest, parts: frozenset[str], size: int, start: int) -> Resource:
    playlist = req.param("playlistId") or ""
    channel = "UC" + playlist[2:]
    if not playlist.startswith("UU") or _count(channel) is None:
        return api_error(
            404,
            "The playlist identified with the request's <code>playlistId</code> parameter "
            "cannot be found.",
            "playlistNotFound",
            domain="youtube.playlistItem",
            location="playlistId",
        )
    live = _live(channel, req.round)
    rows = [
        _playlist_item(channel, _video(channel, i, req.round), pos, parts)
        for pos, i in enumerate(live)
    ]
    body = _page("playlistItemListResponse", rows, start, size, len(live))
    return json_resource(body)


def _videos(req: ApiRequest, parts: frozenset[str]) -> Resource:
    ids = [v for v in (req.param("id") or "").split(",") if v]
    if len(ids) > 50:
        return api_error(
            400,
            "The request specifies an invalid filter parameter.",
            "invalidFilters",
            domain="youtube.parameter",
            location="id",
        )
    hits = [_find(v, req.round) for v in ids]
    rows = [_video_item(h[0], _video(h[0], h[1], req.round), parts) for h in hits if h]
    body = {
        "kind": "youtube#videoListResponse",
        "etag": _etag("videos", ids),
        "items": rows,
        "pageInfo": {"totalResults": len(rows), "resultsPerPage": len(rows)},
    }
    return json_resource(body)


def _comment_threads(
    req: ApiRequest, parts: frozenset[str], size: int, start: int, fmt: str
) -> Resource:
    vid = req.param("videoId") or ""
    found = _find(vid, req.round)
    if found is None:
        return api_error(
            404,
            'The video identified by the <code><a href="/youtube/v3/docs/commentThreads/list'
            '#videoId">videoId</a></code> parameter could not be found.',
            "videoNotFound",
            domain="youtube.commentThread",
            location="videoId",
        )
    channel, i = found
    if i == NO_COMMENTS:
        return api_error(
            403,
            'The video identified by the <code><a href="/youtube/v3/docs/commentThreads/list'
            '#videoId">videoId</a></code> parameter has disabled comments.',
            "commentsDisabled",
            domain="youtube.commentThread",
            location="videoId",
        )
    # newest first (order=time, the default)
    rows = [_thread(vid, i, n, channel, parts, fmt) for n in reversed(range(thread_count(i)))]
    body = _page("commentThreadListResponse", rows, start, size, None)
    body["pageInfo"]["totalResults"] = len(body["items"])  # as the API does: this page's count
    return json_resource(body)


def _comments(req: ApiRequest, parts: frozenset[str], size: int, start: int, fmt: str) -> Resource:
    parent, ids = req.param("parentId"), [c for c in (req.param("id") or "").split(",") if c]
    if not parent and not ids:
        return api_error(
            400,
            "No filter selected. Expected one of: id, parentId",
            "missingRequiredParameter",
            domain="youtube.parameter",
        )
    rows: list[dict[str, Any]] = []
    if parent:
        where = _parse_comment_id(parent)
        found = _find(where[0], req.round) if where and where[2] is None else None
        if where is None or found is None or where[1] >= thread_count(found[1]):
            return api_error(
                404,
                "The comment identified by the <code>parentId</code> parameter could not be found.",
                "commentNotFound",
                domain="youtube.comment",
                location="parentId",
            )
        vid, n, _ = where
        rows = [_comment(vid, n, m, found[0], parts, fmt) for m in range(reply_count(found[1], n))]
    else:
        start, size = 0, max(size, len(ids))
        for cid in ids:
            where = _parse_comment_id(cid)
            found = _find(where[0], req.round) if where else None
            if where is None or found is None or where[1] >= thread_count(found[1]):
                continue
            vid, n, m = where
            if m is None or m < reply_count(found[1], n):
                rows.append(_comment(vid, n, m, found[0], parts, fmt))
    body = _page("commentListResponse", rows, start, size, None)
    return json_resource(body)

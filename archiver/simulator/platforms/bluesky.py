"""Bluesky on the public AppView (``public.api.bsky.app``) and ``bsky.app`` post pages.

XRPC methods, answered in the lexicon shapes (``app.bsky.feed.defs``, ``app.bsky.embed.*``):

- ``com.atproto.identity.resolveHandle?handle=``;
- ``app.bsky.feed.getAuthorFeed?actor=&limit=(1..100, default 50)&cursor=&filter=&includePins=``
  (no ``cursor`` on the last page; a pinned post first on the first page when ``includePins``);
- ``app.bsky.feed.getPostThread?uri=&depth=(0..1000, default 6)&parentHeight=`` (nested
  ``threadViewPost`` replies down to ``depth``);
- ``app.bsky.feed.getPosts?uris=`` (1..25; a deleted post is simply absent from ``posts``);
- a post's page ``bsky.app/profile/HANDLE/post/RKEY``; HLS playlists on ``video.bsky.app``.

Errors as the XRPC server gives them: a bad parameter 400 ``{"error": "InvalidRequest",
"message": ...}``, a missing thread 400 ``NotFound``, an unknown method 501
``MethodNotImplemented``, any other path on the AppView a JSON 404.

Accounts: ``usgs.bsky.social`` (25 posts; every 6th with images, every 8th with a reply tree three
levels deep, post 5 quotes a post, 10 quotes with images, 15 has a video, 20 a link card, 22
quotes with a video; two reposts of ``noaa.bsky.social`` posts; post 1 pinned) and
``benchN.bsky.social`` (N plain posts). Bluesky posts cannot be edited: round 2 adds a post,
round 3 deletes post 22 and undoes one repost.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

APPVIEW = "public.api.bsky.app"
WEB = "bsky.app"
VIDEO = "video.bsky.app"
HOSTS = (APPVIEW, WEB, VIDEO)
CDN = "cdn.bsky.app"
USGS = "usgs.bsky.social"
PARTNER = "noaa.bsky.social"  # the account whose posts usgs reposts and quotes
_BENCH = re.compile(r"bench(\d{1,6})\.bsky\.social")

FEED_LIMIT = (1, 100, 50)  # getAuthorFeed limit: minimum, maximum, default
THREAD_DEPTH = (0, 1000, 6)
PARENT_HEIGHT = (0, 1000, 80)
GET_POSTS_MAX = 25
PIN_TYPE = "app.bsky.feed.defs#reasonPin"
PINNED = 1  # usgs's pinned post
REPOSTS = {3: 101, 13: 102}  # usgs reposts partner post 101 just after its post 3, 102 after 13
QUOTES = {5: 201, 10: 202, 22: 203}  # a usgs post quoting a partner post


def _count(handle: str) -> int | None:
    if handle == USGS:
        return 25
    if handle == PARTNER:
        return 0  # resolvable, posts only what usgs reposts and quotes
    match = _BENCH.fullmatch(handle)
    return int(match.group(1)) if match else None


def _did(handle: str) -> str:
    return "did:plc:" + handle.split(".")[0].ljust(24, "x")[:24]


def _handle_of(actor: str) -> str | None:
    if actor.startswith("did:plc:"):
        for handle in (USGS, PARTNER):
            if _did(handle) == actor:
                return handle
        name = actor.removeprefix("did:plc:").rstrip("x")
        return f"{name}.bsky.social" if _count(f"{name}.bsky.social") else None
    return actor if _count(actor) is not None else None


def _cid(seed: str) -> str:
    """A CID-shaped string (CIDv1, dag-cbor, sha-256, base32) that depends on ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def _rkey(i: int) -> str:
    return f"3l{i:011d}"


def _time(hours: float) -> str:
    return (EPOCH + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _live(handle: str, round_: int) -> list[int]:
    count = _count(handle) or 0
    usgs = handle == USGS
    total = count + (1 if usgs and round_ >= 2 else 0)
    gone = {count - 3} if usgs and round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _reposts(handle: str, round_: int) -> dict[int, int]:
    if handle != USGS:
        return {}
    return {after: p for after, p in REPOSTS.items() if not (round_ >= 3 and after == 13)}


def _author(handle: str) -> dict[str, Any]:
    """A ``profileViewBasic``."""
    return {
        "did": _did(handle),
        "handle": handle,
        "displayName": f"{handle.split('.')[0].upper()} (synthetic)",
        "avatar": f"https://{CDN}/img/avatar/plain/{_did(handle)}/avatar@jpeg",
        "associated": {"chat": {"allowIncoming": "following"}},
        "labels": [],
        "createdAt": "2024-11-01T00:00:00.000Z",
    }


def _blob(seed: str, mime: str, size: int) -> dict[str, Any]:
    return {"$type": "blob", "ref": {"$link": _cid(seed)}, "mimeType": mime, "size": size}


def _uri(handle: str, rkey: str, collection: str = "app.bsky.feed.post") -> str:
    return f"at://{_did(handle)}/{collection}/{rkey}"


def _partner_post(n: int) -> dict[str, Any]:
    """A post of the partner account (reposted or quoted by usgs), older than usgs's posts."""
    created = _time(-24 * n)
    return {
        "uri": _uri(PARTNER, _rkey(n)),
        "cid": _cid(f"{PARTNER}/{n}"),
        "author": _author(PARTNER),
        "record": {
            "$type": "app.bsky.feed.post",
            "text": f"NOAA forecast {n}: river flood outlook for the season.",
            "createdAt": created,
            "langs": ["en"],
        },
        "replyCount": 0,
        "repostCount": 1,
        "likeCount": 3,
        "quoteCount": 1,
        "indexedAt": created,
        "labels": [],
    }


def _view_record(view: dict[str, Any]) -> dict[str, Any]:
    """A post as ``app.bsky.embed.record#viewRecord`` (how a quote shows the quoted post)."""
    return {
        "$type": "app.bsky.embed.record#viewRecord",
        "uri": view["uri"],
        "cid": view["cid"],
        "author": view["author"],
        "value": view["record"],
        "labels": [],
        "likeCount": view["likeCount"],
        "replyCount": view["replyCount"],
        "repostCount": view["repostCount"],
        "quoteCount": view["quoteCount"],
        "indexedAt": view["indexedAt"],
        "embeds": [],
    }


def _images(did: str, i: int, count: int = 1) -> tuple[dict[str, Any], dict[str, Any]]:
    """An images embed: the record's ``app.bsky.embed.images`` and its ``#view``."""
    names = [f"image{i}" + (f"-{k}" if k else "") for k in range(count)]
    record = {
        "$type": "app.bsky.embed.images",
        "images": [
            {"alt": f"Chart {i}", "image": _blob(f"{did}/{name}", "image/jpeg", 48_000)}
            for name in names
        ],
    }
    view = {
        "$type": "app.bsky.embed.images#view",
        "images": [
            {
                "thumb": f"https://{CDN}/img/feed_thumbnail/plain/{did}/{name}@jpeg",
                "fullsize": f"https://{CDN}/img/feed_fullsize/plain/{did}/{name}@jpeg",
                "alt": f"Chart {i}",
                "aspectRatio": {"width": 1200, "height": 800},
            }
            for name in names
        ],
    }
    return record, view


def _video(did: str, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    cid = _cid(f"{did}/video{i}")
    record = {
        "$type": "app.bsky.embed.video",
        "video": _blob(f"{did}/video{i}", "video/mp4", 4_800_000),
        "alt": f"Flood gauge footage {i}",
        "aspectRatio": {"width": 1280, "height": 720},
    }
    view = {
        "$type": "app.bsky.embed.video#view",
        "cid": cid,
        "playlist": f"https://{VIDEO}/watch/{quote_did(did)}/{cid}/playlist.m3u8",
        "thumbnail": f"https://{VIDEO}/watch/{quote_did(did)}/{cid}/thumbnail.jpg",
        "alt": f"Flood gauge footage {i}",
        "aspectRatio": {"width": 1280, "height": 720},
    }
    return record, view


def quote_did(did: str) -> str:
    return did.replace(":", "%3A")


def _embed(handle: str, i: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The record embed and embed view of post ``i`` (None: a text-only post)."""
    did = _did(handle)
    usgs = handle == USGS
    if usgs and i in QUOTES:
        quoted = _partner_post(QUOTES[i])
        ref = {"uri": quoted["uri"], "cid": quoted["cid"]}
        record_view = {"$type": "app.bsky.embed.record#view", "record": _view_record(quoted)}
        if i == 5:
            return {"$type": "app.bsky.embed.record", "record": ref}, record_view
        media = _images(did, i, 2) if i == 10 else _video(did, i)
        return (
            {
                "$type": "app.bsky.embed.recordWithMedia",
                "record": {"$type": "app.bsky.embed.record", "record": ref},
                "media": media[0],
            },
            {
                "$type": "app.bsky.embed.recordWithMedia#view",
                "record": record_view,
                "media": media[1],
            },
        )
    if usgs and i == 15:
        return _video(did, i)
    if usgs and i == 20:
        link = "https://www.usgs.gov/programs/water-resources"
        thumb = f"https://{CDN}/img/feed_thumbnail/plain/{did}/card{i}@jpeg"
        return (
            {
                "$type": "app.bsky.embed.external",
                "external": {
                    "uri": link,
                    "title": "Water Resources Mission Area",
                    "description": "Water data for the nation.",
                    "thumb": _blob(f"{did}/card{i}", "image/jpeg", 20_000),
                },
            },
            {
                "$type": "app.bsky.embed.external#view",
                "external": {
                    "uri": link,
                    "title": "Water Resources Mission Area",
                    "description": "Water data for the nation.",
                    "thumb": thumb,
                },
            },
        )
    if i % 6 == 0:
        return _images(did, i)
    return None


def _post(handle: str, i: int) -> dict[str, Any]:
    """Post ``i`` of ``handle`` as an ``app.bsky.feed.defs#postView``."""
    if handle == PARTNER:
        return _partner_post(i)
    created = _time(2 * i)
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": f"Bluesky update {i}: groundwater levels and streamflow report.",
        "createdAt": created,
        "langs": ["en"],
    }
    post: dict[str, Any] = {
        "uri": _uri(handle, _rkey(i)),
        "cid": _cid(f"{handle}/{i}"),
        "author": _author(handle),
        "record": record,
        "replyCount": 2 if i % 8 == 0 else 0,
        "repostCount": i % 4,
        "likeCount": i % 9,
        "quoteCount": 0,
        "indexedAt": created,
        "labels": [],
    }
    embed = _embed(handle, i)
    if embed is not None:
        record["embed"], post["embed"] = embed
    return post


def _reply_view(
    parent: dict[str, Any], root: dict[str, Any], author: str, key: str, text: str, replies: int
) -> dict[str, Any]:
    did = _did(author)
    return {
        "uri": f"at://{did}/app.bsky.feed.post/3r{key}",
        "cid": _cid(f"{author}/{key}"),
        "author": _author(author),
        "record": {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": parent["record"]["createdAt"],
            "langs": ["en"],
            "reply": {
                "root": {"uri": root["uri"], "cid": root["cid"]},
                "parent": {"uri": parent["uri"], "cid": parent["cid"]},
            },
        },
        "replyCount": replies,
        "repostCount": 0,
        "likeCount": 0,
        "quoteCount": 0,
        "indexedAt": parent["indexedAt"],
        "labels": [],
    }


def _tree(handle: str, i: int) -> list[dict[str, Any]]:
    """The replies under post ``i``: nested ``threadViewPost`` nodes (before any depth cut).

    Two direct replies; the first is answered by another resident, and that answer once more:
    three levels in all."""
    root = _post(handle, i)
    out = []
    for n in range(root["replyCount"]):
        first = n == 0
        direct = _reply_view(
            root,
            root,
            f"resident{n}.bsky.social",
            f"{i:06d}{n}",
            f"Reply {n + 1} to update {i}: thank you for the data.",
            1 if first else 0,
        )
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": direct}
        node["replies"] = []
        if first:
            second = _reply_view(
                direct, root, "resident2.bsky.social", f"{i:06d}a", "Is the gauge online?", 1
            )
            third = _reply_view(
                second, root, "resident0.bsky.social", f"{i:06d}b", "Yes, since Monday.", 0
            )
            node["replies"] = [
                {
                    "$type": "app.bsky.feed.defs#threadViewPost",
                    "post": second,
                    "replies": [
                        {"$type": "app.bsky.feed.defs#threadViewPost", "post": third, "replies": []}
                    ],
                }
            ]
        out.append(node)
    return out


def _cut(nodes: list[dict[str, Any]], depth: int) -> list[dict[str, Any]]:
    """``nodes`` down to ``depth`` levels (a node at the last level has no ``replies``)."""
    if depth <= 0:
        return []
    out = []
    for node in nodes:
        node = dict(node)
        below = _cut(node.get("replies") or [], depth - 1)
        if depth > 1:
            node["replies"] = below
        else:
            node.pop("replies", None)
        out.append(node)
    return out


def _invalid(message: str, error: str = "InvalidRequest") -> Resource:
    return json_resource({"error": error, "message": message}, status=400)


def _int(req: ApiRequest, name: str, bounds: tuple[int, int, int]) -> int | Resource:
    """An integer parameter checked against its lexicon bounds, or the XRPC error for it."""
    low, high, default = bounds
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        return _invalid(f"{name} must be an integer")
    if value < low:
        return _invalid(f"{name} can not be less than {low}")
    if value > high:
        return _invalid(f"{name} can not be greater than {high}")
    return value


def _shown(embed: Any) -> set[str]:
    """What an embed view shows: ``images``, ``video``, ``external``, ``record``."""
    if not isinstance(embed, dict):
        return set()
    kind = str(embed.get("$type", "")).removeprefix("app.bsky.embed.").split("#")[0]
    if kind == "recordWithMedia":
        return {"record"} | _shown(embed.get("media"))
    return {kind}


def _feed(
    handle: str, round_: int, *, media_only: bool = False, video_only: bool = False
) -> list[tuple[int, dict[str, Any]]]:
    """The author feed newest first: (sort key, ``feedViewPost``); reposts sit by repost time."""
    entries: list[tuple[int, dict[str, Any]]] = []
    reposts = _reposts(handle, round_)
    for i in _live(handle, round_):
        if i in reposts and not (media_only or video_only):
            subject = _partner_post(reposts[i])
            at = _time(2 * i + 1)
            rkey = f"3p{reposts[i]:011d}"
            reason = {
                "$type": "app.bsky.feed.defs#reasonRepost",
                "by": _author(handle),
                "uri": _uri(handle, rkey, "app.bsky.feed.repost"),
                "cid": _cid(f"{handle}/repost/{rkey}"),
                "indexedAt": at,
            }
            entries.append((4 * i + 2, {"post": subject, "reason": reason}))
        post = _post(handle, i)
        shown = _shown(post.get("embed"))
        if (video_only and "video" not in shown) or (media_only and not shown - {"record"}):
            continue
        entries.append((4 * i, {"post": post}))
    entries.sort(key=lambda e: -e[0])
    return entries


def _author_feed(req: ApiRequest) -> Resource:
    actor = req.param("actor")
    if not actor:
        return _invalid('Params must have the property "actor"')
    handle = _handle_of(actor)
    if handle is None:
        return _invalid("Profile not found")
    limit = _int(req, "limit", FEED_LIMIT)
    if isinstance(limit, Resource):
        return limit
    which = req.param("filter") or "posts_with_replies"
    entries = _feed(
        handle,
        req.round,
        media_only=which == "posts_with_media",
        video_only=which == "posts_with_video",
    )
    cursor = req.param("cursor")
    if cursor:
        try:
            before = int(cursor)
        except ValueError:
            return _invalid("Malformed cursor")
        entries = [e for e in entries if e[0] < before]
    chosen = entries[:limit]
    feed = [entry for _, entry in chosen]
    pins = (req.param("includePins") or "false").lower() == "true"
    if pins and not cursor and handle == USGS and PINNED in _live(handle, req.round):
        feed.insert(0, {"post": _post(handle, PINNED), "reason": {"$type": PIN_TYPE}})
    page: dict[str, Any] = {"feed": feed}
    if len(entries) > limit and chosen:
        page["cursor"] = str(chosen[-1][0])
    return json_resource(page)


_POST_URI = re.compile(r"at://([^/]+)/app\.bsky\.feed\.post/(\w+)")


def _find(uri: str, round_: int) -> dict[str, Any] | None:
    """The live post (or reply in a thread) at ``uri``."""
    match = _POST_URI.fullmatch(uri)
    if match is None:
        return None
    handle = _handle_of(match.group(1))
    rkey = match.group(2)
    if handle == PARTNER:
        n = int(rkey[2:]) if rkey.startswith("3l") and rkey[2:].isdigit() else -1
        return _partner_post(n) if n in (*REPOSTS.values(), *QUOTES.values()) else None
    if handle is None:
        return None
    live = {_rkey(i): i for i in _live(handle, round_)}
    return _post(handle, live[rkey]) if rkey in live else None


def _thread(req: ApiRequest) -> Resource:
    uri = unquote(req.param("uri") or "")
    if not uri:
        return _invalid('Params must have the property "uri"')
    depth = _int(req, "depth", THREAD_DEPTH)
    if isinstance(depth, Resource):
        return depth
    height = _int(req, "parentHeight", PARENT_HEIGHT)
    if isinstance(height, Resource):
        return height
    post = _find(uri, req.round)
    if post is None:
        return _invalid(f"Post not found: {uri}", "NotFound")
    handle = _handle_of(post["author"]["did"]) or ""
    replies = _tree(handle, int(post["uri"].rsplit("/", 1)[1][2:])) if handle != PARTNER else []
    thread = {
        "$type": "app.bsky.feed.defs#threadViewPost",
        "post": post,
        "replies": _cut(replies, depth),
    }
    return json_resource({"thread": thread})


def _get_posts(req: ApiRequest) -> Resource:
    uris = [unquote(u) for u in parse_qs(req.query, keep_blank_values=True).get("uris", [])]
    if not uris:
        return _invalid('Params must have the property "uris"')
    if len(uris) > GET_POSTS_MAX:
        return _invalid(f"uris must not have more than {GET_POSTS_MAX} elements")
    found = [p for p in (_find(u, req.round) for u in uris) if p is not None]
    return json_resource({"posts": found})


def _web(req: ApiRequest) -> Resource | None:
    match = re.fullmatch(r"/profile/([\w.-]+)/post/(\w+)", req.path)
    if not match:
        return None
    handle, rkey = match.groups()
    post = _find(_uri(handle, rkey), req.round)
    if post is None:
        return Resource(b"<!DOCTYPE html><title>Post not found</title>", HTML, EPOCH, 404)
    text = post["record"]["text"]
    return Resource(f"<!DOCTYPE html><title>{handle}</title><p>{text}</p>".encode(), HTML, EPOCH)


def _playlist(req: ApiRequest) -> Resource | None:
    if not req.path.endswith("/playlist.m3u8"):
        return None  # thumbnails: the static world's placeholder image
    body = (
        b"#EXTM3U\n#EXT-X-VERSION:3\n"
        b"#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\n720p/video.m3u8\n"
    )
    return Resource(body, "application/vnd.apple.mpegurl", EPOCH)


def _resolve(req: ApiRequest) -> Resource:
    handle = req.param("handle") or ""
    if not handle:
        return _invalid('Params must have the property "handle"')
    if _count(handle) is None:
        return _invalid("Unable to resolve handle")
    return json_resource({"did": _did(handle)})


METHODS = {
    "com.atproto.identity.resolveHandle": _resolve,
    "app.bsky.feed.getAuthorFeed": _author_feed,
    "app.bsky.feed.getPostThread": _thread,
    "app.bsky.feed.getPosts": _get_posts,
}


def answer(req: ApiRequest) -> Resource | None:
    """The AppView's (or the web app's, or the video host's) answer to ``req``."""
    if req.host == WEB:
        return _web(req)
    if req.host == VIDEO:
        return _playlist(req)
    if not req.path.startswith("/xrpc/"):
        return json_resource({"error": "NotFound", "message": "Not Found"}, status=404)
    handler = METHODS.get(req.path.removeprefix("/xrpc/"))
    if handler is None:
        return json_resource(
            {"error": "MethodNotImplemented", "message": "Method Not Implemented"}, status=501
        )
    return handler(req)

"""Facebook and Instagram Graph API on ``graph.facebook.com``, and their permalinks.

Every call is ``/{version}/...`` with a version of :data:`VERSIONS` (any other, the expired
``v19.0`` included, answers 400 ``OAuthException`` code 2500) and needs ``access_token=``
:data:`TOKEN` (a wrong one answers 400 ``OAuthException`` code 190).

Objects and edges, as the real API serves them:

- ``/{page}`` (id or username ``USGeologicalSurvey``), ``/{page-id}/posts`` and ``/feed``;
- ``/{post-id}/comments`` (top-level comments; ``filter=stream``: every comment and reply, each
  reply with ``parent``), ``/{comment-id}/comments`` (its replies);
- ``/{ig-user-id}``, ``/{ig-user-id}/media``, ``/{ig-media-id}/children`` (a carousel's),
  ``/{ig-media-id}/comments`` (with nested ``replies``), ``/{ig-comment-id}/replies``;
- ``/{any-id}`` for every post, media, child and comment.

``fields=`` is honoured: only the fields asked are returned (``id`` always), nested selections
(``from{id,name}``, ``attachments{media,subattachments}``, ``children{media_url}``,
``replies{text}``) included, modifiers (``.limit(0)``, ``.summary(true)``) ignored; without it,
each node's default fields. A field the node type does not have answers 400 code 100 "Tried
accessing nonexisting field". Edges page with ``limit`` (default 25, more than 100 answers 400
code 100) and opaque ``after``/``before`` cursors; ``paging.next`` repeats the query, access token
included, and is absent on the last page. An unknown object answers 400 ``GraphMethodException``
code 100 subcode 33 "does not exist"; an unknown edge or path, 400 code 100 or 2500 — always
JSON, never an HTML page.

Page ``USGeologicalSurvey`` (30 posts, each ``from`` the page; every 5th with a photo, every
10th an album of two photos, every 7th from the 3rd on (not a photo) a video; every 6th with two
comments and a reply to the first) and IG user 17841400000000001 (``usgs_synthetic``, 20 media;
every 4th from the 1st a carousel of two images and a video, every 7th from the 5th on
otherwise a video; every 6th with two comments and a reply to the first). Round 2 edits one post
of each and adds one; round 3 deletes one of each (its permalink answers 404, its id code 100).
"""

from __future__ import annotations

import base64
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

HOSTS = ("graph.facebook.com", "www.facebook.com", "www.instagram.com")
TOKEN = "sim-graph-token"
PAGE, PAGE_NAME, IG_USER = "100000000000001", "USGeologicalSurvey", "17841400000000001"
PAGE_TITLE, IG_USERNAME = "U.S. Geological Survey (synthetic)", "usgs_synthetic"
VERSIONS = ("v21.0", "v22.0", "v23.0", "v24.0")
GRAPH = "https://graph.facebook.com"
MAX_LIMIT, DEFAULT_LIMIT = 100, 25
FB_CDN, IG_CDN = "https://scontent.xx.fbcdn.net/v", "https://scontent.cdninstagram.com/v"

# Fields each node type has (documented ones; those without a value here are simply omitted,
# as the real API omits empty fields) and the ones it answers without ``fields=``.
FIELDS: dict[str, tuple[str, ...]] = {
    "Page": ("id", "name", "username", "about", "category", "fan_count", "link", "picture"),
    "User": (
        "id",
        "name",
        "username",
        "biography",
        "followers_count",
        "media_count",
        "profile_picture_url",
        "website",
    ),
    "Post": (
        "id",
        "message",
        "story",
        "created_time",
        "updated_time",
        "permalink_url",
        "from",
        "attachments",
        "full_picture",
        "picture",
        "status_type",
        "icon",
        "message_tags",
        "shares",
        "is_published",
        "comments",
        "reactions",
        "likes",
    ),
    "StoryAttachment": (
        "media_type",
        "media",
        "url",
        "unshimmed_url",
        "type",
        "title",
        "description",
        "description_tags",
        "target",
        "subattachments",
    ),
    "Comment": (
        "id",
        "message",
        "created_time",
        "from",
        "parent",
        "comment_count",
        "like_count",
        "permalink_url",
        "attachment",
        "comments",
        "is_hidden",
        "user_likes",
    ),
    "IGMedia": (
        "id",
        "caption",
        "media_type",
        "media_url",
        "thumbnail_url",
        "permalink",
        "timestamp",
        "username",
        "comments_count",
        "like_count",
        "children",
        "shortcode",
        "media_product_type",
        "is_comment_enabled",
        "owner",
        "comments",
    ),
    "IGComment": (
        "id",
        "text",
        "timestamp",
        "username",
        "like_count",
        "replies",
        "parent_id",
        "hidden",
        "from",
        "media",
        "user",
    ),
}
DEFAULTS: dict[str, tuple[str, ...]] = {
    "Page": ("id", "name"),
    "User": ("id",),
    "Post": ("id", "message", "created_time"),
    "StoryAttachment": ("media_type", "media", "url", "type", "title", "target"),
    "Comment": ("id", "message", "created_time", "from"),
    "IGMedia": ("id",),
    "IGComment": ("id", "text", "timestamp"),
}
NESTED = {  # the node type of a nested field's objects
    ("Post", "attachments"): "StoryAttachment",
    ("StoryAttachment", "subattachments"): "StoryAttachment",
    ("IGMedia", "children"): "IGMedia",
    ("IGComment", "replies"): "IGComment",
}


def _counts(owner: str) -> int | None:
    return {PAGE: 30, IG_USER: 20}.get(owner)


def _live(owner: str, round_: int) -> list[int]:
    count = _counts(owner) or 0
    total = count + (1 if round_ >= 2 else 0)
    gone = {count - 4} if round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _oid(owner: str, i: int) -> str:
    return f"{owner}_{i:06d}" if owner == PAGE else f"179{i:014d}"


def _when(i: int, edited: bool = False, minutes: int = 0) -> str:
    moment = EPOCH + timedelta(hours=5 * i + (30 if edited else 0), minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _photo(name: str) -> dict[str, Any]:
    src = f"{FB_CDN}/{name}.jpg"
    link = f"https://www.facebook.com/{PAGE_NAME}/photos/{name}/"
    return {
        "media_type": "photo",
        "type": "photo",
        "media": {"image": {"src": src, "height": 720, "width": 720}},
        "target": {"id": name, "url": link},
        "url": link,
        "unshimmed_url": link,
    }


def _fb_post(i: int, round_: int) -> dict[str, Any]:
    edited = i == (_counts(PAGE) or 0) - 2 and round_ >= 2
    oid = _oid(PAGE, i)
    text = f"Field update {i}: " + ("corrected " if edited else "") + "landslide and flood maps."
    post: dict[str, Any] = {
        "id": oid,
        "message": text,
        "created_time": _when(i),
        "updated_time": _when(i, edited),
        "permalink_url": f"https://www.facebook.com/{PAGE_NAME}/posts/{oid.split('_')[1]}",
        "from": {"id": PAGE, "name": PAGE_TITLE},
        "status_type": "mobile_status_update",
        "is_published": True,
    }
    if i % 10 == 0:
        photos = [_photo(f"{oid}_p{k}") for k in range(2)]
        album = {
            **photos[0],
            "media_type": "album",
            "type": "album",
            "title": f"Survey photos {i}",
            "subattachments": {"data": photos},
        }
        post.update(status_type="added_photos", attachments={"data": [album]})
        post["full_picture"] = photos[0]["media"]["image"]["src"]
    elif i % 5 == 0:
        photo = _photo(f"{oid}_p0")
        post.update(status_type="added_photos", attachments={"data": [photo]})
        post["full_picture"] = photo["media"]["image"]["src"]
    elif i % 7 == 3:
        thumb = f"{FB_CDN}/{oid}_thumb.jpg"
        video = {
            "media_type": "video",
            "type": "video_inline",
            "media": {
                "image": {"src": thumb, "height": 720, "width": 1280},
                "source": f"https://video.xx.fbcdn.net/v/{oid}.mp4",
            },
            "url": f"https://www.facebook.com/{PAGE_NAME}/videos/{oid.split('_')[1]}/",
        }
        post.update(status_type="added_video", attachments={"data": [video]}, full_picture=thumb)
    return post


def _ig_child(i: int, k: int) -> dict[str, Any]:
    cid = f"178{i:012d}{k:02d}"
    child: dict[str, Any] = {"id": cid, "timestamp": _when(i), "username": IG_USERNAME}
    if k == 2:
        child.update(
            media_type="VIDEO",
            media_url=f"https://video.cdninstagram.com/v/{cid}.mp4",
            thumbnail_url=f"{IG_CDN}/{cid}_cover.jpg",
        )
    else:
        child.update(media_type="IMAGE", media_url=f"{IG_CDN}/{cid}.jpg")
    child["permalink"] = f"https://www.instagram.com/p/SIMC{cid[-6:]}/"
    return child


def _ig_media(i: int, round_: int) -> dict[str, Any]:
    edited = i == (_counts(IG_USER) or 0) - 2 and round_ >= 2
    oid = _oid(IG_USER, i)
    text = f"Field update {i}: " + ("corrected " if edited else "") + "landslide and flood maps."
    media: dict[str, Any] = {
        "id": oid,
        "caption": text,
        "media_type": "IMAGE",
        "media_url": f"{IG_CDN}/{oid}.jpg",
        "permalink": f"https://www.instagram.com/p/SIM{i:05d}/",
        "shortcode": f"SIM{i:05d}",
        "timestamp": _when(i),
        "username": IG_USERNAME,
        "comments_count": 3 if i % 6 == 0 else 0,
        "like_count": i,
        "media_product_type": "FEED",
    }
    if i % 4 == 1:
        children = [_ig_child(i, k) for k in range(3)]
        media.update(
            media_type="CAROUSEL_ALBUM",
            media_url=children[0]["media_url"],
            children={"data": children},
        )
    elif i % 7 == 5:
        media.update(
            media_type="VIDEO",
            media_url=f"https://video.cdninstagram.com/v/{oid}.mp4",
            thumbnail_url=f"{IG_CDN}/{oid}_cover.jpg",
            media_product_type="REELS",
        )
    return media


def _item(owner: str, i: int, round_: int) -> dict[str, Any]:
    return _fb_post(i, round_) if owner == PAGE else _ig_media(i, round_)


def _fb_comments(i: int) -> list[dict[str, Any]]:
    """Every comment on post ``i`` in chronological order: two, and a reply to the first."""
    if i % 6:
        return []
    obj = f"{i:06d}"
    post_link = f"https://www.facebook.com/{PAGE_NAME}/posts/{obj}"
    out = []
    for n, reply_to in ((0, None), (1, None), (2, 0)):
        cid = f"{obj}_{9000 + n}"
        link = f"{post_link}?comment_id={9000 + (reply_to if reply_to is not None else n)}"
        comment: dict[str, Any] = {
            "id": cid,
            "message": f"Comment {n + 1} on update {i}",
            "created_time": _when(i, minutes=10 * (n + 1)),
            "from": {"id": f"55{n}", "name": f"Resident {n}"},
            "comment_count": 1 if n == 0 else 0,
            "like_count": n,
            "permalink_url": link
            + (f"&reply_comment_id={9000 + n}" if reply_to is not None else ""),
        }
        if reply_to is not None:
            comment["parent"] = {"id": f"{obj}_{9000 + reply_to}"}
        out.append(comment)
    return out


def _ig_comments(i: int) -> list[dict[str, Any]]:
    """Top-level comments on media ``i``, each with its ``replies`` edge (newest first)."""
    if i % 6:
        return []
    made = []
    for n in range(2):
        cid = f"180{i:012d}{n:02d}"
        replies = (
            [
                {
                    "id": f"181{i:012d}{n:02d}",
                    "text": f"Reply to comment {n + 1} on update {i}",
                    "timestamp": _when(i, minutes=30),
                    "username": IG_USERNAME,
                    "like_count": 0,
                    "parent_id": cid,
                }
            ]
            if n == 0
            else []
        )
        made.append(
            {
                "id": cid,
                "text": f"Comment {n + 1} on update {i}",
                "timestamp": _when(i, minutes=10 * (n + 1)),
                "username": f"resident{n}",
                "like_count": n,
                "replies": {"data": replies},
            }
        )
    return list(reversed(made))


def _node(oid: str, round_: int) -> tuple[str, dict[str, Any]] | None:
    """The node type and full object of ``oid``, when it exists in this round."""
    if oid in (PAGE, PAGE_NAME):
        return "Page", {"id": PAGE, "name": PAGE_TITLE, "username": PAGE_NAME, "fan_count": 1200}
    if oid == IG_USER:
        return "User", {
            "id": IG_USER,
            "name": PAGE_TITLE,
            "username": IG_USERNAME,
            "media_count": len(_live(IG_USER, round_)),
        }
    for i in _live(PAGE, round_):
        if oid == _oid(PAGE, i):
            return "Post", _fb_post(i, round_)
        for c in _fb_comments(i):
            if oid == c["id"]:
                return "Comment", c
    for i in _live(IG_USER, round_):
        media = _ig_media(i, round_)
        if oid == media["id"]:
            return "IGMedia", media
        for child in (media.get("children") or {}).get("data", []):
            if oid == child["id"]:
                return "IGMedia", child
        for c in _ig_comments(i):
            if oid == c["id"]:
                return "IGComment", c
            for r in c["replies"]["data"]:
                if oid == r["id"]:
                    return "IGComment", r
    return None


def parse_fields(spec: str) -> list[tuple[str, str | None]]:
    """``a,b{c,d{e}},f.limit(0)`` as ``[(a, None), (b, "c,d{e}"), (f, None)]``: each field's
    name (modifiers dropped) and its nested selection."""
    out: list[tuple[str, str | None]] = []
    depth, start = 0, 0
    for pos, char in enumerate(spec + ","):
        if char in "{(":
            depth += 1
        elif char in "})":
            depth -= 1
        elif char == "," and depth == 0:
            part = spec[start:pos].strip()
            start = pos + 1
            if not part:
                continue
            brace = part.find("{")
            name, sub = (part, None) if brace < 0 else (part[:brace], part[brace + 1 : -1])
            out.append((name.split(".", 1)[0].strip(), sub))
    return out


class FieldError(Exception):
    def __init__(self, name: str, node: str) -> None:
        super().__init__(f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})")


def project(obj: dict[str, Any], node: str, spec: str | None) -> dict[str, Any]:
    """``obj`` with only the fields ``spec`` selects (its node type's defaults when None)."""
    wanted = parse_fields(spec) if spec else [(f, None) for f in DEFAULTS[node]]
    out: dict[str, Any] = {}
    for name, sub in wanted:
        if name not in FIELDS[node]:
            raise FieldError(name, node)
        if name not in obj:
            continue
        value = obj[name]
        inner = NESTED.get((node, name))
        if inner and isinstance(value, dict) and isinstance(value.get("data"), list):
            value = {"data": [project(v, inner, sub) for v in value["data"]]}
        elif sub and isinstance(value, dict):  # a plain object: from{id,name}, parent{id}
            value = {k: value[k] for k, _ in parse_fields(sub) if k in value}
        out[name] = value
    if "id" in obj and "id" in FIELDS[node]:
        out = {"id": obj["id"], **out}
    return out


def _error(
    code: int,
    message: str,
    kind: str = "GraphMethodException",
    *,
    subcode: int | None = None,
    status: int = 400,
) -> Resource:
    err: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "SimTrace0000"
    return json_resource({"error": err}, status=status)


def _missing(oid: str) -> Resource:
    return _error(
        100,
        f"Unsupported get request. Object with ID '{oid}' does not exist, cannot be loaded due "
        "to missing permissions, or does not support this operation. Please read the Graph API "
        "documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
    )


def _cursor(n: int) -> str:
    return base64.b64encode(f"sim-offset:{n}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int | None:
    if not cursor:
        return 0
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("sim-offset:"))
    except ValueError:
        return None


def _page(req: ApiRequest, rows: list[dict[str, Any]], node: str, path: str) -> Resource:
    raw = req.param("limit")
    try:
        limit = DEFAULT_LIMIT if raw is None else int(raw)
    except ValueError:
        return _error(100, "(#100) Param limit must be an integer", "OAuthException")
    if limit > MAX_LIMIT:
        return _error(
            100, f"(#100) The limit parameter should not exceed {MAX_LIMIT}", "OAuthException"
        )
    limit = max(limit, 1)
    start = _offset(req.param("after"))
    if start is None:
        return _error(100, "(#100) The after cursor is invalid", "OAuthException")
    try:
        chosen = [project(r, node, req.param("fields")) for r in rows[start : start + limit]]
    except FieldError as exc:
        return _error(100, str(exc), "OAuthException")
    body: dict[str, Any] = {"data": chosen}
    if chosen:
        paging: dict[str, Any] = {
            "cursors": {"before": _cursor(start), "after": _cursor(start + len(chosen))}
        }
        if start + len(chosen) < len(rows):
            # as the real API does, the next link repeats the query, access token included
            query = [(k, v) for k, v in parse_qsl(req.query, keep_blank_values=True)]
            query = [(k, v) for k, v in query if k != "after"]
            query.append(("after", _cursor(start + len(chosen))))
            paging["next"] = f"{GRAPH}{path}?{urlencode(query)}"
        body["paging"] = paging
    return json_resource(body)


def _edge(req: ApiRequest, version: str, obj: str, edge: str) -> Resource:
    found = _node(obj, req.round)
    if found is None:
        return _missing(obj)
    node, item = found
    oid = str(item["id"])
    path = f"/{version}/{oid}/{edge}"
    if node == "Page" and edge in ("posts", "feed", "published_posts"):
        return _page(req, [_fb_post(i, req.round) for i in _live(PAGE, req.round)], "Post", path)
    if node == "User" and edge == "media":
        rows = [_ig_media(i, req.round) for i in _live(IG_USER, req.round)]
        return _page(req, rows, "IGMedia", path)
    if node == "IGMedia" and edge == "children":
        return _page(req, (item.get("children") or {}).get("data", []), "IGMedia", path)
    if node == "IGMedia" and edge == "comments":
        rows = _ig_comments(int(oid[3:])) if oid.startswith("179") else []
        return _page(req, rows, "IGComment", path)
    if node == "IGComment" and edge == "replies":
        return _page(req, (item.get("replies") or {}).get("data", []), "IGComment", path)
    if node == "Post" and edge == "comments":
        every = _fb_comments(int(oid.split("_")[1]))
        stream = req.param("filter") == "stream"
        rows = every if stream else [c for c in every if "parent" not in c]
        if req.param("order") == "reverse_chronological":
            rows = list(reversed(rows))
        return _page(req, rows, "Comment", path)
    if node == "Comment" and edge == "comments":
        obj_part = oid.split("_")[0]
        rows = [c for c in _fb_comments(int(obj_part)) if (c.get("parent") or {}).get("id") == oid]
        return _page(req, rows, "Comment", path)
    return _error(
        100,
        f"(#100) Tried accessing nonexisting field ({edge}) on node type ({node})",
        "OAuthException",
    )


def answer(req: ApiRequest) -> Resource | None:
    """The Graph API's (or a permalink's) answer to ``req``."""
    if req.host in ("www.facebook.com", "www.instagram.com"):
        return _permalink(req)
    match = re.fullmatch(r"/(v\d+\.\d+)/([\w.]+)(?:/(\w+))?/?", req.path)
    if not match or match.group(1) not in VERSIONS:
        version = match.group(1) if match else None
        hint = f" (version {version} is not available: {', '.join(VERSIONS)})" if version else ""
        return _error(2500, f"Unknown path components: {req.path}{hint}", "OAuthException")
    if req.param("access_token") != TOKEN:
        return _error(
            190, "Invalid OAuth access token - Cannot parse access token", "OAuthException"
        )
    version, obj, edge = match.groups()
    if edge is not None:
        return _edge(req, version, obj, edge)
    found = _node(obj, req.round)
    if found is None:
        return _missing(obj)
    node, item = found
    try:
        return json_resource(project(item, node, req.param("fields")))
    except FieldError as exc:
        return _error(100, str(exc), "OAuthException")


def _permalink(req: ApiRequest) -> Resource | None:
    for owner in (PAGE, IG_USER):
        for i in _live(owner, req.round):
            item = _item(owner, i, req.round)
            link = item.get("permalink_url") or item.get("permalink")
            if link and link.split("://", 1)[1].rstrip("/") == f"{req.host}{req.path}".rstrip("/"):
                text = item.get("message") or item.get("caption")
                return Resource(f"<!DOCTYPE html><p>{text}</p>".encode(), HTML, EPOCH)
    if re.fullmatch(r"/(\w+/posts/\d+|p/\w+)/?", req.path):
        return Resource(b"<!DOCTYPE html><title>Content not found</title>", HTML, EPOCH, 404)
    return None

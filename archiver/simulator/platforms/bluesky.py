"""Bluesky on the public AppView (``public.api.bsky.app``) and ``bsky.app`` post pages.

XRPC: ``com.atproto.identity.resolveHandle?handle=``,
``app.bsky.feed.getAuthorFeed?actor=&limit=(≤100)&cursor=`` (no ``cursor`` on the last page),
``app.bsky.feed.getPostThread?uri=``; a post's page ``bsky.app/profile/HANDLE/post/RKEY``.
Errors as the AppView gives them: 400
``{"error": "InvalidRequest", "message": ...}``, a deleted post's thread 400 ``NotFound``.

Accounts: ``usgs.bsky.social`` (25 posts; every 6th with an image, every 8th with two replies) and
``benchN.bsky.social``. Bluesky posts cannot be edited: round 2 adds a post, round 3 deletes one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

APPVIEW = "public.api.bsky.app"
WEB = "bsky.app"
HOSTS = (APPVIEW, WEB)
CDN = "cdn.bsky.app"
_BENCH = re.compile(r"bench(\d{1,6})\.bsky\.social")


def _count(handle: str) -> int | None:
    if handle == "usgs.bsky.social":
        return 25
    match = _BENCH.fullmatch(handle)
    return int(match.group(1)) if match else None


def _did(handle: str) -> str:
    return "did:plc:" + handle.split(".")[0].ljust(24, "x")[:24]


def _handle_of(actor: str) -> str | None:
    if actor.startswith("did:plc:"):
        for handle in ("usgs.bsky.social",):
            if _did(handle) == actor:
                return handle
        name = actor.removeprefix("did:plc:").rstrip("x")
        return f"{name}.bsky.social" if _count(f"{name}.bsky.social") else None
    return actor if _count(actor) else None


def _rkey(i: int) -> str:
    return f"3l{i:011d}"


def _live(handle: str, round_: int) -> list[int]:
    count = _count(handle) or 0
    usgs = handle == "usgs.bsky.social"
    total = count + (1 if usgs and round_ >= 2 else 0)
    gone = {count - 3} if usgs and round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _author(handle: str) -> dict[str, Any]:
    return {
        "did": _did(handle),
        "handle": handle,
        "displayName": f"{handle.split('.')[0].upper()} (synthetic)",
        "avatar": f"https://{CDN}/img/avatar/plain/{_did(handle)}/avatar@jpeg",
    }


def _post(handle: str, i: int) -> dict[str, Any]:
    did = _did(handle)
    created = (EPOCH + timedelta(hours=2 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    post: dict[str, Any] = {
        "uri": f"at://{did}/app.bsky.feed.post/{_rkey(i)}",
        "cid": f"bafyreib{i:052d}"[:59],
        "author": _author(handle),
        "record": {
            "$type": "app.bsky.feed.post",
            "text": f"Bluesky update {i}: groundwater levels and streamflow report.",
            "createdAt": created,
            "langs": ["en"],
        },
        "replyCount": 2 if i % 8 == 0 else 0,
        "repostCount": i % 4,
        "likeCount": i % 9,
        "indexedAt": created,
    }
    if i % 6 == 0:
        image = f"https://{CDN}/img/feed_fullsize/plain/{did}/image{i}@jpeg"
        post["embed"] = {
            "$type": "app.bsky.embed.images#view",
            "images": [
                {
                    "thumb": f"https://{CDN}/img/feed_thumbnail/plain/{did}/image{i}@jpeg",
                    "fullsize": image,
                    "alt": f"Chart {i}",
                }
            ],
        }
    return post


def _replies(handle: str, i: int) -> list[dict[str, Any]]:
    parent = _post(handle, i)
    out = []
    for n in range(parent["replyCount"]):
        did = f"did:plc:resident{n}xxxxxxxxxxxxxxx"
        out.append(
            {
                "$type": "app.bsky.feed.defs#threadViewPost",
                "post": {
                    "uri": f"at://{did}/app.bsky.feed.post/3r{i:06d}{n}",
                    "cid": f"bafyreir{i:06d}{n}",
                    "author": {"did": did, "handle": f"resident{n}.bsky.social"},
                    "record": {
                        "$type": "app.bsky.feed.post",
                        "text": f"Reply {n + 1} to update {i}: thank you for the data.",
                        "createdAt": parent["record"]["createdAt"],
                        "reply": {
                            "root": {"uri": parent["uri"], "cid": parent["cid"]},
                            "parent": {"uri": parent["uri"], "cid": parent["cid"]},
                        },
                    },
                    "replyCount": 0,
                    "indexedAt": parent["indexedAt"],
                },
                "replies": [],
            }
        )
    return out


def _bad(message: str, error: str = "InvalidRequest") -> Resource:
    return json_resource({"error": error, "message": message}, status=400)


def answer(req: ApiRequest) -> Resource | None:
    """The AppView's (or the web app's) answer to ``req``."""
    if req.host == WEB:
        match = re.fullmatch(r"/profile/([\w.-]+)/post/(\w+)", req.path)
        if not match:
            return None
        handle, rkey = match.groups()
        live = {_rkey(i): i for i in _live(handle, req.round)}
        if rkey not in live:
            return Resource(b"<!DOCTYPE html><title>Post not found</title>", HTML, EPOCH, 404)
        text = _post(handle, live[rkey])["record"]["text"]
        return Resource(
            f"<!DOCTYPE html><title>{handle}</title><p>{text}</p>".encode(), HTML, EPOCH
        )
    method = req.path.removeprefix("/xrpc/")
    if method == "com.atproto.identity.resolveHandle":
        handle = req.param("handle") or ""
        if not _count(handle):
            return _bad("Unable to resolve handle")
        return json_resource({"did": _did(handle)})
    if method == "app.bsky.feed.getAuthorFeed":
        handle = _handle_of(req.param("actor") or "")
        if handle is None:
            return _bad("Profile not found")
        limit = req.int_param("limit", 50, low=1, high=100)
        order = _live(handle, req.round)
        cursor = req.param("cursor")
        start = 0
        if cursor:
            try:
                start = order.index(int(cursor.removeprefix("c"))) + 1
            except ValueError:
                return _bad("Malformed cursor")
        chosen = order[start : start + limit]
        page: dict[str, Any] = {"feed": [{"post": _post(handle, i)} for i in chosen]}
        if start + limit < len(order) and chosen:
            page["cursor"] = f"c{chosen[-1]}"
        return json_resource(page)
    if method == "app.bsky.feed.getPostThread":
        match = re.fullmatch(
            r"at://([^/]+)/app\.bsky\.feed\.post/(\w+)", unquote(req.param("uri") or "")
        )
        handle = _handle_of(match.group(1)) if match else None
        if match is None or handle is None:
            return _bad("Post not found", "NotFound")
        live = {_rkey(i): i for i in _live(handle, req.round)}
        if match.group(2) not in live:
            return _bad(f"Post not found: {req.param('uri')}", "NotFound")
        i = live[match.group(2)]
        thread = {
            "$type": "app.bsky.feed.defs#threadViewPost",
            "post": _post(handle, i),
            "replies": _replies(handle, i),
        }
        return json_resource({"thread": thread})
    if req.host == APPVIEW and req.path.startswith("/xrpc/"):
        return _bad(f"Method not implemented: {method}", "MethodNotImplemented")
    return None

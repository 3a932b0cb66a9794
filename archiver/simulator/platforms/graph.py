"""Facebook and Instagram Graph API v19.0 on ``graph.facebook.com``, and their permalinks.

Every call needs ``access_token=`` :data:`TOKEN`; a wrong one answers 400 OAuthException code 190.
Facebook: ``/v19.0/{page}`` (id or username),
``/v19.0/{page-id}/posts?fields=&limit=(≤100)&after=`` (``paging.cursors`` and ``paging.next``, no
``next`` on the last page), ``/v19.0/{post-id}/comments``.
Instagram: ``/v19.0/{ig-user-id}/media``, ``/v19.0/{media-id}/comments``. An unknown object answers
400 code 100 ``Unsupported get request``.

Page ``USGeologicalSurvey`` (30 posts; every 6th with two comments, every 5th with a picture) and
IG user 17841400000000001 (20 media). Round 2 edits one post of each and adds one; round 3 deletes
one of each (its permalink answers 404).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

HOSTS = ("graph.facebook.com", "www.facebook.com", "www.instagram.com")
TOKEN = "sim-graph-token"
PAGE, PAGE_NAME, IG_USER = "100000000000001", "USGeologicalSurvey", "17841400000000001"
GRAPH = "https://graph.facebook.com/v19.0"


def _counts(owner: str) -> int | None:
    return {PAGE: 30, IG_USER: 20}.get(owner)


def _live(owner: str, round_: int) -> list[int]:
    count = _counts(owner) or 0
    total = count + (1 if round_ >= 2 else 0)
    gone = {count - 4} if round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _oid(owner: str, i: int) -> str:
    return f"{owner}_{i:06d}" if owner == PAGE else f"179{i:014d}"


def _when(i: int, edited: bool = False) -> str:
    return (EPOCH + timedelta(hours=5 * i + (30 if edited else 0))).strftime(
        "%Y-%m-%dT%H:%M:%S+0000"
    )


def _item(owner: str, i: int, round_: int) -> dict[str, Any]:
    edited = i == (_counts(owner) or 0) - 2 and round_ >= 2
    oid = _oid(owner, i)
    text = f"Field update {i}: " + ("corrected " if edited else "") + "landslide and flood maps."
    if owner == PAGE:
        post: dict[str, Any] = {
            "id": oid,
            "message": text,
            "created_time": _when(i),
            "updated_time": _when(i, edited),
            "permalink_url": f"https://www.facebook.com/{PAGE_NAME}/posts/{oid.split('_')[1]}",
        }
        if i % 5 == 0:
            post["full_picture"] = f"https://scontent.xx.fbcdn.net/v/{oid}.jpg"
        return post
    return {
        "id": oid,
        "caption": text,
        "media_type": "IMAGE",
        "media_url": f"https://scontent.cdninstagram.com/v/{oid}.jpg",
        "permalink": f"https://www.instagram.com/p/SIM{i:05d}/",
        "timestamp": _when(i),
        "comments_count": 2 if i % 6 == 0 else 0,
    }


def _find(oid: str, round_: int) -> tuple[str, int] | None:
    for owner in (PAGE, IG_USER):
        for i in _live(owner, round_):
            if _oid(owner, i) == oid:
                return owner, i
    return None


def _error(code: int, message: str, kind: str = "GraphMethodException") -> Resource:
    body = {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "SimTrace"}}
    return json_resource(body, status=400)


def _page(req: ApiRequest, rows: list[dict[str, Any]], base: str) -> Resource:
    limit = req.int_param("limit", 25, low=1, high=100)
    start = int(req.param("after", "0") or 0)
    chosen = rows[start : start + limit]
    paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + limit)}}
    if start + limit < len(rows):
        # as the real API does, the next link repeats the query, access token included
        fields = req.param("fields")
        query = (f"fields={fields}&" if fields else "") + f"limit={limit}&after={start + limit}"
        paging["next"] = f"{base}?{query}&access_token={req.param('access_token')}"
    return json_resource({"data": chosen, "paging": paging})


def answer(req: ApiRequest) -> Resource | None:
    """The Graph API's (or a permalink's) answer to ``req``."""
    if req.host in ("www.facebook.com", "www.instagram.com"):
        for owner in (PAGE, IG_USER):
            for i in _live(owner, req.round):
                item = _item(owner, i, req.round)
                link = item.get("permalink_url") or item.get("permalink")
                if link and link.split("://", 1)[1].rstrip("/") == f"{req.host}{req.path}".rstrip(
                    "/"
                ):
                    text = item.get("message") or item.get("caption")
                    return Resource(f"<!DOCTYPE html><p>{text}</p>".encode(), HTML, EPOCH)
        if re.fullmatch(r"/(\w+/posts/\d+|p/\w+)/?", req.path):
            return Resource(b"<!DOCTYPE html><title>Content not found</title>", HTML, EPOCH, 404)
        return None
    if req.param("access_token") != TOKEN:
        return _error(
            190, "Invalid OAuth access token - Cannot parse access token", "OAuthException"
        )
    match = re.fullmatch(r"/v19\.0/([\w.]+)(/(posts|feed|media|comments))?", req.path)
    if not match:
        return _error(100, f"Unknown path components: {req.path}")
    obj, edge = match.group(1), match.group(3)
    if obj == PAGE_NAME:
        obj = PAGE
    if edge is None:
        if obj in (PAGE, IG_USER):
            return json_resource({"id": obj, "name": "U.S. Geological Survey (synthetic)"})
        found = _find(obj, req.round)
        if found is None:
            return _error(100, f"Unsupported get request. Object with ID '{obj}' does not exist")
        return json_resource(_item(*found, req.round))
    if edge in ("posts", "feed", "media"):
        if _counts(obj) is None:
            return _error(100, f"Unsupported get request. Object with ID '{obj}' does not exist")
        rows = [_item(obj, i, req.round) for i in _live(obj, req.round)]
        return _page(req, rows, f"{GRAPH}/{obj}/{edge}")
    found = _find(obj, req.round)
    if found is None:
        return _error(100, f"Unsupported get request. Object with ID '{obj}' does not exist")
    owner, i = found
    comments = [
        {
            "id": f"{obj}_c{n}",
            ("message" if owner == PAGE else "text"): f"Comment {n + 1} on update {i}",
            ("created_time" if owner == PAGE else "timestamp"): _when(i),
            **({"from": {"name": f"Resident {n}", "id": f"55{n}"}} if owner == PAGE else {}),
            **({"username": f"resident{n}"} if owner != PAGE else {}),
        }
        for n in range(2 if i % 6 == 0 else 0)
    ]
    return _page(req, comments, f"{GRAPH}/{obj}/comments")

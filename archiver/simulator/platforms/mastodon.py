"""Mastodon REST v1 on ``social.example.gov``, in the shapes of a real instance.

Routes: ``/api/v1/accounts/lookup?acct=``, ``/api/v1/accounts/:id/statuses`` (``limit`` ≤ 40,
``max_id``/``since_id``/``min_id``, ``Link`` header with ``rel="next"``/``rel="prev"``),
``/api/v1/statuses/:id``, ``/api/v1/statuses/:id/context``, ``/api/v1/statuses/:id/history``,
and each status's public page ``/@user/:id``.

Accounts: ``usgs`` (30 statuses, every 7th with two replies, every 5th with an image) and
``benchN`` (N statuses, for benchmarks). Round 2 edits the second-newest status of ``usgs`` and
adds a new one; round 3 deletes the fourth-newest (404 everywhere, gone from listings).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from archiver.simulator.platforms import EPOCH, ApiRequest, error, json_resource
from archiver.simulator.world import HTML, Resource

HOST = "social.example.gov"
HOSTS = (HOST,)
BASE = f"https://{HOST}"
MEDIA = "files.social.example.gov"
ID_BASE = 113_000_000_000_000_000
ACCOUNTS = {"usgs": ("1001", "U.S. Geological Survey (synthetic)", 30)}
_BENCH = re.compile(r"bench(\d{1,6})")


@dataclass(frozen=True)
class _Account:
    username: str
    id: str
    name: str
    count: int


def _account(username: str) -> _Account | None:
    if username in ACCOUNTS:
        acct_id, name, count = ACCOUNTS[username]
        return _Account(username, acct_id, name, count)
    match = _BENCH.fullmatch(username)
    if match:
        count = int(match.group(1))
        return _Account(username, str(2_000_000 + count), f"Benchmark account {count}", count)
    return None


def _by_id(acct_id: str) -> _Account | None:
    for username in ACCOUNTS:
        found = _account(username)
        if found and found.id == acct_id:
            return found
    if acct_id.startswith("2") and len(acct_id) == 7:
        return _account(f"bench{int(acct_id) - 2_000_000}")
    return None


def _account_json(a: _Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "username": a.username,
        "acct": a.username,
        "display_name": a.name,
        "locked": False,
        "bot": False,
        "created_at": "2022-11-07T00:00:00.000Z",
        "note": f"<p>Official account of {html.escape(a.name)}. Synthetic demo data.</p>",
        "url": f"{BASE}/@{a.username}",
        "avatar": f"https://{MEDIA}/accounts/avatars/{a.id}/original/avatar.png",
        "header": f"https://{MEDIA}/accounts/headers/{a.id}/original/header.png",
        "followers_count": 1200,
        "following_count": 3,
        "statuses_count": a.count,
        "fields": [],
        "emojis": [],
    }


def _status_id(a: _Account, i: int) -> str:
    return str(ID_BASE + int(a.id) * 100_000 + i)


def _content(a: _Account, i: int, edited: bool) -> str:
    words = "magnitude survey streamflow drought wildfire volcano mapping water"
    topic = words.split()[i % 8]
    text = f"Update {i} from {a.username}: new {topic} data published today."
    if edited:
        text = f"Update {i} from {a.username}: corrected {topic} data published today."
    return f'<p>{html.escape(text)} <a href="{BASE}/tags/{topic}">#{topic}</a></p>'


def _status(a: _Account, i: int, round_: int, *, reply_to: str | None = None) -> dict[str, Any]:
    sid = _status_id(a, i)
    created = EPOCH + timedelta(hours=i)
    edited = a.username == "usgs" and i == a.count - 2 and round_ >= 2
    media = []
    if i % 5 == 0:
        media.append(
            {
                "id": str(900_000 + i),
                "type": "image",
                "url": f"https://{MEDIA}/media_attachments/files/{sid}/original/image.png",
                "preview_url": f"https://{MEDIA}/media_attachments/files/{sid}/small/image.png",
                "remote_url": None,
                "description": f"Chart for update {i}",
                "blurhash": "UCF~Ek_3xu%M",
            }
        )
    replies = 2 if i % 7 == 0 else 0
    return {
        "id": sid,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "edited_at": (created + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if edited
        else None,
        "in_reply_to_id": reply_to,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"{BASE}/users/{a.username}/statuses/{sid}",
        "url": f"{BASE}/@{a.username}/{sid}",
        "replies_count": replies,
        "reblogs_count": i % 3,
        "favourites_count": i % 11,
        "content": _content(a, i, edited),
        "reblog": None,
        "account": _account_json(a),
        "media_attachments": media,
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def _indices(a: _Account, round_: int) -> list[int]:
    """Status indices live in ``round_``, newest first."""
    count = a.count + (1 if a.username == "usgs" and round_ >= 2 else 0)
    gone = {a.count - 4} if a.username == "usgs" and round_ >= 3 else set()
    return [i for i in range(count - 1, -1, -1) if i not in gone]


@lru_cache(maxsize=8)
def _live(username: str, round_: int) -> tuple[list[int], dict[str, int]]:
    a = _account(username)
    assert a is not None
    order = _indices(a, round_)
    return order, {_status_id(a, i): i for i in order}


def _find(sid: str, round_: int) -> tuple[_Account, int] | None:
    try:
        number = int(sid) - ID_BASE
    except ValueError:
        return None
    a = _by_id(str(number // 100_000))
    if a is None:
        return None
    _, ids = _live(a.username, round_)
    return (a, ids[sid]) if sid in ids else None


def _replies(a: _Account, i: int) -> list[dict[str, Any]]:
    parent = _status_id(a, i)
    out: list[dict[str, Any]] = []
    for n in range(2 if i % 7 == 0 else 0):
        rid = str(int(parent) + 50_000 + n)
        out.append(
            {
                "id": rid,
                "created_at": (EPOCH + timedelta(hours=i, minutes=10 + n)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"
                ),
                "edited_at": None,
                "in_reply_to_id": parent,
                "in_reply_to_account_id": a.id,
                "visibility": "public",
                "uri": f"https://citizen.example/users/resident{n}/statuses/{rid}",
                "url": f"https://citizen.example/@resident{n}/{rid}",
                "content": f"<p>Question {n + 1} about update {i}: where is the data?</p>",
                "account": {
                    "id": str(7000 + n),
                    "username": f"resident{n}",
                    "acct": f"resident{n}@citizen.example",
                    "display_name": f"Resident {n}",
                    "url": f"https://citizen.example/@resident{n}",
                },
                "media_attachments": [],
                "replies_count": 0,
            }
        )
    return out


def _statuses(req: ApiRequest, a: _Account) -> Resource:
    order, _ = _live(a.username, req.round)
    limit = req.int_param("limit", 20, low=1, high=40)
    max_id, since_id = req.param("max_id"), req.param("since_id") or req.param("min_id")
    ids = [_status_id(a, i) for i in order]
    chosen = [
        (sid, i)
        for sid, i in zip(ids, order, strict=True)
        if (max_id is None or int(sid) < int(max_id))
        and (since_id is None or int(sid) > int(since_id))
    ][:limit]
    page = [_status(a, i, req.round) for _, i in chosen]
    links = []
    path = f"{BASE}/api/v1/accounts/{a.id}/statuses"
    if chosen:
        if chosen[-1][0] != ids[-1]:
            links.append(f'<{path}?limit={limit}&max_id={chosen[-1][0]}>; rel="next"')
        links.append(f'<{path}?limit={limit}&min_id={chosen[0][0]}>; rel="prev"')
    headers = (("Link", ", ".join(links)),) if links else ()
    return json_resource(page, headers=headers)


def answer(req: ApiRequest) -> Resource | None:
    """The instance's answer to ``req``; None for paths it does not serve (media, say)."""
    path = req.path.rstrip("/")
    if path == "/api/v1/accounts/lookup":
        a = _account((req.param("acct") or "").split("@")[0])
        return json_resource(_account_json(a)) if a else error(404, "Record not found")
    match = re.fullmatch(r"/api/v1/accounts/(\d+)(/statuses)?", path)
    if match:
        a = _by_id(match.group(1))
        if a is None:
            return error(404, "Record not found")
        return _statuses(req, a) if match.group(2) else json_resource(_account_json(a))
    match = re.fullmatch(r"/api/v1/statuses/(\d+)(/context|/history)?", path)
    if match:
        found = _find(match.group(1), req.round)
        if found is None:
            return error(404, "Record not found")
        a, i = found
        status = _status(a, i, req.round)
        if match.group(2) == "/context":
            return json_resource({"ancestors": [], "descendants": _replies(a, i)})
        if match.group(2) == "/history":
            versions = [{**status, "content": _content(a, i, False), "edited_at": None}]
            if status["edited_at"]:
                versions.append(status)
            keep = ("content", "spoiler_text", "sensitive", "created_at", "account")
            return json_resource([{k: v.get(k) for k in keep} for v in versions])
        return json_resource(status)
    match = re.fullmatch(r"/@(\w+)/(\d+)", path)
    if match:
        found = _find(match.group(2), req.round)
        if found is None:
            page = b"<!DOCTYPE html><title>Not found</title><h1>This page is not here</h1>"
            return Resource(page, HTML, EPOCH, 404)
        a, i = found
        body = f"<!DOCTYPE html><title>{a.name}</title><article>{_content(a, i, False)}</article>"
        return Resource(body.encode(), HTML, EPOCH)
    return None

"""Mastodon REST v1 on ``social.example.gov``, in the shapes of a real instance.

Routes: ``/api/v1/accounts/lookup?acct=``, ``/api/v1/accounts/:id/statuses``,
``/api/v1/statuses/:id``, ``/api/v1/statuses/:id/context``, ``/api/v1/statuses/:id/history``,
and each status's public page ``/@user/:id``. Any other ``/api/`` path answers Mastodon's JSON
404 ``{"error": "Record not found"}``.

The statuses listing behaves as Mastodon's ``Api::BaseController#limit_param`` does: ``limit``
defaults to 20 and is silently clamped to 40 (``[limit.to_i.abs, 40].min``, no error); it
honours ``max_id``, ``since_id``, ``min_id`` (the page just above it), ``exclude_replies``,
``exclude_reblogs`` and ``only_media``; its ``Link`` header has ``rel="next"`` whenever the page
is full (so the last full page leads to an empty one, as on a real instance) and ``rel="prev"``
unless the page is empty, both keeping the request's filter parameters.

Accounts: ``usgs`` (30 statuses; every 7th with two replies and a reply to the first reply,
every 5th with an image, every 6th from the 3rd on with a link card and its image, every 9th
from the 4th on a boost of a remote status whose media the instance has not cached: ``url``
null, ``remote_url`` set) and ``benchN`` (N statuses, for benchmarks). Round 2 edits the
second-newest status of ``usgs`` and adds a new one; round 3 deletes the fourth-newest (404
everywhere, gone from listings).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
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
    card = None
    if i % 6 == 3:
        card = {
            "url": f"https://www.example.gov/data/update-{i}",
            "title": f"Data release {i}",
            "description": "Tables and maps of the release.",
            "type": "link",
            "author_name": "",
            "author_url": "",
            "provider_name": "Example Agency",
            "provider_url": "",
            "html": "",
            "width": 400,
            "height": 210,
            "image": f"https://{MEDIA}/cache/preview_cards/images/{sid}/original/card.png",
            "embed_url": "",
            "blurhash": "UCF~Ek_3xu%M",
        }
    replies = 2 if i % 7 == 0 else 0  # direct replies; the context also holds a nested one
    if i % 9 == 4:
        return _boost(a, i, sid, created)
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
        "card": card,
        "poll": None,
    }


def _boost(a: _Account, i: int, sid: str, created: datetime) -> dict[str, Any]:
    """A boost: Mastodon's wrapper (empty content, ``/activity`` URLs) around a remote status."""
    inner_id = str(int(sid) + 70_000)
    remote = "https://weather.example"
    inner = {
        "id": inner_id,
        "created_at": (created - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "edited_at": None,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"{remote}/users/noaa/statuses/{inner_id}",
        "url": f"{remote}/@noaa/{inner_id}",
        "replies_count": 0,
        "reblogs_count": 1,
        "favourites_count": 4,
        "content": f"<p>Weather outlook {i}: heavy rain expected along the coast.</p>",
        "reblog": None,
        "account": {
            "id": "8001",
            "username": "noaa",
            "acct": "noaa@weather.example",
            "display_name": "NOAA (synthetic)",
            "url": f"{remote}/@noaa",
        },
        "media_attachments": [
            {
                "id": str(950_000 + i),
                "type": "image",
                "url": None,  # not fetched by the instance yet
                "preview_url": None,
                "remote_url": f"{remote}/system/media_attachments/files/{inner_id}/radar.png",
                "description": "Radar image",
                "blurhash": None,
            }
        ],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }
    return {
        "id": sid,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "edited_at": None,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": None,
        "uri": f"{BASE}/users/{a.username}/statuses/{sid}/activity",
        "url": f"{BASE}/users/{a.username}/statuses/{sid}/activity",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "content": "",
        "reblog": inner,
        "account": _account_json(a),
        "media_attachments": [],
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
    """The context's descendants, depth first as Mastodon orders them: two replies to the
    status, and (after the first) a reply to the first reply."""
    parent = _status_id(a, i)
    out: list[dict[str, Any]] = []
    if i % 7 or i % 9 == 4:
        return out
    for n, to, to_account in (
        (0, parent, a.id),
        (2, str(int(parent) + 50_000), "7000"),
        (1, parent, a.id),
    ):
        rid = str(int(parent) + 50_000 + n)
        who = 0 if n == 0 else 1  # resident1 answers resident0 and the status
        out.append(
            {
                "id": rid,
                "created_at": (EPOCH + timedelta(hours=i, minutes=10 + n)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z"
                ),
                "edited_at": None,
                "in_reply_to_id": to,
                "in_reply_to_account_id": to_account,
                "visibility": "public",
                "uri": f"https://citizen.example/users/resident{who}/statuses/{rid}",
                "url": f"https://citizen.example/@resident{who}/{rid}",
                "content": f"<p>Question {n + 1} about update {i}: where is the data?</p>"
                if n < 2
                else f"<p>Same question here, about update {i}.</p>",
                "account": {
                    "id": str(7000 + who),
                    "username": f"resident{who}",
                    "acct": f"resident{who}@citizen.example",
                    "display_name": f"Resident {who}",
                    "url": f"https://citizen.example/@resident{who}",
                },
                "media_attachments": [],
                "replies_count": 0,
            }
        )
    return out


_FILTERS = ("exclude_replies", "exclude_reblogs", "only_media")
_INTEGER = re.compile(r"\s*([+-]?\d+)")


def _limit(req: ApiRequest) -> int:
    """Mastodon's ``limit_param(20)``: ``[limit.to_i.abs, 40].min``, 20 when absent."""
    value = req.param("limit")
    if value is None:
        return 20
    match = _INTEGER.match(value)  # Ruby's to_i: the leading integer, else 0
    return min(abs(int(match.group(1))) if match else 0, 40)


def _truthy(req: ApiRequest, name: str) -> bool:
    return (req.param(name) or "").lower() in ("1", "true", "t", "on", "yes")


def _statuses(req: ApiRequest, a: _Account) -> Resource:
    order, _ = _live(a.username, req.round)
    limit = _limit(req)
    try:
        high, low, above = (
            int(v) if v else None for v in map(req.param, ("max_id", "since_id", "min_id"))
        )
    except ValueError:
        return json_resource([])

    def wanted(i: int) -> dict[str, Any] | None:
        sid = int(_status_id(a, i))
        if (high is not None and sid >= high) or any(
            b is not None and sid <= b for b in (low, above)
        ):
            return None
        status = _status(a, i, req.round)
        if (
            (_truthy(req, "exclude_replies") and status["in_reply_to_id"])
            or (_truthy(req, "exclude_reblogs") and status["reblog"])
            or (_truthy(req, "only_media") and not status["media_attachments"])
        ):
            return None
        return status

    # newest first; min_id asks for the page just above it (taken oldest first, served newest first)
    walk = reversed(order) if above is not None else iter(order)
    page: list[dict[str, Any]] = []
    for i in walk:
        if len(page) >= limit:
            break
        status = wanted(i)
        if status is not None:
            page.append(status)
    if above is not None:
        page.reverse()
    kept = [("limit", req.param("limit"))] + [(name, req.param(name)) for name in _FILTERS]
    extra = "".join(f"{name}={value}&" for name, value in kept if value is not None)
    path = f"{BASE}/api/v1/accounts/{a.id}/statuses"
    links = []
    if page and len(page) == limit:  # Mastodon's records_continue?: a full page
        links.append(f'<{path}?{extra}max_id={page[-1]["id"]}>; rel="next"')
    if page:
        links.append(f'<{path}?{extra}min_id={page[0]["id"]}>; rel="prev"')
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
    if path.startswith("/api/"):
        return error(404, "Record not found")
    return None

"""X API v2 on ``api.x.com`` and its public pages on ``x.com``.

Every API call needs ``Authorization: Bearer`` with :data:`TOKEN` (401 problem JSON otherwise).
``/2/users/by/username/:name`` answers an unknown user with HTTP 200 and an ``errors`` array, as the
real API does. ``/2/users/:id/tweets`` pages with ``max_results`` (5..100) and
``pagination_token`` (``meta.next_token``), expands media. ``/2/tweets/search/recent?query=
conversation_id:ID`` returns the replies. Every answer carries ``x-rate-limit-*`` headers.

Account ``USGS`` (30 posts; every 5th with a photo, every 9th with two replies) and ``benchN``.
Round 2 edits post 27 the way X does — a new id whose ``edit_history_tweet_ids`` starts with the
original — and adds one; round 3 deletes post 26 (its page answers 404).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

HOSTS = ("api.x.com", "api.twitter.com", "x.com")
TOKEN = "sim-x-bearer-token"
MEDIA = "pbs.twimg.com"
_BENCH = re.compile(r"bench(\d{1,6})")
BASE_ID = 1_800_000_000_000_000_000
_LIMITS = (
    ("x-rate-limit-limit", "1500"),
    ("x-rate-limit-remaining", "1499"),
    ("x-rate-limit-reset", "1767603600"),
)


def _count(username: str) -> int | None:
    if username.lower() == "usgs":
        return 30
    match = _BENCH.fullmatch(username)
    return int(match.group(1)) if match else None


def _user_id(username: str) -> str:
    return str(
        9_000_000 + (30 if username.lower() == "usgs" else 100_000 + (_count(username) or 0))
    )


def _username(user_id: str) -> str | None:
    number = int(user_id) - 9_000_000 if user_id.isdigit() else -1
    if number == 30:
        return "USGS"
    if number >= 100_000:
        return f"bench{number - 100_000}"
    return None


def _tid(username: str, i: int, edited: bool = False) -> str:
    return str(BASE_ID + int(_user_id(username)) * 1_000_000 + i * 10 + (1 if edited else 0))


def _usgs(username: str) -> bool:
    return username.lower() == "usgs"


def _live(username: str, round_: int) -> list[int]:
    count = _count(username) or 0
    total = count + (1 if _usgs(username) and round_ >= 2 else 0)
    gone = {count - 4} if _usgs(username) and round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _tweet(username: str, i: int, round_: int) -> dict[str, Any]:
    edited = _usgs(username) and i == (_count(username) or 0) - 3 and round_ >= 2
    original = _tid(username, i)
    tid = _tid(username, i, edited)
    text = f"Update {i}: new hazard map and flood outlook published."
    if edited:
        text = f"Update {i}: corrected hazard map and flood outlook published."
    tweet: dict[str, Any] = {
        "id": tid,
        "text": text,
        "created_at": (EPOCH + timedelta(hours=3 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "author_id": _user_id(username),
        "conversation_id": original,
        "edit_history_tweet_ids": [original, tid] if edited else [tid],
        "public_metrics": {"reply_count": 2 if i % 9 == 0 else 0, "retweet_count": i % 5},
    }
    if i % 5 == 0:
        tweet["attachments"] = {"media_keys": [f"3_{tid}"]}
    return tweet


def _media(tweets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"media_key": key, "type": "photo", "url": f"https://{MEDIA}/media/{key}.jpg"}
        for t in tweets
        for key in (t.get("attachments") or {}).get("media_keys", [])
    ]


def _find(tid: str, round_: int) -> tuple[str, int] | None:
    if not tid.isdigit():
        return None
    rest = int(tid) - BASE_ID
    username = _username(str(rest // 1_000_000))
    if username is None:
        return None
    i = (rest % 1_000_000) // 10
    if i not in _live(username, round_):
        return None
    return (username, i) if tid in _tweet(username, i, round_)["edit_history_tweet_ids"] else None


def _replies(username: str, i: int) -> list[dict[str, Any]]:
    parent = _tid(username, i)
    return [
        {
            "id": str(int(parent) + 5 + n),
            "text": f"@{username} question {n + 1} about update {i}",
            "created_at": (EPOCH + timedelta(hours=3 * i, minutes=5 + n)).strftime(
                "%Y-%m-%dT%H:%M:%S.000Z"
            ),
            "author_id": str(7_000_000 + n),
            "conversation_id": parent,
            "in_reply_to_user_id": _user_id(username),
            "referenced_tweets": [{"type": "replied_to", "id": parent}],
            "edit_history_tweet_ids": [str(int(parent) + 5 + n)],
        }
        for n in range(2 if i % 9 == 0 else 0)
    ]


def _json(payload: Any, status: int = 200) -> Resource:
    return json_resource(payload, status=status, headers=_LIMITS)


def answer(req: ApiRequest) -> Resource | None:
    """The API's (or x.com's) answer to ``req``."""
    if req.host == "x.com":
        match = re.fullmatch(r"/(\w+)/status/(\d+)", req.path)
        if not match:
            return None
        found = _find(match.group(2), req.round)
        if found is None or found[0].lower() != match.group(1).lower():
            return Resource(b"<!DOCTYPE html><title>Page not found</title>", HTML, EPOCH, 404)
        text = _tweet(found[0], found[1], req.round)["text"]
        return Resource(f"<!DOCTYPE html><title>X</title><p>{text}</p>".encode(), HTML, EPOCH)
    if req.bearer() != TOKEN:
        problem = {"title": "Unauthorized", "type": "about:blank", "status": 401}
        return _json({**problem, "detail": "Unauthorized"}, 401)
    match = re.fullmatch(r"/2/users/by/username/(\w+)", req.path)
    if match:
        name = match.group(1)
        if _count(name) is None:
            detail = f"Could not find user with username: [{name}]."
            kind = "https://api.twitter.com/2/problems/resource-not-found"
            return _json({"errors": [{"title": "Not Found Error", "detail": detail, "type": kind}]})
        return _json({"data": {"id": _user_id(name), "name": name, "username": name}})
    match = re.fullmatch(r"/2/users/(\d+)/tweets", req.path)
    if match:
        username = _username(match.group(1))
        if username is None:
            return _json({"errors": [{"title": "Not Found Error", "detail": "no such user"}]})
        limit = req.int_param("max_results", 10, low=5, high=100)
        live = _live(username, req.round)
        start = int(req.param("pagination_token", "0") or 0)
        chosen = [_tweet(username, i, req.round) for i in live[start : start + limit]]
        meta: dict[str, Any] = {"result_count": len(chosen)}
        if chosen:
            meta |= {"newest_id": chosen[0]["id"], "oldest_id": chosen[-1]["id"]}
        if start + limit < len(live):
            meta["next_token"] = str(start + limit)
        body: dict[str, Any] = {"data": chosen, "meta": meta} if chosen else {"meta": meta}
        if _media(chosen):
            body["includes"] = {"media": _media(chosen)}
        return _json(body)
    if req.path == "/2/tweets/search/recent":
        query = req.param("query") or ""
        found = _find(query.removeprefix("conversation_id:"), req.round)
        replies = _replies(*found) if found else []
        return _json({"data": replies, "meta": {"result_count": len(replies)}})
    return None

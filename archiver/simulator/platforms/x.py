"""X API v2 on ``api.x.com`` (and ``api.twitter.com``) and its public pages on ``x.com``.

The documented contract, as the real API keeps it:

* Every API call needs ``Authorization: Bearer`` with :data:`TOKEN` (401 problem JSON otherwise).
* Field selection: a tweet has only ``id``, ``text`` and ``edit_history_tweet_ids`` unless
  ``tweet.fields`` asks for more; ``includes`` holds only what ``expansions`` asks (users,
  referenced tweets, earlier versions, media), with ``user.fields`` / ``media.fields`` applied.
  An unknown field or expansion answers HTTP 400 ``Invalid Request``.
* ``max_results``: 5..100 on ``/2/users/:id/tweets``, 10..100 on ``/2/tweets/search/recent``
  (default 10); outside, HTTP 400 with X's ``invalid-request`` problem. Paging with
  ``pagination_token`` / ``next_token`` from ``meta.next_token``.
* Lookups that find nothing answer HTTP 200 with an ``errors`` array (``Not Found Error``,
  ``.../resource-not-found``); an unknown ``/2/`` path answers X's JSON 404.
* Every answer carries ``x-rate-limit-*`` headers (reset as epoch seconds).

Account ``USGS`` (30 posts, newest first): posts 0, 15 carry a photo, 5, 20 a video (mp4
variants at three bitrates and an HLS playlist), 10, 25 an animated GIF; 3, 13, 23 are retweets
of ``@NWS``; 8, 18, 28 quote an ``@NWS`` tweet; 9, 18, 27 have two replies each and post 0 has
105 (two search pages). ``benchN`` has N plain posts. Round 2 edits post 27 the way X does — a
new id whose ``edit_history_tweet_ids`` starts with the original — and adds one; round 3 deletes
post 26 (``GET /2/tweets/:id`` then answers "Not Found", its page 404).
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
VIDEO = "video.twimg.com"
_BENCH = re.compile(r"bench(\d{1,6})")
BASE_ID = 1_800_000_000_000_000_000
NWS_ID = "9500001"
PROBLEMS = "https://api.twitter.com/2/problems"
_LIMITS = (
    ("x-rate-limit-limit", "1500"),
    ("x-rate-limit-remaining", "1499"),
    ("x-rate-limit-reset", "1767603600"),
)
TWEET_FIELDS = frozenset(
    str.split(
        "attachments author_id context_annotations conversation_id created_at edit_controls "
        "edit_history_tweet_ids entities geo id in_reply_to_user_id lang non_public_metrics "
        "note_tweet organic_metrics possibly_sensitive promoted_metrics public_metrics "
        "referenced_tweets reply_settings source text withheld"
    )
)
EXPANSIONS = frozenset(
    str.split(
        "attachments.media_keys attachments.poll_ids author_id edit_history_tweet_ids "
        "entities.mentions.username geo.place_id in_reply_to_user_id referenced_tweets.id "
        "referenced_tweets.id.author_id"
    )
)
MEDIA_FIELDS = frozenset(
    str.split(
        "alt_text duration_ms height media_key non_public_metrics organic_metrics "
        "preview_image_url promoted_metrics public_metrics type url variants width"
    )
)
USER_FIELDS = frozenset(
    str.split(
        "created_at description entities id location most_recent_tweet_id name pinned_tweet_id "
        "profile_image_url protected public_metrics receives_your_dm url username verified "
        "verified_type withheld"
    )
)
_DEFAULT_TWEET = ("id", "text", "edit_history_tweet_ids")
_DEFAULT_USER = ("id", "name", "username")
_DEFAULT_MEDIA = ("media_key", "type")


class InvalidRequestError(Exception):
    """A parameter X would reject (HTTP 400 ``invalid-request``)."""

    def __init__(self, name: str, value: str, message: str) -> None:
        super().__init__(message)
        self.name, self.value = name, value


def _time(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


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


def _user(user_id: str) -> dict[str, Any] | None:
    if user_id == NWS_ID:
        name, username = "NWS", "NWS"
    elif user_id.isdigit() and 7_000_000 <= int(user_id) < 7_001_000:
        username = f"resident{int(user_id) - 7_000_000 + 1}"
        name = f"Resident {int(user_id) - 7_000_000 + 1}"
    else:
        found = _username(user_id)
        if found is None:
            return None
        name = username = found
    return {
        "id": user_id,
        "name": name,
        "username": username,
        "created_at": "2009-03-05T17:00:00.000Z",
        "verified": False,
        "protected": False,
    }


def _tid(username: str, i: int, edited: bool = False) -> str:
    return str(BASE_ID + int(_user_id(username)) * 1_000_000 + i * 10 + (1 if edited else 0))


def _usgs(username: str) -> bool:
    return username.lower() == "usgs"


def _live(username: str, round_: int) -> list[int]:
    count = _count(username) or 0
    total = count + (1 if _usgs(username) and round_ >= 2 else 0)
    gone = {count - 4} if _usgs(username) and round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _nws(i: int) -> dict[str, Any]:
    """The ``@NWS`` tweet that USGS post ``i`` retweets or quotes."""
    tid = str(BASE_ID + 500_000_000 + i)
    return {
        "id": tid,
        "text": f"Flood warning {i} in effect until 6 PM for the river basin. Move to higher "
        "ground now; do not drive through flooded roads. Updates every hour at weather.gov.",
        "created_at": _time(EPOCH + timedelta(hours=3 * i, minutes=-30)),
        "author_id": NWS_ID,
        "conversation_id": tid,
        "edit_history_tweet_ids": [tid],
        "public_metrics": {"reply_count": 0, "retweet_count": 40, "like_count": 90},
    }


def _media_kind(username: str, i: int) -> str | None:
    if i % 5:
        return None
    return ("photo", "video", "animated_gif")[(i // 5) % 3] if _usgs(username) else "photo"


def _reply_count(username: str, i: int) -> int:
    if not _usgs(username):
        return 0
    return 105 if i == 0 else (2 if i % 9 == 0 else 0)


def _tweet(username: str, i: int, round_: int, version: str | None = None) -> dict[str, Any]:
    """Post ``i`` as X holds it this round (``version``: an earlier id of an edited post)."""
    original = _tid(username, i)
    edited = _usgs(username) and i == (_count(username) or 0) - 3 and round_ >= 2
    latest = _tid(username, i, edited)
    tid = version if version in (original, latest) else latest
    published = EPOCH + timedelta(hours=3 * i)
    text = f"Update {i}: new hazard map and flood outlook published."
    if tid != original:
        text = f"Update {i}: corrected hazard map and flood outlook published."
    tweet: dict[str, Any] = {
        "id": tid,
        "text": text,
        "created_at": _time(published + timedelta(minutes=10 if tid != original else 0)),
        "author_id": _user_id(username),
        "conversation_id": tid,
        "edit_history_tweet_ids": [original, latest] if edited else [tid],
        "public_metrics": {"reply_count": _reply_count(username, i), "retweet_count": i % 5},
        "lang": "en",
    }
    if _usgs(username) and i % 10 == 3:
        boosted = _nws(i)
        tweet["text"] = f"RT @NWS: {boosted['text'][:100]}…"
        tweet["referenced_tweets"] = [{"type": "retweeted", "id": boosted["id"]}]
        tweet["entities"] = {"mentions": [{"start": 3, "end": 7, "username": "NWS", "id": NWS_ID}]}
        tweet["public_metrics"]["reply_count"] = 0
    elif _usgs(username) and i % 10 == 8:
        quoted = _nws(i)
        tweet["text"] = f"Our gauges confirm it: update {i}. https://t.co/q{i}"
        tweet["referenced_tweets"] = [{"type": "quoted", "id": quoted["id"]}]
    if _media_kind(username, i):
        tweet["attachments"] = {"media_keys": [_media_key(username, i, original)]}
    return tweet


def _media_key(username: str, i: int, original: str) -> str:
    prefix = {"photo": "3", "video": "7", "animated_gif": "16"}[_media_kind(username, i) or "photo"]
    return f"{prefix}_{original}"


def _media_object(key: str) -> dict[str, Any]:
    prefix, ident = key.split("_", 1)
    if prefix == "3":
        return {
            "media_key": key,
            "type": "photo",
            "url": f"https://{MEDIA}/media/{key}.jpg",
            "width": 1200,
            "height": 800,
            "alt_text": "Hazard map",
        }
    base = f"https://{VIDEO}/ext_tw_video/{ident}/pu/vid"
    preview = f"https://{MEDIA}/ext_tw_video_thumb/{ident}/pu/img/{key}.jpg"
    if prefix == "16":
        return {
            "media_key": key,
            "type": "animated_gif",
            "preview_image_url": f"https://{MEDIA}/tweet_video_thumb/{key}.jpg",
            "variants": [
                {
                    "bit_rate": 0,
                    "content_type": "video/mp4",
                    "url": f"https://{VIDEO}/tweet_video/{key}.mp4",
                }
            ],
            "width": 480,
            "height": 270,
        }
    return {
        "media_key": key,
        "type": "video",
        "preview_image_url": preview,
        "duration_ms": 30_000,
        "width": 1280,
        "height": 720,
        "variants": [
            {"bit_rate": 256000, "content_type": "video/mp4", "url": f"{base}/480x270/{key}.mp4"},
            {
                "content_type": "application/x-mpegURL",
                "url": f"https://{VIDEO}/ext_tw_video/{ident}/pu/pl/{key}.m3u8",
            },
            {"bit_rate": 2176000, "content_type": "video/mp4", "url": f"{base}/1280x720/{key}.mp4"},
            {"bit_rate": 832000, "content_type": "video/mp4", "url": f"{base}/640x360/{key}.mp4"},
        ],
    }


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


def _lookup(tid: str, round_: int) -> dict[str, Any] | None:
    """Any tweet X holds under ``tid`` this round (an account's post, any version; @NWS's)."""
    found = _find(tid, round_)
    if found:
        return _tweet(*found, round_, version=tid)
    if tid.isdigit() and 0 <= int(tid) - BASE_ID - 500_000_000 < 1000:
        return _nws(int(tid) - BASE_ID - 500_000_000)
    return None


def _replies(conversation: str, round_: int) -> list[dict[str, Any]]:
    """The replies in the conversation a post's original version started, newest first."""
    found = _find(conversation, round_)
    if found is None or conversation != _tid(*found):
        return []
    username, i = found
    out = []
    for n in range(_reply_count(username, i)):
        rid = str(int(conversation) + 100_000_000 + n * 1000)
        out.append(
            {
                "id": rid,
                "text": f"@{username} question {n + 1} about update {i}",
                "created_at": _time(EPOCH + timedelta(hours=3 * i, minutes=5 + n)),
                "author_id": str(7_000_000 + n % 3),
                "conversation_id": conversation,
                "in_reply_to_user_id": _user_id(username),
                "referenced_tweets": [{"type": "replied_to", "id": conversation}],
                "edit_history_tweet_ids": [rid],
                "public_metrics": {"reply_count": 0, "retweet_count": 0},
            }
        )
    return out[::-1]


def _json(payload: Any, status: int = 200) -> Resource:
    return json_resource(payload, status=status, headers=_LIMITS)


def _invalid(error: InvalidRequestError) -> Resource:
    return _json(
        {
            "errors": [{"parameters": {error.name: [error.value]}, "message": str(error)}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": f"{PROBLEMS}/invalid-request",
        },
        400,
    )


def _not_found(kind: str, parameter: str, value: str) -> dict[str, Any]:
    return {
        "value": value,
        "detail": f"Could not find {kind} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{PROBLEMS}/resource-not-found",
    }


def _chosen(req: ApiRequest, name: str, allowed: frozenset[str]) -> set[str]:
    raw = req.param(name)
    if raw is None:
        return set()
    asked = raw.split(",")
    wrong = [v for v in asked if v not in allowed]
    if wrong or not raw:
        value = ",".join(wrong) or raw
        listed = ",".join(sorted(allowed))
        raise InvalidRequestError(
            name, value, f"The `{name}` query parameter value [{value}] is not one of [{listed}]"
        )
    return set(asked)


def _max_results(req: ApiRequest, low: int, high: int, default: int) -> int:
    raw = req.param("max_results")
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidRequestError(
            "max_results",
            raw,
            f"The `max_results` query parameter value [{raw}] is not between {low} and {high}",
        )
    return int(raw)


def _cursor(req: ApiRequest, name: str) -> int:
    raw = req.param(name)
    if raw is None:
        return 0
    match = re.fullmatch(r"7140dibdnow9c7btw4(\d{6})", raw)
    if match is None:
        raise InvalidRequestError(
            name, raw, f"The `{name}` query parameter value [{raw}] is not valid"
        )
    return int(match.group(1))


def _token(offset: int) -> str:
    return f"7140dibdnow9c7btw4{offset:06d}"


class _Shape:
    """The fields and expansions one request asked for; shapes tweets and builds includes."""

    def __init__(self, req: ApiRequest) -> None:
        self.round = req.round
        self.tweet = _chosen(req, "tweet.fields", TWEET_FIELDS)
        self.expansions = _chosen(req, "expansions", EXPANSIONS)
        self.media = _chosen(req, "media.fields", MEDIA_FIELDS)
        self.user = _chosen(req, "user.fields", USER_FIELDS)

    def tweet_view(self, tweet: dict[str, Any]) -> dict[str, Any]:
        keep = set(_DEFAULT_TWEET) | self.tweet
        return {k: v for k, v in tweet.items() if k in keep}

    def user_view(self, user: dict[str, Any]) -> dict[str, Any]:
        keep = set(_DEFAULT_USER) | self.user
        return {k: v for k, v in user.items() if k in keep}

    def body(self, tweets: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """``data`` (a list) with the ``includes`` and partial ``errors`` the expansions give."""
        return self._shape(tweets, [self.tweet_view(t) for t in tweets], extra)

    def single(self, tweet: dict[str, Any]) -> dict[str, Any]:
        return self._shape([tweet], self.tweet_view(tweet), {})

    def _shape(
        self, tweets: list[dict[str, Any]], data: Any, extra: dict[str, Any]
    ) -> dict[str, Any]:
        ex = self.expansions
        users: dict[str, dict[str, Any]] = {}
        refs: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        media: list[dict[str, Any]] = []

        def add_user(uid: Any) -> None:
            user = _user(str(uid)) if uid else None
            if user is not None:
                users.setdefault(user["id"], self.user_view(user))

        for tweet in tweets:
            if "author_id" in ex:
                add_user(tweet.get("author_id"))
            if "in_reply_to_user_id" in ex:
                add_user(tweet.get("in_reply_to_user_id"))
            wanted = []
            if "referenced_tweets.id" in ex:
                wanted += [r["id"] for r in tweet.get("referenced_tweets") or []]
            if "edit_history_tweet_ids" in ex and len(tweet["edit_history_tweet_ids"]) > 1:
                wanted += tweet["edit_history_tweet_ids"]
            for rid in wanted:
                found = _lookup(rid, self.round)
                if found is None:
                    errors.append(_not_found("tweet", "referenced_tweets.id", rid))
                    continue
                refs.setdefault(rid, self.tweet_view(found))
                if "referenced_tweets.id.author_id" in ex:
                    add_user(found.get("author_id"))
            if "attachments.media_keys" in ex:
                for key in (tweet.get("attachments") or {}).get("media_keys", []):
                    keep = set(_DEFAULT_MEDIA) | self.media
                    media.append({k: v for k, v in _media_object(key).items() if k in keep})
        body: dict[str, Any] = {"data": data} if tweets else {}
        includes: dict[str, Any] = {}
        if media:
            includes["media"] = media
        if users:
            includes["users"] = list(users.values())
        if refs:
            includes["tweets"] = list(refs.values())
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return body | extra


def _page(
    shape: _Shape, tweets: list[dict[str, Any]], start: int, limit: int, total: int
) -> dict[str, Any]:
    meta: dict[str, Any] = {"result_count": len(tweets)}
    if tweets:
        meta |= {"newest_id": tweets[0]["id"], "oldest_id": tweets[-1]["id"]}
    if start + limit < total:
        meta["next_token"] = _token(start + limit)
    return shape.body(tweets, meta=meta)


def _web(req: ApiRequest) -> Resource | None:
    match = re.fullmatch(r"/(\w+)/status/(\d+)", req.path)
    if not match:
        return None
    found = _find(match.group(2), req.round)
    if found is None or found[0].lower() != match.group(1).lower():
        return Resource(b"<!DOCTYPE html><title>Page not found</title>", HTML, EPOCH, 404)
    text = _tweet(found[0], found[1], req.round)["text"]
    return Resource(f"<!DOCTYPE html><title>X</title><p>{text}</p>".encode(), HTML, EPOCH)


def answer(req: ApiRequest) -> Resource | None:
    """The API's (or x.com's) answer to ``req``."""
    if req.host == "x.com":
        return _web(req)
    if req.bearer() != TOKEN:
        problem = {"title": "Unauthorized", "type": "about:blank", "status": 401}
        return _json({**problem, "detail": "Unauthorized"}, 401)
    try:
        return _api(req)
    except InvalidRequestError as error:
        return _invalid(error)


def _api(req: ApiRequest) -> Resource:
    match = re.fullmatch(r"/2/users/by/username/(\w+)", req.path)
    if match:
        name = match.group(1)
        shape = _Shape(req)
        if _count(name) is None:
            return _json({"errors": [_not_found("user", "username", name)]})
        user = _user(_user_id(name)) or {}
        return _json({"data": shape.user_view(user)})
    match = re.fullmatch(r"/2/users/(\d+)/tweets", req.path)
    if match:
        shape = _Shape(req)
        limit = _max_results(req, 5, 100, 10)
        start = _cursor(req, "pagination_token")
        username = _username(match.group(1))
        if username is None:
            return _json({"errors": [_not_found("user", "id", match.group(1))]})
        live = _live(username, req.round)
        chosen = [_tweet(username, i, req.round) for i in live[start : start + limit]]
        return _json(_page(shape, chosen, start, limit, len(live)))
    if req.path == "/2/tweets/search/recent":
        shape = _Shape(req)
        limit = _max_results(req, 10, 100, 10)
        start = _cursor(req, "next_token")
        query = req.param("query") or ""
        if not query:
            raise InvalidRequestError("query", "", "The `query` query parameter can not be empty")
        replies = _replies(query.removeprefix("conversation_id:").strip(), req.round)
        return _json(_page(shape, replies[start : start + limit], start, limit, len(replies)))
    match = re.fullmatch(r"/2/tweets/(\d+)", req.path)
    if match:
        shape = _Shape(req)
        found = _lookup(match.group(1), req.round)
        if found is None:
            return _json({"errors": [_not_found("tweet", "id", match.group(1))]})
        return _json(shape.single(found))
    if req.path == "/2/tweets":
        shape = _Shape(req)
        ids = [i for i in (req.param("ids") or "").split(",") if i]
        if not ids or len(ids) > 100:
            raise InvalidRequestError(
                "ids", req.param("ids") or "", "The `ids` query parameter needs 1 to 100 ids"
            )
        tweets = [t for t in (_lookup(i, req.round) for i in ids) if t is not None]
        body = shape.body(tweets)
        missing = [_not_found("tweet", "ids", i) for i in ids if _lookup(i, req.round) is None]
        if missing:
            body["errors"] = [*body.get("errors", []), *missing]
        return _json(body)
    return _json({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}, 404)

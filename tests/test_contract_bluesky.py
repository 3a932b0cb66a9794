"""The Bluesky connector against the real recordings in ``corpus/bluesky/``, replayed at the real
XRPC paths, and the simulated AppView checked against the recorded lexicons.

``atproto-sdk/``: ``resolve_handle.json`` is served at ``com.atproto.identity.resolveHandle``;
``post_record.json`` at ``com.atproto.repo.getRecord``, and its record is the post inside the
author feed, thread and getPosts pages written by hand in the lexicon shapes (*wrappers*: only
the post's author handle, counts and the reason/thread frames are hand-written);
``get_follows.json`` holds recorded profile views: the shape the simulator's authors must have.
``bluesky-social-atproto/``: the lexicons (getAuthorFeed, getPostThread, feed defs, the video and
recordWithMedia embeds) drive a schema check of what the simulator serves, parameter bounds
included. Expectations are read from the recordings, never from the connector.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from archiver.capture.connectors.api import parse_time
from archiver.capture.connectors.base import DeletionProbe
from archiver.capture.connectors.bluesky import BlueskyConnector, embed_media
from archiver.capture.http import HttpClient
from archiver.capture.job import capture_account
from archiver.policy.model import Account, Schedule
from archiver.simulator import Simulator
from archiver.simulator.platforms import bluesky as simulated
from tests.conftest import MakeRuntime
from tests.corpus_replay import ReplayServer, ReplaySession
from tests.platforms import ACCOUNT, api_root, options_text, platform_policy, posts

XRPC = "/xrpc"
HANDLE = "bsky.app"  # the handle whose resolution the SDK author recorded (bsky.app's DID)
POST_HANDLE = "marshal.dev"  # wrapper: the recorded post's author handle is not in the record


@pytest.fixture
def server() -> Any:
    with ReplayServer() as replay:
        yield replay


def sdk(corpus: Path, name: str) -> Path:
    return corpus / "bluesky" / "atproto-sdk" / f"{name}.json"


def lexicon(corpus: Path, name: str) -> dict[str, Any]:
    path = corpus / "bluesky" / "bluesky-social-atproto" / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def recorded_post(corpus: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sdk(corpus, "post_record").read_text(encoding="utf-8"))
    return data


def post_view(record: dict[str, Any], **counts: int) -> dict[str, Any]:
    """Wrapper: an ``app.bsky.feed.defs#postView`` around a recorded getRecord answer."""
    did = record["uri"].removeprefix("at://").split("/")[0]
    return {
        "uri": record["uri"],
        "cid": record["cid"],
        "author": {"did": did, "handle": POST_HANDLE},
        "record": record["value"],
        "indexedAt": record["value"]["createdAt"],
        "replyCount": 0,
        **counts,
    }


def same_moment(stored: datetime | None, recorded: str) -> bool:
    """A stored time (naive ones are UTC, as SQLite keeps them) equals a recorded one."""
    assert stored is not None
    return (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) == parse_time(recorded)


def serve(server: ReplayServer, method: str, payload: Any, **query: str) -> None:
    server.add_json("GET", f"{XRPC}/{method}", json.dumps(payload).encode(), query=query)


def policy(tmp_path: Path, server: ReplayServer, handle: str, **options: str) -> Path:
    opts = {"media": "false", "comments": "true", **options}
    return platform_policy(
        tmp_path / "policies",
        "bluesky",
        handle=f'"{handle}"',
        base_url=server.base_url,
        options=options_text(**opts),
    )


# --- captures over the recordings ----------------------------------------------------------------


def test_the_recorded_post_through_two_feed_pages_and_its_thread(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    record = recorded_post(corpus)
    view = post_view(record, replyCount=2)
    author = view["author"]["did"]
    # page 1 holds the post and a cursor; page 2 (asked with it) is the last: no cursor
    serve(server, "app.bsky.feed.getAuthorFeed", {"feed": [{"post": view}], "cursor": "p2"})
    serve(server, "app.bsky.feed.getAuthorFeed", {"feed": []}, cursor="p2")
    missing = {
        "$type": "app.bsky.feed.defs#notFoundPost",
        "uri": record["uri"] + "r",
        "notFound": True,
    }
    blocked = {
        "$type": "app.bsky.feed.defs#blockedPost",
        "uri": record["uri"] + "b",
        "blocked": True,
        "author": {"did": "did:plc:blocked"},
    }
    thread = {
        "$type": "app.bsky.feed.defs#threadViewPost",
        "post": view,
        "replies": [missing, blocked],
    }
    serve(server, "app.bsky.feed.getPostThread", {"thread": thread}, uri=record["uri"])
    rt = make_runtime(policy(tmp_path, server, author))
    result = capture_account(rt, ACCOUNT)
    [row] = posts(rt)
    assert row.native_id == record["uri"] and row.kind == "post" and row.in_reply_to is None
    assert row.author == POST_HANDLE
    assert same_moment(row.published_at, record["value"]["createdAt"])
    assert (
        row.url == f"{server.base_url}/profile/{POST_HANDLE}/post/{record['uri'].rsplit('/', 1)[1]}"
    )
    assert rt.index.search(record["value"]["text"])
    pages = server.requests_to(f"{XRPC}/app.bsky.feed.getAuthorFeed")
    assert [p.query.get("cursor") for p in pages] == [None, ["p2"]]
    assert all(p.query["actor"] == [author] and p.query["limit"] == ["100"] for p in pages)
    assert not server.requests_to(f"{XRPC}/com.atproto.identity.resolveHandle")  # a DID
    [asked] = server.requests_to(f"{XRPC}/app.bsky.feed.getPostThread")
    assert asked.query["uri"] == [record["uri"]]
    # both unreadable replies are named, and the capture says it is not whole
    assert result.status == "partial"
    assert any(missing["uri"] in p and blocked["uri"] in p for p in result.problems)
    ledger = rt.index.get_capture(result.capture_id).ledger
    assert ledger["complete_listing"] is True


def test_the_recorded_handle_and_post_as_a_repost_with_its_own_author(
    make_runtime: MakeRuntime, server: ReplayServer, corpus: Path, tmp_path: Path
) -> None:
    did = json.loads(sdk(corpus, "resolve_handle").read_bytes())["did"]
    server.add_json(
        "GET",
        f"{XRPC}/com.atproto.identity.resolveHandle",
        sdk(corpus, "resolve_handle"),
        query={"handle": HANDLE},
    )
    record = recorded_post(corpus)
    reason = {
        "$type": "app.bsky.feed.defs#reasonRepost",
        "by": {"did": did, "handle": HANDLE},
        "uri": f"at://{did}/app.bsky.feed.repost/3kabcdefghij2",
        "indexedAt": "2024-02-23T08:00:00.000Z",
    }
    feed = {"feed": [{"post": post_view(record, replyCount=3), "reason": reason}]}
    serve(server, "app.bsky.feed.getAuthorFeed", feed, actor=did)
    rt = make_runtime(policy(tmp_path, server, HANDLE))
    result = capture_account(rt, ACCOUNT)
    assert result.status == "ok", result.problems
    [row] = posts(rt)
    assert row.kind == "repost" and row.native_id == reason["uri"]
    assert row.author == POST_HANDLE  # the reposted post's author, not the account
    assert rt.index.search(record["value"]["text"])
    assert not server.requests_to(f"{XRPC}/app.bsky.feed.getPostThread")  # not our thread
    [asked] = server.requests_to(f"{XRPC}/com.atproto.identity.resolveHandle")
    assert asked.query["handle"] == [HANDLE]


def probe(server: ReplayServer, native_id: str) -> DeletionProbe | None:
    account = Account(
        ACCOUNT,
        "Agency",
        "bluesky",
        "social",
        Schedule("PT1H"),
        handle=HANDLE,
        base_url=server.base_url,
    )  # type: ignore[call-arg]
    with HttpClient(allow_private=True) as http:
        return BlueskyConnector().probe_deletion(account, ReplaySession(http), native_id, None)  # type: ignore[arg-type]


def test_get_posts_with_the_recorded_post_says_it_is_there_and_without_it_gone(
    server: ReplayServer, corpus: Path
) -> None:
    record = recorded_post(corpus)
    serve(server, "app.bsky.feed.getPosts", {"posts": [post_view(record)]}, uris=record["uri"])
    present = probe(server, record["uri"])
    assert present is not None and present.deleted is False and present.record_id
    [asked] = server.requests_to(f"{XRPC}/app.bsky.feed.getPosts")
    assert asked.query["uris"] == [record["uri"]]
    other = record["uri"][:-1] + "z"
    serve(server, "app.bsky.feed.getPosts", {"posts": []}, uris=other)
    gone = probe(server, other)
    assert gone is not None and gone.deleted is True and gone.record_id
    server.add_json(
        "GET",
        f"{XRPC}/app.bsky.feed.getPosts",
        b'{"error":"InternalServerError"}',
        status=502,
        query={"uris": "at://x/app.bsky.feed.post/busy"},
    )
    assert probe(server, "at://x/app.bsky.feed.post/busy") is None  # says nothing: web URL next
    assert probe(server, "at://x/app.bsky.feed.repost/1") is None  # not a post


def test_the_recorded_get_record_answer_parses_with_the_sdk(
    server: ReplayServer, corpus: Path
) -> None:
    atproto = pytest.importorskip("atproto")
    record = recorded_post(corpus)
    server.add_json("GET", f"{XRPC}/com.atproto.repo.getRecord", sdk(corpus, "post_record"))
    client = atproto.Client(base_url=server.base_url)
    repo, _, rkey = record["uri"].removeprefix("at://").split("/")
    got = client.com.atproto.repo.get_record(
        {"repo": repo, "collection": "app.bsky.feed.post", "rkey": rkey}
    )
    assert got.uri == record["uri"] and got.value.text == record["value"]["text"]


# --- the simulator against the lexicons ---------------------------------------------------------


class Lexicons:
    """A small validator of XRPC output against lexicon JSON: objects' required fields and
    property types, integer bounds, arrays, refs and unions (by ``$type``). Refs into lexicons
    not recorded here are counted in ``unresolved`` and not followed."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.defs = {
            f"{doc['id']}#{name}": (doc["id"], body)
            for doc in docs
            for name, body in doc["defs"].items()
        }
        self.unresolved: set[str] = set()
        self.checked: set[str] = set()

    @staticmethod
    def full(ref: str, context: str) -> str:
        if ref.startswith("#"):
            return context + ref
        return ref if "#" in ref else ref + "#main"

    def check(self, value: Any, schema: dict[str, Any], context: str, path: str = "$") -> list[str]:
        kind = schema.get("type")
        errors: list[str] = []
        if kind == "ref":
            return self.check_ref(value, self.full(schema["ref"], context), path)
        if kind == "union":
            if not isinstance(value, dict) or "$type" not in value:
                return [f"{path}: a union member needs $type"]
            refs = [self.full(r, context) for r in schema["refs"]]
            tag = self.full(value["$type"], value["$type"].split("#")[0])
            if tag not in refs:
                return [] if not schema.get("closed") else [f"{path}: $type {tag} not in {refs}"]
            return self.check_ref(value, tag, path)
        if kind == "object":
            if not isinstance(value, dict):
                return [f"{path}: expected an object"]
            errors += [
                f"{path}: {name} is required"
                for name in schema.get("required", [])
                if name not in value
            ]
            for name, prop in schema.get("properties", {}).items():
                if name in value:
                    errors += self.check(value[name], prop, context, f"{path}.{name}")
            return errors
        if kind == "array":
            if not isinstance(value, list):
                return [f"{path}: expected an array"]
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                errors.append(f"{path}: more than {schema['maxLength']} items")
            for i, item in enumerate(value):
                errors += self.check(item, schema["items"], context, f"{path}[{i}]")
            return errors
        if kind == "string":
            if not isinstance(value, str):
                return [f"{path}: expected a string"]
            if schema.get("format") == "datetime" and parse_time(value) is None:
                return [f"{path}: {value!r} is not a datetime"]
            if schema.get("format") == "at-uri" and not value.startswith("at://"):
                return [f"{path}: {value!r} is not an AT-URI"]
            return []
        if kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            if (
                not ok
                or value < schema.get("minimum", value)
                or value > schema.get("maximum", value)
            ):
                return [f"{path}: {value!r} is not an integer within bounds"]
            return []
        bad_bool = not isinstance(value, bool) or value != schema.get("const", value)
        if kind == "boolean" and bad_bool:
            return [f"{path}: {value!r} is not the boolean asked"]
        return errors

    def check_ref(self, value: Any, ref: str, path: str) -> list[str]:
        if ref not in self.defs:
            self.unresolved.add(ref)
            return []
        self.checked.add(ref)
        context, body = self.defs[ref]
        return self.check(value, body, context, path)

    def output(self, method: str) -> tuple[str, dict[str, Any]]:
        context, body = self.defs[f"{method}#main"]
        return context, body["output"]["schema"]


@pytest.fixture
def lexicons(corpus: Path) -> Lexicons:
    names = ["getAuthorFeed", "getPostThread", "defs", "recordWithMedia", "video"]
    return Lexicons([lexicon(corpus, n) for n in names])


def xrpc(sim: Simulator, method: str, **params: str) -> httpx.Response:
    return httpx.get(f"{api_root(sim, simulated.APPVIEW)}/xrpc/{method}", params=params)


def test_the_simulated_author_feed_conforms_to_the_lexicon(
    sim: Simulator, lexicons: Lexicons
) -> None:
    method = "app.bsky.feed.getAuthorFeed"
    context, schema = lexicons.output(method)
    cursor = None
    pages = 0
    while True:
        params = {"actor": simulated.USGS, "limit": "10", "includePins": "true"}
        answer = xrpc(sim, method, **params, **({"cursor": cursor} if cursor else {}))
        assert answer.status_code == 200
        assert lexicons.check(answer.json(), schema, context) == []
        pages += 1
        cursor = answer.json().get("cursor")
        if not cursor:
            break
    assert pages == 3
    for ref in ("feedViewPost", "postView", "reasonRepost", "reasonPin"):
        assert f"app.bsky.feed.defs#{ref}" in lexicons.checked
    assert {"app.bsky.embed.video#view", "app.bsky.embed.recordWithMedia#view"} <= lexicons.checked


def test_the_simulated_thread_conforms_to_the_lexicon_and_honours_depth(
    sim: Simulator, lexicons: Lexicons
) -> None:
    method = "app.bsky.feed.getPostThread"
    context, schema = lexicons.output(method)
    uri = f"at://{simulated._did(simulated.USGS)}/app.bsky.feed.post/{simulated._rkey(16)}"

    def levels(node: dict[str, Any]) -> int:
        return 1 + max((levels(r) for r in node.get("replies") or []), default=0)

    for depth in (0, 1, 2, 6):
        answer = xrpc(sim, method, uri=uri, depth=str(depth))
        assert answer.status_code == 200 and lexicons.check(answer.json(), schema, context) == []
        assert levels(answer.json()["thread"]) - 1 == min(depth, 3)
    assert "app.bsky.feed.defs#threadViewPost" in lexicons.checked


def test_the_simulator_enforces_the_lexicon_parameter_bounds(sim: Simulator, corpus: Path) -> None:
    for method, name, extra in (
        ("getAuthorFeed", "limit", {"actor": simulated.USGS}),
        (
            "getPostThread",
            "depth",
            {
                "uri": f"at://{simulated._did(simulated.USGS)}/app.bsky.feed.post/{simulated._rkey(8)}"
            },
        ),
        (
            "getPostThread",
            "parentHeight",
            {
                "uri": f"at://{simulated._did(simulated.USGS)}/app.bsky.feed.post/{simulated._rkey(8)}"
            },
        ),
    ):
        bounds = lexicon(corpus, method)["defs"]["main"]["parameters"]["properties"][name]
        nsid = f"app.bsky.feed.{method}"
        for inside in (bounds["minimum"], bounds["maximum"]):
            assert xrpc(sim, nsid, **extra, **{name: str(inside)}).status_code == 200
        for outside in (bounds["minimum"] - 1, bounds["maximum"] + 1):
            answer = xrpc(sim, nsid, **extra, **{name: str(outside)})
            assert answer.status_code == 400 and answer.json()["error"] == "InvalidRequest"
            assert name in answer.json()["message"]
        required = lexicon(corpus, method)["defs"]["main"]["parameters"]["required"]
        assert xrpc(sim, nsid).json()["error"] == "InvalidRequest" and required


def test_unknown_methods_and_paths_answer_json_errors(sim: Simulator) -> None:
    unknown = xrpc(sim, "app.bsky.feed.getTimeline")
    assert unknown.status_code == 501
    assert unknown.json() == {"error": "MethodNotImplemented", "message": "Method Not Implemented"}
    stray = httpx.get(f"{api_root(sim, simulated.APPVIEW)}/nothing/here")
    assert stray.status_code == 404 and stray.headers["content-type"].startswith("application/json")
    too_many = xrpc(sim, "app.bsky.feed.getPosts")
    assert too_many.status_code == 400
    uris = "&".join(
        f"uris={quote(f'at://{simulated._did(simulated.USGS)}/app.bsky.feed.post/{simulated._rkey(i)}')}"
        for i in range(26)
    )
    assert (
        httpx.get(
            f"{api_root(sim, simulated.APPVIEW)}/xrpc/app.bsky.feed.getPosts?{uris}"
        ).status_code
        == 400
    )


def test_simulated_authors_have_the_recorded_profile_view_shape(
    sim: Simulator, corpus: Path
) -> None:
    """Every key of a simulated author is one real profile views carry, with the same type."""
    follows = json.loads(sdk(corpus, "get_follows").read_bytes())["follows"]
    recorded: dict[str, set[type]] = {}
    for profile in follows:
        for key, value in profile.items():
            recorded.setdefault(key, set()).add(type(value))
    feed = xrpc(sim, "app.bsky.feed.getAuthorFeed", actor=simulated.USGS).json()["feed"]
    authors = [e["post"]["author"] for e in feed] + [
        e["reason"]["by"] for e in feed if "by" in e.get("reason", {})
    ]
    for author in authors:
        for key, value in author.items():
            assert key in recorded and type(value) in recorded[key], key
        assert {"did", "handle"} <= author.keys()


def test_embed_media_follows_the_embed_lexicons(corpus: Path) -> None:
    """The view properties the connector takes are the ones the lexicons define as URIs."""
    video = lexicon(corpus, "video")["defs"]["view"]["properties"]
    assert video["playlist"]["format"] == "uri" and video["thumbnail"]["format"] == "uri"
    media = lexicon(corpus, "recordWithMedia")["defs"]["view"]["properties"]["media"]["refs"]
    assert "app.bsky.embed.video#view" in media and "app.bsky.embed.images#view" in media
    view = {"$type": "app.bsky.embed.video#view", "cid": "c", "playlist": "https://v/p.m3u8"}
    assert embed_media(view) == ["https://v/p.m3u8"]  # thumbnail is optional
    wrapped = {"$type": "app.bsky.embed.recordWithMedia#view", "record": {}, "media": view}
    assert embed_media(wrapped) == ["https://v/p.m3u8"]
    card = {
        "$type": "app.bsky.embed.external#view",
        "external": {"uri": "https://x", "title": "", "description": ""},
    }
    assert embed_media(card) == []

"""The simulated X API v2 keeps the real contract: field selection, expansions, documented
``max_results`` limits with X's error shape, cursors, "Not Found" inside HTTP 200, a JSON 404."""

from __future__ import annotations

import json
from typing import Any

from archiver.simulator import Simulator
from archiver.simulator.platforms.x import BASE_ID, TOKEN, _tid
from tests.test_simulator import fetch

USGS = "9000030"
FIELDS = (
    "tweet.fields=author_id,created_at,referenced_tweets,attachments,conversation_id"
    "&expansions=author_id,attachments.media_keys,referenced_tweets.id,"
    "referenced_tweets.id.author_id&media.fields=url,preview_image_url,variants,type"
    "&user.fields=username"
)


def get(sim: Simulator, path: str, token: str = TOKEN) -> tuple[int, Any]:
    reply = fetch(sim.url_for(f"https://api.x.com{path}"), {"Authorization": f"Bearer {token}"})
    return reply.status, json.loads(reply.body)


def test_default_fields_are_only_id_text_and_edit_history(sim: Simulator) -> None:
    status, page = get(sim, f"/2/users/{USGS}/tweets?max_results=100")
    assert status == 200 and "includes" not in page
    assert {k for t in page["data"] for k in t} == {"id", "text", "edit_history_tweet_ids"}
    assert page["meta"]["result_count"] == 30 and "next_token" not in page["meta"]


def test_fields_and_expansions_give_exactly_what_was_asked(sim: Simulator) -> None:
    status, page = get(sim, f"/2/users/{USGS}/tweets?max_results=100&{FIELDS}")
    assert status == 200
    asked = {"id", "text", "edit_history_tweet_ids", "author_id", "created_at"}
    assert asked <= {k for t in page["data"] for k in t}
    assert all("public_metrics" not in t for t in page["data"])
    users = page["includes"]["users"]
    assert {u["username"] for u in users} == {"USGS", "NWS"}
    assert all(set(u) == {"id", "name", "username"} for u in users)
    kinds = {m["type"] for m in page["includes"]["media"]}
    assert kinds == {"photo", "video", "animated_gif"}
    video = next(m for m in page["includes"]["media"] if m["type"] == "video")
    assert set(video) == {"media_key", "type", "preview_image_url", "variants"}
    assert {r["type"] for t in page["data"] for r in t.get("referenced_tweets", [])} == {
        "retweeted",
        "quoted",
    }
    assert len(page["includes"]["tweets"]) == 6


def test_max_results_outside_the_documented_range_is_an_invalid_request(sim: Simulator) -> None:
    status, body = get(sim, f"/2/users/{USGS}/tweets?max_results=101")
    assert status == 400
    assert body == {
        "errors": [
            {
                "parameters": {"max_results": ["101"]},
                "message": "The `max_results` query parameter value [101] is not between 5 and 100",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": sim.url_for("https://api.twitter.com/2/problems/invalid-request"),
    }
    status, body = get(sim, "/2/tweets/search/recent?query=conversation_id:1&max_results=5")
    assert status == 400 and "between 10 and 100" in body["errors"][0]["message"]
    status, body = get(sim, f"/2/users/{USGS}/tweets?tweet.fields=author_id,nonsense")
    assert status == 400 and body["errors"][0]["parameters"] == {"tweet.fields": ["nonsense"]}


def test_pages_follow_next_token_and_replies_page_too(sim: Simulator) -> None:
    _, first = get(sim, f"/2/users/{USGS}/tweets?max_results=20")
    token = first["meta"]["next_token"]
    _, second = get(sim, f"/2/users/{USGS}/tweets?max_results=20&pagination_token={token}")
    assert len(first["data"]) == 20 and len(second["data"]) == 10
    assert "next_token" not in second["meta"]
    root = _tid("USGS", 0)
    query = f"/2/tweets/search/recent?query=conversation_id:{root}&max_results=100&{FIELDS}"
    _, replies = get(sim, query)
    assert len(replies["data"]) == 100 and replies["meta"]["next_token"]
    users = {u["username"] for u in replies["includes"]["users"]}
    assert users == {"resident1", "resident2", "resident3", "USGS"}  # USGS: the replied-to
    _, rest = get(sim, f"{query}&next_token={replies['meta']['next_token']}")
    assert len(rest["data"]) == 5 and "next_token" not in rest["meta"]


def test_lookups_answer_not_found_inside_http_200_and_unknown_paths_a_json_404(
    sim: Simulator,
) -> None:
    status, found = get(sim, f"/2/tweets/{_tid('USGS', 26)}")
    assert status == 200 and found["data"]["id"] == _tid("USGS", 26)
    sim.advance()
    sim.advance()
    status, gone = get(sim, f"/2/tweets/{_tid('USGS', 26)}")
    assert status == 200 and "data" not in gone
    [error] = gone["errors"]
    assert error["title"] == "Not Found Error" and error["resource_id"] == _tid("USGS", 26)
    assert error["type"] == sim.url_for("https://api.twitter.com/2/problems/resource-not-found")
    status, many = get(sim, f"/2/tweets?ids={_tid('USGS', 25)},{BASE_ID + 1}")
    assert status == 200 and len(many["data"]) == 1 and len(many["errors"]) == 1
    status, missing = get(sim, "/2/no/such/endpoint")
    assert status == 404 and missing["errors"][0]["message"] == "Sorry, that page does not exist"
    status, denied = get(sim, f"/2/users/{USGS}/tweets", token="wrong")
    assert status == 401 and denied["title"] == "Unauthorized"

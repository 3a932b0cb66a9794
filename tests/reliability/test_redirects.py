"""A redirect the client cannot follow is archived once, flagged, and never retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.capture.http import HttpClient, HttpLimits
from archiver.capture.job import capture_account
from tests.conftest import MakeRuntime
from tests.corpus_replay import Answer, ReplayServer
from tests.platforms import ACCOUNT, platform_policy, stored_bytes

UNPARSABLE = [
    "http://[::1/feed.xml",  # an IPv6 literal never closed
    "http://127.0.0.1:abc/feed.xml",  # a port that is not a number
    "http://127.0.0.1:99999/feed.xml",  # a port out of range
    "http://exa mple.gov/feed.xml",  # a space in the host
    "http://%zz/feed.xml",  # a host that is not a name
    "javascript:alert(1)",  # not a place to fetch
]


@pytest.mark.parametrize("location", UNPARSABLE)
def test_a_302_with_an_unparsable_location_is_archived_once_and_flagged(
    tmp_path: Path, make_runtime: MakeRuntime, backend: dict[str, str], location: str
) -> None:
    if backend and location != UNPARSABLE[0]:
        pytest.skip("the client's behaviour does not depend on the backend: one case suffices")
    with ReplayServer() as server:
        server.add(Answer("GET", "/feed.xml", 302, [("Location", location)], b"moved"))
        folder = platform_policy(tmp_path / "p", "feed", url=f"{server.base_url}/feed.xml")
        rt = make_runtime(folder)
        result = capture_account(rt, ACCOUNT)
        asked = [r.path for r in server.received]
    assert asked == ["/feed.xml"], "fetched once, not retried, the Location not followed"
    assert result.status == "partial"
    assert any("Location" in p and "not followed" in p for p in result.problems), result.problems
    archived = stored_bytes(rt)
    assert b"HTTP/1.1 302" in archived and f"Location: {location}".encode() in archived
    [capture] = rt.index.list_captures(ACCOUNT)
    [exchange] = capture.ledger["exchanges"]
    assert exchange["status"] == 302 and "Location" in (exchange["error"] or "")


def test_a_redirect_to_a_host_that_never_answers_keeps_the_redirect(tmp_path: Path) -> None:
    """The redirect hop is an answer worth keeping even when its target gives none."""
    with ReplayServer() as server:
        server.add(Answer("GET", "/r", 302, [("Location", "http://127.0.0.1:9/gone")], b""))
        limits = HttpLimits(max_retries=1, backoff_base=0.0)
        with HttpClient(allow_private=True, limits=limits) as http:
            hops = http.get(f"{server.base_url}/r")
    [hop] = hops
    assert hop.status == 302 and hop.redirect_to == "http://127.0.0.1:9/gone"
    assert hop.error is not None and "not followed" in hop.error

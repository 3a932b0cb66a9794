"""The platform simulator: demo feeds round by round, URL rewriting, and injected HTTP faults.

Everything here talks to a simulator on 127.0.0.1; no test reaches another address.
"""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
import structlog

from archiver.errors import UsageError
from archiver.simulator import Simulator, original_url, rewrite_urls

USGS = "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/significant_month.atom"
NASA = "https://www.nasa.gov/news-release/feed/"
RDF = "https://www.example-agency.gov/news.rdf"
PAGE = "https://www.usa.gov/agencies/u-s-geological-survey"
DEMO = (USGS, NASA, RDF, PAGE)
DELETED_RELEASE = (
    "https://www.nasa.gov/news-release/"
    "nasa-earth-science-satellite-begins-routine-sea-level-measurements/"
)
EDITED_GUID_SUFFIX = "/www.nasa.gov/?p=720254"

# XML namespace declarations are identifiers the simulator must not rewrite; drop them before
# looking for URLs a client could follow.
_XMLNS = re.compile(rb"""xmlns(?::[\w.-]+)?\s*=\s*["'][^"']*["']""")
_ANY_URL = re.compile(rb"""https?://[^\s"'<>()]+""")


def _quiet_logger(records: list[dict[str, Any]] | None = None, level: int = logging.INFO) -> Any:
    """A logger at ``level`` that keeps events in ``records`` instead of printing them."""

    def keep(_logger: object, _method: str, event: Any) -> Any:
        if records is not None:
            records.append(dict(event))
        raise structlog.DropEvent

    return structlog.wrap_logger(
        None, processors=[keep], wrapper_class=structlog.make_filtering_bound_logger(level)
    )


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_OPENER_NO_REDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def fetch(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    follow: bool = True,
) -> Reply:
    assert urlsplit(url).hostname == "127.0.0.1", f"test tried to leave loopback: {url}"
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    opener = _OPENER if follow else _OPENER_NO_REDIRECT
    try:
        with opener.open(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(logger=_quiet_logger()) as simulator:
        yield simulator


def _raw_connection(sim: Simulator, timeout: float = 10) -> http.client.HTTPConnection:
    parts = urlsplit(sim.base_url)
    assert parts.hostname == "127.0.0.1" and parts.port
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


def _feed(sim: Simulator, real_url: str) -> Any:
    reply = fetch(sim.url_for(real_url))
    assert reply.status == 200
    parsed = feedparser.parse(reply.body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


# --- demo data, round by round ----------------------------------------------------------------


def test_round_one_feeds_parse_with_their_real_shapes(sim: Simulator) -> None:
    usgs = _feed(sim, USGS)
    assert usgs.version == "atom10"
    assert len(usgs.entries) == 4
    quake = usgs.entries[0]
    assert quake.id == "urn:earthquake-usgs-gov:us:7000r2k1"
    assert quake.title == "M 6.1 - 45 km S of Kokopo, Papua New Guinea"
    assert quake.link == sim.url_for("https://earthquake.usgs.gov/earthquakes/eventpage/us7000r2k1")
    assert quake.where["coordinates"] == (152.2617, -4.7441)
    assert {"Past Week", "Magnitude 6"} <= {tag.term for tag in quake.tags}

    nasa = _feed(sim, NASA)
    assert nasa.version == "rss20"
    assert nasa.feed.title == "NASA"
    assert len(nasa.entries) == 5
    release = nasa.entries[0]
    assert release.author == "Dana Whitfield"
    assert release.published_parsed[:3] == (2026, 3, 5)
    assert release.enclosures[0].href.startswith(sim.base_url + "/www.nasa.gov/wp-content/uploads/")

    rdf = _feed(sim, RDF)
    assert rdf.version == "rss10"
    assert len(rdf.entries) == 3

    page = fetch(sim.url_for(PAGE))
    assert page.status == 200
    assert b"<title>U.S. Geological Survey | USAGov</title>" in page.body


def test_round_two_shows_the_edit_under_the_same_guid_and_a_new_post(sim: Simulator) -> None:
    before = {entry.id: entry for entry in _feed(sim, NASA).entries}
    quakes_before = {entry.id: entry for entry in _feed(sim, USGS).entries}

    assert sim.advance() == 2

    nasa = _feed(sim, NASA)
    after = {entry.id: entry for entry in nasa.entries}
    assert len(after) == 6
    assert set(before) < set(after)
    assert nasa.entries[0].id not in before, "the new release is at the top"
    (edited_guid,) = (guid for guid in before if guid.endswith(EDITED_GUID_SUFFIX))
    assert after[edited_guid].title != before[edited_guid].title
    assert "$2.1 million" in after[edited_guid].summary
    assert "$1.8 million" in before[edited_guid].summary
    unchanged = set(before) - {edited_guid}
    assert all(after[guid].title == before[guid].title for guid in unchanged)

    quakes_after = {entry.id: entry for entry in _feed(sim, USGS).entries}
    assert set(quakes_after) == set(quakes_before)
    revised = quakes_after["urn:earthquake-usgs-gov:us:7000r2k1"]
    original = quakes_before["urn:earthquake-usgs-gov:us:7000r2k1"]
    assert original.title.startswith("M 6.1 - ")
    assert revised.title.startswith("M 6.2 - ")
    assert revised.updated_parsed > original.updated_parsed


def test_deleted_release_leaves_the_feed_and_answers_404_in_round_three(sim: Simulator) -> None:
    deleted_url = sim.url_for(DELETED_RELEASE)
    assert fetch(deleted_url).status == 200
    sim.advance()
    assert fetch(deleted_url).status == 200
    sim.advance()

    links = [entry.link for entry in _feed(sim, NASA).entries]
    assert deleted_url not in links
    assert len(links) == 5
    assert fetch(deleted_url).status == 404
    assert DELETED_RELEASE in json.loads(fetch(f"{sim.base_url}/_sim/state").body)["deleted"]


def test_same_round_serves_identical_bytes(sim: Simulator) -> None:
    for url in DEMO:
        first = fetch(sim.url_for(url))
        second = fetch(sim.url_for(url))
        assert first.body == second.body, url
        assert first.headers["ETag"] == second.headers["ETag"], url
    with Simulator(logger=_quiet_logger()) as other:
        for url in DEMO:
            mine = fetch(sim.url_for(url)).body.replace(sim.base_url.encode(), b"BASE")
            theirs = fetch(other.url_for(url)).body.replace(other.base_url.encode(), b"BASE")
            assert mine == theirs, f"{url}: only the base URL differs between two simulators"


def test_rdf_feed_and_html_page_never_change_between_rounds(sim: Simulator) -> None:
    first = {url: fetch(sim.url_for(url)).body for url in (RDF, PAGE)}
    changed = {url: fetch(sim.url_for(url)).body for url in (NASA, USGS)}
    sim.advance()
    assert {url: fetch(sim.url_for(url)).body for url in (RDF, PAGE)} == first
    assert all(fetch(sim.url_for(url)).body != changed[url] for url in (NASA, USGS))
    sim.advance()
    assert {url: fetch(sim.url_for(url)).body for url in (RDF, PAGE)} == first


def test_feeds_carry_content_type_and_validators(sim: Simulator) -> None:
    expected = {
        USGS: "application/atom+xml",
        NASA: "application/rss+xml",
        RDF: "application/rdf+xml",
        PAGE: "text/html; charset=utf-8",
    }
    for url, content_type in expected.items():
        reply = fetch(sim.url_for(url))
        assert reply.headers["Content-Type"] == content_type
        assert reply.headers["ETag"].startswith('"')
        assert reply.headers["Last-Modified"].endswith(" GMT")
        assert reply.headers["Vary"] == "Accept-Encoding"


def test_gzip_is_served_when_asked_and_decompresses_to_the_plain_body(sim: Simulator) -> None:
    for url in DEMO:
        plain = fetch(sim.url_for(url))
        packed = fetch(sim.url_for(url), {"Accept-Encoding": "gzip"})
        again = fetch(sim.url_for(url), {"Accept-Encoding": "gzip"})
        assert plain.headers["Content-Encoding"] is None
        assert packed.headers["Content-Encoding"] == "gzip"
        assert packed.body[:2] == b"\x1f\x8b"
        assert gzip.decompress(packed.body) == plain.body
        assert packed.body == again.body, "compressed bytes are deterministic"
        assert packed.body[4:8] == b"\0\0\0\0", "gzip header MTIME is 0, not the clock"
        assert packed.headers["ETag"] != plain.headers["ETag"]
        refused = fetch(sim.url_for(url), {"Accept-Encoding": "gzip;q=0, identity"})
        assert refused.body == plain.body


def test_conditional_get_answers_304_until_the_feed_changes(sim: Simulator) -> None:
    url = sim.url_for(NASA)
    first = fetch(url)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert fetch(url, {"If-None-Match": etag}).status == 304
    assert fetch(url, {"If-Modified-Since": last_modified}).status == 304
    sim.advance()
    changed = fetch(url, {"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["ETag"] != etag


def test_every_link_in_every_demo_body_points_at_the_simulator_and_resolves(
    sim: Simulator,
) -> None:
    base = sim.base_url.encode()
    for round_ in (1, 2, 3):
        assert sim.round == round_
        queue = [sim.url_for(url) for url in DEMO]
        seen, fetched = set(queue), 0
        while queue:
            url = queue.pop()
            reply = fetch(url)
            fetched += 1
            # A deleted release is no longer linked from anywhere, so every link resolves.
            assert reply.status == 200, url
            if not reply.headers["Content-Type"].startswith(("text/", "application/")):
                continue
            for found in _ANY_URL.findall(_XMLNS.sub(b"", reply.body)):
                assert found.startswith(base + b"/"), f"{found!r} in {url} leaves loopback"
                link = found.decode().replace("&amp;", "&")
                if link not in seen:
                    seen.add(link)
                    queue.append(link)
        assert fetched > 30, "the crawl reached event pages, articles, images and stylesheets"
        sim.advance()


def test_media_and_unknown_pages_get_deterministic_placeholders(sim: Simulator) -> None:
    image = fetch(f"{sim.base_url}/www.nasa.gov/wp-content/uploads/2026/03/resupply-rollout.jpg")
    assert image.status == 200
    assert image.headers["Content-Type"] == "image/png"
    assert image.body.startswith(b"\x89PNG\r\n\x1a\n")
    other = fetch(f"{sim.base_url}/www.nasa.gov/wp-content/uploads/2026/03/other.webp")
    assert other.body != image.body, "each image URL has its own bytes"
    again = fetch(f"{sim.base_url}/www.nasa.gov/wp-content/uploads/2026/03/resupply-rollout.jpg")
    assert again.body == image.body
    page = fetch(f"{sim.base_url}/www.usgs.gov/some/unknown/page")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<html" in page.body


# --- URL rewriting ----------------------------------------------------------------------------


def test_rewrite_urls_points_links_at_base_and_keeps_identifiers() -> None:
    base = "http://127.0.0.1:8765"
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><link href="https://www.nasa.gov/a?b=1"/>'
        b"<img src='http://cdn.example.org:8080/x.png'> http://127.0.0.1:8765/www.usa.gov/</feed>"
    )
    rewritten = rewrite_urls(body, base, "application/atom+xml")
    assert rewritten == (
        b'<feed xmlns="http://www.w3.org/2005/Atom">'
        b'<link href="http://127.0.0.1:8765/www.nasa.gov/a?b=1"/>'
        b"<img src='http://127.0.0.1:8765/cdn.example.org:8080/x.png'>"
        b" http://127.0.0.1:8765/www.usa.gov/</feed>"
    )
    assert rewrite_urls(rewritten, base, "application/atom+xml") == rewritten


def test_rewrite_urls_handles_json_escapes_and_leaves_binary_alone() -> None:
    base = "http://127.0.0.1:8765"
    escaped = b'{"url": "https:\\/\\/www.nasa.gov\\/x", "@context": "https://www.w3.org/ns/as"}'
    assert rewrite_urls(escaped, base, "application/json") == (
        b'{"url": "http:\\/\\/127.0.0.1:8765\\/www.nasa.gov\\/x", '
        b'"@context": "https://www.w3.org/ns/as"}'
    )
    binary = b"\x89PNG https://www.nasa.gov/x"
    assert rewrite_urls(binary, base, "image/png") == binary


def test_original_url_inverts_the_simulator_url(sim: Simulator) -> None:
    for url in DEMO:
        assert original_url(sim.url_for(url), sim.base_url) == url
    fault = f"{sim.base_url}/_fault/hang"
    assert original_url(fault, sim.base_url) == fault


# --- faults -----------------------------------------------------------------------------------


def test_malformed_feed_is_served_with_200_and_fails_to_parse(sim: Simulator) -> None:
    reply = fetch(f"{sim.base_url}/_fault/malformed.xml")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/rss+xml"
    assert feedparser.parse(reply.body).bozo


def test_truncated_feed_announces_full_length_but_sends_half(sim: Simulator) -> None:
    connection = _raw_connection(sim)
    connection.request("GET", "/_fault/truncated.rss")
    response = connection.getresponse()
    announced = int(response.getheader("Content-Length") or 0)
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert 0 < len(caught.value.partial) < announced
    connection.close()


def test_big_body_is_streamed_chunked_without_content_length(sim: Simulator) -> None:
    size = 3 * 65536 + 17
    connection = _raw_connection(sim)
    connection.request("GET", f"/_fault/big?bytes={size}")
    response = connection.getresponse()
    assert response.getheader("Content-Length") is None
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert len(response.read()) == size
    connection.close()


def test_big_body_defaults_to_fifty_mebibytes(sim: Simulator) -> None:
    connection = _raw_connection(sim)
    connection.request("GET", "/_fault/big")
    response = connection.getresponse()
    total = 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
    assert total == 50 * 1024 * 1024
    connection.close()


def test_slow_fault_sends_headers_before_the_body(sim: Simulator) -> None:
    quick = fetch(f"{sim.base_url}/_fault/slow?seconds=0")
    assert quick.status == 200
    assert feedparser.parse(quick.body).entries

    connection = _raw_connection(sim)
    connection.request("GET", "/_fault/slow?seconds=30")
    response = connection.getresponse()
    assert response.status == 200
    assert connection.sock is not None
    connection.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        response.read()
    connection.close()


def test_hang_fault_accepts_and_never_answers(sim: Simulator) -> None:
    connection = _raw_connection(sim, timeout=0.2)
    connection.request("GET", "/_fault/hang")
    with pytest.raises(TimeoutError):
        connection.getresponse()
    connection.close()


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_status_fault_answers_the_asked_status(sim: Simulator, status: int) -> None:
    reply = fetch(f"{sim.base_url}/_fault/status/{status}")
    assert reply.status == status
    assert reply.body.startswith(str(status).encode())


def test_status_fault_rejects_nonsense(sim: Simulator) -> None:
    assert fetch(f"{sim.base_url}/_fault/status/abc").status == 400
    assert fetch(f"{sim.base_url}/_fault/status/99").status == 400


def test_rate_limit_fault_answers_429_once_per_key(sim: Simulator) -> None:
    url = f"{sim.base_url}/_fault/429?key=nasa&after=7"
    first = fetch(url)
    assert first.status == 429
    assert first.headers["Retry-After"] == "7"
    second = fetch(url)
    assert second.status == 200
    assert feedparser.parse(second.body).entries
    assert fetch(f"{sim.base_url}/_fault/429?key=usgs&after=7").status == 429
    sim.reset()
    assert fetch(url).status == 429


def test_redirect_fault_sends_the_client_anywhere_without_following(sim: Simulator) -> None:
    target = "http://169.254.169.254/latest/meta-data/"
    reply = fetch(f"{sim.base_url}/_fault/redirect?to={target}", follow=False)
    assert reply.status == 302
    assert reply.headers["Location"] == target


def test_redirect_chain_takes_n_hops_and_ends_in_a_feed(sim: Simulator) -> None:
    hops, path = 0, "/_fault/redirect-chain?n=3"
    while True:
        reply = fetch(f"{sim.base_url}{path}", follow=False)
        if reply.status != 302:
            break
        hops += 1
        location = reply.headers["Location"]
        assert location.startswith(sim.base_url + "/")
        path = location.removeprefix(sim.base_url)
    assert hops == 3
    assert reply.status == 200
    assert feedparser.parse(reply.body).entries
    assert fetch(f"{sim.base_url}/_fault/redirect-chain?n=2").status == 200


# --- control, corpus, lifecycle, logging --------------------------------------------------------


def test_control_endpoints_advance_report_and_reset(sim: Simulator) -> None:
    state = json.loads(fetch(f"{sim.base_url}/_sim/state").body)
    assert state["round"] == 1
    assert {route["url"] for route in state["routes"]} == set(DEMO)
    assert fetch(f"{sim.base_url}/_sim/advance").status == 405

    advanced = fetch(f"{sim.base_url}/_sim/advance", method="POST")
    assert advanced.status == 200
    assert json.loads(advanced.body)["round"] == 2
    assert sim.round == 2
    assert len(_feed(sim, NASA).entries) == 6

    reset = fetch(f"{sim.base_url}/_sim/reset", method="POST")
    assert json.loads(reset.body)["round"] == 1
    assert len(_feed(sim, NASA).entries) == 5


def test_corpus_files_are_served_with_urls_rewritten(tmp_path: Path) -> None:
    (tmp_path / "mastodon").mkdir()
    (tmp_path / "mastodon" / "statuses.json").write_text(
        '[{"url": "https://mastodon.social/@NASA/1", "media": "https:\\/\\/files.example\\/a.png"}]'
    )
    (tmp_path / "secret.txt").write_text("outside")
    with Simulator(corpus_dir=tmp_path / "mastodon", logger=_quiet_logger()) as sim:
        reply = fetch(f"{sim.base_url}/_corpus/statuses.json")
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "application/json"
        assert json.loads(reply.body) == [
            {
                "url": f"{sim.base_url}/mastodon.social/@NASA/1",
                "media": f"{sim.base_url}/files.example/a.png",
            }
        ]
        assert fetch(f"{sim.base_url}/_corpus/..%2Fsecret.txt").status == 404
        assert fetch(f"{sim.base_url}/_corpus/missing.json").status == 404
    with Simulator(corpus_dir=tmp_path / "absent", logger=_quiet_logger()) as sim:
        assert sim.corpus_dir is None
        assert fetch(f"{sim.base_url}/_corpus/statuses.json").status == 404


def test_simulator_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(UsageError, match="loopback"):
        Simulator(host="0.0.0.0")
    with pytest.raises(UsageError, match="loopback"):
        Simulator(host="192.168.1.10")


def test_stopped_simulator_frees_its_port_and_ends_hanging_requests() -> None:
    sim = Simulator(logger=_quiet_logger())
    base = sim.start()
    assert sim.start() == base
    connection = _raw_connection(sim)
    connection.request("GET", "/_fault/hang")
    sim.stop()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    connection.close()
    with pytest.raises(OSError):
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(base, timeout=2)
    sim.stop()


def test_requests_are_logged_at_debug_only() -> None:
    debug_records: list[dict[str, Any]] = []
    info_records: list[dict[str, Any]] = []
    with Simulator(logger=_quiet_logger(debug_records, logging.DEBUG)) as sim:
        fetch(sim.url_for(NASA))
    with Simulator(logger=_quiet_logger(info_records, logging.INFO)) as sim:
        fetch(sim.url_for(NASA))
    requests = [r for r in debug_records if r["event"] == "simulator.request"]
    assert requests == [
        {
            "event": "simulator.request",
            "method": "GET",
            "path": "/www.nasa.gov/news-release/feed/",
            "status": 200,
            "size": "-",
        }
    ]
    assert info_records == []

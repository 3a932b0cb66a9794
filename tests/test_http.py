"""The capture HTTP client: exact bytes, caps, redirects, Retry-After, guard, redaction."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime

import httpx
import pytest

from archiver.capture.http import (
    REDACTED,
    HttpClient,
    HttpLimits,
    redact_request_bytes,
    redact_url,
)
from archiver.capture.netguard import is_public_address, resolve_checked
from archiver.capture.ratelimit import wait_from_headers
from archiver.clock import FrozenClock
from archiver.errors import NetworkGuardError
from archiver.simulator import Simulator

NASA = "/www.nasa.gov/news-release/feed/"


def client(**limits: object) -> HttpClient:
    return HttpClient(
        limits=HttpLimits(**limits),
        allow_private=True,  # type: ignore[arg-type]
        clock=FrozenClock(datetime(2026, 11, 24, tzinfo=UTC)),
    )


def test_response_bytes_are_exactly_as_received_with_gzip(sim: Simulator) -> None:
    with client() as http:
        [ex] = http.get(sim.base_url + NASA)
    raw = b"".join(ex.iter_raw())
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Encoding: gzip" in head
    assert body[:2] == b"\x1f\x8b", "the body is kept compressed, as it came over the wire"
    assert gzip.decompress(body) == ex.content()
    assert b"<rss" in ex.content()
    assert ex.raw_length == len(raw)


def test_secrets_are_redacted_in_request_bytes_and_url(sim: Simulator) -> None:
    with client() as http:
        [ex] = http.get(
            sim.base_url + NASA + "?access_token=s3cr3t&page=2",
            headers={"Authorization": "Bearer s3cr3t"},
        )
    assert b"s3cr3t" not in ex.request_bytes
    assert b"Authorization: " + REDACTED.encode() in ex.request_bytes
    assert "s3cr3t" not in ex.url and "page=2" in ex.url
    assert redact_url("https://x/a?key=K&b=1") == "https://x/a?key=%5BREDACTED%5D&b=1".replace(
        "%5BREDACTED%5D", "[REDACTED]"
    )


def test_redact_request_bytes_keeps_other_headers() -> None:
    raw = b"GET /a?token=abc HTTP/1.1\r\nHost: x\r\nCookie: sid=1\r\nAccept: */*\r\n\r\n"
    red = redact_request_bytes(raw)
    assert b"abc" not in red and b"sid=1" not in red
    assert b"Host: x\r\n" in red and b"Accept: */*" in red


def test_redirects_are_each_recorded(sim: Simulator) -> None:
    with client() as http:
        hops = http.get(sim.base_url + "/_fault/redirect-chain?n=3")
    assert [h.status for h in hops[:-1]] == [302, 302, 302]
    assert hops[-1].status == 200
    assert all(h.raw_length > 0 for h in hops)


def test_oversized_response_is_capped_and_flagged(sim: Simulator) -> None:
    cap = 256 * 1024
    with client(max_response_bytes=cap) as http:
        [ex] = http.get(sim.base_url + "/_fault/big?bytes=5000000")
    assert ex.truncated == "length"
    assert ex.raw_length < 5_000_000 and ex.body_length < 5_000_000
    assert max(ex.raw_length, ex.body_length) > cap  # stopped right after crossing the cap


def test_truncated_body_is_kept_and_flagged(sim: Simulator) -> None:
    with client() as http:
        [ex] = http.get(sim.base_url + "/_fault/truncated.rss")
    assert ex.truncated == "disconnect"
    assert ex.status == 200 and ex.body_length > 0


def test_retry_after_is_honoured_with_the_injected_clock(sim: Simulator) -> None:
    http = client()
    with http:
        hops = http.get(sim.base_url + "/_fault/429?key=retry-test&after=7")
    assert [h.status for h in hops] == [429, 200]
    assert http.clock.slept == [7.0]  # type: ignore[attr-defined]


def test_retry_after_beyond_the_limit_is_not_waited(sim: Simulator) -> None:
    http = client(max_retry_after=5)
    with http:
        hops = http.get(sim.base_url + "/_fault/429?key=long-wait&after=3600")
    assert [h.status for h in hops] == [429]
    assert http.clock.slept == []  # type: ignore[attr-defined]


def test_wait_from_retry_after_and_platform_reset_headers() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def wait(**headers: str) -> float | None:
        return wait_from_headers(
            httpx.Headers({k.replace("_", "-"): v for k, v in headers.items()}), now
        )

    assert wait(retry_after="Tue, 24 Nov 2026 12:00:30 GMT") == 30
    assert wait(retry_after="120") == 120
    assert wait(retry_after="soon") is None
    assert wait(x_ratelimit_reset="2026-11-24T12:05:00.000Z") == 300  # Mastodon
    assert wait(x_rate_limit_reset=str(int(now.timestamp()) + 900)) == 900  # X
    assert wait(ratelimit_reset="42") == 42  # IETF draft: delta seconds
    assert wait(retry_after="5", x_ratelimit_reset="2026-11-24T13:00:00Z") == 5  # Retry-After wins


def test_loopback_is_refused_without_the_allow_flag(sim: Simulator) -> None:
    with HttpClient() as http, pytest.raises(NetworkGuardError, match="ALLOW_PRIVATE_NETWORKS"):
        http.get(sim.base_url + NASA)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fd00:ec2::254",
        "::ffff:10.0.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "fe80::1",
    ],
)
def test_private_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)
    with pytest.raises(NetworkGuardError):
        resolve_checked(address, 80, allow_private=False)


def test_public_addresses_pass_the_guard() -> None:
    assert is_public_address("93.184.216.34") and is_public_address("2606:4700::1111")
    assert resolve_checked("93.184.216.34", 443, allow_private=False) == ["93.184.216.34"]


def test_redirect_to_a_private_address_is_refused(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A public page may not redirect the client into the private network (cloud metadata)."""
    from archiver.capture import netguard

    # Let the simulator's own address stand in for a public server; everything else is real.
    monkeypatch.setattr(netguard, "is_public_address", lambda address: address == "127.0.0.1")
    target = "http://169.254.169.254/latest/meta-data/"
    with (
        HttpClient(clock=FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))) as http,
        pytest.raises(NetworkGuardError, match=re.escape("169.254.169.254")),
    ):
        http.get(f"{sim.base_url}/_fault/redirect?to={target}")


def test_read_timeout_cuts_the_exchange(sim: Simulator) -> None:
    with client(read_timeout=0.3) as http:
        [ex] = http.get(sim.base_url + "/_fault/slow?seconds=3")
    assert ex.truncated == "time"

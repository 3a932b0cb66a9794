"""Retries and rate limits: transient failures asked again with backoff, 429s closing the host for
every capture that shares the gate (in-process, or through the real Redis); on an injected clock.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from archiver.capture.http import HttpClient, HttpLimits
from archiver.capture.ratelimit import HostGate, LocalHostGate, RedisHostGate
from archiver.clock import FrozenClock
from archiver.errors import ConnectionFailedError
from archiver.simulator import Simulator
from tests.platforms import api_root

HOST = "social.example.gov"
STATUSES = "/api/v1/accounts/1001/statuses"
REDIS_URL = "redis://127.0.0.1:6379/0"


def client(clock: FrozenClock, gate: HostGate | None = None, **limits: object) -> HttpClient:
    return HttpClient(
        limits=HttpLimits(**limits),  # type: ignore[arg-type]
        allow_private=True,
        clock=clock,
        gate=gate,
        rng=random.Random(7),
    )


def statuses_url(sim: Simulator) -> str:
    return api_root(sim, HOST) + STATUSES


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))


@pytest.fixture(params=["local", "redis"])
def gate(request: pytest.FixtureRequest, clock: FrozenClock) -> Iterator[HostGate]:
    """The same tests over the in-process gate and the real Redis shared by workers."""
    if request.param == "local":
        yield LocalHostGate(clock)
        return
    shared = RedisHostGate(REDIS_URL)
    shared.PREFIX = f"archiver-test-{uuid.uuid4().hex[:8]}:"  # type: ignore[misc]
    try:
        shared.wait_time("probe")
    except Exception as exc:
        pytest.fail(f"Redis at {REDIS_URL} is not answering: {exc}; start redis-server")
    yield shared
    shared._redis.delete(*shared._redis.keys(shared.PREFIX + "*") or ["none"])


def test_server_errors_are_retried_with_growing_jittered_backoff(
    sim: Simulator, clock: FrozenClock
) -> None:
    sim.inject_fault(HOST + STATUSES, "503", count=2)
    retries: list[tuple[str, str]] = []
    with client(clock, backoff_base=1.0) as http:
        http.on_retry = lambda host, reason: retries.append((host, reason))
        hops = http.get(statuses_url(sim))
    assert [h.status for h in hops] == [503, 503, 200]  # every answer kept, for the WARC
    first, second = clock.slept
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0
    assert [reason for _, reason in retries] == ["http 503", "http 503"]


def test_a_persistent_server_error_is_given_up_after_the_retries(
    sim: Simulator, clock: FrozenClock
) -> None:
    sim.inject_fault(HOST + STATUSES, "500", count=10)
    with client(clock, max_retries=2) as http:
        hops = http.get(statuses_url(sim))
    assert [h.status for h in hops] == [500, 500, 500]
    assert len(clock.slept) == 2


def test_not_found_is_permanent_and_not_retried(sim: Simulator, clock: FrozenClock) -> None:
    with client(clock) as http:
        hops = http.get(api_root(sim, HOST) + "/api/v1/accounts/999999/statuses")
    assert [h.status for h in hops] == [404]
    assert clock.slept == []


def test_a_connection_refused_is_retried_then_reported(clock: FrozenClock) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with client(clock, max_retries=3) as http, pytest.raises(ConnectionFailedError) as caught:
        http.get(f"http://127.0.0.1:{port}/feed")
    assert len(clock.slept) == 3
    assert "before a response" in str(caught.value)


def test_a_429_closes_the_host_for_every_capture_sharing_the_gate(
    sim: Simulator, clock: FrozenClock, gate: HostGate
) -> None:
    sim.inject_fault(HOST + STATUSES, "429", retry_after=7)
    with client(clock, gate, max_retries=0) as first:
        assert [h.status for h in first.get(statuses_url(sim))] == [429]
    assert clock.slept == []  # that capture gave up (no retries left)...
    with client(clock, gate) as second:
        hops = second.get(statuses_url(sim))
    assert [h.status for h in hops] == [200]
    (waited,) = clock.slept  # ...and the next request to the host waited the platform's time
    assert 6.5 <= waited <= 7.0


def test_mastodon_reset_header_is_waited_out(sim: Simulator) -> None:
    clock = FrozenClock(datetime.now(UTC))  # the reset is an absolute time on the server's clock
    sim.inject_fault(HOST + STATUSES, "429-reset", retry_after=30)
    with client(clock) as http:
        hops = http.get(statuses_url(sim))
    assert [h.status for h in hops] == [429, 200]
    (waited,) = clock.slept
    assert 28.0 <= waited <= 31.0


def test_a_wait_longer_than_allowed_is_not_made_but_remembered(
    sim: Simulator, clock: FrozenClock, gate: HostGate
) -> None:
    sim.inject_fault(HOST + STATUSES, "429", retry_after=3600)
    with client(clock, gate, max_retry_after=60) as http:
        hops = http.get(statuses_url(sim))
        assert [h.status for h in hops] == [429]
        assert "not waited" in hops[0].notes[0]
        assert gate.wait_time("127.0.0.1") > 3000  # other captures will not hammer the host
    assert clock.slept == []

"""Per-host rate limits: when a platform says "wait", every capture in the process (or, with Redis,
on every worker) waits before it asks that host again.

A :class:`HostGate` remembers until when each host is closed. :class:`LocalHostGate` keeps that in
memory over the injected clock (one daemon, its thread pool); :class:`RedisHostGate` keeps it in
Redis keys that expire by themselves, shared by Celery workers on any number of machines.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from archiver.clock import Clock, SystemClock

EPOCH_THRESHOLD = 1_000_000_000.0
"""A reset value above this is a Unix time, below it a number of seconds (platforms use both)."""

RESET_HEADERS = ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")
"""Mastodon sends an ISO time, X and Bluesky Unix seconds, the IETF draft delta seconds."""


def wait_from_headers(headers: httpx.Headers, now: datetime) -> float | None:
    """Seconds a rate-limited answer asks us to wait: ``Retry-After`` first, then the platforms'
    reset headers. None when the answer names no time."""
    retry_after = headers.get("retry-after")
    if retry_after:
        seconds = _seconds_until(retry_after, now, http_date=True)
        if seconds is not None:
            return seconds
    for name in RESET_HEADERS:
        value = headers.get(name)
        if value:
            seconds = _seconds_until(value, now, http_date=False)
            if seconds is not None:
                return seconds
    return None


def _seconds_until(value: str, now: datetime, *, http_date: bool) -> float | None:
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None and not math.isfinite(number):
        number = None  # "inf", "nan": no usable time named
    if number is not None:
        if number > EPOCH_THRESHOLD:
            return max(0.0, number - now.timestamp())
        return max(0.0, number)
    try:
        when = parsedate_to_datetime(value) if http_date else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


class HostGate(Protocol):
    """Until when each host asked not to be contacted."""

    def wait_time(self, host: str) -> float:
        """Seconds before ``host`` may be asked again (0 when it is open)."""
        ...

    def close_for(self, host: str, seconds: float) -> None:
        """Keep ``host`` closed for ``seconds`` from now (never shortens a longer closure)."""
        ...


class LocalHostGate:
    """In-memory gate for one process, over the injected clock; thread-safe."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def wait_time(self, host: str) -> float:
        with self._lock:
            until = self._until.get(host)
        if until is None:
            return 0.0
        return max(0.0, (until - self.clock.now()).total_seconds())

    def close_for(self, host: str, seconds: float) -> None:
        until = self.clock.now() + timedelta(seconds=max(0.0, seconds))
        with self._lock:
            if host not in self._until or self._until[host] < until:
                self._until[host] = until


class RedisHostGate:
    """Gate shared through Redis: one key per host, expiring when the host opens again."""

    PREFIX = "archiver:host-closed:"

    def __init__(self, url: str) -> None:
        import redis  # the distributed extra

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def wait_time(self, host: str) -> float:
        remaining = int(self._redis.pttl(self.PREFIX + host))
        return max(0.0, remaining / 1000.0)

    def close_for(self, host: str, seconds: float) -> None:
        millis = max(1, int(seconds * 1000))
        key = self.PREFIX + host
        # SET ... GT-like: only lengthen. PTTL then PX is a race between two workers, which at
        # worst keeps the shorter of two near-equal closures; both honour the platform's wait.
        if int(self._redis.pttl(key)) < millis:
            self._redis.set(key, b"1", px=millis)


__all__ = ["HostGate", "LocalHostGate", "RedisHostGate", "wait_from_headers"]

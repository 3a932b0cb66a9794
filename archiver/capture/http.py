"""The one HTTP client captures use.

It hands connectors :class:`Exchange` objects holding the exact bytes that crossed the wire
(request as sent, with secrets redacted; response status line, headers and body as received,
including chunked framing and Content-Encoding), so WARC records are faithful. The bytes are
teed from the socket by a custom httpcore network backend, which is also where the
private-network guard runs: after DNS resolution, connecting to the checked address only.
"""

from __future__ import annotations

import contextvars
import random
import re
import tempfile
import time
import typing
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from archiver.capture.netguard import resolve_checked
from archiver.capture.ratelimit import HostGate, LocalHostGate, wait_from_headers
from archiver.capture.redact import REDACTED, Redactor, redact_url
from archiver.clock import Clock, SystemClock
from archiver.errors import ConnectionFailedError, NetworkGuardError, RateLimitedError
from archiver.logging import get_logger

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token", "api-key"}
)
SPOOL_IN_MEMORY = 1024 * 1024  # bodies above this spill to a temporary file
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
"""Answers worth asking again; 401/403/404 are permanent and end the capture with a reason."""

_current: contextvars.ContextVar[_WireTap | None] = contextvars.ContextVar(
    "archiver_wire_tap", default=None
)


def redact_request_bytes(raw: bytes) -> bytes:
    """The raw HTTP request with secret header values and query parameters redacted.

    Only the head (request line and headers) is rewritten; the body is kept as sent.
    """
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, _, rest = lines[0].partition(b" ")
    target, _, version = rest.rpartition(b" ")
    out = [b" ".join([method, redact_url(target.decode("latin-1")).encode("latin-1"), version])]
    for line in lines[1:]:
        name, colon, _ = line.partition(b":")
        if colon and name.strip().lower().decode("latin-1") in SECRET_HEADERS:
            out.append(name + b": " + REDACTED.encode())
        else:
            out.append(line)
    return b"\r\n".join(out) + sep + body


class _WireTap:
    """Collects the bytes of one exchange as they cross the socket."""

    def __init__(self) -> None:
        self.sent = bytearray()
        # Owned by the Exchange built from this tap; closed by Exchange.close().
        self.received: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_IN_MEMORY
        )
        self.received_length = 0
        self.peer: str | None = None

    def on_write(self, data: bytes) -> None:
        self.sent += data

    def on_read(self, data: bytes) -> None:
        self.received.write(data)
        self.received_length += len(data)


class _TappedStream(httpcore.NetworkStream):
    """A network stream that copies what it reads and writes into the current exchange's tap."""

    def __init__(self, inner: httpcore.NetworkStream, peer: str) -> None:
        self._inner = inner
        self._peer = peer

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, timeout)
        tap = _current.get()
        if tap is not None and data:
            tap.on_read(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        tap = _current.get()
        if tap is not None:
            tap.peer = self._peer
            tap.on_write(buffer)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _TappedStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._peer
        )

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """Resolves, checks against the private-network guard, connects to the checked address."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, allow_private=self.allow_private)
        last: Exception | None = None
        for address in addresses:
            try:
                inner = super().connect_tcp(address, port, timeout, local_address, socket_options)
                return _TappedStream(inner, address)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


@dataclass(frozen=True)
class HttpLimits:
    """Timeouts and caps for one client; pass your own in tests."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_response_bytes: int = 200 * 1024 * 1024
    max_redirects: int = 10
    max_retry_after: float = 120.0
    max_retries: int = 3  # further attempts after a transient failure (5xx, 429, reset)
    backoff_base: float = 1.0  # seconds before the first retry; doubled each time, with jitter
    backoff_max: float = 60.0
    # a response still arriving after this many seconds is cut (``WARC-Truncated: time``): a
    # server trickling bytes never holds a capture longer than this
    response_deadline: float = 300.0
    user_agent: str = "archiver/0.1"


@dataclass
class Exchange:
    """One HTTP request and its response, with the exact wire bytes.

    ``url`` is redacted (safe to store); ``request_bytes`` is redacted. ``raw`` holds the response
    as received (status line, headers, framed body) and ``body`` the decoded entity for parsing.
    ``truncated`` follows WARC-Truncated values: ``length``, ``time``, ``disconnect``.
    """

    url: str
    method: str
    started_at: datetime
    request_bytes: bytes
    status: int
    reason: str
    headers: httpx.Headers
    http_version: str
    raw: IO[bytes]
    raw_length: int
    body: IO[bytes]
    body_length: int
    peer: str | None = None
    truncated: str | None = None
    error: str | None = None
    redirect_to: str | None = None
    # why the redirect this answer asks for was not followed (an unparsable Location, a target
    # that never answered): the answer is kept as the final one and the capture flags it
    unfollowed: str | None = None
    notes: list[str] = field(default_factory=list)

    def content(self) -> bytes:
        """The decoded body (Content-Encoding removed), whole. For feeds and pages, not media."""
        self.body.seek(0)
        return self.body.read()

    def iter_raw(self, chunk: int = 64 * 1024) -> Iterator[bytes]:
        """The response bytes as received, in chunks."""
        self.raw.seek(0)
        while data := self.raw.read(chunk):
            yield data

    def close(self) -> None:
        self.raw.close()
        self.body.close()


class HttpClient:
    """Fetches URLs for captures. One instance per capture job; not thread-safe.

    Guarantees: connects only to public addresses unless ``allow_private``; never holds a response
    body above ``max_response_bytes`` (the rest is cut and the exchange marked ``length``);
    records every redirect hop as its own exchange; retries transient failures (timeouts, resets,
    5xx) with exponential backoff and jitter, and 429s after ``Retry-After`` or the platform's
    reset header, closing that host for every capture sharing the ``gate``; never stores a secret
    header or token parameter. Every attempt that got an answer is kept as an exchange, so the
    WARC shows the 503 before the 200.
    """

    def __init__(
        self,
        *,
        limits: HttpLimits | None = None,
        allow_private: bool = False,
        clock: Clock | None = None,
        headers: dict[str, str] | None = None,
        gate: HostGate | None = None,
        rng: random.Random | None = None,
        on_retry: Callable[[str, str], None] | None = None,
    ) -> None:
        self.limits = limits or HttpLimits()
        self.clock = clock or SystemClock()
        self.gate = gate or LocalHostGate(self.clock)
        self.rng = rng or random.Random()
        self.on_retry = on_retry
        self.retries = 0
        self.log = get_logger()
        # the capture registers its secrets here, so no log line or error names them
        self.redactor = Redactor()
        transport = httpx.HTTPTransport(retries=0)
        # httpx has no public hook for the network backend; the pool is rebuilt with ours.
        transport._pool = httpcore.ConnectionPool(
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private=allow_private),
            retries=0,
        )
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout),
            follow_redirects=False,
            event_hooks={"response": [_set_aside_unfollowable_location]},
            headers={
                "User-Agent": self.limits.user_agent,
                "Accept-Encoding": "gzip, deflate",
                **(headers or {}),
            },
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> list[Exchange]:
        """GET ``url``, following redirects; returns every hop, the final answer last.

        See :meth:`request` for what it raises.
        """
        return self.request("GET", url, headers=headers)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> list[Exchange]:
        """Send ``method`` with body ``content`` to ``url``, following redirects (a 307/308
        repeats the method and body, any other redirect becomes a GET, as browsers do); returns
        every hop, the final answer last.

        Raises :class:`NetworkGuardError` for a refused address, :class:`RateLimitedError` when
        the host asks for a longer wait than ``max_retry_after``, and
        :class:`ConnectionFailedError` when no response at all could be had after the retries.
        """
        hops: list[Exchange] = []
        headers = dict(headers or {})
        current = url
        attempt = 0
        method = method.upper()
        while True:
            self._wait_for_gate(current)
            try:
                exchange = self._fetch_once(current, headers, method, content)
            except ConnectionFailedError as exc:
                if attempt >= self.limits.max_retries:
                    if hops:  # the redirect that led here is an answer: keep it, flagged
                        hops[-1].unfollowed = f"the redirect was not followed: {exc}"
                        hops[-1].error = _joined(hops[-1].error, hops[-1].unfollowed)
                        return hops
                    raise
                attempt += 1
                self._back_off(current, attempt, "connection", str(exc))
                continue
            hops.append(exchange)
            if exchange.status in TRANSIENT_STATUS:
                wait = wait_from_headers(exchange.headers, self.clock.now())
                if exchange.status == 429 or wait is not None:
                    seconds = wait if wait is not None else self._backoff_seconds(attempt + 1)
                    self.gate.close_for(host_of(current), seconds)  # for every sharing capture
                    if seconds > self.limits.max_retry_after:
                        exchange.notes.append(f"rate limited for {seconds:.0f} s; not waited")
                        return hops  # the next scheduled capture tries again
                if attempt >= self.limits.max_retries:
                    return hops
                attempt += 1
                if exchange.status == 429 or wait is not None:
                    self._note_retry(current, f"http {exchange.status}", seconds)
                else:
                    self._back_off(current, attempt, f"http {exchange.status}", exchange.reason)
                continue  # the gate makes a rate limit's wait before the next attempt
            if exchange.redirect_to is None:
                return hops
            if len(hops) > self.limits.max_redirects:
                exchange.notes.append(f"stopped after {self.limits.max_redirects} redirects")
                return hops
            if host_of(exchange.redirect_to) != host_of(current):
                headers = {}  # never hand credentials to another host
            if exchange.status not in (307, 308):
                method, content = "GET", None
                headers.pop("Content-Type", None)
            current = exchange.redirect_to

    def _wait_for_gate(self, url: str) -> None:
        host = host_of(url)
        wait = self.gate.wait_time(host)
        if wait <= 0:
            return
        if wait > self.limits.max_retry_after:
            raise RateLimitedError(
                f"{host} asked not to be contacted for {wait:.0f} s more (rate limit), longer "
                f"than ARCHIVER_HTTP_MAX_RETRY_AFTER={self.limits.max_retry_after:.0f}; the next "
                "scheduled capture tries again"
            )
        self.log.info("http.rate_limited_wait", host=host, seconds=round(wait, 3))
        self.clock.sleep(wait)

    def _backoff_seconds(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        cap = min(self.limits.backoff_max, self.limits.backoff_base * 2.0 ** (attempt - 1))
        return cap / 2 + self.rng.uniform(0, cap / 2)

    def _back_off(self, url: str, attempt: int, reason: str, detail: str) -> None:
        seconds = self._backoff_seconds(attempt)
        self._note_retry(url, reason, seconds, detail=detail)
        self.clock.sleep(seconds)

    def _note_retry(self, url: str, reason: str, seconds: float, detail: str = "") -> None:
        self.retries += 1
        host = host_of(url)
        self.log.info(
            "http.retry",
            url=self.redactor.text(url),
            reason=reason,
            detail=self.redactor.text(detail)[:200],
            seconds=round(seconds, 3),
            retries=self.retries,
        )
        if self.on_retry is not None:
            self.on_retry(host, reason)

    def _fetch_once(
        self, url: str, headers: dict[str, str], method: str = "GET", content: bytes | None = None
    ) -> Exchange:
        tap = _WireTap()
        token = _current.set(tap)
        started = self.clock.now()
        safe_url = self.redactor.text(url)
        body: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (owned by the Exchange)
            max_size=SPOOL_IN_MEMORY
        )
        body_length = 0
        truncated: str | None = None
        error: str | None = None
        try:
            request = self._client.build_request(method, url, headers=headers, content=content)
            try:
                response = self._client.send(request, stream=True)
            except NetworkGuardError:
                raise
            except httpx.HTTPError as exc:
                raise ConnectionFailedError(
                    f"{method} {safe_url} failed before a response: {type(exc).__name__}: {exc}"
                ) from None
            deadline = time.monotonic() + self.limits.response_deadline
            decoder = ContentDecoder(response.headers.get("content-encoding"))
            try:
                for chunk in decoder.decode(response.iter_raw()):
                    if time.monotonic() > deadline:
                        truncated = "time"
                        error = f"response deadline of {self.limits.response_deadline:.0f} s passed"
                        break
                    body.write(chunk)
                    body_length += len(chunk)
                    # the cap holds for the decoded size too, checked every step: a gzip bomb
                    # is cut at the cap, never held in memory whole
                    if tap.received_length > self.limits.max_response_bytes or (
                        body_length > self.limits.max_response_bytes
                    ):
                        truncated = "length"
                        break
            except httpx.TimeoutException as exc:
                truncated, error = "time", f"read timed out: {exc}"
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.DecodingError) as exc:
                truncated, error = "disconnect", f"{type(exc).__name__}: {exc}"
            finally:
                response.close()
        finally:
            _current.reset(token)
        if truncated == "length":
            self.log.warning(
                "http.response_capped", url=safe_url, limit=self.limits.max_response_bytes
            )
        redirect_to: str | None = None
        unfollowed: str | None = None
        set_aside = response.extensions.get(_SET_ASIDE)
        if set_aside is not None:
            location, why = set_aside
            response.headers["Location"] = location  # as received, for whoever reads it
            unfollowed = (
                f"Location {self.redactor.text(location)!r} cannot be followed ({why}); "
                "the redirect was not followed, its answer is kept"
            )
            error = _joined(error, unfollowed)
        elif response.is_redirect:
            redirect_to = redirect_target(url, response.headers["location"])
        tap.received.seek(0)
        body.seek(0)
        http_version = response.http_version or "HTTP/1.1"
        return Exchange(
            url=safe_url,
            method=method,
            started_at=started,
            request_bytes=redact_request_bytes(bytes(tap.sent)),
            status=response.status_code,
            reason=response.reason_phrase,
            headers=response.headers,
            http_version=http_version,
            raw=tap.received,
            raw_length=tap.received_length,
            body=body,
            body_length=body_length,
            peer=tap.peer,
            truncated=truncated,
            error=error,
            redirect_to=redirect_to,
            unfollowed=unfollowed,
        )


class ContentDecoder:
    """Undo a response's Content-Encoding (gzip, x-gzip, deflate) in steps of at most
    :attr:`STEP` bytes, so that a small compressed chunk (a gzip bomb) never becomes more than
    one step in memory at once. Other encodings pass through as received."""

    STEP = 1024 * 1024

    def __init__(self, encoding: str | None) -> None:
        codings = [
            c.strip().lower()
            for c in (encoding or "").split(",")
            if c.strip().lower() not in ("", "identity")
        ]
        self._wbits: int | None = None
        if codings in (["gzip"], ["x-gzip"]):
            self._wbits = 16 + zlib.MAX_WBITS
        elif codings == ["deflate"]:
            self._wbits = zlib.MAX_WBITS
        self._zlib = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._started = False

    def decode(self, chunks: typing.Iterable[bytes]) -> typing.Iterator[bytes]:
        for data in chunks:
            yield from self._feed(data)
        if self._zlib is not None:
            rest = self._zlib.flush()
            if rest:
                yield rest

    def _feed(self, data: bytes) -> typing.Iterator[bytes]:
        if self._zlib is None:
            if data:
                yield data
            return
        while data:
            try:
                out = self._zlib.decompress(data, self.STEP)
            except zlib.error as exc:
                if self._wbits == zlib.MAX_WBITS and not self._started:
                    self._wbits = -zlib.MAX_WBITS  # "deflate" sent raw, as some servers do
                    self._zlib = zlib.decompressobj(self._wbits)
                    continue
                raise httpx.DecodingError(f"content could not be decoded: {exc}") from None
            self._started = True
            if out:
                yield out
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                data = self._zlib.unused_data.lstrip(b"\0")  # a next gzip member, if any
                self._zlib = zlib.decompressobj(self._wbits or zlib.MAX_WBITS)
                if not data:
                    return


_HOST_NAME = re.compile(r"[A-Za-z0-9._~-]+|[0-9A-Fa-f:.]+")


def redirect_target(base: str, location: str) -> str:
    """The absolute http(s) URL a ``Location`` header names, resolved against ``base``.

    Raises ValueError saying why when it cannot be followed (unparsable, not http or https, no
    valid host name, a port out of range): such a redirect is archived, never fetched.
    """
    try:
        target = urljoin(base, location)
        url = httpx.URL(target)
        port = url.port
    except (ValueError, httpx.InvalidURL) as exc:
        raise ValueError(str(exc)) from None
    if url.scheme not in ("http", "https"):
        raise ValueError(f"scheme {url.scheme!r} is not http or https")
    host = url.raw_host.decode("ascii", "replace")
    if not _HOST_NAME.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return target


_SET_ASIDE = "archiver.unfollowable_location"


def _set_aside_unfollowable_location(response: httpx.Response) -> None:
    """Response hook: httpx parses a redirect's Location even when it follows nothing, and
    fails the whole answer (before its body is read) on one it cannot parse. Such a Location is
    set aside in the response's extensions, so the answer is read and archived as received and
    the capture flags it, instead of asking again and keeping nothing."""
    location = response.headers.get("location")
    if location is None or not response.is_redirect:
        return
    try:
        redirect_target(str(response.request.url), location)
    except ValueError as exc:
        response.extensions[_SET_ASIDE] = (location, str(exc))
        del response.headers["location"]


def _joined(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


def host_of(url: str) -> str:
    """The host name of ``url`` (lower case), for logs and rate-limit keys."""
    return (urlsplit(url).hostname or "").lower()


__all__ = [
    "REDACTED",
    "Exchange",
    "HttpClient",
    "HttpLimits",
    "host_of",
    "redact_request_bytes",
    "redact_url",
]

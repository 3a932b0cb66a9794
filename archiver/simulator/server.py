"""The platform simulator: the demo's public web, served on loopback by the standard library.

The real URL ``https://HOST/PATH?Q`` is served at ``{base}/HOST/PATH?Q``, and every absolute
http(s) URL inside a served text body is rewritten the same way (:func:`rewrite_urls`), so nothing
a client follows leaves loopback. Other routes:

* ``/_sim/state`` (GET), ``/_sim/advance`` and ``/_sim/reset`` (POST): the control surface;
* ``/_fault/...``: real HTTP misbehaviour (malformed, truncated, huge, slow, hanging bodies,
  arbitrary statuses, 429 with ``Retry-After``, redirects);
* ``/_corpus/REL``: files of an optional corpus folder, URLs rewritten.

What each URL answers in each round is decided by :mod:`archiver.simulator.world`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import ipaddress
import json
import math
import mimetypes
import re
import socket
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from archiver.errors import UsageError
from archiver.logging import get_logger
from archiver.simulator import platforms, world
from archiver.simulator.world import Resource

DEFAULT_BIG_BYTES = 50 * 1024 * 1024
MAX_SLOW_SECONDS = 30.0
HANG_SECONDS = 60.0
MAX_REDIRECT_HOPS = 50
FAULT_KINDS = ("429", "429-reset", "500", "502", "503", "malformed", "html", "truncated", "slow")

_NO_BODY = frozenset({204, 304})
_TEXT_TYPES = frozenset(
    {"application/javascript", "application/x-javascript", "application/ecmascript"}
)
_CONTENT_TYPES = {
    ".atom": world.ATOM,
    ".rss": world.RSS,
    ".rdf": world.RDF,
    ".xml": "application/xml",
    ".json": "application/json",
    ".html": world.HTML,
    ".htm": world.HTML,
    ".css": world.CSS,
    ".js": world.JS,
    ".txt": "text/plain; charset=utf-8",
}

# An absolute http(s) URL's scheme and authority, plain (`https://host`) or JSON-escaped
# (`https:\/\/host`). XML namespace names and JSON-LD contexts are identifiers, not locations:
# rewriting them would turn the document into another vocabulary, so the `exempt` prefix marks
# them to be left alone.
_URL = re.compile(
    rb"""(?P<exempt>(?:\bxmlns(?::[\w.-]+)?\s*=\s*["']|"@context"\s*:\s*\[?\s*")\s*)?"""
    rb"(?P<scheme>https?):(?P<sep>//|\\/\\/)"
    rb"(?P<authority>\[[0-9a-f:.]+\](?::\d+)?|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d+)?)",
    re.IGNORECASE,
)
_HOST = re.compile(r"\[[0-9a-f:.]+\](?::\d+)?|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d+)?", re.I)


def _is_text(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime.endswith(("xml", "json")) or mime in _TEXT_TYPES


def rewrite_urls(body: bytes, base_url: str, content_type: str) -> bytes:
    """Rewrite ``https://H/P`` to ``{base_url}/H/P`` for every absolute http(s) URL in a text body.

    Guarantees: only text bodies (``text/*``, ``*xml``, ``*json``, JavaScript) are touched, binary
    bodies come back unchanged; URLs already on ``base_url`` are left alone, so rewriting twice
    equals rewriting once; only the scheme and authority are replaced, the rest of each URL and
    every other byte is kept; JSON-escaped URLs (``https:\\/\\/h``) stay escaped; XML namespace
    declarations (``xmlns``) and JSON-LD ``@context`` values are identifiers and are not rewritten.
    """
    if not _is_text(content_type):
        return body
    base = base_url.rstrip("/")
    base_bytes = base.encode("ascii")
    base_escaped = base_bytes.replace(b"/", b"\\/")
    base_lower = base.lower()

    def swap(match: re.Match[bytes]) -> bytes:
        if match.group("exempt"):
            return match.group(0)
        authority = match.group("authority")
        origin = f"{match.group('scheme').decode().lower()}://{authority.decode().lower()}"
        if origin == base_lower:
            return match.group(0)
        if match.group("sep") == b"//":
            return base_bytes + b"/" + authority
        return base_escaped + b"\\/" + authority

    return _URL.sub(swap, body)


def original_url(url: str, base_url: str) -> str:
    """The real URL a simulator URL stands for: ``{base}/HOST/PATH?Q`` → ``https://HOST/PATH?Q``.

    URLs that are not on ``base_url``, and simulator routes (``/_sim``, ``/_fault``, ``/_corpus``),
    come back unchanged. The scheme of the original is not recorded; ``https`` is assumed.
    """
    prefix = base_url.rstrip("/") + "/"
    if not url.startswith(prefix):
        return url
    rest = url[len(prefix) :]
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not _HOST.fullmatch(host):
        return url
    return f"https://{rest}"


def _require_loopback(host: str) -> str:
    """The address to bind for ``host``; refuses anything that is not loopback."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise UsageError(
            f"the simulator serves loopback only, and {host!r} is not a loopback address: "
            "use 127.0.0.1 or ::1"
        )
    return host


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip"):
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def _guess_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _big_block() -> bytes:
    line = b"archiver simulator: a large streamed body for response size cap tests.\n"
    return (line * (65536 // len(line) + 1))[:65536]


_BIG_BLOCK = _big_block()


class _BadRequestError(Exception):
    """A fault or control route got a parameter it cannot use; answered with 400."""


class Simulator:
    """A loopback HTTP server that impersonates the demo's public web, round by round.

    Thread-safe: the round and rate-limit state are guarded by one lock; every request sees one
    consistent round. Use as a context manager (``with Simulator() as sim: ...``), or call
    :meth:`start` / :meth:`stop`; ``archiver simulator`` calls :meth:`serve_forever`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        corpus_dir: Path | None = None,
        *,
        logger: structlog.typing.FilteringBoundLogger | None = None,
    ) -> None:
        """Prepare (not start) a simulator; ``host`` must be a loopback address.

        ``port=0`` picks a free port at :meth:`start`. ``corpus_dir``, if it exists, is served
        under ``/_corpus/``. ``logger`` receives one debug ``simulator.request`` event per request.
        """
        self._host = _require_loopback(host)
        self._port = port
        corpus = Path(corpus_dir).resolve() if corpus_dir is not None else None
        self._corpus = corpus if corpus is not None and corpus.is_dir() else None
        self._log = logger if logger is not None else get_logger(component="simulator")
        self._lock = threading.Lock()
        self._round = 1
        self._rate_limited: set[str] = set()
        self._faults: dict[str, list[Any]] = {}  # route prefix -> [kind, remaining, retry_after]
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in a daemon thread and return the base URL (``http://127.0.0.1:PORT``).

        Calling it again while running returns the same base URL.
        """
        with self._lock:
            if self._server is not None and self._base_url is not None:
                return self._base_url
            self._stopping = threading.Event()
            server = self._bind()
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"simulator-{server.server_address[1]}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            base_url = self.base_url
        thread.start()
        self._log.debug("simulator.started", base_url=base_url)
        return base_url

    def stop(self) -> None:
        """Stop serving: end the accept loop, close open connections, free the port.

        Idempotent. Requests in progress (slow, hanging, streaming) end promptly.
        """
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            stopping = self._stopping
        if server is None:
            return
        stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._log.debug("simulator.stopped", base_url=self._base_url)

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C) or :meth:`stop` is called from another thread."""
        base_url = self.start()
        self._log.info("simulator.started", base_url=base_url, round=self.round)
        try:
            while True:
                with self._lock:
                    thread = self._thread
                if thread is None or not thread.is_alive():
                    break
                thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _bind(self) -> _SimulatorServer:
        server_class = _SimulatorServer6 if ":" in self._host else _SimulatorServer
        server = server_class((self._host, self._port), self)
        port = server.server_address[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._base_url = f"http://{host}:{port}"
        return server

    # --- world state --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running simulator (no trailing slash)."""
        if self._base_url is None:
            raise RuntimeError("the simulator has no address yet: call start() first")
        return self._base_url

    @property
    def round(self) -> int:
        """The current round, 1 after start or reset."""
        with self._lock:
            return self._round

    @property
    def corpus_dir(self) -> Path | None:
        """The corpus folder served under ``/_corpus/``; None if none was given or it is absent."""
        return self._corpus

    def advance(self) -> int:
        """Move the world to the next round (edits, new posts, deletions) and return its number."""
        with self._lock:
            self._round += 1
            round_ = self._round
        self._log.debug("simulator.advanced", round=round_)
        return round_

    def inject_fault(self, route: str, kind: str, *, count: int = 1, retry_after: int = 1) -> None:
        """Make the next ``count`` requests whose ``host/path`` starts with ``route`` misbehave:
        ``429`` (with Retry-After), ``429-reset`` (with X-RateLimit-Reset), ``500``/``502``/``503``,
        ``malformed`` JSON, ``html`` instead of JSON,
        ``truncated`` body, or ``slow`` (``retry_after`` seconds)."""
        with self._lock:
            self._faults[route.lower()] = [kind, count, retry_after]

    def take_fault(self, route: str) -> tuple[str, int] | None:
        """The fault to play for ``route`` now, if one is armed (and count it down)."""
        with self._lock:
            for prefix, armed in self._faults.items():
                if route.lower().startswith(prefix) and armed[1] > 0:
                    armed[1] -= 1
                    return str(armed[0]), int(armed[2])
        return None

    def reset(self) -> None:
        """Back to round 1, and every ``/_fault/429`` key answers 429 again on its next request."""
        with self._lock:
            self._round = 1
            self._rate_limited.clear()
            self._faults.clear()
        self._log.debug("simulator.reset")

    def url_for(self, real_url: str) -> str:
        """The simulator URL that serves ``real_url`` (``https://H/P`` → ``{base}/H/P``)."""
        return rewrite_urls(real_url.encode("utf-8"), self.base_url, "text/plain").decode("utf-8")

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` answers: round, base URL, demo routes and deleted URLs."""
        with self._lock:
            round_ = self._round
            rate_limited = sorted(self._rate_limited)
        snap = world.snapshot(round_)
        base = self.base_url
        return {
            "round": round_,
            "last_round": world.LAST_ROUND,
            "base_url": base,
            "routes": [
                {"url": f"https://{key}", "simulated": f"{base}/{key}"}
                for key in world.demo_routes()
            ],
            "deleted": [f"https://{key}" for key in sorted(snap.deleted)],
            "rate_limited_keys": rate_limited,
            "corpus": self._corpus is not None,
        }

    # --- used by the request handler ----------------------------------------------------------

    def _first_request(self, key: str) -> bool:
        """True the first time ``key`` is seen since start or reset."""
        with self._lock:
            if key in self._rate_limited:
                return False
            self._rate_limited.add(key)
            return True

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


class _SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            self.simulator._log.debug("simulator.client_gone", error=repr(error))
        else:
            self.simulator._log.warning("simulator.handler_failed", exc_info=True)


class _SimulatorServer6(_SimulatorServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body go out at once, no 40 ms ACK wait
    server_version = "archiver-simulator/0.1"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this many seconds

    def version_string(self) -> str:
        return self.server_version

    @property
    def sim(self) -> Simulator:
        return cast(_SimulatorServer, self.server).simulator

    def setup(self) -> None:
        super().setup()
        self.sim._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sim._untrack(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.sim._log.debug(
            "simulator.request",
            method=self.command,
            path=self.path,
            status=int(code) if isinstance(code, int) else code,
            size=size,
        )

    def log_message(self, format: str, *args: Any) -> None:
        self.sim._log.debug("simulator.http", message=format % args)

    def do_GET(self) -> None:
        self._route(head=False, post=False)

    def do_HEAD(self) -> None:
        self._route(head=True, post=False)

    def do_POST(self) -> None:
        self._request_body = self._drain_request_body()
        self._route(head=False, post=True)

    # --- routing ------------------------------------------------------------------------------

    def _route(self, *, head: bool, post: bool) -> None:
        parts = urlsplit(self.path)
        first, _, rest = parts.path.lstrip("/").partition("/")
        path = "/" + rest
        try:
            if first == "_sim":
                self._control(path, head=head, post=post)
            elif post:
                if not (_HOST.fullmatch(first) and self._api_post(first, path, parts.query)):
                    self._send_text(
                        405,
                        "only /_sim/advance and /_sim/reset accept POST\n",
                        [("Allow", "GET, HEAD")],
                        head=head,
                    )
            elif not first:
                self._index(head=head)
            elif first == "_fault":
                self._fault(path, parts.query, head=head)
            elif first == "_corpus":
                self._corpus(rest, head=head)
            elif _HOST.fullmatch(first):
                self._world(first, path, parts.query, head=head)
            else:
                self._send_text(404, f"no route for {parts.path}\n", head=head)
        except _BadRequestError as error:
            self._send_text(400, f"{error}\n", head=head)

    def _api_request(self, host: str, path: str, query: str, method: str) -> platforms.ApiRequest:
        return platforms.ApiRequest(
            host.lower(),
            path,
            query,
            self.sim.round,
            {k.lower(): v for k, v in self.headers.items()},
            method=method,
            body=getattr(self, "_request_body", b"") if method == "POST" else b"",
        )

    def _api_post(self, host: str, path: str, query: str) -> bool:
        """Answer a POST to a simulated API (WeChat takes its parameters as a JSON body);
        False when no platform takes POSTs there."""
        fault = self.sim.take_fault(host.lower() + path)
        if fault is not None:
            self._injected(fault, host, path, head=False)
            return True
        api = platforms.answer(self._api_request(host, path, query, "POST"))
        if api is None:
            return False
        self._send_resource(api, head=False)
        return True

    def _world(self, host: str, path: str, query: str, *, head: bool) -> None:
        fault = self.sim.take_fault(host.lower() + path)
        if fault is not None:
            self._injected(fault, host, path, head=head)
            return
        request = self._api_request(host, path, query, "HEAD" if head else "GET")
        api = platforms.answer(request)
        if api is not None:
            self._send_resource(api, head=head)
            return
        snap = world.snapshot(self.sim.round)
        keys = [world.route_key(host, path, query), world.route_key(host, path)]
        if any(key in snap.deleted for key in keys):
            self._send_resource(world.not_found(host, path), head=head)
            return
        for key in keys:
            if key in snap.resources:
                self._send_resource(snap.resources[key], head=head)
                return
        self._send_resource(world.placeholder(host.lower(), path), head=head)

    def _index(self, *, head: bool) -> None:
        links = "".join(
            f'<li><a href="https://{key}">https://{key}</a></li>\n' for key in world.demo_routes()
        )
        body = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>archiver simulator</title></head>\n<body><h1>archiver simulator</h1>\n"
            f"<p>Round {self.sim.round}. Demo feeds and pages:</p>\n<ul>\n{links}</ul>\n"
            "</body></html>\n"
        )
        self._send(
            200, rewrite_urls(body.encode(), self.sim.base_url, world.HTML), world.HTML, head=head
        )

    def _control(self, action: str, *, head: bool, post: bool) -> None:
        methods = {"/advance": "POST", "/reset": "POST", "/state": "GET", "/fault": "POST"}
        method = methods.get(action)
        if method is None:
            self._send_json(404, {"error": f"unknown control route /_sim{action}"}, head=head)
            return
        if (method == "POST") != post:
            allow = "POST" if method == "POST" else "GET, HEAD"
            self._send_json(
                405,
                {"error": f"/_sim{action} takes {method}"},
                head=head,
                headers=[("Allow", allow)],
            )
            return
        if action == "/advance":
            self.sim.advance()
        elif action == "/fault":
            params = parse_qs(urlsplit(self.path).query)
            route = (params.get("route") or [""])[-1].removeprefix("https://")
            kind = (params.get("kind") or [""])[-1]
            if kind not in FAULT_KINDS or not route:
                raise _BadRequestError(
                    f"/_sim/fault needs route=HOST/PATH and kind= one of {', '.join(FAULT_KINDS)}"
                )
            count = _int_param(next(iter(params.get("count", [])), None), 1, "count", 1, 1000)
            after = _int_param(
                next(iter(params.get("retry_after", [])), None), 1, "retry_after", 0, 3600
            )
            self.sim.inject_fault(route, kind, count=count, retry_after=after)
        elif action == "/reset":
            self.sim.reset()
        self._send_json(200, self.sim.state(), head=head)

    def _corpus(self, relative: str, *, head: bool) -> None:
        root = self.sim.corpus_dir
        target = (root / unquote(relative)).resolve() if root is not None and relative else None
        if (
            root is None
            or target is None
            or not target.is_relative_to(root)
            or not target.is_file()
        ):
            self._send_text(404, "not in the corpus\n", head=head)
            return
        modified = datetime.fromtimestamp(int(target.stat().st_mtime), UTC)
        self._send_resource(
            Resource(target.read_bytes(), _guess_type(target.name), modified), head=head
        )

    # --- faults -------------------------------------------------------------------------------

    def _fault(self, name: str, query: str, *, head: bool) -> None:
        params = parse_qs(query, keep_blank_values=True)

        def param(key: str) -> str | None:
            values = params.get(key)
            return values[-1] if values else None

        if name == "/malformed.xml":
            self._send_resource(world.malformed_feed(), head=head)
        elif name == "/truncated.rss":
            self._truncated(head=head)
        elif name == "/big":
            self._big(_int_param(param("bytes"), DEFAULT_BIG_BYTES, "bytes", 0, None), head=head)
        elif name == "/slow":
            self._slow(_seconds_param(param("seconds")), head=head)
        elif name.startswith("/status/"):
            self._status(name.removeprefix("/status/"), param("retry_after"), head=head)
        elif name == "/429":
            after = _int_param(param("after"), 1, "after", 0, None)
            self._rate_limited(param("key") or "default", after, head=head)
        elif name == "/redirect":
            self._redirect(param("to"), head=head)
        elif name == "/redirect-chain":
            hops = _int_param(param("n"), 3, "n", 0, MAX_REDIRECT_HOPS)
            self._redirect_chain(hops, head=head)
        elif name == "/hang":
            self._hang()
        else:
            self._send_text(404, f"unknown fault /_fault{name}\n", head=head)

    def _injected(self, fault: tuple[str, int], host: str, path: str, *, head: bool) -> None:
        """Misbehave on a platform route as ``/_sim/fault`` asked, for one request."""
        kind, retry_after = fault
        if kind == "429":
            headers = [
                ("Retry-After", str(retry_after)),
                ("X-RateLimit-Remaining", "0"),
            ]
            self._send_json(429, {"error": "Too many requests"}, head=head, headers=headers)
        elif kind == "429-reset":  # Mastodon's way: no Retry-After, an ISO reset time
            reset = datetime.now(UTC) + timedelta(seconds=retry_after)
            headers = [
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", reset.isoformat(timespec="milliseconds")),
            ]
            self._send_json(429, {"error": "Too many requests"}, head=head, headers=headers)
        elif kind in ("500", "502", "503"):
            self._send_json(int(kind), {"error": "Server error"}, head=head)
        elif kind == "malformed":
            self._send(200, b'{"data": [{"id": "1", "text": "cut', "application/json", head=head)
        elif kind == "html":
            page = b"<html><body><h1>Service unavailable</h1></body></html>"
            self._send(200, page, "text/html; charset=utf-8", head=head)
        elif kind == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            if not head:
                self.wfile.write(b'{"data": [')
            self.close_connection = True
        elif kind == "slow":
            self._slow(float(retry_after), head=head)

    def _truncated(self, *, head: bool) -> None:
        """Announce the whole feed's Content-Length, send half of it, close the connection."""
        feed = world.snapshot(self.sim.round).resources[world.NASA_FEED]
        body = rewrite_urls(feed.body, self.sim.base_url, feed.content_type)
        self.send_response(200)
        self.send_header("Content-Type", feed.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body[: len(body) // 2])
        self.close_connection = True

    def _big(self, size: int, *, head: bool) -> None:
        """Stream ``size`` bytes of text, chunked, generated block by block (never held whole)."""
        chunked = self.request_version == "HTTP/1.1"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:  # HTTP/1.0 has no chunking: the end of the body is the end of the connection
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if head:
            return
        remaining = size
        stopping = self.sim._stopping
        try:
            while remaining > 0 and not stopping.is_set():
                piece = _BIG_BLOCK[: min(remaining, len(_BIG_BLOCK))]
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                remaining -= len(piece)
            if chunked and remaining == 0:
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _slow(self, seconds: float, *, head: bool) -> None:
        """Send the headers at once, the body only after ``seconds`` (or never, if stopping)."""
        feed = world.small_feed("Slow feed")
        body = rewrite_urls(feed.body, self.sim.base_url, feed.content_type)
        self.send_response(200)
        self.send_header("Content-Type", feed.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head:
            return
        if self.sim._stopping.wait(seconds):
            self.close_connection = True
            return
        self.wfile.write(body)

    def _status(self, code_text: str, retry_after: str | None, *, head: bool) -> None:
        if not code_text.isdigit() or not 200 <= int(code_text) <= 599:
            raise _BadRequestError(f"status must be a number from 200 to 599, got {code_text!r}")
        code = int(code_text)
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Simulated status"
        headers = []
        if retry_after is not None:
            headers.append(("Retry-After", str(_int_param(retry_after, 1, "retry_after", 0, None))))
        self._send_text(code, f"{code} {phrase}\n", headers, head=head)

    def _rate_limited(self, key: str, after: int, *, head: bool) -> None:
        if self.sim._first_request(key):
            headers = [
                ("Retry-After", str(after)),
                ("X-RateLimit-Limit", "1"),
                ("X-RateLimit-Remaining", "0"),
            ]
            self._send_text(429, f"Too Many Requests: retry after {after} s\n", headers, head=head)
            return
        self._send_resource(world.small_feed(f"Rate-limited feed ({key})"), head=head)

    def _redirect(self, target: str | None, *, head: bool) -> None:
        if not target:
            raise _BadRequestError("redirect needs ?to=URL")
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
            raise _BadRequestError("redirect target must not contain control characters")
        # Deliberately not rewritten: tests use it to send clients to private addresses.
        self._send_text(302, "Found\n", [("Location", target)], head=head)

    def _redirect_chain(self, hops: int, *, head: bool) -> None:
        if hops == 0:
            self._send_resource(world.small_feed("End of the redirect chain"), head=head)
            return
        location = f"{self.sim.base_url}/_fault/redirect-chain?n={hops - 1}"
        self._send_text(302, "Found\n", [("Location", location)], head=head)

    def _hang(self) -> None:
        """Read the request, answer nothing; give up after a bounded time or when stopping."""
        self.sim._stopping.wait(HANG_SECONDS)
        self.close_connection = True

    # --- responses ----------------------------------------------------------------------------

    def _send_resource(self, resource: Resource, *, head: bool) -> None:
        """Send a body with ETag, Last-Modified and Vary; gzip it if asked; answer 304 if fresh."""
        body = rewrite_urls(resource.body, self.sim.base_url, resource.content_type)
        tag = hashlib.sha256(body).hexdigest()[:32]
        wants_gzip = _accepts_gzip(str(self.headers.get("Accept-Encoding", "")))
        etag = f'"{tag}-gzip"' if wants_gzip else f'"{tag}"'
        headers = [
            ("ETag", etag),
            ("Last-Modified", format_datetime(resource.last_modified, usegmt=True)),
            ("Vary", "Accept-Encoding"),
        ]
        headers += [
            (name, rewrite_urls(value.encode(), self.sim.base_url, "text/plain").decode())
            for name, value in resource.headers
        ]
        if resource.status == 200 and self._is_fresh(tag, resource.last_modified):
            self._send(304, b"", resource.content_type, headers, head=True)
            return
        if wants_gzip:
            body = gzip.compress(body, compresslevel=9, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        self._send(resource.status, body, resource.content_type, headers, head=head)

    def _is_fresh(self, tag: str, last_modified: datetime) -> bool:
        """Whether the client's copy (If-None-Match, else If-Modified-Since) is still current."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {item.strip().removeprefix("W/") for item in str(if_none_match).split(",")}
            return bool(tags & {"*", f'"{tag}"', f'"{tag}-gzip"'})
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is None:
            return False
        try:
            since = parsedate_to_datetime(str(if_modified_since))
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= since

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Iterable[tuple[str, str]] = (),
        *,
        head: bool,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status not in _NO_BODY:
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if not head and status not in _NO_BODY:
            self.wfile.write(body)

    def _send_text(
        self,
        status: int,
        text: str,
        headers: Iterable[tuple[str, str]] = (),
        *,
        head: bool,
    ) -> None:
        self._send(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers, head=head)

    def _send_json(
        self,
        status: int,
        payload: dict[str, Any],
        *,
        head: bool,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        body = json.dumps(payload, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        self._send(status, body, "application/json", headers, head=head)

    def _drain_request_body(self) -> bytes:
        """Read a POST body off the connection (so the next keep-alive request parses cleanly)
        and return it; empty when it was chunked or over 1 MiB (the connection then closes)."""
        length_text = str(self.headers.get("Content-Length", "0"))
        if self.headers.get("Transfer-Encoding") or not length_text.isdigit():
            self.close_connection = True
            return b""
        length = int(length_text)
        if length > 1024 * 1024:
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length else b""


def _int_param(text: str | None, default: int, name: str, low: int, high: int | None) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise _BadRequestError(f"{name} must be an integer, got {text!r}") from None
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise _BadRequestError(f"{name} must be at least {low}{upper}, got {value}")
    return value


def _seconds_param(text: str | None) -> float:
    if text is None or text == "":
        return 5.0
    try:
        seconds = float(text)
    except ValueError:
        raise _BadRequestError(f"seconds must be a number, got {text!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise _BadRequestError(f"seconds must be a finite number of 0 or more, got {text!r}")
    return min(seconds, MAX_SLOW_SECONDS)


__all__ = ["Simulator", "original_url", "rewrite_urls"]

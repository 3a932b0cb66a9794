"""A loopback server that answers at the real API paths with recorded platform answers.

The platform contract tests point a connector's ``base_url`` at this server and load it with
recordings from ``../shared/corpus/``: VCR cassette interactions (status, headers and body bytes
exactly as recorded) or plain recorded JSON documents. Every request it receives is kept, so a
test can assert what the connector asked for (method, path, query, JSON body). A request that
matches no recording answers a JSON 404, as an API would.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from archiver.capture.http import Exchange, HttpClient

HOP_HEADERS = {"transfer-encoding", "connection", "keep-alive", "content-length"}


@dataclass
class Answer:
    """One recorded answer and the request it is for (``query``: parameters that must match)."""

    method: str
    path: str
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    query: dict[str, str] = field(default_factory=dict)
    times: int | None = None  # how often it may answer (None: always)

    def matches(self, method: str, path: str, query: dict[str, list[str]]) -> bool:
        if method != self.method or path != self.path or self.times == 0:
            return False
        return all(value in query.get(key, []) for key, value in self.query.items())


@dataclass
class Received:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ReplayServer:
    """Serves :class:`Answer` objects on 127.0.0.1 (a free port) until closed."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.received: list[Received] = []
        self.rewrites: list[tuple[bytes, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                server.received.append(
                    Received(self.command, parts.path, query, dict(self.headers.items()), body)
                )
                answer = server.find(self.command, parts.path, query)
                if answer is None:
                    payload = json.dumps({"error": "Record not found"}).encode()
                    self.send_response(404)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                payload = server.rewrite(answer.body, answer.headers)
                headers = answer.headers
                if payload is not answer.body:
                    headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
                self.send_response(answer.status)
                for name, value in headers:
                    if name.lower() not in HOP_HEADERS:
                        self.send_header(name, server.rewrite_text(value))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ReplayServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, answer: Answer) -> Answer:
        self.answers.append(answer)
        return answer

    def add_json(
        self,
        method: str,
        path: str,
        body: bytes | Path,
        *,
        status: int = 200,
        query: dict[str, str] | None = None,
        headers: list[tuple[str, str]] | None = None,
        times: int | None = None,
    ) -> Answer:
        """Answer ``method path`` with a recorded JSON document (the file's exact bytes)."""
        data = body.read_bytes() if isinstance(body, Path) else body
        return self.add(
            Answer(
                method,
                path,
                status,
                [("Content-Type", "application/json; charset=UTF-8"), *(headers or [])],
                data,
                dict(query or {}),
                times,
            )
        )

    def rewrite_host(self, recorded: str) -> None:
        """Replace ``recorded`` (``http://localhost:3000``) by this server's URL in every answer
        (bodies and headers: links, ``next`` URLs), so pagination comes back here."""
        self.rewrites.append((recorded.encode(), self.base_url.encode()))

    def rewrite(self, body: bytes, headers: list[tuple[str, str]]) -> bytes:
        if not self.rewrites:
            return body
        encoded = any(k.lower() == "content-encoding" and v == "gzip" for k, v in headers)
        plain = gzip.decompress(body) if encoded else body
        changed = plain
        for old, new in self.rewrites:
            changed = changed.replace(old, new)
        return body if changed == plain else changed

    def rewrite_text(self, value: str) -> str:
        for old, new in self.rewrites:
            value = value.replace(old.decode(), new.decode())
        return value

    def find(self, method: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        """The most specific answer (most query parameters) for the request, used up once."""
        candidates = [a for a in self.answers if a.matches(method, path, query)]
        if not candidates:
            return None
        best = max(candidates, key=lambda a: len(a.query))
        if best.times is not None:
            best.times -= 1
        return best

    def requests_to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def cassette_interactions(folder: Path) -> Iterator[tuple[dict[str, Any], Answer]]:
    """The interactions of a cassette folder in order: the ``.meta.json`` (request line and
    headers, response status and headers) and an :class:`Answer` with the exact body bytes."""
    for meta_path in sorted(folder.glob("*.meta.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        body_path = meta_path.with_name(meta_path.name.removesuffix(".meta.json") + ".body")
        body = body_path.read_bytes() if body_path.exists() else b""
        request, response = meta["request"], meta["response"]
        headers = [
            (name, value)
            for name, values in response.get("headers", {}).items()
            for value in values
        ]
        answer = Answer(
            request["method"],
            urlsplit(request["uri"]).path,
            response["status"]["code"],
            headers,
            body,
        )
        yield meta, answer


def decoded_body(answer: Answer) -> bytes:
    """An answer's body with its Content-Encoding undone (what a client reads)."""
    if any(k.lower() == "content-encoding" and v == "gzip" for k, v in answer.headers):
        return gzip.decompress(answer.body)
    return answer.body


class ReplaySession:
    """A capture session over a real :class:`HttpClient` keeping its exchanges in memory: enough
    to call a connector's ``probe_deletion`` on recorded answers without a capture."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self.problems: list[str] = []
        self.exchanges: list[Exchange] = []

    def fetch(self, url: str, **kw: Any) -> Exchange | None:
        hops = self.http.request("GET", url, headers=kw.get("headers"))
        self.exchanges.append(hops[-1])
        return hops[-1]

    def record_id(self, exchange: Exchange) -> str | None:
        return f"<urn:replay:{self.exchanges.index(exchange)}>"

    def add_secret(self, value: str) -> None:
        pass

    def problem(self, message: str, *, url: str | None = None) -> None:
        self.problems.append(message)

"""Platform APIs of the simulated web: one module per platform, each answering its own hosts.

A platform module defines ``HOSTS`` (the real API hosts it serves) and
``answer(request: ApiRequest) -> Resource | None`` (None: not one of its routes, the static world
answers; for a POST, None answers 405). Only a module with ``ACCEPTS_POST = True`` is asked about
POSTs. Bodies hold real URLs (``https://mastodon.example/...``); the server rewrites them, and
URLs in headers such as ``Link``, to itself. Everything is a pure function of the round and the
request, so captures are repeatable: round 2 edits posts, round 3 deletes some.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs

from archiver.simulator.world import Resource

MODULES = ("mastodon", "bluesky", "youtube", "x", "graph", "wechat")
JSON = "application/json; charset=utf-8"
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # when the synthetic accounts start posting


@dataclass(frozen=True)
class ApiRequest:
    """One request to a simulated API."""

    host: str
    path: str
    query: str
    round: int
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "GET"  # GET (HEAD is answered as GET) or POST
    body: bytes = b""  # a POST's body

    def json_body(self) -> Any:
        """The POST body as JSON; None when absent or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def params(self) -> dict[str, str]:
        """Query parameters (the last value of each)."""
        return {k: v[-1] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)

    def int_param(self, name: str, default: int, *, low: int = 0, high: int = 10_000) -> int:
        try:
            return max(low, min(high, int(self.params.get(name, default))))
        except ValueError:
            return default

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization") or self.headers.get("Authorization") or ""
        return auth.removeprefix("Bearer ").strip() or None


def json_resource(
    payload: Any, *, status: int = 200, headers: tuple[tuple[str, str], ...] = ()
) -> Resource:
    """A JSON answer with the rate-limit headers every simulated API sends."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    limit = (("X-RateLimit-Limit", "300"), ("X-RateLimit-Remaining", "299"))
    return Resource(body, JSON, EPOCH, status, headers=limit + headers)


def error(status: int, message: str, **extra: Any) -> Resource:
    return json_resource({"error": message, **extra}, status=status)


def _modules() -> list[ModuleType]:
    found = []
    for name in MODULES:
        try:
            found.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return found


def answer(request: ApiRequest) -> Resource | None:
    """The platform module's answer to ``request``, or None when no platform serves it."""
    for module in _modules():
        if request.host in module.HOSTS:
            if request.method == "POST" and not getattr(module, "ACCEPTS_POST", False):
                return None
            result: Resource | None = module.answer(request)
            return result
    return None


def hosts() -> dict[str, tuple[str, ...]]:
    """Each platform module's API hosts (for the simulator's index page and state)."""
    return {m.__name__.rsplit(".", 1)[-1]: tuple(m.HOSTS) for m in _modules()}

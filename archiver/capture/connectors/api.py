"""Shared parts of the API connectors: JSON pages, pagination guards, secrets, media, windows.

Every API connector reads pages through :func:`get_json`, so each page is archived exactly as
received before it is parsed, and every way a page can go wrong (HTTP error, HTML instead of
JSON, malformed JSON, a truncated body) becomes one clear line in the capture ledger.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from archiver.capture.connectors.base import CaptureSession, ConnectorResult
from archiver.capture.http import Exchange
from archiver.capture.text import html_to_text
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account, period_before

T = TypeVar("T")

MAX_PAGES = 1000  # a hard stop for any listing, whatever the platform's cursors say

AUTH_HINTS = {
    401: "the token is missing, expired or wrong (HTTP 401); renew the credentials",
    403: "the token lacks permission for this account (HTTP 403)",
    404: "no such account or handle on the platform (HTTP 404)",
    410: "the account is gone (HTTP 410)",
}


class PageError(Exception):
    """A page that could not be used; the message is ready for the ledger."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Page:
    """One archived JSON page: the parsed document, its exchange and WARC record."""

    data: Any
    exchange: Exchange
    record_id: str | None

    def header(self, name: str) -> str | None:
        value = self.exchange.headers.get(name)
        return None if value is None else str(value)


ErrorReader = Callable[[Exchange, bytes, str, "str | None"], None]
"""Reads a platform's error object out of a whole answer and raises that platform's error.

Called by :func:`get_json` with the exchange, its body, the page's ``what`` and the id of the
WARC record holding the raw answer; returns when the body carries no error."""


def archived_in(record: str | None) -> str:
    """The ledger's note of where a raw answer is archived, or nothing when it is not."""
    return f" (archived raw in {record})" if record else ""


def get_json(
    session: CaptureSession,
    url: str,
    *,
    what: str,
    headers: dict[str, str] | None = None,
    purpose: str = "api",
    post: Any = None,
    read_error: ErrorReader | None = None,
) -> Page:
    """Fetch and archive ``url`` (POST ``post`` as a JSON body when given), then parse it as
    JSON.

    Raises PageError when no response came, the status is an error, the body was cut, or it is
    not JSON, and whatever ``read_error`` raises for a whole answer carrying the platform's
    error object (whatever its HTTP status); the raw response is in the WARC either way.
    """
    if post is None:
        ex = session.fetch(url, purpose=purpose, headers=headers)
    else:
        ex = session.post_json(url, post, purpose=purpose, headers=headers)
    if ex is None:
        raise PageError(f"{what}: no response from {url}")
    record = session.record_id(ex)
    where = archived_in(record)
    if ex.truncated:
        raise PageError(f"{what}: the response was cut ({ex.truncated}){where}")
    body = ex.content()
    if read_error is not None:
        read_error(ex, body, what, record)
    if ex.status >= 400:
        hint = AUTH_HINTS.get(ex.status, f"HTTP {ex.status} {ex.reason}")
        raise PageError(f"{what}: {hint}{where}", status=ex.status)
    ctype = (ex.headers.get("content-type") or "").split(";")[0].strip()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # malformed, too deep, a 5,000-digit number
        kind = "HTML instead of JSON" if b"<html" in body[:512].lower() else "malformed JSON"
        raise PageError(f"{what}: {kind} ({ctype or 'no content type'}: {exc}){where}") from None
    return Page(data, ex, record)


def error_object(body: bytes) -> dict[str, Any] | None:
    """The ``error`` object of a JSON error body (``{"error": {...}}``, as the Graph API and
    Google's APIs answer), or None when the body is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else None


class CursorGuard:
    """Stops a listing whose cursor repeats (a loop) or that runs past :data:`MAX_PAGES`."""

    def __init__(self, session: CaptureSession, what: str) -> None:
        self.session = session
        self.what = what
        self.seen: set[str] = set()

    def admit(self, cursor: str | None) -> bool:
        """True when ``cursor`` may be followed; notes the problem when it may not."""
        if not cursor:
            return False
        if cursor in self.seen:
            self.session.problem(
                f"{self.what}: pagination loops (cursor {cursor[:60]!r} came back); stopped"
            )
            return False
        if len(self.seen) >= MAX_PAGES:
            self.session.problem(f"{self.what}: more than {MAX_PAGES} pages; stopped")
            return False
        self.seen.add(cursor)
        return True


def credential(account: Account, session: CaptureSession) -> str | None:
    """The secret the account's ``credentials`` names (an env var, or ``file:PATH``).

    The value is registered with the session so it never reaches a record. Raises PageError
    when the name is set but nothing is found under it.
    """
    name = account.credentials
    if not name:
        return None
    if name.startswith("file:"):
        path = Path(name.removeprefix("file:"))
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PageError(f"credentials file {path} cannot be read: {exc.strerror}") from None
    else:
        value = os.environ.get(name, "").strip()
        if not value:
            raise PageError(f"credentials: the environment variable {name} is not set")
    session.add_secret(value)
    return value


def since_cutoff(account: Account, session: CaptureSession) -> datetime | None:
    """The oldest publication time the account's ``since`` window admits (None: no window)."""
    if not account.options.since or account.options.since == "permanent":
        return None
    now = session.now()
    cutoff: datetime = now - period_before(account.options.since, now)
    return cutoff


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 or epoch-seconds timestamp as aware UTC; None when absent or unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        text = str(value).replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def plain(html: str | None) -> str:
    """Text for search from an HTML fragment (the raw JSON keeps the markup)."""
    return html_to_text(html or "")


def raw_json(item: Any) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def fetch_media(session: CaptureSession, account: Account, posts: Iterable[NormalizedPost]) -> None:
    """Fetch every attached media URL into the capture when ``options.media`` is on.

    The HTTP client caps the size (``options.max_bytes`` or the global cap) and streams large
    bodies to a temporary file, so a huge file is cut and flagged, never held in memory.
    """
    if not account.options.media:
        return
    for post in posts:
        for url in post.media:
            ex = session.fetch(url, purpose="media")
            if ex is not None and ex.status >= 400:
                session.problem(f"media {url} answered HTTP {ex.status}", url=url)


def listing_page(
    session: CaptureSession,
    result: ConnectorResult,
    url: str,
    *,
    what: str,
    field: str,
    headers: dict[str, str] | None = None,
) -> tuple[Page, Any] | None:
    """Fetch one page of an account's listing and take ``field`` from it.

    None when the page failed or lacks ``field`` (the problem is noted, the page is in the WARC,
    the listing is then not complete); the first page fetched becomes the listing record.
    """
    try:
        page = get_json(session, url, what=what, headers=headers)
        rows = page.data[field]
    except PageError as exc:
        session.problem(str(exc), url=url)
        return None
    except (KeyError, TypeError):
        session.problem(f"{what}: no {field} in the answer; kept raw", url=url)
        return None
    if result.listing_record_id is None:
        result.listing_record_id = page.record_id
    return page, rows


def take_in_window(
    result: ConnectorResult,
    posts: Iterable[NormalizedPost],
    cutoff: datetime | None,
    limit: int,
) -> bool:
    """Append a listing page's ``posts`` (newest first) to ``result`` until the window ends: a
    post older than ``cutoff``, or ``limit`` posts taken. True when it ended there."""
    for post in posts:
        if (cutoff and post.published_at and post.published_at < cutoff) or len(
            result.posts
        ) >= limit:
            return True
        result.posts.append(post)
    return False


def items(
    session: CaptureSession,
    what: str,
    rows: Iterable[Any],
    build: Callable[[Any], T | None],
) -> Iterator[T]:
    """Build each row, skipping (and noting) the ones whose shape is not what was expected."""
    for i, row in enumerate(rows):
        try:
            made = build(row)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            session.problem(
                f"{what}: item {i} has an unexpected shape ({type(exc).__name__}: {exc}); "
                "kept raw in the WARC, not indexed"
            )
            continue
        if made is not None:
            yield made


def add_unseen(posts: list[NormalizedPost], seen: set[str], new: Iterable[NormalizedPost]) -> None:
    """Append the posts of ``new`` whose native id is not in ``seen`` (a reply met twice, in two
    threads, is one record), remembering them."""
    for post in new:
        if post.native_id not in seen:
            seen.add(post.native_id)
            posts.append(post)

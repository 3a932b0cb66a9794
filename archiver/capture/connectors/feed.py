"""RSS 2.0, Atom and RDF (RSS 1.0) feeds, parsed with feedparser; media and linked pages too."""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from archiver.capture.connectors.base import CaptureSession, ConnectorResult, fetch_primary
from archiver.capture.text import html_to_text
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

MEDIA_TYPES = ("image/", "video/", "audio/")


def _resolve(base: str, url: str) -> str | None:
    """``url`` resolved against ``base``; None when it is too broken to parse (``http://[``):
    a hostile feed's link names nothing that could be fetched."""
    try:
        return urljoin(base, url)
    except ValueError:
        return None


def _entry_link(entry: Any, base: str) -> str | None:
    """The entry's page, resolved against the feed's URL. A guid standing in for a missing
    ``<link>`` is a page only when it is an http(s) URL or a path (``/news/5``): ``12345`` or
    ``urn:uuid:...`` name no page that could be fetched, or probed for a deletion."""
    link = str(entry.get("link") or "")
    if not link:
        return None
    pageless = not link.lower().startswith(("http://", "https://", "/"))
    if entry.get("guidislink") and link == entry.get("id") and pageless:
        return None
    return _resolve(base, link)


def _when(entry: Any, *names: str) -> datetime | None:
    for name in names:
        parsed = dict.get(entry, f"{name}_parsed")  # no feedparser fallback (and warning)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def _entry_text(entry: Any) -> str:
    """The entry's text; empty when a damaged document left its content without a value."""
    content = entry.get("content") or []
    html = content[0].get("value") if content else None
    html = html or entry.get("summary") or entry.get("description") or ""
    return html_to_text(html if isinstance(html, str) else str(html))


def _raw(entry: Any) -> str:
    keep = {k: v for k, v in entry.items() if not k.endswith("_parsed")}
    return json.dumps(keep, default=str, sort_keys=True, ensure_ascii=False)


def _media_urls(entry: Any, base: str) -> list[str]:
    """The entry's enclosures and media, resolved; links too broken to parse are left out."""
    found: list[str | None] = []
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and link.get("href"):
            found.append(_resolve(base, link["href"]))
    for key in ("media_content", "media_thumbnail"):
        for item in entry.get(key, []) or []:
            if item.get("url"):
                found.append(_resolve(base, item["url"]))
    return list(dict.fromkeys(u for u in found if u))


class FeedConnector:
    """Captures a feed: the feed document itself, then (by options) media and article pages.

    A feed that cannot be parsed is still archived raw; the problem goes into the ledger and the
    capture ends ``partial``. The listing is only ever called complete when the feed parsed
    without error (deletions are never guessed from a broken document).
    """

    platform = "feed"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        assert account.url
        exchange = fetch_primary(session, account.url, purpose="api", what="feed")
        if isinstance(exchange, str):
            return ConnectorResult(fatal=exchange)
        record_id = session.record_id(exchange)
        posts, problem = self._parse(
            exchange.url, exchange.headers.get("content-type"), exchange.content(), record_id
        )
        if problem:
            session.problem(f"feed could not be parsed: {problem}", url=exchange.url)
        complete = exchange.truncated is None and problem is None
        if exchange.truncated:
            session.problem(f"feed response truncated ({exchange.truncated})", url=exchange.url)
            complete = False
        posts = posts[: account.options.max_items]
        if account.options.media:
            for post in posts:
                for media_url in json.loads(post.raw).get("_media", []):
                    session.fetch(media_url, purpose="media")
        if account.options.pages:
            for post in posts:
                if post.url:
                    session.fetch(post.url, purpose="page")
        return ConnectorResult(posts=posts, complete_listing=complete)

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        posts, problem = self._parse(url, content_type, body, record_id)
        if problem and not posts:
            raise ValueError(problem)
        return posts

    def _parse(
        self, url: str, content_type: str | None, body: bytes, record_id: str | None
    ) -> tuple[list[NormalizedPost], str | None]:
        """Posts readable in ``body`` and the parse problem, if any (entries recovered from a
        damaged document are kept, and the problem still reported)."""
        # Parsed without the feed's URL as base, so that an entry id that is not an absolute URI
        # (a bare number, a tag-less guid) stays as written: the id must not change when the
        # feed moves. Links and media are resolved against the URL here instead.
        headers = {"content-type": content_type or ""}
        problem = None
        try:
            parsed = feedparser.parse(body, response_headers=headers)
        except (ValueError, OverflowError) as exc:  # e.g. &#9999999999; or &#xD800;
            problem = (
                f"a document feedparser cannot read as sent ({type(exc).__name__}: {exc}); "
                "read with impossible character references, NULs and bytes that are not "
                "UTF-8 replaced by U+FFFD"
            )
            try:
                parsed = feedparser.parse(_safe_char_refs(body), response_headers=headers)
            except (ValueError, OverflowError):  # a broken encoding declaration, NUL bytes
                text = _safe_char_refs(body).decode("utf-8", "replace").replace("\0", "\ufffd")
                text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # its encoding no longer holds
                try:
                    parsed = feedparser.parse(text, response_headers=headers)
                except (ValueError, OverflowError) as again:
                    return [], f"{problem}; still unreadable ({type(again).__name__}: {again})"
        if parsed.bozo and problem is None:
            problem = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"
            if parsed.entries:
                problem += f" ({len(parsed.entries)} entries still readable)"
        if not parsed.entries and not parsed.feed.get("title") and problem is None:
            problem = "no feed found in the document (neither RSS, Atom nor RDF)"
        posts = []
        for entry in parsed.entries:
            link = _entry_link(entry, url)
            native = (
                entry.get("id")
                or entry.get("link")  # as written: a relative link would move with the feed
                or hashlib.sha256(
                    (entry.get("title", "") + entry.get("published", "")).encode()
                ).hexdigest()
            )
            raw = json.loads(_raw(entry))
            raw["_media"] = _media_urls(entry, url)
            posts.append(
                NormalizedPost(
                    native_id=str(native),
                    url=link,
                    title=html_to_text(entry.get("title", "")) or None,
                    text=_entry_text(entry),
                    published_at=_when(entry, "published", "updated", "created"),
                    edited_at=_when(entry, "updated")
                    if dict.get(entry, "published_parsed")
                    else None,
                    author=entry.get("author")
                    or parsed.feed.get("author")
                    or parsed.feed.get("title"),
                    raw=json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str),
                    record_id=record_id,
                )
            )
        return posts, problem


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")


def _safe_char_refs(body: bytes) -> bytes:
    """``body`` with every numeric character reference that names no Unicode scalar value
    (beyond U+10FFFF, a surrogate, NUL) replaced by U+FFFD's; the others are kept as written."""

    def fix(match: re.Match[bytes]) -> bytes:
        hex_digits, decimal = match.groups()
        digits = hex_digits or decimal
        if len(digits) > 8:
            return b"&#xFFFD;"
        code = int(digits, 16 if hex_digits else 10)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return b"&#xFFFD;"
        return match.group(0)

    return _CHAR_REF.sub(fix, body)

"""A plain web page over HTTP (no browser): the page, and its images when ``options.media``."""

from __future__ import annotations

import json
from urllib.parse import urljoin

from archiver.capture.connectors.base import CaptureSession, ConnectorResult, fetch_primary
from archiver.capture.text import html_title_and_links, html_to_text
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account


def _decode(body: bytes, content_type: str | None) -> str:
    charset = "utf-8"
    if content_type and "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


class WebConnector:
    """Captures one page. The page is one post (its URL is the id); a changed text is an edit."""

    platform = "web"

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        assert account.url
        exchange = fetch_primary(session, account.url, purpose="page", what="page")
        if isinstance(exchange, str):
            return ConnectorResult(fatal=exchange)
        content_type = exchange.headers.get("content-type")
        body = exchange.content()
        posts = self.posts_from_response(
            account, exchange.url, content_type, body, session.record_id(exchange)
        )
        if exchange.truncated:
            session.problem(f"page response truncated ({exchange.truncated})", url=exchange.url)
        if account.options.media and content_type and "html" in content_type:
            _, links = html_title_and_links(_decode(body, content_type))
            for tag, link in links:
                if tag in ("img", "link", "source") and not link.startswith("data:"):
                    session.fetch(urljoin(exchange.url, link), purpose="media")
        return ConnectorResult(posts=posts, complete_listing=exchange.truncated is None)

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        text = _decode(body, content_type)
        if content_type and "html" not in content_type:
            return [
                NormalizedPost(
                    native_id=account.url or url, url=url, text=text[:100_000], record_id=record_id
                )
            ]
        title, _ = html_title_and_links(text)
        return [
            NormalizedPost(
                native_id=account.url or url,
                url=url,
                title=title,
                text=html_to_text(text),
                author=account.agency,
                raw=json.dumps({"content_type": content_type}),
                record_id=record_id,
            )
        ]

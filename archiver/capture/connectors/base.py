"""The connector protocol: a connector decides *what* to fetch; the session records it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from archiver.capture.http import Exchange
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account


class CaptureSession(Protocol):
    """What a connector may do during a capture (implemented by the capture job)."""

    def fetch(
        self,
        url: str,
        *,
        purpose: str = "api",
        headers: dict[str, str] | None = None,
        secret_fields: tuple[str, ...] = (),
    ) -> Exchange | None:
        """GET ``url`` and record every hop into the WARC. Returns the final exchange (with
        ``record_id`` in its notes) or None when no response could be had (the problem is in the
        ledger). Never raises for network trouble; raises NetworkGuardError for refused hosts.
        ``secret_fields``: top-level fields of a JSON answer whose values are secrets (an
        access token): registered with :meth:`add_secret` before the response is recorded."""
        ...

    def prefetch(self, url: str, *, headers: dict[str, str] | None = None) -> None:
        """Start GET ``url`` ahead of the :meth:`fetch` that will follow (the next page of a
        listing), so the server prepares it while the connector reads this one. Only a hint:
        the fetch records it as usual; an answer never claimed is recorded at the end."""
        ...

    def listed(self, posts: Sequence[NormalizedPost], unsettled: Collection[str] = ()) -> None:
        """``posts`` are in the result (appended to ``ConnectorResult.posts``, in that order):
        the capture may index them while the listing goes on, and write the pages of those not
        named in ``unsettled`` (native ids it will still fetch replies or media for). Optional:
        what is never announced is indexed when the connector returns."""
        ...

    def post_json(
        self,
        url: str,
        payload: Any,
        *,
        purpose: str = "api",
        headers: dict[str, str] | None = None,
        secret_fields: tuple[str, ...] = (),
    ) -> Exchange | None:
        """POST ``payload`` as a JSON body to ``url`` (an API that takes its parameters so,
        like WeChat's ``freepublish/batchget``) and record the exchange, request body included
        and scrubbed of secrets, exactly as :meth:`fetch` does."""
        ...

    def record_id(self, exchange: Exchange) -> str | None:
        """The WARC record id (response or revisit) holding ``exchange``."""
        ...

    def problem(self, message: str, *, url: str | None = None) -> None:
        """Note a problem in the capture ledger; the capture ends ``partial``."""
        ...

    def now(self) -> datetime:
        """The capture's clock (injected; tests freeze it)."""
        ...

    @property
    def known_until(self) -> datetime | None:
        """Publication time of the newest post already indexed, when this capture may list
        incrementally (stop at it, the listing then not complete); None: list the whole window.
        """
        ...

    def resource(
        self, uri: str, content_type: str, data: bytes, *, concurrent_to: str | None = None
    ) -> str:
        """Write a ``resource`` record (a screenshot); returns its WARC record id."""
        ...

    def add_secret(self, value: str) -> None:
        """Never let ``value`` reach a WARC record: it is replaced by ``[REDACTED]`` in every
        request and response recorded from now on (a token a platform hands back, say)."""
        ...


def fetch_primary(session: CaptureSession, url: str, *, purpose: str, what: str) -> Exchange | str:
    """Fetch an account's own URL (its feed, page or first listing page).

    Returns the exchange, or the reason the account could not be captured at all (no response,
    or an HTTP error status): the text a connector puts in ``ConnectorResult.fatal``.
    """
    exchange = session.fetch(url, purpose=purpose)
    if exchange is None:
        return f"{what} {url} could not be fetched"
    if exchange.status >= 400:
        return f"{what} answered HTTP {exchange.status} {exchange.reason}"
    return exchange


@dataclass(frozen=True)
class DeletionProbe:
    """What a platform's own API said of a post absent from a complete listing.

    ``deleted`` True: the API confirms the post is gone (``record_id`` holds that answer, the
    evidence); False: the API still serves it (unlisted, pinned elsewhere: not deleted).
    """

    deleted: bool
    record_id: str | None
    detail: str


@runtime_checkable
class ProbesDeletions(Protocol):
    """A connector that confirms a deletion through its platform's API item endpoint (Mastodon
    ``GET /api/v1/statuses/:id`` 404, X ``GET /2/tweets/:id`` "Not Found", ...). Connectors
    without it are confirmed through the post's web URL answering 404/410."""

    def probe_deletion(
        self, account: Account, session: CaptureSession, native_id: str, url: str | None
    ) -> DeletionProbe | None:
        """Ask the API for ``native_id``; None when it gave no usable answer (no response, a
        rate limit, an error that says nothing of the post): the web URL is tried instead."""
        ...


@dataclass
class ConnectorResult:
    """What a connector found: posts, and whether its listing was complete."""

    posts: list[NormalizedPost] = field(default_factory=list)
    complete_listing: bool = False  # true only when the whole listing window was traversed
    fatal: str | None = None  # the account could not be captured at all
    listing_record_id: str | None = None  # first listing page: evidence for absent posts


class Connector(Protocol):
    """One platform. ``capture`` must archive every response it reads through ``session``."""

    platform: str

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult: ...

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        """Posts in one archived response (used by capture and to rebuild the index from WARCs).
        Raises ValueError with the parse problem when the body cannot be parsed at all."""
        ...

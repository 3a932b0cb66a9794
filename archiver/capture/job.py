"""One capture job end to end: the same function for the CLI, the daemon and Celery workers.

policy account → connector (what to fetch) → recorder (WARC records in the spool) → index
(records, posts, versions) → close files → ship to the store → ledger and audit event.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from archiver import __version__
from archiver.capture.connectors import Connector, ConnectorResult, connector_for
from archiver.capture.connectors.base import ProbesDeletions
from archiver.capture.http import Exchange, HttpClient, redact_url
from archiver.capture.postpage import PageContext, PageWriter, WrittenPage
from archiver.capture.recorder import Recorder
from archiver.capture.redact import Redactor
from archiver.capture.ship import series_or_unscheduled, ship
from archiver.capture.stream import PostStream
from archiver.clock import Clock
from archiver.errors import (
    CaptureError,
    NetworkGuardError,
    NotFoundError,
    UsageError,
)
from archiver.governance.audit import record_event
from archiver.governance.holds import apply_active_holds
from archiver.governance.locks import extend_originals_of
from archiver.governance.policy_log import record_policy_in_force
from archiver.index.api import INDEX_DOWN, Index, NormalizedPost, RecordExtra, jsonable
from archiver.logging import get_logger
from archiver.policy.model import Account, PolicySet, period_before
from archiver.runtime import Runtime
from archiver.warc.spool import ClosedWarc, SpoolWriter, WarcContext, claim_capture
from archiver.warc.writer import Block, http_head_length


@dataclass
class CaptureResult:
    """What ``archiver capture --json`` prints (DESIGN.md contract, plus detail)."""

    capture_id: str
    account: str
    series: str
    status: str  # ok | partial | failed
    records: int
    bytes: int
    warc_files: list[str]
    posts: dict[str, int]
    revisits: int = 0
    stored: int = 0
    spooled: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None


def new_capture_id(rt: Runtime) -> str:
    """Sortable, readable capture ids: ``20261124T220501Z-3f9a1c``."""
    return f"{rt.clock.now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class _Session:
    """The capture session handed to connectors: fetch-and-record, problems, ledger."""

    def __init__(
        self,
        http: HttpClient,
        recorder: Recorder,
        log: Any,
        clock: Clock,
        known_until: datetime | None = None,
        deadline: datetime | None = None,
        started: datetime | None = None,
    ) -> None:
        self.known_until = known_until
        self.deadline = deadline  # no request is sent after it: the capture ends partial
        self.cut_at_deadline = False
        self.http = http
        self.recorder = recorder
        self.log = log
        self.clock = clock
        self.redactor: Redactor = http.redactor  # one set of secrets for records and logs
        self.exchanges: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.refused: list[str] = []
        self._ids: dict[int, str] = {}
        self.first_response_at: datetime | None = None
        self._fetched: set[str] = set()
        # Every request goes through one I/O thread, in order, so the HTTP client is never used
        # by two threads at once; a prefetched answer waits there until its fetch claims it.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capture-io")
        self._ahead: dict[tuple[str, str], Future[list[Exchange]]] = {}
        self.stream: PostStream | None = None  # indexes listed posts while answers are awaited
        self._started = started or clock.now()

    def listing_time(self) -> datetime:
        """When the capture's versions were live: its first answer (``extract --at``)."""
        return self.first_response_at or self._started

    def listed(self, posts: Sequence[NormalizedPost], unsettled: Collection[str] = ()) -> None:
        if self.stream is not None:
            self.stream.listed(posts, unsettled)

    def prefetch(self, url: str, *, headers: dict[str, str] | None = None) -> None:
        """Start GET ``url`` now: the connector will :meth:`fetch` it next (the following page
        of a listing), and the server prepares it while this page is parsed."""
        key = _request_key(url, headers)
        if key in self._ahead or self._past_deadline():
            return
        self._ahead[key] = self._io.submit(self.http.request, "GET", url, headers=headers)

    def settle(self) -> None:
        """Record what was prefetched and never claimed: what was fetched is archived."""
        for key in list(self._ahead):
            self._send("GET", key[0], "prefetch", None, None, (), claim=key)

    def close(self) -> None:
        """Settle, then stop the I/O thread (the end of the capture's HTTP client)."""
        try:
            self.settle()
        finally:
            self._io.shutdown(wait=True)

    def _past_deadline(self) -> bool:
        return self.deadline is not None and self.clock.now() >= self.deadline

    def fetch(
        self,
        url: str,
        *,
        purpose: str = "api",
        headers: dict[str, str] | None = None,
        secret_fields: tuple[str, ...] = (),
    ) -> Exchange | None:
        if url in self._fetched and purpose == "media":
            return None
        self._fetched.add(url)
        return self._send("GET", url, purpose, headers, None, secret_fields)

    def post_json(
        self,
        url: str,
        payload: Any,
        *,
        purpose: str = "api",
        headers: dict[str, str] | None = None,
        secret_fields: tuple[str, ...] = (),
    ) -> Exchange | None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        sent = {"Content-Type": "application/json", **(headers or {})}
        return self._send("POST", url, purpose, sent, body, secret_fields)

    def _send(
        self,
        method: str,
        url: str,
        purpose: str,
        headers: dict[str, str] | None,
        content: bytes | None,
        secret_fields: tuple[str, ...],
        *,
        claim: tuple[str, str] | None = None,
    ) -> Exchange | None:
        """Send one request, following redirects, and record every hop (request bytes,
        body included, scrubbed of every registered secret). A GET prefetched with the same
        headers is not sent again: its answer is taken (``claim`` names it when settling)."""
        ahead = (
            self._ahead.pop(claim or _request_key(url, headers), None) if method == "GET" else None
        )
        if ahead is None and self._past_deadline():
            if not self.cut_at_deadline:
                self.cut_at_deadline = True
                self.problem(
                    f"capture deadline passed at {self.deadline:%Y-%m-%dT%H:%M:%SZ} "
                    "(ARCHIVER_CAPTURE_DEADLINE); nothing more fetched, what was is kept",
                    url=url,
                )
            return None
        try:
            if ahead is None:
                ahead = self._io.submit(
                    self.http.request, method, url, headers=headers, content=content
                )
            while self.stream is not None and not ahead.done() and self.stream.work():
                pass  # waiting work: index and page listed posts while the server answers
            hops = ahead.result()
        except NetworkGuardError as exc:
            self.refused.append(str(exc))
            self.problem(str(exc), url=redact_url(url))
            return None
        except CaptureError as exc:
            self.problem(str(exc), url=redact_url(url))
            return None
        for ex in hops:
            # the values are secrets from now on; the caller still reads them in ex.content()
            plain = self._secrets_in(ex, secret_fields) if secret_fields else None
            if self.first_response_at is None:
                self.first_response_at = ex.started_at
            if self.redactor:
                scrub_exchange(ex, self.redactor)
            written = self.recorder.record(ex)
            if plain is not None:
                ex.body, ex.body_length = io.BytesIO(plain), len(plain)
            self._ids[id(ex)] = written.record_id
            self.exchanges.append(
                {
                    "url": ex.url,
                    "method": ex.method,
                    "purpose": purpose,
                    "status": ex.status,
                    "record_id": written.record_id,
                    "record_type": written.rec_type,
                    "bytes": ex.raw_length,
                    "truncated": ex.truncated,
                    "error": ex.error,
                }
            )
            if ex.truncated:
                self.log.warning("capture.truncated", url=ex.url, reason=ex.truncated)
        final = hops[-1]
        if final.unfollowed:
            self.problem(f"{final.url} answered HTTP {final.status}: {final.unfollowed}", url=url)
        if final.truncated == "length":
            self.problem(
                f"response over the size cap, cut and flagged: {final.url}", url=redact_url(url)
            )
        elif final.truncated == "time":
            self.problem(
                f"response cut and flagged ({final.error or 'timed out'}): {final.url}", url=url
            )
        return final

    def _secrets_in(self, ex: Exchange, fields: tuple[str, ...]) -> bytes | None:
        """Register the string values of ``fields`` of a JSON object body as secrets (a token
        the platform hands back) before ``ex`` is recorded; returns the unscrubbed body when
        one was found, so the caller can still use it."""
        body = ex.content()
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        values = [data.get(f) for f in fields] if isinstance(data, dict) else []
        for value in values:
            if isinstance(value, str):
                self.add_secret(value)
        return body if any(isinstance(v, str) and v for v in values) else None

    def record_id(self, exchange: Exchange) -> str | None:
        return self._ids.get(id(exchange))

    def now(self) -> datetime:
        return self.clock.now()

    def resource(
        self, uri: str, content_type: str, data: bytes, *, concurrent_to: str | None = None
    ) -> str:
        """Write a ``resource`` record (a screenshot, say); returns its record id."""
        headers = [("WARC-Concurrent-To", concurrent_to)] if concurrent_to else []
        written = self.recorder.spool.write(
            "resource",
            Block(data, len(data), None),
            date=self.clock.now(),
            target_uri=uri,
            content_type=content_type,
            headers=headers,
        )
        self.exchanges.append(
            {
                "url": uri,
                "purpose": "screenshot",
                "status": None,
                "record_id": written.record_id,
                "record_type": "resource",
                "bytes": len(data),
                "truncated": None,
                "error": None,
            }
        )
        return written.record_id

    def add_secret(self, value: str) -> None:
        self.redactor.add(value)

    def problem(self, message: str, *, url: str | None = None) -> None:
        message = self.redactor.text(message)
        url = None if url is None else self.redactor.text(url)
        self.problems.append(message)
        self.log.warning("capture.problem", problem=message, url=url)


def _request_key(url: str, headers: dict[str, str] | None) -> tuple[str, str]:
    return url, json.dumps(headers or {}, sort_keys=True)


def incremental_floor(rt: Runtime, account: Account) -> datetime | None:
    """When the account's ``full_listing_every`` allows an incremental listing now: the newest
    indexed post's publication time (connectors stop listing there). None: list everything."""
    every = account.options.full_listing_every
    if not every:
        return None
    last_full, newest = rt.index.listing_state(account.id)
    if last_full is None or newest is None:
        return None
    now = rt.clock.now()
    return newest if now - last_full < period_before(every, now) else None


def capture_account(rt: Runtime, account_id: str, *, trigger: str = "cli") -> CaptureResult:
    """Capture one account now. Never raises for platform or network trouble: the outcome is
    in the result and the ledger (``failed`` / ``partial``); raises UsageError for an unknown
    account. Everything fetched is in a closed WARC file (stored, or spooled for a later run)."""
    policies = rt.policies or rt.reload_policies()
    if account_id not in policies.accounts:
        known = ", ".join(sorted(policies.accounts)) or "none"
        raise UsageError(f"unknown account {account_id!r}; known accounts: {known}")
    account: Account = policies.accounts[account_id]
    capture_id = new_capture_id(rt)
    with claim_capture(rt.settings.spool_dir, capture_id):
        return _capture(rt, policies, account, capture_id, trigger)


def _capture(
    rt: Runtime, policies: PolicySet, account: Account, capture_id: str, trigger: str
) -> CaptureResult:
    """The capture itself, while this process holds the capture's claim on its spool files."""
    series = policies.series_of(account)
    log = get_logger(account=account.id, capture_id=capture_id)
    started = rt.clock.now()
    index: Index = rt.index
    index_up = True
    try:
        record_policy_in_force(rt)
        index.start_capture(
            capture_id=capture_id,
            account=account.id,
            series=series.id,
            platform=account.platform,
            trigger=trigger,
            started_at=started,
            policy_hash=policies.policy_hash,
            actor=rt.settings.actor,
        )
    except INDEX_DOWN as exc:
        # Capture anyway: the WARC (with the ledger in its metadata record) stays in the spool
        # and start-up recovery indexes and ships it when the database answers again.
        index_up = False
        log.error("index.unavailable", error=str(exc).splitlines()[0], kept="spool")
    log.info("capture.started", platform=account.platform, series=series.id)
    spool = SpoolWriter(
        rt.settings.spool_dir,
        WarcContext(
            account=account.id,
            series=series.id,
            platform=account.platform,
            capture_id=capture_id,
            policy_hash=policies.policy_hash,
            operator=rt.settings.actor,
            agency=account.agency,
            authority=series.authority,
        ),
        rt.clock,
        max_bytes=rt.settings.warc_max_bytes,
    )
    recorder = Recorder(
        spool,
        (lambda uri: index.last_original(series.id, uri)) if index_up else (lambda uri: None),
    )
    fatal: str | None = None
    posts_counts = {"new": 0, "edited": 0, "deleted": 0}
    written: list[WrittenPage] = []
    complete = False
    with rt.http_client() as http:
        known_until = incremental_floor(rt, account) if index_up else None
        deadline = started + timedelta(seconds=rt.settings.capture_deadline)
        session = _Session(http, recorder, log, rt.clock, known_until, deadline, started)
        pages = _Pages(rt, account, series.id, session, recorder, spool, session.listing_time)
        stream = PostStream(
            index,
            account=account.id,
            series=series.id,
            platform=account.platform,
            capture_id=capture_id,
            captured_at=session.listing_time,
            pages=pages.writer,
            # a page capture may yet archive a post's own HTML page (its page then moves)
            early_pages="page" not in account.capture,
            log=log,
        )
        session.stream = stream if index_up else None
        if index_up:
            try:  # the search engine opened before this capture's versions: none to rebuild
                index.fulltext.ready()
            except INDEX_DOWN as exc:
                index_up, session.stream = False, None
                log.error("index.unavailable", error=str(exc).splitlines()[0], kept="spool")
        try:
            connector = connector_for(account.platform)
            if "api" in account.capture:
                result = connector.capture(account, session)
            else:
                result = ConnectorResult()
            if "page" in account.capture:
                result.posts.extend(browser_capture(rt, account, session, connector))
            fatal, complete = result.fatal, result.complete_listing
            if not index_up:
                raise _IndexDown
            counts = stream.finish(result.posts)
            posts_counts.update(new=counts["new"], edited=counts["edited"])
            if complete and not fatal:
                posts_counts["deleted"] = detect_deletions(
                    index, connector, account, session, result, capture_id, rt.clock.now()
                )
            written = post_pages(stream, session, capture_id, result.posts)
            session.settle()
        except UsageError as exc:
            fatal = str(exc)
        except _IndexDown:
            pass  # posts are read back from the WARC when the index returns
        except INDEX_DOWN as exc:
            index_up = False
            log.error("index.unavailable", error=str(exc).splitlines()[0], kept="spool")
        except Exception as exc:  # a connector bug must not lose what was fetched
            log.exception("capture.crashed")
            fatal = f"{type(exc).__name__}: {exc}"
        finally:
            session.close()
    if fatal and session.refused:
        fatal = session.refused[0]
    status = "failed" if fatal else ("partial" if session.problems else "ok")
    finished = rt.clock.now()
    audit_head = _audit_head(index) if index_up else None
    ledger = {
        "capture_id": capture_id,
        "account": account.id,
        "series": series.id,
        "platform": account.platform,
        "agency": account.agency,
        "trigger": trigger,
        "policy_hash": policies.policy_hash,
        "policy_source": account.source,
        "operator": rt.settings.actor,
        "software": f"archiver/{__version__}",
        "started_at": started,
        "finished_at": finished,
        "status": status,
        "error": fatal,
        "problems": session.problems,
        "complete_listing": complete,
        "incremental_after": session.known_until,
        "posts": posts_counts,
        "exchanges": session.exchanges,
        # The chain as it stood when this ledger was written (before the capture's own event):
        # the WARC anchors it, so a truncated or rewritten audit table disagrees with the WARC.
        "audit_head": audit_head,
        "post_pages": [
            {"post_id": p.post_id, "record_id": p.record_id, "target_uri": p.target_uri}
            for p in written
        ],
    }
    body = json.dumps(jsonable(ledger), indent=1, sort_keys=True).encode()
    spool.write(
        "metadata",
        Block(body, len(body), None),
        date=finished,
        target_uri=f"urn:archiver:capture:{capture_id}",
        content_type="application/json",
    )
    closed = spool.close()
    records = sum(len(c.records) for c in closed)
    size = sum(c.size for c in closed)
    if index_up:
        try:
            stored = _index_and_ship(rt, closed, capture_id, account.id, series.id, recorder.extras)
        except INDEX_DOWN as exc:
            index_up = False
            log.error("index.unavailable", error=str(exc).splitlines()[0], kept="spool")
    if not index_up:
        log.warning("capture.spooled_for_index", warc_files=[c.name for c in closed])
        structlog.contextvars.clear_contextvars()
        return CaptureResult(
            capture_id=capture_id,
            account=account.id,
            series=series.id,
            status=status,
            records=records,
            bytes=size,
            warc_files=[c.name for c in closed],
            posts=posts_counts,
            revisits=recorder.revisits,
            stored=0,
            spooled=len(closed),
            problems=[*session.problems, "the index was unavailable: kept in the spool"],
            error=fatal,
        )
    summary = index.finish_capture(
        capture_id,
        status=status,
        finished_at=finished,
        records=records,
        bytes=size,
        warc_files=len(closed),
        posts_new=posts_counts["new"],
        posts_edited=posts_counts["edited"],
        posts_deleted=posts_counts["deleted"],
        error=fatal,
        ledger={**ledger, "warc_files": [c.name for c in closed], "stored": stored},
    )
    record_event(
        rt,
        "capture",
        capture_id,
        {
            "account": account.id,
            "series": series.id,
            "status": status,
            "records": records,
            "bytes": size,
            "warc_files": {c.name: c.sha256 for c in closed},
        },
    )
    held = apply_active_holds(rt, summary)
    if recorder.revisits:
        extend_originals_of(rt, capture_id)
    log.info(
        "capture.finished",
        status=status,
        records=records,
        bytes=size,
        posts_new=posts_counts["new"],
        posts_edited=posts_counts["edited"],
        posts_deleted=posts_counts["deleted"],
        revisits=recorder.revisits,
        stored=stored,
        spooled=len(closed) - stored,
        holds=held,
    )
    structlog.contextvars.clear_contextvars()
    return CaptureResult(
        capture_id=capture_id,
        account=account.id,
        series=series.id,
        status=summary.status,
        records=records,
        bytes=size,
        warc_files=[c.name for c in closed],
        posts=posts_counts,
        revisits=recorder.revisits,
        stored=stored,
        spooled=len(closed) - stored,
        problems=session.problems,
        error=fatal,
    )


def _audit_head(index: Index) -> dict[str, Any] | None:
    """``{seq, hash}`` of the newest audit event, None for an empty chain or an index down."""
    try:
        head = index.audit_chain_head()
    except INDEX_DOWN:
        return None
    return {"seq": head.seq, "hash": head.hash} if head else None


class _IndexDown(Exception):
    """Internal: the index was down when the capture started; skip indexing posts."""


def browser_capture(
    rt: Runtime, account: Account, session: _Session, connector: Connector
) -> list[NormalizedPost]:
    """``capture: [page]``: the account's page in Chromium, with a screenshot; for a page-only
    account its posts are read from the archived main document."""
    from archiver.capture.browser import capture_pages  # Playwright is an extra

    if not account.url:
        session.problem("capture: [page] needs the account's url:")
        return []
    state = None
    if account.credentials and account.credentials.startswith("file:"):
        state = Path(account.credentials.removeprefix("file:"))  # login state, never archived
    pages = capture_pages(
        rt.settings, session, [account.url], platform=account.platform, storage_state=state
    )
    found: list[NormalizedPost] = []
    for page in pages:
        if page.main is None or "api" in account.capture:
            continue
        try:
            found.extend(
                connector.posts_from_response(
                    account,
                    page.main.url,
                    page.main.headers.get("content-type"),
                    page.main.content(),
                    page.main_record,
                )
            )
        except ValueError as exc:
            session.problem(f"page could not be read for posts: {exc}", url=page.url)
    return found


class _Pages:
    """The capture's post pages (:mod:`archiver.capture.postpage`): one writer, its context
    kept up to date with what the capture has archived so far."""

    def __init__(
        self,
        rt: Runtime,
        account: Account,
        series: str,
        session: _Session,
        recorder: Recorder,
        spool: SpoolWriter,
        captured_at: Callable[[], datetime],
    ) -> None:
        self.rt, self.account, self.series = rt, account, series
        self.session, self.recorder, self.spool = session, recorder, spool
        self.captured_at = captured_at
        self.archived: dict[str, str | None] = {}  # URL -> MIME of its first 200 answer
        self.where: dict[str, str] = {}  # record id -> URL, for this capture's records
        self._scanned = 0
        self._writer: PageWriter | None = None

    def writer(self) -> PageWriter:
        """The writer, after reading the exchanges recorded since the last call."""
        for ex in self.session.exchanges[self._scanned :]:
            rid = ex.get("record_id")
            if rid:
                self.where[rid] = ex["url"]
            if ex.get("status") == 200 and rid and ex.get("record_type") in ("response", "revisit"):
                extra = self.recorder.extras.get(rid)
                self.archived.setdefault(ex["url"], extra.mime if extra else None)
        self._scanned = len(self.session.exchanges)
        if self._writer is None:
            ctx = PageContext(
                self.rt.index,
                self.spool,
                account=self.account.id,
                agency=self.account.agency,
                series=self.series,
                platform=self.account.platform,
                archived=self.archived,
                extras=self.recorder.extras,
                record_uri=self._record_uri,
            )
            self._writer = PageWriter(ctx, captured_at=self.captured_at())
        return self._writer

    def _record_uri(self, record_id: str) -> str | None:
        if record_id in self.where:
            return self.where[record_id]
        try:
            return self.rt.index.get_record(record_id).target_uri
        except NotFoundError:
            return None


def post_pages(
    stream: PostStream, session: _Session, capture_id: str, posts: list[NormalizedPost]
) -> list[WrittenPage]:
    """Write the post pages of this capture not written while it listed: one per post seen,
    and one with a deletion notice per post it found deleted. A rendering failure is a problem
    in the ledger, never a lost capture."""
    writer: PageWriter | None = None
    try:
        writer = stream.pages(posts)
        written = writer.finish(stream.index.deleted_in_capture(capture_id))
    except INDEX_DOWN:
        raise
    except Exception as exc:  # a page is a convenience; the records are what counts
        session.log.exception("post_pages.failed")
        session.problem(f"post pages could not be written: {type(exc).__name__}: {exc}")
        return list(writer.written) if writer is not None else []
    session.log.info(
        "post_pages.written",
        pages=len(written),
        revisits=sum(1 for w in written if w.revisit),
    )
    return written


def detect_deletions(
    index: Index,
    connector: Connector,
    account: Account,
    session: _Session,
    result: ConnectorResult,
    capture_id: str,
    at: datetime,
) -> int:
    """Flag posts that left a completely traversed listing window; returns how many.

    The window runs from the oldest post in this listing to now: a post seen before, published
    inside it and absent now is a candidate. A candidate is confirmed by its
    platform's own API when the connector can ask it (:class:`ProbesDeletions`), else by its
    URL answering 404 or 410 (the evidence record); one answering anything else is kept (it may
    have been unpinned or moved) and noted. A candidate without a URL is confirmed by its
    absence from the complete listing (the listing record is the evidence). Nothing is ever
    inferred from a partial listing: the caller only calls this when the listing is complete.
    """
    dated = [p.published_at for p in result.posts if p.kind == "post" and p.published_at]
    if not dated:
        return 0
    seen = [p.native_id for p in result.posts]
    deleted = 0
    prober = connector if isinstance(connector, ProbesDeletions) else None
    for row in index.deletion_candidates(account.id, seen, min(dated)):
        answer = prober.probe_deletion(account, session, row.native_id, row.url) if prober else None
        if answer is not None:
            if not answer.deleted:
                session.log.info(
                    "post.absent_not_deleted", post_id=row.post_id, probe=answer.detail
                )
                continue
            evidence, detail = answer.record_id, f"absent from the listing; {answer.detail}"
        elif row.url:
            probe = session.fetch(row.url, purpose="probe")
            if probe is None or probe.status not in (404, 410):
                status = "no answer" if probe is None else f"HTTP {probe.status}"
                session.log.info("post.absent_not_deleted", post_id=row.post_id, probe=status)
                continue
            evidence = session.record_id(probe)
            detail = f"absent from the listing; {row.url} answered HTTP {probe.status}"
        else:
            evidence = result.listing_record_id
            detail = "absent from a completely traversed listing window"
        index.mark_deleted(
            row.post_id, at=at, capture_id=capture_id, evidence_record_id=evidence, detail=detail
        )
        session.log.info("post.deleted_detected", post_id=row.post_id, evidence=evidence)
        deleted += 1
    return deleted


def scrub_exchange(ex: Exchange, redactor: Redactor) -> None:
    """Replace every spelling of every secret in ``ex``'s recorded bytes by ``[REDACTED]``.

    The request is scrubbed as is. A response that holds a secret is rewritten with its body
    decoded (Content-Encoding dropped) and Content-Length corrected, so the record stays a
    well-formed HTTP message; the change is noted on the exchange.
    """
    ex.request_bytes = redactor.bytes(ex.request_bytes)
    ex.url = redactor.text(ex.url)
    body = ex.content()
    if not redactor.found_in(body):
        ex.raw.seek(0)
        raw = ex.raw.read()
        if not redactor.found_in(raw):
            return
    head_len = http_head_length(ex.raw)
    ex.raw.seek(0)
    head = ex.raw.read(head_len if head_len is not None else ex.raw_length)
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    clean = redactor.bytes(body)
    kept = [
        line
        for line in lines[1:]
        if line.split(b":", 1)[0].strip().lower()
        not in (b"content-encoding", b"content-length", b"transfer-encoding")
    ]
    kept.append(b"Content-Length: " + str(len(clean)).encode())
    new_head = b"\r\n".join([lines[0], *(redactor.bytes(h) for h in kept)]) + b"\r\n\r\n"
    raw = new_head + clean
    ex.raw, ex.raw_length = io.BytesIO(raw), len(raw)
    ex.body, ex.body_length = io.BytesIO(clean), len(clean)
    ex.notes.append("secret values redacted from the response")


def _index_and_ship(
    rt: Runtime,
    closed: list[ClosedWarc],
    capture_id: str,
    account: str,
    series_id: str,
    extras: dict[str, RecordExtra],
) -> int:
    """Index each closed file's records, then ship it; returns how many files were stored."""
    stored = 0
    series = series_or_unscheduled(rt.policies, series_id)
    for c in closed:
        rt.index.add_warc(
            name=c.name,
            capture_id=capture_id,
            account=account,
            series=series_id,
            key=c.key,
            size=c.size,
            sha256=c.sha256,
            created_at=c.created_at,
            records=[(r, extras.get(r.record_id, RecordExtra())) for r in c.records],
        )
        warc = rt.index.get_warc(c.name)
        assert warc is not None
        if ship(c.path, warc, store=rt.store, index=rt.index, clock=rt.clock, series=series):
            stored += 1
    return stored

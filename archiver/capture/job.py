"""One capture job end to end: the same function for the CLI, the daemon and Celery workers.

policy account → connector (what to fetch) → recorder (WARC records in the spool) → index
(records, posts, versions) → close files → ship to the store → ledger and audit event.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from archiver import __version__
from archiver.capture.connectors import connector_for
from archiver.capture.http import Exchange, HttpClient
from archiver.capture.recorder import Recorder
from archiver.capture.ship import series_or_unscheduled, ship
from archiver.errors import CaptureError, NetworkGuardError, UsageError
from archiver.governance.audit import record_event
from archiver.governance.holds import apply_active_holds
from archiver.governance.locks import extend_originals_of
from archiver.governance.policy_log import record_policy_in_force
from archiver.index.api import Index, RecordExtra, jsonable
from archiver.index.models import CaptureRow, WarcFileRow
from archiver.logging import get_logger
from archiver.policy.model import Account
from archiver.runtime import Runtime
from archiver.warc.spool import ClosedWarc, SpoolWriter, WarcContext
from archiver.warc.writer import Block


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

    def __init__(self, http: HttpClient, recorder: Recorder, log: Any) -> None:
        self.http = http
        self.recorder = recorder
        self.log = log
        self.exchanges: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.refused: list[str] = []
        self._ids: dict[int, str] = {}
        self.first_response_at: datetime | None = None
        self._fetched: set[str] = set()

    def fetch(
        self, url: str, *, purpose: str = "api", headers: dict[str, str] | None = None
    ) -> Exchange | None:
        if url in self._fetched and purpose == "media":
            return None
        self._fetched.add(url)
        try:
            hops = self.http.get(url, headers=headers)
        except NetworkGuardError as exc:
            self.refused.append(str(exc))
            self.problem(str(exc), url=url)
            return None
        except CaptureError as exc:
            self.problem(str(exc), url=url)
            return None
        for ex in hops:
            if self.first_response_at is None:
                self.first_response_at = ex.started_at
            written = self.recorder.record(ex)
            self._ids[id(ex)] = written.record_id
            self.exchanges.append(
                {
                    "url": ex.url,
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
        if final.truncated == "length":
            self.problem(f"response over the size cap, cut and flagged: {final.url}", url=url)
        return final

    def record_id(self, exchange: Exchange) -> str | None:
        return self._ids.get(id(exchange))

    def problem(self, message: str, *, url: str | None = None) -> None:
        self.problems.append(message)
        self.log.warning("capture.problem", problem=message, url=url)


def capture_account(rt: Runtime, account_id: str, *, trigger: str = "cli") -> CaptureResult:
    """Capture one account now. Never raises for platform or network trouble: the outcome is
    in the result and the ledger (``failed`` / ``partial``); raises UsageError for an unknown
    account. Everything fetched is in a closed WARC file (stored, or spooled for a later run)."""
    policies = rt.policies or rt.reload_policies()
    if account_id not in policies.accounts:
        known = ", ".join(sorted(policies.accounts)) or "none"
        raise UsageError(f"unknown account {account_id!r}; known accounts: {known}")
    account: Account = policies.accounts[account_id]
    record_policy_in_force(rt)
    series = policies.series_of(account)
    capture_id = new_capture_id(rt)
    log = get_logger(account=account.id, capture_id=capture_id)
    started = rt.clock.now()
    index: Index = rt.index
    index.start_capture(
        CaptureRow(
            capture_id=capture_id,
            account=account.id,
            series=series.id,
            platform=account.platform,
            status="running",
            trigger=trigger,
            started_at=started,
            policy_hash=policies.policy_hash,
            actor=rt.settings.actor,
        )
    )
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
    recorder = Recorder(spool, lambda uri: index.last_original(series.id, uri))
    fatal: str | None = None
    posts_counts = {"new": 0, "edited": 0, "deleted": 0}
    complete = False
    with rt.http_client() as http:
        session = _Session(http, recorder, log)
        try:
            connector = connector_for(account.platform)
            result = connector.capture(account, session)
            fatal, complete = result.fatal, result.complete_listing
            counts = index.record_posts(
                account=account.id,
                series=series.id,
                platform=account.platform,
                capture_id=capture_id,
                posts=result.posts,
                # A version is "live at" the moment its listing was fetched (extract --at).
                captured_at=session.first_response_at or started,
            )
            posts_counts.update(new=counts["new"], edited=counts["edited"])
        except UsageError as exc:
            fatal = str(exc)
        except Exception as exc:  # a connector bug must not lose what was fetched
            log.exception("capture.crashed")
            fatal = f"{type(exc).__name__}: {exc}"
    if fatal and session.refused:
        fatal = session.refused[0]
    status = "failed" if fatal else ("partial" if session.problems else "ok")
    finished = rt.clock.now()
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
        "posts": posts_counts,
        "exchanges": session.exchanges,
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
    stored = _index_and_ship(rt, closed, capture_id, account.id, series.id, recorder.extras)
    records = sum(len(c.records) for c in closed)
    size = sum(c.size for c in closed)
    summary = index.finish_capture(
        capture_id,
        status=status,
        finished_at=finished,
        records=records,
        bytes=size,
        warc_files=len(closed),
        posts_new=posts_counts["new"],
        posts_edited=posts_counts["edited"],
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
            WarcFileRow(
                name=c.name,
                capture_id=capture_id,
                account=account,
                series=series_id,
                key=c.key,
                size=c.size,
                sha256=c.sha256,
                status="closed",
                created_at=c.created_at,
            ),
            [(r, extras.get(r.record_id, RecordExtra())) for r in c.records],
        )
        warc = rt.index.get_warc(c.name)
        assert warc is not None
        if ship(c.path, warc, store=rt.store, index=rt.index, clock=rt.clock, series=series):
            stored += 1
    return stored

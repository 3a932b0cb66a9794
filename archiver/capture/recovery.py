"""Start-up recovery: repair ``.open`` spool files left by a crash, index them, ship them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.capture.connectors import connector_for
from archiver.capture.ship import series_or_unscheduled, ship
from archiver.errors import IntegrityError, UsageError
from archiver.governance.audit import record_event
from archiver.index.api import NormalizedPost, WarcFileInfo
from archiver.logging import get_logger
from archiver.runtime import Runtime
from archiver.warc.reader import ReadRecord, read_file_records
from archiver.warc.spool import (
    OPEN_SUFFIX,
    WARC_SUFFIX,
    close_spool_file,
    is_claimed,
    object_key,
    remove_claim,
    repair_open_file,
    sha256_file,
    stale_claims,
    try_lock,
)


@dataclass
class RecoveryReport:
    repaired: list[str] = field(default_factory=list)
    records_recovered: int = 0
    bytes_cut: int = 0
    shipped: list[str] = field(default_factory=list)
    still_spooled: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # stale captures closed


def _posts_from(
    rt: Runtime, records: list[ReadRecord], account_id: str, problems: list[str]
) -> list[NormalizedPost]:
    """Re-derive posts from the archived responses (the index is rebuildable from WARCs); a
    response that cannot be read is flagged in ``problems`` and skipped."""
    policies = rt.policies
    if policies is None or account_id not in policies.accounts:
        return []
    account = policies.accounts[account_id]
    try:
        connector = connector_for(account.platform)
    except UsageError:
        return []
    # Feeds and pages: only the account's own URL holds posts; API connectors sort pages out.
    wanted = {account.url} if account.url and account.platform in ("feed", "web") else set()
    posts: list[NormalizedPost] = []
    for rec in records:
        w = rec.written
        if rec.payload is None or w.target_uri is None or (wanted and w.target_uri not in wanted):
            continue
        try:
            posts.extend(
                connector.posts_from_response(
                    account, w.target_uri, rec.extra.mime, rec.payload, w.record_id
                )
            )
        except Exception as exc:  # one unreadable answer must not stop the recovery of the rest
            problem = (
                f"record {w.record_id} ({w.target_uri}) could not be read for posts "
                f"({type(exc).__name__}: {exc}); kept in the WARC, not indexed"
            )
            problems.append(problem)
            get_logger().warning("recovery.unreadable_record", record=w.record_id, error=problem)
    return posts


def _warcinfo(records: list[ReadRecord]) -> dict[str, str]:
    info = next((r for r in records if r.written.rec_type == "warcinfo"), None)
    return info.fields if info else {}


def _ledger(records: list[ReadRecord]) -> dict[str, Any] | None:
    """The capture ledger of the file's metadata record, when the capture got to write it."""
    for r in records:
        uri = r.written.target_uri or ""
        if r.written.rec_type == "metadata" and uri.startswith("urn:archiver:capture:"):
            try:
                found = json.loads(r.payload or b"")
            except ValueError:
                return None
            return found if isinstance(found, dict) else None
    return None


def _ingest(rt: Runtime, path: Path, records: list[ReadRecord], note: str) -> None:
    """Index a closed spool file the index does not know: a crash came between closing and
    indexing or during the capture, or the index was down. Its records, the posts in it, and the
    capture's ledger (from the metadata record when the capture finished) go into the index."""
    fields = _warcinfo(records)
    ledger = _ledger(records)
    account = fields.get("account", path.name.split("-")[0])
    series = fields.get("series", "unscheduled")
    capture_id = fields.get("capture-id", "recovered-" + path.name[:40])
    platform = fields.get("platform", "unknown")
    created = records[0].written.date
    if not rt.index.has_capture(capture_id):
        rt.index.start_capture(
            capture_id=capture_id,
            account=account,
            series=series,
            platform=platform,
            trigger=str(ledger.get("trigger", "recovery")) if ledger else "recovery",
            started_at=created,
            policy_hash=fields.get("policy-hash", "").removeprefix("sha256:"),
            actor=fields.get("operator", rt.settings.actor),
        )
    size = path.stat().st_size
    sha256 = sha256_file(path)
    rt.index.add_warc(
        name=path.name,
        capture_id=capture_id,
        account=account,
        series=series,
        key=object_key(series, account, created, path.name),
        size=size,
        sha256=sha256,
        created_at=created,
        records=[(r.written, r.extra) for r in records],
    )
    problems: list[str] = []
    counts = rt.index.record_posts(
        account=account,
        series=series,
        platform=platform,
        capture_id=capture_id,
        captured_at=created,
        posts=_posts_from(rt, records, account, problems),
    )
    current = rt.index.get_capture(capture_id)
    # The counts are what the index holds over every file of the capture, this one included:
    # the files of a rotated capture are recovered one by one, each after the capture closed.
    total_records, warc_files, total_bytes = rt.index.capture_totals(capture_id)
    counts_now = {
        "records": total_records,
        "bytes": total_bytes,
        "warc_files": warc_files,
        "posts_new": current.posts["new"] + counts["new"],
        "posts_edited": current.posts["edited"] + counts["edited"],
    }
    if current.status == "running":
        finished = ledger.get("finished_at") if ledger else None
        rt.index.finish_capture(
            capture_id,
            status=(str(ledger.get("status", "partial")) if ledger else "partial")
            if not problems
            else "partial",
            finished_at=datetime.fromisoformat(finished) if finished else rt.clock.now(),
            error=ledger.get("error") if ledger else note,
            ledger={**(ledger or {}), "indexed_later": note, "recovery_problems": problems},
            **counts_now,
        )
    else:
        kept = current.ledger.get("recovery_problems", [])
        rt.index.finish_capture(
            capture_id,
            status="partial" if problems and current.status == "ok" else current.status,
            ledger={**current.ledger, "recovery_problems": [*kept, *problems]},
            **counts_now,
        )
    record_event(
        rt,
        "capture.recovered",
        capture_id,
        {"warc": path.name, "records": len(records), "sha256": sha256},
    )


def _in_flight(
    rt: Runtime, path: Path, warc: WarcFileInfo | None, busy: Callable[[str], bool] | None
) -> bool:
    """True when a running capture may still index or ship this file itself: its capture's
    claim is held (by any live process on this host), or ``busy`` says its account runs."""
    if warc is None:  # not indexed yet: its capture may be about to
        fields = _warcinfo(read_file_records(path))
        capture_id, account = fields.get("capture-id"), fields.get("account")
        if capture_id and is_claimed(rt.settings.spool_dir, capture_id):
            return True
        return busy is not None and (account is None or busy(account))
    if is_claimed(rt.settings.spool_dir, warc.capture_id):
        return True
    return (
        busy is not None
        and busy(warc.account)
        and rt.index.get_capture(warc.capture_id).status == "running"
    )


def recover_spool(rt: Runtime, busy: Callable[[str], bool] | None = None) -> RecoveryReport:
    """Make every file left in the spool whole, indexed and (when the store answers) stored.

    ``.open`` files a live process holds locked are left alone, and so are the files of any
    account for which ``busy`` says a capture is running (it ships its own). Idempotent: running
    it twice indexes nothing twice and ships nothing twice.
    """
    log = get_logger()
    report = RecoveryReport()
    spool = rt.settings.spool_dir
    if not spool.is_dir():
        report.interrupted = close_stale_captures(rt, busy)
        return report
    dead = stale_claims(spool)  # captures of this host whose process died
    for path in sorted(spool.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")):
        lock = try_lock(path)
        if lock is None:
            continue  # a live capture is writing it
        try:
            result = repair_open_file(path)
            report.bytes_cut += result.cut_bytes
            if result.kept_bytes == 0:
                path.unlink()  # not one whole record: nothing to keep
                continue
            records = read_file_records(path)
            fields = _warcinfo(records)
            closed = close_spool_file(
                path,
                fields.get("series", "unscheduled"),
                fields.get("account", path.name.split("-")[0]),
                records[0].written.date,
                tuple(r.written for r in records),
            )
        finally:
            lock.close()
        report.repaired.append(closed.name)
        log.warning("spool.repaired", warc=closed.name, records=len(records), cut=result.cut_bytes)
    for path in sorted(spool.glob(f"*{WARC_SUFFIX}")):
        try:
            _recover_closed(rt, path, busy, report)
        except IntegrityError as exc:  # unreadable: left in the spool for a person to look at
            report.still_spooled.append(path.name)
            log.error("spool.unreadable", warc=path.name, error=str(exc), kept="spool")
    report.interrupted = close_stale_captures(rt, busy, dead=dead)
    for capture_id in dead:
        remove_claim(spool, capture_id)
    return report


def close_stale_captures(
    rt: Runtime, busy: Callable[[str], bool] | None = None, *, dead: list[str] | None = None
) -> list[str]:
    """Close captures left ``running`` by a process that died (killed before it wrote one
    whole record, or hung past every deadline): status ``failed`` (nothing recorded) or
    ``partial``, the error saying it was interrupted, and an audit event. A capture is dead
    when its claim on this host was left unlocked (``dead``: its process ended), or, from any
    host, once it started longer ago than the capture deadline plus one response deadline (no
    live capture fetches past that); never while ``busy`` says its account runs here."""
    s = rt.settings
    limit = timedelta(seconds=s.capture_deadline + s.http_response_deadline + 60)
    closed: list[str] = []
    died = set(dead or ())
    overdue = {c.capture_id for c in rt.index.stale_captures(rt.clock.now() - limit)}
    for capture in rt.index.stale_captures(rt.clock.now() + timedelta(days=1)):
        if capture.capture_id not in died | overdue:
            continue
        if (busy is not None and busy(capture.account)) or is_claimed(
            s.spool_dir, capture.capture_id
        ):
            continue
        reason = (
            "interrupted: its process ended during the capture; closed by recovery"
            if capture.capture_id in died
            else f"interrupted: still running {limit.total_seconds():.0f} s after it started, "
            "past every deadline (the process ended or hung); closed by recovery"
        )
        rt.index.finish_capture(
            capture.capture_id,
            status="partial" if capture.records else "failed",
            finished_at=rt.clock.now(),
            error=reason,
            ledger={**capture.ledger, "interrupted": reason},
        )
        record_event(rt, "capture.interrupted", capture.capture_id, {"reason": reason})
        get_logger().warning("capture.interrupted", capture_id=capture.capture_id)
        closed.append(capture.capture_id)
    return closed


def _recover_closed(
    rt: Runtime, path: Path, busy: Callable[[str], bool] | None, report: RecoveryReport
) -> None:
    """Index (when the index does not know it) and ship one closed spool file."""
    warc = rt.index.get_warc(path.name)
    if _in_flight(rt, path, warc, busy):
        return
    if warc is None:
        records = read_file_records(path, with_payloads=True)
        note = (
            f"indexed later from {path.name}: the index was unavailable at capture time"
            if _ledger(records)
            else f"interrupted: the process ended during the capture; {len(records)} whole "
            f"records recovered from {path.name}"
        )
        _ingest(rt, path, records, note)
        report.records_recovered += len(records)
        warc = rt.index.get_warc(path.name)
        assert warc is not None
    if warc.status == "stored":
        path.unlink()  # shipped before a crash removed the spool copy
        return
    series = series_or_unscheduled(rt.policies, warc.series)
    if ship(path, warc, store=rt.store, index=rt.index, clock=rt.clock, series=series):
        report.shipped.append(path.name)
    else:
        report.still_spooled.append(path.name)

"""Keeping Object Lock dates in step with the schedules: locks are extended, never shortened."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from archiver.governance.audit import record_event
from archiver.governance.retention import retain_until
from archiver.index.api import utc
from archiver.index.db import session_scope
from archiver.index.models import CaptureRow, RecordRow, WarcFileRow
from archiver.policy.model import UNSCHEDULED
from archiver.runtime import Runtime


def required_locks(rt: Runtime) -> dict[str, datetime]:
    """WARC name → the retain-until it needs now: its own capture's date under the current
    schedule, or later when revisits in a later capture depend on its records (a dedup
    original's retain-until is the latest of its revisits')."""
    policies = rt.policies or rt.reload_policies()
    with session_scope(rt.index.engine) as s:
        warcs = list(s.exec(select(WarcFileRow).where(WarcFileRow.status == "stored")))
        captures = {c.capture_id: c for c in s.exec(select(CaptureRow))}
        revisits = list(
            s.exec(
                select(RecordRow.capture_id, RecordRow.refers_to).where(
                    RecordRow.rec_type == "revisit", col(RecordRow.refers_to).is_not(None)
                )
            )
        )
        originals = {
            record_id: warc_name
            for record_id, warc_name in s.exec(
                select(RecordRow.record_id, RecordRow.warc_name).where(
                    col(RecordRow.record_id).in_([r for _, r in revisits])
                )
            )
        }

    def capture_until(capture_id: str) -> datetime | None:
        c = captures[capture_id]
        series = policies.series.get(c.series, UNSCHEDULED)
        return retain_until(series, utc(c.started_at))

    needed: dict[str, datetime] = {}
    for w in warcs:
        until = capture_until(w.capture_id)
        if until is not None:
            needed[w.name] = until
    for capture_id, refers_to in revisits:
        warc_name = originals.get(refers_to or "")
        until = capture_until(capture_id)
        if warc_name and until is not None and warc_name in {w.name for w in warcs}:
            needed[warc_name] = max(needed.get(warc_name, until), until)
    return needed


def extend_locks(rt: Runtime) -> dict[str, datetime]:
    """Extend every stored object's lock (and the index's date) to what it needs now; returns
    the objects extended. Never shortens: a shorter schedule leaves existing locks as they are."""
    extended: dict[str, datetime] = {}
    for name, until in required_locks(rt).items():
        warc = rt.index.get_warc(name)
        if warc is None or (warc.retain_until is not None and warc.retain_until >= until):
            continue
        if until <= rt.clock.now():
            continue  # already due: nothing to lock
        rt.store.set_retention(warc.key, until)
        with session_scope(rt.index.engine) as s:
            row = s.get(WarcFileRow, name)
            assert row is not None
            row.retain_until = until
            s.add(row)
        extended[name] = until
    if extended:
        record_event(rt, "retention.locks_extended", "store", {"objects": extended})
    return extended


def extend_originals_of(rt: Runtime, capture_id: str) -> dict[str, datetime]:
    """After a capture wrote revisits: keep the originals' objects locked at least as long as
    this capture (called by the capture job; :func:`extend_locks` is the full sweep)."""
    policies = rt.policies or rt.reload_policies()
    capture = rt.index.get_capture(capture_id)
    until = retain_until(policies.series.get(capture.series, UNSCHEDULED), capture.started_at)
    if until is None or until <= rt.clock.now():
        return {}
    with session_scope(rt.index.engine) as s:
        refers = select(RecordRow.refers_to).where(
            RecordRow.capture_id == capture_id, RecordRow.rec_type == "revisit"
        )
        names = set(s.exec(select(RecordRow.warc_name).where(col(RecordRow.record_id).in_(refers))))
    extended: dict[str, datetime] = {}
    for name in sorted(names):
        warc = rt.index.get_warc(name)
        if warc is None or warc.status != "stored" or warc.capture_id == capture_id:
            continue
        if warc.retain_until is not None and warc.retain_until >= until:
            continue
        rt.store.set_retention(warc.key, until)
        with session_scope(rt.index.engine) as s:
            row = s.get(WarcFileRow, name)
            assert row is not None
            row.retain_until = until
            s.add(row)
        extended[name] = until
    if extended:
        record_event(rt, "retention.locks_extended", capture_id, {"objects": extended})
    return extended

"""Keeping Object Lock dates in step with the schedules: locks are extended, never shortened."""

from __future__ import annotations

from datetime import datetime

from archiver.governance.audit import record_event
from archiver.governance.retention import retain_until
from archiver.policy.model import UNSCHEDULED
from archiver.runtime import Runtime


def required_locks(rt: Runtime) -> dict[str, datetime]:
    """WARC name → the retain-until it needs now: its own capture's date under the current
    schedule, or later when revisits in a later capture depend on its records (a dedup
    original's retain-until is the latest of its revisits')."""
    policies = rt.policies or rt.reload_policies()
    found = rt.index.governance.lock_inputs()

    def capture_until(capture_id: str) -> datetime | None:
        series_id, started_at = found.captures[capture_id]
        return retain_until(policies.series.get(series_id, UNSCHEDULED), started_at)

    needed: dict[str, datetime] = {}
    for name, capture_id in found.stored_files.items():
        until = capture_until(capture_id)
        if until is not None:
            needed[name] = until
    for capture_id, warc_name in found.revisits:
        until = capture_until(capture_id)
        if warc_name and until is not None and warc_name in found.stored_files:
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
        rt.index.governance.set_retain_until(name, until)
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
    names = rt.index.governance.files_revisited_by(capture_id)
    extended: dict[str, datetime] = {}
    for name in sorted(names):
        warc = rt.index.get_warc(name)
        if warc is None or warc.status != "stored" or warc.capture_id == capture_id:
            continue
        if warc.retain_until is not None and warc.retain_until >= until:
            continue
        rt.store.set_retention(warc.key, until)
        rt.index.governance.set_retain_until(name, until)
        extended[name] = until
    if extended:
        record_event(rt, "retention.locks_extended", capture_id, {"objects": extended})
    return extended

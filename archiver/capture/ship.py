"""Shipping closed WARC files from the spool to the object store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from archiver.clock import Clock
from archiver.errors import StorageError
from archiver.governance.retention import retain_until
from archiver.index.api import Index, WarcFileInfo
from archiver.logging import get_logger
from archiver.policy.model import UNSCHEDULED, PolicySet, Series
from archiver.storage.base import Store


def series_or_unscheduled(policies: PolicySet | None, series_id: str) -> Series:
    """The series by id; a series no longer in the policies keeps its records unscheduled."""
    if policies is not None and series_id in policies.series:
        return policies.series[series_id]
    return UNSCHEDULED


def ship(
    path: Path, warc: WarcFileInfo, *, store: Store, index: Index, clock: Clock, series: Series
) -> bool:
    """Upload a closed spool file, verify size and SHA-256, mark it stored, delete the spool copy.

    Returns False (and leaves the file in the spool for a later run) when the store is down.
    """
    log = get_logger(warc=warc.name, account=warc.account)
    until: datetime | None = retain_until(series, warc.created_at)
    try:
        info = store.put_file(warc.key, path, sha256=warc.sha256, retain_until=until)
    except StorageError as exc:
        log.warning("warc.upload_failed", error=str(exc), spooled=str(path.name))
        return False
    if info.size != warc.size:
        log.error("warc.verify_failed", stored=info.size, expected=warc.size)
        return False
    index.mark_stored(warc.name, store_url=store.url, at=clock.now(), retain_until=until)
    path.unlink()
    log.info("warc.uploaded", key=warc.key, bytes=warc.size, retain_until=until)
    return True

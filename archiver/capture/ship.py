"""Shipping closed WARC files from the spool to the object store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from archiver.clock import Clock
from archiver.errors import ObjectNotFoundError, StorageError
from archiver.governance.retention import retain_until
from archiver.index.api import Index, WarcFileInfo
from archiver.logging import get_logger
from archiver.policy.model import UNSCHEDULED, PolicySet, Series
from archiver.storage.base import ObjectInfo, Store


def series_or_unscheduled(policies: PolicySet | None, series_id: str) -> Series:
    """The series by id; a series no longer in the policies keeps its records unscheduled."""
    if policies is not None and series_id in policies.series:
        return policies.series[series_id]
    return UNSCHEDULED


def ship(
    path: Path, warc: WarcFileInfo, *, store: Store, index: Index, clock: Clock, series: Series
) -> bool:
    """Upload a closed spool file, verify size and SHA-256, mark it stored, delete the spool copy.

    Idempotent: when the store already holds this file (same size and SHA-256: a process died
    after the upload, before the mark), it is not uploaded again (S3 would keep a second
    version, locked as long as the first); it is only marked stored. Returns False and leaves
    the file in the spool for a later run when the store is down, or for a person to look at
    when another object already sits under its key (never stored over).
    """
    log = get_logger(warc=warc.name, account=warc.account)
    until: datetime | None = retain_until(series, warc.created_at)
    try:
        info = _already_stored(warc, store=store, clock=clock, until=until)
        if info is None:
            info = store.put_file(warc.key, path, sha256=warc.sha256, retain_until=until)
    except _KeyTaken as exc:
        log.error("warc.key_conflict", key=warc.key, error=str(exc), kept="spool")
        return False
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


class _KeyTaken(Exception):
    """Another object (other size or digest) is stored under the WARC's key."""


def _already_stored(
    warc: WarcFileInfo, *, store: Store, clock: Clock, until: datetime | None
) -> ObjectInfo | None:
    """What the store holds under the WARC's key when it is this very file (an earlier upload
    whose mark was lost), its retain-until brought up to ``until``; None when nothing is there,
    or when the store cannot say which bytes it holds (then the upload replaces it)."""
    try:
        found = store.head(warc.key)
    except ObjectNotFoundError:
        return None
    if found.sha256 is None:
        return None
    if found.size != warc.size or found.sha256 != warc.sha256:
        raise _KeyTaken(
            f"{warc.key} already holds {found.size} bytes with sha256 {found.sha256}, not this "
            f"file ({warc.size} bytes, sha256 {warc.sha256}); the spool copy is kept, nothing is "
            "stored over the object: find out where it came from"
        )
    if (
        until is not None
        and until > clock.now()
        and (found.retain_until is None or found.retain_until < until)
    ):
        store.set_retention(warc.key, until)
    get_logger(warc=warc.name).info("warc.already_stored", key=warc.key, bytes=found.size)
    return found

"""Upload + mark stored is idempotent: a process killed between the two never leaves the same
WARC twice in the store (S3 buckets with Object Lock are versioned: a second PUT is a second
version, kept as long as the first)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.capture.recovery import recover_spool
from archiver.capture.ship import ship
from archiver.index.api import WarcFileInfo
from archiver.policy.model import UNSCHEDULED
from archiver.runtime import Runtime
from archiver.storage.s3 import S3Store
from tests.conftest import MakeRuntime

ACCOUNT = "demo-agency-rdf"


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no ``except Exception`` catches it."""


def versions_of(rt: Runtime, key: str) -> int:
    """How many stored versions the object ``key`` has (a folder keeps only one)."""
    store = rt.store
    if isinstance(store, S3Store):
        full = store._key(key)
        listed = store.client.list_object_versions(Bucket=store.bucket, Prefix=full)
        return len([v for v in listed.get("Versions", []) if v["Key"] == full])
    return 1 if store.exists(key) else 0


def test_a_kill_between_upload_and_mark_stores_one_object_version(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime()

    def killed(*_args: object, **_kwargs: object) -> None:
        raise _Killed

    with monkeypatch.context() as m:
        m.setattr(rt.index, "mark_stored", killed)
        with pytest.raises(_Killed):
            capture_account(rt, ACCOUNT)
    [warc] = rt.index.list_warcs()
    assert warc.status == "closed", "uploaded, never marked"
    assert versions_of(rt, warc.key) == 1
    spooled = rt.settings.spool_dir / warc.name
    assert spooled.exists()

    report = recover_spool(rt)  # the next start ships the spool again

    assert report.shipped == [warc.name] and report.still_spooled == []
    assert versions_of(rt, warc.key) == 1, "the object already there was not uploaded again"
    stored = rt.index.get_warc(warc.name)
    assert stored is not None and stored.status == "stored" and stored.retain_until is not None
    assert rt.store.head(warc.key).sha256 == warc.sha256
    assert not spooled.exists()
    assert recover_spool(rt).shipped == [], "shipped once"
    assert versions_of(rt, warc.key) == 1


def test_an_object_with_other_bytes_under_the_key_is_never_overwritten(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    """A different object already under a WARC's key is a conflict for a person to look at:
    nothing is stored over it, the spool copy stays."""
    rt = make_runtime()
    spooled = tmp_path / "agency-20261124000000000-00000-host.warc.gz"
    spooled.write_bytes(b"the WARC bytes")
    warc = WarcFileInfo(
        name=spooled.name,
        capture_id="c",
        account="agency",
        series="unscheduled",
        key=f"unscheduled/agency/2026/11/{spooled.name}",
        size=spooled.stat().st_size,
        sha256=hashlib.sha256(spooled.read_bytes()).hexdigest(),
        status="closed",
        created_at=rt.clock.now(),
        stored_at=None,
        retain_until=None,
    )
    rt.store.put_bytes(warc.key, b"another object")
    shipped = ship(
        spooled, warc, store=rt.store, index=rt.index, clock=rt.clock, series=UNSCHEDULED
    )
    assert shipped is False
    assert rt.store.get_range(warc.key, 0) == b"another object"
    assert versions_of(rt, warc.key) == 1
    assert spooled.exists()

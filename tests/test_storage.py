"""Stores: the same behaviour on the local folder and on S3 (SeaweedFS with Object Lock)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.errors import ConfigError, IntegrityError, ObjectNotFoundError, StorageError
from archiver.storage import LocalStore, S3Store, open_store
from archiver.storage.base import Store

KEY = "grs-6.4-020/usgs-quakes/2026/11/usgs-quakes-20261124000000000-00000-h.warc.gz"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        s: Store = LocalStore(tmp_path / "store")
    else:
        s = open_store(request.getfixturevalue("s3_bucket_url"))
    s.ensure_ready()
    return s


def blob(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / "blob.warc.gz"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_put_then_head_reports_size_digest_and_lock(store: Store, tmp_path: Path) -> None:
    path, sha = blob(tmp_path, b"WARC/1.1 " * 1000)
    until = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    info = store.put_file(KEY, path, sha256=sha, retain_until=until)
    assert info.size == 9000 and info.sha256 == sha
    assert info.retain_until is not None and abs((info.retain_until - until).total_seconds()) < 1
    assert store.exists(KEY) and not store.exists(KEY + ".nope")


def test_ranged_read_returns_exact_bytes(store: Store, tmp_path: Path) -> None:
    data = bytes(range(256)) * 64
    path, sha = blob(tmp_path, data)
    store.put_file(KEY, path, sha256=sha)
    assert store.get_range(KEY, 1000, 300) == data[1000:1300]
    assert store.get_range(KEY, len(data) - 5) == data[-5:]
    with store.open_read(KEY) as fh:
        assert fh.read() == data


def test_put_with_wrong_checksum_is_refused(store: Store, tmp_path: Path) -> None:
    path, _ = blob(tmp_path, b"the bytes we have")
    wrong = hashlib.sha256(b"the bytes we expected").hexdigest()
    with pytest.raises(IntegrityError):
        store.put_file(KEY, path, sha256=wrong)
    assert not store.exists(KEY)


def test_list_under_a_prefix(store: Store, tmp_path: Path) -> None:
    path, sha = blob(tmp_path, b"x")
    for key in ("a/1.warc.gz", "a/2.warc.gz", "b/1.warc.gz"):
        store.put_file(key, path, sha256=sha)
    assert [o.key for o in store.list("a/")] == ["a/1.warc.gz", "a/2.warc.gz"]


def test_retention_only_extends(store: Store, tmp_path: Path) -> None:
    path, sha = blob(tmp_path, b"x")
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    store.put_file(KEY, path, sha256=sha, retain_until=later)
    store.set_retention(KEY, later - timedelta(days=10))
    assert store.head(KEY).retain_until == later
    store.set_retention(KEY, later + timedelta(days=10))
    assert store.head(KEY).retain_until == later + timedelta(days=10)


def test_locked_or_held_objects_cannot_be_deleted(store: Store, tmp_path: Path) -> None:
    path, sha = blob(tmp_path, b"record")
    store.put_file(KEY, path, sha256=sha, retain_until=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(StorageError):
        store.delete(KEY)
    free = "free/1.warc.gz"
    store.put_file(free, path, sha256=sha)
    store.set_legal_hold(free, True)
    assert store.head(free).legal_hold
    with pytest.raises(StorageError):
        store.delete(free)
    store.set_legal_hold(free, False)
    store.delete(free)
    with pytest.raises(ObjectNotFoundError):
        store.head(free)


@pytest.mark.parametrize("key", ["../escape", "/abs/key", "a/../../b"])
def test_keys_cannot_escape(store: Store, tmp_path: Path, key: str) -> None:
    path, sha = blob(tmp_path, b"x")
    with pytest.raises(StorageError):
        store.put_file(key, path, sha256=sha)


def test_unreachable_s3_is_a_storage_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    store = open_store(f"s3://records?endpoint_url=http://127.0.0.1:{port}&region=us-east-1")
    path, sha = blob(tmp_path, b"x")
    with pytest.raises(StorageError, match="stay in the spool"):
        store.put_file(KEY, path, sha256=sha)


def test_open_store_parses_urls(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path.as_uri()), LocalStore)
    s3 = open_store("s3://bucket/some/prefix?endpoint_url=http://127.0.0.1:1&region=eu-west-1")
    assert isinstance(s3, S3Store) and s3.bucket == "bucket" and s3.prefix == "some/prefix"
    for bad in ("ftp://x/y", "s3:///nobucket", "s3://b?colour=blue", "file://host/x"):
        with pytest.raises(ConfigError):
            open_store(bad)

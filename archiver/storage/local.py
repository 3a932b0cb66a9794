"""The local filesystem store (``file:///path``): the embedded default."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from archiver.errors import IntegrityError, ObjectNotFoundError, StorageError
from archiver.storage.base import ObjectInfo

META_SUFFIX = ".meta.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(1024 * 1024):
            digest.update(data)
    return digest.hexdigest()


class LocalStore:
    """Objects as files under ``root``; retention and legal hold in a sidecar JSON per object.

    A folder cannot enforce Object Lock against its owner, but this store refuses to delete an
    object under retention or legal hold, as S3 does, so governance behaves the same on both,
    and a locked object's file is made read-only (no write bit for anyone).
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/") or key.endswith(META_SUFFIX):
            raise StorageError(f"invalid object key {key!r}: relative, no '..' parts")
        return self.root / key

    def _meta_path(self, key: str) -> Path:
        return self._path(key).with_name(self._path(key).name + META_SUFFIX)

    def _meta(self, key: str) -> dict[str, object]:
        path = self._meta_path(key)
        return json.loads(path.read_text()) if path.exists() else {}

    def _write_meta(self, key: str, meta: dict[str, object]) -> None:
        self._atomic_write(self._meta_path(key), json.dumps(meta, sort_keys=True).encode())

    @staticmethod
    def _seal(path: Path) -> None:
        """Drop every write bit: the file-store equivalent of a locked object."""
        path.chmod(path.stat().st_mode & ~0o222)

    @staticmethod
    def _atomic_write(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)

    def ensure_ready(self) -> None:
        """Create the root folder."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create store folder {self.root}: {exc.strerror}") from None

    def put_file(
        self, key: str, path: Path, *, sha256: str, retain_until: datetime | None = None
    ) -> ObjectInfo:
        """Copy ``path`` under ``key`` (temp file, fsync, rename), then verify its digest."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                while data := src.read(1024 * 1024):
                    digest.update(data)
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                os.unlink(tmp)
                raise IntegrityError(
                    f"upload of {key} refused: the file hashes to {digest.hexdigest()}, "
                    f"not the expected {sha256}; the spool copy is kept for inspection"
                )
            os.replace(tmp, target)
            meta = self._meta(key)
            meta.update(sha256=sha256)
            if retain_until is not None and retain_until > datetime.now(UTC):
                # As on S3: a date already past locks nothing.
                meta["retain_until"] = retain_until.astimezone(UTC).isoformat()
                self._seal(target)
            self._write_meta(key, meta)
        except OSError as exc:
            raise StorageError(
                f"cannot write {key} to {self.root}: {exc.strerror}; the file stays in the spool"
            ) from None
        info = self.head(key)
        if info.size != path.stat().st_size or _sha256(target) != sha256:
            raise IntegrityError(f"{key}: stored bytes differ from the spool file")
        return info

    def put_bytes(
        self, key: str, data: bytes, *, retain_until: datetime | None = None
    ) -> ObjectInfo:
        """Store a small object atomically."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._atomic_write(target, data)
            meta: dict[str, object] = {"sha256": hashlib.sha256(data).hexdigest()}
            if retain_until is not None and retain_until > datetime.now(UTC):
                # As on S3: a date already past locks nothing.
                meta["retain_until"] = retain_until.astimezone(UTC).isoformat()
                self._seal(target)
            self._write_meta(key, meta)
        except OSError as exc:
            raise StorageError(f"cannot write {key} to {self.root}: {exc.strerror}") from None
        return self.head(key)

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            size = path.stat().st_size
            meta = self._meta(key)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {key} in {self.url}") from None
        except (OSError, ValueError) as exc:  # the folder is away, or a sidecar is unreadable
            raise StorageError(f"cannot read {key} from {self.root}: {exc}") from None
        until = meta.get("retain_until")
        return ObjectInfo(
            key=key,
            size=size,
            sha256=str(meta["sha256"]) if "sha256" in meta else None,
            retain_until=datetime.fromisoformat(str(until)) if until else None,
            legal_hold=bool(meta.get("legal_hold", False)),
        )

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        try:
            with self._path(key).open("rb") as fh:
                fh.seek(start)
                return fh.read() if length is None else fh.read(length)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {key} in {self.url}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key} from {self.root}: {exc.strerror}") from None

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object {key} in {self.url}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {key} from {self.root}: {exc.strerror}") from None

    def set_retention(self, key: str, retain_until: datetime) -> None:
        """Extend retain-until; an earlier date than the current one is ignored."""
        current = self.head(key).retain_until
        if current is not None and current >= retain_until:
            return
        meta = self._meta(key)
        meta["retain_until"] = retain_until.astimezone(UTC).isoformat()
        self._write_meta(key, meta)
        self._seal(self._path(key))

    def set_legal_hold(self, key: str, on: bool) -> None:
        self.head(key)
        meta = self._meta(key)
        meta["legal_hold"] = on
        self._write_meta(key, meta)

    def delete(self, key: str) -> None:
        """Delete, refusing objects under retention or legal hold (as S3 Object Lock does)."""
        info = self.head(key)
        if info.legal_hold:
            raise StorageError(f"{key} is under legal hold; release the hold first")
        if info.retain_until is not None and info.retain_until > datetime.now(UTC):
            raise StorageError(f"{key} is retained until {info.retain_until.isoformat()}")
        self._path(key).unlink()
        self._meta_path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if (
                not path.is_file()
                or path.name.endswith(META_SUFFIX)
                or path.name.startswith(".tmp-")
            ):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                yield self.head(key)

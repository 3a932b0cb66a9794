"""The ``Store`` protocol: where closed WARC files (and certificates, chain heads) live for good."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows of one object."""

    key: str
    size: int
    sha256: str | None = None  # hex digest, when the store keeps one
    retain_until: datetime | None = None  # Object Lock retain-until (UTC), if any
    legal_hold: bool = False


@runtime_checkable
class Store(Protocol):
    """A place for immutable objects under keys like ``{series}/{account}/{yyyy}/{mm}/{name}``.

    Implementations: :class:`archiver.storage.local.LocalStore` (``file://``) and
    :class:`archiver.storage.s3.S3Store` (``s3://``). Failures raise ``StorageError``
    (``ObjectNotFoundError`` for a missing key, ``IntegrityError`` for a checksum mismatch).
    """

    url: str

    def ensure_ready(self) -> None:
        """Create the bucket / folder if needed (S3: with Object Lock enabled). Idempotent."""

    def put_file(
        self, key: str, path: Path, *, sha256: str, retain_until: datetime | None = None
    ) -> ObjectInfo:
        """Upload ``path`` under ``key`` with its SHA-256 (hex) as the integrity check, apply the
        retain-until lock when given, then read back size and digest and raise ``IntegrityError`` if
        they differ. Returns what was stored."""

    def put_bytes(
        self, key: str, data: bytes, *, retain_until: datetime | None = None
    ) -> ObjectInfo:
        """Store a small object (certificates, chain heads) with the same guarantees as put_file."""

    def head(self, key: str) -> ObjectInfo:
        """Describe one object; ``ObjectNotFoundError`` when absent."""

    def exists(self, key: str) -> bool:
        """True when an object is stored under ``key``."""

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        """Read ``length`` bytes from ``start`` (to the end when ``length`` is None)."""

    def open_read(self, key: str) -> BinaryIO:
        """A stream over the whole object, for large reads (fixity, export)."""

    def set_retention(self, key: str, retain_until: datetime) -> None:
        """Set or extend the retain-until date (never shortens an S3 COMPLIANCE lock)."""

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Put or lift a legal hold on the object."""

    def delete(self, key: str) -> None:
        """Remove the object. Only governance's disposition calls this."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

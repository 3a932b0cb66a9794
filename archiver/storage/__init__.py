"""Object stores: the local filesystem (``file://``) and S3 (``s3://``), behind one protocol."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from archiver.errors import ConfigError
from archiver.storage.base import ObjectInfo, Store
from archiver.storage.local import LocalStore

if TYPE_CHECKING:
    from archiver.storage.s3 import S3Store


def open_store(url: str, *, lock_mode: str = "GOVERNANCE") -> Store:
    """The store for ``url``: ``file:///path`` or ``s3://bucket/prefix?endpoint_url=&region=``."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"storage URL {url!r}: file URLs are file:///absolute/path")
        return LocalStore(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(
                f"storage URL {url!r} names no bucket; write s3://BUCKET/prefix?endpoint_url=..."
            )
        from archiver.storage.s3 import S3Store

        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint_url", "region"}
        if unknown:
            raise ConfigError(
                f"storage URL {url!r}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                "known are endpoint_url and region"
            )
        return S3Store(
            bucket=parts.netloc,
            prefix=parts.path.strip("/"),
            endpoint_url=query.get("endpoint_url"),
            region=query.get("region"),
            lock_mode=lock_mode,
        )
    raise ConfigError(
        f"storage URL {url!r} is not supported; use file:///path or s3://bucket/prefix"
    )


__all__ = ["LocalStore", "ObjectInfo", "S3Store", "Store", "open_store"]


def __getattr__(name: str) -> object:
    if name == "S3Store":
        from archiver.storage.s3 import S3Store

        return S3Store
    raise AttributeError(name)

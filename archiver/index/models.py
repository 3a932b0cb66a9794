"""SQLModel tables of the index. Table rows stay here; the rest of the code passes dataclasses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = True, index: bool = False) -> object:
    return Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index)
    )


class CaptureRow(SQLModel, table=True):
    """One capture run of one account: the capture ledger entry."""

    __tablename__ = "captures"

    capture_id: str = Field(primary_key=True)
    account: str = Field(index=True)
    series: str = Field(index=True)
    platform: str
    status: str = Field(index=True)  # running | ok | partial | failed
    trigger: str = "cli"  # cli | schedule | recovery | demo
    started_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    policy_hash: str = ""
    actor: str = ""
    records: int = 0
    bytes: int = 0
    warc_files: int = 0
    posts_new: int = 0
    posts_edited: int = 0
    posts_deleted: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    ledger: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class WarcFileRow(SQLModel, table=True):
    """A WARC file: in the spool (closed) or stored (in the object store)."""

    __tablename__ = "warc_files"

    name: str = Field(primary_key=True)
    capture_id: str = Field(index=True)
    account: str = Field(index=True)
    series: str = Field(index=True)
    key: str
    size: int
    sha256: str
    status: str = Field(index=True)  # closed | stored
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    stored_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    store_url: str | None = None
    retain_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    last_verified_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )


class RecordRow(SQLModel, table=True):
    """One WARC record: where it is (file, offset, length) and what it holds."""

    __tablename__ = "records"

    record_id: str = Field(primary_key=True)
    warc_name: str = Field(index=True)
    offset: int
    length: int
    rec_type: str
    target_uri: str | None = Field(default=None, index=True)
    date: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    status_code: int | None = None
    mime: str | None = None
    payload_digest: str | None = Field(default=None, index=True)
    block_digest: str
    refers_to: str | None = Field(default=None, index=True)
    capture_id: str = Field(index=True)
    account: str = Field(index=True)
    series: str = Field(index=True)


class PostRow(SQLModel, table=True):
    """A post (feed item, status, video ...) as the platform identifies it; one per account."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("account", "native_id"),)

    post_id: str = Field(primary_key=True)
    account: str = Field(index=True)
    series: str = Field(index=True)
    platform: str
    native_id: str
    url: str | None = None
    author: str | None = None
    published_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), index=True)
    )
    kind: str = "post"  # post | reply | comment
    in_reply_to: str | None = None  # native id of what this answers
    first_captured_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_captured_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    versions: int = 1
    edited: bool = False
    deleted: bool = False
    deleted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class PostVersionRow(SQLModel, table=True):
    """One version of a post's content; a new row whenever the content changes."""

    __tablename__ = "post_versions"

    id: int | None = Field(default=None, primary_key=True)
    post_id: str = Field(index=True)
    version: int
    title: str | None = Field(default=None, sa_column=Column(Text))
    text: str = Field(sa_column=Column(Text, nullable=False))
    raw: str = Field(default="", sa_column=Column(Text, nullable=False))
    content_hash: str
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    edited_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    captured_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
    capture_id: str = Field(index=True)
    record_id: str | None = None
    media: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    """JSON list of the media URLs (images, video, audio) attached to this version."""


class PostEventRow(SQLModel, table=True):
    """A records event on a post: edited, deleted_detected, restored."""

    __tablename__ = "post_events"

    id: int | None = Field(default=None, primary_key=True)
    post_id: str = Field(index=True)
    kind: str
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    capture_id: str
    evidence_record_id: str | None = None
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))


class AuditEventRow(SQLModel, table=True):
    """An append-only, hash-chained audit event (governance verifies the chain)."""

    __tablename__ = "audit_events"
    __table_args__ = {"sqlite_autoincrement": True}  # a deleted seq is never handed out again

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str
    action: str = Field(index=True)
    subject: str
    payload: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str
    hash: str = Field(unique=True)


class HoldRow(SQLModel, table=True):
    """A legal hold: freezes every capture it covers (criteria are ANDed)."""

    __tablename__ = "holds"

    hold_id: str = Field(primary_key=True)
    name: str
    reason: str = Field(sa_column=Column(Text, nullable=False))
    account: str | None = None
    series: str | None = None
    date_from: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    date_to: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    query: str | None = None
    created_by: str
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    released_by: str | None = None
    released_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    release_reason: str | None = Field(default=None, sa_column=Column(Text))


class DispositionPlanRow(SQLModel, table=True):
    """A disposition plan: planned by one actor, approved by another, then executed."""

    __tablename__ = "disposition_plans"

    plan_id: str = Field(primary_key=True)
    as_of: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    series_filter: str | None = None
    status: str  # planned | approved | executed | cancelled
    planned_by: str
    planned_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    approved_by: str | None = None
    approved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    executed_by: str | None = None
    executed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    policy_hash: str = ""
    body: str = Field(sa_column=Column(Text, nullable=False))  # JSON: eligible and blocked
    certificate_key: str | None = None
    certificate_sha256: str | None = None
    cancelled_by: str | None = None
    cancelled_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    cancel_reason: str | None = Field(default=None, sa_column=Column(Text))


class TombstoneRow(SQLModel, table=True):
    """What remains of a disposed capture's WARC file: ids, digests, dates, authority."""

    __tablename__ = "tombstones"

    warc_name: str = Field(primary_key=True)
    capture_id: str = Field(index=True)
    account: str = Field(index=True)
    series: str
    authority: str | None = None
    key: str
    size: int
    sha256: str
    records: int
    captured_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    retain_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    action: str  # destroyed | transferred
    plan_id: str
    planned_by: str
    approved_by: str
    disposed_by: str
    disposed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TaskRow(SQLModel, table=True):
    """A capture task of distributed mode, one per (account, scheduled slot): what makes a
    re-delivered or twice-enqueued task run its capture once."""

    __tablename__ = "tasks"

    key: str = Field(primary_key=True)  # account@slot (ISO, UTC)
    account: str = Field(index=True)
    scheduled_for: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    state: str = Field(index=True)  # queued | running | done
    attempts: int = 0
    worker: str | None = None
    capture_id: str | None = None
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TransferRow(SQLModel, table=True):
    """One BagIt bag sent to a receiving archives under a plan, and the receipt that accepted
    it (the originals are deleted only once the receipt is recorded)."""

    __tablename__ = "transfers"

    bag_id: str = Field(primary_key=True)  # {plan_id}-{series}: the bag's folder name
    plan_id: str = Field(index=True)
    series: str
    destination: str  # file:///folder or s3://bucket/prefix (where the bag was written)
    location: str  # the bag itself: folder URL or s3 prefix
    accession: str | None = None
    transfer_request: str | None = None
    warc_version: str = "1.1"
    captures: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of capture ids
    manifest_sha256: str
    payload_oxum: str
    status: str = Field(index=True)  # sent | confirmed
    sent_by: str
    sent_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    receipt_name: str | None = None
    receipt_sha256: str | None = None
    receipt_key: str | None = None  # the receipt's exact bytes in the archive's store
    receipt: str | None = Field(default=None, sa_column=Column(Text))  # text, or base64
    receipt_encoding: str | None = None  # utf-8 | base64
    confirmed_by: str | None = None
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class ReviewRow(SQLModel, table=True):
    """An appraisal of one capture: keep, destroy, or reschedule into another series."""

    __tablename__ = "reviews"

    id: int | None = Field(default=None, primary_key=True)
    review_id: str = Field(index=True)  # one decision over many captures shares its id
    capture_id: str = Field(index=True)
    decision: str  # keep | destroy | reschedule
    from_series: str
    to_series: str
    reason: str = Field(sa_column=Column(Text, nullable=False))
    reviewed_by: str
    reviewed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    retain_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    locked_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))

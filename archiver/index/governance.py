"""Governance queries: legal holds, what retention and locks are computed from, disposition
plans and the tombstones of what they disposed of, appraisals (reviews) and transfers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import col, delete, func, select, update

from archiver.errors import NotFoundError, UsageError
from archiver.index.common import CaptureSummary, _capture, utc
from archiver.index.db import session_scope
from archiver.index.models import (
    CaptureRow,
    DispositionPlanRow,
    HoldRow,
    PostEventRow,
    PostRow,
    PostVersionRow,
    RecordRow,
    ReviewRow,
    TombstoneRow,
    TransferRow,
    WarcFileRow,
)


@dataclass(frozen=True)
class Hold:
    """A legal hold as recorded: what it covers (criteria ANDed), who made and released it."""

    hold_id: str
    name: str
    reason: str
    account: str | None
    series: str | None
    date_from: datetime | None
    date_to: datetime | None
    query: str | None
    created_by: str
    created_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None
    release_reason: str | None = None


def _hold(row: HoldRow) -> Hold:
    values = {f.name: getattr(row, f.name) for f in fields(Hold)}
    for name in ("date_from", "date_to", "created_at", "released_at"):
        values[name] = utc(values[name])
    return Hold(**values)


@dataclass(frozen=True)
class LockInputs:
    """What the Object Lock dates are computed from: stored files (name → capture id), each
    capture's (series, start), and each revisit's (capture id, original's file)."""

    stored_files: dict[str, str]
    captures: dict[str, tuple[str, datetime]]
    revisits: list[tuple[str, str | None]]


@dataclass(frozen=True)
class StoredPlan:
    """A disposition plan as recorded: its JSON ``body`` (eligible and blocked items), who
    planned, approved, executed or cancelled it and when, and its certificate."""

    plan_id: str
    as_of: datetime
    status: str
    planned_by: str
    planned_at: datetime
    body: str
    series_filter: str | None = None
    policy_hash: str = ""
    approved_by: str | None = None
    approved_at: datetime | None = None
    executed_by: str | None = None
    executed_at: datetime | None = None
    certificate_key: str | None = None
    certificate_sha256: str | None = None
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None


_PLAN_TIMES = ("as_of", "planned_at", "approved_at", "executed_at", "cancelled_at")


def _plan(row: DispositionPlanRow) -> StoredPlan:
    values = {f.name: getattr(row, f.name) for f in fields(StoredPlan)}
    for name in _PLAN_TIMES:
        values[name] = utc(values[name])
    return StoredPlan(**values)


@dataclass(frozen=True)
class Tombstone:
    """What remains of one disposed WARC file: ids, digests, dates, the authority and actors."""

    warc_name: str
    capture_id: str
    account: str
    series: str
    authority: str | None
    key: str
    size: int
    sha256: str
    records: int
    captured_at: datetime
    retain_until: datetime | None
    action: str  # destroyed | transferred
    plan_id: str
    planned_by: str
    approved_by: str
    disposed_by: str
    disposed_at: datetime


@dataclass(frozen=True)
class ReviewState:
    """The latest appraisal of one capture."""

    review_id: str
    decision: str
    reviewed_by: str
    reviewed_at: datetime
    retain_until: datetime | None  # keep: kept until (None: for good); else the schedule's


@dataclass(frozen=True)
class ReviewEntry:
    """One capture's part of an appraisal, as recorded."""

    review_id: str
    capture_id: str
    decision: str
    from_series: str
    to_series: str
    reason: str
    reviewed_by: str
    reviewed_at: datetime
    retain_until: datetime | None
    locked_until: datetime | None


@dataclass(frozen=True)
class SentBag:
    """One bag written to a destination."""

    bag_id: str
    plan_id: str
    series: str
    destination: str
    location: str
    accession: str | None
    transfer_request: str | None
    warc_version: str
    captures: list[str]
    manifest_sha256: str
    payload_oxum: str
    status: str
    sent_by: str
    sent_at: datetime
    receipt_name: str | None = None
    receipt_sha256: str | None = None
    receipt_key: str | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


def _sent(row: TransferRow) -> SentBag:
    values = {f.name: getattr(row, f.name) for f in fields(SentBag)}
    values["captures"] = json.loads(row.captures)
    values["sent_at"], values["confirmed_at"] = utc(row.sent_at), utc(row.confirmed_at)
    return SentBag(**values)


class GovernanceQueries:
    """Holds, the inputs of retention and lock decisions, disposition plans and tombstones."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- holds ---------------------------------------------------------------------------------

    def add_hold(self, hold: Hold) -> None:
        """Record a new hold."""
        with session_scope(self._engine) as s:
            s.add(HoldRow(**{f.name: getattr(hold, f.name) for f in fields(Hold)}))

    def holds(self, *, include_released: bool = True) -> list[Hold]:
        """Every hold (or only active ones), oldest first."""
        with session_scope(self._engine) as s:
            q = select(HoldRow).order_by(col(HoldRow.created_at))
            if not include_released:
                q = q.where(col(HoldRow.released_at).is_(None))
            return [_hold(r) for r in s.exec(q)]

    def hold(self, hold_id: str) -> Hold | None:
        """The hold ``hold_id``; None when there is none."""
        with session_scope(self._engine) as s:
            row = s.get(HoldRow, hold_id)
            return _hold(row) if row is not None else None

    def release_hold(self, hold_id: str, *, at: datetime, by: str, reason: str) -> Hold:
        """Mark an active hold released. NotFoundError for an unknown hold, UsageError for one
        already released (nothing changes then)."""
        with session_scope(self._engine) as s:
            row = s.get(HoldRow, hold_id)
            if row is None:
                raise NotFoundError(f"no hold {hold_id!r}; see `archiver hold list`")
            if row.released_at is not None:
                raise UsageError(f"hold {hold_id} was already released at {row.released_at}")
            row.released_at, row.released_by, row.release_reason = at, by, reason
            s.add(row)
            return _hold(row)

    def captures_of_posts(self, post_ids: Iterable[str]) -> set[str]:
        """Ids of the captures holding any version of the posts ``post_ids``."""
        ids = list(post_ids)
        if not ids:
            return set()
        with session_scope(self._engine) as s:
            rows = s.exec(
                select(PostVersionRow.capture_id).where(col(PostVersionRow.post_id).in_(ids))
            )
            return set(rows)

    def live_capture_ids(self) -> list[str]:
        """Ids of every capture not disposed of."""
        with session_scope(self._engine) as s:
            return list(
                s.exec(select(CaptureRow.capture_id).where(CaptureRow.status != "disposed"))
            )

    # --- locks ---------------------------------------------------------------------------------

    def lock_inputs(self) -> LockInputs:
        """Stored files, captures and revisits, read in one session (a consistent view)."""
        with session_scope(self._engine) as s:
            warcs = {
                w.name: w.capture_id
                for w in s.exec(select(WarcFileRow).where(WarcFileRow.status == "stored"))
            }
            captures = {
                c.capture_id: (c.series, utc(c.started_at)) for c in s.exec(select(CaptureRow))
            }
            revisits = list(
                s.exec(
                    select(RecordRow.capture_id, RecordRow.refers_to).where(
                        RecordRow.rec_type == "revisit", col(RecordRow.refers_to).is_not(None)
                    )
                )
            )
            originals = {
                record_id: warc_name
                for record_id, warc_name in s.exec(
                    select(RecordRow.record_id, RecordRow.warc_name).where(
                        col(RecordRow.record_id).in_([r for _, r in revisits])
                    )
                )
            }
        return LockInputs(warcs, captures, [(c, originals.get(r or "")) for c, r in revisits])

    def files_revisited_by(self, capture_id: str) -> set[str]:
        """Names of the files holding the originals the revisits of ``capture_id`` refer to."""
        with session_scope(self._engine) as s:
            refers = select(RecordRow.refers_to).where(
                RecordRow.capture_id == capture_id, RecordRow.rec_type == "revisit"
            )
            return set(
                s.exec(select(RecordRow.warc_name).where(col(RecordRow.record_id).in_(refers)))
            )

    def set_retain_until(self, warc_name: str, until: datetime) -> None:
        """Record the retain-until now set on a file's object (NotFoundError if unknown)."""
        with session_scope(self._engine) as s:
            row = s.get(WarcFileRow, warc_name)
            if row is None:
                raise NotFoundError(f"no WARC file {warc_name} in the index")
            row.retain_until = until
            s.add(row)

    # --- disposition ---------------------------------------------------------------------------

    def latest_publications(self) -> dict[str, datetime]:
        """capture_id → the newest publication date among the post versions it captured."""
        with session_scope(self._engine) as s:
            rows = s.exec(
                select(PostVersionRow.capture_id, func.max(PostVersionRow.published_at))
                .where(col(PostVersionRow.published_at).is_not(None))
                .group_by(PostVersionRow.capture_id)
            )
            return {cid: utc(d) for cid, d in rows if d is not None}

    def revisit_dependants(self) -> dict[str, set[str]]:
        """capture_id → the other captures with revisit records whose originals it holds."""
        original = aliased(RecordRow)
        with session_scope(self._engine) as s:
            rows = s.exec(
                select(original.capture_id, RecordRow.capture_id)
                .join(original, col(RecordRow.refers_to) == col(original.record_id))
                .where(RecordRow.rec_type == "revisit", RecordRow.capture_id != original.capture_id)
            )
            found: dict[str, set[str]] = {}
            for holder, dependant in rows:
                found.setdefault(holder, set()).add(dependant)
            return found

    def disposable_capture_ids(self, series: str | None = None) -> list[str]:
        """Ids of the captures neither running nor disposed of (only of ``series`` if given),
        oldest start first."""
        with session_scope(self._engine) as s:
            q = (
                select(CaptureRow.capture_id)
                .where(col(CaptureRow.status).not_in(["disposed", "running"]))
                .order_by(col(CaptureRow.started_at))
            )
            if series:
                q = q.where(CaptureRow.series == series)
            return list(s.exec(q))

    def add_plan(self, plan: StoredPlan) -> None:
        """Record a new disposition plan."""
        with session_scope(self._engine) as s:
            s.add(DispositionPlanRow(**{f.name: getattr(plan, f.name) for f in fields(plan)}))

    def plans(self, *, statuses: Sequence[str] | None = None) -> list[StoredPlan]:
        """Every plan (or those in ``statuses``), oldest first."""
        with session_scope(self._engine) as s:
            q = select(DispositionPlanRow).order_by(col(DispositionPlanRow.planned_at))
            if statuses is not None:
                q = q.where(col(DispositionPlanRow.status).in_(list(statuses)))
            return [_plan(r) for r in s.exec(q)]

    def plan(self, plan_id: str) -> StoredPlan | None:
        """The plan ``plan_id``; None when there is none."""
        with session_scope(self._engine) as s:
            row = s.get(DispositionPlanRow, plan_id)
            return _plan(row) if row is not None else None

    def update_plan(
        self, plan_id: str, change: Callable[[StoredPlan], Mapping[str, Any]]
    ) -> StoredPlan | None:
        """Change the plan ``plan_id`` in one transaction: ``change`` gets the plan as it stands
        and returns the fields to set (an exception it raises refuses, and nothing changes).
        The plan as changed; None when there is no such plan."""
        with session_scope(self._engine) as s:
            row = s.get(DispositionPlanRow, plan_id)
            if row is None:
                return None
            for name, value in change(_plan(row)).items():
                if name == "plan_id" or not hasattr(row, name):
                    raise ValueError(f"a plan has no changeable field {name!r}")
                setattr(row, name, value)
            s.add(row)
            s.flush()
            return _plan(row)

    def add_tombstones(self, tombstones: Iterable[Tombstone]) -> None:
        """Record the tombstones of disposed files, in one transaction."""
        with session_scope(self._engine) as s:
            for t in tombstones:
                s.add(TombstoneRow(**{f.name: getattr(t, f.name) for f in fields(t)}))

    def forget_capture(self, capture_id: str) -> None:
        """Remove a disposed capture's records, WARC files and post versions from the SQL index
        (posts left without a version go, with their events) and mark it ``disposed``; its
        tombstones stay. The full-text engine is the caller's to update."""
        with session_scope(self._engine) as s:
            post_ids = set(
                s.exec(
                    select(PostVersionRow.post_id).where(PostVersionRow.capture_id == capture_id)
                )
            )
            s.exec(delete(PostVersionRow).where(col(PostVersionRow.capture_id) == capture_id))
            s.exec(delete(RecordRow).where(col(RecordRow.capture_id) == capture_id))
            s.flush()
            for post_id in post_ids:
                remaining = s.exec(
                    select(PostVersionRow.id).where(PostVersionRow.post_id == post_id)
                ).first()
                if remaining is None:
                    s.exec(delete(PostEventRow).where(col(PostEventRow.post_id) == post_id))
                    s.exec(delete(PostRow).where(col(PostRow.post_id) == post_id))
            s.exec(delete(WarcFileRow).where(col(WarcFileRow.capture_id) == capture_id))
            capture = s.get(CaptureRow, capture_id)
            if capture is None:
                raise NotFoundError(f"no capture {capture_id} in the index")
            capture.status = "disposed"
            s.add(capture)

    # --- appraisal -----------------------------------------------------------------------------

    def latest_reviews(self) -> dict[str, ReviewState]:
        """capture_id → its latest review decision (captures never reviewed are absent)."""
        found: dict[str, ReviewState] = {}
        with session_scope(self._engine) as s:
            for row in s.exec(select(ReviewRow).order_by(col(ReviewRow.id))):
                found[row.capture_id] = ReviewState(
                    review_id=row.review_id,
                    decision=row.decision,
                    reviewed_by=row.reviewed_by,
                    reviewed_at=utc(row.reviewed_at),
                    retain_until=utc(row.retain_until),
                )
        return found

    def add_reviews(self, entries: Iterable[ReviewEntry]) -> None:
        """Record an appraisal's entries, in one transaction."""
        with session_scope(self._engine) as s:
            for e in entries:
                s.add(ReviewRow(**{f.name: getattr(e, f.name) for f in fields(e)}))

    def captures_in_series(self, series: str) -> list[CaptureSummary]:
        """Every capture of ``series`` (any status), oldest start first."""
        with session_scope(self._engine) as s:
            rows = s.exec(
                select(CaptureRow)
                .where(CaptureRow.series == series)
                .order_by(col(CaptureRow.started_at))
            )
            return [_capture(r) for r in rows]

    def move_capture(self, capture_id: str, series: str) -> None:
        """Name ``series`` for the capture, its WARC files and records, and for every post
        whose versions are all in captures of that series now, in one transaction."""
        with session_scope(self._engine) as s:
            for table in (CaptureRow, WarcFileRow, RecordRow):
                s.exec(
                    update(table).where(col(table.capture_id) == capture_id).values(series=series)
                )
            post_ids = set(
                s.exec(
                    select(PostVersionRow.post_id).where(PostVersionRow.capture_id == capture_id)
                )
            )
            for post_id in sorted(post_ids):
                others = set(
                    s.exec(
                        select(CaptureRow.series)
                        .join(
                            PostVersionRow,
                            col(PostVersionRow.capture_id) == col(CaptureRow.capture_id),
                        )
                        .where(PostVersionRow.post_id == post_id)
                    )
                )
                if others == {series}:
                    s.exec(
                        update(PostRow).where(col(PostRow.post_id) == post_id).values(series=series)
                    )

    # --- transfer ------------------------------------------------------------------------------

    def transfers(self, plan_id: str | None = None) -> list[SentBag]:
        """Every bag sent (of one plan, or all), oldest first."""
        with session_scope(self._engine) as s:
            q = select(TransferRow).order_by(col(TransferRow.sent_at), col(TransferRow.bag_id))
            if plan_id is not None:
                q = q.where(TransferRow.plan_id == plan_id)
            return [_sent(r) for r in s.exec(q)]

    def add_transfer(self, bag: SentBag) -> None:
        """Record a bag just sent."""
        values = {f.name: getattr(bag, f.name) for f in fields(bag)}
        values["captures"] = json.dumps(bag.captures)
        with session_scope(self._engine) as s:
            s.add(TransferRow(**values))

    def confirm_transfers(
        self,
        bag_ids: Iterable[str],
        *,
        by: str,
        at: datetime,
        receipt_name: str,
        receipt_sha256: str,
        receipt_key: str,
        receipt: str,
        receipt_encoding: str,
    ) -> None:
        """Mark the bags ``bag_ids`` confirmed by the receipt (its text or base64), in one
        transaction (NotFoundError, and nothing changes, for an unknown bag)."""
        with session_scope(self._engine) as s:
            for bag_id in bag_ids:
                row = s.get(TransferRow, bag_id)
                if row is None:
                    raise NotFoundError(f"no transfer bag {bag_id} in the index")
                row.status, row.confirmed_by, row.confirmed_at = "confirmed", by, at
                row.receipt_name, row.receipt_sha256 = receipt_name, receipt_sha256
                row.receipt_key, row.receipt, row.receipt_encoding = (
                    receipt_key,
                    receipt,
                    receipt_encoding,
                )
                s.add(row)

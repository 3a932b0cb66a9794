"""Governance queries: legal holds, and what retention and locks are computed from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from archiver.errors import NotFoundError, UsageError
from archiver.index.common import utc
from archiver.index.db import session_scope
from archiver.index.models import CaptureRow, HoldRow, PostVersionRow, RecordRow, WarcFileRow


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


class GovernanceQueries:
    """Holds and the inputs of retention and lock decisions."""

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

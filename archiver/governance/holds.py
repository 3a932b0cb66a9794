"""Legal holds: a held capture is never disposed, and on S3 its objects carry a legal hold."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from archiver.errors import UsageError
from archiver.governance.audit import record_event
from archiver.index.api import CaptureSummary, utc
from archiver.index.governance import Hold
from archiver.logging import get_logger
from archiver.runtime import Runtime


@dataclass(frozen=True)
class HoldCriteria:
    """What a hold covers; every given criterion must match (AND)."""

    account: str | None = None
    series: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    query: str | None = None

    def is_empty(self) -> bool:
        return not any((self.account, self.series, self.date_from, self.date_to, self.query))


class HoldMatcher:
    """Which active holds cover a capture. Built once per plan or execution (queries run once)."""

    def __init__(self, rt: Runtime, holds: list[Hold]) -> None:
        self.holds = holds
        self._query_captures: dict[str, set[str]] = {}
        for hold in holds:
            if hold.query:
                self._query_captures[hold.hold_id] = _captures_matching(rt, hold.query)

    @classmethod
    def active(cls, rt: Runtime) -> HoldMatcher:
        return cls(rt, rt.index.governance.holds(include_released=False))

    def covering(self, capture: CaptureSummary) -> list[Hold]:
        """The active holds that cover ``capture``."""
        return [
            h
            for h in self.holds
            if self.covers(
                h, capture.capture_id, capture.account, capture.series, capture.started_at
            )
        ]

    def covers(
        self, h: Hold, capture_id: str, account: str, series: str, started_at: datetime
    ) -> bool:
        """Whether hold ``h`` (one of this matcher's) covers that capture: every criterion
        matches (account, series, capture time within from/to, a post matching the query)."""
        if h.account and h.account != account:
            return False
        if h.series and h.series != series:
            return False
        if h.date_from and started_at < utc(h.date_from):
            return False
        if h.date_to and started_at > utc(h.date_to):
            return False
        return not (h.query and capture_id not in self._query_captures[h.hold_id])


def _captures_matching(rt: Runtime, query: str) -> set[str]:
    """Captures holding any version of a post that matches ``query``."""
    posts = {p.post_id for p in rt.index.search(query, limit=1_000_000)}
    return rt.index.governance.captures_of_posts(posts)


def _all_captures(rt: Runtime) -> list[CaptureSummary]:
    ids = rt.index.governance.live_capture_ids()
    return [rt.index.get_capture(i) for i in ids]


def _set_legal_holds(rt: Runtime, captures: list[CaptureSummary], on: bool) -> int:
    """Set or lift the store's legal hold on the stored WARC files of ``captures``."""
    changed = 0
    for capture in captures:
        for warc in rt.index.list_warcs(capture_id=capture.capture_id, status="stored"):
            rt.store.set_legal_hold(warc.key, on)
            changed += 1
    return changed


def add_hold(rt: Runtime, name: str, reason: str, criteria: HoldCriteria) -> tuple[Hold, int]:
    """Create a hold, put a legal hold on every stored object it covers; returns the hold and
    how many captures it covers now (later captures it matches are covered too)."""
    if criteria.is_empty():
        raise UsageError("a hold needs at least one of --account, --series, --from/--to or --query")
    if not reason.strip():
        raise UsageError("a hold needs --reason: say why (case number, request, litigation)")
    now = rt.clock.now()
    hold = Hold(
        hold_id=f"hold-{now:%Y%m%d}-{secrets.token_hex(3)}",
        name=name,
        reason=reason,
        account=criteria.account,
        series=criteria.series,
        date_from=criteria.date_from,
        date_to=criteria.date_to,
        query=criteria.query,
        created_by=rt.settings.actor,
        created_at=now,
    )
    rt.index.governance.add_hold(hold)
    matcher = HoldMatcher(rt, [hold])
    covered = [c for c in _all_captures(rt) if matcher.covering(c)]
    objects = _set_legal_holds(rt, covered, True)
    record_event(
        rt,
        "hold.added",
        hold.hold_id,
        {
            "name": name,
            "reason": reason,
            "criteria": criteria.__dict__,
            "captures": [c.capture_id for c in covered],
            "objects_held": objects,
        },
    )
    get_logger().info("hold.added", hold_id=hold.hold_id, captures=len(covered))
    return hold, len(covered)


def list_holds(rt: Runtime, *, include_released: bool = True) -> list[Hold]:
    return rt.index.governance.holds(include_released=include_released)


def release_hold(rt: Runtime, hold_id: str, reason: str) -> tuple[Hold, int]:
    """Release a hold; lift the store's legal hold only where no other active hold covers."""
    if not reason.strip():
        raise UsageError("releasing a hold needs --reason")
    now = rt.clock.now()
    hold = rt.index.governance.release_hold(hold_id, at=now, by=rt.settings.actor, reason=reason)
    released = HoldMatcher(rt, [hold])
    others = HoldMatcher.active(rt)
    freed = [c for c in _all_captures(rt) if released.covering(c) and not others.covering(c)]
    objects = _set_legal_holds(rt, freed, False)
    record_event(
        rt,
        "hold.released",
        hold_id,
        {
            "reason": reason,
            "captures_freed": [c.capture_id for c in freed],
            "objects_released": objects,
        },
    )
    return hold, len(freed)


def apply_active_holds(rt: Runtime, capture: CaptureSummary) -> list[str]:
    """Put the store's legal hold on a new capture's objects when an active hold covers it."""
    holds = HoldMatcher.active(rt).covering(capture)
    if holds:
        _set_legal_holds(rt, [capture], True)
    return [h.hold_id for h in holds]

"""Review (appraisal) and re-classification of captures: keep, destroy, or reschedule.

A decision is recorded per capture (``reviews`` rows, one audited ``retention.reviewed`` event
per decision) and the latest one per capture is what plans follow:

* ``keep`` retains the capture for one more period of its series counted from the review (a
  permanent series: for good); its Object Lock is extended to that date. When it ends, a
  ``review`` series asks for a new appraisal, a ``destroy``/``transfer`` series proceeds.
* ``destroy`` lets the capture into the next plan as a destruction once its retention has ended
  (an appraisal never shortens the schedule, a hold or an Object Lock).
* ``reschedule --to SERIES`` moves the capture into another series: its retain-until is
  recomputed under that series, the Object Lock on its objects is extended to it and never
  shortened (when the lock ends later, the lock is kept and reported), and the index (captures,
  WARC files, records, posts) names the new series. Object keys keep the old series' prefix:
  a key is a name, the index says which series a capture belongs to.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from archiver.errors import NotFoundError, UsageError
from archiver.governance.audit import record_event
from archiver.index.api import CaptureSummary
from archiver.index.governance import ReviewEntry
from archiver.index.governance import ReviewState as ReviewState
from archiver.policy.model import UNSCHEDULED, UNSCHEDULED_ID, Series
from archiver.runtime import Runtime

Decision = Literal["keep", "destroy", "reschedule"]
DECISIONS: tuple[str, ...] = ("keep", "destroy", "reschedule")


def latest_reviews(rt: Runtime) -> dict[str, ReviewState]:
    """capture_id → its latest review decision (captures never reviewed are absent)."""
    return rt.index.governance.latest_reviews()


def review_reason(series: Series, review: ReviewState | None, as_of: datetime) -> str | None:
    """Why an appraisal (or its absence) keeps a capture out of a plan at ``as_of``; None when
    it does not. A ``reschedule`` counts as no decision under the new series."""
    if review is not None and review.decision == "keep":
        by = f"kept at review {review.review_id} by {review.reviewed_by}"
        if review.retain_until is None:
            return f"review: {by} for good"
        if review.retain_until > as_of:
            return f"review: {by} until {review.retain_until:%Y-%m-%d}"
        if series.disposition == "review":
            return f"review: {by} until {review.retain_until:%Y-%m-%d}; a new appraisal is due"
        return None
    if review is not None and review.decision == "destroy":
        return None
    if series.disposition == "review":
        return "review: the schedule requires an appraisal before disposal"
    return None


def disposal_action(series: Series, review: ReviewState | None) -> str:
    """What an eligible capture's disposal is: ``destroy`` when an appraisal decided so, else
    the series' own (``transfer`` or ``destroy``)."""
    if review is not None and review.decision == "destroy":
        return "destroy"
    return "transfer" if series.disposition == "transfer" else "destroy"


@dataclass
class ReviewedCapture:
    capture_id: str
    from_series: str
    series: str
    retain_until: datetime | None  # under the (new) series, or kept until (keep)
    locked_until: datetime | None  # the latest Object Lock on its objects after the review
    lock_kept: bool = False  # the lock ends after retain_until and was not shortened


@dataclass
class ReviewResult:
    """What ``archiver retention review --json`` prints."""

    review_id: str
    decision: str
    reason: str
    reviewed_by: str
    reviewed_at: datetime
    to_series: str | None
    captures: list[ReviewedCapture] = field(default_factory=list)


def _targets(rt: Runtime, capture_id: str | None, series: str | None) -> list[CaptureSummary]:
    if (capture_id is None) == (series is None):
        raise UsageError("give a CAPTURE_ID or --series ID (one of them) to review")
    if capture_id is not None:
        rows = [rt.index.get_capture(capture_id)]  # NotFoundError names `archiver captures list`
    else:
        assert series is not None
        rows = rt.index.governance.captures_in_series(series)
        if not rows:
            raise NotFoundError(f"no captures in series {series!r}")
    gone = [r.capture_id for r in rows if r.status in ("disposed", "running")]
    if capture_id is not None and gone:
        raise UsageError(
            f"capture {capture_id} is {rows[0].status}; only kept captures are reviewed"
        )
    return [r for r in rows if r.capture_id not in gone]


def review_captures(
    rt: Runtime,
    *,
    decision: str,
    reason: str,
    capture_id: str | None = None,
    series: str | None = None,
    to_series: str | None = None,
) -> ReviewResult:
    """Record an appraisal of one capture or of every kept capture of a series (audited
    ``retention.reviewed``) and carry it out (see the module docstring). Raises UsageError
    (exit 2) for a decision that cannot apply: an unknown decision or series, ``--to`` without
    ``reschedule``, destroying permanent or unscheduled records, captures held by a plan, or
    rescheduling captures under a legal hold."""
    from archiver.governance.disposition import pending_plans, schedule_retain_until
    from archiver.governance.holds import HoldMatcher

    if decision not in DECISIONS:
        raise UsageError(f"--decision {decision!r}: choose one of {', '.join(DECISIONS)}")
    if not reason.strip():
        raise UsageError("--reason: say why (the appraisal is part of the record)")
    policies = rt.policies or rt.reload_policies()
    target: Series | None = None
    if decision == "reschedule":
        if not to_series:
            raise UsageError("--decision reschedule needs --to SERIES (the series to move into)")
        if to_series == UNSCHEDULED_ID or to_series not in policies.series:
            known = ", ".join(sorted(k for k in policies.series if k != UNSCHEDULED_ID))
            raise UsageError(f"--to {to_series!r} is not a series of the policies (known: {known})")
        target = policies.series[to_series]
    elif to_series:
        raise UsageError("--to is for --decision reschedule only")
    rows = _targets(rt, capture_id, series)
    if not rows:
        raise NotFoundError(f"series {series!r} has no kept captures to review")
    pending = pending_plans(rt)
    held_by_plan = [r.capture_id for r in rows if r.capture_id in pending]
    if held_by_plan:
        first = pending[held_by_plan[0]][0]
        raise UsageError(
            f"capture(s) {', '.join(held_by_plan)} are in plan {first}, which is not done; "
            "finish or cancel that plan before reviewing them"
        )
    holds = HoldMatcher.active(rt)
    if decision == "reschedule":
        held = [r.capture_id for r in rows if holds.covering(rt.index.get_capture(r.capture_id))]
        if held:
            raise UsageError(
                f"capture(s) {', '.join(held)} are under a legal hold; a reschedule would take "
                "them out of a series hold; release the hold first (`archiver hold release`)"
            )
    for r in rows:
        current = policies.series.get(r.series, UNSCHEDULED)
        if decision == "destroy" and (current.unscheduled or current.retention.permanent):
            raise UsageError(
                f"capture {r.capture_id} is in {current.id}, which is never destroyed; "
                "reschedule it into a series with a disposal authority (--decision reschedule "
                "--to SERIES)"
            )
        if decision == "reschedule" and target is not None and r.series == target.id:
            raise UsageError(f"capture {r.capture_id} is already in series {target.id}")
    now = rt.clock.now()
    result = ReviewResult(
        review_id=f"review-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        decision=decision,
        reason=reason.strip(),
        reviewed_by=rt.settings.actor,
        reviewed_at=now,
        to_series=target.id if target else None,
    )
    published = rt.index.governance.latest_publications()
    for r in rows:
        current = policies.series.get(r.series, UNSCHEDULED)
        summary = rt.index.get_capture(r.capture_id)
        if decision == "keep":
            new_series = current
            until = (
                None
                if current.retention.permanent or current.unscheduled
                else _plus_period(current, now)
            )
        else:
            new_series = target or current
            until = schedule_retain_until(new_series, summary, published.get(r.capture_id))
        if target is not None:
            rt.index.governance.move_capture(r.capture_id, target.id)
        locked, kept = _lock_at_least(rt, r.capture_id, until if decision != "destroy" else None)
        result.captures.append(
            ReviewedCapture(
                capture_id=r.capture_id,
                from_series=r.series,
                series=new_series.id,
                retain_until=until,
                locked_until=locked,
                lock_kept=kept,
            )
        )
    rt.index.governance.add_reviews(
        ReviewEntry(
            review_id=result.review_id,
            capture_id=c.capture_id,
            decision=decision,
            from_series=c.from_series,
            to_series=c.series,
            reason=result.reason,
            reviewed_by=result.reviewed_by,
            reviewed_at=now,
            retain_until=c.retain_until,
            locked_until=c.locked_until,
        )
        for c in result.captures
    )
    record_event(
        rt,
        "retention.reviewed",
        capture_id or f"series:{series}",
        {
            "review_id": result.review_id,
            "decision": decision,
            "reason": result.reason,
            "to_series": result.to_series,
            "captures": {
                c.capture_id: {
                    "from_series": c.from_series,
                    "series": c.series,
                    "retain_until": c.retain_until,
                    "locked_until": c.locked_until,
                    "lock_kept": c.lock_kept,
                }
                for c in result.captures
            },
        },
    )
    if target is not None:
        # Dedup originals in other captures must now stay as long as the moved revisits.
        from archiver.governance.locks import extend_locks

        extend_locks(rt)
    return result


def _plus_period(series: Series, start: datetime) -> datetime:
    until = start + series.retention.period()
    assert isinstance(until, datetime)
    return until


def _lock_at_least(
    rt: Runtime, capture_id: str, until: datetime | None
) -> tuple[datetime | None, bool]:
    """Extend the Object Lock of the capture's stored objects to ``until`` (never shorten it);
    returns (the latest lock now in force, whether a lock later than ``until`` was kept)."""
    latest: datetime | None = None
    kept = False
    now = rt.clock.now()
    for warc in rt.index.list_warcs(capture_id=capture_id):
        if warc.status != "stored":
            continue
        current = rt.store.head(warc.key).retain_until
        if until is not None and until > now and (current is None or current < until):
            rt.store.set_retention(warc.key, until)
            current = rt.store.head(warc.key).retain_until
            rt.index.governance.set_retain_until(warc.name, until)
        if current is not None and current > now:
            if until is not None and current > until:
                kept = True
            latest = current if latest is None else max(latest, current)
    return latest, kept

"""Disposition plans as records: list them, show one in full, cancel one that must not go on.

A cancelled plan is closed for good (never approved or executed afterwards) and its captures
are no longer "pending": the next plan may include them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from archiver.errors import NotFoundError, UsageError
from archiver.governance.audit import record_event
from archiver.governance.disposition import PlanItem, get_plan
from archiver.index.api import utc
from archiver.index.governance import StoredPlan
from archiver.runtime import Runtime

STATUSES = ("planned", "approved", "executed", "cancelled")
CERTIFYING_ACTIONS = ("retention.disposed", "retention.disposition_incomplete")


@dataclass
class PlanRecord:
    """Everything known about one plan: ``archiver retention show --json`` (``list`` leaves
    out the items)."""

    plan_id: str
    status: str
    as_of: datetime
    forecast: bool  # as_of is still to come
    series_filter: str | None
    policy_hash: str
    planned_by: str
    planned_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    executed_by: str | None
    executed_at: datetime | None
    cancelled_by: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    certificate_keys: list[str] = field(default_factory=list)
    eligible: list[PlanItem] = field(default_factory=list)
    blocked: list[PlanItem] = field(default_factory=list)


def _record(rt: Runtime, row: StoredPlan) -> PlanRecord:
    as_of = utc(row.as_of)
    planned_at = utc(row.planned_at)
    return PlanRecord(
        plan_id=row.plan_id,
        status=row.status,
        as_of=as_of,
        forecast=as_of > rt.clock.now(),
        series_filter=row.series_filter,
        policy_hash=row.policy_hash,
        planned_by=row.planned_by,
        planned_at=planned_at,
        approved_by=row.approved_by,
        approved_at=utc(row.approved_at),
        executed_by=row.executed_by,
        executed_at=utc(row.executed_at),
        cancelled_by=row.cancelled_by,
        cancelled_at=utc(row.cancelled_at),
        cancel_reason=row.cancel_reason,
    )


def list_plans(rt: Runtime, *, status: str | None = None) -> list[PlanRecord]:
    """Every plan, oldest first, optionally only those with ``status`` (UsageError if that is
    not a plan status)."""
    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status!r}: a plan is one of {', '.join(STATUSES)}")
    statuses = None if status is None else [status]
    return [_record(rt, row) for row in rt.index.governance.plans(statuses=statuses)]


def _certificates(rt: Runtime, plan_id: str) -> list[str]:
    """The certificate keys of every run of the plan (partial runs have their own), in order."""
    keys: list[str] = []
    for e in rt.index.audit_events_about([plan_id]):
        key = e.payload.get("certificate")
        if e.subject == plan_id and e.action in CERTIFYING_ACTIONS and key and key not in keys:
            keys.append(str(key))
    return keys


def plan_record(rt: Runtime, plan_id: str) -> PlanRecord:
    """One plan in full: its items, who planned, approved, executed or cancelled it and when,
    and the keys of the certificates its runs wrote. NotFoundError when there is no such plan."""
    row = rt.index.governance.plan(plan_id)
    if row is None:
        raise NotFoundError(f"no disposition plan {plan_id!r}; see `archiver retention list`")
    record = _record(rt, row)
    plan = get_plan(rt, plan_id)
    record.eligible, record.blocked = plan.eligible, plan.blocked
    record.certificate_keys = _certificates(rt, plan_id)
    return record


def cancel_plan(rt: Runtime, plan_id: str, reason: str) -> PlanRecord:
    """Cancel a plan that is planned or approved (audited as ``retention.cancelled``).

    Refused with UsageError (exit 2) without a reason, for an executed plan (what it disposed
    of is certified and stays so) and for one already cancelled. A plan whose earlier run was
    partly refused by the store may be cancelled: what it did stays certified, the rest stays.
    """
    if not reason.strip():
        raise UsageError("cancelling a plan needs --reason: say why it must not go on")
    actor, now = rt.settings.actor, rt.clock.now()
    was = ""

    def cancel(row: StoredPlan) -> dict[str, Any]:
        nonlocal was
        if row.status == "executed":
            raise UsageError(
                f"plan {plan_id} was executed at {utc(row.executed_at):%Y-%m-%d %H:%M:%SZ} by "
                f"{row.executed_by}; an executed plan cannot be cancelled (its certificate "
                f"stands); see `archiver retention show {plan_id}`"
            )
        if row.status == "cancelled":
            raise UsageError(
                f"plan {plan_id} was already cancelled by {row.cancelled_by} at "
                f"{utc(row.cancelled_at):%Y-%m-%d %H:%M:%SZ}: {row.cancel_reason}"
            )
        was = row.status
        return {
            "status": "cancelled",
            "cancelled_by": actor,
            "cancelled_at": now,
            "cancel_reason": reason,
        }

    if rt.index.governance.update_plan(plan_id, cancel) is None:
        raise NotFoundError(f"no disposition plan {plan_id!r}; see `archiver retention list`")
    record = plan_record(rt, plan_id)
    record_event(
        rt,
        "retention.cancelled",
        plan_id,
        {
            "reason": reason,
            "was": was,
            "planned_by": record.planned_by,
            "approved_by": record.approved_by,
            "eligible": [i.capture_id for i in record.eligible],
            "certificates": record.certificate_keys,
        },
    )
    return record

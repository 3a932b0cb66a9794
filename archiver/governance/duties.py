"""Separation of duties in disposition: who may do the next step of a plan."""

from __future__ import annotations

from archiver.errors import UsageError
from archiver.policy.model import UNSCHEDULED
from archiver.runtime import Runtime


def refuse_lone_approver(rt: Runtime, plan_id: str, approved_by: str, series: set[str]) -> None:
    """Where a series of the plan says ``disposition_requires_two_people``, the approver may
    not also execute: UsageError (exit 2) when the acting person approved the plan.

    The planner still never approves (checked at approval), so such a plan always passes
    through at least two people, and the one who executes is not the one who approved."""
    actor = rt.settings.actor
    if actor != approved_by:
        return
    policies = rt.policies or rt.reload_policies()
    strict = sorted(
        s for s in series if policies.series.get(s, UNSCHEDULED).disposition_requires_two_people
    )
    if strict:
        raise UsageError(
            f"refused: plan {plan_id} was approved by {approved_by}; execution needs a second "
            f"person (series {', '.join(strict)}: disposition_requires_two_people); another "
            f"person runs `archiver retention dispose {plan_id}`"
        )

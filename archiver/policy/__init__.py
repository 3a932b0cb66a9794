"""Policies: series (retention schedules) and accounts, loaded from YAML."""

from archiver.policy.loader import load_policies
from archiver.policy.model import (
    UNSCHEDULED,
    UNSCHEDULED_ID,
    Account,
    CaptureOptions,
    PolicySet,
    Retention,
    Schedule,
    Series,
)

__all__ = [
    "UNSCHEDULED",
    "UNSCHEDULED_ID",
    "Account",
    "CaptureOptions",
    "PolicySet",
    "Retention",
    "Schedule",
    "Series",
    "load_policies",
]

"""Typed series and accounts: what the rest of the code receives after a policy loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import isodate

Platform = Literal[
    "feed", "mastodon", "bluesky", "youtube", "x", "facebook", "instagram", "wechat", "web"
]
PLATFORMS: tuple[str, ...] = (
    "feed",
    "mastodon",
    "bluesky",
    "youtube",
    "x",
    "facebook",
    "instagram",
    "wechat",
    "web",
)
Cutoff = Literal["capture", "publication", "calendar_year", "fiscal_year"]
Disposition = Literal["destroy", "transfer", "review", "keep"]
WarcVersion = Literal["1.0", "1.1"]
CaptureMode = Literal["api", "page"]

UNSCHEDULED_ID = "unscheduled"


@dataclass(frozen=True)
class Retention:
    """A retention period: an ISO-8601 duration, or permanent (never expires)."""

    text: str  # as written: "P90D", "P7Y", "permanent"

    @property
    def permanent(self) -> bool:
        return self.text == "permanent"

    def period(self) -> timedelta | isodate.Duration:
        """The period to add to a cutoff date; raises ValueError when permanent."""
        if self.permanent:
            raise ValueError("a permanent retention has no period")
        return isodate.parse_duration(self.text)


@dataclass(frozen=True)
class Schedule:
    """When to capture: a 5-field cron expression or an ISO-8601 interval, in a time zone."""

    text: str
    timezone: str = "UTC"

    @property
    def kind(self) -> Literal["cron", "interval"]:
        return "interval" if self.text.startswith("P") else "cron"

    def interval(self) -> timedelta:
        """The interval of an ISO-8601 schedule such as ``PT6H``."""
        value = isodate.parse_duration(self.text)
        if not isinstance(value, timedelta):
            raise ValueError("interval schedules must not use years or months")
        return value


@dataclass(frozen=True)
class TransferTarget:
    """Where a ``disposition: transfer`` series goes at the end of its period, and how it is
    labelled for the receiving archives (``transfer:`` in the policy)."""

    destination: str | None = None  # file:///folder or s3://bucket/prefix?...; None: local
    accession: str | None = None  # the receiving archives' accession number
    transfer_request: str | None = None  # e.g. a NARA transfer request (TR) number
    warc_version: WarcVersion = "1.1"  # "1.0" where the archives lists only WARC 1.0


@dataclass(frozen=True)
class Series:
    """A records series from a retention schedule (e.g. GRS 6.4 item 020)."""

    id: str
    title: str
    authority: str | None
    retention: Retention
    cutoff: Cutoff = "capture"
    disposition: Disposition = "destroy"
    source: str = "<built-in>"  # file:line where it is defined
    disposition_requires_two_people: bool = False  # the approver may not also execute
    transfer: TransferTarget | None = None  # disposition transfer: destination and labels

    @property
    def unscheduled(self) -> bool:
        return self.id == UNSCHEDULED_ID


UNSCHEDULED = Series(
    id=UNSCHEDULED_ID,
    title="Unscheduled: accounts without a retention schedule (kept, never disposed)",
    authority=None,
    retention=Retention("permanent"),
    cutoff="capture",
    disposition="keep",
)


def period_before(text: str, end: datetime) -> timedelta:
    """The length of the ISO-8601 duration ``text`` ending at ``end`` (months and years counted
    on the calendar)."""
    period = isodate.parse_duration(text)
    delta: timedelta = (
        period.totimedelta(end=end) if isinstance(period, isodate.Duration) else period
    )
    return delta


@dataclass(frozen=True)
class CaptureOptions:
    """Per-account capture options (``options:`` in the policy)."""

    comments: bool = True
    media: bool = True
    max_items: int = 200
    pages: bool = False
    max_bytes: int | None = None
    since: str | None = None  # ISO-8601 duration window (e.g. P30D); None: no window
    full_listing_every: str | None = None
    """ISO-8601 duration (e.g. P1D). Set: captures in between list only posts newer than the
    newest already indexed (incremental, a few bytes for an unchanged account), and one capture
    per period lists the whole window, which is what finds edits and deletions. None: every
    capture lists the whole window."""
    api_version: str | None = None
    """The platform API version to call (Graph API: ``v24.0``); None: the connector's default."""


@dataclass(frozen=True)
class Account:
    """One account (or feed, or page) of an agency, captured on a schedule into one series."""

    id: str
    agency: str
    platform: str
    series: str
    schedule: Schedule
    responsible: str | None = None
    url: str | None = None
    handle: str | None = None
    base_url: str | None = None
    capture: tuple[str, ...] = ("api",)
    credentials: str | None = None
    options: CaptureOptions = field(default_factory=CaptureOptions)
    source: str = ""  # file:line where it is defined


@dataclass(frozen=True)
class PolicySet:
    """Every series and account loaded from the policies folder, with the hash of its files."""

    series: dict[str, Series]
    accounts: dict[str, Account]
    policy_hash: str
    files: tuple[str, ...]

    def series_of(self, account: Account) -> Series:
        """The series an account's captures fall into."""
        return self.series[account.series]

    def account(self, account_id: str) -> Account:
        """The account with that id; KeyError when unknown."""
        return self.accounts[account_id]

"""Retention arithmetic: retain-until = cutoff date + the series' period."""

from __future__ import annotations

from datetime import UTC, datetime

from archiver.policy.model import Series


def cutoff_date(series: Series, event: datetime, *, fiscal_year_start_month: int = 10) -> datetime:
    """The cutoff for a record whose event (capture or publication) happened at ``event``:
    the event itself, or the end of its calendar / fiscal year (U.S. federal FY starts 1 Oct)."""
    event = event.astimezone(UTC)
    if series.cutoff == "calendar_year":
        return datetime(event.year + 1, 1, 1, tzinfo=UTC)
    if series.cutoff == "fiscal_year":
        m = fiscal_year_start_month
        year = event.year + 1 if event.month >= m else event.year
        return datetime(year, m, 1, tzinfo=UTC)
    return event


def retain_until(series: Series, event: datetime) -> datetime | None:
    """When a record of ``series`` may be disposed of; None for permanent and unscheduled.

    For a WARC file the event is its capture time: publication precedes capture, so locking
    until capture + period never releases a record before its schedule allows.
    """
    if series.retention.permanent or series.unscheduled:
        return None
    result = cutoff_date(series, event) + series.retention.period()
    assert isinstance(result, datetime)
    return result

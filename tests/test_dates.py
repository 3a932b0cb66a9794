"""A day date given as an upper bound (--to, --until) includes that whole day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.cli.common import parse_time
from archiver.errors import UsageError


def test_bare_day_as_upper_bound_ends_at_the_end_of_that_day() -> None:
    end = parse_time("2026-12-02", name="--to", end_of_day=True)
    assert end == datetime(2026, 12, 2, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_time("2026-12-02", name="--from") == datetime(2026, 12, 2, tzinfo=UTC)


def test_times_are_taken_as_written() -> None:
    at = parse_time("2026-12-02T10:00:00Z", name="--to", end_of_day=True)
    assert at == datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert parse_time("2026-12-02T10:00:00+01:00", name="--until", end_of_day=True) == datetime(
        2026, 12, 2, 9, tzinfo=UTC
    )


def test_unparsable_dates_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--to"):
        parse_time("2nd of December", name="--to", end_of_day=True)

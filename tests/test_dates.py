"""A day date given as an upper bound (--to, --until) includes that whole day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.cli.common import parse_time
from archiver.errors import UsageError
from tests.conftest import MakeRuntime


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


def test_a_day_ends_at_the_end_of_that_day_in_the_stated_time_zone() -> None:
    # 2 December ends at 23:59:59.999999 in New York, 04:59:59.999999 UTC on the 3rd (EST)
    end = parse_time("2026-12-02", name="--to", end_of_day=True, tz="America/New_York")
    assert end == datetime(2026, 12, 3, 4, 59, 59, 999999, tzinfo=UTC)
    start = parse_time("2026-12-02", name="--from", tz="Asia/Shanghai")
    assert start == datetime(2026, 12, 1, 16, tzinfo=UTC)
    # a time with its own offset keeps it whatever the zone
    at = parse_time("2026-12-02T10:00:00Z", name="--to", tz="Asia/Shanghai")
    assert at == datetime(2026, 12, 2, 10, tzinfo=UTC)


def test_an_unknown_time_zone_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--timezone"):
        parse_time("2026-12-02", name="--to", tz="Mars/Olympus")


def test_hold_to_a_day_in_a_time_zone_covers_that_local_day(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli_inprocess import invoke

    rt = make_runtime()
    hold = invoke(
        rt,
        monkeypatch,
        "hold",
        "add",
        "FOIA-7",
        "--reason",
        "request",
        "--to",
        "2026-12-02",
        "--timezone",
        "America/New_York",
        "--json",
    )
    assert parse_time(hold["to"], name="to") == datetime(2026, 12, 3, 4, 59, 59, 999999, tzinfo=UTC)
    invoke(rt, monkeypatch, "hold", "add", "x", "--reason", "r", "--timezone", "Nowhere", code=2)

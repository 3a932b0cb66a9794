"""What every command shares: settings, the runtime, output as JSON or rich, exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.table import Table
from rich.text import Text

from archiver.config import Settings, load_settings
from archiver.errors import UsageError
from archiver.index.api import jsonable
from archiver.logging import configure_logging
from archiver.runtime import Runtime

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

_settings: Settings | None = None


def settings() -> Settings:
    """Settings read once per process (ConfigError → exit 2 in main)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
        configure_logging(_settings.log_format, _settings.log_level)
    return _settings


def runtime(*, create: bool = False, load: bool = True) -> Runtime:
    return Runtime.build(settings(), create=create, load=load)


def emit_json(value: Any) -> None:
    """Machine-readable output on stdout."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def parse_time(
    value: str | None, *, name: str, end_of_day: bool = False, tz: str = "UTC"
) -> datetime | None:
    """An ISO date or date-time on the command line, as aware UTC (UsageError if unparsable).

    A bare date is the start of that day, or with ``end_of_day`` (an inclusive upper bound:
    ``--to``, ``--until``) its last instant, so ``--to 2026-12-02`` includes that day. Days and
    times without an offset are read in the time zone ``tz`` (an IANA name, UTC by default).
    """
    if value is None:
        return None
    zone = time_zone(tz)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{name}: {value!r} is not a date; write 2026-11-24 or 2026-11-24T12:00:00Z"
        ) from None
    if end_of_day and _is_bare_date(value):
        parsed = parsed + timedelta(days=1) - timedelta(microseconds=1)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def time_zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (UsageError naming the option when unknown)."""
    try:
        return UTC if name.upper() == "UTC" else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone: {name!r} is not a time zone; write an IANA name such as UTC, "
            "America/New_York or Asia/Shanghai"
        ) from None


def _is_bare_date(value: str) -> bool:
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return "T" not in value and ":" not in value


def short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


@dataclass(frozen=True)
class Col:
    """A column of a :func:`table`: ``ident`` columns (capture, post, account, plan, hold ids,
    file names) are never cut nor folded; ``optional`` ones are left out, rightmost first, when
    the terminal is too narrow for the ids and a readable width of the rest."""

    header: str
    ident: bool = False
    optional: bool = False
    justify: Literal["left", "right"] = "left"


_READABLE = 8  # narrowest a wrapping column may get before optional columns are dropped
_SHORT_HEADER = 12  # headers up to this long are never broken over two lines


def table(
    columns: Sequence[Col],
    rows: Sequence[Sequence[str | Text]],
    *,
    title: str | None = None,
    width: int | None = None,
) -> Table:
    """A rich table that shows every id whole at any terminal width (``COLUMNS=80`` included):
    id columns get the width of their longest value and never wrap; the other columns wrap,
    and optional ones are dropped when even wrapping would not leave them readable."""
    width = width or out.width

    def longest(i: int) -> int:
        cells = [columns[i].header, *(_plain(r[i]) for r in rows)]
        return max(len(line) for cell in cells for line in (cell.splitlines() or [""]))

    keep = list(range(len(columns)))

    def floor(i: int) -> int:
        """Narrowest width of column ``i``: an id's length; else readable, header unbroken."""
        if columns[i].ident:
            return longest(i)
        header = len(columns[i].header)
        words = max((len(w) for r in rows for w in _plain(r[i]).split()), default=0)
        return max(
            min(_READABLE, longest(i)),
            min(words, _SHORT_HEADER),  # rich keeps a column as wide as its longest word
            header if header <= _SHORT_HEADER else 0,
        )

    def needed() -> int:
        return sum(floor(i) for i in keep) + 3 * len(keep) + 1  # padding and rich's borders

    for i in reversed(range(len(columns))):
        if needed() <= width:
            break
        if columns[i].optional:
            keep.remove(i)
    result = Table(title=title)
    for i in keep:
        c = columns[i]
        if c.ident:
            result.add_column(
                c.header, no_wrap=True, overflow="fold", min_width=floor(i), justify=c.justify
            )
        else:
            result.add_column(c.header, overflow="fold", justify=c.justify, min_width=floor(i))
    for r in rows:
        result.add_row(*(r[i] for i in keep))
    return result


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell

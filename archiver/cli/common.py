"""What every command shares: settings, the runtime, output as JSON or rich, exit codes."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rich.console import Console

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


def parse_time(value: str | None, *, name: str, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time on the command line, as aware UTC (UsageError if unparsable).

    A bare date is the start of that day (UTC), or with ``end_of_day`` (an inclusive upper
    bound: ``--to``, ``--until``) its last instant, so ``--to 2026-12-02`` includes that day.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{name}: {value!r} is not a date; write 2026-11-24 or 2026-11-24T12:00:00Z"
        ) from None
    if end_of_day and _is_bare_date(value):
        parsed = parsed + timedelta(days=1) - timedelta(microseconds=1)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _is_bare_date(value: str) -> bool:
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return "T" not in value and ":" not in value


def short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"

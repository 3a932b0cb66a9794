"""One immutable settings object, read once from ``ARCHIVER_*`` environment variables.

Unknown ``ARCHIVER_`` variables are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from archiver.errors import ConfigError

ENV_PREFIX = "ARCHIVER_"


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return "unknown"


class Settings(BaseSettings):
    """Validated, frozen settings. Build with :func:`load_settings`, then pass it down."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    storage_url: str | None = None
    policies: Path = Path("./policies")
    broker_url: str | None = None  # amqp://...: captures run on `archiver worker` processes
    broker_queue: str = "archiver.captures"  # the Celery queue capture tasks travel on
    allow_private_networks: bool = False
    actor: str = _default_actor()  # who acts: the OS user, unless actor_override allows naming
    actor_override: bool = False  # let ARCHIVER_ACTOR name someone other than the OS user
    log_format: Literal["json", "console"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    health_addr: str = "127.0.0.1:9180"
    object_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    audit_head_retention_days: int = 3650  # Object Lock on each audit chain head in the store
    warc_max_bytes: int = 1_000_000_000
    http_connect_timeout: float = 10.0
    http_read_timeout: float = 30.0
    http_max_response_bytes: int = 200 * 1024 * 1024
    http_max_redirects: int = 10
    http_max_retry_after: float = 120.0  # longest rate-limit pause a capture waits out
    http_max_retries: int = 3  # further attempts after a timeout, reset, 5xx or 429
    http_backoff_base: float = 1.0  # first backoff in seconds, doubled per retry, jittered
    http_response_deadline: float = 300.0  # seconds one response may take in all (slow-loris)
    capture_deadline: float = 3600.0  # seconds one capture may fetch before it is cut, partial
    spool_ship_interval: float = 60.0  # seconds between the daemon's tries to ship the backlog
    schedule_jitter: int = 0  # up to this many seconds added to each scheduled run (spreads load)
    redis_url: str | None = None  # shares per-host rate limits between workers (distributed mode)
    user_agent: str = "archiver/0.1 (+records capture; public records)"
    chromium_path: Path = Path("/usr/bin/chromium")  # Debian's chromium package
    browser_page_timeout: float = 30.0  # seconds a page may take to load before it is cut
    browser_max_scrolls: int = 20  # scroll steps before a page counts as fully loaded
    search_engine: Literal["tantivy", "sql"] = "tantivy"  # sql: FTS5 / tsvector in the database
    web_users: Path | None = None  # users file of `archiver web` (sign-in and roles)
    pywb_bin: Path | None = None  # folder with pywb's wayback/wb-manager (default .venv-pywb/bin)

    @field_validator("actor")
    @classmethod
    def _actor_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank: set ARCHIVER_ACTOR to who is acting")
        return value

    @model_validator(mode="after")
    def _actor_is_the_os_user(self) -> Settings:
        """The actor is the OS user; ARCHIVER_ACTOR may name another only when the operator
        allows it (ARCHIVER_ACTOR_OVERRIDE=true), so nobody signs acts with a free-text name."""
        named = "actor" in self.model_fields_set and self.actor != self.os_user
        if named and not self.actor_override:
            raise ValueError(
                f"ARCHIVER_ACTOR is {self.actor!r} but the OS user acting is {self.os_user!r}: "
                "the actor is the OS user; unset ARCHIVER_ACTOR, or allow naming the actor "
                "with ARCHIVER_ACTOR_OVERRIDE=true (a shared service account, tests, the demo)"
            )
        return self

    @property
    def os_user(self) -> str:
        """The operating-system user running this process (recorded beside an overridden
        actor in the audit chain)."""
        return _default_actor()

    @field_validator("audit_head_retention_days")
    @classmethod
    def _positive_days(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of days")
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Tools the archiver starts (pywb) run in other folders: a relative data dir would
        # point somewhere else for them.
        return value.expanduser().absolute()

    @field_validator("warc_max_bytes", "http_max_response_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of bytes")
        return value

    @property
    def spool_dir(self) -> Path:
        """Where WARC files are written before they are shipped to the store."""
        return self.data_dir / "spool"

    @property
    def search_dir(self) -> Path:
        """Where the tantivy search index lives (derived from the SQL index; one per host)."""
        return self.data_dir / "search"

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'archiver.db').resolve()}"

    @property
    def effective_storage_url(self) -> str:
        """The storage URL, defaulting to a local folder inside the data dir."""
        return self.storage_url or (self.data_dir / "store").resolve().as_uri()


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``).

    Raises :class:`ConfigError` naming the variable when one is unknown or invalid."""
    env = dict(os.environ if environ is None else environ)
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise ConfigError(
            f"unknown environment variable {unknown[0]}: known are "
            f"{', '.join(sorted(known))}; remove or rename it"
        )
    values: dict[str, object] = {
        name: env[ENV_PREFIX + name.upper()]
        for name in Settings.model_fields
        if ENV_PREFIX + name.upper() in env
    }
    values.update(overrides)
    try:
        # Values are passed explicitly so a test's environ never mixes with the process's.
        return Settings.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a check across settings: its message names the variables
            raise ConfigError(str(err["msg"]).removeprefix("Value error, ")) from exc
        name = ENV_PREFIX + str(err["loc"][0]).upper() if err["loc"] else "ARCHIVER_*"
        raise ConfigError(f"{name}: {err['msg']} (got {err.get('input')!r})") from exc

"""One exception hierarchy. Each error carries the CLI exit code it maps to (DESIGN.md)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTEGRITY = 3


class ArchiverError(Exception):
    """Base of every deliberate error; the message says what, to what, and what to do."""

    exit_code: int = EXIT_FAILED


class ConfigError(ArchiverError):
    """Settings (environment) are invalid."""

    exit_code = EXIT_USAGE


class PolicyError(ArchiverError):
    """A policy file is invalid; the message names ``file:line``, the key and a remedy."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class UsageError(ArchiverError):
    """Bad command-line input (unknown account, unparsable date ...)."""

    exit_code = EXIT_USAGE


class NotFoundError(ArchiverError):
    """The thing asked for is not in the index."""

    exit_code = EXIT_FAILED


class CaptureError(ArchiverError):
    """A capture could not fetch what it was asked to."""


class NetworkGuardError(CaptureError):
    """A request was refused because it targets a private, loopback or metadata address."""

    exit_code = EXIT_USAGE


class ConnectionFailedError(CaptureError):
    """No response at all: DNS, connect, reset or timeout before the headers (transient)."""


class RateLimitedError(CaptureError):
    """The platform asked for a longer pause than this capture may wait."""


class ResponseTooLargeError(CaptureError):
    """A response exceeded the configured size cap."""


class StorageError(ArchiverError):
    """The object store failed or is unreachable."""


class ObjectNotFoundError(StorageError):
    """The object store has no object under that key."""


class DatabaseError(ArchiverError):
    """The index database failed."""


class IntegrityError(ArchiverError):
    """A digest, size or chain check failed: tamper or corruption."""

    exit_code = EXIT_INTEGRITY

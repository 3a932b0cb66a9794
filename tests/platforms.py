"""Helpers for the platform connector tests: one-account policies, stored bytes, records events."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, select

from archiver.capture.http import HttpLimits
from archiver.index.db import session_scope
from archiver.index.models import PostEventRow, PostRow
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import write_policy
from tests.corpus_replay import ReplayServer

ACCOUNT = "agency-account"


def platform_policy(folder: Path, platform: str, **fields: str) -> Path:
    """A policy with one account ``agency-account`` on ``platform``; ``fields`` are YAML lines
    of the account (``handle``, ``base_url``, ``credentials``, ``options`` ...)."""
    extra = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    return write_policy(
        folder,
        f"""\
series:
  - id: social
    title: Social media records
    authority: DAA-GRS-2016-0005-0002
    retention: P90D
accounts:
  - id: {ACCOUNT}
    agency: Test Agency
    platform: {platform}
    series: social
    schedule: PT1H
{extra}""",
    )


def api_root(sim: Simulator, host: str) -> str:
    """The simulator URL standing for ``https://host``."""
    return f"{sim.base_url}/{host}"


def stored_bytes(rt: Runtime) -> bytes:
    """Every stored WARC file of the runtime, decompressed and concatenated."""
    out = []
    for warc in rt.index.list_warcs(status="stored"):
        with rt.store.open_read(warc.key) as stream:
            out.append(gzip.decompress(stream.read()))
    return b"".join(out)


def events(rt: Runtime, kind: str) -> list[PostEventRow]:
    with session_scope(rt.index.engine) as s:
        return list(
            s.exec(
                select(PostEventRow).where(PostEventRow.kind == kind).order_by(col(PostEventRow.id))
            )
        )


def posts(rt: Runtime, kind: str | None = None) -> list[PostRow]:
    with session_scope(rt.index.engine) as s:
        q = select(PostRow).where(PostRow.account == ACCOUNT)
        if kind:
            q = q.where(PostRow.kind == kind)
        return list(s.exec(q))


def fault_repeats(kind: str) -> int:
    """How many requests a simulator fault must spoil to outlast the client's retries: 5xx and 429
    answers are asked again, malformed bodies are not."""
    return 1 + HttpLimits().max_retries if kind in {"500", "429"} else 1


def options_text(**options: str) -> str:
    """An account's ``options:`` as a YAML flow mapping."""
    return "{" + ", ".join(f"{k}: {v}" for k, v in options.items()) + "}"


def utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; a naive time (as SQLite returns) is taken to be UTC already."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def replay_mastodon(
    folder: Path,
    server: ReplayServer,
    listing: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> Path:
    """Policies for the Mastodon account ``@agency@localhost`` (id 42) that ``server`` answers:
    its lookup and one statuses page ``listing`` (with ``headers``); media off."""
    lookup = b'{"id": "42", "username": "agency", "acct": "agency"}'
    server.add_json("GET", "/api/v1/accounts/lookup", lookup)
    server.add_json("GET", "/api/v1/accounts/42/statuses", listing, headers=headers or [])
    return platform_policy(
        folder,
        "mastodon",
        handle='"@agency@localhost"',
        base_url=server.base_url,
        options="{media: false}",
    )

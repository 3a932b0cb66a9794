"""Run ``archiver`` commands in-process against a test runtime's index and store."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

import archiver.cli.common
from archiver.runtime import Runtime


def invoke(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str, code: int = 0, actor: str = "cli"
) -> Any:
    """Run ``archiver ARGS`` in-process against ``rt``'s index and store as ``actor``; return
    its ``--json`` output (parsed) or its stdout."""
    from archiver.cli.main import app

    s = rt.settings
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ARCHIVER_")}
    env.update(
        ARCHIVER_DATA_DIR=str(s.data_dir),
        ARCHIVER_DATABASE_URL=s.effective_database_url,
        ARCHIVER_STORAGE_URL=s.effective_storage_url,
        ARCHIVER_POLICIES=str(s.policies),
        ARCHIVER_ALLOW_PRIVATE_NETWORKS="true",
        ARCHIVER_ACTOR=actor,
        ARCHIVER_ACTOR_OVERRIDE="true",
    )
    monkeypatch.setattr(archiver.cli.common, "_settings", None)  # read once per process
    logging_config = structlog.get_config()
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        structlog.configure(**logging_config)
    exit_code = result.exit_code
    if result.exception is not None and hasattr(result.exception, "exit_code"):
        exit_code = int(result.exception.exit_code)  # an ArchiverError, as main() maps it
    assert exit_code == code, (result.output, result.exception)
    return json.loads(result.stdout) if "--json" in args and code == 0 else result

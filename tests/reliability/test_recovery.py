"""Recovery never stops on one bad item, and closes captures a dead process left running."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from archiver.capture.recovery import recover_spool
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime, archiver_env
from tests.corpus_replay import ReplayServer
from tests.platforms import ACCOUNT, replay_mastodon
from tests.processes import kill_when_rotated, kill_when_spooled


def _audit_actions(rt: object) -> list[str]:
    with session_scope(rt.index.engine) as s:  # type: ignore[attr-defined]
        rows = s.exec(select(AuditEventRow).order_by(col(AuditEventRow.seq)))
        return [r.action for r in rows]


def test_a_status_without_id_does_not_stop_recovery(
    tmp_path: Path, make_runtime: MakeRuntime, sim: Simulator
) -> None:
    broken = [{"content": "<p>no id here</p>", "created_at": "2026-11-30T10:00:00Z"}]
    with ReplayServer() as server:
        folder = replay_mastodon(
            tmp_path / "p",
            server,
            json.dumps(broken).encode(),
            headers=[("Link", f'<{sim.base_url}/_fault/hang>; rel="next"')],
        )
        rt = make_runtime(folder)
        env = archiver_env(rt, policies=str(folder), http_read_timeout="120", log_level="warning")
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli.main", "capture", ACCOUNT],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # warcinfo, lookup and listing (request + response each)
        kill_when_spooled(proc, rt.settings.spool_dir, 5, "its listing")
    report = recover_spool(rt)  # must not raise
    assert len(report.repaired) == 1 and len(report.shipped) == 1
    [capture] = rt.index.list_captures(ACCOUNT)
    assert capture.status == "partial" and "interrupted" in (capture.error or "")
    [problem] = capture.ledger["recovery_problems"]
    assert "/api/v1/accounts/42/statuses" in problem and "not indexed" in problem
    assert "capture.recovered" in _audit_actions(rt)
    # the next capture of the account is not stopped by the archived bad item either
    assert recover_spool(rt).repaired == []


def test_captures_left_running_by_a_dead_process_are_closed_as_interrupted(
    tmp_path: Path, make_runtime: MakeRuntime
) -> None:
    rt = make_runtime(capture_deadline=60, http_response_deadline=30)
    now = rt.clock.now()
    for capture_id, started in (("dead", now - timedelta(hours=1)), ("live", now)):
        rt.index.start_capture(
            capture_id=capture_id,
            account="demo-usgs-quakes",
            series="grs-6.4-020",
            platform="feed",
            trigger="schedule",
            started_at=started,
            policy_hash="",
            actor="test-operator",
        )
    report = recover_spool(rt)
    assert report.interrupted == ["dead"]
    dead = rt.index.get_capture("dead")
    assert dead.status == "failed" and dead.error and dead.error.startswith("interrupted")
    assert dead.finished_at is not None
    assert rt.index.get_capture("live").status == "running", "a capture within its deadline"
    assert _audit_actions(rt).count("capture.interrupted") == 1
    assert recover_spool(rt).interrupted == [], "closed once"
    busy = recover_spool(rt, busy=lambda account: True)
    assert busy.interrupted == []


def test_recovery_leaves_the_files_of_a_claimed_capture_alone(
    tmp_path: Path, make_runtime: MakeRuntime, backend: dict[str, str]
) -> None:
    """A file belongs to its capture while that capture's claim is held, whichever process
    (``archiver capture``, the daemon's backlog shipping) runs recovery meanwhile."""
    if backend:
        pytest.skip("the store is made unreachable through a local path: one backend suffices")
    from archiver.capture.job import capture_account
    from archiver.warc.spool import claim_capture

    blocked = tmp_path / "store"
    rt = make_runtime(storage_url=f"file://{blocked}")
    shutil.rmtree(blocked)
    blocked.write_text("the store cannot write here now")
    result = capture_account(rt, "demo-agency-rdf")
    [left] = list(rt.settings.spool_dir.glob("*.warc.gz"))  # stored nowhere: kept in the spool
    with claim_capture(rt.settings.spool_dir, result.capture_id):
        report = recover_spool(rt)
        assert left.name not in report.still_spooled + report.shipped, "touched while claimed"
    report = recover_spool(rt)
    assert report.still_spooled == [left.name], "tried once the claim is gone"
    assert left.exists()


def test_a_recovered_multi_file_capture_counts_what_is_stored_and_indexed(
    make_runtime: MakeRuntime,
) -> None:
    """A capture whose WARCs rotated into several files, killed mid-capture: once recovered,
    its records, WARC files and bytes are those of the index and the store, all files."""
    rt = make_runtime(warc_max_bytes=2000)
    spool = rt.settings.spool_dir
    env = archiver_env(rt, warc_max_bytes="2000", log_level="error")
    env["SIMULATOR_URL"] = rt.variables["SIMULATOR_URL"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver.cli.main", "capture", "demo-nasa-news"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_when_rotated(proc, spool, closed_files=3)
    report = recover_spool(rt)
    assert len(report.repaired) == 1 and len(report.shipped) >= 4
    [capture] = rt.index.list_captures("demo-nasa-news")
    assert capture.status == "partial"
    warcs = rt.index.list_warcs(capture_id=capture.capture_id)
    assert len(warcs) == len(report.shipped) and all(w.status == "stored" for w in warcs)
    stored = {o.key: o.size for o in rt.store.list() if o.key.endswith(".warc.gz")}
    assert sorted(stored) == sorted(w.key for w in warcs)
    assert capture.warc_files == len(warcs)
    assert capture.bytes == sum(stored.values())
    assert capture.records == len(rt.index.records_of_capture(capture.capture_id))

"""The index database goes away during a run: captures go on into the spool, with the ledger in
each WARC's metadata record, and start-up recovery indexes and ships them when it is back.

Runs on the real PostgreSQL: the test database is closed to connections (ALLOW_CONNECTIONS false
and its sessions terminated), which is what an outage looks like to the archiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.capture.job import capture_account
from archiver.capture.recovery import recover_spool
from archiver.config import load_settings
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import PG_ADMIN, ROOT

NASA = "demo-nasa-news"


@pytest.fixture
def pg_runtime(pg_url: str, tmp_path: Path, sim: Simulator) -> Iterator[tuple[Runtime, str]]:
    settings = load_settings(
        {},
        data_dir=tmp_path / "data",
        database_url=pg_url,
        policies=ROOT / "policies" / "demo",
        allow_private_networks=True,
        actor="test-operator",
        actor_override=True,
    )
    rt = Runtime.build(settings, create=True, variables={"SIMULATOR_URL": sim.base_url})
    yield rt, pg_url.rsplit("/", 1)[1]
    rt.index.engine.dispose()


def set_outage(dbname: str, down: bool) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS {"false" if down else "true"}')
        if down:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )


def test_a_capture_during_an_index_outage_is_spooled_then_indexed_once(
    pg_runtime: tuple[Runtime, str],
) -> None:
    rt, dbname = pg_runtime
    assert capture_account(rt, NASA).status == "ok"
    set_outage(dbname, True)
    try:
        rt.index.engine.dispose()
        during = capture_account(rt, NASA)
    finally:
        set_outage(dbname, False)
    assert during.stored == 0 and during.spooled == 1, during.problems
    assert during.status == "ok", during.problems
    assert any("index was unavailable" in p for p in during.problems)
    spooled = list(rt.settings.spool_dir.glob("*.warc.gz"))
    assert [p.name for p in spooled] == during.warc_files

    rt.index.engine.dispose()
    report = recover_spool(rt)
    assert report.shipped == during.warc_files
    row = rt.index.get_capture(during.capture_id)
    assert row.status == "ok" and row.trigger == "cli"
    assert "indexed_later" in row.ledger
    warc = rt.index.get_warc(during.warc_files[0])
    assert warc is not None and warc.status == "stored"
    assert not list(rt.settings.spool_dir.glob("*.warc.gz"))
    again = recover_spool(rt)  # idempotent: nothing indexed or shipped twice
    assert again.shipped == [] and again.records_recovered == 0
    assert len(rt.index.list_captures(NASA)) == 2

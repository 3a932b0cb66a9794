"""Full-text search engines (tantivy, SQL) on both backends: same results, derived and repaired
from the SQL index, forgotten by disposition; and bulk ingest of posts per page."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import tantivy

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.governance.disposition import approve_plan, execute_plan, make_plan
from archiver.index.api import Index, NormalizedPost
from archiver.index.fulltext import SearchFilter, SqlSearch
from archiver.index.fulltext.base import sql_state
from archiver.index.fulltext.tantivy_engine import TantivySearch
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime, archiver_env
from tests.test_retrieval_more import NASA, USGS, ids, story


@pytest.fixture(params=["tantivy", "sql"])
def engine(request: pytest.FixtureRequest) -> str:
    """The search engine a test runs on (ARCHIVER_SEARCH_ENGINE)."""
    return str(request.param)


QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("nasa", {}),
    ("km", {}),
    ("kokopo", {}),
    ('"combined $1.8 million"', {}),
    ('"sea level measurements"', {}),
    ('"level sea measurements"', {}),
    ("measure*", {}),
    ("satellite measurements", {}),
    ("nasa", {"edited": True}),
    ("nasa", {"deleted": True}),
    ("satellite", {"edited": True}),
    ("km", {"series": "demo-grs-6.4-020"}),
    ("km", {"series": "demo-press-permanent"}),
    ("nasa", {"platform": "mastodon"}),
    ("nasa", {"account": USGS}),
    ("km", {"account": USGS}),
    ("km", {"since": datetime(2026, 3, 1, tzinfo=UTC)}),
    ("km", {"until": datetime(2026, 2, 28, tzinfo=UTC)}),
    ("km", {"since": datetime(2026, 2, 15, tzinfo=UTC), "until": datetime(2026, 3, 2, tzinfo=UTC)}),
]


def test_both_engines_find_the_same_posts(make_runtime: MakeRuntime, sim: Simulator) -> None:
    rt = story(make_runtime, sim)
    assert isinstance(rt.index.fulltext, TantivySearch)  # the default
    sql = Index(rt.index.engine, SqlSearch(rt.index.engine))
    found_any = 0
    for query, filters in QUERIES:
        tantivy_ids = ids(rt.index.search(query, **filters))
        assert tantivy_ids == ids(sql.search(query, **filters)), (query, filters)
        found_any += bool(tantivy_ids)
    assert found_any >= 12  # the table is not a list of empty answers


def test_search_syntax_filters_and_snippets(
    make_runtime: MakeRuntime, sim: Simulator, engine: str
) -> None:
    rt = story(make_runtime, sim, search_engine=engine)
    assert rt.index.fulltext.name == engine
    search = rt.index.search
    [edited] = rt.index.list_posts(NASA, edited=True)
    [deleted] = rt.index.list_posts(NASA, deleted=True)
    # every version is searched: the edited post's old wording, the deleted post
    assert ids(search('"combined $1.8 million"')) == {edited.post_id}
    assert ids(search('"sea level measurements"')) == {deleted.post_id}
    assert ids(search('"level sea measurements"')) == set()
    assert deleted.post_id in ids(search("measure*"))
    assert ids(search("nasa", deleted=True)) == {deleted.post_id}
    quakes = search("km")
    assert len(quakes) == 4 and {p.account for p in quakes} == {USGS}
    assert len(search("km", limit=2)) == 2
    times = sorted(p.published_at for p in quakes if p.published_at)
    assert len(times) == 4
    since, until = times[1], times[2]
    assert ids(search("km", since=since)) == {p.post_id for p in quakes if p.published_at >= since}
    assert ids(search("km", since=since, until=until)) == {
        p.post_id for p in quakes if since <= p.published_at <= until
    }
    assert len(search("km", until=until - timedelta(microseconds=1))) == 2
    hits = search("satellite measurements")
    assert hits and hits[0].snippet and "[" in hits[0].snippet and "]" in hits[0].snippet
    [prefix_hit] = [h for h in search("measure*") if h.post_id == deleted.post_id]
    assert prefix_hit.snippet and "[measurements]" in prefix_hit.snippet.lower()


def fts_rows(rt: Runtime) -> int | None:
    """Rows of SQLite's FTS5 table (None on PostgreSQL, whose column is generated)."""
    if rt.index.dialect != "sqlite":
        return None
    with rt.index.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM post_search").scalar_one())


def test_switching_to_the_sql_engine_finds_what_tantivy_captures_added(
    make_runtime: MakeRuntime, sim: Simulator
) -> None:
    """Under tantivy the SQL full-text table is not filled (no version indexed twice); the
    ``sql`` engine catches it up at open and at each search, then keeps it filled."""
    first = make_runtime(search_engine="sql")
    capture_account(first, NASA)
    before = fts_rows(first)
    rt = make_runtime(create=False)  # tantivy, the default
    sim.advance()
    capture_account(rt, NASA)
    capture_account(rt, USGS)
    versions = sql_state(rt.index.engine)[0]
    if before is not None:  # SQLite: the tantivy captures left the FTS5 table as it was
        assert before < versions and fts_rows(rt) == before
    expected = {(q, str(f)): ids(rt.index.search(q, **f)) for q, f in QUERIES}
    assert expected[("km", "{}")] and len(expected[("km", "{}")]) == 4
    # a search process opened before the switch back (its engine object made then)
    stale = Index(rt.index.engine, SqlSearch(rt.index.engine))
    back = make_runtime(create=False, search_engine="sql")
    assert fts_rows(back) in (None, versions)  # caught up at open
    for query, filters in QUERIES:
        assert ids(back.index.search(query, **filters)) == expected[(query, str(filters))]
    # tantivy again (the table paused), then sql from an engine object made before
    again = make_runtime(create=False)
    sim.advance()
    capture_account(again, NASA)
    assert ids(stale.search("nasa")) == ids(again.index.search("nasa"))
    assert fts_rows(again) in (None, sql_state(again.index.engine)[0])  # caught up by search
    capture_account(back, USGS)  # sql writes keep it filled
    assert fts_rows(back) in (None, sql_state(back.index.engine)[0])


def test_engine_dir_deleted_or_corrupt_is_rebuilt_at_open(
    make_runtime: MakeRuntime, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = story(make_runtime, sim)
    expected = ids(rt.index.search("nasa")) | ids(rt.index.search("km"))
    assert len(expected) > 4
    folder = rt.settings.search_dir
    shutil.rmtree(folder)
    capsys.readouterr()
    again = make_runtime(create=False)
    assert ids(again.index.search("nasa")) | ids(again.index.search("km")) == expected
    assert "search.rebuilt" in capsys.readouterr().err
    (folder / "meta.json").write_text("{ not json")
    third = make_runtime(create=False)
    assert ids(third.index.search("nasa")) | ids(third.index.search("km")) == expected
    logged = capsys.readouterr().err
    assert "search.rebuilt" in logged and "unreadable" in logged
    assert third.index.fulltext.count() == sql_state(third.index.engine)[0]


def test_versions_missed_by_the_engine_are_added_before_a_search(
    make_runtime: MakeRuntime, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime()
    capture_account(rt, NASA)
    assert rt.index.search("nasa")
    # a crash between the SQL commit and the engine write: the engine never sees USGS
    monkeypatch.setattr(TantivySearch, "add", lambda self, docs: None)
    capture_account(rt, USGS)
    monkeypatch.undo()
    raw = tantivy.Index.open(str(rt.settings.search_dir))
    assert raw.searcher().num_docs < sql_state(rt.index.engine)[0]
    assert len(make_runtime(create=False).index.search("km")) == 4  # checked at open
    assert len(rt.index.search("km")) == 4  # caught up before the search
    assert rt.index.fulltext.check() == "ok"


def test_disposition_removes_versions_from_the_engine(make_runtime: MakeRuntime) -> None:
    now = datetime.now(UTC)
    old = make_runtime(clock=FrozenClock(now - timedelta(days=200)))
    capture_account(old, USGS)  # P90D: due
    capture_account(old, NASA)  # permanent: kept
    assert len(old.index.search("km")) == 4
    plan = make_plan(make_runtime(create=False, actor="alice"))
    approve_plan(make_runtime(create=False, actor="bob"), plan.plan_id)
    carol = make_runtime(create=False, actor="carol")
    assert carol.index.search("kokopo")  # carol's engine is open before the disposition
    execute_plan(carol, plan.plan_id)
    raw = tantivy.Index.open(str(carol.settings.search_dir))
    assert raw.searcher().num_docs == sql_state(carol.index.engine)[0] > 0
    assert carol.index.fulltext.search("kokopo", SearchFilter(), 10) == []
    assert carol.index.fulltext.check() == "ok" and carol.index.search("nasa")


def test_cli_index_rebuild_reports_the_versions(
    make_runtime: MakeRuntime, sim: Simulator, engine: str
) -> None:
    rt = story(make_runtime, sim, search_engine=engine)
    env = archiver_env(rt, search_engine=engine)
    done = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "index", "rebuild", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["engine"] == engine
    assert result["versions"] == sql_state(rt.index.engine)[0] > 0
    hits = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "search", "km", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert {h["account"] for h in json.loads(hits.stdout)} == {USGS}


def test_bulk_pages_give_the_same_posts_versions_and_events(make_runtime: MakeRuntime) -> None:
    rt = make_runtime()
    at = datetime(2026, 11, 1, tzinfo=UTC)

    def post(n: int, text: str) -> NormalizedPost:
        return NormalizedPost(native_id=f"n{n}", url=f"https://x.example.gov/{n}", text=text)

    first = [post(1, "alpha one"), post(2, "beta two"), post(1, "alpha one edited"), post(3, "c")]
    counts = rt.index.record_posts(
        account="acct",
        series="s",
        platform="feed",
        capture_id="c1",
        captured_at=at,
        posts=first,
        page=2,
    )
    assert counts == {"new": 3, "edited": 1, "unchanged": 0}
    second = [post(1, "alpha one edited"), post(2, "beta two, corrected"), post(4, "delta")]
    counts = rt.index.record_posts(
        account="acct",
        series="s",
        platform="feed",
        capture_id="c2",
        captured_at=at + timedelta(days=1),
        posts=second,
    )
    assert counts == {"new": 1, "edited": 1, "unchanged": 1}
    one, versions, events = rt.index.history("n1")
    assert (
        one.versions == 2
        and one.edited
        and [v.text for v in versions]
        == [
            "alpha one",
            "alpha one edited",
        ]
    )
    assert [e.detail for e in events] == ["version 1 -> 2"]
    two, versions, _ = rt.index.history("n2")
    assert two.versions == 2 and two.last_captured_at.day == 2
    assert len(rt.index.list_posts("acct")) == 4
    assert ids(rt.index.search("corrected")) == {two.post_id}
    assert rt.index.fulltext.count() == sql_state(rt.index.engine)[0] == 6

"""The SQL engine: SQLite FTS5 or a PostgreSQL ``tsvector`` column, kept by the schema itself
(a trigger / a generated column), so its writes are part of the SQL transaction.

On SQLite the FTS5 table is only filled while the SQL engine is the one in use: opening the
index with another engine drops the insert trigger (every version would otherwise be indexed
twice), and the SQL engine brings the table up to date before each search and puts the trigger
back (:func:`follow_versions`), so switching ``ARCHIVER_SEARCH_ENGINE`` back to ``sql`` finds
what was captured meanwhile. The PostgreSQL column is generated: always current.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import DateTime, bindparam
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import BindParameter

from archiver.index.fulltext.base import Progress, SearchDoc, SearchFilter, SearchHit, sql_state
from archiver.index.search import parse_query, to_fts5, to_tsquery_sql
from archiver.logging import get_logger

log = get_logger()

FOLLOW_TRIGGER = "post_versions_ai"  # as migration 0002 named it
_CREATE_FOLLOW = (
    f"CREATE TRIGGER IF NOT EXISTS {FOLLOW_TRIGGER} AFTER INSERT ON post_versions BEGIN "
    "INSERT INTO post_search(rowid, title, text, version_id) "
    "VALUES (new.id, coalesce(new.title, ''), new.text, new.id); END"
)
_HAS_FOLLOW = f"SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = '{FOLLOW_TRIGGER}'"


def follow_versions(engine: Engine, on: bool) -> int:
    """SQLite: with ``on``, make the FTS5 table hold every post version and keep it so (the
    insert trigger); without, stop filling it (the trigger is dropped; deletions still remove
    their entries). Returns how many versions were added to catch up. Other backends: 0.

    Catching up adds the versions above the highest one the table holds that it lacks (read
    before the trigger is back, so versions inserted meanwhile are neither missed nor doubled):
    exact when one engine at a time writes to the index, which is how it is configured."""
    if engine.dialect.name != "sqlite":
        return 0
    with engine.connect() as conn:
        present = conn.exec_driver_sql(_HAS_FOLLOW).first() is not None
        held = int(conn.exec_driver_sql("SELECT max(rowid) FROM post_search").scalar() or 0)
        top = int(conn.exec_driver_sql("SELECT max(id) FROM post_versions").scalar() or 0)
    if not on:
        if present:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FOLLOW_TRIGGER}")
            log.info("search.sql_fts_paused", trigger=FOLLOW_TRIGGER)
        return 0
    if present and top <= held:
        return 0
    with engine.begin() as conn:
        conn.exec_driver_sql(_CREATE_FOLLOW)
        added = conn.exec_driver_sql(
            "INSERT INTO post_search(rowid, title, text, version_id) "
            "SELECT id, coalesce(title, ''), text, id FROM post_versions "
            "WHERE id > ? AND id NOT IN (SELECT rowid FROM post_search WHERE rowid > ?)",
            (held, held),
        ).rowcount
    if added or not present:
        log.info("search.sql_fts_caught_up", versions=added, after=held, resumed=not present)
    return int(added or 0)


class SqlSearch:
    """Full-text search inside the index database (the fallback engine, always consistent)."""

    name = "sql"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def add(self, docs: Sequence[SearchDoc]) -> None:
        """Nothing to do: the schema indexed the versions when they were inserted."""

    def delete_capture(self, capture_id: str) -> None:
        """Nothing to do: deleting the versions deleted their search entries."""

    def delete_versions(self, version_ids: Sequence[int]) -> None:
        """Nothing to do (see :meth:`delete_capture`)."""

    def catch_up_to(self, top: int) -> bool:
        """Always False: every search reads the SQL index itself."""
        return False

    def search(
        self, query: str, filters: SearchFilter, limit: int, *, catch_up: bool = True
    ) -> list[SearchHit]:
        """BM25 (FTS5) or ``ts_rank`` (PostgreSQL) over the ``limit * 4`` best versions, of
        every version the SQL index holds (the FTS5 table is caught up first)."""
        terms = parse_query(query)
        follow_versions(self.engine, True)
        where: list[str] = []
        params: dict[str, object] = {"limit": limit * 4}
        for name in ("account", "series", "platform"):
            if value := getattr(filters, name):
                where.append(f"p.{name} = :{name}")
                params[name] = value
        for name in ("edited", "deleted"):
            if getattr(filters, name):
                where.append(f"p.{name} = :{name}")
                params[name] = True
        moments: list[BindParameter[datetime]] = []
        for name, moment, op in (("since", filters.since, ">="), ("until", filters.until, "<=")):
            if moment:
                where.append(f"p.published_at {op} :{name}")
                # typed, so SQLite compares it in the format the column was written in
                moments.append(bindparam(name, moment.astimezone(UTC), type_=DateTime(True)))
        extra = (" AND " + " AND ".join(where)) if where else ""
        if self.dialect == "sqlite":
            params["q"] = to_fts5(terms)
            statement = (
                "SELECT v.id, v.post_id, snippet(post_search, 1, '[', ']', '…', 12) AS snip, "
                "bm25(post_search) AS rank FROM post_search "
                "JOIN post_versions v ON v.id = post_search.rowid "
                "JOIN posts p ON p.post_id = v.post_id "
                f"WHERE post_search MATCH :q{extra} ORDER BY rank LIMIT :limit"
            )
        else:
            tsquery, tsparams = to_tsquery_sql(terms)
            params.update(tsparams)
            statement = (
                f"SELECT v.id, v.post_id, ts_headline('english', v.text, {tsquery}, "
                "'StartSel=[,StopSel=],MaxWords=25,MinWords=8') AS snip, "
                f"-ts_rank(v.search, {tsquery}) AS rank FROM post_versions v "
                "JOIN posts p ON p.post_id = v.post_id "
                f"WHERE v.search @@ {tsquery}{extra} ORDER BY rank LIMIT :limit"
            )
        with self.engine.connect() as conn:
            rows = conn.execute(sql(statement).bindparams(*moments), params).all()
        hits: dict[str, SearchHit] = {}
        for vid, pid, snip, _rank in rows:
            if pid not in hits:
                hits[pid] = SearchHit(version_id=int(vid), post_id=str(pid), snippet=str(snip))
        return list(hits.values())[:limit]

    def rebuild(self, progress: Progress | None = None) -> int:
        """SQLite: refill the FTS5 table from ``post_versions``; PostgreSQL: nothing (the
        column is generated)."""
        if self.dialect == "sqlite":
            with self.engine.begin() as conn:
                conn.exec_driver_sql(_CREATE_FOLLOW)
                conn.exec_driver_sql("DELETE FROM post_search")
                conn.exec_driver_sql(
                    "INSERT INTO post_search(rowid, title, text, version_id) "
                    "SELECT id, coalesce(title, ''), text, id FROM post_versions"
                )
        done = self.count()
        if progress:
            progress(done, done)
        return done

    def count(self) -> int:
        if self.dialect == "sqlite":
            follow_versions(self.engine, True)
            with self.engine.connect() as conn:
                return int(conn.exec_driver_sql("SELECT count(*) FROM post_search").scalar_one())
        return sql_state(self.engine)[0]

    def check(self) -> str:
        """Always ``ok``: the SQL engine is written in the same transaction as the versions."""
        return "ok"

    def ready(self) -> None:
        """Nothing to open: the SQL engine lives in the index database."""

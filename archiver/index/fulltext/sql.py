"""The SQL engine: SQLite FTS5 or a PostgreSQL ``tsvector`` column, kept by the schema itself
(a trigger / a generated column), so its writes are part of the SQL transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import DateTime, bindparam
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import BindParameter

from archiver.index.fulltext.base import Progress, SearchDoc, SearchFilter, SearchHit, sql_state
from archiver.index.search import parse_query, to_fts5, to_tsquery_sql


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

    def search(self, query: str, filters: SearchFilter, limit: int) -> list[SearchHit]:
        """BM25 (FTS5) or ``ts_rank`` (PostgreSQL) over the ``limit * 4`` best versions."""
        terms = parse_query(query)
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
            with self.engine.connect() as conn:
                return int(conn.exec_driver_sql("SELECT count(*) FROM post_search").scalar_one())
        return sql_state(self.engine)[0]

    def check(self) -> str:
        """Always ``ok``: the SQL engine is written in the same transaction as the versions."""
        return "ok"

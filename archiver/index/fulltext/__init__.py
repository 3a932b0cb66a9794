"""Full-text search engines of the index, behind one protocol (:class:`SearchEngine`).

``tantivy`` (default): an embedded BM25 index in ``ARCHIVER_DATA_DIR/search``, derived from the
SQL index and rebuilt from it. ``sql``: SQLite FTS5 or PostgreSQL ``tsvector`` inside the index
database. OpenSearch is the named next engine for clusters that already run one.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from archiver.errors import ConfigError
from archiver.index.fulltext.base import (
    Progress,
    SearchDoc,
    SearchEngine,
    SearchFilter,
    SearchHit,
)
from archiver.index.fulltext.sql import SqlSearch, follow_versions

ENGINES = ("tantivy", "sql")


def open_search_engine(name: str, engine: Engine, folder: Path | None) -> SearchEngine:
    """The engine ``name`` over the index database ``engine``; ``folder`` holds the tantivy
    index, which is not read until the first search or write. With an engine other than
    ``sql``, SQLite's FTS5 table stops being filled as versions are written (it is caught up
    when ``sql`` is used again: :func:`~archiver.index.fulltext.sql.follow_versions`)."""
    if name == "sql":
        follow_versions(engine, True)
        return SqlSearch(engine)
    if name == "tantivy":
        if folder is None:
            raise ConfigError("the tantivy search engine needs a folder (ARCHIVER_DATA_DIR)")
        from archiver.index.fulltext.tantivy_engine import TantivySearch

        follow_versions(engine, False)
        return TantivySearch(folder, engine)
    raise ConfigError(
        f"unknown search engine {name!r}: set ARCHIVER_SEARCH_ENGINE to one of {', '.join(ENGINES)}"
    )


__all__ = [
    "ENGINES",
    "Progress",
    "SearchDoc",
    "SearchEngine",
    "SearchFilter",
    "SearchHit",
    "SqlSearch",
    "open_search_engine",
]

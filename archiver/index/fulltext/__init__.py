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
from archiver.index.fulltext.sql import SqlSearch

ENGINES = ("tantivy", "sql")


def open_search_engine(name: str, engine: Engine, folder: Path | None) -> SearchEngine:
    """The engine ``name`` over the index database ``engine``; ``folder`` holds the tantivy
    index. Nothing is read until the first search or write."""
    if name == "sql":
        return SqlSearch(engine)
    if name == "tantivy":
        if folder is None:
            raise ConfigError("the tantivy search engine needs a folder (ARCHIVER_DATA_DIR)")
        from archiver.index.fulltext.tantivy_engine import TantivySearch

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

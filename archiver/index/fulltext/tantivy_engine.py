"""The tantivy engine: an embedded BM25 index of every post version, kept in the data dir.

It is derived from the SQL index and repaired from it: a missing, unreadable or out-of-date
index is rebuilt when it is first used (``search.rebuilt``), versions it missed (a crash between
the SQL commit and the engine write, or another host's captures) are added before a search.
Only one process writes at a time (tantivy's directory lock); the others wait for it briefly,
then leave the repair to the next check.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy.engine import Engine

from archiver.errors import DatabaseError
from archiver.index.fulltext.base import (
    Progress,
    SearchDoc,
    SearchFilter,
    SearchHit,
    flagged_posts,
    iter_documents,
    sql_state,
    sql_top,
)
from archiver.index.search import Term, parse_query
from archiver.logging import get_logger

SCHEMA_VERSION = 1
MARKER = "archiver-search.json"  # written last by a rebuild: a folder without it is not ours
TOKENIZER = "archiver_en"
FIELDS = ("title", "text")
SNIPPET_HITS = 200  # hits beyond this many get no snippet (holds ask for every match)
SNIPPET_CHARS = 110
PREFIX_HIGHLIGHTS = 64  # words of a prefix highlighted in snippets (matching uses them all)
WRITER_HEAP = 32_000_000
REBUILD_HEAP = 256_000_000

log = get_logger()


class EngineBusy(Exception):
    """Another process holds the engine's writer lock."""


def _analyzer() -> tantivy.TextAnalyzer:
    """Words split at non-alphanumerics, lowercased, accents folded, English (Porter)
    stemmed: what SQLite's ``porter unicode61`` does, so both engines find the same posts."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(80))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("vid", stored=True, indexed=True, fast=True)
    b.add_integer_field("post_key", fast=True)  # post_id hashed: grouping hits by post
    b.add_text_field("post_id", stored=True, tokenizer_name="raw")
    b.add_text_field("capture_id", tokenizer_name="raw")
    b.add_text_field("account", tokenizer_name="raw")
    b.add_text_field("series", tokenizer_name="raw")
    b.add_text_field("platform", tokenizer_name="raw")
    b.add_integer_field("published_us", indexed=True, fast=True)  # exact, as SQL compares
    b.add_text_field("title", stored=True, tokenizer_name=TOKENIZER)
    b.add_text_field("text", stored=True, tokenizer_name=TOKENIZER)
    return b.build()


def _post_key(post_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(post_id.encode(), digest_size=8).digest()) >> 1


def _micros(moment: datetime) -> int:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int(aware.timestamp() * 1_000_000)


def _document(doc: SearchDoc) -> tantivy.Document:
    d = tantivy.Document()
    d.add_integer("vid", doc.version_id)
    d.add_integer("post_key", _post_key(doc.post_id))
    for name in ("post_id", "capture_id", "account", "series", "platform", "title", "text"):
        d.add_text(name, getattr(doc, name))
    if doc.published_at is not None:
        d.add_integer("published_us", _micros(doc.published_at))
    return d


class TantivySearch:
    """Full-text search through tantivy in ``path`` (e.g. ``ARCHIVER_DATA_DIR/search``)."""

    name = "tantivy"

    def __init__(self, path: Path, engine: Engine, *, lock_wait: float = 30.0) -> None:
        self.path = path
        self.sql = engine
        self.lock_wait = lock_wait
        self.schema = _schema()
        self.analyzer = _analyzer()
        self._lock = threading.RLock()
        self._index: tantivy.Index | None = None
        self._top = 0  # highest version id this process knows the engine holds
        self._dirty = False  # a write failed: check everything before the next search

    # --- opening, checking, rebuilding ------------------------------------------------------

    def _load(self, path: Path) -> tantivy.Index | None:
        """The index in ``path``, or None when it is missing, foreign or unreadable."""
        try:
            marker = json.loads((path / MARKER).read_text())
            if marker.get("schema") != SCHEMA_VERSION:
                return None
            index = tantivy.Index.open(str(path))
            index.register_tokenizer(TOKENIZER, self.analyzer)
            index.searcher().search(tantivy.Query.all_query(), limit=1)  # reads its segments
            return index
        except (OSError, ValueError):
            return None

    def _ready(self, catch_up: bool = True) -> tantivy.Index:
        """The open index, checked against the SQL index on first use and after a failed
        write; with ``catch_up``, versions the SQL index gained since are added."""
        with self._lock:
            if self._index is None or self._dirty:
                self.check()
            elif catch_up:
                self._catch_up_if_behind()
            assert self._index is not None
            return self._index

    def _engine_state(self) -> tuple[int, int]:
        """(documents, highest version id) in the engine, as committed now."""
        assert self._index is not None
        self._index.reload()
        searcher = self._index.searcher()
        top = searcher.search(
            tantivy.Query.all_query(), limit=1, order_by_field="vid", count=False
        ).hits
        highest = int(searcher.fast_field_values("vid", [top[0][1]])[0] or 0) if top else 0
        return int(searcher.num_docs), highest

    def check(self) -> str:
        """Compare the engine with the SQL index (counts and highest version id): add what it
        missed, or rebuild when it holds versions the SQL index no longer has."""
        with self._lock:
            self._dirty = False
            if self._index is None:
                self._index = self._load(self.path)
                if self._index is None:
                    reason = "missing" if not self.path.exists() else "unreadable"
                    self._rebuild(reason)
                    return "rebuilt"
            docs, top = self._engine_state()
            total, sql_top = sql_state(self.sql)
            if (docs, top) == (total, sql_top):
                self._top = top
                return "ok"
            if top <= sql_top and sql_state(self.sql, upto=top)[0] == docs:
                self._top = top
                self._catch_up(top)
                return "caught_up"
            self._rebuild("out of date", engine_docs=docs, sql_versions=total)
            return "rebuilt"

    def ready(self) -> None:
        with self._lock:
            try:
                self._ready(catch_up=False)
            except (EngineBusy, OSError, ValueError) as exc:  # the next write or search repairs
                self._dirty = True
                log.warning("search.check_deferred", engine=self.name, error=str(exc))

    def _catch_up_if_behind(self) -> None:
        top = sql_top(self.sql)
        if top > self._top:
            _, self._top = self._engine_state()
            if top > self._top:
                self._catch_up(self._top)

    def _catch_up(self, after: int) -> None:
        added = 0
        try:
            for batch in iter_documents(self.sql, after=after):
                self._write(batch, upsert=True, wait=2.0)
                added += len(batch)
        except EngineBusy:
            return  # the writer holding the lock is adding them
        log.info("search.caught_up", engine=self.name, versions=added, after=after)

    def rebuild(self, progress: Progress | None = None) -> int:
        with self._lock:
            return self._rebuild("asked", progress=progress)

    def _rebuild(self, reason: str, progress: Progress | None = None, **context: Any) -> int:
        started = time.perf_counter()
        total, _ = sql_state(self.sql)
        fresh = self.path.with_name(f"{self.path.name}.new-{os.getpid()}-{threading.get_ident()}")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        index = tantivy.Index(self.schema, path=str(fresh), reuse=False)
        index.register_tokenizer(TOKENIZER, self.analyzer)
        heap = min(REBUILD_HEAP, max(WRITER_HEAP, total * 2000))  # small indexes, small heaps
        writer = index.writer(heap_size=heap, num_threads=0 if total > 100_000 else 1)
        done = top = 0
        if progress:
            progress(0, total)
        for batch in iter_documents(self.sql, batch=10_000):
            for doc in batch:
                writer.add_document(_document(doc))
            done += len(batch)
            top = batch[-1].version_id
            if progress:
                progress(done, total)
        writer.commit()
        writer.wait_merging_threads()
        (fresh / MARKER).write_text(json.dumps({"schema": SCHEMA_VERSION}))
        old = self.path.with_name(f"{self.path.name}.old-{os.getpid()}-{threading.get_ident()}")
        if self.path.exists():
            self.path.rename(old)
        fresh.rename(self.path)
        shutil.rmtree(old, ignore_errors=True)
        self._index = self._load(self.path)
        if self._index is None:
            raise DatabaseError(
                f"the search index rebuilt in {self.path} cannot be read back; check the disk, "
                "or set ARCHIVER_SEARCH_ENGINE=sql"
            )
        self._top, self._dirty = top, False
        log.info(
            "search.rebuilt",
            engine=self.name,
            reason=reason,
            versions=done,
            seconds=round(time.perf_counter() - started, 2),
            **context,
        )
        return done

    # --- writes -------------------------------------------------------------------------------

    def _writer(self, wait: float | None = None) -> Any:
        assert self._index is not None
        deadline = time.monotonic() + (self.lock_wait if wait is None else wait)
        while True:
            try:
                return self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:
                if "LockBusy" not in str(exc) or time.monotonic() > deadline:
                    raise EngineBusy(str(exc)) from None
                time.sleep(0.02)

    def _write(self, docs: Sequence[SearchDoc], *, upsert: bool, wait: float | None = None) -> None:
        writer = self._writer(wait)
        try:
            for doc in docs:
                if upsert:
                    writer.delete_documents_by_term("vid", doc.version_id)
                writer.add_document(_document(doc))
            writer.commit()
        finally:
            writer.wait_merging_threads()
        self._top = max(self._top, max((d.version_id for d in docs), default=0))

    def _apply(self, what: str, change: Any) -> None:
        """Run a write; when it cannot be done now, the next search checks and repairs."""
        with self._lock:
            try:
                self._ready(catch_up=False)  # ``change`` brings what is new
                change()
            except (EngineBusy, OSError, ValueError) as exc:
                self._dirty = True
                log.warning("search.write_deferred", engine=self.name, what=what, error=str(exc))

    def add(self, docs: Sequence[SearchDoc]) -> None:
        if docs:
            self._apply("add", lambda: self._write_new(docs))

    def _write_new(self, docs: Sequence[SearchDoc]) -> None:
        """Write the documents the engine does not hold yet: the check that opened it may
        have rebuilt or caught up from the SQL index, which already has these versions (the
        first capture into a new data dir would otherwise index every version twice)."""
        fresh = [d for d in docs if d.version_id > self._top]
        if fresh:
            self._write(fresh, upsert=True)

    def _delete(self, field: str, values: Sequence[Any]) -> None:
        writer = self._writer()
        try:
            for value in values:
                writer.delete_documents_by_term(field, value)
            writer.commit()
        finally:
            writer.wait_merging_threads()

    def delete_capture(self, capture_id: str) -> None:
        self._apply("delete_capture", lambda: self._delete("capture_id", [capture_id]))

    def delete_versions(self, version_ids: Sequence[int]) -> None:
        if version_ids:
            self._apply("delete_versions", lambda: self._delete("vid", list(version_ids)))

    def count(self) -> int:
        with self._lock:
            self._ready()
            return self._engine_state()[0]

    # --- search -------------------------------------------------------------------------------

    def _tokens(self, term: Term) -> list[str]:
        return [t for word in term.words for t in self.analyzer.analyze(word)]

    def _term_query(self, field: str, tokens: list[str], prefix: bool) -> tantivy.Query:
        q = tantivy.Query
        if len(tokens) == 1 and prefix:
            if tokens[0].isalnum():
                return q.regex_query(self.schema, field, tokens[0] + ".*")
            return q.empty_query()
        if len(tokens) == 1:
            return q.term_query(self.schema, field, tokens[0])
        if prefix:
            return q.phrase_prefix_query(self.schema, field, list(tokens))
        return q.phrase_query(self.schema, field, list(tokens))

    def _query(self, terms: list[Term], filters: SearchFilter) -> tantivy.Query | None:
        """The tantivy query of ``terms`` (each in the title or the text) and ``filters``;
        None when nothing can match."""
        q, must = tantivy.Query, tantivy.Occur.Must
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for term in terms:
            tokens = self._tokens(term)
            if not tokens:
                return None
            either = [
                (tantivy.Occur.Should, self._term_query(f, tokens, term.prefix)) for f in FIELDS
            ]
            clauses.append((must, q.boolean_query(either)))
        for name in ("account", "series", "platform"):
            if value := getattr(filters, name):
                clauses.append(
                    (must, q.const_score_query(q.term_query(self.schema, name, value), 0.0))
                )
        if filters.since or filters.until:
            span = q.range_query(
                self.schema,
                "published_us",
                tantivy.FieldType.Integer,
                _micros(filters.since) if filters.since else None,
                _micros(filters.until) if filters.until else None,
            )
            clauses.append((must, q.const_score_query(span, 0.0)))
        if filters.edited or filters.deleted:
            posts = sorted(flagged_posts(self.sql, filters))
            if not posts:
                return None
            kept = q.term_set_query(self.schema, "post_id", posts)
            clauses.append((must, q.const_score_query(kept, 0.0)))
        return q.boolean_query(clauses)

    def _highlighter(self, searcher: Any, terms: list[Term]) -> tantivy.Query:
        """The words to mark in snippets: the query's, with prefixes expanded to the
        commonest words they start."""
        q = tantivy.Query
        should: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for term in terms:
            tokens = self._tokens(term)
            if not tokens:
                continue
            *head, last = tokens
            words = [*head, last]
            if term.prefix:
                found = searcher.terms_with_prefix("text", last, limit=PREFIX_HIGHLIGHTS)
                words = [*head, *(word for word, _ in found)]
            should.extend(
                (tantivy.Occur.Should, q.term_query(self.schema, "text", w)) for w in words
            )
        return q.boolean_query(should) if should else q.empty_query()

    def catch_up_to(self, top: int) -> bool:
        with self._lock:
            if self._index is None or self._dirty or top <= self._top:
                return False  # the first search of a process (or after a failure) checks all
            _, self._top = self._engine_state()  # another process may have added them
            if top <= self._top:
                return False
            self._catch_up(self._top)
            return True

    def search(
        self, query: str, filters: SearchFilter, limit: int, *, catch_up: bool = True
    ) -> list[SearchHit]:
        """BM25 over title and text; prefix and filter clauses do not change the ranking."""
        terms = parse_query(query)
        with self._lock:
            index = self._ready(catch_up=catch_up)
        built = self._query(terms, filters)
        if built is None or limit <= 0:
            return []
        index.reload()  # see what this and other processes committed up to now
        searcher = index.searcher()
        picked: list[tuple[Any, int]] = []
        seen: set[int] = set()
        offset, fetch = 0, min(max(limit * 4, 64), 20_000)
        while len(picked) < limit:
            found = searcher.search(built, limit=fetch, offset=offset, count=False).hits
            addresses = [address for _score, address in found]
            if not addresses:
                break
            vids = searcher.fast_field_values("vid", addresses)
            keys = searcher.fast_field_values("post_key", addresses)
            for address, vid, key in zip(addresses, vids, keys, strict=True):
                if key in seen:
                    continue
                seen.add(int(key or 0))
                picked.append((address, int(vid or 0)))
                if len(picked) == limit:
                    break
            if len(addresses) < fetch:
                break
            offset, fetch = offset + fetch, min(fetch * 2, 200_000)
        marks = self._highlighter(searcher, terms)
        text_snips = tantivy.SnippetGenerator.create(searcher, marks, self.schema, "text")
        text_snips.set_max_num_chars(SNIPPET_CHARS)
        hits = []
        for i, (address, vid) in enumerate(picked):
            doc = searcher.doc(address)
            snippet = _snippet(text_snips, doc) if i < SNIPPET_HITS else None
            hits.append(SearchHit(version_id=vid, post_id=str(doc["post_id"][0]), snippet=snippet))
        return hits


def _snippet(generator: Any, doc: tantivy.Document) -> str:
    """The best fragment of the text with ``[``/``]`` around matched words and ``…`` where
    it was cut (the markers the SQL engines use)."""
    snip = generator.snippet_from_doc(doc)
    whole = str(doc.get_first("text") or "").encode()
    fragment = snip.fragment().encode()
    span = snip.fragment_range()
    out, at = [], 0
    for mark in snip.highlighted():
        out += [fragment[at : mark.start], b"[", fragment[mark.start : mark.end], b"]"]
        at = mark.end
    out.append(fragment[at:])
    body = b"".join(out).decode(errors="replace").strip()
    if not fragment:
        body = whole[:SNIPPET_CHARS].decode(errors="ignore").strip()
        return body + ("…" if len(whole) > SNIPPET_CHARS else "")
    return ("…" if span.start > 0 else "") + body + ("…" if span.end < len(whole) else "")

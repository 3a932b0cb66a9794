"""Indexing and paging a capture's posts while it still lists.

A listing spends much of its time waiting for the platform's next page. A connector says which
posts it has listed (``CaptureSession.listed``); in those waits the capture indexes them
(:meth:`Index.record_posts`, a chunk at a time) and writes the post pages of the settled ones,
those the connector will fetch nothing more for (:class:`PageWriter`). Whatever is left when the
connector returns is indexed and paged then. The results are the ones indexing everything at
the end gives: the same versions, counts and page bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from archiver.capture.postpage import PageWriter
from archiver.index.api import Index, NormalizedPost
from archiver.index.fulltext import SearchDoc

CHUNK = 200  # posts indexed in one wait (one transaction)
SMALL_CHUNK = 80  # ...or fewer, when no page is waiting to fill the wait (a transaction costs)
PAGE_CHUNK = 8  # pages written in one piece of waiting work (about a millisecond)


class PostStream:
    """The posts a capture listed, and how far indexing and paging them has come."""

    def __init__(
        self,
        index: Index,
        *,
        account: str,
        series: str,
        platform: str,
        capture_id: str,
        captured_at: Callable[[], datetime],
        pages: Callable[[], PageWriter],
        early_pages: bool,
        log: Any,
    ) -> None:
        self.index = index
        self.account, self.series, self.platform = account, series, platform
        self.capture_id = capture_id
        self.captured_at = captured_at
        self._pages = pages
        self.log = log
        self.counts = {"new": 0, "edited": 0, "unchanged": 0}
        self._docs: list[SearchDoc] = []  # for the search engine: one write, at the end
        self._pending: list[NormalizedPost] = []  # listed, not indexed yet
        self._settled: list[NormalizedPost] = []  # indexed, settled, not paged yet
        self._indexed: dict[int, NormalizedPost] = {}  # id() -> post (kept: ids stay unique)
        self._unsettled: set[int] = set()
        self._paging = early_pages
        self._stopped = False

    def listed(self, posts: Sequence[NormalizedPost], unsettled: Collection[str] = ()) -> None:
        """``posts`` are in the connector's result, in its order; ``unsettled`` names those
        it will still fetch replies or media for (their pages wait for the end)."""
        self._pending.extend(posts)
        self._unsettled.update(id(p) for p in posts if p.native_id in unsettled)

    def work(self) -> bool:
        """Do one piece of waiting work; False when there is none (or it stopped)."""
        if self._stopped:
            return False
        try:
            if len(self._pending) >= CHUNK or (
                len(self._pending) >= SMALL_CHUNK and not self._settled
            ):
                # a full chunk, or what there is when nothing else would fill the wait
                self._index(self._pending[:CHUNK])
                del self._pending[:CHUNK]
                return True
            if self._paging and self._settled:
                self._page(self._settled[:PAGE_CHUNK])
                del self._settled[:PAGE_CHUNK]
                return True
        except Exception as exc:  # the end of the capture does it again, and reports it
            self._stopped = True
            self.log.warning("capture.stream_stopped", error=f"{type(exc).__name__}: {exc}")
        return False

    def finish(self, posts: Sequence[NormalizedPost]) -> dict[str, int]:
        """Index every post of ``posts`` not indexed yet; the counts over all of them."""
        self._stopped = True
        rest = [p for p in posts if id(p) not in self._indexed]
        try:
            if rest:
                self._record(rest)
        finally:  # what committed reaches the engine (else its next check adds it from SQL)
            docs, self._docs = self._docs, []
            self.index.add_to_search(docs)
        return dict(self.counts)

    def pages(self, posts: Sequence[NormalizedPost]) -> PageWriter:
        """The page writer, having seen every post of ``posts`` (those it has not seen yet are
        shown to it now, in order), for :meth:`PageWriter.finish`."""
        writer = self._pages()
        writer.see([p for p in posts if not writer.saw(p)])
        return writer

    def _index(self, chunk: list[NormalizedPost]) -> None:
        self._record(chunk)
        self._indexed.update((id(p), p) for p in chunk)
        if not self._paging:
            return
        writer = self._pages()
        writer.see(chunk)
        ready = [
            p
            for p in chunk
            if id(p) not in self._unsettled and (not p.in_reply_to or writer.knows(p.in_reply_to))
        ]
        writer.prepare(ready)  # read now, so each later wait can write a few pages
        self._settled.extend(ready)

    def _record(self, posts: list[NormalizedPost]) -> None:
        counts = self.index.record_posts(
            account=self.account,
            series=self.series,
            platform=self.platform,
            capture_id=self.capture_id,
            captured_at=self.captured_at(),  # versions are "live at" the listing (extract --at)
            posts=posts,
            search_docs=self._docs,
        )
        for key in self.counts:
            self.counts[key] += counts[key]

    def _page(self, chunk: list[NormalizedPost]) -> None:
        try:
            self._pages().write(chunk)
        except Exception:
            self._paging = False  # the end writes every page not written; a failure is noted there
            raise

"""What every full-text search engine of the index offers, and the documents it is fed.

The SQL index is the system of record: an engine holds a derived copy of every post version's
searchable text, which it can always rebuild from the SQL tables (:func:`iter_documents`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from archiver.index.models import PostRow, PostVersionRow

Progress = Callable[[int, int], None]
"""Called with (documents done, documents in all) while an engine rebuilds."""


@dataclass(frozen=True)
class SearchDoc:
    """One post version as an engine indexes it (the fields a search filters on)."""

    version_id: int
    post_id: str
    capture_id: str
    account: str
    series: str
    platform: str
    published_at: datetime | None
    title: str
    text: str


@dataclass(frozen=True)
class SearchFilter:
    """Restrictions of a search (ANDed); ``since``/``until`` bound the publication time."""

    account: str | None = None
    series: str | None = None
    platform: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    edited: bool = False  # only posts with more than one version
    deleted: bool = False  # only posts detected as deleted


@dataclass(frozen=True)
class SearchHit:
    """The best matching version of one post, with a snippet around the match
    (``[`` and ``]`` mark the matched words)."""

    version_id: int
    post_id: str
    snippet: str | None


class SearchEngine(Protocol):
    """A full-text engine over post versions. Writes come after the SQL transaction that made
    the versions has committed; a version the engine misses or keeps too long is repaired by
    :meth:`check` (or :meth:`rebuild`), never the other way round."""

    name: str

    def add(self, docs: Sequence[SearchDoc]) -> None:
        """Index (or re-index: same ``version_id``) these versions."""

    def delete_capture(self, capture_id: str) -> None:
        """Forget every version a capture holds (disposition)."""

    def delete_versions(self, version_ids: Sequence[int]) -> None:
        """Forget these versions (found in the engine, gone from the SQL index)."""

    def search(
        self, query: str, filters: SearchFilter, limit: int, *, catch_up: bool = True
    ) -> list[SearchHit]:
        """At most ``limit`` posts, best first, one hit each (its best version); raises
        UsageError when ``query`` has nothing to search for. Without ``catch_up`` the engine
        does not ask the SQL index whether it gained versions since the engine's last write:
        the caller does, with :meth:`catch_up_to`, in a query it makes anyway."""

    def catch_up_to(self, top: int) -> bool:
        """Make the engine hold every version up to id ``top`` (the SQL index's highest, just
        read); True when it had to add some, so a search made without ``catch_up`` before may
        have missed them and is to be run again."""

    def rebuild(self, progress: Progress | None = None) -> int:
        """Rebuild from the SQL index; returns how many versions it now holds."""

    def count(self) -> int:
        """How many versions the engine holds."""

    def check(self) -> str:
        """Make the engine agree with the SQL index: ``ok`` (it did), ``caught_up`` (versions
        it missed were added) or ``rebuilt``."""

    def ready(self) -> None:
        """Open and check the engine if this process has not yet (its first use). A capture
        calls it before writing versions: an engine missing from a new data dir then starts
        from what the SQL index held before, not rebuilt from the capture's own versions."""


def sql_state(engine: Engine, upto: int | None = None) -> tuple[int, int]:
    """(number of post versions, highest version id) in the SQL index; with ``upto``, only
    versions whose id is at most ``upto`` are counted."""
    with Session(engine) as s:
        q = select(func.count(), func.max(PostVersionRow.id))
        if upto is not None:
            q = q.where(col(PostVersionRow.id) <= upto)
        count, top = s.exec(q).one()
    return int(count or 0), int(top or 0)


def sql_top(engine: Engine) -> int:
    """The highest post version id in the SQL index (an index lookup: cheap before a search)."""
    with engine.connect() as conn:
        top = conn.execute(sa_select(func.max(PostVersionRow.__table__.c.id))).scalar()  # type: ignore[attr-defined]
    return int(top or 0)


def iter_documents(
    engine: Engine, *, after: int = 0, batch: int = 5000
) -> Iterator[list[SearchDoc]]:
    """Every post version with an id above ``after``, in id order, ``batch`` at a time."""
    versions, posts = PostVersionRow.__table__, PostRow.__table__  # type: ignore[attr-defined]
    last = after
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                sa_select(
                    versions.c.id,
                    versions.c.post_id,
                    versions.c.capture_id,
                    versions.c.title,
                    versions.c.text,
                    posts.c.account,
                    posts.c.series,
                    posts.c.platform,
                    posts.c.published_at,
                )
                .join(posts, posts.c.post_id == versions.c.post_id)
                .where(versions.c.id > last)
                .order_by(versions.c.id)
                .limit(batch)
            ).all()
        if not rows:
            return
        yield [
            SearchDoc(
                version_id=int(vid),
                post_id=pid,
                capture_id=cid,
                account=account,
                series=series,
                platform=platform,
                published_at=published,
                title=title or "",
                text=text,
            )
            for vid, pid, cid, title, text, account, series, platform, published in rows
        ]
        last = int(rows[-1][0])
        if len(rows) < batch:
            return


def flagged_posts(engine: Engine, filters: SearchFilter) -> set[str]:
    """Ids of the posts the ``edited``/``deleted`` flags of ``filters`` keep (also narrowed by
    its account, series and platform): for engines that do not hold these changing flags."""
    with Session(engine) as s:
        q = select(PostRow.post_id)
        if filters.edited:
            q = q.where(col(PostRow.edited).is_(True))
        if filters.deleted:
            q = q.where(col(PostRow.deleted).is_(True))
        for name in ("account", "series", "platform"):
            if value := getattr(filters, name):
                q = q.where(getattr(PostRow, name) == value)
        return set(s.exec(q))

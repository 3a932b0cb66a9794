"""Post pages: every post version as people saw it, rendered to HTML and kept in the WARC.

A capture records what the platform answered (API JSON, feed XML); nobody can read that as a
post. As the posts of a capture are indexed, :class:`PageWriter` renders one HTML page
per post seen (text, author, time, media shown inline from their archived URLs, the replies
threaded below it, the edit history, a deletion notice with its evidence) and writes it into the
capture's WARC file:

* as a ``resource`` record: a document the archive made itself, with no protocol exchange behind
  it. Replay tools serve ``resource`` records (pywb, ReplayWeb.page) and not ``conversion`` ones,
  and WARC 1.1 forbids ``WARC-Refers-To`` on a resource, so the record the page was made from
  (and, for a deletion, its evidence) is named by ``WARC-Concurrent-To``: both come from the
  same capture event.
* at the post's URL, so replay shows the page there; when that URL's own HTML page was captured
  too (an article page), at ``urn:archiver:post:POST_ID`` so the real page is not shadowed.
* with deterministic bytes: the same version with the same replies and media gives the same
  page, which is then written as a ``revisit`` of the earlier page (identical payload digest).

Every string from the platform is hostile: it is HTML-escaped, and only http(s) URLs become
links or media sources.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from archiver.index.api import (
    Index,
    NormalizedPost,
    RecordExtra,
    RecordInfo,
    VersionInfo,
    post_key,
    utc,
)
from archiver.warc.spool import SpoolWriter
from archiver.warc.writer import REVISIT_PROFILE, Block, sha256_label, warc_date

PAGE_MIME = "text/html"
PAGE_CONTENT_TYPE = "text/html; charset=utf-8"
URN_PREFIX = "urn:archiver:post:"
HTML_MIMES = frozenset({"text/html", "application/xhtml+xml"})
GENERATOR = "archiver post page"
# Pages are small, derived and many (one per post): gzip level 1 costs a third of level 6's
# time on them for a few percent more bytes, and stays one valid gzip member per record.
PAGE_GZIP_LEVEL = 1


@dataclass(frozen=True)
class PageMedia:
    """A media URL of a post and the MIME type it was archived with (None: not archived)."""

    url: str
    mime: str | None


@dataclass(frozen=True)
class PageVersion:
    """One version of the post's content and when it was first captured."""

    version: int
    captured_at: datetime
    title: str | None
    text: str
    edited_at: datetime | None = None


@dataclass(frozen=True)
class PageReply:
    """A reply or comment as shown under the post, with the replies it received."""

    native_id: str
    author: str | None
    published_at: datetime | None
    text: str
    url: str | None
    page_uri: str | None
    replies: tuple[PageReply, ...] = ()


@dataclass(frozen=True)
class PageDeletion:
    """Why the archive holds the post as deleted."""

    at: datetime
    detail: str
    evidence_record_id: str | None
    evidence_uri: str | None


@dataclass(frozen=True)
class PostView:
    """Everything a post page shows; the page is a function of this alone."""

    post_id: str
    account: str
    agency: str
    platform: str
    native_id: str
    url: str | None
    kind: str
    author: str | None
    published_at: datetime | None
    current: PageVersion
    earlier: tuple[PageVersion, ...] = ()
    media: tuple[PageMedia, ...] = ()
    replies: tuple[PageReply, ...] = ()
    in_reply_to: str | None = None
    in_reply_to_uri: str | None = None
    deletion: PageDeletion | None = None
    source_record_id: str | None = None  # the record the shown version was first read from


def page_uri(post_id: str, url: str | None, *, url_has_html: bool = False) -> str:
    """Where a post's page lives in the WARC: its URL when that is http(s) and no HTML page of
    its own was captured there, else ``urn:archiver:post:POST_ID``."""
    if url and _is_web(url) and not url_has_html:
        return url
    return URN_PREFIX + post_id


def page_uris(post_id: str, url: str | None) -> list[str]:
    """Every URI a post's pages may have been written at: its URL (when http(s)), then its
    ``urn:archiver:post:`` name."""
    web = [url] if url and _is_web(url) else []
    return [*web, URN_PREFIX + post_id]


def _is_web(url: str) -> bool:
    """An http(s) URL with a host, as :func:`urllib.parse.urlsplit` reads it (asked for every
    post and attachment: the plain case is settled without it)."""
    head = url[:8].lower()
    if head.startswith("http://"):
        rest = url[7:]
    elif head.startswith("https://"):
        rest = url[8:]
    else:
        return False  # the common answer for urns and other schemes, without parsing
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if netloc and not any(c in netloc for c in "\t\r\n[]"):
        return True
    try:  # brackets (IPv6) and the characters urlsplit strips: its own answer
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


# --- rendering ----------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(value: datetime | None) -> str:
    if value is None:
        return "unknown time"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=1024)  # a capture's pages share their capture times
def _time(value: datetime | None) -> str:
    if value is None:
        return "unknown time"
    return f'<time datetime="{_iso(value)}">{_e(_when(value))}</time>'


def _link(url: str | None, label: str) -> str:
    if url and _is_web(url):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(label)}</a>'
    return _e(label)


def _media_html(media: PageMedia) -> str:
    if not _is_web(media.url):
        return f"<li>{_e(media.url)} (not a web address; not shown)</li>"
    src = _e(media.url)
    mime = media.mime or ""
    if mime.startswith("image/"):
        body = f'<img src="{src}" alt="attached image" loading="lazy">'
    elif mime.startswith("video/"):
        body = f'<video src="{src}" controls preload="metadata"></video>'
    elif mime.startswith("audio/"):
        body = f'<audio src="{src}" controls preload="metadata"></audio>'
    else:
        body = ""
    note = "archived" if media.mime else "not archived in this capture"
    label = f"{media.url} ({mime or 'unknown type'}, {note})"
    return f"<li>{body}<br>{_link(media.url, label)}</li>"


def _reply_html(reply: PageReply, depth: int) -> str:
    head = (
        f'<p class="meta"><b>{_e(reply.author or "unknown author")}</b> · '
        f"{_time(reply.published_at)} · {_link(reply.page_uri or reply.url, 'reply page')}</p>"
    )
    children = ""
    if reply.replies and depth < 32:  # a hostile thread must not nest without end
        children = (
            '<ol class="replies">'
            + "".join(_reply_html(r, depth + 1) for r in reply.replies)
            + "</ol>"
        )
    return (
        f'<li class="reply" id="reply-{_e(reply.native_id)}">{head}'
        f'<div class="text">{_e(reply.text)}</div>{children}</li>'
    )


_STYLE = (
    "body{font-family:sans-serif;max-width:44em;margin:2em auto;padding:0 1em;color:#111}"
    ".text{white-space:pre-wrap;overflow-wrap:anywhere;font-size:1.1em}"
    ".meta{color:#555;font-size:.9em}a{overflow-wrap:anywhere}"
    ".deleted{border:2px solid #b00;background:#fee;padding:.5em 1em}"
    ".notice{background:#eef;padding:.5em 1em;font-size:.9em}"
    "img,video{max-width:100%}ol.replies{list-style:none;border-left:3px solid #ccd;"
    "padding-left:1em}li.reply{margin:.8em 0}footer{color:#555;font-size:.8em;margin-top:3em}"
)


def render_post_page(view: PostView) -> bytes:
    """The post page of ``view`` as UTF-8 HTML. Deterministic: equal views give equal bytes.
    Every platform string is escaped; only http(s) URLs become links or media sources."""
    v = view.current
    who = view.author or view.account
    summary = " ".join((v.title or v.text).split())[:80]
    title = f"{who}: {summary}" if summary else f"{who}: post {view.native_id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="und"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{_e(GENERATOR)}">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        '<p class="notice">Archived copy made by the records archive from the platform\'s '
        "answer; not the platform's own page.</p>",
    ]
    if view.deletion is not None:
        d = view.deletion
        evidence = (
            f"record {_e(d.evidence_record_id)}"
            + (f" ({_e(d.evidence_uri)})" if d.evidence_uri else "")
            if d.evidence_record_id
            else "the complete listing of that capture"
        )
        parts.append(
            '<section class="deleted" role="alert"><h2>Deleted from the platform</h2>'
            f"<p>Detected {_time(d.at)}: {_e(d.detail)}</p><p>Evidence: {evidence}</p></section>"
        )
    kind = {"reply": "Reply", "comment": "Comment"}.get(view.kind, "Post")
    parts.append(f'<article class="post"><h1>{kind} by {_e(who)}</h1>')
    parts.append(
        f'<p class="meta">{_e(view.agency or view.account)} · {_e(view.platform)} · '
        f"published {_time(view.published_at)} · "
        f"{_link(view.url, 'original address') if view.url else 'no address'}</p>"
    )
    if view.in_reply_to:
        parts.append(
            f'<p class="meta">In reply to {_link(view.in_reply_to_uri, view.in_reply_to)}</p>'
        )
    if v.title:
        parts.append(f"<h2>{_e(v.title)}</h2>")
    parts.append(f'<div class="text">{_e(v.text)}</div>')
    edited = f", edited {_time(v.edited_at)}" if v.edited_at else ""
    parts.append(
        f'<p class="meta">Version {v.version}, first captured {_time(v.captured_at)}{edited}</p>'
    )
    if view.media:
        parts.append(
            '<section class="media"><h2>Media</h2><ul>'
            + "".join(_media_html(m) for m in view.media)
            + "</ul></section>"
        )
    parts.append("</article>")
    if view.replies:
        parts.append(
            f'<section><h2>Replies ({_count(view.replies)})</h2><ol class="replies">'
            + "".join(_reply_html(r, 1) for r in view.replies)
            + "</ol></section>"
        )
    if view.earlier:
        parts.append('<section class="history"><h2>Edit history</h2><ol>')
        for old in view.earlier:
            head = f"<b>{_e(old.title)}</b><br>" if old.title else ""
            parts.append(
                f'<li value="{old.version}"><p class="meta">Version {old.version}, first '
                f"captured {_time(old.captured_at)}</p>{head}"
                f'<div class="text">{_e(old.text)}</div></li>'
            )
        parts.append("</ol></section>")
    source = f" from record {_e(view.source_record_id)}" if view.source_record_id else ""
    parts.append(
        f"<footer>Post {_e(view.post_id)} ({_e(view.native_id)}) of account "
        f"{_e(view.account)}; rendered{source}.</footer></body></html>"
    )
    return ("\n".join(parts) + "\n").encode("utf-8")


def _count(replies: Iterable[PageReply]) -> int:
    return sum(1 + _count(r.replies) for r in replies)


# --- writing them during a capture --------------------------------------------------------------


@dataclass(frozen=True)
class WrittenPage:
    """One post page written: its record, where, and whether it was a revisit."""

    post_id: str
    record_id: str
    target_uri: str
    revisit: bool


class PageContext:
    """What a capture knows when it writes its post pages: the index, the spool, the MIME
    types of what it archived (URL → MIME) and a clock reading for every page."""

    def __init__(
        self,
        index: Index,
        spool: SpoolWriter,
        *,
        account: str,
        agency: str,
        series: str,
        platform: str,
        archived: dict[str, str | None],
        extras: dict[str, RecordExtra],
        record_uri: Callable[[str], str | None],
    ) -> None:
        self.index = index
        self.spool = spool
        self.account = account
        self.agency = agency
        self.series = series
        self.platform = platform
        self.archived = archived  # URL -> MIME of the 200 responses of this capture
        self.extras = extras
        self.record_uri = record_uri
        self._known: dict[str, list[RecordInfo]] = {}  # URI -> its records, read ahead
        self._read_ahead: set[str] = set()

    def read_ahead(self, urls: Iterable[str]) -> None:
        """Read the records of these URLs from the index in set queries, for the
        :meth:`media_mime` and :meth:`url_has_html` calls that follow (one query per URL
        otherwise)."""
        wanted = {u for u in urls if u and u not in self._read_ahead}
        self._known.update(self.index.records_for_uris(wanted))
        self._read_ahead |= wanted

    def _records(self, url: str) -> list[RecordInfo]:
        if url in self._read_ahead:
            return self._known.get(url, [])
        return self.index.records_for_uri(url)

    def media_mime(self, url: str) -> str | None:
        if url in self.archived:
            return self.archived[url]
        for rec in self._records(url):
            if rec.rec_type == "response" and rec.status_code == 200:
                return rec.mime
        return None

    def url_has_html(self, url: str | None) -> bool:
        if not url:
            return False
        if self.archived.get(url) in HTML_MIMES:
            return True
        return any(
            r.rec_type == "response" and r.status_code == 200 and r.mime in HTML_MIMES
            for r in self._records(url)
        )


def _versions(versions: list[VersionInfo]) -> tuple[list[PageVersion], str | None]:
    """The post's versions, oldest first, and the record its newest version was read from
    (the capture that first saw it: stable, unlike the record of every later sighting)."""
    pages = [PageVersion(v.version, v.captured_at, v.title, v.text, v.edited_at) for v in versions]
    return pages, (versions[-1].record_id if versions else None)


def _children(posts: Iterable[NormalizedPost]) -> dict[str, list[NormalizedPost]]:
    """The posts answering each native id (in the order they were seen)."""
    children: dict[str, list[NormalizedPost]] = {}
    for p in posts:
        if p.in_reply_to:
            children.setdefault(str(p.in_reply_to), []).append(p)
    return children


def _replies(
    children: dict[str, list[NormalizedPost]], uris: dict[str, str], parent: str
) -> tuple[PageReply, ...]:
    """The replies to ``parent``, each with its own replies (cycles cut), oldest first."""

    def build(at: str, seen: frozenset[str]) -> tuple[PageReply, ...]:
        kids = sorted(
            children.get(at, []),
            key=lambda p: (utc(p.published_at) or datetime.min.replace(tzinfo=UTC), p.native_id),
        )
        return tuple(
            PageReply(
                native_id=k.native_id,
                author=k.author,
                published_at=utc(k.published_at),
                text=k.text,
                url=k.url,
                page_uri=uris.get(k.native_id),
                replies=build(k.native_id, seen | {k.native_id}) if k.native_id not in seen else (),
            )
            for k in kids
        )

    return build(parent, frozenset({parent})) if parent in children else ()


@dataclass(frozen=True)
class _Shown:
    """What a page written early showed that later posts of the capture could still change."""

    post: NormalizedPost
    uri: str
    replies: tuple[PageReply, ...]
    in_reply_to_uri: str | None
    media: tuple[PageMedia, ...]


class PageWriter:
    """Writes a capture's post pages in as many calls as the capture likes.

    :meth:`write` pages posts that are indexed already while the capture still lists (those
    whose connector said nothing more will be fetched for them); :meth:`finish` pages every
    other post seen, writes again the early page of a post that what came later changed (a
    reply, an archived attachment: rare, and a newer page at the same URI is what replay
    shows), and writes the deletion pages. Pages are the same bytes as if all were written at
    the end."""

    def __init__(self, ctx: PageContext, *, captured_at: datetime) -> None:
        self.ctx = ctx
        self.captured_at = captured_at
        self.written: list[WrittenPage] = []
        self._seen: dict[str, NormalizedPost] = {}  # native id -> post (the last seen wins)
        self._uris: dict[str, str] = {}  # native id -> its page's URI
        self._children: dict[str, list[NormalizedPost]] = {}
        self._early: dict[str, _Shown] = {}
        # read ahead for pages about to be written: versions by native id (for that very post)
        # and the newest earlier page by URI (None: there is none)
        self._versions: dict[str, tuple[NormalizedPost, list[VersionInfo]]] = {}
        self._originals: dict[str, RecordInfo | None] = {}

    def see(self, posts: Sequence[NormalizedPost]) -> None:
        """Posts of the capture, in listing order: they may be replied to, linked, paged."""
        ctx = self.ctx
        ctx.read_ahead([*(p.url for p in posts if p.url), *(m for p in posts for m in p.media)])
        for p in posts:
            self._seen[p.native_id] = p
            self._uris[p.native_id] = self._uri(p)
            if p.in_reply_to:
                self._children.setdefault(str(p.in_reply_to), []).append(p)

    def knows(self, native_id: str) -> bool:
        """Whether a post with this native id was seen."""
        return native_id in self._seen

    def saw(self, post: NormalizedPost) -> bool:
        """Whether this very post (not only its id) was seen."""
        return self._seen.get(post.native_id) is post

    def prepare(self, posts: Sequence[NormalizedPost]) -> None:
        """Read what the pages of ``posts`` need from the index (two set queries), so that
        writing them later, a few at a time, asks nothing more."""
        ctx = self.ctx
        ids = {p.native_id: post_key(ctx.account, p.native_id) for p in posts}
        known = ctx.index.versions_of(ids.values())
        for p in posts:
            self._versions[p.native_id] = (p, known.get(ids[p.native_id], []))
        uris = {self._uris[p.native_id] for p in posts} - self._originals.keys()
        found = ctx.index.last_originals(ctx.series, uris, rec_type="resource")
        self._originals.update({uri: found.get(uri) for uri in uris})

    def write(self, posts: Sequence[NormalizedPost]) -> None:
        """Write the pages of ``posts`` now (each :meth:`see`-n and indexed)."""
        unique = list({p.native_id: p for p in posts}.values())
        for p, view, uri in self._views(unique, self._children, self._uris):
            self._early[p.native_id] = _Shown(
                p, uri, view.replies, view.in_reply_to_uri, view.media
            )

    def finish(self, deleted: Sequence[str] = ()) -> list[WrittenPage]:
        """Page every post seen and not paged yet (or paged and changed since), then a page
        with a deletion notice for every post id in ``deleted``; returns all pages written."""
        ctx = self.ctx
        children = _children(self._seen.values())
        uris = {nid: self._uri(p) for nid, p in self._seen.items()}
        todo = [p for nid, p in self._seen.items() if self._stale(p, children, uris)]
        self._views(todo, children, uris)
        for pid in deleted:
            self._deletion_page(pid)
        ctx.spool.flush()
        return self.written

    def _stale(
        self, p: NormalizedPost, children: dict[str, list[NormalizedPost]], uris: dict[str, str]
    ) -> bool:
        """Whether ``p`` still needs a page: none written yet, or its early page would now
        show other replies, links or media (or another sighting of the post came since)."""
        shown = self._early.get(p.native_id)
        return shown is None or (
            shown.post is not p
            or shown.uri != uris[p.native_id]
            or shown.replies != _replies(children, uris, p.native_id)
            or shown.in_reply_to_uri != (uris.get(p.in_reply_to) if p.in_reply_to else None)
            or shown.media != self._media(p)
        )

    def _uri(self, p: NormalizedPost) -> str:
        return page_uri(
            post_key(self.ctx.account, p.native_id),
            p.url,
            url_has_html=self.ctx.url_has_html(p.url),
        )

    def _media(self, p: NormalizedPost) -> tuple[PageMedia, ...]:
        return tuple(PageMedia(m, self.ctx.media_mime(m)) for m in dict.fromkeys(p.media))

    def _views(
        self,
        posts: Sequence[NormalizedPost],
        children: dict[str, list[NormalizedPost]],
        uris: dict[str, str],
    ) -> list[tuple[NormalizedPost, PostView, str]]:
        """Render and write the pages of ``posts``; (post, view, URI) of each written."""
        ctx = self.ctx
        unread = [
            p
            for p in posts
            if self._versions.get(p.native_id, (None,))[0] is not p
            or uris[p.native_id] not in self._originals
        ]
        if unread:
            self._uris.update({p.native_id: uris[p.native_id] for p in unread})
            self.prepare(unread)
        done: list[tuple[NormalizedPost, PostView, str]] = []
        for p in posts:
            pid = post_key(ctx.account, p.native_id)
            versions, version_record = _versions(self._versions.pop(p.native_id)[1])
            if not versions:
                continue
            view = PostView(
                post_id=pid,
                account=ctx.account,
                agency=ctx.agency,
                platform=ctx.platform,
                native_id=p.native_id,
                url=p.url,
                kind=p.kind,
                author=p.author,
                published_at=utc(p.published_at),
                current=versions[-1],
                earlier=tuple(versions[:-1]),
                media=self._media(p),
                replies=_replies(children, uris, p.native_id),
                in_reply_to=p.in_reply_to,
                in_reply_to_uri=uris.get(p.in_reply_to) if p.in_reply_to else None,
                source_record_id=version_record,
            )
            uri = uris[p.native_id]
            original = self._originals.get(uri)
            page = _write(ctx, view, uri, self.captured_at, [p.record_id], original=original)
            self.written.append(page)
            done.append((p, view, uri))
        return done

    def _deletion_page(self, pid: str) -> None:
        ctx = self.ctx
        post, versions_info, events = ctx.index.history(pid)
        versions, version_record = _versions(versions_info)
        gone = next((e for e in reversed(events) if e.kind == "deleted_detected"), None)
        if gone is None or not versions:
            return
        at = utc(gone.at)
        view = PostView(
            post_id=pid,
            account=ctx.account,
            agency=ctx.agency,
            platform=ctx.platform,
            native_id=post.native_id,
            url=post.url,
            kind=post.kind,
            author=post.author,
            published_at=utc(post.published_at),
            current=versions[-1],
            earlier=tuple(versions[:-1]),
            in_reply_to=post.in_reply_to,
            deletion=PageDeletion(
                at=at,
                detail=gone.detail,
                evidence_record_id=gone.evidence_record_id,
                evidence_uri=(
                    ctx.record_uri(gone.evidence_record_id) if gone.evidence_record_id else None
                ),
            ),
            source_record_id=version_record,
        )
        uri = _last_uri(ctx, pid, post.url)
        self.written.append(_write(ctx, view, uri, at, [version_record, gone.evidence_record_id]))


def _last_uri(ctx: PageContext, post_id: str, url: str | None) -> str:
    """The URI the post's pages were written at (its latest page), for its deletion page."""
    for uri in page_uris(post_id, url):
        if ctx.index.last_original(ctx.series, uri, rec_type="resource") is not None:
            return uri
    return page_uri(post_id, url, url_has_html=ctx.url_has_html(url))


def _write(
    ctx: PageContext,
    view: PostView,
    uri: str,
    when: datetime,
    sources: Iterable[str | None],
    *,
    original: RecordInfo | Literal["ask"] | None = "ask",
) -> WrittenPage:
    """Write the page at ``uri``: a revisit of ``original`` (the newest page at ``uri`` in the
    series, read from the index when not given) when the page is the same."""
    body = render_post_page(view)
    digest = sha256_label(hashlib.sha256(body).digest())
    concurrent = [("WARC-Concurrent-To", s) for s in dict.fromkeys(sources) if s]
    if isinstance(original, str):  # "ask"
        original = ctx.index.last_original(ctx.series, uri, rec_type="resource")
    if original is not None and original.payload_digest == digest:
        record = ctx.spool.write(
            "revisit",
            Block(b"", 0, None),
            date=when,
            target_uri=uri,
            payload_digest=digest,
            headers=[
                ("WARC-Profile", REVISIT_PROFILE),
                ("WARC-Refers-To", original.record_id),
                ("WARC-Refers-To-Target-URI", uri),
                ("WARC-Refers-To-Date", warc_date(original.date)),
                *concurrent,
            ],
            flush=False,
        )
    else:
        record = ctx.spool.write(
            "resource",
            Block(body, len(body), 0),
            date=when,
            target_uri=uri,
            content_type=PAGE_CONTENT_TYPE,
            headers=concurrent,
            digests=(digest, digest),  # the page is the whole block: digested once above
            level=PAGE_GZIP_LEVEL,
            flush=False,
        )
    ctx.extras[record.record_id] = RecordExtra(status_code=None, mime=PAGE_MIME)
    return WrittenPage(view.post_id, record.record_id, uri, record.rec_type == "revisit")

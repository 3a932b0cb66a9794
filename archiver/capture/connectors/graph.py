"""Facebook pages and Instagram professional accounts through the Graph API.

``handle:`` is the page's username or id (Facebook) or the IG user id (Instagram);
``credentials`` names the page (or user) access token, which travels as the ``access_token``
query parameter and is registered as a secret, so it is redacted in every record (the
``paging.next`` links the API hands back repeat it). ``base_url`` is the Graph host (default
``https://graph.facebook.com``); the version is ``options.api_version`` (default
:data:`DEFAULT_VERSION`), or the version segment ``base_url`` already ends with.

lookup ``/{handle}`` → ``/{id}/posts`` (Facebook) or ``/{id}/media`` (Instagram) with explicit
``fields=`` (authors, attachments, carousel children), newest first, following ``paging.next``
(rebased onto the configured host) → per post, when ``options.comments``, its comments with
their replies (Facebook ``filter=stream`` with ``parent{id}``; Instagram nested ``replies``),
every page followed → pictures and videos when ``options.media``. Graph errors are read from
their ``{"error": {"code", "error_subcode", ...}}`` body: a rate limit stops the listing (not
complete), an invalid token (190) fails the capture naming the credential to renew. A post gone
from the listing is confirmed deleted by ``GET /{id}?fields=id`` answering code 100 subcode 33.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

from archiver.capture.connectors.api import (
    CursorGuard,
    Page,
    PageError,
    archived_in,
    credential,
    error_object,
    fetch_media,
    get_json,
    items,
    parse_time,
    raw_json,
    since_cutoff,
    take_in_window,
)
from archiver.capture.connectors.base import CaptureSession, ConnectorResult, DeletionProbe
from archiver.capture.http import Exchange
from archiver.index.api import NormalizedPost
from archiver.policy.model import Account

GRAPH_HOST = "https://graph.facebook.com"
DEFAULT_VERSION = "v24.0"  # released October 2025; v19.0 (the former pin) has expired
PAGE_LIMIT = 100  # the documented maximum ``limit`` of the posts, media and comments edges
COMMENT_LIMIT = 100

FB_FIELDS = (
    "id,message,created_time,updated_time,permalink_url,from{id,name},"
    "attachments{media_type,media,url,subattachments},full_picture,status_type"
)
IG_FIELDS = (
    "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,username,comments_count,"
    "children{id,media_type,media_url,thumbnail_url}"
)
IG_CHILD_FIELDS = "id,media_type,media_url,thumbnail_url"
FB_COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},comment_count,permalink_url"
IG_COMMENT_FIELDS = "id,text,timestamp,username,replies{id,text,timestamp,username}"

# Throttling codes: application (4), user (17), page (32), custom (613) and the business use
# case limits (80001-80014); the API answers them with HTTP 400 or 403, not 429.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TOKEN_INVALID = 190
INVALID_PARAMETER = 100
DOES_NOT_EXIST = 33  # error_subcode of code 100: the object does not exist (or cannot be seen)
_VERSION = re.compile(r"/(v\d+\.\d+)$")


class GraphError(PageError):
    """A Graph API error answer (``{"error": {...}}``), its code and subcode kept."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None,
        subcode: int | None,
        record_id: str | None,
    ) -> None:
        super().__init__(message, status=status)
        self.code = code
        self.subcode = subcode
        self.record_id = record_id

    @property
    def rate_limited(self) -> bool:
        return self.code in RATE_LIMIT_CODES

    @property
    def token_invalid(self) -> bool:
        return self.code == TOKEN_INVALID

    @property
    def gone(self) -> bool:
        return self.code == INVALID_PARAMETER and self.subcode == DOES_NOT_EXIST


class TokenInvalid(Exception):
    """The access token was refused (code 190): the capture cannot go on."""


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _graph_error(ex: Exchange, body: bytes, what: str, record: str | None) -> None:
    """Raise :class:`GraphError` when the answer carries a Graph error object."""
    err = error_object(body) if ex.status >= 400 or b'"error"' in body[:64] else None
    if err is None:
        return
    code, subcode = _int(err.get("code")), _int(err.get("error_subcode"))
    sub = f"/{subcode}" if subcode is not None else ""
    kind = f"{err.get('type')} " if err.get("type") else ""
    text = f"{what}: Graph {kind}error {code}{sub} (HTTP {ex.status}): {err.get('message')}"
    raise GraphError(
        text + archived_in(record), status=ex.status, code=code, subcode=subcode, record_id=record
    )


def graph_json(session: CaptureSession, url: str, *, what: str, purpose: str = "api") -> Page:
    """Fetch, archive and parse one Graph answer.

    Raises :class:`GraphError` for an answer carrying a Graph error object (whatever its HTTP
    status), PageError for anything else unusable (no answer, another HTTP error, a cut or
    non-JSON body); the raw answer is in the WARC either way."""
    return get_json(session, url, what=what, purpose=purpose, read_error=_graph_error)


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (an absent optional field)."""
    return value if isinstance(value, dict) else {}


def _data(edge: Any) -> list[dict[str, Any]]:
    """The objects of a nested edge (``{"data": [...]}``), nothing when absent or misshapen."""
    rows = edge.get("data") if isinstance(edge, dict) else None
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def _urls(*candidates: Any) -> Iterator[str]:
    for url in candidates:
        if isinstance(url, str) and url:
            yield url


def fb_media(item: dict[str, Any]) -> tuple[str, ...]:
    """A Facebook post's pictures and videos: ``full_picture``, then every attachment's and
    sub-attachment's ``media.image.src`` and ``media.source`` (a video), each once."""
    found = list(_urls(item.get("full_picture")))
    for attachment in _data(item.get("attachments")):
        for part in (attachment, *_data(attachment.get("subattachments"))):
            media = _obj(part.get("media"))
            image = _obj(media.get("image"))
            found.extend(_urls(image.get("src"), media.get("source")))
    return tuple(dict.fromkeys(found))


def ig_media(item: dict[str, Any]) -> tuple[str, ...]:
    """An Instagram media's files: its ``media_url`` and ``thumbnail_url`` (a video's cover),
    then every carousel child's, each once."""
    found: list[str] = []
    for part in (item, *_data(item.get("children"))):
        found.extend(_urls(part.get("media_url"), part.get("thumbnail_url")))
    return tuple(dict.fromkeys(found))


def _fb_post(item: dict[str, Any], record_id: str | None) -> NormalizedPost:
    created, updated = parse_time(item["created_time"]), parse_time(item.get("updated_time"))
    author = _obj(item.get("from"))
    return NormalizedPost(
        native_id=str(item["id"]),
        url=item.get("permalink_url"),
        text=str(item.get("message") or ""),
        published_at=created,
        edited_at=updated if updated and updated != created else None,
        author=author.get("name") or None,
        raw=raw_json(item),
        record_id=record_id,
        media=fb_media(item),
    )


def _ig_media(item: dict[str, Any], record_id: str | None) -> NormalizedPost:
    return NormalizedPost(
        native_id=str(item["id"]),
        url=item.get("permalink"),
        text=str(item.get("caption") or ""),
        published_at=parse_time(item["timestamp"]),
        author=item.get("username") or None,
        raw=raw_json(item),
        record_id=record_id,
        media=ig_media(item),
    )


def _comment_ids(item: dict[str, Any], post_id: str) -> tuple[str, str]:
    """A comment's id and what it answers. ``parent{id}`` names the comment a reply answers;
    without an ``id`` (an answer whose fields left it out) both come from the permalink's
    ``comment_id`` / ``reply_comment_id``, as ``{post object id}_{comment id}``, the Graph
    form of a comment id."""
    parent = _obj(item.get("parent"))
    native = str(item["id"]) if item.get("id") is not None else None
    in_reply_to = str(parent["id"]) if parent.get("id") is not None else None
    if native is None or in_reply_to is None:
        link = parse_qs(urlsplit(str(item.get("permalink_url") or "")).query)
        top, reply = link.get("comment_id", [None])[0], link.get("reply_comment_id", [None])[0]
        obj = post_id.rsplit("_", 1)[-1]
        if native is None:
            if not (reply or top):
                raise KeyError("id")
            native = f"{obj}_{reply or top}"
        if in_reply_to is None and reply and top:
            in_reply_to = f"{obj}_{top}"
    return native, in_reply_to or post_id


def _comment(item: dict[str, Any], record_id: str | None, *, parent: str) -> NormalizedPost:
    native, in_reply_to = _comment_ids(item, parent)
    author = _obj(item.get("from"))
    return NormalizedPost(
        native_id=native,
        url=item.get("permalink_url"),
        text=str(item.get("message") or item.get("text") or ""),
        published_at=parse_time(item.get("created_time") or item.get("timestamp")),
        author=author.get("name") or item.get("username") or None,
        raw=raw_json(item),
        record_id=record_id,
        kind="comment",
        in_reply_to=in_reply_to,
    )


def _comments(item: dict[str, Any], record_id: str | None, *, parent: str) -> list[NormalizedPost]:
    """A comment and the replies nested in it (Instagram ``replies{...}``)."""
    top = _comment(item, record_id, parent=parent)
    replies = [_comment(r, record_id, parent=top.native_id) for r in _data(item.get("replies"))]
    return [top, *replies]


def _roots(account: Account) -> tuple[str, str]:
    """The Graph host and the versioned API root for the account."""
    base = (account.base_url or GRAPH_HOST).rstrip("/")
    match = _VERSION.search(base)
    if match:
        base = base[: match.start()]
    version = account.options.api_version or (match.group(1) if match else DEFAULT_VERSION)
    return base, f"{base}/{version}"


def _with_token(url: str, host: str, token: str) -> str:
    """``url`` (a ``paging.next`` link) moved onto the configured Graph ``host``, with our
    token: the token never travels to a host the answer names, and a proxy or simulator in
    ``base_url`` keeps serving the pages."""
    parts, base = urlsplit(url), urlsplit(host)
    query = [(k, v) for k, v in parse_qs(parts.query, keep_blank_values=True).items()]
    pairs = [(k, v[-1]) for k, v in query if k != "access_token"] + [("access_token", token)]
    same = (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
    path = parts.path if same else base.path.rstrip("/") + parts.path
    return urlunsplit((base.scheme, base.netloc, path, urlencode(pairs, safe=",{}()"), ""))


@dataclass
class _Call:
    """What one capture knows of its Graph endpoint."""

    session: CaptureSession
    account: Account
    host: str
    root: str
    token: str
    ended_early: bool = False  # the last listing stopped before its end (a failed page)
    rate_limited: bool = False  # the API said to back off: no further listings this capture

    def url(self, path: str, **params: str | int) -> str:
        query = urlencode({**params, "access_token": self.token}, safe=",{}()")
        return f"{self.root}/{quote(path)}?{query}"

    def fatal(self, exc: GraphError) -> str:
        return (
            f"{exc}; renew the page/user access token named by credentials "
            f"{self.account.credentials} (Graph code 190: invalid or expired token)"
        )

    def pages(
        self, first: str, *, what: str, guard: CursorGuard
    ) -> Iterator[tuple[Page, list[Any]]]:
        """Each page of a listing, following ``paging.next`` until it is absent. A page that
        fails is noted and ends the listing (a rate limit too, and ``rate_limited`` is set);
        ``ended_early`` then says the listing did not reach its end. Raises TokenInvalid on
        code 190.
        """
        self.ended_early = False
        url: str | None = first
        while url:
            try:
                page = graph_json(self.session, url, what=what)
            except GraphError as exc:
                if exc.token_invalid:
                    raise TokenInvalid(self.fatal(exc)) from None
                if exc.rate_limited:
                    self.rate_limited = True
                    self.session.problem(
                        f"{exc}; rate limited: backed off, the listing stops here", url=url
                    )
                else:
                    self.session.problem(str(exc), url=url)
                self.ended_early = True
                return
            except PageError as exc:
                self.session.problem(str(exc), url=url)
                self.ended_early = True
                return
            rows = page.data.get("data") if isinstance(page.data, dict) else None
            if not isinstance(rows, list):
                self.session.problem(f"{what}: no data in the answer; kept raw", url=url)
                self.ended_early = True
                return
            yield page, rows
            paging = page.data.get("paging")
            nxt = paging.get("next") if isinstance(paging, dict) else None
            if not rows or not isinstance(nxt, str) or not nxt:
                return
            if not guard.admit(nxt):
                self.ended_early = True
                return
            url = _with_token(nxt, self.host, self.token)


class _GraphConnector:
    """Shared paging for the two Graph platforms."""

    platform = "graph"
    edge = "posts"
    lookup_fields = "id,name"
    comment_fields = FB_COMMENT_FIELDS
    comment_params: tuple[tuple[str, str], ...] = (
        ("filter", "stream"),
    )  # replies too, each with parent

    def fields(self) -> str:
        return FB_FIELDS

    def build(self, item: dict[str, Any], record_id: str | None) -> NormalizedPost:
        return _fb_post(item, record_id)

    def has_comments(self, item: dict[str, Any]) -> bool:
        return True

    def complete_item(self, call: _Call, item: dict[str, Any]) -> dict[str, Any]:
        return item

    def _call(self, account: Account, session: CaptureSession) -> _Call | str:
        """The endpoint and token for the account, or why there is none."""
        try:
            token = credential(account, session)
        except PageError as exc:
            return str(exc)
        if not token:
            return "the Graph API needs a token: set credentials: ENV_NAME"
        session.add_secret(quote(token, safe=""))  # as it appears in paging.next links
        host, root = _roots(account)
        return _Call(session, account, host, root, token)

    def capture(self, account: Account, session: CaptureSession) -> ConnectorResult:
        owner = (account.handle or "").lstrip("@")
        if not owner:
            return ConnectorResult(fatal=f"a {self.platform} account needs handle: (id or name)")
        call = self._call(account, session)
        if isinstance(call, str):
            return ConnectorResult(fatal=call)
        try:
            who = graph_json(session, call.url(owner, fields=self.lookup_fields), what="lookup")
            owner_id = str(who.data["id"])
        except GraphError as exc:
            if exc.token_invalid:
                return ConnectorResult(fatal=call.fatal(exc))
            if exc.code == INVALID_PARAMETER:
                return ConnectorResult(fatal=f"{exc} (unknown page or account?)")
            return ConnectorResult(fatal=str(exc))
        except PageError as exc:
            return ConnectorResult(fatal=f"{exc} (unknown page or account, or a bad token?)")
        except (KeyError, TypeError):
            return ConnectorResult(fatal="lookup: no id in the answer")
        result = ConnectorResult()
        try:
            self._list(call, owner_id, result)
            if account.options.comments:
                self._comments(call, result)
        except TokenInvalid as exc:
            result.fatal, result.complete_listing = str(exc), False
            return result
        fetch_media(session, account, result.posts)
        return result

    def _list(self, call: _Call, owner_id: str, result: ConnectorResult) -> None:
        cutoff = since_cutoff(call.account, call.session)
        first = call.url(f"{owner_id}/{self.edge}", fields=self.fields(), limit=PAGE_LIMIT)
        stopped = False
        guard = CursorGuard(call.session, self.edge)
        for page, rows in call.pages(first, what=f"{self.edge} page", guard=guard):
            if result.listing_record_id is None:
                result.listing_record_id = page.record_id
            rows = [self.complete_item(call, r) if isinstance(r, dict) else r for r in rows]
            build = partial(self.build, record_id=page.record_id)
            if take_in_window(
                result,
                items(call.session, self.edge, rows, build),
                cutoff,
                call.account.options.max_items,
            ):
                stopped = True
                break
        result.complete_listing = stopped or not call.ended_early

    def _comments(self, call: _Call, result: ConnectorResult) -> None:
        seen = {p.native_id for p in result.posts}
        for post in [p for p in result.posts if p.kind == "post"]:
            if call.rate_limited:
                return
            if not self.has_comments(json.loads(post.raw)):
                continue
            first = call.url(
                f"{post.native_id}/comments",
                fields=self.comment_fields,
                limit=COMMENT_LIMIT,
                **dict(self.comment_params),
            )
            what = f"comments on {post.native_id}"
            guard = CursorGuard(call.session, what)
            for page, rows in call.pages(first, what=what, guard=guard):
                build = partial(_comments, record_id=page.record_id, parent=post.native_id)
                for made in items(call.session, "comments", rows, build):
                    for comment in made:
                        if comment.native_id not in seen:
                            seen.add(comment.native_id)
                            result.posts.append(comment)
            if call.rate_limited:
                return  # backing off: no more comment listings this capture

    def probe_deletion(
        self, account: Account, session: CaptureSession, native_id: str, url: str | None
    ) -> DeletionProbe | None:
        """``GET /{version}/{id}?fields=id``: error code 100 subcode 33 ("does not exist")
        confirms the post (or comment) is gone; the same id back says it is still served.
        Anything else (no answer, a rate limit, a token or permission error, code 100 without
        subcode 33) is no evidence either way: None."""
        call = self._call(account, session)
        if isinstance(call, str):
            return None
        endpoint = call.url(native_id, fields="id")
        shown = endpoint.split("?", 1)[0]
        try:
            page = graph_json(session, endpoint, what=f"probe of {native_id}", purpose="probe")
        except GraphError as exc:
            if exc.gone:
                detail = f"GET {shown}?fields=id answered Graph error 100/33 (does not exist)"
                return DeletionProbe(deleted=True, record_id=exc.record_id, detail=detail)
            return None
        except PageError:
            return None
        if isinstance(page.data, dict) and str(page.data.get("id")) == native_id:
            detail = f"GET {shown}?fields=id still serves it"
            return DeletionProbe(deleted=False, record_id=page.record_id, detail=detail)
        return None

    def posts_from_response(
        self,
        account: Account,
        url: str,
        content_type: str | None,
        body: bytes,
        record_id: str | None,
    ) -> list[NormalizedPost]:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            return []
        path = urlsplit(url).path
        rows = [r for r in data["data"] if isinstance(r, dict)]
        if path.endswith("/comments"):
            parent = path.rsplit("/", 2)[-2]
            return [c for r in rows for c in _comments(r, record_id, parent=parent)]
        if path.endswith(f"/{self.edge}"):
            return [self.build(item, record_id) for item in rows]
        return []


class FacebookConnector(_GraphConnector):
    """A Facebook page's posts, comments (with replies) and pictures."""

    platform = "facebook"


class InstagramConnector(_GraphConnector):
    """An Instagram professional account's media (carousel children included), comments with
    their replies, and images and videos."""

    platform = "instagram"
    edge = "media"
    lookup_fields = "id,username"
    comment_fields = IG_COMMENT_FIELDS
    comment_params: tuple[tuple[str, str], ...] = ()

    def fields(self) -> str:
        return IG_FIELDS

    def build(self, item: dict[str, Any], record_id: str | None) -> NormalizedPost:
        return _ig_media(item, record_id)

    def has_comments(self, item: dict[str, Any]) -> bool:
        count = item.get("comments_count")
        return count is None or bool(count)

    def complete_item(self, call: _Call, item: dict[str, Any]) -> dict[str, Any]:
        """A carousel listed without its ``children`` gets them from ``/{id}/children``."""
        if item.get("media_type") != "CAROUSEL_ALBUM" or "children" in item or "id" not in item:
            return item
        url = call.url(f"{item['id']}/children", fields=IG_CHILD_FIELDS)
        try:
            page = graph_json(call.session, url, what=f"children of {item['id']}")
        except GraphError as exc:
            if exc.token_invalid:
                raise TokenInvalid(call.fatal(exc)) from None
            call.session.problem(str(exc), url=url)
            return item
        except PageError as exc:
            call.session.problem(str(exc), url=url)
            return item
        if isinstance(page.data, dict) and isinstance(page.data.get("data"), list):
            return {**item, "children": {"data": page.data["data"]}}
        return item

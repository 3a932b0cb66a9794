"""The read-only web console: pages over the index, rendered with Jinja2 (every value escaped).

:class:`Console` turns a :class:`Request` into a :class:`Response` and knows nothing of sockets;
:mod:`archiver.web.server` serves it over HTTP. Nothing here changes records: the only writes
are the sign-in sessions (in memory) and the ``report.generated`` audit event a report view adds,
as ``archiver report`` does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2

from archiver.errors import ArchiverError, NotFoundError, UsageError
from archiver.index.api import PostSummary, VersionInfo, jsonable, utc
from archiver.logging import get_logger
from archiver.retrieval import version_text, word_diff
from archiver.runtime import Runtime
from archiver.web.auth import OPEN_ACCESS, ROLE_TITLES, Sessions, User, authenticate

COOKIE = "archiver_session"
PAGE = 50
AUDIT_PAGE = 200
SECURITY_HEADERS = {
    # no script runs in the console; styles are inline; reports embed inline SVG
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Request:
    """One HTTP request as the console sees it."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    form: dict[str, list[str]] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # named parts of the matched path

    def arg(self, name: str) -> str:
        return (self.query.get(name) or [""])[0].strip()

    def field(self, name: str) -> str:
        return (self.form.get(name) or [""])[0]

    @classmethod
    def parse(cls, method: str, target: str, cookie_header: str, body: bytes) -> Request:
        path, _, qs = target.partition("?")
        cookies = SimpleCookie()
        try:
            cookies.load(cookie_header or "")
        except Exception:  # a malformed Cookie header is the same as none
            cookies = SimpleCookie()
        return cls(
            method=method.upper(),
            path=path or "/",
            query=parse_qs(qs, keep_blank_values=False),
            form=parse_qs(body.decode("utf-8", "replace")) if body else {},
            cookies={k: m.value for k, m in cookies.items()},
        )


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def replay_link(base: str, captured_at: datetime | None, url: str | None) -> str | None:
    """The ``archiver replay`` (pywb) address of ``url`` as captured at ``captured_at``."""
    if not url or captured_at is None or not url.startswith(("http://", "https://")):
        return None
    return f"{base.rstrip('/')}/{utc(captured_at):%Y%m%d%H%M%S}/{url}"


Handler = Callable[[Request, User], Response]


class Console:
    """The console's pages. ``users`` None means open access (allowed on loopback only, which
    :func:`archiver.web.server.serve` enforces)."""

    def __init__(
        self,
        rt: Runtime,
        *,
        users: dict[str, User] | None,
        replay_url: str = "http://127.0.0.1:8080/archive",
    ) -> None:
        self.rt = rt
        self.users = users
        self.replay_url = replay_url
        self.sessions = Sessions()
        self.log = get_logger(component="web")
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("archiver.web", "templates"),
            autoescape=True,  # every value is escaped unless a template says otherwise
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["when"] = _when
        self.templates.globals["role_titles"] = ROLE_TITLES
        # (method, pattern, role or None for any signed-in user, handler)
        self.routes: list[tuple[str, re.Pattern[str], str | None, Handler]] = [
            ("GET", re.compile(r"/"), None, self.home),
            ("GET", re.compile(r"/search"), "archivist", self.search),
            ("GET", re.compile(r"/accounts/(?P<account>[^/]+)"), "archivist", self.timeline),
            ("GET", re.compile(r"/posts/(?P<post_id>[^/]+)"), "archivist", self.post),
            ("GET", re.compile(r"/holds"), "records_officer", self.holds),
            ("GET", re.compile(r"/plans"), "records_officer", self.plans),
            ("GET", re.compile(r"/plans/(?P<plan_id>[^/]+)"), "records_officer", self.plan),
            ("GET", re.compile(r"/reports"), "auditor", self.reports),
            ("GET", re.compile(r"/reports/(?P<kind>[a-z]+)"), "auditor", self.report),
            ("GET", re.compile(r"/audit"), "auditor", self.audit),
        ]

    # --- dispatch ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """The response to ``req``: sign-in first (when users are configured), then the role
        the page needs (403 otherwise), then the page. Never raises."""
        try:
            response = self._dispatch(req)
        except NotFoundError as exc:
            response = self.page("error.html", None, status=404, title="Not found", message=exc)
        except UsageError as exc:
            response = self.page("error.html", None, status=400, title="Bad request", message=exc)
        except ArchiverError as exc:
            self.log.error("web.failed", path=req.path, error=str(exc))
            response = self.page("error.html", None, status=500, title="Failed", message=exc)
        except Exception as exc:  # a bug: the message stays in the log, not on the page
            self.log.exception("web.crashed", path=req.path, error=repr(exc))
            response = self.page(
                "error.html",
                None,
                status=500,
                title="Internal error",
                message="the console failed on this page; the log says why",
            )
        response.headers = {**SECURITY_HEADERS, **response.headers}
        return response

    def _dispatch(self, req: Request) -> Response:
        if req.path == "/login":
            return self.login(req)
        if req.path == "/logout" and req.method == "POST":
            self.sessions.end(req.cookies.get(COOKIE))
            return redirect("/login", cookie=f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly")
        user = self.current_user(req)
        for method, pattern, role, handler in self.routes:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            if req.method not in (method, "HEAD"):
                return self.page("error.html", user, status=405, title="Not allowed", message="")
            if user is None:
                return redirect("/login?" + urlencode({"next": req.path}))
            if role is not None and not user.can(role):
                self.log.warning("web.forbidden", user=user.name, path=req.path, role=role)
                return self.page(
                    "error.html",
                    user,
                    status=403,
                    title="Forbidden",
                    message=f"this page needs the {ROLE_TITLES[role]} role, which "
                    f"{user.name} does not have; ask the console's administrator",
                )
            return handler(replace(req, params=match.groupdict()), user)
        return self.page("error.html", user, status=404, title="Not found", message=req.path)

    def current_user(self, req: Request) -> User | None:
        if self.users is None:
            return OPEN_ACCESS
        return self.sessions.user(req.cookies.get(COOKIE), self.rt.clock.now())

    def page(
        self, template: str, user: User | None, *, status: int = 200, **values: Any
    ) -> Response:
        body = self.templates.get_template(template).render(
            user=user, open_access=self.users is None, **values
        )
        return Response(status=status, body=body.encode())

    # --- sign-in ----------------------------------------------------------------------------

    def login(self, req: Request) -> Response:
        if self.users is None:
            return redirect("/")
        target = req.field("next") or req.arg("next") or "/"
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # only this console's own pages
        if req.method != "POST":
            return self.page("login.html", None, next=target, failed=False)
        user = authenticate(self.users, req.field("username"), req.field("password"))
        if user is None:
            self.log.warning("web.signin_failed", username=req.field("username")[:64])
            return self.page("login.html", None, status=401, next=target, failed=True)
        token = self.sessions.start(user, self.rt.clock.now())
        self.log.info("web.signed_in", user=user.name)
        return redirect(target, cookie=f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")

    # --- pages ------------------------------------------------------------------------------

    def home(self, req: Request, user: User) -> Response:
        accounts = self.rt.index.post_accounts() if user.can("archivist") else []
        head = self.rt.index.audit_chain_head() if user.can("auditor") else None
        return self.page("home.html", user, accounts=accounts, head=head)

    def search(self, req: Request, user: User) -> Response:
        from archiver.cli.common import parse_time

        q, account = req.arg("q"), req.arg("account")
        since, until = req.arg("since"), req.arg("until")
        edited, deleted = req.arg("edited") == "1", req.arg("deleted") == "1"
        hits: list[PostSummary] | None = None
        if q:
            hits = self.rt.index.search(
                q,
                account=account or None,
                since=parse_time(since or None, name="since"),
                until=parse_time(until or None, name="until", end_of_day=True),
                edited=edited,
                deleted=deleted,
                limit=PAGE,
            )
        return self.page(
            "search.html",
            user,
            q=q,
            account=account,
            since=since,
            until=until,
            edited=edited,
            deleted=deleted,
            hits=hits,
            accounts=[a for a, _ in self.rt.index.post_accounts()],
        )

    def timeline(self, req: Request, user: User) -> Response:
        account = req.params["account"]
        page = _positive(req.arg("page"), 1)
        edited, deleted = req.arg("edited") == "1", req.arg("deleted") == "1"
        posts = self.rt.index.list_posts(
            account, edited=edited, deleted=deleted, limit=PAGE + 1, offset=(page - 1) * PAGE
        )
        if page == 1 and not posts and account not in dict(self.rt.index.post_accounts()):
            raise NotFoundError(f"no posts of account {account!r} in the index")
        return self.page(
            "timeline.html",
            user,
            account=account,
            posts=posts[:PAGE],
            page=page,
            more=len(posts) > PAGE,
            edited=edited,
            deleted=deleted,
        )

    def post(self, req: Request, user: User) -> Response:
        post, versions, events = self.rt.index.history(req.params["post_id"])
        columns = []
        previous: VersionInfo | None = None
        for v in versions:
            source = None
            if v.record_id:
                try:
                    source = self.rt.index.get_record(v.record_id)
                except NotFoundError:
                    source = None  # disposed: the version text stays, its record is gone
            diff = (
                word_diff(
                    version_text(previous.title, previous.text), version_text(v.title, v.text)
                )
                if previous is not None
                else None
            )
            columns.append(
                {
                    "v": v,
                    "diff": diff,
                    "source": source,
                    "replay_post": replay_link(self.replay_url, v.captured_at, post.url),
                    "replay_source": replay_link(
                        self.replay_url,
                        source.date if source else None,
                        source.target_uri if source else None,
                    ),
                }
            )
            previous = v
        replies = self.rt.index.replies_to(post.account, post.native_id)
        parent = None
        if post.in_reply_to:
            try:
                parent = self.rt.index.find_post(post.in_reply_to)
            except NotFoundError:
                parent = None
        return self.page(
            "post.html",
            user,
            post=post,
            columns=columns,
            events=events,
            replies=replies,
            parent=parent if parent is not None and parent.account == post.account else None,
        )

    def holds(self, req: Request, user: User) -> Response:
        from archiver.governance.holds import list_holds

        return self.page("holds.html", user, holds=list_holds(self.rt))

    def plans(self, req: Request, user: User) -> Response:
        from archiver.governance.plans import list_plans

        return self.page("plans.html", user, plans=list(reversed(list_plans(self.rt))))

    def plan(self, req: Request, user: User) -> Response:
        from archiver.governance.plans import plan_record

        return self.page("plan.html", user, plan=plan_record(self.rt, req.params["plan_id"]))

    def reports(self, req: Request, user: User) -> Response:
        from archiver.reports import KINDS

        return self.page("reports.html", user, kinds=KINDS)

    def report(self, req: Request, user: User) -> Response:
        """A compliance report as ``archiver report KIND --format html`` writes it, recorded in
        the audit chain (``report.generated``, ``via: web``) like the CLI's."""
        from archiver.governance.audit import record_event
        from archiver.reports import KINDS, build_report, render

        kind = req.params["kind"]
        if kind not in KINDS:
            raise NotFoundError(f"no report {kind!r}; choose one of {', '.join(KINDS)}")
        built = build_report(self.rt, kind)
        body = render(built, "html")
        record_event(
            self.rt,
            "report.generated",
            kind,
            {
                "format": "html",
                "as_of": built.as_of,
                "chain_head": built.chain_head,
                "bytes": len(body),
                "via": "web",
                "user": user.name,
            },
        )
        return Response(status=200, body=body)

    def audit(self, req: Request, user: User) -> Response:
        """The newest audit events matching the filters of ``archiver audit list``."""
        from archiver.cli.common import parse_time
        from archiver.governance.audit_log import AuditFilter, list_events

        values = {name: req.arg(name) for name in ("since", "until", "actor", "action", "capture")}
        where = AuditFilter(
            since=parse_time(values["since"] or None, name="since"),
            until=parse_time(values["until"] or None, name="until", end_of_day=True),
            actor=values["actor"] or None,
            action=values["action"] or None,
            capture=values["capture"] or None,
        )
        events = list_events(self.rt, where, limit=AUDIT_PAGE)
        return self.page(
            "audit.html",
            user,
            events=events,
            limit=AUDIT_PAGE,
            filters=values,
            head=self.rt.index.audit_chain_head(),
        )


def redirect(location: str, *, cookie: str | None = None) -> Response:
    headers = {"Location": location}
    if cookie:
        headers["Set-Cookie"] = cookie
    return Response(status=303, headers=headers)


def _positive(value: str, default: int) -> int:
    try:
        number = int(value)
    except ValueError:
        return default
    return number if number > 0 else default


def _when(value: Any) -> str:
    """A time as ``2026-11-24 12:00:00Z`` (or ``-``)."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return f"{utc(value):%Y-%m-%d %H:%M:%S}Z"
    return str(jsonable(value))

"""The archivist's retrieval: ``posts list``, ``history``, ``search``, ``extract``."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from archiver.cli.common import emit_json, err, out, parse_time, runtime, short_time
from archiver.index.api import PostSummary
from archiver.retrieval import extract as extract_record

posts_app = typer.Typer(help="Posts found in captures.", no_args_is_help=True)


def _post_json(p: PostSummary) -> dict[str, object]:
    return {
        "post_id": p.post_id,
        "account": p.account,
        "series": p.series,
        "platform": p.platform,
        "native_id": p.native_id,
        "url": p.url,
        "title": p.title,
        "text": p.text,
        "author": p.author,
        "published_at": p.published_at,
        "captured_at": p.captured_at,
        "versions": p.versions,
        "edited": p.edited,
        "deleted": p.deleted,
        **({"snippet": p.snippet} if p.snippet is not None else {}),
    }


def posts_table(posts: list[PostSummary], title: str | None = None) -> Table:
    """Posts as a table; search snippets have their matches (``[word]``) highlighted."""
    table = Table(title=title)
    for column in ("post_id", "published", "title / text", "v", "flags"):
        table.add_column(column, overflow="fold")
    for p in posts:
        flags = " ".join(f for f, on in (("edited", p.edited), ("deleted", p.deleted)) if on)
        body = Text(" ".join((p.snippet or p.title or p.text).split())[:160])
        body.highlight_regex(r"\[[^\]]+\]", "bold yellow")
        table.add_row(p.post_id, short_time(p.published_at), body, str(p.versions), flags)
    return table


@posts_app.command("list")
def list_posts(
    account: str = typer.Option(..., "--account", help="Account id."),
    edited: bool = typer.Option(False, "--edited", help="Only posts with more than one version."),
    deleted: bool = typer.Option(False, "--deleted", help="Only posts detected as deleted."),
    limit: int = typer.Option(1000, help="At most this many."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """An account's posts, newest first (latest version of each)."""
    posts = runtime(load=False).index.list_posts(
        account, edited=edited, deleted=deleted, limit=limit
    )
    if json_out:
        emit_json([_post_json(p) for p in posts])
    else:
        out.print(posts_table(posts))


def search(
    query: str = typer.Argument(..., help='Words (AND), "a phrase", prefix*.'),
    account: str | None = typer.Option(None, "--account"),
    since: str | None = typer.Option(None, "--since", help="Published at or after (ISO date)."),
    until: str | None = typer.Option(None, "--until", help="Published at or before (ISO date)."),
    limit: int = typer.Option(50, help="At most this many results."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Full-text search over every version of every post, best first."""
    hits = runtime(load=False).index.search(
        query,
        account=account,
        since=parse_time(since, name="--since"),
        until=parse_time(until, name="--until"),
        limit=limit,
    )
    if json_out:
        emit_json([_post_json(p) for p in hits])
    else:
        out.print(posts_table(hits))
        err.print(f"{len(hits)} result(s)")


def _word_diff(old: str, new: str) -> Text:
    a, b = old.split(), new.split()
    text = Text()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if op == "equal":
            text.append(" ".join(a[i1:i2]) + " ")
        if op in ("delete", "replace"):
            text.append("[-" + " ".join(a[i1:i2]) + "-] ", style="red strike")
        if op in ("insert", "replace"):
            text.append("{+" + " ".join(b[j1:j2]) + "+} ", style="green")
    return text


def history(
    post_id: str = typer.Argument(..., metavar="POST_ID", help="post_id, native id or URL."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every version of a post with capture times, and what changed between them."""
    post, versions, events = runtime(load=False).index.history(post_id)
    if json_out:
        emit_json(
            {
                "post_id": post.post_id,
                "account": post.account,
                "url": post.url,
                "native_id": post.native_id,
                "deleted": post.deleted,
                "versions": versions,
                "events": [
                    {
                        "kind": e.kind,
                        "at": e.at,
                        "capture_id": e.capture_id,
                        "evidence_record_id": e.evidence_record_id,
                        "detail": e.detail,
                    }
                    for e in events
                ],
            }
        )
        return
    out.print(f"[bold]{post.post_id}[/] {post.url or post.native_id} ({post.account})")
    previous = None
    for v in versions:
        out.print(
            f"\n[bold]version {v.version}[/] captured {short_time(v.captured_at)} "
            f"in {v.capture_id} (record {v.record_id})"
        )
        current = f"{v.title or ''}\n{v.text}".strip()
        out.print(_word_diff(previous, current) if previous is not None else current)
        previous = current
    for e in events:
        out.print(f"[dim]{short_time(e.at)} {e.kind} {e.detail}[/]")


def extract(
    target: str = typer.Argument(..., metavar="URL|RECORD_ID"),
    at: str | None = typer.Option(None, "--at", help="The version live at this time (ISO)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write here, not stdout."),
    raw: bool = typer.Option(
        False,
        "--raw",
        help="The HTTP response as received (headers and "
        "body with its transfer and content encodings).",
    ),
) -> None:
    """The archived bytes of a record: the payload (decoded, as `warcio extract --payload`),
    or with --raw the exact HTTP block. Exit 3 if the stored bytes fail their digest."""
    result = extract_record(runtime(load=False), target, parse_time(at, name="--at"))
    data = result.content.block if raw else result.content.payload
    if output is not None:
        output.write_bytes(data)
        err.print(
            f"{len(data)} bytes from {result.original.record_id} "
            f"({result.original.target_uri}, {short_time(result.original.date)}) "
            f"-> {output}"
        )
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

"""The archivist's retrieval: ``posts list``, ``history``, ``search``, ``extract``, ``show``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from archiver.cli.common import Col, emit_json, err, out, parse_time, runtime, short_time, table
from archiver.index.api import PostSummary, jsonable
from archiver.output import check_new_file, write_file
from archiver.retrieval import extract as extract_record
from archiver.retrieval import provenance, version_text, word_diff

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
    """Posts as a table, post ids whole; search snippets have their matches (``[word]``)
    highlighted."""
    columns = (
        Col("post_id", ident=True),
        Col("published", optional=True),
        Col("title / text"),
        Col("v", justify="right"),
        Col("flags", optional=True),
    )
    rows = []
    for p in posts:
        flags = " ".join(f for f, on in (("edited", p.edited), ("deleted", p.deleted)) if on)
        body = Text(" ".join((p.snippet or p.title or p.text).split())[:160])
        body.highlight_regex(r"\[[^\]]+\]", "bold yellow")
        rows.append((p.post_id, short_time(p.published_at), body, str(p.versions), flags))
    return table(columns, rows, title=title)


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
    account: str | None = typer.Option(None, "--account", help="Only this account."),
    series: str | None = typer.Option(None, "--series", help="Only this records series."),
    platform: str | None = typer.Option(None, "--platform", help="Only this platform (feed ...)."),
    since: str | None = typer.Option(None, "--since", help="Published at or after (ISO date)."),
    until: str | None = typer.Option(None, "--until", help="Published at or before (ISO date)."),
    edited: bool = typer.Option(False, "--edited", help="Only posts with more than one version."),
    deleted: bool = typer.Option(False, "--deleted", help="Only posts detected as deleted."),
    limit: int = typer.Option(50, help="At most this many results."),
    timezone: str = typer.Option(
        "UTC", "--timezone", help="Time zone of --since/--until days and times (IANA name)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Full-text search over every version of every post (edited and deleted ones too), best
    first, with a snippet around the match."""
    hits = runtime(load=False).index.search(
        query,
        account=account,
        series=series,
        platform=platform,
        since=parse_time(since, name="--since", tz=timezone),
        until=parse_time(until, name="--until", end_of_day=True, tz=timezone),
        edited=edited,
        deleted=deleted,
        limit=limit,
    )
    if json_out:
        emit_json([{"rank": i, **_post_json(p)} for i, p in enumerate(hits, 1)])
    else:
        out.print(posts_table(hits))
        err.print(f"{len(hits)} result(s)")


def _word_diff(old: str, new: str) -> Text:
    """Word diff: deletions red and struck through (``[-...-]``), insertions green
    (``{+...+}``), so it reads without colour too."""
    text = Text()
    for op, words in word_diff(old, new):
        if op == "equal":
            text.append(words + " ")
        elif op == "delete":
            text.append("[-" + words + "-] ", style="red strike")
        else:
            text.append("{+" + words + "+} ", style="green")
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
                "versions": [
                    {
                        **jsonable(v),
                        "changes": (
                            [
                                {"op": op, "words": words}
                                for op, words in word_diff(
                                    version_text(prev.title, prev.text),
                                    version_text(v.title, v.text),
                                )
                                if op != "equal"
                            ]
                            if prev is not None
                            else []
                        ),
                    }
                    for prev, v in zip([None, *versions], versions, strict=False)
                ],
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
        current = version_text(v.title, v.text)
        out.print(_word_diff(previous, current) if previous is not None else current)
        previous = current
    for e in events:
        out.print(f"[dim]{short_time(e.at)} {e.kind} {e.detail}[/]")


def extract(
    target: str = typer.Argument(..., metavar="URL|POST_ID|RECORD_ID"),
    at: str | None = typer.Option(None, "--at", help="The version live at this time (ISO)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write here, not stdout."),
    raw: bool = typer.Option(
        False,
        "--raw",
        help="The HTTP response as received (headers and "
        "body with its transfer and content encodings).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing -o file."),
) -> None:
    """The archived bytes of a record: the payload (decoded, as `warcio extract --payload`),
    or with --raw the exact HTTP block. A post (its URL, post_id or native id) gives its post
    page: the HTML page of the version current at --at, with replies, media, edit history and
    any deletion notice. Exit 3 if the stored bytes fail their digest; exit 2
    when -o names a folder, or a file that exists (without --force)."""
    if output is not None:
        check_new_file(output, force=force)
    result = extract_record(runtime(load=False), target, parse_time(at, name="--at"))
    data = result.content.block if raw else result.content.payload
    if output is not None:
        write_file(output, data)
        err.print(
            f"{len(data)} bytes from {result.original.record_id} "
            f"({result.original.target_uri}, {short_time(result.original.date)}) "
            f"-> {output}"
        )
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def show(
    ident: str = typer.Argument(..., metavar="CAPTURE_ID|POST_ID|RECORD_ID"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Provenance: the policy (hash, file:line) and trigger behind it, its WARC files and
    offsets, digests, retain-until, the holds covering it and the audit events about it."""
    doc = provenance(runtime(load=False), ident)
    if json_out:
        emit_json(doc)
        return
    if doc["kind"] == "post":
        out.print(
            f"[bold]post {doc['post_id']}[/] {doc['url'] or doc['native_id']} ({doc['account']}, "
            f"series {doc['series']})"
        )
        flags = [f for f in ("edited", "deleted") if doc[f]]
        out.print(
            f"published {short_time(doc['published_at'])}, versions {len(doc['versions'])}"
            + (f", {' '.join(flags)}" if flags else "")
        )
        columns = (
            Col("v", justify="right"),
            Col("captured", optional=True),
            Col("capture", ident=True),
            Col("WARC file @ offset+length"),
            Col("block digest", optional=True),
        )
        rows = []
        for v in doc["versions"]:
            r = v["record"] or {}
            where = f"{r.get('warc_file', '-')} @ {r.get('offset', '-')}+{r.get('length', '-')}"
            rows.append(
                (
                    str(v["version"]),
                    short_time(v["captured_at"]),
                    v["capture_id"],
                    where,
                    str(r.get("block_digest", "-")),
                )
            )
        out.print(table(columns, rows, title="versions"))
        for e in doc["events"]:
            ev = e["evidence"] or {}
            out.print(
                f"{short_time(e['at'])} {e['kind']} {e['detail']} "
                f"(evidence {ev.get('warc_file', '-')} @ {ev.get('offset', '-')})"
            )
        for c in doc["captures"]:
            _print_capture(c)
    elif doc["kind"] == "record":
        r = doc["record"]
        out.print(
            f"[bold]record {r['record_id']}[/] {r['rec_type']} {r['target_uri']}\n"
            f"{r['warc_file']} @ {r['offset']}+{r['length']}  block {r['block_digest']}"
        )
        _print_capture(doc["capture"])
    else:
        _print_capture(doc)
    _print_holds_and_audit(doc)


def _print_capture(c: dict[str, Any]) -> None:
    policy = c["policy"]
    schedule = c["schedule"]
    out.print(
        f"\n[bold]capture {c['capture_id']}[/] {c['account']} ({c['series']}) {c['status']}, "
        f"{short_time(c['started_at'])} by {c['operator']}, trigger {c['trigger']}"
        + (f", schedule {schedule['text']} {schedule['timezone']}" if schedule else "")
    )
    out.print(f"policy {policy['hash'][:16]}… from {policy['source'] or '-'}")
    out.print(f"retain until {short_time(c['retain_until']) if c['retain_until'] else 'forever'}")
    for w in c["warc_files"]:
        out.print(f"  {w['key']} ({w['size']} bytes, {w['status']}) sha256 {w['sha256']}")


def _print_holds_and_audit(doc: dict[str, Any]) -> None:
    holds = doc.get("holds") or (doc.get("capture") or {}).get("holds") or []
    out.print("\n[bold]holds[/]: " + (", ".join(h["hold_id"] for h in holds) or "none"))
    for e in doc.get("audit_events", []):
        out.print(
            f"[dim]audit #{e['seq']} {short_time(e['at'])} {e['action']} {e['subject']} "
            f"by {e['actor']}[/]"
        )

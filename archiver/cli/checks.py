"""``archiver verify`` (fixity), ``archiver audit verify`` (the chain; exit 3 on failure) and
``archiver audit list|export`` (the trail, readable)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import typer
from rich.progress import Progress

from archiver.cli.common import Col, emit_json, err, out, parse_time, runtime, short_time, table
from archiver.errors import EXIT_INTEGRITY
from archiver.governance.audit import record_event
from archiver.governance.audit_log import (
    EXPORT_FORMATS,
    AuditFilter,
    event_json,
    export_events,
    list_events,
)
from archiver.governance.verify import verify_chain, verify_store

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def verify(
    all_: bool = typer.Option(False, "--all", help="Every stored object, re-read in full."),
    sample: int | None = typer.Option(None, "--sample", help="N random objects, re-read."),
    quick: bool = typer.Option(False, "--quick", help="Sizes only, no re-read."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Fixity of stored objects against the index (default: all, full SHA-256 and record
    digests), the index against what the audit chain and the WARCs anchored, and (full runs)
    the audit chain itself. Exit 3 when an object is missing, changed, or unknown to the index,
    or the index or the chain was altered."""
    if sample is not None and (all_ or sample < 1):
        raise typer.BadParameter(
            "--sample takes a positive number of objects and cannot be combined with --all"
        )
    rt = runtime(load=False)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("verifying stored objects", total=None)
        report = verify_store(
            rt,
            full=not quick,
            sample=None if all_ else sample,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    chain = verify_chain(rt) if report.full and sample is None else None
    if json_out:
        emit_json(
            {
                "ok": report.ok and (chain is None or chain.ok),
                "checked": report.checked,
                "passed": report.passed,
                "full": report.full,
                "sample": sample,
                "problems": report.problems,
                "chain": chain,
            }
        )
    else:
        out.print(
            f"{report.passed}/{report.checked} objects verified"
            + ("" if report.full else " (sizes only)")
        )
        for p in report.problems:
            out.print(f"[red]{p.kind}[/]: {p.key} — {p.detail}")
        if chain is not None and not chain.ok:
            out.print(f"[red]audit chain broken[/]: {chain.problem}")
    if not report.ok or (chain is not None and not chain.ok):
        raise typer.Exit(EXIT_INTEGRITY)


@audit_app.command("verify")
def audit_verify(json_out: bool = typer.Option(False, "--json")) -> None:
    """Recompute the audit chain; exit 3 naming the first broken event."""
    rt = runtime(load=False)
    report = verify_chain(rt)
    record_event(
        rt,
        "audit.verified",
        "audit_events",
        {
            "ok": report.ok,
            "events": report.events,
            "first_broken_seq": report.first_broken_seq,
        },
    )
    if json_out:
        emit_json(report)
    elif report.ok:
        out.print(
            f"audit chain intact: {report.events} events, head {report.head_seq} {report.head_hash}"
        )
    else:
        out.print(f"[red]audit chain broken[/]: {report.problem}")
    if not report.ok:
        raise typer.Exit(EXIT_INTEGRITY)


def _filter(
    since: str | None, until: str | None, actor: str | None, action: str | None, capture: str | None
) -> AuditFilter:
    return AuditFilter(
        since=parse_time(since, name="--since"),
        until=parse_time(until, name="--until", end_of_day=True),
        actor=actor,
        action=action,
        capture=capture,
    )


SINCE = typer.Option(None, "--since", help="Events at or after this date/time (UTC).")
UNTIL = typer.Option(None, "--until", help="Events up to this date/time (a day: all of it).")
ACTOR = typer.Option(None, "--actor", help="Events by this actor.")
ACTION = typer.Option(None, "--action", help="An action, or a prefix: 'retention.*'.")
CAPTURE = typer.Option(None, "--capture", help="Events about this capture id.")


@audit_app.command("list")
def audit_list(
    since: str | None = SINCE,
    until: str | None = UNTIL,
    actor: str | None = ACTOR,
    action: str | None = ACTION,
    capture: str | None = CAPTURE,
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the last N events."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """The audit events that match, in chain order (filters are combined with AND)."""
    events = list_events(
        runtime(load=False), _filter(since, until, actor, action, capture), limit=limit
    )
    if json_out:
        emit_json([event_json(e) for e in events])
        return
    columns = (
        Col("seq", justify="right"),
        Col("at", optional=True),
        Col("actor"),
        Col("action"),
        Col("subject"),  # folded, never cut: a subject may be a long WARC file name
    )
    rows = [(str(e.seq), short_time(e.at), e.actor, e.action, e.subject) for e in events]
    out.print(table(columns, rows))


@audit_app.command("export")
def audit_export(
    fmt: str = typer.Option(..., "--format", help=" | ".join(EXPORT_FORMATS)),
    output: Path = typer.Option(..., "-o", "--output", help="File to write."),
    since: str | None = SINCE,
    until: str | None = UNTIL,
    actor: str | None = ACTOR,
    action: str | None = ACTION,
    capture: str | None = CAPTURE,
) -> None:
    """Write the matching events with the chain's verification result (CSV: a trailing
    comment line; JSON: a top-level object). Exit 3 when the chain is broken (the file is
    written all the same, as evidence)."""
    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(
            f"choose one of {', '.join(EXPORT_FORMATS)}", param_hint="--format"
        )
    rt = runtime(load=False)
    where = _filter(since, until, actor, action, capture)
    report = verify_chain(rt)
    events = list_events(rt, where)
    body = export_events(
        events, report, fmt, where=where, exported_at=rt.clock.now(), exported_by=rt.settings.actor
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(body)
    record_event(
        rt,
        "audit.exported",
        "audit_events",
        {
            "format": fmt,
            "filters": where,
            "events": len(events),
            "sha256": hashlib.sha256(body).hexdigest(),
            "chain_ok": report.ok,
            "head_seq": report.head_seq,
        },
    )
    err.print(
        f"{len(events)} audit event(s) -> {output}; chain "
        + ("intact" if report.ok else f"BROKEN: {report.problem}"),
        markup=False,
    )
    if not report.ok:
        raise typer.Exit(EXIT_INTEGRITY)

"""``archiver verify`` (fixity) and ``archiver audit verify`` (the chain); exit 3 on failure."""

from __future__ import annotations

import typer
from rich.progress import Progress

from archiver.cli.common import emit_json, err, out, runtime
from archiver.errors import EXIT_INTEGRITY
from archiver.governance.audit import record_event
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

"""``archiver capture`` and ``archiver captures list|show``."""

from __future__ import annotations

import typer

from archiver.capture.job import capture_account
from archiver.capture.recovery import recover_spool
from archiver.cli.common import Col, emit_json, err, out, runtime, short_time, table
from archiver.errors import EXIT_FAILED

captures_app = typer.Typer(help="The capture ledger.", no_args_is_help=True)


def capture(
    account_id: str = typer.Argument(..., metavar="ACCOUNT_ID", help="Account id from a policy."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Capture one account now (the same code path as the daemon). Exit 1 when it failed."""
    rt = runtime()
    recover_spool(rt)
    with err.status(f"capturing {account_id} ...", spinner="dots"):
        result = capture_account(rt, account_id, trigger="cli")
    if json_out:
        emit_json(result)
    else:
        colour = {"ok": "green", "partial": "yellow"}.get(result.status, "red")
        err.print(
            f"[{colour}]{result.status}[/] {result.capture_id}: {result.records} records, "
            f"{result.bytes} bytes in {len(result.warc_files)} WARC file(s), "
            f"{result.revisits} revisits; posts new {result.posts['new']}, "
            f"edited {result.posts['edited']}"
        )
        for problem in result.problems:
            err.print(f"  [yellow]problem:[/] {problem}")
        if result.error:
            err.print(f"  [red]error:[/] {result.error}")
    if result.status == "failed":
        raise typer.Exit(EXIT_FAILED)


@captures_app.command("list")
def list_captures(
    account: str | None = typer.Option(None, "--account", help="Only this account."),
    limit: int = typer.Option(100, help="At most this many, newest first."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List captures, newest first."""
    rows = runtime(load=False).index.list_captures(account, limit=limit)
    if json_out:
        emit_json([{k: v for k, v in r.__dict__.items() if k != "ledger"} for r in rows])
        return
    columns = (
        Col("capture_id", ident=True),
        Col("account", ident=True),
        Col("status"),
        Col("started"),
        Col("records", optional=True, justify="right"),
        Col("bytes", optional=True, justify="right"),
        Col("posts", optional=True),
    )
    out.print(
        table(
            columns,
            [
                (
                    r.capture_id,
                    r.account,
                    r.status,
                    short_time(r.started_at),
                    str(r.records),
                    str(r.bytes),
                    f"+{r.posts['new']} ~{r.posts['edited']}",
                )
                for r in rows
            ],
        )
    )


@captures_app.command("show")
def show_capture(
    capture_id: str = typer.Argument(..., metavar="CAPTURE_ID"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One capture: its ledger, WARC files and records."""
    index = runtime(load=False).index
    summary = index.get_capture(capture_id)
    warcs = index.list_warcs(capture_id=capture_id)
    records = index.records_of_capture(capture_id)
    if json_out:
        emit_json({**summary.__dict__, "warcs": warcs, "records_detail": records})
        return
    out.print(
        f"[bold]{summary.capture_id}[/] {summary.account} ({summary.series}) "
        f"{summary.status}, started {short_time(summary.started_at)}"
    )
    if summary.error:
        out.print(f"error: {summary.error}")
    for problem in summary.ledger.get("problems", []):
        out.print(f"problem: {problem}")
    for w in warcs:
        out.print(f"WARC {w.name} {w.size} bytes sha256:{w.sha256} {w.status} key={w.key}")
    columns = (
        Col("type"),
        Col("uri"),
        Col("status"),
        Col("offset", justify="right"),
        Col("length", justify="right"),
    )
    rows = [
        (r.rec_type, r.target_uri or "", str(r.status_code or ""), str(r.offset), str(r.length))
        for r in records
    ]
    out.print(table(columns, rows))

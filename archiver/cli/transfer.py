"""``archiver transfer confirm|list|show``: the receiving archives' receipt, then deletion."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from archiver.cli.common import Col, emit_json, err, out, runtime, short_time, table
from archiver.governance.transfer import SentBag, confirm_transfer, list_transfers, transfer_of

transfer_app = typer.Typer(
    help="Transfers to a receiving archives: record the receipt, then the originals go.",
    no_args_is_help=True,
)


def _table(bags: list[SentBag]) -> None:
    columns = (
        Col("bag", ident=True),
        Col("plan", ident=True),
        Col("series", optional=True),
        Col("status"),
        Col("location", optional=True),
        Col("sent", optional=True),
        Col("receipt", optional=True),
    )
    rows = [
        (
            b.bag_id,
            b.plan_id,
            b.series,
            b.status,
            b.location,
            short_time(b.sent_at),
            f"{b.receipt_name} ({(b.receipt_sha256 or '')[:12]})" if b.receipt_name else "-",
        )
        for b in bags
    ]
    out.print(table(columns, rows))


@transfer_app.command("confirm")
def confirm_cmd(
    plan_id: str = typer.Argument(..., help="The plan whose bags the archives accepted."),
    receipt: Path = typer.Option(..., "--receipt", help="The receiving archives' receipt."),
    series: str | None = typer.Option(None, "--series", help="Only this series' bag."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Record the receipt (sha256 and content, audited), then delete the transferred originals
    through the disposition path (holds and Object Lock respected, tombstones, certificate)."""
    result = confirm_transfer(runtime(), plan_id, receipt, series=series)
    done = result.disposition
    if json_out:
        emit_json(
            {
                "plan_id": result.plan_id,
                "status": result.status,
                "receipt_name": result.receipt_name,
                "receipt_sha256": result.receipt_sha256,
                "receipt_key": result.receipt_key,
                "bags": result.bags,
                **asdict(done),
                "complete": done.complete,
            }
        )
    else:
        err.print(
            f"receipt {result.receipt_name} (sha256 {result.receipt_sha256}) recorded; "
            f"transferred {len(done.transferred)}, skipped {len(done.skipped)}, remaining "
            f"{len(done.refused)}; plan {plan_id} is {result.status}; certificate "
            f"{done.certificate_key or '-'}",
            markup=False,
        )
        for capture_id, why in {**done.skipped, **done.refused}.items():
            err.print(f"  {capture_id}: {why}", markup=False)
    if not done.complete:
        err.print(
            f"{len(done.refused)} transferred capture(s) of plan {plan_id} remain here (see "
            "above); fix the cause (an Object Lock still in force, the store) and run "
            f"`archiver transfer confirm {plan_id} --receipt {receipt}` again",
            markup=False,
        )
        raise typer.Exit(1)


@transfer_app.command("list")
def list_cmd(json_out: bool = typer.Option(False, "--json")) -> None:
    """Every bag sent, with its status (sent | confirmed) and receipt."""
    bags = list_transfers(runtime(load=False))
    if json_out:
        emit_json(bags)
    else:
        _table(bags)


@transfer_app.command("show")
def show_cmd(
    plan_id: str = typer.Argument(...), json_out: bool = typer.Option(False, "--json")
) -> None:
    """The bags of one plan: where they went, their manifest digest, the receipt."""
    bags = transfer_of(runtime(load=False), plan_id)
    if json_out:
        emit_json(bags)
    else:
        _table(bags)

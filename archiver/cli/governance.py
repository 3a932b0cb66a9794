"""``archiver hold ...`` and ``archiver retention plan|approve|dispose|list|show|cancel``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from archiver.cli.common import Col, emit_json, err, out, parse_time, runtime, short_time, table
from archiver.governance.disposition import (
    Plan,
    PlanItem,
    approve_plan,
    execute_plan,
    make_plan,
)
from archiver.governance.holds import HoldCriteria, add_hold, list_holds, release_hold
from archiver.governance.plans import STATUSES, PlanRecord, cancel_plan, list_plans, plan_record
from archiver.index.governance import Hold

hold_app = typer.Typer(
    help="Legal holds: freeze records against disposition.", no_args_is_help=True
)
retention_app = typer.Typer(
    help="Disposition: plan, approve (another person), dispose.", no_args_is_help=True
)


def _hold_json(h: Hold) -> dict[str, object]:
    return {
        "hold_id": h.hold_id,
        "name": h.name,
        "reason": h.reason,
        "account": h.account,
        "series": h.series,
        "from": h.date_from,
        "to": h.date_to,
        "query": h.query,
        "created_by": h.created_by,
        "created_at": h.created_at,
        "active": h.released_at is None,
        "released_by": h.released_by,
        "released_at": h.released_at,
        "release_reason": h.release_reason,
    }


@hold_app.command("add")
def hold_add(
    name: str = typer.Argument(..., help="A short name (case, request number)."),
    reason: str = typer.Option(..., "--reason", help="Why the records must be kept."),
    account: str | None = typer.Option(None, "--account"),
    series: str | None = typer.Option(None, "--series"),
    date_from: str | None = typer.Option(None, "--from", help="Captures from this date."),
    date_to: str | None = typer.Option(None, "--to", help="Captures up to this date."),
    query: str | None = typer.Option(None, "--query", help="Captures with posts matching."),
    timezone: str = typer.Option(
        "UTC", "--timezone", help="Time zone of --from/--to days and times (IANA name)."
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Place a legal hold (criteria are combined with AND). A day given to ``--to`` ends at
    the end of that day in ``--timezone``."""
    criteria = HoldCriteria(
        account=account,
        series=series,
        date_from=parse_time(date_from, name="--from", tz=timezone),
        date_to=parse_time(date_to, name="--to", end_of_day=True, tz=timezone),
        query=query,
    )
    hold, covered = add_hold(runtime(), name, reason, criteria)
    if json_out:
        emit_json({**_hold_json(hold), "captures_covered": covered})
    else:
        err.print(f"hold {hold.hold_id} placed; covers {covered} capture(s) now")


@hold_app.command("list")
def hold_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """Every hold, active and released."""
    holds = list_holds(runtime(load=False))
    if json_out:
        emit_json([_hold_json(h) for h in holds])
        return
    columns = (
        Col("hold_id", ident=True),
        Col("name"),
        Col("active"),
        Col("criteria"),
        Col("by", optional=True),
        Col("since", optional=True),
    )
    rows = []
    for h in holds:
        crit = " ".join(
            f"{k}={v}"
            for k, v in (
                ("account", h.account),
                ("series", h.series),
                ("from", h.date_from),
                ("to", h.date_to),
                ("query", h.query),
            )
            if v
        )
        rows.append(
            (
                h.hold_id,
                h.name,
                "yes" if h.released_at is None else "released",
                crit,
                h.created_by,
                short_time(h.created_at),
            )
        )
    out.print(table(columns, rows))


@hold_app.command("release")
def hold_release(
    hold_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Release a hold; objects stay held while another hold covers them."""
    hold, freed = release_hold(runtime(), hold_id, reason)
    if json_out:
        emit_json({**_hold_json(hold), "captures_freed": freed})
    else:
        err.print(f"hold {hold_id} released; {freed} capture(s) no longer held")


def _plan_json(plan: Plan) -> dict[str, object]:
    return {
        "plan_id": plan.plan_id,
        "as_of": plan.as_of,
        "status": plan.status,
        "planned_by": plan.planned_by,
        "approved_by": plan.approved_by,
        "forecast": plan.forecast,
        "eligible": plan.eligible,
        "blocked": plan.blocked,
    }


def _items_table(eligible: list[PlanItem], blocked: list[PlanItem]) -> Table:
    """A plan's captures: what the schedule says, when the store's lock ends, the decision
    (capture and account ids whole at any width)."""
    columns = (
        Col("capture", ident=True),
        Col("account", ident=True),
        Col("series", optional=True),
        Col("retain until", optional=True),
        Col("lock until"),  # when the store lets go: a forecast's first question
        Col("decision"),
    )
    rows: list[tuple[str | Text, ...]] = [
        (
            i.capture_id,
            i.account,
            i.series,
            short_time(i.retain_until),
            short_time(i.lock_until),
            Text(str(i.action), style="green"),
        )
        for i in eligible
    ]
    rows += [
        (
            i.capture_id,
            i.account,
            i.series,
            short_time(i.retain_until),
            short_time(i.lock_until),
            Text.assemble(("blocked", "yellow"), f": {i.reason}"),
        )
        for i in blocked
    ]
    return table(columns, rows)


@retention_app.command("plan")
def plan_cmd(
    as_of: str | None = typer.Option(None, "--as-of", help="Evaluate at this date (ISO)."),
    series: str | None = typer.Option(None, "--series"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """What is eligible for disposition, and why the rest is not. Deletes nothing."""
    plan = make_plan(runtime(), as_of=parse_time(as_of, name="--as-of"), series=series)
    if json_out:
        emit_json(_plan_json(plan))
        return
    forecast = " (a forecast: it cannot be approved before then)" if plan.forecast else ""
    out.print(f"[bold]{plan.plan_id}[/] as of {short_time(plan.as_of)}{forecast}")
    out.print(_items_table(plan.eligible, plan.blocked))
    err.print(
        f"{len(plan.eligible)} eligible, {len(plan.blocked)} blocked; another person "
        f"approves with `archiver retention approve {plan.plan_id}`"
    )


@retention_app.command("approve")
def approve_cmd(
    plan_id: str = typer.Argument(...), json_out: bool = typer.Option(False, "--json")
) -> None:
    """Approve a plan (not by its planner)."""
    plan = approve_plan(runtime(), plan_id)
    if json_out:
        emit_json(_plan_json(plan))
    else:
        err.print(
            f"{plan_id} approved by {plan.approved_by}; execute with "
            f"`archiver retention dispose {plan_id}`"
        )


@retention_app.command("dispose")
def dispose_cmd(
    plan_id: str = typer.Argument(...),
    output: Path | None = typer.Option(
        None, "--output", help="Folder for transfer bags of series that name no destination."
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Execute an approved plan and store its disposition certificate."""
    result = execute_plan(runtime(), plan_id, transfer_dir=output)
    if json_out:
        emit_json({**asdict(result), "complete": result.complete})
    else:
        certified = (
            f"certificate {result.certificate_key} (sha256 {result.certificate_sha256})"
            if result.certificate_key
            else "no certificate: nothing was disposed"
        )
        err.print(
            f"destroyed {len(result.destroyed)}, transferred {len(result.transferred)}, "
            f"skipped {len(result.skipped)}, remaining {len(result.refused)}; {certified}",
            markup=False,
        )
        if result.pending_receipt:
            err.print(
                f"sent {len(result.pending_receipt)} capture(s) for transfer to "
                f"{', '.join(result.bags)}; the originals stay until the receipt is recorded: "
                f"`archiver transfer confirm {plan_id} --receipt FILE`",
                markup=False,
            )
        for capture_id, why in result.skipped.items():
            err.print(f"  skipped {capture_id}: {why}", markup=False)
        for capture_id, why in result.refused.items():
            err.print(f"  remains {capture_id}: {why}", markup=False)
    if not result.complete:
        err.print(
            f"disposition of plan {plan_id} is incomplete: {len(result.refused)} capture(s) "
            "remain (see above); the plan stays approved; fix the cause (an Object Lock still "
            f"in force, the store) and run `archiver retention dispose {plan_id}` again",
            markup=False,
        )
        raise typer.Exit(1)


def _record_json(p: PlanRecord, *, items: bool) -> dict[str, object]:
    doc = asdict(p)
    if not items:
        doc.pop("eligible")
        doc.pop("blocked")
        doc["eligible_count"], doc["blocked_count"] = len(p.eligible), len(p.blocked)
    return doc


@retention_app.command("list")
def list_cmd(
    status: str | None = typer.Option(None, "--status", help=" | ".join(STATUSES)),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Every disposition plan, oldest first, with who planned, approved and executed it."""
    plans = list_plans(runtime(load=False), status=status)
    if json_out:
        emit_json([_record_json(p, items=False) for p in plans])
        return
    columns = (
        Col("plan", ident=True),
        Col("status"),
        Col("as of", optional=True),
        Col("planned by"),
        Col("approved by"),
        Col("executed", optional=True),
        Col("by", optional=True),
    )
    rows = [
        (
            p.plan_id,
            p.status + (" (forecast)" if p.forecast else ""),
            short_time(p.as_of),
            p.planned_by,
            p.approved_by or "-",
            short_time(p.executed_at or p.cancelled_at),
            p.executed_by or p.cancelled_by or "-",
        )
        for p in plans
    ]
    out.print(table(columns, rows))


@retention_app.command("show")
def show_cmd(
    plan_id: str = typer.Argument(...), json_out: bool = typer.Option(False, "--json")
) -> None:
    """One plan in full: its captures, status, planner, approver, execution, certificates."""
    p = plan_record(runtime(load=False), plan_id)
    if json_out:
        emit_json(_record_json(p, items=True))
        return
    forecast = " (a forecast)" if p.forecast else ""
    out.print(f"[bold]{p.plan_id}[/] {p.status}{forecast}, as of {short_time(p.as_of)}")
    out.print(f"planned by {p.planned_by} at {short_time(p.planned_at)}", markup=False)
    if p.approved_by:
        out.print(f"approved by {p.approved_by} at {short_time(p.approved_at)}", markup=False)
    if p.executed_by:
        out.print(f"executed by {p.executed_by} at {short_time(p.executed_at)}", markup=False)
    if p.cancelled_by:
        out.print(
            f"cancelled by {p.cancelled_by} at {short_time(p.cancelled_at)}: {p.cancel_reason}",
            markup=False,
        )
    for key in p.certificate_keys:
        out.print(f"certificate {key}", markup=False)
    out.print(_items_table(p.eligible, p.blocked))


@retention_app.command("cancel")
def cancel_cmd(
    plan_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason", help="Why the plan must not go on."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Cancel a planned or approved plan (audited); its captures may be planned again."""
    p = cancel_plan(runtime(), plan_id, reason)
    if json_out:
        emit_json(_record_json(p, items=False))
    else:
        err.print(f"{plan_id} cancelled by {p.cancelled_by}; its captures may be planned again")

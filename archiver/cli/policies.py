"""``archiver policies check|show``."""

from __future__ import annotations

import typer

from archiver.cli.common import Col, emit_json, err, out, settings, table
from archiver.policy.loader import load_policies
from archiver.policy.model import PolicySet

app = typer.Typer(help="Check and show retention series and accounts.", no_args_is_help=True)


def _load() -> PolicySet:
    import os

    return load_policies(settings().policies, os.environ)


def _describe(policies: PolicySet) -> dict[str, object]:
    return {
        "policy_hash": policies.policy_hash,
        "files": list(policies.files),
        "series": [
            {
                "id": s.id,
                "title": s.title,
                "authority": s.authority,
                "retention": s.retention.text,
                "cutoff": s.cutoff,
                "disposition": s.disposition,
                "transfer": s.transfer,
                "unscheduled": s.unscheduled,
                "source": s.source,
            }
            for s in policies.series.values()
        ],
        "accounts": [
            {
                "id": a.id,
                "agency": a.agency,
                "responsible": a.responsible,
                "platform": a.platform,
                "url": a.url,
                "handle": a.handle,
                "series": a.series,
                "schedule": a.schedule.text,
                "timezone": a.schedule.timezone,
                "capture": list(a.capture),
                "credentials": a.credentials,
                "source": a.source,
            }
            for a in policies.accounts.values()
        ],
    }


@app.command()
def check(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Validate every policy file; exit 2 naming file:line and a remedy on the first error."""
    policies = _load()
    unscheduled = [a.id for a in policies.accounts.values() if a.series == "unscheduled"]
    if json_out:
        emit_json(
            {
                "ok": True,
                "policy_hash": policies.policy_hash,
                "files": len(policies.files),
                "series": len(policies.series) - 1,
                "accounts": len(policies.accounts),
                "unscheduled_accounts": unscheduled,
            }
        )
        return
    err.print(
        f"ok: {len(policies.files)} files, {len(policies.series) - 1} series, "
        f"{len(policies.accounts)} accounts (policy hash {policies.policy_hash[:12]})"
    )
    for account_id in unscheduled:
        err.print(
            f"[yellow]warning:[/] account {account_id} has no series: kept as "
            "'unscheduled' until a schedule is assigned"
        )


@app.command()
def show(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show series and accounts as loaded."""
    policies = _load()
    if json_out:
        emit_json(_describe(policies))
        return
    series = (
        Col("id", ident=True),
        Col("retention"),
        Col("cutoff"),
        Col("disposition"),
        Col("authority", optional=True),
    )
    rows = [
        (s.id, s.retention.text, s.cutoff, s.disposition, s.authority or "-")
        for s in policies.series.values()
    ]
    out.print(table(series, rows, title="Series"))
    accounts = (
        Col("id", ident=True),
        Col("platform"),
        Col("series", ident=True),
        Col("schedule"),
        Col("agency", optional=True),
    )
    account_rows = [
        (a.id, a.platform, a.series, a.schedule.text, a.agency) for a in policies.accounts.values()
    ]
    out.print(table(accounts, account_rows, title="Accounts"))

"""``archiver report KIND --format html|pdf|csv|json -o PATH [--as-of DATE]``."""

from __future__ import annotations

from pathlib import Path

import typer

from archiver.cli.common import err, parse_time, runtime
from archiver.errors import UsageError
from archiver.governance.audit import record_event
from archiver.output import make_folders, remove_folders, write_file
from archiver.reports import FORMATS, KINDS, build_report, render


def report(
    kind: str = typer.Argument(..., help=f"{' | '.join(KINDS)}"),
    fmt: str = typer.Option("html", "--format", help=f"{' | '.join(FORMATS)}"),
    output: Path = typer.Option(..., "-o", "--output", help="File to write."),
    as_of: str | None = typer.Option(None, "--as-of", help="Report as of this date (UTC)."),
) -> None:
    """A compliance report an auditor can read; it states its as-of time, the policy hash and
    the audit chain head so it can be re-produced and checked. Recorded in the audit chain."""
    if kind not in KINDS:
        raise typer.BadParameter(f"choose one of {', '.join(KINDS)}", param_hint="KIND")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    rt = runtime()
    built = build_report(rt, kind, as_of=parse_time(as_of, name="--as-of"))
    body = render(built, fmt)
    made = make_folders(output.parent, output)
    try:
        write_file(output, body)
    except UsageError:
        remove_folders(made)
        raise
    record_event(
        rt,
        "report.generated",
        kind,
        {"format": fmt, "as_of": built.as_of, "chain_head": built.chain_head, "bytes": len(body)},
    )
    err.print(f"{kind} report ({fmt}, as of {built.as_of:%Y-%m-%d %H:%M}Z) -> {output}")

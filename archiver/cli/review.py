"""``archiver retention review``: an appraisal decision (keep, destroy, reschedule)."""

from __future__ import annotations

import typer

from archiver.cli.common import Col, emit_json, err, out, short_time, table
from archiver.cli.common import runtime as build_runtime
from archiver.governance.review import review_captures


def review(
    capture_id: str | None = typer.Argument(None, help="The capture to review (or --series)."),
    series: str | None = typer.Option(None, "--series", help="Every kept capture of a series."),
    decision: str = typer.Option(..., "--decision", help="keep | destroy | reschedule"),
    to_series: str | None = typer.Option(None, "--to", help="reschedule: the new series."),
    reason: str = typer.Option(..., "--reason", help="Why (part of the record)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Record an appraisal (audited): keep for one more period, destroy when due, or move the
    captures to another series (new retain-until; Object Lock extended, never shortened)."""
    result = review_captures(
        build_runtime(),
        decision=decision,
        reason=reason,
        capture_id=capture_id,
        series=series,
        to_series=to_series,
    )
    if json_out:
        emit_json(result)
        return
    columns = (
        Col("capture", ident=True),
        Col("from", optional=True),
        Col("series"),
        Col("retain until"),
        Col("locked until", optional=True),
    )
    rows = [
        (
            c.capture_id,
            c.from_series,
            c.series,
            short_time(c.retain_until),
            short_time(c.locked_until) + (" (lock kept: later)" if c.lock_kept else ""),
        )
        for c in result.captures
    ]
    out.print(f"{result.review_id}: {result.decision} by {result.reviewed_by}", markup=False)
    out.print(table(columns, rows))
    err.print(f"{len(result.captures)} capture(s) reviewed: {result.decision}", markup=False)

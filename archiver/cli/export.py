"""``archiver export``: a public-records package (subset WARCs or WACZ, listings, custody)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from archiver.cli.common import emit_json, err, runtime
from archiver.export.package import FORMATS, Selection, export_package
from archiver.index.api import jsonable


class _Bar:
    """Rich progress on stderr, one task per export phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)


def export(
    output: Path = typer.Option(
        ..., "-o", "--output", help="A new folder, FILE.zip, or FILE.wacz (--format wacz)."
    ),
    fmt: str = typer.Option(
        "package", "--format", help=f"{' | '.join(FORMATS)}: loose subset WARCs or one WACZ."
    ),
    account: str | None = typer.Option(None, "--account", help="Every capture of an account."),
    series: str | None = typer.Option(None, "--series", help="Every capture in a series."),
    hold: str | None = typer.Option(None, "--hold", help="Every capture a legal hold covers."),
    query: str | None = typer.Option(
        None, "--query", help="Posts matching a search, with the records they were read from."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Export a public-records package: the selected WARC records (exact bytes) as subset WARC
    files or a WACZ, posts.csv and posts.pdf, a chain-of-custody statement and SHA-256
    manifests (a BagIt bag). Recorded in the audit chain as ``export.created``."""
    selection = Selection(account=account, series=series, hold=hold, query=query)
    rt = runtime(load=False)
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=json_out,
    ) as progress:
        result = export_package(rt, selection, output, fmt=fmt, progress=_Bar(progress))
    if json_out:
        emit_json({**jsonable(result), "output": str(result.output)})
        return
    err.print(
        f"{result.export_id}: {result.records} records in {len(result.warc_files)} WARC "
        f"file(s), {result.posts} posts, {result.files} files -> {result.output}\n"
        f"manifest sha256 {result.manifest_sha256}; audit event {result.audit_event_hash[:16]}…"
    )

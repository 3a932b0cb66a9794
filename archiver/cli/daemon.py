"""``archiver run [--once]``: the daemon."""

from __future__ import annotations

import typer

from archiver.cli.common import runtime, settings


def run(
    once: bool = typer.Option(False, "--once", help="Capture every account once, then exit."),
    workers: int = typer.Option(4, "--workers", help="Captures running at the same time."),
) -> None:
    """Capture every account on its schedule until SIGTERM (exit 0). With --once: every account
    once; exit 1 if any capture failed."""
    from archiver.service.runner import Daemon, run_once

    rt = runtime()
    code = (
        run_once(rt)
        if once
        else Daemon(rt, workers=workers, ship_every=rt.settings.spool_ship_interval).run()
    )
    raise typer.Exit(code)


def worker(
    concurrency: int = typer.Option(1, "--concurrency", help="Captures this worker runs at once."),
    name: str = typer.Option("archiver", "--name", help="Worker name (shown in broker tools)."),
) -> None:
    """Run capture tasks from the broker (ARCHIVER_BROKER_URL) until stopped: distributed mode."""
    from archiver.service.distributed import run_worker

    raise typer.Exit(run_worker(settings(), concurrency=concurrency, name=name))

"""``archiver simulator`` and ``archiver demo``: the whole story offline, on loopback."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from types import FrameType

import typer
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from archiver.capture.job import CaptureResult, capture_account
from archiver.cli.common import Col, err, out, settings, short_time, table
from archiver.cli.retrieval import posts_table
from archiver.config import load_settings
from archiver.logging import configure_logging
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from archiver.simulator.platforms.wechat import DEMO_CREDENTIALS

DEFAULT_CORPUS = Path("../shared/corpus")


def simulator(
    port: int = typer.Option(8765, "--port", help="Port on 127.0.0.1."),
    corpus: Path | None = typer.Option(None, "--corpus", help="Serve recordings from here."),
) -> None:
    """Serve the local platform simulator until Ctrl-C or SIGTERM (exit 0)."""
    settings()  # validates the environment like every command
    sim = Simulator(port=port, corpus_dir=corpus)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    err.print(f"simulator on http://127.0.0.1:{port}  (POST /_sim/advance for the next round)")
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        sim.stop()


def _capture_all(rt: Runtime, label: str) -> list[CaptureResult]:
    assert rt.policies is not None
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=len(rt.policies.accounts))
        for account_id in rt.policies.accounts:
            progress.update(task, description=f"{label}: {account_id}")
            results.append(capture_account(rt, account_id, trigger="demo"))
            progress.advance(task)
    return results


def _results_table(title: str, results: list[CaptureResult]) -> Table:
    columns = (
        Col("account", ident=True),
        Col("status"),
        Col("records", justify="right", optional=True),
        Col("revisits", justify="right"),
        Col("bytes", justify="right", optional=True),
        Col("new", justify="right"),
        Col("edited", justify="right"),
        Col("deleted", justify="right"),
        Col("stored", optional=True),
    )
    rows = [
        (
            r.account,
            r.status,
            str(r.records),
            str(r.revisits),
            str(r.bytes),
            str(r.posts["new"]),
            str(r.posts["edited"]),
            str(r.posts["deleted"]),
            f"{r.stored}/{len(r.warc_files)}",
        )
        for r in results
    ]
    return table(columns, rows, title=title)


def demo(
    data_dir: Path = typer.Option(
        Path("demo-data"), "--data-dir", help="Fresh folder for this run (emptied first)."
    ),
    policies: Path = typer.Option(Path("policies/demo"), "--policies"),
) -> None:
    """Start the simulator, capture every demo account twice (the world changes in between),
    then show what was stored, a search and an edited post's history."""
    base = settings()
    # the simulator's own demo credentials, unless the operator set others
    for name, value in DEMO_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    with Simulator() as sim:
        url = sim.start()
        demo_settings = load_settings(
            {},
            data_dir=data_dir,
            policies=policies,
            allow_private_networks=True,
            actor=base.actor,
            actor_override=base.actor_override,
            log_format=base.log_format,
            log_level="warning",
        )
        configure_logging(base.log_format, "warning")  # the tables tell the story
        rt = Runtime.build(demo_settings, create=True, variables={"SIMULATOR_URL": url})
        err.print(
            f"simulator at {url}; index {demo_settings.effective_database_url}; "
            f"store {rt.store.url}"
        )
        first = _capture_all(rt, "first capture")
        out.print(_results_table("First capture", first))
        sim.advance()
        second = _capture_all(rt, "second capture (after edits)")
        out.print(_results_table("Second capture: unchanged payloads become revisits", second))
        sim.advance()
        third = _capture_all(rt, "third capture (after deletions)")
        out.print(_results_table("Third capture: deleted posts detected", third))
    warcs = rt.index.list_warcs()
    files = [
        (
            w.name,
            str(w.size),
            short_time(w.retain_until) if w.retain_until else "never (permanent)",
        )
        for w in warcs
    ]
    columns = (
        Col("file", ident=True),
        Col("bytes", justify="right", optional=True),
        Col("retain until"),
    )
    out.print(table(columns, files, title=f"Stored WARC files ({rt.store.url})"))
    hits = rt.index.search("mission*", limit=5)
    out.print(posts_table(hits, title='search "mission*"'))
    edited = [p for r in second for p in rt.index.list_posts(r.account, edited=True)]
    if edited:
        post, versions, _ = rt.index.history(edited[0].post_id)
        out.print(f"\n[bold]history of {post.post_id}[/] ({post.url})")
        for v in versions:
            text = " ".join(f"{v.title or ''} | {v.text}".split())[:140]
            out.print(f"  v{v.version} captured {short_time(v.captured_at)}: {text}", markup=False)
        out.print(f"  more: archiver history {post.post_id}")
    gone = [p for r in third for p in rt.index.list_posts(r.account, deleted=True)]
    if gone:
        title = "deleted_detected (evidence: the platform's answer for the post, in the WARC)"
        out.print(posts_table(gone, title=title))
    failed = [r for r in first + second + third if r.status == "failed"]
    out.print(
        f"\nDone: {len(first) + len(second) + len(third)} captures, {len(warcs)} WARC files, "
        f"{sum(r.revisits for r in second)} revisits in the second round, "
        f"{len(edited)} edited and {len(gone)} deleted post(s). Explore with "
        f"ARCHIVER_DATA_DIR={data_dir} archiver search ..."
    )
    if failed:
        raise typer.Exit(1)

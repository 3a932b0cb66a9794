"""``archiver replay``: browse the archive as it was captured, offline, through pywb."""

from __future__ import annotations

import typer

from archiver.cli.common import err, runtime
from archiver.replay import build_collection, serve


def replay(
    port: int = typer.Option(8080, "--port", help="Port on 127.0.0.1 for the replay server."),
    account: str | None = typer.Option(None, "--account", help="Only this account's captures."),
) -> None:
    """Serve the stored WARC files through pywb on 127.0.0.1 (nothing is fetched live).

    Open http://127.0.0.1:PORT/archive/URL, or /archive/*/URL for every capture time."""
    rt = runtime(load=False)
    root = rt.settings.data_dir / "replay"
    count = build_collection(rt, root, account=account)
    err.print(
        f"replaying {count} WARC file(s): http://127.0.0.1:{port}/archive/*/URL  (Ctrl-C stops)"
    )
    raise typer.Exit(serve(root, port, rt.settings.pywb_bin))

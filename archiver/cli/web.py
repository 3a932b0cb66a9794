"""``archiver web``: the read-only web console (search, versions, holds, plans, reports, audit)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import typer

from archiver.cli.common import err, runtime, settings
from archiver.errors import ArchiverError, UsageError


def web(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8081, "--port", help="Port (0: any free port)."),
    users: Path | None = typer.Option(
        None, "--users", help="Users file (YAML); default ARCHIVER_WEB_USERS."
    ),
    replay_url: str = typer.Option(
        "http://127.0.0.1:8080/archive",
        "--replay-url",
        help="Where `archiver replay` serves, for the replay links.",
    ),
    hash_password: bool = typer.Option(
        False, "--hash-password", help="Read a password on stdin, print its scrypt hash, exit."
    ),
) -> None:
    """Serve the read-only web console until SIGTERM or Ctrl-C (exit 0). Sign-in is required
    when users are configured, and always outside loopback (exit 2 without users); on
    127.0.0.1 with no users every role is open to whoever can reach the port."""
    from archiver.web.auth import hash_password as make_hash
    from archiver.web.auth import load_users

    if hash_password:
        password = (
            typer.prompt("password", hide_input=True, confirmation_prompt=True)
            if sys.stdin.isatty()
            else sys.stdin.readline().rstrip("\r\n")
        )
        if not password:
            raise UsageError("an empty password cannot be hashed; type one")
        print(make_hash(password))
        return
    from archiver.web import Console, ConsoleServer

    users_file = users or settings().web_users
    known = load_users(users_file) if users_file else None
    try:
        rt = runtime()
    except ArchiverError as exc:  # reports need the policies; the rest of the console does not
        err.print(f"warning: policies not loaded ({exc}); reports may fail", markup=False)
        rt = runtime(load=False)
    server = ConsoleServer(Console(rt, users=known, replay_url=replay_url), host, port)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    access = f"sign-in required ({len(known)} user(s))" if known else "open access (loopback)"
    err.print(f"console on {server.url}  {access}  (Ctrl-C stops)", markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.print("console stopped", markup=False)

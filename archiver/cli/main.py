"""The ``archiver`` command. Exit codes: 0 ok, 1 failed, 2 bad usage/config/input, 3 integrity."""

from __future__ import annotations

import errno
import sys

import typer
from rich.text import Text

from archiver import __version__
from archiver.cli import capture as capture_cmds
from archiver.cli import checks as check_cmds
from archiver.cli import daemon as daemon_cmds
from archiver.cli import export as export_cmds
from archiver.cli import governance as governance_cmds
from archiver.cli import policies as policies_cmds
from archiver.cli import replay as replay_cmds
from archiver.cli import reports as report_cmds
from archiver.cli import retrieval as retrieval_cmds
from archiver.cli import review as review_cmds
from archiver.cli import search_index as index_cmds
from archiver.cli import simulate as simulate_cmds
from archiver.cli import transfer as transfer_cmds
from archiver.cli import web as web_cmds
from archiver.cli.common import emit_json, err, runtime
from archiver.errors import EXIT_FAILED, EXIT_USAGE, ArchiverError

app = typer.Typer(
    name="archiver",
    help="Capture government social media into WARC and keep it as public records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(policies_cmds.app, name="policies")
app.add_typer(capture_cmds.captures_app, name="captures")
app.add_typer(retrieval_cmds.posts_app, name="posts")
app.add_typer(governance_cmds.hold_app, name="hold")
app.add_typer(governance_cmds.retention_app, name="retention")
governance_cmds.retention_app.command("review")(review_cmds.review)
app.add_typer(transfer_cmds.transfer_app, name="transfer")
app.add_typer(check_cmds.audit_app, name="audit")
app.add_typer(index_cmds.index_app, name="index")
app.command("verify")(check_cmds.verify)
app.command("capture")(capture_cmds.capture)
app.command("run")(daemon_cmds.run)
app.command("worker")(daemon_cmds.worker)
app.command("history")(retrieval_cmds.history)
app.command("search")(retrieval_cmds.search)
app.command("extract")(retrieval_cmds.extract)
app.command("show")(retrieval_cmds.show)
app.command("export")(export_cmds.export)
app.command("simulator")(simulate_cmds.simulator)
app.command("demo")(simulate_cmds.demo)
app.command("replay")(replay_cmds.replay)
app.command("report")(report_cmds.report)
app.command("web")(web_cmds.web)


@app.command()
def init(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Create or upgrade the index schema and the bucket (S3: with Object Lock)."""
    rt = runtime(create=True, load=False)
    revision = rt.index.migrate()
    result = {
        "database": rt.index.engine.url.render_as_string(),
        "schema_revision": revision,
        "store": rt.store.url,
    }
    if json_out:
        emit_json(result)
    else:
        err.print(f"index schema at revision {revision}; store ready at {rt.store.url}")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    """Console entry point: usage errors exit 2 (Typer), ArchiverError exits with its code."""
    try:
        app()
    except ArchiverError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except OSError as exc:  # a path the operator gave, or the machine itself (disk full)
        code, message = _os_error(exc)
        _error(message)
        sys.exit(code)


def _error(message: str) -> None:
    """``error: MESSAGE`` on stderr; the message is printed as written (never as markup)."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)


def _os_error(exc: OSError) -> tuple[int, str]:
    """Exit code and plain message for an operating-system error that reached the CLI."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return EXIT_FAILED, f"no space left on the device{where}; free space, then run it again"
    if isinstance(exc, IsADirectoryError):
        return EXIT_USAGE, f"{exc.filename} is a folder; name a file to write (-o FILE)"
    if isinstance(exc, (NotADirectoryError, FileNotFoundError)):
        return EXIT_USAGE, f"no such folder for{where}; create it or name another path"
    if isinstance(exc, PermissionError):
        return EXIT_USAGE, f"permission denied{where}; choose a path you can write"
    return EXIT_FAILED, f"{exc.strerror or exc}{where}"


if __name__ == "__main__":
    main()

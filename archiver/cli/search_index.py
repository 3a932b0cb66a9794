"""``archiver index rebuild``: rebuild the full-text search engine from the SQL index."""

from __future__ import annotations

import time

import typer
from rich.progress import Progress

from archiver.cli.common import emit_json, err, runtime

index_app = typer.Typer(help="The index and its full-text search engine.", no_args_is_help=True)


@index_app.command("rebuild")
def rebuild(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rebuild the search engine (ARCHIVER_SEARCH_ENGINE) from the SQL index, the system of
    record. Searches keep working meanwhile on the previous engine index."""
    rt = runtime(load=False)
    engine = rt.index.fulltext
    started = time.perf_counter()
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task(f"rebuilding the {engine.name} search index", total=None)
        versions = engine.rebuild(
            progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    seconds = round(time.perf_counter() - started, 2)
    if json_out:
        emit_json({"engine": engine.name, "versions": versions, "seconds": seconds})
    else:
        err.print(f"{engine.name} search index rebuilt: {versions} post versions in {seconds} s")

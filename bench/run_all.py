"""Every benchmark of issue 16 in one run, each figure beside its peer, as ratios.

  * search p50/p99 at N posts (default 1,000,000): archiver on SQLite and on PostgreSQL, each with
    the tantivy engine (the default) and the SQL engine (FTS5 / tsvector), beside tantivy bare
    (the same tantivy index, queried directly: no SQL, no snippets, no filters) and FTS5 bare
    (``MATCH … ORDER BY rank LIMIT 50`` on the same FTS5 table); 15 queries (a common word, a
    prefix over 111 words, phrases, rare words, account and date filters) x 10 rounds,
    interleaved: each round runs every query on every system in turn;
  * API capture of a 10,000-status account vs ``wget --warc-file`` on the same pages, and the
    re-capture's bytes vs the first capture's (bench/capture_api.py);
  * WARC writing vs warcio and fastwarc (bench/warc_write.py).
The corpus is built once (bench/index_scale.py's generator, executemany inserts) and kept under
``--data-dir`` (SQLite file, tantivy folders, PostgreSQL database ``archiver_bench_N``), so the
next run only measures. Run: ``make bench`` or ``python bench/run_all.py [--posts N]``.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import capture_api
import index_scale
import tantivy
import warc_write

from archiver.config import load_settings
from archiver.index.fulltext.base import sql_state
from archiver.index.fulltext.tantivy_engine import TOKENIZER, _analyzer
from archiver.index.search import parse_query, to_fts5
from archiver.logging import configure_logging
from archiver.runtime import Runtime

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("earthquake", {}),  # common: ~7 % of the posts
    ("flood warning", {}),
    ('"road closure"', {}),
    ("evac*", {}),  # prefix, common
    ("budget council", {}),
    ("w12*", {}),  # prefix over 111 words
    ("tsunami", {"account": "acct-042"}),
    ("storm surge", {"since": datetime(2026, 1, 1, tzinfo=UTC)}),
    ("w1234", {}),  # rare
    ('"heat advisory"', {"account": "acct-007"}),
    ("satellite launch mission", {}),
    ("vaccine clinic", {"until": datetime(2025, 6, 30, tzinfo=UTC)}),
    ("corrected", {}),  # the second versions
    ("drought w77", {}),
    ("elect*", {"account": "acct-099"}),
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def pg_database(name: str, *, fresh: bool) -> str | None:
    """URL of PostgreSQL database ``name`` (created if absent); None when PostgreSQL is down."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            if fresh:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        print(f"PostgreSQL not measured: {exc}")
        return None
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def corpus(folder: Path, database_url: str | None, posts: int) -> tuple[Runtime, Runtime, float]:
    """(runtime with the SQL engine, runtime with tantivy) over one corpus of ``posts`` posts,
    loaded unless already there; seconds spent loading (0 when cached)."""
    policies = index_scale.policy(folder / "policies")
    common: dict[str, Any] = {
        "data_dir": folder,
        "database_url": database_url,
        "policies": policies,
        "log_level": "warning",
        "actor": "bench",
        "actor_override": True,  # a benchmark, not an operator
    }
    sql_rt = Runtime.build(load_settings({}, **common, search_engine="sql"), create=True)
    loaded = 0.0
    with sql_rt.index.engine.connect() as conn:
        have = conn.exec_driver_sql("SELECT count(*) FROM posts").scalar_one()
    if have != posts:
        if have:
            raise SystemExit(f"{folder}: holds {have} posts, not {posts}; use --fresh")
        loaded = index_scale.load(sql_rt, posts)
    tantivy_rt = Runtime.build(load_settings({}, **common, search_engine="tantivy"))
    return sql_rt, tantivy_rt, loaded


def search_systems(
    data: Path, posts: int, *, postgres: bool, fresh: bool
) -> tuple[dict[str, Callable[[str, dict[str, Any]], object]], list[str]]:
    """The systems to time (name → search function) and notes on how they were built."""
    notes: list[str] = []
    systems: dict[str, Callable[[str, dict[str, Any]], object]] = {}
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    if postgres and (url := pg_database(f"archiver_bench_{posts}", fresh=fresh)):
        backends.append(("PostgreSQL", url))
    for label, url in backends:
        folder = data / f"corpus-{posts}-{label.lower()}"
        if fresh and folder.exists():
            import shutil

            shutil.rmtree(folder)
        sql_rt, tantivy_rt, loaded = corpus(folder, url, posts)
        if loaded:
            notes.append(f"{label}: {posts:,} posts loaded in {loaded:.0f} s")
        started = time.perf_counter()
        state = tantivy_rt.index.fulltext.check()  # builds the tantivy index if absent
        if state != "ok":
            built = time.perf_counter() - started
            notes.append(f"{label}: tantivy index {state} from SQL in {built:.0f} s")
        versions = sql_state(sql_rt.index.engine)[0]
        held = tantivy_rt.index.fulltext.count()
        notes.append(f"{label}: {versions:,} post versions; tantivy holds {held:,}")
        for engine, rt in (("tantivy", tantivy_rt), ("SQL", sql_rt)):
            systems[f"archiver {label} + {engine}"] = lambda q, f, rt=rt: rt.index.search(
                q, limit=50, **f
            )
        if label == "SQLite":
            db = sqlite3.connect(str(folder / "archiver.db"))
            statement = (
                "SELECT rowid FROM post_search WHERE post_search MATCH ? ORDER BY rank LIMIT 50"
            )
            systems["FTS5 bare"] = lambda q, f, db=db, st=statement: db.execute(
                st, (to_fts5(parse_query(q)),)
            ).fetchall()
            bare = tantivy.Index.open(str(folder / "search"))
            bare.register_tokenizer(TOKENIZER, _analyzer())

            def tantivy_bare(q: str, f: dict[str, Any], bare: Any = bare) -> object:
                query = bare.parse_query(q, ["title", "text"], conjunction_by_default=True)
                return bare.searcher().search(query, limit=50, count=False).hits

            systems["tantivy bare"] = tantivy_bare
    return systems, notes


def measure_search(
    systems: dict[str, Callable[[str, dict[str, Any]], object]], rounds: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in systems}
    for fn in systems.values():  # one warm-up pass each (page cache, first reload)
        for q, f in QUERIES:
            fn(q, f)
    for _ in range(rounds):
        for q, f in QUERIES:
            for name, fn in systems.items():
                started = time.perf_counter()
                fn(q, f)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--data-dir", type=Path, default=Path("data/bench"))
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached corpus")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--capture-posts", type=int, default=10_000)
    parser.add_argument("--warc-records", type=int, default=10_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["search", "capture", "warc"])
    args = parser.parse_args()
    configure_logging("console", "warning")
    print(f"machine: {machine()}; {datetime.now(UTC):%Y-%m-%d}")
    print(f"command: python bench/run_all.py {' '.join(sys.argv[1:])}".rstrip())

    if "search" not in args.skip:
        systems, notes = search_systems(
            args.data_dir, args.posts, postgres=not args.no_postgres, fresh=args.fresh
        )
        for note in notes:
            print(note)
        times = measure_search(systems, args.rounds)
        bare_t = pct(times["tantivy bare"], 99)
        bare_f = pct(times["FTS5 bare"], 99)
        n = len(QUERIES) * args.rounds
        print(
            f"\n## search at {args.posts:,} posts ({len(QUERIES)} queries x {args.rounds} rounds,"
            f" interleaved: {n} per system)"
        )
        print("| system | p50 ms | p99 ms | p99 / tantivy bare | p99 / FTS5 bare |")
        print("|---|---:|---:|---:|---:|")
        for name, values in times.items():
            p99 = pct(values, 99)
            print(
                f"| {name} | {statistics.median(values):.1f} | {p99:.1f} | "
                f"{p99 / bare_t:.1f}x | {p99 / bare_f:.2f}x |"
            )
        best = times.get("archiver SQLite + tantivy")
        if best:
            print(f"goal archiver search p99 < 50 ms (SQLite + tantivy): {pct(best, 99):.1f} ms")

    if "capture" not in args.skip:
        r = capture_api.run(args.capture_posts)
        first, second = r["first"], r["second"]
        pages, engine = r["pages"], r["engine"]
        print(f"\n## API capture of @bench{args.capture_posts} ({pages} pages, {engine} search)")
        print("| run | seconds | WARC bytes | ratio |")
        print("|---|---:|---:|---:|")
        walk, took = r["walk_s"], r["first_s"]
        print(f"| urllib walk (floor) | {walk:.2f} | — | {walk / took:.2f}x of archiver |")
        if r["wget"] is not None:
            wget_s, wget_bytes, _ = r["wget"]
            print(f"| wget --warc-file | {wget_s:.2f} | {wget_bytes:,} | 1.00x |")
            print(
                f"| archiver capture | {took:.2f} | {first.bytes:,} | "
                f"{took / wget_s:.2f}x wget (goal ≤ 1.5x) |"
            )
        else:
            print(f"| archiver capture | {r['first_s']:.2f} | {first.bytes:,} | wget absent |")
        print(
            f"| archiver re-capture, unchanged (incremental) | {r['second_s']:.2f} | "
            f"{second.bytes:,} | {second.bytes / first.bytes:.1%} of the first's bytes "
            "(goal < 5 %) |"
        )

    if "warc" not in args.skip:
        mib, rows = warc_write.run(args.warc_records)
        ours = rows[1][1]
        print(f"\n## WARC writing, {args.warc_records:,} records, {mib:.0f} MiB")
        print("| writer | MiB/s | out MiB | archiver / it |")
        print("|---|---:|---:|---:|")
        for name, speed, size in rows:
            print(f"| {name} | {speed:.1f} | {size / 1048576:.2f} | {ours / speed:.2f}x |")


if __name__ == "__main__":
    main()

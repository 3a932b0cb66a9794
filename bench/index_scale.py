"""Benchmark: the index at a million posts, on SQLite and PostgreSQL.

Generates N posts (default 1,000,000) over 100 accounts — one version each, 5% with a second
(edited) version, 30 captures per account with one stored WARC file each — straight into the
index tables (full-text search is maintained by the schema's own trigger / generated column), then
measures in the same run:
  * search p50/p99 over common queries (a word, two words, a phrase, a prefix, one account's),
  * the floor: the same word queries on SQLite FTS5 directly (MATCH + rank, LIMIT 50),
  * `posts list` for one account (newest 1,000),
  * `retention plan` over every capture,
  * the coverage report when ``archiver.reports`` is present.
Goals: search p99 < 50 ms, retention plan < 10 s, coverage report < 30 s at 1M posts.
Run: `python bench/index_scale.py [--posts N] [--backend sqlite|postgres|both]`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from archiver.clock import FrozenClock
from archiver.config import load_settings
from archiver.governance.disposition import make_plan
from archiver.index.models import CaptureRow, PostRow, PostVersionRow, WarcFileRow
from archiver.logging import configure_logging
from archiver.runtime import Runtime

ACCOUNTS = 100
CAPTURES_PER_ACCOUNT = 30
START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 25, tzinfo=UTC)
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
TOPICS = [
    "earthquake",
    "magnitude",
    "aftershock",
    "tsunami",
    "warning",
    "flood",
    "river",
    "streamflow",
    "drought",
    "wildfire",
    "smoke",
    "evacuation",
    "shelter",
    "hurricane",
    "storm",
    "surge",
    "tornado",
    "heat",
    "advisory",
    "vaccine",
    "clinic",
    "election",
    "ballot",
    "permit",
    "budget",
    "council",
    "meeting",
    "transit",
    "road",
    "closure",
    "water",
    "quality",
    "volcano",
    "eruption",
    "mission",
    "launch",
    "satellite",
    "survey",
    "census",
    "grant",
    "veterans",
    "benefits",
]
FILLER = [f"w{n}" for n in range(3000)]
QUERIES = ("earthquake", "flood warning", '"road closure"', "evac*", "budget council")


def policy(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    accounts = "".join(
        f"  - id: acct-{a:03d}\n    agency: Agency {a}\n    platform: feed\n"
        f"    url: https://agency{a}.example.gov/feed.xml\n    series: s{a % 4}\n"
        "    schedule: P1D\n"
        for a in range(ACCOUNTS)
    )
    series = "".join(
        f"  - id: s{i}\n    title: Series {i}\n    authority: DAA-BENCH-{i}\n"
        f"    retention: {('P90D', 'P1Y', 'P3Y', 'permanent')[i]}\n"
        for i in range(4)
    )
    (folder / "bench.yaml").write_text(f"series:\n{series}accounts:\n{accounts}")
    return folder


def sentence(rng: random.Random) -> str:
    words = [rng.choice(TOPICS) for _ in range(3)] + rng.choices(FILLER, k=14)
    rng.shuffle(words)
    return " ".join(words)


def rows(n_posts: int, rng: random.Random) -> Iterator[tuple[str, dict[str, Any], list[Any]]]:
    """Batches of (table, kind, rows) in insertion order."""
    captures: list[dict[str, Any]] = []
    warcs: list[dict[str, Any]] = []
    for a in range(ACCOUNTS):
        for c in range(CAPTURES_PER_ACCOUNT):
            at = START + timedelta(days=c * 20, hours=a % 24)
            cid = f"cap-{a:03d}-{c:03d}"
            status = "failed" if rng.random() < 0.03 else "ok"
            captures.append(
                {
                    "capture_id": cid,
                    "account": f"acct-{a:03d}",
                    "series": f"s{a % 4}",
                    "platform": "feed",
                    "status": status,
                    "trigger": "schedule",
                    "started_at": at,
                    "finished_at": at + timedelta(seconds=20),
                    "policy_hash": "bench",
                    "actor": "bench",
                    "records": 40,
                    "bytes": 250_000,
                    "warc_files": 1,
                    "ledger": "{}",
                }
            )
            warcs.append(
                {
                    "name": f"{cid}.warc.gz",
                    "capture_id": cid,
                    "account": f"acct-{a:03d}",
                    "series": f"s{a % 4}",
                    "key": f"s{a % 4}/acct-{a:03d}/{cid}.warc.gz",
                    "size": 250_000,
                    "sha256": uuid.uuid4().hex * 2,
                    "status": "stored",
                    "created_at": at,
                    "stored_at": at,
                }
            )
    yield "captures", {}, captures
    yield "warc_files", {}, warcs
    batch_posts: list[dict[str, Any]] = []
    batch_versions: list[dict[str, Any]] = []
    per_account = n_posts // ACCOUNTS
    for i in range(n_posts):
        a = i % ACCOUNTS
        k = i // ACCOUNTS
        published = START + timedelta(minutes=k * (600 * 24 * 60 // max(per_account, 1)))
        cap = min(k * CAPTURES_PER_ACCOUNT // max(per_account, 1), CAPTURES_PER_ACCOUNT - 1)
        pid = f"{a:03d}{k:013d}"
        edited = rng.random() < 0.05
        captured = START + timedelta(days=cap * 20, hours=a % 24)
        batch_posts.append(
            {
                "post_id": pid,
                "account": f"acct-{a:03d}",
                "series": f"s{a % 4}",
                "platform": "feed",
                "native_id": f"https://agency{a}.example.gov/posts/{k}",
                "url": f"https://agency{a}.example.gov/posts/{k}",
                "author": f"Agency {a}",
                "published_at": published,
                "kind": "post",
                "first_captured_at": captured,
                "last_captured_at": captured,
                "versions": 2 if edited else 1,
                "edited": edited,
                "deleted": rng.random() < 0.01,
            }
        )
        body = sentence(rng)
        for v in range(2 if edited else 1):
            batch_versions.append(
                {
                    "post_id": pid,
                    "version": v + 1,
                    "title": None,
                    "text": body if v == 0 else body + " corrected",
                    "raw": "",
                    "content_hash": uuid.uuid4().hex,
                    "published_at": published,
                    "captured_at": captured + timedelta(days=v * 20),
                    "capture_id": f"cap-{a:03d}-{cap:03d}",
                }
            )
        if len(batch_posts) >= 20_000:
            yield "posts", {}, batch_posts
            yield "post_versions", {}, batch_versions
            batch_posts, batch_versions = [], []
    if batch_posts:
        yield "posts", {}, batch_posts
        yield "post_versions", {}, batch_versions


def load(rt: Runtime, n_posts: int) -> float:
    tables = {
        "captures": CaptureRow,
        "warc_files": WarcFileRow,
        "posts": PostRow,
        "post_versions": PostVersionRow,
    }
    start = time.perf_counter()
    rng = random.Random(7)
    with rt.index.engine.begin() as conn:
        for table, _, batch in rows(n_posts, rng):
            conn.execute(insert(tables[table].__table__), batch)  # type: ignore[attr-defined]
    for warc in rt.index.list_warcs(status="stored"):  # the plan looks at each object's lock
        rt.store.put_bytes(warc.key, b"bench placeholder")
    if rt.index.dialect == "postgresql":
        with rt.index.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return time.perf_counter() - start


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(backend: str, n_posts: int, tmp: Path) -> dict[str, Any]:
    database_url = None
    dbname = None
    if backend == "postgres":
        import psycopg

        dbname = f"archiver_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    settings = load_settings(
        {},
        data_dir=tmp / backend,
        database_url=database_url,
        policies=policy(tmp / "policies"),
        log_level="warning",
        actor="bench",
        actor_override=True,
    )
    rt = Runtime.build(settings, create=True, clock=FrozenClock(NOW))
    try:
        loaded = load(rt, n_posts)
        result: dict[str, Any] = {"backend": backend, "load_s": loaded}
        search_ms: list[float] = []
        for q in QUERIES:
            search_ms += timed(lambda q=q: rt.index.search(q, limit=50), 20)
            search_ms += timed(lambda q=q: rt.index.search(q, account="acct-042", limit=50), 10)
        result["search_p50"], result["search_p99"] = pct(search_ms, 50), pct(search_ms, 99)
        if backend == "sqlite":
            raw = rt.index.engine.raw_connection()
            cur = raw.cursor()
            sql = "SELECT rowid FROM post_search WHERE post_search MATCH ? ORDER BY rank LIMIT 50"
            floor: list[float] = []
            for q in ("earthquake", "flood warning", '"road closure"', "evac*", "budget council"):
                floor += timed(lambda q=q: cur.execute(sql, (q,)).fetchall(), 20)
            raw.close()
            result["fts5_p50"], result["fts5_p99"] = pct(floor, 50), pct(floor, 99)
        lists = timed(lambda: rt.index.list_posts("acct-042", limit=1000), 10)
        result["posts_list_p50"] = pct(lists, 50)
        t = time.perf_counter()
        plan = make_plan(rt, as_of=NOW)
        result["plan_s"] = time.perf_counter() - t
        result["plan_eligible"], result["plan_blocked"] = len(plan.eligible), len(plan.blocked)
        try:
            from archiver.reports import build_report  # type: ignore[attr-defined]

            t = time.perf_counter()
            build_report(rt, "coverage", as_of=NOW)
            result["coverage_s"] = time.perf_counter() - t
        except (ImportError, AttributeError, TypeError) as exc:
            result["coverage_s"] = None
            result["coverage_note"] = f"not measured ({type(exc).__name__}: {exc})"
        with rt.index.engine.connect() as conn:
            result["posts"] = conn.execute(text("SELECT count(*) FROM posts")).scalar_one()
        return result
    finally:
        rt.index.engine.dispose()
        if dbname:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    configure_logging("console", "warning")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            r = run(backend, args.posts, Path(tmp))
            report(backend, r)


def report(backend: str, r: dict[str, Any]) -> None:
    print(f"\n== {backend}: {r['posts']:,} posts, {ACCOUNTS} accounts (load {r['load_s']:.0f} s)")
    print(f"search p50 {r['search_p50']:.1f} ms, p99 {r['search_p99']:.1f} ms (goal p99 < 50 ms)")
    if "fts5_p50" in r:
        ratio = r["search_p99"] / max(r["fts5_p99"], 0.001)
        print(
            f"FTS5 direct (floor) p50 {r['fts5_p50']:.1f} ms, p99 {r['fts5_p99']:.1f} ms; "
            f"archiver/floor at p99 {ratio:.1f}x"
        )
    print(f"posts list (one account, newest 1,000) p50 {r['posts_list_p50']:.1f} ms")
    print(
        f"retention plan {r['plan_s']:.2f} s ({r['plan_eligible']} eligible, "
        f"{r['plan_blocked']} blocked; goal < 10 s)"
    )
    if r["coverage_s"] is not None:
        print(f"coverage report {r['coverage_s']:.2f} s (goal < 30 s)")
    else:
        print(f"coverage report {r['coverage_note']}")


if __name__ == "__main__":
    main()

"""Benchmark: API capture of a 10,000-post Mastodon account, archiver vs `wget --warc-file`.

In one run, against one local simulator (a separate process, so neither side shares its CPU time
or memory with the server):
  * the listing URLs are found first by walking the ``Link: rel="next"`` headers with urllib
    (also timed: the floor, plain HTTP GETs with nothing written);
  * `wget --warc-file` fetches the same pages from that list (``-i``): WARC records, no parsing,
    no index;
  * archiver captures the account (``@benchN@social.example.gov``, media and replies off):
    the same pages as WARC records, every status parsed and indexed (SQLite + full-text search),
    the file closed, hashed and stored;
  * archiver captures the unchanged account again: unchanged payloads become revisit records,
    and the bytes it writes are compared with the first capture's.
Prints the times, the archiver/wget ratio, posts indexed per second, peak RSS and the share of
new bytes on the re-capture. Data dir, SQLite index and file store live in a temporary folder.
Run: `python bench/capture_api.py [--posts N]` (`make bench-capture`).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from archiver.capture.job import capture_account
from archiver.config import load_settings
from archiver.logging import configure_logging
from archiver.runtime import Runtime

HOST = "social.example.gov"
ACCOUNT = "bench-mastodon"
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# The simulator writes a response's head and body in separate small writes; on a kept-alive
# connection Nagle's algorithm then waits for the client's delayed ACK (~40 ms a response), which
# would time the TCP stack, not the clients. The benchmark's simulator sets TCP_NODELAY.
SERVE = """
import sys
from archiver.simulator import Simulator, server
server._Handler.disable_nagle_algorithm = {nodelay}
Simulator(port=int(sys.argv[1])).serve_forever()
"""


def start_simulator(port: int, *, nodelay: bool = True) -> subprocess.Popen[bytes]:
    """The simulator in its own process; returns once it answers."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE.format(nodelay=nodelay), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/state", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the simulator did not start")


def listing_urls(api: str, posts: int) -> tuple[list[str], float]:
    """Every URL the capture reads (lookup + statuses pages), by walking Link headers; seconds."""
    started = time.perf_counter()
    lookup = f"{api}/api/v1/accounts/lookup?acct=bench{posts}"
    with urllib.request.urlopen(lookup) as answer:
        acct_id = json.load(answer)["id"]
    urls = [lookup]
    url: str | None = f"{api}/api/v1/accounts/{acct_id}/statuses?limit=40"
    while url:
        urls.append(url)
        with urllib.request.urlopen(url) as answer:
            answer.read()
            match = _NEXT.search(answer.headers.get("Link") or "")
        url = match.group(1) if match else None
    return urls, time.perf_counter() - started


def run_wget(urls: list[str], folder: Path) -> tuple[float, int, float] | None:
    """`wget --warc-file` over ``urls``: seconds, WARC bytes, peak RSS MiB; None without wget."""
    wget = shutil.which("wget")
    if wget is None:
        return None
    listing = folder / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    command = [wget, "--quiet", "-i", str(listing), "-O", "/dev/null"]
    command.append(f"--warc-file={folder / 'wget'}")
    # GNU time reports wget's own peak RSS (getrusage of children would count the forked copy
    # of this Python process)
    timer = shutil.which("time") or "/usr/bin/time"
    report = folder / "wget-rss.txt"
    measured = Path(timer).is_file()
    if measured:
        command = [timer, "-f", "%M", "-o", str(report), *command]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    elapsed = time.perf_counter() - started
    rss = int(report.read_text().split()[-1]) / 1024 if measured else float("nan")
    return elapsed, (folder / "wget.warc.gz").stat().st_size, rss


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(posts: int, *, nagle: bool = False, full_relist: bool = False) -> dict[str, Any]:
    """Walk, wget and two archiver captures of ``@bench{posts}`` in one run; the figures."""
    incremental = "" if full_relist else ", full_listing_every: P1D"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = f"{base}/{HOST}"
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as tmp:
        root = Path(tmp)
        (root / "policies").mkdir()
        (root / "policies" / "bench.yaml").write_text(
            f"""\
series:
  - id: bench
    title: Benchmark series
    retention: P90D
accounts:
  - id: {ACCOUNT}
    agency: Benchmark agency
    platform: mastodon
    handle: "@bench{posts}@{HOST}"
    base_url: {api}
    series: bench
    schedule: PT1H
    options: {{media: false, comments: false, max_items: {max(20_000, posts)}{incremental}}}
"""
        )
        sim = start_simulator(port, nodelay=not nagle)
        try:
            urls, walk_s = listing_urls(api, posts)
            wget = run_wget(urls, root)
            settings = load_settings(
                {},
                data_dir=root / "data",
                policies=root / "policies",
                allow_private_networks=True,
                log_level="warning",
            )
            configure_logging("console", "warning")
            rt = Runtime.build(settings, create=True)
            rss_before = rss_mib()
            started = time.perf_counter()
            first = capture_account(rt, ACCOUNT, trigger="bench")
            first_s = time.perf_counter() - started
            rss_first = rss_mib()
            started = time.perf_counter()
            second = capture_account(rt, ACCOUNT, trigger="bench")
            second_s = time.perf_counter() - started
            engine = rt.index.fulltext.name
        finally:
            sim.terminate()
            sim.wait(timeout=10)
    assert first.status == "ok", first.problems
    assert first.posts["new"] == posts, first.posts
    return {
        "posts": posts,
        "pages": len(urls),
        "walk_s": walk_s,
        "wget": wget,
        "first_s": first_s,
        "first": first,
        "second_s": second_s,
        "second": second,
        "rss_before": rss_before,
        "rss_first": rss_first,
        "full_relist": full_relist,
        "engine": engine,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="serve as `archiver simulator` does (Nagle on: ~40 ms stalls per kept-alive response)",
    )
    parser.add_argument(
        "--full-relist",
        action="store_true",
        help="re-list the whole account on the re-capture (no full_listing_every option)",
    )
    args = parser.parse_args()
    r = run(args.posts, nagle=args.nagle, full_relist=args.full_relist)
    first, second, wget, first_s, second_s = (
        r["first"],
        r["second"],
        r["wget"],
        r["first_s"],
        r["second_s"],
    )
    print(f"account @bench{args.posts}: {r['pages']} API pages (lookup + statuses, 40 per page)")
    print(f"urllib Link walk (the floor, nothing written): {r['walk_s']:.2f} s")
    if wget is None:
        print("wget: not installed, column skipped")
    else:
        wget_s, wget_bytes, wget_rss = wget
        print(f"wget --warc-file: {wget_s:.2f} s, {wget_bytes:,} WARC bytes, ", end="")
        print(f"peak RSS {wget_rss:.0f} MiB")
    print(
        f"archiver capture ({r['engine']} search): {first_s:.2f} s, {first.records} records, "
        f"{first.bytes:,} WARC bytes, {first.posts['new'] / first_s:,.0f} posts indexed/s"
    )
    if wget is not None:
        print(f"archiver / wget time: {first_s / wget[0]:.2f}x")
    before = r["rss_before"]
    print(f"archiver peak RSS: {r['rss_first']:.0f} MiB (before the capture: {before:.0f} MiB)")
    mode = "whole listing again" if args.full_relist else "incremental, full_listing_every: P1D"
    print(
        f"re-capture of the unchanged account ({mode}): {second_s:.2f} s, "
        f"{second.revisits} revisits, "
        f"{second.bytes:,} WARC bytes = {second.bytes / first.bytes:.1%} of the first capture's"
    )
    print(f"peak RSS after both captures: {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()

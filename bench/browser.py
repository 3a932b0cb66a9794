"""Benchmark: browser capture throughput, pages per minute per worker, on simulator pages.

In one run, on the same pages served by the local simulator:
  * archiver's browser capture (Chromium via Playwright, every request fetched and recorded by the
    capture's HTTP client, scroll + expand behaviours, full-page screenshot, WARC records);
  * plain Playwright on the same Chromium loading each page and saving a HAR (no behaviours, no
    screenshot, no WARC): the floor of what the browser itself costs;
  * Browsertrix Crawler's published figure, 10-13 pages/min/worker (its documentation), for scale.
Also prints the resident memory growth per browser context. Goal: >= 20 pages/min/worker.
Run: `python bench/browser.py [--pages N]` (needs /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from archiver.capture.browser.capture import LAUNCH_ARGS
from archiver.capture.job import capture_account
from archiver.config import load_settings
from archiver.logging import configure_logging
from archiver.runtime import Runtime
from archiver.simulator import Simulator

BROWSERTRIX = (10.0, 13.0)  # published pages/min/worker
PAGES = (
    "www.example-agency.gov/social/",
    "www.usa.gov/agencies/u-s-geological-survey",
    "social.example.gov/@usgs/113000000100100010",
)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def chromium_rss_mib() -> float:
    """Resident memory of every Chromium process on the machine (Linux /proc)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if "\nName:\tchrom" not in "\n" + text:
            continue
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def policy(folder: Path, urls: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    accounts = "".join(
        f"""  - id: page-{i}
    agency: Bench
    platform: web
    url: {url}
    series: s
    schedule: PT1H
    capture: [page]
"""
        for i, url in enumerate(urls)
    )
    text = f"series:\n  - id: s\n    title: Bench\n    retention: P30D\naccounts:\n{accounts}"
    (folder / "bench.yaml").write_text(text)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args()
    configure_logging("console", "warning")
    with Simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        sim.start()
        urls = [f"{sim.base_url}/{PAGES[i % len(PAGES)]}" for i in range(args.pages)]
        settings = load_settings(
            {},
            data_dir=Path(tmp) / "data",
            policies=policy(Path(tmp) / "policies", urls),
            allow_private_networks=True,
            log_level="warning",
        )
        rt = Runtime.build(settings, create=True)

        # archiver: one capture per page, one worker (sequential), browser per capture
        start = time.perf_counter()
        for i in range(len(urls)):
            capture_account(rt, f"page-{i}")
        ours = time.perf_counter() - start

        # plain Playwright + HAR
        start = time.perf_counter()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(settings.chromium_path),
                headless=True,
                args=[*LAUNCH_ARGS[:-2], "--no-sandbox"],
            )
            for i, url in enumerate(urls):
                context = browser.new_context(record_har_path=str(Path(tmp) / f"{i}.har"))
                page = context.new_page()
                page.goto(url, wait_until="load")
                context.close()
            har = time.perf_counter() - start
            idle = chromium_rss_mib()
            contexts = [browser.new_context() for _ in range(5)]
            for context in contexts:
                context.new_page().goto(urls[0], wait_until="load")
            per_context = (chromium_rss_mib() - idle) / len(contexts)
            browser.close()

    n = len(urls)
    ours_rate, har_rate = n / ours * 60, n / har * 60
    print(f"pages: {n} (simulator, loopback), one worker")
    print(f"archiver browser capture : {ours:7.2f} s  {ours_rate:6.1f} pages/min")
    print(f"playwright + HAR (floor)  : {har:7.2f} s  {har_rate:6.1f} pages/min")
    print(f"browsertrix (published)   :  {BROWSERTRIX[0]:.0f}-{BROWSERTRIX[1]:.0f} pages/min")
    print(f"ratio archiver / playwright: {ours_rate / har_rate:.2f}")
    print(f"ratio archiver / browsertrix (upper): {ours_rate / BROWSERTRIX[1]:.2f}")
    print(f"memory per browser context (Chromium RSS, 5 contexts): {per_context:.0f} MiB")
    print(f"peak RSS of this process: {rss_mib():.0f} MiB (Chromium runs in its own processes)")
    print(f"goal >= 20 pages/min/worker: {'met' if ours_rate >= 20 else 'NOT met'}")


if __name__ == "__main__":
    main()

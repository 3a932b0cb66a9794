"""Health and metrics over HTTP: ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """The daemon's metrics, in a registry of its own (names prefixed ``archiver_``)."""

    def __init__(self, spool_dir: Path) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.captures = Counter(
            "archiver_captures", "Captures by account and status", ["account", "status"], registry=r
        )
        self.records = Counter(
            "archiver_records_written", "WARC records written", ["account"], registry=r
        )
        self.bytes = Counter(
            "archiver_bytes_written", "WARC bytes written", ["account"], registry=r
        )
        self.last_success = Gauge(
            "archiver_last_success_timestamp_seconds",
            "Time of the last ok capture",
            ["account"],
            registry=r,
        )
        self.lag = Gauge(
            "archiver_scheduler_lag_seconds",
            "Delay between a capture's scheduled time and its start",
            registry=r,
        )
        self.overlaps = Counter(
            "archiver_capture_overlaps_skipped",
            "Runs skipped because the account's capture was still running",
            ["account"],
            registry=r,
        )
        self.enqueued = Counter(
            "archiver_tasks_enqueued",
            "Capture tasks handed to workers (distributed mode)",
            ["account"],
            registry=r,
        )
        self.retries = Counter(
            "archiver_http_retries",
            "HTTP requests asked again (timeouts, resets, 5xx, 429) by host and reason",
            ["host", "reason"],
            registry=r,
        )
        self.shipped = Counter(
            "archiver_spool_shipped",
            "WARC files shipped from the spool after the store came back",
            registry=r,
        )
        self.leader = Gauge("archiver_leader", "1 when this daemon schedules captures", registry=r)
        spool = Gauge("archiver_spool_files", "WARC files waiting in the spool", registry=r)
        spool.set_function(
            lambda: (
                float(sum(1 for p in spool_dir.glob("*.warc.gz*"))) if spool_dir.is_dir() else 0.0
            )
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ProbeServer:
    """Serves the probes in a daemon thread on ``host:port``."""

    def __init__(self, address: str, metrics: Metrics, ready: Callable[[], dict[str, Any]]) -> None:
        host, _, port = address.rpartition(":")
        self.metrics = metrics
        self.ready = ready
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._send(200, b"ok\n", "text/plain")
                elif self.path == "/readyz":
                    state = probe.ready()
                    code = 200 if state.get("ready") else 503
                    self._send(code, json.dumps(state).encode(), "application/json")
                elif self.path == "/metrics":
                    self._send(200, probe.metrics.render(), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop serving; safe when :meth:`start` was never called."""
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()

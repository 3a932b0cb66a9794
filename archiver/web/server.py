"""The console over HTTP: a threaded stdlib server (as the probes and the simulator use)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from archiver.errors import ConfigError
from archiver.web.app import Console, Request, is_loopback

MAX_BODY = 64 * 1024  # sign-in forms are small; anything larger is refused


class ConsoleServer:
    """Serves ``console`` on ``host:port`` (port 0: any free port, see :attr:`port`).

    Refuses (ConfigError, exit 2) to listen beyond loopback with open access: a console bound
    to a network address requires sign-in, so users must be configured."""

    def __init__(self, console: Console, host: str = "127.0.0.1", port: int = 8081) -> None:
        if console.users is None and not is_loopback(host):
            raise ConfigError(
                f"the console would listen on {host} without sign-in; set ARCHIVER_WEB_USERS "
                "(or --users) to a users file (docs/retrieval.md), or bind 127.0.0.1"
            )
        self.console = console
        handler = _handler(console)
        self.httpd = ThreadingHTTPServer((host.strip("[]"), port), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self.httpd.server_close()

    def start(self) -> str:
        """Serve in a background thread (tests); returns the base URL."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _handler(console: Console) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "archiver-web"
        sys_version = ""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413, "request body too large")
                return
            body = self.rfile.read(length) if length else b""
            request = Request.parse(self.command, self.path, self.headers.get("Cookie", ""), body)
            response = console.handle(request)
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            console.log.debug("web.request", line=format % args)

    return Handler

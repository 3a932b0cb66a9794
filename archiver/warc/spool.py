"""The spool: WARC files being written (``*.warc.gz.open``) and closed files waiting to ship.

Lifecycle (DESIGN.md): write ``.open`` → flush after every record → close: fsync, sha256, rename
→ upload → verify → mark stored → delete the spool copy. A process killed at any moment leaves
an ``.open`` file whose whole records are kept by :func:`repair_open_file`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from archiver import __version__
from archiver.clock import Clock
from archiver.logging import get_logger
from archiver.warc.writer import Block, WarcWriter, WrittenRecord, format_fields

OPEN_SUFFIX = ".open"
WARC_SUFFIX = ".warc.gz"
_HOST = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:40] or "host"


@dataclass(frozen=True)
class WarcContext:
    """Who and what a WARC file belongs to; written into its ``warcinfo`` record."""

    account: str
    series: str
    platform: str
    capture_id: str
    policy_hash: str
    operator: str
    agency: str = ""
    authority: str | None = None


@dataclass(frozen=True)
class ClosedWarc:
    """A closed, fsynced WARC file in the spool, ready to ship."""

    path: Path
    name: str
    key: str
    size: int
    sha256: str
    records: tuple[WrittenRecord, ...]
    created_at: datetime


def warc_name(account: str, when: datetime, serial: int, host: str = _HOST) -> str:
    """``{account}-{UTC timestamp}-{serial}-{host}.warc.gz`` (DESIGN.md)."""
    stamp = when.strftime("%Y%m%d%H%M%S%f")[:17]
    return f"{account}-{stamp}-{serial:05d}-{host}{WARC_SUFFIX}"


def object_key(series: str, account: str, when: datetime, name: str) -> str:
    """``{series}/{account}/{yyyy}/{mm}/{name}`` (DESIGN.md)."""
    return f"{series}/{account}/{when:%Y}/{when:%m}/{name}"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(1024 * 1024):
            digest.update(data)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolWriter:
    """Writes one capture's records into spool files, rotating at ``max_bytes``.

    A file never mixes accounts or series (one writer per capture). Every record is flushed to
    the OS as soon as it is written, so a killed process loses nothing already written.
    """

    def __init__(
        self,
        spool_dir: Path,
        context: WarcContext,
        clock: Clock,
        *,
        max_bytes: int = 1_000_000_000,
        level: int = 6,
    ) -> None:
        self.spool_dir = spool_dir
        self.context = context
        self.clock = clock
        self.max_bytes = max_bytes
        self.level = level
        self.closed: list[ClosedWarc] = []
        self._serial = 0
        self._fh: BinaryIO | None = None
        self._path: Path | None = None
        self._name = ""
        self._created: datetime | None = None
        self._writer: WarcWriter | None = None
        self._records: list[WrittenRecord] = []
        self.current_name: str | None = None
        spool_dir.mkdir(parents=True, exist_ok=True)

    def _open(self) -> WarcWriter:
        now = self.clock.now()
        self._name = warc_name(self.context.account, now, self._serial)
        self._serial += 1
        self._path = self.spool_dir / (self._name + OPEN_SUFFIX)
        self._fh = self._path.open("xb")
        # Held while the file is written: recovery never touches a file a live process owns.
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._created = now
        self._records = []
        self._writer = WarcWriter(self._fh, level=self.level)
        self.current_name = self._name
        self._write_warcinfo(now)
        return self._writer

    def _write_warcinfo(self, now: datetime) -> None:
        ctx = self.context
        fields = [
            ("software", f"archiver/{__version__}"),
            ("format", "WARC File Format 1.1"),
            (
                "conformsTo",
                "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            ),
            ("operator", ctx.operator),
            ("hostname", _HOST),
            ("isPartOf", f"{ctx.series}/{ctx.account}"),
            ("account", ctx.account),
            ("agency", ctx.agency),
            ("platform", ctx.platform),
            ("series", ctx.series),
            ("authority", ctx.authority or "none (unscheduled)"),
            ("capture-id", ctx.capture_id),
            ("policy-hash", f"sha256:{ctx.policy_hash}"),
        ]
        body = format_fields(fields)
        self.write(
            "warcinfo",
            Block(body, len(body), None),
            date=now,
            content_type="application/warc-fields",
            headers=[("WARC-Filename", self._name)],
        )

    def write(
        self, rec_type: str, block: Block, *, flush: bool = True, **kwargs: object
    ) -> WrittenRecord:
        """Write a record (see :meth:`WarcWriter.write`), opening or rotating files as needed.
        ``flush=False`` leaves it in the file's buffer (a batch of records derived from others,
        followed by :meth:`flush`): a crash before that flush loses only the unflushed records,
        and recovery still cuts the file after its last whole record."""
        writer = self._writer
        if writer is not None and writer.offset >= self.max_bytes and rec_type != "warcinfo":
            self._close_current()
            writer = None
        if writer is None:
            writer = self._open()
        assert self._fh is not None
        record = writer.write(rec_type, block, **kwargs)  # type: ignore[arg-type]
        if flush:
            self._fh.flush()
        self._records.append(record)
        return record

    def flush(self) -> None:
        """Hand every record written so far to the OS (after writes with ``flush=False``)."""
        if self._fh is not None:
            self._fh.flush()

    def _close_current(self) -> None:
        if self._fh is None or self._path is None or self._created is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        closed = close_spool_file(
            self._path,
            self.context.series,
            self.context.account,
            self._created,
            tuple(self._records),
        )
        self.closed.append(closed)
        self._fh = None
        self._writer = None
        self._path = None

    def close(self) -> list[ClosedWarc]:
        """Close the current file (fsync, sha256, rename); returns every file this writer closed."""
        self._close_current()
        return self.closed


def try_lock(path: Path) -> BinaryIO | None:
    """Open ``path`` with an exclusive lock, or None when another process is writing it."""
    fh = path.open("r+b")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def close_spool_file(
    path: Path, series: str, account: str, created: datetime, records: tuple[WrittenRecord, ...]
) -> ClosedWarc:
    """Rename ``NAME.open`` to ``NAME`` after computing its digest; fsyncs the folder."""
    name = path.name.removesuffix(OPEN_SUFFIX)
    final = path.with_name(name)
    digest = sha256_file(path)
    os.replace(path, final)
    _fsync_dir(path.parent)
    return ClosedWarc(
        path=final,
        name=name,
        key=object_key(series, account, created, name),
        size=final.stat().st_size,
        sha256=digest,
        records=records,
        created_at=created,
    )


def _member_is_whole_record(head: bytes, total: int, tail: bytes) -> bool:
    head_end = head.find(b"\r\n\r\n")
    if not head.startswith(b"WARC/") or head_end < 0 or tail != b"\r\n\r\n":
        return False
    match = re.search(rb"\r\nContent-Length:\s*(\d+)", head[: head_end + 2], re.I)
    return match is not None and head_end + 4 + int(match.group(1)) + 4 == total


def whole_records_length(path: Path, chunk: int = 1024 * 1024) -> int:
    """Length of the prefix of a per-record-gzip WARC that holds only whole, valid records.

    Streams the file: memory stays bounded whatever the record sizes.
    """
    good = 0
    pos = 0
    pending = b""
    with path.open("rb") as fh:
        while True:
            decomp = zlib.decompressobj(zlib.MAX_WBITS + 16)
            head = b""
            tail = b""
            total = 0
            consumed = 0
            while not decomp.eof:
                if not pending:
                    pending = fh.read(chunk)
                    if not pending:
                        return good  # file ends inside (or before) this member
                try:
                    out = decomp.decompress(pending)
                except zlib.error:
                    return good
                consumed += len(pending) - len(decomp.unused_data)
                pending = decomp.unused_data
                if len(head) < 65536:
                    head += out[: 65536 - len(head)]
                total += len(out)
                tail = (tail + out)[-4:]
            if not _member_is_whole_record(head, total, tail):
                return good
            pos += consumed
            good = pos


@dataclass
class RepairResult:
    """What :func:`repair_open_file` did to one file."""

    path: Path
    kept_bytes: int
    cut_bytes: int
    notes: list[str] = field(default_factory=list)


def repair_open_file(path: Path) -> RepairResult:
    """Cut an ``.open`` file after its last whole record (a crash mid-write leaves a partial gzip
    member at the end). Never drops a whole record; returns what was kept and cut."""
    size = path.stat().st_size
    keep = whole_records_length(path)
    if keep < size:
        with path.open("r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        get_logger().warning("warc.repaired", file=path.name, kept=keep, cut=size - keep)
    return RepairResult(path=path, kept_bytes=keep, cut_bytes=size - keep)


def _claim_path(spool_dir: Path, capture_id: str) -> Path:
    return spool_dir / f".claim-{capture_id}"


@contextmanager
def claim_capture(spool_dir: Path, capture_id: str) -> Iterator[None]:
    """Hold the claim of a running capture on its spool files (an exclusive ``flock`` the
    kernel drops when the process dies): recovery and backlog shipping leave the files of a
    claimed capture alone, whichever process runs them."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    path = _claim_path(spool_dir, capture_id)
    locking = path.with_name(f".locking-{capture_id}")
    with locking.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        os.replace(locking, path)  # visible only once locked: a claim seen unlocked is stale
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def is_claimed(spool_dir: Path, capture_id: str) -> bool:
    """True while a live process holds the claim of ``capture_id``."""
    path = _claim_path(spool_dir, capture_id)
    try:
        fh = path.open("rb")
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def stale_claims(spool_dir: Path) -> list[str]:
    """Capture ids whose claim file is left but no longer locked: their process died (a claim
    file appears only once locked, and is removed when its capture ends)."""
    return sorted(
        capture_id
        for path in spool_dir.glob(".claim-*")
        if not is_claimed(spool_dir, capture_id := path.name.removeprefix(".claim-"))
    )


def remove_claim(spool_dir: Path, capture_id: str) -> None:
    """Forget a dead capture's claim (after recovery has dealt with the capture)."""
    if not is_claimed(spool_dir, capture_id):
        _claim_path(spool_dir, capture_id).unlink(missing_ok=True)

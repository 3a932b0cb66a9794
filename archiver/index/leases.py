"""Leases that die with their holder: one leader daemon, one worker per capture task.

PostgreSQL: a session-level advisory lock held on a dedicated connection (released by the server
when the holder dies). SQLite (one host): an exclusive ``flock`` on a file in the data dir
(released by the kernel when the holder dies). Take them through ``rt.index.leases``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine

LOCK_KEY = 0x41524348  # "ARCH"


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)


class Lease:
    """An exclusive lease on ``name``; ``acquire`` never blocks, call it again to take over."""

    def __init__(self, engine: Engine, data_dir: Path, name: str, key: int | None = None) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.name = name
        self.key = lock_key(name) if key is None else key
        self._conn: Any = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        """True when this process holds (now) the lease."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({self.key})").scalar()
            if got:
                self._conn = conn
                return True
            conn.close()
            return False
        path = self.data_dir / (re.sub(r"[^A-Za-z0-9._-]", "_", self.name) + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._file = fh
        return True

    def verify(self) -> bool:
        """True when the lease is still held. On PostgreSQL the lock lives as long as its
        connection: a connection the server terminated (``pg_terminate_backend``, a restart, a
        network cut) took the lock with it, and another process may hold it now. Then the lease
        is dropped here too and False returned: the holder must stop acting on it."""
        if self._conn is None:
            return self._file is not None
        try:
            held = self._conn.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted"
            ).scalar()
        except Exception:  # the connection is gone, and the lock with it
            held = 0
        if held:
            return True
        self._drop_connection()
        return False

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                pass  # already broken: nothing to give back

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
                self._conn.close()
                self._conn = None
            except Exception:  # the server already dropped the lock with the connection
                self._drop_connection()
        if self._file is not None:
            self._file.close()
            self._file = None


class LeaderLease(Lease):
    """The daemon's: only the holder schedules captures."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        super().__init__(engine, data_dir, "daemon.leader", key=LOCK_KEY)


class Leases:
    """Where leases of this index live, and the leases themselves (``rt.index.leases``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def lock_dir(self, default: Path) -> Path:
        """Where ``flock`` leases live: beside a SQLite database (which every local worker
        shares), else ``default``. Unused on PostgreSQL, whose leases are advisory locks."""
        database = self._engine.url.database
        if self._engine.dialect.name == "sqlite" and database:
            return Path(database).resolve().parent / "locks"
        return default

    def lease(self, lock_dir: Path, name: str) -> Lease:
        """A lease on ``name`` (not taken yet: call ``acquire``)."""
        return Lease(self._engine, lock_dir, name)

    def leader(self, data_dir: Path) -> LeaderLease:
        """The daemon's leader lease (not taken yet)."""
        return LeaderLease(self._engine, data_dir)

"""One leader: only one daemon schedules captures against the same index.

PostgreSQL: a session-level advisory lock held on a dedicated connection (released by the server
when the holder dies). SQLite (one host): an exclusive ``flock`` on a file in the data dir
(released by the kernel when the holder dies).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine

LOCK_KEY = 0x41524348  # "ARCH"


class LeaderLease:
    """Try to become the leader; ``acquire`` never blocks, call it again to take over."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self._conn: Any = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        """True when this process is (now) the leader."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({LOCK_KEY})").scalar()
            if got:
                self._conn = conn
                return True
            conn.close()
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fh = (self.data_dir / "daemon.leader").open("a+")
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

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({LOCK_KEY})")
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None

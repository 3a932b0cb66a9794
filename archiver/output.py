"""Files the operator asked for with ``-o`` (extract, export, report): checked before any work,
written whole or not at all, and every failure one plain sentence with the remedy (exit 2)."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from archiver.errors import UsageError


def output_error(exc: OSError, output: Path) -> UsageError:
    """The operator-facing error for ``exc``, raised while writing ``-o output``. Whatever was
    written has been removed by the caller, and the message says so."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UsageError(
            f"no space left on the device for -o {output} ({reason}); nothing was left there: "
            "free space or choose another place, then run it again"
        )
    if exc.errno in (errno.ENOENT,):
        return UsageError(
            f"-o {output}: the folder {output.parent} does not exist; create it or name another "
            "path"
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and not output.parent.is_dir():
        return UsageError(
            f"-o {output}: {_first_file(output.parent)} is a file, not a folder; name another path"
        )
    if exc.errno == errno.EISDIR:
        return UsageError(f"-o {output} is a folder; name the file to write")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UsageError(f"cannot write -o {output} ({reason}); choose a place you can write")
    return UsageError(f"cannot write -o {output} ({reason}); choose another place")


def _first_file(path: Path) -> Path:
    """The first part of ``path`` that exists and is not a folder (what blocks it)."""
    for part in reversed((path, *path.parents)):
        if part.exists() and not part.is_dir():
            return part
    return path


def check_new_file(output: Path, *, force: bool = False) -> None:
    """Refuse (UsageError, exit 2) an ``-o`` file that cannot be written before any work is
    done: a folder, an existing file without ``force``, a folder that does not exist."""
    if output.is_dir():
        raise UsageError(f"-o {output} is a folder; name the file to write, e.g. -o page.html")
    if output.exists() and not force:
        raise UsageError(f"-o {output} exists; choose another name or add --force to replace it")
    parent = output.parent
    if not parent.is_dir():
        blocked = _first_file(parent)
        if blocked.exists():
            raise UsageError(f"-o {output}: {blocked} is a file, not a folder; name another path")
        raise UsageError(
            f"-o {output}: the folder {parent} does not exist; create it or name another path"
        )


def make_folders(folder: Path, output: Path) -> list[Path]:
    """Create ``folder`` and its missing parents for ``-o output``; returns the folders made
    here, deepest last, for :func:`remove_folders` should the output fail. UsageError when a
    file stands in the way or the place cannot be written."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    blocked = _first_file(folder)
    if blocked.exists() and not blocked.is_dir():
        raise UsageError(f"-o {output}: {blocked} is a file, not a folder; name another path")
    made: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir()
            made.append(path)
    except OSError as exc:
        remove_folders(made)
        raise output_error(exc, output) from None
    return made


def remove_folders(made: list[Path]) -> None:
    """Remove the folders :func:`make_folders` made (when empty), deepest first."""
    for path in reversed(made):
        with contextlib.suppress(OSError):  # something else was put there meanwhile
            path.rmdir()


def write_file(output: Path, data: bytes | Iterable[bytes]) -> int:
    """Write ``data`` to ``output`` whole or not at all: into a temporary file beside it, then
    renamed over it. On any OS error (disk full, read-only, no permission) nothing is left (an
    earlier file at ``output`` is kept) and UsageError says what to do. Returns bytes written."""
    chunks = [data] if isinstance(data, bytes) else data
    tmp = output.with_name(f".{output.name}.{secrets.token_hex(4)}.part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise output_error(exc, output) from None
    written = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                written += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(exc, output) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written

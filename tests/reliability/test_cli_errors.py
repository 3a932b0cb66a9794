"""The machine's troubles reach the operator as one plain line with the remedy and the right exit
code, never a traceback or a misleading message: an index database that cannot be reached, a
full disk, an output path that cannot be written (nothing partial is left behind)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archiver.simulator import Simulator
from tests.conftest import ROOT, archiver_env, scratch_database
from tests.processes import free_port


def archiver(
    tmp_path: Path, *args: str, code: int, **settings: str
) -> subprocess.CompletedProcess[str]:
    """Run ``archiver ARGS`` as an operator would; asserts the exit code and no traceback."""
    defaults = {
        "data_dir": str(tmp_path / "data"),
        "policies": str(ROOT / "policies" / "demo"),
        "actor": "cli-test",
        "actor_override": "true",
        "log_level": "warning",
    }
    env = archiver_env(**{**defaults, **settings})
    proc = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


# --- the index database ------------------------------------------------------------------------


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    """A reachable PostgreSQL database without the schema (``archiver init`` never ran)."""
    with scratch_database() as url:
        yield url


@pytest.mark.parametrize("command", [["captures", "list"], ["init"], ["audit", "verify"]])
def test_a_postgresql_server_that_is_down_is_not_called_a_missing_schema(
    tmp_path: Path, command: list[str]
) -> None:
    down = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/archiver"
    proc = archiver(tmp_path, *command, code=1, database_url=down)
    assert "cannot reach the index database" in proc.stderr
    assert "ARCHIVER_DATABASE_URL" in proc.stderr and "server runs" in proc.stderr
    assert "no schema" not in proc.stderr and "archiver init" not in proc.stderr


def test_a_reachable_database_without_the_schema_says_run_init(
    tmp_path: Path, empty_pg_database: str
) -> None:
    proc = archiver(tmp_path, "captures", "list", code=2, database_url=empty_pg_database)
    assert "has no schema; run `archiver init`" in proc.stderr
    archiver(tmp_path, "init", code=0, database_url=empty_pg_database)
    archiver(tmp_path, "captures", "list", code=0, database_url=empty_pg_database)


# --- a full disk ------------------------------------------------------------------------------


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """``folder`` on its own tmpfs mounted with ``options`` for the test (needs root)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on its own 4 MiB disk, to fill up."""
    with tmpfs(tmp_path / "disk", "size=4m") as folder:
        yield folder


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nobody can write, not even root."""
    with tmpfs(tmp_path / "ro", "ro,size=64k") as folder:
        yield folder


def fill(disk: Path, leave: int = 0) -> None:
    """Write a file on ``disk`` until no byte is left, then give ``leave`` bytes back."""
    with (disk / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0")
        except OSError:
            pass
        if leave:
            fh.truncate(max(0, fh.tell() - leave))


def test_an_index_on_a_full_disk_is_not_called_a_missing_schema(
    tmp_path: Path, small_disk: Path
) -> None:
    data = str(small_disk / "data")
    archiver(tmp_path, "init", code=0, data_dir=data)
    fill(small_disk)
    proc = archiver(tmp_path, "captures", "list", code=1, data_dir=data)
    assert "cannot open the index database" in proc.stderr and "free space" in proc.stderr
    assert "no schema" not in proc.stderr


def test_a_report_on_a_full_disk_exits_2_and_leaves_nothing(
    tmp_path: Path, small_disk: Path
) -> None:
    archiver(tmp_path, "init", code=0)
    fill(small_disk)
    target = small_disk / "reports" / "coverage.html"
    proc = archiver(tmp_path, "report", "coverage", "-o", str(target), code=2)
    assert "no space left" in proc.stderr and "free space" in proc.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"], "nothing partial"


# --- -o paths of extract and export --------------------------------------------------------------


@pytest.fixture
def archived(tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """An archive holding one capture of a feed; returns the feed's URL (for ``extract``)."""
    monkeypatch.setenv("SIMULATOR_URL", sim.base_url)
    archiver(tmp_path, "init", code=0)
    archiver(tmp_path, "capture", "demo-agency-rdf", code=0, allow_private_networks="true")
    return f"{sim.base_url}/www.example-agency.gov/news.rdf"


def test_extract_o_that_cannot_be_written_exits_2_with_the_remedy(
    tmp_path: Path, archived: str, read_only: Path
) -> None:
    missing = tmp_path / "no" / "such" / "feed.xml"
    proc = archiver(tmp_path, "extract", archived, "-o", str(missing), code=2)
    assert "does not exist" in proc.stderr and "create it" in proc.stderr
    assert not (tmp_path / "no").exists()
    proc = archiver(tmp_path, "extract", archived, "-o", str(tmp_path), code=2)
    assert "is a folder" in proc.stderr
    afile = tmp_path / "afile"
    afile.write_text("kept")
    proc = archiver(tmp_path, "extract", archived, "-o", str(afile / "feed.xml"), code=2)
    assert "not a folder" in proc.stderr and afile.read_text() == "kept"
    proc = archiver(tmp_path, "extract", archived, "-o", str(read_only / "feed.xml"), code=2)
    assert "cannot write" in proc.stderr and "choose" in proc.stderr


def test_extract_o_on_a_full_disk_exits_2_and_keeps_the_old_file(
    tmp_path: Path, archived: str, small_disk: Path
) -> None:
    old = small_disk / "old.xml"
    old.write_bytes(b"the file before")
    fill(small_disk)
    target = small_disk / "feed.xml"
    proc = archiver(tmp_path, "extract", archived, "-o", str(target), code=2)
    assert "no space left" in proc.stderr and "free space" in proc.stderr
    assert not target.exists(), "no partial file left"
    archiver(tmp_path, "extract", archived, "-o", str(old), "--force", code=2)
    assert old.read_bytes() == b"the file before", "a refused --force keeps the old file"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "old.xml"]


@pytest.mark.parametrize("name", ["package", "package.zip", "export.wacz"])
def test_export_on_a_full_disk_exits_2_and_leaves_nothing(
    tmp_path: Path, archived: str, small_disk: Path, name: str
) -> None:
    fill(small_disk, leave=16384)
    target = small_disk / "exports" / name
    fmt = "wacz" if name.endswith(".wacz") else "package"
    proc = archiver(
        tmp_path,
        "export",
        "--account",
        "demo-agency-rdf",
        "--format",
        fmt,
        "-o",
        str(target),
        code=2,
    )
    assert "no space left" in proc.stderr and "free space" in proc.stderr
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"], "nothing partial"


def test_export_o_that_cannot_be_written_exits_2_with_the_remedy(
    tmp_path: Path, archived: str, read_only: Path
) -> None:
    def export(target: Path) -> str:
        return archiver(
            tmp_path, "export", "--account", "demo-agency-rdf", "-o", str(target), code=2
        ).stderr

    assert "cannot write" in export(read_only / "package")
    assert "cannot write" in export(read_only / "package.zip")
    afile = tmp_path / "afile"
    afile.write_text("kept")
    assert "exists" in export(afile)
    assert "not a folder" in export(afile / "package")
    assert afile.read_text() == "kept"
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    assert "not an empty folder" in export(full)
    assert [p.name for p in full.iterdir()] == ["x"]

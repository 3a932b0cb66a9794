"""One door to the index: only ``archiver/index/`` imports the ORM models, opens sessions or
engines, and runs SQL. Everything else goes through :class:`archiver.index.Index`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "archiver"
INDEX = PACKAGE / "index"

# Modules that may be imported only inside archiver/index/.
FORBIDDEN_MODULES = ("archiver.index.models", "archiver.index.db", "sqlmodel", "sqlalchemy")
# Calls that run SQL text.
FORBIDDEN_CALLS = ("exec_driver_sql", "text")

# Modules outside archiver/index/ allowed to break the rule, each with the reason. Keep it empty:
# a new entry needs a reason the index cannot serve.
ALLOWED: dict[str, str] = {}


def _forbidden_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)


def _offences(path: Path, root: Path = ROOT) -> list[str]:
    """Every import of a forbidden module and every raw SQL call in ``path``, as ``file:line``."""
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    text_names = {  # local names bound to sqlalchemy's text()
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith(("sqlalchemy", "sqlmodel"))
        for alias in node.names
        if alias.name == "text"
    }
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden_module(alias.name):
                    found.append(f"{rel}:{node.lineno} imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and _forbidden_module(module):
                found.append(f"{rel}:{node.lineno} imports from {module}")
            if node.level == 0 and module == "archiver.index":
                for alias in node.names:
                    if alias.name in ("models", "db"):
                        found.append(f"{rel}:{node.lineno} imports archiver.index.{alias.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "exec_driver_sql":
                found.append(f"{rel}:{node.lineno} runs SQL with .exec_driver_sql()")
            elif isinstance(func, ast.Name) and func.id in text_names:
                found.append(f"{rel}:{node.lineno} runs SQL with text()")
    return sorted(found, key=lambda f: int(f.split(":")[1].split()[0]))


def _outside_index() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if INDEX not in p.parents)


def test_only_the_index_touches_the_database() -> None:
    offenders = [
        offence
        for path in _outside_index()
        if path.relative_to(ROOT).as_posix() not in ALLOWED
        for offence in _offences(path)
    ]
    assert not offenders, (
        "only archiver/index/ may import ORM models, sessions, engines or SQLAlchemy and run SQL; "
        "move these into a query function under archiver/index/ and call it through Index:\n  "
        + "\n  ".join(offenders)
    )


def test_the_checker_catches_each_kind_of_offence(tmp_path: Path) -> None:
    """The rule's own test: each forbidden form is reported (a checker that finds nothing is not
    proof of anything)."""
    sample = tmp_path / "sample.py"
    sample_text = (
        "import sqlalchemy\n"
        "from sqlmodel import select\n"
        "from archiver.index.models import CaptureRow\n"
        "from archiver.index.db import session_scope\n"
        "from archiver.index import models\n"
        "from sqlalchemy import text as sql\n"
        "conn.exec_driver_sql('SELECT 1')\n"
        "sql('SELECT 1')\n"
        "path.write_text('not SQL')\n"
    )
    sample.write_text(sample_text, encoding="utf-8")
    try:
        found = _offences(sample, tmp_path)
    finally:
        sample.unlink()
    lines = sorted(int(f.split(":")[1].split()[0]) for f in found)
    assert lines == [1, 2, 3, 4, 5, 6, 7, 8], found


def test_allowed_exceptions_still_exist_and_still_need_it() -> None:
    for rel, reason in ALLOWED.items():
        assert reason, rel
        assert _offences(ROOT / rel), f"{rel} no longer breaks the rule: drop it from the list"

"""Engine, sessions and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, create_engine

from archiver.errors import DatabaseError

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
            cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> str:
    """Create or upgrade the schema to the newest revision; returns that revision."""
    try:
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except OperationalError as exc:
        raise unreachable(engine, exc) from None
    return str(row[0]) if row else ""


def unreachable(engine: Engine, exc: SQLAlchemyError) -> DatabaseError:
    """The error for an index database that cannot be used at all (server down, wrong URL,
    disk full, a file that cannot be opened), with the remedy; never "no schema"."""
    orig = getattr(exc, "orig", None)
    cause = (str(orig or exc).strip().splitlines() or [type(exc).__name__])[0]
    if "full" in cause.lower():
        remedy = "free space on the database's disk, then run it again"
    elif engine.dialect.name == "sqlite":
        remedy = (
            "check ARCHIVER_DATABASE_URL / ARCHIVER_DATA_DIR, that the file's folder exists and "
            "can be written, and that its disk has free space"
        )
    else:
        remedy = "check ARCHIVER_DATABASE_URL and that the server runs and accepts connections"
    verb = "open" if engine.dialect.name == "sqlite" else "reach"
    return DatabaseError(
        f"cannot {verb} the index database {engine.url.render_as_string()}: {cause}; {remedy}"
    )


def is_initialized(engine: Engine) -> bool:
    """True when the schema exists (``archiver init`` has run), False when the database answers
    without it. Raises DatabaseError (:func:`unreachable`) when the database cannot be asked."""
    try:
        return inspect(engine).has_table("captures")
    except SQLAlchemyError as exc:
        raise unreachable(engine, exc) from None


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise

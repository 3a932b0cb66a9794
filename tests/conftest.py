"""Test fixtures: the no-internet guard, the two backends, the simulator, the corpus."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from archiver.clock import Clock
from archiver.config import load_settings
from archiver.logging import configure_logging
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from archiver.simulator.platforms.wechat import DEMO_CREDENTIALS

pytest_plugins = ["tests.fixtures_s3"]

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


configure_logging("console", "info")  # to stderr, as in production
# The demo policies name their WeChat credentials by environment variable, as `archiver demo` sets
# them; every test (and every subprocess it starts) sees the simulator's, whatever the test order.
for _name, _value in DEMO_CREDENTIALS.items():
    os.environ.setdefault(_name, _value)


# --- no internet: only loopback ------------------------------------------------------------------


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = str(address[0])
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name: would need DNS, i.e. the outside world


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a socket to a non-loopback address."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach {address!r}: only loopback is allowed")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach {address!r}: only loopback is allowed")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


# --- the simulator and the corpus ---------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(corpus_dir=CORPUS if CORPUS.is_dir() else None) as simulator:
        simulator.start()
        yield simulator


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real recordings folder {CORPUS.name}/ (../shared/corpus) is absent here")
    return CORPUS


# --- backends: embedded (SQLite + files) and services (PostgreSQL + SeaweedFS S3) -------------


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it (fast) and drops its clone."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required for the services backend: {exc}")
    name = f"archiver_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    from archiver.index.db import make_engine, migrate

    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    migrate(engine)
    engine.dispose()
    try:
        yield name
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@contextmanager
def scratch_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a clone of ``template``, else empty) for one test; its URL."""
    import psycopg

    name = f"archiver_t_{uuid.uuid4().hex[:10]}"
    clone = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clone}')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    with scratch_database(pg_template) as url:
        yield url


@pytest.fixture(params=["embedded", "services"])
def backend(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings overrides for one backend; the same test body runs on both."""
    if request.param == "embedded":
        return {}
    pg = request.getfixturevalue("pg_url")
    bucket_url = request.getfixturevalue("s3_bucket_url")
    return {"database_url": pg, "storage_url": bucket_url}


MakeRuntime = Callable[..., Runtime]


@pytest.fixture
def make_runtime(tmp_path: Path, backend: dict[str, str], sim: Simulator) -> MakeRuntime:
    """Build a Runtime over the demo policies (or ``policies=...``) on the current backend."""

    def make(
        policies: Path | None = None,
        *,
        create: bool = True,
        clock: Clock | None = None,
        **overrides: Any,
    ) -> Runtime:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "policies": policies or ROOT / "policies" / "demo",
            "allow_private_networks": True,
            "actor": "test-operator",
            "actor_override": True,  # tests name their actors (alice plans, bob approves)
            "http_backoff_base": 0.01,  # retries still happen, without seconds of waiting
            **backend,
            **overrides,
        }
        settings = load_settings({}, **values)
        return Runtime.build(
            settings, create=create, clock=clock, variables={"SIMULATOR_URL": sim.base_url}
        )

    return make


def archiver_env(rt: Runtime | None = None, **settings: object) -> dict[str, str]:
    """Environment for an ``archiver`` subprocess: this process's without its ``ARCHIVER_``
    variables, then ``rt``'s data dir, index, store and policies, then ``settings`` (setting names,
    e.g. ``health_addr=...``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    values: dict[str, object] = {}
    if rt is not None:
        values.update(
            data_dir=rt.settings.data_dir,
            database_url=rt.settings.effective_database_url,
            storage_url=rt.settings.effective_storage_url,
            policies=rt.settings.policies,
            allow_private_networks="true",
        )
    if "actor" in settings:
        values["actor_override"] = "true"  # a test that names its actor is allowed to
    values.update(settings)
    env.update({f"ARCHIVER_{name.upper()}": str(value) for name, value in values.items()})
    return env


def write_policy(folder: Path, text: str, name: str = "p.yaml") -> Path:
    """Write a policy file into ``folder`` (created) and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder

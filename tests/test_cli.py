"""The CLI contract: --json fields and exit codes, run as an operator would (subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archiver.simulator import Simulator
from tests.conftest import ROOT


@pytest.fixture
def cli(tmp_path: Path, sim: Simulator) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(
        ARCHIVER_DATA_DIR=str(tmp_path / "data"),
        ARCHIVER_POLICIES=str(ROOT / "policies" / "demo"),
        ARCHIVER_ALLOW_PRIVATE_NETWORKS="true",
        ARCHIVER_ACTOR="cli-test",
        ARCHIVER_ACTOR_OVERRIDE="true",
        SIMULATOR_URL=sim.base_url,
    )

    def run(
        *args: str, code: int = 0, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            [sys.executable, "-m", "archiver.cli.main", *args],
            capture_output=True,
            env={**env, **(extra or {})},
            timeout=120,
        )
        assert proc.returncode == code, proc.stderr.decode()
        return proc

    return run


def as_json(proc: subprocess.CompletedProcess[bytes]) -> Any:
    return json.loads(proc.stdout)


def test_cli_story_with_json_contract(cli: Any, sim: Simulator, tmp_path: Path) -> None:
    cli("init")
    first = as_json(cli("capture", "demo-nasa-news", "--json"))
    assert {"capture_id", "account", "status", "records", "bytes", "warc_files", "posts"} <= set(
        first
    )
    assert first["status"] == "ok" and set(first["posts"]) >= {"new", "edited", "deleted"}
    sim.advance()
    second = as_json(cli("capture", "demo-nasa-news", "--json"))
    assert second["posts"]["edited"] == 1

    captures = as_json(cli("captures", "list", "--json"))
    assert [c["capture_id"] for c in captures] == [second["capture_id"], first["capture_id"]]
    assert {"capture_id", "account", "status", "started_at"} <= set(captures[0])

    posts = as_json(cli("posts", "list", "--account", "demo-nasa-news", "--json"))
    fields = {"post_id", "account", "url", "text", "published_at", "captured_at"}
    assert len(posts) == 6 and all(fields <= set(p) for p in posts)
    edited = as_json(cli("posts", "list", "--account", "demo-nasa-news", "--edited", "--json"))
    assert len(edited) == 1

    hits = as_json(cli("search", "nasa", "--account", "demo-nasa-news", "--json"))
    assert hits and all(fields <= set(h) for h in hits)
    none = as_json(cli("search", "nasa", "--until", "2000-01-01", "--json"))
    assert none == []

    history = as_json(cli("history", edited[0]["post_id"], "--json"))
    assert history["post_id"] == edited[0]["post_id"] and history["url"]
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert all(v["captured_at"] for v in history["versions"])

    feed_url = sim.base_url + "/www.nasa.gov/news-release/feed/"
    out = tmp_path / "feed.xml"
    cli("extract", feed_url, "--at", history["versions"][0]["captured_at"], "-o", str(out))
    first_feed = out.read_bytes()
    refused = cli("extract", feed_url, "-o", str(out), code=2)
    assert b"--force" in refused.stderr and out.read_bytes() == first_feed, "never overwritten"
    folder = cli("extract", feed_url, "-o", str(tmp_path), code=2)
    assert b"is a folder" in folder.stderr and b"Traceback" not in folder.stderr
    cli("extract", feed_url, "-o", str(out), "--force")
    assert first_feed != out.read_bytes(), "--at picks the version live at that time"
    assert b"<rss" in first_feed

    shown = as_json(cli("captures", "show", first["capture_id"], "--json"))
    assert shown["warcs"][0]["status"] == "stored"


def test_exit_codes(cli: Any, tmp_path: Path) -> None:
    cli("init")
    cli("capture", "no-such-account", code=2)
    cli("history", "no-such-post", code=1)
    cli("search", "***", code=2)
    cli("search", "x", "--since", "yesterday", code=2)
    cli("policies", "check", code=2, extra={"ARCHIVER_FROBNICATE": "1"})
    failed = as_json(
        cli(
            "capture",
            "demo-nasa-news",
            "--json",
            code=1,
            extra={"ARCHIVER_ALLOW_PRIVATE_NETWORKS": "false"},
        )
    )
    assert failed["status"] == "failed"
    assert "ALLOW_PRIVATE_NETWORKS" in failed["error"]


def test_uninitialized_index_says_to_run_init(cli: Any) -> None:
    proc = cli("captures", "list", code=2)
    assert b"archiver init" in proc.stderr


def test_policies_show_json(cli: Any) -> None:
    shown = as_json(cli("policies", "show", "--json"))
    assert {a["id"] for a in shown["accounts"]} >= {"demo-nasa-news", "demo-usgs-quakes"}
    assert any(s["id"] == "unscheduled" and s["unscheduled"] for s in shown["series"])


def test_governance_cli_contract(cli: Any, tmp_path: Path) -> None:
    cli("init")
    cli("capture", "demo-usgs-quakes")
    hold = as_json(
        cli(
            "hold",
            "add",
            "FOIA-17",
            "--reason",
            "records request",
            "--account",
            "demo-usgs-quakes",
            "--json",
        )
    )
    assert hold["hold_id"] and hold["captures_covered"] == 1
    assert [h["hold_id"] for h in as_json(cli("hold", "list", "--json"))] == [hold["hold_id"]]
    forecast = as_of = as_json(
        cli(
            "retention",
            "plan",
            "--as-of",
            "2030-01-01",
            "--json",
            extra={"ARCHIVER_ACTOR": "alice"},
        )
    )
    assert forecast["forecast"] is True
    refused = cli(
        "retention", "approve", forecast["plan_id"], code=2, extra={"ARCHIVER_ACTOR": "bob"}
    )
    assert b"forecast" in refused.stderr and b"2030-01-01" in refused.stderr
    plan = as_json(cli("retention", "plan", "--json", extra={"ARCHIVER_ACTOR": "alice"}))
    assert plan["forecast"] is False and as_of["blocked"]
    assert {"plan_id", "as_of", "eligible", "blocked"} <= set(plan)
    assert plan["eligible"] == []
    assert plan["blocked"][0]["reason"].startswith("hold")
    assert {"capture_id", "reason"} <= set(plan["blocked"][0])
    proc = cli("retention", "approve", plan["plan_id"], code=2, extra={"ARCHIVER_ACTOR": "alice"})
    assert b"cannot approve" in proc.stderr
    cli("retention", "approve", plan["plan_id"], extra={"ARCHIVER_ACTOR": "bob"})
    cli("retention", "approve", plan["plan_id"], code=2, extra={"ARCHIVER_ACTOR": "carol"})
    released = as_json(cli("hold", "release", hold["hold_id"], "--reason", "closed", "--json"))
    assert released["active"] is False
    done = as_json(cli("retention", "dispose", plan["plan_id"], "--json"))
    assert done["destroyed"] == [] and done["certificate_key"]


def test_integrity_checks_exit_3_on_tamper(cli: Any, tmp_path: Path) -> None:
    import sqlite3

    cli("init")
    result = as_json(cli("capture", "demo-nasa-news", "--json"))
    assert as_json(cli("audit", "verify", "--json"))["ok"] is True
    fixity = as_json(cli("verify", "--all", "--json"))
    assert fixity["ok"] is True and fixity["checked"] == 1
    [stored] = list((tmp_path / "data" / "store").rglob(result["warc_files"][0]))
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF
    stored.write_bytes(bytes(data))
    bad = as_json(cli("verify", "--json", code=3))
    assert [p["kind"] for p in bad["problems"]] == ["changed"]
    with sqlite3.connect(tmp_path / "data" / "archiver.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1")
    broken = as_json(cli("audit", "verify", "--json", code=3))
    assert broken["first_broken_seq"] == 1


def test_errors_are_plain_text_never_markup(cli: Any, tmp_path: Path) -> None:
    policies = tmp_path / "p"
    policies.mkdir()
    (policies / "p.yaml").write_text(
        "accounts:\n  - id: a\n    agency: '[bold]Agency[/bold]'\n    platform: nope\n"
    )
    proc = cli("policies", "check", code=2, extra={"ARCHIVER_POLICIES": str(policies)})
    text = proc.stderr.decode()
    assert "p.yaml:4:" in text and "'nope' is not allowed" in text
    assert "Traceback" not in text

"""At 80 columns every table shows its ids whole (capture, post, account, plan, hold ids):
ids never wrap nor get cut to ``20261202T0…``; other columns wrap or are left out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archiver.simulator import Simulator
from tests.conftest import MakeRuntime, archiver_env
from tests.test_web import build_archive

EMBEDDED = pytest.mark.parametrize("backend", ["embedded"], indirect=True)


def _run(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", *args],
        env={**env, "COLUMNS": "80"},
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def _assert_whole(output: str, ids: list[str], what: str) -> None:
    assert ids, f"no {what} to look for"
    lines = output.splitlines()
    table_lines = [line for line in lines if line[:1] in "┏┃┡│└"]
    wide = [line for line in table_lines if len(line) > 80]
    assert table_lines and not wide, f"tables fit the terminal: {wide}"
    for ident in ids:
        assert any(ident in line for line in lines), f"{what} {ident} is not shown whole"


@EMBEDDED
def test_every_table_shows_whole_ids_at_80_columns(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    archive = build_archive(make_runtime(), sim)
    env = archiver_env(archive.rt)

    def as_json(*args: str) -> Any:
        return json.loads(_run(env, *args, "--json"))

    captures = as_json("captures", "list")
    out = _run(env, "captures", "list")
    _assert_whole(out, [c["capture_id"] for c in captures], "capture id")
    _assert_whole(out, sorted({c["account"] for c in captures}), "account id")

    for account in sorted({c["account"] for c in captures}):
        posts = as_json("posts", "list", "--account", account)
        _assert_whole(
            _run(env, "posts", "list", "--account", account),
            [p["post_id"] for p in posts],
            "post id",
        )

    hits = as_json("search", "mission*")
    _assert_whole(_run(env, "search", "mission*"), [h["post_id"] for h in hits], "post id")

    holds = as_json("hold", "list")
    _assert_whole(_run(env, "hold", "list"), [h["hold_id"] for h in holds], "hold id")

    out = _run(env, "retention", "plan")
    plan_ids = [line.split()[0] for line in out.splitlines() if line.startswith("plan-")]
    assert plan_ids, out
    plan = as_json("retention", "plan")
    items = plan["eligible"] + plan["blocked"]
    _assert_whole(out, [i["capture_id"] for i in items], "capture id")
    _assert_whole(out, sorted({i["account"] for i in items}), "account id")

    plans = as_json("retention", "list")
    _assert_whole(_run(env, "retention", "list"), [p["plan_id"] for p in plans], "plan id")
    out = _run(env, "retention", "show", plan["plan_id"])
    _assert_whole(out, [i["capture_id"] for i in items], "capture id")
    _assert_whole(out, sorted({i["account"] for i in items}), "account id")

    shown = as_json("policies", "show")
    out = _run(env, "policies", "show")
    _assert_whole(out, [a["id"] for a in shown["accounts"]], "account id")
    _assert_whole(out, [s["id"] for s in shown["series"]], "series id")

    provenance = as_json("show", archive.edited_post)
    out = _run(env, "show", archive.edited_post)
    _assert_whole(out, [v["capture_id"] for v in provenance["versions"]], "capture id")


def test_demo_tables_show_whole_account_ids_at_80_columns(tmp_path: Path) -> None:
    env = archiver_env()
    out = _run(
        {**env, "ARCHIVER_DATA_DIR": str(tmp_path / "data")},
        "demo",
        "--data-dir",
        str(tmp_path / "demo"),
    )
    accounts = [
        "demo-usgs-quakes",
        "demo-nasa-news",
        "demo-agency-rdf",
        "demo-usagov-page",
        "demo-usgs-mastodon",
        "demo-wechat",
    ]
    _assert_whole(out, accounts, "account id")
    files = [p.name for p in (tmp_path / "demo" / "store").rglob("*.warc.gz")]
    _assert_whole(out, files, "WARC file")

"""Retrieval on both backends: search filters and syntax, history diffs, provenance, extract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archiver.capture.job import capture_account
from archiver.errors import NotFoundError, UsageError
from archiver.governance.holds import HoldCriteria, add_hold
from archiver.retrieval import extract, provenance, word_diff
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import ROOT, MakeRuntime

NASA, USGS = "demo-nasa-news", "demo-usgs-quakes"


def story(make_runtime: MakeRuntime, sim: Simulator, **settings: Any) -> Runtime:
    """NASA captured over three rounds (one post edited, one deleted) and USGS once."""
    rt = make_runtime(**settings)
    for _ in range(3):
        capture_account(rt, NASA)
        sim.advance()
    capture_account(rt, USGS)
    return rt


def ids(posts: list[Any]) -> set[str]:
    return {p.post_id for p in posts}


def test_search_filters_phrases_and_prefixes(make_runtime: MakeRuntime, sim: Simulator) -> None:
    rt = story(make_runtime, sim)
    search = rt.index.search
    [edited] = rt.index.list_posts(NASA, edited=True)
    [deleted] = rt.index.list_posts(NASA, deleted=True)

    # phrase and prefix, on every version: the old wording of the edited post, the deleted post
    assert ids(search('"combined $1.8 million"')) == {edited.post_id}
    assert ids(search('"sea level measurements"')) == {deleted.post_id}
    assert deleted.post_id in ids(search("measure*"))
    assert ids(search('"level sea measurements"')) == set()  # a phrase keeps word order
    hits = search("satellite measurements")
    assert hits and hits[0].snippet and "[" in hits[0].snippet

    # filters
    assert ids(search("nasa", edited=True)) == {edited.post_id}
    assert ids(search("nasa", deleted=True)) == {deleted.post_id}
    assert ids(search("satellite", deleted=True)) == {deleted.post_id}
    assert ids(search("satellite", edited=True)) == set()
    quakes = search("km", series="demo-grs-6.4-020")
    assert quakes and {p.account for p in quakes} == {USGS}
    assert search("km", series="demo-press-permanent") == []
    assert search("nasa", platform="feed") and search("nasa", platform="mastodon") == []
    assert {p.account for p in search("nasa OR km", account=NASA)} <= {NASA}
    assert search("nasa", account=USGS) == []
    assert search("nasa", since=deleted.captured_at.replace(year=2100)) == []
    with pytest.raises(UsageError):
        search("***")


def test_word_diff_marks_insertions_and_deletions() -> None:
    pieces = word_diff("NASA selected small business $1.8 million", "NASA selected 14 small $2.1")
    assert ("insert", "14") in pieces
    assert ("delete", "business $1.8 million") in pieces and ("insert", "$2.1") in pieces
    assert word_diff("same words", "same  words") == [("equal", "same words")]


def test_provenance_of_capture_post_and_record(make_runtime: MakeRuntime, sim: Simulator) -> None:
    rt = story(make_runtime, sim)
    [edited] = rt.index.list_posts(NASA, edited=True)
    capture_id = rt.index.list_captures(NASA)[-1].capture_id
    hold, _ = add_hold(rt, "FOIA-9", "records request", HoldCriteria(account=NASA))

    shown = provenance(rt, capture_id)
    assert shown["kind"] == "capture" and shown["capture_id"] == capture_id
    assert shown["policy"]["hash"] and "demo.yaml:" in shown["policy"]["source"]
    assert shown["trigger"] == "cli" and shown["schedule"]["text"] == "PT6H"
    assert shown["warc_files"] and all(w["sha256"] for w in shown["warc_files"])
    assert shown["retain_until"] is None  # a permanent series never expires
    assert [h["hold_id"] for h in shown["holds"]] == [hold.hold_id]
    assert "capture" in {e["action"] for e in shown["audit_events"]}

    post = provenance(rt, edited.post_id)
    assert post["kind"] == "post" and [v["version"] for v in post["versions"]] == [1, 2]
    for v in post["versions"]:
        record = v["record"]
        assert record["warc_file"] and record["offset"] >= 0 and record["length"] > 0
        assert record["block_digest"].startswith("sha256:")
    assert {c["capture_id"] for c in post["captures"]} == {
        v["capture_id"] for v in post["versions"]
    }
    assert post["holds"] and post["events"][0]["kind"] == "edited"

    record_id = post["versions"][0]["record"]["record_id"]
    record = provenance(rt, record_id)
    assert record["kind"] == "record" and record["record"]["record_id"] == record_id
    with pytest.raises(NotFoundError):
        provenance(rt, "no-such-thing")


def test_extract_at_picks_the_version_live_then(make_runtime: MakeRuntime, sim: Simulator) -> None:
    rt = story(make_runtime, sim)
    [edited] = rt.index.list_posts(NASA, edited=True)
    _post, versions, _events = rt.index.history(edited.post_id)
    feed = rt.index.get_record(versions[0].record_id or "").target_uri
    assert feed
    first = extract(rt, feed, versions[0].captured_at)
    second = extract(rt, feed, versions[1].captured_at)
    latest = extract(rt, feed)
    assert first.record.record_id == versions[0].record_id
    assert second.record.record_id == versions[1].record_id
    assert b"$1.8 million" in first.content.payload
    assert b"$2.1 million" in second.content.payload
    assert latest.record.date >= second.record.date
    by_id = extract(rt, versions[0].record_id or "")
    assert by_id.content.block == first.content.block
    with pytest.raises(NotFoundError):
        extract(rt, feed, versions[0].captured_at.replace(year=2000))


# --- the commands, as an archivist runs them -------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, sim: Simulator) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(
        ARCHIVER_DATA_DIR=str(tmp_path / "data"),
        ARCHIVER_POLICIES=str(ROOT / "policies" / "demo"),
        ARCHIVER_ALLOW_PRIVATE_NETWORKS="true",
        ARCHIVER_ACTOR="archivist",
        ARCHIVER_ACTOR_OVERRIDE="true",
        SIMULATOR_URL=sim.base_url,
    )

    def run(*args: str, code: int = 0) -> Any:
        proc = subprocess.run(
            [sys.executable, "-m", "archiver.cli.main", *args],
            capture_output=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == code, proc.stderr.decode()
        return proc

    return run


def test_cli_search_history_show_and_export(cli: Any, sim: Simulator, tmp_path: Path) -> None:
    cli("init")
    first = json.loads(cli("capture", NASA, "--json").stdout)
    sim.advance()
    cli("capture", NASA)

    hits = json.loads(cli("search", "nasa", "--edited", "--platform", "feed", "--json").stdout)
    assert len(hits) == 1 and hits[0]["edited"] and hits[0]["rank"] == 1
    history = json.loads(cli("history", hits[0]["post_id"], "--json").stdout)
    assert {"post_id", "url", "versions"} <= set(history)
    changes = history["versions"][1]["changes"]
    assert {"op": "insert", "words": "14"} in changes and history["versions"][0]["changes"] == []
    shown = cli("history", hits[0]["post_id"]).stdout.decode()
    assert "{+14+}" in shown and "[-" in shown

    provenance = json.loads(cli("show", first["capture_id"], "--json").stdout)
    assert provenance["policy"]["source"] and provenance["warc_files"]
    assert first["capture_id"] in cli("show", hits[0]["post_id"]).stdout.decode()

    result = json.loads(
        cli(
            "export", "--account", NASA, "--format", "package", "-o", str(tmp_path / "p"), "--json"
        ).stdout
    )
    assert result["records"] > 0 and result["posts"] == 6 and result["manifest_sha256"]
    assert (tmp_path / "p" / "data" / "custody.txt").is_file()
    cli("export", "--account", NASA, "--series", "x", "-o", str(tmp_path / "q"), code=2)
    cli("export", "--account", NASA, "-o", str(tmp_path / "p"), code=2)
    cli("show", "nothing-like-this", code=1)

"""Public-records exports on both backends: exact record bytes, manifests, WACZ, custody."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.job import capture_account
from archiver.errors import NotFoundError, UsageError
from archiver.export.package import Selection, export_package, read_manifest
from archiver.export.wacz import surt, verify_wacz
from archiver.governance.holds import HoldCriteria, add_hold
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow
from archiver.runtime import Runtime
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime

NASA, USGS = "demo-nasa-news", "demo-usgs-quakes"
WARCIO = Path(sys.executable).parent / "warcio"


def story(make_runtime: MakeRuntime, sim: Simulator) -> Runtime:
    """NASA captured over three rounds (one post edited, one deleted) and USGS once."""
    rt = make_runtime()
    for _ in range(3):
        capture_account(rt, NASA)
        sim.advance()
    capture_account(rt, USGS)
    return rt


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_ids(path: Path) -> list[str]:
    with path.open("rb") as fh:
        return [r.rec_headers.get_header("WARC-Record-ID") for r in ArchiveIterator(fh)]


def warcio_check(path: Path) -> None:
    proc = subprocess.run([str(WARCIO), "check", "-v", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def assert_manifest_matches(root: Path) -> None:
    manifest = read_manifest((root / "manifest-sha256.txt").read_text())
    payload = {p.relative_to(root).as_posix() for p in (root / "data").rglob("*") if p.is_file()}
    assert set(manifest) == payload
    for rel, digest in manifest.items():
        assert sha256(root / rel) == digest, rel
    for rel, digest in read_manifest((root / "tagmanifest-sha256.txt").read_text()).items():
        assert sha256(root / rel) == digest, rel


def test_account_package_copies_exact_records_with_manifest_and_custody(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    import bagit

    rt = story(make_runtime, sim)
    head_before = rt.index.audit_chain_head()
    assert head_before is not None
    out = tmp_path / "foia-1"
    result = export_package(rt, Selection(account=NASA), out)

    assert_manifest_matches(out)
    bagit.Bag(str(out)).validate()

    expected = [r.record_id for r in rt.index.iter_records(rt.index.capture_ids(account=NASA))]
    copied: list[str] = []
    for warc in result.warc_files:
        path = out / "data" / "warc" / warc.name
        warcio_check(path)
        copied += record_ids(path)
        # whole captures were selected: the subset is the stored file, byte for byte
        stored = rt.index.get_warc(warc.name)
        assert stored is not None
        assert path.read_bytes() == rt.store.get_range(stored.key, 0)
        assert warc.sha256 == warc.source_sha256 == sha256(path)
    assert sorted(copied) == sorted(expected) and result.records == len(expected)

    with (out / "data" / "posts.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:8] == [
        "post_id",
        "account",
        "url",
        "published_at",
        "versions",
        "edited",
        "deleted",
        "text",
    ]
    assert len(rows) == result.posts == 6
    assert [r["deleted"] for r in rows].count("true") == 1
    assert [r["versions"] for r in rows if r["edited"] == "true"] == ["2"]
    assert (out / "data" / "posts.pdf").read_bytes().startswith(b"%PDF")

    custody = json.loads((out / "data" / "custody.json").read_text())
    assert custody["exported_by"] == "test-operator"
    assert custody["audit_chain_head"] == {
        "seq": head_before.seq,
        "hash": head_before.hash,
        "at": custody["audit_chain_head"]["at"],
    }
    assert head_before.hash in (out / "data" / "custody.txt").read_text()
    assert custody["counts"]["records"] == len(expected)

    with session_scope(rt.index.engine) as s:
        event = s.get(AuditEventRow, head_before.seq + 1)
        assert event is not None
        assert event.action == "export.created" and event.subject == result.export_id
        assert event.prev_hash == head_before.hash
        assert json.loads(event.payload)["manifest_sha256"] == sha256(out / "manifest-sha256.txt")


def test_query_export_as_wacz_zip_holds_the_matching_post_and_its_evidence(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = story(make_runtime, sim)
    [deleted] = rt.index.search('"sea level measurements"')
    assert deleted.deleted
    target = tmp_path / "request.zip"
    result = export_package(rt, Selection(query='"sea level measurements"'), target, fmt="wacz")
    assert result.posts == 1 and result.wacz_sha256

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(target) as zf:
        zf.extractall(unpacked)
    root = unpacked / result.export_id
    assert_manifest_matches(root)
    with (root / "data" / "posts.csv").open(newline="", encoding="utf-8") as fh:
        assert [r["post_id"] for r in csv.DictReader(fh)] == [deleted.post_id]

    wacz = root / "data" / f"{result.export_id}.wacz"
    assert sha256(wacz) == result.wacz_sha256
    assert verify_wacz(wacz) == []
    with zipfile.ZipFile(wacz) as zf:
        names = set(zf.namelist())
        assert {
            "datapackage.json",
            "datapackage-digest.json",
            "indexes/index.cdx",
            "pages/pages.jsonl",
        } <= names
        package = json.loads(zf.read("datapackage.json"))
        assert package["wacz_version"] == "1.1.1"
        assert {r["path"] for r in package["resources"]} == names - {
            "datapackage.json",
            "datapackage-digest.json",
        }
        for res in package["resources"]:
            body = zf.read(res["path"])
            assert res["hash"] == "sha256:" + hashlib.sha256(body).hexdigest()
            assert res["bytes"] == len(body)
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()
        cdx = zf.read("indexes/index.cdx").decode().splitlines()
        assert cdx == sorted(cdx) and cdx
        pages = zf.read("pages/pages.jsonl").decode().splitlines()
        assert json.loads(pages[0])["format"] == "json-pages-1.0"
        archived: list[str] = []
        for name in sorted(n for n in names if n.startswith("archive/")):
            path = tmp_path / Path(name).name
            path.write_bytes(zf.read(name))
            warcio_check(path)
            archived += record_ids(path)

    # every version's source record and the deletion evidence, plus each file's warcinfo
    _post, versions, events = rt.index.history(deleted.post_id)
    evidence = {v.record_id for v in versions} | {e.evidence_record_id for e in events}
    assert evidence - {None} <= set(archived)
    assert len(archived) == len(set(archived)) == result.records
    types = {rt.index.get_record(r).rec_type for r in archived}
    assert "warcinfo" in types
    everything = sum(1 for _ in rt.index.iter_records(rt.index.capture_ids(account=NASA)))
    assert result.records < everything  # a subset, not whole captures


def test_hold_export_takes_the_captures_the_hold_covers(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = story(make_runtime, sim)
    hold, covered = add_hold(rt, "FOIA-17", "records request", HoldCriteria(account=USGS))
    result = export_package(rt, Selection(hold=hold.hold_id), tmp_path / "held")
    custody = json.loads((tmp_path / "held" / "data" / "custody.json").read_text())
    assert custody["hold"]["hold_id"] == hold.hold_id
    assert custody["captures"] == rt.index.capture_ids(account=USGS) and covered == 1
    with (tmp_path / "held" / "data" / "posts.csv").open(newline="", encoding="utf-8") as fh:
        accounts = {r["account"] for r in csv.DictReader(fh)}
    assert accounts == {USGS} and result.posts == 4


def test_export_refuses_bad_selections_and_used_outputs(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    rt = make_runtime()
    capture_account(rt, USGS)
    with pytest.raises(UsageError):
        Selection()
    with pytest.raises(UsageError):
        Selection(account=USGS, series="x")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(UsageError):
        export_package(rt, Selection(account=USGS), used)
    assert (used / "keep.txt").read_text() == "mine"
    with pytest.raises(UsageError):
        export_package(rt, Selection(account=USGS), tmp_path / "x", fmt="tar")
    with pytest.raises(NotFoundError):
        export_package(rt, Selection(hold="hold-nope"), tmp_path / "y")
    with pytest.raises(NotFoundError):
        export_package(rt, Selection(account="nobody"), tmp_path / "z")
    assert not (tmp_path / "z").exists()


def test_index_reads_in_batches_give_the_same_rows(
    make_runtime: MakeRuntime, sim: Simulator
) -> None:
    rt = story(make_runtime, sim)
    caps = rt.index.capture_ids(account=NASA)
    whole = [r.record_id for r in rt.index.iter_records(caps)]
    assert [r.record_id for r in rt.index.iter_records(caps, batch=3)] == whole
    assert rt.index.count_records(caps) == len(whole) == len(set(whole))
    posts = [p.post_id for p in rt.index.iter_posts(account=NASA)]
    assert [p.post_id for p in rt.index.iter_posts(account=NASA, batch=2)] == posts
    some = posts[1:4]
    assert [p.post_id for p in rt.index.iter_posts(post_ids=some, batch=2)] == sorted(some)


def test_surt_keys() -> None:
    assert surt("https://www.NASA.gov/news/?b=2&a=1") == "gov,nasa)/news/?a=1&b=2"
    assert surt("http://127.0.0.1:8080/x") == "1,0,0,127:8080)/x"
    assert surt("urn:archiver:capture:1") == "urn:archiver:capture:1"

"""Transfer with receipt on both backends: a BagIt bag to the destination named in the policy,
the originals kept until `transfer confirm` records the receiving archives' receipt."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bagit
import pytest
from sqlmodel import select
from warcio.archiveiterator import ArchiveIterator

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.errors import StorageError, UsageError
from archiver.governance.disposition import approve_plan, execute_plan, get_plan, make_plan
from archiver.governance.holds import HoldCriteria, add_hold
from archiver.governance.transfer import confirm_transfer, list_transfers
from archiver.index.db import session_scope
from archiver.index.models import AuditEventRow, TombstoneRow
from archiver.runtime import Runtime
from archiver.storage import open_store
from tests.conftest import MakeRuntime, archiver_env, write_policy

NOW = datetime.now(UTC)
LONG_AGO = FrozenClock(NOW - timedelta(days=200))

POLICY = """\
series:
  - id: to-archives
    title: Official press releases (permanent, transferred after 30 days)
    authority: N1-TEST-2
    retention: P30D
    disposition: transfer
    transfer:
      destination: {destination}
      accession: NN-2026-0042
      transfer_request: TR-0042
      warc_version: "{warc_version}"
  - id: short
    title: Routine notices
    authority: DAA-TEST-1
    retention: P30D
accounts:
  - id: agency-news
    agency: Example Agency
    platform: feed
    url: ${{SIMULATOR_URL}}/www.example-agency.gov/news.rdf
    series: to-archives
    schedule: P1D
  - id: agency-quakes
    agency: Example Survey
    platform: feed
    url: ${{SIMULATOR_URL}}/earthquake.usgs.gov/earthquakes/feed/v1.0/summary/significant_month.atom
    series: short
    schedule: P1D
"""


@pytest.fixture
def destination(backend: dict[str, str], tmp_path: Path) -> str:
    """The receiving archives' store: a folder (embedded), a bucket of its own (services)."""
    if "storage_url" not in backend:
        return (tmp_path / "national-archives").as_uri()
    ours = backend["storage_url"]
    url = re.sub(r"^s3://[^/]+/[^?]*", f"s3://archives-{uuid.uuid4().hex[:10]}/accessions", ours)
    open_store(url).ensure_ready()
    return url


def setup(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str, warc_version: str = "1.1"
) -> tuple[Path, str, str]:
    """Both accounts captured 200 days ago; returns (policies, transfer capture, destroy one)."""
    folder = write_policy(
        tmp_path / "pol", POLICY.format(destination=destination, warc_version=warc_version)
    )
    old = make_runtime(policies=folder, clock=LONG_AGO)
    news = capture_account(old, "agency-news").capture_id
    quakes = capture_account(old, "agency-quakes").capture_id
    return folder, news, quakes


def actor(make_runtime: MakeRuntime, folder: Path, name: str) -> Runtime:
    return make_runtime(policies=folder, create=False, actor=name)


def approved_plan(make_runtime: MakeRuntime, folder: Path) -> str:
    plan = make_plan(actor(make_runtime, folder, "alice"))
    approve_plan(actor(make_runtime, folder, "bob"), plan.plan_id)
    return plan.plan_id


def fetch_bag(destination: str, bag_id: str, into: Path) -> bagit.Bag:
    """The bag as the receiving archives has it, as a folder bagit can validate."""
    if destination.startswith("file://"):
        return bagit.Bag(str(Path(destination.removeprefix("file://")) / bag_id))
    store = open_store(destination)
    for info in store.list(f"{bag_id}/"):
        target = into / info.key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_range(info.key, 0))
    return bagit.Bag(str(into / bag_id))


def events(rt: Runtime, action: str) -> list[AuditEventRow]:
    with session_scope(rt.index.engine) as s:
        return list(s.exec(select(AuditEventRow).where(AuditEventRow.action == action)))


def test_transfer_keeps_the_originals_until_the_receipt_is_recorded(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str
) -> None:
    folder, news, quakes = setup(make_runtime, tmp_path, destination)
    plan_id = approved_plan(make_runtime, folder)
    rt = actor(make_runtime, folder, "carol")
    originals = {w.key: w.sha256 for w in rt.index.list_warcs(capture_id=news)}

    sent = execute_plan(rt, plan_id)
    assert sent.pending_receipt == [news] and sent.transferred == []
    assert sent.destroyed == [quakes], "the plan's destructions proceed"
    assert get_plan(rt, plan_id).status == "transferred_pending_receipt"
    assert all(rt.store.exists(k) for k in originals), "no original leaves before the receipt"
    assert rt.index.get_capture(news).status != "disposed"
    [bag_row] = list_transfers(rt, plan_id)
    assert bag_row.status == "sent" and bag_row.location in sent.bags

    bag = fetch_bag(destination, bag_row.bag_id, tmp_path / "received")
    bag.validate()
    info = bag.info
    assert info["Series-Title"] == "Official press releases (permanent, transferred after 30 days)"
    assert info["Records-Authority"] == "N1-TEST-2"
    assert info["Source-Organization"] == info["Agency"] == "Example Agency"
    assert info["Accession-Number"] == "NN-2026-0042"
    assert info["Transfer-Request-Number"] == "TR-0042"
    assert info["Bagging-Date"] == rt.clock.now().date().isoformat()
    payload = {Path(p).name: Path(bag.path) / p for p in bag.payload_files()}
    octets = sum(p.stat().st_size for p in payload.values())
    assert info["Payload-Oxum"] == f"{octets}.{len(payload)}"
    for key, sha in originals.items():
        name = key.rsplit("/", 1)[1]
        assert hashlib.sha256(payload[name].read_bytes()).hexdigest() == sha
    listing = payload["posts.csv"].read_text(encoding="utf-8").splitlines()
    assert len(listing) > 1 and "post_id" in listing[0]
    assert not any(quakes in line for line in listing)

    again = make_plan(actor(make_runtime, folder, "alice"))
    reasons = {i.capture_id: i.reason or "" for i in again.blocked}
    assert "awaiting the receipt" in reasons[news], "a sent capture is in no second plan"

    receipt = tmp_path / "receipt.xml"
    receipt.write_text("<receipt><accession>NN-2026-0042</accession>accepted</receipt>\n")
    done = confirm_transfer(actor(make_runtime, folder, "dave"), plan_id, receipt)
    assert done.disposition.transferred == [news] and done.disposition.complete
    assert done.status == "executed" == get_plan(rt, plan_id).status
    assert not any(rt.store.exists(k) for k in originals)
    assert rt.index.get_capture(news).status == "disposed"
    with session_scope(rt.index.engine) as s:
        stones = {t.capture_id: t.action for t in s.exec(select(TombstoneRow))}
    assert stones == {news: "transferred", quakes: "destroyed"}
    digest = hashlib.sha256(receipt.read_bytes()).hexdigest()
    [confirmed] = events(rt, "transfer.confirmed")
    payload_json = json.loads(confirmed.payload)
    assert confirmed.actor == "dave"
    assert payload_json["receipt_sha256"] == digest == done.receipt_sha256
    assert payload_json["receipt"] == receipt.read_text()
    assert rt.store.get_range(done.receipt_key, 0) == receipt.read_bytes()
    cert = json.loads(rt.store.get_range(f"certificates/{plan_id}-transfer.json", 0))
    assert cert["certificate"] == "records transfer" and cert["transferred"] == [news]
    assert cert["transfer"][0]["receipt_sha256"] == digest
    html = rt.store.get_range(f"certificates/{plan_id}-transfer.html", 0)
    assert b"Certificate of records transfer" in html

    with pytest.raises(UsageError, match="executed") as twice:
        confirm_transfer(actor(make_runtime, folder, "dave"), plan_id, receipt)
    assert twice.value.exit_code == 2


def test_confirm_is_refused_before_execution_and_for_a_destruction_plan(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str
) -> None:
    folder, news, _ = setup(make_runtime, tmp_path, destination)
    receipt = tmp_path / "receipt.txt"
    receipt.write_text("accepted\n")
    plan_id = approved_plan(make_runtime, folder)
    with pytest.raises(UsageError, match="nothing was transferred yet") as early:
        confirm_transfer(actor(make_runtime, folder, "dave"), plan_id, receipt)
    assert early.value.exit_code == 2

    rt = actor(make_runtime, folder, "alice")
    other = make_plan(rt, series="short")  # quakes is pending in the first plan: nothing here
    with pytest.raises(UsageError, match="transfers nothing") as wrong:
        confirm_transfer(actor(make_runtime, folder, "dave"), other.plan_id, receipt)
    assert wrong.value.exit_code == 2
    assert rt.store.exists(rt.index.list_warcs(capture_id=news)[0].key)


def test_a_destination_that_refuses_the_bag_deletes_nothing(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str
) -> None:
    if destination.startswith("file://"):
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the archives' folder should be")
        refusing = (blocker / "accessions").as_uri()
    else:  # an S3 endpoint that answers nobody (SeaweedFS would create a missing bucket)
        from tests.processes import free_port

        refusing = re.sub(
            r"endpoint_url=[^&]+", f"endpoint_url=http://127.0.0.1:{free_port()}", destination
        )
    folder, news, quakes = setup(make_runtime, tmp_path, refusing)
    plan_id = approved_plan(make_runtime, folder)
    rt = actor(make_runtime, folder, "carol")
    keys = [w.key for c in (news, quakes) for w in rt.index.list_warcs(capture_id=c)]
    with pytest.raises(StorageError) as refused:
        execute_plan(rt, plan_id)
    assert refused.value.exit_code == 1
    assert all(rt.store.exists(k) for k in keys), "nothing deleted, destructions included"
    assert {rt.index.get_capture(c).status for c in (news, quakes)} == {"ok"}
    assert get_plan(rt, plan_id).status == "approved" and list_transfers(rt, plan_id) == []


def test_a_hold_placed_before_the_receipt_keeps_the_original(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str
) -> None:
    folder, news, _ = setup(make_runtime, tmp_path, destination)
    plan_id = approved_plan(make_runtime, folder)
    execute_plan(actor(make_runtime, folder, "carol"), plan_id)
    rt = actor(make_runtime, folder, "dave")
    add_hold(rt, "FOIA-7", "records request", HoldCriteria(account="agency-news"))
    receipt = tmp_path / "receipt.txt"
    receipt.write_text("accepted\n")
    done = confirm_transfer(rt, plan_id, receipt)
    assert done.disposition.transferred == [] and "hold" in done.disposition.skipped[news]
    assert all(rt.store.exists(w.key) for w in rt.index.list_warcs(capture_id=news))


def _records(data: bytes, *, parse: bool) -> list[Any]:
    import io

    out = []
    for record in ArchiveIterator(io.BytesIO(data), no_record_parse=not parse):
        out.append(
            (
                record.rec_headers.protocol,
                dict(record.rec_headers.headers),
                record.content_stream().read() if parse else record.raw_stream.read(),
            )
        )
    return out


def test_warc_1_0_bag_keeps_every_payload_byte_identical(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str
) -> None:
    folder, news, _ = setup(make_runtime, tmp_path, destination, warc_version="1.0")
    plan_id = approved_plan(make_runtime, folder)
    rt = actor(make_runtime, folder, "carol")
    originals = {w.name: rt.store.get_range(w.key, 0) for w in rt.index.list_warcs(capture_id=news)}
    execute_plan(rt, plan_id)
    [bag_row] = list_transfers(rt, plan_id)
    assert bag_row.warc_version == "1.0"
    bag = fetch_bag(destination, bag_row.bag_id, tmp_path / "received")
    bag.validate()
    assert bag.info["WARC-Version"] == "1.0"
    for name, source in originals.items():
        rewritten = (Path(bag.path) / "data" / "warcs" / name).read_bytes()
        for parse in (False, True):  # whole blocks, then payloads as warcio decodes them
            before, after = _records(source, parse=parse), _records(rewritten, parse=parse)
            assert len(after) == len(before) > 2
            for (_, old_headers, old_body), (version, headers, body) in zip(
                before, after, strict=True
            ):
                assert version == "WARC/1.0"
                assert body == old_body
                assert headers["WARC-Record-ID"] == old_headers["WARC-Record-ID"]
                assert headers["WARC-Block-Digest"] == old_headers["WARC-Block-Digest"]
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", headers["WARC-Date"])
                assert headers["WARC-Date"][:19] == old_headers["WARC-Date"][:19]
        # warcio checks every block and payload digest of the 1.0 file
        import io

        for _ in ArchiveIterator(io.BytesIO(rewritten), check_digests="raise"):
            pass


def test_cli_transfer_confirm_json_and_exit_codes(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str
) -> None:
    folder, news, _ = setup(make_runtime, tmp_path, destination)
    plan_id = approved_plan(make_runtime, folder)
    rt = actor(make_runtime, folder, "carol")
    receipt = tmp_path / "receipt.json"
    receipt.write_text('{"accepted": true}\n')

    def run(*args: str, code: int, who: str = "dave") -> subprocess.CompletedProcess[bytes]:
        env = archiver_env(rt, actor=who)
        env["SIMULATOR_URL"] = rt.variables["SIMULATOR_URL"]
        proc = subprocess.run(
            [sys.executable, "-m", "archiver.cli.main", *args],
            capture_output=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == code, proc.stderr.decode()
        return proc

    run("transfer", "confirm", plan_id, "--receipt", str(receipt), code=2)  # not executed
    sent = json.loads(run("retention", "dispose", plan_id, "--json", code=0, who="carol").stdout)
    assert sent["pending_receipt"] == [news] and sent["bags"]
    shown = json.loads(run("transfer", "show", plan_id, "--json", code=0).stdout)
    assert shown[0]["status"] == "sent" and shown[0]["captures"] == [news]
    done = json.loads(
        run("transfer", "confirm", plan_id, "--receipt", str(receipt), "--json", code=0).stdout
    )
    assert done["status"] == "executed" and done["transferred"] == [news]
    assert done["receipt_sha256"] == hashlib.sha256(receipt.read_bytes()).hexdigest()
    proc = run("transfer", "confirm", plan_id, "--receipt", str(receipt), code=2)
    assert b"executed" in proc.stderr


def test_permanent_transfer_after_fifteen_years_plans_a_transfer_at_the_end(
    make_runtime: MakeRuntime, tmp_path: Path, destination: str
) -> None:
    text = POLICY.format(destination=destination, warc_version="1.1").replace(
        "retention: P30D\n    disposition: transfer", "retention: P15Y\n    disposition: transfer"
    )
    folder = write_policy(tmp_path / "pol", text)
    news = capture_account(make_runtime(policies=folder), "agency-news").capture_id
    rt = actor(make_runtime, folder, "alice")
    [item] = [i for i in make_plan(rt).blocked if i.capture_id == news]
    assert (item.reason or "").startswith("not yet due")
    forecast = make_plan(rt, as_of=NOW + timedelta(days=15 * 366))
    assert forecast.forecast
    assert [(i.capture_id, i.action) for i in forecast.eligible if i.series == "to-archives"] == [
        (news, "transfer")
    ]

"""Transfer to a receiving archives: a BagIt bag per series, then deletion only on receipt.

Executing an approved plan (:func:`archiver.governance.disposition.execute_plan`) calls
:func:`send_transfer` for its ``transfer`` items: one bag per series, written to the series'
``transfer.destination`` (``file:///folder`` or ``s3://bucket/prefix?...``), the originals kept,
the plan ``transferred_pending_receipt``. :func:`confirm_transfer` records the receiving
archives' receipt (its exact bytes in the store, its SHA-256 and content in the index and the
audit chain) and only then deletes the originals through the disposition path, which re-checks
holds and respects Object Lock, keeps tombstones and certifies a "records transfer".

A bag::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    data/warcs/*.warc.gz   the captures' WARC files (exact bytes, or rewritten as WARC/1.0)
    data/posts.csv         one row per post of those captures
    data/index.json        per WARC file: its capture, source key and SHA-256, its records
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from archiver import __version__
from archiver.errors import NotFoundError, StorageError, UsageError
from archiver.export.listing import write_csv
from archiver.export.package import write_bag
from archiver.governance.audit import record_event
from archiver.governance.disposition import (
    DispositionResult,
    Plan,
    PlanItem,
    disposable_now,
    dispose_items,
    get_plan,
)
from archiver.index.api import jsonable
from archiver.index.governance import SentBag as SentBag
from archiver.policy.model import UNSCHEDULED, TransferTarget
from archiver.runtime import Runtime
from archiver.storage import open_store
from archiver.warc.downgrade import write_warc10

PENDING_RECEIPT = "transferred_pending_receipt"
RECEIPT_RECORDED = "transfer_confirmed"  # receipt recorded, some originals not yet deleted
MAX_RECEIPT_IN_AUDIT = 64 * 1024  # a longer receipt is in the store; the audit keeps its digest


def list_transfers(rt: Runtime, plan_id: str | None = None) -> list[SentBag]:
    """Every bag sent (of one plan, or all), oldest first."""
    return rt.index.governance.transfers(plan_id)


def _fill_bag(
    rt: Runtime, root: Path, items: list[PlanItem], target: TransferTarget
) -> dict[str, Any]:
    """The payload of one bag under ``root/data``; returns what bag-info says about it."""
    data = root / "data"
    warcs_dir = data / "warcs"
    warcs_dir.mkdir(parents=True)
    ids = [i.capture_id for i in items]
    extract: list[dict[str, Any]] = []
    for item in items:
        for warc in rt.index.list_warcs(capture_id=item.capture_id):
            path = warcs_dir / warc.name
            with rt.store.open_read(warc.key) as src, path.open("wb") as out:
                if target.warc_version == "1.0":
                    write_warc10(src, out)
                else:
                    shutil.copyfileobj(src, out, 1024 * 1024)
            extract.append(
                {
                    "warc": warc.name,
                    "warc_version": target.warc_version,
                    "source_key": warc.key,
                    "source_sha256": warc.sha256,
                    "source_bytes": warc.size,
                    "capture": rt.index.get_capture(item.capture_id),
                    "records": rt.index.records_of_capture(item.capture_id),
                }
            )
    with (data / "posts.csv").open("w", encoding="utf-8", newline="") as fh:
        posts = write_csv(rt.index.iter_posts(capture_ids=ids), fh)
    (data / "index.json").write_text(
        json.dumps(jsonable(extract), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    accounts = rt.policies.accounts if rt.policies else {}
    agencies = sorted({accounts[i.account].agency for i in items if i.account in accounts})
    return {"agencies": agencies, "posts": posts, "warcs": len(extract)}


def _deliver(bag: Path, destination: str, bag_id: str) -> str:
    """Write the bag folder to ``destination`` under ``bag_id``; returns where it is. Raises
    StorageError when the destination refuses (nothing of the archive is changed then)."""
    parts = urlsplit(destination)
    if parts.scheme == "file":
        folder = Path(unquote(parts.path))
        final = folder / bag_id
        partial = folder / f".{bag_id}.part"
        try:
            if final.exists():
                raise StorageError(
                    f"transfer destination {destination} already holds {bag_id}; move it away "
                    "or name another destination"
                )
            folder.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(bag, partial)
            partial.replace(final)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise StorageError(
                f"transfer destination {destination} refused the bag: "
                f"{exc.strerror or exc}; check the folder, then run the plan again"
            ) from None
        return final.as_uri()
    store = open_store(destination)
    for path in sorted(p for p in bag.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        store.put_file(f"{bag_id}/{path.relative_to(bag).as_posix()}", path, sha256=digest)
    return f"{store.url.split('?', 1)[0].rstrip('/')}/{bag_id}/"


def send_transfer(
    rt: Runtime, plan: Plan, items: list[PlanItem], fallback_dir: Path | None = None
) -> list[SentBag]:
    """Package ``items`` as one BagIt bag per series and write each to its series' destination
    (``fallback_dir`` or ``DATA_DIR/transfers`` where the policy names none); audited
    ``transfer.sent``. Deletes nothing. A series already sent under this plan is not sent again
    (a plan re-executed after a refusal). Raises StorageError when a destination refuses."""
    import bagit

    policies = rt.policies or rt.reload_policies()
    done = {b.series: b for b in list_transfers(rt, plan.plan_id)}
    by_series: dict[str, list[PlanItem]] = {}
    for item in items:
        by_series.setdefault(item.series, []).append(item)
    sent: list[SentBag] = []
    for series_id, group in sorted(by_series.items()):
        if series_id in done:
            sent.append(done[series_id])
            continue
        series = policies.series.get(series_id, UNSCHEDULED)
        target = series.transfer or TransferTarget()
        local = fallback_dir or rt.settings.data_dir / "transfers"
        destination = target.destination or local.resolve().as_uri()
        bag_id = f"{plan.plan_id}-{series_id}"
        now = rt.clock.now()
        rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{bag_id}-", dir=rt.settings.data_dir))
        try:
            root = scratch / bag_id
            facts = _fill_bag(rt, root, group, target)
            info = {
                "Source-Organization": "; ".join(facts["agencies"]) or "unknown agency",
                "Contact-Name": rt.settings.actor,
                "External-Identifier": bag_id,
                "External-Description": (
                    f"{series.title}: {len(group)} capture(s), {facts['warcs']} WARC file(s), "
                    f"{facts['posts']} post(s), transferred under disposition plan {plan.plan_id}"
                ),
                "Bagging-Date": now.date().isoformat(),
                "Bag-Software-Agent": f"archiver/{__version__}",
                "Bag-Group-Identifier": target.transfer_request or target.accession or bag_id,
                "Series-Id": series.id,
                "Series-Title": series.title,
                "Records-Authority": series.authority or "none",
                "Agency": "; ".join(facts["agencies"]) or "unknown agency",
                "Accession-Number": target.accession or "none",
                "Transfer-Request-Number": target.transfer_request or "none",
                "WARC-Version": target.warc_version,
                "Disposition-Plan": plan.plan_id,
            }
            manifest_sha, _ = write_bag(root, info)
            bag = bagit.Bag(str(root))
            bag.validate()
            location = _deliver(root, destination, bag_id)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        record = SentBag(
            bag_id=bag_id,
            plan_id=plan.plan_id,
            series=series_id,
            destination=destination,
            location=location,
            accession=target.accession,
            transfer_request=target.transfer_request,
            warc_version=target.warc_version,
            captures=[i.capture_id for i in group],
            manifest_sha256=manifest_sha,
            payload_oxum=str(bag.info["Payload-Oxum"]),
            status="sent",
            sent_by=rt.settings.actor,
            sent_at=now,
        )
        rt.index.governance.add_transfer(record)
        record_event(
            rt,
            "transfer.sent",
            bag_id,
            {
                "plan_id": plan.plan_id,
                "series": series_id,
                "location": location,
                "captures": [i.capture_id for i in group],
                "manifest_sha256": manifest_sha,
                "payload_oxum": record.payload_oxum,
                "accession": target.accession,
                "transfer_request": target.transfer_request,
                "warc_version": target.warc_version,
            },
        )
        sent.append(record)
    return sent


@dataclass
class ConfirmResult:
    """What ``archiver transfer confirm --json`` prints."""

    plan_id: str
    status: str
    receipt_name: str
    receipt_sha256: str
    receipt_key: str
    bags: list[SentBag]
    disposition: DispositionResult


def _refuse(plan: Plan, bags: list[SentBag]) -> None:
    """UsageError (exit 2) unless ``plan`` has bags waiting for (or retrying after) a receipt."""
    transfers = any(i.action == "transfer" for i in plan.eligible)
    if not bags and plan.status in ("planned", "approved") and transfers:
        raise UsageError(
            f"plan {plan.plan_id} is {plan.status}: nothing was transferred yet; execute it "
            f"first (`archiver retention dispose {plan.plan_id}`), then confirm the receipt"
        )
    if not bags:
        raise UsageError(
            f"plan {plan.plan_id} transfers nothing (its captures are destroyed, not "
            "transferred); `transfer confirm` is for plans of disposition: transfer series"
        )
    if plan.status == "executed":
        raise UsageError(
            f"plan {plan.plan_id} is executed: its receipt was recorded and its originals "
            "deleted already; see `archiver transfer show " + plan.plan_id + "`"
        )
    if plan.status == "approved":
        raise UsageError(
            f"plan {plan.plan_id} sent its bags but its destructions are not all done (the "
            "store refused some); run `archiver retention dispose "
            f"{plan.plan_id}` again first, then confirm the receipt"
        )
    if plan.status not in (PENDING_RECEIPT, RECEIPT_RECORDED):
        raise UsageError(f"plan {plan.plan_id} is {plan.status}; no transfer awaits a receipt")


def confirm_transfer(
    rt: Runtime, plan_id: str, receipt: Path, *, series: str | None = None
) -> ConfirmResult:
    """Record the receiving archives' receipt for the plan's bags (``series``: only that
    series' bag) and delete the originals through the disposition path. UsageError (exit 2)
    before execution, when already confirmed, for a plan that transfers nothing, or for a
    different receipt than the one recorded; the deletions may be refused (the result says
    so, the plan stays ``transfer_confirmed`` and confirming again with the receipt retries)."""
    plan = get_plan(rt, plan_id)
    bags = list_transfers(rt, plan_id)
    _refuse(plan, bags)
    chosen = [b for b in bags if series is None or b.series == series]
    if not chosen:
        raise UsageError(
            f"plan {plan_id} sent no bag of series {series!r} "
            f"(its bags: {', '.join(b.series for b in bags)})"
        )
    try:
        content = receipt.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"--receipt {receipt}: cannot be read ({exc.strerror}); name the receiving "
            "archives' receipt file"
        ) from None
    if not content.strip():
        raise UsageError(f"--receipt {receipt} is empty; name the receiving archives' receipt")
    digest = hashlib.sha256(content).hexdigest()
    for b in chosen:
        if b.status == "confirmed" and b.receipt_sha256 != digest:
            raise UsageError(
                f"bag {b.bag_id} was confirmed already by receipt {b.receipt_name} (sha256 "
                f"{b.receipt_sha256}); confirming again retries its deletions with that receipt"
            )
    now = rt.clock.now()
    key = f"transfers/{plan_id}/receipt-{digest[:16]}-{receipt.name}"
    rt.store.put_bytes(key, content)
    try:
        text, encoding = content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(content).decode("ascii"), "base64"
    new = [b for b in chosen if b.status == "sent"]
    rt.index.governance.confirm_transfers(
        [b.bag_id for b in new],
        by=rt.settings.actor,
        at=now,
        receipt_name=receipt.name,
        receipt_sha256=digest,
        receipt_key=key,
        receipt=text,
        receipt_encoding=encoding,
    )
    if new:
        record_event(
            rt,
            "transfer.confirmed",
            plan_id,
            {
                "bags": {b.bag_id: b.manifest_sha256 for b in new},
                "captures": [c for b in new for c in b.captures],
                "receipt_name": receipt.name,
                "receipt_sha256": digest,
                "receipt_bytes": len(content),
                "receipt_key": key,
                "receipt_encoding": encoding,
                "receipt": text if len(content) <= MAX_RECEIPT_IN_AUDIT else None,
            },
        )
    bags = list_transfers(rt, plan_id)
    confirmed = [b for b in bags if b.status == "confirmed"]
    captures = {c for b in confirmed for c in b.captures}
    result = DispositionResult(plan_id=plan_id)
    todo = disposable_now(rt, [i for i in plan.eligible if i.capture_id in captures], result)
    result.skipped = {c: why for c, why in result.skipped.items() if why != "already disposed"}
    every = len(confirmed) == len(bags)
    dispose_items(
        rt,
        plan,
        todo,
        result,
        done_status="executed" if every else PENDING_RECEIPT,
        undone_status=RECEIPT_RECORDED if every else PENDING_RECEIPT,
        certificate_kind="records transfer",
        stem=f"{plan_id}-transfer",
        extra={"transfer": [jsonable(b) for b in confirmed]},
    )
    return ConfirmResult(
        plan_id=plan_id,
        status=get_plan(rt, plan_id).status,
        receipt_name=receipt.name,
        receipt_sha256=digest,
        receipt_key=key,
        bags=bags,
        disposition=result,
    )


def transfer_of(rt: Runtime, plan_id: str) -> list[SentBag]:
    """The bags of one plan; NotFoundError when the plan sent none."""
    bags = list_transfers(rt, plan_id)
    if not bags:
        get_plan(rt, plan_id)  # NotFoundError for an unknown plan
        raise NotFoundError(f"plan {plan_id} sent no transfer bag")
    return bags

"""Disposition: plan → approve (by another person) → execute, with tombstones and a certificate.

Nothing is ever deleted outside :func:`execute_plan`. Dedup rule (documented choice): a capture
whose records are the originals of revisits in a capture that is kept is *not* disposed
("dedup dependency") until its dependants go; originals are never copied forward.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.errors import NotFoundError, ObjectNotFoundError, StorageError, UsageError
from archiver.governance.audit import record_event
from archiver.governance.duties import refuse_lone_approver
from archiver.governance.holds import HoldMatcher
from archiver.governance.locks import extend_locks
from archiver.governance.policy_log import record_policy_in_force
from archiver.governance.retention import cutoff_date
from archiver.governance.review import disposal_action, latest_reviews, review_reason
from archiver.index.api import CaptureSummary, WarcFileInfo, canonical_json, jsonable, utc
from archiver.index.governance import StoredPlan, Tombstone
from archiver.logging import get_logger
from archiver.policy.model import UNSCHEDULED, Series
from archiver.runtime import Runtime


@dataclass
class PlanItem:
    """One capture in a plan: eligible (with its action) or blocked (with the reason)."""

    capture_id: str
    account: str
    series: str
    captured_at: datetime
    retain_until: datetime | None
    bytes: int
    warc_files: list[str]
    action: str | None = None  # destroy | transfer (eligible items)
    authority: str | None = None
    reason: str | None = None  # blocked items
    lock_until: datetime | None = None  # when the store's Object Lock on its objects ends


@dataclass
class Plan:
    """What ``archiver retention plan --json`` prints."""

    plan_id: str
    as_of: datetime
    status: str
    planned_by: str
    eligible: list[PlanItem] = field(default_factory=list)
    blocked: list[PlanItem] = field(default_factory=list)
    approved_by: str | None = None
    executed_at: datetime | None = None
    certificate_key: str | None = None
    forecast: bool = False  # as_of is still to come: it may not be approved or executed yet


def schedule_retain_until(
    series: Series, capture: CaptureSummary, published_latest: datetime | None
) -> datetime | None:
    """Retain-until under the current schedule: cutoff + period (None: never expires).

    For a ``publication`` cutoff the latest publication in the capture counts (no record in it
    leaves before its own date); with no publication date, the capture time.
    """
    if series.retention.permanent or series.unscheduled:
        return None
    event = capture.started_at
    if series.cutoff == "publication" and published_latest is not None:
        event = published_latest
    result = cutoff_date(series, event) + series.retention.period()
    assert isinstance(result, datetime)
    return result


# A plan holds its captures from approval until it is done: approved, then (transfers) sent and
# awaiting the receiving archives' receipt, or receipt recorded with originals still to delete.
HOLDING_STATUSES = ("approved", "transferred_pending_receipt", "transfer_confirmed")


def pending_plans(rt: Runtime) -> dict[str, tuple[str, str]]:
    """capture_id → (plan_id, status) for plans that hold it and are not done yet."""
    pending: dict[str, tuple[str, str]] = {}
    for plan in rt.index.governance.plans(statuses=HOLDING_STATUSES):
        for item in json.loads(plan.body)["eligible"]:
            pending[item["capture_id"]] = (plan.plan_id, plan.status)
    return pending


def _evaluate(
    rt: Runtime, as_of: datetime, series_filter: str | None
) -> tuple[list[PlanItem], list[PlanItem]]:
    policies = rt.policies or rt.reload_policies()
    holds = HoldMatcher.active(rt)
    pending = pending_plans(rt)
    reviews = latest_reviews(rt)
    ids = rt.index.governance.disposable_capture_ids(series_filter)
    # Everything per capture is read in a few set queries, not a few queries per capture.
    wanted = set(ids)
    summaries = {
        c.capture_id: c for c in rt.index.list_captures(limit=10**9) if c.capture_id in wanted
    }
    warcs_of: dict[str, list[WarcFileInfo]] = {}
    for w in rt.index.list_warcs():
        warcs_of.setdefault(w.capture_id, []).append(w)
    published = rt.index.governance.latest_publications()
    depends = rt.index.governance.revisit_dependants()
    eligible: dict[str, PlanItem] = {}
    blocked: list[PlanItem] = []
    for capture_id in ids:
        c = summaries[capture_id]
        series = policies.series.get(c.series, UNSCHEDULED)
        warcs = warcs_of.get(capture_id, [])
        due = schedule_retain_until(series, c, published.get(capture_id))
        locks = [w.retain_until for w in warcs if w.retain_until is not None]
        for w in warcs:
            if w.status == "stored":
                lock = rt.store.head(w.key).retain_until
                if lock is not None:
                    locks.append(lock)
        locked = max(locks) if locks else None
        item = PlanItem(
            capture_id=c.capture_id,
            account=c.account,
            series=c.series,
            captured_at=c.started_at,
            retain_until=due,
            bytes=c.bytes,
            warc_files=[w.name for w in warcs],
            authority=series.authority,
            lock_until=locked,
        )
        covering = holds.covering(c)
        reasons: list[str] = []  # every reason, the most fundamental first
        if series.unscheduled:
            reasons.append("unscheduled: no retention schedule applies; assign a series")
        elif series.retention.permanent:
            reasons.append("permanent: the schedule keeps these records forever")
        elif why := review_reason(series, reviews.get(capture_id), as_of):
            reasons.append(why)
        if covering:
            reasons.append("hold: " + ", ".join(f"{h.hold_id} ({h.name})" for h in covering))
        if due is not None and due > as_of:
            reasons.append(f"not yet due: retained until {jsonable(due)}")
        elif locked is not None and locked > as_of:
            reasons.append(
                f"object lock: the store keeps it until {jsonable(locked)} "
                f"(the schedule now says {jsonable(due)})"
            )
        if any(w.status != "stored" for w in warcs):
            reasons.append("not stored yet: a WARC file is still in the spool")
        if capture_id in pending:
            held_by, status = pending[capture_id]
            reasons.append(
                f"pending: in approved plan {held_by} (not yet executed)"
                if status == "approved"
                else f"pending: sent for transfer under plan {held_by}, awaiting the receipt"
            )
        if reasons:
            item.reason = "; ".join(reasons)
            blocked.append(item)
        else:
            item.action = disposal_action(series, reviews.get(capture_id))
            eligible[capture_id] = item
    # Dedup dependency: originals stay while a kept capture's revisits point at them.
    changed = True
    while changed:
        changed = False
        for capture_id in list(eligible):
            if depends.get(capture_id, set()) - set(eligible):
                item = eligible.pop(capture_id)
                item.action = None
                blocked.append(item)
                changed = True
    for item in blocked:
        kept = depends.get(item.capture_id, set()) - set(eligible)
        if kept:
            dedup = (
                "dedup dependency: revisits in kept capture(s) "
                f"{', '.join(sorted(kept))} refer to records in this one"
            )
            item.reason = f"{item.reason}; {dedup}" if item.reason else dedup
    return list(eligible.values()), blocked


def _plan_from_row(row: StoredPlan) -> Plan:
    body = json.loads(row.body)

    def items(key: str) -> list[PlanItem]:
        out = []
        for raw in body[key]:
            if "locked_until" in raw:  # plans stored before the field was renamed
                raw["lock_until"] = raw.pop("locked_until")
            for name in ("captured_at", "retain_until", "lock_until"):
                if raw.get(name):
                    raw[name] = datetime.fromisoformat(raw[name].replace("Z", "+00:00"))
            out.append(PlanItem(**raw))
        return out

    return Plan(
        plan_id=row.plan_id,
        as_of=utc(row.as_of),
        status=row.status,
        planned_by=row.planned_by,
        eligible=items("eligible"),
        blocked=items("blocked"),
        approved_by=row.approved_by,
        executed_at=utc(row.executed_at),
        certificate_key=row.certificate_key,
    )


def make_plan(rt: Runtime, *, as_of: datetime | None = None, series: str | None = None) -> Plan:
    """List what is eligible for disposition at ``as_of`` and why the rest is not; store the
    plan for approval. Deletes nothing."""
    as_of = as_of or rt.clock.now()
    record_policy_in_force(rt)
    extend_locks(rt)  # a lengthened schedule or a new revisit keeps objects locked longer
    eligible, blocked = _evaluate(rt, as_of, series)
    now = rt.clock.now()
    plan = Plan(
        plan_id=f"plan-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}",
        as_of=as_of,
        status="planned",
        planned_by=rt.settings.actor,
        eligible=eligible,
        blocked=blocked,
        forecast=as_of > now,
    )
    body = canonical_json(jsonable({"eligible": eligible, "blocked": blocked}))
    assert rt.policies is not None
    rt.index.governance.add_plan(
        StoredPlan(
            plan_id=plan.plan_id,
            as_of=as_of,
            series_filter=series,
            status="planned",
            planned_by=plan.planned_by,
            planned_at=now,
            policy_hash=rt.policies.policy_hash,
            body=body,
        )
    )
    record_event(
        rt,
        "retention.planned",
        plan.plan_id,
        {
            "as_of": as_of,
            "series": series,
            "eligible": [i.capture_id for i in eligible],
            "blocked": {i.capture_id: i.reason for i in blocked},
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
        },
    )
    return plan


def get_plan(rt: Runtime, plan_id: str) -> Plan:
    """The plan ``plan_id`` with its items; NotFoundError when there is none."""
    row = rt.index.governance.plan(plan_id)
    if row is None:
        raise NotFoundError(f"no disposition plan {plan_id!r}")
    return _plan_from_row(row)


def _refuse_forecast(rt: Runtime, plan_id: str, as_of: datetime, act: str) -> None:
    """A plan as of a date still to come is a forecast: UsageError (exit 2) before that date."""
    when = utc(as_of)
    if when is not None and when > rt.clock.now():
        raise UsageError(
            f"plan {plan_id} is a forecast as of {when:%Y-%m-%d %H:%M:%SZ}: it cannot be {act} "
            "before then; wait for that date, or make a plan as of now "
            "(`archiver retention plan` without --as-of)"
        )


def _refuse_cancelled(plan_id: str, status: str) -> None:
    """A cancelled plan is closed: UsageError (exit 2) for any further act on it."""
    if status == "cancelled":
        raise UsageError(
            f"plan {plan_id} was cancelled and cannot be approved or executed; see "
            f"`archiver retention show {plan_id}`, and make a new plan (`archiver retention plan`)"
        )


def approve_plan(rt: Runtime, plan_id: str) -> Plan:
    """Approve a plan. The approver must not be its planner (two-person rule): exit 2 if so."""
    actor = rt.settings.actor

    def approve(row: StoredPlan) -> dict[str, Any]:
        _refuse_cancelled(plan_id, row.status)
        if row.status != "planned":
            raise UsageError(f"plan {plan_id} is {row.status}; only a planned plan is approved")
        _refuse_forecast(rt, plan_id, row.as_of, "approved")
        if row.planned_by == actor:
            raise UsageError(
                f"refused: {actor} planned {plan_id} and cannot approve it too; another person "
                "(ARCHIVER_ACTOR) must approve a disposition"
            )
        return {"status": "approved", "approved_by": actor, "approved_at": rt.clock.now()}

    approved = rt.index.governance.update_plan(plan_id, approve)
    if approved is None:
        raise NotFoundError(f"no disposition plan {plan_id!r}")
    plan = _plan_from_row(approved)
    record_event(
        rt,
        "retention.approved",
        plan_id,
        {"planned_by": plan.planned_by, "eligible": [i.capture_id for i in plan.eligible]},
    )
    return plan


@dataclass
class DispositionResult:
    plan_id: str
    destroyed: list[str] = field(default_factory=list)
    transferred: list[str] = field(default_factory=list)  # sent, received, originals deleted
    pending_receipt: list[str] = field(default_factory=list)  # sent; originals kept till receipt
    skipped: dict[str, str] = field(default_factory=dict)  # not disposed, rightly (a hold)
    refused: dict[str, str] = field(default_factory=dict)  # planned, but not done: remain
    certificate_key: str | None = None  # None: nothing was done, so nothing is certified
    certificate_sha256: str | None = None
    bags: list[str] = field(default_factory=list)  # where transfer bags were written

    @property
    def complete(self) -> bool:
        """True when everything planned and still disposable was disposed."""
        return not self.refused


def _forget_capture(rt: Runtime, capture_id: str) -> None:
    """Remove a disposed capture's records and post payloads from the index (tombstones stay)."""
    rt.index.governance.forget_capture(capture_id)
    rt.index.fulltext.delete_capture(capture_id)  # after the commit: the SQL index leads


def disposable_now(rt: Runtime, items: list[PlanItem], result: DispositionResult) -> list[PlanItem]:
    """The items still to dispose of now: holds are re-checked (a hold placed after planning
    wins) and captures already disposed are left out; both are noted in ``result.skipped``."""
    holds = HoldMatcher.active(rt)
    todo: list[PlanItem] = []
    for item in items:
        capture = rt.index.get_capture(item.capture_id)
        covering = holds.covering(capture)
        if covering:
            result.skipped[item.capture_id] = "hold placed after planning: " + ", ".join(
                h.hold_id for h in covering
            )
        elif capture.status == "disposed":
            result.skipped[item.capture_id] = "already disposed"
        else:
            todo.append(item)
    return todo


def execute_plan(
    rt: Runtime, plan_id: str, *, transfer_dir: Path | None = None
) -> DispositionResult:
    """Carry out an approved plan: re-check holds now, destroy each eligible capture's objects
    (tombstones, certificate), and send the captures to transfer as BagIt bags to their
    destination. Transferred originals stay until ``archiver transfer confirm`` records the
    receipt; the plan is then ``transferred_pending_receipt``. Nothing is deleted when a
    destination refuses the bag (StorageError)."""
    plan = get_plan(rt, plan_id)
    _refuse_cancelled(plan_id, plan.status)
    if plan.status != "approved":
        raise UsageError(f"plan {plan_id} is {plan.status}; it must be approved first")
    _refuse_forecast(rt, plan_id, plan.as_of, "executed")
    approved_by = plan.approved_by or ""
    refuse_lone_approver(rt, plan_id, approved_by, {i.series for i in plan.eligible})
    result = DispositionResult(plan_id=plan_id)
    todo = disposable_now(rt, plan.eligible, result)
    transfers = [i for i in todo if i.action == "transfer"]
    if transfers:
        from archiver.governance.transfer import send_transfer

        result.bags = [bag.location for bag in send_transfer(rt, plan, transfers, transfer_dir)]
        result.pending_receipt = [i.capture_id for i in transfers]
    return dispose_items(
        rt,
        plan,
        [i for i in todo if i.action != "transfer"],
        result,
        done_status="transferred_pending_receipt" if result.pending_receipt else "executed",
        undone_status="approved",
    )


def dispose_items(
    rt: Runtime,
    plan: Plan,
    todo: list[PlanItem],
    result: DispositionResult,
    *,
    done_status: str,
    undone_status: str,
    certificate_kind: str = "records disposition",
    stem: str | None = None,
    extra: dict[str, Any] | None = None,
) -> DispositionResult:
    """Delete ``todo``'s objects (the only place that does), keep tombstones, certify what was
    done, and set the plan's status: ``done_status`` when nothing was refused, else
    ``undone_status`` (so it can run again). Items whose action is ``transfer`` are recorded
    as transferred (their receipt is in ``extra``)."""
    plan_id = plan.plan_id
    stored = rt.index.governance.plan(plan_id)
    assert stored is not None
    approved_by = stored.approved_by or ""
    log = get_logger(plan_id=plan_id)
    now = rt.clock.now()
    tombstones: list[Tombstone] = []
    for item in todo:
        warcs = rt.index.list_warcs(capture_id=item.capture_id)
        try:
            for warc in warcs:
                # deleted already by an earlier run of this plan that was refused the rest
                with contextlib.suppress(ObjectNotFoundError):
                    rt.store.delete(warc.key)
        except StorageError as exc:
            # Nothing of this capture is recorded as disposed: its rows stay, the plan stays
            # approved, and executing it again retries (a WARC already deleted counts as gone).
            result.refused[item.capture_id] = f"the store refused deletion: {exc}"
            log.error("retention.delete_refused", capture_id=item.capture_id, error=str(exc))
            continue
        records = rt.index.records_of_capture(item.capture_id)
        for warc in warcs:
            tombstones.append(
                Tombstone(
                    warc_name=warc.name,
                    capture_id=item.capture_id,
                    account=item.account,
                    series=item.series,
                    authority=item.authority,
                    key=warc.key,
                    size=warc.size,
                    sha256=warc.sha256,
                    records=sum(1 for r in records if r.warc_name == warc.name),
                    captured_at=item.captured_at,
                    retain_until=item.retain_until,
                    action="transferred" if item.action == "transfer" else "destroyed",
                    plan_id=plan_id,
                    planned_by=plan.planned_by,
                    approved_by=approved_by,
                    disposed_by=rt.settings.actor,
                    disposed_at=now,
                )
            )
        rt.index.governance.add_tombstones(t for t in tombstones if t.capture_id == item.capture_id)
        _forget_capture(rt, item.capture_id)
        (result.transferred if item.action == "transfer" else result.destroyed).append(
            item.capture_id
        )
        log.info("retention.disposed", capture_id=item.capture_id, action=item.action)
    certificate = {
        "certificate": certificate_kind,
        "plan_id": plan_id,
        "as_of": plan.as_of,
        "planned_by": plan.planned_by,
        "approved_by": approved_by,
        "executed_by": rt.settings.actor,
        "executed_at": now,
        "policy_hash": rt.policies.policy_hash if rt.policies else None,
        "destroyed": result.destroyed,
        "transferred": result.transferred,
        "pending_receipt": result.pending_receipt,
        "transfer_bags": result.bags,
        **(extra or {}),
        "skipped": result.skipped,
        "objects": [
            {
                "warc": t.warc_name,
                "key": t.key,
                "sha256": t.sha256,
                "bytes": t.size,
                "records": t.records,
                "capture_id": t.capture_id,
                "series": t.series,
                "authority": t.authority,
                "captured_at": t.captured_at,
                "retain_until": t.retain_until,
                "action": t.action,
            }
            for t in tombstones
        ],
    }
    key: str | None = None
    digest: str | None = None
    # A certificate certifies only what was done: a run the store refused in part gets one
    # for the part it did (if any), under a name of its own; a refused run with nothing done
    # gets none. A complete run gets the plan's certificate, even when it had nothing to do.
    if tombstones or (result.complete and not result.pending_receipt):
        certificate["complete"] = result.complete
        certificate["remaining"] = result.refused
        body = json.dumps(jsonable(certificate), indent=2, sort_keys=True).encode()
        digest = hashlib.sha256(body).hexdigest()
        base = stem or plan_id
        name = base if result.complete else f"{base}-partial-{now:%Y%m%dT%H%M%SZ}"
        key = f"certificates/{name}.json"
        rt.store.put_bytes(key, body)
        rt.store.put_bytes(
            f"certificates/{name}.html", render_certificate_html(certificate, digest)
        )
        rt.store.put_bytes(f"certificates/{name}.pdf", render_certificate_pdf(certificate, digest))
        result.certificate_key, result.certificate_sha256 = key, digest
    outcome: dict[str, Any] = (
        {"status": done_status, "executed_by": rt.settings.actor, "executed_at": now}
        if result.complete
        else {"status": undone_status}
    )
    if key is not None:
        outcome |= {"certificate_key": key, "certificate_sha256": digest}
    done = rt.index.governance.update_plan(plan_id, lambda _row: outcome)
    assert done is not None
    record_event(
        rt,
        "retention.disposed" if result.complete else "retention.disposition_incomplete",
        plan_id,
        {
            "destroyed": result.destroyed,
            "transferred": result.transferred,
            "pending_receipt": result.pending_receipt,
            "skipped": result.skipped,
            "remaining": result.refused,
            "certificate": key,
            "certificate_sha256": digest,
        },
    )
    return result


def _transfer_lines(cert: dict[str, Any]) -> list[str]:
    """What a transfer certificate adds: each bag, where it went, and the receipt accepting it."""
    return [
        f"Bag {b['bag_id']} ({b['warc_version']}, accession {b['accession'] or '-'}, transfer "
        f"request {b['transfer_request'] or '-'}) written to {b['location']}, manifest SHA-256 "
        f"{b['manifest_sha256']}; accepted by receipt {b['receipt_name']} (SHA-256 "
        f"{b['receipt_sha256']}), recorded by {b['confirmed_by']}."
        for b in cert.get("transfer", [])
    ]


def render_certificate_html(cert: dict[str, Any], digest: str) -> bytes:
    """A printable, self-contained HTML disposition (or transfer) certificate."""
    e = html.escape
    title = f"Certificate of {cert['certificate']}"
    transfer = "".join(f"<p>{e(line)}</p>" for line in _transfer_lines(cert))
    rows = "".join(
        f"<tr><td>{e(str(o['warc']))}</td><td>{e(str(o['series']))}</td>"
        f"<td>{e(str(o['authority'] or ''))}</td><td>{e(str(jsonable(o['captured_at'])))}</td>"
        f"<td>{e(str(o['action']))}</td><td><code>{e(str(o['sha256']))}</code></td></tr>"
        for o in cert["objects"]
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8">
<title>{e(title)} {e(cert["plan_id"])}</title>
<style>body{{font:14px/1.4 system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 6px;font-size:12px}}code{{font-size:11px}}</style>
</head><body><h1>{e(title)}</h1>{transfer}
<p>Plan <b>{e(cert["plan_id"])}</b> as of {e(str(jsonable(cert["as_of"])))}: planned by
<b>{e(cert["planned_by"])}</b>, approved by <b>{e(cert["approved_by"])}</b>, executed by
<b>{e(cert["executed_by"])}</b> at {e(str(jsonable(cert["executed_at"])))}.</p>
<p>Policy hash <code>{e(str(cert["policy_hash"]))}</code>. Certificate JSON SHA-256
<code>{e(digest)}</code>.</p>
<table><tr><th>WARC file</th><th>series</th><th>authority</th><th>captured</th><th>action</th>
<th>SHA-256</th></tr>{rows}</table>
<p>Skipped: {e(json.dumps(cert["skipped"]))}</p></body></html>"""
    return doc.encode()


def render_certificate_pdf(cert: dict[str, Any], digest: str) -> bytes:
    """The same certificate as a PDF (reportlab), for signing and filing."""
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from archiver.reports.fonts import pdf_fonts

    fonts = pdf_fonts()
    styles = fonts.styles()
    small = styles["BodyText"].clone("small", fontSize=7, leading=9)
    e = fonts.markup  # escapes, and draws CJK in the fallback font

    def when(value: Any) -> str:
        return e(str(jsonable(value)))

    story: list[Any] = [
        Paragraph(e(f"Certificate of {cert['certificate']}"), styles["Title"]),
        *(Paragraph(e(line), styles["BodyText"]) for line in _transfer_lines(cert)),
        Paragraph(
            f"Plan <b>{e(cert['plan_id'])}</b> as of {when(cert['as_of'])}: planned by "
            f"<b>{e(cert['planned_by'])}</b>, approved by <b>{e(cert['approved_by'])}</b>, "
            f"executed by <b>{e(cert['executed_by'])}</b> at {when(cert['executed_at'])}.",
            styles["BodyText"],
        ),
        Paragraph(f"Policy hash: {e(str(cert['policy_hash']))}", small),
        Paragraph(f"Certificate JSON SHA-256: {e(digest)}", small),
        Spacer(1, 12),
    ]
    rows: list[list[Any]] = [["WARC file", "series", "authority", "captured", "action", "SHA-256"]]
    for o in cert["objects"]:
        rows.append(
            [
                Paragraph(e(str(o["warc"])), small),
                Paragraph(e(str(o["series"])), small),
                Paragraph(e(str(o["authority"] or "")), small),
                Paragraph(when(o["captured_at"]), small),
                Paragraph(e(str(o["action"])), small),
                Paragraph(e(str(o["sha256"])), small),
            ]
        )
    table = Table(rows, repeatRows=1, colWidths=[190, 90, 110, 90, 50, 250])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("FONTSIZE", (0, 0), (-1, -1), 7),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story += [table, Spacer(1, 8), Paragraph(f"Skipped: {e(json.dumps(cert['skipped']))}", small)]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), title=f"Disposition {cert['plan_id']}")
    doc.build(story)
    return out.getvalue()

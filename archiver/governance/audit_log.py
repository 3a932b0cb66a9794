"""The audit trail made readable: events selected by time, actor, action or capture, and an
export that carries the chain's verification with it.

Export formats (each event: seq, at, actor, action, subject, payload, prev_hash, hash; an
event's hash can be recomputed from the others, see :func:`archiver.index.api.audit_hash`):

* ``json``: one object ``{"verification": {...}, "filters": {...}, "exported_at",
  "exported_by", "events": [...]}``.
* ``csv``: a header row and one row per event (payload as canonical JSON), then one trailing
  comment line ``# audit chain verification: ok=true events=N head_seq=N head_hash=H
  problem=-`` so the result travels in the same file as the rows.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from archiver.governance.verify import ChainReport
from archiver.index.api import AuditEventInfo, canonical_json, jsonable
from archiver.runtime import Runtime

EXPORT_FORMATS = ("csv", "json")
CSV_COLUMNS = ("seq", "at", "actor", "action", "subject", "payload", "prev_hash", "hash")


@dataclass(frozen=True)
class AuditFilter:
    """Which events: every given criterion must match (AND). ``action`` is an exact action or
    a prefix ending in ``*`` (``retention.*``); ``capture`` matches the subject or a payload
    naming it."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    capture: str | None = None


def list_events(
    rt: Runtime, where: AuditFilter, *, limit: int | None = None
) -> list[AuditEventInfo]:
    """The events that match, in chain order (the last ``limit`` when given)."""
    rows = rt.index.audit_chain.select(
        since=where.since,
        until=where.until,
        actor=where.actor,
        action=where.action,
        capture=where.capture,
        limit=limit,
    )
    return [
        AuditEventInfo(
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            payload=json.loads(r.payload or "{}"),
            hash=r.hash,
            prev_hash=r.prev_hash,
        )
        for r in rows
    ]


def event_json(e: AuditEventInfo) -> dict[str, Any]:
    """One event as exported and as ``audit list --json`` prints it."""
    doc: dict[str, Any] = jsonable(asdict(e))
    return {k: doc[k] for k in CSV_COLUMNS}


def verification_line(report: ChainReport) -> str:
    """The chain verification result as one ``key=value`` line (the CSV export's last line)."""
    ok = "true" if report.ok else "false"
    problem = (report.problem or "-").replace("\n", " ")
    return (
        f"# audit chain verification: ok={ok} events={report.events} "
        f"head_seq={report.head_seq} head_hash={report.head_hash} problem={problem}"
    )


def export_events(
    events: list[AuditEventInfo],
    report: ChainReport,
    fmt: str,
    *,
    where: AuditFilter,
    exported_at: datetime,
    exported_by: str,
) -> bytes:
    """The events and the chain's verification result as ``csv`` or ``json`` bytes."""
    if fmt == "json":
        doc = {
            "verification": report,
            "filters": where,
            "exported_at": exported_at,
            "exported_by": exported_by,
            "events": [event_json(e) for e in events],
        }
        return json.dumps(jsonable(doc), indent=1, ensure_ascii=False).encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        row = event_json(e)
        row["payload"] = canonical_json(row["payload"])
        writer.writerow([row[c] for c in CSV_COLUMNS])
    out.write(verification_line(report) + "\n")
    return out.getvalue().encode()

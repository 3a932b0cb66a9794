"""Compliance reports against known captures: counts, due dates, gaps with reasons, the
unscheduled flag; HTML with its chart passes a parser, the PDF parses, CSV columns are stable,
JSON carries as-of, policy hash and chain head; the command's exit codes."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archiver.capture.job import capture_account
from archiver.clock import FrozenClock
from archiver.reports import build_report, render
from archiver.reports.build import COVERAGE_COLUMNS, RETENTION_COLUMNS
from archiver.runtime import Runtime
from tests.conftest import MakeRuntime

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)


def captured(make_runtime: MakeRuntime) -> Runtime:
    """Quakes (P90D) captured twice, NASA (permanent) once, the unscheduled page once, and a
    failed capture of an account whose source is gone."""
    rt = make_runtime(clock=FrozenClock(T0))
    capture_account(rt, "demo-usgs-quakes")
    rt.clock = FrozenClock(T0 + timedelta(hours=6))
    capture_account(rt, "demo-usgs-quakes")
    capture_account(rt, "demo-nasa-news")
    capture_account(rt, "demo-usagov-page")
    return rt


def test_retention_report_counts_due_dates_and_flags_unscheduled(make_runtime: MakeRuntime) -> None:
    rt = captured(make_runtime)
    report = build_report(rt, "retention", as_of=T0 + timedelta(days=85))
    rows = {r[0]: dict(zip(RETENTION_COLUMNS, r, strict=True)) for r in report.tables[0].rows}
    quakes = rows["demo-usgs-quakes"]
    assert quakes["captures"] == 2 and quakes["posts"] >= 4
    assert quakes["earliest_retain_until"] >= T0 + timedelta(days=90)
    assert quakes["due_30d"] == 2  # day 85: both fall due within 30 days
    assert rows["demo-nasa-news"]["latest_retain_until"] is None  # permanent
    assert rows["demo-usagov-page"]["unscheduled"] is True
    assert any("demo-usagov-page" in n for n in report.notes)
    doc = report.as_json()
    assert doc["as_of"].startswith("2027-01-25") and doc["policy_hash"]
    assert doc["audit_chain_head"]["seq"] >= 4


def test_coverage_report_finds_gaps_with_reasons(make_runtime: MakeRuntime) -> None:
    rt = captured(make_runtime)
    rt.clock = FrozenClock(T0 + timedelta(days=3))
    capture_account(rt, "demo-usgs-quakes")  # 0 */6: a two-and-a-half day gap before this
    report = build_report(rt, "coverage", as_of=T0 + timedelta(days=3, hours=1))
    rows = {r[0]: dict(zip(COVERAGE_COLUMNS, r, strict=True)) for r in report.tables[0].rows}
    quakes = rows["demo-usgs-quakes"]
    assert quakes["captures"] == 3 and quakes["ok"] == 3 and quakes["gaps"] == 1
    assert quakes["expected_runs"] >= 12
    assert rows["demo-agency-rdf"]["captures"] == 0  # never captured
    gaps = report.tables[1].rows
    assert [g[0] for g in gaps] == ["demo-usgs-quakes"] and gaps[0][2] == "missed runs"


@pytest.mark.parametrize("kind", ["retention", "coverage", "holds", "fixity", "disposition"])
def test_every_report_renders_in_every_format(
    make_runtime: MakeRuntime, kind: str, tmp_path: Path
) -> None:
    rt = captured(make_runtime)
    report = build_report(rt, kind)
    page = render(report, "html").decode()
    parser = HTMLParser()
    parser.feed(page)
    parser.close()
    assert report.policy_hash in page and "audit chain head" in page
    if kind in ("retention", "coverage", "fixity"):
        assert "<svg" in page  # the chart, inline
    pdf = render(report, "pdf")
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    pypdf = pytest.importorskip("pypdf")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert report.policy_hash[:12] in text.replace("\n", "")
    table = list(csv.reader(io.StringIO(render(report, "csv").decode())))
    assert tuple(table[0]) == report.tables[0].columns
    doc = json.loads(render(report, "json"))
    assert {"as_of", "policy_hash", "audit_chain_head", "tables"} <= set(doc)


def test_csv_columns_are_stable() -> None:
    assert RETENTION_COLUMNS[:8] == (
        "account", "series", "authority", "retention", "unscheduled", "captures", "posts", "bytes",
    )  # fmt: skip
    assert COVERAGE_COLUMNS[:9] == (
        "account", "platform", "schedule", "expected_runs", "captures", "ok", "partial", "failed",
        "gaps",
    )  # fmt: skip


def test_report_command_writes_the_file_and_audits_it(
    make_runtime: MakeRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archiver.cli.common
    from archiver.cli.main import app

    rt = captured(make_runtime)
    env = {
        "ARCHIVER_DATA_DIR": str(rt.settings.data_dir),
        "ARCHIVER_DATABASE_URL": rt.settings.effective_database_url,
        "ARCHIVER_STORAGE_URL": rt.store.url,
        "ARCHIVER_POLICIES": str(rt.settings.policies),
        "ARCHIVER_ALLOW_PRIVATE_NETWORKS": "true",
    }
    monkeypatch.setattr(archiver.cli.common, "_settings", None)
    target = tmp_path / "coverage.html"
    result = CliRunner().invoke(
        app, ["report", "coverage", "--format", "html", "-o", str(target)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "<svg" in target.read_text()
    bad = CliRunner().invoke(app, ["report", "nonsense", "-o", str(target)], env=env)
    assert bad.exit_code == 2
    bad = CliRunner().invoke(
        app, ["report", "holds", "--format", "docx", "-o", str(target)], env=env
    )
    assert bad.exit_code == 2

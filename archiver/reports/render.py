"""Report renderers: JSON (everything), CSV (the first table, stable columns), self-contained HTML
with inline SVG charts (matplotlib), and PDF (reportlab) from the same content."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import datetime
from typing import Any

from archiver.index.api import jsonable
from archiver.reports.build import Report
from archiver.reports.fonts import pdf_fonts

FORMATS = ("html", "pdf", "csv", "json")
STATUS_COLOURS = {"ok": "#2e7d32", "partial": "#f9a825", "failed": "#c62828", "running": "#777"}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return str(jsonable(value))
    return str(value)


def to_json(report: Report) -> bytes:
    return json.dumps(report.as_json(), indent=2, ensure_ascii=False).encode()


def to_csv(report: Report) -> bytes:
    out = io.StringIO()
    table = report.tables[0]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue().encode()


def _figure(report: Report, fmt: str) -> bytes | None:
    """The report's chart as SVG or PNG bytes (None when the report has no chart)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = None
    if report.kind == "coverage" and report.charts.get("timeline"):
        timeline = report.charts["timeline"]
        fig, ax = plt.subplots(figsize=(9, 0.4 * len(timeline) + 1.2))
        for y, (_account, runs) in enumerate(sorted(timeline.items())):
            xs = [datetime.fromisoformat(at.replace("Z", "+00:00")) for at, _ in runs]
            cs = [STATUS_COLOURS.get(status, "#777") for _, status in runs]
            marker = "|" if len(xs) > 200 else "o"
            ax.scatter(xs, [y] * len(xs), c=cs, s=18, marker=marker)  # type: ignore[arg-type]
        ax.set_yticks(range(len(timeline)), sorted(timeline))
        ax.set_title("Captures per account (green ok, amber partial, red failed)")
    elif report.kind == "retention" and report.charts.get("retain_until_bytes_by_month"):
        months = report.charts["retain_until_bytes_by_month"]
        fig, ax = plt.subplots(figsize=(9, 3))
        ax.bar(list(months), [v / 1e6 for v in months.values()], color="#1565c0")
        ax.set_ylabel("MB falling due")
        ax.set_title("Retention due dates: bytes whose retention ends, by month")
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    elif report.kind == "fixity" and report.charts.get("status"):
        counts = report.charts["status"]
        fig, ax = plt.subplots(figsize=(6, 2.5))
        colours = ["#2e7d32", "#9e9e9e", "#c62828"]
        ax.barh(list(counts), list(counts.values()), color=colours)
        ax.set_title("Stored objects by fixity status")
    if fig is None:
        return None
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _facts(report: Report) -> list[tuple[str, str]]:
    head = report.chain_head or {}
    return [
        ("as of", _cell(report.as_of)),
        ("policy hash", report.policy_hash),
        ("audit chain head", f"event {head.get('seq')} {head.get('hash')}" if head else "empty"),
    ]


def to_html(report: Report) -> bytes:
    e = html.escape
    svg = _figure(report, "svg")
    chart = svg.decode().split("?>", 1)[-1] if svg else ""
    facts = "".join(
        f"<tr><th>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in _facts(report)
    )
    notes = "".join(f"<p class='note'>{e(n)}</p>" for n in report.notes)
    tables = []
    for t in report.tables:
        head = "".join(f"<th>{e(c)}</th>" for c in t.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{e(_cell(v))}</td>" for v in row) + "</tr>" for row in t.rows
        )
        tables.append(f"<h2>{e(t.title)}</h2><table><tr>{head}</tr>{body}</table>")
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(report.title)}</title>
<style>
body{{font:13px/1.4 system-ui,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}} th,td{{border:1px solid #bbb;padding:3px 6px}}
th{{background:#eee;text-align:left}} .note{{background:#fff3cd;padding:.5em}}
svg{{max-width:100%;height:auto}}
@media print{{body{{margin:0}} h2{{page-break-after:avoid}} tr{{page-break-inside:avoid}}}}
</style></head><body>
<h1>{e(report.title)}</h1><table class="facts">{facts}</table>{notes}
<figure>{chart}</figure>
{"".join(tables)}
</body></html>
"""
    return doc.encode()


def to_pdf(report: Report) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import cm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    fonts = pdf_fonts()
    styles = fonts.styles()
    small = styles["BodyText"].clone("small", fontSize=6, leading=7)
    e = fonts.markup  # escapes, and draws CJK in the fallback font
    story: list[Any] = [Paragraph(e(report.title), styles["Title"])]
    for key, value in _facts(report):
        story.append(Paragraph(f"<b>{e(key)}</b>: {e(value)}", styles["BodyText"]))
    for note in report.notes:
        story.append(Paragraph(e(note), styles["BodyText"]))
    png = _figure(report, "png")
    if png:
        story += [
            Spacer(1, 6),
            Image(io.BytesIO(png), width=24 * cm, height=8 * cm, kind="proportional"),
        ]
    for t in report.tables:
        story += [Spacer(1, 8), Paragraph(e(t.title), styles["Heading2"])]
        data = [[Paragraph(e(c), small) for c in t.columns]]
        data += [[Paragraph(e(_cell(v)), small) for v in row] for row in t.rows]
        table = PdfTable(data, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=landscape(A4), title=report.title).build(story)
    return out.getvalue()


def render(report: Report, fmt: str) -> bytes:
    """``report`` in ``fmt`` (html, pdf, csv or json)."""
    renderers = {"html": to_html, "pdf": to_pdf, "csv": to_csv, "json": to_json}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt](report)

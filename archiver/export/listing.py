"""Listings of posts for a records package: CSV (one row per post) and PDF (text and URLs).

Both take an iterator of posts and write as they go; nothing holds the whole selection. Each
post says who wrote it (``author``: a citizen's reply is credited to the citizen, not to the
agency whose account it was captured from), what it is (``kind``: post, reply or comment), what
it answers (``in_reply_to``) and which media it carried.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from archiver.index.api import PostSummary
from archiver.reports.fonts import pdf_fonts

CSV_COLUMNS = (
    "post_id",
    "account",
    "url",
    "published_at",
    "versions",
    "edited",
    "deleted",
    "text",
    "title",
    "series",
    "platform",
    "native_id",
    "captured_at",
    "author",
    "kind",
    "in_reply_to",
    "media_count",
    "media",
)


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else ""


def post_row(p: PostSummary) -> list[str]:
    """One CSV row, in :data:`CSV_COLUMNS` order (latest version's text)."""
    return [
        p.post_id,
        p.account,
        p.url or "",
        _iso(p.published_at),
        str(p.versions),
        "true" if p.edited else "false",
        "true" if p.deleted else "false",
        p.text,
        p.title or "",
        p.series,
        p.platform,
        p.native_id,
        _iso(p.captured_at),
        p.author or "",
        p.kind,
        p.in_reply_to or "",
        str(len(p.media)),
        " ".join(p.media),
    ]


def write_csv(posts: Iterable[PostSummary], out: TextIO) -> int:
    """Write a header and one row per post; returns the number of posts."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for p in posts:
        writer.writerow(post_row(p))
        count += 1
    return count


@dataclass(frozen=True)
class PdfHeading:
    """What the first page says about the listing."""

    title: str
    lines: tuple[str, ...] = ()


def write_pdf(posts: Iterable[PostSummary], path: Path, heading: PdfHeading) -> int:
    """A paginated PDF: for each post its id, account, author, kind (and what it answers),
    dates, flags, URL, title, text and media. Drawn page by page with the canvas API (no
    flowable list of the whole selection); CJK text in the fallback font (:mod:`fonts`)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    fonts = pdf_fonts()
    width, height = A4
    margin = 50.0
    usable = width - 2 * margin
    pdf = canvas.Canvas(str(path), pagesize=A4, pageCompression=1, invariant=1)
    pdf.setTitle(heading.title)
    pdf.setCreator("archiver")
    page = 1
    y = height - margin

    def footer() -> None:
        text = f"{heading.title} - page {page}"
        x = width - margin - fonts.width(text, fonts.regular, 8)
        fonts.draw(pdf, x, margin / 2, text, fonts.regular, 8)

    def line(text: str, font: str, size: float, gap: float = 2.0) -> None:
        nonlocal y, page
        for piece in fonts.wrap(text, font, size, usable):
            if y - size < margin:
                footer()
                pdf.showPage()
                page += 1
                y = height - margin
            fonts.draw(pdf, margin, y - size, piece, font, size)
            y -= size + gap

    line(heading.title, fonts.bold, 15, 6)
    for text in heading.lines:
        line(text, fonts.regular, 9)
    y -= 8
    count = 0
    for p in posts:
        count += 1
        flags = ", ".join(f for f, on in (("edited", p.edited), ("DELETED", p.deleted)) if on)
        line(
            f"{count}. {p.post_id}  {p.account}  published {_iso(p.published_at) or '-'}"
            f"  versions {p.versions}" + (f"  [{flags}]" if flags else ""),
            fonts.bold,
            9.5,
        )
        answers = f" in reply to {p.in_reply_to}" if p.in_reply_to else ""
        line(f"{p.kind} by {p.author or 'unknown author'}{answers}", fonts.regular, 8.5)
        if p.url:
            line(p.url, fonts.regular, 8.5)
        if p.title:
            line(p.title, fonts.bold, 9)
        for paragraph in _paragraphs(p.text):
            line(paragraph, fonts.regular, 9)
        if p.media:
            line(f"media ({len(p.media)}):", fonts.regular, 8.5)
            for url in p.media:
                line(url, fonts.regular, 8)
        y -= 8
    if count == 0:
        line("No posts in this selection.", fonts.regular, 10)
    footer()
    pdf.showPage()
    pdf.save()
    return count


def _paragraphs(text: str) -> Iterator[str]:
    for para in text.replace("\r\n", "\n").split("\n"):
        para = " ".join(para.split())
        if para:
            yield para

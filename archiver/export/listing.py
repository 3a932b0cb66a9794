"""Listings of posts for a records package: CSV (one row per post) and PDF (text and URLs).

Both take an iterator of posts and write as they go; nothing holds the whole selection.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from archiver.index.api import PostSummary

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
)

_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
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


class _Fonts:
    def __init__(self) -> None:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        self.regular, self.bold, self.unicode = "Helvetica", "Helvetica-Bold", False
        for path in _FONT_CANDIDATES:
            if path.is_file():
                bold = path.with_name(path.name.replace("Sans.ttf", "Sans-Bold.ttf"))
                pdfmetrics.registerFont(TTFont("ListingSans", str(path)))
                self.regular, self.bold, self.unicode = "ListingSans", "ListingSans", True
                if bold.is_file() and bold != path:
                    pdfmetrics.registerFont(TTFont("ListingSans-Bold", str(bold)))
                    self.bold = "ListingSans-Bold"
                break

    def clean(self, text: str) -> str:
        """Text the font can draw (standard fonts: Latin-1, others replaced by ``?``)."""
        if self.unicode:
            return text
        return text.encode("latin-1", "replace").decode("latin-1")


def write_pdf(posts: Iterable[PostSummary], path: Path, heading: PdfHeading) -> int:
    """A paginated PDF: for each post its id, account, dates, flags, URL, title and text.
    Drawn page by page with the canvas API (no flowable list of the whole selection)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    fonts = _Fonts()
    width, height = A4
    margin = 50.0
    usable = width - 2 * margin
    pdf = canvas.Canvas(str(path), pagesize=A4, pageCompression=1, invariant=1)
    pdf.setTitle(heading.title)
    pdf.setCreator("archiver")
    page = 1
    y = height - margin

    def footer() -> None:
        pdf.setFont(fonts.regular, 8)
        pdf.drawRightString(width - margin, margin / 2, f"{heading.title} - page {page}")

    def line(text: str, font: str, size: float, gap: float = 2.0) -> None:
        nonlocal y, page
        for piece in simpleSplit(fonts.clean(text), font, size, usable) or [""]:
            if y - size < margin:
                footer()
                pdf.showPage()
                page += 1
                y = height - margin
            pdf.setFont(font, size)
            pdf.drawString(margin, y - size, piece)
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
        if p.url:
            line(p.url, fonts.regular, 8.5)
        if p.title:
            line(p.title, fonts.bold, 9)
        for paragraph in _paragraphs(p.text):
            line(paragraph, fonts.regular, 9)
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

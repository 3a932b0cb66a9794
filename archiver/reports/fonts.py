"""Fonts for every PDF the archiver writes (reports, export listings, disposition certificates).

Text is drawn in DejaVu Sans (Latin, Greek, Cyrillic ...) and, character by character, falls back
to a CJK TrueType font (WenQuanYi Zen Hei from Debian's ``fonts-wqy-zenhei``, else Droid Sans
Fallback from ``fonts-droid-fallback``) for what DejaVu cannot draw, so Chinese, Japanese and
Korean posts print as text, not boxes. reportlab embeds TrueType outlines only, which is why the
OpenType/CFF Noto CJK fonts (``fonts-noto-cjk``, used by browsers) are not candidates here.
Without any of these files the standard Helvetica is used and other characters become ``?``.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_LATIN = (
    (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
    (
        Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    ),
    (
        Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
        Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ),
)
# (path, index in a TrueType collection): TrueType outlines, which reportlab can embed
CJK_CANDIDATES: tuple[tuple[Path, int], ...] = (
    (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"), 0),
    (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"), 0),
    (Path("/usr/share/fonts/google-droid/DroidSansFallbackFull.ttf"), 0),
)
REGULAR, BOLD, FALLBACK = "ArchiverSans", "ArchiverSans-Bold", "ArchiverCJK"
_TOKEN = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class PdfFonts:
    """Registered font names and the per-character fallback between them."""

    regular: str
    bold: str
    fallback: str | None
    _covers: dict[str, Callable[[int], bool]] = field(default_factory=dict, repr=False)

    def font_for(self, char: str, font: str) -> str:
        """``font`` when it has a glyph for ``char``, else the fallback when that has one."""
        if self._covers.get(font, _latin1)(ord(char)) or self.fallback is None:
            return font
        return self.fallback if self._covers[self.fallback](ord(char)) else font

    def runs(self, text: str, font: str) -> list[tuple[str, str]]:
        """``text`` cut into ``(piece, font)`` runs, each drawable in its font; characters no
        font has become ``?`` when the base font is a standard (Latin-1) one."""
        pieces: list[tuple[str, str]] = []
        for char in text:
            chosen = self.font_for(char, font)
            if chosen == font and font not in self._covers and not _latin1(ord(char)):
                char = "?"  # a standard font (Helvetica) draws Latin-1 only
            if pieces and pieces[-1][1] == chosen:
                pieces[-1] = (pieces[-1][0] + char, chosen)
            else:
                pieces.append((char, chosen))
        return pieces

    def markup(self, text: str, font: str | None = None) -> str:
        """``text`` escaped for a reportlab ``Paragraph``, fallback runs in ``<font>`` tags."""
        base = font or self.regular
        return "".join(
            html.escape(piece)
            if name == base
            else f'<font name="{name}">{html.escape(piece)}</font>'
            for piece, name in self.runs(text, base)
        )

    def width(self, text: str, font: str, size: float) -> float:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        return sum(stringWidth(piece, name, size) for piece, name in self.runs(text, font))

    def wrap(self, text: str, font: str, size: float, max_width: float) -> list[str]:
        """Lines no wider than ``max_width``: broken between words, and between any two CJK
        characters (they are not separated by spaces); a longer word (a URL) is cut."""
        tokens: list[str] = []
        for token in _TOKEN.findall(text):
            if any(self.font_for(c, font) != font for c in token):
                tokens.extend(token)  # each character may start a new line
            else:
                tokens.append(token)
        lines: list[str] = []
        line = ""
        for token in tokens:
            if self.width(line + token, font, size) <= max_width:
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = token.lstrip()
            while self.width(line, font, size) > max_width and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and self.width(line[:cut], font, size) > max_width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        if line.strip() or not lines:
            lines.append(line.rstrip())
        return lines

    def draw(self, canvas: Any, x: float, y: float, text: str, font: str, size: float) -> None:
        """Draw one line at ``(x, y)``, switching to the fallback font where needed."""
        from reportlab.pdfbase.pdfmetrics import stringWidth

        for piece, name in self.runs(text, font):
            canvas.setFont(name, size)
            canvas.drawString(x, y, piece)
            x += stringWidth(piece, name, size)

    def styles(self) -> Any:
        """reportlab's sample style sheet drawn in these fonts (``<b>`` maps to the bold one)."""
        from reportlab.lib.styles import getSampleStyleSheet

        sheet = getSampleStyleSheet()
        for name in sheet.byName:
            style = sheet[name]
            if getattr(style, "fontName", None) is None:
                continue
            bold = "Bold" in style.fontName
            style.fontName = self.bold if bold else self.regular
        return sheet


def _latin1(codepoint: int) -> bool:
    return codepoint < 256


@functools.cache
def pdf_fonts() -> PdfFonts:
    """The fonts, registered with reportlab once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = "Helvetica", "Helvetica-Bold"
    covers: dict[str, Callable[[int], bool]] = {}
    for path, bold_path in _LATIN:
        if path.is_file():
            font = TTFont(REGULAR, str(path))
            pdfmetrics.registerFont(font)
            regular = bold = REGULAR
            covers[REGULAR] = font.face.charToGlyph.__contains__
            if bold_path.is_file():
                bold_font = TTFont(BOLD, str(bold_path))
                pdfmetrics.registerFont(bold_font)
                bold = BOLD
                covers[BOLD] = bold_font.face.charToGlyph.__contains__
            pdfmetrics.registerFontFamily(
                REGULAR, normal=REGULAR, bold=bold, italic=REGULAR, boldItalic=bold
            )
            break
    fallback = None
    for path, index in CJK_CANDIDATES:
        if path.is_file():
            cjk = TTFont(FALLBACK, str(path), subfontIndex=index)
            pdfmetrics.registerFont(cjk)
            fallback = FALLBACK
            covers[FALLBACK] = cjk.face.charToGlyph.__contains__
            break
    return PdfFonts(regular=regular, bold=bold, fallback=fallback, _covers=covers)

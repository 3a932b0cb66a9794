"""Plain text out of HTML, for search and for comparing versions (raw HTML is kept as well)."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

_SKIP = {"script", "style", "noscript", "template", "svg", "head"}
_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "header",
        "footer",
        "table",
        "ul",
        "ol",
        "blockquote",
        "td",
        "th",
        "dl",
        "dt",
        "dd",
        "figure",
        "figcaption",
        "nav",
        "main",
        "aside",
    }
)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title: list[str] = []
        self.in_title = False
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        if tag == "title":
            self.in_title = True
        if tag in _BLOCK:
            self.parts.append("\n")
        for name, value in attrs:
            if value and (
                (tag == "img" and name == "src")
                or (tag == "a" and name == "href")
                or (tag == "link" and name == "href")
                or (tag in ("source", "video", "audio") and name == "src")
            ):
                self.links.append((tag, value))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self.skip:
            self.skip -= 1
        if tag == "title":
            self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.skip:
            self.parts.append(data)


# A tag as HTMLParser reads it when nothing unusual is around: a name, then attributes whose
# quoted values may hold ">". Fragments of only such tags and text (a post's HTML) take the
# fast path below; anything else (comments, doctypes, a stray "<", skipped elements) the parser.
_SIMPLE_TAG = re.compile(
    r"""<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*\s*/?)>"""
)
_NEEDS_PARSER = _SKIP | {"title"}


def _simple_parts(html: str) -> list[str] | None:
    """The text parts :class:`_TextParser` would collect from ``html``, by regular expression;
    None when ``html`` holds anything the expression does not settle exactly like the parser."""
    parts: list[str] = []
    at = 0
    for tag in _SIMPLE_TAG.finditer(html):
        text = html[at : tag.start()]
        if "<" in text:
            return None
        if text:
            parts.append(unescape(text))
        name = tag.group(2).lower()
        if name in _NEEDS_PARSER:
            return None
        if name in _BLOCK and not tag.group(1):
            parts.append("\n")
        at = tag.end()
    rest = html[at:]
    if "<" in rest:
        return None
    if rest:
        parts.append(unescape(rest))
    return parts


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment or page, whitespace collapsed, paragraphs kept."""
    if "<" not in html:
        return " ".join(unescape(html).split())
    parts = _simple_parts(html)
    if parts is None:
        parser = _TextParser()
        parser.feed(html)
        parser.close()
        parts = parser.parts
    text = "".join(parts)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def html_title_and_links(html: str) -> tuple[str | None, list[tuple[str, str]]]:
    """The page ``<title>`` and the (tag, URL) of its images, links and stylesheets."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    title = " ".join("".join(parser.title).split()) or None
    return title, parser.links


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()

"""HTML to text: the regular-expression fast path reads every fragment exactly as the parser."""

from __future__ import annotations

import json
import random
from pathlib import Path

from archiver.capture import text

PIECES = [
    "<p>",
    "</p>",
    "<br>",
    "<br/>",
    "</br>",
    "<p/>",
    '<a href="x>y">',
    "</a>",
    "&amp;",
    "&#39;",
    "&lt;",
    "&nbsp;",
    "&",
    "&amp",
    "<span class='h-card'>",
    "</span>",
    "<",
    ">",
    "<!-- c -->",
    "<script>x</script>",
    "<title>t</title>",
    "<b >",
    "< b>",
    "<p\n class=x>",
    "<DIV>",
    "<x-y>",
    "<img src=a alt='>'>",
    '<a href=x title="">',
    "text ",
    "\n",
    "\u00a0",
    "中文",
]


def parsed(html: str) -> str:
    """What :func:`text.html_to_text` answered before the fast path: the parser's reading."""
    parser = text._TextParser()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def test_fast_path_equals_the_parser_on_random_fragments() -> None:
    rng = random.Random(20261202)
    fast = 0
    for _ in range(5000):
        html = "<p>" + "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14)))
        assert text.html_to_text(html) == parsed(html), html
        fast += text._simple_parts(html) is not None
    assert 1000 < fast < 5000  # both paths were taken


def test_fast_path_equals_the_parser_on_recorded_posts(corpus: Path) -> None:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and "<" in value:
            found.append(value)

    for path in sorted(corpus.rglob("*.json")):
        try:
            walk(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError):
            continue
    assert found, "the recordings hold HTML fragments (post contents)"
    for html in found:
        assert text.html_to_text(html) == parsed(html), html[:200]


def test_the_parser_still_reads_what_the_fast_path_refuses() -> None:
    html = "<p>a<script>hidden()</script> b<!-- note --> c</p><p>d &lt; e</p>"
    assert text._simple_parts(html) is None
    assert text.html_to_text(html) == "a b c\nd < e"

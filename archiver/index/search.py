"""Query parsing for full-text search, rendered for SQLite FTS5 and PostgreSQL tsquery alike.

Syntax (the same on both backends): words are ANDed, ``"two words"`` is a phrase, ``word*`` a
prefix. Anything else (operators, punctuation) is treated as plain text, never as syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archiver.errors import UsageError

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"[\w]+", re.UNICODE)


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # more than one: a phrase
    prefix: bool = False
    text: str = ""  # as typed (phrases go to PostgreSQL's own parser, as the documents did)


def parse_query(query: str) -> list[Term]:
    """Split a user query into terms; raises UsageError when nothing searchable is left."""
    terms: list[Term] = []
    for match in _TOKEN.finditer(query):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            words = tuple(w.lower() for w in _WORD.findall(phrase))
            if words:
                terms.append(Term(words, text=phrase))
            continue
        prefix = word.endswith("*")
        for i, w in enumerate(_WORD.findall(word)):
            last = i == len(_WORD.findall(word)) - 1
            terms.append(Term((w.lower(),), prefix=prefix and last, text=w))
    if not terms:
        raise UsageError(f"nothing to search for in {query!r}; give at least one word")
    return terms


def to_fts5(terms: list[Term]) -> str:
    """An FTS5 MATCH expression (implicit AND)."""
    parts = []
    for term in terms:
        quoted = '"' + " ".join(term.words) + '"'
        parts.append(quoted + ("*" if term.prefix else ""))
    return " ".join(parts)


def to_tsquery_sql(terms: list[Term]) -> tuple[str, dict[str, str]]:
    """A PostgreSQL tsquery expression and its parameters. Words and phrases go through the
    same text-search parser as the documents (``plainto_``/``phraseto_tsquery``), so tokens
    like ``1.8`` match on both sides; prefixes use ``word:*``."""
    parts, params = [], {}
    for i, term in enumerate(terms):
        name = f"tq{i}"
        if len(term.words) > 1:
            parts.append(f"phraseto_tsquery('english', :{name})")
            params[name] = term.text
        elif term.prefix:
            parts.append(f"to_tsquery('english', :{name})")
            params[name] = term.words[0] + ":*"
        else:
            parts.append(f"plainto_tsquery('english', :{name})")
            params[name] = term.text
    return "(" + " && ".join(parts) + ")", params

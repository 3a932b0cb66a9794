"""One place that keeps secrets out of everything a capture records or says.

A token can come back from a platform in many spellings: as sent, percent-encoded in a
``paging.next`` URL (``%7C`` for ``|``), form-encoded (``+`` for a space), JSON-escaped
(``\\/`` for ``/``, ``\\u00e9``). :class:`Redactor` knows every spelling of every registered
secret and replaces each by ``[REDACTED]`` in bytes (WARC records) and text (ledger entries,
problems, log lines), where it also redacts the values of secret query parameters in URLs.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
_URL = re.compile(r"https?://[^\s'\"<>]+")
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "appsecret",
        "client_secret",
        "password",
        "sig",
        "signature",
        "bearer_token",
        "refresh_token",
    }
)


_SECRET_PAIR = re.compile(
    r"([?&;](?:" + "|".join(sorted(map(re.escape, SECRET_PARAMS))) + r")=)[^&#;\s]*", re.I
)


def redact_url(url: str) -> str:
    """``url`` with the values of secret query parameters replaced by ``[REDACTED]`` (also in
    a URL too broken to parse, as a hostile ``Location`` may be)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k.lower() in SECRET_PARAMS for k, _ in pairs):
        return url
    query = urlencode(
        [(k, REDACTED if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="[]"
    )
    return urlunsplit(parts._replace(query=query))


def spellings(secret: str) -> set[str]:
    """Every way ``secret`` may appear in a recorded message."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="/:"),
        quote_plus(secret, safe=""),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        json.dumps(secret).replace("/", "\\/")[1:-1],
    }
    forms |= {form.replace("%", "%25") for form in list(forms) if "%" in form}  # twice encoded
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), f) for f in list(forms)}
    return {form for form in forms if form}


class Redactor:
    """The secrets of one capture, in all their spellings (longest replaced first)."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._bytes: list[bytes] = []

    def __bool__(self) -> bool:
        return bool(self._text)

    def add(self, secret: str) -> None:
        """Register ``secret``: no spelling of it passes :meth:`bytes` or :meth:`text` now."""
        if not secret:
            return
        known = set(self._text)
        new = spellings(secret) - known
        if not new:
            return
        self._text = sorted(known | new, key=len, reverse=True)
        self._bytes = [form.encode() for form in self._text]

    def found_in(self, data: bytes) -> bool:
        return any(form in data for form in self._bytes)

    def bytes(self, data: bytes) -> bytes:
        """``data`` with every spelling of every secret replaced by ``[REDACTED]``."""
        for form in self._bytes:
            if form in data:
                data = data.replace(form, REDACTED.encode())
        return data

    def text(self, message: str) -> str:
        """``message`` with every secret and every secret query parameter value redacted."""
        for form in self._text:
            if form in message:
                message = message.replace(form, REDACTED)
        return _URL.sub(lambda m: redact_url(m.group(0)), message)

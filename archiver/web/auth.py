"""Who may use the web console: users and roles from a file, scrypt password hashes, sessions.

The users file (``ARCHIVER_WEB_USERS`` or ``archiver web --users FILE``) is YAML::

    users:
      alice:
        roles: [archivist]
        password: "scrypt$16384$8$1$<salt base64>$<hash base64>"   # archiver web --hash-password

Roles: ``archivist`` reads posts (search, timelines, versions, replay links), ``records_officer``
reads holds and disposition plans, ``auditor`` reads reports and the audit trail. A user may
hold several. Passwords are never stored, only their scrypt hash (``hashlib.scrypt``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from archiver.errors import ConfigError

ROLES = ("archivist", "records_officer", "auditor")
ROLE_TITLES = {
    "archivist": "archivist",
    "records_officer": "records officer",
    "auditor": "auditor",
}
_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~16 MiB and a few tens of ms per check
SESSION_LIFETIME = timedelta(hours=8)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``password`` (a fresh 16-byte salt unless given)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison of the hashes)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class User:
    """A console user and the roles they hold."""

    name: str
    roles: frozenset[str]
    password_hash: str = ""

    def can(self, role: str) -> bool:
        return role in self.roles


OPEN_ACCESS = User(name="local (open access)", roles=frozenset(ROLES))
_DUMMY_HASH = hash_password("not a password", salt=b"\0" * 16)


def load_users(path: Path) -> dict[str, User]:
    """Users from the YAML file at ``path``; ConfigError (exit 2) naming what to fix."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"web users file {path}: {exc.strerror}; check the path") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"web users file {path} is not valid YAML: {exc}") from None
    entries = (doc or {}).get("users") if isinstance(doc, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(
            f"web users file {path}: expected 'users:' mapping names to roles and password "
            "hashes; see docs/retrieval.md"
        )
    users: dict[str, User] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"web users file {path}: user {name!r} needs roles and password")
        roles = entry.get("roles") or []
        if isinstance(roles, str):
            roles = [roles]
        unknown = [r for r in roles if r not in ROLES]
        if unknown or not roles:
            raise ConfigError(
                f"web users file {path}: user {name!r} has roles {roles!r}; "
                f"choose from {', '.join(ROLES)}"
            )
        password = str(entry.get("password") or "")
        if not password.startswith("scrypt$"):
            raise ConfigError(
                f"web users file {path}: user {name!r} needs a password hash made with "
                "`archiver web --hash-password` (plain passwords are refused)"
            )
        users[str(name)] = User(name=str(name), roles=frozenset(roles), password_hash=password)
    return users


class Sessions:
    """Signed-in users by random session token, in memory (a restart signs everyone out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, tuple[User, datetime]] = {}

    def start(self, user: User, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._by_token[token] = (user, now + SESSION_LIFETIME)
        return token

    def user(self, token: str | None, now: datetime) -> User | None:
        if not token:
            return None
        with self._lock:
            found = self._by_token.get(token)
            if found is None:
                return None
            if found[1] <= now:
                del self._by_token[token]
                return None
            return found[0]

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)


def authenticate(users: dict[str, User], name: str, password: str) -> User | None:
    """The user whose name and password match, or None (as slow for unknown names)."""
    user = users.get(name)
    ok = check_password(password, user.password_hash if user else _DUMMY_HASH)
    return user if user is not None and ok else None

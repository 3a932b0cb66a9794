"""Load every ``*.yaml`` under the policies folder.

Every error names ``file:line``, the key and a remedy."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate
import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from archiver.errors import PolicyError
from archiver.policy.model import (
    PLATFORMS,
    UNSCHEDULED,
    UNSCHEDULED_ID,
    Account,
    CaptureOptions,
    Disposition,
    PolicySet,
    Retention,
    Schedule,
    Series,
    TransferTarget,
)

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

_SLUG_REMEDY = "ids are short slugs matching [a-z0-9][a-z0-9._-]* (they become file names and keys)"


def _slug(value: str) -> str:
    if not SLUG.match(value) or ".." in value or len(value) > 64:
        raise ValueError(f"{value!r} is not a valid id; {_SLUG_REMEDY}")
    return value


MAX_YEARS = 1000  # a retention or window longer than this is a typo (write 'permanent')
MAX_NODES = 20_000  # YAML nodes one file may expand to (aliases count each time they are used)
MAX_DEPTH = 64  # nesting of mappings and lists (a recursive alias would be endless)
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)


def _duration(value: str) -> str:
    if value == "permanent":
        return value
    try:
        period = isodate.parse_duration(value)
        end = _REFERENCE + period
    except (isodate.ISO8601Error, ValueError, OverflowError):
        raise ValueError(
            f"{value!r} is not a usable ISO-8601 duration; write e.g. P90D, P3Y or 'permanent'"
        ) from None
    if not value.startswith("P"):
        raise ValueError(f"{value!r}: durations start with P, e.g. P90D")
    if end.year - _REFERENCE.year > MAX_YEARS:
        raise ValueError(
            f"{value!r} is longer than {MAX_YEARS} years; "
            "write 'permanent' for records kept forever"
        )
    return value


def _default_capture() -> list[Literal["api", "page"]]:
    return ["api"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class TransferSpec(_Strict):
    destination: str | None = None
    accession: str | None = None
    transfer_request: str | None = None
    warc_version: Literal["1.0", "1.1"] = "1.1"

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(file:///\S+|s3://[^/\s?]+\S*)$", value):
            raise ValueError(
                f"{value!r} is not a transfer destination; write file:///folder or "
                "s3://bucket/prefix?endpoint_url=...&region=..."
            )
        return value


class SeriesSpec(_Strict):
    id: str
    title: str
    authority: str | None = None
    retention: str
    cutoff: Literal["capture", "publication", "calendar_year", "fiscal_year"] = "capture"
    disposition: Literal["destroy", "transfer", "review", "keep"] | None = None
    disposition_requires_two_people: bool = False
    transfer: TransferSpec | None = None

    _id = field_validator("id")(_slug)
    _retention = field_validator("retention")(_duration)


def _disposition_of(spec: SeriesSpec, located: _Located, index: int, label: str) -> Disposition:
    """The series' disposition (``keep`` for a permanent series that names none, else
    ``destroy``); a PolicyError at the line of the contradiction when the schedule cannot be
    carried out as written."""
    permanent = spec.retention == "permanent"
    disposition: Disposition = spec.disposition or ("keep" if permanent else "destroy")
    line = located.lines.get(
        ("series", index, "disposition"), located.lines.get(("series", index, "id"), 0)
    )
    where = f"series {spec.id!r}"
    if permanent and disposition == "destroy":
        raise PolicyError(
            f"{where}: retention 'permanent' never ends, so its records can never be destroyed; "
            "write disposition: keep, or a period after which to destroy them (e.g. P7Y)",
            file=label,
            line=line,
        )
    if permanent and disposition == "transfer":
        raise PolicyError(
            f"{where}: retention 'permanent' never ends, so it never comes to a transfer; "
            "'permanent, transfer to the archives after N years' is written retention: P15Y "
            "with disposition: transfer, and records kept here for good are retention: "
            "permanent with disposition: keep",
            file=label,
            line=line,
        )
    if permanent and disposition == "review":
        raise PolicyError(
            f"{where}: retention 'permanent' never comes due for an appraisal; write "
            "disposition: keep, or the period after which to review (e.g. P5Y)",
            file=label,
            line=line,
        )
    if disposition == "keep" and not permanent:
        raise PolicyError(
            f"{where}: disposition 'keep' means the records never leave, but retention is "
            f"{spec.retention}; write retention: permanent, or choose destroy, transfer or "
            "review for the end of the period",
            file=label,
            line=line,
        )
    if spec.transfer is not None and disposition != "transfer":
        raise PolicyError(
            f"{where}: 'transfer:' names where the records go, but the disposition is "
            f"{disposition}; write disposition: transfer, or remove 'transfer:'",
            file=label,
            line=located.lines.get(("series", index, "transfer"), line),
        )
    return disposition


class OptionsSpec(_Strict):
    comments: bool = True
    media: bool = True
    max_items: int = Field(default=200, gt=0)
    pages: bool = False
    max_bytes: int | None = Field(default=None, gt=0)
    since: str | None = None  # ISO-8601 duration: only posts newer than now minus this
    full_listing_every: str | None = None  # ISO-8601 duration: list everything this often only
    api_version: str | None = Field(default=None, pattern=r"^v\d+\.\d+$")  # Graph: v24.0

    @field_validator("since", "full_listing_every")
    @classmethod
    def _since(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value)


class AccountSpec(_Strict):
    id: str
    agency: str
    responsible: str | None = None
    platform: Literal[
        "feed", "mastodon", "bluesky", "youtube", "x", "facebook", "instagram", "wechat", "web"
    ]
    url: str | None = None
    handle: str | None = None
    base_url: str | None = None
    series: str | None = None
    schedule: str
    timezone: str = "UTC"
    capture: list[Literal["api", "page"]] = Field(default_factory=_default_capture, min_length=1)
    credentials: str | None = None
    options: OptionsSpec = Field(default_factory=OptionsSpec)

    _id = field_validator("id")(_slug)

    @field_validator("series")
    @classmethod
    def _series(cls, value: str | None) -> str | None:
        return None if value is None else _slug(value)

    @field_validator("url", "base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL; write e.g. https://agency.gov/feed")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone; write e.g. UTC or America/New_York"
            ) from None
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if value.startswith("P"):
            try:
                period = isodate.parse_duration(value)
            except (isodate.ISO8601Error, ValueError, OverflowError):
                period = None
            if (
                not isinstance(period, isodate.Duration)
                and period
                and timedelta(0) < period <= timedelta(days=366)
            ):
                return value
            raise ValueError(
                f"{value!r} is not a usable interval; write e.g. PT6H or P1D (more than nothing, "
                "at most a year; no months/years)"
            )
        try:
            trigger = CronTrigger.from_crontab(value)
            fires = trigger.get_next_fire_time(None, _REFERENCE)
        except (ValueError, OverflowError) as exc:
            raise ValueError(
                f"{value!r} is not a cron expression ({exc}); write 5 fields like '0 */6 * * *' "
                "or an ISO-8601 interval like PT6H"
            ) from None
        if fires is None:
            raise ValueError(
                f"cron {value!r} never fires (no such date); check the day and month fields"
            )
        return value

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str | None) -> str | None:
        if value is not None and not (ENV_NAME.match(value) or value.startswith("file:")):
            raise ValueError(
                "credentials names an environment variable (e.g. USGS_TOKEN) or a secret file "
                "(file:/run/secrets/name), never the secret itself"
            )
        return value


class PolicyFileSpec(_Strict):
    series: list[SeriesSpec] = Field(default_factory=list)
    accounts: list[AccountSpec] = Field(default_factory=list)


# --- YAML with line numbers ------------------------------------------------------------------


@dataclass
class _Located:
    """Python values built from YAML, with the 1-based line of every path (key or item)."""

    value: Any
    lines: dict[tuple[Any, ...], int]


_STANDARD_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {f"{_STANDARD_TAG}{name}" for name in ("map", "seq", "str", "int", "float", "bool")}
_PLAIN_TAGS |= {f"{_STANDARD_TAG}null", f"{_STANDARD_TAG}timestamp"}


class _Budget:
    """How many nodes one file may still expand to (an alias bomb expands exponentially)."""

    def __init__(self, nodes: int = MAX_NODES) -> None:
        self.nodes = nodes


def _construct(
    node: yaml.Node,
    path: tuple[Any, ...],
    lines: dict[tuple[Any, ...], int],
    file: str,
    variables: Mapping[str, str],
    budget: _Budget | None = None,
) -> Any:
    budget = budget if budget is not None else _Budget()
    line = node.start_mark.line + 1
    budget.nodes -= 1
    if budget.nodes < 0:
        raise PolicyError(
            f"the file expands to more than {MAX_NODES} values (anchors and aliases repeated?); "
            "write the values out or split the file",
            file=file,
            line=line,
        )
    if len(path) > MAX_DEPTH:
        raise PolicyError(
            f"nested more than {MAX_DEPTH} levels deep (a recursive alias?); "
            "policies are a few levels of mappings and lists",
            file=file,
            line=line,
        )
    if node.tag not in _PLAIN_TAGS:
        raise PolicyError(
            f"YAML tag {node.tag!r} is not allowed in a policy; remove it (plain values only)",
            file=file,
            line=line,
        )
    lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                raise PolicyError(
                    f"key {key!r} appears twice in the same mapping; keep one",
                    file=file,
                    line=key_node.start_mark.line + 1,
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise PolicyError(
                    "a key must be a plain word, not a list or mapping",
                    file=file,
                    line=key_node.start_mark.line + 1,
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _construct(value_node, (*path, key), lines, file, variables, budget)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*path, i), lines, file, variables, budget)
            for i, item in enumerate(node.value)
        ]
    try:
        value = yaml.safe_load(yaml.serialize(node))  # scalar with YAML's own typing
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        raise PolicyError(
            f"value {str(node.value)[:40]!r} cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:120]}); quote it or fix it",
            file=file,
            line=line,
        ) from None
    if isinstance(value, str):
        value = _expand(value, variables, file, node.start_mark.line + 1)
    return value


def _expand(text: str, variables: Mapping[str, str], file: str, line: int) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise PolicyError(
            f"variable ${{{name}}} is not set; set it in the environment or write "
            f"${{{name}:-default}}",
            file=file,
            line=line,
        )

    return VARIABLE.sub(replace, text)


def _decode(data: bytes, label: str) -> str:
    """The file as text: UTF-8 (a UTF-8 byte-order mark is allowed), else a PolicyError at the
    line of the first byte that is not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PolicyError("the file is UTF-16; save it as UTF-8", file=label, line=1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PolicyError(
            f"byte {data[exc.start]:#04x} at offset {exc.start} is not UTF-8; save the file as "
            "UTF-8",
            file=label,
            line=line,
        ) from None


def _read_yaml(path: Path, label: str, variables: Mapping[str, str]) -> _Located:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(
            f"cannot be read ({exc.strerror}); check its permissions", file=label, line=1
        ) from None
    text = _decode(data, label)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise PolicyError(
            "nested too deeply to read; policies are a few levels of mappings and lists",
            file=label,
            line=1,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        started = (
            f" ({exc.context} at line {exc.context_mark.line + 1})"
            if exc.context
            and exc.context_mark
            and exc.problem_mark
            and exc.context_mark.line != exc.problem_mark.line
            else ""
        )
        raise PolicyError(
            f"not valid YAML: {exc.problem or exc}{started}; check indentation and quoting",
            file=label,
            line=(mark.line + 1) if mark else 1,
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {exc}", file=label, line=1) from None
    lines: dict[tuple[Any, ...], int] = {}
    if node is None:
        return _Located({}, lines)
    value = _construct(node, (), lines, label, variables)
    if not isinstance(value, dict):
        raise PolicyError(
            "a policy file is a mapping with 'series:' and/or 'accounts:' lists", file=label, line=1
        )
    return _Located(value, lines)


def _validation_error(exc: ValidationError, located: _Located, label: str) -> PolicyError:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    # The deepest path we have a line for (pydantic may add union/type tags to loc).
    line = next(
        (located.lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in located.lines), 1
    )
    key = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_for(loc)
        allowed = ", ".join(model.model_fields) if model else "see DESIGN.md"
        msg = (
            f"unknown key {loc[-1]!r} at {key}; allowed keys: {allowed}; "
            "remove it or fix the spelling"
        )
    elif kind == "missing":
        msg = f"required key {loc[-1]!r} is missing at {key}; add it"
    elif kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"{key}: {err['input']!r} is not allowed; use one of {expected}"
    else:
        text = str(err["msg"]).removeprefix("Value error, ")
        msg = f"{key}: {text}"
    return PolicyError(msg, file=label, line=line)


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    models: dict[str, type[BaseModel]] = {"series": SeriesSpec, "accounts": AccountSpec}
    if len(loc) == 1:
        return PolicyFileSpec
    model = models.get(str(loc[0]))
    if model is AccountSpec and len(loc) > 3 and loc[2] == "options":
        return OptionsSpec
    if model is SeriesSpec and len(loc) > 3 and loc[2] == "transfer":
        return TransferSpec
    return model


# --- the loader --------------------------------------------------------------------------------


def policy_files(root: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` under ``root`` (a folder) or ``root`` itself (a file), sorted.

    Hidden files and a ``demo/`` subfolder are skipped: the demo set points at the simulator and
    is loaded only when ``root`` is that folder itself."""
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise PolicyError(
            f"policies folder {root} does not exist; create it or set ARCHIVER_POLICIES"
        )
    # policies/demo/ is the simulator's self-contained set: loaded only when pointed at directly.
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and "demo" not in p.relative_to(root).parts[:-1]
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def load_policies(
    root: Path, variables: Mapping[str, str] | None = None, *, allow_empty: bool = False
) -> PolicySet:
    """Load and cross-check every policy file under ``root``.

    Guarantees: ids are unique across files, every account names a known series (or falls into
    ``unscheduled``), and any problem raises :class:`PolicyError` naming ``file:line``, the key and
    a remedy. ``${NAME}`` / ``${NAME:-default}`` in values expand from ``variables``.
    """
    variables = variables or {}
    files = policy_files(root)
    series: dict[str, Series] = {}
    accounts: dict[str, Account] = {}
    digest = hashlib.sha256()
    account_lines: dict[str, tuple[str, int, str | None]] = {}
    for path in files:
        label = str(path)
        located = _read_yaml(path, label, variables)
        digest.update(label.encode() + b"\0" + path.read_bytes() + b"\0")
        try:
            spec = PolicyFileSpec.model_validate(located.value)
        except ValidationError as exc:
            raise _validation_error(exc, located, label) from None
        for i, s in enumerate(spec.series):
            line = located.lines.get(("series", i, "id"), 0)
            where = f"{label}:{line}"
            if s.id == UNSCHEDULED_ID:
                raise PolicyError(
                    "series id 'unscheduled' is built in; choose another id", file=label, line=line
                )
            if s.id in series:
                raise PolicyError(
                    f"series id {s.id!r} is already defined at {series[s.id].source}; "
                    "ids must be unique across all policy files",
                    file=label,
                    line=line,
                )
            series[s.id] = Series(
                id=s.id,
                title=s.title,
                authority=s.authority,
                retention=Retention(s.retention),
                cutoff=s.cutoff,
                disposition=_disposition_of(s, located, i, label),
                source=where,
                disposition_requires_two_people=s.disposition_requires_two_people,
                transfer=TransferTarget(**s.transfer.model_dump()) if s.transfer else None,
            )
        for i, a in enumerate(spec.accounts):
            line = located.lines.get(("accounts", i, "id"), 0)
            where = f"{label}:{line}"
            if a.id in accounts:
                raise PolicyError(
                    f"account id {a.id!r} is already defined at {accounts[a.id].source}; "
                    "ids must be unique across all policy files",
                    file=label,
                    line=line,
                )
            if a.platform in ("feed", "web") and not a.url:
                raise PolicyError(
                    f"accounts.{i}: platform {a.platform!r} needs 'url:'; add the feed or page URL",
                    file=label,
                    line=line,
                )
            if a.platform not in ("feed", "web") and not (a.handle or a.url):
                raise PolicyError(
                    f"accounts.{i}: platform {a.platform!r} needs 'handle:' (or 'url:'); "
                    "add the account's handle",
                    file=label,
                    line=line,
                )
            series_line = located.lines.get(("accounts", i, "series"), line)
            account_lines[a.id] = (label, series_line, a.series)
            accounts[a.id] = Account(
                id=a.id,
                agency=a.agency,
                platform=a.platform,
                series=a.series or UNSCHEDULED_ID,
                schedule=Schedule(a.schedule, a.timezone),
                responsible=a.responsible,
                url=a.url,
                handle=a.handle,
                base_url=a.base_url,
                capture=tuple(a.capture),
                credentials=a.credentials,
                options=CaptureOptions(**a.options.model_dump()),
                source=where,
            )
    for account_id, (label, line, series_id) in account_lines.items():
        if series_id is not None and series_id not in series:
            known = ", ".join(sorted(series)) or "none defined"
            raise PolicyError(
                f"account {account_id!r}: series {series_id!r} is not defined (known: {known}); "
                "define it under 'series:' or fix the id",
                file=label,
                line=line,
            )
    if not accounts and not allow_empty:
        raise PolicyError(
            f"no accounts found under {root}; add a policy file with 'accounts:' "
            "(see policies/ for examples)"
        )
    series[UNSCHEDULED_ID] = UNSCHEDULED
    assert set(PLATFORMS) >= {a.platform for a in accounts.values()}
    return PolicySet(
        series=series,
        accounts=accounts,
        policy_hash=digest.hexdigest(),
        files=tuple(str(f) for f in files),
    )

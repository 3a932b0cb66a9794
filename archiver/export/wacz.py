"""WACZ 1.1.1 writing: WARC files, a sorted CDXJ index, pages and a datapackage with digests.

Streams in, streams out: WARC files are indexed and copied into the zip in chunks, the CDXJ is
sorted on disk (sorted runs merged), so memory does not grow with the archive. Used by
``archiver export --format wacz`` and reusable by anything that has closed WARC files::

    with WaczWriter(path, title="...", created=clock.now(), software="archiver/1.0") as wacz:
        wacz.add_warc(Path("a.warc.gz"), detect_pages=True)
        wacz.add_page("https://example.gov/", ts=when, title="Home")
    result = wacz.result
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import html
import json
import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from archiver.errors import UsageError

WACZ_VERSION = "1.1.1"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
INDEXED_TYPES = ("response", "revisit", "resource")
PAGE_MIMES = frozenset({"text/html", "application/xhtml+xml"})
_CHUNK = 1024 * 1024
_SORT_RUN = 50_000  # CDXJ lines sorted in memory at a time
_TITLE_SCAN = 64 * 1024  # how much of an HTML resource is read for its <title>
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
EXTRA_FOLDER = "export"  # files that travel with the records (listings, custody statement)


def surt(url: str) -> str:
    """The SURT form of ``url`` used as the CDXJ sort key (``gov,nasa)/path?a=1&b=2``).

    Lower-cased, host reversed without ``www.``, default ports dropped, query arguments
    sorted; anything that is not http(s) is kept as it is (lower-cased)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url.strip().lower()
    host = parts.hostname.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    key = ",".join(reversed(host.split(".")))
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and (parts.scheme.lower(), port) not in (("http", 80), ("https", 443)):
        key += f":{port}"
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    return (key + ")" + (parts.path or "/") + ("?" + query if query else "")).lower()


def cdx_timestamp(when: datetime) -> str:
    """14-digit UTC timestamp (``YYYYmmddHHMMSS``)."""
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _warc_date(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def iter_cdxj(stream: IO[bytes], filename: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """CDXJ lines (without newline) for the indexable records of a per-record-gzip WARC stream,
    with the fields of each record (url, mime, status, date) for page detection."""
    it = ArchiveIterator(stream, check_digests=False)
    for record in it:
        h = record.rec_headers
        url = h.get_header("WARC-Target-URI")
        rec_type = record.rec_type
        status: str | None = None
        mime = ""
        if record.http_headers is not None:
            status = record.http_headers.get_statuscode()
            mime = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip()
        elif rec_type == "resource":
            mime = (h.get_header("Content-Type") or "").split(";")[0].strip()
        title = None
        if rec_type == "resource" and mime in PAGE_MIMES:
            title = html_title(record.content_stream().read(_TITLE_SCAN))
        it.read_to_end(record)
        if rec_type not in INDEXED_TYPES or not url:
            continue
        when = _warc_date(h.get_header("WARC-Date"))
        entry: dict[str, Any] = {"url": url}
        entry["mime"] = "warc/revisit" if rec_type == "revisit" else (mime or "unk")
        if status:
            entry["status"] = status
        digest = h.get_header("WARC-Payload-Digest") or h.get_header("WARC-Block-Digest")
        if digest:
            entry["digest"] = digest
        entry["length"] = str(it.get_record_length())
        entry["offset"] = str(it.get_record_offset())
        entry["filename"] = filename
        line = f"{surt(url)} {cdx_timestamp(when)} {json.dumps(entry, separators=(',', ':'))}"
        yield (
            line,
            {
                "url": url,
                "mime": mime,
                "status": status,
                "date": when,
                "type": rec_type,
                "title": title,
            },
        )


def html_title(head: bytes) -> str | None:
    """The text of the first ``<title>`` element in the start of an HTML document, unescaped
    and with whitespace collapsed (None when there is none)."""
    match = _TITLE.search(head)
    if match is None:
        return None
    text = html.unescape(match.group(1).decode("utf-8", "replace"))
    return " ".join(text.split()) or None


@dataclass(frozen=True)
class WaczResource:
    """One file inside the WACZ as the datapackage lists it."""

    name: str
    path: str
    hash: str  # "sha256:<hex>"
    bytes: int


@dataclass(frozen=True)
class WaczResult:
    """What was written: the WACZ file, its own SHA-256, and its datapackage resources."""

    path: Path
    sha256: str
    size: int
    resources: list[WaczResource]
    datapackage_hash: str
    pages: int
    records_indexed: int


class _HashingWriter:
    """Counts and hashes what passes through to a zip entry."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)


@dataclass
class _State:
    resources: list[WaczResource] = field(default_factory=list)
    page_urls: set[str] = field(default_factory=set)
    pages: int = 0
    indexed: int = 0
    main_page: tuple[str, datetime] | None = None


class WaczWriter:
    """Write a WACZ 1.1.1 file at ``target``: ``archive/*.warc.gz``, ``indexes/index.cdx``,
    ``pages/pages.jsonl``, ``datapackage.json`` (SHA-256 and size of every resource) and
    ``datapackage-digest.json``. Everything is stored uncompressed (``ZIP_STORED``) so replay
    tools can read WARC ranges straight from the zip. Use as a context manager; on error the
    partial file is removed."""

    def __init__(
        self,
        target: Path,
        *,
        title: str,
        created: datetime,
        software: str,
        description: str | None = None,
        main_page_url: str | None = None,
        main_page_date: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.target = target
        self.title = title
        self.created = created.astimezone(UTC)
        self.software = software
        self.description = description
        self.extra = dict(extra or {})
        self._work = Path(tempfile.mkdtemp(prefix="wacz-", dir=target.parent))
        self._cdx_lines = (self._work / "index.unsorted").open("w", encoding="utf-8")
        self._pages = (self._work / "pages.unsorted").open("w", encoding="utf-8")
        # allowZip64: a WARC over 4 GiB still fits; smaller entries keep plain headers
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._names: set[str] = set()
        self._state = _State()
        if main_page_url:
            self._state.main_page = (main_page_url, main_page_date or self.created)
        self.result: WaczResult | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _info(self, arcname: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(arcname, date_time=self.created.timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def _write_entry(self, arcname: str, source: Path) -> WaczResource:
        """Copy ``source`` into the zip as ``arcname``. Its size is given up front, so the local
        header is a plain one (ZIP64 only past 4 GiB): ReplayWeb.page reads entries by their
        local headers and refuses ZIP64 ones on small files."""
        if arcname in self._names:
            raise UsageError(f"{arcname} is already in the WACZ; WARC file names must be unique")
        self._names.add(arcname)
        info = self._info(arcname)
        info.file_size = source.stat().st_size
        with source.open("rb") as src, self._zip.open(info, "w") as fh:
            out = _HashingWriter(fh)
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                out.write(chunk)
        resource = WaczResource(
            name=Path(arcname).name,
            path=arcname,
            hash="sha256:" + out.digest.hexdigest(),
            bytes=out.size,
        )
        self._state.resources.append(resource)
        return resource

    def _write_generated(self, arcname: str, chunks: Iterable[bytes]) -> WaczResource:
        """Write ``chunks`` to a scratch file, then into the zip (so its size is known)."""
        scratch = self._work / ("gen-" + arcname.replace("/", "_"))
        with scratch.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        try:
            return self._write_entry(arcname, scratch)
        finally:
            scratch.unlink(missing_ok=True)

    def add_file(self, path: Path, name: str | None = None) -> WaczResource:
        """Add a file that travels with the records (a listing, a custody statement) as
        ``export/NAME``, listed with its digest in the datapackage like every resource."""
        return self._write_entry(f"{EXTRA_FOLDER}/{name or path.name}", path)

    def add_warc(
        self,
        path: Path,
        name: str | None = None,
        *,
        detect_pages: bool = False,
        page_mimes: frozenset[str] = PAGE_MIMES,
    ) -> WaczResource:
        """Index ``path`` (a per-record-gzip WARC) and copy it to ``archive/NAME``. With
        ``detect_pages`` every 200 response whose MIME type is in ``page_mimes`` becomes a page
        (once per URL), and so does every HTML ``resource`` record (a post page: once per URL
        and time, titled by its ``<title>``)."""
        name = name or path.name
        with path.open("rb") as fh:
            for line, fields in iter_cdxj(fh, name):
                self._cdx_lines.write(line + "\n")
                self._state.indexed += 1
                if not detect_pages:
                    continue
                if (
                    fields["type"] == "response"
                    and fields["status"] == "200"
                    and fields["mime"] in page_mimes
                ):
                    self.add_page(fields["url"], ts=fields["date"])
                elif fields["type"] == "resource" and fields["mime"] in PAGE_MIMES:
                    # a post page: every version is an entry point (same URL, its own time)
                    self.add_page(
                        fields["url"], ts=fields["date"], title=fields["title"], per_time=True
                    )
        return self._write_entry(f"archive/{name}", path)

    def add_page(
        self,
        url: str,
        *,
        ts: datetime,
        title: str | None = None,
        text: str | None = None,
        page_id: str | None = None,
        per_time: bool = False,
    ) -> bool:
        """List ``url`` as a page (an entry point for replay); False when already listed (the
        URL, or with ``per_time`` the URL at that time)."""
        key = f"{ts.astimezone(UTC).isoformat()} {url}" if per_time else url
        if key in self._state.page_urls:
            return False
        self._state.page_urls.add(key)
        page: dict[str, Any] = {
            "id": page_id or secrets.token_hex(8),
            "url": url,
            "ts": ts.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        if title:
            page["title"] = title
        if text:
            page["text"] = text
        self._pages.write(json.dumps(page, ensure_ascii=False) + "\n")
        self._state.pages += 1
        if self._state.main_page is None:
            self._state.main_page = (url, ts)
        return True

    def _sorted_cdxj(self) -> Iterator[bytes]:
        self._cdx_lines.close()
        runs: list[Path] = []
        with (self._work / "index.unsorted").open("r", encoding="utf-8") as fh:
            while True:
                lines = [line for _, line in zip(range(_SORT_RUN), fh, strict=False)]
                if not lines:
                    break
                lines.sort()
                run = self._work / f"run-{len(runs):05d}"
                run.write_text("".join(lines), encoding="utf-8")
                runs.append(run)
        handles = [r.open("r", encoding="utf-8") for r in runs]
        try:
            for line in heapq.merge(*handles):
                yield line.encode("utf-8")
        finally:
            for h in handles:
                h.close()

    def _pages_body(self) -> Iterator[bytes]:
        self._pages.close()
        yield (json.dumps(PAGES_HEADER) + "\n").encode()
        with (self._work / "pages.unsorted").open("rb") as fh:
            yield from iter(lambda: fh.read(_CHUNK), b"")

    def close(self) -> WaczResult:
        """Write the index, pages and datapackage; returns (and keeps in ``result``) the
        outcome. Idempotent."""
        if self.result is not None:
            return self.result
        try:
            self._write_generated("indexes/index.cdx", self._sorted_cdxj())
            self._write_generated("pages/pages.jsonl", self._pages_body())
            package: dict[str, Any] = {
                "profile": "data-package",
                "wacz_version": WACZ_VERSION,
                "title": self.title,
                "created": self.created.isoformat().replace("+00:00", "Z"),
                "modified": self.created.isoformat().replace("+00:00", "Z"),
                "software": self.software,
                "resources": [
                    {"name": r.name, "path": r.path, "hash": r.hash, "bytes": r.bytes}
                    for r in self._state.resources
                ],
            }
            if self.description:
                package["description"] = self.description
            if self._state.main_page:
                url, when = self._state.main_page
                package["mainPageUrl"] = url
                package["mainPageDate"] = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
            package.update(self.extra)
            body = json.dumps(package, indent=2, ensure_ascii=False).encode()
            dp_hash = "sha256:" + hashlib.sha256(body).hexdigest()
            self._zip.writestr(self._info("datapackage.json"), body)
            digest = {"path": "datapackage.json", "hash": dp_hash}
            self._zip.writestr(
                self._info("datapackage-digest.json"), json.dumps(digest, indent=2).encode()
            )
            self._zip.close()
        except BaseException:
            self.abort()
            raise
        shutil.rmtree(self._work, ignore_errors=True)
        whole = hashlib.sha256()
        with self.target.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                whole.update(chunk)
        self.result = WaczResult(
            path=self.target,
            sha256=whole.hexdigest(),
            size=self.target.stat().st_size,
            resources=list(self._state.resources),
            datapackage_hash=dp_hash,
            pages=self._state.pages,
            records_indexed=self._state.indexed,
        )
        return self.result

    def abort(self) -> None:
        """Drop the partial WACZ and the scratch files."""
        for fh in (self._cdx_lines, self._pages):
            fh.close()
        with contextlib.suppress(OSError, ValueError):
            self._zip.close()
        shutil.rmtree(self._work, ignore_errors=True)
        self.target.unlink(missing_ok=True)


def verify_wacz(path: Path) -> list[str]:
    """Problems found in a WACZ (empty when sound): required files present, every datapackage
    resource's size and SHA-256 match, the datapackage digest matches."""
    problems: list[str] = []
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for required in (
            "datapackage.json",
            "datapackage-digest.json",
            "indexes/index.cdx",
            "pages/pages.jsonl",
        ):
            if required not in names:
                problems.append(f"missing {required}")
        if not any(n.startswith("archive/") for n in names):
            problems.append("no WARC file under archive/")
        if problems:
            return problems
        body = zf.read("datapackage.json")
        digest = json.loads(zf.read("datapackage-digest.json"))
        if digest.get("hash") != "sha256:" + hashlib.sha256(body).hexdigest():
            problems.append("datapackage-digest.json does not match datapackage.json")
        for res in json.loads(body).get("resources", []):
            h = hashlib.sha256()
            size = 0
            with zf.open(res["path"]) as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
            if res["hash"] != "sha256:" + h.hexdigest() or res["bytes"] != size:
                problems.append(f"{res['path']} does not match its datapackage entry")
    return problems

"""Public-records packages: what an archivist hands over for a records request (FOIA).

A package is a BagIt bag (directory, or the same zipped when the output ends in ``.zip``)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    data/warc/*.warc.gz       the selected records, exact bytes       (--format package)
    data/<export_id>.wacz     the same records as a WACZ               (--format wacz)
    FILE.wacz                 -o FILE.wacz: the WACZ alone, listings and custody inside it
                              as export/posts.csv, export/posts.pdf, export/custody.json|.txt
    data/posts.csv            one row per post
    data/posts.pdf            the posts' text and URLs
    data/custody.json|.txt    chain of custody: who, when, what, the audit chain head

Records are copied byte for byte: each stored record is its own gzip member and the index knows
its file, offset and length, so contiguous runs of selected records are read from the store with
ranged reads and written unchanged. Records and posts are read from the index in batches; nothing
holds the whole selection. The export is an ``export.created`` audit event carrying the digest
of the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from archiver import __version__
from archiver.capture.postpage import URN_PREFIX
from archiver.errors import NotFoundError, UsageError
from archiver.export.listing import PdfHeading, write_csv, write_pdf
from archiver.export.wacz import WaczWriter
from archiver.governance.audit import read_head, record_event
from archiver.index.api import PostSummary, RecordInfo, WarcFileInfo, jsonable
from archiver.index.governance import Hold
from archiver.output import make_folders, output_error, remove_folders
from archiver.runtime import Runtime

FORMATS = ("package", "wacz")
FEED_PAGE_MIMES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
    }
)
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Selection:
    """What to export: exactly one of an account, a series, a legal hold or a search query."""

    account: str | None = None
    series: str | None = None
    hold: str | None = None
    query: str | None = None

    def __post_init__(self) -> None:
        given = [k for k, v in self.as_dict().items() if v]
        if len(given) != 1:
            raise UsageError("give exactly one of --account, --series, --hold or --query")

    def as_dict(self) -> dict[str, str | None]:
        return {
            "account": self.account,
            "series": self.series,
            "hold": self.hold,
            "query": self.query,
        }

    def describe(self) -> str:
        kind, value = next((k, v) for k, v in self.as_dict().items() if v)
        return f"{kind} {value!r}" if kind == "query" else f"{kind} {value}"


class ExportProgress(Protocol):
    """Where an export reports how far it is (the CLI shows a progress bar)."""

    def phase(self, name: str, total: int | None) -> None:
        """A new phase starts; ``total`` units of work, or None when unknown."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` units of the current phase are done."""


class _Silent:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, amount: int = 1) -> None:
        pass


@dataclass(frozen=True)
class CopiedWarc:
    """One subset WARC file of the package and where its records came from."""

    name: str
    source_key: str
    source_sha256: str
    source_status: str
    records: int
    bytes: int
    sha256: str
    originals_only: bool = False  # holds only the originals that selected revisits refer to


@dataclass(frozen=True)
class ExportResult:
    export_id: str
    format: str
    output: Path
    created_at: datetime
    exported_by: str
    selection: dict[str, str | None]
    captures: int
    records: int
    posts: int
    warc_files: list[CopiedWarc]
    files: int
    manifest_sha256: str
    audit_head: dict[str, Any] | None
    audit_event_hash: str
    wacz_sha256: str | None = None


@dataclass
class _Resolved:
    capture_ids: list[str]
    record_ids: set[str] | None  # None: every record of the captures
    post_filter: dict[str, Any]
    hold: Hold | None = None


def _resolve(rt: Runtime, sel: Selection) -> _Resolved:
    if sel.account:
        caps = rt.index.capture_ids(account=sel.account)
        if not caps:
            raise NotFoundError(f"no captures of account {sel.account!r}")
        return _Resolved(caps, None, {"account": sel.account})
    if sel.series:
        caps = rt.index.capture_ids(series=sel.series)
        if not caps:
            raise NotFoundError(f"no captures in series {sel.series!r}")
        return _Resolved(caps, None, {"series": sel.series})
    if sel.hold:
        from archiver.governance.holds import HoldMatcher

        hold = rt.index.governance.hold(sel.hold)
        if hold is None:
            raise NotFoundError(f"no hold {sel.hold!r}; list them with `archiver hold list`")
        matcher = HoldMatcher(rt, [hold])
        caps = [c for c in rt.index.capture_ids() if matcher.covering(rt.index.get_capture(c))]
        return _Resolved(caps, None, {"capture_ids": caps}, hold)
    assert sel.query is not None
    post_ids = [p.post_id for p in rt.index.search(sel.query, limit=1_000_000)]
    records, urls, found_caps = rt.index.post_evidence(post_ids)
    urls |= {URN_PREFIX + pid for pid in post_ids}  # post pages kept away from their URL
    records |= rt.index.record_ids_for_uris(sorted(urls))
    # A revisit stands for its original's payload: take the original along.
    for rid in list(records):
        try:
            rec = rt.index.get_record(rid)
        except NotFoundError:  # its capture was disposed
            records.discard(rid)
            continue
        found_caps.add(rec.capture_id)
        if rec.rec_type == "revisit" and rec.refers_to:
            records.add(rec.refers_to)
            found_caps.add(rt.index.get_record(rec.refers_to).capture_id)
    return _Resolved(sorted(found_caps), records, {"post_ids": post_ids})


class _RangeSource:
    """Reads byte ranges of one WARC file: from the store when stored, else from the spool."""

    def __init__(self, rt: Runtime, warc: WarcFileInfo) -> None:
        self.rt, self.warc = rt, warc
        self._fh: BinaryIO | None = None
        if warc.status != "stored":
            path = rt.settings.spool_dir / warc.name
            if not path.is_file():
                raise NotFoundError(f"WARC file {warc.name} is neither stored nor in the spool")
            self._fh = path.open("rb")

    def chunks(self, start: int, length: int) -> Iterator[bytes]:
        done = 0
        while done < length:
            size = min(_CHUNK, length - done)
            if self._fh is not None:
                self._fh.seek(start + done)
                data = self._fh.read(size)
            else:
                data = self.rt.store.get_range(self.warc.key, start + done, size)
            if len(data) != size:
                raise NotFoundError(
                    f"{self.warc.name}: expected {size} bytes at {start + done}, got {len(data)}"
                )
            yield data
            done += size

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class _SubsetWriter:
    """Copies selected records of source WARC files into same-named subset files, coalescing
    contiguous records into one ranged read."""

    def __init__(self, rt: Runtime, folder: Path, progress: ExportProgress) -> None:
        self.rt, self.folder, self.progress = rt, folder, progress
        self.files: list[CopiedWarc] = []
        self.records = 0
        self._warc: WarcFileInfo | None = None
        self._source: _RangeSource | None = None
        self._out: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._size = 0
        self._count = 0
        self._span: tuple[int, int] | None = None
        self._originals_only = False

    def add(self, record: RecordInfo, *, originals_only: bool = False) -> None:
        if self._warc is None or record.warc_name != self._warc.name:
            self.finish_file()
            warc = self.rt.index.get_warc(record.warc_name)
            if warc is None:
                raise NotFoundError(f"WARC file {record.warc_name} is not in the index")
            self._warc, self._source = warc, _RangeSource(self.rt, warc)
            self._out = (self.folder / warc.name).open("xb")
            self._hash, self._size, self._count = hashlib.sha256(), 0, 0
            self._originals_only = originals_only
        if self._span and self._span[1] == record.offset:
            self._span = (self._span[0], record.offset + record.length)
        else:
            self._flush()
            self._span = (record.offset, record.offset + record.length)
        self._count += 1
        self.records += 1
        self.progress.advance()

    def _flush(self) -> None:
        if self._span is None or self._source is None or self._out is None:
            return
        start, end = self._span
        for chunk in self._source.chunks(start, end - start):
            self._out.write(chunk)
            self._hash.update(chunk)
            self._size += len(chunk)
        self._span = None

    def finish_file(self) -> None:
        if self._warc is None or self._out is None or self._source is None:
            return
        self._flush()
        self._out.close()
        self._source.close()
        self.files.append(
            CopiedWarc(
                name=self._warc.name,
                source_key=self._warc.key,
                source_sha256=self._warc.sha256,
                source_status=self._warc.status,
                records=self._count,
                bytes=self._size,
                sha256=self._hash.hexdigest(),
                originals_only=self._originals_only,
            )
        )
        self._warc = self._source = self._out = None


def _copy_records(
    rt: Runtime, resolved: _Resolved, folder: Path, progress: ExportProgress
) -> _SubsetWriter:
    # a query's total is unknown up front: each file's warcinfo and ledger come along
    total = (
        None if resolved.record_ids is not None else rt.index.count_records(resolved.capture_ids)
    )
    progress.phase("records", total)
    writer = _SubsetWriter(rt, folder, progress)
    wanted = resolved.record_ids
    selected_caps = set(resolved.capture_ids)
    refers: set[str] = set()
    context_types = ("warcinfo", "metadata")  # which software/policy made the file, the ledger
    for record in rt.index.iter_records(resolved.capture_ids):
        if (
            wanted is not None
            and record.record_id not in wanted
            and record.rec_type not in context_types
        ):
            continue
        if record.rec_type == "revisit" and record.refers_to:
            refers.add(record.refers_to)
        writer.add(record)
    writer.finish_file()
    # Originals in captures outside the selection (dedup spans captures of one series).
    outside = [rt.index.get_record(r) for r in sorted(refers)]
    outside = [r for r in outside if r.capture_id not in selected_caps]
    for name in sorted({r.warc_name for r in outside}):
        mine = sorted((r for r in outside if r.warc_name == name), key=lambda r: r.offset)
        infos = rt.index.records_of_file(name, ("warcinfo",))
        for record in [*infos, *mine]:
            writer.add(record, originals_only=True)
        writer.finish_file()
    return writer


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(chunk)
    return h.hexdigest()


def _iso(value: datetime) -> str:
    return str(jsonable(value))


def _custody_text(doc: dict[str, Any]) -> str:
    head = doc["audit_chain_head"]
    counts = doc["counts"]
    lines = [
        "CHAIN OF CUSTODY STATEMENT",
        "",
        f"Export:        {doc['export_id']} ({doc['format']})",
        f"Exported by:   {doc['exported_by']}",
        f"Exported at:   {doc['created_at']}",
        f"Software:      {doc['software']}",
        f"Selection:     {doc['selection_description']}",
        f"Source store:  {doc['store']}",
        "",
        f"Captures: {counts['captures']}   WARC files: {counts['warc_files']}   "
        f"Records: {counts['records']}   Posts: {counts['posts']}",
        "",
        "Audit chain head at the time of export (the export itself is the next event,",
        "action export.created, whose prev_hash is this hash):",
        f"  seq {head['seq']}  hash {head['hash']}" if head else "  (empty chain)",
    ]
    if doc.get("hold"):
        hold = doc["hold"]
        lines += ["", f"Legal hold: {hold['hold_id']} {hold['name']}: {hold['reason']}"]
    lines += [
        "",
        "The WARC records in this package are byte-for-byte copies of the records held in",
        "the archive's object store (each record is a separate gzip member, read by offset and",
        "length as recorded in the index). Every file is listed with its SHA-256 digest in",
        "manifest-sha256.txt (payload) and tagmanifest-sha256.txt (tag files).",
        "",
        "WARC files (subset name = source file name):",
    ]
    for w in doc["warc_files"]:
        lines.append(
            f"  {w['name']}: {w['records']} records, sha256 {w['sha256']} "
            f"(source {w['source_key']}, source sha256 {w['source_sha256']})"
        )
    return "\n".join(lines) + "\n"


def write_bag(
    root: Path, info: dict[str, str], progress: ExportProgress | None = None
) -> tuple[str, int]:
    """BagIt 1.0 tag files over ``root/data``; returns (manifest sha256, number of files)."""
    progress = progress or _Silent()
    payload = sorted(p for p in (root / "data").rglob("*") if p.is_file())
    progress.phase("manifest", len(payload))
    lines, octets = [], 0
    for p in payload:
        lines.append(f"{_sha256_file(p)}  {p.relative_to(root).as_posix()}\n")
        octets += p.stat().st_size
        progress.advance()
    (root / "manifest-sha256.txt").write_text("".join(lines), encoding="utf-8")
    (root / "bagit.txt").write_text(
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
    )
    info = {**info, "Payload-Oxum": f"{octets}.{len(payload)}"}
    (root / "bag-info.txt").write_text(
        "".join(f"{k}: {' '.join(v.split())}\n" for k, v in info.items()), encoding="utf-8"
    )
    tags = [root / n for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")]
    (root / "tagmanifest-sha256.txt").write_text(
        "".join(f"{_sha256_file(t)}  {t.name}\n" for t in tags), encoding="utf-8"
    )
    return _sha256_file(root / "manifest-sha256.txt"), len(payload) + 4


def _zip_folder(root: Path, target: Path, created: datetime) -> None:
    tmp = target.with_name(target.name + ".part")
    with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        for p in sorted(root.rglob("*")):
            if not p.is_file():
                continue
            info = zipfile.ZipInfo(
                f"{root.name}/{p.relative_to(root).as_posix()}", date_time=created.timetuple()[:6]
            )
            stored = p.suffix in (".gz", ".wacz", ".zip", ".pdf")
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with p.open("rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
    tmp.replace(target)


def export_package(
    rt: Runtime,
    selection: Selection,
    output: Path,
    *,
    fmt: str = "package",
    progress: ExportProgress | None = None,
) -> ExportResult:
    """Write a public-records package for ``selection`` at ``output`` (a new or empty folder,
    a ``.zip`` file, or with ``--format wacz`` a ``.wacz`` file) and record it in the audit
    chain. A ``.wacz`` output is one WACZ holding the records, with posts.csv, posts.pdf and the
    custody statement as ``export/`` resources of its datapackage. Raises UsageError for a bad
    format or an output that already holds something, NotFoundError when nothing matches."""
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    as_wacz = output.suffix.lower() == ".wacz"
    if as_wacz and fmt != "wacz":
        raise UsageError(f"-o {output.name}: a .wacz output needs --format wacz")
    as_zip = output.suffix.lower() == ".zip" or as_wacz  # both are built aside, then moved
    if as_zip and output.exists():
        raise UsageError(f"{output} exists; choose another -o")
    if not as_zip and output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise UsageError(f"{output} exists and is not an empty folder; choose another -o")
    progress = progress or _Silent()
    now = rt.clock.now()
    export_id = f"export-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    resolved = _resolve(rt, selection)
    parent = output.parent if as_zip else output
    made = make_folders(parent, output)  # removed again should the export fail
    try:
        scratch = Path(tempfile.mkdtemp(prefix=f".{export_id}-", dir=parent))
    except OSError as exc:
        remove_folders(made)
        raise output_error(exc, output) from None
    try:
        root = scratch / export_id if as_zip else output
        data = root / "data"
        warc_dir = data / "warc" if fmt == "package" else scratch / "warc"
        warc_dir.mkdir(parents=True)
        data.mkdir(parents=True, exist_ok=True)
        copied = _copy_records(rt, resolved, warc_dir, progress)
        wacz_sha: str | None = None
        wacz_path = scratch / output.name if as_wacz else data / f"{export_id}.wacz"
        if fmt == "wacz" and not as_wacz:  # the bag lists the WACZ: it is written first
            wacz_sha = _write_wacz(wacz_path, copied, warc_dir, export_id, selection, now, [])
        posts = _write_listings(rt, resolved, data, export_id, selection, now, progress)
        head = rt.index.audit_chain_head()
        stored_head = read_head(rt)
        custody: dict[str, Any] = {
            "export_id": export_id,
            "format": fmt,
            "created_at": _iso(now),
            "exported_by": rt.settings.actor,
            "software": f"archiver/{__version__}",
            "selection": selection.as_dict(),
            "selection_description": selection.describe(),
            "store": rt.store.url,
            "hold": (
                {
                    "hold_id": resolved.hold.hold_id,
                    "name": resolved.hold.name,
                    "reason": resolved.hold.reason,
                    "released": resolved.hold.released_at is not None,
                }
                if resolved.hold
                else None
            ),
            "counts": {
                "captures": len(resolved.capture_ids),
                "warc_files": len(copied.files),
                "records": copied.records,
                "posts": posts,
            },
            "captures": resolved.capture_ids,
            "warc_files": [jsonable(f) for f in copied.files],
            # inside a .wacz the statement cannot hold the WACZ's own digest: the audit
            # event does (export.created, wacz_sha256)
            "wacz_sha256": wacz_sha,
            "audit_chain_head": (
                {"seq": head.seq, "hash": head.hash, "at": _iso(head.at)} if head else None
            ),
            "stored_chain_head": (
                {"seq": stored_head["seq"], "hash": stored_head["hash"]} if stored_head else None
            ),
        }
        (data / "custody.json").write_text(
            json.dumps(custody, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (data / "custody.txt").write_text(_custody_text(custody), encoding="utf-8")
        if as_wacz:
            extras = [data / n for n in ("posts.csv", "posts.pdf", "custody.json", "custody.txt")]
            wacz_sha = _write_wacz(
                wacz_path, copied, warc_dir, export_id, selection, now, extras, progress
            )
            with zipfile.ZipFile(wacz_path) as zf:  # the WACZ's manifest is its datapackage
                manifest_sha = hashlib.sha256(zf.read("datapackage.json")).hexdigest()
                files = len(zf.namelist())
            shutil.move(wacz_path, output)
        else:
            manifest_sha, files = write_bag(
                root,
                {
                    "Source-Organization": "archiver public-records export",
                    "External-Identifier": export_id,
                    "External-Description": f"Records of {selection.describe()}",
                    "Bagging-Date": now.date().isoformat(),
                    "Bag-Software-Agent": f"archiver/{__version__}",
                    "Contact-Name": rt.settings.actor,
                },
                progress,
            )
            if as_zip:
                _zip_folder(root, output, now)
    except BaseException as exc:
        # nothing partial is left: what this export wrote goes, a folder given empty stays
        shutil.rmtree(scratch, ignore_errors=True)
        if as_zip:
            output.with_name(output.name + ".part").unlink(missing_ok=True)
        elif output.is_dir():
            for child in output.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        remove_folders(made)
        if isinstance(exc, OSError):
            raise output_error(exc, output) from None
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    event_hash = record_event(
        rt,
        "export.created",
        export_id,
        {
            "format": fmt,
            "selection": selection.as_dict(),
            "output": output.name,
            "manifest_sha256": manifest_sha,
            "wacz_sha256": wacz_sha,
            "records": copied.records,
            "posts": posts,
            "warc_files": {f.name: f.sha256 for f in copied.files},
            "audit_head_seq": head.seq if head else 0,
        },
    )
    return ExportResult(
        export_id=export_id,
        format=fmt,
        output=output,
        created_at=now,
        exported_by=rt.settings.actor,
        selection=selection.as_dict(),
        captures=len(resolved.capture_ids),
        records=copied.records,
        posts=posts,
        warc_files=copied.files,
        files=files,
        manifest_sha256=manifest_sha,
        audit_head=custody["audit_chain_head"],
        audit_event_hash=event_hash,
        wacz_sha256=wacz_sha,
    )


def _write_wacz(
    target: Path,
    copied: _SubsetWriter,
    warc_dir: Path,
    export_id: str,
    selection: Selection,
    now: datetime,
    extras: list[Path],
    progress: ExportProgress | None = None,
) -> str:
    """The export's records as a WACZ at ``target``, each of ``extras`` an ``export/``
    resource inside it; returns the WACZ's SHA-256. The subset WARC files are then removed."""
    progress = progress or _Silent()
    progress.phase("wacz", len(copied.files))
    with WaczWriter(
        target,
        title=f"Public records export {export_id}",
        description=f"Records of {selection.describe()}",
        created=now,
        software=f"archiver/{__version__}",
        extra={"archiver": {"export_id": export_id, "selection": selection.as_dict()}},
    ) as wacz:
        for f in copied.files:
            wacz.add_warc(warc_dir / f.name, detect_pages=True, page_mimes=FEED_PAGE_MIMES)
            progress.advance()
        for path in extras:
            wacz.add_file(path)
    assert wacz.result is not None
    shutil.rmtree(warc_dir)
    return wacz.result.sha256


def _write_listings(
    rt: Runtime,
    resolved: _Resolved,
    data: Path,
    export_id: str,
    selection: Selection,
    now: datetime,
    progress: ExportProgress,
) -> int:
    def posts() -> Iterator[PostSummary]:
        for p in rt.index.iter_posts(**resolved.post_filter):
            progress.advance()
            yield p

    progress.phase("posts.csv", None)
    with (data / "posts.csv").open("w", encoding="utf-8", newline="") as fh:
        count = write_csv(posts(), fh)
    progress.phase("posts.pdf", count)
    write_pdf(
        posts(),
        data / "posts.pdf",
        PdfHeading(
            title=f"Posts of {selection.describe()}",
            lines=(
                f"Export {export_id}, {_iso(now)}, by {rt.settings.actor}",
                f"{count} post(s); every version of each is in the WARC records of this package.",
            ),
        ),
    )
    return count


def read_manifest(text: str) -> dict[str, str]:
    """``{path: sha256}`` from a BagIt manifest's text."""
    entries: dict[str, str] = {}
    for line in io.StringIO(text):
        digest, _, path = line.rstrip("\n").partition("  ")
        if path:
            entries[path] = digest
    return entries

"""Export listings say who wrote what (replies credited to their authors), what kind of item it
is, what it answers and which media it carried; every PDF prints CJK text with an embedded font
that text extraction reads back."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archiver.export.listing import CSV_COLUMNS, PdfHeading, write_pdf
from archiver.export.package import Selection, export_package
from archiver.governance.disposition import render_certificate_pdf
from archiver.index.api import PostSummary
from archiver.reports.build import Report, Table
from archiver.reports.fonts import CJK_CANDIDATES
from archiver.reports.render import to_pdf
from archiver.simulator import Simulator
from tests.conftest import MakeRuntime
from tests.test_web import build_archive

CHINESE = "第21期就业信息发布城市政务服务中心"


def test_replies_are_credited_to_their_authors_with_kind_reply_and_media(
    make_runtime: MakeRuntime, sim: Simulator, tmp_path: Path
) -> None:
    archive = build_archive(make_runtime(), sim)
    result = export_package(archive.rt, Selection(account="demo-usgs-mastodon"), tmp_path / "out")
    with (result.output / "data" / "posts.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert {"author", "kind", "in_reply_to", "media_count", "media"} <= set(CSV_COLUMNS)
    replies = [r for r in rows if r["kind"] == "reply"]
    posts = {r["native_id"]: r for r in rows if r["kind"] == "post"}
    assert replies and posts
    for r in replies:
        assert r["author"].endswith("@citizen.example"), "a citizen's reply is the citizen's"
        assert r["in_reply_to"], "a reply names what it answers"
    assert {r["author"] for r in posts.values()} & {"usgs"}
    with_media = [r for r in rows if int(r["media_count"]) > 0]
    assert with_media
    for r in with_media:
        urls = r["media"].split()
        assert len(urls) == int(r["media_count"]) and all(u.startswith("http") for u in urls)

    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(result.output / "data" / "posts.pdf").pages)
    squeezed = "".join(text.split())
    reply = replies[0]
    assert f"replyby{reply['author']}inreplyto{reply['in_reply_to']}" in squeezed
    assert "media(" in squeezed


cjk_font = pytest.mark.skipif(
    not any(path.is_file() for path, _ in CJK_CANDIDATES),
    reason="no CJK TrueType font: apt-get install -y fonts-wqy-zenhei (make install does)",
)


def _pdf_text_and_fonts(data: bytes | Path) -> tuple[str, set[str]]:
    import io

    from pypdf import PdfReader

    reader = PdfReader(data if isinstance(data, Path) else io.BytesIO(data))
    fonts: set[str] = set()
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            fonts.add(str(font["/BaseFont"]))
            if "/DescendantFonts" not in font and "/FontDescriptor" in font:
                assert any(k in font["/FontDescriptor"] for k in ("/FontFile", "/FontFile2"))
    text = "".join(page.extract_text() for page in reader.pages)
    return "".join(text.split()), fonts


def _embeds_cjk(fonts: set[str]) -> bool:
    return any("WenQuanYi" in f or "DroidSansFallback" in f for f in fonts)


@cjk_font
def test_listing_pdf_embeds_a_cjk_font_and_the_text_reads_back(tmp_path: Path) -> None:
    now = datetime(2026, 1, 6, tzinfo=UTC)
    post = PostSummary(
        post_id="d141d52850e86c27",
        account="demo-wechat",
        series="s",
        platform="wechat",
        native_id="1",
        url="http://127.0.0.1/wechat/1",
        title=CHINESE,
        text=(CHINESE + " Employment notice. ") * 12,
        author="城市政务发布(模拟)",
        published_at=now,
        captured_at=now,
        versions=1,
        edited=False,
        deleted=False,
    )
    write_pdf([post], tmp_path / "posts.pdf", PdfHeading("发布 listing"))
    text, fonts = _pdf_text_and_fonts(tmp_path / "posts.pdf")
    assert _embeds_cjk(fonts), fonts
    assert CHINESE in text
    assert "城市政务发布(模拟)" in text and "Employmentnotice." in text


@cjk_font
def test_report_and_certificate_pdfs_print_chinese(tmp_path: Path) -> None:
    report = Report(
        kind="coverage",
        title="覆盖报告 Coverage",
        as_of=datetime(2026, 12, 2, tzinfo=UTC),
        policy_hash="0" * 64,
        chain_head=None,
        tables=[
            Table(title="账户", columns=("account", "agency"), rows=[["demo-wechat", CHINESE]])
        ],
        notes=["说明 note"],
    )
    text, fonts = _pdf_text_and_fonts(to_pdf(report))
    assert _embeds_cjk(fonts)
    assert "覆盖报告" in text and CHINESE in text
    cert = {
        "certificate": "records disposition",
        "plan_id": "plan-1",
        "as_of": report.as_of,
        "planned_by": "王芳",
        "approved_by": "李伟",
        "executed_by": "李伟",
        "executed_at": report.as_of,
        "policy_hash": "0" * 64,
        "objects": [
            {
                "warc": "demo-wechat-1.warc.gz",
                "series": "s",
                "authority": "档案局 2026-17",
                "captured_at": report.as_of,
                "action": "destroy",
                "sha256": "a" * 64,
            }
        ],
        "skipped": {},
    }
    text, fonts = _pdf_text_and_fonts(render_certificate_pdf(cert, "b" * 64))
    assert _embeds_cjk(fonts)
    assert "王芳" in text and "档案局" in text

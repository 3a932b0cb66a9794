"""Series that leave for an archives after N years, series that never leave, and the loader's
refusal of schedules that contradict themselves (each error at file:line, with the remedy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiver.errors import PolicyError
from archiver.policy import load_policies
from tests.conftest import ROOT, write_policy

ACCOUNT = """\
accounts:
  - id: press
    agency: Example Agency
    platform: feed
    url: https://agency.example.gov/press.atom
    series: s
    schedule: P1D
"""


def series(body: str) -> str:
    return (
        "series:\n  - id: s\n    title: Press releases\n    authority: N1-TEST-9\n" + body + ACCOUNT
    )


def test_permanent_transfer_after_fifteen_years_is_expressible(tmp_path: Path) -> None:
    text = series(
        "    retention: P15Y\n"
        "    disposition: transfer\n"
        "    transfer:\n"
        "      destination: s3://nara-accessions/agency?endpoint_url=http://127.0.0.1:1\n"
        "      accession: NN-2041-0001\n"
        "      transfer_request: TR-0042\n"
        '      warc_version: "1.0"\n'
    )
    s = load_policies(write_policy(tmp_path, text)).series["s"]
    assert s.disposition == "transfer" and s.retention.text == "P15Y"
    assert s.transfer is not None
    assert s.transfer.destination == "s3://nara-accessions/agency?endpoint_url=http://127.0.0.1:1"
    assert (s.transfer.accession, s.transfer.transfer_request) == ("NN-2041-0001", "TR-0042")
    assert s.transfer.warc_version == "1.0"


def test_permanent_never_leaves_and_defaults_to_keep(tmp_path: Path) -> None:
    s = load_policies(write_policy(tmp_path, series("    retention: permanent\n"))).series["s"]
    assert s.disposition == "keep" and s.retention.permanent
    explicit = series("    retention: permanent\n    disposition: keep\n")
    assert load_policies(write_policy(tmp_path, explicit)).series["s"].disposition == "keep"


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("    retention: permanent\n    disposition: destroy\n", 6, "can never be destroyed"),
        ("    retention: permanent\n    disposition: transfer\n", 6, "retention: P15Y"),
        ("    retention: permanent\n    disposition: review\n", 6, "disposition: keep"),
        ("    retention: P7Y\n    disposition: keep\n", 6, "retention: permanent"),
        (
            "    retention: P7Y\n    transfer:\n      destination: file:///srv/accessions\n",
            6,
            "disposition: transfer",
        ),
        (
            "    retention: P7Y\n    disposition: transfer\n    transfer:\n"
            "      destination: ftp://archives.example/in\n",
            8,
            "file:///",
        ),
        (
            "    retention: P7Y\n    disposition: transfer\n    transfer:\n"
            '      warc_version: "0.9"\n',
            8,
            "'1.0' or '1.1'",
        ),
        (
            "    retention: P7Y\n    disposition: transfer\n    transfer:\n      bucket: x\n",
            8,
            "allowed keys: destination",
        ),
    ],
)
def test_contradictory_schedules_are_refused_at_file_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    with pytest.raises(PolicyError, match=rf"p\.yaml:{line}: .*{message}"):
        load_policies(write_policy(tmp_path, series(body)))


def test_shipped_policies_still_load() -> None:
    shipped = load_policies(ROOT / "policies")
    assert shipped.series["agency-permanent-pr"].disposition == "transfer"
    demo = load_policies(ROOT / "policies" / "demo", {"SIMULATOR_URL": "http://127.0.0.1:1"})
    assert demo.series["demo-press-permanent"].disposition == "keep"

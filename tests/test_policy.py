"""Policies: typed loading, and every kind of error names file:line, the key and a remedy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.errors import PolicyError
from archiver.policy import UNSCHEDULED_ID, load_policies
from tests.conftest import ROOT, write_policy

GOOD = """\
series:
  - id: grs-6.4-020
    title: Social media
    authority: DAA-GRS-2016-0005-0002
    retention: P90D
accounts:
  - id: usgs-quakes
    agency: USGS
    platform: feed
    url: https://earthquake.usgs.gov/feed.atom
    series: grs-6.4-020
    schedule: "0 */6 * * *"
"""


def test_shipped_policies_load() -> None:
    policies = load_policies(ROOT / "policies")
    assert "usgs-quakes" in policies.accounts
    series = policies.series_of(policies.accounts["usgs-quakes"])
    assert series.authority == "DAA-GRS-2016-0005-0002"
    assert series.retention.text == "P90D"
    assert not any(a.startswith("demo-") for a in policies.accounts), "demo set loads separately"


def test_demo_policies_expand_the_simulator_url() -> None:
    policies = load_policies(ROOT / "policies" / "demo", {"SIMULATOR_URL": "http://127.0.0.1:1"})
    assert policies.accounts["demo-nasa-news"].url == (
        "http://127.0.0.1:1/www.nasa.gov/news-release/feed/"
    )


def test_account_without_series_is_unscheduled(tmp_path: Path) -> None:
    text = GOOD.replace("    series: grs-6.4-020\n", "")
    policies = load_policies(write_policy(tmp_path, text))
    account = policies.accounts["usgs-quakes"]
    assert account.series == UNSCHEDULED_ID
    assert policies.series_of(account).retention.permanent


def test_schedules_cron_and_interval(tmp_path: Path) -> None:
    text = GOOD.replace('"0 */6 * * *"', "PT6H")
    account = load_policies(write_policy(tmp_path, text)).accounts["usgs-quakes"]
    assert account.schedule.kind == "interval"
    assert account.schedule.interval().total_seconds() == 6 * 3600


def test_policy_hash_changes_with_content(tmp_path: Path) -> None:
    a = load_policies(write_policy(tmp_path / "a", GOOD)).policy_hash
    b = load_policies(write_policy(tmp_path / "b", GOOD.replace("P90D", "P91D"))).policy_hash
    assert a != b


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (GOOD.replace("P90D", "ninety days"), 5, "ISO-8601 duration"),
        (GOOD.replace('"0 */6 * * *"', '"every six hours"'), 12, "cron"),
        (GOOD.replace("id: usgs-quakes", "id: ../../etc"), 7, "slug"),
        (GOOD.replace("id: usgs-quakes", "id: Usgs Quakes"), 7, "slug"),
        (
            GOOD.replace("    agency: USGS\n", "    agency: USGS\n    colour: blue\n"),
            9,
            "unknown key 'colour'",
        ),
        (GOOD.replace("    agency: USGS\n", ""), 7, "required key 'agency'"),
        (GOOD.replace("platform: feed", "platform: myspace"), 9, "one of"),
        (
            GOOD.replace("series: grs-6.4-020\n    schedule", "series: grs-9\n    schedule"),
            11,
            "series 'grs-9' is not defined",
        ),
        (
            GOOD.replace("url: https://earthquake.usgs.gov/feed.atom", "url: ftp://x"),
            10,
            "http(s) URL",
        ),
        (
            GOOD + "  - id: usgs-quakes\n    agency: b\n    platform: feed\n    url: http://a.gov\n"
            "    schedule: PT1H\n",
            13,
            "already defined at",
        ),
        (GOOD.replace("  - id: grs-6.4-020", "  - id: unscheduled"), 2, "built in"),
        (GOOD.replace("    title: Social media\n", "    title: [unclosed\n"), 4, "line 3"),
        (
            GOOD.replace("    agency: USGS\n", "    agency: USGS\n    agency: DOI\n"),
            9,
            "appears twice",
        ),
        (
            GOOD.replace("    schedule:", "    credentials: sk-live-1234 abc\n    schedule:"),
            12,
            "never the secret",
        ),
        (
            GOOD.replace(
                '    schedule: "0 */6 * * *"\n',
                '    schedule: "0 */6 * * *"\n    timezone: Mars/Olympus\n',
            ),
            13,
            "IANA time zone",
        ),
    ],
    ids=[
        "duration",
        "cron",
        "traversal-id",
        "bad-slug",
        "unknown-key",
        "missing-key",
        "platform",
        "unknown-series",
        "url",
        "duplicate-id",
        "reserved-series",
        "yaml-syntax",
        "duplicate-key",
        "secret-inline",
        "timezone",
    ],
)
def test_policy_error_names_file_line_and_remedy(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    folder = write_policy(tmp_path / "policies", text, "agency.yaml")
    with pytest.raises(PolicyError) as info:
        load_policies(folder)
    message = str(info.value)
    assert f"agency.yaml:{line}:" in message, message
    assert needle in message, message


def test_duplicate_id_across_files_names_both(tmp_path: Path) -> None:
    folder = write_policy(tmp_path / "p", GOOD, "a.yaml")
    write_policy(folder, GOOD.replace("grs-6.4-020", "other").replace("P90D", "P1Y"), "b.yaml")
    with pytest.raises(PolicyError, match=r"b\.yaml:7: .*already defined at .*a\.yaml:7"):
        load_policies(folder)


def test_unset_variable_is_an_error(tmp_path: Path) -> None:
    text = GOOD.replace("https://earthquake.usgs.gov", "${SIM_URL_UNSET}")
    with pytest.raises(PolicyError, match=r"p\.yaml:10: variable \$\{SIM_URL_UNSET\}"):
        load_policies(write_policy(tmp_path, text))


def test_cli_check_exits_2_with_file_line(tmp_path: Path) -> None:
    folder = write_policy(tmp_path / "pol", GOOD.replace("P90D", "P90X"), "bad.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(ARCHIVER_POLICIES=str(folder), ARCHIVER_DATA_DIR=str(tmp_path / "d"))
    proc = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "policies", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "bad.yaml:5:" in proc.stderr and "P90D" in proc.stderr


def test_grs_6_4_item_020_reads_as_the_schedule_does() -> None:
    """DAA-GRS-2016-0005-0002 is GRS 6.4 item 020; its title must be the schedule's own."""
    from archiver.policy.loader import load_policies
    from tests.conftest import ROOT

    for folder in (ROOT / "policies", ROOT / "policies" / "demo"):
        policies = load_policies(folder, {"SIMULATOR_URL": "http://127.0.0.1:1"})
        [item] = [s for s in policies.series.values() if s.authority == "DAA-GRS-2016-0005-0002"]
        assert item.title.startswith(
            "Public correspondence and communications not requiring formal action"
        ), folder

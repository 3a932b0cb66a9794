"""The policy loader never fails with anything but a PolicyError naming the file (and a line).

Hostile files (non-UTF-8 bytes, alias bombs, recursive aliases, Python tags, huge durations,
deep nesting) and a bounded hypothesis fuzz of mutated valid policies: a reload on SIGHUP
catches PolicyError only, so any other exception here would kill the daemon.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import PolicyError
from archiver.policy.loader import load_policies

VALID = """\
series:
  - id: social
    title: Social media records
    retention: P90D
accounts:
  - id: agency-feed
    agency: Test Agency
    platform: feed
    url: https://agency.example/feed.xml
    series: social
    schedule: "0 */6 * * *"
    options: {max_items: 50, since: P30D}
"""

ALIAS_BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "series: [*h]\n"
)

HOSTILE: dict[str, bytes] = {
    "non-utf8": VALID.encode().replace(b"Test Agency", b"Test \xff\xfe Agency"),
    "alias-bomb": ALIAS_BOMB.encode(),
    "recursive-alias": b"series: &s\n  - *s\n",
    "python-tag": VALID.replace("Test Agency", "!!python/name:os.system ''").encode(),
    "python-object": b"accounts: !!python/object/apply:os.system ['true']\n",
    "custom-tag-mapping": b"series: !custom {id: x}\n",
    "huge-duration": VALID.replace("P90D", "P999999999999Y").encode(),
    "huge-since": VALID.replace("since: P30D", "since: P99999999999D").encode(),
    "huge-schedule": VALID.replace('"0 */6 * * *"', "PT99999999999999H").encode(),
    "deep-nesting": b"series: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "huge-int": VALID.replace("max_items: 50", "max_items: " + "9" * 5000).encode(),
    "binary": bytes(range(256)),
    "never-firing-cron": VALID.replace('"0 */6 * * *"', '"0 0 31 2 *"').encode(),
    "utf16-bom": "\ufeff".encode("utf-16") + VALID.encode("utf-16-le"),
}


def _load(folder: Path, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "p.yaml").write_bytes(data)
    load_policies(folder)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_policy_is_a_policy_error_with_file_and_line(tmp_path: Path, case: str) -> None:
    with pytest.raises(PolicyError) as caught:
        _load(tmp_path / case, HOSTILE[case])
    err = caught.value
    assert err.file is not None and err.file.endswith("p.yaml"), str(err)
    assert err.line is not None and err.line >= 1, str(err)
    assert f"p.yaml:{err.line}: " in str(err)


def test_valid_policy_still_loads(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(VALID)
    policies = load_policies(tmp_path)
    assert policies.accounts["agency-feed"].options.max_items == 50


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cut=st.integers(0, len(VALID)),
    insert=st.binary(max_size=12)
    | st.sampled_from([b"*x", b"&a ", b"!!python/none ", b"{", b"- ", b"\t", b": :", b"P9999999Y"]),
    drop=st.integers(0, 8),
)
def test_fuzzed_policy_loads_or_is_a_policy_error(
    tmp_path: Path, cut: int, insert: bytes, drop: int
) -> None:
    data = VALID.encode()
    mutated = data[:cut] + insert + data[cut + drop :]
    folder = tmp_path / f"f{abs(hash((cut, insert, drop)))}"
    try:
        _load(folder, mutated)
    except PolicyError as err:
        assert err.file is not None

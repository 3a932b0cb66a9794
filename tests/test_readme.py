"""Every ``archiver`` command README.md writes in its shell blocks works after the demo.

The commands run as written, in a fresh folder laid out like a checkout (``policies/``,
``.venv-pywb``), with the substitutions a reader makes too: ``POST_ID``, ``POST_URL``, ``URL``,
``CAPTURE_ID``, ``SERIES`` and ``PLAN_ID`` become values the commands before them printed, and
each ``--port N`` (and ``127.0.0.1:N`` after it) becomes a free port, since other tests may
hold the README's ports.
Commands that start a server (``simulator``, ``replay``, ``web``) are started, must answer
HTTP, and are stopped with SIGTERM at the end (exit 0).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.processes import free_port, wait_for

SERVERS = {"simulator", "replay", "web"}
SKIPPED_SERVERS: set[str] = set()  # servers left to their own start/stop tests (none)
# Commands the demo cannot feed: `transfer confirm` needs a plan whose series is transferred and
# the receiving archives' receipt (the demo's transfer series is permanent, never due); it runs
# end to end in tests/test_transfer.py.
NOT_AFTER_THE_DEMO = {("transfer", "confirm")}
SERVER_PATH = {"simulator": "/", "replay": "/", "web": "/"}


def shell_commands(readme: Path) -> list[str]:
    """The lines of README's ``sh`` blocks, in order, without comments and blank lines; a
    comment ``# as NAME`` (another person runs it) becomes ``ARCHIVER_ACTOR=NAME`` with
    ``ARCHIVER_ACTOR_OVERRIDE=true``, as one machine can stand for both people."""
    lines: list[str] = []
    in_block = False
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = line.strip() in ("```sh", "```bash", "```shell") and not in_block
            continue
        if in_block:
            words = shlex.split(line, comments=True)
            person = re.search(r"#\s*as (\w+)", line)
            if words and person:
                words = [f"ARCHIVER_ACTOR={person[1]}", "ARCHIVER_ACTOR_OVERRIDE=true", *words]
            if words:
                lines.append(shlex.join(words))
    return lines


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, even if not 200
    except OSError:
        return False


def test_every_readme_command_works_after_the_demo(tmp_path: Path) -> None:
    commands = shell_commands(ROOT / "README.md")
    assert any("archiver" in c for c in commands) and "make demo" in commands
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "policies").symlink_to(ROOT / "policies")
    if (ROOT / ".venv-pywb").exists():
        (work / ".venv-pywb").symlink_to((ROOT / ".venv-pywb").resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.pop("SIMULATOR_URL", None)
    env["COLUMNS"] = "80"
    archiver = [sys.executable, "-m", "archiver.cli.main"]
    ports: dict[str, str] = {}
    values: dict[str, str] = {}
    servers: list[tuple[str, subprocess.Popen[bytes]]] = []
    ran: list[str] = []

    def run(argv: list[str], extra: dict[str, str], line: str) -> str:
        proc = subprocess.run(
            argv, cwd=work, env={**env, **extra}, capture_output=True, timeout=300
        )
        assert proc.returncode == 0, f"`{line}` exited {proc.returncode}: {proc.stderr.decode()}"
        return proc.stdout.decode()

    try:
        for line in commands:
            for old, new in ports.items():
                line = line.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
            words = shlex.split(line)
            background = words[-1] == "&"
            words = [w for w in words if w != "&"]
            if words[0] == "make":
                if words[1:] == ["demo"]:
                    run([*archiver, "demo"], {}, line)
                    ran.append(line)
                continue  # `make test` is this suite
            if words[0] == "export":
                for assignment in words[1:]:
                    name, _, value = assignment.partition("=")
                    env[name] = value
                continue
            extra: dict[str, str] = {}
            while "=" in words[0] and not words[0].startswith("-"):
                name, _, value = words.pop(0).partition("=")
                extra[name] = value
            assert words[0] in (".venv/bin/archiver", "archiver"), line
            args = words[1:]
            for i, word in enumerate(args):
                if word in values and word.isupper():
                    args[i] = values[word]
                if word == "--port":
                    ports[args[i + 1]] = str(free_port())
                    args[i + 1] = ports[args[i + 1]]
            if args[0] in SKIPPED_SERVERS or tuple(args[:2]) in NOT_AFTER_THE_DEMO:
                continue
            if args[0] in SERVERS:
                proc = subprocess.Popen(
                    [*archiver, *args],
                    cwd=work,
                    env={**env, **extra},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                servers.append((line, proc))
                port = args[args.index("--port") + 1]
                url = f"http://127.0.0.1:{port}{SERVER_PATH[args[0]]}"
                wait_for(
                    lambda u=url, p=proc: _answers(u) or p.poll() is not None, f"`{line}`", 120
                )
                assert proc.poll() is None, f"`{line}` stopped: {proc.stderr.read().decode()}"
                ran.append(line)
                continue
            assert not background, f"`{line}` runs in the background but is no server"
            out = run([*archiver, *args], extra, line)
            ran.append(line)
            if args[:2] == ["posts", "list"]:
                listed = json.loads(run([*archiver, *args, "--json"], extra, line))
                values["POST_ID"] = listed[0]["post_id"]
                values["POST_URL"] = listed[0]["url"]
                newest = json.loads(run([*archiver, "captures", "list", "--json"], extra, line))
                shown = json.loads(
                    run(
                        [*archiver, "captures", "show", newest[-1]["capture_id"], "--json"],
                        extra,
                        line,
                    )
                )
                # a capture awaiting review (the unscheduled series) and a series to give it
                review = next(c for c in newest if c["series"] == "unscheduled")
                values["CAPTURE_ID"] = review["capture_id"]
                values["SERIES"] = next(c["series"] for c in newest if c["series"] != "unscheduled")
                values["URL"] = next(
                    r["target_uri"]
                    for r in shown["records_detail"]
                    if r["rec_type"] == "response" and r["status_code"] == 200
                )
            if args[:2] == ["retention", "plan"]:
                values["PLAN_ID"] = json.loads(out)["plan_id"]
    finally:
        for _, proc in servers:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        stopped = {line: proc.wait(timeout=60) for line, proc in servers}
    assert stopped and all(code == 0 for code in stopped.values()), stopped
    assert len(ran) >= 15, ran
    assert (work / "page.html").stat().st_size > 0
    assert (work / "foia-2026-17.zip").is_file()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("```sh\nA=1 archiver x --json   # note\n```\n", ["A=1 archiver x --json"]),
        ("```sh\narchiver search 'a b*'\n```\n```\nnot shell\n```\n", ["archiver search 'a b*'"]),
        (
            "```sh\narchiver retention approve P   # as bob: a second person\n```\n",
            ["ARCHIVER_ACTOR=bob ARCHIVER_ACTOR_OVERRIDE=true archiver retention approve P"],
        ),
    ],
)
def test_shell_blocks_are_read_as_a_shell_would(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text, encoding="utf-8")
    assert shell_commands(readme) == expected

"""kill -9 at seeded random moments over and over: nothing fetched is lost, nothing is stored or
indexed twice, the index matches the store, and no capture is left running.

Each round starts ``archiver capture`` on a demo account (feed, images, linked pages) and kills
it after a seeded random share of one whole capture's length: during start-up recovery,
fetching, WARC writing, upload or indexing. The next round's start-up recovery repairs what
the last one left.
"""

from __future__ import annotations

import gzip
import io
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from archiver.capture.recovery import recover_spool
from archiver.warc.reader import read_records
from tests.conftest import MakeRuntime, archiver_env

KILLS = 20
SEED = 20261202
ACCOUNT = "demo-nasa-news"


def test_seeded_kill_9_loop_loses_and_doubles_nothing(make_runtime: MakeRuntime) -> None:
    rt = make_runtime()
    env = archiver_env(rt, log_level="error")
    env["SIMULATOR_URL"] = rt.variables["SIMULATOR_URL"]
    rng = random.Random(SEED)
    # The kill moments are drawn over the length of one whole capture on this machine now, so
    # the rounds die mid-way however loaded the machine is.
    began = time.monotonic()
    whole = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "capture", ACCOUNT],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert whole.returncode == 0, whole.stderr.decode()[-2000:]
    length = time.monotonic() - began
    killed = 0
    for _ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli.main", "capture", ACCOUNT],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.9) * length)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
    assert killed >= KILLS // 2, "most rounds were killed mid-way"
    final = subprocess.run(
        [sys.executable, "-m", "archiver.cli.main", "capture", ACCOUNT],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr.decode()[-2000:]
    report = recover_spool(rt)
    assert report.still_spooled == []

    spool = rt.settings.spool_dir
    assert not [p.name for p in spool.iterdir()], "the spool is empty"
    captures = rt.index.list_captures(ACCOUNT)
    assert captures and not [c.capture_id for c in captures if c.status == "running"]

    warcs = rt.index.list_warcs()
    assert warcs and all(w.status == "stored" for w in warcs)
    stored_keys = sorted(o.key for o in rt.store.list() if o.key.endswith(".warc.gz"))
    assert stored_keys == sorted(w.key for w in warcs), "index == store, each file once"

    indexed = [r for c in captures for r in rt.index.records_of_capture(c.capture_id)]
    ids = Counter(r.record_id for r in indexed)
    assert not [rid for rid, n in ids.items() if n > 1], "no record indexed twice"
    in_store: list[str] = []
    for warc in warcs:
        with rt.store.open_read(warc.key) as stream:
            data = stream.read()
        assert len(data) == warc.size
        gzip.decompress(data)  # every stored file is whole gzip members
        in_store.extend(r.written.record_id for r in read_records(io.BytesIO(data)))
    assert sorted(in_store) == sorted(ids), "every stored record indexed, every indexed stored"

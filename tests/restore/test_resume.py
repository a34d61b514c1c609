"""(d) kill -9 in the middle of a restore, while a create request is in flight (the CRM wrote
the records but the answer never arrived), then the same command again: it resumes the run,
finds what the lost answer created, and nothing is created twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from vk_restore import ENV, World, run_json
from vk_restore_check import related_contacts

from vaultkeeper.connectors import make_writer
from vaultkeeper.db import open_state_db
from vaultkeeper.db import restores as journal
from vaultkeeper.sandbox import Sandbox

CREATE = {"hubspot": ("POST", "/batch/create"), "salesforce": ("POST", "/composite/sobjects")}


def _hold_nth_create(sb: Sandbox, vendor: str, n: int) -> tuple[threading.Event,
                                                                threading.Event]:
    """After the CRM has *executed* the n-th create request, hold its answer back."""
    method, suffix = CREATE[vendor]
    executed, release = threading.Event(), threading.Event()
    original = sb._dispatch
    seen = [0]

    def dispatch(m: str, target: str, headers: Any, body: bytes) -> Any:
        answer = original(m, target, headers, body)
        if m == method and target.split("?")[0].rstrip("/").endswith(suffix):
            seen[0] += 1
            if seen[0] == n:
                executed.set()
                release.wait(120)
        return answer

    sb._dispatch = dispatch  # type: ignore[method-assign]
    return executed, release


def test_kill_9_mid_restore_creates_nothing_twice(world2: World, second: Sandbox) -> None:
    c = world2.contacts
    chosen = related_contacts(world2.root / ".vaultkeeper" / "mirror" / "mirror.db", c, 250)
    args = ["restore", "--into", "second", "--object", c, "--ids", ",".join(chosen),
            "--with-parents", "1"]
    before = second.expected()[world2.vendor]
    executed, release = _hold_nth_create(second, world2.vendor, 3)
    proc = subprocess.Popen([sys.executable, "-m", "vaultkeeper", "--config",
                             str(world2.config), *args, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, **ENV))
    try:
        assert executed.wait(240), proc.stderr.read() if proc.poll() is not None else "slow"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL
    db = open_state_db(world2.root / ".vaultkeeper")
    run_id = journal.history(db, limit=1)[0]["id"]
    pending = journal.items(db, run_id, state="pending")
    assert pending, "the kill did not land while a create was in flight"
    time.sleep(0.2)

    report = run_json(world2.config, *args, ok=(0, 3, 4))

    assert report["run_id"] == run_id and report["resumed"] is True
    assert report["exit_code"] == 0, (report["error"], report["link_failures"][:3], [
        r for r in report["records"] if r["outcome"] == "Failed"][:3], report["mismatches"][:3])
    assert any("found in the target" in w for w in report["warnings"]), report["warnings"]
    target = make_writer(world2.vendor, second.url, second.token, ca_file=second.ca_file)
    try:
        for obj, counts in report["plan"].items():
            created = report["id_map"].get(obj, {})
            assert len(created) == counts["create"] == report["outcomes"][obj]["Created"]
            assert len(set(created.values())) == len(created)
            # the target holds exactly one record per restored one: nothing doubled
            total = second.expected()[world2.vendor][obj]["total"]
            assert total - before[obj]["total"] == len(created), (obj, total, len(created))
            live = target.fetch(obj, list(created.values()))
            assert len(live) == len(created)
    finally:
        target.close()
    assert report["links"]["failed"] == 0 and report["links"]["linked"] > 0

"""A run whose retention failed is not "ok": exit 3 with the reason, recorded partial."""

from __future__ import annotations

from pathlib import Path

from servers import free_port, rclone_restic
from vk_backup import make_config, vk, vk_json


def test_failed_retention_makes_the_backup_partial(tmp_path: Path) -> None:
    """A REST server that refuses deletes (append-only, not declared so in the configuration):
    before, every backup exited 0 while retention failed there; now exit 3 names it."""
    port = free_port()
    with rclone_restic(tmp_path / "rest", port, append_only=True):
        config = make_config(tmp_path, records=40, policies="[keep]\nlast = 1\n",
                             locations=[("nas", str(tmp_path / "nas")),
                                        ("rest", f"rest:http://127.0.0.1:{port}/repo/")])
        assert vk(config, "locations", "init").returncode == 0
        first = vk_json(config, "backup")
        assert first["status"] == "ok"          # nothing to forget yet
        second = vk_json(config, "backup", ok=(3,), timeout=600)
        assert second["status"] == "partial"
        assert any(p.startswith("retention failed at rest") for p in second["problems"])
        assert [r["action"] for r in second["retention"]] == ["pruned", "failed"]
        status = vk_json(config, "status")
        assert status["last_run"]["status"] == "partial"

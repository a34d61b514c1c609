"""A backup into local, S3 (rclone serve s3) and REST (rclone serve restic) locations; a dead S3
server makes the run partial, and the next run after it is back fills the gap."""

from __future__ import annotations

from servers import free_port, rclone_restic, rclone_s3
from vk_backup import FAKE_SECRET, make_config, vk, vk_json

KEY, SECRET = "vk-test-access", "vk-test-" + FAKE_SECRET


def test_local_s3_rest_then_s3_down_then_gap_filled(tmp_path):
    s3_port, rest_port = free_port(), free_port()
    (tmp_path / "s3" / "crm-backup").mkdir(parents=True)
    env = {"VK_S3_KEY": KEY, "VK_S3_SECRET": SECRET}
    config = make_config(tmp_path, locations=[
        ("nas", str(tmp_path / "loc" / "nas")),
        ("offsite", f"s3:http://127.0.0.1:{s3_port}/crm-backup/vaultkeeper"),
        ("rest", f"rest:http://127.0.0.1:{rest_port}/repo/"),
    ])
    text = config.read_text().replace(
        f'url = "s3:http://127.0.0.1:{s3_port}/crm-backup/vaultkeeper"\n',
        f'url = "s3:http://127.0.0.1:{s3_port}/crm-backup/vaultkeeper"\n'
        'access_key = { env = "VK_S3_KEY" }\nsecret_key = { env = "VK_S3_SECRET" }\n')
    config.write_text(text)
    with rclone_restic(tmp_path / "rest", rest_port):
        with rclone_s3(tmp_path / "s3", s3_port, KEY, SECRET):
            init = vk(config, "locations", "init", env=env)
            assert init.returncode == 0, init.stderr
            first = vk_json(config, "backup", env=env)
            assert first["status"] == "ok"
            assert [r["result"] for r in first["locations"]] == ["ok", "ok", "ok"]
            checked = vk_json(config, "locations", "check", env=env)
            assert [r["repository"] for r in checked["locations"]] == ["ok", "ok", "ok"]
        # S3 is down: the run is partial, the others still get the snapshot.
        down = vk_json(config, "backup", env=env, ok=(3,))
        assert down["status"] == "partial"
        results = {r["location"]: r for r in down["locations"]}
        assert results["nas"]["result"] == "ok" and results["rest"]["result"] == "ok"
        assert results["offsite"]["result"] == "failed"
        assert "unreachable" in results["offsite"]["error"]
        status = vk_json(config, "status", env=env)
        states = {loc["name"]: loc for loc in status["locations"]}
        assert states["offsite"]["last_error"] is not None
        assert states["nas"]["last_error"] is None
        with rclone_s3(tmp_path / "s3", s3_port, KEY, SECRET):
            again = vk_json(config, "backup", env=env)
            assert again["status"] == "ok"
            matrix = vk_json(config, "snapshots", env=env)
    assert len(matrix["snapshots"]) == 3
    for row in matrix["snapshots"]:  # the gap is filled: every snapshot everywhere
        assert set(row["locations"]) == {"nas", "offsite", "rest"}, row
    everything = (init.stdout + init.stderr + str(first) + str(down) + str(status)
                  + str(matrix))
    assert SECRET not in everything and FAKE_SECRET not in everything

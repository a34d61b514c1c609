"""S3 preflight against real S3 servers: Object Lock and versioning (moto), a plain bucket and
refused credentials (rclone serve s3); restic backs up into the locked bucket."""

from __future__ import annotations

import boto3
from servers import free_port, moto_s3, rclone_s3
from vk_backup import FAKE_SECRET

from vaultkeeper.config import Secret
from vaultkeeper.restic import Restic
from vaultkeeper.storage.locations import Location, preflight


def s3_location(url: str, key_var: str, secret_var: str) -> Location:
    return Location(name="offsite", kind="s3", display_url=url, url=url,
                    access_key=Secret(kind="env", ref=key_var),
                    secret_key=Secret(kind="env", ref=secret_var))


def test_object_lock_bucket_is_reported_and_usable(tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("VK_T_KEY", "test")
    monkeypatch.setenv("VK_T_SECRET", "test")
    with moto_s3(port):
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(Bucket="locked", ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
        location = s3_location(f"s3:http://127.0.0.1:{port}/locked/crm", "VK_T_KEY",
                               "VK_T_SECRET")
        before = preflight(location)
        assert before.reachable and before.credentials_ok and before.initialised is False
        assert before.versioning == "Enabled"
        assert before.object_lock is not None and "COMPLIANCE" in before.object_lock
        key = tmp_path / "key"
        key.write_text("pw\n")
        key.chmod(0o600)
        restic = Restic(location, Secret(kind="file", ref=str(key)), timeout=120)
        restic.init()
        data = tmp_path / "data"
        data.mkdir()
        (data / "contacts.ndjson").write_text('{"id":"1"}\n')
        assert len(restic.backup(data).snapshot_id) == 64
        assert preflight(location).initialised is True


def test_plain_bucket_and_refused_credentials(tmp_path, monkeypatch):
    port = free_port()
    (tmp_path / "s3" / "plain").mkdir(parents=True)
    monkeypatch.setenv("VK_T_KEY", "good-key")
    monkeypatch.setenv("VK_T_SECRET", "good-secret")
    monkeypatch.setenv("VK_T_BAD", FAKE_SECRET)
    with rclone_s3(tmp_path / "s3", port, "good-key", "good-secret"):
        url = f"s3:http://127.0.0.1:{port}/plain/crm"
        ok = preflight(s3_location(url, "VK_T_KEY", "VK_T_SECRET"))
        assert ok.reachable and ok.credentials_ok and ok.object_lock == "not enabled"
        bad = preflight(s3_location(url, "VK_T_KEY", "VK_T_BAD"))
        assert bad.credentials_ok is False
        assert FAKE_SECRET not in " ".join(bad.notes)
    gone = preflight(s3_location(url, "VK_T_KEY", "VK_T_SECRET"))
    assert gone.reachable is False and "cannot connect" in gone.notes[0]

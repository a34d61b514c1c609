"""Where an escrow deposit's kit lives: a folder next to a local escrow repository, or objects
beside an S3 one (``<prefix>-kit/…``). boto3 is used here only (storage/ is its home)."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vaultkeeper.errors import StorageError
from vaultkeeper.storage.locations import Location
from vaultkeeper.storage.s3 import split_s3_url

KIT_SUFFIX = "-kit"


def kit_address(location: Location) -> str:
    """Where the kit of the escrow repository at ``location`` lives (for people to read)."""
    if location.kind == "local":
        return str(Path(location.url).absolute()) + KIT_SUFFIX
    if location.kind == "s3":
        endpoint, bucket, prefix = split_s3_url(location.url)
        return f"s3:{endpoint}/{bucket}/{prefix + KIT_SUFFIX if prefix else 'kit'}"
    raise StorageError(f"escrow kits can be stored next to local or S3 repositories, not "
                       f"{location.kind}", "use a local path or an s3: url for [escrow] url")


def _client(location: Location):  # type: ignore[no-untyped-def]
    endpoint, bucket, prefix = split_s3_url(location.url)
    if location.access_key is None or location.secret_key is None:
        raise StorageError("the S3 escrow location has no credentials",
                           "set [escrow] access_key/secret_key or credentials_from")
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=location.access_key.reveal(),
        aws_secret_access_key=location.secret_key.reveal(),
        config=Config(connect_timeout=20, read_timeout=120, retries={"max_attempts": 3},
                      s3={"addressing_style": "path"}))
    return client, bucket, (prefix + KIT_SUFFIX if prefix else "kit")


def put_kit(location: Location, folder: Path) -> None:
    """Replace the kit with the files of ``folder`` (the new inventory is written last)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name.startswith("inventory"))
    if location.kind == "local":
        target = Path(kit_address(location))
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for path in files:
            dest = target / path.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        return
    kit_address(location)
    client, bucket, prefix = _client(location)
    try:
        old = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
        wanted = {f"{prefix}/{p.relative_to(folder).as_posix()}" for p in files}
        for path in files:
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")
        for obj in old:
            if obj["Key"] not in wanted:
                client.delete_object(Bucket=bucket, Key=obj["Key"])
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"cannot upload the escrow kit to {kit_address(location)}: "
                           f"{str(exc)[:200]}", "check the bucket and its credentials") from None


def get_kit(location: Location, target: Path) -> None:
    """Copy the kit into ``target`` (an empty folder). Raises StorageError when there is none."""
    if location.kind == "local":
        source = Path(kit_address(location))
        if not source.is_dir():
            raise StorageError(f"no escrow kit at {source}", "run `vaultkeeper escrow deposit`")
        shutil.copytree(source, target, dirs_exist_ok=True)
        return
    kit_address(location)
    client, bucket, prefix = _client(location)
    try:
        objects = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
        if not objects:
            raise StorageError(f"no escrow kit at {kit_address(location)}",
                               "run `vaultkeeper escrow deposit`")
        for obj in objects:
            dest = target / obj["Key"][len(prefix) + 1:]
            dest.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, obj["Key"], str(dest))
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"cannot read the escrow kit at {kit_address(location)}: "
                           f"{str(exc)[:200]}", "check the bucket and its credentials") from None

"""S3 preflight through boto3 (its only user): bucket, credentials, versioning, Object Lock."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from vaultkeeper.storage.locations import Location, Preflight


def split_s3_url(url: str) -> tuple[str, str, str]:
    """``s3:http://host:port/bucket/prefix`` → (endpoint, bucket, prefix)."""
    parts = urlsplit(url[len("s3:"):])
    bucket, _, prefix = parts.path.lstrip("/").partition("/")
    return f"{parts.scheme}://{parts.netloc}", bucket, prefix.strip("/")


def s3_preflight(location: Location, result: Preflight, *, timeout: float) -> None:
    """Fill ``result`` with what the S3 API says about the bucket."""
    endpoint, bucket, prefix = split_s3_url(location.url)
    if location.access_key is None or location.secret_key is None:
        result.notes.append("no access_key/secret_key configured")
        result.credentials_ok = False
        return
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=location.access_key.reveal(),
        aws_secret_access_key=location.secret_key.reveal(),
        config=Config(connect_timeout=timeout, read_timeout=timeout,
                      retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
    try:
        client.head_bucket(Bucket=bucket)
        result.credentials_ok = True
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        result.credentials_ok = code not in ("403", "InvalidAccessKeyId", "SignatureDoesNotMatch")
        result.notes.append(f"bucket {bucket}: {code or exc}")
        return
    except BotoCoreError as exc:
        result.reachable = False
        result.notes.append(f"S3 endpoint: {exc}")
        return
    key = f"{prefix}/config" if prefix else "config"
    try:
        client.head_object(Bucket=bucket, Key=key)
        result.initialised = True
    except ClientError:
        result.initialised = False
    try:
        result.versioning = client.get_bucket_versioning(Bucket=bucket).get("Status", "Disabled")
    except (ClientError, BotoCoreError):
        result.versioning = "unknown"
    try:
        lock = client.get_object_lock_configuration(Bucket=bucket).get(
            "ObjectLockConfiguration") or {}
        # Only an explicit "Enabled" counts: claiming immutability that is not there is worse
        # than reporting none.
        if lock.get("ObjectLockEnabled") != "Enabled":
            result.object_lock = "not enabled"
            return
        rule = lock.get("Rule", {}).get("DefaultRetention", {})
        if rule.get("Days") or rule.get("Years"):
            result.lock_days = int(rule.get("Days") or 0) or int(rule["Years"]) * 365
        result.object_lock = "Enabled" + (
            f", {rule.get('Mode')} {rule.get('Days') or rule.get('Years')}" if rule else
            ", no default retention")
    except (ClientError, BotoCoreError):
        result.object_lock = "not enabled"

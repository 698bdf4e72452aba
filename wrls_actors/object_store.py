"""Where the jobs' input files live: S3 (or an S3-compatible server) through
boto3, or a local folder for the embedded default and development.

Both answer the same two questions: what is the object's ETag now, and give
me the object whose ETag is that one (so a file replaced between the two
calls is never mistaken for the one that was checked).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Protocol

from .runtime import PermanentError

CHUNK = 1 << 20


class ChangedMeanwhile(Exception):
    """The object was replaced between reading its ETag and downloading it (retrying helps)."""


class ObjectStore(Protocol):
    def describe(self, key: str) -> str: ...

    def etag(self, key: str) -> str:
        """The object's ETag without quotes; PermanentError naming it when it does not exist."""

    def download(self, key: str, etag: str, destination: Path) -> int:
        """Stream the object to ``destination``; returns its size in bytes."""


class S3Store:
    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str, timeout_s: float) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        # Credentials come from boto3's usual chain (AWS_* variables, or the instance's role).
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            config=Config(
                connect_timeout=min(timeout_s, 30),
                read_timeout=timeout_s,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def etag(self, key: str) -> str:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise PermanentError(f"{self.describe(key)} does not exist") from None
            if code in ("403", "AccessDenied"):
                raise PermanentError(f"{self.describe(key)}: access denied (check the credentials)") from None
            raise
        return head["ETag"].strip('"')

    def download(self, key: str, etag: str, destination: Path) -> int:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, IfMatch=f'"{etag}"')
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("412", "PreconditionFailed"):
                raise ChangedMeanwhile(f"{self.describe(key)} was replaced while it was being read") from None
            raise
        with response["Body"] as body, destination.open("wb") as out:
            shutil.copyfileobj(body, out, CHUNK)
        return destination.stat().st_size


class LocalStore:
    """A folder standing in for the bucket: the ETag is the file's MD5, as S3 gives for a simple upload."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def describe(self, key: str) -> str:
        return str(self.root / key)

    def _path(self, key: str) -> Path:
        path = self.root / key
        if not path.is_file():
            raise PermanentError(f"{path} does not exist")
        return path

    def etag(self, key: str) -> str:
        return _md5(self._path(key))

    def download(self, key: str, etag: str, destination: Path) -> int:
        source = self._path(key)
        shutil.copyfile(source, destination)
        if _md5(destination) != etag:
            raise ChangedMeanwhile(f"{source} was replaced while it was being read")
        return destination.stat().st_size


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def nald_store(config) -> ObjectStore:
    """The store holding the NALD extract: the local folder when one is configured, else S3."""
    from .runtime import ConfigurationError

    if config.nald_local_dir is not None:
        return LocalStore(config.nald_local_dir)
    if not config.nald_bucket:
        raise ConfigurationError("WRLS_NALD_BUCKET (or WRLS_NALD_LOCAL_DIR) must be set to import NALD")
    return S3Store(
        config.nald_bucket,
        endpoint_url=config.s3_endpoint_url,
        region=config.s3_region,
        timeout_s=config.nald_download_timeout_s,
    )


def service_store(config, timeout_s: float) -> ObjectStore:
    """The store holding the service's CSV files (charge categories, gauging stations): the local folder
    when one is configured, else S3."""
    if config.service_local_dir is not None:
        return LocalStore(config.service_local_dir)
    if not config.service_bucket:
        # A PermanentError, not a ConfigurationError: the worker starts, and each run says what is missing.
        raise PermanentError("WRLS_SERVICE_BUCKET (or WRLS_SERVICE_LOCAL_DIR) is not set: the CSV files cannot be read")
    return S3Store(
        config.service_bucket, endpoint_url=config.s3_endpoint_url, region=config.s3_region, timeout_s=timeout_s
    )

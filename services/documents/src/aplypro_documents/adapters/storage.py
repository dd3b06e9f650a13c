"""Where PDFs are kept: a small interface, the local filesystem by default or an S3-compatible store."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from aplypro_documents.config import DocumentsSettings


@dataclass(frozen=True)
class StoredObject:
    ref: str
    sha256: str
    size_bytes: int


class MissingObjectError(LookupError):
    """No object behind this reference (deleted, or stored elsewhere)."""


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> StoredObject: ...

    def get(self, ref: str) -> bytes: ...


def _stored(ref: str, data: bytes) -> StoredObject:
    return StoredObject(ref, hashlib.sha256(data).hexdigest(), len(data))


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> StoredObject:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a reader never sees half a PDF
        return _stored(str(path), data)

    def get(self, ref: str) -> bytes:
        path = Path(ref)
        # A reference comes from a database row: never let it read outside the storage root.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise MissingObjectError(f"{ref} is not under {self.root}")
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise MissingObjectError(ref) from None


class S3Storage:
    """Objects in one bucket of an S3-compatible store; references read `s3://<bucket>/<key>`."""

    def __init__(self, client: Any, bucket: str, region: str = "us-east-1") -> None:
        self._client, self.bucket, self._region = client, bucket, region
        self._bucket_ready = False
        self._lock = threading.Lock()  # puts run in executor threads

    def put(self, key: str, data: bytes) -> StoredObject:
        self._ensure_bucket()
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        stored = _stored(f"s3://{self.bucket}/{key}", data)
        # One PUT is atomic: a reader never sees half an object. The checksum travels as metadata,
        # which every S3-compatible server keeps (the newer x-amz-checksum headers are not universal).
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                                Metadata={"sha256": stored.sha256})
        return stored

    def get(self, ref: str) -> bytes:
        prefix = f"s3://{self.bucket}/"
        if not ref.startswith(prefix):
            raise MissingObjectError(f"{ref} is not in bucket {self.bucket}")
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=ref.removeprefix(prefix))
        except self._client.exceptions.NoSuchKey:
            raise MissingObjectError(ref) from None
        with response["Body"] as body:
            return cast(bytes, body.read())

    def _ensure_bucket(self) -> None:
        """Create the bucket on first use when it does not exist yet (local and test set-ups)."""
        with self._lock:
            if self._bucket_ready:
                return
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
                options: dict[str, Any] = {}
                if self._region != "us-east-1":  # S3 refuses an explicit us-east-1 constraint
                    options["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
                try:
                    self._client.create_bucket(Bucket=self.bucket, **options)
                except self._client.exceptions.BucketAlreadyOwnedByYou:
                    pass  # another instance created it in between
            self._bucket_ready = True


def s3_client(settings: DocumentsSettings) -> Any:
    config = Config(
        # S3-compatible servers serve buckets as paths; virtual hosts need wildcard DNS.
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        # boto3 >= 1.36 adds CRC checksums to every request by default, which several S3-compatible
        # servers reject: send and check them only where the API requires them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 5, "mode": "standard"},
    )
    secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
                        aws_access_key_id=settings.s3_access_key, aws_secret_access_key=secret, config=config)


def storage_from_settings(settings: DocumentsSettings) -> Storage:
    """The backend chosen by `storage_backend`; builds clients, opens no connection."""
    if settings.storage_backend == "s3":
        return S3Storage(s3_client(settings), settings.s3_bucket, settings.s3_region)
    return LocalStorage(settings.storage_dir)

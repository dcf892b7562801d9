"""The raw-page store: gzip JSON pages, manifests and reports in RAW_BUCKET (S3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from rostersync.errors import StorageError
from rostersync.stored_json import decode_json, encode_json

__all__ = ["S3PageStore", "decode_json", "encode_json"]


class S3PageStore:
    """PageStore on one S3 bucket. Every failure surfaces as StorageError naming the key."""

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._s3: Any = client or boto3.client("s3")

    def put_json(self, key: str, body: Any, *, compress: bool = False) -> int:
        data = encode_json(body, compress=compress)
        extra = {"ContentEncoding": "gzip"} if compress else {}
        try:
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType="application/json", **extra
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not write s3://{self.bucket}/{key}: {_code(exc)}") from None
        return len(data)

    def get_json(self, key: str) -> Any:
        data = self.get_bytes(key)
        try:
            return decode_json(data)
        except (OSError, EOFError, ValueError):  # EOFError: a truncated gzip stream
            raise StorageError(f"s3://{self.bucket}/{key} is not valid (gzip) JSON") from None

    def get_bytes(self, key: str) -> bytes:
        try:
            return bytes(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not read s3://{self.bucket}/{key}: {_code(exc)}") from None

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        try:
            self._s3.upload_fileobj(fileobj, self.bucket, key, ExtraArgs={"ContentType": content_type})
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not write s3://{self.bucket}/{key}: {_code(exc)}") from None

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"could not read s3://{self.bucket}/{key}: {_code(exc)}") from None
        return True

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not list s3://{self.bucket}/{prefix}: {_code(exc)}") from None

    def download(self, key: str, path: Path) -> None:
        try:
            self._s3.download_file(self.bucket, key, str(path))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not read s3://{self.bucket}/{key}: {_code(exc)}") from None


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__

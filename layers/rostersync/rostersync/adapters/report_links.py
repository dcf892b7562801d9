"""Time-limited links to reports in RAW_BUCKET (S3 presigned GETs, SigV4).

SigV4 presigned URLs are valid for at most 7 days (604,800 s), which is what alerts promise.
A presigned URL also stops working when the credentials that signed it expire: signed with a
Lambda execution role's temporary credentials it lasts hours, not days. See ARCHITECTURE.md
("Report links") for how production gets the full 7 days.
"""

from __future__ import annotations

from typing import Any, Protocol

import boto3
from botocore.config import Config

MAX_EXPIRES_IN = 7 * 24 * 3600


class ReportLinks(Protocol):
    def presigned_url(self, key: str, expires_in: int) -> str: ...


class S3ReportLinks:
    """ReportLinks on one bucket; the SigV4 S3 client is created on first use."""

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._s3: Any = client

    def presigned_url(self, key: str, expires_in: int) -> str:
        if not 0 < expires_in <= MAX_EXPIRES_IN:
            raise ValueError(f"a presigned link lasts 1 s to 7 days, not {expires_in} s")
        if self._s3 is None:
            self._s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
        )

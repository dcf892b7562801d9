"""Time-limited links to reports in RAW_BUCKET (S3 presigned GETs, SigV4).

SigV4 presigned URLs are valid for at most 7 days (604,800 s), which is what alerts promise.
A presigned URL also stops working when the credentials that signed it expire: signed with a
Lambda execution role's temporary credentials it lasts hours, not days. So in AWS, alerts use
`rostersync.report_links.SignedReportLinks` (links answered by the report-link function, which
presigns for 5 minutes on each click); `wiring.report_links_for` picks it whenever REPORT_LINK_BASE_URL
is set and falls back to a plain 7-day presign when it is empty (local runs, the demo).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

MAX_EXPIRES_IN = 7 * 24 * 3600


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

"""The bytes of a stored JSON object (a page, a manifest, a result): UTF-8 JSON, gzip when asked.

On the floor, so the page store adapter writes and reads them and a run's artifact readers
(`run_artifacts`) can decode bytes they keep without importing an adapter.
"""

from __future__ import annotations

import gzip
import json
from typing import Any


def encode_json(body: Any, *, compress: bool) -> bytes:
    try:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (sources clean their records, but a reason or a link may carry one):
        # escaped as \udXXX it is valid JSON and reads back as the same string.
        raw = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    # mtime=0 keeps the bytes deterministic: a re-run that stores the same page stores the same bytes.
    return gzip.compress(raw, compresslevel=6, mtime=0) if compress else raw


def decode_json(data: bytes) -> Any:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return json.loads(data)

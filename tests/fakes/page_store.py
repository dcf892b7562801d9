"""An in-memory PageStore (rostersync.ports.PageStore)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from rostersync.adapters.s3_page_store import decode_json, encode_json
from rostersync.errors import StorageError


class MemoryPageStore:
    """Objects by key, kept as the bytes S3 would hold (JSON, gzip when asked), so a test can
    corrupt one. Every read of a key under a prefix in `fail_reads` (or any read, with
    `fail_all_reads`) and every write under `fail_writes` raises StorageError, as S3PageStore
    does for any S3 error. `presigned_url` makes it a ReportLinks too."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0
        self.gets = 0  # reads of an object (get_json and get_bytes)
        self.fail_all_reads = False
        self.fail_reads: set[str] = set()
        self.fail_writes: set[str] = set()

    def _read(self, key: str) -> None:
        if self.fail_all_reads or any(key.startswith(prefix) for prefix in self.fail_reads):
            raise StorageError(f"could not read memory://{key}: injected")

    def _write(self, key: str) -> None:
        if any(key.startswith(prefix) for prefix in self.fail_writes):
            raise StorageError(f"could not write memory://{key}: injected")

    def put_json(self, key: str, body: Any, *, compress: bool = False) -> int:
        self._write(key)
        self.objects[key] = encode_json(body, compress=compress)
        self.puts += 1
        return len(self.objects[key])

    def get_json(self, key: str) -> Any:
        self._read(key)
        if key not in self.objects:
            raise StorageError(f"could not read memory://{key}: NoSuchKey")
        self.gets += 1
        try:
            return decode_json(self.objects[key])
        except (OSError, ValueError):
            raise StorageError(f"memory://{key} is not valid (gzip) JSON") from None

    def get_bytes(self, key: str) -> bytes:
        self._read(key)
        if key not in self.objects:
            raise StorageError(f"could not read memory://{key}: NoSuchKey")
        self.gets += 1
        return self.objects[key]

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        self._write(key)
        self.objects[key] = fileobj.read()
        self.puts += 1

    def exists(self, key: str) -> bool:
        self._read(key)
        return key in self.objects

    def keys(self, prefix: str) -> Iterator[str]:
        self._read(prefix)
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))

    def presigned_url(self, key: str, expires_in: int) -> str:
        return f"https://bucket.example/{key}?X-Amz-Expires={expires_in}"

"""The embedded AWS: a moto server on loopback that boto3 reaches through AWS_ENDPOINT_URL.

The runtime code does not know it is local: it only sees the standard AWS variables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from moto import backends
from moto.server import ThreadedMotoServer

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def silence_moto_logs() -> None:
    """moto's server logs every request through werkzeug; nobody needs that in a demo or a test."""
    for name in ("werkzeug", "moto", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.ERROR)


def remember_moto_modules() -> None:
    """moto's server lists its package directory (about 150 `isdir` calls) on every request to
    tell a service name from a host; the listing is the same for the life of the process, so it
    is read once (6% of the fault suite's CPU went to it)."""
    if getattr(backends.list_of_moto_modules, "remembered", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def remembered() -> Iterator[str]:
        return iter(modules)

    remembered.remembered = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = remembered


class EmbeddedAws:
    """A moto server on 127.0.0.1, on an ephemeral port. Use as a context manager."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> Self:
        silence_moto_logs()
        remember_moto_modules()
        self._server.start()
        port = self._server._server.server_port  # type: ignore[union-attr]
        self.endpoint_url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def environment(self) -> dict[str, str]:
        """The variables that point boto3 (and so every handler) at this server."""
        return {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL": self.endpoint_url}

    def apply_environment(self) -> None:
        os.environ.update(self.environment())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

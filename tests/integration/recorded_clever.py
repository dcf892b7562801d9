"""Clever's own recorded v3.0 responses (clever-go's fixtures), replayed over HTTP on loopback.

`/v3.0/users?role=X` serves the users of that role from users.json, `/v3.0/sections` and
`/v3.0/districts` their files; schools, terms and courses are empty (the recording has none).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.paths import CLEVER_SAMPLES

DISTRICT_ID = "5a0c91b95c7cc000010d417c"
TOKEN = "recorded-token"


def _load(name: str) -> dict[str, Any]:
    return json.loads((CLEVER_SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


class RecordedClever:
    def __init__(self) -> None:
        self.users = _load("users")
        self.bodies: dict[str, Any] = {
            "/v3.0/districts": _load("districts"),
            "/v3.0/sections": _load("sections"),
            "/v3.0/schools": {"data": [], "links": []},
            "/v3.0/terms": {"data": [], "links": []},
            "/v3.0/courses": {"data": [], "links": []},
        }
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                recorder.paths.append(self.path)
                if url.path == "/oauth/tokens":
                    body: Any = {
                        "data": [
                            {
                                "id": "t1",
                                "owner": {"type": "district", "id": DISTRICT_ID},
                                "access_token": TOKEN,
                                "scopes": [],
                            }
                        ]
                    }
                elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, {"message": "unauthorized"})
                elif url.path == "/v3.0/users":
                    role = parse_qs(url.query).get("role", [""])[0]
                    data = [u for u in recorder.users["data"] if role in u["data"]["roles"]]
                    body = {"data": data, "links": [{"rel": "self", "uri": self.path}]}
                elif url.path in recorder.bodies:
                    body = recorder.bodies[url.path]
                else:
                    return self._send(404, {"message": "not found"})
                self._send(200, body)

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordedClever:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

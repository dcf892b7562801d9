"""A Clever Data API v3.0 on loopback that serves, per district, the records a test scripts for tonight.

`serve(district_id, pages)` (resource -> records, the fetch stage's resources: districts, schools,
students, teachers, staff, district_admins, sections, terms, courses) sets what that district
shares from now on; `/oauth/tokens` lists every district given pages. Each resource is one page
(`links` has no `next`); users are served by role from `/v3.0/users?role=...`, as Clever does.
The multi-night tests use it so their nights run through the state machine like every other night.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROLE_OF = {
    "students": "student",
    "teachers": "teacher",
    "staff": "staff",
    "district_admins": "district_admin",
}
PATH_OF = {"districts": "/v3.0/districts", "schools": "/v3.0/schools", "sections": "/v3.0/sections"}
PATH_OF |= {"terms": "/v3.0/terms", "courses": "/v3.0/courses"}


class ScriptedClever:
    client_id = "scripted-client"
    client_secret = "scripted-secret"

    def __init__(self) -> None:
        self.pages: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server.paths.append(self.path)
                status, body = server.answer(self.path, self.headers.get("Authorization") or "")
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.api_base = self.oauth_base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, district_id: str, pages: Mapping[str, list[dict[str, Any]]]) -> None:
        self.pages[district_id] = {resource: list(records) for resource, records in pages.items()}

    @staticmethod
    def token(district_id: str) -> str:
        return f"token-{district_id}"

    def answer(self, path: str, authorization: str) -> tuple[int, Any]:
        url = urlsplit(path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if url.path == "/oauth/tokens":
            wanted = query.get("district")
            entries = [
                {"id": f"t-{d}", "owner": {"type": "district", "id": d}, "access_token": self.token(d)}
                for d in self.pages
                if wanted in (None, d)
            ]
            return 200, {"data": entries}
        district = next((d for d in self.pages if authorization == f"Bearer {self.token(d)}"), None)
        if district is None:
            return 401, {"message": "unauthorized"}
        pages = self.pages[district]
        if url.path.startswith("/v3.0/districts/"):
            found = [r for r in pages.get("districts", []) if url.path.endswith("/" + r["id"])]
            return (200, {"data": found[0]}) if found else (404, {"message": "not found"})
        if url.path == "/v3.0/users":
            resource = next((r for r, role in ROLE_OF.items() if role == query.get("role")), None)
        else:
            resource = next((r for r, p in PATH_OF.items() if p == url.path), None)
        if resource is None:
            return 404, {"message": "not found"}
        records = pages.get(resource, [])
        return 200, {"data": [{"data": r, "uri": f"{url.path}/{r['id']}"} for r in records], "links": []}

    def __enter__(self) -> ScriptedClever:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

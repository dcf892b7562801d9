"""Clever sandbox over real HTTP on loopback: OAuth tokens, pagination, faults, schema validation."""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml

from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig, default_config
from tests.paths import CLEVER_SPEC_V30

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

ROLES = ("student", "teacher", "staff", "district_admin", "contact")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox() as sb:
        yield sb


@pytest.fixture(autouse=True)
def _reset_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").faults.reset()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.trust_env = False  # loopback only, never a proxy
        yield s


def tokens(sb: CleverSandbox, http: requests.Session, **params: str) -> requests.Response:
    return http.get(
        f"{sb.oauth_base}/oauth/tokens",
        params={"owner_type": "district", **params},
        auth=(sb.client_id, sb.client_secret),
        timeout=5,
    )


def bearer(sb: CleverSandbox, http: requests.Session, district_id: str) -> dict[str, str]:
    data = tokens(sb, http, district=district_id).json()["data"]
    assert len(data) == 1
    return {"Authorization": f"Bearer {data[0]['access_token']}"}


def get(
    sb: CleverSandbox, http: requests.Session, district_id: str, path: str, **params: Any
) -> requests.Response:
    return http.get(f"{sb.api_base}{path}", params=params, headers=bearer(sb, http, district_id), timeout=10)


def fetch_all(
    sb: CleverSandbox, http: requests.Session, district_id: str, path: str, **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow `next` links; returns (items, bodies)."""
    headers = bearer(sb, http, district_id)
    url: str | None = f"{sb.api_base}{path}"
    items: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] = []
    query: dict[str, Any] | None = params
    while url:
        r = http.get(url, params=query, headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        bodies.append(body)
        items.extend(body["data"])
        nxt = [link["uri"] for link in body["links"] if link["rel"] == "next"]
        url = f"{sb.api_base}{nxt[0]}" if nxt else None
        query = None
        assert len(bodies) < 500
    return items, bodies


# --- OAuth tokens -------------------------------------------------------------------------------


def test_tokens_with_basic_auth(sandbox: CleverSandbox, http: requests.Session) -> None:
    r = tokens(sandbox, http)
    assert r.status_code == 200
    data = r.json()["data"]
    assert [t["owner"]["id"] for t in data] == sandbox.district_ids()
    for t in data:
        assert t["owner"]["type"] == "district"
        assert t["access_token"] and t["id"] and t["created"]
        assert "read:students" in t["scopes"] and "read:user_id" in t["scopes"]
    one = tokens(sandbox, http, district=sandbox.district_ids()[1]).json()["data"]
    assert [t["owner"]["id"] for t in one] == [sandbox.district_ids()[1]]
    assert tokens(sandbox, http, district="0" * 24).json() == {"data": []}


@pytest.mark.parametrize("auth", [None, ("rostersync-sandbox-client", "wrong"), ("nobody", "x")])
def test_tokens_reject_bad_client(sandbox: CleverSandbox, http: requests.Session, auth: Any) -> None:
    r = http.get(
        f"{sandbox.oauth_base}/oauth/tokens", params={"owner_type": "district"}, auth=auth, timeout=5
    )
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_client"}


def test_bearer_required(sandbox: CleverSandbox, http: requests.Session) -> None:
    r = http.get(f"{sandbox.api_base}/v3.0/schools", timeout=5)
    assert r.status_code == 401 and "message" in r.json()
    r = http.get(f"{sandbox.api_base}/v3.0/schools", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert r.status_code == 401 and "message" in r.json()


def test_revoke_and_rotate() -> None:
    with CleverSandbox() as sb, requests.Session() as http:
        d0, d1 = sb.district_ids()[:2]
        old = bearer(sb, http, d0)
        sb.rotate_token(d0)
        assert http.get(f"{sb.api_base}/v3.0/schools", headers=old, timeout=5).status_code == 401
        new = bearer(sb, http, d0)
        assert new != old
        assert http.get(f"{sb.api_base}/v3.0/schools", headers=new, timeout=5).status_code == 200

        h1 = bearer(sb, http, d1)
        sb.revoke(d1)
        assert http.get(f"{sb.api_base}/v3.0/schools", headers=h1, timeout=5).status_code == 401
        assert d1 not in [t["owner"]["id"] for t in tokens(sb, http).json()["data"]]
        assert tokens(sb, http, district=d1).json() == {"data": []}


# --- endpoints and pagination -------------------------------------------------------------------


def test_district_endpoints(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0, d1 = sandbox.district_ids()[:2]
    body = get(sandbox, http, d0, "/v3.0/districts").json()
    assert [item["data"]["id"] for item in body["data"]] == [d0]
    assert body["data"][0]["uri"] == f"/v3.0/districts/{d0}"
    assert body["links"] == [{"rel": "self", "uri": "/v3.0/districts"}]
    one = get(sandbox, http, d0, f"/v3.0/districts/{d0}")
    assert one.status_code == 200 and one.json()["data"]["name"] == "Allegheny Valley School District"
    other = get(sandbox, http, d0, f"/v3.0/districts/{d1}")
    assert other.status_code == 404 and "message" in other.json()
    assert get(sandbox, http, d0, "/v3.0/nonsense").status_code == 404


def test_small_limit_pagination_matches_single_page(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    paged, bodies = fetch_all(sandbox, http, d0, "/v3.0/users", role="student", limit=37)
    whole, _ = fetch_all(sandbox, http, d0, "/v3.0/users", role="student", limit=10000)
    assert paged == whole and len(whole) == 400
    ids = [item["data"]["id"] for item in whole]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(item["uri"] == f"/v3.0/users/{item['data']['id']}" for item in whole)
    assert len(bodies) == 11  # 10 x 37 + 30
    first = bodies[0]["links"]
    assert first[0] == {"rel": "self", "uri": "/v3.0/users?role=student&limit=37"}
    assert first[1] == {"rel": "next", "uri": f"/v3.0/users?limit=37&role=student&starting_after={ids[36]}"}
    assert [link["rel"] for link in bodies[-1]["links"]] == ["self"]


def test_starting_after_and_default_limit(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    whole, _ = fetch_all(sandbox, http, d0, "/v3.0/sections", limit=10000)
    ids = [i["data"]["id"] for i in whole]
    page = get(sandbox, http, d0, "/v3.0/sections", limit=5, starting_after=ids[10]).json()
    assert [i["data"]["id"] for i in page["data"]] == ids[11:16]
    default = get(sandbox, http, d0, "/v3.0/users", role="student").json()
    assert len(default["data"]) == 100
    assert default["links"][1]["uri"].startswith("/v3.0/users?limit=100&role=student&starting_after=")
    last = get(sandbox, http, d0, "/v3.0/sections", starting_after=ids[-1]).json()
    assert last["data"] == [] and [link["rel"] for link in last["links"]] == ["self"]


def test_limit_above_10000_is_413(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    r = get(sandbox, http, d0, "/v3.0/users", role="student", limit=10001)
    assert r.status_code == 413 and "message" in r.json()
    assert get(sandbox, http, d0, "/v3.0/users", limit="many").status_code == 400


def test_10000_boundary_in_a_bigger_district(http: requests.Session) -> None:
    big = DistrictSpec(
        "Boundary School District", seed=10001, schools=4, students=10001, teachers=8, sections=4, courses=2
    )
    with CleverSandbox(SandboxConfig(districts=(big,))) as sb:
        first = get(sb, http, big.id, "/v3.0/users", role="student", limit=10000).json()
        assert len(first["data"]) == 10000
        nxt = first["links"][1]
        last_id = first["data"][-1]["data"]["id"]
        assert nxt == {"rel": "next", "uri": f"/v3.0/users?limit=10000&role=student&starting_after={last_id}"}
        second = http.get(f"{sb.api_base}{nxt['uri']}", headers=bearer(sb, http, big.id), timeout=10).json()
        assert len(second["data"]) == 1 and second["data"][0]["data"]["id"] > last_id
        assert [link["rel"] for link in second["links"]] == ["self"]


def test_users_without_role_lists_every_user_once(sandbox: CleverSandbox, http: requests.Session) -> None:
    d2 = sandbox.district_ids()[2]  # has dual-role teachers
    everyone, _ = fetch_all(sandbox, http, d2, "/v3.0/users", limit=10000)
    ids = [u["data"]["id"] for u in everyone]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    by_role = set()
    for role in ROLES:
        items, _ = fetch_all(sandbox, http, d2, "/v3.0/users", role=role, limit=10000)
        by_role |= {u["data"]["id"] for u in items}
    assert by_role == set(ids)


def test_request_log(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    before = len(sandbox.requests)
    get(sandbox, http, d0, "/v3.0/terms", limit=3)
    entries = sandbox.requests[before:]
    assert entries[-1].method == "GET" and entries[-1].path == "/v3.0/terms"
    assert entries[-1].query == {"limit": "3"} and entries[-1].district_id == d0 and entries[-1].status == 200
    assert entries[-2].path == "/oauth/tokens" and entries[-2].district_id is None


# --- faults -------------------------------------------------------------------------------------


def test_rate_limit(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    headers = bearer(sandbox, http, d0)
    sandbox.faults.rate_limit_every = 3
    before = time.time()
    statuses = [http.get(f"{sandbox.api_base}/v3.0/terms", headers=headers, timeout=5) for _ in range(6)]
    after = time.time()
    assert [r.status_code for r in statuses] == [200, 200, 429, 200, 200, 429]
    limited = statuses[2]
    assert "Retry-After" not in limited.headers
    raw = limited.raw.headers
    assert len(raw.getlist("X-Ratelimit-Limit")) == 3
    assert len(set(raw.getlist("X-Ratelimit-Limit"))) == 3
    assert raw.getlist("X-Ratelimit-Remaining") == ["0", "0", "0"]
    resets = [int(v) for v in raw.getlist("X-Ratelimit-Reset")]
    # Each bucket resets within a couple of seconds of the request that hit it (bounded by the
    # clock read before and after the requests, not by a window that load could stretch).
    assert len(resets) == 3 and all(int(before) <= r <= after + 2 for r in resets)


def test_server_errors_then_normal(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    headers = bearer(sandbox, http, d0)
    sandbox.faults.server_errors = 3
    sandbox.faults.match_path = "/v3.0/sections"
    assert http.get(f"{sandbox.api_base}/v3.0/terms", headers=headers, timeout=5).status_code == 200
    got = [http.get(f"{sandbox.api_base}/v3.0/sections", headers=headers, timeout=5) for _ in range(4)]
    assert sorted(r.status_code for r in got[:3]) == [500, 502, 503]  # the statuses are cycled
    assert got[0].json()["message"]
    assert got[3].status_code == 200
    assert sandbox.faults.server_errors == 0


def test_html_errors(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    sandbox.faults.server_errors = 1
    sandbox.faults.server_error_statuses = (502,)
    sandbox.faults.html_errors = True
    r = get(sandbox, http, d0, "/v3.0/schools")
    assert r.status_code == 502
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.text == "<html><body><h1>502 Bad Gateway</h1></body></html>"


def test_empty_trailing_page(sandbox: CleverSandbox, http: requests.Session) -> None:
    d3 = sandbox.district_ids()[3]
    sandbox.faults.empty_trailing_page = True
    items, bodies = fetch_all(sandbox, http, d3, "/v3.0/users", role="student", limit=20)
    assert len(items) == 30
    assert [len(b["data"]) for b in bodies] == [20, 10, 0]
    assert [link["rel"] for link in bodies[-1]["links"]] == ["self"]


def test_off_host_next_points_at_trap(sandbox: CleverSandbox, http: requests.Session) -> None:
    d3 = sandbox.district_ids()[3]
    sandbox.faults.off_host_next = True
    body = get(sandbox, http, d3, "/v3.0/users", role="student", limit=10).json()
    nxt = next(link["uri"] for link in body["links"] if link["rel"] == "next")
    assert nxt.startswith(sandbox.trap_base + "/v3.0/users?")
    assert not nxt.startswith(sandbox.api_base)
    assert sandbox.trap_hits == []
    r = http.get(nxt, timeout=5)  # a careless client following it: the trap records the hit
    assert r.status_code == 404
    assert sandbox.trap_hits == [nxt[len(sandbox.trap_base) :]]
    sandbox.trap_hits.clear()


def test_repeat_cursor(sandbox: CleverSandbox, http: requests.Session) -> None:
    d3 = sandbox.district_ids()[3]
    sandbox.faults.repeat_cursor = True
    headers = bearer(sandbox, http, d3)
    p1 = http.get(f"{sandbox.api_base}/v3.0/users?role=student&limit=10", headers=headers, timeout=5).json()
    next1 = p1["links"][1]["uri"]
    p2 = http.get(f"{sandbox.api_base}{next1}", headers=headers, timeout=5).json()
    assert p2["links"][1]["uri"] == next1  # the same cursor again: a client must detect the loop
    assert p2["data"][0]["data"]["id"] > p1["data"][-1]["data"]["id"]


@pytest.mark.parametrize("mode", ["no_data", "no_id"])
def test_garbage_200(sandbox: CleverSandbox, http: requests.Session, mode: str) -> None:
    d0 = sandbox.district_ids()[0]
    sandbox.faults.garbage_200 = 1
    sandbox.faults.garbage_mode = mode
    r = get(sandbox, http, d0, "/v3.0/schools")
    assert r.status_code == 200
    body = r.json()
    if mode == "no_data":
        assert body == {"links": []}
    else:
        assert body["data"] and all("id" not in item["data"] for item in body["data"])
    assert "id" in get(sandbox, http, d0, "/v3.0/schools").json()["data"][0]["data"]


def test_truncated_json(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    sandbox.faults.truncated_json = 1
    r = get(sandbox, http, d0, "/v3.0/schools")
    assert r.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        r.json()
    assert get(sandbox, http, d0, "/v3.0/schools").json()["data"]


def test_slow_seconds(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    headers = bearer(sandbox, http, d0)
    sandbox.faults.slow_seconds = 0.3
    t0 = time.perf_counter()
    assert http.get(f"{sandbox.api_base}/v3.0/terms", headers=headers, timeout=5).status_code == 200
    assert time.perf_counter() - t0 >= 0.3
    sandbox.faults.slow_seconds = 2.0
    with pytest.raises(requests.Timeout):
        http.get(f"{sandbox.api_base}/v3.0/terms", headers=headers, timeout=0.2)


def test_connection_reset(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0 = sandbox.district_ids()[0]
    headers = bearer(sandbox, http, d0)
    sandbox.faults.connection_reset = 1
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.api_base}/v3.0/terms", headers=headers, timeout=5)
    assert sandbox.requests[-1].status == 0
    assert http.get(f"{sandbox.api_base}/v3.0/terms", headers=headers, timeout=5).status_code == 200


def test_unauthorized_once(sandbox: CleverSandbox, http: requests.Session) -> None:
    d1 = sandbox.district_ids()[1]
    old = bearer(sandbox, http, d1)
    sandbox.faults.unauthorized_once.add(d1)
    r = http.get(f"{sandbox.api_base}/v3.0/terms", headers=old, timeout=5)
    assert r.status_code == 401 and "message" in r.json()
    new = bearer(sandbox, http, d1)
    assert new != old
    assert http.get(f"{sandbox.api_base}/v3.0/terms", headers=new, timeout=5).status_code == 200


def test_match_district_narrows_faults(sandbox: CleverSandbox, http: requests.Session) -> None:
    d0, d1 = sandbox.district_ids()[:2]
    sandbox.faults.server_errors = 1
    sandbox.faults.match_district = d1
    assert get(sandbox, http, d0, "/v3.0/terms").status_code == 200
    assert get(sandbox, http, d1, "/v3.0/terms").status_code >= 500


def test_stop_is_prompt_with_a_slow_request_in_flight(capfd: pytest.CaptureFixture[str]) -> None:
    sb = CleverSandbox().start()
    d0 = sb.district_ids()[0]
    with requests.Session() as http:
        headers = bearer(sb, http, d0)
        sb.faults.slow_seconds = 30  # capped at 5 s, and interrupted by stop()

        def slow_call() -> None:
            with contextlib.suppress(requests.RequestException):
                http.get(f"{sb.api_base}/v3.0/terms", headers=headers, timeout=10)

        worker = threading.Thread(target=slow_call, daemon=True)
        worker.start()
        deadline = time.monotonic() + 10
        while not sb.busy() and time.monotonic() < deadline:  # until the sandbox holds the request
            time.sleep(0.01)
        assert sb.busy(), "the slow request never reached the sandbox"
        t0 = time.perf_counter()
        sb.stop()
        # Well under the 5 s the slow answer would take: stop() interrupts it.
        assert time.perf_counter() - t0 < 4.0
        worker.join(timeout=3)
    out, err = capfd.readouterr()
    assert err == "" and out == ""


# --- schema validation --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swagger() -> Any:
    from bravado_core.spec import Spec

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Spec.from_dict(
            yaml.safe_load(CLEVER_SPEC_V30.read_text()),
            origin_url=CLEVER_SPEC_V30.as_uri(),
            config={"validate_responses": True, "use_models": False, "validate_swagger_spec": True},
        )


ENDPOINTS = [
    ("getDistricts", "/v3.0/districts", {}),
    ("getSchools", "/v3.0/schools", {}),
    *[("getUsers", "/v3.0/users", {"role": role}) for role in ROLES],
    ("getUsers", "/v3.0/users", {}),
    ("getSections", "/v3.0/sections", {}),
    ("getTerms", "/v3.0/terms", {}),
    ("getCourses", "/v3.0/courses", {}),
]


def _response_schema(swagger: Any, operation_id: str) -> dict[str, Any]:
    for resource in swagger.resources.values():
        op = resource.operations.get(operation_id)
        if op is not None:
            return op.op_spec["responses"]["200"]["schema"]
    raise KeyError(operation_id)


def test_every_endpoint_validates_against_v30_spec(
    sandbox: CleverSandbox, http: requests.Session, swagger: Any
) -> None:
    from bravado_core.validate import validate_object

    validated = 0
    for district_id in sandbox.district_ids():
        for operation_id, path, params in ENDPOINTS:
            schema = _response_schema(swagger, operation_id)
            _, bodies = fetch_all(sandbox, http, district_id, path, limit=10000, **params)
            for body in bodies:
                validate_object(swagger, schema, body)
                validated += len(body["data"])
        one = get(sandbox, http, district_id, f"/v3.0/districts/{district_id}").json()
        validate_object(swagger, _response_schema(swagger, "getDistrict"), one)
    assert validated > 5000


def test_validator_catches_a_bad_body(swagger: Any) -> None:
    from bravado_core.validate import validate_object
    from jsonschema import ValidationError

    bad = {"data": [{"data": {"id": "x", "roles": {"student": {"grade": "K"}}}, "uri": "/v3.0/users/x"}]}
    with pytest.raises(ValidationError):
        validate_object(swagger, _response_schema(swagger, "getUsers"), bad)


def test_default_config_is_the_default() -> None:
    assert CleverSandbox().config == default_config()

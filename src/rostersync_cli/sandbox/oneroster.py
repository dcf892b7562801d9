"""Local OneRoster 1.1 provider on loopback (stdlib `ThreadingHTTPServer`), as ClassLink serves it.

Each tenant has its own base URL, `http://127.0.0.1:<port>/<tenant>/ims/oneroster/v1p1`, and its
own consumer key and secret. Every request's OAuth 1.0a signature is verified with oauthlib's
server side (`SignatureOnlyEndpoint`: HMAC-SHA256, the key's secret, timestamp window, and a
nonce accepted once), so a client signing wrongly, replaying a nonce, or using the wrong secret
gets 401 with an `imsx_StatusInfo` body. Collections are paged with `limit`/`offset`, the page
size capped (`OneRosterFaults.max_page`), with `X-Total-Count` and an absolute
`Link: <...>; rel="next"` header (switchable). Faults are knobs on `OneRosterFaults`. The
generated tenants carry the gaps issue 12 lists (see `generate_tenant`), so every mapping rule
shows in a demo.

It keeps the habits real providers have (issue 21), on by default, because a sandbox kinder than
the provider it stands for hides the losses they cause:

* the order is undefined unless `sort=sourcedId` is asked for (OneRoster 1.1 leaves it to the
  provider): an unsorted listing's order drifts between requests (`OneRosterFaults.drift_swaps`
  records change places before every unsorted request), so offset paging without `sort` skips
  some records and repeats others;
* students without an address share one placeholder e-mail, a student shares a family address
  with a teacher, the PA Secure ID key is spelled in several ways (` PASecureID ` with spaces) or
  given only in `userIds` (type `StateID`), a school's 12-digit SIS id sits beside its explicit
  `ncesId`, next year's calendar is already published, and some users are disabled
  (`enabledUser: "false"`) or `inactive`;
* per tenant (`TenantSpec`): demographics refused (`demographics_shared=False`: 403 on
  `/demographics`), sourcedIds as JSON numbers (`numeric_ids`), no counselor or administrator.

A tenant may authenticate with OAuth 2.0 client credentials instead (`TenantSpec.auth="oauth2"`),
as many SIS's OneRoster servers do: `POST /oauth2/token` (`grant_type=client_credentials`, the
client id and secret in HTTP Basic or in the form) grants a Bearer token for the scopes asked
(`roster-core`, `roster`, `roster-demographics` read scopes; none asked: all of them), which
expires after `token_lifetime` seconds. A data request needs a live token of its tenant and the
scope of its collection (403 otherwise); an expired or revoked token gets 401
(`WWW-Authenticate: Bearer error="invalid_token"`). Faults: the token endpoint refuses the client
(`token_refused`), answers 5xx/429 (`token_statuses`), or a token dies early after a number of
requests (`revoke_tokens_after`, a provider that restarts or rotates its signing key).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA256

from rostersync.sources import normalize_district
from rostersync.sources.oneroster.client import OneRosterClient, OneRosterTenant
from rostersync.sources.oneroster.resources import SOURCE_NAME, Resource

from .config import DistrictSpec
from .oneroster_from_clever import as_oneroster

API_PATH = "/ims/oneroster/v1p1"
API_PATHS = {"1.1": API_PATH, "1.2": "/ims/oneroster/rostering/v1p2"}
TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a path, not a secret)
_SCOPE = "https://purl.imsglobal.org/spec/or/{}/scope/{}.readonly"
_VERSIONS = ("v1p1", "v1p2")
SCOPES = tuple(
    _SCOPE.format(v, n) for v in _VERSIONS for n in ("roster-core", "roster", "roster-demographics")
)
COLLECTIONS = ("orgs", "academicSessions", "courses", "users", "demographics", "enrollments", "classes")
HTML_ERROR = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


# ------------------------------------------------------------------------------- tenants


@dataclass(frozen=True)
class TenantSpec:
    """One generated OneRoster tenant (one district)."""

    district_id: str
    name: str
    seed: int = 1
    schools: int = 4
    students_per_school: int = 12
    teachers_per_school: int = 2
    # the seeded gaps (issue 12, Build 5); off: a clean tenant
    gaps: bool = True
    district_org: bool = True
    state_id_shared: bool = True  # False: no student carries PASECUREID (not enabled for the app)
    demographics_shared: bool = True  # False: /demographics answers 403 (switched off for the app)
    numeric_ids: bool = False  # True: users' and enrollments' sourcedIds are JSON numbers
    counselor: bool = True  # False: no administrator or counselor shared
    habits: bool = True  # placeholder e-mails, key spellings, userIds, disabled users, next year
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    auth: str = "oauth1"  # or "oauth2": client-credentials Bearer tokens from /oauth2/token
    version: str = "1.1"  # or "1.2": served under /ims/oneroster/rostering/v1p2, users with `roles`
    token_lifetime: int = 3600  # an OAuth 2.0 token's expires_in, in seconds
    # A Clever district's roster served as this tenant (oneroster_from_clever.py): the same people,
    # schools and classes as the Clever sandbox serves for that spec; the counts and gaps above
    # are then unused.
    roster: DistrictSpec | None = None

    def key(self) -> str:
        return self.client_id or f"key-{self.district_id}"

    def secret(self) -> str:
        return self.client_secret or f"sandbox-secret-{self.district_id}-{self.seed}"


def _ref(sid: str, kind: str, tenant: str) -> dict[str, str]:
    return {"href": f"/{tenant}{API_PATH}/{kind}s/{sid}", "sourcedId": sid, "type": kind}


def _pasecureid(seed: int, n: int) -> str:
    return f"{(seed * 7919 + n * 104729) % 9_000_000_000 + 1_000_000_000:010d}"


def generate_tenant(spec: TenantSpec) -> dict[str, list[dict[str, Any]]]:
    """Deterministic OneRoster collections for a tenant. With `gaps`:

    * NCES ids: school 1's is its sourcedId, school 2's its `identifier`, school 3's a metadata
      field `ncesId`, school 4 has none (school.nces_id.missing, so its people are held back);
    * PASECUREID: in varied key case (`PASECUREID`, `pasecureid`, `PaSecureId`); one student
      without it, one with 9 digits, two sharing one;
    * a `tobedeleted` student and class; a teacher without classes; one person with a teacher and an administrator account (one e-mail);
    * ZIP on some students' metadata, the schools' `postalCode` for the rest; graduation year in
      metadata for some, derived from the grade for the rest; a date of birth for every student.
    Every tenant has a counselor shared as an administrator, without classes (staff), unless
    `counselor` is off. Without `district_org`, the tenant shares no org of type district.
    With `habits` (see the module's docstring): next year's school year is published, every
    fourth student has the placeholder e-mail `noemail@...`, a student shares a teacher's e-mail,
    the PA Secure ID key is spelled `PASECUREID`, ` PASecureID ` or `pasecureid`, every fifth
    student carries it only in `userIds` (type `StateID`), school 3 (with gaps) has a 12-digit
    SIS sourcedId beside its metadata `ncesId`, the last student is disabled
    (`enabledUser: "false"`) and the one before `inactive`.
    """
    t, s = spec.district_id, spec.seed
    if spec.roster is not None:
        collections = as_oneroster(spec.roster, t)
        if spec.version == "1.2":
            collections["users"] = _as_v1p2(collections["users"], t)
        return collections
    orgs: list[dict[str, Any]] = []
    district_sid = f"dist-{t}"
    if spec.district_org:
        orgs.append(
            {
                "sourcedId": district_sid,
                "status": "active",
                "name": spec.name,
                "type": "district",
                "identifier": t,
            }
        )
    school_ids: list[str] = []
    for i in range(1, spec.schools + 1):
        nces = f"42{s % 100000:05d}{i:05d}"
        sid = nces if i == 1 else f"sch-{t}-{i}"
        if spec.habits and spec.gaps and i == 3:
            sid = f"{800_000_000_000 + s * 100 + i}"  # a 12-digit SIS number, not the NCES id
        org: dict[str, Any] = {
            "sourcedId": sid,
            "status": "active",
            "name": f"{spec.name} School {i}",
            "type": "school",
            "identifier": f"BLDG-{i}",
            "metadata": {"postalCode": f"{17000 + s % 900 + i:05d}"},
        }
        if spec.district_org:
            org["parent"] = _ref(district_sid, "org", t)
        if not spec.gaps or i == 2:
            org["identifier"] = nces
        elif i == 3:
            org["metadata"]["ncesId"] = nces
        elif i != 1:  # school 4 and beyond: no NCES id at all
            pass
        if not spec.gaps:
            org["identifier"] = nces
        orgs.append(org)
        school_ids.append(sid)
    sessions = [
        {
            "sourcedId": f"sy-{t}",
            "status": "active",
            "title": "2026-2027",
            "type": "schoolYear",
            "startDate": "2026-08-24",
            "endDate": "2027-06-11",
            "schoolYear": "2027",
        },
        {
            "sourcedId": f"fall-{t}",
            "status": "active",
            "title": "Fall 2026",
            "type": "semester",
            "startDate": "2026-08-24",
            "endDate": "2027-01-15",
            "schoolYear": "2027",
        },
    ]
    if spec.habits:  # next year's calendar, published before this one ends
        sessions.append(
            {
                "sourcedId": f"sy-next-{t}",
                "status": "active",
                "title": "2027-2028",
                "type": "schoolYear",
                "startDate": "2027-08-23",
                "endDate": "2028-06-09",
                "schoolYear": "2028",
            }
        )
    courses = [
        {"sourcedId": f"crs-{t}-{c}", "status": "active", "title": title, "courseCode": f"C{c}"}
        for c, title in enumerate(("English 9", "Algebra I", "Biology", "Career Exploration"), 1)
    ]
    users: list[dict[str, Any]] = []
    demographics: list[dict[str, Any]] = []
    enrollments: list[dict[str, Any]] = []
    classes: list[dict[str, Any]] = []
    key_cases = (
        (" PASecureID ", "pasecureid", "PASECUREID")
        if spec.habits
        else ("PASECUREID", "pasecureid", "PaSecureId")
    )
    n = 0
    for si, school in enumerate(school_ids, 1):
        teachers = []
        for ti in range(1, spec.teachers_per_school + 1):
            tid = f"tch-{t}-{si}-{ti}"
            teachers.append(tid)
            users.append(_user(t, tid, "teacher", f"Teacher{si}{ti}", school))
        students = []
        for k in range(1, spec.students_per_school + 1):
            n += 1
            sid = f"stu-{t}-{n}"
            grade = f"{9 + k % 4:02d}"
            metadata: dict[str, Any] = {key_cases[n % 3]: _pasecureid(s, n)}
            if k % 3 == 0:
                metadata["Graduation_Year"] = str(2027 + 12 - int(grade))
            if k % 4 == 0:
                metadata["zip"] = f"{19000 + n:05d}"
            user = _user(t, sid, "student", f"Student{n}", school, grades=[grade], metadata=metadata)
            if spec.habits:
                if k % 4 == 0:  # no address in the SIS: the export's placeholder
                    user["email"] = f"noemail@{t}.sandbox.example"
                if k == 2:  # the family's address, which a teacher of the school uses too
                    user["email"] = f"teacher{si}1@{t}.sandbox.example"
                if k % 5 == 0:  # the id in userIds only
                    state_id = metadata.pop(key_cases[n % 3])
                    user["userIds"] = [{"type": "StateID", "identifier": state_id}]
            users.append(user)
            students.append(sid)
            demographics.append(
                {
                    "sourcedId": sid,
                    "status": "active",
                    "birthDate": f"{2027 - 6 - int(grade)}-0{1 + k % 9}-1{k % 10}",
                    "sex": "female" if k % 2 else "male",
                    "hispanicOrLatinoEthnicity": "false",
                }
            )
        for ci, teacher in enumerate(teachers[:1], 1):  # the second teacher teaches nothing
            cid = f"cls-{t}-{si}-{ci}"
            classes.append(
                {
                    "sourcedId": cid,
                    "status": "active",
                    "title": f"Homeroom {si}-{ci}",
                    "classCode": f"HR{si}{ci}",
                    "classType": "homeroom",
                    "school": _ref(school, "org", t),
                    "course": _ref(f"crs-{t}-{1 + si % 4}", "course", t),
                    "terms": [_ref(f"fall-{t}", "academicSession", t)],
                    "grades": ["09"],
                    "subjects": ["Homeroom"],
                    "periods": [str(ci)],
                }
            )
            enrollments.append(_enrol(t, f"enr-{cid}-t", cid, teacher, "teacher", school, primary=True))
            for sid in students:
                enrollments.append(_enrol(t, f"enr-{cid}-{sid}", cid, sid, "student", school))
        if si == 1 and spec.counselor:  # a counselor, shared as an administrator (staff), teaching nothing
            users.append(_user(t, f"cns-{t}-{si}", "administrator", f"Counselor{si}", school))
    if not spec.state_id_shared:
        for u in users:
            u["metadata"] = {k: v for k, v in u["metadata"].items() if k.strip().lower() != "pasecureid"}
            u.pop("userIds", None)
    if spec.habits:
        stu = [u for u in users if u["role"] == "student"]
        if len(stu) >= 8:
            stu[-1]["enabledUser"] = "false"  # an account switched off
            stu[-2]["status"] = "inactive"
    if spec.gaps:
        by_id = {u["sourcedId"]: u for u in users}
        stu = [u for u in users if u["role"] == "student"]
        stu[0]["metadata"] = {}  # PASECUREID missing
        stu[1]["metadata"] = {"PASECUREID": "123456789"}  # 9 digits
        stu[3]["metadata"] = {"PASECUREID": _pasecureid(s, 4)}
        stu[2]["metadata"] = {"PASECUREID": _pasecureid(s, 4)}  # duplicated
        stu[5]["status"] = "tobedeleted"
        classes.append(
            {**classes[0], "sourcedId": f"cls-{t}-old", "title": "Dropped class", "status": "tobedeleted"}
        )
        # One person, two accounts: the first teacher also has an administrator account.
        first_teacher = by_id[f"tch-{t}-1-1"]
        users.append(
            {
                **_user(t, f"adm-{t}-1", "administrator", "Teacher11", school_ids[0]),
                "email": first_teacher["email"].upper(),
                "username": f"admin.{first_teacher['username']}",
            }
        )
        users.append(_user(t, f"par-{t}-1", "parent", "Parent1", school_ids[0]))
    if spec.numeric_ids:
        _number_ids(users, demographics, enrollments)
    if spec.version == "1.2":
        users = _as_v1p2(users, t)
    return {
        "orgs": orgs,
        "academicSessions": sessions,
        "courses": courses,
        "users": users,
        "demographics": demographics,
        "enrollments": enrollments,
        "classes": classes,
    }


def _as_v1p2(users: list[dict[str, Any]], tenant: str) -> list[dict[str, Any]]:
    """The users as OneRoster 1.2 serves them: a `roles` array (`roleType` primary for the first
    org, secondary for the others), `primaryOrg`, `userMasterIdentifier`, `enabledUser` a
    boolean, no `role` or `orgs`. 1.2 has a counselor role: the counselor is one. The person 1.1
    shares as two accounts (a teacher with an administrator account on one e-mail) is one user
    holding both roles, the administrator one as a site administrator, secondary."""
    second_accounts = {
        u["email"].lower(): u for u in users if str(u["sourcedId"]).startswith(f"adm-{tenant}-")
    }
    out = []
    for user in users:
        if user in second_accounts.values():
            continue
        role = "counselor" if str(user["sourcedId"]).startswith(f"cns-{tenant}-") else user["role"]
        orgs = user["orgs"]
        roles = [
            {"roleType": "primary" if n == 0 else "secondary", "role": role, "org": org}
            for n, org in enumerate(orgs)
        ]
        other = second_accounts.get(str(user.get("email")).lower())
        if other is not None and user["role"] == "teacher":
            roles.append({"roleType": "secondary", "role": "siteAdministrator", "org": other["orgs"][0]})
        converted = {k: v for k, v in user.items() if k not in ("role", "orgs")}
        converted |= {
            "roles": roles,
            "primaryOrg": orgs[0] if orgs else None,
            "userMasterIdentifier": f"M-{user['sourcedId']}",
            "enabledUser": str(user["enabledUser"]).lower() == "true",
            "userProfiles": [],
        }
        out.append(converted)
    return out


def _number_ids(
    users: list[dict[str, Any]], demographics: list[dict[str, Any]], enrollments: list[dict[str, Any]]
) -> None:
    """Users', demographics' and enrollments' sourcedIds as JSON numbers (SIS row ids), references too."""
    numbers = {u["sourcedId"]: 500_000 + n for n, u in enumerate(users, 1)}
    for u in users:
        u["sourcedId"] = numbers[u["sourcedId"]]
    for d in demographics:
        d["sourcedId"] = numbers.get(d["sourcedId"], d["sourcedId"])
    for n, e in enumerate(enrollments, 1):
        e["sourcedId"] = 900_000 + n
        e["user"]["sourcedId"] = numbers.get(e["user"]["sourcedId"], e["user"]["sourcedId"])


def _user(
    tenant: str,
    sid: str,
    role: str,
    given: str,
    school: str,
    *,
    grades: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "sourcedId": sid,
        "status": "active",
        "dateLastModified": "2026-11-01T00:00:00.000Z",
        "enabledUser": "true",
        "role": role,
        "username": f"{given.lower()}.{tenant}",
        "givenName": given,
        "familyName": "Sandbox",
        "middleName": "Q",
        "identifier": sid.upper(),
        "email": f"{given.lower()}@{tenant}.sandbox.example",
        "orgs": [_ref(school, "org", tenant)],
        "grades": grades or [],
        "metadata": metadata or {},
        "password": "not-for-us",
        "phone": "555-0100",
    }


def _enrol(
    tenant: str, sid: str, cls: str, user: str, role: str, school: str, *, primary: bool = False
) -> dict[str, Any]:
    return {
        "sourcedId": sid,
        "status": "active",
        "class": _ref(cls, "class", tenant),
        "user": _ref(user, "user", tenant),
        "school": _ref(school, "org", tenant),
        "role": role,
        "primary": primary,
    }


# -------------------------------------------------------------------------------- faults


@dataclass
class OneRosterFaults:
    """Knobs; each `fail_*` list is consumed one entry per request that matches."""

    max_page: int = 50  # the provider's cap on `limit`
    link_header: bool = True  # send `Link: <next>; rel="next"`
    total_header: bool = True  # send `X-Total-Count`
    statuses: list[int] = field(default_factory=list)  # next answers: 429/500/502/503 (502: HTML)
    retry_after: int | str = 1  # the 429's Retry-After: seconds, or an HTTP date (a string)
    html_ok: int = 0  # next N answers: 200 with an HTML page
    refuse: int | None = None  # 401 or 403 with imsx_StatusInfo, every request
    short_page: str | None = None  # collection whose first page is served short (half)
    off_host_next: bool = False  # Link next to another host
    slow_seconds: float = 0.0  # sleep before answering (a read timeout)
    slow_requests: int = 0
    # Real habits (issue 21): records that change places before every request not sorted by
    # sourcedId (0: a stable order, kinder than OneRoster 1.1 promises).
    drift_swaps: int = 3
    ignore_offset: bool = False  # every request answers the first page (no count, no next link)
    stop_after: int | None = None  # pages end (empty) after this many records; the count says more
    ignore_limit: bool = False  # a page holds the whole collection, whatever `limit` asked
    repeat_first: str | None = None  # collection whose second page repeats the first page's records
    ignore_sort: bool = False  # `sort` is not honoured: the order drifts even when asked for
    next_host: str | None = None  # the Link's scheme://host[:port] as the provider spells it
    # OAuth 2.0 tenants
    token_refused: bool = False  # the token endpoint answers 401 invalid_client
    token_statuses: list[int] = field(default_factory=list)  # next token answers: 429/500/503
    revoke_tokens_after: int | None = None  # a token dies after this many data requests

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


@dataclass(frozen=True)
class OneRosterRequest:
    tenant: str
    collection: str
    query: dict[str, str]
    status: int
    nonce: str | None
    signature_method: str | None


# ------------------------------------------------------------------------------ verifier


class _Validator(RequestValidator):
    """oauthlib's server side, for consumer key + secret only (no token), HMAC-SHA256."""

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__()
        self._secrets = secrets
        self._nonces: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    @property
    def enforce_ssl(self) -> bool:  # loopback http
        return False

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return (SIGNATURE_HMAC_SHA256,)

    @property
    def client_key_length(self) -> tuple[int, int]:
        return 3, 100

    @property
    def nonce_length(self) -> tuple[int, int]:
        return 16, 100

    @property
    def dummy_client(self) -> str:
        return "dummy-client"

    def check_client_key(self, client_key: str) -> bool:
        return 3 <= len(client_key) <= 100

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key in self._secrets

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self._secrets.get(client_key, "dummy-secret")

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: Any = None,
        access_token: Any = None,
    ) -> bool:
        key = (client_key, timestamp, nonce)
        with self._lock:
            if key in self._nonces:
                return False  # a replayed request
            self._nonces.add(key)
        return True


# -------------------------------------------------------------------------------- server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    sandbox: OneRosterSandbox


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._send(*self.server.sandbox._answer(self))

    def do_POST(self) -> None:
        self._send(*self.server.sandbox._token(self))

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _imsx(major: str, description: str) -> bytes:
    return json.dumps(
        {"imsx_codeMajor": major, "imsx_severity": "error", "imsx_description": description}
    ).encode()


class OneRosterSandbox:
    """A OneRoster 1.1 provider for several tenants on one loopback port."""

    def __init__(
        self, tenants: list[TenantSpec] | None = None, faults: OneRosterFaults | None = None
    ) -> None:
        self.specs = {spec.district_id: spec for spec in (tenants or default_tenants())}
        self.data = {d: generate_tenant(spec) for d, spec in self.specs.items()}
        self.faults = faults or OneRosterFaults()
        self.log: list[OneRosterRequest] = []
        self._validator = _Validator({spec.key(): spec.secret() for spec in self.specs.values()})
        self._endpoint = SignatureOnlyEndpoint(self._validator)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._drifts = 0
        # OAuth 2.0: token -> (tenant, expiry on time.monotonic, scopes, data requests made)
        self._tokens: dict[str, list[Any]] = {}
        self.tokens_granted = 0

    # lifecycle ------------------------------------------------------------------------
    def start(self) -> OneRosterSandbox:
        # The sandbox speaks plain http on loopback; oauthlib refuses a token URL that is not
        # https unless told, as its documentation advises for local testing. Only a process that
        # runs a sandbox sets it (Lambda never does), and the tenants' parser accepts http only
        # for loopback addresses.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        server = _Server(("127.0.0.1", 0), _Handler)
        server.sandbox = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="oneroster-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OneRosterSandbox:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("the OneRoster sandbox is not running")
        address = self._server.server_address
        host, port = str(address[0]), int(address[1])
        return f"http://{host}:{port}"

    def base_url(self, district_id: str) -> str:
        return f"{self.origin}/{district_id}{API_PATHS[self.specs[district_id].version]}"

    @property
    def token_url(self) -> str:
        return f"{self.origin}{TOKEN_PATH}"

    def secret_value(self) -> dict[str, Any]:
        """What support would put in the ONEROSTER_SECRET_ID secret for these tenants."""
        tenants = []
        for spec in self.specs.values():
            entry = {
                "district_id": spec.district_id,
                "name": spec.name,
                "base_url": self.base_url(spec.district_id),
                "client_id": spec.key(),
                "client_secret": spec.secret(),
            }
            if spec.auth == "oauth2":
                entry |= {"auth": "oauth2", "token_url": self.token_url}
            tenants.append(entry)
        return {"tenants": tenants}

    # OAuth 2.0 --------------------------------------------------------------------------
    def _token(self, h: _Handler) -> tuple[int, dict[str, str], bytes]:
        """RFC 6749 section 4.4: a client-credentials token for a tenant whose auth is oauth2."""
        json_type = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        length = min(_int(h.headers.get("Content-Length"), 0), 64 * 1024)
        form = dict(parse_qsl(h.rfile.read(length).decode("utf-8", "replace")))
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = h.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(basic[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = secret = ""
        with self._lock:
            self.log.append(OneRosterRequest("", "token", {}, 0, None, "oauth2"))
            status = self.faults.token_statuses.pop(0) if self.faults.token_statuses else None
        if urlsplit(h.path).path != TOKEN_PATH:
            return 404, json_type, json.dumps({"error": "not_found"}).encode()
        if status is not None:
            return status, {"Content-Type": "text/html"}, HTML_ERROR
        spec = next((s for s in self.specs.values() if s.auth == "oauth2" and s.key() == client_id), None)
        if self.faults.token_refused or spec is None or not secrets.compare_digest(secret, spec.secret()):
            return 401, json_type, json.dumps({"error": "invalid_client"}).encode()
        if form.get("grant_type") != "client_credentials":
            return 400, json_type, json.dumps({"error": "unsupported_grant_type"}).encode()
        asked = form.get("scope", "").split()
        if any(scope not in SCOPES for scope in asked):
            return 400, json_type, json.dumps({"error": "invalid_scope"}).encode()
        granted = asked or list(SCOPES)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = [spec.district_id, time.monotonic() + spec.token_lifetime, granted, 0]
            self.tokens_granted += 1
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": spec.token_lifetime,
            "scope": " ".join(granted),
        }
        return 200, json_type, json.dumps(answer).encode()

    def _bearer_problem(self, h: _Handler, spec: TenantSpec, collection: str) -> tuple[int, str] | None:
        """Why a data request's Bearer token does not let it read `collection` (None: it does)."""
        token = h.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        with self._lock:
            held = self._tokens.get(token)
            if held is not None:
                held[3] += 1
            revoke = self.faults.revoke_tokens_after
        if held is None or held[0] != spec.district_id:
            return 401, "Unauthorized: no valid access token"
        if time.monotonic() > held[1] or (revoke is not None and held[3] > revoke):
            return 401, "Unauthorized: the access token expired"
        names = (
            ("roster-demographics", "roster") if collection == "demographics" else ("roster-core", "roster")
        )
        version = API_PATHS[spec.version][-4:]  # a 1.1 scope does not open a 1.2 server, nor the reverse
        if not {_SCOPE.format(version, n) for n in names} & set(held[2]):
            return 403, "Forbidden: the access token lacks the scope for this collection"
        return None

    # answering ------------------------------------------------------------------------
    def _answer(self, h: _Handler) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(h.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        segments = parts.path.strip("/").split("/")
        tenant = segments[0] if segments else ""
        collection = segments[-1] if segments else ""
        status, headers, body = self._respond(h, tenant, collection, parts.path, query)
        auth = h.headers.get("Authorization", "")
        params = dict(p.strip().split("=", 1) for p in auth.removeprefix("OAuth ").split(",") if "=" in p)
        with self._lock:
            self.log.append(
                OneRosterRequest(
                    tenant,
                    collection,
                    query,
                    status,
                    params.get("oauth_nonce", "").strip('"') or None,
                    params.get("oauth_signature_method", "").strip('"') or None,
                )
            )
        return status, headers, body

    def _take_status(self) -> int | None:
        with self._lock:
            return self.faults.statuses.pop(0) if self.faults.statuses else None

    def _respond(
        self, h: _Handler, tenant: str, collection: str, path: str, query: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        json_type = {"Content-Type": "application/json"}
        faults = self.faults
        if faults.slow_requests > 0:
            with self._lock:
                faults.slow_requests -= 1
            time.sleep(faults.slow_seconds)
        spec = self.specs.get(tenant)
        if spec is not None and spec.auth == "oauth2":
            problem = self._bearer_problem(h, spec, collection)
            if problem is not None:
                headers = {**json_type, "WWW-Authenticate": 'Bearer error="invalid_token"'}
                return problem[0], headers, _imsx("failure", problem[1])
        else:
            uri = f"http://{h.headers.get('Host')}{h.path}"
            valid, _ = self._endpoint.validate_request(
                uri, http_method="GET", headers=dict(h.headers.items())
            )
            if not valid or spec is None or not self._signed_by(h, spec):
                return 401, json_type, _imsx("failure", "Unauthorized: the request signature is not valid")
        if faults.refuse is not None:
            return faults.refuse, json_type, _imsx("failure", "Access denied for this application key")
        status = self._take_status()
        if status == 429:
            return (
                429,
                {**json_type, "Retry-After": str(faults.retry_after)},
                _imsx("failure", "Too many requests"),
            )
        if status == 502:
            return 502, {"Content-Type": "text/html"}, HTML_ERROR
        if status is not None:
            return status, json_type, _imsx("failure", "server error")
        if faults.html_ok > 0:
            with self._lock:
                faults.html_ok -= 1
            return 200, {"Content-Type": "text/html"}, HTML_ERROR
        if path != f"/{tenant}{API_PATHS[spec.version]}/{collection}" or collection not in COLLECTIONS:
            return 404, json_type, _imsx("failure", "Unknown object")
        if collection == "demographics" and not spec.demographics_shared:
            return 403, json_type, _imsx("failure", "Unauthorized: demographics are not shared with this app")
        records = self._ordered(tenant, collection, query)
        limit = min(_int(query.get("limit"), 100), faults.max_page)
        offset = 0 if faults.ignore_offset else _int(query.get("offset"), 0)
        size = len(records) if faults.ignore_limit else limit
        if faults.short_page == collection and offset == 0:
            size = max(1, limit // 2)
        start = offset
        if faults.repeat_first == collection and 0 < offset <= size:
            start = 0  # the second page answers the first page's records again
        page = records[start : start + size]
        if faults.stop_after is not None and offset >= faults.stop_after:
            page = []
        headers = dict(json_type)
        if faults.total_header and not faults.ignore_offset:
            headers["X-Total-Count"] = str(len(records))
        following = offset + len(page)
        if faults.link_header and following < len(records) and page and not faults.ignore_offset:
            host = faults.next_host or f"http://{h.headers.get('Host')}"
            host = "http://127.0.0.2:9" if faults.off_host_next else host
            nxt = urlencode({**query, "limit": limit, "offset": following})
            headers["Link"] = f'<{host}{path}?{nxt}>; rel="next"'
        return 200, headers, json.dumps({collection: page}).encode()

    def _ordered(self, tenant: str, collection: str, query: dict[str, str]) -> list[dict[str, Any]]:
        """The collection in the order this request sees: by sourcedId when asked (`sort=sourcedId`,
        `orderBy` asc or desc), else the stored order after `drift_swaps` records changed places,
        as a database without an ORDER BY may answer each query differently."""
        with self._lock:
            records = self.data[tenant][collection]
            if query.get("sort") == "sourcedId" and not self.faults.ignore_sort:
                ordered = sorted(records, key=lambda r: str(r["sourcedId"]))
                return ordered[::-1] if query.get("orderBy") == "desc" else ordered
            self._drifts += 1
            rng = random.Random(f"{tenant}/{collection}/{self._drifts}")  # noqa: S311 (not security)
            for _ in range(self.faults.drift_swaps if len(records) > 1 else 0):
                i, j = rng.randrange(len(records)), rng.randrange(len(records))
                records[i], records[j] = records[j], records[i]
            return list(records)

    def _signed_by(self, h: _Handler, spec: TenantSpec) -> bool:
        """The request is signed with this tenant's key (a key of another tenant is refused)."""
        return f'oauth_consumer_key="{spec.key()}"' in h.headers.get("Authorization", "")


def _int(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default


def default_tenants() -> list[TenantSpec]:
    """The demo's ClassLink districts (district ids as support would choose them: 7-digit LEA ids):
    one with every seeded gap, one that shares no district org (its users' ids are numbers), one
    that has not enabled PASECUREID or demographics for the app and shares no counselor. All keep
    the providers' habits. Together with the Clever districts they fire every rule."""
    return [
        TenantSpec(district_id="4299999", name="Keystone Valley SD (ClassLink)", seed=7),
        TenantSpec(
            district_id="4299998",
            name="Lackawanna Ridge SD (ClassLink, no district org)",
            seed=8,
            schools=1,
            students_per_school=5,
            gaps=False,
            district_org=False,
            numeric_ids=True,
        ),
        TenantSpec(
            district_id="4299997",
            name="Juniata Hills SD (ClassLink, PASECUREID off)",
            seed=9,
            schools=1,
            students_per_school=5,
            gaps=False,
            state_id_shared=False,
            demographics_shared=False,
            counselor=False,
        ),
    ]


def fetch_normalized(sandbox: OneRosterSandbox) -> dict[str, list[Any]]:
    """district id -> its records, fetched over HTTP with the real OneRoster client, minimized
    and normalized as the pipeline does (tests and tools; the pipeline stores pages in between)."""
    out: dict[str, list[Any]] = {}
    for entry in sandbox.secret_value()["tenants"]:
        client = OneRosterClient(OneRosterTenant(**entry))
        client._session.trust_env = False  # loopback only, never a proxy
        try:
            pages = {r.value: [rec for page in client.pages(r) for rec in page.records] for r in Resource}
        finally:
            client.close()

        def read(resource: str, pages: dict[str, list[dict[str, Any]]] = pages) -> Iterator[dict[str, Any]]:
            return iter(pages[resource])

        out[entry["district_id"]] = list(
            normalize_district(SOURCE_NAME, list(pages), read, entry["district_id"])
        )
    return out

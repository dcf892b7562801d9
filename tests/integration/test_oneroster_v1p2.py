"""OneRoster 1.2 (`/ims/oneroster/rostering/v1p2`, users with a `roles` array) beside 1.1, over
OAuth 1.0a and OAuth 2.0, against the sandbox over HTTP (issue 24).

The same generated roster served three ways normalizes to the same records and the same rules;
the only difference is how 1.1 and 1.2 say one person holds two roles (1.1: a second account
on the same e-mail, joined; 1.2: a secondary role on one account)."""

from __future__ import annotations

from typing import Any

import pytest

from rostersync.errors import OneRosterKeyRefused
from rostersync.records import PersonRecord, SourceNote, SourceRole
from rostersync.sources.oneroster.client import V1P1_SCOPES, V1P2_SCOPES, OneRosterClient
from rostersync.sources.oneroster.normalize import ACCOUNTS_JOINED, minimize, normalize_district
from rostersync.sources.oneroster.resources import Resource
from rostersync.sources.oneroster.source import parse_tenants
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec, fetch_normalized

SIGNED_1P1 = TenantSpec("4266601", "Keystone SD", seed=7)
BEARER_1P1 = TenantSpec("4266602", "Keystone SD", seed=7, auth="oauth2")
BEARER_1P2 = TenantSpec("4266603", "Keystone SD", seed=7, auth="oauth2", version="1.2")


def _canonical(records: list[Any], district_id: str) -> set[str]:
    return {repr(r).replace(district_id, "D") for r in records}


def test_the_same_roster_over_1_1_and_1_2_and_both_authentications_gives_the_same_records() -> None:
    with OneRosterSandbox([SIGNED_1P1, BEARER_1P1, BEARER_1P2]) as box:
        served = fetch_normalized(box)
        assert {e.collection for e in box.log if e.tenant == BEARER_1P2.district_id} >= {"users", "orgs"}
    signed, bearer, v1p2 = (
        _canonical(served[s.district_id], s.district_id) for s in (SIGNED_1P1, BEARER_1P1, BEARER_1P2)
    )
    assert signed == bearer  # the authentication changes nothing
    only_1p1, only_1p2 = signed - v1p2, v1p2 - signed
    # 1.1: the teacher's second (administrator) account, joined into the teacher, and its notes.
    assert len(only_1p1) == 3 and all("adm-D-1" in r or "tch-D-1-1" in r for r in only_1p1)
    # 1.2: one account holding a secondary role, reported under the same rule.
    (note,) = only_1p2
    assert f"rule='{ACCOUNTS_JOINED}'" in note and "also holds the role(s) administrator" in note


def test_a_1_2_tenant_asks_1_2_scopes_and_a_1_1_scope_does_not_open_a_1_2_server() -> None:
    with OneRosterSandbox([BEARER_1P2]) as box:
        entry = box.secret_value()["tenants"][0]
        (tenant,) = parse_tenants({"tenants": [entry]})
        assert tenant.version == "1.2"
        reader = OneRosterClient(tenant, sleep=lambda _: None)
        reader._session.trust_env = False
        assert [r for p in reader.pages(Resource.ORGS) for r in p.records]
        (granted,) = [held[2] for held in box._tokens.values()]
        assert granted == list(V1P2_SCOPES)
        (wrong,) = parse_tenants({"tenants": [{**entry, "scope": " ".join(V1P1_SCOPES)}]})
        reader = OneRosterClient(wrong, sleep=lambda _: None)
        reader._session.trust_env = False
        with pytest.raises(OneRosterKeyRefused):
            list(reader.pages(Resource.ORGS))


@pytest.mark.parametrize(
    ("base_url", "version", "problem"),
    [
        ("https://sis.example.org/ims/oneroster/rostering/v1p2", None, None),
        ("https://sis.example.org/ims/oneroster/rostering/v1p2", "1.2", None),
        ("https://sis.example.org/ims/oneroster/rostering/v1p2", "1.1", "version is not 1.2"),
        ("https://sis.example.org/ims/oneroster/v1p2", None, "base_url lacks the OneRoster path"),
    ],
)
def test_the_version_comes_from_the_base_url_path(
    base_url: str, version: str | None, problem: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    entry: dict[str, Any] = {
        "district_id": "4266609",
        "name": "X",
        "base_url": base_url,
        "client_id": "id",
        "client_secret": "s",
    }
    if version is not None:
        entry["version"] = version
    tenants = parse_tenants({"tenants": [entry]})
    if problem is None:
        assert [t.version for t in tenants] == ["1.2"]
    else:
        assert tenants == [] and problem in caplog.text


# ------------------------------------------------------------------------- 1.2 users, unit


def _org(sid: str) -> dict[str, str]:
    return {"href": f"/orgs/{sid}", "sourcedId": sid, "type": "org"}


def _user(sid: str, roles: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "sourcedId": sid,
        "status": "active",
        "enabledUser": True,
        "givenName": "G",
        "familyName": "F",
        "email": f"{sid}@example.org",
        "roles": roles,
        "primaryOrg": extra.pop("primaryOrg", None),
        **extra,
    }


def _role(role: str, org: str, kind: str = "primary") -> dict[str, Any]:
    return {"roleType": kind, "role": role, "org": _org(org)}


def test_the_primary_role_decides_and_its_orgs_are_the_primary_org_and_that_role_s() -> None:
    user = _user(
        "u1",
        [
            _role("parent", "sch9", "secondary"),
            _role("teacher", "sch1"),
            _role("Teacher", "sch2", "secondary"),
        ],
        primaryOrg=_org("sch1"),
    )
    kept = minimize(Resource.USERS, user)
    assert kept is not None
    assert kept["role"] == "teacher" and kept["orgs"] == ["sch1", "sch2"] and "otherRoles" not in kept


def test_a_primary_role_not_served_gives_way_to_the_first_served_one_and_unserved_users_are_dropped() -> None:
    parent_who_teaches = _user("u2", [_role("parent", "sch1"), _role("teacher", "sch2", "secondary")])
    kept = minimize(Resource.USERS, parent_who_teaches)
    assert kept is not None and kept["role"] == "teacher" and kept["orgs"] == ["sch2"]
    for role in ("parent", "guardian", "aide", "proctor", "relative", "systemAdministrator"):
        assert minimize(Resource.USERS, _user("u3", [_role(role, "sch1")])) is None


@pytest.mark.parametrize(
    "role", ["counselor", "principal", "siteAdministrator", "districtAdministrator", "administrator"]
)
def test_1_2_s_administrative_roles_are_served_as_1_1_s_administrator(role: str) -> None:
    kept = minimize(Resource.USERS, _user("u4", [_role(role, "sch1")]))
    assert kept is not None and kept["role"] == "administrator"


def test_a_roles_array_a_district_made_huge_is_read_only_so_far() -> None:
    roles = [_role("parent", f"o{n}", "secondary") for n in range(10_000)] + [
        _role("teacher", "sch1", "secondary")
    ]
    assert minimize(Resource.USERS, _user("u5", roles)) is None  # the teacher role lies past the bound


def _district(users: list[dict[str, Any]]) -> list[Any]:
    orgs = [
        {"sourcedId": "dist", "status": "active", "type": "district", "name": "D"},
        {
            "sourcedId": "sch1",
            "status": "active",
            "type": "school",
            "name": "S",
            "identifier": "420000000001",
        },
    ]
    stored = {
        Resource.ORGS.value: [minimize(Resource.ORGS, o) for o in orgs],
        Resource.USERS.value: [m for m in (minimize(Resource.USERS, u) for u in users) if m is not None],
    }
    return list(normalize_district(lambda r: iter(stored.get(str(r), [])), "4266609"))


def test_user_master_identifier_joins_adult_accounts_never_students() -> None:
    records = _district(
        [
            _user("t1", [_role("teacher", "sch1")], userMasterIdentifier="M-7"),
            _user("a1", [_role("principal", "sch1")], userMasterIdentifier="M-7"),
            _user("s1", [_role("student", "sch1")], userMasterIdentifier="M-9"),
            _user("s2", [_role("student", "sch1")], userMasterIdentifier="M-9"),
        ]
    )
    people = [r for r in records if isinstance(r, PersonRecord)]
    assert sorted({p.id for p in people if p.role is not SourceRole.STUDENT}) == ["t1"]
    assert sorted(p.id for p in people if p.role is SourceRole.STUDENT) == ["s1", "s2"]
    joined = [n for n in records if isinstance(n, SourceNote) and n.rule == ACCOUNTS_JOINED]
    assert len(joined) == 1 and "userMasterIdentifier" in joined[0].message


def test_a_district_administrator_at_the_district_org_is_a_district_admin() -> None:
    records = _district([_user("da", [_role("districtAdministrator", "dist")], primaryOrg=_org("dist"))])
    (person,) = [r for r in records if isinstance(r, PersonRecord)]
    assert person.role is SourceRole.DISTRICT_ADMIN

"""Support's tenant commands (issue 24, Build 4) against Secrets Manager (the moto server):
`rostersync tenant add|show|remove` write, read and remove one district's tenant secret; `add`
checks the tenant with the night's own rule before writing; the client secret comes from a file
or stdin and is never printed. `rostersync districts` shows each district's provider, version
and authentication."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from rostersync.adapters import secrets_manager
from rostersync.settings import get_settings
from rostersync.sources import PROFILES
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.main import main
from rostersync_cli.nightly import LocalNight
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from rostersync_cli.tenants import connections
from tests.integration.alert_inbox import AlertInbox

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SECRET = "cl13nt-s3cr3t-never-printed"
BASE = "https://campus.example.org/ims/oneroster/rostering/v1p2"


def _add(*extra: str) -> list[str]:
    return ["tenant", "add", "--district", "4218990", "--client-id", "sf-app", *extra]


def _value(name: str) -> dict[str, object]:
    return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])


def test_add_show_replace_and_remove_a_tenant(
    aws_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"{get_settings().oneroster_tenant_secret_prefix}4218990"
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    args = _add(
        "--base-url", BASE, "--auth", "oauth2", "--token-url", "https://campus.example.org/oauth2/token"
    )
    assert main([*args, "--provider", "Infinite Campus", "--name", "Penn Forest SD"]) == 0
    out = capsys.readouterr().out
    assert f"written to {name}" in out and "provider:      Infinite Campus" in out
    assert "OneRoster:     1.2" in out and "OAuth 2.0 (client credentials)" in out
    assert SECRET not in out and "(set; never shown)" in out
    stored = _value(name)
    assert stored["client_secret"] == SECRET and stored["provider"] == "Infinite Campus"
    tags = boto3.client("secretsmanager").describe_secret(SecretId=name)["Tags"]
    assert {"Key": "provider", "Value": "Infinite Campus"} in tags  # discovery names it from the listing

    # Rotation: the same command replaces it, the secret read from a file.
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("rotated-secret\n", encoding="utf-8")
    assert (
        main(
            [
                *_add("--base-url", BASE.replace("rostering/v1p2", "v1p1")),
                "--client-secret-file",
                str(secret_file),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert _value(name)["client_secret"] == "rotated-secret" and "auth" not in _value(name)

    assert main(["tenant", "show", "--district", "4218990"]) == 0
    shown = capsys.readouterr().out
    assert (
        f"its own secret {name}" in shown and "OAuth 1.0a (signed)" in shown and "OneRoster:     1.1" in shown
    )
    assert "rotated-secret" not in shown and "provider:      ClassLink" in shown

    assert main(["tenant", "remove", "--district", "4218990"]) == 0
    assert "scheduled for deletion" in capsys.readouterr().out
    assert main(["tenant", "show", "--district", "4218990"]) == 1
    assert "no OneRoster tenant lists district 4218990" in capsys.readouterr().err
    # Added again while its deletion is pending: restored and replaced.
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET))
    assert main(_add("--base-url", BASE)) == 0
    assert _value(name)["base_url"] == BASE


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--base-url", "https://campus.example.org"], "base_url lacks the OneRoster path"),
        (["--base-url", "http://campus.example.org/ims/oneroster/v1p1"], "base_url is not an https URL"),
        (["--base-url", BASE, "--auth", "oauth2"], "auth is oauth2 but token_url is not an https URL"),
        (["--base-url", BASE, "--version", "1.1"], "version is not 1.2"),
        (["--base-url", BASE, "--provider", "Campus<script>"], "provider is not a name"),
    ],
)
def test_add_refuses_a_tenant_the_night_would_refuse_naming_the_field(
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    problem: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET))
    assert main(_add(*args)) == 2
    captured = capsys.readouterr()
    assert problem in captured.err and "district 4218990" in captured.err
    assert SECRET not in captured.err + captured.out
    name = f"{get_settings().oneroster_tenant_secret_prefix}4218990"
    with pytest.raises(boto3.client("secretsmanager").exceptions.ResourceNotFoundException):
        boto3.client("secretsmanager").describe_secret(SecretId=name)  # nothing written


def test_the_client_secret_is_never_an_argument_and_an_empty_one_is_refused(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*_add("--base-url", BASE), "--client-secret", SECRET])
    err = capsys.readouterr().err
    assert "never a command-line argument" in err and SECRET not in err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(_add("--base-url", BASE)) == 2
    assert "stdin holds no client secret" in capsys.readouterr().err


def test_districts_shows_each_districts_provider_version_and_authentication(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET))
    assert (
        main(
            [
                *_add("--base-url", BASE, "--auth", "oauth2"),
                "--token-url",
                "https://c.example.org/t",
                "--provider",
                "Aeries",
            ]
        )
        == 0
    )
    document = {
        "tenants": [
            {
                "district_id": "4218991",
                "name": "Doc SD",
                "base_url": BASE.replace("rostering/v1p2", "v1p1"),
                "client_id": "k",
                "client_secret": SECRET,
            },
            {
                "district_id": "4218992",
                "base_url": "https://x.example.org",
                "client_id": "k",
                "client_secret": SECRET,
            },
        ]
    }
    boto3.client("secretsmanager").create_secret(
        Name=get_settings().oneroster_secret_id, SecretString=json.dumps(document)
    )
    got = connections(
        {
            "0123456789abcdef01234567": "clever",
            "4218990": "oneroster:Aeries",
            "4218991": "oneroster",
            "4218992": "oneroster",
            "4218993": "oneroster",
        }
    )
    assert got == {
        "0123456789abcdef01234567": ("Clever", "v3.0", "OAuth bearer (district token)"),
        "4218990": ("Aeries", "OneRoster 1.2", "OAuth 2.0 (client credentials)"),
        "4218991": ("ClassLink", "OneRoster 1.1", "OAuth 1.0a (signed)"),
        "4218992": ("ClassLink", "?", "tenant not usable"),
        "4218993": ("ClassLink", "-", "no tenant"),
    }


def test_discovery_lists_300_tenant_secrets_over_several_pages_and_reads_none(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The night's discovery through the real adapter: ListSecrets answers at most 100 names a
    page; every page is read, a name without a usable district id is left out, and no value is
    read until a district's own fetch asks for it."""
    settings = get_settings()
    prefix = settings.oneroster_tenant_secret_prefix
    client = boto3.client("secretsmanager")
    entry = {"base_url": BASE, "client_id": "k", "client_secret": SECRET}
    for n in range(300):
        tags = [{"Key": "provider", "Value": "Aeries"}] if n == 7 else []
        client.create_secret(Name=f"{prefix}42{n:05d}", SecretString=json.dumps(entry), Tags=tags)
    client.create_secret(Name=f"{prefix}not an id", SecretString=json.dumps(entry))
    client.create_secret(Name=f"{prefix}4299999", SecretString="{}")
    client.delete_secret(SecretId=f"{prefix}4299999", RecoveryWindowInDays=7)  # removed: not listed
    reads: list[str] = []
    real_read = secrets_manager.secret_json
    pages: list[int] = []
    real_paginate = secrets_manager.boto3.client

    def counting_client(*args: object, **kwargs: object) -> object:
        made = real_paginate(*args, **kwargs)  # type: ignore[call-overload]
        made.meta.events.register("after-call.secrets-manager.ListSecrets", lambda **_: pages.append(1))
        return made

    monkeypatch.setattr(secrets_manager.boto3, "client", counting_client)
    source = PROFILES["oneroster"].build(
        settings, lambda i, label: reads.append(i) or real_read(i, label), secrets_manager.secret_names
    )
    assert source is not None
    ids = source.district_ids()
    assert ids == [f"42{n:05d}" for n in range(300)] and len(pages) >= 3
    assert reads == [settings.oneroster_secret_id]  # the document only
    assert source.source_of("4200007") == "oneroster:Aeries" and source.source_of("4200008") == "oneroster"
    reader = source.district("4200123")
    assert reader is not None and reads[-1] == f"{prefix}4200123"
    source.close()


def test_a_night_syncs_a_tenant_added_by_the_command_and_fails_each_malformed_tenant_alone(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the state machine: a 1.2 tenant over OAuth 2.0 added with `tenant add` (provider
    Aeries) syncs beside a document tenant; a malformed tenant secret and a malformed document
    entry each fail their own district, with one `sync_failed` each naming it and the rule."""
    good, doc, bad_secret, bad_entry = (
        TenantSpec(
            "4277801",
            "Aeries SD",
            seed=51,
            schools=1,
            students_per_school=3,
            gaps=False,
            auth="oauth2",
            version="1.2",
        ),
        TenantSpec("4277802", "Document SD", seed=52, schools=1, students_per_school=3, gaps=False),
        TenantSpec("4277803", "Bad Secret SD", seed=53, schools=1, students_per_school=3, gaps=False),
        TenantSpec("4277804", "Bad Entry SD", seed=54, schools=1, students_per_school=3, gaps=False),
    )
    clever_spec = DistrictSpec("Elk Clever SD", seed=9301, schools=1, students=2, teachers=1, sections=1)
    with (
        CleverSandbox(SandboxConfig(districts=(clever_spec,))) as clever,
        OneRosterSandbox([good, doc, bad_secret, bad_entry]) as oneroster,
    ):
        monkeypatch.setenv("CLEVER_API_BASE", clever.api_base)
        monkeypatch.setenv("CLEVER_OAUTH_BASE", clever.oauth_base)
        get_settings.cache_clear()
        entries = {e["district_id"]: e for e in oneroster.secret_value()["tenants"]}
        entries[bad_entry.district_id]["token_url"] = "not a url"
        entries[bad_entry.district_id]["auth"] = "oauth2"
        resources = provision(
            clever_credentials={"client_id": clever.client_id, "client_secret": clever.client_secret},
            oneroster_tenants={"tenants": [entries[doc.district_id], entries[bad_entry.district_id]]},
        )
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        entry = entries[good.district_id]
        monkeypatch.setattr("sys.stdin", io.StringIO(entry["client_secret"]))
        command = ["tenant", "add", "--district", good.district_id, "--base-url", entry["base_url"]]
        command += ["--client-id", entry["client_id"], "--auth", "oauth2", "--token-url", entry["token_url"]]
        assert main([*command, "--provider", "Aeries", "--name", good.name]) == 0
        broken = {k: v for k, v in entries[bad_secret.district_id].items() if k != "base_url"}
        prefix = get_settings().oneroster_tenant_secret_prefix
        boto3.client("secretsmanager").create_secret(
            Name=f"{prefix}{bad_secret.district_id}", SecretString=json.dumps(broken)
        )
        parameters.clear_caches()
        inbox = AlertInbox(get_settings().alert_topic_arn)
        night = LocalNight(LocalFunctions()).run()

        assert sorted(d for d, r in night.districts.items() if r.failed) == [
            bad_secret.district_id,
            bad_entry.district_id,
        ]
        for synced in (good, doc):
            assert night.districts[synced.district_id].stages["import"]["status"] == "succeeded"
        assert night.districts[good.district_id].fetch["source"] == "oneroster:Aeries"
        failed = {a.district_id: a.body for a in inbox.receive() if a.event_type == "sync_failed"}
        assert sorted(failed) == [bad_secret.district_id, bad_entry.district_id]
        assert "lacks base_url" in failed[bad_secret.district_id]
        assert f"tenant secret {prefix}{bad_secret.district_id}" in failed[bad_secret.district_id]
        assert "token_url is not an https URL" in failed[bad_entry.district_id]
        assert "OneRoster tenants secret" in failed[bad_entry.district_id]
        for body in failed.values():
            assert "settings_invalid" in body and "sandbox-secret-" not in body
        capsys.readouterr()
        assert main(["districts"]) == 0
        out = capsys.readouterr().out
        assert "Aeries" in out and "OneRoster 1.2" in out and "OAuth 2.0 (client credentials)" in out

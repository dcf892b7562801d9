"""template.yaml is what the cloud and the local stack are built from: check what both rely on."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rostersync_cli.template import (
    DEFAULT_TEMPLATE,
    REPO_ROOT,
    FunctionSpec,
    TemplateError,
    functions,
    load_handler,
    load_template,
    loads_template,
    resolve,
    resolve_environment,
)

EXPECTED_FUNCTIONS = {
    "FetchFunction": ("functions/fetch", "fetch.handler.lambda_handler"),
    "ValidateFunction": ("functions/validate", "validate.handler.lambda_handler"),
    "ImportFunction": ("functions/importer", "importer.handler.lambda_handler"),
    "ReportLinkFunction": ("functions/report_link", "report_link.handler.lambda_handler"),
}
PIPELINE_FUNCTIONS = ("FetchFunction", "ValidateFunction", "ImportFunction")
REQUIRED_ENV = {
    "ROSTER_TABLE",
    "RAW_BUCKET",
    "ALERT_TOPIC_ARN",
    "CLEVER_SECRET_ID",
    "CLEVER_API_BASE",
    "CLEVER_OAUTH_BASE",
}
LOCAL_NAMES = {
    "RawBucket": "rostersync-raw",
    "RosterTable": "rostersync-roster",
    "AlertTopic": "arn:aws:sns:us-east-1:123456789012:rostersync-alerts",
    "CleverSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rostersync/dev/clever-AbCdEf",
    "ReportLinkKeySecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rostersync/dev/report-link-key-AbCdEf",
    "OneRosterSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rostersync/dev/oneroster-AbCdEf",
    "ReportLinkFunctionUrl.FunctionUrl": "https://abcdef.lambda-url.us-east-1.on.aws/",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def specs(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    return functions(template)


def test_default_template_is_the_repository_one() -> None:
    assert DEFAULT_TEMPLATE == REPO_ROOT / "template.yaml"
    assert DEFAULT_TEMPLATE.is_file()


def test_template_loads_with_short_tags_as_long_forms(template: dict[str, Any]) -> None:
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["RAW_BUCKET"] == {"Ref": "RawBucket"}
    assert template["Conditions"]["HasAlertEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]
    }


def test_loader_understands_every_short_tag() -> None:
    loaded = loads_template(
        textwrap.dedent(
            """
            A: !Ref X
            B: !Sub "${X}-y"
            C: !GetAtt T.Arn
            D: !If [Cond, 1, 2]
            E: !Equals [a, b]
            F: !Select [0, !Split [",", "a,b"]]
            G: !Join ["-", [a, !Ref X]]
            H: !Condition Cond
            I: !GetAZs ""
            J: !FindInMap [M, k, v]
            K: !ImportValue other
            L: !Base64 text
            M: !Sub ["${a}", {a: !Ref X}]
            N: 2010-09-09
            """
        )
    )
    assert loaded == {
        "A": {"Ref": "X"},
        "B": {"Fn::Sub": "${X}-y"},
        "C": {"Fn::GetAtt": ["T", "Arn"]},
        "D": {"Fn::If": ["Cond", 1, 2]},
        "E": {"Fn::Equals": ["a", "b"]},
        "F": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
        "G": {"Fn::Join": ["-", ["a", {"Ref": "X"}]]},
        "H": {"Condition": "Cond"},
        "I": {"Fn::GetAZs": ""},
        "J": {"Fn::FindInMap": ["M", "k", "v"]},
        "K": {"Fn::ImportValue": "other"},
        "L": {"Fn::Base64": "text"},
        "M": {"Fn::Sub": ["${a}", {"a": {"Ref": "X"}}]},
        "N": "2010-09-09",
    }


def test_logical_ids_are_the_agreed_ones(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    expected_types = {
        "RawBucket": "AWS::S3::Bucket",
        "RosterTable": "AWS::DynamoDB::Table",
        "AlertTopic": "AWS::SNS::Topic",
        "CleverSecret": "AWS::SecretsManager::Secret",
        "RosterSyncLayer": "AWS::Serverless::LayerVersion",
        "FetchFunction": "AWS::Serverless::Function",
        "ValidateFunction": "AWS::Serverless::Function",
        "ImportFunction": "AWS::Serverless::Function",
        "ReportLinkFunction": "AWS::Serverless::Function",
        "ReportLinkKeySecret": "AWS::SecretsManager::Secret",
    }
    assert {k: resources[k]["Type"] for k in expected_types} == expected_types


def test_functions_code_and_handlers(specs: dict[str, FunctionSpec]) -> None:
    assert set(specs) == set(EXPECTED_FUNCTIONS)
    for logical_id, (code_uri, handler) in EXPECTED_FUNCTIONS.items():
        spec = specs[logical_id]
        assert spec.code_uri == REPO_ROOT / code_uri
        assert spec.handler == handler
        assert spec.code_uri.is_dir()
        package = spec.module_path.parent
        assert (package / "__init__.py").is_file(), f"{logical_id}: {package}/__init__.py missing"
        # A missing handler.py fails here (it used to skip this check silently).
        assert spec.module_path.is_file(), f"{logical_id}: {spec.module_path} missing"
        tree = ast.parse(spec.module_path.read_text(encoding="utf-8"))
        defined = {
            node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        } | {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        assert spec.function_name in defined, f"{spec.module_path} defines no {spec.function_name}"


def test_runtime_and_globals_everywhere(specs: dict[str, FunctionSpec]) -> None:
    for spec in specs.values():
        assert spec.runtime == "python3.13"
        assert spec.architectures == ["arm64"]
        if spec.logical_id in PIPELINE_FUNCTIONS:
            assert spec.timeout == 900
            assert spec.memory == 1024
        else:  # the report-link function answers a click: small and quick
            assert spec.timeout is not None and spec.timeout <= 30
        assert spec.layers == [{"Ref": "RosterSyncLayer"}]
        assert spec.layer_dirs == [REPO_ROOT / "layers/rostersync"]


def test_layer_builds_with_python313(template: dict[str, Any]) -> None:
    layer = template["Resources"]["RosterSyncLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    content = REPO_ROOT / layer["Properties"]["ContentUri"]
    assert (content / "rostersync" / "__init__.py").is_file()
    requirements = (content / "requirements.txt").read_text(encoding="utf-8")
    pins = [line for line in requirements.splitlines() if line.strip() and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)
    # boto3 and botocore ship in the layer together, at one version, so they cannot mismatch.
    versions = dict(line.split("==") for line in pins)
    assert versions["boto3"] == versions["botocore"]


def test_every_function_gets_the_settings_it_reads(specs: dict[str, FunctionSpec]) -> None:
    for spec in specs.values():
        assert set(spec.environment) >= REQUIRED_ENV
        env = resolve_environment(spec, LOCAL_NAMES)
        assert env["RAW_BUCKET"] == "rostersync-raw"
        assert env["ROSTER_TABLE"] == "rostersync-roster"
        assert env["ALERT_TOPIC_ARN"] == LOCAL_NAMES["AlertTopic"]
        assert env["CLEVER_SECRET_ID"] == LOCAL_NAMES["CleverSecret"]
        assert env["CLEVER_API_BASE"] == "https://api.clever.com"
        assert env["CLEVER_OAUTH_BASE"] == "https://clever.com"
        assert env["STAGE"] == "dev"
        assert env["SAFEGUARD_ARCHIVE_PERCENT"] == "10"
        assert all(isinstance(value, str) for value in env.values())


def test_environment_matches_the_settings_aliases(specs: dict[str, FunctionSpec]) -> None:
    from rostersync.settings import Settings

    aliases = {f.alias for f in Settings.model_fields.values() if f.alias}
    assert aliases >= REQUIRED_ENV
    env = resolve_environment(specs["FetchFunction"], LOCAL_NAMES)
    settings = Settings.model_validate(env)
    assert settings.raw_bucket == "rostersync-raw"
    assert settings.clever_secret_id == LOCAL_NAMES["CleverSecret"]


def test_parameters_in_names_override_defaults(specs: dict[str, FunctionSpec]) -> None:
    env = resolve_environment(specs["ImportFunction"], {**LOCAL_NAMES, "Stage": "prod"})
    assert env["STAGE"] == "prod"


def _bounds(field: Any) -> tuple[float | None, bool, float | None, bool]:
    """(low, low inclusive, high, high inclusive) of a pydantic field's numeric constraints."""
    low: float | None = None
    high: float | None = None
    low_inclusive = high_inclusive = True
    for meta in field.metadata:
        for name in ("ge", "gt", "le", "lt"):
            value = getattr(meta, name, None)
            if value is None:
                continue
            if name in ("ge", "gt"):
                low, low_inclusive = float(value), name == "ge"
            else:
                high, high_inclusive = float(value), name == "le"
    return low, low_inclusive, high, high_inclusive


@pytest.mark.parametrize(
    ("parameter", "setting"),
    [
        ("SafeguardArchivePercent", "safeguard_archive_percent"),
        ("DistrictSyncStaleDays", "district_sync_stale_days"),
    ],
)
def test_a_numeric_parameter_allows_exactly_what_its_setting_accepts(
    template: dict[str, Any], parameter: str, setting: str
) -> None:
    """CloudFormation's MinValue/MaxValue are inclusive: the setting's bounds must be ge/le and the
    same numbers, or a value the stack accepts makes every function fail at its cold start."""
    from rostersync.settings import Settings

    spec = template["Parameters"][parameter]
    low, low_inclusive, high, high_inclusive = _bounds(Settings.model_fields[setting])
    assert (low, low_inclusive) == (float(spec["MinValue"]), True), (parameter, low, low_inclusive)
    assert (high, high_inclusive) == (float(spec["MaxValue"]), True), (parameter, high, high_inclusive)
    assert low <= float(spec["Default"]) <= high


def test_unresolvable_reference_is_an_error(specs: dict[str, FunctionSpec]) -> None:
    names = {k: v for k, v in LOCAL_NAMES.items() if k != "RosterTable"}
    with pytest.raises(TemplateError, match="RosterTable"):
        resolve_environment(specs["FetchFunction"], names)


def test_roster_table_schema(template: dict[str, Any]) -> None:
    table = template["Resources"]["RosterTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "pk": "S",
        "sk": "S",
        "state_id": "S",
    }
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"inverted", "by_state_id"}
    assert indexes["inverted"]["KeySchema"] == [
        {"AttributeName": "sk", "KeyType": "HASH"},
        {"AttributeName": "pk", "KeyType": "RANGE"},
    ]
    assert indexes["by_state_id"]["KeySchema"] == [{"AttributeName": "state_id", "KeyType": "HASH"}]
    # What their reads use (docs/DATA_MODEL.md "Indexes"): keys on `inverted`, the trust flag on
    # `by_state_id`; ALL doubled the write units of every item over 1 KB (a section).
    assert indexes["inverted"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert indexes["by_state_id"]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["state_id_trusted"],
    }
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_raw_bucket_is_locked_down(template: dict[str, Any]) -> None:
    props = template["Resources"]["RawBucket"]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    rules = {r.get("Prefix", ""): r for r in props["LifecycleConfiguration"]["Rules"]}
    # Each prefix's retention: tests/unit/test_night_operations.py.
    assert set(rules) == {
        "raw/",
        "validated/",
        "reports/",
        "changesets/",
        "holds/",
        "state/",
        "roster-index/",
        "",
    }
    # Multipart uploads that died between parts are dropped after a day, under every prefix, by
    # one bucket-wide rule (overlapping rules may not repeat an action).
    assert rules[""]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert [r for r in rules.values() if "AbortIncompleteMultipartUpload" in r] == [rules[""]]
    # The current roster index never expires (the next diff needs it); replaced versions do.
    assert "ExpirationInDays" not in rules["roster-index/"]
    assert rules["roster-index/"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    policy = resolve(
        template,
        template["Resources"]["RawBucketPolicy"]["Properties"],
        {"RawBucket": "b", "RawBucket.Arn": "arn:aws:s3:::b"},
    )
    statement = policy["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]


def test_the_nightly_schedule_starts_the_state_machine(
    template: dict[str, Any], specs: dict[str, FunctionSpec]
) -> None:
    assert not specs["FetchFunction"].events  # the state machine invokes fetch, not the schedule
    events = template["Resources"]["NightlyStateMachine"]["Properties"]["Events"]
    (event,) = events.values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert event["Properties"]["ScheduleExpressionTimezone"] == {"Ref": "ScheduleTimezone"}
    # Named from the stack: SAM's default name is the same in every stack of an account and region.
    assert event["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-nightly"}


def test_report_link_reserved_concurrency_is_a_parameter_off_by_default(template: dict[str, Any]) -> None:
    """Reserving concurrency fails the deploy where the account quota is low (new accounts: 10)."""
    parameter = template["Parameters"]["ReportLinkReservedConcurrency"]
    assert parameter["Default"] == 0 and parameter["MinValue"] == 0
    props = template["Resources"]["ReportLinkFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasReportLinkReservedConcurrency",
            {"Ref": "ReportLinkReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    condition = {"Fn::If": ["HasReportLinkReservedConcurrency", "on", "off"]}
    assert resolve(template, condition, {}) == "off"
    assert resolve(template, condition, {"ReportLinkReservedConcurrency": 5}) == "on"
    assert "ReservedConcurrentExecutions" not in template["Globals"]["Function"]


def test_policies_are_scoped_to_named_resources(specs: dict[str, FunctionSpec]) -> None:
    def policy_names(spec: FunctionSpec) -> set[str]:
        return {next(iter(p)) for p in spec.policies if isinstance(p, dict)}

    assert all(isinstance(p, dict) for spec in specs.values() for p in spec.policies)

    def secrets(spec: FunctionSpec) -> set[str]:
        return {
            p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Ref"]
            for p in spec.policies
            if "AWSSecretsManagerGetSecretValuePolicy" in p
        }

    assert secrets(specs["FetchFunction"]) == {"CleverSecret", "OneRosterSecret"}
    assert secrets(specs["ValidateFunction"]) == {"ReportLinkKeySecret"}  # signs report links
    assert secrets(specs["ImportFunction"]) == set()
    assert secrets(specs["ReportLinkFunction"]) == {"ReportLinkKeySecret"}
    for logical_id in PIPELINE_FUNCTIONS:
        # S3 and DynamoDB as inline statements, prefix by prefix (test_template_wiring.py).
        assert {"Statement", "SNSPublishMessagePolicy"} <= policy_names(specs[logical_id])
        assert not {"S3CrudPolicy", "DynamoDBCrudPolicy"} & policy_names(specs[logical_id])
    # The public report-link function reads report.html files and its key, nothing else.
    assert policy_names(specs["ReportLinkFunction"]) == {"AWSSecretsManagerGetSecretValuePolicy", "Statement"}


def test_secret_has_no_value_in_the_template(template: dict[str, Any]) -> None:
    props = template["Resources"]["CleverSecret"]["Properties"]
    assert "SecretString" not in props
    assert resolve(template, props["Name"], {}) == "rostersync/dev/clever"


def test_alert_subscription_only_with_an_address(template: dict[str, Any]) -> None:
    subscription = template["Resources"]["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert resolve(template, {"Fn::If": ["HasAlertEmail", "yes", "no"]}, {}) == "no"
    with_email = resolve(template, {"Fn::If": ["HasAlertEmail", "yes", "no"]}, {"AlertEmail": "a@b.org"})
    assert with_email == "yes"


def test_load_handler_imports_like_sam_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    module_names = ("tmpfn_pkg", "tmpfn_pkg.handler", "tmplayer_shared")
    for name in module_names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    (tmp_path / "fn" / "tmpfn_pkg").mkdir(parents=True)
    (tmp_path / "fn" / "tmpfn_pkg" / "__init__.py").write_text("")
    (tmp_path / "fn" / "tmpfn_pkg" / "handler.py").write_text(
        "from tmplayer_shared import VALUE\n\ndef lambda_handler(event, context):\n    return VALUE + event\n"
    )
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "tmplayer_shared.py").write_text("VALUE = 'layer:'\n")
    template = loads_template(
        textwrap.dedent(
            """
            Globals:
              Function:
                Runtime: python3.13
                Layers: [!Ref Shared]
            Resources:
              Shared:
                Type: AWS::Serverless::LayerVersion
                Properties: {ContentUri: layer}
              Fn:
                Type: AWS::Serverless::Function
                Properties: {CodeUri: fn, Handler: tmpfn_pkg.handler.lambda_handler, Timeout: 3}
            """
        )
    )
    spec = functions(template, base_dir=tmp_path)["Fn"]
    assert spec.timeout == 3
    assert spec.layer_dirs == [(tmp_path / "layer").resolve()]
    handler = load_handler(spec)
    assert handler("event", None) == "layer:event"
    assert sys.path[0] == str(spec.code_uri)
    for name in module_names:
        sys.modules.pop(name, None)

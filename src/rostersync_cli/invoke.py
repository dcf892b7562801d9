"""`rostersync invoke <LogicalId> --event FILE`: one function of template.yaml, in process, with the
environment the template gives it. What `sam local invoke` does, without Docker.

The template's `!Ref`s to the bucket, table, topic and secret resolve to the resources the
current environment names (RAW_BUCKET, ROSTER_TABLE, ALERT_TOPIC_ARN, CLEVER_SECRET_ID: what
`rostersync provision` created); the Clever endpoints follow CLEVER_API_BASE / CLEVER_OAUTH_BASE;
other parameters take the template's defaults unless overridden (`--parameter-overrides`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from rostersync.settings import Settings, get_settings
from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.provision import (
    BUCKET_ID,
    ONEROSTER_SECRET,
    SECRET_ID,
    TABLE_ID,
    TOPIC_ID,
    report_link_names,
)
from rostersync_cli.template import (
    FunctionSpec,
    TemplateError,
    functions,
    load_handler,
    load_template,
    resolve_environment,
)

# Template parameters whose value locally comes from the environment rather than their default.
PARAMETERS_FROM_SETTINGS = {
    "CleverApiBase": "clever_api_base",
    "CleverOauthBase": "clever_oauth_base",
    "OneRosterTenantSecretPrefix": "oneroster_tenant_secret_prefix",
}


def names_from_settings(
    settings: Settings, region: str | None = None, account: str = "123456789012"
) -> dict[str, str]:
    """What `!Ref` / `!GetAtt` give for the template's resources, from the names in the environment."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    topic = settings.alert_topic_arn
    names = {
        BUCKET_ID: settings.raw_bucket,
        f"{BUCKET_ID}.Arn": f"arn:aws:s3:::{settings.raw_bucket}",
        TABLE_ID: settings.roster_table,
        f"{TABLE_ID}.Arn": f"arn:aws:dynamodb:{region}:{account}:table/{settings.roster_table}",
        TOPIC_ID: topic,
        f"{TOPIC_ID}.TopicArn": topic,
        f"{TOPIC_ID}.TopicName": topic.rsplit(":", 1)[-1],
        SECRET_ID: settings.clever_secret_id,
        f"{SECRET_ID}.Id": settings.clever_secret_id,
        ONEROSTER_SECRET: settings.oneroster_secret_id,
    }
    names |= report_link_names(settings)
    for parameter, field in PARAMETERS_FROM_SETTINGS.items():
        names[parameter] = str(getattr(settings, field))
    return names


def function_environment(
    spec: FunctionSpec, settings: Settings | None = None, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    names = {**names_from_settings(settings or get_settings()), **(overrides or {})}
    return resolve_environment(spec, names)


@contextlib.contextmanager
def applied(environment: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `environment` on top (and fresh Settings) for the duration; restored after."""
    saved = dict(os.environ)
    os.environ.update(environment)
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def invoke(
    logical_id: str,
    event: Any,
    *,
    overrides: Mapping[str, str] | None = None,
    template: Mapping[str, Any] | None = None,
) -> Any:
    """Run one function's handler with its template environment; its logs go to stderr."""
    specs = functions(template if template is not None else load_template())
    if logical_id not in specs:
        raise TemplateError(
            f"template.yaml has no function {logical_id!r} (it has: {', '.join(sorted(specs))})"
        )
    spec = specs[logical_id]
    environment = function_environment(spec, overrides=overrides)
    context = LocalLambdaContext(
        function_name=logical_id,
        memory_limit_in_mb=int(spec.memory or 1024),
        timeout_seconds=int(spec.timeout or 900),
    )
    # Logs (Powertools writes to stdout) go to stderr, so stdout carries only the result, as with sam.
    with applied(environment), contextlib.redirect_stdout(sys.stderr), _logs_to_stderr():
        handler = load_handler(spec)
        return handler(event, context)


@contextlib.contextmanager
def _logs_to_stderr() -> Iterator[None]:
    """Loggers created before the redirect (the Powertools Logger) hold stdout itself: move them."""
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    for name in ("rostersync", "", *logging.Logger.manager.loggerDict):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.__stdout__, sys.stdout):
                moved.append((handler, handler.setStream(sys.stderr)))
    try:
        yield
    finally:
        for handler, stream in reversed(moved):
            handler.setStream(stream)

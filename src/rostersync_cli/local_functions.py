"""The template's functions, in process: their handlers called with the events AWS would deliver.

Handlers are loaded from template.yaml (CodeUri + Handler), as `sam local invoke` does, and
called with a local Lambda context, in the current environment: whatever endpoints it names
(the embedded moto server and the sandbox for the demo and the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.template import FunctionSpec, functions, load_handler, load_template

Handler = Callable[[dict[str, Any], Any], Any]
# The functions the nightly state machine invokes.
PIPELINE_FUNCTIONS = ("FetchFunction", "ValidateFunction", "ImportFunction")


def local_function_arn(logical_id: str, region: str = "us-east-1", account: str = "123456789012") -> str:
    """The ARN a function of the template has locally (what `!GetAtt <LogicalId>.Arn` gives)."""
    return f"arn:aws:lambda:{region}:{account}:function:rostersync-{logical_id}"


class LocalFunctions:
    """Calls the template's functions' handlers in process.

    `wrap(logical_id, wrapper)` puts a wrapper around a function's handler from now on (a
    test's fault injection): `wrapper(handler)` returns the new `(event, context) -> result`.
    """

    def __init__(self, template: Mapping[str, Any] | None = None) -> None:
        self.specs: dict[str, FunctionSpec] = functions(template if template is not None else load_template())
        self._handlers: dict[str, Handler] = {}

    def handler(self, logical_id: str) -> Handler:
        if logical_id not in self._handlers:
            self._handlers[logical_id] = load_handler(self.specs[logical_id])
        return self._handlers[logical_id]

    def wrap(self, logical_id: str, wrapper: Callable[[Handler], Handler]) -> None:
        self._handlers[logical_id] = wrapper(self.handler(logical_id))

    def context(self, logical_id: str) -> LocalLambdaContext:
        spec = self.specs[logical_id]
        return LocalLambdaContext(
            function_name=f"rostersync-{logical_id}",
            memory_limit_in_mb=int(spec.memory or 1024),
            timeout_seconds=int(spec.timeout or 900),
        )

    def invoke(self, logical_id: str, event: dict[str, Any], context: Any | None = None) -> Any:
        """Call the function's handler; `context` replaces the LocalLambdaContext (e.g. a test's,
        whose remaining time it controls)."""
        return self.handler(logical_id)(event, context if context is not None else self.context(logical_id))

    def by_arn(self, region: str = "us-east-1") -> dict[str, Callable[[dict[str, Any]], Any]]:
        """The pipeline's functions by their local ARN, each taking the event (a fresh context per call)."""

        def caller(logical_id: str) -> Callable[[dict[str, Any]], Any]:
            return lambda event: self.invoke(logical_id, event)

        return {
            local_function_arn(logical_id, region): caller(logical_id) for logical_id in PIPELINE_FUNCTIONS
        }

"""Every AWS call made in this process, recorded at botocore's one entry point, with who made it.

Every boto3 client call goes through `botocore.client.BaseClient._make_api_call` (s3transfer's
uploads and downloads included); a presigned URL goes through `botocore.signers.
generate_presigned_url` and is authorized, when it is used, as the principal that signed it. Both
are wrapped while a `CallRecorder` is open, and each call is charged to a role of the template:

- a call made while a function's handler runs is the function's (its logical id): the handlers
  are wrapped (`LocalFunctions.wrap`), and the local engine runs one handler at a time, so the
  calls of the threads a handler starts (the roster table's batch reads, s3transfer's parts) are
  charged to it too;
- a call of a client the local Step Functions engine made for a service task (`sns:publish`,
  `states:startExecution.sync:2`) is the state machine's (`NightlyStateMachine`), and so is each
  Lambda task's invocation of a function (`lambda:InvokeFunction`, which the engine makes in
  process, without botocore);
- Lambda gives each function processes of its own; here they share one, so what one function
  cached (Powertools' secret cache) would spare another the call it makes in AWS: the caches are
  cleared whenever a different function's handler starts (a warm container keeps its own);
- anything else (a test's setup, the engine client the night runner reads histories with, the
  CLI's operations) is the operator's: it runs with an operator's credentials, which the
  template does not define.

The calls' parameters are kept in memory for the mapping to IAM requests; nothing of them is
printed (`requests.Request.describe` shows actions, resources and condition keys only).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import botocore.signers
from aws_lambda_powertools.utilities import parameters
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from rostersync import wiring
from rostersync_cli.local_functions import PIPELINE_FUNCTIONS, LocalFunctions, local_function_arn
from rostersync_cli.local_states import LocalStepFunctions
from tests.iam.requests import Call

STATE_MACHINE = "NightlyStateMachine"
OPERATOR = "operator"
_PRINCIPAL_ATTRIBUTE = "_iam_replay_principal"

Handler = Callable[..., Any]


class CallRecorder:
    """Records every AWS call in the process while open (use as a context manager)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._running: str | None = None
        self._last_function: str | None = None
        self._restore: list[tuple[Any, str, Any]] = []

    # ------------------------------------------------------------------ attribution

    @contextmanager
    def acting_as(self, principal: str) -> Iterator[None]:
        """Calls made until the block ends are `principal`'s (a handler running)."""
        if self._running is not None and self._running != principal:
            raise RuntimeError(f"{principal} started while {self._running} was running")
        if self._running is None and principal != self._last_function:
            parameters.clear_caches()  # another function: another process in Lambda
            self._last_function = principal
        outer, self._running = self._running, principal
        try:
            yield
        finally:
            self._running = outer

    def _principal(self, client: Any) -> str:
        return getattr(client, _PRINCIPAL_ATTRIBUTE, None) or self._running or OPERATOR

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def functions(self, functions: LocalFunctions) -> RecordedFunctions:
        """`functions`' handlers charged to their functions; invoked by the state machine when
        the night runs them (pass the result to `LocalNight`)."""
        for logical_id in functions.specs:
            functions.wrap(logical_id, self._acting(logical_id))
        return RecordedFunctions(functions, self)

    def _acting(self, logical_id: str) -> Callable[[Handler], Handler]:
        def wrapper(handler: Handler) -> Handler:
            def run(event: Any, context: Any) -> Any:
                with self.acting_as(logical_id):
                    return handler(event, context)

            return run

        return wrapper

    # ------------------------------------------------------------------ the entry points

    def _make_api_call(self, original: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def _make_api_call(client: BaseClient, operation_name: str, api_params: Mapping[str, Any]) -> Any:
            principal = recorder._principal(client)
            service = client.meta.service_model.signing_name
            try:
                response = original(client, operation_name, api_params)
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                recorder.record(Call(principal, service, operation_name, dict(api_params), error=code))
                raise
            arn = response.get("ARN") if service == "secretsmanager" else None
            recorder.record(Call(principal, service, operation_name, dict(api_params), answered_arn=arn))
            return response

        return _make_api_call

    def _generate_presigned_url(self, original: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def generate_presigned_url(
            client: BaseClient, ClientMethod: str, Params: Any = None, *args: Any, **kwargs: Any
        ) -> Any:
            operation = client._PY_TO_OP_NAME[ClientMethod]  # type: ignore[attr-defined]
            service = client.meta.service_model.signing_name
            recorder.record(
                Call(recorder._principal(client), service, operation, dict(Params or {}), presigned=True)
            )
            return original(client, ClientMethod, Params, *args, **kwargs)

        return generate_presigned_url

    def _engine_client(self, original: Callable[..., Any], principal: str) -> Callable[..., Any]:
        def client_for(engine: LocalStepFunctions, *args: Any, **kwargs: Any) -> Any:
            client = original(engine, *args, **kwargs)
            setattr(client, _PRINCIPAL_ATTRIBUTE, principal)
            return client

        return client_for

    def _patch(self, target: Any, name: str, value: Any) -> None:
        self._restore.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def start(self) -> Self:
        self._patch(BaseClient, "_make_api_call", self._make_api_call(BaseClient._make_api_call))
        self._patch(
            botocore.signers,
            "generate_presigned_url",
            self._generate_presigned_url(botocore.signers.generate_presigned_url),
        )
        # The engine's clients for service tasks are the state machine's; the one the night runner
        # reads histories with is the operator's.
        self._patch(
            LocalStepFunctions,
            "_client_for",
            self._engine_client(LocalStepFunctions._client_for, STATE_MACHINE),
        )
        self._patch(LocalStepFunctions, "client", self._engine_client(LocalStepFunctions.client, OPERATOR))
        # Adapters built before now hold clients whose class was made before the presign patch.
        wiring.reset_environment()
        return self

    def stop(self) -> None:
        while self._restore:
            target, name, value = self._restore.pop()
            setattr(target, name, value)
        wiring.reset_environment()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RecordedFunctions:
    """The pipeline's functions by their local ARN, as `LocalNight` takes them: each invocation
    recorded as the state machine's `lambda:InvokeFunction` of the function."""

    def __init__(self, functions: LocalFunctions, recorder: CallRecorder) -> None:
        self.inner = functions
        self.recorder = recorder

    def by_arn(self, region: str = "us-east-1") -> dict[str, Callable[[dict[str, Any]], Any]]:
        callers = self.inner.by_arn(region)

        def invoking(arn: str, caller: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
            def invoke(event: dict[str, Any]) -> Any:
                self.recorder.record(Call(STATE_MACHINE, "lambda", "Invoke", {"FunctionName": arn}))
                return caller(event)

            return invoke

        assert set(callers) == {local_function_arn(f, region) for f in PIPELINE_FUNCTIONS}
        return {arn: invoking(arn, caller) for arn, caller in callers.items()}

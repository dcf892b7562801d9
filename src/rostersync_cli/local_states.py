"""Step Functions on loopback: moto's state machine engine, its Lambda tasks bound to our handlers.

moto executes state machines when its `stepfunctions.execute_state_machine` setting is on, but
it runs a Lambda task by invoking the function in Docker. Here the engine runs in a moto server
of our own on 127.0.0.1 (in this process), and three seams of the engine are bound for as long
as `LocalStepFunctions` is open:

- a `lambda:invoke` task calls the handler bound to the function ARN, in process, and answers
  as Lambda does (`Payload`; `FunctionError` with `errorType` when the handler raises);
- the engine's clients for other service tasks (`sns:publish`, `states:startExecution.sync:2`)
  reach the endpoint in effect: AWS_ENDPOINT_URL (or AWS itself) for SNS (the embedded AWS, or a moto server
  someone else started), this engine for Step Functions;
- moto leaves the Step Functions tasks' requests and results in botocore's camelCase: they take
  AWS's PascalCase member names (`StateMachineArn` in, `ExecutionArn`, `Output` out) here;
- a retrier's wait is multiplied by `retry_wait_scale` (the retries still happen), and
  `on_retry_wait(seconds)` is told the wait the definition asked for (a test's clock: the time
  that passes before the retry, e.g. a lease expiring);
- a handler that raises `LambdaTimedOut` answers as a Lambda killed at its timeout does: the
  task fails with `Sandbox.Timedout` (the error the definition's Import retrier names);
- the engine parses a definition (ANTLR, about a second in pure Python) when a state machine is
  created and again for every execution, the night's and each batch's: the parse tree of each
  definition text is kept for the life of the process and turned into fresh evaluation components
  every time, so an execution shares nothing with another and a definition that does not parse
  is refused exactly as before (a night of the fault suite ran four parses, about 3 s).

Handlers run one at a time: in Lambda each invocation has a process of its own, here they share
one (its environment, Powertools' metric set, boto3's default session). The Map's iterations
still interleave between states as the engine schedules them.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from types import ModuleType, TracebackType
from typing import Any, Self

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
    state_task_service_sfn,
    state_task_service_sns,
)
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.responses import get_backend
from werkzeug.serving import make_server

from rostersync_cli import payload_limit
from rostersync_cli.embedded import remember_moto_modules, silence_moto_logs

Handler = Callable[[dict[str, Any]], Any]
RetryWait = Callable[[float], None]
# The error name Step Functions gives a Lambda task whose function ran out of time.
TIMED_OUT_ERROR = "Sandbox.Timedout"


class LambdaTimedOut(BaseException):
    """The invocation was killed at its timeout. A BaseException, so no `except Exception` cleanup
    in the handler runs (Lambda stops the process); the task fails with `Sandbox.Timedout`."""


# The engine's own clients fail fast: a task's Retry decides what happens next.
_ENGINE_CLIENT_CONFIG = Config(
    parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}, read_timeout=120
)


def _lower_camel_case(params: dict[str, Any], **_: Any) -> None:
    """A task's Parameters (`StateMachineArn`, `Input`) as the API names them (`stateMachineArn`)."""
    for key in [k for k in params if k[:1].isupper()]:
        params[key[0].lower() + key[1:]] = params.pop(key)


def _pascal_case_result(task: Any, response: Any, *args: Any, **kwargs: Any) -> None:
    """A Step Functions task's result as AWS gives it to the state (`ExecutionArn`, `Output`)."""
    if isinstance(response, dict):
        for key in [k for k in response if k[:1].islower()]:
            response[key[0].upper() + key[1:]] = response.pop(key)


_PARSE = AmazonStateLanguageParser.parse
# Definition text -> its ANTLR parse tree. The tree is only read (the preprocessor visits it), so
# one tree serves every execution; the components built from it are new for each.
_PARSE_TREES: dict[str, Any] = {}
_PARSE_TREES_LOCK = threading.Lock()


def _parse_with_cached_tree(definition: str) -> tuple[Any, Any]:
    """`AmazonStateLanguageParser.parse`, lexing and parsing each definition text once."""
    with _PARSE_TREES_LOCK:
        tree = _PARSE_TREES.get(definition)
    if tree is None:
        _, tree = _PARSE(definition)  # raises ASLParserException for a bad definition, uncached
        with _PARSE_TREES_LOCK:
            _PARSE_TREES[definition] = tree
    return Preprocessor().visit(tree), tree


class _ScaledSleep:
    """Stands in for the `time` module inside moto's retrier: tells `on_wait` the wait the
    definition asked for, then sleeps(seconds * scale)."""

    def __init__(self, scale: float, on_wait: RetryWait | None = None) -> None:
        self.scale = scale
        self.on_wait = on_wait

    def sleep(self, seconds: float) -> None:
        if self.on_wait is not None:
            self.on_wait(seconds)
        if seconds * self.scale > 0:
            time.sleep(seconds * self.scale)


# How often a `.sync:2` task looks at its child execution (moto: every 0.5 s, a wait each night's
# batches paid before the night could end); a look is a DescribeExecution call to the engine on
# loopback, so not much more often than this.
_SYNC_CHECK_SECONDS = 0.1
_SERVER_POLL_SECONDS = 0.02


class _QuickStopMotoServer(ThreadedMotoServer):
    """moto's threaded server, its loop looking for a shutdown request every 20 ms instead of
    socketserver's 500 ms: stopping a night's engine took half a second of every night."""

    def _server_entry(self) -> None:  # as moto's, with the shorter poll interval
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=_SERVER_POLL_SECONDS)


class LocalStepFunctions:
    """A Step Functions endpoint on loopback whose Lambda tasks call `handlers` in process.

    `handlers` maps a function ARN to a callable taking the event. Use as a context manager; one
    at a time per process (the seams are moto's module globals).
    """

    _open = threading.Lock()

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        *,
        retry_wait_scale: float = 1.0,
        on_retry_wait: RetryWait | None = None,
    ) -> None:
        self._handlers = dict(handlers)
        self._retry_wait_scale = retry_wait_scale
        self._on_retry_wait = on_retry_wait
        self._server = _QuickStopMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._one_handler_at_a_time = threading.Lock()
        self._restore: list[tuple[ModuleType | type | dict[str, Any], str, Any]] = []
        self.endpoint_url = ""
        self._holding = False
        self._clients: dict[tuple[str, str, str], BaseClient] = {}
        self._clients_lock = threading.Lock()

    def bind(self, function_arn: str, handler: Handler) -> None:
        self._handlers[function_arn] = handler

    def client(self) -> Any:
        """A Step Functions client of this engine."""
        return boto3.client("stepfunctions", endpoint_url=self.endpoint_url, config=_ENGINE_CLIENT_CONFIG)

    def wait(self, execution_arn: str, *, poll_seconds: float = 0.01) -> None:
        """Until the execution has ended, watching moto's backend in this process: no API call per
        look, so a long night costs nothing to wait for (what it costs to run is the handlers')."""
        _, _, _, region, account, *_ = execution_arn.split(":")
        backend = get_backend(account, region)
        while True:
            status = getattr(backend.describe_execution(execution_arn), "exec_status", None)
            if status is not None and getattr(status, "value", status) != "RUNNING":
                return
            time.sleep(poll_seconds)

    # ------------------------------------------------------------------ the seams

    def _invoke_lambda(
        self, parameters: dict[str, Any], region: str, state_credentials: Any
    ) -> dict[str, Any]:
        handler = self._handlers.get(parameters["FunctionName"])
        if handler is None:
            raise KeyError(f"no handler bound to {parameters['FunctionName']}")
        payload = parameters.get("Payload")
        event = json.loads(payload) if payload else {}
        with self._one_handler_at_a_time:
            try:
                result = handler(event)
            except LambdaTimedOut as exc:  # Lambda stopped it: no stack trace, the timeout's error
                timed_out: dict[str, Any] = {"errorType": TIMED_OUT_ERROR, "errorMessage": str(exc)}
                return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": timed_out}
            except Exception as exc:  # Lambda reports an unhandled error; the state's Retry/Catch decide
                error = {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc),
                }
                return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": error}
        # As Lambda does: the result goes through JSON.
        return {"StatusCode": 200, "Payload": json.loads(json.dumps(result, default=str))}

    def _client_for(self, region: str, service: str, state_credentials: Any = None) -> BaseClient:
        """The engine's client for a service task; one per service, region and endpoint for the
        engine's life (a client costs milliseconds to build and is safe to share between threads)."""
        endpoint = self.endpoint_url if service == "stepfunctions" else os.environ.get("AWS_ENDPOINT_URL")
        key = (service, region, endpoint or "")
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                client = boto3.client(  # type: ignore[call-overload]  # service is a runtime name
                    service, region_name=region, endpoint_url=endpoint or None, config=_ENGINE_CLIENT_CONFIG
                )
                if service == "stepfunctions":
                    client.meta.events.register("before-parameter-build.stepfunctions", _lower_camel_case)
                self._clients[key] = client
        return client

    def _patch(self, target: ModuleType | type | dict[str, Any], name: str, value: Any) -> None:
        if isinstance(target, dict):
            self._restore.append((target, name, target[name]))
            target[name] = value
        else:  # as the class or module holds it (a staticmethod stays one when restored)
            self._restore.append((target, name, inspect.getattr_static(target, name)))
            setattr(target, name, value)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if not self._open.acquire(blocking=False):
            raise RuntimeError("a LocalStepFunctions is already open in this process")
        self._holding = True
        try:
            silence_moto_logs()
            remember_moto_modules()
            # The engine logs every error a state raises, caught or not: the history has them.
            logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
            self._patch(default_user_config["stepfunctions"], "execute_state_machine", True)  # type: ignore[arg-type]
            self._patch(lambda_eval_utils, "_invoke_lambda_function", self._invoke_lambda)
            self._patch(AmazonStateLanguageParser, "parse", staticmethod(_parse_with_cached_tree))
            self._patch(
                state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", _SYNC_CHECK_SECONDS
            )
            self._patch(retrier_decl, "time", _ScaledSleep(self._retry_wait_scale, self._on_retry_wait))
            for module in (state_task_service_sns, state_task_service_sfn):
                self._patch(module, "boto_client_for", self._client_for)
            self._patch(
                state_task_service_sfn.StateTaskServiceSfn, "_normalise_response", _pascal_case_result
            )
            for target, name, value in payload_limit.patches():  # 256 KB, as AWS enforces it
                self._patch(target, name, value)
            self._server.start()
            port = self._server._server.server_port  # type: ignore[union-attr]
            self.endpoint_url = f"http://127.0.0.1:{port}"
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.endpoint_url:
            self._server.stop()
            self.endpoint_url = ""
        while self._restore:
            target, name, value = self._restore.pop()
            if isinstance(target, dict):
                target[name] = value
            else:
                setattr(target, name, value)
        if self._holding:
            self._holding = False
            self._open.release()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""Step Functions' payload limit in the local runner, enforced as AWS enforces it.

AWS (Step Functions developer guide, "Service quotas" and "Handling errors"):

- a task's result, a state's input after `Parameters` and a state's output hold at most 256 KiB,
  262,144 bytes of UTF-8 JSON (the execution history's `input`/`output` fields: "Maximum length
  of 262144"); past that the state fails with `States.DataLimitExceeded`;
- `States.DataLimitExceeded` is a terminal error: `States.ALL` does not match it, in a Catch
  (documented) nor in a Retry. Only a catcher or retrier naming `States.DataLimitExceeded` itself
  handles it. Uncaught inside a Map iteration, it fails the Map, so the whole batch execution
  (every district in it) fails, which is why no district's text may grow a payload.

moto's engine checks the size too, but with `<` (262,144 bytes refused), measuring its own
spaced JSON, and lets `States.ALL` catch the error: a district whose payload is too large would
fail alone locally and take its whole batch down on AWS. `patches()` gives the seams
`LocalStepFunctions` binds so that the engine does what AWS does: the size as compact UTF-8 JSON,
262,144 bytes allowed, and `States.ALL` blind to the error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state import state
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service
from moto.stepfunctions.parser.asl.eval.environment import Environment

MAX_PAYLOAD_BYTES = 256 * 1024  # inclusive: AWS allows exactly 262,144 bytes
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"

_DATA_LIMIT = StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded)

Patch = tuple[Any, str, Any]


def payload_bytes(value: Any) -> int:
    """The size Step Functions counts: the value as compact JSON, in UTF-8 bytes (a string is
    counted as it is, as moto's engine passes serialized payloads)."""
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    )
    return len(text.encode("utf-8", errors="surrogatepass"))


def within_limit(value: Any) -> bool:
    return payload_bytes(value) <= MAX_PAYLOAD_BYTES


def _states_all_misses_the_data_limit(
    original: Callable[[ErrorEqualsDecl, Environment], None],
) -> Callable[[ErrorEqualsDecl, Environment], None]:
    """ErrorEqualsDecl's evaluation, except that `States.ALL` does not match
    `States.DataLimitExceeded` (a catcher or retrier naming it still does)."""

    def eval_body(self: ErrorEqualsDecl, env: Environment) -> None:
        error_name = env.stack[-1]
        original(self, env)
        if error_name == _DATA_LIMIT and _DATA_LIMIT not in self.error_names:
            env.stack[-1] = False

    return eval_body


def patches() -> list[Patch]:
    """(module or class, attribute, value) for each seam; the caller binds and restores them."""
    return [
        (state, "is_within_size_quota", within_limit),
        (state_task_service, "is_within_size_quota", within_limit),
        (state_task_lambda, "is_within_size_quota", within_limit),
        (ErrorEqualsDecl, "_eval_body", _states_all_misses_the_data_limit(ErrorEqualsDecl._eval_body)),
    ]


__all__ = ["DATA_LIMIT_EXCEEDED", "MAX_PAYLOAD_BYTES", "patches", "payload_bytes", "within_limit"]

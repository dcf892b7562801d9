"""Recorded calls against the roles' policies: the denials, in words a reader can act on."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.iam.evaluate import Request, evaluate
from tests.iam.recorder import OPERATOR
from tests.iam.requests import Call, Stack, requests_for

# A PA Secure ID is student data: a key that carries one is shown without it.
_STATE_ID_KEY = re.compile(r"(STATEID#)[^,\]\s]+")


@dataclass(frozen=True)
class Denial:
    principal: str
    operation: str  # the API call, e.g. s3.GetObject
    request: Request
    reason: str

    def __str__(self) -> str:
        text = f"{self.principal}: {self.request.describe()} [{self.operation}] is denied: {self.reason}"
        return _STATE_ID_KEY.sub(r"\1…", text)


def checked_calls(calls: Iterable[Call]) -> list[Call]:
    """The calls a role of the template makes (the operator's are not the template's to grant)."""
    return [c for c in calls if c.principal != OPERATOR]


def denials(
    calls: Iterable[Call], policies: Mapping[str, Sequence[Mapping[str, Any]]], stack: Stack
) -> list[Denial]:
    """Every request of every role's call that its policies do not allow (once each)."""
    out: dict[str, Denial] = {}
    for call in checked_calls(calls):
        statements = policies.get(call.principal)
        if statements is None:
            raise KeyError(f"{call.principal} made a call but the template has no such role")
        for request in requests_for(call, stack):
            decision = evaluate(statements, request)
            if not decision.allowed:
                denial = Denial(call.principal, f"{call.service}.{call.operation}", request, decision.reason)
                out.setdefault(str(denial), denial)
    return list(out.values())


def report(found: Sequence[Denial]) -> str:
    return f"{len(found)} call(s) the template's roles do not allow:\n" + "\n".join(f"  {d}" for d in found)

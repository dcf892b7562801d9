"""IAM's policy evaluation for one identity: is this request allowed by these statements?

What IAM does for a principal in its own account with identity policies only (no permissions
boundary, SCP, session policy or resource policy): an explicit Deny in a matching statement wins;
otherwise a matching Allow allows; otherwise the request is denied (implicitly). A statement
matches when its Action (or NotAction) matches the action, its Resource (or NotResource) matches
the resource, and every condition holds.

- Actions match case-insensitively, with `*` and `?` wildcards (`kms:GenerateDataKey*`);
  resources case-sensitively, with the same wildcards (`arn:aws:s3:::bucket/raw/*`).
- Conditions: every operator in a block must hold (AND), every key in an operator (AND), any of
  a key's values (OR). Operators: String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,
  Like,NotLike}, Arn{Equals,Like,NotEquals,NotLike}, Numeric*, Bool, Null, each with the
  `IfExists` suffix (a missing key passes) and the `ForAllValues:`/`ForAnyValue:` set prefixes
  for multivalued keys (`dynamodb:LeadingKeys`, `dynamodb:Attributes`). As in IAM, a missing key
  fails a positive operator, passes a negated one (`StringNotEquals`), passes `ForAllValues:`
  and fails `ForAnyValue:`.
- An operator this module does not know raises: a condition is never silently taken as true.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ContextValue = str | Sequence[str]


class PolicyError(ValueError):
    """A statement this evaluator cannot read (an unknown operator, a missing Effect)."""


@dataclass(frozen=True)
class Request:
    """One authorization request: an action on a resource, with its condition keys."""

    action: str  # service:Action, e.g. s3:GetObject
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def describe(self) -> str:
        keys = ", ".join(f"{k}={_short(v)}" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" ({keys})" if keys else "")


def _short(value: ContextValue) -> str:
    if isinstance(value, str):
        return value
    values = sorted(set(value))
    return "[" + ", ".join(values[:6]) + (f", ... {len(values) - 6} more" if len(values) > 6 else "") + "]"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # "allowed by <sid>", "explicitly denied by <sid>", "no statement allows it"


# ------------------------------------------------------------------------------- wildcards


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` (any run of characters, `/` included) and `?` (one character)."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------------------ conditions

_OPERATOR = re.compile(r"^(?:(ForAllValues|ForAnyValue):)?([A-Za-z]+?)(IfExists)?$")


def _string_test(base: str) -> tuple[bool, Any]:
    """(negated, test(policy value, context value) -> bool) for an operator's base name."""
    tests: dict[str, tuple[bool, Any]] = {
        "StringEquals": (False, lambda p, c: p == c),
        "StringNotEquals": (True, lambda p, c: p == c),
        "StringEqualsIgnoreCase": (False, lambda p, c: p.lower() == c.lower()),
        "StringNotEqualsIgnoreCase": (True, lambda p, c: p.lower() == c.lower()),
        "StringLike": (False, wildcard_match),
        "StringNotLike": (True, wildcard_match),
        "ArnEquals": (False, lambda p, c: p == c),
        "ArnNotEquals": (True, lambda p, c: p == c),
        "ArnLike": (False, wildcard_match),
        "ArnNotLike": (True, wildcard_match),
        "Bool": (False, lambda p, c: str(p).lower() == str(c).lower()),
        "NumericEquals": (False, lambda p, c: float(c) == float(p)),
        "NumericNotEquals": (True, lambda p, c: float(c) == float(p)),
        "NumericLessThan": (False, lambda p, c: float(c) < float(p)),
        "NumericLessThanEquals": (False, lambda p, c: float(c) <= float(p)),
        "NumericGreaterThan": (False, lambda p, c: float(c) > float(p)),
        "NumericGreaterThanEquals": (False, lambda p, c: float(c) >= float(p)),
    }
    if base not in tests:
        raise PolicyError(f"condition operator {base!r} is not one this evaluator knows")
    return tests[base]


def _condition_holds(
    operator: str, key: str, policy_values: Any, context: Mapping[str, ContextValue]
) -> bool:
    match = _OPERATOR.match(operator)
    if not match:
        raise PolicyError(f"condition operator {operator!r} is not one this evaluator knows")
    qualifier, base, if_exists = match.groups()
    wanted = [str(v) for v in _listed(policy_values)]
    present = key in context
    if base == "Null":
        if qualifier or if_exists:
            raise PolicyError(f"{operator}: Null takes no set prefix and no IfExists")
        missing = not present or (not isinstance(context[key], str) and not context[key])
        return any((w.lower() == "true") == missing for w in wanted)
    negated, test = _string_test(base)
    raw = context.get(key)
    values: list[str] = [] if raw is None else [raw] if isinstance(raw, str) else list(raw)
    if qualifier == "ForAllValues":
        # Every value in the request matches one of the policy's (true for no values at all).
        if negated:
            return all(not any(test(w, v) for w in wanted) for v in values)
        return all(any(test(w, v) for w in wanted) for v in values)
    if qualifier == "ForAnyValue":
        if negated:
            return any(not any(test(w, v) for w in wanted) for v in values)
        return any(any(test(w, v) for w in wanted) for v in values)
    if not present:
        return bool(if_exists) or negated
    if negated:
        return not any(test(w, v) for w in wanted for v in values)
    return any(test(w, v) for w in wanted for v in values)


def conditions_hold(
    block: Mapping[str, Mapping[str, Any]] | None, context: Mapping[str, ContextValue]
) -> bool:
    for operator, keys in (block or {}).items():
        for key, values in keys.items():
            if not _condition_holds(operator, key, values, context):
                return False
    return True


# -------------------------------------------------------------------------------- statements


def _matches_any(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    return any(wildcard_match(str(p), value, ignore_case=ignore_case) for p in _listed(patterns))


def statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not _matches_any(statement["Action"], request.action, ignore_case=True):
            return False
    elif "NotAction" in statement:
        if _matches_any(statement["NotAction"], request.action, ignore_case=True):
            return False
    else:
        raise PolicyError(f"statement {statement.get('Sid', '')!r} has neither Action nor NotAction")
    if "Resource" in statement:
        if not _matches_any(statement["Resource"], request.resource, ignore_case=False):
            return False
    elif "NotResource" in statement:
        if _matches_any(statement["NotResource"], request.resource, ignore_case=False):
            return False
    else:
        raise PolicyError(f"statement {statement.get('Sid', '')!r} has neither Resource nor NotResource")
    return conditions_hold(statement.get("Condition"), request.context)


def _label(statement: Mapping[str, Any], index: int) -> str:
    return str(statement.get("Sid") or f"statement {index + 1}")


def evaluate(statements: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """IAM's decision for `request` under these identity-policy statements."""
    allowed_by: str | None = None
    for index, statement in enumerate(statements):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{_label(statement, index)}: Effect is {effect!r}")
        if not statement_matches(statement, request):
            continue
        if effect == "Deny":
            return Decision(False, f"explicitly denied by {_label(statement, index)}")
        allowed_by = allowed_by or _label(statement, index)
    if allowed_by is not None:
        return Decision(True, f"allowed by {allowed_by}")
    return Decision(False, "no statement allows it")

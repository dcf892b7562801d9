"""Runs the nightly pipeline through the same Lambda handlers, with the events AWS would deliver.

Handlers are loaded from template.yaml (CodeUri + Handler), as `sam local invoke` does, and
called in process with a local Lambda context. Whatever endpoints the environment names are
used: the embedded moto server and sandbox for the demo, real AWS and Clever otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.template import functions, load_handler, load_template

Handler = Callable[[dict[str, Any], Any], Any]
FAILED_STATUSES = frozenset({"failed", "skipped_locked", "skipped_stale"})
MAX_FETCH_CONTINUATIONS = 20  # as statemachine/nightly.asl.json's ContinueFetch? bound


@dataclass
class DistrictOutcome:
    district_id: str
    run_id: str
    fetch: dict[str, Any]
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        if self.fetch.get("status") != "complete":
            return True
        return any(stage.get("status") in FAILED_STATUSES for stage in self.stages.values())


class PipelineRunner:
    """Invokes the template's functions in process, one stage after another, per district."""

    def __init__(self) -> None:
        self._specs = functions(load_template())
        self._handlers: dict[str, Handler] = {}

    def invoke(self, logical_id: str, event: dict[str, Any], context: Any | None = None) -> Any:
        """Call the function's handler; `context` replaces the LocalLambdaContext (e.g. a test's,
        whose remaining time it controls)."""
        spec = self._specs[logical_id]
        if logical_id not in self._handlers:
            self._handlers[logical_id] = load_handler(spec)
        if context is None:
            context = LocalLambdaContext(
                function_name=f"rostersync-{logical_id}",
                memory_limit_in_mb=int(spec.memory or 1024),
                timeout_seconds=int(spec.timeout or 900),
            )
        return self._handlers[logical_id](event, context)

    def _fetch_to_the_end(self, result: dict[str, Any]) -> dict[str, Any]:
        """As the state machine does: a fetch that paused at its deadline continues (bounded)."""
        for _ in range(MAX_FETCH_CONTINUATIONS):
            if result["status"] != "in_progress":
                break
            event = {"district_ids": [result["district_id"]], "run_id": result["run_id"], "resume": True}
            [result] = self.invoke("FetchFunction", event)["districts"]
        return result

    def run(self, district_ids: list[str] | None = None, *, dry_run: bool = False) -> list[DistrictOutcome]:
        """Fetch every (or the named) district; each completed fetch goes to validate, then import."""
        event: dict[str, Any] = {"district_ids": district_ids} if district_ids else {}
        fetched = self.invoke("FetchFunction", event)
        outcomes = []
        for first in fetched["districts"]:
            result = self._fetch_to_the_end(first)
            outcome = DistrictOutcome(
                district_id=result["district_id"], run_id=result["run_id"], fetch=result
            )
            if result["status"] == "complete":
                validated = self.invoke("ValidateFunction", result)
                outcome.stages["validate"] = validated
                if validated["status"] == "validated":
                    outcome.stages["import"] = self.invoke(
                        "ImportFunction", {**validated, "dry_run": dry_run}
                    )
            outcomes.append(outcome)
        return outcomes

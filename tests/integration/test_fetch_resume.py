"""A district fetch that runs out of invocation time continues from its checkpoint in a second
invocation (the fetch handler, loaded from template.yaml, against moto and the Clever sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.contracts.fetch import Checkpoint, Manifest
from rostersync.settings import get_settings
from rostersync.sources.clever.resources import Resource
from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from tests.integration.conftest import connect_pipeline

DISTRICT = DistrictSpec("Resume Test SD", seed=8303, schools=2, students=40, teachers=5, sections=6)
RUN_A = "20261128T070000Z-aaaaaa"
RUN_B = "20261128T070000Z-bbbbbb"


class CountdownContext(LocalLambdaContext):
    """A Lambda context with plenty of time for the first `calls` deadline checks, then 5 s left."""

    def __init__(self, calls: int) -> None:
        super().__init__(function_name="rostersync-FetchFunction")
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:
        self.calls -= 1
        return 600_000 if self.calls >= 0 else 5_000


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(DISTRICT,))) as server:
        yield server


@pytest.fixture
def functions(
    aws_env: dict[str, str], sandbox: CleverSandbox, monkeypatch: pytest.MonkeyPatch
) -> LocalFunctions:
    connect_pipeline(monkeypatch, sandbox, CLEVER_PAGE_LIMIT="7")  # 40 students: 6 pages
    return LocalFunctions()


def _comparable(manifest: Manifest) -> dict[str, Any]:
    data = manifest.model_dump(mode="json", exclude={"run_id", "started_at", "finished_at"})
    for summary in data["resources"].values():
        summary.pop("seconds")
    data["pages"] = [{k: v for k, v in page.items() if k != "key"} for page in data["pages"]]
    return data


def test_a_fetch_out_of_time_pauses_and_a_second_invocation_completes_it(functions: LocalFunctions) -> None:
    store = S3PageStore(get_settings().raw_bucket)
    [one_shot] = functions.invoke("FetchFunction", {"district_ids": [DISTRICT.id], "run_id": RUN_A})[
        "districts"
    ]
    assert one_shot["status"] == "complete" and one_shot["pages"] >= 8

    # The deadline is checked between pages once a page is written: plenty of time for 4 checks.
    first = functions.invoke(
        "FetchFunction", {"district_ids": [DISTRICT.id], "run_id": RUN_B}, CountdownContext(calls=4)
    )
    [paused] = first["districts"]
    assert paused["status"] == "in_progress"
    assert 0 < paused["pages"] < one_shot["pages"]
    assert not store.exists(paused["manifest_key"])
    checkpoint = Checkpoint.model_validate(store.get_json(paused["checkpoint_key"]))
    assert len(checkpoint.pages) == paused["pages"] and checkpoint.invocations == 1

    second = functions.invoke(
        "FetchFunction", {"district_ids": [DISTRICT.id], "run_id": RUN_B, "resume": True}
    )
    [done] = second["districts"]

    assert done["status"] == "complete" and done["invocations"] == 2
    for field in ("records", "pages", "counts", "requests"):
        assert done[field] == one_shot[field], field
    resumed = Manifest.model_validate(store.get_json(done["manifest_key"]))
    baseline = Manifest.model_validate(store.get_json(one_shot["manifest_key"]))
    assert _comparable(resumed) == _comparable(baseline)
    assert resumed.record_count(Resource.STUDENTS) == DISTRICT.students
    keys = set(store.keys(f"raw/{DISTRICT.id}/{RUN_B}/"))
    assert keys == {p.key for p in resumed.pages} | {done["manifest_key"], paused["checkpoint_key"]}


def test_resume_needs_the_run_and_district_it_continues(functions: LocalFunctions) -> None:
    with pytest.raises(Exception, match="resume"):
        functions.invoke("FetchFunction", {"resume": True, "district_ids": [DISTRICT.id]})

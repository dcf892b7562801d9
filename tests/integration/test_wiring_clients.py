"""The wiring builds each adapter, and the AWS client inside it, once per environment.

Counted where every boto3 client is made (botocore's `Session.create_client`), through the
handlers loaded from template.yaml, against the moto server and the Clever sandbox. Before this
was so, one import invocation made three S3 clients and a DynamoDB client, and every further
invocation as many again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.session import Session

from rostersync import operations, wiring
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig

DISTRICT = DistrictSpec.small("Clients Counted SD", 9611)
OTHER = DistrictSpec.small("Clients Counted Too SD", 9612)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(DISTRICT, OTHER))) as server:
        yield server


class ClientsMade:
    """Every boto3 client made while it is open, by service."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: Counter[str] = Counter()
        original = Session.create_client

        def counted(session: Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
            self.made[service_name] += 1
            return original(session, service_name, *args, **kwargs)

        monkeypatch.setattr(Session, "create_client", counted)

    def during(self, call: Any, *args: Any) -> tuple[Any, Counter[str]]:
        before = Counter(self.made)
        result = call(*args)
        return result, self.made - before


def _validated(functions: LocalFunctions, district_id: str) -> dict[str, Any]:
    """The import's event as the state machine builds it: the validated run, with the district's
    source and name from its fetch result."""
    fetched = functions.invoke("FetchFunction", {"district_ids": [district_id]})
    [district] = fetched["districts"]
    assert district["status"] == "complete", district
    validated: dict[str, Any] = functions.invoke("ValidateFunction", district)
    assert validated["status"] == "validated", validated
    return {
        "district_id": district_id,
        "run_id": validated["run_id"],
        "source": district["source"],
        "district_name": district.get("district_name"),
    }


def test_an_import_builds_one_client_per_service_and_a_warm_one_builds_none(
    functions: LocalFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _validated(functions, DISTRICT.id), _validated(functions, OTHER.id)
    clients = ClientsMade(monkeypatch)
    wiring.reset_environment()  # a cold start: nothing built yet

    imported, cold = clients.during(functions.invoke, "ImportFunction", first)
    assert imported["status"] == "succeeded"
    # The page store (validate's results, the hold store, support's status) shares one S3 client.
    assert cold["s3"] == 1 and cold["dynamodb"] == 1 and cold["sns"] <= 1, cold

    imported, warm = clients.during(functions.invoke, "ImportFunction", second)
    assert imported["status"] == "succeeded"
    assert warm == Counter(), f"a warm container reuses its clients, yet made {warm}"

    # The CLI's operations run on the same adapters.
    runs, operated = clients.during(operations.run_status)
    assert {r.district_id for r in runs} == {DISTRICT.id, OTHER.id}
    assert operated == Counter()


def test_a_night_builds_each_client_once_for_every_handler(
    functions: LocalFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = ClientsMade(monkeypatch)
    wiring.reset_environment()

    night = LocalNight(functions).run([DISTRICT.id, OTHER.id])  # the state machine, every handler
    for district_id in (DISTRICT.id, OTHER.id):
        assert night.districts[district_id].stages["import"]["status"] == "succeeded"

    # One S3 and one DynamoDB client for every handler and two districts (before: ten and four);
    # SNS only if an alert went out. Secrets Manager's and X-Ray's are Powertools' own (one each
    # per process, whatever the wiring does).
    assert clients.made["s3"] == 1 and clients.made["dynamodb"] == 1, clients.made
    assert clients.made["sns"] <= 1 and clients.made["secretsmanager"] <= 1, clients.made


def test_a_new_environment_gets_new_adapters_and_the_old_table_stops(
    functions: LocalFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, store = wiring.roster_table(), wiring.page_store()
    assert wiring.roster_table() is table and wiring.page_store() is store
    table.write(
        [{"pk": "TEST#wiring", "sk": "A"}, *({"pk": "TEST#wiring", "sk": f"B{i}"} for i in range(30))], []
    )
    assert table._executor is not None  # two batches: the batch threads are running

    get_settings.cache_clear()  # what a test (or the CLI) does when it switches the environment

    assert wiring.roster_table() is not table and wiring.page_store() is not store
    assert table._executor is None  # the replaced environment's table stopped its threads
    here = wiring.page_store()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # another endpoint, same settings
    moved = wiring.page_store()
    assert moved is not here and moved._s3.meta.endpoint_url == "http://127.0.0.1:9"

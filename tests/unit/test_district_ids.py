"""Issue 14 item 5: district ids are checked wherever they arrive (events, Clever, the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rostersync.contracts.fetch import FetchRequest
from rostersync.contracts.importer import ImportRequest
from rostersync.contracts.validate import ValidateRequest
from rostersync.sources.clever.source import CleverSource
from rostersync_cli.main import local_report_path

RUN = "20261128T070000Z-3f9a1c"
BAD = ["../../x", "", "a/b", "x" * 65, "d\n", "d%2F"]


@pytest.mark.parametrize("bad", BAD)
def test_requests_refuse_a_district_id_that_is_not_an_id(bad: str) -> None:
    with pytest.raises(ValidationError):
        FetchRequest.model_validate({"district_ids": [bad]})
    with pytest.raises(ValidationError):
        ValidateRequest.model_validate({"district_id": bad, "run_id": RUN})
    with pytest.raises(ValidationError):
        ImportRequest.model_validate({"district_id": bad, "run_id": RUN})


def test_requests_accept_clever_and_support_chosen_ids() -> None:
    for good in ("5a0c91b95c7cc000010d417c", "oneroster-district_7", "D" * 64):
        assert FetchRequest.model_validate({"district_ids": [good]}).district_ids == [good]
        assert ValidateRequest.model_validate({"district_id": good, "run_id": RUN}).district_id == good
        assert (
            ImportRequest.model_validate({"district_id": good, "run_id": RUN, "source": "clever"}).district_id
            == good
        )


class _Client:
    def district_tokens(self) -> dict[str, str]:
        return {"5a0c91b95c7cc000010d417c": "t1", "../../x": "t2", "5A0C91B95C7CC000010D417C": "t3"}

    def district(self, district_id: str, token: str) -> str:
        return f"{district_id}:{token}"


def test_clever_districts_with_invalid_ids_are_skipped() -> None:
    source = CleverSource(_Client())  # type: ignore[arg-type]
    assert source.district_ids() == ["5a0c91b95c7cc000010d417c"]
    assert CleverSource(_Client()).district("../../x") is None  # type: ignore[arg-type]


def test_the_cli_never_writes_a_report_outside_its_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert local_report_path(out, "reports/d/r/report.html") == (out / "reports/d/r/report.html").resolve()
    with pytest.raises(ValueError, match="outside"):
        local_report_path(out, "reports/../../x/r/report.html")

"""statemachine/nightly.asl.json is valid Amazon States Language, checked by two validators.

`asl-validator` (npm; `make test` installs it under .tools/node, this test does if it can) checks
the definition against the ASL JSON schema and its paths; moto's ASL parser (the grammar of the
engine the integration tests run it in) must accept it too. Without npm, asl-validator's place is
taken by a check that every transition names a state (nothing is skipped).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

from rostersync_cli.template import load_template, resource
from tests.paths import REPO

ASL = REPO / "statemachine" / "nightly.asl.json"
TOOLS = REPO / ".tools" / "node"
VALIDATOR = TOOLS / "node_modules" / ".bin" / "asl-validator"
ASL_VALIDATOR_VERSION = "3.16.0"


def _substituted() -> str:
    """The definition with every substitution given a value of its kind (ARNs, numbers)."""
    substitutions = resource(load_template(), "NightlyStateMachine")["Properties"]["DefinitionSubstitutions"]
    text = ASL.read_text(encoding="utf-8")
    for name in substitutions:
        value = (
            "10"
            if re.search(r"Concurrency|PerBatch", name)
            else f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        )
        if name == "AlertTopicArn":
            value = "arn:aws:sns:us-east-1:123456789012:alerts"
        text = text.replace("${" + name + "}", value)
    assert "${" not in text
    return text


def _validator() -> Path | None:
    if VALIDATOR.exists():
        return VALIDATOR
    npm = shutil.which("npm")
    if npm is None:
        return None
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(TOOLS),
            "--no-save",
            "--silent",
            f"asl-validator@{ASL_VALIDATOR_VERSION}",
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    return VALIDATOR


def _dangling_transitions(definition: dict) -> list[str]:
    """Transitions (StartAt, Next, Default, Choices, Catch) to a state missing at their level:
    the check that stands in for asl-validator where npm is not installed."""
    states = definition["States"]
    problems = [] if definition["StartAt"] in states else [f"StartAt -> {definition['StartAt']}"]
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice.get("Next") for choice in state.get("Choices", [])]
        targets += [catch.get("Next") for catch in state.get("Catch", [])]
        problems += [f"{name} -> {t}" for t in targets if t is not None and t not in states]
        if "ItemProcessor" in state:
            problems += _dangling_transitions(state["ItemProcessor"])
    return problems


def _check(definition_text: str, tmp_path: Path) -> tuple[bool, str]:
    """(valid, output) from asl-validator, or from `_dangling_transitions` without npm."""
    validator = _validator()
    if validator is None:
        problems = _dangling_transitions(json.loads(definition_text))
        return not problems, "; ".join(problems)
    definition = tmp_path / "nightly.asl.json"
    definition.write_text(definition_text, encoding="utf-8")
    checked = subprocess.run(
        [str(validator), "--json-path", str(definition)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return checked.returncode == 0, checked.stdout + checked.stderr


def test_the_definition_passes_asl_validator(tmp_path: Path) -> None:
    valid, output = _check(_substituted(), tmp_path)
    assert valid, output
    assert _dangling_transitions(json.loads(_substituted())) == []


def test_asl_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    """The check above can fail: a transition to a state that does not exist is refused."""
    broken = json.loads(_substituted())
    broken["States"]["Discover"]["Next"] = "NoSuchState"
    valid, _ = _check(json.dumps(broken), tmp_path)
    assert not valid
    assert _dangling_transitions(broken) == ["Discover -> NoSuchState"]


def test_the_definition_parses_in_moto_s_asl_grammar() -> None:
    program, _ = AmazonStateLanguageParser.parse(_substituted())
    assert program is not None
    broken = json.loads(_substituted())
    broken["States"]["Districts"]["ToleratedFailurePercentage"] = "all"
    with pytest.raises(ASLParserException, match="ToleratedFailurePercentage"):
        AmazonStateLanguageParser.parse(json.dumps(broken))

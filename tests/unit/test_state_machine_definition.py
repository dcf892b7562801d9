"""statemachine/nightly.asl.json is valid Amazon States Language, checked by two validators.

`asl-validator` (npm; `make test` installs it under .tools/node, this test does if it can) checks
the definition against the ASL JSON schema and its paths; moto's ASL parser (the grammar of the
engine the integration tests run it in) must accept it too. Without npm the first is replaced by
the second alone, which still fails on a malformed definition.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

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


def test_the_definition_passes_asl_validator(tmp_path: Path) -> None:
    validator = _validator()
    if validator is None:
        pytest.skip("npm is not installed: asl-validator cannot run (moto's parser still checks, below)")
    definition = tmp_path / "nightly.asl.json"
    definition.write_text(_substituted(), encoding="utf-8")
    checked = subprocess.run(
        [str(validator), "--json-path", str(definition)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_asl_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    """The check above can fail: a transition to a state that does not exist is refused."""
    validator = _validator()
    if validator is None:
        pytest.skip("npm is not installed: asl-validator cannot run")
    broken = json.loads(_substituted())
    broken["States"]["Discover"]["Next"] = "NoSuchState"
    definition = tmp_path / "broken.asl.json"
    definition.write_text(json.dumps(broken), encoding="utf-8")
    checked = subprocess.run(
        [str(validator), "--json-path", str(definition)], check=False, capture_output=True, timeout=120
    )
    assert checked.returncode != 0


def test_the_definition_parses_in_moto_s_asl_grammar() -> None:
    program, _ = AmazonStateLanguageParser.parse(_substituted())
    assert program is not None
    broken = json.loads(_substituted())
    broken["States"]["Districts"]["ToleratedFailurePercentage"] = "all"
    with pytest.raises(Exception):  # noqa: B017 - the parser raises its own ANTLR errors
        AmazonStateLanguageParser.parse(json.dumps(broken))

"""The local engine parses each definition text once and builds fresh components every time."""

from __future__ import annotations

import json

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

from rostersync_cli.local_states import LocalStepFunctions

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def test_while_open_a_definition_is_parsed_once_and_every_execution_gets_its_own_components() -> None:
    original = AmazonStateLanguageParser.parse
    with LocalStepFunctions({}):
        first_program, first_tree = AmazonStateLanguageParser.parse(DEFINITION)
        second_program, second_tree = AmazonStateLanguageParser.parse(DEFINITION)
        assert second_tree is first_tree  # lexed and parsed once
        assert second_program is not first_program  # nothing shared between executions
        with pytest.raises(ASLParserException):  # a bad definition is refused as before, every time
            AmazonStateLanguageParser.parse('{"StartAt": ')
        with pytest.raises(ASLParserException):
            AmazonStateLanguageParser.parse('{"StartAt": ')
    assert AmazonStateLanguageParser.parse is original  # the seam is restored, a staticmethod again
    assert AmazonStateLanguageParser.parse(DEFINITION)[1] is not first_tree

"""Compare the IAM replay's role policies with what aws-sam-translator itself generates.

The replay (tests/integration/test_iam_replay.py) expands each role's `Policies:` the way SAM does,
from vendored policy templates (tests/fixtures/sam/). This translates template.yaml offline with the
translator that `sam` uses and lists, per role, any statement one side has and the other has not.
Run it with the tools environment, where aws-sam-cli (and so aws-sam-translator) lives:

    make .tools/.installed   # once
    AWS_DEFAULT_REGION=us-east-1 .tools/bin/python scripts/sam_policies_crosscheck.py

Expected: only the dead-letter queue's `sqs:SendMessage` on SAM's side (Lambda sends to it on the
function's behalf; the replay leaves it out). Exit status 1 on any other difference.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from samtranslator.translator.transform import transform  # noqa: E402
from tests.iam.policies import expand_policy, statement_lists  # noqa: E402

from rostersync_cli.template import load_template  # noqa: E402

# Lambda's own use of the role, which the replay leaves out on purpose.
EXPECTED_SAM_ONLY = [
    {
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": ["FunctionDeadLetterQueue", "Arn"]},
    }
]


class _ManagedPolicies:
    """The managed policies SAM attaches (ARNs only; no AWS call)."""

    def load(self) -> dict[str, str]:
        return {
            name: f"arn:aws:iam::aws:policy/{path}{name}"
            for name, path in {
                "AWSLambdaBasicExecutionRole": "service-role/",
                "AWSXrayWriteOnlyAccess": "",
                "AWSXRayDaemonWriteAccess": "",
            }.items()
        }


def _plain(statement: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in statement.items() if k != "Sid"}


def main() -> int:
    template = load_template()
    translatable = copy.deepcopy(template)
    for resource in translatable["Resources"].values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if key in properties:
                properties[key] = "s3://bucket/key"  # the translator wants packaged code
    translated = transform(translatable, {}, _ManagedPolicies())
    failed = False
    for principal, policies in statement_lists(template).items():
        role = translated["Resources"][f"{principal}Role"]["Properties"]
        sam = [_plain(s) for p in role.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        ours = [_plain(s) for p in policies for s in expand_policy(p, principal)]
        sam_only = [s for s in sam if s not in ours and s not in EXPECTED_SAM_ONLY]
        ours_only = [s for s in ours if s not in sam]
        print(f"{principal}: {len(sam)} statements from SAM, {len(ours)} in the replay")
        for label, extra in (("only SAM", sam_only), ("only the replay", ours_only)):
            for statement in extra:
                failed = True
                print(f"  {label}: {json.dumps(statement)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

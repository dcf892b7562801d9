"""Text a district typed (or a source sent), bounded before it leaves a stage's result.

A stage's result is the Lambda answer Step Functions carries between states, where a state holds
at most 256 KB: one larger fails its whole batch of districts, and `States.ALL` does not catch it
(src/rostersync_cli/payload_limit.py). So every free text field of a stage contract is clipped
here, at the contract, whatever produced it: a district named with 300,000 characters, or an
error quoting a source's answer, still makes a result of a few hundred bytes. The full text stays
where it is read (the raw pages); people see the first characters and an ellipsis.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

NAME_MAX = 200  # a district's name (the longest in Pennsylvania has under 60 characters)
REASON_MAX = 500  # an error's reason (Clever's own messages are clipped to 160 before that)
ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """`text` when it has at most `limit` characters, else its first `limit - 1` and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


ClippedName = Annotated[str, AfterValidator(lambda text: clip(text, NAME_MAX))]
ClippedReason = Annotated[str, AfterValidator(lambda text: clip(text, REASON_MAX))]

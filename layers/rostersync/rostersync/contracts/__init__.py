"""Each stage's contract: what it takes and what it hands on (the next stage, the alerts,
support's view). Below the stages and what they share, so any of them may read any contract."""

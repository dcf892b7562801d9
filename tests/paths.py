"""Where the repository and the shared reference data are (CI puts shared/ beside the clone)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CLEVER_REFERENCE = SHARED / "reference" / "clever"
CLEVER_SAMPLES = CLEVER_REFERENCE / "samples" / "clever-go"
EVENTS = REPO / "events"

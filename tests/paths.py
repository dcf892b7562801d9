"""Where the repository and its vendored test data are (everything inside the clone)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
CLEVER_REFERENCE = FIXTURES / "clever"
CLEVER_SPEC_V30 = CLEVER_REFERENCE / "v3.0.yml"
CLEVER_SAMPLES = CLEVER_REFERENCE / "samples" / "clever-go"
EVENTS = REPO / "events"
ONEROSTER_SAMPLES = FIXTURES / "oneroster"

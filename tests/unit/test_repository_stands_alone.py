"""A fresh clone needs nothing beside it (issue 11): no code or test reads a folder outside the repository.

The test data the suite needs is vendored under tests/fixtures/ (provenance in its README.md).
This scans every file under the code and test folders for the ways the suite used to reach the
team's reference folder beside the clone, and checks that `Path(__file__)` walks never climb
above the repository root.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import paths
from tests.paths import FIXTURES, REPO

SCANNED_ROOTS = ("tests", "src", "scripts", "benchmarks", "layers", "functions")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
THIS_FILE = Path(__file__).resolve()

# Each names one way out of the repository; a hit is reported with the file and line.
OUTSIDE = {
    "the repository root's parent": re.compile(r"\b(?:REPO|ROOT|REPO_ROOT)\.parent\b"),
    "a parent-relative shared folder": re.compile(r"\.\.[/\\]+shared\b"),
    "the shared reference folder": re.compile(r"\bshared[/\\]+reference\b"),
    "a path joined with 'shared'": re.compile(r"/\s*[\"']shared[/\"']"),
    "an absolute /work path": re.compile(r"[\"']/work/"),
}
PARENTS_INDEX = re.compile(r"__file__.*?\.parents\[(\d+)\]((?:\.parent\b)*)")


def _scanned_files() -> list[Path]:
    files = []
    for root in SCANNED_ROOTS:
        for path in sorted((REPO / root).rglob("*")):
            rel = path.relative_to(REPO)
            if not path.is_file() or SKIPPED_DIRS.intersection(rel.parts) or ".egg-info" in str(rel):
                continue
            # The vendored data and its provenance note (which names where it was copied from),
            # and this file, whose patterns name the very paths they forbid.
            if path.is_relative_to(FIXTURES) or path.resolve() == THIS_FILE:
                continue
            files.append(path)
    return files


def offences(rel: Path, text: str) -> list[str]:
    """Every way `text` (the file at `rel`, relative to the repository) reaches outside the repository."""
    found = []
    depth = len(rel.parts) - 1  # Path(__file__).parents[depth] is the repository root
    for number, line in enumerate(text.splitlines(), 1):
        found += [f"{rel}:{number}: {why}: {line.strip()}" for why, rx in OUTSIDE.items() if rx.search(line)]
        for match in PARENTS_INDEX.finditer(line):
            climbs = int(match.group(1)) + match.group(2).count(".parent")
            if climbs > depth:
                found.append(f"{rel}:{number}: Path(__file__) climbs above the repository: {line.strip()}")
    return found


def test_nothing_refers_to_a_folder_outside_the_repository() -> None:
    files = _scanned_files()
    # Not vacuous: every root contributes, the known readers are among the files, and there are
    # as many files as the repository has (about 160 when this was written).
    per_root = {root: sum(1 for f in files if f.relative_to(REPO).parts[0] == root) for root in SCANNED_ROOTS}
    assert all(per_root.values()), per_root
    assert len(files) >= 100, per_root
    rels = {f.relative_to(REPO).as_posix() for f in files}
    assert {
        "tests/paths.py",
        "tests/integration/test_sandbox_api.py",
        "tests/integration/recorded_clever.py",
        "tests/unit/test_validation_clever_samples.py",
    } <= rels
    found = []
    for path in files:
        found += offences(path.relative_to(REPO), path.read_text(encoding="utf-8", errors="replace"))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        'SHARED = REPO.parent / "shared"',
        'SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "clever" / "v3.0.yml"',
        'SAMPLES = Path(__file__).resolve().parents[2].parent / "shared/reference/clever/samples/clever-go"',
        'open("../shared/reference/nces/pa.csv")',
        "ROOT = Path(__file__).resolve().parents[3]",
        "ROOT = Path(__file__).parents[1].parent.parent",
        'DATA = Path("/work/shared/reference")',
    ],
)
def test_the_scan_catches_the_old_ways_out(line: str) -> None:
    assert offences(Path("tests/unit/test_x.py"), line)


@pytest.mark.parametrize(
    "line",
    [
        "REPO = Path(__file__).resolve().parents[1]",
        "ROOT = Path(__file__).resolve().parents[2]",
        'assert annex["students"] == {"shared": 1, "accepted": 0, "rejected": 1}',
        '"""RosterSync shared runtime: domain logic and adapters used by every Lambda."""',
        'SAMPLES = REPO / "tests" / "fixtures" / "clever" / "samples" / "clever-go"',
    ],
)
def test_the_scan_lets_paths_inside_the_repository_pass(line: str) -> None:
    assert offences(Path("tests/unit/test_x.py"), line) == []


def test_every_vendored_path_exists_inside_the_repository_with_its_provenance() -> None:
    named = [value for name, value in vars(paths).items() if name.isupper() and isinstance(value, Path)]
    assert len(named) >= 4, named
    for path in named:
        assert path.exists() and path.resolve().is_relative_to(REPO), path
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    vendored = [p for p in sorted(FIXTURES.rglob("*")) if p.is_file() and p.name != "README.md"]
    assert len(vendored) >= 4, vendored
    for path in vendored:
        assert f"`{path.relative_to(FIXTURES).as_posix()}`" in readme, (
            f"{path} has no provenance in README.md"
        )

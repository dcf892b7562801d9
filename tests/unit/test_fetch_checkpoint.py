"""A district fetch that pauses at its deadline and continues from the checkpoint in a further call."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rostersync.contracts.fetch import Checkpoint, FetchResult, Manifest, ManifestStatus
from rostersync.errors import CleverProtocolError
from rostersync.fetch.stage import fetch_district, fits_before_deadline, load_checkpoint, pause_near_deadline
from rostersync.layout import checkpoint_key
from rostersync.ports import Page
from rostersync.sources.clever.resources import Resource
from tests.fakes import MemoryPageStore

DISTRICT = "d-0001"
RUN = "20261128T070000Z-3f9a1c"
NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
# Records per resource; pages of PAGE records each (students: 4 pages).
SIZES = {Resource.DISTRICTS: 1, Resource.SCHOOLS: 3, Resource.STUDENTS: 10, Resource.SECTIONS: 5}
PAGE = 3


class FakeSource:
    """Clever-like pagination: `next` links are `/<resource>?after=<n>`; `start` must be one."""

    source = "clever"
    resources = tuple(resource.value for resource in Resource)
    district_id = DISTRICT

    def __init__(self) -> None:
        self.requests = 0
        self.starts: list[tuple[Resource, str | None, int]] = []

    def pages(
        self,
        resource: Resource,
        start: str | None = None,
        *,
        index: int = 0,
        seen: Iterable[str] = (),
        fits: Callable[[float], bool] | None = None,
    ) -> Iterator[Page]:
        resource = Resource(resource)
        self.starts.append((resource, start, index))
        total = SIZES.get(resource, 0)
        offset = 0 if start is None else int(start.rsplit("=", 1)[1])
        seen_links = set(seen)
        while True:
            link = f"/{resource.value}?after={offset}"
            if link in seen_links:
                raise CleverProtocolError(f"/{resource.value}", "next link repeats an earlier cursor", 200)
            seen_links.add(link)
            self.requests += 1
            records = [
                {"id": f"{resource.value}-{i}", "name": f"n{i}"}
                for i in range(offset, min(offset + PAGE, total))
            ]
            if not records:
                return
            offset += len(records)
            following = f"/{resource.value}?after={offset}" if offset < total else None
            yield Page(resource, index, records, link=link, next=following)
            index += 1
            if following is None:
                return

    def district_name(self, page: Page) -> str | None:
        return None

    def district_status(self, page: Page) -> None:
        return None


class PauseAfter:
    """should_pause: true once `pages` pages have been written to the store (checked between pages)."""

    def __init__(self, store: MemoryPageStore, pages: int) -> None:
        self.store, self.pages = store, pages

    def __call__(self) -> bool:
        return sum(1 for k in self.store.objects if k.endswith(".json.gz")) >= self.pages


def _manifest(store: MemoryPageStore, result: FetchResult) -> Manifest:
    return Manifest.model_validate(store.get_json(result.manifest_key))


def _comparable(manifest: Manifest) -> dict[str, Any]:
    """A manifest without its timings (which differ between any two fetches)."""
    data = manifest.model_dump(mode="json", exclude={"started_at", "finished_at"})
    for summary in data["resources"].values():
        summary.pop("seconds")
    return data


def _one_shot() -> tuple[MemoryPageStore, FetchResult]:
    store = MemoryPageStore()
    return store, fetch_district(FakeSource(), store, RUN, clock=lambda: NOW)


def _until_done(store: MemoryPageStore, every: int) -> list[FetchResult]:
    """Invocations that each pause after `every` more pages, until the fetch completes."""
    results: list[FetchResult] = []
    checkpoint = None
    for _ in range(50):
        written = sum(1 for k in store.objects if k.endswith(".json.gz"))
        result = fetch_district(
            FakeSource(),
            store,
            RUN,
            clock=lambda: NOW,
            should_pause=PauseAfter(store, written + every),
            checkpoint=checkpoint,
        )
        results.append(result)
        if result.status is not ManifestStatus.IN_PROGRESS:
            return results
        checkpoint = load_checkpoint(store, DISTRICT, RUN)
    raise AssertionError("never completed")


def test_a_fetch_pauses_between_pages_with_a_checkpoint_and_no_manifest() -> None:
    store = MemoryPageStore()
    result = fetch_district(FakeSource(), store, RUN, clock=lambda: NOW, should_pause=PauseAfter(store, 4))

    assert result.status is ManifestStatus.IN_PROGRESS
    assert result.checkpoint_key == checkpoint_key(DISTRICT, RUN)
    assert not store.exists(result.manifest_key)  # the manifest is written only at the end
    checkpoint = Checkpoint.model_validate(store.get_json(result.checkpoint_key))
    # districts (1 page) + schools (1) + students pages 0 and 1: paused inside students.
    assert checkpoint.resources.keys() == {Resource.DISTRICTS, Resource.SCHOOLS}
    assert all(summary.complete for summary in checkpoint.resources.values())
    assert checkpoint.current == Resource.STUDENTS
    assert checkpoint.next_link == "/students?after=6" and checkpoint.page_index == 2
    assert checkpoint.current_summary is not None and checkpoint.current_summary.records == 6
    assert checkpoint.cursors == ["/students?after=0", "/students?after=3"]
    assert [p.key for p in checkpoint.pages] == sorted(k for k in store.objects if k.endswith(".json.gz"))
    assert checkpoint.started_at == NOW and checkpoint.invocations == 1
    assert result.pages == 4 and result.records == 1 + 3 + 6
    assert result.requests == checkpoint.requests == 4


def test_resuming_gives_the_manifest_an_uninterrupted_fetch_gives() -> None:
    baseline_store, baseline = _one_shot()
    store = MemoryPageStore()

    results = _until_done(store, every=2)

    assert [r.status for r in results[:-1]] == [ManifestStatus.IN_PROGRESS] * (len(results) - 1)
    assert len(results) >= 3
    final = results[-1]
    assert final.status is ManifestStatus.COMPLETE and final.invocations == len(results)
    assert _comparable(_manifest(store, final)) == _comparable(_manifest(baseline_store, baseline))
    assert (final.records, final.pages, final.counts, final.requests) == (
        baseline.records,
        baseline.pages,
        baseline.counts,
        baseline.requests,
    )
    pages = {k: v for k, v in store.objects.items() if k.endswith(".json.gz")}
    assert pages == {k: v for k, v in baseline_store.objects.items() if k.endswith(".json.gz")}


def test_a_pause_between_two_resources_resumes_at_the_next_resource() -> None:
    store = MemoryPageStore()
    # districts (1 page) + schools (1 page): the pause comes before students starts.
    first = fetch_district(FakeSource(), store, RUN, clock=lambda: NOW, should_pause=PauseAfter(store, 2))
    checkpoint = load_checkpoint(store, DISTRICT, RUN)
    assert first.status is ManifestStatus.IN_PROGRESS and checkpoint is not None
    assert checkpoint.current is None and checkpoint.next_link is None
    source = FakeSource()

    final = fetch_district(source, store, RUN, clock=lambda: NOW, checkpoint=checkpoint)

    assert final.status is ManifestStatus.COMPLETE
    assert source.starts[0] == (Resource.STUDENTS, None, 0)
    assert _comparable(_manifest(store, final)) == _comparable(_manifest(*_one_shot()))


def test_a_replayed_resume_gives_the_same_manifest() -> None:
    store = MemoryPageStore()
    fetch_district(FakeSource(), store, RUN, clock=lambda: NOW, should_pause=PauseAfter(store, 3))
    checkpoint = load_checkpoint(store, DISTRICT, RUN)
    assert checkpoint is not None

    first = fetch_district(FakeSource(), store, RUN, clock=lambda: NOW, checkpoint=checkpoint)
    manifest = _comparable(_manifest(store, first))
    pages = {k: v for k, v in store.objects.items() if k.endswith(".json.gz")}
    again = fetch_district(FakeSource(), store, RUN, clock=lambda: NOW, checkpoint=checkpoint)

    assert again == first
    assert _comparable(_manifest(store, again)) == manifest  # timings aside
    assert {k: v for k, v in store.objects.items() if k.endswith(".json.gz")} == pages
    assert _comparable(_manifest(store, again)) == _comparable(_manifest(*_one_shot()))


def test_every_invocation_fetches_at_least_one_page_so_a_resume_always_advances() -> None:
    store = MemoryPageStore()
    results: list[FetchResult] = []
    checkpoint = None
    for _ in range(50):
        result = fetch_district(
            FakeSource(), store, RUN, clock=lambda: NOW, should_pause=lambda: True, checkpoint=checkpoint
        )
        results.append(result)
        if result.status is ManifestStatus.COMPLETE:
            break
        checkpoint = load_checkpoint(store, DISTRICT, RUN)
    baseline_store, baseline = _one_shot()
    paused = [r for r in results if r.status is ManifestStatus.IN_PROGRESS]
    assert [r.pages for r in paused] == list(range(1, len(paused) + 1))  # one page per invocation
    assert _comparable(_manifest(store, results[-1])) == _comparable(_manifest(baseline_store, baseline))


def test_a_checkpoint_of_another_run_is_refused() -> None:
    checkpoint = Checkpoint(district_id=DISTRICT, run_id="20261127T070000Z-aaaaaa", started_at=NOW)
    with pytest.raises(ValueError, match="checkpoint"):
        fetch_district(FakeSource(), MemoryPageStore(), RUN, checkpoint=checkpoint)


def test_the_deadline_check_leaves_the_margin() -> None:
    remaining = [200_000]
    should_pause = pause_near_deadline(lambda: remaining[0], 90)
    assert not should_pause()
    remaining[0] = 89_999
    assert should_pause()


def test_work_fits_when_it_still_leaves_the_margin() -> None:
    remaining = [400_000]  # 400 s left, a 150 s margin: 250 s of work fit, 250.001 s do not
    fits = fits_before_deadline(lambda: remaining[0], 150)
    assert fits(250.0) and not fits(250.001)
    remaining[0] = 100_000
    assert not fits(0)

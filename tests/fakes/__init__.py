"""Shared in-memory fakes of the ports (rostersync.ports) for unit tests: no AWS, no sockets.

* `MemoryPageStore`: the PageStore, bodies kept as JSON-able values (what S3 would return).
* `RecordingPublisher`: the AlertPublisher, keeping every alert (or refusing them all).
* `MemoryRosterTable`: the RosterTable with DynamoDB's semantics where the import relies on them
  (conditional status changes, archives fenced by run, leases with fencing and repair lists).
"""

from tests.fakes.alerts import RecordingPublisher
from tests.fakes.page_store import MemoryPageStore
from tests.fakes.roster_table import MemoryRosterTable

__all__ = ["MemoryPageStore", "MemoryRosterTable", "RecordingPublisher"]

"""Every storage key RosterSync reads or writes, built in one place.

RAW_BUCKET (S3), by the stage that writes it:

  fetch     raw/<district>/<run>/<resource>/<page:05d>.json.gz   one gzip JSON page each
            raw/<district>/<run>/manifest.json                    written last
            raw/<district>/<run>/checkpoint.json                  only when a fetch paused
  validate  reports/<district>/<run>/findings.csv, summary.json, report.html
            validated/<district>/<run>/accepted/<n:05d>.json.gz   accepted records, for import
            validated/<district>/<run>/rejected.json.gz           ids fetched but rejected
            validated/<district>/<run>/result.json                the stage's result, written last
  import    changesets/<district>/<run>.json.gz                   every change of a run (its plan)
            holds/<district>/<run>/archive.csv, archive.json      an archive set the safeguard held
            roster-index/<district>/index.json.gz                 the last committed run's roster
  alerts    state/<district>/alert-fingerprint.json               the findings last alerted
            state/<district>/connection.json                      connected | disconnected
            state/districts.json                                  the ids the last discovery saw
  overview  state/<district>/sync-status.json                     the district's last run, per stage
            reports/index.html                                    every district on one page

ROSTER_TABLE (DynamoDB), pk / sk (docs/DATA_MODEL.md is the contract with the application):

  DISTRICT#<d>       / <KIND>#<id>    roster items
  SCHOOL#<d>#<id>    / <KIND>#<id>    school membership of people
  SECTION#<d>#<id>   / TEACHER#<id>   a section's teachers (its students are a list on its item)
  LEASE#<d>     / LEASE              one import or release at a time, fencing stale runs
  RUN#<d>       / <run>[~dry]        one record per import run
  RUNLOG        / <run>#<d>          the cross-district run listing (expires)
  HOLD#<d>      / <run>              an archive set held by the safeguard
  CONFIG#<d>    / SAFEGUARD          a district's own safeguard threshold
  CONFIG#<d>    / SETTINGS           licensed schools, contacts (and their SNS subscriptions)
  CONFIG#<d>    / CHANGE#<at>#<v>#<setting>  one per settings change: who, when, what before and after
  STATEID#<sid> / HOLDER         the district that last wrote an active student with this PA
                                 Secure ID (a hint, always checked against that student's item)

Ids in keys are the ids a district's source gave us; they are checked before they get here. A
district id never contains `#` (records.DISTRICT_ID_PATTERN), and the membership partitions
carry the district: a source's ids are only unique inside one district (OneRoster's sourcedIds
are per tenant; a Clever district may reuse another's id), so no district can write into
another's school or section partition.
"""

from __future__ import annotations

import re

from rostersync.records import Kind

# ---------------------------------------------------------------------------------- S3: fetch


def raw_district_prefix(district_id: str) -> str:
    """Every fetch of one district (list it to find its runs: `run_of_raw_key`)."""
    return f"raw/{district_id}/"


def raw_prefix(district_id: str, run_id: str) -> str:
    return f"{raw_district_prefix(district_id)}{run_id}/"


def manifest_run(district_id: str, key: str) -> str | None:
    """The run id when `key` is a manifest of the district's (`manifest_key`), else None."""
    prefix = raw_district_prefix(district_id)
    if not key.startswith(prefix):
        return None
    run_id = key[len(prefix) :].partition("/")[0]
    return run_id if run_id and key == manifest_key(district_id, run_id) else None


def page_key(district_id: str, run_id: str, resource: str, index: int) -> str:
    return f"{raw_prefix(district_id, run_id)}{resource}/{index:05d}.json.gz"


def manifest_key(district_id: str, run_id: str) -> str:
    return f"{raw_prefix(district_id, run_id)}manifest.json"


def checkpoint_key(district_id: str, run_id: str) -> str:
    return f"{raw_prefix(district_id, run_id)}checkpoint.json"


# ------------------------------------------------------------------------------- S3: validate


def report_prefix(district_id: str, run_id: str) -> str:
    return f"reports/{district_id}/{run_id}/"


def findings_key(district_id: str, run_id: str) -> str:
    return f"{report_prefix(district_id, run_id)}findings.csv"


def summary_key(district_id: str, run_id: str) -> str:
    return f"{report_prefix(district_id, run_id)}summary.json"


def report_key(district_id: str, run_id: str) -> str:
    return f"{report_prefix(district_id, run_id)}report.html"


# A report key names exactly one district and run (the report-link function serves nothing else).
REPORT_KEY_PATTERN = re.compile(r"reports/(?P<d>[A-Za-z0-9_-]{1,64})/(?P<r>[A-Za-z0-9_-]{1,64})/report\.html")


def validated_prefix(district_id: str, run_id: str) -> str:
    return f"validated/{district_id}/{run_id}/"


def accepted_chunk_key(district_id: str, run_id: str, index: int) -> str:
    return f"{validated_prefix(district_id, run_id)}accepted/{index:05d}.json.gz"


def rejected_key(district_id: str, run_id: str) -> str:
    return f"{validated_prefix(district_id, run_id)}rejected.json.gz"


def validate_result_key(district_id: str, run_id: str) -> str:
    return f"{validated_prefix(district_id, run_id)}result.json"


# --------------------------------------------------------------------------------- S3: import


def changeset_key(district_id: str, changeset_id: str) -> str:
    return f"changesets/{district_id}/{changeset_id}.json.gz"


def hold_prefix(district_id: str, run_id: str) -> str:
    return f"holds/{district_id}/{run_id}/"


def hold_csv_key(district_id: str, run_id: str) -> str:
    return f"{hold_prefix(district_id, run_id)}archive.csv"


def hold_json_key(district_id: str, run_id: str) -> str:
    return f"{hold_prefix(district_id, run_id)}archive.json"


def roster_index_key(district_id: str) -> str:
    return f"roster-index/{district_id}/index.json.gz"


# --------------------------------------------------------------------------------- S3: alerts

KNOWN_DISTRICTS_KEY = "state/districts.json"


def alert_fingerprint_key(district_id: str) -> str:
    return f"state/{district_id}/alert-fingerprint.json"


def connection_key(district_id: str) -> str:
    return f"state/{district_id}/connection.json"


# ------------------------------------------------------------------------------- S3: overview

STATE_PREFIX = "state/"
SYNC_STATUS_NAME = "sync-status.json"
INDEX_KEY = "reports/index.html"


def sync_status_key(district_id: str) -> str:
    return f"{STATE_PREFIX}{district_id}/{SYNC_STATUS_NAME}"


def sync_status_district(key: str) -> str | None:
    """The district of a `sync_status_key`, else None."""
    if not key.startswith(STATE_PREFIX) or not key.endswith("/" + SYNC_STATUS_NAME):
        return None
    district_id = key[len(STATE_PREFIX) : -len(SYNC_STATUS_NAME) - 1]
    return district_id if district_id and "/" not in district_id else None


# ----------------------------------------------------------------------------------- DynamoDB

LEASE_SK = "LEASE"
RUNLOG_PK = "RUNLOG"
SAFEGUARD_SK = "SAFEGUARD"
SETTINGS_SK = "SETTINGS"
SETTINGS_CHANGE_PREFIX = "CHANGE#"


def district_pk(district_id: str) -> str:
    return f"DISTRICT#{district_id}"


def roster_sk(kind: Kind | str, record_id: str) -> str:
    return f"{Kind(kind).value}#{record_id}"


def split_sk(sk: str) -> tuple[Kind, str]:
    kind, _, record_id = sk.partition("#")
    return Kind(kind), record_id


def school_pk(district_id: str, school_id: str) -> str:
    return f"{school_pk_prefix(district_id)}{school_id}"


def school_pk_prefix(district_id: str) -> str:
    """Every school membership partition of one district starts with this."""
    return f"SCHOOL#{district_id}#"


def section_pk(district_id: str, section_id: str) -> str:
    return f"SECTION#{district_id}#{section_id}"


def district_of(pk: str) -> str:
    """The district of a roster item's partition key (`DISTRICT#<d>`)."""
    prefix, _, district_id = pk.partition("#")
    if prefix != "DISTRICT" or not district_id:
        raise ValueError(f"not a district partition: {pk[:80]}")
    return district_id


def lease_pk(district_id: str) -> str:
    return f"LEASE#{district_id}"


def run_pk(district_id: str) -> str:
    return f"RUN#{district_id}"


def runlog_sk(run_id: str, district_id: str) -> str:
    return f"{run_id}#{district_id}"


def dry_run_sk(run_id: str) -> str:
    """Dry runs are recorded beside real ones (sorting just after) without replacing them."""
    return f"{run_id}~dry"


def hold_pk(district_id: str) -> str:
    return f"HOLD#{district_id}"


def config_pk(district_id: str) -> str:
    return f"CONFIG#{district_id}"


def settings_change_sk(at: str, version: int, setting: str) -> str:
    """A settings change record, sorting by time (`at` is ISO 8601 UTC), then version and setting."""
    return f"{SETTINGS_CHANGE_PREFIX}{at}#{version:06d}#{setting}"


# ------------------------------------------------------------------ PA Secure ID registry
# One item per PA Secure ID (`rostersync.state_id_registry`, DATA_MODEL.md "PA Secure ID registry").
# Its sk repeats its pk, so on the `inverted` index (sk HASH) every id has its own key: no two
# students' registry items ever share a partition or an index key.

LEGACY_STATE_ID_HOLDER_SK = "HOLDER"  # the holder items before the registry; the migration removes them
STATE_ID_MARKER_SK = "STATE_IDS"  # CONFIG#<district>: the district's students are in the registry


def state_id_pk(state_id: str) -> str:
    """The PA Secure ID's registry partition (a 10-digit id, checked by validation before it gets here)."""
    return f"STATEID#{state_id}"


def state_id_sk(state_id: str) -> str:
    """The registry item's sort key: its own pk again, so the inverted index has one key per id."""
    return state_id_pk(state_id)


def state_id_conflict_pk(district_id: str) -> str:
    """Support's list of a district's students whose PA Secure ID another district's student is trusted
    with (one item per conflict, sk `state_id_sk`; written only when a conflict starts or ends)."""
    return f"STATEIDCONFLICT#{district_id}"

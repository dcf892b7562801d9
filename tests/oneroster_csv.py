"""OneRoster 1.1 bulk CSV rows as the REST JSON objects a provider serves (tests only).

The CSV binding and the REST binding carry the same fields: `<x>SourcedId` columns become
references `{"href", "sourcedId", "type"}` (`<x>SourcedIds` lists of them), `metadata.<key>`
columns the `metadata` object, comma lists (`grades`, `subjects`, `periods`) arrays, and
`primary` a boolean. Vendor columns (`ext_*`) stay as they are (a provider's extensions).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

# CSV reference column -> (REST field, referenced type, is a list)
_REFS: dict[str, tuple[str, str, bool]] = {
    "parentSourcedId": ("parent", "org", False),
    "orgSourcedIds": ("orgs", "org", True),
    "agentSourcedIds": ("agents", "user", True),
    "schoolSourcedId": ("school", "org", False),
    "courseSourcedId": ("course", "course", False),
    "termSourcedIds": ("terms", "academicSession", True),
    "classSourcedId": ("class", "class", False),
    "userSourcedId": ("user", "user", False),
    "orgSourcedId": ("org", "org", False),
}
_LISTS = ("grades", "subjects", "subjectCodes", "periods", "userIds")
_COLLECTION = {
    "orgs.csv": "orgs",
    "users.csv": "users",
    "classes.csv": "classes",
    "courses.csv": "courses",
    "enrollments.csv": "enrollments",
    "academicSessions.csv": "academicSessions",
    "demographics.csv": "demographics",
}


def _ref(sourced_id: str, kind: str) -> dict[str, str]:
    return {"href": f"/ims/oneroster/v1p1/{kind}s/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def rest_object(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for column, value in row.items():
        if column is None:
            continue
        if column.startswith("metadata."):
            if value:
                metadata[column.removeprefix("metadata.")] = value
        elif column in _REFS:
            field, kind, many = _REFS[column]
            ids = [v.strip() for v in value.split(",") if v.strip()] if value else []
            if many:
                out[field] = [_ref(i, kind) for i in ids]
            elif ids:
                out[field] = _ref(ids[0], kind)
        elif column in _LISTS:
            out[column] = [v.strip() for v in value.split(",") if v.strip()] if value else []
        elif column == "primary":
            out[column] = value.strip().lower() == "true"
        elif column == "userSourcedId":
            out["sourcedId"] = value
        elif column.lower() == "birthdate":
            out["birthDate"] = value
        else:
            out[column] = value
    if "sourcedId" not in out and "user" in out:  # demographics: keyed by the user's sourcedId
        out["sourcedId"] = out["user"]["sourcedId"]
    if metadata:
        out["metadata"] = metadata
    return out


def load_set(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Every collection file of a CSV set as REST objects, by collection name."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, collection in _COLLECTION.items():
        path = folder / name
        if path.is_file():
            with path.open(encoding="utf-8", newline="") as f:
                out[collection] = [rest_object(row) for row in csv.DictReader(f)]
    return out

"""What the OneRoster source pulls for a tenant, in the order it pulls it (OneRoster 1.1 REST
collections under the tenant's base URL; each answers an envelope named like the collection)."""

from __future__ import annotations

from enum import StrEnum

SOURCE_NAME = "oneroster"
# The provider a tenant names unless it says otherwise (`provider`), as reports and alerts name it.
DEFAULT_PROVIDER = "ClassLink"


def source_name(provider: str) -> str:
    """The source name a tenant's pages, manifests and payload carry: "oneroster" for ClassLink,
    "oneroster:<provider>" for another (`rostersync.sources.profile` words it for the provider)."""
    return SOURCE_NAME if provider == DEFAULT_PROVIDER else f"{SOURCE_NAME}:{provider}"


class Resource(StrEnum):
    ORGS = "orgs"
    ACADEMIC_SESSIONS = "academicSessions"
    COURSES = "courses"
    USERS = "users"
    DEMOGRAPHICS = "demographics"
    ENROLLMENTS = "enrollments"
    CLASSES = "classes"

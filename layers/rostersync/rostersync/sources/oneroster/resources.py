"""What the OneRoster source pulls for a tenant, in the order it pulls it (OneRoster 1.1 REST
collections under the tenant's base URL; each answers an envelope named like the collection)."""

from __future__ import annotations

from enum import StrEnum

SOURCE_NAME = "oneroster"


class Resource(StrEnum):
    ORGS = "orgs"
    ACADEMIC_SESSIONS = "academicSessions"
    COURSES = "courses"
    USERS = "users"
    DEMOGRAPHICS = "demographics"
    ENROLLMENTS = "enrollments"
    CLASSES = "classes"

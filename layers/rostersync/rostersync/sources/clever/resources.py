"""What the Clever source pulls for a district, in the order it pulls it (Data API v3.0 paths)."""

from __future__ import annotations

from enum import StrEnum

SOURCE_NAME = "clever"


class Resource(StrEnum):
    DISTRICTS = "districts"
    SCHOOLS = "schools"
    STUDENTS = "students"
    TEACHERS = "teachers"
    STAFF = "staff"
    DISTRICT_ADMINS = "district_admins"
    SECTIONS = "sections"
    TERMS = "terms"
    COURSES = "courses"

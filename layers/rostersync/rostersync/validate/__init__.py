"""Validation domain of the validate stage: pure Python over normalized records.

Source-independent (Clever today, OneRoster later), no AWS. See `engine` for the decisions."""

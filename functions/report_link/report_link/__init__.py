"""RosterSync report-link function."""

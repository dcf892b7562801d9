"""RosterSync validate function."""

"""RosterSync importer function."""

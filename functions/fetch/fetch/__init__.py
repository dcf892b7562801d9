"""RosterSync fetch function."""

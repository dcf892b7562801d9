"""RosterSync shared runtime: domain logic and adapters used by every Lambda."""

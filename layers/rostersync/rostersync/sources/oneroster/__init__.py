"""The OneRoster 1.1 source: ClassLink Roster Server tenants, one district each."""

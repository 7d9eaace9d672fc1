"""CloudTrail-style audit trail: events recorded by providers, read back by LookupEvents and ``cove audit``."""

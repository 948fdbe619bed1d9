"""Use cases per role; the only layer the CLI calls."""

"""Profile keys, org cards, trust pinning and fingerprints."""

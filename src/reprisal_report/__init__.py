"""reprisal-report: secure, offline-first documentation of reprisals."""

__version__ = "0.1.0"

"""What a relay operator can tune; every limit has a safe default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reprisal_report import clock as clock_source
from reprisal_report.errors import InvalidInput
from reprisal_report.protocol.requests_auth import MAX_SKEW_SECONDS

MIB = 1024 * 1024
GIB = 1024 * MIB
DAY = 24 * 3600
DEFAULT_RETENTION_DAYS = 30
DEFAULT_HEADER_TIMEOUT_SECONDS = 10
DEFAULT_PENDING_PER_CLIENT = 16
DEFAULT_PENDING_TOTAL = 128


def _now() -> float:
    return clock_source.now().timestamp()


@dataclass(frozen=True)
class RelayConfig:
    """Settings of one relay; ``data_dir`` must have been set up by ``init_relay``.

    ``org_card`` is the operator's copy of the org card. The first card a data
    directory ever sees pins the org's root key; later cards (a changed file, or one a
    coordinator uploads) are accepted only under the rules of ``org update``.
    """

    data_dir: Path
    org_card: Path
    max_bundle_bytes: int = 64 * MIB
    # Bytes a single key may have stored that the relay still holds.
    quota_bytes_per_key: int = GIB
    # Uploads received at the same time; more get 503 and retry, so a burst cannot
    # exhaust memory, disk bandwidth or file descriptors.
    max_concurrent_uploads: int = 8
    # An upload that sends nothing for this long is dropped (408), so a stalled or
    # deliberately slow client cannot hold an upload slot forever.
    upload_idle_timeout_seconds: int = 60
    clock_skew_seconds: int = MAX_SKEW_SECONDS
    # Nonces remembered for replay protection: about 150 bytes each in memory. When
    # full of unexpired nonces the relay answers 503 rather than forget one early.
    max_nonces: int = 100_000
    max_list_entries: int = 1000
    # A bundle's bytes are deleted once every active coordinator acknowledged it, or
    # this long after the relay accepted it, collected or not.
    retention_seconds: int = DEFAULT_RETENTION_DAYS * DAY
    # A connection must have sent a request's complete header block this soon after
    # it opened (or after the previous answer), or it is closed: slowloris defence.
    header_timeout_seconds: int = DEFAULT_HEADER_TIMEOUT_SECONDS
    # Connections still sending their headers, per client address and in all: past
    # either limit the oldest such connection is closed to make room for the new one.
    max_pending_per_client: int = DEFAULT_PENDING_PER_CLIENT
    max_pending_connections: int = DEFAULT_PENDING_TOTAL
    clock: Callable[[], float] = field(default=_now, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in (
            "max_bundle_bytes",
            "quota_bytes_per_key",
            "max_concurrent_uploads",
            "upload_idle_timeout_seconds",
            "clock_skew_seconds",
            "max_nonces",
            "max_list_entries",
            "retention_seconds",
            "header_timeout_seconds",
            "max_pending_per_client",
            "max_pending_connections",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidInput(f"relay setting {name} must be a positive integer")

"""What a relay operator can tune; every limit has a safe default."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reprisal_report.errors import InvalidInput
from reprisal_report.protocol.requests_auth import MAX_SKEW_SECONDS

MIB = 1024 * 1024
GIB = 1024 * MIB


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
    # Bytes a single key may have stored and not yet acknowledged by a coordinator.
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
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in (
            "max_bundle_bytes",
            "quota_bytes_per_key",
            "max_concurrent_uploads",
            "upload_idle_timeout_seconds",
            "clock_skew_seconds",
            "max_nonces",
            "max_list_entries",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidInput(f"relay setting {name} must be a positive integer")

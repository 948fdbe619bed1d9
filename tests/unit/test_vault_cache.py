"""The page cache a vault connection keeps (``PRAGMA cache_size`` at open)."""

from __future__ import annotations

import os
from pathlib import Path

from reprisal_report.vault.store import CACHE_KIB, Vault


def test_a_vault_keeps_64_mib_of_decrypted_pages(tmp_path: Path) -> None:
    with Vault.open(tmp_path / "vault.db", os.urandom(32)) as vault:
        assert vault.conn.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
        assert CACHE_KIB == 64 * 1024

"""Coordinator use case: full-text search over received cases (``triage search``).

The query language, the normalisation and what is indexed are in docs/search.md; the
index and the query parser are ``vault.search``.
"""

from __future__ import annotations

from reprisal_report.vault import search as index
from reprisal_report.vault.store import Vault

DEFAULT_LIMIT = 50


def search_cases(
    vault: Vault, query: str, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> list[dict[str, object]]:
    """One page of matching cases, best first: ``id``, ``title``, ``country``,
    ``status``, ``risk``, ``consent``, the ``field`` that matched and a ``snippet``
    of that field's original text with each hit marked «so». A malformed query or a
    bad limit is InvalidInput (exit 2)."""
    return [
        {
            "id": hit.case_id,
            "title": hit.title,
            "country": hit.country,
            "status": hit.status,
            "risk": hit.risk,
            "consent": hit.consent,
            "field": hit.field,
            "snippet": hit.snippet,
            "rank": hit.rank,
        }
        for hit in index.search(vault, query, limit=limit, offset=offset)
    ]

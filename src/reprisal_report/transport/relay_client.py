"""HTTP client of the delivery relay (httpx; optionally through Tor with ``socks5h://``).

Every request is signed with the profile's Ed25519 key (``requests_auth``). Every
answer that carries a commitment is checked before it is returned: receipts against
the relay's key and their inclusion proof, fetched bundles against the hash asked for.
A relay whose key the profile does not know yet (``relay_public_key=None``) still
gets its inclusion proofs checked; its receipts come back with ``verified=False``.

Failures map onto the project's errors with one-line messages:

- no answer (network, DNS, proxy, TLS, timeout): ``RelayUnreachable`` (exit 1);
- 401 / 403: ``RelayRefused`` with the relay's own message (exit 3);
- an answer that does not verify: ``RelayAnswerInvalid`` (exit 3);
- a log that is not append-only: ``LogInconsistent`` (exit 3);
- anything else (413, 404, 410, 503 after retries, 5xx): ``RelayFailed`` (exit 1).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import random
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import nacl.signing

from reprisal_report.errors import (
    InvalidInput,
    RelayAnswerInvalid,
    RelayFailed,
    RelayRefused,
    RelayUnreachable,
)
from reprisal_report.identity.fingerprint import key_id as key_id_of
from reprisal_report.identity.orgcard import OrgCard
from reprisal_report.protocol.receipts import (
    Receipt,
    SignedTreeHead,
    check_inclusion,
    verify_receipt,
    verify_tree_head,
)
from reprisal_report.protocol.requests_auth import sign_request
from reprisal_report.protocol.wire import (
    MAX_ACK_BATCH,
    MAX_INCLUSION_BATCH,
    BundleEntry,
    ack_batch_body,
    inclusions_body,
    parse_ack_answer,
    parse_entry,
    parse_inclusions_answer,
    parse_proof_hashes,
)
from reprisal_report.protocol.wire import SHA256 as _SHA256
from reprisal_report.transport.inflight import DEFAULT_WORKERS, MAX_WORKERS

__all__ = ["BundleEntry", "RelayClient", "find_relay_key"]

# JSON answers are small (a page of the bundle list is the largest); cap what we read.
MAX_JSON_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_FETCH_BYTES = 256 * 1024 * 1024
MAX_LIST_ENTRIES = 1_000_000
MAX_MESSAGE_CHARS = 200


def find_relay_key(card: OrgCard, relay_key_id: str) -> bytes | None:
    """The signing key of the enrolled, unrevoked relay with this key id, if any."""
    member = card.member(relay_key_id)
    if member is None or member.role != "relay" or card.revocation(relay_key_id) is not None:
        return None
    return member.signing_key


def _printable(text: str) -> str:
    """Keep a relay's message to one harmless line: it ends up on a terminal."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return cleaned[:MAX_MESSAGE_CHARS] or "no reason given"


def _check_sha256(value: str) -> str:
    if not isinstance(value, str) or _SHA256.fullmatch(value) is None:
        raise InvalidInput("a bundle hash is 64 lower-case hex digits")
    return value


class RelayClient:
    def __init__(
        self,
        base_url: str,
        signing_key: nacl.signing.SigningKey,
        key_id: str,
        relay_public_key: bytes | None,
        proxy: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 8,
        max_fetch_bytes: int = DEFAULT_MAX_FETCH_BYTES,
        transport: httpx.BaseTransport | None = None,
        connections: int = DEFAULT_WORKERS,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"relay URL must be http(s)://host[:port]: {base_url!r}")
        proxy_scheme = urlsplit(proxy).scheme if proxy is not None else None
        if proxy_scheme is not None and proxy_scheme not in ("socks5", "socks5h", "http"):
            raise InvalidInput("proxy must be a socks5h://host:port (Tor) or http:// URL")
        # Checked before any connection: the system resolver must never see an onion
        # name (it leaks which service this device uses, and cannot resolve it anyway).
        if parts.hostname.lower().endswith(".onion") and proxy_scheme in (None, "socks5"):
            raise InvalidInput(
                f"refusing to reach {parts.hostname} without a Tor proxy that resolves"
                " the name itself: the system resolver would see it",
                hint="reach onion relays through Tor's SOCKS port, e.g. socks5h://127.0.0.1:9050",
            )
        if key_id != key_id_of(bytes(signing_key.verify_key)):
            raise ValueError("key_id does not belong to signing_key")
        if not 1 <= connections <= MAX_WORKERS:
            raise ValueError(f"between 1 and {MAX_WORKERS} connections")
        self.base_url = base_url.rstrip("/")
        self._host = parts.hostname
        self._key = signing_key
        self._key_id = key_id
        self.relay_public_key = relay_public_key
        self._max_retries = max_retries
        self._max_fetch_bytes = max_fetch_bytes
        # False once the relay turned down a batch acknowledgement (an older relay).
        self.batch_acks = True
        self.batch_inclusions = True
        # One connection per request in flight (transport.inflight), and one more for
        # the acknowledgements a pull sends meanwhile: no request waits for the pool.
        # httpx's pool is shared safely between the threads that send them.
        self._http = httpx.Client(
            base_url=self.base_url,
            proxy=proxy,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 30.0)),
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=connections + 1, max_keepalive_connections=connections + 1
            ),
            # A generic agent string: the relay needs no more, and onlookers get less.
            headers={"User-Agent": "reprisal-report"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, int] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        ok: tuple[int, ...] = (200,),
        limit: int = MAX_JSON_BYTES,
    ) -> tuple[int, bytes]:
        """Sign, send, retry on 503, read at most ``limit`` bytes; map every failure."""
        for attempt in range(self._max_retries + 1):
            request = self._http.build_request(method, path, params=params, content=body)
            if content_type is not None:
                request.headers["Content-Type"] = content_type
            # Signed per attempt: each carries a fresh nonce and timestamp.
            request.headers.update(
                sign_request(self._key, self._key_id, method, request.url.raw_path, body)
            )
            try:
                response = self._http.send(request, stream=True)
                try:
                    status = response.status_code
                    data = self._read(response, limit if status in ok else 64 * 1024)
                    retry_after = response.headers.get("Retry-After", "")
                finally:
                    response.close()
            except httpx.TransportError as exc:
                why = _printable(str(exc) or type(exc).__name__)
                raise RelayUnreachable(
                    f"relay {self._host} is unreachable: {why}",
                    hint="check the URL, the network, and the proxy (Tor) if one is set",
                ) from None
            if status in ok:
                return status, data
            if status == 503 and attempt < self._max_retries:
                time.sleep(self._backoff(attempt, retry_after))
                continue
            self._fail(status, data)
        raise RelayFailed(f"relay {self._host} stayed busy")  # pragma: no cover - loop returns

    @staticmethod
    def _backoff(attempt: int, retry_after: str) -> float:
        ceiling = float(retry_after) if retry_after.isdigit() else 2.0
        # Jitter keeps many clients turned away together from returning together.
        delay: float = min(0.05 * 2**attempt, ceiling, 2.0)
        return delay * (0.5 + random.random())  # noqa: S311 - jitter, not a secret

    def _read(self, response: httpx.Response, limit: int) -> bytes:
        chunks: builtins.list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise RelayAnswerInvalid(f"relay answer is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _fail(self, status: int, data: bytes) -> None:
        try:
            doc = json.loads(data)
            message = doc["error"] if isinstance(doc, dict) else ""
        except (ValueError, KeyError, TypeError):
            message = ""
        reason = _printable(message if isinstance(message, str) and message else f"HTTP {status}")
        if status in (401, 403):
            raise RelayRefused(
                f"relay {self._host} refused the request: {reason}",
                hint="is this device enrolled in the org card the relay holds?",
            )
        if status == 503:
            raise RelayFailed(f"relay {self._host} is busy: {reason}", hint="try again later")
        raise RelayFailed(f"relay {self._host} answered {status}: {reason}")

    def _json(self, data: bytes) -> Any:
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RelayAnswerInvalid("relay answer is not valid JSON") from None

    # --- operations --------------------------------------------------------------------

    def upload(self, data: bytes) -> Receipt:
        """Deliver one bundle; return its receipt (``verified`` if the relay key is known)."""
        if not data:
            raise InvalidInput("refusing to upload an empty bundle")
        digest = hashlib.sha256(data).hexdigest()
        _, answer = self._send(
            "POST",
            "/v1/bundles",
            body=data,
            content_type="application/octet-stream",
            ok=(200, 201),
        )
        receipt = Receipt.from_json(self._json(answer))
        check_inclusion(receipt, digest)
        if self.relay_public_key is not None:
            receipt = verify_receipt(receipt, digest, self.relay_public_key)
        return receipt

    def list(self, after: int = -1) -> builtins.list[BundleEntry]:
        """Every log entry with an index above ``after``, oldest first (coordinators)."""
        entries: builtins.list[BundleEntry] = []
        cursor = after
        # Each page must move the cursor forward, and a relay that claims an endless
        # log is cut off: this loop ends whatever the relay answers.
        while len(entries) <= MAX_LIST_ENTRIES:
            _, answer = self._send("GET", "/v1/bundles", params={"after": cursor})
            page, tree_size = self._parse_list(self._json(answer), cursor)
            if not page:
                return entries
            entries.extend(page)
            cursor = page[-1].index
            if cursor >= tree_size - 1:
                return entries
        raise RelayAnswerInvalid(f"relay lists more than {MAX_LIST_ENTRIES} bundles")

    @staticmethod
    def _parse_list(doc: object, after: int) -> tuple[builtins.list[BundleEntry], int]:
        if not isinstance(doc, dict) or set(doc) != {"bundles", "tree_size"}:
            raise RelayAnswerInvalid("relay bundle list does not have the expected fields")
        tree_size, items = doc["tree_size"], doc["bundles"]
        if type(tree_size) is not int or not isinstance(items, builtins.list):
            raise RelayAnswerInvalid("relay bundle list is malformed")
        page: builtins.list[BundleEntry] = []
        previous = after
        for item in items:
            entry = parse_entry(item)
            # Strictly increasing and inside the log: a relay cannot make us loop.
            if not previous < entry.index < tree_size:
                raise RelayAnswerInvalid("relay bundle list is out of order")
            page.append(entry)
            previous = entry.index
        return page, tree_size

    def fetch(self, sha256: str) -> bytes:
        """The bundle's bytes, checked against ``sha256`` (coordinators)."""
        _check_sha256(sha256)
        _, data = self._send("GET", f"/v1/bundles/{sha256}", limit=self._max_fetch_bytes)
        if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), sha256):
            raise RelayAnswerInvalid(f"relay sent bytes that are not bundle {sha256[:16]}")
        return data

    def ack(self, sha256: str) -> BundleEntry:
        """Tell the relay this coordinator collected a bundle (coordinators).

        The relay deletes the bytes once every active coordinator has done so.
        """
        _check_sha256(sha256)
        _, answer = self._send("POST", f"/v1/bundles/{sha256}/ack")
        entry = parse_entry(self._json(answer))
        if entry.sha256 != sha256 or not entry.acknowledged:
            raise RelayAnswerInvalid("relay did not acknowledge this bundle")
        return entry

    def ack_many(self, hashes: builtins.list[str]) -> builtins.list[BundleEntry]:
        """``ack`` for many bundles, up to MAX_ACK_BATCH per request (coordinators).

        A relay without batch acknowledgements (older than this client: it answers
        405) gets them one by one, and ``batch_acks`` turns False.
        """
        for sha256 in hashes:
            _check_sha256(sha256)
        entries: builtins.list[BundleEntry] = []
        for start in range(0, len(hashes), MAX_ACK_BATCH):
            chunk = hashes[start : start + MAX_ACK_BATCH]
            if self.batch_acks:
                status, answer = self._send(
                    "POST",
                    "/v1/bundles/acks",
                    body=ack_batch_body(chunk),
                    content_type="application/json",
                    ok=(200, 405),
                )
                if status == 200:
                    entries.extend(parse_ack_answer(self._json(answer), chunk))
                    continue
                self.batch_acks = False
            entries.extend(self.ack(sha256) for sha256 in chunk)
        return entries

    def sth(self) -> SignedTreeHead:
        """The current signed tree head (``verified`` if the relay key is known)."""
        _, answer = self._send("GET", "/v1/log/sth")
        head = SignedTreeHead.from_json(self._json(answer))
        if self.relay_public_key is not None:
            head = verify_tree_head(head, self.relay_public_key)
        return head

    def consistency(self, m: int, n: int) -> builtins.list[bytes]:
        """The relay's proof that its tree of size ``n`` extends the one of size ``m``."""
        _, answer = self._send("GET", "/v1/log/consistency", params={"first": m, "second": n})
        doc = self._json(answer)
        if not isinstance(doc, dict) or set(doc) != {"first", "second", "proof"}:
            raise RelayAnswerInvalid("relay consistency proof does not have the expected fields")
        if doc["first"] != m or doc["second"] != n:
            raise RelayAnswerInvalid("relay answered for other tree sizes")
        return parse_proof_hashes(doc["proof"])

    def inclusion(self, index: int, tree_size: int) -> tuple[str, builtins.list[bytes]]:
        """(bundle hash, proof) of log entry ``index`` in the tree of ``tree_size``."""
        _, answer = self._send(
            "GET", "/v1/log/inclusion", params={"index": index, "tree_size": tree_size}
        )
        doc = self._json(answer)
        if not isinstance(doc, dict) or set(doc) != {
            "index",
            "tree_size",
            "bundle_sha256",
            "proof",
        }:
            raise RelayAnswerInvalid("relay inclusion proof does not have the expected fields")
        sha256 = doc["bundle_sha256"]
        if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
            raise RelayAnswerInvalid("relay inclusion proof names no bundle hash")
        return sha256, parse_proof_hashes(doc["proof"])

    def inclusions(
        self, indexes: builtins.list[int], tree_size: int
    ) -> builtins.list[tuple[str, builtins.list[bytes]]]:
        """``inclusion`` for many entries of one tree, up to MAX_INCLUSION_BATCH per
        request. A relay without the batch (older than this client: it answers 404 or
        405) is asked one index at a time, and ``batch_inclusions`` turns False."""
        out: builtins.list[tuple[str, builtins.list[bytes]]] = []
        for start in range(0, len(indexes), MAX_INCLUSION_BATCH):
            chunk = indexes[start : start + MAX_INCLUSION_BATCH]
            if self.batch_inclusions:
                status, answer = self._send(
                    "POST",
                    "/v1/log/inclusions",
                    body=inclusions_body(chunk, tree_size),
                    content_type="application/json",
                    ok=(200, 404, 405),
                )
                if status == 200:
                    out.extend(parse_inclusions_answer(self._json(answer), chunk, tree_size))
                    continue
                self.batch_inclusions = False
            out.extend(self.inclusion(index, tree_size) for index in chunk)
        return out

    def update_org_card(self, card: bytes) -> tuple[int, bool]:
        """Hand the relay a newer org card (coordinators); return (version, changed)."""
        _, answer = self._send("PUT", "/v1/org-card", body=card, content_type="application/json")
        doc = self._json(answer)
        if not isinstance(doc, dict) or type(doc.get("version")) is not int:
            raise RelayAnswerInvalid("relay org card answer is malformed")
        return doc["version"], doc.get("changed") is True

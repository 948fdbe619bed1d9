"""The relay's HTTP interface (FastAPI): authentication, limits, and JSON errors.

Every ``/v1/`` endpoint authenticates the request (``relay/auth.py``) before it reads
a body, then checks the signer's role. Errors are ``{"error": "..."}`` with a 4xx
status for anything a client did; a 5xx only ever means a fault of the relay itself.
The endpoint list and statuses are documented in docs/relay.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from reprisal_report.errors import (
    CardExpired,
    CardInvalid,
    RelayRequestRejected,
    ReportError,
    RollbackRejected,
)
from reprisal_report.identity.encoding import MAX_CARD_BYTES
from reprisal_report.identity.orgcard import Member
from reprisal_report.model.canonical import MAX_SAFE_INTEGER
from reprisal_report.protocol.requests_auth import HEADERS
from reprisal_report.protocol.wire import (
    MAX_ACK_BATCH,
    MAX_ACK_BODY,
    MAX_INCLUSION_BATCH,
    SHA256_PATTERN,
    ack_batch_answer,
    entry_json,
    inclusions_answer,
    parse_ack_batch,
    parse_inclusions,
)
from reprisal_report.relay.config import RelayConfig
from reprisal_report.relay.service import Accepted, RelayService

logger = logging.getLogger(__name__)

REPORTERS = frozenset({"reporter"})
COORDINATORS = frozenset({"coordinator"})
# Tree heads and proofs are public to every member: auditors and reporters check them.
LOG_READERS = frozenset({"reporter", "coordinator", "auditor"})
# Requests other than uploads and org cards carry no meaningful body.
SMALL_BODY = 64 * 1024


# --- documentation models (responses are built by hand; these only shape the spec) ---


class ErrorBody(BaseModel):
    error: str


class HealthBody(BaseModel):
    status: str


class TreeHeadBody(BaseModel):
    tree_size: int
    root_hash: str
    timestamp: int


class SignedTreeHeadBody(TreeHeadBody):
    relay_key_id: str
    signature: str


class ReceiptBody(BaseModel):
    bundle_sha256: str
    index: int
    sth: TreeHeadBody
    inclusion_proof: list[str]
    relay_key_id: str
    signature: str


class BundleEntryBody(BaseModel):
    sha256: str
    index: int
    size: int
    acknowledged: bool
    held: bool


class AckBatchBody(BaseModel):
    bundles: list[BundleEntryBody]


class BundleListBody(BaseModel):
    bundles: list[BundleEntryBody]
    tree_size: int


class ConsistencyBody(BaseModel):
    first: int
    second: int
    proof: list[str]


class InclusionBody(BaseModel):
    index: int
    tree_size: int
    bundle_sha256: str
    proof: list[str]


class ProofBody(BaseModel):
    bundle_sha256: str
    index: int
    proof: list[str]


class InclusionBatchBody(BaseModel):
    proofs: list[ProofBody]
    tree_size: int


class OrgCardBody(BaseModel):
    org_id: str
    version: int
    changed: bool


def _auth_parameters() -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "request signature header; see docs/relay.md",
        }
        for name in HEADERS
    ]


def _responses(
    *statuses: int, ok: dict[int | str, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    documented: dict[int | str, dict[str, Any]] = dict(ok or {})
    documented.update({status: {"model": ErrorBody} for status in statuses})
    return documented


def _raw_body(media_type: str) -> dict[str, Any]:
    return {
        "parameters": _auth_parameters(),
        "requestBody": {
            "required": True,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        },
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """An authenticated request whose body is canonical JSON of this schema."""
    return {
        "parameters": _auth_parameters(),
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
    }


AUTHENTICATED = {"parameters": _auth_parameters()}
AUTH_ERRORS = (400, 401, 403, 413, 503)
UPLOAD_ERRORS = (*AUTH_ERRORS, 408)


def _target(request: Request) -> bytes:
    """The request target as it came over the wire: what the client signed."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query = request.scope.get("query_string", b"")
    return bytes(raw) + (b"?" + bytes(query) if query else b"")


async def _read_small(request: Request, limit: int, idle_seconds: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in _stream_with_idle_timeout(request, idle_seconds):
        size += len(chunk)
        if size > limit:
            raise RelayRequestRejected(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _stream_with_idle_timeout(request: Request, seconds: int) -> AsyncIterator[bytes]:
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout=seconds)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RelayRequestRejected(408, f"upload sent nothing for {seconds} seconds") from None
        yield chunk


def _check_body(body: bytes, signed_sha256: str) -> None:
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), signed_sha256):
        raise RelayRequestRejected(400, "request body does not match X-RR-Body-SHA256")


class _NoStoreMiddleware:
    """Tell every cache on the way not to keep relay answers (bundles included)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"cache-control", b"no-store"))
                headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(config: RelayConfig, service: RelayService | None = None) -> FastAPI:
    """Build the relay application; ``service`` lets tests supply a prepared one."""
    relay = service if service is not None else RelayService(config)
    owned = service is None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            relay.close()

    app = FastAPI(
        title="reprisal-report relay",
        version="1",
        description="Store-and-forward of sealed bundles; see docs/relay.md.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.relay = relay
    app.add_middleware(_NoStoreMiddleware)
    _install_error_handlers(app)

    async def authenticate(
        request: Request, roles: frozenset[str], action: str, *, allow_expired_card: bool = False
    ) -> tuple[Member, str]:
        member, body_sha256 = await run_in_threadpool(
            relay.auth.authenticate,
            request.method,
            _target(request),
            request.headers.getlist,
            allow_expired_card=allow_expired_card,
        )
        if member.role not in roles:
            article = "an" if member.role[:1] in "aeiou" else "a"
            raise RelayRequestRejected(403, f"{article} {member.role} key may not {action}")
        return member, body_sha256

    async def authenticate_small(
        request: Request, roles: frozenset[str], action: str, limit: int = SMALL_BODY, **kw: bool
    ) -> tuple[Member, bytes]:
        member, body_sha256 = await authenticate(request, roles, action, **kw)
        body = await _read_small(request, limit, config.upload_idle_timeout_seconds)
        _check_body(body, body_sha256)
        return member, body

    @app.get("/health", response_model=HealthBody)
    async def health() -> dict[str, str]:
        """Liveness only: says nothing about bundles, keys or the log."""
        return {"status": "ok"}

    @app.post(
        "/v1/bundles",
        status_code=201,
        responses=_responses(
            *UPLOAD_ERRORS, ok={200: {"model": ReceiptBody}, 201: {"model": ReceiptBody}}
        ),
        openapi_extra=_raw_body("application/octet-stream"),
    )
    async def upload_bundle(request: Request) -> JSONResponse:
        """Store a sealed bundle (reporters); returns the relay's signed receipt.

        201 for a new bundle, 200 with the very same receipt for bytes already held.
        """
        member, body_sha256 = await authenticate(request, REPORTERS, "upload bundles")
        limit = config.max_bundle_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise RelayRequestRejected(413, f"bundle larger than the relay's {limit} bytes")
        if not relay.uploads.try_acquire():
            raise RelayRequestRejected(503, "too many uploads in progress; retry later")
        try:
            incoming = await run_in_threadpool(relay.store.begin)
            try:
                async for chunk in _stream_with_idle_timeout(
                    request, config.upload_idle_timeout_seconds
                ):
                    if incoming.size + len(chunk) > limit:
                        raise RelayRequestRejected(
                            413, f"bundle larger than the relay's {limit} bytes"
                        )
                    incoming.write(chunk)

                def complete() -> Accepted:
                    # One trip to a worker thread: fsync, checks, then the group commit.
                    digest = incoming.finish()
                    if incoming.size == 0:
                        raise RelayRequestRejected(400, "empty bundle")
                    if not hmac.compare_digest(digest, body_sha256):
                        raise RelayRequestRejected(
                            400, "request body does not match X-RR-Body-SHA256"
                        )
                    return relay.accept(incoming, digest, member)

                accepted = await run_in_threadpool(complete)
            finally:
                if not incoming.settled:
                    await run_in_threadpool(incoming.discard)
        finally:
            relay.uploads.release()
        return JSONResponse(accepted.receipt.to_json(), status_code=201 if accepted.new else 200)

    @app.get(
        "/v1/bundles",
        response_model=BundleListBody,
        responses=_responses(*AUTH_ERRORS),
        openapi_extra=AUTHENTICATED,
    )
    async def list_bundles(
        request: Request,
        after: Annotated[int, Query(ge=-1, le=MAX_SAFE_INTEGER)] = -1,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> JSONResponse:
        """Log entries with an index greater than ``after`` (coordinators), oldest first.

        ``acknowledged`` is the asking coordinator's own acknowledgement; ``held`` says
        whether the relay still has the bytes.
        """
        member, _ = await authenticate_small(request, COORDINATORS, "list bundles")
        entries = await run_in_threadpool(relay.list_after, after, limit, member)
        size = relay.log.size
        return JSONResponse({"bundles": [entry_json(e) for e in entries], "tree_size": size})

    @app.get(
        "/v1/bundles/{sha256}",
        response_class=Response,
        responses=_responses(
            *AUTH_ERRORS, 404, 410, ok={200: {"content": {"application/octet-stream": {}}}}
        ),
        openapi_extra=AUTHENTICATED,
    )
    async def fetch_bundle(
        request: Request, sha256: Annotated[str, PathParam(pattern=SHA256_PATTERN)]
    ) -> Response:
        """The bundle's bytes (coordinators); 410 once deleted (collected or expired)."""
        await authenticate_small(request, COORDINATORS, "fetch bundles")
        data = await run_in_threadpool(relay.fetch, sha256)
        return Response(content=data, media_type="application/octet-stream")

    @app.post(
        "/v1/bundles/{sha256}/ack",
        response_model=BundleEntryBody,
        responses=_responses(*AUTH_ERRORS, 404),
        openapi_extra=AUTHENTICATED,
    )
    async def acknowledge_bundle(
        request: Request, sha256: Annotated[str, PathParam(pattern=SHA256_PATTERN)]
    ) -> JSONResponse:
        """Mark a bundle collected by this coordinator (its log entry always stays).

        The bytes are deleted once every active coordinator acknowledged the bundle.
        """
        member, _ = await authenticate_small(request, COORDINATORS, "acknowledge bundles")
        entry = await run_in_threadpool(relay.acknowledge, sha256, member)
        return JSONResponse(entry_json(entry))

    @app.post(
        "/v1/bundles/acks",
        response_model=AckBatchBody,
        responses=_responses(*AUTH_ERRORS, 404),
        openapi_extra=_json_body(
            {
                "type": "object",
                "required": ["bundles"],
                "additionalProperties": False,
                "properties": {
                    "bundles": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_ACK_BATCH,
                        "uniqueItems": True,
                        "items": {"type": "string", "pattern": SHA256_PATTERN},
                    }
                },
            }
        ),
    )
    async def acknowledge_bundles(request: Request) -> JSONResponse:
        """Acknowledge up to 500 bundles in one request (coordinators): all or none.

        The body is canonical JSON ``{"bundles": [sha256, ...]}``, covered by the
        request signature; the answer lists one entry per bundle, in the order asked.
        404 (nothing recorded) if any of them is not in the log.
        """
        member, body = await authenticate_small(
            request, COORDINATORS, "acknowledge bundles", limit=MAX_ACK_BODY
        )
        hashes = parse_ack_batch(body)
        entries = await run_in_threadpool(relay.acknowledge_many, hashes, member)
        return JSONResponse(ack_batch_answer(entries))

    @app.get(
        "/v1/log/sth",
        response_model=SignedTreeHeadBody,
        responses=_responses(*AUTH_ERRORS),
        openapi_extra=AUTHENTICATED,
    )
    async def tree_head(request: Request) -> JSONResponse:
        """The relay's current signed tree head (any member)."""
        await authenticate_small(request, LOG_READERS, "read the log")
        sth = await run_in_threadpool(relay.tree_head)
        return JSONResponse(sth.to_json())

    @app.get(
        "/v1/log/consistency",
        response_model=ConsistencyBody,
        responses=_responses(*AUTH_ERRORS),
        openapi_extra=AUTHENTICATED,
    )
    async def consistency(
        request: Request,
        first: Annotated[int, Query(ge=0, le=MAX_SAFE_INTEGER)],
        second: Annotated[int, Query(ge=0, le=MAX_SAFE_INTEGER)],
    ) -> JSONResponse:
        """RFC 9162 consistency proof between tree sizes ``first`` <= ``second``."""
        await authenticate_small(request, LOG_READERS, "read the log")
        proof = await run_in_threadpool(relay.consistency, first, second)
        return JSONResponse({"first": first, "second": second, "proof": [p.hex() for p in proof]})

    @app.get(
        "/v1/log/inclusion",
        response_model=InclusionBody,
        responses=_responses(*AUTH_ERRORS),
        openapi_extra=AUTHENTICATED,
    )
    async def inclusion(
        request: Request,
        index: Annotated[int, Query(ge=0, le=MAX_SAFE_INTEGER)],
        tree_size: Annotated[int, Query(ge=1, le=MAX_SAFE_INTEGER)],
    ) -> JSONResponse:
        """RFC 9162 inclusion proof of log entry ``index`` in the tree of ``tree_size``."""
        await authenticate_small(request, LOG_READERS, "read the log")
        sha256, proof = await run_in_threadpool(relay.inclusion, index, tree_size)
        return JSONResponse(
            {
                "index": index,
                "tree_size": tree_size,
                "bundle_sha256": sha256,
                "proof": [p.hex() for p in proof],
            }
        )

    @app.post(
        "/v1/log/inclusions",
        response_model=InclusionBatchBody,
        responses=_responses(*AUTH_ERRORS),
        openapi_extra=_json_body(
            {
                "type": "object",
                "required": ["indexes", "tree_size"],
                "additionalProperties": False,
                "properties": {
                    "indexes": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_INCLUSION_BATCH,
                        "uniqueItems": True,
                        "items": {"type": "integer", "minimum": 0},
                    },
                    "tree_size": {"type": "integer", "minimum": 1},
                },
            }
        ),
    )
    async def inclusions(request: Request) -> JSONResponse:
        """Inclusion proofs of up to 500 log entries in the tree of ``tree_size`` (any
        member), one per index in the order asked: ``GET /v1/log/inclusion`` for many.

        The body is canonical JSON ``{"indexes": [...], "tree_size": n}``, covered by
        the request signature. 400 if an index or the size lies outside the log.
        """
        _, body = await authenticate_small(request, LOG_READERS, "read the log", limit=MAX_ACK_BODY)
        indexes, tree_size = parse_inclusions(body)
        proofs = await run_in_threadpool(relay.inclusion_many, indexes, tree_size)
        return JSONResponse(inclusions_answer(tree_size, proofs))

    @app.put(
        "/v1/org-card",
        response_model=OrgCardBody,
        responses=_responses(*AUTH_ERRORS, 409),
        openapi_extra=_raw_body("application/json"),
    )
    async def upload_org_card(request: Request) -> JSONResponse:
        """A newer org card (coordinators), accepted under the rules of ``org update``.

        Allowed even when the relay's current card has expired: that is how it renews.
        """
        _, body = await authenticate_small(
            request,
            COORDINATORS,
            "update the org card",
            limit=MAX_CARD_BYTES,
            allow_expired_card=True,
        )
        try:
            signed, changed = await run_in_threadpool(relay.update_card, body)
        except RollbackRejected as exc:
            raise RelayRequestRejected(409, exc.message) from None
        except (CardInvalid, CardExpired) as exc:
            raise RelayRequestRejected(400, exc.message) from None
        card = signed.card
        return JSONResponse({"org_id": card.org_id, "version": card.version, "changed": changed})

    return app


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def rejected(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, RelayRequestRejected):
            raise exc
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return _error(exc.status, exc.message, headers)

    async def report_error(_: Request, exc: Exception) -> Response:
        # A ReportError escaping a handler is a relay-side condition (its key, its
        # card, its disk), not the client's fault: say so without details.
        logger.error("relay error: %s", getattr(exc, "message", exc))
        return _error(503, "relay is not able to serve this request")

    async def invalid(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):
            raise exc
        problems = exc.errors()
        if not problems:
            return _error(400, "invalid request")
        first = problems[0]
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return _error(400, f"invalid request: {where}: {str(first.get('msg', 'invalid')).lower()}")

    async def http_error(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException):
            raise exc
        return _error(exc.status_code, str(exc.detail).lower(), dict(exc.headers or {}))

    async def disconnected(_: Request, exc: Exception) -> Response:
        return _error(400, "client disconnected")

    async def storage(_: Request, exc: Exception) -> Response:
        logger.error("relay storage error: %s", exc)
        return _error(503, "relay storage is not available")

    async def unexpected(_: Request, exc: Exception) -> Response:
        logger.exception("unexpected relay error", exc_info=exc)
        return _error(500, "internal relay error")

    app.add_exception_handler(RelayRequestRejected, rejected)
    app.add_exception_handler(ReportError, report_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(OSError, storage)
    app.add_exception_handler(Exception, unexpected)

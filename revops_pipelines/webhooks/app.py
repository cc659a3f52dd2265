"""The receiver as an ASGI (Starlette) app.

`POST /webhooks/{source}`: size limit, signature on the raw bytes (constant time), JSON check,
then one insert into `webhook_inbox` (deliveries arriving together share an insert and a commit,
see `writer.py`; each is answered after its commit), and an answer: 202 stored, 200 duplicate,
400 malformed JSON, 401 missing or bad signature, 404 unknown source, 413 too large, 503 source
not configured or store unavailable (both make the sender retry later). Nothing is written unless
the answer is 202. With a fast path configured (`fast_path.py`), a stored form lead's run is
launched in the background after the answer is decided; the inbox sensor remains the safety net.
`GET /healthz` checks the database; `GET /metrics` serves Prometheus metrics (`metrics.py`), on
the same port or, with `serve_metrics=False`, on a port of its own (`metrics_app`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from revops_pipelines.domain.custom_forms import INBOX_SOURCE as CUSTOM_FORMS
from revops_pipelines.domain.hubspot_forms import hubspot_event_id
from revops_pipelines.infra.logs import register_secrets
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store.inbox import NewEvent, body_event_id
from revops_pipelines.webhooks import hubspot, standard_webhooks
from revops_pipelines.webhooks.fast_path import FastPath
from revops_pipelines.webhooks.logs import log_event
from revops_pipelines.webhooks.metrics import ReceiverMetrics
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_pipelines.webhooks.sources import SOURCES, Source
from revops_pipelines.webhooks.writer import BatchWriter

COMMON_HEADERS = ("content-type", "user-agent", "x-request-id", "x-forwarded-for")
MAX_HEADER_CHARS = 512


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _stored_headers(source: Source, request: Request) -> dict[str, str]:
    wanted = (*COMMON_HEADERS, *source.signature_headers, *source.headers_of_interest)
    return {
        name: request.headers[name][:MAX_HEADER_CHARS] for name in wanted if name in request.headers
    }


def metrics_app(metrics: ReceiverMetrics) -> Starlette:
    """`GET /metrics` alone, for a port of its own (`revops webhooks serve --metrics-port`)."""
    return Starlette(routes=[Route("/metrics", metrics.endpoint, methods=["GET"])])


def create_app(settings: ReceiverSettings, *, serve_metrics: bool = True) -> Starlette:
    """Build the receiver. Migrates the store first, and logs loudly which sources are refused.

    `serve_metrics=False` leaves `/metrics` off the public port: serve `metrics_app(
    app.state.metrics)` on a loopback or internal port instead."""
    engine = store_engine.get_engine(settings.database_url)
    writer = BatchWriter(engine)
    secrets = {name: settings.secret_for(name) for name in SOURCES}
    register_secrets(  # given in code, maybe not via the env: mask them too
        [*secrets.values(), settings.hubspot_secret, *(s for _, s in settings.forms.values())]
    )
    metrics = ReceiverMetrics(engine)
    fast_path = FastPath(settings.fast_path) if settings.fast_path else None
    for name in settings.refused:
        log_event(
            logging.ERROR,
            f"webhook source {name!r} REFUSED: {SOURCES[name].secret_env} is not set; "
            f"POST /webhooks/{name} answers 503 and stores nothing",
            event="source_refused",
            source=name,
            secret_env=SOURCES[name].secret_env,
        )
    log_event(
        logging.INFO,
        "webhook receiver ready",
        event="receiver_ready",
        mounted=settings.mounted,
        refused=settings.refused,
        max_body_bytes=settings.max_body_bytes,
        fast_path=settings.fast_path.graphql_url if settings.fast_path else "off",
    )

    def answer(
        status: int, body: dict[str, Any], source: str, started: float, **fields: Any
    ) -> JSONResponse:
        level = logging.WARNING if status >= 400 else logging.INFO
        seconds = time.perf_counter() - started
        metrics.observe(source, status, seconds, body.get("error"))
        log_event(
            level,
            f"webhook {source} -> {status} {body.get('status') or body.get('error')}",
            event="webhook",
            source=source,
            http_status=status,
            outcome=body.get("status") or body.get("error"),
            ms=round(seconds * 1000, 2),
            **fields,
        )
        return JSONResponse(body, status_code=status)

    async def receive(request: Request) -> JSONResponse:
        started = time.perf_counter()
        name = str(request.path_params.get("source", ""))[:64]
        source = SOURCES.get(name)
        if source is None:
            return answer(404, {"error": "unknown_source"}, name, started)
        secret = secrets[name]
        if secret is None:  # (the variable's name is for the operator's log, not the sender)
            error = {"error": "source_not_configured"}
            return answer(503, error, name, started)
        try:
            return await _receive(request, source, secret, started)
        except Exception:  # a bug or an outage must never become a 500: make the sender retry
            logging.getLogger("revops.webhooks").exception("receiver error", exc_info=True)
            return answer(503, {"error": "unavailable"}, name, started)

    async def _receive(
        request: Request, source: Source, secret: str, started: float
    ) -> JSONResponse:
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except _TooLarge:
            error = {"error": "payload_too_large", "limit_bytes": settings.max_body_bytes}
            return answer(413, error, source.name, started)
        signature = source.signature(request.headers)
        if signature is None:
            error = {"error": "missing_signature", "header": source.signature_headers[0]}
            return answer(401, error, source.name, started, bytes=len(body))
        if not source.verify(secret, body, signature):
            return answer(
                401, {"error": "invalid_signature"}, source.name, started, bytes=len(body)
            )
        return await _store(
            source.name,
            body,
            lambda payload: source.event_id(payload, request.headers, body),
            _stored_headers(source, request),
            started,
        )

    async def _store(
        name: str,
        body: bytes,
        event_id_of: Callable[[dict[str, Any]], str],
        headers: dict[str, str],
        started: float,
    ) -> JSONResponse:
        """The JSON check, then one insert and the answer (shared by every source)."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return answer(400, {"error": "malformed_json"}, name, started, bytes=len(body))
        if not isinstance(payload, dict):
            error = {"error": "malformed_json", "detail": "expected a JSON object"}
            return answer(400, error, name, started, bytes=len(body))
        event_id = event_id_of(payload)
        source = SOURCES.get(name)
        window = settings.replay_window if source and source.dedupe_body_digest else None
        event = NewEvent(name, event_id, headers, body, None, window)
        try:
            result = await writer.store(event)  # answered after the commit that holds it
        except (sa.exc.SQLAlchemyError, TimeoutError) as exc:
            error = {"error": "storage_unavailable"}
            return answer(503, error, name, started, exception=type(exc).__name__)
        fields = {"event_id": event_id, "bytes": len(body)}
        if result.outcome == "duplicate":
            return answer(200, {"status": "duplicate"}, name, started, **fields)
        fields["inbox_id"] = result.id
        if fast_path is not None and result.id is not None:
            fast_path.submit(name, result.id)  # a background task: never delays this answer
        return answer(202, {"status": "stored", "id": result.id}, name, started, **fields)

    async def receive_hubspot(request: Request) -> JSONResponse:
        """HubSpot workflow webhooks: signature v3 (or v2/v1) over method, URI, body and time."""
        started = time.perf_counter()
        if settings.hubspot_secret is None:
            error = {"error": "source_not_configured"}
            return answer(503, error, "hubspot", started)
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except _TooLarge:
            error = {"error": "payload_too_large", "limit_bytes": settings.max_body_bytes}
            return answer(413, error, "hubspot", started)
        try:
            uri = hubspot.public_uri(settings.hubspot_url, str(request.url), request.url.query)
            refused = hubspot.verify(
                settings.hubspot_secret,
                request.method,
                uri,
                body,
                request.headers,
                int(time.time() * 1000),
            )
            if refused is not None:
                return answer(401, {"error": refused}, "hubspot", started, bytes=len(body))
            wanted = (*COMMON_HEADERS, *hubspot.HEADERS)
            headers = {
                k: request.headers[k][:MAX_HEADER_CHARS] for k in wanted if k in request.headers
            }
            return await _store(
                "hubspot",
                body,
                lambda payload: hubspot_event_id(payload) or body_event_id(body),
                headers,
                started,
            )
        except Exception:  # as for the other sources: never a 500, make the sender retry
            logging.getLogger("revops.webhooks").exception("receiver error", exc_info=True)
            return answer(503, {"error": "unavailable"}, "hubspot", started)

    async def receive_form(request: Request) -> JSONResponse:
        """A custom form of forms.yaml, signed with Standard Webhooks under the form's secret."""
        started = time.perf_counter()
        form = str(request.path_params.get("form", ""))[:64]
        name = f"forms/{form}"
        if form not in settings.forms:
            return answer(404, {"error": "unknown_form"}, name, started)
        _, secret = settings.forms[form]
        if secret is None:
            error = {"error": "source_not_configured"}
            return answer(503, error, name, started)
        try:
            body = await _read_body(request, settings.max_body_bytes)
        except _TooLarge:
            error = {"error": "payload_too_large", "limit_bytes": settings.max_body_bytes}
            return answer(413, error, name, started)
        try:
            refused = standard_webhooks.verify(secret, body, request.headers)
            if refused is not None:
                return answer(401, refused, name, started, bytes=len(body))
            wanted = (*COMMON_HEADERS, *standard_webhooks.HEADERS)
            headers = {
                k: request.headers[k][:MAX_HEADER_CHARS] for k in wanted if k in request.headers
            }
            message_id = request.headers["webhook-id"]
            return await _store(
                CUSTOM_FORMS,
                body,
                lambda _payload: standard_webhooks.event_id(form, message_id, body),
                headers,
                started,
            )
        except Exception:  # as for the other sources: never a 500, make the sender retry
            logging.getLogger("revops.webhooks").exception("receiver error", exc_info=True)
            return answer(503, {"error": "unavailable"}, name, started)

    async def healthz(_request: Request) -> JSONResponse:
        # Public: which sources answer, never the names of variables or secrets.
        sources = {name: ("mounted" if secrets[name] else "refused") for name in SOURCES}
        sources["hubspot"] = "mounted" if settings.hubspot_secret else "refused"
        try:
            await run_in_threadpool(store_engine.ping, engine)
        except Exception as exc:
            log_event(logging.ERROR, "healthz: database unreachable", exception=type(exc).__name__)
            return JSONResponse(
                {"status": "error", "database": "unreachable", "sources": sources}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok", "sources": sources})

    routes = [
        Route("/webhooks/hubspot", receive_hubspot, methods=["POST"]),
        Route("/webhooks/forms/{form}", receive_form, methods=["POST"]),
        Route("/webhooks/{source}", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    if serve_metrics:
        routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    app = Starlette(routes=routes)
    app.state.metrics = metrics
    app.state.fast_path = fast_path  # tests wait on its launches (`drain`)
    # A sender that followed a redirect would re-POST elsewhere; an unknown path is a plain 404.
    app.router.redirect_slashes = False
    return app

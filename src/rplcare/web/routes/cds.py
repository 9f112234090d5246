"""CDS Hooks 2.0 endpoints: discovery, the two services, feedback. An adapter: authenticate,
collect the FHIR data (prefetch, else the client's FHIR server, else 412), call the pure
`rplcare.cds.services.answer`, and return its cards.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Annotated, Any

import httpx2 as httpx
from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from rplcare.cds.models import Discovery, Feedback, HookRequest
from rplcare.cds.services import (
    PrefetchUnavailable,
    answer,
    missing_prefetch,
    needs_history,
    prefetch_templates,
    render_query,
    services,
)
from rplcare.knowledge.loader import load_knowledge
from rplcare.web import repository as repo
from rplcare.web.cds_auth import CdsAuthError, TrustedClients
from rplcare.web.fhir_servers import allowed_servers, may_read, on_server
from rplcare.web.settings import Settings

router = APIRouter(prefix="/cds-services", tags=["cds-hooks"])
# A patient-view call whose client found no data: the quickest valid call (no cards).
CALL_EXAMPLE: dict[str, Any] = {
    "hook": "patient-view",
    "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    "context": {"userId": "Practitioner/example", "patientId": "1288992"},
    "prefetch": {"patient": None, "conditions": None, "procedures": None, "observations": None},
}
log = logging.getLogger("rplcare.cds")
MAX_PAGES = 20  # a searchset longer than this is not a pregnancy history


class CdsCors:
    """CORS for the CDS endpoints only (browser-based CDS clients such as the CDS Hooks
    sandbox); the rest of the app keeps its same-origin policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/cds-services"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _authenticate(request: Request) -> dict[str, Any] | JSONResponse:
    settings: Settings = request.app.state.settings
    clients: TrustedClients | None = request.app.state.cds_clients
    if clients is None:
        if settings.environment == "production":
            return _error(503, "CDS Hooks is not configured: set RPLCARE_CDS_JWKS_FILE")
        return {}
    audience = str(request.url.replace(query=""))
    try:
        return clients.verify(request.headers.get("authorization"), audience)
    except CdsAuthError as exc:
        return _error(401, str(exc))


@router.get("", summary="CDS Hooks discovery")
def discovery(request: Request) -> Response:
    auth = _authenticate(request)
    if isinstance(auth, JSONResponse):
        return auth
    return JSONResponse(Discovery(services=list(services())).to_json())


@router.post("/{service_id}", summary="Call a CDS service (patient-view or order-select)")
async def call_service(
    service_id: str, call: Annotated[HookRequest, Body(examples=[CALL_EXAMPLE])], request: Request
) -> Response:
    auth = _authenticate(request)
    if isinstance(auth, JSONResponse):
        return auth
    known = {s.id: s for s in services()}
    if service_id not in known:
        return _error(404, f"no CDS service {service_id!r}")
    if call.hook != known[service_id].hook:
        return _error(
            400, f"service {service_id} answers {known[service_id].hook}, not {call.hook}"
        )
    if call.context_str("patientId") is None:
        return _error(400, "context.patientId is required")
    data = dict(call.prefetch or {})
    if needs_history(call):
        try:
            data |= await _fetch_missing(call, request.app.state.settings)
        except PrefetchUnavailable as exc:
            return _error(412, str(exc))
    settings: Settings = request.app.state.settings
    base_url = (settings.public_url or str(request.base_url)).rstrip("/")
    profile = request.app.state.profile
    result = answer(call, data, load_knowledge(), date.today(), base_url, profile)
    if result.warnings:
        # Counts only: the warnings name records, and logs must not hold patient data.
        log.info("%s %s: %d import notes", service_id, call.hookInstance, len(result.warnings))
    return JSONResponse({"cards": [c.to_json() for c in result.cards]})


@router.post("/{service_id}/feedback", summary="Feedback on cards (accepted or overridden)")
async def feedback(service_id: str, body: Feedback, request: Request) -> Response:
    auth = _authenticate(request)
    if isinstance(auth, JSONResponse):
        return auth
    if service_id not in {s.id for s in services()}:
        return _error(404, f"no CDS service {service_id!r}")
    items = body.feedback
    client = str(auth.get("iss") or "unauthenticated")
    with request.app.state.sessions() as session, session.begin():
        for item in items:
            detail = {
                "service": service_id,
                "outcome": item.outcome,
                "at": item.outcomeTimestamp,
                "accepted": [s.id for s in item.acceptedSuggestions or []],
                "override": item.overrideReason.model_dump() if item.overrideReason else None,
            }
            repo.audit(
                session, f"cds:{client}"[:64], "cds-feedback", "cds-card", item.card[:40],
                json.dumps(detail),
            )  # fmt: skip
    return JSONResponse({}, status_code=200)


async def _fetch_missing(call: HookRequest, settings: Settings) -> dict[str, Any]:
    """Read from the client's FHIR server what it did not prefetch; 412 when that is not
    possible (no server, not allowed, or the server failed)."""
    missing = missing_prefetch(call)
    if not missing:
        return {}
    if call.fhirServer is None:
        raise PrefetchUnavailable(
            f"prefetch {', '.join(missing)} missing and no fhirServer to read it from"
        )
    refusal = may_read(
        call.fhirServer, allowed_servers(settings.cds_fhir_servers), settings.environment
    )
    if refusal is not None:
        raise PrefetchUnavailable(refusal)
    headers = {"accept": "application/fhir+json"}
    if call.fhirAuthorization is not None:
        headers["authorization"] = f"Bearer {call.fhirAuthorization.access_token}"
    templates = prefetch_templates()
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=call.fhirServer + "/", headers=headers, timeout=settings.cds_fetch_timeout_s
    ) as client:
        for key in missing:
            out[key] = await _read(
                client, call.fhirServer, render_query(templates[key], call.context)
            )
    return out


async def _read(client: httpx.AsyncClient, server: str, query: str) -> Any:
    try:
        response = await client.get(query)
        if response.status_code == 404 and "?" not in query:
            return None  # a read of a resource that does not exist: no data
        response.raise_for_status()
        data = response.json()
        if data.get("resourceType") != "Bundle":
            return data
        entries = list(data.get("entry") or [])
        for _ in range(MAX_PAGES):
            following = next(
                (
                    link.get("url")
                    for link in data.get("link") or []
                    if link.get("relation") == "next"
                ),
                None,
            )
            # Never follow a link off the client's own server.
            if not isinstance(following, str) or not on_server(following, server):
                break
            data = (await client.get(following)).raise_for_status().json()
            entries += data.get("entry") or []
        return {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        raise PrefetchUnavailable(
            f"could not read {query.split('?')[0]} from the FHIR server ({type(exc).__name__})"
        ) from None

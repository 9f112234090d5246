"""CDS Hooks requests built from the Synthea fixtures, and a small FHIR server that answers the
services' prefetch queries from the same data (for the fallback path). Shared by the tests and
the benchmark."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from rplcare.cds.services import prefetch_templates
from tests.fhir.r4 import synthea_bundle

Resource = dict[str, Any]


def _patient(bundle: Resource) -> Resource:
    return next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )


def _matches(resource: Resource, codes: set[str]) -> bool:
    return any(
        f"{c.get('system')}|{c.get('code')}" in codes
        for c in resource.get("code", {}).get("coding", [])
    )


def search(bundle: Resource, query: str) -> Resource:
    """What a FHIR server holding `bundle` answers to one of the prefetch searches."""
    path, _, qs = query.partition("?")
    params = parse_qs(qs)
    codes = set(",".join(params.get("code", [])).split(",")) if "code" in params else None
    entries = [
        {"fullUrl": f"{path}/{e['resource']['id']}", "resource": e["resource"]}
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == path
        and (codes is None or _matches(e["resource"], codes))
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def prefetch(name: str) -> dict[str, Resource]:
    """The prefetch a conforming client sends for this patient (subject references rewritten
    to `Patient/<id>`, as a FHIR server stores them)."""
    bundle = server_view(synthea_bundle(name))
    patient = _patient(bundle)
    out: dict[str, Resource] = {}
    for key, template in prefetch_templates().items():
        query = template.replace("{{context.patientId}}", patient["id"])
        out[key] = patient if key == "patient" else search(bundle, query)
    return out


def server_view(bundle: Resource) -> Resource:
    """The bundle as a FHIR server would return it: urn:uuid references become relative."""
    ids = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle["entry"]
    }

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else fix(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return {**bundle, "entry": [{**e, "resource": fix(e["resource"])} for e in bundle["entry"]]}


def patient_view(name: str, *, with_prefetch: bool = True, **extra: Any) -> Resource:
    patient = _patient(synthea_bundle(name))
    request: Resource = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "PractitionerRole/123", "patientId": patient["id"]},
    }
    if with_prefetch:
        request["prefetch"] = prefetch(name)
    return request | extra


def service_request(rid: str, text: str, coding: list[Resource] | None = None) -> Resource:
    code: Resource = {"text": text}
    if coding:
        code["coding"] = coding
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/1288992"},
        "code": code,
    }


def order_select(name: str, orders: list[Resource], *, with_prefetch: bool = True) -> Resource:
    """The spec's R4 order-select example context, with these ServiceRequests selected."""
    request = patient_view(name, with_prefetch=with_prefetch)
    request["hook"] = "order-select"
    request["context"] = {
        "userId": "PractitionerRole/123",
        "patientId": request["context"]["patientId"],
        "encounterId": "89284",
        "selections": [f"ServiceRequest/{o['id']}" for o in orders],
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]},
    }
    return request


def example_calls() -> dict[str, Resource]:
    """The calls in examples/cds/ (README curl examples), by file name, with a fixed
    hookInstance so the files stay stable (real clients send a new one each call)."""
    calls = {
        "patient-view.json": patient_view("virginia_mercado"),
        "patient-view-no-prefetch.json": patient_view("virginia_mercado", with_prefetch=False),
        "order-select-nk-cells.json": order_select(
            "virginia_mercado", [service_request("nk-1", "Peripheral blood NK cell assay")]
        ),
    }
    for call in calls.values():
        call["hookInstance"] = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    return calls


# --- a FHIR server for the fallback path -----------------------------------------------------


class FhirServer:
    """Serves one Synthea patient over HTTP on loopback (read and search, paged by _count)."""

    def __init__(self, name: str, page_size: int = 5, fail: bool = False) -> None:
        self.bundle = server_view(synthea_bundle(name))
        self.page_size = page_size
        self.fail = fail
        self.seen_auth: list[str | None] = []
        self.seen_queries: list[str] = []
        app = FastAPI()

        @app.get("/fhir/{path:path}")
        def fhir(path: str, request: Request) -> JSONResponse:
            self.seen_auth.append(request.headers.get("authorization"))
            self.seen_queries.append(str(request.url))
            if self.fail:
                return JSONResponse({"resourceType": "OperationOutcome"}, status_code=500)
            if "/" in path:
                rtype, rid = path.split("/", 1)
                found = [
                    e["resource"]
                    for e in self.bundle["entry"]
                    if e["resource"]["resourceType"] == rtype and e["resource"]["id"] == rid
                ]
                if not found:
                    return JSONResponse({"resourceType": "OperationOutcome"}, status_code=404)
                return JSONResponse(found[0])
            query = urlsplit(str(request.url))
            page = int(request.query_params.get("_page", "0"))
            result = search(self.bundle, f"{path}?{query.query}")
            entries = result["entry"]
            chunk = entries[page * self.page_size : (page + 1) * self.page_size]
            body: Resource = {**result, "entry": chunk}
            if (page + 1) * self.page_size < len(entries):
                base = str(request.url).split("&_page=")[0]
                body["link"] = [{"relation": "next", "url": f"{base}&_page={page + 1}"}]
            return JSONResponse(body)

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FhirServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("FHIR test server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/fhir"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

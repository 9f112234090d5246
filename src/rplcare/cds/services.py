"""The CDS services rplcare offers, their prefetch templates, and how a call is answered once
its FHIR data is in hand. Pure: the web adapter fetches what the client did not prefetch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from rplcare.cds.cards import patient_view_cards
from rplcare.cds.models import Card, HookRequest, Service
from rplcare.cds.orders import order_cards, recognise, selected_orders
from rplcare.domain.case import Case
from rplcare.engine.assess import assess
from rplcare.engine.assessment import Assessment
from rplcare.errors import InputError
from rplcare.fhir.common import TEST_SYSTEM
from rplcare.fhir.exporter import export_bundle
from rplcare.fhir.importer import import_resources
from rplcare.fhir.terminology import load_terminology
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.profile import Profile

PATIENT_VIEW = "rplcare-patient-view"
ORDER_SELECT = "rplcare-order-select"
_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z]+)\s*\}\}")


class PrefetchUnavailable(InputError):
    """Data the service needs was neither prefetched nor fetchable: HTTP 412."""


@cache
def prefetch_templates() -> dict[str, str]:
    """The history rplcare needs, restricted by code to what it reads (small and fast)."""
    term = load_terminology()

    def codes(system: str, entries: Iterable[Any]) -> str:
        url = term.url(system)
        return ",".join(f"{url}|{c.code}" for c in entries if c.system == system)

    snomed = [*term.episode_markers, *term.outcomes, *term.noted]
    loinc = [c for t in term.tests.values() for c in t.codes]
    loinc += [c for x in term.lifestyle.values() for c in x.codes]
    return {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}&code=" + codes("snomed", snomed),
        "procedures": "Procedure?patient={{context.patientId}}&code=" + codes("snomed", snomed),
        "observations": "Observation?patient={{context.patientId}}&code=" + codes("loinc", loinc),
    }


@cache
def services() -> tuple[Service, ...]:
    templates = prefetch_templates()
    return (
        Service(
            hook="patient-view",
            id=PATIENT_VIEW,
            title="Recurrent pregnancy loss: status, work-up and risk",
            description=(
                "When a record is opened: whether the woman's pregnancy history meets the ESHRE "
                "2022, RCOG 2023 and ASRM 2012 definitions of recurrent pregnancy loss (side by "
                "side), which guideline tests are still to do (with draft orders to accept), and "
                "the chance of miscarriage in the next pregnancy with its interval. No cards when "
                "no guideline's evaluation threshold is reached. Supports, never replaces, a "
                "clinician."
            ),
            prefetch=templates,
            usageRequirements=(
                "Needs the prefetched Patient, Condition, Procedure and Observation data, or a "
                "fhirServer with an access token to read them; answers 412 otherwise."
            ),
        ),
        Service(
            hook="order-select",
            id=ORDER_SELECT,
            title="Recurrent pregnancy loss: tests the guidelines advise against",
            description=(
                "When an order is selected: a warning card, with each guideline's position and "
                "citation and a suggestion to remove the order, when the selected test is one no "
                "guideline recommends for this woman's recurrent pregnancy loss work-up (e.g. "
                "NK-cell testing, routine hereditary thrombophilia screening)."
            ),
            prefetch=templates,
        ),
    )


def render_query(template: str, context: dict[str, Any]) -> str:
    """Fill `{{context.x}}` tokens (root-level string context fields only, as the spec says)."""

    def value(m: re.Match[str]) -> str:
        v = context.get(m.group(1))
        if not isinstance(v, str) or not v:
            raise PrefetchUnavailable(f"context.{m.group(1)} is missing for the prefetch query")
        return v

    return _TOKEN.sub(value, template)


def needs_history(request: HookRequest) -> bool:
    """order-select needs the woman's history only when a selected order is an RPL test."""
    if request.hook != "order-select":
        return True
    term = load_terminology()
    return any(recognise(term, ref, o) for ref, o in selected_orders(request.context))


def missing_prefetch(request: HookRequest) -> list[str]:
    """Keys the client did not send. A key sent as null means "no data", which is an answer."""
    given = request.prefetch or {}
    return [key for key in prefetch_templates() if key not in given]


def resources_of(data: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(fullUrl, resource) pairs from prefetch values: resources and searchset Bundles."""
    pairs: list[tuple[str | None, dict[str, Any]]] = []
    for value in data.values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            for e in value.get("entry") or []:
                r = e.get("resource") if isinstance(e, dict) else None
                if isinstance(r, dict) and r.get("resourceType") != "OperationOutcome":
                    url = e.get("fullUrl")
                    pairs.append((url if isinstance(url, str) else None, r))
        else:
            pairs.append((None, value))
    return pairs


@dataclass(frozen=True)
class Answer:
    cards: list[Card]
    warnings: tuple[str, ...]  # what the import assumed (for logs, never shown as a card)


def answer(
    request: HookRequest,
    data: dict[str, Any],
    kb: KnowledgeBase,
    today: date,
    base_url: str,
    profile: Profile | None = None,
) -> Answer:
    """Cards for one call, given the FHIR data (prefetched and fetched) keyed by template."""
    term = load_terminology()
    patient_id = request.context_str("patientId")
    if patient_id is None:
        raise InputError("context.patientId is required")
    if request.hook == "order-select":
        matches = [
            m
            for ref, order in selected_orders(request.context)
            if (m := recognise(term, ref, order)) is not None
        ]
        if not matches:
            return Answer([], ())
    if not isinstance(data.get("patient"), dict):
        return Answer([], ("no Patient resource: nothing to assess",))
    try:
        imported = import_resources(resources_of(data), as_of=today, kb=kb, patient_id=patient_id)
    except InputError as exc:
        # Unusable records (no birth date, implausible values) are not an error of the call.
        return Answer([], (str(exc),))
    a = assess(imported.case, kb, profile=profile)
    if request.hook == "order-select":
        cards = order_cards(a, matches, request.hookInstance, base_url)
    else:
        orders = _draft_orders(a, imported.case, kb)
        cards = patient_view_cards(a, request.hookInstance, base_url, orders)
    return Answer(cards, imported.warnings)


def _draft_orders(a: Assessment, case: Case, kb: KnowledgeBase) -> dict[str, Any]:
    """The exporter's draft ServiceRequest per advised test, to offer as suggestions."""
    bundle = export_bundle(a, case, kb)
    orders: dict[str, Any] = {}
    for entry in bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] != "ServiceRequest":
            continue
        test = next((c["code"] for c in r["code"]["coding"] if c["system"] == TEST_SYSTEM), None)
        if test:
            # Accepting one suggestion creates this order alone: no reference to a Condition
            # that the client does not hold.
            orders[test] = {k: v for k, v in r.items() if k != "reasonReference"}
    return orders

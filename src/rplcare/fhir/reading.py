"""Reading the few R4 elements the importer needs from plain JSON resources.

The importer reads JSON rather than `fhir.resources` models on purpose: those models are R4B/R5
and forbid unknown elements, so a valid R4 document that uses an element R4B renamed would be
rejected, and parsing a whole Synthea bundle into models costs ~0.1-0.3 s where a CDS Hooks call
has 50 ms. Everything read here (codes, dates, status, subject) is the same in R4, R4B and R5.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

Resource = dict[str, Any]

_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")

# Statuses that mean "this record is not a fact about the patient".
_VOID_CONDITION = {"entered-in-error", "refuted"}
_VOID_PROCEDURE = {"entered-in-error", "not-done"}
_VOID_OBSERVATION = {"entered-in-error", "cancelled"}


@dataclass(frozen=True)
class FhirDate:
    """A FHIR date or dateTime, which may be partial (year, or year and month)."""

    day: date
    precision: str  # "day", "month" or "year"

    @property
    def exact(self) -> bool:
        return self.precision == "day"


def parse_date(value: object) -> FhirDate | None:
    if not isinstance(value, str):
        return None
    m = _DATE.match(value)
    if m is None:
        return None
    year, month, day = m.groups()
    try:
        return FhirDate(
            date(int(year), int(month or 1), int(day or 1)),
            "day" if day else "month" if month else "year",
        )
    except ValueError:
        return None


def codings(concept: object) -> Iterator[tuple[str, str, str]]:
    """(system, code, display) of each Coding in a CodeableConcept."""
    if not isinstance(concept, dict):
        return
    for c in concept.get("coding") or []:
        if isinstance(c, dict) and isinstance(c.get("code"), str):
            yield str(c.get("system") or ""), c["code"], str(c.get("display") or "")


def label(concept: object) -> str:
    """What a person would call this concept: its text, else its first display or code."""
    if isinstance(concept, dict) and isinstance(concept.get("text"), str):
        return str(concept["text"])
    for system, code, display in codings(concept):
        return display or f"{system}|{code}"
    return "(no code)"


def _status_code(concept: object) -> str | None:
    return next((code for _, code, _ in codings(concept)), None)


def is_void(resource: Resource) -> str | None:
    """Why this record should not be read as a fact, or None."""
    rtype = resource.get("resourceType")
    if rtype == "Condition":
        status = _status_code(resource.get("verificationStatus"))
        return f"verification status {status}" if status in _VOID_CONDITION else None
    status = resource.get("status")
    void = _VOID_PROCEDURE if rtype == "Procedure" else _VOID_OBSERVATION
    return f"status {status}" if status in void else None


def event_date(resource: Resource) -> FhirDate | None:
    """When the thing happened: onset, performed or effective time, else when recorded."""
    rtype = resource.get("resourceType")
    keys: tuple[str, ...]
    if rtype == "Condition":
        keys = ("onsetDateTime", "onsetPeriod.start", "recordedDate")
    elif rtype == "Procedure":
        keys = ("performedDateTime", "performedPeriod.start", "performedPeriod.end")
    else:
        keys = ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")
    for key in keys:
        value: Any = resource
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        found = parse_date(value)
        if found is not None:
            return found
    return None


def end_date(resource: Resource) -> FhirDate | None:
    """When a Condition ended (abatement), if recorded."""
    found = parse_date(resource.get("abatementDateTime"))
    if found is None and isinstance(resource.get("abatementPeriod"), dict):
        found = parse_date(resource["abatementPeriod"].get("end"))
    return found


def is_active(resource: Resource) -> bool:
    return _status_code(resource.get("clinicalStatus")) in {"active", "recurrence", "relapse"}


def reference_of(resource: Resource, key: str) -> str | None:
    ref = resource.get(key)
    if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
        return str(ref["reference"])
    return None


def describe(resource: Resource) -> str:
    """A short, traceable name for a record in warnings: type, label, date, id."""
    rtype = str(resource.get("resourceType"))
    when = event_date(resource)
    concept = resource.get("code")
    rid = resource.get("id")
    parts = [f"{rtype} {label(concept)!r}"]
    if when:
        parts.append(f"on {when.day.isoformat()}")
    if isinstance(rid, str):
        parts.append(f"(id {rid})")
    return " ".join(parts)

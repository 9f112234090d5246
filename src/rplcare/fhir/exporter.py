"""An assessment as a FHIR R4 transaction Bundle: RiskAssessment (prognosis), Condition (only when
an RPL definition is met), one draft ServiceRequest per test advised now, and a draft CarePlan of
the cited care positions. Pure: the only date written is the assessment's `as_of`."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from rplcare.domain.case import Case
from rplcare.engine.assessment import Assessment, CareOut, WorkupOut
from rplcare.fhir.common import (
    INTERVENTION_SYSTEM,
    TEST_SYSTEM,
    Resource,
    activity_url,
    bundle_entry,
    full_url,
    stable_id,
    unverified_prefix,
    verification_extension,
)
from rplcare.fhir.export_parts import (
    IDENT_SYSTEM,
    Export,
    notes,
    position,
    ref,
    risk_assessments,
    weakest,
    words,
)
from rplcare.fhir.terminology import load_terminology
from rplcare.knowledge.loader import KnowledgeBase

# The form the FHIR importer gives `case.id` when the history came from a server's Patient.
PATIENT_REFERENCE = re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}")
ADVISED = ("recommended", "consider")
DUE = ("to_do", "repeat")


def tests_advised_now(workup: list[WorkupOut]) -> dict[str, list[WorkupOut]]:
    """Test -> the items that advise doing it now (recommended or considered, to do or repeat)."""
    out: dict[str, list[WorkupOut]] = {}
    for w in workup:
        if w.recommendation in ADVISED and w.status in DUE:
            out.setdefault(w.test, []).append(w)
    return out


def _digest(assessment: Assessment, case: Case) -> str:
    # Part of every id: a corrected case (same id and date) gets new resources instead of being
    # skipped by `ifNoneExist`, and two cases without an id never share a Patient.
    data = [case.model_dump(mode="json", by_alias=True), assessment.to_json_dict()]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _patient(case: Case, key: str, as_of: str) -> Resource:
    pid = stable_id("Patient", key, as_of)
    patient: Resource = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": IDENT_SYSTEM, "value": pid}],
    }
    if case.patient.birth_date is not None:
        patient["birthDate"] = case.patient.birth_date.isoformat()
    return patient


def _condition(x: Export) -> Resource | None:
    a = x.assessment
    if not any(d.meets for d in a.definitions.values()):
        return None
    c = x.resource("Condition", "recurrent-pregnancy-loss")
    code, code_notes = x.coded(
        x.term.diagnosis.get("recurrent_miscarriage", []),
        "Recurrent pregnancy loss (recurrent miscarriage)",
    )
    lines = []
    for gid, d in a.definitions.items():
        rule = x.kb.definitions.get(gid)
        source = x.cite(rule.citation) if rule else d.citation
        kind = f", {d.kind} RPL" if d.kind else ""
        secondary = " (secondary source)" if d.verification == "secondary" else ""
        lines.append(
            f"{x.guideline(gid)}: {'met' if d.meets else 'not met'} — "
            f"{d.losses_counted} losses counted{kind}; evaluation {words(d.evaluation)}. "
            f"Definition{secondary}: {unverified_prefix(d.verification)}{d.statement} "
            f"Reasons: {'; '.join(d.reasons)}. Source: {source}"
        )
    term = x.term
    c.update(
        clinicalStatus=_concept(term.url("condition_clinical"), "active"),
        verificationStatus=_concept(term.url("condition_verification"), "provisional"),
        category=[_concept(term.url("condition_category"), "problem-list-item")],
        code=code,
        subject=x.subject_ref(),
        recordedDate=a.as_of.isoformat(),
        note=notes([*lines, *code_notes, a.disclaimer]),
    )
    return c


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _service_request(
    x: Export, test: str, now: list[WorkupOut], condition: Resource | None
) -> Resource:
    a = x.assessment
    label = now[0].test_label
    loinc = x.term.tests[test].codes if test in x.term.tests else []
    own = {"system": TEST_SYSTEM, "code": test, "display": label}
    code, code_notes = x.coded(loinc, label, [own])
    lines = []
    for w in (w for w in a.workup if w.test == test):  # every position, also those against it
        line = position(
            x,
            w.guideline,
            w.recommendation,
            w.strength,
            w.statement,
            w.verification,
            w.citation_detail,
        )
        line += f" Status: {words(w.status)}" + (f", due {w.due_date}." if w.due_date else ".")
        lines.append(line + (f" Note: {w.note}" if w.note else ""))
    sr = x.resource("ServiceRequest", test)
    # The weakest verification among the positions the request rests on.
    sr["extension"] = [verification_extension(weakest([w.verification for w in now]))]
    sr["instantiatesCanonical"] = [activity_url(w.id) for w in now]
    sr.update(status="draft", intent="proposal", code=code, subject=x.subject_ref())
    due = [w.due_date for w in now if w.due_date is not None]
    if due:
        sr["occurrenceDateTime"] = min(due).isoformat()
    sr["authoredOn"] = a.as_of.isoformat()
    if condition is not None:
        sr["reasonReference"] = [ref(condition)]
    sr["note"] = notes([*lines, *code_notes, a.disclaimer])
    return sr


def _activity(x: Export, item: CareOut) -> dict[str, Any]:
    text = position(
        x,
        item.guideline,
        item.recommendation,
        item.strength,
        item.statement,
        item.verification,
        item.citation_detail,
    )
    code = {
        "coding": [
            {
                "system": INTERVENTION_SYSTEM,
                "code": item.intervention,
                "display": item.intervention_label,
            }
        ],
        "text": item.intervention_label,
    }
    return {
        "extension": [verification_extension(item.verification)],
        "detail": {
            # No `kind`: mapping an intervention to a request type would be a guess.
            "instantiatesCanonical": [activity_url(item.id)],
            "code": code,
            "status": "not-started",
            "doNotPerform": item.recommendation == "not_recommended",
            "description": text + (f" Note: {item.note}" if item.note else ""),
        },
    }


def _care_plan(x: Export, condition: Resource | None) -> Resource | None:
    a = x.assessment
    if not a.care_plan:
        return None
    cp = x.resource("CarePlan", "care")
    cp.update(
        status="draft",
        intent="proposal",
        title="Cited care positions for recurrent pregnancy loss",
        description=(
            f"Treatment and support positions of the guidelines that apply to this case on "
            f"{a.as_of.isoformat()}, side by side with their sources (rplcare "
            f"{a.rplcare_version}, knowledge {a.knowledge_version}). A proposal for the "
            "clinician; items marked do-not-perform are positions against an intervention."
        ),
        subject=x.subject_ref(),
        created=a.as_of.isoformat(),
    )
    if condition is not None:
        cp["addresses"] = [ref(condition)]
    cp["activity"] = [_activity(x, item) for item in a.care_plan]
    cp["note"] = notes([a.disclaimer])
    return cp


def _entry(resource: Resource) -> dict[str, Any]:
    return {
        **bundle_entry(resource),
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={IDENT_SYSTEM}|{resource['id']}",
        },
    }


def export_bundle(assessment: Assessment, case: Case, kb: KnowledgeBase) -> dict[str, Any]:
    """The assessment as an R4 transaction Bundle; the same input gives the same Bundle."""
    digest = _digest(assessment, case)
    key = case.id or f"case:{digest}"
    as_of = assessment.as_of.isoformat()
    resources: list[Resource] = []
    if case.id and PATIENT_REFERENCE.fullmatch(case.id):
        subject = {"reference": case.id}
    else:
        patient = _patient(case, key, as_of)
        resources.append(patient)
        subject = {"reference": full_url(patient["id"])}
    x = Export(kb, load_terminology(), assessment, (key, as_of, digest), subject)
    condition = _condition(x)
    if condition is not None:
        resources.append(condition)
    resources += risk_assessments(x)
    advised = tests_advised_now(assessment.workup)
    resources += [_service_request(x, t, now, condition) for t, now in advised.items()]
    care = _care_plan(x, condition)
    if care is not None:
        resources.append(care)
    bundle_id = stable_id("Bundle", key, as_of, digest)
    return {
        "resourceType": "Bundle",
        "id": bundle_id,
        "identifier": {"system": IDENT_SYSTEM, "value": bundle_id},
        "type": "transaction",
        "entry": [_entry(r) for r in resources],
    }

"""The assessment as an R4 transaction Bundle: valid R4, faithful to the assessment, references
that resolve, UNVERIFIED content marked, and the same Bundle for the same input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rplcare.domain.case import Case
from rplcare.domain.validation import parse_case
from rplcare.engine.assess import assess
from rplcare.engine.assessment import Assessment
from rplcare.errors import CaseValidationError
from rplcare.fhir.common import CANONICAL, INTERVENTION_SYSTEM, TEST_SYSTEM
from rplcare.fhir.exporter import export_bundle
from rplcare.fhir.terminology import load_terminology
from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge
from tests.conftest import EXAMPLES, VALID_CASE
from tests.factories import case as make_case
from tests.factories import losses
from tests.fhir.r4 import assert_valid_r4
from tests.test_bad_input import plausible_cases

KB = load_knowledge()
TERM = load_terminology()
IDENT = f"{CANONICAL}/identifier"
INTERVAL = f"{CANONICAL}/StructureDefinition/probability-interval"
VERIFICATION = f"{CANONICAL}/StructureDefinition/verification"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
PATIENT_ID = r"Patient/[A-Za-z0-9\-.]{1,64}"
RANK = {"unverified": 0, "secondary": 1, "verified": 2}


def export(case: Case) -> tuple[Assessment, dict[str, Any]]:
    a = assess(case, KB)
    return a, export_bundle(a, case, KB)


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request: pytest.FixtureRequest) -> tuple[Case, Assessment, dict[str, Any]]:
    path: Path = request.param
    case = load_case(path, KB)
    a, bundle = export(case)
    return case, a, bundle


def of_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def note_texts(resource: dict[str, Any]) -> list[str]:
    return [n["text"] for n in resource.get("note", [])]


def codings(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept.get("coding", [])}


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def advised_now(a: Assessment) -> dict[str, list[str]]:
    """Test -> item ids advising it now, computed here independently of the exporter."""
    out: dict[str, list[str]] = {}
    for w in a.workup:
        # Optional tests (to consider) are discussed, not ordered: no draft ServiceRequest.
        if w.recommendation != "not_recommended" and w.status in ("to_do", "repeat"):
            out.setdefault(w.test, []).append(w.id)
    return out


def service_requests_by_test(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for sr in of_type(bundle, "ServiceRequest"):
        own = [c["code"] for c in sr["code"]["coding"] if c["system"] == TEST_SYSTEM]
        assert len(own) == 1
        assert own[0] not in out, f"two ServiceRequests for {own[0]}"
        out[own[0]] = sr
    return out


def check_references(case: Case, bundle: dict[str, Any]) -> None:
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = [n["reference"] for n in walk(bundle) if "reference" in n]
    assert refs
    for r in refs:
        assert r in urls or (r == case.id and r.startswith("Patient/")), r


def check_bundle_shape(bundle: dict[str, Any]) -> None:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert len(ids) == len(set(ids))
    for e in bundle["entry"]:
        r = e["resource"]
        assert e["fullUrl"] == f"urn:uuid:{r['id']}"
        assert r["identifier"] == [{"system": IDENT, "value": r["id"]}]
        assert e["request"] == {
            "method": "POST",
            "url": r["resourceType"],
            "ifNoneExist": f"identifier={IDENT}|{r['id']}",
        }


# --- every example ------------------------------------------------------------------------------


def test_bundle_is_valid_r4_and_a_transaction(example: Any) -> None:
    _, _, bundle = example
    assert_valid_r4(bundle)
    check_bundle_shape(bundle)
    json.dumps(bundle, allow_nan=False)


def test_risk_assessment_carries_estimate_and_interval(example: Any) -> None:
    _, a, bundle = example
    nxt = a.prognosis.next_pregnancy
    ras = of_type(bundle, "RiskAssessment")
    assert len(ras) == (2 if a.prognosis.current_pregnancy else 1)
    ra = ras[0]
    assert ra["status"] == "final" and ra["occurrenceDateTime"] == a.as_of.isoformat()
    assert a.prognosis.model_version in ra["method"]["text"]
    assert nxt.setting in ra["method"]["text"]
    expected = [("17369002", nxt.miscarriage_risk), ("281050002", nxt.live_birth_chance)]
    cum = a.prognosis.cumulative_live_birth
    assert cum is not None
    # then one live-birth prediction per horizon (1, 2, 5 years)
    expected += [("281050002", y) for y in cum.years]
    assert len(ra["prediction"]) == len(expected)
    horizons = [p["whenRange"]["high"]["value"] for p in ra["prediction"][2:]]
    assert horizons == [y.years for y in cum.years]
    for pred, (code, risk) in zip(ra["prediction"], expected, strict=True):
        assert (SNOMED, code) in codings(pred["outcome"])
        assert pred["probabilityDecimal"] == risk.estimate
        [ext] = [x for x in pred["extension"] if x["url"] == INTERVAL]
        rng = ext["valueRange"]
        assert [rng["low"]["value"], rng["high"]["value"]] == risk.interval
        assert rng["low"]["code"] == rng["high"]["code"] == "1"
        assert f"{100 * risk.estimate:.1f}%" in pred["rationale"]
        lo, hi = risk.interval
        assert f"interval {100 * lo:.1f}–{100 * hi:.1f}%" in pred["rationale"]
    texts = note_texts(ra)
    assert a.disclaimer in texts
    assert all(any(d in t for t in texts) for d in nxt.drivers)
    assert all(any(lim in t for t in texts) for lim in a.prognosis.limits)
    assert any(KB.references["rplcare-model"].full in t for t in texts)


def test_current_pregnancy_risk_assessment(example: Any) -> None:
    _, a, bundle = example
    cur = a.prognosis.current_pregnancy
    if cur is None:
        pytest.skip("no current pregnancy in this example")
    ra = of_type(bundle, "RiskAssessment")[1]
    weeks = round(cur.gestational_age_days / 7, 2)
    expected = [(12, cur.loss_risk_to_12_weeks), (20, cur.loss_risk_to_20_weeks)]
    for pred, (to_week, risk) in zip(ra["prediction"], expected, strict=True):
        assert pred["probabilityDecimal"] == risk.estimate
        [ext] = pred["extension"]
        assert [ext["valueRange"]["low"]["value"], ext["valueRange"]["high"]["value"]] == (
            risk.interval
        )
        when = pred["whenRange"]
        assert when["high"]["value"] == to_week and when["high"]["code"] == "wk"
        assert when["low"]["value"] == weeks
    assert a.disclaimer in note_texts(ra)
    assert all(any(d in t for t in note_texts(ra)) for d in cur.drivers)


def test_condition_exists_iff_a_definition_is_met(example: Any) -> None:
    _, a, bundle = example
    conditions = of_type(bundle, "Condition")
    assert len(conditions) == int(any(d.meets for d in a.definitions.values()))
    for c in conditions:
        assert (ICD10, "N96") in codings(c["code"])
        assert c["verificationStatus"]["coding"][0]["code"] == "provisional"
        assert c["clinicalStatus"]["coding"][0]["code"] == "active"
        assert c["recordedDate"] == a.as_of.isoformat()
        texts = note_texts(c)
        assert a.disclaimer in texts
        # SNOMED CT 102878001 is a secondary code: the resource says so.
        assert (SNOMED, "102878001") in codings(c["code"])
        assert any("102878001" in t and "secondary source" in t for t in texts)
        for gid, d in a.definitions.items():
            short = KB.references[KB.guidelines[gid].reference].short
            [line] = [t for t in texts if t.startswith(f"{short}: ")]
            assert line.startswith(f"{short}: {'met' if d.meets else 'not met'} — ")
            assert f"{d.losses_counted} losses counted" in line
            assert d.statement in line
            assert ("UNVERIFIED" in line) == (d.verification == "unverified")


def test_one_service_request_per_test_advised_now(example: Any) -> None:
    _, a, bundle = example
    expected = advised_now(a)
    assert expected, "the examples should advise some tests"
    by_test = service_requests_by_test(bundle)
    assert set(by_test) == set(expected)
    [condition] = of_type(bundle, "Condition")
    for test, sr in by_test.items():
        assert sr["status"] == "draft" and sr["intent"] == "proposal"
        assert sr["authoredOn"] == a.as_of.isoformat()
        assert sr["instantiatesCanonical"] == [
            f"{CANONICAL}/ActivityDefinition/{i}" for i in expected[test]
        ]
        assert sr["reasonReference"] == [{"reference": f"urn:uuid:{condition['id']}"}]
        loinc = (
            {(TERM.url(c.system), c.code) for c in TERM.tests[test].codes}
            if (test in TERM.tests)
            else set()
        )
        assert loinc <= codings(sr["code"])
        items = [w for w in a.workup if w.id in expected[test]]
        [ext] = sr["extension"]
        assert ext["url"] == VERIFICATION
        assert ext["valueCode"] == min((w.verification for w in items), key=RANK.__getitem__)
        assert sr["code"]["text"] == items[0].test_label
        assert "occurrenceDateTime" not in sr  # no due dates in the examples
        assert a.disclaimer in note_texts(sr)


def test_care_plan_has_one_activity_per_item(example: Any) -> None:
    _, a, bundle = example
    [cp] = of_type(bundle, "CarePlan")
    assert cp["status"] == "draft" and cp["intent"] == "proposal"
    assert cp["created"] == a.as_of.isoformat()
    assert len(cp["activity"]) == len(a.care_plan)
    for act, item in zip(cp["activity"], a.care_plan, strict=True):
        detail = act["detail"]
        assert detail["doNotPerform"] == (item.recommendation == "not_recommended")
        assert detail["status"] == "not-started"
        assert detail["instantiatesCanonical"] == [f"{CANONICAL}/ActivityDefinition/{item.id}"]
        assert (INTERVENTION_SYSTEM, item.intervention) in codings(detail["code"])
        assert act["extension"] == [{"url": VERIFICATION, "valueCode": item.verification}]
        assert item.statement in detail["description"]
    [condition] = of_type(bundle, "Condition")
    assert cp["addresses"] == [{"reference": f"urn:uuid:{condition['id']}"}]
    assert a.disclaimer in note_texts(cp)


def test_unverified_content_is_marked_where_people_read_it(example: Any) -> None:
    _, a, bundle = example
    [cp] = of_type(bundle, "CarePlan")
    for act, item in zip(cp["activity"], a.care_plan, strict=True):
        assert ("UNVERIFIED" in act["detail"]["description"]) == (item.verification == "unverified")
    by_test = service_requests_by_test(bundle)
    marked = 0
    for w in a.workup:
        if w.test not in by_test:
            continue
        [line] = [t for t in note_texts(by_test[w.test]) if w.statement in t]
        assert ("UNVERIFIED" in line) == (w.verification == "unverified"), line
        marked += w.verification == "unverified"
    assert marked, "the examples hold unverified work-up items"


def test_secondary_codes_are_said_to_be_secondary(example: Any) -> None:
    _, _, bundle = example
    status = {
        (TERM.url(c.system), c.code): c.status
        for c in [
            *(c for cs in TERM.diagnosis.values() for c in cs),
            *(c for t in TERM.tests.values() for c in t.codes),
        ]
    }
    seen = 0
    for e in bundle["entry"]:
        r = e["resource"]
        for coding in (n for n in walk(r) if "system" in n and "code" in n):
            key = (coding["system"], coding["code"])
            assert status.get(key) != "conflicting"
            if status.get(key) == "secondary":
                seen += 1
                assert any(
                    coding["code"] in t and "secondary source" in t for t in note_texts(r)
                ), key
    assert seen


def test_references_resolve_inside_the_bundle(example: Any) -> None:
    case, _, bundle = example
    check_references(case, bundle)
    [patient] = of_type(bundle, "Patient")
    expected = {"resourceType", "id", "identifier"}
    if case.patient.birth_date is not None:
        assert patient["birthDate"] == case.patient.birth_date.isoformat()
        expected.add("birthDate")
    assert set(patient) == expected  # nothing invented
    subject = {"reference": f"urn:uuid:{patient['id']}"}
    assert all(e["resource"].get("subject", subject) == subject for e in bundle["entry"])


def test_same_input_gives_the_same_bundle(example: Any) -> None:
    case, _, bundle = example
    again = export_bundle(assess(case, KB), case, KB)
    assert json.dumps(again, sort_keys=True) == json.dumps(bundle, sort_keys=True)


def test_instantiated_definitions_exist_in_the_knowledge_export(example: Any) -> None:
    from rplcare.fhir.knowledge_export import knowledge_bundle

    _, _, bundle = example
    published = {
        e["resource"]["url"]
        for e in knowledge_bundle(KB)["entry"]
        if e["resource"]["resourceType"] == "ActivityDefinition"
    }
    used = {u for n in walk(bundle) for u in n.get("instantiatesCanonical", [])}
    assert used and used <= published


# --- particular cases ---------------------------------------------------------------------------


def test_a_fhir_patient_id_is_the_subject_and_no_patient_is_written() -> None:
    case = make_case(pregnancies=losses(3), id="Patient/abc")
    _, bundle = export(case)
    assert_valid_r4(bundle)
    assert not of_type(bundle, "Patient")
    subjects = [e["resource"]["subject"] for e in bundle["entry"]]
    assert subjects and all(s == {"reference": "Patient/abc"} for s in subjects)
    check_references(case, bundle)


@pytest.mark.parametrize("case_id", [None, "example", "patient/abc", "Patient/a b", "Patient/"])
def test_other_case_ids_get_a_patient_resource(case_id: str | None) -> None:
    extra: dict[str, Any] = {"id": case_id} if case_id is not None else {}
    case = make_case(pregnancies=losses(3), **extra)
    _, bundle = export(case)
    [patient] = of_type(bundle, "Patient")
    subjects = {r["subject"]["reference"] for r in walk(bundle) if "subject" in r}
    assert subjects == {f"urn:uuid:{patient['id']}"}


def test_no_definition_met_gives_no_condition_and_no_reason_references() -> None:
    case = make_case(pregnancies=losses(1))
    a, bundle = export(case)
    assert not any(d.meets for d in a.definitions.values())
    assert_valid_r4(bundle)
    assert not of_type(bundle, "Condition")
    assert len(of_type(bundle, "RiskAssessment")) == 1
    assert not any("reasonReference" in r or "addresses" in r for r in walk(bundle))
    check_references(case, bundle)


def test_a_repeat_test_is_requested_by_its_earliest_due_date() -> None:
    tests: list[dict[str, Any]] = [
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2026-05-01"},
        {"code": "anticardiolipin_igg", "value": 60, "unit": "GPL", "date": "2026-05-20"},
    ]
    a, bundle = export(make_case(pregnancies=losses(3), tests=tests))
    assert_valid_r4(bundle)
    by_test = service_requests_by_test(bundle)
    for test in ("lupus_anticoagulant", "anticardiolipin_igg"):
        due = [w.due_date for w in a.workup if w.test == test and w.status == "repeat"]
        assert due and all(d is not None for d in due)
        assert by_test[test]["occurrenceDateTime"] == min(d for d in due if d).isoformat()
    assert set(by_test) == set(advised_now(a))


def test_current_pregnancy_windows_already_passed_are_left_out() -> None:
    current = {"gestational_age_days": 100, "heartbeat_seen": True}
    a, bundle = export(make_case(pregnancies=losses(3), current_pregnancy=current))
    assert_valid_r4(bundle)
    cur = of_type(bundle, "RiskAssessment")[1]
    [pred] = cur["prediction"]  # 100 days is past 12 weeks: only the 20-week window is left
    assert pred["whenRange"]["high"]["value"] == 20
    assert a.prognosis.current_pregnancy is not None
    assert (
        pred["probabilityDecimal"] == a.prognosis.current_pregnancy.loss_risk_to_20_weeks.estimate
    )
    past = make_case(pregnancies=losses(3), current_pregnancy={"gestational_age_days": 150})
    assert len(of_type(export(past)[1], "RiskAssessment")) == 1


def ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle["entry"]}


def test_different_cases_without_an_id_never_share_resources() -> None:
    one = export(make_case(pregnancies=losses(3)))[1]
    two = export(make_case(pregnancies=losses(4)))[1]
    assert not ids(one) & ids(two)
    rich = parse_case(VALID_CASE, KB)
    assert export(rich)[1] == export(parse_case(dict(VALID_CASE), KB))[1]


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=plausible_cases(), patient=st.none() | st.from_regex(PATIENT_ID, fullmatch=True))
def test_any_case_exports_to_valid_r4(data: dict[str, Any], patient: str | None) -> None:
    if patient is not None:
        data = {**data, "id": patient}
    try:
        case = parse_case(data, KB)
    except CaseValidationError:
        assume(False)
        return
    a, bundle = export(case)
    assert_valid_r4(bundle)
    check_bundle_shape(bundle)
    check_references(case, bundle)
    assert set(service_requests_by_test(bundle)) == set(advised_now(a))
    assert bool(of_type(bundle, "Condition")) == any(d.meets for d in a.definitions.values())
    assert export_bundle(a, case, KB) == bundle


def test_request_takes_the_earliest_due_date_and_the_weakest_verification() -> None:
    # The knowledge base gives every guideline the same due date and puts the weaker items
    # first; an edited assessment checks that neither order nor coincidence is relied on.
    case = make_case(pregnancies=losses(3))
    a = assess(case, KB)
    test = "lupus_anticoagulant"
    mine = [i for i, w in enumerate(a.workup) if w.test == test and w.status == "to_do"]
    assert len(mine) >= 2
    first, last = mine[0], mine[-1]
    edits: dict[int, dict[str, Any]] = {
        first: {"verification": "verified", "due_date": date(2026, 9, 1)},
        last: {"verification": "unverified", "due_date": date(2026, 7, 1)},
    }
    edits.update({i: {"verification": "verified"} for i in mine[1:-1]})
    workup = [w.model_copy(update=edits.get(i, {})) for i, w in enumerate(a.workup)]
    bundle = export_bundle(a.model_copy(update={"workup": workup}), case, KB)
    sr = service_requests_by_test(bundle)[test]
    assert sr["occurrenceDateTime"] == "2026-07-01"
    assert sr["extension"] == [{"url": VERIFICATION, "valueCode": "unverified"}]
